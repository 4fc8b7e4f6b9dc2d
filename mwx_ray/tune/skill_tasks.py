"""Which task, with which settings, an expert of a skill trains on (the skill registry meets the config).

    training_task(experts, "walk")              -> "walk_imitation" with experts.motion_prior, else "walk"
    skill_task_settings(experts, "sit", shared) -> env.task (shared) + per_skill.sit.task, name sit_simple[_imitation]

``per_skill.<skill>.task`` may name another task (``task: walk``) or override settings
(``task: {clip: my_walk.npz, imitation: {w_track: 0.8}}``), or both (``task: {name: walk, ...}``).
"""

from __future__ import annotations

from mwx_ray.config.experts_schema import ExpertsSection
from mwx_ray.config.loader import deep_merge
from mwx_ray.config.task_schema import TASK_SHORTHAND, TaskSection
from mwx_ray.config.typed import build, to_plain


def _overrides(experts: ExpertsSection, skill: str) -> dict:
    return experts.per_skill[skill].task_overrides if skill in experts.per_skill else {}


def training_task(experts: ExpertsSection, skill: str) -> str:
    """``per_skill.<skill>.task`` (its name), else the skill's imitation variant with ``motion_prior``, else the
    skill's judging task (``mwx_ray.envs.skills.SkillSpec.training_task``)."""
    named = _overrides(experts, skill).get(TASK_SHORTHAND)
    if named:
        return str(named)
    from mwx_ray.envs.skills import get_skill  # deferred: the skill registry imports mujoco

    return get_skill(skill).training_task(experts.motion_prior)


def skill_task_settings(experts: ExpertsSection, skill: str, shared: TaskSection) -> TaskSection:
    """The skill's full task section: ``shared`` (``env.task``) with ``per_skill.<skill>.task`` applied and
    ``name`` = :func:`training_task`, validated."""
    merged = deep_merge(to_plain(shared), {**_overrides(experts, skill), TASK_SHORTHAND: training_task(experts, skill)})
    return build(TaskSection, merged, lambda _key: "", prefix=f"experts.per_skill.{skill}.task.")

