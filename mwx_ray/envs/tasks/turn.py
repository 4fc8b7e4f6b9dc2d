"""``turn_around``: turn round on the spot to face −x, then stand still (the ``turn`` skill; not HumanoidBench's),
and ``turn_to_spot``: the same, ending on a spot near the start.

Composite tasks that end facing back the way the robot came (``walk_to_chair_sit``: sitting on a chair that faces
the approaching robot) call for it. Reward: ``mwx_ray.rewards.heading.turn_reward`` with goal heading π (the
robot starts facing +x, HumanoidBench's reset); terminates on a fall like the locomotion tasks; 1000 steps.
Observation extras: ``(sin, cos)`` of the angle to turn (``rewards.heading.goal_direction``), so an expert that
observes in its heading frame (``env.task.observation.heading_frame``) knows which way the goal is. Training may
draw the start heading per episode (``env.task.turn.start_yaw_rad``, training-only).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import mujoco
import numpy as np

from mwx_ray.config.task_schema import TaskSection
from mwx_ray.envs.context import StepContext
from mwx_ray.envs.props import add_chair
from mwx_ray.envs.tasks.locomotion import _FlatGroundTask, half_paid
from mwx_ray.rewards.heading import goal_direction, turn_reward, turn_to_spot_extras, yaw_of
from mwx_ray.rewards.kernels import tolerance
from mwx_ray.robots.spec import RobotSpec

TURN_GOAL_YAW_RAD = math.pi  # facing −x: back the way a robot that walked along +x came
# turn_to_spot draws its spot uniformly within this distance of where the turn begins: twice the ±0.15 m spread of
# where zoo:standrest stops the walker in walk_to_chair_sit (measured, oracle schedule; our choice).
SPOT_DRAW_RADIUS_M = 0.3
PARKED_CHAIR_Z_M = -5.0  # turn_to_spot's chair between turns: under the floor, where nothing touches it


class TurnAroundTask(_FlatGroundTask):
    name = "turn_around"
    description = "Turn around on the spot to face the other way, then stand still."
    # Our bar (no published one): a robot that turns within ~3 s and then stands scores ~900 of 1000; one that
    # only stands where it started scores ~260 ((0.5 + 0.05) / 2 per step, measured ~240).
    success_bar = 700.0
    extra_obs_dim = 2

    has_spot = False  # turn_to_spot's chair_behind_spot_m needs one

    def __init__(self, start_yaw_rad: Sequence[float] | None = None, rest_margin_mps: float | None = None,
                 posture_margin_rad: float | None = None, chair_behind_spot_m: float | None = None):
        if chair_behind_spot_m is not None and not self.has_spot:
            raise ValueError(f"env.task.turn.chair_behind_spot_m: {self.name} has no spot to place a chair behind; "
                             "use turn_to_spot")
        self.chair_behind_spot_m = chair_behind_spot_m  # training-only (TaskSection.turn)
        self.start_yaw_rad = start_yaw_rad  # training-only (TaskSection.turn); None = HumanoidBench's reset
        self.rest_margin_mps = rest_margin_mps  # training-only shaping (TaskSection.turn)
        self.posture_margin_rad = posture_margin_rad  # training-only shaping (TaskSection.turn)

    @classmethod
    def from_config(cls, settings: TaskSection) -> TurnAroundTask:
        turn = settings.turn
        return cls(start_yaw_rad=turn.start_yaw_rad, rest_margin_mps=turn.rest_margin_mps,
                   posture_margin_rad=turn.posture_margin_rad, chair_behind_spot_m=turn.chair_behind_spot_m)

    def bind(self, ctx: StepContext) -> None:
        self._obs = np.zeros(self.extra_obs_dim)
        joints = len(ctx.robot.joints)
        self._joint_qpos = ctx.data.qpos[7 : 7 + joints]  # live view (the robot's joints follow its free joint)
        self._standing_joints = np.asarray(ctx.robot.keyframe_qpos[7 : 7 + joints], dtype=np.float64)

    def extra_obs(self, ctx: StepContext) -> np.ndarray:
        """``(sin, cos)`` of the angle from the pelvis heading to the goal heading, [2]."""
        return goal_direction(yaw_of(ctx.root_quat), TURN_GOAL_YAW_RAD, out=self._obs)

    def reset(self, ctx: StepContext, rng: np.random.Generator) -> None:
        if self.start_yaw_rad is not None:
            low, high = self.start_yaw_rad
            half_yaw = 0.5 * rng.uniform(low, high)  # replaces the noisy root orientation (sit_hard's way)
            ctx.data.qpos[3:7] = (math.cos(half_yaw), 0.0, 0.0, math.sin(half_yaw))

    def spot_distance(self, ctx: StepContext) -> float | None:
        """Pelvis distance from the spot to end on, m (None: anywhere will do)."""
        return None

    def reward(self, ctx: StepContext) -> tuple[float, dict[str, float]]:
        reward, parts = turn_reward(yaw_rad=yaw_of(ctx.root_quat), yaw_rate_rad_s=ctx.yaw_rate,
                                    goal_yaw_rad=TURN_GOAL_YAW_RAD, head_z_m=ctx.head_z, torso_zz=ctx.torso_zz,
                                    com_vel_xy_mps=ctx.com_velocity[:2], actuator_force_nm=ctx.actuator_force,
                                    spot_distance_m=self.spot_distance(ctx))
        if self.rest_margin_mps is not None:  # StandTask's at-rest shaping: walking round pays half
            parts["at_rest"] = tolerance(math.hypot(*ctx.com_velocity[:2]), margin=self.rest_margin_mps)
            reward *= half_paid(parts["at_rest"])
        # End the turn near the keyframe's joint angles (with experts.ppo.action_bound_coef: a parked joint cannot
        # move otherwise). Measured in walk_to_chair_sit: the stance moves, the sit expert does not sit more often
        # from it (tune_configs/experts/turn_spot_stance.yaml).
        if self.posture_margin_rad is not None:
            deviation = math.sqrt(float(np.mean((self._joint_qpos - self._standing_joints) ** 2)))
            parts["posture"] = tolerance(deviation, margin=self.posture_margin_rad)
            reward *= half_paid(parts["posture"])
        return reward, parts


class TurnToSpotTask(TurnAroundTask):
    """``turn_around`` ending on a spot: drawn within ``SPOT_DRAW_RADIUS_M`` of the pelvis where the turn begins
    (the reset, or where a training prelude hands over), observed as two more extras (where it is in the robot's
    heading frame, ``rewards.heading.spot_in_heading_frame``) and paid for by the turn reward's on-spot factor.

    A composite task's turn stage needs this when the next expert starts from one place only: the sit expert sits
    from within ~0.1 m laterally of its spot, while the robot stops within ±0.15 m of where it was meant to and
    turning round on its own drifts 0.2–0.7 m (docs/results.md, "walk_to_chair_sit")."""

    name = "turn_to_spot"
    description = "Turn around to face the other way and stand on the spot marked near you."
    # Our bar is turn_around's 700: within 0.15 m of the spot the on-spot factor costs at most 5% of the return.
    extra_obs_dim = 4  # (sin, cos) of the angle to turn, then the spot (x ahead, y left), m

    has_spot = True

    def build(self, spec: mujoco.MjSpec, robot: RobotSpec) -> None:
        # walk_to_chair_sit's chair (seat facing the goal heading), parked under the floor until a turn begins.
        # Its robot touched that chair in 24 of the 25 stops that failed and in nearly every turn (mwx rollouts
        # contacts; docs/results.md, "walk_to_chair_sit"): experts trained on open floor run into it.
        self._chair_name = None if self.chair_behind_spot_m is None else add_chair(
            spec, pos_xy=(0.0, 0.0), yaw=TURN_GOAL_YAW_RAD)

    def bind(self, ctx: StepContext) -> None:
        super().bind(ctx)
        self._spot_xy = np.zeros(2)
        self._chair_pos = None if self._chair_name is None else ctx.model.body_pos[ctx.body_id(self._chair_name)]

    def _place_spot(self, ctx: StepContext, rng: np.random.Generator) -> None:
        radius = SPOT_DRAW_RADIUS_M * math.sqrt(rng.uniform())  # uniform over the disc
        angle = rng.uniform(-math.pi, math.pi)
        self._spot_xy[:] = ctx.root_pos[:2] + radius * np.array([math.cos(angle), math.sin(angle)])

    def reset(self, ctx: StepContext, rng: np.random.Generator) -> None:
        super().reset(ctx, rng)
        self._place_spot(ctx, rng)
        if self._chair_pos is not None:  # out of a prelude walker's way; a plain start turns on open floor
            self._chair_pos[:] = (0.0, 0.0, PARKED_CHAIR_Z_M)

    def restart(self, ctx: StepContext, rng: np.random.Generator) -> None:
        self._place_spot(ctx, rng)  # a walker handed the robot over here: the turn begins now
        if self._chair_pos is not None:  # a body without joints: the next mj_forward moves it (and its geoms)
            behind = self.chair_behind_spot_m * np.array([math.cos(TURN_GOAL_YAW_RAD), math.sin(TURN_GOAL_YAW_RAD)])
            self._chair_pos[:] = (*(self._spot_xy - behind), 0.0)

    def spot_distance(self, ctx: StepContext) -> float:
        return math.dist(ctx.root_pos[:2], self._spot_xy)

    def extra_obs(self, ctx: StepContext) -> np.ndarray:
        return turn_to_spot_extras(yaw_of(ctx.root_quat), TURN_GOAL_YAW_RAD, ctx.root_pos[:2], self._spot_xy,
                                   out=self._obs)
