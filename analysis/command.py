"""``mwx report``: a self-contained report (markdown + PNG figures + CSV tables) of an MLflow experiment or sweep,
also logged to MLflow under ``report/`` of the sweep's parent run.

The ``analysis`` package plugs this command into ``mwx`` through the ``mwx_ray.commands`` entry point
(pyproject.toml), so the dependency points one way: analysis imports mwx_ray, never the reverse."""

from __future__ import annotations

from pathlib import Path

from mwx_ray.commands.common import add_overrides_argument, add_subcommand
from mwx_ray.config import load_config
from mwx_ray.tracking.store import tracking_uri

EXAMPLES = """  mwx report experts                          every run of the experts experiment (local store)
  mwx report 3f2a9c0e4b8d4f7e9a1b2c3d4e5f6a7b   one sweep: its parent run id (or any of its trial run ids)
  mwx report 3f2a9c0e... 8d1b77aa...           two sweeps as one study (an ablation rerun with more seeds)
  mwx report ablations --out runs/reports/ablations-v1
  mwx report router --config tune_configs/base/cluster.yaml --set tracking.uri=http://127.0.0.1:5000
  mwx report experts --no-mlflow               write the folder only, do not log it to MLflow
  mwx report --from-export old/export new/export --out merged/report --export merged/export
                                              two recorded exports (e.g. seeds run on two machines) as one study
"""


def register(subparsers) -> None:
    parser = add_subcommand(subparsers, "report",
                            "tables, learning curves and published baselines of an experiment or sweep -> folder "
                            "+ MLflow artifacts", EXAMPLES, run)
    parser.add_argument("target", nargs="+", help="experiment name (experts, labels, router, ablations; the "
                                                  "configured experiment_prefix is tried too), or a sweep's parent "
                                                  "run id; several sweeps' run ids make one report")
    parser.add_argument("--out", help="report folder (default: <run.root_dir>/reports/<target>); replaced "
                                      "atomically if it exists")
    parser.add_argument("--config", help="config whose tracking settings locate the MLflow store")
    add_overrides_argument(parser)
    parser.add_argument("--no-mlflow", action="store_true", help="do not log the report to MLflow")
    parser.add_argument("--export", help="also save the runs the report was built from (a small folder that "
                                         "regenerates it without the store)")
    parser.add_argument("--from-export", action="store_true", help="each TARGET is such a folder: rebuild the "
                                                                   "report of them all without a tracking store "
                                                                   "(with --export: also save them as one)")


def run(args) -> int:
    # Deferred: `mwx --help` must not load pandas plotting or matplotlib.
    from analysis.loaders import client_for, resolve_targets
    from analysis.report import make_report

    if args.from_export:
        from analysis.report import write_report
        from analysis.study_export import load_study_exports, save_study

        try:
            study = load_study_exports(args.target)
        except (FileNotFoundError, ValueError) as err:
            print(f"mwx report: {err}")
            return 2
        if args.export:
            save_study(study, args.export)
        outcome = write_report(study, Path(args.out) if args.out else Path(args.target[0]).parent / "report")
        print(f"report: {outcome.folder / 'report.md'} (from the export{'s' * (len(args.target) > 1)} "
              f"{', '.join(args.target)})")
        return 0
    config = load_config(args.config, args.overrides).config
    uri = tracking_uri(config)
    try:
        target = resolve_targets(client_for(uri), args.target, config.tracking.experiment_prefix)
    except LookupError as err:
        print(f"mwx report: {err}")
        return 2
    out = Path(args.out) if args.out else Path(config.run.root_dir) / "reports" / target.label
    outcome = make_report(uri, args.target, out, experiment_prefix=config.tracking.experiment_prefix,
                          log_to_mlflow=not args.no_mlflow, export_dir=args.export)
    print(f"report: {outcome.folder / 'report.md'}")
    print(f"  {len(outcome.tables)} tables (CSV) in {outcome.folder / 'tables'}")
    print(f"  {len(outcome.figures)} figures (PNG) in {outcome.folder / 'figures'}")
    if outcome.mlflow_run_id:
        print(f"  logged to MLflow run {outcome.mlflow_run_id} under {outcome.artifact_path}/ ({uri})")
    return 0
