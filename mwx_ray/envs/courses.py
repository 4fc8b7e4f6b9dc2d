"""Static obstacle-course geometry (hurdles, poles, stairs, slides, maze walls) added to a robot's MjSpec.

Every builder adds one static body (a child of ``spec.worldbody``, no joint) holding primitive geoms and returns
that body's name, so a task can bind the course's geom ids with ``ctx.body_geom_ids(name)`` for contact checks.
Static geoms never collide with each other or the floor (MuJoCo skips world-welded pairs), so any contact with
them involves the robot.

Frames and units: world frame, +x forward (the robot starts at the origin facing +x), +y left, z up; metres.
Box/cylinder sizes are MuJoCo half-sizes.

Defaults reproduce HumanoidBench's scene files (``humanoid_bench/assets/locomotion/generated_xml_*.xml`` and
``assets/tasks/slide.xml``); each constant says where it comes from. Deviations: HumanoidBench duplicates each
obstacle as a visual + a collision geom (and the hurdle lanes have decorative visual-only posts); we use one
visible, colliding geom per obstacle. The slide's convex-mesh prisms become two tilted boxes per ridge (same
top surfaces, primitive collisions like the robot's).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import mujoco

Vec3 = tuple[float, float, float]

WALL_RGBA = (0.6, 0.6, 0.65, 0.25)  # translucent, so walls do not hide the robot from the tracking camera
OBSTACLE_RGBA = (0.85, 0.45, 0.15, 1.0)
STEP_RGBA = (0.8, 0.8, 0.83, 1.0)  # HumanoidBench stair colour
MARKER_RGBA = (0.0, 0.0, 0.0, 1.0)  # HumanoidBench maze intersection markers start black


@dataclass(frozen=True)
class BoxGeom:
    """An axis-aligned box: ``center`` (m, world) and ``half_size`` (m)."""

    name: str
    center: Vec3
    half_size: Vec3


# ---- corridor walls (side barriers + a wall behind the start), HumanoidBench's exact boxes ----
HURDLE_COURSE_WALLS = (  # generated_xml_hurdles.xml: left/right/behind_barrier(_collision)
    BoxGeom("left_barrier", (35.0, -4.725, 1.0), (35.5, 0.275, 1.0)),
    BoxGeom("right_barrier", (35.0, 4.725, 1.0), (35.5, 0.275, 1.0)),
    BoxGeom("behind_barrier", (-0.525, 0.0, 1.0), (0.05, 5.0, 1.0)),
)
POLE_COURSE_WALLS = (  # generated_xml_poles.xml: left/right/behind_barrier
    BoxGeom("pole_left_barrier", (20.0, -3.15, 1.0), (20.75, 0.15, 1.0)),
    BoxGeom("pole_right_barrier", (20.0, 3.15, 1.0), (20.75, 0.15, 1.0)),
    BoxGeom("pole_behind_barrier", (-0.6, 0.0, 1.0), (0.15, 3.0, 1.0)),
)
STAIR_COURSE_WALLS = (  # generated_xml_stairs.xml: the three unnamed boxes after the stairs
    BoxGeom("stair_left_wall", (13.5, -5.05, 2.0), (15.5, 0.1, 2.0)),
    BoxGeom("stair_right_wall", (13.5, 5.05, 2.0), (15.5, 0.1, 2.0)),
    BoxGeom("stair_behind_wall", (-2.1, 0.0, 2.0), (0.1, 7.25, 2.0)),
)
SLIDE_COURSE_WALLS = (  # assets/tasks/slide.xml: the three boxes after the slides
    BoxGeom("slide_left_wall", (48.85, -5.15, 4.0), (53.0, 0.15, 4.0)),
    BoxGeom("slide_right_wall", (48.85, 5.15, 4.0), (53.0, 0.15, 4.0)),
    BoxGeom("slide_behind_wall", (-4.0, 0.0, 4.0), (0.15, 5.15, 4.0)),
)

# ---- hurdles: generated_xml_hurdles.xml collision boxes pos (7k, 0, 0.1875), size (0.03, 5, 0.1875) ----
HURDLE_X_M = tuple(7.0 * k for k in range(1, 11))  # 10 hurdles, one every 7 m from x = 7 to 70
HURDLE_HEIGHT_M = 0.375  # constant in HumanoidBench (2 × 0.1875)
HURDLE_THICKNESS_M = 0.06
HURDLE_HALF_WIDTH_M = 5.0

# ---- poles: generated_xml_poles.xml, rows at x = 1..41 m, cylinders radius 0.05, 2 m tall ----
POLE_ROWS = 41
POLE_ROW_SPACING_M = 1.0
POLE_FIRST_ROW_X_M = 1.0
POLE_ODD_ROW_Y_M = (2.25, 0.75, -0.75, -2.25)  # rows 1, 3, 5, ...
POLE_EVEN_ROW_Y_M = (1.5, 0.0, -1.5)  # rows 2, 4, 6, ... (staggered)
POLE_RADIUS_M = 0.05
POLE_HEIGHT_M = 2.0

# ---- stairs: generated_xml_stairs.xml, body "stairs" at x = 0.2 with pyramids at local x = 3, 9, 15, 21 ----
STAIR_PYRAMID_X_M = (3.2, 9.2, 15.2, 21.2)  # each: 5 steps up, a 0.6 m top, 5 steps down
STAIR_STEPS = 5
STAIR_RISE_M = 0.18  # layer half-height 0.09
STAIR_RUN_M = 0.6  # layer half-lengths 2.7, 2.1, 1.5, 0.9, 0.3
STAIR_HALF_WIDTH_M = 5.0

# ---- slide: assets/tasks/slide.xml, prism vertices x 0.3 → 5.3 (z 0 → 1.75) → 10.3, repeated every 10 m ----
SLIDE_RIDGE_START_X_M = tuple(0.3 + 10.0 * k for k in range(9))
SLIDE_RUN_M = 5.0  # horizontal length of each ramp (up or down)
SLIDE_RISE_M = 1.75  # ridge height: slope 0.35 (19.3°)
SLIDE_HALF_WIDTH_M = 5.0
SLIDE_HALF_THICKNESS_M = 0.25  # our choice: ramp boxes reach below the floor at both ends

# ---- maze: generated_xml_maze.xml, 7×7 cells of 1.5 m, block half-size (0.75, 0.75, 0.6) ----
# Rows top (y = 7.5) to bottom (y = −1.5); columns x = −1.5 … 7.5. '#' = block_collision_<row><col>.
MAZE_LAYOUT = (
    "#######",
    "#.....#",
    "###.#.#",
    "#.....#",
    "#.#.###",
    "#.....#",
    "#######",
)
MAZE_CELL_M = 1.5
MAZE_TOP_LEFT_CELL_XY_M = (-1.5, 7.5)  # body "maze" at (−2.25, −2.25) + block (0.75, 9.75)
MAZE_WALL_HEIGHT_M = 1.2
MAZE_CHECKPOINTS_XY_M = ((0.0, 0.0), (3.0, 0.0), (3.0, 6.0), (6.0, 6.0))  # envs/maze.py `checkpoints`
MAZE_MARKER_Z_M = 1.0  # maze.xml intersection_a..d at z = 1, sphere radius 0.05
MAZE_MARKER_RADIUS_M = 0.05


def _add_body(spec: mujoco.MjSpec, body_name: str) -> mujoco.MjsBody:
    return spec.worldbody.add_body(name=body_name)


def _add_box(body: mujoco.MjsBody, name: str, center: Vec3, half_size: Vec3, rgba, quat=(1.0, 0.0, 0.0, 0.0)):
    body.add_geom(
        name=name, type=mujoco.mjtGeom.mjGEOM_BOX, pos=center, size=half_size, quat=quat, rgba=rgba, group=0
    )


def add_walls(spec: mujoco.MjSpec, boxes: Sequence[BoxGeom], body_name: str, rgba=WALL_RGBA) -> str:
    """Colliding boxes (e.g. :data:`HURDLE_COURSE_WALLS`) on one static body; returns ``body_name``."""
    body = _add_body(spec, body_name)
    for box in boxes:
        _add_box(body, box.name, box.center, box.half_size, rgba)
    return body_name


def add_hurdles(
    spec: mujoco.MjSpec,
    x_positions_m: Sequence[float] = HURDLE_X_M,
    heights_m: float | Sequence[float] = HURDLE_HEIGHT_M,
    *,
    thickness_m: float = HURDLE_THICKNESS_M,
    half_width_m: float = HURDLE_HALF_WIDTH_M,
    body_name: str = "hurdles",
) -> str:
    """Low walls across the course, perpendicular to +x, standing on the floor.

    Args:
        x_positions_m: x of each hurdle's centre plane, m.
        heights_m: one height for all (HumanoidBench: 0.375 m) or one per hurdle (e.g. increasing).
    """
    heights = [heights_m] * len(x_positions_m) if isinstance(heights_m, int | float) else list(heights_m)
    if len(heights) != len(x_positions_m):
        raise ValueError(f"{len(x_positions_m)} hurdle positions but {len(heights)} heights")
    body = _add_body(spec, body_name)
    for index, (x, height) in enumerate(zip(x_positions_m, heights, strict=True)):
        half = (thickness_m / 2, half_width_m, height / 2)
        _add_box(body, f"hurdle_{index}", (x, 0.0, height / 2), half, OBSTACLE_RGBA)
    return body_name


def add_poles(
    spec: mujoco.MjSpec,
    *,
    rows: int = POLE_ROWS,
    first_row_x_m: float = POLE_FIRST_ROW_X_M,
    row_spacing_m: float = POLE_ROW_SPACING_M,
    odd_row_y_m: Sequence[float] = POLE_ODD_ROW_Y_M,
    even_row_y_m: Sequence[float] = POLE_EVEN_ROW_Y_M,
    radius_m: float = POLE_RADIUS_M,
    height_m: float = POLE_HEIGHT_M,
    body_name: str = "poles",
) -> str:
    """A staggered forest of vertical cylinders: rows every ``row_spacing_m`` along +x from ``first_row_x_m``.

    Geom names ``pole_r{row}_c{column}`` (1-based, as HumanoidBench's).
    """
    body = _add_body(spec, body_name)
    for row in range(1, rows + 1):
        x = first_row_x_m + (row - 1) * row_spacing_m
        for column, y in enumerate(odd_row_y_m if row % 2 else even_row_y_m, start=1):
            body.add_geom(
                name=f"pole_r{row}_c{column}",
                type=mujoco.mjtGeom.mjGEOM_CYLINDER,
                pos=(x, y, height_m / 2),
                size=(radius_m, height_m / 2, 0.0),
                rgba=(0.5, 0.5, 0.5, 1.0),
                group=0,
            )
    return body_name


def add_stairs(
    spec: mujoco.MjSpec,
    pyramid_centers_x_m: Sequence[float] = STAIR_PYRAMID_X_M,
    *,
    steps: int = STAIR_STEPS,
    rise_m: float = STAIR_RISE_M,
    run_m: float = STAIR_RUN_M,
    half_width_m: float = STAIR_HALF_WIDTH_M,
    body_name: str = "stairs",
) -> str:
    """Staircases up then down along +x: each is ``steps`` stacked slabs, each ``run_m`` shorter per side.

    A pyramid centred at x = c climbs from ``c − (steps − 0.5)·run`` to a ``run``-long top at
    ``steps·rise`` m, then descends symmetrically (HumanoidBench: 5 × 0.18 m up to 0.9 m, 0.6 m treads).
    """
    body = _add_body(spec, body_name)
    for pyramid, center_x in enumerate(pyramid_centers_x_m):
        for layer in range(steps):
            half_length = (steps - layer - 0.5) * run_m
            center = (center_x, 0.0, (layer + 0.5) * rise_m)
            half = (half_length, half_width_m, rise_m / 2)
            _add_box(body, f"stair_{pyramid}_layer_{layer}", center, half, STEP_RGBA)
    return body_name


def add_slide(
    spec: mujoco.MjSpec,
    ridge_starts_x_m: Sequence[float] = SLIDE_RIDGE_START_X_M,
    *,
    run_m: float = SLIDE_RUN_M,
    rise_m: float = SLIDE_RISE_M,
    half_width_m: float = SLIDE_HALF_WIDTH_M,
    half_thickness_m: float = SLIDE_HALF_THICKNESS_M,
    body_name: str = "slides",
) -> str:
    """Ridges of two ramps each: up from (x0, 0) to (x0 + run, rise), down to (x0 + 2·run, 0).

    Each ramp is a box tilted about y whose top face is the ramp surface; it extends ``2·half_thickness_m``
    below it (below the floor at both ends, and under the other ramp at the ridge for slopes < 45°).
    """
    if rise_m >= run_m:
        raise ValueError(f"ramps steeper than 45° would poke out at the ridge: rise {rise_m} ≥ run {run_m}")
    slope = math.atan2(rise_m, run_m)
    half_length = math.hypot(run_m, rise_m) / 2
    body = _add_body(spec, body_name)
    for ridge, x0 in enumerate(ridge_starts_x_m):
        for side, sign in (("up", 1.0), ("down", -1.0)):
            # surface midpoint, then shift along the inward normal by the half-thickness
            mid_x = x0 + run_m / 2 if sign > 0 else x0 + 1.5 * run_m
            normal_x, normal_z = -sign * math.sin(slope), math.cos(slope)
            center = (mid_x - half_thickness_m * normal_x, 0.0, rise_m / 2 - half_thickness_m * normal_z)
            pitch = -sign * slope  # rotation about +y that tilts +x up (sign > 0) or down
            quat = (math.cos(pitch / 2), 0.0, math.sin(pitch / 2), 0.0)
            half = (half_length, half_width_m, half_thickness_m)
            _add_box(body, f"slide_{ridge}_{side}", center, half, STEP_RGBA, quat=quat)
    return body_name


def add_maze_walls(
    spec: mujoco.MjSpec,
    layout: Sequence[str] = MAZE_LAYOUT,
    *,
    cell_m: float = MAZE_CELL_M,
    top_left_cell_xy_m: tuple[float, float] = MAZE_TOP_LEFT_CELL_XY_M,
    wall_height_m: float = MAZE_WALL_HEIGHT_M,
    body_name: str = "maze_walls",
) -> str:
    """Square blocks on a grid: ``layout[row][col] == '#'`` is a block centred at
    ``(x0 + col·cell, y0 − row·cell)``; geom names ``block_collision_{row}{col}`` (HumanoidBench's).
    """
    x0, y0 = top_left_cell_xy_m
    body = _add_body(spec, body_name)
    half = (cell_m / 2, cell_m / 2, wall_height_m / 2)
    for row, cells in enumerate(layout):
        for col, cell in enumerate(cells):
            if cell == "#":
                center = (x0 + col * cell_m, y0 - row * cell_m, wall_height_m / 2)
                _add_box(body, f"block_collision_{row}{col}", center, half, (0.4, 0.4, 0.4, 0.3))
            elif cell != ".":
                raise ValueError(
                    f"maze layout cells must be '#' or '.', got {cell!r} at row {row}, col {col}"
                )
    return body_name


def add_markers(
    spec: mujoco.MjSpec,
    positions_m: Sequence[Vec3],
    *,
    radius_m: float = MAZE_MARKER_RADIUS_M,
    body_name: str = "markers",
) -> list[str]:
    """Non-colliding spheres (e.g. maze checkpoints) named ``{body_name}_{i}``; returns the geom names."""
    body = _add_body(spec, body_name)
    names = [f"{body_name}_{index}" for index in range(len(positions_m))]
    for name, position in zip(names, positions_m, strict=True):
        body.add_geom(
            name=name,
            type=mujoco.mjtGeom.mjGEOM_SPHERE,
            pos=position,
            size=(radius_m, 0.0, 0.0),
            rgba=MARKER_RGBA,
            contype=0,
            conaffinity=0,
            group=1,
        )
    return names
