"""Locomotion stages for composite tasks, built from the HumanoidBench kernels (``rewards.humanoid_terms``).

Every stage reward is in [0, 1] and reuses the single-skill formula of the skill it calls for, so an expert
trained on that skill is rewarded for doing exactly what it learned. Completion thresholds are our choice
(HumanoidBench has no stages) and are stated next to each predicate.
"""

from __future__ import annotations

import math

import numpy as np

from mwx_ray.envs.composite import HeldStage, Stage
from mwx_ray.envs.context import StepContext
from mwx_ray.rewards import humanoid_terms as terms
from mwx_ray.rewards.heading import heading_error, turn_reward, yaw_of
from mwx_ray.rewards.kernels import tolerance

# "Standing" for completion: both stand terms near 1 and the CoM nearly at rest (our thresholds).
STANDING_TERM_MIN = 0.9
AT_REST_SPEED_MPS = 0.3
# Walk/run speed bands for composite stages: HumanoidBench's move(v) accepts any speed ≥ v, so a run would
# also satisfy "walk". Inside a composite task the walk stage rewards 0.8–1.6 m/s (human walking range,
# gait-transition speed ≈ 2 m/s) and the run stage ≥ its target, with the same linear tolerance shape.
WALK_BAND_MPS = (0.8, 1.6)
# Paced stages (walk_run_walk): a stage's mean speed tells a walk from a run, so neither gait passes both. Walk:
# at most the walk band's top (no lower bound: the stage starts at rest or slowing from a run); run: above it.
WALK_PACE_MPS = (0.0, WALK_BAND_MPS[1])
RUN_PACE_MPS = (WALK_BAND_MPS[1], math.inf)


def _stand_terms(ctx: StepContext) -> tuple[float, float, float]:
    return terms.standing(ctx.head_z), terms.upright(ctx.torso_zz), terms.small_control(ctx.actuator_force)


class StandStill(HeldStage):
    """HumanoidBench ``stand`` reward; complete after standing at rest for ``hold_steps`` consecutive steps."""

    def __init__(self, name: str = "stand", hold_steps: int = 50,
                 description: str = "Stand still and upright without moving."):
        super().__init__(name, "stand", description, hold_steps)

    def reward(self, ctx: StepContext) -> tuple[float, dict[str, float]]:
        standing, upright, small_control = _stand_terms(ctx)
        dont_move = terms.dont_move(ctx.com_velocity[:2])
        self.holding = (standing >= STANDING_TERM_MIN and upright >= STANDING_TERM_MIN
                        and math.hypot(*ctx.com_velocity[:2]) < AT_REST_SPEED_MPS)
        reward = small_control * standing * upright * dont_move
        return reward, {"standing": standing, "upright": upright, "small_control": small_control,
                        "dont_move": dont_move}


class MoveForward(Stage):
    """Walk or run along +x until the pelvis passes ``until_x_m``.

    Reward: small_control · stand_reward · speed term, where the speed term is HumanoidBench's ``move`` shape
    ``(5·tol + 1)/6`` applied to the forward CoM velocity: bounds ``(low, high)`` m/s, margin = ``low``.

    ``pace_mps`` (optional): the stage completes only if the pelvis covered the stage at a mean forward speed in
    this range (from where and when the stage began to where it passes ``until_x_m``); otherwise it never
    completes. Without it, distance alone completes the stage, and a runner would also pass a walk stage.
    """

    def __init__(self, name: str, skill: str, speed_band_mps: tuple[float, float], until_x_m: float,
                 description: str, pace_mps: tuple[float, float] | None = None):
        super().__init__(name, skill, description)
        self.speed_band_mps = speed_band_mps
        self.until_x_m = until_x_m
        self.pace_mps = pace_mps
        self._start_x_t: tuple[float, float] | None = None

    def reset(self, ctx: StepContext, rng: np.random.Generator) -> None:
        self._start_x_t = None

    def mean_speed(self, ctx: StepContext) -> float:
        """Mean forward speed of the pelvis since the stage began (m/s; 0 on its first step). Called after
        :meth:`reward`, which records where and when the stage began."""
        assert self._start_x_t is not None, "reward() records the stage's start before complete() asks"
        start_x, start_t = self._start_x_t
        elapsed = float(ctx.data.time) - start_t
        return (float(ctx.root_pos[0]) - start_x) / elapsed if elapsed > 0 else 0.0

    def reward(self, ctx: StepContext) -> tuple[float, dict[str, float]]:
        if self._start_x_t is None:  # the first step this stage is active
            self._start_x_t = (float(ctx.root_pos[0]), float(ctx.data.time))
        standing, upright, small_control = _stand_terms(ctx)
        low = self.speed_band_mps[0]
        in_band = tolerance(ctx.com_vx, bounds=self.speed_band_mps, margin=low, sigmoid="linear",
                            value_at_margin=0.0)
        move = (5.0 * in_band + 1.0) / 6.0
        reward = small_control * standing * upright * move
        return reward, {"standing": standing, "upright": upright, "small_control": small_control, "move": move}

    def complete(self, ctx: StepContext) -> bool:
        if float(ctx.root_pos[0]) < self.until_x_m:
            return False
        return self.pace_mps is None or self.pace_mps[0] <= self.mean_speed(ctx) <= self.pace_mps[1]


def walk_forward(name: str, until_x_m: float, *, paced: bool = False) -> MoveForward:
    """``paced``: complete only at walking pace (mean speed ≤ the walk band's top, ``WALK_PACE_MPS``)."""
    return MoveForward(name, "walk", WALK_BAND_MPS, until_x_m,
                       f"Walk forward at about 1 m/s until x = {until_x_m:g} m.",
                       pace_mps=WALK_PACE_MPS if paced else None)


def run_forward(name: str, until_x_m: float, speed_mps: float = terms.RUN_SPEED_MPS, *,
                paced: bool = False) -> MoveForward:
    """``paced``: complete only faster than any walk (mean speed above the walk band, ``RUN_PACE_MPS``)."""
    return MoveForward(name, "run", (speed_mps, math.inf), until_x_m,
                       f"Run forward at {speed_mps:g} m/s or faster until x = {until_x_m:g} m.",
                       pace_mps=RUN_PACE_MPS if paced else None)


class WalkTo(Stage):
    """Walk to a point on the ground; complete within ``radius_m`` of it (pelvis xy, world frame).

    Reward: small_control · stand_reward · (0.5·move_towards + 0.5·near), where move_towards is the ``move``
    shape on the CoM velocity projected on the unit vector to the goal (target ``speed_mps``) and near is
    ``tol(distance, (0, radius), margin=2 m)``: progress far away, precision close by.
    """

    def __init__(self, name: str, goal_xy_m: tuple[float, float], radius_m: float = 0.3,
                 speed_mps: float = terms.WALK_SPEED_MPS, description: str = ""):
        super().__init__(name, "walk", description or f"Walk to the point ({goal_xy_m[0]:g}, {goal_xy_m[1]:g}).")
        self.goal_xy = np.asarray(goal_xy_m, dtype=float)
        self.radius_m = radius_m
        self.speed_mps = speed_mps

    def _distance(self, ctx: StepContext) -> tuple[float, np.ndarray]:
        delta = self.goal_xy - ctx.root_pos[:2]
        return float(math.hypot(*delta)), delta

    def reward(self, ctx: StepContext) -> tuple[float, dict[str, float]]:
        standing, upright, small_control = _stand_terms(ctx)
        distance, delta = self._distance(ctx)
        direction = delta / max(distance, 1e-6)
        towards = float(np.dot(ctx.com_velocity[:2], direction))
        move = terms.move(towards, self.speed_mps) if distance > self.radius_m else 1.0
        near = tolerance(distance, bounds=(0.0, self.radius_m), margin=2.0)
        reward = small_control * standing * upright * (0.5 * move + 0.5 * near)
        return reward, {"standing": standing, "upright": upright, "small_control": small_control,
                        "move_towards": move, "near": near}

    def complete(self, ctx: StepContext) -> bool:
        return self._distance(ctx)[0] <= self.radius_m


# Turned round: heading within 0.2 rad (11°) of the goal, standing at rest, for 0.5 s (our thresholds).
TURNED_HEADING_RAD = 0.2
TURNED_HOLD_STEPS = 25
# ... and, turning onto a spot, within 0.1 m of it: the zoo sit expert sat from 0.1 m beside its spot in 10/10
# episodes and from 0.15 m in 2/10 (docs/results.md, "walk_to_chair_sit").
ON_SPOT_DONE_M = 0.1


class TurnAround(HeldStage):
    """The ``turn`` skill's reward (``rewards.heading.turn_reward``) towards ``goal_yaw_rad``, onto ``spot_xy_m``
    if given (``turn_to_spot``'s); complete once facing the goal, standing at rest (and on the spot), for
    ``TURNED_HOLD_STEPS``."""

    def __init__(self, name: str = "turn", goal_yaw_rad: float = math.pi,
                 description: str = "Turn around on the spot to face the other way.",
                 spot_xy_m: tuple[float, float] | None = None):
        super().__init__(name, "turn", description, TURNED_HOLD_STEPS)
        self.goal_yaw_rad = goal_yaw_rad
        self.spot_xy = None if spot_xy_m is None else np.asarray(spot_xy_m, dtype=float)

    def reward(self, ctx: StepContext) -> tuple[float, dict[str, float]]:
        yaw = yaw_of(ctx.root_quat)
        off_spot = None if self.spot_xy is None else math.dist(ctx.root_pos[:2], self.spot_xy)
        reward, parts = turn_reward(yaw_rad=yaw, yaw_rate_rad_s=ctx.yaw_rate, goal_yaw_rad=self.goal_yaw_rad,
                                    head_z_m=ctx.head_z, torso_zz=ctx.torso_zz, com_vel_xy_mps=ctx.com_velocity[:2],
                                    actuator_force_nm=ctx.actuator_force, spot_distance_m=off_spot)
        self.holding = (heading_error(yaw, self.goal_yaw_rad) < TURNED_HEADING_RAD
                        and parts["standing"] >= STANDING_TERM_MIN and parts["upright"] >= STANDING_TERM_MIN
                        and math.hypot(*ctx.com_velocity[:2]) < AT_REST_SPEED_MPS
                        and (off_spot is None or off_spot <= ON_SPOT_DONE_M))
        return reward, parts
