"""A self-contained report of an experiment or sweep: ``report.md`` + ``figures/*.png`` + ``tables/*.csv``.

The folder is built beside its destination and renamed into place, so a reader (or a concurrent report) never
sees half a report; then the folder is logged to MLflow under ``report/`` of the sweep's parent run. When the
target is a whole experiment holding several sweeps there is no single parent, so a run tagged
``kind=report`` is created in that experiment to hold the report.

CSV tables keep raw numbers (mean and std in separate columns); the markdown shows them as ``mean ± std``.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis import at_budget, composite, plots, published, schema, tables
from analysis.loaders import Study, client_for, load_study

MAX_MARKDOWN_ROWS = 200
REPORT_FILE = "report.md"
TABLES_DIR, FIGURES_DIR = "tables", "figures"


@dataclass
class ReportOutcome:
    folder: Path
    tables: dict[str, Path] = field(default_factory=dict)  # table name -> CSV path
    figures: list[Path] = field(default_factory=list)
    mlflow_run_id: str | None = None  # run holding the report artifacts (None when not logged)
    artifact_path: str | None = None


def build_tables(study: Study) -> dict[str, pd.DataFrame]:
    """Every table of the report, by CSV name. Published tables are always included, labeled by ``source``."""
    summary = tables.run_summary(study.runs, study.histories)
    results = tables.results_table(summary)
    return {
        "results": results,
        "comparison_with_published": tables.comparison_table(results),
        "ablations": tables.ablation_table(summary),
        "ablations_at_budget": at_budget.returns_at_budgets(summary, study.histories),
        "composite_success": composite.composite_success_table(study.runs, summary),
        "stage_success": tables.stage_success_table(study.runs, study.histories),
        "router_usage": tables.router_usage_table(study.runs, study.histories),
        "reward_terms": tables.reward_terms_table(study.runs),
        "labels": tables.labels_table(study.runs),
        "run_summary": summary,
        "runs": tables.run_metadata_table(study.runs),
        "published_humanoidbench": published.humanoidbench_baselines(),
        "published_1m_steps": published.one_million_step_results(),
        "published_metaworldx_skills": published.metaworldx_skill_claims(),
        "published_metaworldx_complex_tasks": published.metaworldx_complex_tasks(),
        "published_metaworldx_door_ablation": published.metaworldx_door_ablation(),
    }


def build_figures(study: Study, built: dict[str, pd.DataFrame], folder: Path) -> dict[str, list[Path]]:
    """Figures by section: learning curves, router usage, stage success, ablations."""
    return {
        "learning_curves": plots.plot_learning_curves(study.runs, study.histories, folder),
        "router_usage": plots.plot_router_usage(study.runs, study.histories, folder),
        "stage_success": plots.plot_stage_success(built["stage_success"], folder),
        "ablations": plots.plot_ablation_returns(built["ablations"], folder),
    }


def format_value(value) -> str:
    """Markdown cell text: ``–`` for missing, thousands separators for whole numbers, 2 decimals otherwise."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Real):  # also numpy scalars (np.int64 is not an int)
        return f"{int(value):,}" if float(value).is_integer() else f"{float(value):,.2f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def with_mean_std(frame: pd.DataFrame, mean: str, std: str, name: str) -> pd.DataFrame:
    """Replace ``mean``/``std`` columns by one ``name`` column reading ``mean ± std`` (for display only)."""
    if mean not in frame or std not in frame:
        return frame
    text = [format_value(m) if pd.isna(s) else f"{format_value(m)} ± {format_value(s)}"
            for m, s in zip(frame[mean], frame[std], strict=True)]
    position = frame.columns.get_loc(mean)
    shown = frame.drop(columns=[mean, std])
    shown.insert(position, name, text)
    return shown


def markdown_table(frame: pd.DataFrame, empty: str = "_no rows_") -> str:
    if frame.empty:
        return empty
    rows = frame.head(MAX_MARKDOWN_ROWS)
    lines = ["| " + " | ".join(str(c) for c in rows.columns) + " |", "|" + "---|" * len(rows.columns)]
    lines += ["| " + " | ".join(format_value(v) for v in row) + " |" for row in rows.itertuples(index=False)]
    if len(frame) > len(rows):
        lines.append(f"\n_{len(frame) - len(rows)} more rows in the CSV._")
    return "\n".join(lines)


def _section(title: str, text: str, frame: pd.DataFrame | None, csv: str | None, figures: list[Path]) -> str:
    parts = [f"## {title}", text]
    if frame is not None:
        parts.append(markdown_table(frame))
    if csv:
        parts.append(f"CSV: [`{TABLES_DIR}/{csv}.csv`]({TABLES_DIR}/{csv}.csv)")
    parts += [f"![{p.stem}]({FIGURES_DIR}/{p.name})" for p in figures]
    return "\n\n".join(p for p in parts if p)


def render_markdown(study: Study, built: dict[str, pd.DataFrame], figures: dict[str, list[Path]]) -> str:
    target, runs = study.target, study.runs
    measured = tables.measured_runs(runs)
    generated = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    header = "\n".join([
        f"# MetaWorld-X reproduction report: {target.label}", "",
        f"- tracking store: `{study.tracking_uri}`",
        f"- experiment(s): {', '.join(f'`{n}`' for n in target.experiment_names)}",
        f"- sweep parent run(s): {', '.join(f'`{r}`' for r in target.parent_run_ids) or 'all runs of the experiment'}",
        f"- runs: {len(runs)} ({len(measured)} measured), generated {generated}",
        f"- rows labeled `{schema.MEASURED_SOURCE}` come from these runs; rows labeled `published (...)` are "
        "transcribed from the papers and repositories cited in their `reference` column and were **not** measured here.",
    ])
    results = with_mean_std(built["results"], "return_mean", "return_std", "hb/return (mean ± std over seeds)")
    comparison = with_mean_std(built["comparison_with_published"], "return_mean", "return_std",
                               "return (mean ± std)")
    ablations = with_mean_std(built["ablations"], "return_mean", "return_std", "hb/return (mean ± std)")
    sections = [
        header,
        _section("Results per task and method (measured)",
                 "Final deterministic evaluation (`hb/return`, HumanoidBench's task reward) at each trial's last "
                 "evaluation; std over seeds; steps to the success bar = first evaluation at or above it "
                 "(mean over the seeds that reached it); wall-clock = `time/wall_s`.",
                 results, "results", []),
        _section("Measured vs published",
                 "Published rows are labeled by `source` and `reference`. MetaWorld-X's own returns use its "
                 "tracking-augmented training reward (see `metric`) and are not comparable with `hb/return`.",
                 comparison, "comparison_with_published", []),
        _section("Learning curves", "Mean ± 95% confidence band (Student t) over seeds vs env steps; black "
                 "markers are published HumanoidBench points (hollow: with hands).", None, None,
                 figures["learning_curves"]),
        _section("Ablations", "Grouped by the runs' ablation tag(s); delta vs the `none`/`full` variant.",
                 ablations, "ablations", figures["ablations"]),
        _section("Ablations at fixed budgets",
                 "`hb/return` at the last evaluation at or before each env-step budget, mean and 95% Student-t "
                 "interval over the seeds that trained that far (`k/n` seeds); against the full recipe: the mean "
                 "of the per-seed differences and a two-sided paired t-test over the seeds both trained "
                 "(significant: p < 0.05).",
                 at_budget.with_intervals(built["ablations_at_budget"]), "ablations_at_budget", []),
        _section("Composite tasks: all-stage success", "Every evaluation episode of every seed pooled; 95% Wilson "
                 "interval; `p_vs_full` = two-sided Fisher exact test against the full method's counts "
                 "(significant: p < 0.05); `stage_success/<stage>` = mean over seeds.",
                 built["composite_success"], "composite_success", []),
        _section("Router: expert usage", "Final `router/usage/<expert>` shares and `router/entropy`.",
                 built["router_usage"], "router_usage", figures["router_usage"]),
        _section("Stage success", "Final `stage_success/<stage>` per group.", built["stage_success"],
                 "stage_success", figures["stage_success"]),
        _section("Reward terms", "Final `reward_terms/<term>` (evaluation means) averaged over seeds.",
                 built["reward_terms"], "reward_terms", []),
        _section("Labeling runs", "Label counts, fallback rate and throughput (`labels/*`).", built["labels"],
                 "labels", []),
        _section("Per-run summary", "", built["run_summary"], "run_summary", []),
    ]
    for name in ("published_humanoidbench", "published_1m_steps", "published_metaworldx_skills",
                 "published_metaworldx_complex_tasks", "published_metaworldx_door_ablation"):
        sections.append(_section(f"Published: {name.removeprefix('published_')}",
                                 "Transcribed as published; not measured by this project.", built[name], name, []))
    sections.append(_section("Runs (lineage)", "", built["runs"], "runs", []))
    return "\n\n".join(sections) + "\n"


def write_report(study: Study, out_dir: str | Path) -> ReportOutcome:
    """Write the report folder atomically at ``out_dir`` (replacing a previous report there)."""
    final = Path(out_dir).resolve()
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(f".{final.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        partial.mkdir()
        built = build_tables(study)
        (partial / TABLES_DIR).mkdir()
        for name, frame in built.items():
            frame.to_csv(partial / TABLES_DIR / f"{name}.csv", index=False)
        figures = build_figures(study, built, partial / FIGURES_DIR)
        (partial / REPORT_FILE).write_text(render_markdown(study, built, figures), encoding="utf-8")
        _replace_folder(partial, final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return ReportOutcome(final, {name: final / TABLES_DIR / f"{name}.csv" for name in built},
                         [final / FIGURES_DIR / p.name for paths in figures.values() for p in paths])


def _replace_folder(new: Path, final: Path) -> None:
    """Rename ``new`` onto ``final``; an existing ``final`` is moved aside first and removed afterwards."""
    old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
    if final.exists():
        final.rename(old)
    new.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def report_run_id(client, study: Study) -> str:
    """The run that holds the report: the (first) sweep's parent run, else the only sweep in the runs, else a new
    ``kind=report`` run in the (first) experiment."""
    if study.target.parent_run_ids:
        return study.target.parent_run_ids[0]
    sweeps = study.runs[study.runs["kind"] == schema.KIND_SWEEP] if len(study.runs) else study.runs
    if len(sweeps) == 1:
        return str(sweeps["run_id"].iloc[0])
    name = f"report-{study.target.label}"
    run = client.create_run(study.target.experiment_ids[0], run_name=name,
                            tags={schema.TAG_KIND: schema.KIND_REPORT, schema.TAG_RUN_NAME: name})
    client.set_terminated(run.info.run_id, status="FINISHED")
    return run.info.run_id


def log_report(outcome: ReportOutcome, study: Study) -> ReportOutcome:
    """Upload the report folder to MLflow (``report/`` of :func:`report_run_id`)."""
    client = client_for(study.tracking_uri)
    run_id = report_run_id(client, study)
    client.log_artifacts(run_id, str(outcome.folder), artifact_path=schema.REPORT_ARTIFACT_DIR)
    outcome.mlflow_run_id, outcome.artifact_path = run_id, schema.REPORT_ARTIFACT_DIR
    return outcome


def make_report(tracking_uri: str, target: str | Sequence[str], out_dir: str | Path, *, experiment_prefix: str = "",
                log_to_mlflow: bool = True, export_dir: str | Path | None = None) -> ReportOutcome:
    """Load ``target`` (experiment name or run id, or several sweeps' run ids) from ``tracking_uri``, write the
    report, log it to MLflow; with ``export_dir``, also save the runs it was built from
    (``analysis/study_export.py``)."""
    study = load_study(tracking_uri, target, experiment_prefix)
    if export_dir is not None:
        from analysis.study_export import save_study

        save_study(study, export_dir)
    outcome = write_report(study, out_dir)
    return log_report(outcome, study) if log_to_mlflow else outcome
