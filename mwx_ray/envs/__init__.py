"""Gymnasium envs: HumanoidEnv (robot × task), the Task abstraction, and the task registry.

Importing this package registers every built-in task with gymnasium under ``mwx/{robot}-{task}-v0``.
No Ray imports anywhere under envs/ (enforced by a test).
"""

from mwx_ray.envs.rendering import prefer_headless_gl

prefer_headless_gl()  # before anything below imports mujoco (no-op if MUJOCO_GL is set)

from mwx_ray.envs import tasks as _builtin_tasks  # noqa: E402,F401 - registers built-in tasks
from mwx_ray.envs.base import HumanoidEnv  # noqa: E402
from mwx_ray.envs.context import StepContext  # noqa: E402
from mwx_ray.envs.registry import (  # noqa: E402
    env_id_for,
    env_ids,
    get_task_entry,
    make_env,
    register_task,
    resolve_env_id,
    task_entries,
    task_names,
)
from mwx_ray.envs.task import Task  # noqa: E402

__all__ = [
    "HumanoidEnv",
    "StepContext",
    "Task",
    "env_id_for",
    "env_ids",
    "get_task_entry",
    "make_env",
    "register_task",
    "resolve_env_id",
    "task_entries",
    "task_names",
]
