"""Published figures, transcribed as data from the papers and repositories they come from, and labeled as published.

Nothing here was measured by this project. Every row carries
- ``source``: ``published (HumanoidBench logs)`` or ``published (MetaWorld-X paper claim)``;
- ``reference``: the file it was transcribed from;
- ``metric``: what the number measures, because the sources do not all report the same quantity. The
  MetaWorld-X "ours" returns use the paper's tracking-augmented training reward (returns above 1000 are
  impossible under HumanoidBench's reward, ≤ 1 per step over 1000 steps), so they are *not* comparable with
  ``hb/return``; its TD-MPC2/DreamerV3 columns are HumanoidBench's published h1hand curves (2M / ~6M steps).

Tables have the columns of :data:`PUBLISHED_COLUMNS` (NaN where the source gives no value).
"""

from __future__ import annotations

import math

import pandas as pd

HUMANOIDBENCH_SOURCE = "published (HumanoidBench logs)"
METAWORLDX_SOURCE = "published (MetaWorld-X paper claim)"
HUMANOIDBENCH_REFERENCE = ("HumanoidBench, Sferrazza et al. 2024 (arXiv 2403.10506): published training logs, "
                           "github.com/carlosferrazza/humanoid-bench")
METAWORLDX_REFERENCE = "MetaWorld-X (arXiv 2603.08572): results table (500K env steps per skill), Door ablation"
SIMBAV2_SOURCE = "published (SimbaV2 paper, HumanoidBench h1 per-task results)"
SIMBAV2_REFERENCE = ("SimbaV2, Lee et al. 2025 (arXiv 2502.15280): per-task HumanoidBench (h1, no hands) returns at "
                     "1M env steps, SimbaV2 and its TD-MPC2 baseline")
HB_RETURN = "hb/return"  # the same quantity as this project's hb/return (HumanoidBench task reward)
TRACKING_RETURN = "training reward (tracking-augmented, not hb/return)"

PUBLISHED_COLUMNS = ["skill", "task", "method", "env_steps", "return_mean", "return_std", "success_rate",
                     "n_seeds", "metric", "note", "source", "reference"]

NAN = math.nan

# HumanoidBench, mean ± std over 3 seeds at 0.5M / 1M / 2M / 10M env steps; NaN std = given without one.
# (task, method, {env_steps: (mean, std)}); "–" cells (not run) are simply absent.
_HUMANOIDBENCH_CURVES = [
    ("h1-walk", "TD-MPC2", {500_000: (634, 23), 1_000_000: (806, 4), 2_000_000: (812, 6)}),
    ("h1-walk", "DreamerV3", {500_000: (10, NAN), 1_000_000: (61, 45), 2_000_000: (734, 16),
                              10_000_000: (837, 14)}),
    ("h1hand-walk", "TD-MPC2", {500_000: (103, 27), 1_000_000: (234, 79), 2_000_000: (644, 281)}),
    ("h1hand-walk", "DreamerV3", {500_000: (17, 4), 1_000_000: (19, 6), 2_000_000: (46, 28),
                                  10_000_000: (736, 9)}),
]

# h1 (no hands) returns at 1M env steps: task -> {method: return}. The figures the expert targets are judged
# against (issue 15), all on HumanoidBench's own reward, so directly comparable with hb/return.
_ONE_MILLION_STEPS = {
    "h1-stand": {"SimbaV2": 814},
    "h1-walk": {"SimbaV2": 846, "TD-MPC2": 814},
    "h1-run": {"TD-MPC2": 779},
    "h1-sit_simple": {"SimbaV2": 876, "TD-MPC2": 791},
    "h1-crawl": {"SimbaV2": 947, "TD-MPC2": 963},
}

# MetaWorld-X claims at 500K env steps per skill: skill -> {method: (mean, std, successes out of 10)}.
_METAWORLDX_SKILLS = {
    "stand": {"MetaWorld-X": (815.9, 0.3, 9), "TD-MPC2": (749.8, 63.1, 3)},
    "walk": {"MetaWorld-X": (1118.7, 7.1, 9), "TD-MPC2": (644.2, 162.3, 3), "DreamerV3": (428.2, 14.5, None)},
    "run": {"MetaWorld-X": (2056.9, 13.6, 9), "TD-MPC2": (66.1, 4.7, 2), "DreamerV3": (298.5, 84.5, None)},
    "sit": {"MetaWorld-X": (862.2, 2.1, 8), "TD-MPC2": (733.9, 120.6, 4)},
    "carry": {"MetaWorld-X": (963.5, 5.1, 9), "TD-MPC2": (438.0, 72.9, 3)},
}
# The paper's baseline columns are HumanoidBench's h1hand curves at these budgets (reference caveat).
_METAWORLDX_STEPS = {"MetaWorld-X": 500_000, "TD-MPC2": 2_000_000, "DreamerV3": 6_000_000}

# Complex (router) tasks: task -> (MetaWorld-X, TD-MPC2) returns.
_METAWORLDX_COMPLEX = {"door": (470, 285), "basketball": (250, 148), "push": (70, -114), "truck": (1500, 1213),
                       "package": (-5200, -6789)}

# Door ablation at a 500K budget: variant -> (return, note). "without VLM" is reported as failing, no number.
_METAWORLDX_DOOR_ABLATION = {
    "full": (304, "converges at 126K env steps"),
    "without router": (297, ""),
    "without imitation": (194, "no convergence"),
    "without VLM": (NAN, "fails (no number given)"),
    "TD-MPC2": (198, "baseline"),
}


def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in PUBLISHED_COLUMNS:
        if column not in frame:
            frame[column] = NAN
    return frame[PUBLISHED_COLUMNS + [c for c in frame.columns if c not in PUBLISHED_COLUMNS]]


def humanoidbench_baselines() -> pd.DataFrame:
    """HumanoidBench's published learning-curve points (h1 and h1hand walk), one row per (task, method, steps)."""
    rows = []
    for task, method, points in _HUMANOIDBENCH_CURVES:
        hands = task.startswith("h1hand")
        for steps, (mean, std) in points.items():
            rows.append({"skill": task.split("-", 1)[1], "task": task, "method": method, "env_steps": steps,
                         "return_mean": float(mean), "return_std": float(std), "n_seeds": 3, "metric": HB_RETURN,
                         "note": "with Shadow hands (h1hand)" if hands else "no hands (h1), as this project",
                         "source": HUMANOIDBENCH_SOURCE, "reference": HUMANOIDBENCH_REFERENCE})
    return _frame(rows)


def one_million_step_results() -> pd.DataFrame:
    """SimbaV2's and TD-MPC2's published h1 returns at 1M env steps (single value, no spread given here)."""
    rows = [{"skill": task.split("-", 1)[1], "task": task, "method": method, "env_steps": 1_000_000,
             "return_mean": float(value), "metric": HB_RETURN, "note": "no hands (h1), as this project; GPU",
             "source": SIMBAV2_SOURCE, "reference": SIMBAV2_REFERENCE}
            for task, methods in _ONE_MILLION_STEPS.items() for method, value in methods.items()]
    return _frame(rows)


def metaworldx_skill_claims() -> pd.DataFrame:
    """MetaWorld-X's per-skill table: its returns (tracking-augmented) and the baselines it quotes."""
    rows = []
    for skill, methods in _METAWORLDX_SKILLS.items():
        for method, (mean, std, successes) in methods.items():
            ours = method == "MetaWorld-X"
            rows.append({
                "skill": skill, "task": f"h1hand-{skill}", "method": method, "env_steps": _METAWORLDX_STEPS[method],
                "return_mean": mean, "return_std": std,
                "success_rate": NAN if successes is None else successes / 10,
                "metric": TRACKING_RETURN if ours else f"{HB_RETURN} (h1hand)",
                "note": "500K env steps per skill" if ours else "paper quotes HumanoidBench's h1hand curve",
                "source": METAWORLDX_SOURCE, "reference": METAWORLDX_REFERENCE,
            })
    return _frame(rows)


def metaworldx_complex_tasks() -> pd.DataFrame:
    """MetaWorld-X's complex-task returns (router over experts) against TD-MPC2."""
    rows = [{"skill": task, "task": task, "method": method, "return_mean": float(value),
             "metric": "task return as reported by the paper", "note": "complex task (router)",
             "source": METAWORLDX_SOURCE, "reference": METAWORLDX_REFERENCE}
            for task, values in _METAWORLDX_COMPLEX.items()
            for method, value in zip(("MetaWorld-X", "TD-MPC2"), values, strict=True)]
    return _frame(rows)


def metaworldx_door_ablation() -> pd.DataFrame:
    """MetaWorld-X's door ablation (500K env steps); ``ablation`` names the variant."""
    rows = [{"skill": "door", "task": "door", "method": "TD-MPC2" if variant == "TD-MPC2" else "MetaWorld-X",
             "ablation": variant, "env_steps": 500_000, "return_mean": float(value),
             "metric": "task return as reported by the paper", "note": note,
             "source": METAWORLDX_SOURCE, "reference": METAWORLDX_REFERENCE}
            for variant, (value, note) in _METAWORLDX_DOOR_ABLATION.items()]
    return _frame(rows)


def published_skill_results() -> pd.DataFrame:
    """Every published per-skill row (HumanoidBench curves + MetaWorld-X skill claims)."""
    return pd.concat([humanoidbench_baselines(), one_million_step_results(), metaworldx_skill_claims()],
                     ignore_index=True)


def published_curve_points(skill: str) -> pd.DataFrame:
    """Published (env_steps, return) points on the ``hb/return`` scale for ``skill``: the ones a learning curve
    of ``hb/return`` may show. MetaWorld-X's own returns are excluded (a different reward); the baselines it
    quotes are used only for skills that HumanoidBench's logs (the primary source) do not cover."""
    rows = published_skill_results()
    comparable = rows["metric"].str.startswith(HB_RETURN) & rows["env_steps"].notna() & (rows["skill"] == skill)
    primary = comparable & (rows["source"] == HUMANOIDBENCH_SOURCE)
    return rows[primary if primary.any() else comparable].reset_index(drop=True)
