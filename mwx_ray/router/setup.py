"""Everything a router run resolves on the driver before RLlib is involved (Ray-free).

``prepare_router(config)`` loads the K experts (frozen, hash-checked), derives their observation adapters
from their env ids, pools their normalizers for the router input, embeds the instruction once, and builds the
label source. The result is plain data plus a :class:`FrozenExpertPool` (the registry copy that every frozen
check compares against).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from mwx_ray.config.router_schema import RouterSection
from mwx_ray.config.schema import MwxConfig
from mwx_ray.config.task_schema import TaskSection
from mwx_ray.experts.registry import resolve_expert_folders
from mwx_ray.router.experts_frozen import FrozenExpertPool
from mwx_ray.router.labels import LabelSource, build_label_source
from mwx_ray.router.network import router_spec
from mwx_ray.router.transitions import TIME_FEATURE_MEAN, TIME_FEATURE_STD


@dataclass
class RouterSetup:
    """Resolved inputs of a router run (see the module docstring)."""

    task_env_id: str
    task_settings: TaskSection  # env.task: every env of the run (runners, evaluation) is built from it
    task: Any  # the composite task instance (stages, instruction)
    observation_space: gym.spaces.Box
    action_space: gym.spaces.Box
    experts: FrozenExpertPool
    instruction_text: str
    instruction: np.ndarray  # [E] float32
    label_source: LabelSource
    router: RouterSection

    @property
    def expert_names(self) -> list[str]:
        return self.experts.names

    @property
    def expert_folders(self) -> dict[str, str]:
        return dict(self.experts.folders)

    @property
    def expert_indices(self) -> dict[str, list[int]]:
        """Each expert's entries of the task observation (phase features, computed, are not among them)."""
        return dict(zip(self.experts.names, self.experts.task_index_lists, strict=True))

    @property
    def expert_inputs(self) -> dict[str, dict[str, int | None]]:
        """Per expert: ``heading_qvel_start`` (heading-frame experts) and ``clock_entry`` (phase-conditioned ones),
        None where it has neither (``FrozenExpertRLModule``'s model config)."""
        pool = self.experts
        return {name: {"heading_qvel_start": pool.heading_qvel_start if heading else None,
                       "clock_entry": None if c is None else pool.clock_inputs[c].clock_entry}
                for name, c, heading in zip(pool.names, pool.clock_of, pool.heading_frame_of, strict=True)}

    def env_options(self) -> dict[str, Any]:
        """How every env of the run wraps the composite task (``router.evaluation.evaluate_router`` keywords)."""
        transitions, fallback_folder = self.transition_settings()
        return {"transitions": transitions, "fallback_folder": fallback_folder,
                "time_feature": self.router.time_feature, "stage_feature": self.router.stage_feature}

    def transition_settings(self) -> tuple[dict[str, Any], str | None]:
        """``(router.transitions as plain data, the fallback expert's folder or None)``."""
        from mwx_ray.config.typed import to_plain

        fallback = self.router.transitions.fallback_expert
        return to_plain(self.router.transitions), (self.expert_folders[fallback] if fallback else None)

    def network_spec(self) -> dict[str, Any]:
        return router_spec(obs_dim=int(self.observation_space.shape[0]), num_experts=self.experts.num_experts,
                           act_dim=self.experts.act_dim, net=self.router.net,
                           temperature=self.router.gating.temperature)

    def router_model_config(self) -> dict[str, Any]:
        """Plain-data model config of the router RLModule (travels to every EnvRunner and the Learner)."""
        obs_mean, obs_std = self.experts.pooled_normalizer()
        if self.router.time_feature:  # the clock is uniform on [0, 1]: fixed statistics, no running filter
            obs_mean = torch.cat([obs_mean, torch.tensor([TIME_FEATURE_MEAN])])
            obs_std = torch.cat([obs_std, torch.tensor([TIME_FEATURE_STD])])
        if self.router.stage_feature:  # one-hot entries enter as they are
            stages = len(self.task.stages)
            obs_mean, obs_std = torch.cat([obs_mean, torch.zeros(stages)]), torch.cat([obs_std, torch.ones(stages)])
        gating = self.router.gating
        return {"spec": self.network_spec(), "instruction": self.instruction.tolist(),
                "obs_mean": obs_mean.tolist(), "obs_std": obs_std.tolist(), "experts": self.expert_names,
                "gating": {"kind": gating.kind, "temperature": gating.temperature,
                           "gumbel_temperature": gating.gumbel_temperature}}


def task_spaces(task_env_id: str, settings: TaskSection, router: RouterSection
                ) -> tuple[Any, gym.spaces.Box, gym.spaces.Box, gym.spaces.Box]:
    """(task instance, task observation space, router observation space, action space) of an mwx env id, from
    one constructed env; the router's space is the one its env wrappers (clock, stage indicator) produce."""
    import mwx_ray.envs  # noqa: F401 - registers the mwx gymnasium ids
    from mwx_ray.router.transitions import wrap_router_env

    env = gym.make(task_env_id, **settings.env_kwargs())
    try:
        routed = wrap_router_env(env, time_feature=router.time_feature, stage_feature=router.stage_feature)
        return env.unwrapped.task, env.observation_space, routed.observation_space, env.action_space
    finally:
        env.close()


def prepare_router(config: MwxConfig, *, label_source: bool = True) -> RouterSetup:
    """Resolve the router run of ``config`` (``env.task`` = the composite task, ``router`` = the rest)."""
    from mwx_ray.envs import resolve_env_id
    from mwx_ray.router.instruction import instruction_embedding

    router = config.router
    task_env_id = resolve_env_id(config.env.task.name)
    task, task_obs_space, obs_space, act_space = task_spaces(task_env_id, config.env.task, router)
    folders = resolve_expert_folders(router.experts_dir, router.experts, router.expert_dirs)
    pool = FrozenExpertPool.load({k: Path(v) for k, v in folders.items()}, task_env_id=task_env_id,
                                 task_obs_dim=int(task_obs_space.shape[0]))
    if pool.act_dim != int(act_space.shape[0]):
        raise ValueError(f"experts act in {pool.act_dim} dims but {task_env_id} has {act_space.shape[0]}")
    text = router.instruction.text or getattr(task, "instruction", type(task).description)
    vector = instruction_embedding(text, router.instruction)
    labels = (build_label_source(router.labels, router.experts, task, router.instruction) if label_source
              else LabelSource("none", tuple(router.experts)))
    return RouterSetup(task_env_id=task_env_id, task_settings=config.env.task, task=task, observation_space=obs_space, action_space=act_space,
                       experts=pool, instruction_text=text, instruction=vector, label_source=labels, router=router)
