"""When a trial is done: its env-step budget, its iteration cap, or its evaluation reaching the success bar.

One pure rule (:class:`StopRule`) serves two places, so they cannot disagree:
- :class:`TrialStopper`, the Tune ``Stopper`` that ends trials of any stage (``RunConfig(stop=...)``);
- the trial loop (``tune/trial_loop.py``), which asks the same rule whether the iteration it just trained is the
  last one, so the last iteration gets its final evaluation (with video) and checkpoint before Tune stops it.

The success bar is HumanoidBench's (``task_cls.success_bar``: stand 800, walk 700, ...); success means the
*deterministic evaluation* mean return (``hb/return``) reached it, not the noisy training episodes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ray.tune.stopper import Stopper

from mwx_ray.config.experts_schema import ExpertsSection
from mwx_ray.tune.skill_tasks import training_task

ENV_STEPS = "env_steps"
EVAL_RETURN = "hb/return"
TRAINING_ITERATION = "training_iteration"


@dataclass(frozen=True)
class StopRule:
    """Stop conditions of one skill.

    Attributes:
        env_steps: budget of sampled env steps (cumulative across restores).
        success_bar: evaluation return at which the skill counts as learned; None = train to the budget.
        max_iters: optional cap on training iterations.
    """

    env_steps: int
    success_bar: float | None = None
    max_iters: int | None = None

    def reason(self, metrics: Mapping[str, Any]) -> str | None:
        """Why a trial whose latest result is ``metrics`` should stop, or None to continue.

        ``metrics`` needs ``env_steps``; ``hb/return`` counts only when present (evaluation iterations);
        ``training_iteration`` counts only when present and ``max_iters`` is set.
        """
        if self.success_bar is not None and metrics.get(EVAL_RETURN) is not None \
                and float(metrics[EVAL_RETURN]) >= self.success_bar:
            return f"success bar reached ({EVAL_RETURN} {float(metrics[EVAL_RETURN]):.1f} >= {self.success_bar:g})"
        if int(metrics.get(ENV_STEPS, 0)) >= self.env_steps:
            return f"env-step budget reached ({int(metrics[ENV_STEPS])} >= {self.env_steps})"
        iteration = metrics.get(TRAINING_ITERATION)
        if self.max_iters is not None and iteration is not None and int(iteration) >= self.max_iters:
            return f"max_iters reached ({int(iteration)} >= {self.max_iters})"
        return None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StopRule:
        return cls(**data)


def success_bar_of(task: str) -> float:
    """HumanoidBench success bar of a task name or env id (``walk`` → 700)."""
    from mwx_ray.envs import get_task_entry
    from mwx_ray.envs.registry import parse_env_id

    _robot, task_name = parse_env_id(task)
    return float(get_task_entry(task_name).task_cls.success_bar)


def stop_rules(experts: ExpertsSection) -> dict[str, StopRule]:
    """``{skill: StopRule}`` from ``experts.stop`` and ``experts.per_skill.<skill>.stop_env_steps``."""
    rules = {}
    for skill in experts.skills:
        overrides = experts.per_skill.get(skill)
        budget = overrides.stop_env_steps if overrides is not None and overrides.stop_env_steps else None
        bar = success_bar_of(training_task(experts, skill)) if experts.stop.at_success_bar else None
        rules[skill] = StopRule(env_steps=budget or experts.stop.env_steps, success_bar=bar,
                                max_iters=experts.stop.max_iters)
    return rules


class TrialStopper(Stopper):
    """Stops each trial by its group's :class:`StopRule` (the group, e.g. the skill or the router variant, is read
    from the result's ``config[group_key]``)."""

    def __init__(self, rules: Mapping[str, StopRule], group_key: str = "skill"):
        self.rules = dict(rules)
        self.group_key = group_key

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        group = result.get("config", {}).get(self.group_key)
        if group not in self.rules:
            raise KeyError(f"trial {trial_id} reports {self.group_key} {group!r}; the stopper knows "
                           f"{sorted(self.rules)}")
        return self.rules[group].reason(result) is not None

    def stop_all(self) -> bool:
        return False
