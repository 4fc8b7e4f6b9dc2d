"""The Tune function trainable of one expert trial: RLlib PPO or SAC on one skill, evaluated and checkpointed.

Trial config: see ``mwx_ray.tune.param_space`` (``algorithm``, ``skill``, ``seed``, ``env_id``, the algorithm's
section ``ppo`` or ``sac``, ``stop``, ``eval``, ``checkpoint``, ``resources``; optional test hook
``fail_at_iteration``). The algorithm only changes which RLlib config is built (``experts/algorithms.py``):
metrics, evaluation, checkpoints and restores are the same for both.

Per iteration it reports (names are a contract with the MLflow callback; keep them):
- ``env_steps``: cumulative sampled env steps of this trial, continuing across retries/resume;
- ``train/episode_return_mean``: RLlib's smoothed return of sampled (stochastic) training episodes;
- ``time/wall_s``: cumulative wall-clock seconds of training + evaluation, continuing across restores;
- ``perf/env_steps_per_s``: env steps of this iteration ÷ its ``algo.train()`` time (sampling + learning);
- ``obs_norm/count``: observations in the MeanStdFilter statistics (proves they survive restores);
- on evaluation iterations: ``hb/return``, ``hb/return_std``, ``hb/success``, ``reward_terms/<term>``
  (``mwx_ray.experts.evaluation``), and on the final iteration ``artifacts/eval_video`` (mp4 path).
``training_iteration`` is Tune's (restored from the checkpoint's metrics, equal to RLlib's iteration).

Evaluation runs on every ``eval.every_iters``-th iteration, on every checkpoint iteration (so each checkpoint
carries its ``hb/return`` score for ``CheckpointConfig(num_to_keep=keep_best)``), and on the final iteration.
It exports the live algorithm to a temporary expert folder and acts with the Ray-free ``ExpertPolicy``:
the evaluated policy is exactly what ``mwx export-experts`` ships (weights + MeanStdFilter statistics,
no stats updates during evaluation). Every trial evaluates on the same seeds (``EVAL_SEED``), so trials
are ranked on the same initial states.

Checkpoint folder (reported to Tune): ``algorithm/`` (``Algorithm.save_to_path``: learner, optimizer,
MeanStdFilter state, RLlib metrics/iteration) + ``mwx_progress.json`` (our counters, plus the learner state
RLlib's checkpoint misses: SAC's entropy temperature). Restoring both makes a retried, resumed or
PBT-exploited trial continue its learning curve (a SAC trial first refills its replay buffer, which no
RLlib checkpoint holds).
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ray import tune
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, EPISODE_RETURN_MEAN, NUM_ENV_STEPS_SAMPLED

from mwx_ray.atomic_io import atomic_write_text
from mwx_ray.config.schema import ResourcesSection
from mwx_ray.config.task_schema import TaskSection
from mwx_ray.config.typed import build
from mwx_ray.experts import algorithms
from mwx_ray.experts.evaluation import EvalResult, evaluate_policy
from mwx_ray.experts.export import export_algorithm, filter_state_from_algorithm
from mwx_ray.experts.policy import ExpertPolicy
from mwx_ray.tune.stoppers import StopRule

ALGORITHM_DIR = "algorithm"
PROGRESS_FILE = "mwx_progress.json"
VIDEO_FILE = "eval_video.mp4"
FAULT_MARKER = ".mwx_fault_injected"
# Evaluation episode i resets with seed EVAL_SEED + i in every trial: far from the training seeds' range.
EVAL_SEED = 1_000_003


class InjectedFault(RuntimeError):
    """Raised by the ``fail_at_iteration`` test hook."""


@dataclass
class Progress:
    """Counters that must survive restores (stored next to the algorithm in each checkpoint)."""

    env_steps: int = 0
    wall_s: float = 0.0
    learner_extras: dict[str, Any] = field(default_factory=dict)  # algorithms.extra_state at save time

    @classmethod
    def load(cls, folder: Path) -> Progress:
        path = folder / PROGRESS_FILE
        return cls(**json.loads(path.read_text())) if path.is_file() else cls()

    def save(self, folder: Path) -> None:
        atomic_write_text(folder / PROGRESS_FILE, json.dumps(asdict(self)))


def _trial_sections(config: dict[str, Any]) -> tuple[str, Any, ResourcesSection, TaskSection]:
    """(algorithm, its validated section, resources, task settings) of a trial config."""
    where = f"trial {config.get('skill')}/seed {config.get('seed')}"
    section = algorithms.trial_section(config, where)
    resources = build(ResourcesSection, config["resources"], lambda _key: where, prefix="resources.")
    task = build(TaskSection, config.get("task") or {}, lambda _key: where, prefix="task.")
    return algorithms.trial_algorithm(config), section, resources, task


def _build_config(config: dict[str, Any]):
    algorithm, section, resources, task = _trial_sections(config)
    rllib_config = algorithms.build_expert_config(algorithm, config["env_id"], seed=int(config["seed"]),
                                                  section=section, resources=resources,
                                                  env_kwargs=task.env_kwargs())
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


def persistent_trial_dir() -> Path:
    """Where a trial's own files (video, fault marker) survive the Ray session: its folder in Tune storage.

    ``tune.get_context().get_trial_dir()`` is a staging folder under ``/tmp/ray/session_*`` that Tune syncs
    to storage and deletes with the session, so paths into it go stale. With local (or NFS) storage we
    write straight into the trial's storage folder (``StorageContext.trial_fs_path``; Tune 2.60 exposes it
    only through the session object); with remote storage (S3) we fall back to the staging folder.
    """
    import pyarrow.fs
    from ray.train._internal.session import get_session

    storage = getattr(get_session(), "storage", None)
    if storage is not None and isinstance(storage.storage_filesystem, pyarrow.fs.LocalFileSystem):
        folder = Path(storage.trial_fs_path)
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return Path(tune.get_context().get_trial_dir())


def _inject_fault_once(fail_at: int | None, iteration: int, trial_dir: Path) -> None:
    """Test fault injection: raise at iteration ``fail_at`` the first time it is reached in this trial.

    The marker file in the trial folder makes it fire once, so the retry (restored from the last
    checkpoint) trains through. Never set ``fail_at_iteration`` outside tests.
    """
    marker = trial_dir / FAULT_MARKER
    if fail_at is not None and iteration == int(fail_at) and not marker.exists():
        marker.write_text(f"fault injected at iteration {iteration}\n")
        raise InjectedFault(f"injected fault at training iteration {iteration} (fail_at_iteration test hook)")


def _save_checkpoint(algo, algorithm: str, progress: Progress, folder: Path) -> tune.Checkpoint:
    algo.save_to_path(str(folder / ALGORITHM_DIR))
    progress.learner_extras = algorithms.extra_state(algo, algorithm)
    progress.save(folder)
    return tune.Checkpoint.from_directory(str(folder))


def train_expert(config: dict[str, Any]) -> None:
    """Train until the trial's StopRule fires (the Tune stopper and schedulers may stop it earlier)."""
    algorithm, section, task, rllib_config = _build_config(config)
    env_id = config["env_id"]
    rule = StopRule.from_dict(config["stop"])
    eval_every, episodes = int(config["eval"]["every_iters"]), int(config["eval"]["episodes"])
    record_video = bool(config["eval"]["video"])
    checkpoint_every = int(config["checkpoint"]["every_iters"])
    trial_dir = persistent_trial_dir()

    algo = rllib_config.build_algo()
    try:
        progress = Progress()
        restored = tune.get_checkpoint()
        if restored is not None:
            with restored.as_directory() as folder:
                algo.restore_from_path(str(Path(folder) / ALGORITHM_DIR))
                progress = Progress.load(Path(folder))
            # SAC refills its replay buffer here; those env steps are counted in the next iteration's result.
            algorithms.after_restore(algo, algorithm, section, progress.learner_extras)
        while True:
            started = time.perf_counter()
            result = algo.train()
            train_s = time.perf_counter() - started
            iteration = int(algo.training_iteration)
            runner_results = result.get(ENV_RUNNER_RESULTS, {})
            steps = int(runner_results.get(NUM_ENV_STEPS_SAMPLED, 0))
            progress.env_steps += steps
            _inject_fault_once(config.get("fail_at_iteration"), iteration, trial_dir)

            metrics: dict[str, Any] = {"env_steps": progress.env_steps}
            if runner_results.get(EPISODE_RETURN_MEAN) is not None:
                metrics["train/episode_return_mean"] = float(runner_results[EPISODE_RETURN_MEAN])
            metrics["perf/env_steps_per_s"] = steps / max(train_s, 1e-9)
            metrics["obs_norm/count"] = observation_filter_count(algo)
            final = rule.reason({**metrics, "training_iteration": iteration}) is not None
            checkpoint_due = final or iteration % checkpoint_every == 0
            if checkpoint_due or iteration % eval_every == 0:
                video = trial_dir / VIDEO_FILE if final and record_video else None
                evaluation = evaluate_algorithm(algo, env_id, task, episodes=episodes, video_path=video)
                metrics.update(evaluation.metrics())
                if not final and rule.reason({**metrics, "training_iteration": iteration}) is not None:
                    final = checkpoint_due = True  # success bar reached: this is the last iteration
                    if record_video:  # episode 0 again (same seed, deterministic), now rendered
                        evaluation.video_path = evaluate_algorithm(
                            algo, env_id, task, episodes=1, video_path=trial_dir / VIDEO_FILE).video_path
                if evaluation.video_path:
                    metrics["artifacts/eval_video"] = evaluation.video_path
            progress.wall_s += time.perf_counter() - started
            metrics["time/wall_s"] = progress.wall_s
            if checkpoint_due:
                with tempfile.TemporaryDirectory(prefix="mwx_ckpt_") as tmp:
                    tune.report(metrics, checkpoint=_save_checkpoint(algo, algorithm, progress, Path(tmp)))
            else:
                tune.report(metrics)
            if final:
                return
    finally:
        algo.stop()
