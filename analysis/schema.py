"""The MLflow names analysis/ reads: tags, params and metric keys (one place, so a rename is one edit).

Most names are the contract written by the stages (``mwx_ray/tracking/sweep_callback.py`` for tags,
``mwx_ray/experts/trainable.py`` and ``mwx_ray/experts/evaluation.py`` for metrics); they are repeated here as
plain strings because importing ``sweep_callback`` pulls in Ray, which a report does not need.
``tests/unit/test_analysis.py`` checks that the repeated names still match their sources.

Names marked *optional* are read when present and have a fallback when absent:
- tag ``method``: the method label of a run (default: by stage, :data:`DEFAULT_METHOD_BY_STAGE`);
- tag ``hardware``: a description of the machine (default: the trial's resource params);
- tags ``ablation`` / ``ablation.<key>``: the ablation key(s) of an ablation sweep's child run.
"""

from __future__ import annotations

# -- stages: one MLflow experiment per stage, named ``<tracking.experiment_prefix><stage>`` --
STAGES = ("experts", "labels", "router", "ablations")

# -- tags --
TAG_PARENT = "mlflow.parentRunId"  # MLflow's own parent/child link
TAG_RUN_NAME = "mlflow.runName"
TAG_STAGE = "stage"  # experts | labels | router | ablations
TAG_KIND = "kind"  # sweep (parent run) | trial (child run) | report (a run made only to hold a report)
KIND_SWEEP, KIND_TRIAL, KIND_REPORT = "sweep", "trial", "report"
KIND_RUN = "run"  # derived for an untagged run with neither parent nor children (e.g. one labeling job)
TAG_SKILL = "skill"
TAG_SEED = "seed"
TAG_ENV_ID = "env_id"  # e.g. mwx/h1-walk-v0
TAG_TRIAL_ID = "trial_id"
TAG_ALGORITHM = "algorithm"  # expert trials: ppo | sac (trials from before the tag trained PPO)
TAG_GIT_SHA = "git_sha"
TAG_CONFIG_HASH = "config_hash"
TAG_METHOD = "method"  # optional
TAG_HARDWARE = "hardware"  # optional
TAG_ABLATION = "ablation"  # optional: ``ablation=no_labels``, or several keys ``ablation.<key>=<value>``
# Router trials (mwx_ray/router/stage.py describe_trial): ``variant`` names the configuration "in ablation tables" and
# ``mode`` is router | uniform | single | monolithic (the no-router and monolithic baselines).
TAG_VARIANT = "variant"
TAG_MODE = "mode"
ABLATION_TAGS = (TAG_ABLATION, TAG_VARIANT)  # plus every ``ablation.<key>`` tag
ABLATION_BASELINE_VALUES = ("none", "full", "baseline")  # the un-ablated variant, compared against
METHOD_BY_MODE = {
    "router": "mwx_ray router",
    "uniform": "uniform expert mixture (no router)",
    "single": "best single expert (no router)",
    "monolithic": "monolithic PPO (no experts)",
}

# Expert trials get their method from their algorithm tag, so PPO and SAC experts form separate groups in every
# table and learning curve (a PPO-vs-SAC sweep needs no extra tagging).
METHOD_BY_ALGORITHM = {"ppo": "mwx_ray PPO expert", "sac": "mwx_ray SAC expert"}
DEFAULT_ALGORITHM_BY_STAGE = {"experts": "ppo"}

DEFAULT_METHOD_BY_STAGE = {
    "experts": "mwx_ray PPO expert",
    "router": "mwx_ray router",
    "ablations": "mwx_ray",
    "labels": "mwx_ray labeling",
}

# -- params of a trial (its flattened Tune trial config) --
PARAM_SUCCESS_BAR = "stop.success_bar"  # "null" when the sweep does not stop at the bar
PARAM_SEED = "run.seed"  # router trials carry their seed and task as params, not tags
PARAM_TASK = "env.task.name"  # a task name or env id (env.task is a section since the typed task config)
PARAM_TASK_LEGACY = "env.task"  # runs recorded before the typed task config
PARAM_CPUS_PER_LEARNER = "resources.cpus_per_learner"
PARAM_ENV_RUNNERS = "resources.env_runners_per_trial"
PARAM_CPUS_PER_ENV_RUNNER = "resources.cpus_per_env_runner"
PARAM_GPUS_PER_LEARNER = "resources.gpus_per_learner"

# -- metrics; the MLflow step of every metric is the trial's cumulative env steps --
METRIC_RETURN = "hb/return"  # deterministic evaluation: HumanoidBench episode return, mean over episodes
METRIC_RETURN_STD = "hb/return_std"  # std over evaluation episodes (not over seeds)
METRIC_SUCCESS = "hb/success"  # fraction of evaluation episodes with return >= success bar
METRIC_ENV_STEPS = "env_steps"
METRIC_WALL_S = "time/wall_s"  # cumulative wall-clock seconds of training + evaluation
METRIC_THROUGHPUT = "perf/env_steps_per_s"
METRIC_TRAIN_RETURN = "train/episode_return_mean"  # training reward (imitation-augmented), stochastic policy
PREFIX_REWARD_TERMS = "reward_terms/"
METRIC_ROUTER_ENTROPY = "router/entropy"
PREFIX_ROUTER_USAGE = "router/usage/"
PREFIX_STAGE_SUCCESS = "stage_success/"
# router evaluation at stage switches: switches per episode, share followed by a fall within 1 s, action jerk ratio
PREFIX_TRANSITION = "transition/"
PREFIX_LABELS = "labels/"  # labeling runs: labels/frames, labels/fallback_rate, labels/share/<expert>, ...

# Histories a report loads (a key ending in "/" is a prefix).
REPORT_HISTORY_KEYS = (METRIC_RETURN, METRIC_SUCCESS, METRIC_WALL_S, METRIC_ROUTER_ENTROPY,
                       PREFIX_ROUTER_USAGE, PREFIX_STAGE_SUCCESS)

# -- where a report goes inside its MLflow run --
REPORT_ARTIFACT_DIR = "report"

MEASURED_SOURCE = "measured (this project, MLflow)"
