"""How an env's observation splits into robot state and task extras, and which entries an expert reads.

HumanoidEnv observations are the robot's ``qpos ‖ qvel`` (the same for every H1 task without free bodies)
followed by the task's ``extra_obs_dim`` entries (reach: hand xyz + goal xyz). An expert trained without extras
reads the robot prefix of any such observation; one with extras needs a task that provides extras of the same
width after the robot state. Observations of another layout are never zero-padded (a flaw of the MetaWorld-X
authors' code). Used wherever an expert acts inside another task's env: the router's expert pool and stabiliser
fallback, and hand-over training starts.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np


@dataclass(frozen=True)
class ObservationLayout:
    """Robot-state width, task-extras width and clock entries of an env's observation (``obs_dim = robot +
    extras + clocks``; a composite task's clock entries, ``CompositeTask.clock_skills``, end it and are read
    only by the experts they are kept for)."""

    robot_dim: int
    extra_dim: int
    clock_dim: int = 0

    @property
    def obs_dim(self) -> int:
        return self.robot_dim + self.extra_dim + self.clock_dim


def observation_layout(env_id: str, obs_dim: int) -> ObservationLayout:
    """Split ``obs_dim`` of ``env_id`` using its registered task's ``extra_obs_dim`` (non-mwx ids: no extras)."""
    if env_id.startswith("mwx/"):
        from mwx_ray.envs.registry import get_task_entry, parse_env_id

        _robot, task_name = parse_env_id(env_id)
        task_cls = get_task_entry(task_name).task_cls
        extra, clocks = int(task_cls.extra_obs_dim), len(getattr(task_cls, "clock_skills", ()))
        return ObservationLayout(robot_dim=obs_dim - extra, extra_dim=extra - clocks, clock_dim=clocks)
    return ObservationLayout(robot_dim=obs_dim, extra_dim=0)


def clock_entry(env_id: str, skill: str, obs_dim: int) -> int | None:
    """Index of the clock entry that ``env_id``'s task keeps for ``skill`` (``CompositeTask.clock_skills``) in
    its ``obs_dim`` observations; None if it keeps none."""
    if not env_id.startswith("mwx/"):
        return None
    from mwx_ray.envs.registry import get_task_entry, parse_env_id

    task_cls = get_task_entry(parse_env_id(env_id)[1]).task_cls
    entry = getattr(task_cls, "clock_entry", None)
    return entry(skill, obs_dim) if entry is not None else None


def adapter_indices(expert: ObservationLayout, task: ObservationLayout, *, expert_name: str,
                    task_name: str) -> list[int]:
    """Indices into the task observation that make up the expert's observation, in the expert's order."""
    if expert.robot_dim != task.robot_dim:
        raise ValueError(f"expert {expert_name!r} was trained on a {expert.robot_dim}-d robot state but task "
                         f"{task_name!r} has {task.robot_dim}: not the same robot/scene layout")
    if expert.extra_dim == 0:
        return list(range(expert.robot_dim))  # a clock entry is never an expert's observation
    if task.extra_dim != expert.extra_dim:
        raise ValueError(f"expert {expert_name!r} needs {expert.extra_dim} task entries after the robot state "
                         f"but task {task_name!r} provides {task.extra_dim}; observations are never zero-padded: "
                         "use a composite task that provides this expert's layout (e.g. walk_reach for reach)")
    return list(range(expert.obs_dim))


def expert_prefix_width(env: gym.Env, expert_env_id: str, expert_obs_dim: int, *, expert_name: str) -> int:
    """How many leading entries of ``env``'s observations an expert trained on ``expert_env_id`` reads (every
    layout is a prefix of the task's observation: robot state, then any extras); ValueError as
    :func:`expert_indices_in`."""
    return len(expert_indices_in(env, expert_env_id, expert_obs_dim, expert_name=expert_name))


def expert_indices_in(env: gym.Env, expert_env_id: str, expert_obs_dim: int, *, expert_name: str) -> list[int]:
    """Indices into ``env``'s observations that make up the observation of an expert trained on ``expert_env_id``
    (``expert_obs_dim`` values); ValueError naming both when it cannot act there."""
    shape = env.observation_space.shape
    if shape is None:
        raise ValueError(f"expert {expert_name!r}: the env's observation space has no shape")
    obs_dim = int(np.prod(shape))
    task = getattr(env.unwrapped, "task", None)  # a HumanoidEnv knows its extras even when built without an id
    env_id = env.spec.id if env.spec else (f"mwx task {task.name!r}" if task is not None else "env")
    if obs_dim == expert_obs_dim and task is not None and expert_env_id.startswith("mwx/"):
        from mwx_ray.envs.registry import env_id_for

        if env_id_for(env.unwrapped.robot.name, task.name) == expert_env_id:
            # Its own task, as wide as it was trained on: it reads everything, whatever the settings added (a phase
            # clock's entries, which the registered task's layout cannot know).
            return list(range(obs_dim))
    clocks = len(getattr(task, "clock_skills", ()))
    layout = (ObservationLayout(robot_dim=obs_dim - task.extra_obs_dim, extra_dim=task.extra_obs_dim - clocks,
                                clock_dim=clocks)
              if task is not None else observation_layout(env_id, obs_dim))
    return adapter_indices(observation_layout(expert_env_id, expert_obs_dim), layout, expert_name=expert_name,
                           task_name=env_id)
