"""The quickstart pipeline: every stage of MetaWorld-X on Ray, in order, through the same commands users run.

Stages (each one the real ``mwx`` command on the budget YAML in ``tune_configs/quickstart/``):

    experts   mwx train-experts     one Tune sweep over the skills (MLflow: experiment ``experts``)
    export    mwx export-experts    best checkpoint per skill -> expert registry
    rollouts  mwx rollouts collect  composite-task episodes, experts switched by stage -> shards
    labels    mwx label             Ray Data actor pool + teacher -> parquet labels (MLflow: ``labels``)
    router    mwx train-router      router over the frozen experts, PPO + annealed KL (MLflow: ``router``)
    evaluate  mwx eval              each expert on its task, the router on the composite task, with videos
    report    mwx report            tables + figures for experts and router, logged to MLflow

Progress lives in ``<out>/quickstart_state.json``, written atomically after each finished stage: rerunning
skips finished stages and redoes an interrupted one in a fresh run folder (every stage writes to new,
timestamped folders or resumes by shard), so an interruption never corrupts the store; ``--fresh`` starts over.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mwx_ray.atomic_io import atomic_write_text
from mwx_ray.config import LoadedConfig

STATE_FILE = "quickstart_state.json"
STAGES = ("experts", "export", "rollouts", "labels", "router", "evaluate", "report")


class QuickstartError(RuntimeError):
    """A stage's command failed; the message names the stage and the command to rerun it alone."""


@dataclass
class Quickstart:
    """One quickstart run: the budget config, its output folder and the stages' recorded outputs."""

    config_path: Path
    loaded: LoadedConfig
    out: Path
    overrides: Sequence[str] = ()
    state: dict = field(default_factory=dict)

    # ---------------------------------------------------------------- paths shared by the stages
    @property
    def registry(self) -> Path:
        return self.out / "registry"

    @property
    def rollouts(self) -> Path:
        return self.out / "rollouts"

    @property
    def labels(self) -> Path:
        return self.out / "labels"

    @property
    def root(self) -> Path:
        return Path(self.loaded.config.run.root_dir)

    def sets(self) -> list[str]:
        """``--set`` arguments: the user's overrides, then the paths that tie the stages together."""
        paths = {
            "labeling.rollouts.experts_dir": self.registry, "labeling.rollouts.out_dir": self.rollouts,
            "labeling.shards_dir": self.rollouts, "labeling.out_dir": self.labels,
            "router.experts_dir": self.registry, "router.labels.dataset_dir": self.labels,
            "router.labels.shards_dir": self.rollouts,
        }
        args: list[str] = []
        for item in [*self.overrides, *(f"{key}={value}" for key, value in paths.items())]:
            args += ["--set", item]
        return args

    # ---------------------------------------------------------------- state
    def load_state(self) -> None:
        path = self.out / STATE_FILE
        self.state = json.loads(path.read_text()) if path.exists() else {"done": {}}

    def mark_done(self, stage: str, outputs: dict) -> None:
        self.state["done"][stage] = outputs
        atomic_write_text(self.out / STATE_FILE, json.dumps(self.state, indent=2, default=str))

    def outputs(self, stage: str) -> dict:
        return self.state["done"][stage]


def run_mwx(stage: str, argv: list[str]) -> None:
    """Run one ``mwx`` command in this process; a non-zero exit is a :class:`QuickstartError`."""
    from mwx_ray.cli import main  # deferred: cli imports this module's command

    print(f"\n$ mwx {' '.join(argv)}", flush=True)
    code = main(argv)
    if code != 0:
        raise QuickstartError(f"stage {stage!r} failed (exit code {code}); rerun it alone with: mwx {' '.join(argv)}")


def new_folders(parent: Path, action: Callable[[], None]) -> list[Path]:
    """Folders that ``action`` creates directly under ``parent`` (stage commands make timestamped run folders)."""
    before = set(parent.iterdir()) if parent.is_dir() else set()
    action()
    return sorted(p for p in (parent.iterdir() if parent.is_dir() else []) if p not in before and p.is_dir())


def latest_sweep_run_id(config, stage: str) -> str | None:
    """MLflow id of the newest parent run (``kind=sweep`` or the stage's single run) of ``stage``."""
    import mlflow

    from mwx_ray.tracking.store import experiment_name, tracking_uri

    client = mlflow.MlflowClient(tracking_uri=tracking_uri(config))
    experiment = client.get_experiment_by_name(experiment_name(config, stage))
    if experiment is None:
        return None
    query = "" if stage == "labels" else "tags.kind = 'sweep'"
    runs = client.search_runs([experiment.experiment_id], filter_string=query, order_by=["start_time DESC"],
                              max_results=1)
    return runs[0].info.run_id if runs else None
