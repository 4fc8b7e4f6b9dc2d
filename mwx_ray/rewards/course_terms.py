"""Rewards of HumanoidBench's obstacle-course tasks (hurdle, pole, stair/slide, maze) as pure functions.

Each ``*_reward`` function takes plain floats/arrays (no MuJoCo objects) and returns ``(reward, terms)`` with
every factor named, so single-skill tasks and composite tasks share one implementation. Formulas and constants
follow HumanoidBench's source (``humanoid_bench/envs/basic_locomotion_envs.py`` classes ``Hurdle``,
``ClimbingUpwards`` (= ``Stair``/``Slide``); ``envs/pole.py``; ``envs/maze.py``), summarised in
HumanoidBench (Sferrazza et al. 2024, arXiv 2403.10506; github.com/carlosferrazza/humanoid-bench), humanoid_bench/tasks/*.py.

Units and frames: heights are world z (m); velocities world frame (m/s); torques N·m; ``torso_zz`` is the
world-z component of the torso's z-axis (1 upright).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from mwx_ray.rewards import humanoid_terms as hb
from mwx_ray.rewards.kernels import tolerance

CONTACT_DISCOUNT = 0.1  # HumanoidBench: reward × 0.1 on any step with a forbidden contact

# hurdle (HumanoidBench `Hurdle`): run speed, looser upright bound than walk/run.
HURDLE_SPEED_MPS = hb.RUN_SPEED_MPS  # 5 m/s
HURDLE_UPRIGHT_ZZ_MIN = 0.8

# pole (HumanoidBench `Pole`): `_WALK_SPEED = 0.5` in pole.py.
POLE_SPEED_MPS = 0.5

# stair / slide (HumanoidBench `ClimbingUpwards`): head height measured from each foot, not from z = 0.
CLIMB_HEAD_ABOVE_FOOT_M = 1.2
CLIMB_HEAD_ABOVE_FOOT_MARGIN_M = 0.45
CLIMB_UPRIGHT_ZZ_MIN = 0.5
CLIMB_SPEED_MPS = hb.WALK_SPEED_MPS  # 1 m/s

# maze (HumanoidBench `Maze`): `_MOVE_SPEED = 2.0`, linear margin 1 m/s on each velocity component,
# stage advance within 0.4 m (pelvis xy), bonus 100 × (new stage index), proximity margin 1 m (imu xy).
MAZE_SPEED_MPS = 2.0
MAZE_VELOCITY_MARGIN_MPS = 1.0
MAZE_CHECKPOINT_RADIUS_M = 0.4
MAZE_STAGE_BONUS = 100.0
MAZE_PROXIMITY_MARGIN_M = 1.0


def contact_discount(touching: bool) -> float:
    """``0.1`` while touching a forbidden geom (wall, pole), else ``1``."""
    return CONTACT_DISCOUNT if touching else 1.0


def hurdle_reward(
    head_z_m: float, torso_zz: float, actuator_force_nm: np.ndarray, com_vx_mps: float, touching_wall: bool
) -> tuple[float, dict[str, float]]:
    """``small_control · standing · upright(zz ≥ 0.8) · move(5 m/s) · wall_discount``.

    Args:
        head_z_m: head-site height, m.
        torso_zz: torso z-axis · world z.
        actuator_force_nm: actuator torques, N·m, shape [nu].
        com_vx_mps: CoM velocity along world x, m/s.
        touching_wall: whether the robot touches a discounting course wall this step.
    """
    standing = hb.standing(head_z_m)
    upright = hb.upright(torso_zz, min_zz=HURDLE_UPRIGHT_ZZ_MIN)
    small_control = hb.small_control(actuator_force_nm)
    move = hb.move(com_vx_mps, HURDLE_SPEED_MPS)
    discount = contact_discount(touching_wall)
    reward = small_control * standing * upright * move * discount
    return reward, {
        "standing": standing,
        "upright": upright,
        "small_control": small_control,
        "move": move,
        "wall_discount": discount,
    }


def pole_reward(
    head_z_m: float, torso_zz: float, actuator_force_nm: np.ndarray, com_vx_mps: float, touching_pole: bool
) -> tuple[float, dict[str, float]]:
    """``(0.5 · small_control · standing · upright + 0.5 · move(0.5 m/s)) · collision_discount``.

    Args: as :func:`hurdle_reward`; ``touching_pole`` is any robot–pole contact this step.
    """
    standing = hb.standing(head_z_m)
    upright = hb.upright(torso_zz)
    small_control = hb.small_control(actuator_force_nm)
    move = hb.move(com_vx_mps, POLE_SPEED_MPS)
    discount = contact_discount(touching_pole)
    reward = (0.5 * small_control * standing * upright + 0.5 * move) * discount
    return reward, {
        "standing": standing,
        "upright": upright,
        "small_control": small_control,
        "move": move,
        "collision_discount": discount,
    }


def climb_standing(head_z_m: float, left_foot_z_m: float, right_foot_z_m: float) -> float:
    """``tol(head − left_foot, (1.2, inf), margin 0.45) · tol(head − right_foot, (1.2, inf), margin 0.45)``.

    Height relative to each foot (gaussian, value 0.1 at the margin), so standing on a step counts as standing.
    """
    bounds = (CLIMB_HEAD_ABOVE_FOOT_M, math.inf)
    left = tolerance(head_z_m - left_foot_z_m, bounds=bounds, margin=CLIMB_HEAD_ABOVE_FOOT_MARGIN_M)
    right = tolerance(head_z_m - right_foot_z_m, bounds=bounds, margin=CLIMB_HEAD_ABOVE_FOOT_MARGIN_M)
    return left * right


def climb_reward(
    head_z_m: float,
    left_foot_z_m: float,
    right_foot_z_m: float,
    torso_zz: float,
    actuator_force_nm: np.ndarray,
    com_vx_mps: float,
) -> tuple[float, dict[str, float]]:
    """stair / slide: ``small_control · climb_standing · upright(zz ≥ 0.5, linear, margin 1.9) · move(1 m/s)``.

    Args:
        head_z_m, left_foot_z_m, right_foot_z_m: world z of the head and foot sites, m.
        torso_zz, actuator_force_nm, com_vx_mps: as :func:`hurdle_reward`.
    """
    standing = climb_standing(head_z_m, left_foot_z_m, right_foot_z_m)
    upright = hb.upright(torso_zz, min_zz=CLIMB_UPRIGHT_ZZ_MIN)
    small_control = hb.small_control(actuator_force_nm)
    move = hb.move(com_vx_mps, CLIMB_SPEED_MPS)
    reward = small_control * standing * upright * move
    return reward, {"standing": standing, "upright": upright, "small_control": small_control, "move": move}


# ------------------------------------------------------------------ maze
def maze_segment_directions(checkpoints_xy: Sequence[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """Unit xy direction to move in at each stage ``0..n-1`` (stage ``n``, all reached, has none).

    Stage ``s ≥ 1`` heads along the segment ``checkpoint[s-1] → checkpoint[s]``; stage 0 (before the start
    checkpoint is registered) uses the first segment's direction — HumanoidBench's hard-coded values
    ``(1,0), (1,0), (0,1), (1,0)`` for its checkpoints ``(0,0) (3,0) (3,6) (6,6)``.
    """
    if len(checkpoints_xy) < 2:
        raise ValueError(f"a maze needs at least 2 checkpoints, got {len(checkpoints_xy)}")
    directions = []
    for stage in range(len(checkpoints_xy)):
        (x0, y0), (x1, y1) = checkpoints_xy[max(stage - 1, 0)], checkpoints_xy[max(stage, 1)]
        length = math.hypot(x1 - x0, y1 - y0)
        if length == 0.0:
            raise ValueError(f"consecutive maze checkpoints coincide at stage {stage}: {checkpoints_xy}")
        directions.append(((x1 - x0) / length, (y1 - y0) / length))
    return tuple(directions)


def maze_stage_update(
    stage: int, pelvis_x_m: float, pelvis_y_m: float, checkpoints_xy: Sequence[tuple[float, float]]
) -> tuple[int, float]:
    """Advance the maze stage when the pelvis is within 0.4 m (xy) of the current target checkpoint.

    Args:
        stage: checkpoints reached so far, ``0..n`` (HumanoidBench ``maze_stage``); the target is
            ``checkpoints_xy[stage]`` (the last one once all are reached).
        pelvis_x_m, pelvis_y_m: pelvis body position, world frame, m.
    Returns:
        ``(new_stage, bonus)``; ``bonus = 100 · new_stage`` on the step a checkpoint is reached, else 0.
        At most one stage per step, as in HumanoidBench.
    """
    if stage >= len(checkpoints_xy):
        return stage, 0.0
    target_x, target_y = checkpoints_xy[stage]
    if math.hypot(pelvis_x_m - target_x, pelvis_y_m - target_y) < MAZE_CHECKPOINT_RADIUS_M:
        return stage + 1, MAZE_STAGE_BONUS * (stage + 1)
    return stage, 0.0


def maze_move(com_vx_mps: float, com_vy_mps: float, direction_xy: tuple[float, float] | None) -> float:
    """HumanoidBench maze ``move``: track the velocity ``2 m/s · direction`` (world frame), in [1/6, 1].

    ``track = tol(vx − 2·dx, margin 1, linear, 0) · tol(vy − 2·dy, margin 1, linear, 0)`` (bounds (0, 0):
    exactly 2 m/s along the corridor and 0 across it gives 1; 1 m/s off on either axis gives 0);
    ``track = 1`` once every checkpoint is reached (``direction_xy is None``); result ``(5·track + 1) / 6``.
    """
    if direction_xy is None:
        return 1.0
    dx, dy = direction_xy
    along_x = tolerance(
        com_vx_mps - dx * MAZE_SPEED_MPS,
        margin=MAZE_VELOCITY_MARGIN_MPS,
        sigmoid="linear",
        value_at_margin=0.0,
    )
    along_y = tolerance(
        com_vy_mps - dy * MAZE_SPEED_MPS,
        margin=MAZE_VELOCITY_MARGIN_MPS,
        sigmoid="linear",
        value_at_margin=0.0,
    )
    return (5.0 * along_x * along_y + 1.0) / 6.0


def maze_reward(
    head_z_m: float,
    torso_zz: float,
    actuator_force_nm: np.ndarray,
    com_vx_mps: float,
    com_vy_mps: float,
    direction_xy: tuple[float, float] | None,
    checkpoint_distance_m: float,
    touching_wall: bool,
    stage_bonus: float,
) -> tuple[float, dict[str, float]]:
    """``(0.2·standing·upright·small_control + 0.4·maze_move + 0.4·proximity) · wall_discount + stage_bonus``.

    Args:
        head_z_m, torso_zz, actuator_force_nm: as :func:`hurdle_reward`.
        com_vx_mps, com_vy_mps: CoM velocity, world frame, m/s.
        direction_xy: unit direction of the current stage (:func:`maze_segment_directions`), None when done.
        checkpoint_distance_m: xy distance from the ``imu`` site to the current target checkpoint, m;
            ``proximity = tol(distance, margin 1)`` (gaussian, bounds (0, 0)).
        touching_wall: any robot–maze-wall contact this step.
        stage_bonus: from :func:`maze_stage_update` (not discounted).
    """
    standing = hb.standing(head_z_m)
    upright = hb.upright(torso_zz)
    small_control = hb.small_control(actuator_force_nm)
    move = maze_move(com_vx_mps, com_vy_mps, direction_xy)
    proximity = tolerance(checkpoint_distance_m, margin=MAZE_PROXIMITY_MARGIN_M)
    discount = contact_discount(touching_wall)
    shaped = 0.2 * standing * upright * small_control + 0.4 * move + 0.4 * proximity
    reward = shaped * discount + stage_bonus
    return reward, {
        "standing": standing,
        "upright": upright,
        "small_control": small_control,
        "move": move,
        "checkpoint_proximity": proximity,
        "wall_discount": discount,
        "stage_bonus": stage_bonus,
    }
