"""The one registry of tasks, and env construction by name or id.

Env ids follow HumanoidBench's ``{robot}-{task}-v0`` pattern in the ``mwx`` gymnasium namespace, e.g.
``mwx/h1-walk-v0``. ``register_task`` also registers each id with gymnasium, so after ``import mwx_ray.envs``
``gymnasium.make("mwx/h1-walk-v0")`` works.

    register_task(WalkTask)                  # a Task subclass; name/description/bar are its class attributes
    register_task(SitTask, robots=("h1",))   # robots the task supports (default: h1)
    task_names()      -> ["run", "stand", "walk", ...]
    env_ids()         -> ["mwx/h1-run-v0", ...]
    task_entries()    -> [EnvEntry(env_id, robot, task_name, task_cls), ...] (one per env id)
    resolve_env_id("walk") -> "mwx/h1-walk-v0"
    make_env("walk") / make_env("h1-walk") / make_env("mwx/h1-walk-v0", render_mode="rgb_array")

Task variants with different constants are subclasses (e.g. ``class SitHardTask(SitSimpleTask)``), so every
registered task has a name, description, episode length and success bar readable without building an env.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium

from mwx_ray.config.task_schema import TaskSection
from mwx_ray.config.typed import build
from mwx_ray.envs.task import Task
from mwx_ray.errors import UnknownNameError
from mwx_ray.robots import get_robot

ENV_NAMESPACE = "mwx"
ENTRY_POINT = "mwx_ray.envs.registry:make_env"
ENV_VERSION = 0
DEFAULT_ROBOT = "h1"
_NAME = re.compile(r"[a-z0-9_]+")
_ENV_ID = re.compile(r"^(?:(?P<ns>[\w.]+)/)?(?P<robot>[a-z0-9_]+)-(?P<task>[a-z0-9_]+)(?:-v(?P<ver>\d+))?$")
_REQUIRED_CLASS_ATTRS = ("name", "description", "success_bar", "episode_steps")


@dataclass(frozen=True)
class TaskEntry:
    """A registered task class and the robots it supports."""

    name: str
    task_cls: type[Task]
    robots: tuple[str, ...]


@dataclass(frozen=True)
class EnvEntry:
    """One registered env id (task × robot)."""

    env_id: str
    robot: str
    task_name: str
    task_cls: type[Task]


_TASKS: dict[str, TaskEntry] = {}


def env_id_for(robot: str, task_name: str) -> str:
    """``mwx/{robot}-{task}-v0``."""
    return f"{ENV_NAMESPACE}/{robot}-{task_name}-v{ENV_VERSION}"


def register_task(task_cls: type[Task], *, robots: tuple[str, ...] = (DEFAULT_ROBOT,)) -> TaskEntry:
    """Register a :class:`Task` subclass under ``task_cls.name`` and its gymnasium ids (one per robot)."""
    if not (inspect.isclass(task_cls) and issubclass(task_cls, Task)) or inspect.isabstract(task_cls):
        raise TypeError(f"register_task needs a concrete Task subclass, got {task_cls!r}")
    missing = [attr for attr in _REQUIRED_CLASS_ATTRS if not hasattr(task_cls, attr)]
    if missing:
        raise TypeError(f"{task_cls.__name__} must define class attributes {missing}")
    name = task_cls.name
    if not _NAME.fullmatch(name):
        raise ValueError(f"task name must match [a-z0-9_]+, got {name!r}")
    if name in _TASKS and _TASKS[name].task_cls is not task_cls:
        raise ValueError(f"task {name!r} is already registered by {_TASKS[name].task_cls.__qualname__}")
    for robot in robots:
        get_robot(robot)  # validates; the error lists valid robots
    entry = TaskEntry(name=name, task_cls=task_cls, robots=tuple(robots))
    _TASKS[name] = entry
    for robot in entry.robots:
        env_id = env_id_for(robot, name)
        if env_id not in gymnasium.registry:
            # A string entry point keeps the spec serializable (env.spec.to_json()); max_episode_steps is what
            # gymnasium's wrappers read (TimeAwareObservation). HumanoidEnv truncates at the same step itself.
            gymnasium.register(id=env_id, entry_point=ENTRY_POINT, kwargs={"env_id_or_task_name": env_id},
                               max_episode_steps=task_cls.episode_steps)
    return entry


def task_names() -> list[str]:
    """Registered task names, sorted."""
    return sorted(_TASKS)


def task_entries() -> list[EnvEntry]:
    """One entry per registered env id, sorted by env id."""
    entries = [
        EnvEntry(env_id_for(robot, e.name), robot, e.name, e.task_cls) for e in _TASKS.values() for robot in e.robots
    ]
    return sorted(entries, key=lambda entry: entry.env_id)


def env_ids() -> list[str]:
    """All registered env ids (every task × supported robot), sorted."""
    return [entry.env_id for entry in task_entries()]


def get_task_entry(task_name: str) -> TaskEntry:
    try:
        return _TASKS[task_name]
    except KeyError:
        raise UnknownNameError(f"unknown task {task_name!r}; valid tasks: {task_names()}") from None


def parse_env_id(env_id_or_task_name: str) -> tuple[str, str]:
    """``"walk"`` / ``"h1-walk"`` / ``"h1-walk-v0"`` / ``"mwx/h1-walk-v0"`` → ``("h1", "walk")``."""
    if env_id_or_task_name in _TASKS:
        return DEFAULT_ROBOT, env_id_or_task_name
    match = _ENV_ID.match(env_id_or_task_name)
    valid = f"valid env ids: {env_ids()}; valid tasks: {task_names()}"
    if match is None or match["task"] not in _TASKS or match["ns"] not in (None, ENV_NAMESPACE):
        raise UnknownNameError(f"unknown env id or task {env_id_or_task_name!r}; {valid}")
    if match["ver"] is not None and int(match["ver"]) != ENV_VERSION:
        raise UnknownNameError(f"unknown version in {env_id_or_task_name!r}; {valid}")
    robot, task_name = match["robot"], match["task"]
    if robot not in _TASKS[task_name].robots:
        raise UnknownNameError(f"task {task_name!r} does not support robot {robot!r}; {valid}")
    return robot, task_name


def resolve_env_id(env_id_or_task_name: str) -> str:
    """Canonical env id, e.g. ``"walk"`` → ``"mwx/h1-walk-v0"``."""
    return env_id_for(*parse_env_id(env_id_or_task_name))


BACKENDS = ("mwx", "humanoid_bench")


def make_env(env_id_or_task_name: str, *, task: TaskSection | Mapping[str, Any] | None = None,
             backend: str = "mwx", **env_kwargs: Any):
    """Build a :class:`~mwx_ray.envs.base.HumanoidEnv` for a registered env id or task name.

    Args:
        env_id_or_task_name: e.g. ``"mwx/h1-walk-v0"`` or ``"walk"`` (robot defaults to h1).
        task: the typed task settings (``env.task``), as a :class:`TaskSection` or its plain mapping (what
            RLlib's ``env_config`` carries; validated against the schema, its ``name`` is ignored here). None =
            the schema's defaults.
        backend: ``"mwx"`` (ours) or ``"humanoid_bench"`` (the real package, if importable; parity checks).
        **env_kwargs: passed to ``HumanoidEnv`` (``render_mode``, ``render_quality``).
    """
    robot, task_name = parse_env_id(env_id_or_task_name)
    task_cls = get_task_entry(task_name).task_cls
    if backend == "humanoid_bench":
        from mwx_ray.envs.humanoid_bench_backend import make_humanoid_bench_env

        return make_humanoid_bench_env(robot, task_name, task_cls.success_bar, **env_kwargs)
    if backend != "mwx":
        raise ValueError(f"unknown env backend {backend!r}; valid backends: {list(BACKENDS)}")
    from mwx_ray.envs.base import HumanoidEnv  # deferred: keeps `registry` importable without building models

    settings = task_settings(task)
    recorded = settings.start_states
    return HumanoidEnv(robot=get_robot(robot), task=task_cls.from_config(settings), frame_skip=settings.frame_skip,
                       reset_noise_scale=settings.reset_noise_scale,
                       exclude_root_xy=settings.observation.exclude_root_xy,
                       heading_frame=settings.observation.heading_frame,
                       start_states=recorded.path if recorded.probability > 0 else None,
                       start_states_probability=recorded.probability, **env_kwargs)


def task_settings(task: TaskSection | Mapping[str, Any] | None) -> TaskSection:
    """A validated :class:`TaskSection` from a section, its plain mapping (``env_config``), or None (defaults)."""
    if isinstance(task, TaskSection):
        return task
    return build(TaskSection, dict(task or {}), lambda _key: "task settings", prefix="env.task.")
