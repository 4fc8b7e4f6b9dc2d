"""Schema of the ``experts`` section: the Specialized Expert Pool sweep (one Tune trial per skill × seed × sample).

PPO defaults follow common MuJoCo-locomotion PPO settings (cleanrl ``ppo_continuous_action``: lr 3e-4,
gamma 0.99, lambda 0.95, clip 0.2, 10 epochs) sized for a 2-core CPU; per-skill values belong in
``tune_configs/experts/*.yaml``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Literal

from mwx_ray.config.errors import ConfigError
from mwx_ray.config.fastsac_schema import FastSACSection
from mwx_ray.config.loader import deep_merge
from mwx_ray.config.sac_schema import SACSection
from mwx_ray.config.task_schema import TASK_SHORTHAND, TaskSection
from mwx_ray.config.typed import build, setting, to_plain

# Activations that both RLlib (models/utils.py get_activation_fn) and ExpertPolicy rebuild identically.
Activation = Literal["tanh", "relu", "silu", "swish", "elu"]


@dataclass
class PPOSection:
    """PPO and network hyperparameters of one expert (field names are RLlib's)."""

    lr: float = setting(3e-4, gt=0, le=1)
    # RLlib's own schedule form (utils/schedules/scheduler.py): piecewise linear in the trial's sampled env steps,
    # the last value held after the last point. cleanrl/SB3 PPO anneal the rate linearly to 0 by default.
    lr_schedule: list[list[float]] | None = setting(
        None, help="[[env_steps, lr], ...] from env step 0, steps increasing: the learning rate, linear between "
                   "the points and held after the last; replaces lr; null = lr throughout")
    gamma: float = setting(0.99, gt=0, le=1)
    lambda_: float = setting(0.95, ge=0, le=1)
    clip_param: float = setting(0.2, gt=0)
    vf_clip_param: float = setting(10.0, gt=0)
    entropy_coeff: float = setting(0.0, ge=0)
    # RLlib adds an adaptive KL penalty to the clipped objective by default (kl_coeff 0.2, target 0.01);
    # cleanrl/SB3 PPO use the clip alone.
    use_kl_loss: bool = setting(True)
    kl_coeff: float = setting(0.2, ge=0)
    kl_target: float = setting(0.01, gt=0)
    vf_loss_coeff: float = setting(0.5, ge=0)
    train_batch_size_per_learner: int = setting(4000, ge=1)
    minibatch_size: int = setting(256, ge=1)
    num_epochs: int = setting(10, ge=1)
    grad_clip: float | None = setting(0.5, gt=0)
    fcnet_hiddens: list[int] = setting(factory=lambda: [256, 256])
    activation: Activation = setting("tanh")
    head_fcnet_hiddens: list[int] = setting(factory=list)
    free_log_std: bool = setting(True)
    vf_share_layers: bool = setting(False)
    # |log std| bound of the Gaussian policy: std in [e^-5, e^5] = [0.0067, 148]; fine control is possible,
    # and a collapsing std never produces inf/NaN log-probs. RLlib's default 20 does not prevent collapse.
    log_std_clip_param: float = setting(5.0, gt=0, lt=20)
    # RLlib starts the free log-std at 0: std 1 in the [-1, 1] action space, i.e. joint targets drawn across the
    # whole range every 20 ms, and an H1 falls within ~0.5 s. A lower start (e.g. -1: std 0.37) lets early
    # episodes last long enough to learn from. null keeps RLlib's 0.
    log_std_init: float | None = setting(None, ge=-5, le=1, help="initial free log-std (needs free_log_std)")
    # RLlib leaves the pi head's output layer at PyTorch's default init, so the initial mean action is a random
    # ±0.5 per joint. cleanrl-style PPO scales that layer to 0.01 so every joint starts near its mean action.
    pi_output_scale: float | None = setting(None, gt=0, le=1, help="rescale the pi output layer's initial weights "
                                                                  "(e.g. 0.01); null keeps RLlib's init")
    # The same normalized std is a very different motion per joint (H1: ±0.43 rad of hip yaw, ±2.8 rad of hip
    # pitch per unit action). Giving it in joint units sets each actuator's initial log-std to
    # log(std / half ctrlrange): e.g. 0.1 rad of noise on every joint every 20 ms.
    exploration_std_ctrl: float | None = setting(
        None, gt=0, help="initial policy std in actuator ctrl units (rad for H1's position servos), converted "
                         "per actuator; replaces log_std_init (needs free_log_std and an mwx env)")
    obs_clip: float = setting(10.0, gt=0, help="MeanStdFilter output clip, in standard deviations (RLlib: 10)")
    rollout_fragment_length: int | Literal["auto"] = setting("auto")
    # The env executes actions clipped to [-1, 1]: a policy mean past a bound parks that joint at its range limit
    # and PPO gets no gradient to bring it back (experts/ppo_learner.py).
    action_bound_coef: float = setting(0.0, ge=0, help="weight of the loss term mean(relu(|mean action| - 1)^2), "
                                                       "which keeps the policy's mean action inside [-1, 1]; "
                                                       "0 = RLlib's PPO loss")
    pipelined: bool = setting(False, help="remote env runners sample the next batch while the learner trains on "
                                          "the last one (one update behind; mwx_ray/experts/pipelined_ppo.py); "
                                          "needs resources.env_runners_per_trial >= 1; ~1.3x the env steps/s "
                                          "but learned far slower on the tuned stand recipe (see its docstring)")

    def field_problems(self) -> dict[str, str]:
        """Cross-field checks, keyed by the field to blame."""
        problems = {}
        if not self.fcnet_hiddens or any(h < 1 for h in self.fcnet_hiddens):
            problems["fcnet_hiddens"] = "must list at least one positive layer size"
        if self.log_std_init is not None and not self.free_log_std:
            problems["log_std_init"] = "needs free_log_std: true (a network-predicted log-std has no initial value)"
        if self.exploration_std_ctrl is not None and not self.free_log_std:
            problems["exploration_std_ctrl"] = "needs free_log_std: true (a network-predicted log-std has no initial value)"
        if self.exploration_std_ctrl is not None and self.log_std_init is not None:
            problems["exploration_std_ctrl"] = "set either log_std_init or exploration_std_ctrl, not both"
        if self.lr_schedule is not None and (problem := lr_schedule_problem(self.lr_schedule)):
            problems["lr_schedule"] = problem
        if self.minibatch_size > self.train_batch_size_per_learner:
            problems["minibatch_size"] = (f"{self.minibatch_size} is larger than train_batch_size_per_learner "
                                          f"{self.train_batch_size_per_learner}")
        return problems


def lr_schedule_problem(schedule: list[list[float]]) -> str | None:
    """Why ``schedule`` is not ``[[0, lr], [env_steps, lr], ...]`` with increasing steps and rates in (0, 1] (two
    points at least: RLlib's ``Scheduler.validate`` refuses one when the algorithm is built)."""
    if len(schedule) < 2 or any(len(point) != 2 for point in schedule):
        return f"expected two or more [env_steps, lr] pairs, got {schedule}"
    steps = [point[0] for point in schedule]
    if steps[0] != 0 or any(later <= earlier for earlier, later in itertools.pairwise(steps)):
        return f"env steps must start at 0 and increase, got {steps}"
    if not all(0 < point[1] <= 1 for point in schedule):
        return f"every lr must be in (0, 1], got {[point[1] for point in schedule]}"
    return None


@dataclass
class SchedulerSection:
    """Trial scheduler. ``metric`` is reported by periodic deterministic evaluation."""

    name: Literal["fifo", "asha", "pbt"] = setting("fifo")
    metric: str = setting("hb/return", help="metric to rank trials by")
    mode: Literal["max", "min"] = setting("max")
    grace_period_iters: int = setting(5, ge=1, help="ASHA: iterations before a trial can be stopped")
    reduction_factor: float = setting(3.0, gt=1, help="ASHA: keep 1/reduction_factor of trials per rung")
    perturbation_interval_iters: int = setting(5, ge=1, help="PBT: iterations between exploit/explore steps")
    mutations: dict[str, Any] = setting(factory=dict, help="PBT: field of the algorithm's section (ppo/sac) -> "
                                                           "search space, e.g. {lr: {loguniform: [1e-5, 1e-3]}}")


@dataclass
class StopSection:
    """When a trial ends: the env-step budget, or the task's success bar reached in evaluation."""

    env_steps: int = setting(1_000_000, ge=1)
    at_success_bar: bool = setting(True, help="stop once the evaluation return reaches the task's success bar")
    max_iters: int | None = setting(None, ge=1)


@dataclass
class EvalSection:
    """Periodic deterministic evaluation (HumanoidBench return and success rate)."""

    every_iters: int = setting(5, ge=1)
    episodes: int = setting(3, ge=1)
    video: bool = setting(True, help="record an mp4 of the final evaluation episode")


@dataclass
class CheckpointSection:
    every_iters: int = setting(5, ge=1)
    keep_best: int = setting(2, ge=1, help="checkpoints kept per trial, best by the scheduler metric "
                                           "(PBT keeps all: it restores trials from each other's checkpoints)")


@dataclass
class SkillOverrides:
    """Per-skill changes on top of the section-wide values."""

    ppo: dict[str, Any] = setting(factory=dict, help="PPO fields for this skill only")
    sac: dict[str, Any] = setting(factory=dict, help="SAC fields for this skill only")
    fastsac: dict[str, Any] = setting(factory=dict, help="fastsac fields for this skill only")
    stop_env_steps: int | None = setting(None, ge=1)
    init_from: str | None = setting(None, help="start from this exported expert (zoo:stand, <registry>:stand, an "
                                               "expert folder): its actor and normalizer; a curriculum step")
    task: dict[str, Any] | str | None = setting(None, help="this skill's task: a name/env id (default: the skill "
                                                          "name, or <skill>_imitation with motion_prior), or "
                                                          "env.task fields to override for this skill, e.g. "
                                                          "{clip: walk.npz, imitation: {w_track: 0.8}}")

    @property
    def task_overrides(self) -> dict[str, Any]:
        """``task`` as a partial ``env.task`` mapping (a plain name is ``{name: ...}``)."""
        if self.task is None:
            return {}
        return {TASK_SHORTHAND: self.task} if isinstance(self.task, str) else dict(self.task)


# Expert algorithms by name: the YAML value of experts.algorithm -> the section class holding its fields
# (the RLlib builders live in mwx_ray.experts.algorithms, at the Ray edge).
# fastsac: SAC on a flat replay buffer with a fused learner (mwx_ray/experts/fastsac), for CPU machines.
AlgorithmName = Literal["ppo", "sac", "fastsac"]
ALGORITHM_SECTIONS: dict[str, type] = {"ppo": PPOSection, "sac": SACSection, "fastsac": FastSACSection}


@dataclass
class ExpertsSection:
    """The expert sweep: trials = algorithms × skills × seeds × ``num_samples`` draws of ``search_space``."""

    skills: list[str] = setting(factory=lambda: ["stand", "walk"])
    seeds: list[int] = setting(factory=lambda: [0])
    algorithm: AlgorithmName | list[AlgorithmName] = setting(
        "ppo", help="ppo, sac or fastsac; a list (e.g. [ppo, sac]) makes the algorithm a grid axis (scheduler fifo)")
    ppo: PPOSection = setting(factory=PPOSection)
    sac: SACSection = setting(factory=SACSection)
    fastsac: FastSACSection = setting(factory=FastSACSection)
    search_space: dict[str, Any] = setting(factory=dict, help="field of the algorithm's section (ppo/sac) -> "
                                                              "Tune space, e.g. {lr: {loguniform: [1e-5, 1e-3]}}")
    num_samples: int = setting(1, ge=1)
    scheduler: SchedulerSection = setting(factory=SchedulerSection)
    stop: StopSection = setting(factory=StopSection)
    eval: EvalSection = setting(factory=EvalSection)
    checkpoint: CheckpointSection = setting(factory=CheckpointSection)
    per_skill: dict[str, SkillOverrides] = setting(factory=dict)
    max_failures: int = setting(2, ge=0, help="retries of a crashed trial, each from its last checkpoint")
    motion_prior: bool = setting(False, help="train each skill on its imitation variant <skill>_imitation "
                                             "(human motion prior); false = the plain HumanoidBench task")
    variants: dict[str, dict[str, Any]] = setting(
        factory=dict, help="ablation grid axis: variant name -> env.task fields it changes on top of each skill's "
                           "task, e.g. {no_rsi: {imitation: {reference_state_init: {probability: 0.0}}}}; every "
                           "skill x seed trains once per variant, tagged `variant` in MLflow ({} = no axis)")

    @property
    def algorithms(self) -> list[str]:
        """The selected algorithms in order: ``[algorithm]``, or the list given for an algorithm grid."""
        return [self.algorithm] if isinstance(self.algorithm, str) else list(self.algorithm)

    def section_for(self, algorithm: str, skill: str) -> PPOSection | SACSection | FastSACSection:
        """``experts.<algorithm>`` with ``per_skill.<skill>.<algorithm>`` applied and validated."""
        overrides = getattr(self.per_skill[skill], algorithm) if skill in self.per_skill else {}
        merged = {**to_plain(getattr(self, algorithm)), **overrides}
        return build(ALGORITHM_SECTIONS[algorithm], merged, lambda _key: "", prefix=f"per_skill.{skill}.{algorithm}.")

    def ppo_for(self, skill: str) -> PPOSection:
        """The section-wide PPO values with this skill's overrides applied and validated."""
        section = self.section_for("ppo", skill)
        assert isinstance(section, PPOSection)
        return section

    def sac_for(self, skill: str) -> SACSection:
        """The section-wide SAC values with this skill's overrides applied and validated."""
        section = self.section_for("sac", skill)
        assert isinstance(section, SACSection)
        return section

    def field_problems(self) -> dict[str, str]:
        problems = {}
        if not self.skills:
            problems["skills"] = "must name at least one skill"
        if not self.algorithms:
            problems["algorithm"] = "must name at least one algorithm (ppo, sac, fastsac)"
        elif len(set(self.algorithms)) != len(self.algorithms):
            problems["algorithm"] = f"names an algorithm twice: {self.algorithms}"
        unknown = sorted(set(self.per_skill) - set(self.skills))
        if unknown:
            problems["per_skill"] = f"overrides for skills not in `skills`: {unknown}"
        # Overrides of every algorithm are checked, selected or not: a typo should not wait for the day the
        # algorithm is switched.
        for skill, overrides in self.per_skill.items():
            try:  # the overrides must make a valid task section (the skill's task name is resolved later)
                build(TaskSection, deep_merge(to_plain(TaskSection()), overrides.task_overrides), lambda _key: "",
                      prefix=f"per_skill.{skill}.task.")
            except ConfigError as err:
                problems[err.key] = err.problem
            if overrides.task is not None and not overrides.task_overrides.get(TASK_SHORTHAND, "x"):
                problems[f"per_skill.{skill}.task.name"] = "empty task name"
        problems.update(self._variant_problems())
        scheduled = ["ppo.lr_schedule"] if self.ppo.lr_schedule is not None else []
        scheduled += [f"per_skill.{skill}.ppo.lr_schedule" for skill, overrides in self.per_skill.items()
                      if overrides.ppo.get("lr_schedule") is not None]
        if "ppo" in self.algorithms and "lr" in self.search_space and scheduled:
            # RLlib takes the schedule instead of lr (experts/ppo.py), so every sampled lr would train alike.
            problems["search_space.lr"] = (f"{scheduled[0]} is set and replaces lr, so a searched lr would be "
                                           "ignored; search lr_schedule instead, or drop the schedule")
        for skill in self.per_skill:
            for algorithm in ALGORITHM_SECTIONS:
                try:
                    self.section_for(algorithm, skill)
                except ConfigError as err:
                    problems[err.key] = err.problem
        return problems

    def _variant_problems(self) -> dict[str, str]:
        """Each variant must name itself and change valid task fields; it cannot change the task's name (the
        skill owns it), and task fields are varied by variants or by ``search_space``, not both."""
        problems = {}
        searched = sorted(key for key in self.search_space if key.startswith("task."))
        if self.variants and searched:
            problems[f"search_space.{searched[0]}"] = ("task fields are varied by `variants` here; search "
                                                       "algorithm fields only, or drop the variants")
        for name, overrides in self.variants.items():
            key = f"variants.{name}"
            if not name or not isinstance(overrides, dict):
                problems[key] = "each variant is a name mapped to env.task fields ({} for the unchanged recipe)"
                continue
            if TASK_SHORTHAND in overrides:
                problems[f"{key}.{TASK_SHORTHAND}"] = "a variant changes task settings, not the task"
            try:
                build(TaskSection, deep_merge(to_plain(TaskSection()), overrides), lambda _key: "",
                      prefix=f"{key}.")
            except ConfigError as err:
                problems[err.key] = err.problem
        return problems
