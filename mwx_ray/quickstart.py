"""The quickstart pipeline: every stage of MetaWorld-X on Ray, in order, in one Ray session, as typed stage calls.

Stages (each the same function its ``mwx`` command calls; outputs travel as typed values, never as
"the newest folder" or "the newest MLflow run"):

    experts   experts.stage.train_experts           one Tune sweep over the skills (MLflow: ``experts``)
    export    experts.registry_export               best checkpoint per skill -> expert registry
    rollouts  labeling.stage.collect_stage_rollouts composite-task episodes, experts switched by stage -> shards
    labels    labeling.stage.label_stage            Ray Data actor pool + teacher -> parquet labels (MLflow: ``labels``)
    router    router.stage.train_router             router over the frozen experts, PPO + annealed KL (``router``)
    evaluate  experts.evaluation / router.evaluation each expert on its task, the router on the composite task
    report    the ``mwx_ray.reporters`` plugin      tables + figures for experts and router, logged to MLflow

Progress lives in ``<out>/quickstart_state.json``, written atomically after each finished stage: rerunning
skips finished stages and redoes an interrupted one in a fresh run folder, so an interruption never corrupts
the store; ``--fresh`` starts over. The state also records which experts the later stages routed (their source and,
for the zoo, each expert's parameter hash): when those change (another ``--experts``, an updated zoo), the
rollouts and everything after them are redone instead of reusing outputs of other experts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mwx_ray.atomic_io import atomic_write_text
from mwx_ray.config import LoadedConfig

STATE_FILE = "quickstart_state.json"
STAGES = ("experts", "export", "rollouts", "labels", "router", "evaluate", "report")
EXPERT_STAGES = ("experts", "export")  # the stages that do not depend on which experts are routed
REPORTER_GROUP = "mwx_ray.reporters"  # entry points of report builders (the `analysis` package provides one)


class QuickstartError(RuntimeError):
    """A stage failed; the message names the stage and how to continue."""


@dataclass
class Quickstart:
    """One quickstart run: the budget config, its output folder and the stages' recorded outputs."""

    loaded: LoadedConfig
    out: Path
    experts: str = "zoo"  # which experts the rollouts and the router use: "zoo" (pretrained) or "trained" (this run's)
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
    def routed_experts(self) -> str:
        """The expert source of the rollouts and the router: the zoo, or this run's exported registry."""
        return "zoo" if self.experts == "zoo" else str(self.registry)

    def routed_fingerprint(self) -> dict[str, Any]:
        """What the rollouts and the router depend on besides this run's stages: the expert source and, for the
        zoo, each expert's parameter hash (this run's trained experts are tied to its own export stage)."""
        if self.experts != "zoo":
            return {"experts": self.experts}
        from mwx_ray.experts.registry import ExpertRegistry, zoo_root

        zoo = ExpertRegistry.load(zoo_root())
        return {"experts": "zoo", "parameter_hash": {skill: zoo.entry(skill).record.get("parameter_hash")
                                                     for skill in zoo.skills}}

    def forget_routed_stages_if_changed(self) -> str | None:
        """Drop the rollouts-onwards stages when the routed experts differ from those they were made with (or were
        not recorded, as in states of older versions); returns why, for the console, or None."""
        current = self.routed_fingerprint()
        recorded = self.state.get("routed")
        self.state["routed"] = current
        if recorded == current or not set(self.state["done"]) - set(EXPERT_STAGES):
            return None
        if recorded is None:
            reason = "the experts these stages routed were not recorded (older quickstart state)"
        elif recorded["experts"] != current["experts"]:
            reason = f"experts source changed ({recorded['experts']} -> {current['experts']})"
        else:
            changed = sorted(skill for skill in set(current["parameter_hash"]) | set(recorded["parameter_hash"])
                             if recorded["parameter_hash"].get(skill) != current["parameter_hash"].get(skill))
            reason = f"zoo experts changed ({', '.join(changed)})"
        self.state["done"] = {k: v for k, v in self.state["done"].items() if k in EXPERT_STAGES}
        return reason

    def stage_config(self) -> LoadedConfig:
        """The budget config with the paths that tie the stages together set (typed, validated)."""
        return self.loaded.with_values({
            "labeling.rollouts.experts_dir": self.routed_experts, "labeling.rollouts.out_dir": str(self.rollouts),
            "labeling.shards_dir": str(self.rollouts), "labeling.out_dir": str(self.labels),
            "router.experts_dir": self.routed_experts, "router.labels.dataset_dir": str(self.labels),
            "router.labels.shards_dir": str(self.rollouts)}, source="quickstart")

    # ---------------------------------------------------------------- state
    def load_state(self) -> None:
        path = self.out / STATE_FILE
        self.state = json.loads(path.read_text()) if path.exists() else {"done": {}}

    def mark_done(self, stage: str, outputs: Mapping[str, Any]) -> None:
        self.state["done"][stage] = dict(outputs)
        atomic_write_text(self.out / STATE_FILE, json.dumps(self.state, indent=2, default=str))

    def outputs(self, stage: str) -> dict:
        return self.state["done"][stage]


def reporter():
    """The installed report builder (``make_report(uri, target, out, experiment_prefix=..., log_to_mlflow=...)``),
    found by entry point so that mwx_ray never imports ``analysis``; None if none is installed."""
    from importlib.metadata import entry_points

    found = list(entry_points(group=REPORTER_GROUP))
    return found[0].load() if found else None
