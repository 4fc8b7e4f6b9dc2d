"""Ablation returns read at fixed env-step budgets (HumanoidBench and its baselines report ``hb/return`` at 1M env
steps; issue 15's trick ablation asks for 1M and 2M), with the mean and its 95% Student-t interval over seeds.

A run counts at a budget only if it trained that far (its last evaluation is at or past 98% of the budget, so a
trial whose final evaluation lands a fraction of an iteration short still counts); its value there is its last
evaluation at or before the budget. Runs that stopped early, at the success bar or by failing, are left out of
that budget's column rather than read at an earlier point, and ``n_<budget>`` says how many seeds each cell has.

Each variant is also compared with the un-ablated one (``variant=full``) of its task and method, paired by seed:
the seeds of a trick ablation share their start (the same stand expert, the same seed), so the mean of the per-seed
differences with a paired t-test says more than two overlapping intervals do (``diff_<b>_vs_full``,
``p_<b>_vs_full``; two or more seeds in both rows, else NaN).
"""

from __future__ import annotations

import math

import pandas as pd

from analysis import schema
from analysis.tables import is_baseline_label
from mwx_ray.intervals import mean_ci95

DEFAULT_BUDGETS = (1_000_000, 2_000_000)
REACHED_FRACTION = 0.98  # evaluations land every few iterations, not on the budget itself


def budget_label(steps: int) -> str:
    """``1000000`` -> ``"1M"``, ``500000`` -> ``"500k"``."""
    return f"{steps / 1e6:g}M" if steps >= 1_000_000 else f"{steps / 1e3:g}k"


def value_at_budget(history: pd.DataFrame, budget: int) -> float:
    """One run's ``hb/return`` at ``budget`` env steps (its ``[step, value]`` rows), NaN if it stopped short."""
    if history.empty or history["step"].max() < REACHED_FRACTION * budget:
        return math.nan
    before = history[history["step"] <= budget]
    return float(before.sort_values("step")["value"].iloc[-1]) if len(before) else math.nan


def returns_at_budgets(summary: pd.DataFrame, histories: pd.DataFrame,
                       budgets: tuple[int, ...] = DEFAULT_BUDGETS) -> pd.DataFrame:
    """Per task, ablation variant and method: ``hb/return`` at each budget, mean and 95% CI over the seeds that
    reached it (``return_<b>_mean|ci_low|ci_high``, ``n_<b>``). Empty without ablation-tagged runs."""
    ablated = summary[summary["ablation"].notna()] if "ablation" in summary else summary.iloc[0:0]
    returns = histories[histories["key"] == schema.METRIC_RETURN] if len(histories) else histories
    by_seed: dict[tuple, dict[int, pd.Series]] = {}  # (task, ablation, method) -> budget -> value per seed
    rows = []
    for key, group in ablated.groupby(["task", "ablation", "method"], sort=True, dropna=False):
        row: dict[str, object] = dict(zip(("task", "ablation", "method"), key, strict=True))
        by_seed[key] = {}
        for budget in budgets:
            label = budget_label(budget)
            values = pd.Series([value_at_budget(returns[returns["run_id"] == run_id], budget)
                                for run_id in group["run_id"]], index=group["seed"].to_numpy(), dtype=float)
            reached = values.dropna()
            by_seed[key][budget] = reached
            mean, low, high = mean_ci95(list(reached)) if len(reached) else (math.nan, math.nan, math.nan)
            row.update({f"return_{label}_mean": mean, f"return_{label}_ci_low": low,
                        f"return_{label}_ci_high": high, f"n_{label}": f"{len(reached)}/{len(values)}"})
        rows.append(row)
    table = pd.DataFrame(rows, columns=_columns(budgets))
    for index, key in enumerate(by_seed):  # the table's rows, in order
        full = next((other for other in by_seed if is_baseline_label(other[1])
                     and _same(other[0], key[0]) and _same(other[2], key[2])), None)
        if full is None or is_baseline_label(key[1]):
            continue
        for budget in budgets:
            diff, p = paired_difference(by_seed[key][budget], by_seed[full][budget])
            table.loc[index, [f"diff_{budget_label(budget)}_vs_full", f"p_{budget_label(budget)}_vs_full"]] = diff, p
    return table


def _same(a: object, b: object) -> bool:
    """Equal group keys; a missing method or task (NaN) matches another missing one."""
    return a == b or (pd.isna(a) and pd.isna(b))


def paired_difference(values: pd.Series, reference: pd.Series) -> tuple[float, float]:
    """Mean of ``values − reference`` over the seeds (index) both have, and its two-sided paired t-test p-value
    (NaN, NaN with fewer than two shared seeds)."""
    # A seed trained twice (a study rerun in parts) counts once, as its mean.
    values, reference = values.groupby(level=0).mean(), reference.groupby(level=0).mean()
    shared = values.index.intersection(reference.index)
    if len(shared) < 2:
        return math.nan, math.nan
    from scipy.stats import ttest_rel

    differences = values[shared] - reference[shared]
    p = float(ttest_rel(values[shared], reference[shared]).pvalue) if differences.std() > 0 else math.nan
    return float(differences.mean()), p


def _columns(budgets: tuple[int, ...]) -> list[str]:
    per_budget = [f"return_{budget_label(b)}_{stat}" for b in budgets for stat in ("mean", "ci_low", "ci_high")]
    per_budget += [f"{stat}_{budget_label(b)}{'_vs_full' * (stat != 'n')}" for b in budgets
                   for stat in ("n", "diff", "p")]
    return ["task", "ablation", "method", *per_budget]


def with_intervals(table: pd.DataFrame, budgets: tuple[int, ...] = DEFAULT_BUDGETS) -> pd.DataFrame:
    """The table for reading: one ``hb/return at <b>`` column per budget as ``mean (low–high), n``."""
    if table.empty:
        return table
    shown = table[["task", "ablation", "method"]].copy()
    for budget in budgets:
        label = budget_label(budget)
        shown[f"hb/return at {label} (95% CI), seeds"] = [
            _cell(row[f"return_{label}_mean"], row[f"return_{label}_ci_low"], row[f"return_{label}_ci_high"],
                  row[f"n_{label}"]) for _, row in table.iterrows()]
        shown[f"vs full at {label}: mean paired difference (p)"] = [
            _difference(row[f"diff_{label}_vs_full"], row[f"p_{label}_vs_full"]) for _, row in table.iterrows()]
    return shown


def _difference(diff: float, p: float) -> str:
    if math.isnan(diff):
        return "–"
    return f"{diff:+.0f} ({'p n/a' if math.isnan(p) else f'p = {p:.2g}'}{', significant' * (p < 0.05)})"


def _cell(mean: float, low: float, high: float, n: str) -> str:
    if math.isnan(mean):
        return f"– ({n})"
    interval = f" ({low:.0f}–{high:.0f})" if not math.isnan(low) else ""
    return f"{mean:.0f}{interval}, {n}"
