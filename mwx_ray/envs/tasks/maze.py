"""HumanoidBench ``maze``: walk through a walled maze via checkpoints (0,0) → (3,0) → (3,6) → (6,6).

Per step (HumanoidBench ``envs/maze.py``; pure formulas in ``rewards/course_terms.py``):

1. stage update (``maze_stage_update``): if the pelvis (xy) is within 0.4 m of the current target checkpoint,
   ``stage += 1`` and ``bonus = 100 · stage`` (100, 200, 300, 400; the robot starts on checkpoint 0, so the
   first step already earns 100, as in HumanoidBench). ``stage`` counts checkpoints reached (0..4).
2. reward (``maze_reward``):
   ``(0.2·standing·upright·small_control + 0.4·move + 0.4·tol(dist(imu_xy, target), margin 1))
   · wall_discount + bonus``; wall_discount = 0.1 while touching a maze block;
   ``move`` tracks 2 m/s along the current corridor direction (``maze_move``; 1 once all checkpoints are
   reached); the target is ``CHECKPOINTS[min(stage, 3)]``.

Terminates when ``qpos[2] < 0.2`` m; 1000 steps; success bar 1200 (the four bonuses sum to 1000).

Observation: HumanoidBench's maze observation is plain ``concat(qpos, qvel)`` (``dof * 2 - 1``), so ours is
too (51 for h1; no checkpoint appended). ``info["maze/checkpoint_index"]`` is the stage after this step's
update (HumanoidBench's ``success_subtasks``).

Scene (``envs/courses.py``, HumanoidBench ``generated_xml_maze.xml``): 7×7 grid of 1.5 m cells, 1.2 m tall
blocks; checkpoint markers are non-colliding spheres at z = 1 m, recoloured (on the model, visual only) as in
HumanoidBench: reached green, current target red, later ones black.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from mwx_ray.envs import courses
from mwx_ray.envs.context import GeomContactMask, StepContext
from mwx_ray.envs.task import Task
from mwx_ray.rewards.course_terms import maze_reward, maze_segment_directions, maze_stage_update
from mwx_ray.robots.spec import RobotSpec

FALL_PELVIS_HEIGHT_M = 0.2  # HumanoidBench MazeBase.get_terminated: qpos[2] < 0.2
CHECKPOINTS_XY_M = courses.MAZE_CHECKPOINTS_XY_M
CHECKPOINT_INDEX_KEY = "maze/checkpoint_index"

WALLS_BODY = "maze_walls"
MARKERS_BODY = "maze_checkpoint"
_REACHED_RGBA = (0.0, 1.0, 0.0, 1.0)  # HumanoidBench: green once passed
_TARGET_RGBA = (1.0, 0.0, 0.0, 1.0)  # red: the checkpoint to reach next
_LATER_RGBA = courses.MARKER_RGBA  # black


class MazeTask(Task):
    name = "maze"
    description = (
        "Walk through the maze without touching its walls: go forward 3 m, turn left and go 6 m, "
        "then turn right and go 3 m to the exit."
    )
    episode_steps: ClassVar[int] = 1000
    success_bar = 1200.0

    def __init__(self):
        self.stage = 0  # checkpoints reached this episode (HumanoidBench `maze_stage`)
        self._directions = maze_segment_directions(CHECKPOINTS_XY_M)
        self._walls: GeomContactMask  # set in bind()
        self._marker_geoms: list[int] = []
        self._pelvis = self._imu = -1
        self._step_info: dict[str, Any] = {CHECKPOINT_INDEX_KEY: 0}

    def build(self, spec, robot: RobotSpec) -> None:
        courses.add_maze_walls(spec, body_name=WALLS_BODY)
        positions = [(x, y, courses.MAZE_MARKER_Z_M) for x, y in CHECKPOINTS_XY_M]
        courses.add_markers(spec, positions, body_name=MARKERS_BODY)

    def bind(self, ctx: StepContext) -> None:
        self._walls = GeomContactMask(ctx.model, ctx.body_geom_ids(WALLS_BODY))
        self._marker_geoms = [ctx.geom_id(f"{MARKERS_BODY}_{i}") for i in range(len(CHECKPOINTS_XY_M))]
        self._pelvis = ctx.body_id(ctx.robot.root_body)
        self._imu = ctx.site_id("imu")

    def reset(self, ctx: StepContext, rng: np.random.Generator) -> None:
        self._set_stage(ctx, 0)

    def reward(self, ctx: StepContext) -> tuple[float, dict[str, float]]:
        pelvis = ctx.body_pos(self._pelvis)
        stage, bonus = maze_stage_update(self.stage, float(pelvis[0]), float(pelvis[1]), CHECKPOINTS_XY_M)
        if stage != self.stage:
            self._set_stage(ctx, stage)
        last = len(CHECKPOINTS_XY_M) - 1
        target_x, target_y = CHECKPOINTS_XY_M[min(stage, last)]
        imu = ctx.site_pos(self._imu)
        distance = math.hypot(float(imu[0]) - target_x, float(imu[1]) - target_y)
        com_velocity = ctx.com_velocity
        return maze_reward(
            ctx.head_z,
            ctx.torso_zz,
            ctx.actuator_force,
            float(com_velocity[0]),
            float(com_velocity[1]),
            self._directions[stage] if stage <= last else None,
            distance,
            self._walls.touching(ctx.data),
            bonus,
        )

    def terminated(self, ctx: StepContext) -> bool:
        return ctx.pelvis_z < FALL_PELVIS_HEIGHT_M

    def step_info(self, ctx: StepContext) -> Mapping[str, Any]:
        return self._step_info

    def _set_stage(self, ctx: StepContext, stage: int) -> None:
        """Record the stage and recolour the checkpoint markers (model rgba: rendering only, no physics)."""
        self.stage = stage
        self._step_info = {CHECKPOINT_INDEX_KEY: stage}
        rgba = ctx.model.geom_rgba
        for index, geom in enumerate(self._marker_geoms):
            rgba[geom] = _REACHED_RGBA if index < stage else _TARGET_RGBA if index == stage else _LATER_RGBA
