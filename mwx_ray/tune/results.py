"""What a stage run produced, as typed data: one :class:`TrialOutcome` per trial inside a :class:`StageResult`.

"Best" uses each trial's whole history of the stage metric (evaluation iterations only), not just its last
result: an ASHA-stopped or late-degrading trial still counts with its best evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATUSES = ("finished", "unfinished", "errored")


@dataclass
class TrialOutcome:
    """One trial of a stage run.

    Attributes:
        group: the trial's group value (skill for experts, ``skill [variant]`` in an expert ablation grid,
            variant for the router).
        status: ``finished`` (a stopper, scheduler or the trainable ended it), ``unfinished`` (interrupted:
            ``mwx resume`` continues it) or ``errored``.
        last: metrics of its last result; best: metrics of its best evaluation (empty if it never evaluated).
        best_checkpoint: path of the checkpoint kept for its best evaluation, if any.
    """

    trial_id: str
    group: str
    seed: int
    config: dict[str, Any]
    status: str
    error: str | None
    last: dict[str, Any]
    best: dict[str, Any]
    best_checkpoint: str | None
    path: str

    @property
    def score(self) -> float:
        return float(self.best.get("score", math.nan))


@dataclass
class StageResult:
    """A stage run: where its files and MLflow runs are, and every trial's outcome."""

    stage: str
    run_dir: Path
    experiment_path: str
    metric: str
    mode: str
    trials: list[TrialOutcome] = field(default_factory=list)
    tracking_uri: str | None = None
    mlflow_run_id: str | None = None  # the stage's MLflow parent run
    tracking_summary: str | None = None
    grid: Any = field(default=None, repr=False)  # Tune's own ResultGrid, for callers that need Tune's view

    @property
    def ok(self) -> bool:
        return not any(t.status == "errored" for t in self.trials)

    @property
    def unfinished(self) -> int:
        return sum(t.status == "unfinished" for t in self.trials)

    def best_per_group(self) -> dict[str, TrialOutcome]:
        """The best trial of each group (by its best evaluation of ``metric``), groups in first-seen order."""
        best: dict[str, TrialOutcome] = {}
        for trial in self.trials:
            if not trial.best:
                continue
            current = best.get(trial.group)
            sign = 1.0 if self.mode == "max" else -1.0
            if current is None or sign * trial.score > sign * current.score:
                best[trial.group] = trial
        return best

    def summary_lines(self) -> list[str]:
        """Trial counts and the best trial of each group, for the console."""
        counts = ", ".join(f"{sum(t.status == s for t in self.trials)} {s}" for s in STATUSES
                           if any(t.status == s for t in self.trials))
        lines = [f"trials: {len(self.trials)} ({counts})"]
        best = self.best_per_group()
        for group in dict.fromkeys(t.group for t in self.trials):
            entry = best.get(group)
            if entry is None:
                lines.append(f"  {group}: no evaluation reported yet")
                continue
            success = entry.best.get("hb/success", math.nan)
            lines.append(f"  {group}: best trial {entry.trial_id} (seed {entry.seed}) {self.metric} {entry.score:.1f}, "
                         f"success {success:.0%} at {int(entry.best.get('env_steps', 0))} env steps")
            lines.append(f"    checkpoint: {entry.best_checkpoint or '(none kept)'}")
        return lines

    @classmethod
    def from_results(cls, stage: str, results, *, run_dir: Path, experiment_path: str, callbacks: Sequence[Any],
                     group_key: str, metric: str, mode: str) -> StageResult:
        """From Tune's ``ResultGrid`` and the stage's callbacks (the MLflow callback knows the parent run)."""
        trials = [_outcome(result, group_key, metric, mode) for result in results]
        out = cls(stage, Path(run_dir), experiment_path, metric, mode, trials, grid=results)
        for callback in callbacks:
            ids = getattr(callback, "ids", None)
            if ids is not None and hasattr(callback, "report"):
                out.tracking_uri, out.mlflow_run_id = ids.tracking_uri, ids.parent_run_id
                out.tracking_summary = callback.report().summary()
        return out


def _best_row(result, metric: str, mode: str):
    frame = result.metrics_dataframe
    if frame is None or metric not in frame or frame[metric].dropna().empty:
        return None
    column = frame[metric].dropna()
    return frame.loc[column.idxmax() if mode == "max" else column.idxmin()]


def _outcome(result, group_key: str, metric: str, mode: str) -> TrialOutcome:
    # Tune marks the last result `done` when a stopper, scheduler or the trainable ends a trial; after an
    # interruption the grid still says TERMINATED (actors were stopped), but `done` stays False.
    metrics = dict(result.metrics or {})
    status = "errored" if result.error else "finished" if metrics.get("done") else "unfinished"
    row = _best_row(result, metric, mode)
    best: dict[str, Any] = {}
    if row is not None:
        plain = {key: value.item() if hasattr(value, "item") else value for key, value in row.items()}  # numpy scalars
        best = {key: value for key, value in plain.items() if isinstance(value, int | float | str)}
        best["score"] = float(row[metric])
    checkpoint = result.get_best_checkpoint(metric, mode) if (row is not None and result.best_checkpoints) else None
    config = dict(result.config or {})
    group = str(config.get(group_key, "?"))
    if group_key != "variant" and "variant" in config:  # an expert ablation grid: one group per skill x variant
        group = f"{group} [{config['variant']}]"
    return TrialOutcome(
        trial_id=str(metrics.get("trial_id", Path(result.path).name)), group=group,
        seed=int(config.get("seed", 0)), config=config, status=status,
        error=None if result.error is None else str(result.error).splitlines()[0][:300],
        last={k: v for k, v in metrics.items() if isinstance(v, int | float | str)}, best=best,
        best_checkpoint=checkpoint.path if checkpoint is not None else None, path=result.path)
