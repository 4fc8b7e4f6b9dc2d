"""Built-in tasks. Importing this package registers them (``mwx_ray.envs.registry.register_task``).

To add a task module: define a :class:`mwx_ray.envs.task.Task` subclass, then add one
``register_task(...)`` line below (and import the module here).
"""

from mwx_ray.envs.registry import register_task
from mwx_ray.envs.tasks.composite import StandWalkStand, WalkRunWalk
from mwx_ray.envs.tasks.locomotion import RunTask, StandTask, WalkTask

register_task(StandTask)
register_task(WalkTask)
register_task(RunTask)
register_task(StandWalkStand)
register_task(WalkRunWalk)
