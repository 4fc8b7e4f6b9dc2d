"""``mwx export-experts``: best checkpoint per skill of a Tune expert sweep -> an expert registry folder."""

from __future__ import annotations

from pathlib import Path

from mwx_ray.commands.common import add_subcommand

EXAMPLES = """  mwx export-experts runs/experts/smoke-20261121-120000/tune/smoke
  mwx export-experts /mnt/shared/mwx/experts-sweep --out runs/registry/v1
  mwx export-experts <experiment> --no-mlflow     do not log the exported folders to the trials' MLflow runs
  mwx export-experts <experiment> --select latest the most trained kept checkpoint (robustness fine-tuning)
"""


def register(subparsers) -> None:
    parser = add_subcommand(subparsers, "export-experts",
                            "export one checkpoint per skill (best by hb/return, or --select latest) to a registry",
                            EXAMPLES, run)
    parser.add_argument("experiment", help="Tune experiment folder (contains experiment_state-*.json)")
    parser.add_argument("--out", help="registry folder (default: <experiment parent>/registry)")
    parser.add_argument("--no-mlflow", action="store_true",
                        help="skip logging each exported expert to its trial's MLflow child run")
    parser.add_argument("--select", choices=("best", "latest"), default="best",
                        help="which kept checkpoint per skill: best by hb/return (default) or the most trained")


def run(args) -> int:
    from mwx_ray.experts.registry_export import export_registry

    experiment = Path(args.experiment).resolve()  # Tune reads a relative path as a URI without a scheme
    if not experiment.is_dir():
        print(f"mwx export-experts: no experiment folder at {experiment}")
        return 2
    out = Path(args.out) if args.out else experiment.resolve().parent / "registry"
    outcome = export_registry(experiment, out, log_to_mlflow=not args.no_mlflow, selection=args.select)
    print(f"expert registry: {outcome.registry.root} ({len(outcome.registry.skills)} skills)")
    for skill, entry in outcome.registry.entries.items():
        metrics = entry.metrics
        ret, success = metrics.get("hb/return", float("nan")), metrics.get("hb/success", float("nan"))
        source = entry.record["source"]
        print(f"  {skill:<12} {entry.algorithm:<4} {entry.env_id:<22} hb/return {ret:9.2f}  success {success:5.2f}  "
              f"trial {source['trial_id']}  mlflow run {entry.mlflow_run_id or '-'}")
    if outcome.tracking is not None and not outcome.tracking.ok:
        print(f"warning: {outcome.tracking.summary()}")
    return 0
