"""The one registry of skills: what an expert is for, which task judges it, which motion it imitates.

A skill is the unit of the expert pool (one expert per skill), of routing (one router output per skill) and of
labeling (one option per skill in a teacher's prompt). Everything that needs to know about a skill reads its
:class:`SkillSpec`:

=====================  =============================================================================
field                  read by
=====================  =============================================================================
``task``               expert training/evaluation (``hb/return``, success bar), ``mwx eval``
``clip``               the imitation variant ``<task>_imitation`` registered with the skill
``cyclic``             reference alignment (loops or holds the last frame); checked against the clip
``label``              teachers' prompts and the expert catalogue (``labeling/catalogue.py``)
``stage``              composite tasks that call for the skill (a stage factory, optional)
=====================  =============================================================================

Adding a skill = one :func:`register_skill` call (in a module of yours, named in ``run.plugins`` so that every
Ray worker imports it too) + one expert YAML (+ clip data)::

    register_skill(SkillSpec(name="squat", task="squat", clip="squat", cyclic=True,
                             label="Squat down and stand up again, repeatedly."))

If ``task`` names a task class not yet registered, pass ``task_cls`` and it is registered too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mwx_ray.envs.registry import get_task_entry, register_task, task_names
from mwx_ray.envs.task import Task
from mwx_ray.errors import UnknownNameError

IMITATION_SUFFIX = "_imitation"


@dataclass(frozen=True)
class SkillSpec:
    """One skill.

    Attributes:
        name: expert/skill name (``walk``); the router's and the teacher's name for it.
        task: the HumanoidBench-compatible task that judges the skill (``sit_simple`` for ``sit``): its return is
            ``hb/return``, its success bar the expert's target.
        clip: default reference motion (built-in name, ``mwx motion list``, or a MotionClip ``.npz`` path); None =
            no imitation variant (the skill trains on ``task`` only).
        cyclic: the clip loops (gaits) rather than holding its last frame (sit, reach).
        label: one sentence a teacher reads for this option (default: the task's description).
        task_cls: register this Task class too (for skills that bring their own task).
        stage: factory of the composite-task stage that calls for this skill, ``stage(name, **kwargs)`` (optional).
    """

    name: str
    task: str
    clip: str | None = None
    cyclic: bool = False
    label: str = ""
    task_cls: type[Task] | None = field(default=None, compare=False)
    stage: Callable[..., Any] | None = field(default=None, compare=False)

    @property
    def imitation_task(self) -> str | None:
        """Name of the imitation variant (``<task>_imitation``), or None without a clip."""
        return f"{self.task}{IMITATION_SUFFIX}" if self.clip else None

    def training_task(self, motion_prior: bool) -> str:
        """The task an expert of this skill trains on: the imitation variant with ``motion_prior``, else ``task``."""
        if motion_prior and self.imitation_task is None:
            raise ValueError(f"skill {self.name!r} has no reference clip, so no imitation variant; "
                             "train it with experts.motion_prior: false or give it a clip")
        return self.imitation_task if motion_prior and self.imitation_task else self.task

    @property
    def success_bar(self) -> float:
        return float(get_task_entry(self.task).task_cls.success_bar)

    @property
    def description(self) -> str:
        """What a teacher reads: ``label``, else the judging task's description."""
        return self.label or get_task_entry(self.task).task_cls.description


_SKILLS: dict[str, SkillSpec] = {}


def register_skill(spec: SkillSpec) -> SkillSpec:
    """Register ``spec`` (and its task class and imitation variant); re-registering the same spec is a no-op."""
    from mwx_ray.envs.imitation_variants import imitation_variant  # deferred: imitation imports motion

    current = _SKILLS.get(spec.name)
    if current is not None:
        if current != spec:
            raise ValueError(f"skill {spec.name!r} is already registered as {current}")
        return current
    if spec.task_cls is not None:
        register_task(spec.task_cls)
    if spec.task not in task_names():
        raise UnknownNameError(f"skill {spec.name!r} names unknown task {spec.task!r}; registered tasks: "
                               f"{task_names()} (pass task_cls to register a new one)")
    if spec.clip:
        base = get_task_entry(spec.task).task_cls
        register_task(imitation_variant(base, spec.clip, spec.cyclic))
    _SKILLS[spec.name] = spec
    return spec


def skill_names() -> list[str]:
    return sorted(_SKILLS)


def get_skill(name: str) -> SkillSpec:
    try:
        return _SKILLS[name]
    except KeyError:
        raise UnknownNameError(f"unknown skill {name!r}; valid skills: {skill_names()} (register new ones with "
                               "mwx_ray.envs.skills.register_skill in a module named in run.plugins)") from None
