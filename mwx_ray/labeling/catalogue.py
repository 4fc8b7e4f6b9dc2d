"""The expert catalogue: the K experts a label distributes over, each a skill name plus one-line description.

Descriptions come from the registered skill tasks (``WalkTask.description`` ...), so the teacher reads the
same sentence the expert was trained on; ``labeling.catalogue`` overrides single entries. A skill without a
task of the same name uses the task ``<skill>_simple`` (``sit`` -> ``sit_simple``), HumanoidBench's naming of
the easier variant. Options are lettered A, B, C, ... in catalogue order, which is also the column order of
every ``probs [B, K]`` array.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mwx_ray.errors import UnknownNameError

OPTION_LETTERS = string.ascii_uppercase  # K <= 26 experts; the paper uses 8


@dataclass(frozen=True)
class ExpertCatalogue:
    """Ordered skills and their descriptions; index k is column k of every label distribution."""

    skills: tuple[str, ...]
    descriptions: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.skills or len(self.skills) != len(self.descriptions):
            raise ValueError(f"catalogue needs one description per skill, got {self.skills} / {self.descriptions}")
        if len(set(self.skills)) != len(self.skills):
            raise ValueError(f"duplicate skills in catalogue: {self.skills}")
        if len(self.skills) > len(OPTION_LETTERS):
            raise ValueError(f"at most {len(OPTION_LETTERS)} experts can be lettered, got {len(self.skills)}")

    @property
    def size(self) -> int:
        """K, the number of experts."""
        return len(self.skills)

    @property
    def letters(self) -> tuple[str, ...]:
        """Option labels ``("A", "B", ...)`` in catalogue order."""
        return tuple(OPTION_LETTERS[: self.size])

    def index(self, skill: str) -> int:
        try:
            return self.skills.index(skill)
        except ValueError:
            raise UnknownNameError(f"unknown expert {skill!r}; catalogue experts: {list(self.skills)}") from None

    def lines(self) -> list[str]:
        """``"A. stand: Stand still ..."`` per expert, as shown in prompts."""
        return [f"{letter}. {skill}: {text}" for letter, skill, text in
                zip(self.letters, self.skills, self.descriptions, strict=True)]

    def to_json(self) -> dict[str, str]:
        return dict(zip(self.skills, self.descriptions, strict=True))

    @classmethod
    def from_json(cls, data: Mapping[str, str]) -> ExpertCatalogue:
        return cls(tuple(data), tuple(data.values()))


def skill_description(skill: str) -> str:
    """The registered task's description for ``skill`` (task ``skill``, else ``skill_simple``)."""
    import mwx_ray.envs  # noqa: F401 - registers the built-in tasks
    from mwx_ray.envs.registry import get_task_entry, task_names  # deferred: the registry imports mujoco

    for name in (skill, f"{skill}_simple"):
        if name in task_names():
            return get_task_entry(name).task_cls.description
    raise UnknownNameError(
        f"no registered task describes expert {skill!r} (looked for {skill!r} and {skill + '_simple'!r}); "
        f"add a description under labeling.catalogue.{skill}; registered tasks: {task_names()}"
    )


def build_catalogue(skills: Sequence[str], overrides: Mapping[str, str] | None = None) -> ExpertCatalogue:
    """Catalogue for ``skills`` in order; ``overrides`` replaces the registry description of a skill."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(skills))
    if unknown:
        raise UnknownNameError(f"catalogue overrides for experts not in {list(skills)}: {unknown}")
    descriptions = tuple(overrides.get(skill) or skill_description(skill) for skill in skills)
    return ExpertCatalogue(tuple(skills), descriptions)
