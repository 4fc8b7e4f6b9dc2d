"""An expert's own clip clock: what a phase-conditioned expert needs to act inside another task's env.

An expert trained with ``imitation.phase_clock`` observes ``(sin 2πφ, cos 2πφ)`` of its clip after its robot
state (and its task's extras), and with ``imitation.reference_feedforward`` its action is a residual: the env
executes ``clip(reference pose of the next control step + residual_scale · action, −1, 1)``. Outside its training
env nobody plays the clip, so the expert carries both with it: :class:`ExpertClipClock` is read from the expert's
own training env (built from its manifest: env id and task settings, so the clip, its resampling and the
residual scale are exactly the training ones) and turns "control steps since the expert's clock started" into its
phase features and its executed action.

A composite task keeps the step count (``CompositeTask.clock_skills``: steps since the first stage that calls for
the skill became active, as an observation entry). Users: the router's frozen expert pool and RLlib expert modules
(batched, :class:`ClipClockInput`) and scripted stage schedules (``expert_inputs.AdaptedExpert``, numpy).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from mwx_ray.motion.phase import NUM_PHASE_FEATURES, PhaseClock, clip_frame


def carries_clip_clock(manifest: Mapping[str, Any]) -> bool:
    """Whether an exported expert observes its clip's phase (trained with ``imitation.phase_clock``)."""
    task = manifest.get("task")
    imitation = task.get("imitation") if isinstance(task, Mapping) else None
    return isinstance(imitation, Mapping) and bool(imitation.get("phase_clock"))


@dataclass(frozen=True)
class ExpertClipClock:
    """Attributes:
        clock: the clip's length at the control rate and whether it loops.
        reference_actions: with ``reference_feedforward``, the clip's joint pose per frame as normalized actions
            ``[frames, A]`` (the training env's feedforward table); None without it.
        residual_scale: the feedforward's scale of the expert's action (1 without feedforward).
        base_obs_dim: observation entries before the phase features (robot state + its task's own extras).
    """

    clock: PhaseClock
    reference_actions: np.ndarray | None
    residual_scale: float
    base_obs_dim: int

    @classmethod
    def of(cls, manifest: Mapping[str, Any]) -> ExpertClipClock:
        """Read from the expert's training env (its manifest's ``env_id`` and ``task`` settings)."""
        import mwx_ray.envs  # noqa: F401 - registers the tasks
        from mwx_ray.envs.registry import make_env

        env = make_env(str(manifest["env_id"]), task=manifest.get("task") or {})
        try:
            task = env.task
            feedforward = bool(task.settings.reference_feedforward)
            base_obs_dim = int(env.observation_space.shape[0]) - NUM_PHASE_FEATURES
            return cls(clock=task.clock(), residual_scale=float(task.action_scale), base_obs_dim=base_obs_dim,
                       reference_actions=np.array(task.reference_actions, dtype=np.float64) if feedforward else None)
        finally:
            env.close()

    def frame(self, steps: int) -> int:
        return clip_frame(0, steps, self.clock.num_frames, self.clock.cyclic)

    def features(self, steps: int) -> np.ndarray:
        """[2] phase features ``steps`` control steps after the clock started."""
        return self.clock.features(steps)

    def executed_action(self, action: np.ndarray, steps: int) -> np.ndarray:
        """The action the expert's training env would execute (the feedforward, when it has one)."""
        if self.reference_actions is None:
            return action
        executed = self.reference_actions[self.frame(steps + 1)] + self.residual_scale * np.asarray(action, np.float64)
        return np.clip(executed, -1.0, 1.0)  # float64, as the training env computes it

    # ---- batched (torch), for the router's expert pool ----
    def frames_t(self, steps: torch.Tensor) -> torch.Tensor:
        """Frame indices ``[B]`` (long) of step counts ``[B]`` (any dtype; negative counts as 0)."""
        steps = steps.round().clamp_min(0).long()
        n = self.clock.num_frames
        return steps % n if self.clock.cyclic else steps.clamp_max(n - 1)

    def features_t(self, steps: torch.Tensor) -> torch.Tensor:
        """Phase features ``[B, 2]`` (float64) of step counts ``[B]``: ``PhaseClock.features``, batched."""
        frames = self.frames_t(steps).to(torch.float64)
        n = self.clock.num_frames
        phase = frames / n if self.clock.cyclic else 0.5 * frames / max(n - 1, 1)
        angle = 2.0 * torch.pi * phase
        return torch.stack([torch.sin(angle), torch.cos(angle)], dim=-1)


class ClipClockInput(nn.Module):
    """One phase-conditioned expert's clock on batched composite observations (torch): the task's clock entry
    ``[B]`` (steps) -> the expert's phase features ``[B, 2]``, and its env actions -> the executed ones."""

    def __init__(self, clip_clock: ExpertClipClock, clock_entry: int):
        super().__init__()
        self.clip_clock, self.clock_entry = clip_clock, int(clock_entry)
        reference = clip_clock.reference_actions
        self.feedforward = reference is not None
        self.register_buffer("reference_actions", torch.as_tensor(reference if reference is not None
                                                                   else np.zeros((0, 0))),
                             persistent=False)

    def features(self, obs: torch.Tensor) -> torch.Tensor:
        return self.clip_clock.features_t(obs[..., self.clock_entry])

    def executed(self, actions: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
        """``clip(reference[frame after next step] + residual_scale · actions, −1, 1)`` with feedforward."""
        if not self.feedforward:
            return actions
        frames = self.clip_clock.frames_t(obs[..., self.clock_entry] + 1.0)
        executed = self.reference_actions[frames] + self.clip_clock.residual_scale * actions.to(torch.float64)
        return executed.clamp(-1.0, 1.0).to(actions.dtype)


def no_clock_error(skill: str, task_name: str) -> ValueError:
    return ValueError(f"expert {skill!r} plays its clip by its own clock (imitation.phase_clock) and task "
                      f"{task_name!r} keeps no clock for skill {skill!r}: a composite task lists the skills it "
                      "keeps clocks for in clock_skills (envs/composite.py)")
