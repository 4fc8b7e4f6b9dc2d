"""Optional real-HumanoidBench backend: clear error when absent; parity of info keys when present."""

import numpy as np
import pytest

from mwx_ray.envs import make_env
from mwx_ray.envs.humanoid_bench_backend import humanoid_bench_available


def test_unknown_backend_lists_valid_ones():
    with pytest.raises(ValueError, match=r"unknown env backend 'gym'; valid backends: \['mwx', 'humanoid_bench'\]"):
        make_env("walk", backend="gym")


@pytest.mark.skipif(humanoid_bench_available(), reason="humanoid_bench is installed")
def test_absent_package_gives_the_install_recipe():
    with pytest.raises(ImportError, match="HumanoidBench is not installed.*separate Python 3.11 venv"):
        make_env("walk", backend="humanoid_bench")


@pytest.mark.skipif(not humanoid_bench_available(), reason="humanoid_bench not installed (optional backend)")
def test_real_humanoid_bench_env_reports_the_same_info_keys():
    ours = make_env("walk")
    theirs = make_env("walk", backend="humanoid_bench")
    obs_ours, _ = ours.reset(seed=0)
    obs_theirs, _ = theirs.reset(seed=0)
    assert obs_theirs.shape == obs_ours.shape
    _, _, _, _, info = theirs.step(np.zeros(theirs.action_space.shape))
    assert "hb/return" in info
