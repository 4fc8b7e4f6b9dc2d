"""The quickstart's stages, in order; each returns what later stages and the summary need (see quickstart.py)."""

from __future__ import annotations

import json
from pathlib import Path

from mwx_ray.quickstart import Quickstart, QuickstartError, latest_sweep_run_id, new_folders, run_mwx


def experts(qs: Quickstart) -> dict:
    cfg = str(qs.config_path)
    folders = new_folders(qs.root / "experts", lambda: run_mwx("experts", ["train-experts", cfg, *qs.sets()]))
    records = [f / "mwx_sweep.json" for f in folders if (f / "mwx_sweep.json").exists()]
    if not records:
        raise QuickstartError("stage 'experts' left no sweep record (mwx_sweep.json) in a new run folder")
    experiment = json.loads(records[-1].read_text())["experiment_path"]
    return {"experiment": experiment, "mlflow_run_id": latest_sweep_run_id(qs.loaded.config, "experts")}


def export(qs: Quickstart) -> dict:
    run_mwx("export", ["export-experts", qs.outputs("experts")["experiment"], "--out", str(qs.registry)])
    return {"registry": str(qs.registry)}


def rollouts(qs: Quickstart) -> dict:
    run_mwx("rollouts", ["rollouts", "collect", str(qs.config_path), *qs.sets()])
    return {"shards": str(qs.rollouts)}


def labels(qs: Quickstart) -> dict:
    run_mwx("labels", ["label", str(qs.config_path), *qs.sets()])
    return {"labels": str(qs.labels), "mlflow_run_id": latest_sweep_run_id(qs.loaded.config, "labels")}


def router(qs: Quickstart) -> dict:
    cfg = str(qs.config_path)
    folders = new_folders(qs.root / "router", lambda: run_mwx("router", ["train-router", cfg, *qs.sets()]))
    checkpoints = sorted(p.parent for folder in folders for p in folder.rglob("router.json"))
    if not checkpoints:
        raise QuickstartError("stage 'router' produced no router checkpoint (router.json)")
    return {"checkpoint": str(checkpoints[-1]), "mlflow_run_id": latest_sweep_run_id(qs.loaded.config, "router")}


def evaluate(qs: Quickstart) -> dict:
    config = qs.loaded.config
    videos = qs.out / "videos"
    episodes = str(config.experts.eval.episodes)
    results = {}
    for skill in config.experts.skills:
        video = videos / f"expert-{skill}.mp4"
        run_mwx("evaluate", ["eval", f"{qs.registry}:{skill}", "--episodes", episodes, "--video", str(video)])
        results[f"expert {skill}"] = str(video)
    video = videos / "router.mp4"
    run_mwx("evaluate", ["eval", qs.outputs("router")["checkpoint"], "--episodes",
                         str(config.router.eval.episodes), "--video", str(video)])
    results["router"] = str(video)
    return {"videos": results}


def report(qs: Quickstart) -> dict:
    reports = {}
    for stage in ("experts", "router"):
        parent = qs.outputs(stage)["mlflow_run_id"]
        out = qs.out / "reports" / stage
        run_mwx("report", ["report", parent or stage, "--config", str(qs.config_path), "--out", str(out),
                           *qs.sets()])
        reports[stage] = str(out / "report.md")
    return {"reports": reports}


STAGE_FUNCTIONS = {"experts": experts, "export": export, "rollouts": rollouts, "labels": labels, "router": router,
                   "evaluate": evaluate, "report": report}


def summary_lines(qs: Quickstart, elapsed_s: dict[str, float]) -> list[str]:
    done = qs.state["done"]
    config = qs.loaded.config
    lines = ["", "=" * 78, f"quickstart finished ({qs.config_path.name}: {config.description})", ""]
    lines += [f"  {stage:<9} {elapsed_s.get(stage, 0.0):7.0f} s" + ("" if stage in elapsed_s else "  (done before)")
              for stage in done]
    from mwx_ray.tracking.store import tracking_uri

    lines += ["", f"MLflow store: {tracking_uri(config)}"]
    for stage in ("experts", "labels", "router"):
        run_id = done.get(stage, {}).get("mlflow_run_id")
        lines.append(f"  {stage:<8} run {run_id or '(not found)'}")
    lines += ["browse it:   mwx dashboard" + (f" --set run.root_dir={config.run.root_dir}"
                                               if config.run.root_dir != "runs" else ""), ""]
    lines.append(f"expert registry: {done['export']['registry']}")
    lines.append(f"router checkpoint: {done['router']['checkpoint']}")
    for name, video in done["evaluate"]["videos"].items():
        lines.append(f"video ({name}): {video}")
    for name, path in done["report"]["reports"].items():
        lines.append(f"report ({name}): {path}")
    lines.append(f"budget: {qs.config_path} — numbers are real at this budget; `--budget long` trains for longer")
    return lines


def output_folder(budget: str, out: str | None) -> Path:
    return Path(out) if out else Path("runs") / "quickstart" / budget
