"""Rollout policies and the shard collector behind ``mwx rollouts collect``.

A policy is anything with the :class:`RolloutPolicy` shape: ``reset(seed)`` at each episode start and
``act(obs, info) -> (action [A], expert index)``. Built-in policies are registered by name in
:data:`ROLLOUT_POLICIES` (``schedule``, ``expert``, ``zero``, ``random``); a router checkpoint plugs in with
``register_rollout_policy("router", builder)``, returning the argmax expert as its expert index.

Expert observations: an expert trained on a skill task sees concat(qpos, qvel) of its own task, which is the
first ``obs_dim`` entries of a composite task's observation (composite scenes have no free bodies), so
experts get ``obs[:obs_dim]``. Episode ``e`` resets with seed ``run.seed + e``: collection is reproducible
and an interrupted collection resumes at the first shard missing from the index.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mwx_ray.atomic_io import remove_stale_partials
from mwx_ray.config.labeling_schema import RolloutsSection
from mwx_ray.config.task_schema import TaskSection
from mwx_ray.errors import UnknownNameError
from mwx_ray.labeling.shards import SHARD_FORMAT, Shard, ShardIndex, shard_file_name, write_shard


class RolloutPolicy(Protocol):
    """What the collector drives. ``experts`` names the indices ``act`` may return (empty: no experts)."""

    name: str
    experts: tuple[str, ...]

    def reset(self, seed: int) -> None: ...

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> tuple[np.ndarray, int]:
        """``obs [D]`` float64 and the last step's ``info`` -> (env action ``[A]`` in [-1, 1], expert index)."""
        ...


@dataclass(frozen=True)
class TaskStages:
    """Stage names/skills/descriptions of the task (a single-skill task is one stage named after itself)."""

    names: tuple[str, ...]
    skills: tuple[str, ...]
    descriptions: tuple[str, ...]

    @classmethod
    def of(cls, task) -> TaskStages:
        stages = getattr(task, "stages", None)
        if not stages:
            return cls((task.name,), (task.name,), (task.description,))
        return cls(tuple(s.name for s in stages), tuple(s.skill for s in stages), tuple(s.description for s in stages))

    def to_json(self) -> list[dict[str, str]]:
        return [{"name": n, "skill": s, "description": d}
                for n, s, d in zip(self.names, self.skills, self.descriptions, strict=True)]


class ZeroPolicy:
    """Action 0 = the middle of every joint range (a smoke-test policy: the robot slowly collapses)."""

    name, experts = "zero", ()

    def __init__(self, action_dim: int):
        self._action = np.zeros(action_dim, dtype=np.float32)

    def reset(self, seed: int) -> None:
        pass

    def act(self, obs, info):
        return self._action, -1


class RandomPolicy:
    """Uniform random actions in [-1, 1], seeded per episode."""

    name, experts = "random", ()

    def __init__(self, action_dim: int):
        self.action_dim = action_dim
        self._rng = np.random.default_rng(0)

    def reset(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)

    def act(self, obs, info):
        return self._rng.uniform(-1.0, 1.0, self.action_dim).astype(np.float32), -1


class StageSchedulePolicy:
    """Scripted schedule: in each state, the expert that the task's active stage calls for acts alone.

    The active stage comes from the previous step's ``info["stage_skill"]`` (stage 0 right after reset):
    the same privileged signal the oracle teacher labels with.
    """

    name = "schedule"

    def __init__(self, experts: Mapping[str, Any], stages: TaskStages):
        missing = sorted(set(stages.skills) - set(experts))
        if missing:
            raise UnknownNameError(f"no expert for stage skills {missing}; loaded experts: {sorted(experts)}")
        self.experts = tuple(experts)
        self._policies = dict(experts)
        self._first_skill = stages.skills[0]

    def reset(self, seed: int) -> None:
        pass

    def act(self, obs, info):
        skill = info.get("stage_skill", self._first_skill)
        policy = self._policies[skill]
        return policy.act(obs[: policy.obs_dim]), self.experts.index(skill)


class SingleExpertPolicy:
    """One exported expert acts throughout the episode."""

    name = "expert"

    def __init__(self, skill: str, policy):
        self.experts = (skill,)
        self._policy = policy

    def reset(self, seed: int) -> None:
        pass

    def act(self, obs, info):
        return self._policy.act(obs[: self._policy.obs_dim]), 0


def load_expert(experts_dir: str | Path, skill_or_folder: str):
    """An :class:`ExpertPolicy`: an expert folder path, or the skill's expert in ``experts_dir`` (a registry, the
    zoo, or a folder of ``<skill>/`` expert folders; ``mwx_ray.experts.registry.expert_folder``)."""
    from mwx_ray.experts.policy import MANIFEST_FILE, ExpertPolicy
    from mwx_ray.experts.registry import expert_folder

    direct = Path(skill_or_folder)
    if (direct / MANIFEST_FILE).is_file():
        return ExpertPolicy.load(direct)
    return ExpertPolicy.load(expert_folder(experts_dir, skill_or_folder))


PolicyBuilder = Callable[[RolloutsSection, Any, TaskStages], RolloutPolicy]


def _build_schedule(section: RolloutsSection, env, stages: TaskStages) -> RolloutPolicy:
    from mwx_ray.experts.expert_inputs import acting_in
    from mwx_ray.experts.policy import ExpertPolicy
    from mwx_ray.experts.registry import resolve_expert_folders

    folders = resolve_expert_folders(section.experts_dir, list(dict.fromkeys(stages.skills)), section.expert_dirs)
    return StageSchedulePolicy({skill: acting_in(ExpertPolicy.load(folder), env, skill=skill)
                                for skill, folder in folders.items()}, stages)


def _build_expert(section: RolloutsSection, env, stages: TaskStages) -> RolloutPolicy:
    if not section.expert:
        raise ValueError("policy=expert needs labeling.rollouts.expert (a skill name or an expert folder)")
    return SingleExpertPolicy(Path(section.expert).name, load_expert(section.experts_dir, section.expert))


ROLLOUT_POLICIES: dict[str, PolicyBuilder] = {
    "schedule": _build_schedule,
    "expert": _build_expert,
    "zero": lambda section, env, stages: ZeroPolicy(env.action_space.shape[0]),
    "random": lambda section, env, stages: RandomPolicy(env.action_space.shape[0]),
}


def register_rollout_policy(name: str, builder: PolicyBuilder) -> None:
    """Add a policy kind (e.g. ``router``) selectable by name."""
    ROLLOUT_POLICIES[name] = builder


def build_rollout_policy(name: str, section: RolloutsSection, env, stages: TaskStages) -> RolloutPolicy:
    if name not in ROLLOUT_POLICIES:
        raise UnknownNameError(f"unknown rollout policy {name!r}; valid policies: {sorted(ROLLOUT_POLICIES)}")
    return ROLLOUT_POLICIES[name](section, env, stages)


def resize_frame(frame: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """``[H, W, 3]`` uint8 -> ``[h, w, 3]`` uint8 (bilinear); unchanged when ``size`` is None or equal."""
    if size is None or tuple(frame.shape[:2]) == tuple(size):
        return frame
    from PIL import Image

    return np.asarray(Image.fromarray(frame).resize((size[1], size[0]), Image.BILINEAR), dtype=np.uint8)


def run_episode(env, policy: RolloutPolicy, *, episode_id: int, seed: int, max_steps: int, keyframe_every: int,
                frame_size: tuple[int, int] | None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """One episode -> (per-row arrays as in ``shards``, episode summary). Rows are states before actions."""
    obs, info = env.reset(seed=seed)
    policy.reset(seed)
    task = env.unwrapped.task
    rows: dict[str, list] = {k: [] for k in ("obs", "action", "reward", "qpos", "qvel", "time", "stage", "expert")}
    keyframes, keyframe_rows = [], []
    stage, data = int(getattr(task, "active", 0)), env.unwrapped.data
    episode_return, terminated, truncated, step = 0.0, False, False, 0
    while step < max_steps and not (terminated or truncated):
        rows["obs"].append(np.asarray(obs, dtype=np.float64))
        rows["qpos"].append(data.qpos.copy())
        rows["qvel"].append(data.qvel.copy())
        rows["time"].append(float(data.time))
        rows["stage"].append(stage)
        if step % keyframe_every == 0:
            keyframes.append(resize_frame(env.render(), frame_size))
            keyframe_rows.append(step)
        action, expert = policy.act(obs, info)
        obs, reward, terminated, truncated, info = env.step(action)
        rows["action"].append(np.asarray(action, dtype=np.float32))
        rows["reward"].append(float(reward))
        rows["expert"].append(int(expert))
        stage = int(info.get("stage", stage))
        episode_return += float(reward)
        step += 1
    arrays = {
        "episode_id": np.full(step, episode_id, dtype=np.int64),
        "step": np.arange(step, dtype=np.int32),
        "obs": np.stack(rows["obs"]), "action": np.stack(rows["action"]),
        "reward": np.asarray(rows["reward"], dtype=np.float64),
        "qpos": np.stack(rows["qpos"]), "qvel": np.stack(rows["qvel"]),
        "time": np.asarray(rows["time"], dtype=np.float64),
        "stage": np.asarray(rows["stage"], dtype=np.int16), "expert": np.asarray(rows["expert"], dtype=np.int16),
        "keyframe_row": np.asarray(keyframe_rows, dtype=np.int64), "keyframes": np.stack(keyframes),
    }
    summary = {"episode_id": episode_id, "seed": seed, "steps": step, "return": episode_return,
               "terminated": bool(terminated), "truncated": bool(truncated),
               "success": bool(info["success"]) if "success" in info else None,
               "stages_completed": int(info.get("stages_completed", 0))}
    return arrays, summary


def concat_episodes(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate per-episode arrays; keyframe rows are shifted to index the concatenated rows."""
    offsets = np.cumsum([0] + [p["step"].shape[0] for p in parts[:-1]])
    shifted = [{**p, "keyframe_row": p["keyframe_row"] + off} for p, off in zip(parts, offsets, strict=True)]
    return {key: np.concatenate([p[key] for p in shifted]) for key in parts[0]}


def collect_rollouts(task: TaskSection | str, section: RolloutsSection, out_dir: str | Path, *, seed: int,
                     render_quality: str = "fast", progress: bool = True) -> ShardIndex:
    """Run ``section.policy`` on ``task`` (its settings, or a task name with default settings) and write shards
    + index to ``out_dir`` (resumable)."""
    from tqdm import tqdm

    from mwx_ray.envs.registry import make_env, resolve_env_id

    task = TaskSection(name=task) if isinstance(task, str) else task

    env_id = resolve_env_id(task.name)
    env = make_env(env_id, task=task.for_evaluation(), render_mode="rgb_array", render_quality=render_quality)
    try:
        task, dt = env.unwrapped.task, float(env.unwrapped.dt)
        stages = TaskStages.of(task)
        policy = build_rollout_policy(section.policy, section, env, stages)
        frame_size = tuple(section.frame_size) if section.frame_size else None
        meta = {
            "task": task.name, "env_id": env_id, "instruction": getattr(task, "instruction", task.description),
            "stages": stages.to_json(), "keyframe_every": section.keyframe_every, "control_hz": 1.0 / dt,
            "frame_rate_hz": 1.0 / (dt * section.keyframe_every), "render_quality": render_quality,
            "frame_size": list(frame_size) if frame_size else None, "seed": seed,
            "policy": {"name": policy.name, "experts": list(policy.experts)},
        }
        index = ShardIndex.open_or_create(out_dir, meta)
        remove_stale_partials(out_dir)  # a killed run's half-written shard is never resumed from, nor kept
        done = {entry["file"] for entry in index.shards}
        max_steps = min(section.max_steps or task.episode_steps, task.episode_steps)
        per_shard = section.episodes_per_shard
        shard_count = -(-section.episodes // per_shard)
        bar = tqdm(total=section.episodes, desc=f"rollouts {task.name}", unit="episode", disable=not progress)
        for number in range(shard_count):
            episodes = range(number * per_shard, min((number + 1) * per_shard, section.episodes))
            if shard_file_name(number) in done:
                bar.update(len(episodes))
                continue
            parts, summaries = [], []
            for episode_id in episodes:
                arrays, summary = run_episode(env, policy, episode_id=episode_id, seed=seed + episode_id,
                                              max_steps=max_steps, keyframe_every=section.keyframe_every,
                                              frame_size=frame_size)
                parts.append(arrays)
                summaries.append(summary)
                bar.update(1)
            shard = Shard(arrays=concat_episodes(parts),
                          meta={"format": SHARD_FORMAT, **meta, "episodes": summaries})
            index.shards.append(write_shard(Path(out_dir) / shard_file_name(number), shard))
            index.save()
        bar.close()
        return index
    finally:
        env.close()
