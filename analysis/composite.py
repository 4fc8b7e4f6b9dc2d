"""The ablation table of composite tasks: all-stage success with a 95% Wilson interval, per-stage success,
the transition measures (stage switches per episode, share of switches followed by a fall within 1 s, action
jerk around switches against the episode mean; ``mwx_ray/router/evaluation.py``), return, budget and wall clock
per (task, variant), and whether each variant differs from the full method.

Success counts pool every evaluation episode of every seed of a variant (each router run evaluates
``router.eval.episodes`` episodes at its end, all on the same seeds). A difference to the full method is called
significant when Fisher's exact test on the two 2×2 success counts gives p < 0.05 (two-sided) — exact for the
small counts of a laptop study, where a normal approximation would not be.
"""

from __future__ import annotations

import math

import pandas as pd

from analysis import schema
from mwx_ray.intervals import wilson_interval

PARAM_EPISODES = "router.eval.episodes"


def fisher_p(a_success: int, a_n: int, b_success: int, b_n: int) -> float:
    """Two-sided Fisher exact test p-value of two success counts."""
    from scipy.stats import fisher_exact

    return float(fisher_exact([[a_success, a_n - a_success], [b_success, b_n - b_success]]).pvalue)


def composite_success_table(runs: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, variant) of router-stage runs; see the module docstring for the columns."""
    router = summary[summary["ablation"].notna()].copy() if "ablation" in summary else summary.iloc[0:0].copy()
    if router.empty:
        return pd.DataFrame(columns=["task", "variant", "seeds", "episodes", "successes", "success_rate",
                                     "success_ci95_low", "success_ci95_high", "p_vs_full", "significant"])
    params = _without_stale_switch_measures(runs.set_index("run_id"))
    episodes = pd.to_numeric(params.get(f"params.{PARAM_EPISODES}", pd.Series(dtype="object")), errors="coerce")
    router["episodes"] = router["run_id"].map(episodes).fillna(1).astype(int)
    router["successes"] = (router["final_success"].fillna(0) * router["episodes"]).round().astype(int)
    mean_columns = [c for c in params.columns
                     if c.startswith((f"metrics.{schema.PREFIX_STAGE_SUCCESS}", f"metrics.{schema.PREFIX_TRANSITION}"))]
    rows = []
    for (task, variant), group in router.groupby(["task", "ablation"], sort=True):
        n, k = int(group["episodes"].sum()), int(group["successes"].sum())
        low, high = wilson_interval(k, n)
        row = {"task": task, "variant": variant, "seeds": len(group), "episodes": n, "successes": k,
               "success_rate": k / n if n else math.nan, "success_ci95_low": low, "success_ci95_high": high,
               "return_mean": group["final_return"].mean(), "env_steps_mean": group["env_steps"].mean(),
               "wall_clock_s_mean": group["wall_clock_s"].mean()}
        for column in mean_columns:
            row[column.removeprefix("metrics.")] = float(params.loc[group["run_id"], column].mean())
        rows.append(row)
    table = pd.DataFrame(rows)
    for _task, group in table.groupby("task"):
        full = group[group["variant"].map(_is_full)]
        if full.empty:
            continue
        base = full.iloc[0]
        for index, row in group.iterrows():
            if _is_full(row["variant"]):
                continue
            p = fisher_p(int(row["successes"]), int(row["episodes"]), int(base["successes"]), int(base["episodes"]))
            table.loc[index, "p_vs_full"] = p
            table.loc[index, "significant"] = "yes" if p < 0.05 else "no"
    return table


# Per-switch measures are undefined (NaN) in an evaluation without stage switches, and the tracking layer logs
# finite values only (``tracking/run_values.py::numeric_metrics``): a run's latest value would then be an earlier
# evaluation's, so they only count where the last evaluation had switches (recorded exports included).
SWITCHES = f"metrics.{schema.PREFIX_TRANSITION}switches"


def _without_stale_switch_measures(params: pd.DataFrame) -> pd.DataFrame:
    if SWITCHES not in params:
        return params
    params = params.copy()
    no_switch = pd.to_numeric(params[SWITCHES], errors="coerce").fillna(0) <= 0
    for column in params.columns:
        if column.startswith(f"metrics.{schema.PREFIX_TRANSITION}") and column != SWITCHES:
            params.loc[no_switch, column] = math.nan
    return params


def _is_full(label: str) -> bool:
    from analysis.tables import is_baseline_label

    return is_baseline_label(label)
