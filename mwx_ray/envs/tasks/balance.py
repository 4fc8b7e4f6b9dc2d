"""HumanoidBench ``balance_simple``: stand still on a board balanced across a pivot sphere.

Reward (``mwx_ray.rewards.skill_terms.balance_reward``)::

    small_control · standing(head z ≥ 1.65 + 0.37, margin 1.65/4) · upright · dont_move

Terminates (HumanoidBench ``BalanceBase.get_terminated``) when the pelvis ``qpos[2] < 0.8`` m, or on a contact
that should not happen:
  * the pivot sphere touching anything but the floor or the board (e.g. a shin), or
  * the floor touching anything but the sphere (a foot stepping off, a hand, the board's edge).
Robot parts touching the board are allowed. 1000 steps; success bar 800.

Scene (``mwx_ray.envs.props.add_balance_board``, HumanoidBench ``balance_simple.xml``): a fixed 0.17 m sphere on
the floor at the origin and a free 0.3 × 1.1 m board starting level at z 0.37 m. The robot starts 0.4 m higher than
on flat ground, at (−0.1, 0, 1.38), HumanoidBench's qpos0 — set in the keyframe at build time, so the env's
±1 cm reset noise applies on top exactly as in HumanoidBench.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import mujoco

from mwx_ray.envs.context import StepContext
from mwx_ray.envs.props import add_balance_board, set_home_root_position
from mwx_ray.envs.task import Task
from mwx_ray.rewards.skill_terms import balance_reward
from mwx_ray.robots.spec import RobotSpec

BALANCE_FALL_PELVIS_HEIGHT_M = 0.8  # HumanoidBench: qpos[2] < 0.8
BALANCE_ROBOT_START_M = (-0.1, 0.0, 1.38)  # HumanoidBench BalanceSimple.qpos0_robot["h1"][0:3]
FLOOR_GEOM = "floor"  # robots.h1.add_ground_and_lights


def has_unwanted_balance_contact(
    geom1: Sequence[int], geom2: Sequence[int], floor: int, board: int, pivot: int
) -> bool:
    """HumanoidBench's balance contact rule over the active contacts' geom id pairs ([ncon] each).

    True if the pivot touches something other than the floor/board, or the floor touches something other than the
    pivot. A plain loop: with ~10 contacts it is several times faster than vectorised numpy.
    """
    for a, b in zip(geom1, geom2, strict=True):
        if a == pivot or b == pivot:
            other = b if a == pivot else a
            if other != floor and other != board:
                return True
        elif a == floor or b == floor:
            return True
    return False


class BalanceSimpleTask(Task):
    name = "balance_simple"
    description = "Stand upright and still on a board balanced on a rolling pivot without falling off."
    episode_steps: ClassVar[int] = 1000
    success_bar = 800.0

    def build(self, spec: mujoco.MjSpec, robot: RobotSpec) -> None:
        self._board_geom_name, self._pivot_geom_name = add_balance_board(spec)
        set_home_root_position(spec, BALANCE_ROBOT_START_M)

    def bind(self, ctx: StepContext) -> None:
        self._floor = ctx.geom_id(FLOOR_GEOM)
        self._board = ctx.geom_id(self._board_geom_name)
        self._pivot = ctx.geom_id(self._pivot_geom_name)

    def reward(self, ctx: StepContext) -> tuple[float, dict[str, float]]:
        return balance_reward(
            head_z=ctx.head_z,
            torso_zz=ctx.torso_zz,
            actuator_force=ctx.actuator_force,
            com_vel_xy=ctx.com_velocity[0:2],
        )

    def terminated(self, ctx: StepContext) -> bool:
        if ctx.pelvis_z < BALANCE_FALL_PELVIS_HEIGHT_M:
            return True
        ncon = ctx.data.ncon
        if ncon == 0:
            return False
        contact = ctx.data.contact
        return has_unwanted_balance_contact(
            contact.geom1[:ncon].tolist(), contact.geom2[:ncon].tolist(), self._floor, self._board, self._pivot
        )
