"""The robot's state where a stage of a composite task begins, from rollout shards: the start states an expert is
trained from so that it learns the hand-overs it gets in that task (``mwx rollouts start-states``;
``env.task.start_states``, ``envs/start_states.py``)."""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np

from mwx_ray.envs.start_states import body_xy_yaw, into_body_frame, save_start_states
from mwx_ray.labeling.shards import ShardFormatError, ShardIndex


def fixed_body_pose(env_id: str, body: str) -> tuple[np.ndarray, float, int, int]:
    """World (x, y) and yaw of a body fixed in ``env_id``'s scene (no joint of its own, so every episode has it
    in the same place), and the robot's qpos / qvel sizes; ValueError naming the body otherwise."""
    from mwx_ray.envs import make_env

    env = make_env(env_id)
    try:
        model, data, ctx = env.unwrapped.model, env.unwrapped.data, env.unwrapped.ctx
        body_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, body)
        if body_id >= 0 and int(model.body_jntnum[body_id]) > 0:
            raise ValueError(f"{env_id}: body {body!r} moves (it has a joint); start states need a fixed one")
        mujoco.mj_forward(model, data)
        return (*body_xy_yaw(model, data, body), ctx.robot_nq, ctx.robot_nv)
    finally:
        env.close()


def stage_start_states(rollouts_dir: str | Path, stage: str, reference_body: str,
                       out: str | Path) -> dict[str, int]:
    """Write the robot state of the first step of ``stage`` in every episode of ``rollouts_dir`` that reached it,
    its root in ``reference_body``'s frame, to ``out``; returns {"episodes": ..., "states": ...}."""
    index = ShardIndex.load(rollouts_dir)
    names = [entry["name"] for entry in index.meta.get("stages", [])]
    if stage not in names:
        raise ShardFormatError(f"{rollouts_dir}: task {index.meta.get('task')!r} has no stage {stage!r}; its stages: "
                               f"{names}")
    stage_index = names.index(stage)
    env_id = index.meta["env_id"]
    body_xy, body_yaw, nq, nv = fixed_body_pose(env_id, reference_body)
    qpos_rows, qvel_rows, episodes = [], [], 0
    for _, shard in index.iter_shards():
        arrays = shard.arrays
        for episode in np.unique(arrays["episode_id"]):
            episodes += 1
            rows = np.flatnonzero((arrays["episode_id"] == episode) & (arrays["stage"] == stage_index))
            if rows.size == 0:
                continue
            first = int(rows[0])
            qpos, qvel = into_body_frame(arrays["qpos"][first, :nq], arrays["qvel"][first, :nv], body_xy, body_yaw)
            qpos_rows.append(qpos)
            qvel_rows.append(qvel)
    if not qpos_rows:
        raise ShardFormatError(f"{rollouts_dir}: no episode of {episodes} reached stage {stage!r}")
    save_start_states(out, np.stack(qpos_rows), np.stack(qvel_rows), {
        "rollouts": str(rollouts_dir), "task": index.meta.get("task"), "env_id": env_id, "stage": stage,
        "reference_body": reference_body, "policy": index.meta.get("policy"), "seed": index.meta.get("seed"),
        "episodes": episodes})
    return {"episodes": episodes, "states": len(qpos_rows)}
