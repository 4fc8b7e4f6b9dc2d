"""Every task id is registered with Ray Tune and its creator builds a seeded env inside a Ray worker."""

import pytest

ray = pytest.importorskip("ray")

from ray.tune.registry import ENV_CREATOR, _global_registry  # noqa: E402

from mwx_ray.envs import env_ids  # noqa: E402
from mwx_ray.experts.env_registration import BASE_SEED_KEY, register_project_envs_with_ray  # noqa: E402

pytestmark = pytest.mark.ray


def test_all_ids_are_registered_and_build_in_a_remote_worker(ray_runtime):
    registered = register_project_envs_with_ray()
    assert registered == env_ids()
    assert all(_global_registry.contains(ENV_CREATOR, env_id) for env_id in registered)

    @ray.remote
    def first_observation(env_id: str, base_seed: int) -> list[float]:
        from ray.rllib.env.env_context import EnvContext
        from ray.tune.registry import ENV_CREATOR, _global_registry

        creator = _global_registry.get(ENV_CREATOR, env_id)
        env = creator(EnvContext({BASE_SEED_KEY: base_seed}, worker_index=1))
        obs, _ = env.reset(seed=base_seed + 1)
        return obs.tolist()

    a, b, c = ray.get([first_observation.remote("mwx/h1-walk-v0", 0), first_observation.remote("mwx/h1-walk-v0", 0),
                       first_observation.remote("mwx/h1-walk-v0", 5)])
    assert len(a) == 51 and a == b and a != c  # seeded per base seed, reproducible across processes
