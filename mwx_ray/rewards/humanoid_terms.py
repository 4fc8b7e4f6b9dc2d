"""HumanoidBench reward building blocks as small pure functions.

Formulas and constants from HumanoidBench (Sferrazza et al. 2024, arXiv 2403.10506; github.com/carlosferrazza/humanoid-bench), which mirror
HumanoidBench's ``humanoid_bench/tasks/basic_locomotion_envs.py``. All velocities are world frame, m/s;
heights are world z, m; torques N·m. Every function returns a float in [0, 1].
"""

from __future__ import annotations

import math

import numpy as np

from mwx_ray.rewards.kernels import tolerance

# --- constants (HumanoidBench) ---
STAND_HEAD_HEIGHT_M = 1.65  # head-site z when standing tall; `_STAND_HEIGHT`
CRAWL_HEIGHT_M = 0.8  # `_CRAWL_HEIGHT`
WALK_SPEED_MPS = 1.0  # `_WALK_SPEED`
RUN_SPEED_MPS = 5.0  # `_RUN_SPEED`

UPRIGHT_TORSO_ZZ_MIN = 0.9  # torso z-axis · world z above which "upright" is fully rewarded
UPRIGHT_MARGIN = 1.9  # linear decay over zz ∈ [−1, 0.9]
SMALL_CONTROL_FORCE_MARGIN_NM = 10.0  # quadratic decay of |actuator force| to 0 at 10 N·m
DONT_MOVE_SPEED_MARGIN_MPS = 2.0  # gaussian margin on horizontal CoM speed


def standing(head_z_m: float, stand_height_m: float = STAND_HEAD_HEIGHT_M) -> float:
    """1 when the head site is at least ``stand_height_m`` high; gaussian margin of a quarter of that height."""
    return tolerance(head_z_m, bounds=(stand_height_m, math.inf), margin=stand_height_m / 4)


def upright(torso_zz: float, min_zz: float = UPRIGHT_TORSO_ZZ_MIN, margin: float = UPRIGHT_MARGIN) -> float:
    """1 when the torso's z-axis is within ~25° of vertical (``xmat[torso].zz ≥ 0.9``), linear to 0 when upside down."""
    return tolerance(torso_zz, bounds=(min_zz, math.inf), sigmoid="linear", margin=margin, value_at_margin=0.0)


def stand_reward(head_z_m: float, torso_zz: float) -> float:
    """``standing · upright``."""
    return standing(head_z_m) * upright(torso_zz)


def small_control(actuator_force_nm: np.ndarray) -> float:
    """``(4 + mean_j tol(force_j, margin=10, quadratic, value_at_margin=0)) / 5``: in [0.8, 1], 1 at zero torque.

    Args:
        actuator_force_nm: actuator forces, N·m, shape [nu] (``MjData.actuator_force``).
    """
    per_joint = tolerance(
        actuator_force_nm, margin=SMALL_CONTROL_FORCE_MARGIN_NM, value_at_margin=0.0, sigmoid="quadratic"
    )
    return (4.0 + float(per_joint.sum()) / per_joint.size) / 5.0  # mean; .sum()/size is 3× faster than np.mean


def move(com_vx_mps: float, target_speed_mps: float) -> float:
    """``(5 · tol(vx, (v, inf), margin=v, linear, value_at_margin=0) + 1) / 6``: in [1/6, 1], 1 at vx ≥ v."""
    speed_term = tolerance(
        com_vx_mps,
        bounds=(target_speed_mps, math.inf),
        margin=target_speed_mps,
        value_at_margin=0.0,
        sigmoid="linear",
    )
    return (5.0 * speed_term + 1.0) / 6.0


def dont_move(com_vel_xy_mps: np.ndarray) -> float:
    """``mean(tol(com_vel_xy, margin=2))`` (gaussian, bounds 0): 1 when the CoM is still horizontally.

    Args:
        com_vel_xy_mps: horizontal CoM velocity (vx, vy), world frame, m/s, shape [2].
    """
    vx, vy = float(com_vel_xy_mps[0]), float(com_vel_xy_mps[1])  # two scalar calls beat one 2-vector call
    return (tolerance(vx, margin=DONT_MOVE_SPEED_MARGIN_MPS) + tolerance(vy, margin=DONT_MOVE_SPEED_MARGIN_MPS)) / 2
