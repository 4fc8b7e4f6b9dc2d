"""The expert catalogue: the K experts a label distributes over, each a skill name plus one-line description.

Descriptions come from the skill registry (``mwx_ray.envs.skills``: a skill's label, else its judging task's
description, e.g. ``WalkTask.description``), so the teacher reads the sentence the expert was trained on;
``labeling.catalogue`` overrides single entries. Options are lettered A, B, C, ... in catalogue order, which is also the column order of
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
    """The registered skill's teacher label (``SkillSpec.description``: its label, else its task's description)."""
    import mwx_ray.envs  # noqa: F401 - registers the built-in skills
    from mwx_ray.envs.skills import get_skill  # deferred: the registry imports mujoco

    try:
        return get_skill(skill).description
    except UnknownNameError as err:
        raise UnknownNameError(f"{err}; or describe it under labeling.catalogue.{skill}") from None


def build_catalogue(skills: Sequence[str], overrides: Mapping[str, str] | None = None) -> ExpertCatalogue:
    """Catalogue for ``skills`` in order; ``overrides`` replaces the registry description of a skill."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(skills))
    if unknown:
        raise UnknownNameError(f"catalogue overrides for experts not in {list(skills)}: {unknown}")
    descriptions = tuple(overrides.get(skill) or skill_description(skill) for skill in skills)
    return ExpertCatalogue(tuple(skills), descriptions)
