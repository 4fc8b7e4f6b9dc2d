"""Tables from loaded runs and histories (:mod:`analysis.loaders`): per-run summaries, per-method results with
published figures alongside, ablations, router usage and stage success.

Conventions:
- "final" = the value logged at a run's largest step (its last evaluation); steps are env steps.
- "± std" is the sample standard deviation over seeds (ddof=1; NaN for a single seed), never the spread
  over evaluation episodes (that is ``hb/return_std`` inside one run).
- Success bar of a trial: its ``stop.success_bar`` param (what its stopper used), else the task registry's
  HumanoidBench bar for its ``env_id``. Steps to the bar = first env step whose ``hb/return`` ≥ the bar.
"""

from __future__ import annotations

import math

import pandas as pd

from analysis import published, schema

SUMMARY_COLUMNS = ["run_id", "run_name", "experiment", "task", "skill", "algorithm", "method", "ablation", "seed",
                   "status",
                   "final_return", "final_return_std", "final_success", "env_steps", "success_bar",
                   "steps_to_success_bar", "wall_clock_s", "env_steps_per_s", "hardware"]
RESULT_COLUMNS = ["task", "skill", "method", "ablation", "n_seeds", "return_mean", "return_std", "success_rate",
                  "steps_to_success_bar_mean", "seeds_reaching_bar", "env_steps_mean", "wall_clock_s_mean",
                  "hardware", "source"]


def measured_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs that hold measurements: not a sweep's parent run, not a report-only run."""
    return runs[~runs["kind"].isin([schema.KIND_SWEEP, schema.KIND_REPORT])]


def final_values(histories: pd.DataFrame, key: str) -> pd.DataFrame:
    """``[run_id, step, value]``: each run's value of ``key`` at its largest step (latest timestamp on ties)."""
    rows = histories[histories["key"] == key].sort_values(["run_id", "step", "timestamp"], kind="stable")
    return rows.groupby("run_id", sort=True).tail(1)[["run_id", "step", "value"]].reset_index(drop=True)


def first_step_at_or_above(histories: pd.DataFrame, key: str, thresholds: pd.Series) -> pd.Series:
    """Per run id in ``thresholds``: the first step where ``key`` ≥ the run's threshold (NaN if never)."""
    rows = histories[histories["key"] == key].sort_values(["run_id", "step"], kind="stable")
    steps = {}
    for run_id, bar in thresholds.items():
        if pd.isna(bar):
            steps[run_id] = math.nan
            continue
        reached = rows[(rows["run_id"] == run_id) & (rows["value"] >= bar)]
        steps[run_id] = float(reached["step"].iloc[0]) if len(reached) else math.nan
    return pd.Series(steps, dtype="float64")


def success_bar(row: pd.Series) -> float:
    """The run's success bar: ``stop.success_bar`` param, else the registry's bar for its env id, else NaN."""
    value = pd.to_numeric(row.get(f"params.{schema.PARAM_SUCCESS_BAR}"), errors="coerce")
    if pd.notna(value):
        return float(value)
    if not isinstance(row.get("env_id"), str):
        return math.nan
    from mwx_ray.envs import get_task_entry
    from mwx_ray.envs.registry import parse_env_id
    from mwx_ray.errors import UnknownNameError

    try:
        return float(get_task_entry(parse_env_id(row["env_id"])[1]).task_cls.success_bar)
    except UnknownNameError:  # an env outside the registry (e.g. the HumanoidBench backend's own ids)
        return math.nan


def run_summary(runs: pd.DataFrame, histories: pd.DataFrame) -> pd.DataFrame:
    """One row per measured run with its final evaluation, budget, time to the success bar and hardware."""
    runs = measured_runs(runs).set_index("run_id", drop=False)
    summary = runs[[c for c in SUMMARY_COLUMNS if c in runs.columns]].copy()
    for column, key in (("final_return", schema.METRIC_RETURN), ("final_return_std", schema.METRIC_RETURN_STD),
                        ("final_success", schema.METRIC_SUCCESS), ("env_steps_per_s", schema.METRIC_THROUGHPUT)):
        summary[column] = runs.get(f"metrics.{key}", pd.Series(math.nan, index=runs.index))
    finals = final_values(histories, schema.METRIC_RETURN).set_index("run_id")
    # The history is the source of truth for the final value (``metrics.*`` is MLflow's "latest").
    summary["final_return"] = finals["value"].reindex(summary.index).fillna(summary["final_return"])
    summary["final_success"] = final_values(histories, schema.METRIC_SUCCESS).set_index("run_id")["value"] \
        .reindex(summary.index).fillna(summary["final_success"])
    max_step = histories.groupby("run_id")["step"].max() if len(histories) else pd.Series(dtype="float64")
    summary["env_steps"] = runs.get(f"metrics.{schema.METRIC_ENV_STEPS}", pd.Series(math.nan, index=runs.index)) \
        .fillna(max_step.reindex(summary.index))
    summary["success_bar"] = runs.apply(success_bar, axis=1) if len(runs) else pd.Series(dtype="float64")
    summary["steps_to_success_bar"] = first_step_at_or_above(histories, schema.METRIC_RETURN,
                                                             summary["success_bar"])
    elapsed = (runs["end_time"] - runs["start_time"]).dt.total_seconds()  # fallback: the run's lifetime
    wall = runs.get(f"metrics.{schema.METRIC_WALL_S}", pd.Series(math.nan, index=runs.index))
    summary["wall_clock_s"] = pd.to_numeric(wall, errors="coerce").fillna(elapsed)
    return summary.reindex(columns=SUMMARY_COLUMNS).reset_index(drop=True)


def _std(values: pd.Series) -> float:
    values = values.dropna()
    return float(values.std(ddof=1)) if len(values) > 1 else math.nan


def _aggregate(group: pd.DataFrame) -> pd.Series:
    reached = group["steps_to_success_bar"].notna()
    with_bar = group["success_bar"].notna()
    return pd.Series({
        "n_seeds": int(len(group)),
        "return_mean": group["final_return"].mean(),
        "return_std": _std(group["final_return"]),
        "success_rate": group["final_success"].mean(),
        "steps_to_success_bar_mean": group.loc[reached, "steps_to_success_bar"].mean(),
        "seeds_reaching_bar": f"{int(reached.sum())}/{int(with_bar.sum())}" if with_bar.any() else "no bar",
        "env_steps_mean": group["env_steps"].mean(),
        "wall_clock_s_mean": group["wall_clock_s"].mean(),
        "hardware": "; ".join(sorted({str(h) for h in group["hardware"].dropna()})) or "not recorded",
    })


def _grouped(summary: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    if summary.empty:
        return pd.DataFrame(columns=[*keys, *RESULT_COLUMNS[4:]])
    filled = summary.assign(**{k: summary[k].astype("object").fillna("-") for k in keys})
    rows = [pd.concat([pd.Series(dict(zip(keys, name, strict=True))), _aggregate(group)])
            for name, group in filled.groupby(keys, sort=True)]
    return pd.DataFrame(rows).infer_objects().reset_index(drop=True)


def results_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per (task, skill, method, ablation variant): HumanoidBench return mean ± std over seeds, success rate,
    env steps to the success bar, budget, wall-clock and hardware; ``source`` = measured."""
    table = _grouped(summary, ["task", "skill", "method", "ablation"])
    table["source"] = schema.MEASURED_SOURCE
    return table.reindex(columns=RESULT_COLUMNS)


def comparison_table(results: pd.DataFrame, published_rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """Measured results with the published rows of the same skills beneath them, each row labeled by ``source``.

    With no measured skills at all every published row is shown, so the table is never silently empty.
    """
    published_rows = published.published_skill_results() if published_rows is None else published_rows
    skills = set(results["skill"].dropna())
    shown = published_rows[published_rows["skill"].isin(skills)] if skills else published_rows
    columns = [*(c if c != "env_steps_mean" else "env_steps" for c in RESULT_COLUMNS), "metric", "note",
               "reference"]
    measured = results.rename(columns={"env_steps_mean": "env_steps"}).assign(
        metric=schema.METRIC_RETURN, note="", reference="MLflow runs listed in runs.csv")
    table = pd.concat([measured.reindex(columns=columns), shown.reindex(columns=columns)], ignore_index=True)
    return table.sort_values(["skill", "source"], key=lambda s: s.map(_measured_first) if s.name == "source"
                             else s, kind="stable").reset_index(drop=True)


def _measured_first(source: str) -> int:
    return 0 if source == schema.MEASURED_SOURCE else 1


def ablation_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per task and ablation variant (runs tagged ``ablation*`` or ``variant``): the result statistics, plus
    ``return_delta_vs_baseline`` against the un-ablated variant (value ``none|full|baseline``) of the task."""
    ablated = summary[summary["ablation"].notna()] if "ablation" in summary else summary.iloc[0:0]
    table = _grouped(ablated, ["task", "ablation", "method"])
    if table.empty:
        return table.assign(return_delta_vs_baseline=pd.Series(dtype="float64"))
    baselines = table[table["ablation"].map(is_baseline_label)].groupby("task")["return_mean"].first()
    table["return_delta_vs_baseline"] = table["return_mean"] - table["task"].map(baselines)
    return table


def is_baseline_label(label: str) -> bool:
    """``ablation=none`` / ``variant=full`` (every key at an un-ablated value) is the variant compared against."""
    return all(part.partition("=")[2] in schema.ABLATION_BASELINE_VALUES for part in str(label).split(", "))


def group_labels(runs: pd.DataFrame) -> pd.Series:
    """A label per run for plots and router tables: its method, plus its ablation when it has one."""
    ablation = runs["ablation"].astype("object")
    return runs["method"].astype(str) + ablation.map(lambda a: f" [{a}]" if isinstance(a, str) else "")


def stage_success_table(runs: pd.DataFrame, histories: pd.DataFrame) -> pd.DataFrame:
    """Per (group, stage): final ``stage_success/<stage>`` mean ± std over runs and the run count."""
    rows = histories[histories["key"].str.startswith(schema.PREFIX_STAGE_SUCCESS)]
    return _final_prefix_stats(runs, rows, schema.PREFIX_STAGE_SUCCESS, "stage")


def router_usage_table(runs: pd.DataFrame, histories: pd.DataFrame) -> pd.DataFrame:
    """Per (group, expert): final ``router/usage/<expert>`` mean ± std over runs; expert ``(entropy)`` holds
    ``router/entropy`` in nats."""
    usage = histories[histories["key"].str.startswith(schema.PREFIX_ROUTER_USAGE)
                      | (histories["key"] == schema.METRIC_ROUTER_ENTROPY)]
    usage = usage.assign(key=usage["key"].replace({schema.METRIC_ROUTER_ENTROPY:
                                                   f"{schema.PREFIX_ROUTER_USAGE}(entropy)"}))
    return _final_prefix_stats(runs, usage, schema.PREFIX_ROUTER_USAGE, "expert")


def _final_prefix_stats(runs: pd.DataFrame, rows: pd.DataFrame, prefix: str, name: str) -> pd.DataFrame:
    columns = ["group", "task", name, "n_runs", "mean", "std"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    finals = rows.sort_values(["run_id", "key", "step", "timestamp"]).groupby(["run_id", "key"]).tail(1)
    labels = group_labels(runs).set_axis(runs["run_id"])
    finals = finals.assign(group=finals["run_id"].map(labels),
                           task=finals["run_id"].map(runs.set_index("run_id")["task"]).astype("object").fillna("-"),
                           **{name: finals["key"].str.removeprefix(prefix)})
    table = finals.groupby(["group", "task", name], sort=True)["value"].agg(
        n_runs="count", mean="mean", std=_std).reset_index()
    return table[columns]


def reward_terms_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (task, method, term): mean over seeds of the final ``reward_terms/<term>`` (evaluation means)."""
    columns = [c for c in runs.columns if c.startswith(f"metrics.{schema.PREFIX_REWARD_TERMS}")]
    measured = measured_runs(runs)
    if not columns or measured.empty:
        return pd.DataFrame(columns=["task", "method", "term", "n_seeds", "mean", "std"])
    long = measured.melt(id_vars=["task", "method"], value_vars=columns, var_name="term").dropna(subset=["value"])
    long["term"] = long["term"].str.removeprefix(f"metrics.{schema.PREFIX_REWARD_TERMS}")
    return long.groupby(["task", "method", "term"], sort=True)["value"].agg(
        n_seeds="count", mean="mean", std=_std).reset_index()


def labels_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Labeling runs (any ``labels/*`` metric): their counts, fallback rate and throughput, one row per run."""
    columns = [c for c in runs.columns if c.startswith(f"metrics.{schema.PREFIX_LABELS}")]
    if not columns:
        return pd.DataFrame(columns=["run_id", "run_name", "status"])
    labeled = runs[runs[columns].notna().any(axis=1)]
    table = labeled[["run_id", "run_name", "status", *sorted(columns)]]
    return table.rename(columns=lambda c: c.removeprefix("metrics.")).reset_index(drop=True)


def run_metadata_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Every run with its lineage: ids, parent, kind, status, git SHA, config hash (for the report's appendix)."""
    columns = ["run_id", "run_name", "experiment", "parent_run_id", "kind", "stage", "task", "seed", "method",
               "ablation", "status", "start_time", "end_time", f"tags.{schema.TAG_GIT_SHA}",
               f"tags.{schema.TAG_CONFIG_HASH}"]
    return runs.reindex(columns=columns).rename(columns=lambda c: c.removeprefix("tags."))
