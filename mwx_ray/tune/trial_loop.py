"""The training loop every RLlib trial of every stage runs: train, evaluate, checkpoint, stop — and resume.

A stage's trainable (experts: ``experts/trainable.py``; router: ``router/trainable.py``) supplies a
:class:`TrialHooks`; :func:`run_trial_loop` does the rest, identically for every stage:

* restore: a Tune checkpoint holds ``algorithm/`` (``Algorithm.save_to_path``: learner, optimizer, connector
  state such as the MeanStdFilter, RLlib's iteration) and ``mwx_progress.json`` (our counters and whatever
  learner state RLlib's checkpoint misses, ``TrialHooks.extra_state``); a retried, resumed or PBT-exploited
  trial continues its learning curve from there;
* per iteration it reports ``env_steps`` (cumulative over restores), ``time/wall_s`` (cumulative),
  ``perf/env_steps_per_s`` (this iteration's env steps ÷ its ``algo.train()`` time) and the hooks' metrics;
* evaluation on every ``eval_every``-th iteration, on every checkpoint iteration (each checkpoint carries its
  score, so Tune's ``num_to_keep`` keeps the best) and on the final one;
* the :class:`~mwx_ray.tune.stoppers.StopRule` decides the final iteration — the same rule the Tune stopper
  applies, so the last iteration gets its final evaluation and checkpoint before Tune stops the trial; a
  success bar reached in evaluation makes that iteration final;
* ``TrialHooks.finalize`` runs once on the final iteration: videos and plots (the router also proves its experts
  frozen and exports itself).

Test hook: ``fail_at_iteration`` raises :class:`InjectedFault` once per trial at that iteration (a marker file in
the trial folder makes the retry train through).
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ray import tune
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, EPISODE_RETURN_MEAN, NUM_ENV_STEPS_SAMPLED

from mwx_ray.atomic_io import atomic_write_text
from mwx_ray.tune.stoppers import StopRule

ALGORITHM_DIR = "algorithm"
PROGRESS_FILE = "mwx_progress.json"
FAULT_MARKER = ".mwx_fault_injected"


class InjectedFault(RuntimeError):
    """Raised by the ``fail_at_iteration`` test hook."""


@dataclass
class Progress:
    """Counters that must survive restores (stored next to the algorithm in each checkpoint)."""

    env_steps: int = 0
    wall_s: float = 0.0
    learner_extras: dict[str, Any] = field(default_factory=dict)  # TrialHooks.extra_state at save time

    @classmethod
    def load(cls, folder: Path) -> Progress:
        path = folder / PROGRESS_FILE
        return cls(**json.loads(path.read_text())) if path.is_file() else cls()

    def save(self, folder: Path) -> None:
        atomic_write_text(folder / PROGRESS_FILE, json.dumps(asdict(self)))


class TrialHooks(Protocol):
    """What a stage adds to the loop."""

    def evaluate(self, algo) -> dict[str, Any]:
        """Evaluation metrics (``hb/return`` ...), deterministic, on the stage's fixed evaluation seeds."""

    def iteration_metrics(self, algo, result: Mapping[str, Any]) -> dict[str, Any]:
        """Metrics of one ``algo.train()`` result beyond the loop's own (losses, normalizer counts ...)."""

    def extra_state(self, algo) -> dict[str, Any]:
        """Learner state ``Algorithm.save_to_path`` misses (JSON-able)."""

    def after_restore(self, algo, state: Mapping[str, Any]) -> None:
        """Put ``extra_state`` back after a restore."""

    def finalize(self, algo, metrics: Mapping[str, Any]) -> dict[str, Any]:
        """Once, on the final iteration (after its evaluation): extra metrics and ``artifacts/<name>`` paths
        (videos, plots, exports, checks)."""


def persistent_trial_dir() -> Path:
    """Where a trial's own files (videos, exports, fault marker) survive the Ray session: its folder in Tune
    storage.

    ``tune.get_context().get_trial_dir()`` is a staging folder under ``/tmp/ray/session_*`` that Tune syncs to
    storage and deletes with the session, so paths into it go stale. With local (or NFS) storage we write straight
    into the trial's storage folder (``StorageContext.trial_fs_path``; Tune 2.60 exposes it only through the
    session object); with remote storage (S3) we fall back to the staging folder.
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
    marker = trial_dir / FAULT_MARKER
    if fail_at is not None and iteration == int(fail_at) and not marker.exists():
        marker.write_text(f"fault injected at iteration {iteration}\n")
        raise InjectedFault(f"injected fault at training iteration {iteration} (fail_at_iteration test hook)")


def _save(algo, hooks: TrialHooks, progress: Progress, folder: Path) -> tune.Checkpoint:
    algo.save_to_path(str(folder / ALGORITHM_DIR))
    progress.learner_extras = hooks.extra_state(algo)
    progress.save(folder)
    return tune.Checkpoint.from_directory(str(folder))


def restore_latest(algo, hooks: TrialHooks) -> Progress:
    """Restore ``algo`` from the trial's Tune checkpoint, if any; returns the restored counters."""
    restored = tune.get_checkpoint()
    if restored is None:
        return Progress()
    with restored.as_directory() as folder:
        algo.restore_from_path(str(Path(folder) / ALGORITHM_DIR))
        progress = Progress.load(Path(folder))
    hooks.after_restore(algo, progress.learner_extras)
    return progress


def sampled_env_steps(result: Mapping[str, Any]) -> int:
    """Env steps sampled by one ``algo.train()`` (RLlib's runner results). RLlib reports NaN when no runner
    result arrived (a runner was being restarted): that iteration sampled nothing we can count."""
    value = float(result.get(ENV_RUNNER_RESULTS, {}).get(NUM_ENV_STEPS_SAMPLED, 0) or 0)
    return int(value) if math.isfinite(value) else 0


STARVED_ITERATIONS = 3  # consecutive iterations without a sample before the trial says so


class StarvationWatch:
    """Notices a trial whose ``algo.train()`` keeps returning no samples. RLlib gives up waiting for its env
    runners after ``sample_timeout_s`` and returns an empty iteration, so on an oversubscribed machine (more
    trials and runners than CPUs) a trial can iterate for minutes at 0 env steps/s while its table looks alive."""

    def __init__(self, limit: int = STARVED_ITERATIONS):
        self.limit, self.empty, self.warned = limit, 0, False

    def update(self, steps: int) -> str | None:
        """The warning to print after ``limit`` empty iterations in a row (once per trial), else None."""
        self.empty = 0 if steps > 0 else self.empty + 1
        if self.empty < self.limit or self.warned:
            return None
        self.warned = True
        return (f"mwx: this trial sampled no env steps in {self.empty} iterations in a row: its env runners did "
                "not deliver within RLlib's sample_timeout_s. The machine is probably oversubscribed (more "
                "trials and env runners than CPUs, or another sweep running); lower "
                "resources.max_concurrent_trials or stop the other work.")


def train_episode_return(result: Mapping[str, Any]) -> dict[str, float]:
    """``train/episode_return_mean``: RLlib's smoothed return of sampled (stochastic) training episodes."""
    value = result.get(ENV_RUNNER_RESULTS, {}).get(EPISODE_RETURN_MEAN)
    return {} if value is None else {"train/episode_return_mean": float(value)}


def run_trial_loop(algo, hooks: TrialHooks, rule: StopRule, *, eval_every: int, checkpoint_every: int,
                   fail_at_iteration: int | None = None) -> dict[str, Any]:
    """Train ``algo`` until ``rule`` says stop (Tune's stopper or scheduler may stop it earlier); returns the
    final metrics. Stops the algorithm at the end."""
    trial_dir = persistent_trial_dir()
    try:
        progress = restore_latest(algo, hooks)
        starvation = StarvationWatch()
        while True:
            started = time.perf_counter()
            result = algo.train()
            train_s = time.perf_counter() - started
            iteration = int(algo.training_iteration)
            steps = sampled_env_steps(result)
            progress.env_steps += steps
            if warning := starvation.update(steps):
                print(warning, file=sys.stderr, flush=True)
            _inject_fault_once(fail_at_iteration, iteration, trial_dir)
            metrics: dict[str, Any] = {"env_steps": progress.env_steps, **train_episode_return(result),
                                       "perf/env_steps_per_s": steps / max(train_s, 1e-9),
                                       **hooks.iteration_metrics(algo, result)}
            final = rule.reason({**metrics, "training_iteration": iteration}) is not None
            checkpoint_due = final or iteration % checkpoint_every == 0
            if checkpoint_due or iteration % eval_every == 0:
                metrics.update(hooks.evaluate(algo))
                if not final and rule.reason({**metrics, "training_iteration": iteration}) is not None:
                    final = checkpoint_due = True  # success bar reached: this is the last iteration
            if final:
                metrics.update(hooks.finalize(algo, metrics))
            progress.wall_s += time.perf_counter() - started
            metrics["time/wall_s"] = progress.wall_s
            if checkpoint_due:
                with tempfile.TemporaryDirectory(prefix="mwx_ckpt_") as tmp:
                    tune.report(metrics, checkpoint=_save(algo, hooks, progress, Path(tmp)))
            else:
                tune.report(metrics)
            if final:
                return metrics
    finally:
        algo.stop()
