"""Turning round on the spot: the reward of the ``turn`` skill (task ``turn_around`` and the composite stage).

Not a HumanoidBench task: HumanoidBench's sit_hard expects a policy to turn towards a chair it starts beside or
behind (start yaw within ±1.8 rad), but has no task for turning itself. The reward is HumanoidBench's stand
reward (``small_control · standing · upright · dont_move``) times ``(turning + facing) / 2``, the shape of the
composite ``WalkTo`` stage (``(move_towards + near) / 2``): ``turning`` pays the yaw rate to the left (1 once
facing the goal), ``facing`` pays the heading itself. So a turning expert is paid exactly like a standing one
once it faces the goal. Frames: world; yaw about +z, rad; rates rad/s.

``turning`` is linear and centred on standing still (0.5 at rest, 1 at ``TURN_RATE_RAD_S`` towards the goal, 0
as fast away), not HumanoidBench's ``move`` shape (floor 1/6 however it moves): measured, PPO from the zoo stand
expert learned to twist back and forth on the spot under ``move``, which pays the twist towards the goal more than
it charges the twist back (``hb/return`` stuck at ~260, heading within ±0.5 rad of the start).
"""

from __future__ import annotations

import math

import numpy as np

from mwx_ray.rewards.humanoid_terms import dont_move, small_control, standing, upright
from mwx_ray.rewards.kernels import tolerance

# Facing is fully paid within 0.15 rad (8.6°) of the goal heading and falls linearly to 0 at 0.15 + π, so a
# robot facing the wrong way still earns ~5% and every degree turned pays: our choice.
FACING_TOLERANCE_RAD = 0.15
FACING_MARGIN_RAD = math.pi
# Turning pace: half a turn in ~3 s, the time a person takes to turn round on the spot (our choice).
TURN_RATE_RAD_S = 1.0
# Turning onto a spot (``turn_to_spot``): fully paid within 5 cm of it, about the pelvis sway of a robot standing
# still (the zoo sit expert sits only from within ~0.1 m of its spot laterally, docs/results.md
# "walk_to_chair_sit"), then linear to 0 at 1 m, so every centimetre closer pays the same. Measured: with a
# Gaussian to 0.1 at 0.35 m, PPO from zoo:turn, which ends 0.2-0.5 m off, did not get closer in 400k env steps.
ON_SPOT_RADIUS_M = 0.05
ON_SPOT_MARGIN_M = 0.95


def yaw_of(quat_wxyz: np.ndarray) -> float:
    """Heading (yaw about world +z) of a body with orientation quaternion (w, x, y, z), rad in (−π, π]."""
    w, x, y, z = (float(v) for v in quat_wxyz)
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def heading_error(yaw_rad: float, goal_yaw_rad: float) -> float:
    """Smallest absolute angle between two headings, rad in [0, π]."""
    return abs(math.remainder(yaw_rad - goal_yaw_rad, 2.0 * math.pi))


def goal_direction(yaw_rad: float, goal_yaw_rad: float, out: np.ndarray | None = None) -> np.ndarray:
    """``(sin, cos)`` of the signed angle from the heading to the goal heading, [2]: where to turn, in the robot's
    own terms (the ``turn`` skill's observation extras; unchanged by the heading frame)."""
    out = np.empty(2) if out is None else out
    angle = goal_yaw_rad - yaw_rad
    out[0], out[1] = math.sin(angle), math.cos(angle)
    return out


def into_heading_frame(yaw_rad: float, x: float, y: float) -> tuple[float, float]:
    """A horizontal world-frame vector in the heading frame of a body with heading ``yaw_rad`` (x ahead, y to the
    left): rotated by −yaw."""
    cos_yaw, sin_yaw = math.cos(yaw_rad), math.sin(yaw_rad)
    return cos_yaw * x + sin_yaw * y, -sin_yaw * x + cos_yaw * y


def spot_in_heading_frame(yaw_rad: float, pelvis_xy: np.ndarray, spot_xy: np.ndarray,
                          out: np.ndarray | None = None) -> np.ndarray:
    """Where a spot on the ground is from the pelvis, in the robot's heading frame, m, [2]: the ``turn_to_spot``
    observation extras after ``goal_direction``."""
    out = np.empty(2) if out is None else out
    out[0], out[1] = into_heading_frame(yaw_rad, float(spot_xy[0] - pelvis_xy[0]), float(spot_xy[1] - pelvis_xy[1]))
    return out


def turn_to_spot_extras(yaw_rad: float, goal_yaw_rad: float, pelvis_xy: np.ndarray, spot_xy: np.ndarray,
                        out: np.ndarray) -> np.ndarray:
    """The ``turn_to_spot`` observation extras into ``out`` [4]: ``goal_direction`` then
    ``spot_in_heading_frame``. One function for the task and for composite stages that call for it, so an expert
    trained on the one reads the same entries in the other."""
    goal_direction(yaw_rad, goal_yaw_rad, out=out[0:2])
    spot_in_heading_frame(yaw_rad, pelvis_xy, spot_xy, out=out[2:4])
    return out


def on_spot(distance_m: float) -> float:
    """1 within ``ON_SPOT_RADIUS_M`` of the spot, linear to 0 at ``ON_SPOT_MARGIN_M`` further."""
    return float(tolerance(distance_m, bounds=(0.0, ON_SPOT_RADIUS_M), margin=ON_SPOT_MARGIN_M,
                           sigmoid="linear", value_at_margin=0.0))


def turning(yaw_rad: float, yaw_rate_rad_s: float, goal_yaw_rad: float) -> float:
    """``0.5 + 0.5 · yaw rate / TURN_RATE_RAD_S``, clipped to [0, 1]: turning left (counter-clockwise) pays, until
    within ``FACING_TOLERANCE_RAD`` of the goal heading (then 1). Twisting back and forth averages at most 0.5,
    standing still's pay.

    Always to the left, not the shorter way round: half a turn, the case this skill exists for, has no shorter
    way, and "the shorter way" flips sign with a few degrees of heading. Measured with the shorter way, PPO started
    facing +x (goal −x) barely turned (half a turn in ~9 s) and, handed a walking robot, walked on without turning.
    """
    if heading_error(yaw_rad, goal_yaw_rad) <= FACING_TOLERANCE_RAD:
        return 1.0
    return min(max(0.5 + 0.5 * yaw_rate_rad_s / TURN_RATE_RAD_S, 0.0), 1.0)


def facing(yaw_rad: float, goal_yaw_rad: float) -> float:
    """1 within ``FACING_TOLERANCE_RAD`` of the goal heading, linear to 0 half a turn further."""
    return float(tolerance(heading_error(yaw_rad, goal_yaw_rad), bounds=(0.0, FACING_TOLERANCE_RAD),
                           margin=FACING_MARGIN_RAD, sigmoid="linear", value_at_margin=0.0))


def turn_reward(*, yaw_rad: float, yaw_rate_rad_s: float, goal_yaw_rad: float, head_z_m: float,
                torso_zz: float, com_vel_xy_mps: np.ndarray, actuator_force_nm: np.ndarray,
                spot_distance_m: float | None = None) -> tuple[float, dict[str, float]]:
    """``small_control · standing · upright · dont_move · (turning + facing) / 2`` and its terms, times
    ``(1 + on_spot(spot_distance_m)) / 2`` when turning onto a spot.

    Half pay off the spot, not none: with the full factor a robot 0.5 m off earned ~0 and so lost nothing by
    falling; measured, PPO from zoo:turn then drifted further (mean ``on_spot`` 0.14 → 0.05 in 80k env steps)."""
    parts = {
        "standing": standing(head_z_m),
        "upright": upright(torso_zz),
        "small_control": small_control(actuator_force_nm),
        "dont_move": dont_move(com_vel_xy_mps),
        "turning": turning(yaw_rad, yaw_rate_rad_s, goal_yaw_rad),
        "facing": facing(yaw_rad, goal_yaw_rad),
    }
    stand = parts["standing"] * parts["upright"] * parts["small_control"] * parts["dont_move"]
    reward = stand * (parts["turning"] + parts["facing"]) / 2.0
    if spot_distance_m is not None:
        parts["on_spot"] = on_spot(spot_distance_m)
        reward *= (1.0 + parts["on_spot"]) / 2.0
    return reward, parts
