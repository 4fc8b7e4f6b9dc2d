"""The ray lane's shared local Ray: 2 CPUs (this machine class), no dashboard, shut down after each module.

Workers get the repository on PYTHONPATH, so test-only plugin modules (``tests.integration.skill_plugin``,
named in ``run.plugins``) import in every trial and env runner, as a user's installed module would.
"""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ray_runtime():
    """A local Ray for one test module; yields the GCS address (for subprocesses that join it)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}})
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()
