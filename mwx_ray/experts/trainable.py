"""The Tune function trainable of one expert trial: RLlib PPO or SAC on one skill, in the shared trial loop.

Trial config: see ``mwx_ray.experts.param_space`` (``algorithm``, ``skill``, ``seed``, ``env_id``, ``task``, the
algorithm's section ``ppo`` or ``sac``, ``stop``, ``eval``, ``checkpoint``, ``resources``, ``plugins``; optional
test hook ``fail_at_iteration``). The algorithm only changes which RLlib config is built
(``experts/algorithms.py``); the loop, checkpoints and restores are the stage framework's
(``mwx_ray.tune.trial_loop``).

Per iteration, besides the loop's ``env_steps``, ``time/wall_s``, ``perf/env_steps_per_s`` and
``train/episode_return_mean``, it reports ``obs_norm/count`` (observations in the MeanStdFilter statistics: proves
they survive restores), the learner's losses (``learner/<key>``, ``LEARNER_KEYS``), and on evaluation iterations
``hb/return``, ``hb/return_std``, ``hb/success``, ``reward_terms/<term>`` (``mwx_ray.experts.evaluation``); the
final iteration adds ``artifacts/eval_video``.

Evaluation exports the live algorithm to a temporary expert folder and acts with the Ray-free ``ExpertPolicy``:
the evaluated policy is exactly what ``mwx export-experts`` ships (weights + MeanStdFilter statistics, no stats
updates during evaluation), on the task's evaluation settings (``TaskSection.for_evaluation``: HumanoidBench's
reset and termination). Every trial evaluates on the same seeds (``EVAL_SEED``), so trials are ranked on the
same initial states.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from ray import tune
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.utils.metrics import LEARNER_RESULTS

from mwx_ray.config.schema import ResourcesSection
from mwx_ray.config.task_schema import TaskSection
from mwx_ray.config.typed import build
from mwx_ray.envs.plugins import import_plugins
from mwx_ray.experts import algorithms
from mwx_ray.experts.env_registration import quiet_known_deprecations
from mwx_ray.experts.evaluation import EvalResult, evaluate_policy
from mwx_ray.experts.export import export_algorithm, filter_state_from_algorithm
from mwx_ray.experts.pipelined_ppo import STALENESS_RESULT_KEY
from mwx_ray.experts.policy import ExpertPolicy
from mwx_ray.experts.warm_start import warm_start
from mwx_ray.tune.stoppers import StopRule
from mwx_ray.tune.trial_loop import persistent_trial_dir, run_trial_loop

VIDEO_FILE = "eval_video.mp4"
# Evaluation episode i resets with seed EVAL_SEED + i in every trial: far from the training seeds' range.
EVAL_SEED = 1_000_003


def _trial_sections(config: Mapping[str, Any]) -> tuple[str, Any, ResourcesSection, TaskSection]:
    """(algorithm, its validated section, resources, task settings) of a trial config."""
    where = f"trial {config.get('skill')}/seed {config.get('seed')}"
    section = algorithms.trial_section(config, where)
    resources = build(ResourcesSection, config["resources"], lambda _key: where, prefix="resources.")
    task = build(TaskSection, config.get("task") or {}, lambda _key: where, prefix="task.")
    return algorithms.trial_algorithm(config), section, resources, task


def _build_config(config: Mapping[str, Any]):
    quiet_known_deprecations()
    import_plugins(config.get("plugins", ()))
    algorithm, section, resources, task = _trial_sections(config)
    rllib_config = algorithms.build_expert_config(algorithm, config["env_id"], seed=int(config["seed"]),
                                                  section=section, resources=resources, env_kwargs=task.env_kwargs(),
                                                  plugins=config.get("plugins", ()))
    return algorithm, section, task, rllib_config


def trial_resources(config: dict[str, Any]):
    """Tune resource request of a trial = RLlib's ``default_resource_request`` for its PPO/SAC config (both
    inherit ``Algorithm``'s): one bundle for the trial process (driver + local Learner), one per remote
    EnvRunner (PACK)."""
    algorithm, _section, _task, rllib_config = _build_config(config)
    return algorithms.algorithm_class(algorithm).default_resource_request(rllib_config)


def make_trainable():
    """``train_expert`` with its per-trial resource request, ready for ``tune.Tuner`` / ``Tuner.restore``."""
    return tune.with_resources(train_expert, trial_resources)


def evaluate_algorithm(algo, env_id: str, task: TaskSection, *, episodes: int,
                       video_path: Path | None = None) -> EvalResult:
    """Deterministic evaluation of the algorithm's current policy through its exported expert folder, on the
    task's evaluation settings (HumanoidBench reset and termination: ``TaskSection.for_evaluation``)."""
    with tempfile.TemporaryDirectory(prefix="mwx_eval_") as tmp:
        policy = ExpertPolicy.load(export_algorithm(algo, tmp))
    return evaluate_policy(policy.act, env_id, episodes=episodes, seed=EVAL_SEED, video_path=video_path,
                           env_kwargs=task.for_evaluation().env_kwargs())


def observation_filter_count(algo) -> int:
    """Observations the MeanStdFilter has seen so far (merged over runners); grows across restores."""
    (stats,) = filter_state_from_algorithm(algo)["running_stats"]
    return int(stats["num_pushes"])


# The learner statistics a dashboard needs, by the names RLlib 2.60's learners log them under (per module):
# PPO's losses, entropy and value fit (``ppo_torch_learner.py``), SAC's critic and temperature
# (``sac_torch_learner.py``), fastsac's (``fastsac/learner.py`` STAT_NAMES). The rest of RLlib's result stays out.
LEARNER_KEYS = ("policy_loss", "vf_loss", "vf_explained_var", "entropy", "qf_loss", "alpha_value", "critic_loss",
                "actor_loss", "alpha", "q_mean")
# RLlib's Learner.after_gradient_based_update logs each optimizer's rate as "<optimizer name>_learning_rate"
# (experts have one, "default_optimizer"); reported as learner/lr, so an experts.ppo.lr_schedule shows in MLflow.
LEARNER_METRIC_NAMES = {key: key for key in LEARNER_KEYS} | {"default_optimizer_learning_rate": "lr"}


def learner_metrics(result: Mapping[str, Any]) -> dict[str, float]:
    """``learner/<key>`` for the ``LEARNER_KEYS`` this iteration's update logged, and pipelined PPO's
    ``pipelined/<key>`` (how far behind the policy that sampled the batch was; ``pipelined_ppo.STALENESS_KEYS``)."""
    module = result.get(LEARNER_RESULTS, {}).get(DEFAULT_MODULE_ID, {})
    metrics = {f"learner/{name}": float(module[key]) for key, name in LEARNER_METRIC_NAMES.items()
               if isinstance(module.get(key), (int, float, np.floating, np.integer))}
    metrics.update({f"pipelined/{key}": float(value) for key, value in result.get(STALENESS_RESULT_KEY, {}).items()})
    return metrics


class ExpertHooks:
    """The expert stage's part of the trial loop (``mwx_ray.tune.trial_loop.TrialHooks``)."""

    def __init__(self, config: Mapping[str, Any], algorithm: str, section, task: TaskSection):
        self.env_id = config["env_id"]
        self.algorithm, self.section, self.task = algorithm, section, task
        self.episodes = int(config["eval"]["episodes"])
        self.record_video = bool(config["eval"]["video"])

    def evaluate(self, algo) -> dict[str, Any]:
        return evaluate_algorithm(algo, self.env_id, self.task, episodes=self.episodes).metrics()

    def iteration_metrics(self, algo, result) -> dict[str, Any]:
        return {"obs_norm/count": observation_filter_count(algo), **learner_metrics(result)}

    def extra_state(self, algo) -> dict[str, Any]:
        return algorithms.extra_state(algo, self.algorithm)

    def after_restore(self, algo, state) -> None:
        # SAC refills its replay buffer here; those env steps are counted in the next iteration's result.
        algorithms.after_restore(algo, self.algorithm, self.section, state)

    def finalize(self, algo, metrics) -> dict[str, Any]:
        if not self.record_video:
            return {}
        # Episode 0 again (same seed, deterministic policy), now rendered.
        video = evaluate_algorithm(algo, self.env_id, self.task, episodes=1,
                                   video_path=persistent_trial_dir() / VIDEO_FILE).video_path
        return {"artifacts/eval_video": video} if video else {}


def train_expert(config: dict[str, Any]) -> None:
    """Train until the trial's StopRule fires (the Tune stopper and schedulers may stop it earlier)."""
    algorithm, section, task, rllib_config = _build_config(config)
    hooks = ExpertHooks(config, algorithm, section, task)
    algo = rllib_config.build_algo()
    if config.get("init_from"):  # a fresh trial starts from that expert; a restored one from its checkpoint
        warm_start(algo, config["init_from"], env_id=hooks.env_id)
    run_trial_loop(algo, hooks, StopRule.from_dict(config["stop"]),
                   eval_every=int(config["eval"]["every_iters"]),
                   checkpoint_every=int(config["checkpoint"]["every_iters"]),
                   fail_at_iteration=config.get("fail_at_iteration"))
