"""What an expert observes and executes when it acts inside another task's env (a composite task).

Two things an expert may have been trained with that a composite task's world-frame observation does not hold:

* its clip clock (``imitation.phase_clock``, with ``reference_feedforward``): ``experts/clip_clock.py``;
* the heading frame (``observation.heading_frame``): its root state with the yaw removed, ``envs/heading_frame.py``.

:func:`acting_in` wraps an ``ExpertPolicy`` for one env (numpy, scripted schedules); the router's frozen expert
pool and its RLlib expert modules use the batched torch pieces here and in ``clip_clock``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from mwx_ray.envs.heading_frame import to_heading_frame
from mwx_ray.experts.clip_clock import ExpertClipClock, carries_clip_clock, no_clock_error
from mwx_ray.motion.phase import NUM_PHASE_FEATURES


def observes_heading_frame(manifest: Mapping[str, Any]) -> bool:
    """Whether an exported expert was trained on heading-frame observations."""
    task = manifest.get("task")
    observation = task.get("observation") if isinstance(task, Mapping) else None
    return isinstance(observation, Mapping) and bool(observation.get("heading_frame"))


def robot_qvel_start(env_id: str) -> int:
    """Where the robot's ``qvel`` starts in observations of ``env_id`` (its ``nq``: H1 26)."""
    from mwx_ray.envs.registry import parse_env_id
    from mwx_ray.robots import get_robot

    return len(get_robot(parse_env_id(env_id)[0]).keyframe_qpos)


def heading_frame_t(obs: torch.Tensor, qvel_start: int) -> torch.Tensor:
    """Batched :func:`~mwx_ray.envs.heading_frame.to_heading_frame` (float64): ``[B, n]`` -> ``[B, n]``."""
    obs = obs.to(torch.float64)
    w, x, y, z = obs[..., 3], obs[..., 4], obs[..., 5], obs[..., 6]
    yaw = torch.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
    c, s = torch.cos(0.5 * yaw), torch.sin(0.5 * yaw)
    cos_yaw, sin_yaw = torch.cos(yaw), torch.sin(yaw)
    vx, vy = obs[..., qvel_start], obs[..., qvel_start + 1]
    zeros = torch.zeros_like(w)
    root_pos = torch.stack([zeros, zeros, obs[..., 2]], dim=-1)
    root_quat = torch.stack([c * w + s * z, c * x + s * y, c * y - s * x, c * z - s * w], dim=-1)
    root_vel = torch.stack([cos_yaw * vx + sin_yaw * vy, -sin_yaw * vx + cos_yaw * vy], dim=-1)
    return torch.cat([root_pos, root_quat, obs[..., 7:qvel_start], root_vel, obs[..., qvel_start + 2:]], dim=-1)


class AdaptedExpert:
    """An ``ExpertPolicy`` acting on a composite task's observations (numpy): its own slice (the task prefix of
    ``base_obs_dim`` entries), in the heading frame if it was trained so, its phase features from the task's
    clock entry and its feedforward added to its action if it plays a clip."""

    def __init__(self, policy, *, obs_dim: int, base_obs_dim: int, heading_qvel_start: int | None = None,
                 clip_clock: ExpertClipClock | None = None, clock_index: int | None = None):
        self.policy, self.obs_dim, self.base_obs_dim = policy, obs_dim, base_obs_dim
        self.heading_qvel_start, self.clip_clock, self.clock_index = heading_qvel_start, clip_clock, clock_index
        self._obs = np.empty(base_obs_dim + (NUM_PHASE_FEATURES if clip_clock is not None else 0))

    def act(self, obs: np.ndarray) -> np.ndarray:
        base = self.base_obs_dim
        if self.heading_qvel_start is not None:  # writes every entry of the slice, the root ones converted
            to_heading_frame(obs[:base], self.heading_qvel_start, out=self._obs[:base])
        else:
            self._obs[:base] = obs[:base]
        if self.clip_clock is None or self.clock_index is None:
            return self.policy.act(self._obs)
        steps = int(round(float(obs[self.clock_index])))
        self._obs[base:] = self.clip_clock.features(steps)
        return self.clip_clock.executed_action(self.policy.act(self._obs), steps)


def acting_in(policy, env, *, skill: str):
    """``policy`` (an ``ExpertPolicy``) ready to act on the observations of ``env`` (a HumanoidEnv, world frame):
    itself, or an :class:`AdaptedExpert` for a heading-frame or phase-conditioned expert."""
    heading = observes_heading_frame(policy.manifest)
    clocked = carries_clip_clock(policy.manifest)
    if not heading and not clocked:
        return policy
    obs_dim = int(env.observation_space.shape[0])
    clip_clock = ExpertClipClock.of(policy.manifest) if clocked else None
    clock_index = None
    if clocked:
        task = env.unwrapped.task
        clock_index = task.clock_entry(skill, obs_dim) if hasattr(task, "clock_entry") else None
        if clock_index is None:
            raise no_clock_error(skill, task.name)
    base = clip_clock.base_obs_dim if clip_clock is not None else policy.obs_dim
    return AdaptedExpert(policy, obs_dim=obs_dim, base_obs_dim=base, clip_clock=clip_clock, clock_index=clock_index,
                         heading_qvel_start=robot_qvel_start(policy.manifest["env_id"]) if heading else None)
