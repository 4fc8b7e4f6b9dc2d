"""Register gymnasium env ids with Ray Tune, and give every sub-env of every EnvRunner its own seed.

Ray lives at this edge only: ``mwx_ray.envs`` stays a pure gymnasium package and registers its ids with the
gymnasium registry; here we wrap ``gymnasium.make(env_id)`` into an RLlib env creator.

How RLlib 2.60 seeds envs (verified in the installed sources):
- ``ray/rllib/env/env_runner.py`` (``EnvRunner.__init__``): ``self._seed = config.seed + worker_index
  (+ 1e6 for evaluation runners)``; the same value seeds python/numpy/torch globally in that runner.
- ``ray/rllib/env/single_agent_env_runner.py`` (``_reset_envs``): only the first reset passes ``seed=_seed``
  to the vector env; ``gymnasium.vector.SyncVectorEnv.reset(seed=s)`` then seeds sub-env ``i`` with ``s + i``.
- So sub-env ``i`` of runner ``w`` gets ``seed + w + i``: runner 1 / env 1 and runner 2 / env 0 share a seed
  once ``num_envs_per_env_runner > 1``, and trials whose seeds differ by less than ``num_envs`` overlap.
- The registered creator is called once per sub-env with the same ``EnvContext`` (``vector_index`` is
  always 0 under ``gym.make_vec``), so the sub-env index can only be recovered from the seed offset.

``PerEnvSeedWrapper`` undoes that offset arithmetic and replaces the seed with one drawn from
``numpy.random.SeedSequence(base_seed, spawn_key=(worker_index, env_index, is_evaluation))``, which is
independent across trials, runners and env indices.
"""

from __future__ import annotations

import logging
from typing import Any

import gymnasium as gym
import numpy as np

# The key under which build_ppo_config passes the trial's base seed to the env creator (removed before
# gymnasium.make sees the env config).
BASE_SEED_KEY = "mwx_base_seed"
# The key under which the config's run.plugins reach the env creator (imported before gymnasium.make).
PLUGINS_KEY = "mwx_plugins"
# RLlib adds this offset to evaluation runners' seeds (ray/rllib/env/env_runner.py).
_RLLIB_EVAL_SEED_OFFSET = 1_000_000


def derive_env_seed(base_seed: int, worker_index: int, env_index: int, evaluation: bool = False) -> int:
    """Seed for sub-env ``env_index`` of EnvRunner ``worker_index`` in a trial seeded with ``base_seed``."""
    sequence = np.random.SeedSequence(base_seed, spawn_key=(worker_index, env_index, int(evaluation)))
    return int(sequence.generate_state(1, dtype=np.uint32)[0])


class PerEnvSeedWrapper(gym.Wrapper):
    """Maps RLlib's ``seed + worker_index + env_index`` reset seed to an independent per-env seed.

    Attributes:
        env_seed: the seed actually passed to the wrapped env on its last seeded reset (None before).
        env_index: the sub-env index recovered from the last seeded reset (None before).
    """

    def __init__(self, env: gym.Env, *, base_seed: int, worker_index: int):
        super().__init__(env)
        self.base_seed = int(base_seed)
        self.worker_index = int(worker_index)
        self.env_seed: int | None = None
        self.env_index: int | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            offset = int(seed) - self.base_seed - self.worker_index
            evaluation = offset >= _RLLIB_EVAL_SEED_OFFSET
            env_index = offset - _RLLIB_EVAL_SEED_OFFSET if evaluation else offset
            if env_index < 0:
                # Not an RLlib-derived seed (someone reset by hand): still make it depend on the runner.
                env_index, evaluation = int(seed) % (2**31), False
            self.env_index = env_index
            self.env_seed = derive_env_seed(self.base_seed, self.worker_index, env_index, evaluation)
            seed = self.env_seed
        return self.env.reset(seed=seed, options=options)


def quiet_known_deprecations() -> None:
    """Silence RLlib's warnings about its own internals in this process (a quiet console shows progress).

    RLlib 2.60 constructs the deprecated ``RLModuleConfig`` inside ``RLModule.__init__`` itself
    (``ray/rllib/core/rl_module/rl_module.py``), so every env runner and learner logs "RLModule(config=...) has been
    deprecated" through ``ray._common.deprecation`` although no caller passes a config: nothing a user can act on.
    Errors from that logger still show.
    """
    logging.getLogger("ray._common.deprecation").setLevel(logging.ERROR)


def make_seeded_env(env_id: str, env_config: dict[str, Any]) -> gym.Env:
    """RLlib env creator body: ``gymnasium.make(env_id, **kwargs)`` plus per-env seeding.

    ``env_config`` is RLlib's ``EnvContext`` (a dict with ``worker_index``); ``PLUGINS_KEY`` modules are imported
    first; every key except ``BASE_SEED_KEY`` and ``PLUGINS_KEY`` is forwarded to ``gymnasium.make``. Training
    episodes that start after another expert (``task.handover_start``) are wrapped here (``handover.py``).
    """
    quiet_known_deprecations()  # env runners build their env before their RLModule
    kwargs = {k: v for k, v in dict(env_config).items() if k not in (BASE_SEED_KEY, PLUGINS_KEY)}
    if env_config.get(PLUGINS_KEY):
        from mwx_ray.envs.plugins import import_plugins

        import_plugins(env_config[PLUGINS_KEY])
    from mwx_ray.experts.handover import wrap_handover_start

    env = wrap_handover_start(gym.make(env_id, **kwargs), kwargs.get("task"))
    base_seed = env_config.get(BASE_SEED_KEY)
    if base_seed is None:
        return env
    worker_index = int(getattr(env_config, "worker_index", 0) or 0)
    return PerEnvSeedWrapper(env, base_seed=base_seed, worker_index=worker_index)


def import_project_envs() -> None:
    """Import ``mwx_ray.envs`` so its gymnasium ids (``mwx/h1-stand-v0`` ...) exist in this process."""
    import mwx_ray.envs  # noqa: F401  (registration side effect)


def register_rllib_env(env_id: str) -> str:
    """Register ``env_id`` with Ray Tune's registry and return the name to pass to ``config.environment``.

    The creator runs inside each EnvRunner process, so it imports the project envs there too (gymnasium's
    registry is per process). Re-registering the same id is harmless (Tune overwrites the entry).
    """
    from ray.tune.registry import register_env

    def creator(env_config):
        if env_id.startswith("mwx/"):
            import_project_envs()
        return make_seeded_env(env_id, env_config)

    register_env(env_id, creator)
    return env_id


def register_project_envs_with_ray() -> list[str]:
    """Register every ``mwx/`` env id with Tune (``tune.register_env``); returns the ids."""
    import_project_envs()
    from mwx_ray.envs import env_ids

    return [register_rllib_env(env_id) for env_id in env_ids()]
