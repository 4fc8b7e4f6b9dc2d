"""Built-in tasks. Importing this package registers them (``mwx_ray.envs.registry.register_task``).

To add a task module: define a :class:`mwx_ray.envs.task.Task` subclass, then add one
``register_task(...)`` line below (and import the module here). Skills (and their imitation variants) are
registered from ``tasks/skills.py``.
"""

from mwx_ray.envs.registry import register_task
from mwx_ray.envs.skills import register_skill
from mwx_ray.envs.tasks.balance import BalanceSimpleTask
from mwx_ray.envs.tasks.composite import (
    CrawlStandWalk,
    StandWalkStand,
    WalkReach,
    WalkRunWalk,
    WalkToChairSit,
)
from mwx_ray.envs.tasks.crawl import CrawlTask
from mwx_ray.envs.tasks.hurdle import HurdleTask
from mwx_ray.envs.tasks.locomotion import RunTask, StandTask, WalkTask
from mwx_ray.envs.tasks.maze import MazeTask
from mwx_ray.envs.tasks.pole import PoleTask
from mwx_ray.envs.tasks.reach import ReachTask
from mwx_ray.envs.tasks.sit import SitHardTask, SitSimpleTask
from mwx_ray.envs.tasks.skills import BUILTIN_SKILLS
from mwx_ray.envs.tasks.stair import SlideTask, StairTask
from mwx_ray.envs.tasks.turn import TurnAroundTask, TurnToSpotTask

register_task(StandTask)
register_task(WalkTask)
register_task(RunTask)
register_task(HurdleTask)
register_task(PoleTask)
register_task(StairTask)
register_task(SlideTask)
register_task(MazeTask)
register_task(SitSimpleTask)
register_task(SitHardTask)
register_task(CrawlTask)
register_task(ReachTask)
register_task(BalanceSimpleTask)
register_task(TurnAroundTask)
register_task(TurnToSpotTask)
register_task(StandWalkStand)
register_task(WalkRunWalk)
register_task(WalkToChairSit)
register_task(WalkReach)
register_task(CrawlStandWalk)
for _skill in BUILTIN_SKILLS:  # also registers walk_imitation, stand_imitation, ... (skills.py)
    register_skill(_skill)
