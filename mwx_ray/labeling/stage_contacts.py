"""Where in a composite task the robot touches a scene body (a chair, a tunnel), from rollout shards
(``mwx rollouts contacts``).

Every recorded state is put back into the task's model (``mj_forward``, no stepping) and its contacts are read: per
stage, the episodes that reached it, completed it or ended in it, and how many of each touched the body while in
that stage. Experts are trained in open scenes, so a composite task whose layout makes them kick the furniture fails
in a way no expert's own evaluation shows: on ``walk_to_chair_sit`` the robot touched the chair in 24 of the 25
episodes that ended in the stop stage (docs/results.md, "walk_to_chair_sit").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from mwx_ray.labeling.shards import ShardFormatError, ShardIndex


def robot_and_body_geoms(model: mujoco.MjModel, robot_root: int, body: str) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks over geoms: the robot's (its body tree) and ``body``'s (and its children's)."""
    body_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, body)
    if body_id < 0:
        names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, b) for b in range(1, model.nbody)]
        raise ValueError(f"the scene has no body {body!r}; scene bodies: {[n for n in names if n][:40]}")
    in_body = np.zeros(model.nbody, dtype=bool)
    for b in range(model.nbody):  # parents come before children in MuJoCo's body order
        in_body[b] = b == body_id or (b > 0 and in_body[model.body_parentid[b]])
    robot = model.body_rootid[model.geom_bodyid] == robot_root
    return robot, in_body[model.geom_bodyid]


def touches(data: mujoco.MjData, robot: np.ndarray, body: np.ndarray) -> bool:
    """Whether any active contact joins a robot geom and a geom of the body."""
    for contact in data.contact[: data.ncon]:
        g1, g2 = int(contact.geom1), int(contact.geom2)
        if (robot[g1] and body[g2]) or (robot[g2] and body[g1]):
            return True
    return False


def stage_contacts(rollouts_dir: str | Path, body: str) -> list[dict[str, Any]]:
    """Per stage of the shards' task: ``reached``, ``completed``, ``ended_in`` (episodes that stopped in it) and
    ``touched_completed`` / ``touched_ended_in`` (of those, the ones in contact with ``body`` during the stage)."""
    from mwx_ray.envs import make_env

    index = ShardIndex.load(rollouts_dir)
    names = [entry["name"] for entry in index.meta.get("stages", [])]
    if not names:
        raise ShardFormatError(f"{rollouts_dir}: task {index.meta.get('task')!r} has no stages (not a composite task)")
    env = make_env(index.meta["env_id"])
    try:
        model, data, ctx = env.unwrapped.model, env.unwrapped.data, env.unwrapped.ctx
        root = int(model.body_rootid[ctx.body_id(ctx.robot.root_body)])
        robot, target = robot_and_body_geoms(model, root, body)
        rows = [dict(stage=name, reached=0, completed=0, ended_in=0, touched_completed=0, touched_ended_in=0)
                for name in names]
        for _, shard in index.iter_shards():
            arrays = shard.arrays
            if arrays["qpos"].shape[1] != model.nq:
                raise ShardFormatError(f"{shard.name}: qpos has {arrays['qpos'].shape[1]} entries, the task's model "
                                       f"{model.nq}")
            for summary in shard.meta.get("episodes", []):
                steps = np.flatnonzero(arrays["episode_id"] == summary["episode_id"])
                completed = summary["stages_completed"]
                for number, row in enumerate(rows[: completed + 1]):
                    qpos = arrays["qpos"][steps[arrays["stage"][steps] == number]]
                    if len(qpos):
                        outcome = "completed" if completed > number else "ended_in"
                        row["reached"] += 1
                        row[outcome] += 1
                        row[f"touched_{outcome}"] += any(touches_at(model, data, q, robot, target) for q in qpos)
        return rows
    finally:
        env.close()


def touches_at(model: mujoco.MjModel, data: mujoco.MjData, qpos: np.ndarray, robot: np.ndarray,
               body: np.ndarray) -> bool:
    """Whether the robot touches the body in the recorded configuration ``qpos`` (positions only: mj_forward)."""
    data.qpos[:] = qpos
    mujoco.mj_forward(model, data)
    return touches(data, robot, body)
