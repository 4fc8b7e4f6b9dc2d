"""The ray lane's shared local Ray: 2 CPUs (this machine class), no dashboard, shut down after each module."""

import pytest


@pytest.fixture(scope="module")
def ray_runtime():
    """A local Ray for one test module; yields the GCS address (for subprocesses that join it)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()
