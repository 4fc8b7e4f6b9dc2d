"""Does a skill's reference clip do its task by itself? Play it open loop through the physics and score it.

The H1's actuators are position servos, so sending the clip's joint pose at every control step (the imitation
task's ``reference_feedforward`` with a zero residual action) plays the clip through the real dynamics, from
HumanoidBench's reset (``TaskSection.for_evaluation``) and under the task's own termination. The plain task
return (``hb/return``) of that playback measures how well the clip fits the task:

* above the success bar (sit: the clip sits the robot down on the chair), an expert needs only a residual policy
  around the clip (``imitation.reference_feedforward``);
* far below it (the robot falls, or the clip moves slower than the task asks), RL has to find the motion and the
  clip can only shape it, or the clip is the thing to fix.

Only the root pose is not commanded: the robot's balance comes from the servos and contacts alone, as it will for
any expert.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mwx_ray.intervals import mean_ci95

PLAYBACK_SEED = 7_000_003  # reset seeds of playback episodes: apart from training, evaluation and zoo seeds


@dataclass(frozen=True)
class ClipPlayback:
    """Open-loop playback episodes of one skill's clip on its imitation task (evaluation settings)."""

    skill: str
    env_id: str
    clip: str
    success_bar: float
    episode_returns: list[float]
    episode_lengths: list[int]

    @property
    def mean_ci95(self) -> tuple[float, float, float]:
        return mean_ci95(self.episode_returns)

    @property
    def successes(self) -> int:
        return sum(r >= self.success_bar for r in self.episode_returns)


def play_clip(skill: str, *, episodes: int = 3, seed: int = PLAYBACK_SEED, clip: str | None = None,
              robot: str = "h1") -> ClipPlayback:
    """Play ``skill``'s clip (or ``clip``: a built-in motion or ``.npz``) open loop for ``episodes`` episodes."""
    from mwx_ray.envs.registry import env_id_for, task_settings
    from mwx_ray.envs.skills import get_skill
    from mwx_ray.experts.evaluation import evaluate_policy
    from mwx_ray.robots import get_robot

    spec = get_skill(skill)
    if spec.imitation_task is None:
        raise ValueError(f"skill {skill!r} has no reference clip to play")
    env_id = env_id_for(robot, spec.imitation_task)
    settings = task_settings({"clip": clip, "imitation": {"phase_clock": True, "reference_feedforward": True}})
    zero_action = np.zeros(get_robot(robot).num_actuators, dtype=np.float32)
    result = evaluate_policy(lambda _obs: zero_action, env_id, episodes=episodes, seed=seed,
                             env_kwargs=settings.for_evaluation().env_kwargs())
    return ClipPlayback(skill=skill, env_id=env_id, clip=clip or str(spec.clip), success_bar=spec.success_bar,
                        episode_returns=list(result.episode_returns), episode_lengths=list(result.episode_lengths))

