"""Reading a finished (or interrupted) sweep: the best trial of each skill, for the console summary.

"Best" uses each trial's whole history of the scheduler metric (evaluation iterations only), not just its
last result: an ASHA-stopped or late-degrading trial still counts with its best evaluation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ray import tune


@dataclass
class SkillBest:
    """The best trial of one skill: its score (``metric`` at its best evaluation) and where its files are."""

    skill: str
    trial_id: str
    seed: int
    algorithm: str
    score: float
    success: float
    env_steps: int
    trial_path: str
    checkpoint_path: str | None


def _best_row(result: tune.Result, metric: str, mode: str):
    frame = result.metrics_dataframe
    if frame is None or metric not in frame or frame[metric].dropna().empty:
        return None
    column = frame[metric].dropna()
    return frame.loc[column.idxmax() if mode == "max" else column.idxmin()]


def best_per_skill(results: tune.ResultGrid, metric: str, mode: str) -> dict[str, SkillBest]:
    """``{skill: SkillBest}`` over all trials (errored ones included, if they evaluated at least once)."""
    best: dict[str, SkillBest] = {}
    for result in results:
        row = _best_row(result, metric, mode)
        if row is None:
            continue
        score = float(row[metric])
        skill = result.config["skill"]
        current = best.get(skill)
        better = current is None or (score > current.score if mode == "max" else score < current.score)
        if not better:
            continue
        checkpoint = result.get_best_checkpoint(metric, mode) if result.best_checkpoints else None
        success = row.get("hb/success", math.nan)
        best[skill] = SkillBest(
            skill=skill,
            trial_id=str(result.metrics.get("trial_id", result.path.rsplit("/", 1)[-1])),
            seed=int(result.config["seed"]),
            algorithm=str(result.config.get("algorithm", "ppo")),
            score=score,
            success=float(success) if success is not None else math.nan,
            env_steps=int(row.get("env_steps", 0)),
            trial_path=result.path,
            checkpoint_path=checkpoint.path if checkpoint is not None else None,
        )
    return best


def summary_lines(results: tune.ResultGrid, metric: str, mode: str) -> list[str]:
    """Human-readable trial counts and the best trial of each skill."""
    # `done` is set on the last result when a stopper, scheduler or the trainable ended the trial; an
    # interrupted trial has neither `done` nor an error (Tune's grid still calls it TERMINATED).
    statuses = ["errored" if r.error else "finished" if r.metrics.get("done") else "unfinished" for r in results]
    counts = ", ".join(f"{statuses.count(s)} {s}" for s in ("finished", "unfinished", "errored") if s in statuses)
    lines = [f"trials: {len(statuses)} ({counts})"]
    best = best_per_skill(results, metric, mode)
    skills = sorted({result.config["skill"] for result in results})
    for skill in skills:
        entry = best.get(skill)
        if entry is None:
            lines.append(f"  {skill}: no evaluation reported yet")
            continue
        lines.append(f"  {skill}: best trial {entry.trial_id} ({entry.algorithm}, seed {entry.seed}) "
                     f"{metric} {entry.score:.1f}, "
                     f"success {entry.success:.0%} at {entry.env_steps} env steps")
        lines.append(f"    checkpoint: {entry.checkpoint_path or '(none kept)'}")
    return lines
