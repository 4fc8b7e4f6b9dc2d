"""Scene props for single-skill and composite tasks: chair, tunnel, balance board, goal marker.

Each ``add_*`` function edits an uncompiled ``mujoco.MjSpec`` (call it from ``Task.build``) and returns the names
the task needs at bind time. ``name_prefix`` keeps names unique when a composite task places several props of
one kind (``add_chair(spec, (2.0, 0.0), 0.0, name_prefix="stage2_")`` → body ``stage2_chair``).

Geometry follows HumanoidBench's task assets (``humanoid_bench/assets/tasks/{sit_simple,sit_hard,crawl,
balance_simple}.xml``); the per-prop docstrings give the numbers. Frames: world, metres, radians; yaw about +z.

Free props (``free=True``) get a free joint, so their 7 qpos / 6 qvel follow the robot's in ``MjData`` (and in the
whole-model observation) in the order the props are added. The keyframe ``home`` needs no edit for them: MuJoCo
fills keyframe entries the robot's key does not cover with the body's initial pose (``qpos0``), so a free prop
starts each episode where it was placed (+ the env's reset noise).

Visual-only geoms (``contype = conaffinity = 0``, density 0, group 2) are drawn but neither collide nor add mass;
collision geoms of the chair are hidden in group 3, like the robot's (Menagerie convention).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import mujoco
import numpy as np

_BOX = mujoco.mjtGeom.mjGEOM_BOX
_SPHERE = mujoco.mjtGeom.mjGEOM_SPHERE
VISUAL_GROUP = 2  # rendered by default (mjvOption geomgroup 0–2)
HIDDEN_COLLISION_GROUP = 3  # not rendered by default

WOOD_RGBA = (0.72, 0.53, 0.34, 1.0)  # HumanoidBench textures the chair with light wood; a flat colour is enough
TUNNEL_RGBA = (0.5, 0.5, 0.5, 0.3)  # HumanoidBench: translucent grey, so the camera sees the robot inside
BOARD_RGBA = (0.7, 0.7, 0.7, 1.0)  # HumanoidBench stand_board
PIVOT_RGBA = (0.3, 0.3, 0.3, 1.0)  # HumanoidBench rolling_pivot
GOAL_RGBA = (0.8, 0.28, 0.28, 1.0)  # HumanoidBench reach marker colour

# --- chair (HumanoidBench sit_simple.xml / sit_hard.xml), in the chair frame: origin on the floor under the
# seat centre, backrest towards −x. The seat block's top is at 0.475 m.
CHAIR_DEFAULT_XY = (-0.25, 0.0)  # HumanoidBench: 0.25 m behind the robot's start (pelvis at x = 0)
CHAIR_SEAT_HALF_SIZE = (0.21, 0.21, 0.2375)  # collision block floor → seat top, density 1250 kg/m³
CHAIR_SEAT_DENSITY = 1250.0
CHAIR_BACK_POS = (-0.23, 0.0, 0.65)
CHAIR_BACK_HALF_SIZE = (0.02, 0.21, 0.2)  # collision plate 0.45–0.85 m, density 13900 kg/m³ (HumanoidBench)
CHAIR_BACK_DENSITY = 13900.0
CHAIR_SEAT_TOP_Z = 2 * CHAIR_SEAT_HALF_SIZE[2]
_CHAIR_VISUAL_BOXES: tuple[tuple[tuple[float, float, float], tuple[float, float, float]], ...] = (
    # (pos, half size): four legs, seat board, two backrest posts, backrest top rail (HumanoidBench visuals)
    ((0.19, 0.19, 0.225), (0.02, 0.02, 0.225)),
    ((0.19, -0.19, 0.225), (0.02, 0.02, 0.225)),
    ((-0.19, 0.19, 0.225), (0.02, 0.02, 0.225)),
    ((-0.19, -0.19, 0.225), (0.02, 0.02, 0.225)),
    ((0.0, 0.0, 0.45), (0.21, 0.21, 0.025)),
    ((-0.23, 0.19, 0.6375), (0.02, 0.02, 0.2125)),
    ((-0.23, -0.19, 0.6375), (0.02, 0.02, 0.2125)),
    ((-0.23, 0.0, 0.77), (0.02, 0.21, 0.08)),
)

# --- tunnel (HumanoidBench crawl.xml): body at x = 2.2, 16 m long along +x, inner width 2.3 m (walls' inner
# faces at y = ±1.15), ceiling underside at 1.15 m — too low to walk under (standing head ≈ 1.68 m).
TUNNEL_DEFAULT_START_X = 2.2
TUNNEL_LENGTH = 16.0
TUNNEL_WALL_Y = 1.35  # wall centre |y|
TUNNEL_WALL_HALF_THICKNESS = 0.2
TUNNEL_WALL_HALF_HEIGHT = 0.775
TUNNEL_CEILING_Z = 1.35  # ceiling centre z
TUNNEL_CEILING_HALF_THICKNESS = 0.2
TUNNEL_CEILING_HALF_WIDTH = 1.15

# --- balance board (HumanoidBench balance_simple.xml): a 0.3 × 1.1 × 0.02 m board resting across a 0.17 m sphere.
PIVOT_RADIUS = 0.17
BOARD_HALF_SIZE = (0.15, 0.55, 0.01)
BOARD_START_Z = 0.37  # HumanoidBench keyframe puts the board at z 0.37 (2 cm above the sphere top + half thickness)

GOAL_MARKER_RADIUS = 0.05  # HumanoidBench draws the reach goal as a 0.05 m marker


def yaw_quat(yaw_rad: float) -> tuple[float, float, float, float]:
    """Unit quaternion (w, x, y, z) of a rotation by ``yaw_rad`` about world +z."""
    half = 0.5 * yaw_rad
    return (math.cos(half), 0.0, 0.0, math.sin(half))


def _visual_box(body: mujoco.MjsBody, pos: Sequence[float], half_size: Sequence[float], rgba: Sequence[float]) -> None:
    body.add_geom(
        type=_BOX, pos=pos, size=half_size, rgba=rgba, contype=0, conaffinity=0, density=0.0, group=VISUAL_GROUP
    )


def add_chair(
    spec: mujoco.MjSpec,
    pos_xy: Sequence[float] = CHAIR_DEFAULT_XY,
    yaw: float = 0.0,
    name_prefix: str = "",
    free: bool = False,
) -> str:
    """Add HumanoidBench's chair (seat top 0.475 m, backrest towards the chair's −x) and return its body name.

    Args:
        pos_xy: world (x, y) of the seat centre, m. The body origin is on the floor under it, so
            ``xpos[chair]`` is what HumanoidBench's ``on_chair`` term measures the pelvis against.
        yaw: rotation about +z, rad (0: backrest towards −x, i.e. a robot facing +x sits down backwards).
        name_prefix: prepended to every name (body ``{prefix}chair``, geoms ``{prefix}chair_seat`` /
            ``{prefix}chair_back``, free joint ``{prefix}chair_free``).
        free: give the chair a free joint (HumanoidBench sit_hard: the ~198 kg chair can be pushed or tipped).
    """
    name = f"{name_prefix}chair"
    body = spec.worldbody.add_body(name=name, pos=(pos_xy[0], pos_xy[1], 0.0), quat=yaw_quat(yaw))
    if free:
        body.add_freejoint(name=f"{name}_free")
    body.add_geom(
        name=f"{name}_seat", type=_BOX, pos=(0.0, 0.0, CHAIR_SEAT_HALF_SIZE[2]), size=CHAIR_SEAT_HALF_SIZE,
        density=CHAIR_SEAT_DENSITY, group=HIDDEN_COLLISION_GROUP, rgba=WOOD_RGBA,
    )
    body.add_geom(
        name=f"{name}_back", type=_BOX, pos=CHAIR_BACK_POS, size=CHAIR_BACK_HALF_SIZE,
        density=CHAIR_BACK_DENSITY, group=HIDDEN_COLLISION_GROUP, rgba=WOOD_RGBA,
    )
    for pos, half_size in _CHAIR_VISUAL_BOXES:
        _visual_box(body, pos, half_size, WOOD_RGBA)
    return name


def add_tunnel(
    spec: mujoco.MjSpec,
    start_x: float = TUNNEL_DEFAULT_START_X,
    center_y: float = 0.0,
    length: float = TUNNEL_LENGTH,
    name_prefix: str = "",
) -> str:
    """Add HumanoidBench's crawl tunnel along +x (two walls and a ceiling, static, translucent); return its body name.

    The tunnel spans x ∈ [start_x, start_x + length], inner y ∈ center_y ± 1.15 m, ceiling underside 1.15 m.
    Geoms: ``{prefix}tunnel_left_wall`` (−y), ``{prefix}tunnel_right_wall`` (+y), ``{prefix}tunnel_ceiling``; each
    both drawn and colliding.
    """
    name = f"{name_prefix}tunnel"
    body = spec.worldbody.add_body(name=name, pos=(start_x, center_y, 0.0))
    half_length = 0.5 * length
    walls = (("left_wall", -TUNNEL_WALL_Y), ("right_wall", TUNNEL_WALL_Y))
    for wall, y in walls:
        body.add_geom(
            name=f"{name}_{wall}", type=_BOX, pos=(half_length, y, TUNNEL_WALL_HALF_HEIGHT),
            size=(half_length, TUNNEL_WALL_HALF_THICKNESS, TUNNEL_WALL_HALF_HEIGHT), rgba=TUNNEL_RGBA,
        )
    body.add_geom(
        name=f"{name}_ceiling", type=_BOX, pos=(half_length, 0.0, TUNNEL_CEILING_Z),
        size=(half_length, TUNNEL_CEILING_HALF_WIDTH, TUNNEL_CEILING_HALF_THICKNESS), rgba=TUNNEL_RGBA,
    )
    return name


def add_balance_board(
    spec: mujoco.MjSpec,
    pos_xy: Sequence[float] = (0.0, 0.0),
    name_prefix: str = "",
    free_pivot: bool = False,
) -> tuple[str, str]:
    """Add a free board resting across a pivot sphere (HumanoidBench balance_simple); return (board, pivot) geom names.

    The sphere (radius 0.17 m) sits on the floor at ``pos_xy``; the 0.3 × 1.1 × 0.02 m board (long side along y,
    density 1000 → 6.6 kg) starts level at z 0.37 m, 2 cm above its resting height. ``free_pivot=True`` lets the
    sphere roll too (HumanoidBench balance_hard); in balance_simple it is fixed.
    Bodies: ``{prefix}stand_board`` (free joint ``{prefix}stand_board_free``) and ``{prefix}rolling_pivot``.
    """
    board = spec.worldbody.add_body(name=f"{name_prefix}stand_board", pos=(pos_xy[0], pos_xy[1], BOARD_START_Z))
    board.add_freejoint(name=f"{name_prefix}stand_board_free")
    board_geom = f"{name_prefix}stand_board_collision"  # HumanoidBench's geom name
    board.add_geom(name=board_geom, type=_BOX, size=BOARD_HALF_SIZE, rgba=BOARD_RGBA)
    pivot = spec.worldbody.add_body(name=f"{name_prefix}rolling_pivot", pos=(pos_xy[0], pos_xy[1], PIVOT_RADIUS))
    if free_pivot:
        pivot.add_freejoint(name=f"{name_prefix}rolling_pivot_free")
    pivot_geom = f"{name_prefix}pivot_sphere_collision"  # HumanoidBench's geom name
    pivot.add_geom(name=pivot_geom, type=_SPHERE, size=(PIVOT_RADIUS, 0.0, 0.0), rgba=PIVOT_RGBA)
    return board_geom, pivot_geom


def add_goal_marker(
    spec: mujoco.MjSpec,
    pos: Sequence[float] = (0.0, 0.0, 1.0),
    name_prefix: str = "",
    radius: float = GOAL_MARKER_RADIUS,
    rgba: Sequence[float] = GOAL_RGBA,
) -> str:
    """Add a visual-only sphere on a mocap body (no qpos, no collisions, no mass); return the body name.

    Move it per episode with :func:`set_mocap_pos` (mocap poses are not part of qpos, so the observation size is
    unchanged). Body ``{prefix}goal``, geom ``{prefix}goal_marker``.
    """
    name = f"{name_prefix}goal"
    body = spec.worldbody.add_body(name=name, pos=pos, mocap=True)
    body.add_geom(
        name=f"{name}_marker", type=_SPHERE, size=(radius, 0.0, 0.0), rgba=rgba,
        contype=0, conaffinity=0, density=0.0, group=VISUAL_GROUP,
    )
    return name


def mocap_index(model: mujoco.MjModel, body_name: str) -> int:
    """Row of ``MjData.mocap_pos`` that moves ``body_name`` (call at bind time)."""
    body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, body_name)
    index = int(model.body_mocapid[body]) if body >= 0 else -1
    if index < 0:
        raise KeyError(f"model has no mocap body named {body_name!r}")
    return index


def set_mocap_pos(data: mujoco.MjData, index: int, pos: Sequence[float] | np.ndarray) -> None:
    """Place a mocap body (e.g. a goal marker from :func:`add_goal_marker`) at world ``pos``, m."""
    data.mocap_pos[index] = pos


def set_home_root_position(spec: mujoco.MjSpec, xyz: Sequence[float], keyframe: str = "home") -> None:
    """Move the robot's root (free joint qpos[0:3]) in the reset keyframe, e.g. onto a balance board.

    Editing the keyframe (instead of writing qpos in ``Task.reset``) keeps the env's ±1 cm reset noise on top of
    the new start, as HumanoidBench's per-task ``qpos0`` does.
    """
    key = spec.key(keyframe)
    qpos = list(key.qpos)
    qpos[0:3] = list(xyz)
    key.qpos = qpos
