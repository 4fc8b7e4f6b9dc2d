"""HumanoidBench rewards of the scene skills (sit, crawl, reach, balance) as pure functions of plain numbers.

Inputs are floats / small numpy arrays (never MjData), so single-skill tasks and composite multi-stage tasks share
the exact same kernels and tests can feed constructed states. Each function returns ``(reward, terms)`` where
``terms`` maps component names to floats (logged as ``reward_terms/<name>``).

Formulas and constants: HumanoidBench (Sferrazza et al. 2024, arXiv 2403.10506; github.com/carlosferrazza/humanoid-bench), humanoid_bench/tasks/*.py, checked against HumanoidBench's
``envs/basic_locomotion_envs.py`` (Sit, Crawl), ``envs/reach.py`` and ``envs/balance.py``.
Frames and units: world frame; positions / heights in m; velocities in m/s; torques in N·m.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from mwx_ray.rewards.humanoid_terms import (
    CRAWL_HEIGHT_M,
    STAND_HEAD_HEIGHT_M,
    WALK_SPEED_MPS,
    dont_move,
    move,
    small_control,
    upright,
)
from mwx_ray.rewards.kernels import tolerance

# --- sit (HumanoidBench Sit.get_reward) ---
SIT_PELVIS_Z_BOUNDS_M = (0.68, 0.72)  # pelvis height when seated on the 0.475 m seat
SIT_PELVIS_Z_MARGIN_M = 0.2
ON_CHAIR_X_BOUNDS_M = (-0.19, 0.19)  # pelvis x − chair x (seat half-depth 0.21 m)
ON_CHAIR_X_MARGIN_M = 0.2
ON_CHAIR_Y_MARGIN_M = 0.1  # pelvis y − chair y, bounds (0, 0)
SIT_POSTURE_BOUNDS_M = (0.35, 0.45)  # head z − imu z: torso upright above the hips
SIT_POSTURE_MARGIN_M = 0.3
SIT_UPRIGHT_MIN_ZZ = 0.95  # stricter than standing's 0.9, linear to 0 at zz = 0.05
SIT_UPRIGHT_MARGIN = 0.9

# --- crawl (HumanoidBench Crawl.get_reward) ---
CRAWL_HEIGHT_BOUNDS_M = (CRAWL_HEIGHT_M - 0.2, CRAWL_HEIGHT_M + 0.2)  # (0.6, 1.0) for imu z and head z
CRAWL_HEIGHT_MARGIN_M = 1.0
CRAWL_PELVIS_QUAT = (0.75, 0.0, 0.65, 0.0)  # (w, x, y, z): pelvis pitched ~80° forward, face down
CRAWL_QUAT_MARGIN = 1.0
TUNNEL_HALF_WIDTH_M = 1.0  # in_tunnel = imu y ∈ [−1, 1], hard (margin 0)

# --- reach (HumanoidBench Reach.get_reward) ---
REACH_UPRIGHT_WEIGHT = 5.0
REACH_MOTION_PENALTY_WEIGHT = 1e-4  # per (rad/s)² or (m/s)² of the robot's qvel
REACH_CLOSE_DISTANCE_M = 1.0
REACH_CLOSE_BONUS = 5.0
REACH_SUCCESS_DISTANCE_M = 0.05
REACH_SUCCESS_BONUS = 10.0
# Dense reach closeness (composite reach stages; reach training with env.task.reach.dense_reward): the mean of two
# gaussians of the hand-to-goal distance, both 1 within HumanoidBench's 5 cm bonus radius: a coarse one that falls
# to 0.1 at 1 m beyond it (its outer bonus radius) and a fine one that falls to 0.1 at 0.2 m beyond it. The coarse
# one alone is flat near the goal (0.95 at 20 cm): a reach expert trained on it stopped 4-28 cm short (ours).
REACH_CLOSENESS_MARGIN_M = 1.0
REACH_PRECISION_MARGIN_M = 0.2

# --- balance (HumanoidBench BalanceBase.get_reward) ---
BOARD_HEAD_HEIGHT_M = STAND_HEAD_HEIGHT_M + 0.37  # standing on the board raises the head by ~0.37 m


def sit_reward(
    pelvis_xy: Sequence[float] | np.ndarray,
    pelvis_z: float,
    head_z: float,
    imu_z: float,
    torso_zz: float,
    chair_xy: Sequence[float] | np.ndarray,
    com_vel_xy: np.ndarray,
    actuator_force: np.ndarray,
) -> tuple[float, dict[str, float]]:
    """``small_control · (0.5·sitting + 0.5·on_chair) · upright95 · posture · dont_move`` (HumanoidBench sit).

    Args:
        pelvis_xy: pelvis (root) x, y, m — HumanoidBench reads ``qpos[0:2]``.
        pelvis_z: pelvis height ``qpos[2]``, m.
        head_z: ``head`` site z, m.
        imu_z: ``imu`` site z, m.
        torso_zz: ``xmat[torso].zz`` (1 = upright).
        chair_xy: chair body origin x, y (floor point under the seat centre), m.
        com_vel_xy: horizontal CoM velocity, m/s, [2].
        actuator_force: actuator torques, N·m, [nu].
    """
    sitting = tolerance(pelvis_z, bounds=SIT_PELVIS_Z_BOUNDS_M, margin=SIT_PELVIS_Z_MARGIN_M)
    on_chair = tolerance(
        pelvis_xy[0] - chair_xy[0], bounds=ON_CHAIR_X_BOUNDS_M, margin=ON_CHAIR_X_MARGIN_M
    ) * tolerance(pelvis_xy[1] - chair_xy[1], margin=ON_CHAIR_Y_MARGIN_M)
    posture = tolerance(head_z - imu_z, bounds=SIT_POSTURE_BOUNDS_M, margin=SIT_POSTURE_MARGIN_M)
    upright95 = upright(torso_zz, min_zz=SIT_UPRIGHT_MIN_ZZ, margin=SIT_UPRIGHT_MARGIN)
    sit = (0.5 * sitting + 0.5 * on_chair) * upright95 * posture
    control = small_control(actuator_force)
    still = dont_move(com_vel_xy)
    return control * sit * still, {
        "small_control": control,
        "sit_reward": sit,
        "dont_move": still,
        "sitting": sitting,
        "on_chair": on_chair,
        "upright": upright95,
        "sitting_posture": posture,
    }


def crawl_reward(
    actuator_force: np.ndarray,
    com_vx: float,
    head_z: float,
    imu_z: float,
    pelvis_quat: Sequence[float],
    imu_y: float,
) -> tuple[float, dict[str, float]]:
    """``(0.1·small_control + 0.25·min(crawling, crawling_head) + 0.4·move(1) + 0.25·quat_term) · in_tunnel``.

    Args:
        actuator_force: actuator torques, N·m, [nu].
        com_vx: forward CoM velocity, m/s.
        head_z: ``head`` site z, m; crawling_head = tol(head_z, (0.6, 1.0), margin 1).
        imu_z: ``imu`` site z, m; crawling = tol(imu_z, (0.6, 1.0), margin 1).
        pelvis_quat: pelvis orientation (w, x, y, z) — HumanoidBench reads the body's ``xquat``;
            quat_term = tol(‖quat − (0.75, 0, 0.65, 0)‖, margin 1).
        imu_y: ``imu`` site y, m; in_tunnel = [|imu_y| ≤ 1].
    """
    control = small_control(actuator_force)
    forward = move(com_vx, WALK_SPEED_MPS)
    crawling_head = tolerance(head_z, bounds=CRAWL_HEIGHT_BOUNDS_M, margin=CRAWL_HEIGHT_MARGIN_M)
    crawling = tolerance(imu_z, bounds=CRAWL_HEIGHT_BOUNDS_M, margin=CRAWL_HEIGHT_MARGIN_M)
    quat_distance = math.dist(
        (pelvis_quat[0], pelvis_quat[1], pelvis_quat[2], pelvis_quat[3]), CRAWL_PELVIS_QUAT
    )
    pelvis_orientation = tolerance(quat_distance, margin=CRAWL_QUAT_MARGIN)
    in_tunnel = 1.0 if -TUNNEL_HALF_WIDTH_M <= imu_y <= TUNNEL_HALF_WIDTH_M else 0.0  # tol(margin 0)
    reward = (
        0.1 * control + 0.25 * min(crawling, crawling_head) + 0.4 * forward + 0.25 * pelvis_orientation
    ) * in_tunnel
    return reward, {
        "crawling": crawling,
        "crawling_head": crawling_head,
        "small_control": control,
        "move": forward,
        "pelvis_orientation": pelvis_orientation,
        "in_tunnel": in_tunnel,
    }


def reach_reward(
    hand_pos: np.ndarray,
    goal_pos: np.ndarray,
    root_zz: float,
    robot_qvel: np.ndarray,
) -> tuple[float, dict[str, float]]:
    """``5·zz − 1e-4·‖qvel‖² + 5·[dist < 1] + 10·[dist < 0.05]`` (HumanoidBench reach; unbounded, up to 20/step).

    Args:
        hand_pos: ``left_hand`` site position, m, [3].
        goal_pos: goal position, m, [3].
        root_zz: z-component of the upright body's z-axis. HumanoidBench reads ``xmat[1]`` = the pelvis.
        robot_qvel: the robot's own generalized velocities (25 for h1), [robot_nv].
    """
    dx, dy, dz = hand_pos[0] - goal_pos[0], hand_pos[1] - goal_pos[1], hand_pos[2] - goal_pos[2]
    hand_dist = math.sqrt(dx * dx + dy * dy + dz * dz)
    healthy = REACH_UPRIGHT_WEIGHT * root_zz
    motion_penalty = float(np.dot(robot_qvel, robot_qvel))
    close = REACH_CLOSE_BONUS if hand_dist < REACH_CLOSE_DISTANCE_M else 0.0
    success = REACH_SUCCESS_BONUS if hand_dist < REACH_SUCCESS_DISTANCE_M else 0.0
    reward = healthy - REACH_MOTION_PENALTY_WEIGHT * motion_penalty + close + success
    return reward, {
        "hand_dist": hand_dist,
        "healthy_reward": healthy,
        "motion_penalty": motion_penalty,
        "reward_close": close,
        "reward_success": success,
    }


def reach_closeness(hand_distance_m: float) -> tuple[float, dict[str, float]]:
    """``(closeness + precision) / 2`` in [0, 1], the two gaussians of the hand-to-goal distance above.

    Args:
        hand_distance_m: distance from the ``left_hand`` site to the goal, m.
    """
    bounds = (0.0, REACH_SUCCESS_DISTANCE_M)
    closeness = tolerance(hand_distance_m, bounds=bounds, margin=REACH_CLOSENESS_MARGIN_M)
    precision = tolerance(hand_distance_m, bounds=bounds, margin=REACH_PRECISION_MARGIN_M)
    return 0.5 * (closeness + precision), {"closeness": closeness, "precision": precision,
                                           "hand_distance": hand_distance_m}


def reach_closeness_reward(hand_distance_m: float, root_zz: float) -> tuple[float, dict[str, float]]:
    """``upright · reach_closeness`` in [0, 1]: the reach reward of composite stages. HumanoidBench's reach reward
    is flat between its 5 cm and 1 m radii, so a policy that holds its hand 50 cm off the goal sees no gradient
    towards it.

    Args:
        hand_distance_m: distance from the ``left_hand`` site to the goal, m.
        root_zz: z-component of the pelvis's z-axis (1 = upright).
    """
    reach, parts = reach_closeness(hand_distance_m)
    up = upright(root_zz)
    return up * reach, {**parts, "upright": up}


def balance_reward(
    head_z: float,
    torso_zz: float,
    actuator_force: np.ndarray,
    com_vel_xy: np.ndarray,
) -> tuple[float, dict[str, float]]:
    """``small_control · standing(head ≥ 1.65 + 0.37) · upright · dont_move`` (HumanoidBench balance).

    ``standing`` keeps the flat-ground margin 1.65 / 4 m; only its bound is raised by the board height.
    """
    stand = tolerance(head_z, bounds=(BOARD_HEAD_HEIGHT_M, math.inf), margin=STAND_HEAD_HEIGHT_M / 4)
    up = upright(torso_zz)
    control = small_control(actuator_force)
    still = dont_move(com_vel_xy)
    return control * stand * up * still, {
        "small_control": control,
        "stand_reward": stand * up,
        "dont_move": still,
        "standing": stand,
        "upright": up,
    }

