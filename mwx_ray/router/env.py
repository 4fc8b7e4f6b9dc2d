"""The composite task as a one-agent RLlib MultiAgentEnv (agent ``robot`` acts through module ``router``).

RLlib only builds a MultiRLModule on EnvRunners for multi-agent configs; one agent keeps the env
semantics of the gymnasium task unchanged (same observations, rewards, infos, per-env seeds).
"""

from __future__ import annotations

from typing import Any

from ray.rllib.env.multi_agent_env import MultiAgentEnv

from mwx_ray.experts.env_registration import make_seeded_env
from mwx_ray.router.transitions import wrap_router_env

AGENT_ID = "robot"
TRANSITIONS_KEY = "mwx_transitions"  # env_config: router.transitions (plain) for mwx_ray.router.transitions
FALLBACK_KEY = "mwx_fallback_folder"  # env_config: the fallback expert's folder
TIME_FEATURE_KEY = "mwx_time_feature"  # env_config: router.time_feature
STAGE_FEATURE_KEY = "mwx_stage_feature"  # env_config: router.stage_feature
ENV_NAME_PREFIX = "mwx-router/"


class SingleAgentTaskEnv(MultiAgentEnv):
    """Wraps ``gymnasium.make(env_id)`` (with per-env seeding) as a one-agent MultiAgentEnv."""

    def __init__(self, config: dict[str, Any] | None = None):
        super().__init__()
        worker_index = int(getattr(config, "worker_index", 0) or 0)
        config = dict(config or {})
        env_id = config.pop("task_env_id")
        transitions, fallback_folder = config.pop(TRANSITIONS_KEY, None), config.pop(FALLBACK_KEY, None)
        time_feature = bool(config.pop(TIME_FEATURE_KEY, False))
        stage_feature = bool(config.pop(STAGE_FEATURE_KEY, False))
        if env_id.startswith("mwx/"):
            import mwx_ray.envs  # noqa: F401 - registers the mwx gymnasium ids in this process
        self.env = wrap_router_env(make_seeded_env(env_id, _EnvContextLike(config, worker_index)), transitions,
                                   fallback_folder, time_feature, stage_feature)
        self.agents = self.possible_agents = [AGENT_ID]
        self.observation_spaces = {AGENT_ID: self.env.observation_space}
        self.action_spaces = {AGENT_ID: self.env.action_space}

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        return {AGENT_ID: obs}, {AGENT_ID: info}

    def step(self, action_dict):
        obs, reward, terminated, truncated, info = self.env.step(action_dict[AGENT_ID])
        return ({AGENT_ID: obs}, {AGENT_ID: reward}, {AGENT_ID: terminated, "__all__": terminated},
                {AGENT_ID: truncated, "__all__": truncated}, {AGENT_ID: info})

    def render(self):
        return self.env.render()

    def close(self):
        self.env.close()


class _EnvContextLike(dict):
    """A dict with ``worker_index`` (what ``make_seeded_env`` reads from RLlib's EnvContext)."""

    def __init__(self, data: dict[str, Any], worker_index: int):
        super().__init__(data)
        self.worker_index = worker_index


def register_router_env(task_env_id: str) -> str:
    """Register the one-agent wrapper of ``task_env_id`` with Tune; returns the name for ``config.environment``."""
    from ray.tune.registry import register_env

    name = ENV_NAME_PREFIX + task_env_id

    def creator(env_context):
        config = _EnvContextLike(dict(env_context), int(getattr(env_context, "worker_index", 0) or 0))
        config["task_env_id"] = task_env_id
        return SingleAgentTaskEnv(config)

    register_env(name, creator)
    return name
