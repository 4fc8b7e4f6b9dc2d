"""Figures as PNG files: learning curves with published points, router usage timelines, stage-success bars.

Uses matplotlib's object API with the Agg canvas (``Figure`` + ``FigureCanvasAgg``), never ``pyplot``: no
global backend switch, no figure registry to leak, and it works headless in tests and on cluster nodes.
Every function returns the paths it wrote (empty when there is nothing to plot).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import stats

from analysis import published, schema, tables

CONFIDENCE = 0.95
END_TOLERANCE = 0.001  # curve ends within 0.1% of the x-range count as the same step (seed_band)
DPI = 110


def seed_band(curves: list[tuple[np.ndarray, np.ndarray]], confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Mean and Student-t confidence band over seeds: ``[step, mean, low, high, n]``.

    ``curves`` = one ``(steps, values)`` per seed. Seeds are evaluated at their own env steps, so each curve is
    linearly interpolated onto the union of steps, but only inside its own range (no extrapolation): ``n`` is
    the number of seeds behind each point, and with ``n == 1`` the band collapses onto the mean. Ranges count
    ``END_TOLERANCE`` of the largest step wider: seeds that stop at one budget end a few env steps apart
    (batches end mid-episode), and the mean must not jump to one seed's value over those last steps.
    """
    curves = [(np.asarray(s, float), np.asarray(v, float)) for s, v in curves if len(s)]
    if not curves:
        return pd.DataFrame(columns=["step", "mean", "low", "high", "n"])
    grid = np.unique(np.concatenate([steps for steps, _ in curves]))
    tolerance = END_TOLERANCE * float(np.abs(grid).max())
    stacked = np.full((len(curves), len(grid)), np.nan)
    for i, (steps, values) in enumerate(curves):
        order = np.argsort(steps, kind="stable")
        inside = (grid >= steps.min() - tolerance) & (grid <= steps.max() + tolerance)
        stacked[i, inside] = np.interp(grid[inside], steps[order], values[order])
    n = np.sum(~np.isnan(stacked), axis=0)  # every grid point lies inside at least one curve: n >= 1
    mean = np.nanmean(stacked, axis=0)
    variance = np.nansum((stacked - mean) ** 2, axis=0) / np.maximum(n - 1, 1)  # sample variance (ddof=1)
    std = np.where(n > 1, np.sqrt(variance), 0.0)
    t = np.where(n > 1, stats.t.ppf((1 + confidence) / 2, np.maximum(n - 1, 1)), 0.0)
    half = t * std / np.sqrt(np.maximum(n, 1))
    return pd.DataFrame({"step": grid, "mean": mean, "low": mean - half, "high": mean + half, "n": n})


def slug(text: str) -> str:
    return re.sub(r"[^\w.\-]+", "_", str(text)).strip("_").lower() or "unnamed"


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=DPI, bbox_inches="tight")
    return path


def _curves(histories: pd.DataFrame, run_ids, key: str) -> list[tuple[np.ndarray, np.ndarray]]:
    rows = histories[(histories["key"] == key) & histories["run_id"].isin(list(run_ids))]
    return [(group["step"].to_numpy(), group["value"].to_numpy()) for _, group in rows.groupby("run_id")]


def plot_learning_curves(runs: pd.DataFrame, histories: pd.DataFrame, out_dir: str | Path,
                         metric: str = schema.METRIC_RETURN) -> list[Path]:
    """Two PNGs per task: ``metric`` vs env steps (mean ± 95% CI over seeds per method and ablation variant, every
    seed as a thin line, the success bar, the published points inside the plotted range) and ``metric`` vs
    wall-clock minutes (every seed; seeds do not share a time axis, so no band)."""
    measured = tables.measured_runs(runs)
    measured = measured[measured["run_id"].isin(histories.loc[histories["key"] == metric, "run_id"])]
    labels = tables.group_labels(measured) if len(measured) else pd.Series(dtype=str)
    written = []
    for task, task_runs in measured.groupby(measured["task"].astype("object").fillna("unknown"), sort=True):
        groups = list(task_runs.groupby(labels.loc[task_runs.index], sort=True))
        bar = tables.success_bar(task_runs.iloc[0])
        written.append(_plot_against_steps(task, task_runs, groups, histories, metric, bar, out_dir))
        wall = _plot_against_wall_clock(task, task_runs, groups, histories, metric, bar, out_dir)
        written += [wall] if wall else []
    return written


def _plot_against_steps(task: str, task_runs: pd.DataFrame, groups, histories: pd.DataFrame, metric: str,
                        bar: float, out_dir: str | Path) -> Path:
    figure = Figure(figsize=(7.5, 4.5))
    axes = figure.add_subplot()
    shown: list[float] = []
    for label, group in groups:
        curves = _curves(histories, group["run_id"], metric)
        band = seed_band(curves)
        line, = axes.plot(band["step"], band["mean"], label=f"{label} (n={len(group)} seeds, measured)")
        axes.fill_between(band["step"], band["low"], band["high"], color=line.get_color(), alpha=0.2)
        for steps, values in curves:
            axes.plot(steps, values, color=line.get_color(), linewidth=0.6, alpha=0.45)
            shown += list(values)
    if not math.isnan(bar):
        axes.axhline(bar, color="grey", linestyle="--", linewidth=1, label=f"success bar {bar:g}")
        shown.append(bar)
    skill = task_runs["skill"].dropna().iloc[0] if task_runs["skill"].notna().any() else task
    measured_max = float(histories.loc[histories["run_id"].isin(task_runs["run_id"]) & (histories["key"] == metric),
                                       "step"].max())
    # Published points run to 10M steps; past twice the measured range they would squeeze the curves into a
    # corner. They are all in the report's published tables.
    points = published.published_curve_points(skill)
    points = points[points["env_steps"] <= max(2 * measured_max, 1_000_000)]
    _published_points(axes, points)
    shown += list(points["return_mean"] + points["return_std"].fillna(0))
    # A 2-seed t band (t = 12.7) can dwarf the data: the y range follows the seeds, the bar and the points.
    low, high = min(0.0, *shown), max(shown)
    axes.set_ylim(low - 0.05 * (high - low), high + 0.08 * (high - low))
    axes.set_xlabel("env steps")
    axes.set_ylabel(metric)
    axes.set_title(f"{task}: {metric} (mean ± {CONFIDENCE:.0%} CI over seeds; thin: each seed)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: never hides data
    return _save(figure, Path(out_dir) / f"learning_curve_{slug(task)}.png")


def _plot_against_wall_clock(task: str, task_runs: pd.DataFrame, groups, histories: pd.DataFrame, metric: str,
                             bar: float, out_dir: str | Path) -> Path | None:
    """``metric`` against ``time/wall_s`` logged at the same env step; None when no run logged wall time."""
    values = histories[histories["key"] == metric][["run_id", "step", "value"]]
    wall = histories[histories["key"] == schema.METRIC_WALL_S][["run_id", "step", "value"]]
    joined = values.merge(wall, on=["run_id", "step"], suffixes=("", "_wall_s"))
    joined = joined[joined["run_id"].isin(task_runs["run_id"])]
    if joined.empty:
        return None
    figure = Figure(figsize=(7.5, 4.5))
    axes = figure.add_subplot()
    colors = iter(f"C{i}" for i in range(10))
    for label, group in groups:
        color = next(colors, "black")
        for i, (_run, run) in enumerate(joined[joined["run_id"].isin(group["run_id"])].groupby("run_id")):
            run = run.sort_values("step")
            axes.plot(run["value_wall_s"] / 60, run["value"], color=color, linewidth=1,
                      label=f"{label} (each seed, measured)" if i == 0 else None)
    if not math.isnan(bar):
        axes.axhline(bar, color="grey", linestyle="--", linewidth=1, label=f"success bar {bar:g}")
    axes.set_xlabel("wall clock, minutes (time/wall_s of each trial; see the hardware column of the results)")
    axes.set_ylabel(metric)
    axes.set_title(f"{task}: {metric} vs wall clock")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(figure, Path(out_dir) / f"learning_curve_wall_{slug(task)}.png")


def _published_points(axes, points: pd.DataFrame) -> None:
    markers = iter("osD^vP*X")
    for (task, method, source), group in points.groupby(["task", "method", "source"], sort=True):
        hollow = task.startswith("h1hand")
        axes.errorbar(group["env_steps"], group["return_mean"], yerr=group["return_std"].fillna(0),
                      fmt=next(markers, "o"), color="black", mfc="none" if hollow else "black", capsize=3,
                      linestyle=":", linewidth=0.8, label=f"{method} {task}: {source}")


def plot_router_usage(runs: pd.DataFrame, histories: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """One PNG per router group: expert usage shares over env steps (mean over runs, stacked) and the router's
    entropy (mean ± 95% CI) beneath."""
    usage = histories[histories["key"].str.startswith(schema.PREFIX_ROUTER_USAGE)]
    if usage.empty:
        return []
    router_runs = runs[runs["run_id"].isin(usage["run_id"])]
    labels = tables.group_labels(router_runs)
    written = []
    for label, group in router_runs.groupby(labels, sort=True):
        figure = Figure(figsize=(7.5, 5.5))
        top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
        experts = sorted(usage.loc[usage["run_id"].isin(group["run_id"]), "key"].unique())
        bands = [seed_band(_curves(histories, group["run_id"], key)) for key in experts]
        grid = np.unique(np.concatenate([band["step"].to_numpy() for band in bands]))
        shares = [np.interp(grid, band["step"], band["mean"]) for band in bands]
        top.stackplot(grid, shares, labels=[k.removeprefix(schema.PREFIX_ROUTER_USAGE) for k in experts],
                      alpha=0.85)
        top.set_ylabel("expert usage share")
        top.set_ylim(0, max(1.0, float(np.sum(shares, axis=0).max())))
        top.set_title(f"router expert usage: {label} (mean over {len(group)} runs)")
        top.legend(fontsize=7, loc="upper right")
        entropy = seed_band(_curves(histories, group["run_id"], schema.METRIC_ROUTER_ENTROPY))
        if len(entropy):
            bottom.plot(entropy["step"], entropy["mean"], color="black")
            bottom.fill_between(entropy["step"], entropy["low"], entropy["high"], color="black", alpha=0.15)
        bottom.set_ylabel("entropy (nats)")
        bottom.set_xlabel("env steps")
        written.append(_save(figure, Path(out_dir) / f"router_usage_{slug(label)}.png"))
    return written


def plot_stage_success(stage_table: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Grouped bars of final stage success per stage (x) and group (bars), error bars = std over runs."""
    if stage_table.empty:
        return []
    stages = sorted(stage_table["stage"].unique())
    groups = sorted((stage_table["group"] + " · " + stage_table["task"]).unique())
    keyed = stage_table.assign(series=stage_table["group"] + " · " + stage_table["task"]) \
        .set_index(["series", "stage"])
    figure = Figure(figsize=(max(6.0, 1.2 * len(stages) * max(1, len(groups)) / 2), 4.5))
    axes = figure.add_subplot()
    width = 0.8 / len(groups)
    for i, series in enumerate(groups):
        means = np.array([keyed["mean"].get((series, stage), np.nan) for stage in stages], dtype=float)
        errors = np.nan_to_num(np.array([keyed["std"].get((series, stage), np.nan) for stage in stages], float))
        # A rate lies in [0, 1]: clip the ± std whiskers there instead of drawing them off the axes.
        whiskers = np.vstack([np.minimum(errors, np.nan_to_num(means)), np.minimum(errors, 1 - np.nan_to_num(means))])
        axes.bar(np.arange(len(stages)) + (i - (len(groups) - 1) / 2) * width, means, width,
                 yerr=whiskers, capsize=3, ecolor="dimgray", label=series)
    axes.set_xticks(np.arange(len(stages)), stages)
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("stage success rate (final)")
    axes.set_title("stage success (mean ± std over runs)")
    axes.legend(fontsize=7)
    return [_save(figure, Path(out_dir) / "stage_success.png")]


def plot_ablation_returns(ablation: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Bars of final ``hb/return`` (mean ± std over seeds) per ablation variant, one panel per task."""
    if ablation.empty:
        return []
    tasks = sorted(ablation["task"].unique())
    figure = Figure(figsize=(6.0 * len(tasks), 4.0))
    for axes, task in zip(figure.subplots(1, len(tasks), squeeze=False)[0], tasks, strict=True):
        rows = ablation[ablation["task"] == task].sort_values("ablation")
        axes.bar(rows["ablation"], rows["return_mean"], yerr=rows["return_std"].fillna(0), capsize=3)
        axes.set_title(f"{task}: ablations")
        axes.set_ylabel(f"final {schema.METRIC_RETURN}")
        axes.tick_params(axis="x", labelrotation=20, labelsize=7)
    return [_save(figure, Path(out_dir) / "ablation_returns.png")]
