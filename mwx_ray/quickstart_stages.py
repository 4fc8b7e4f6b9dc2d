"""The quickstart's stages, in order; each calls the stage function its command uses and returns typed outputs
(paths, run ids, measured figures) for later stages and the summary (see quickstart.py)."""

from __future__ import annotations

from pathlib import Path

from mwx_ray.intervals import success_summary, wilson_interval
from mwx_ray.quickstart import Quickstart, QuickstartError, reporter


def experts(qs: Quickstart) -> dict:
    from mwx_ray.experts.stage import train_experts
    from mwx_ray.tracking.run_record import new_run_dir

    config = qs.loaded.config
    result = train_experts(qs.loaded, run_dir=new_run_dir(config.run.root_dir, "experts", config.run.name))
    if not result.ok:
        raise QuickstartError(f"stage 'experts': a trial failed (run folder {result.run_dir})")
    best = {group: round(trial.score, 1) for group, trial in result.best_per_group().items()}
    return {"experiment": result.experiment_path, "run_dir": str(result.run_dir),
            "mlflow_run_id": result.mlflow_run_id, "best_hb_return": best}


def export(qs: Quickstart) -> dict:
    from mwx_ray.experts.registry_export import export_registry

    outcome = export_registry(qs.outputs("experts")["experiment"], qs.registry)
    return {"registry": str(qs.registry), "skills": outcome.registry.skills}


def rollouts(qs: Quickstart) -> dict:
    from mwx_ray.labeling.stage import collect_stage_rollouts

    index = collect_stage_rollouts(qs.stage_config(), qs.rollouts)
    return {"shards": str(qs.rollouts), "episodes": index.num_episodes, "keyframes": index.num_frames}


def labels(qs: Quickstart) -> dict:
    from mwx_ray.labeling.stage import label_stage
    from mwx_ray.ray_runtime import check_stage_budget

    loaded = qs.stage_config()
    check_stage_budget(loaded.config, ("labeling",))
    outcome = label_stage(loaded, qs.rollouts, qs.labels)
    return {"labels": str(outcome.out_dir), "mlflow_run_id": outcome.mlflow_run_id,
            "frames": outcome.result.manifest["frames"]}


def router(qs: Quickstart) -> dict:
    from mwx_ray.ray_runtime import check_stage_budget
    from mwx_ray.router.stage import train_router

    loaded = qs.stage_config()
    check_stage_budget(loaded.config, ("router",))
    result = train_router(loaded)
    if not result.ok:
        raise QuickstartError(f"stage 'router': a trial failed (run folder {result.run_dir})")
    trial = result.trials[0]
    checkpoint = trial.last.get("artifacts/router_checkpoint")
    if not checkpoint:
        raise QuickstartError("stage 'router' produced no router checkpoint")
    return {"checkpoint": checkpoint, "run_dir": str(result.run_dir), "mlflow_run_id": result.mlflow_run_id,
            "hb_success": trial.last.get("hb/success")}


def evaluate(qs: Quickstart) -> dict:
    """Every expert on its task and the router on the composite task, deterministic, with videos."""
    from mwx_ray.envs import resolve_env_id
    from mwx_ray.experts.evaluation import evaluate_policy, expert_eval_env_kwargs
    from mwx_ray.experts.registry import ExpertRegistry
    from mwx_ray.router.checkpoint import load_router_policy, read_router_manifest, router_env_options
    from mwx_ray.router.evaluation import evaluate_router

    config = qs.loaded.config
    videos, figures = qs.out / "videos", {}
    registry = ExpertRegistry.load(qs.registry)
    for skill in registry.skills:
        policy = registry.entry(skill).load_policy()
        result = evaluate_policy(policy.act, policy.manifest["env_id"], episodes=config.experts.eval.episodes,
                                 seed=0, video_path=videos / f"expert-{skill}.mp4",
                                 env_kwargs=expert_eval_env_kwargs(policy.manifest))
        figures[f"expert {skill}"] = {"hb/return": round(result.return_mean, 1), "video": result.video_path}
    folder = qs.outputs("router")["checkpoint"]
    policy = load_router_policy(folder)
    manifest = read_router_manifest(folder)
    episodes = config.router.eval.episodes
    result = evaluate_router(policy, manifest["task_env_id"], episodes=episodes,
                             seed=0, expert_names=policy.names, video_path=videos / "router.mp4",
                             plot_path=videos / "router_weights.png",
                             env_kwargs=config.env.task.for_evaluation().env_kwargs(),
                             **router_env_options(manifest))
    metrics = result.metrics()
    successes = round(metrics["hb/success"] * episodes)
    low, high = wilson_interval(successes, episodes)
    figures["router"] = {"task": resolve_env_id(config.env.task.name), "success": metrics["hb/success"],
                         "success_ci95": [low, high], "episodes": episodes, "video": result.video_path,
                         "frame_strip": result.strip_path, "weights_plot": result.plot_path,
                         **{k: v for k, v in metrics.items() if k.startswith("stage_success/")}}
    return {"results": figures}


def report(qs: Quickstart) -> dict:
    from mwx_ray.tracking.store import tracking_uri

    make_report = reporter()
    if make_report is None:
        return {"reports": {}, "note": "no report builder installed (the `analysis` package provides it)"}
    config = qs.loaded.config
    reports = {}
    for stage in ("experts", "router"):
        target = qs.outputs(stage)["mlflow_run_id"] or stage
        out = qs.out / "reports" / stage
        make_report(tracking_uri(config), target, out, experiment_prefix=config.tracking.experiment_prefix,
                    log_to_mlflow=True)
        reports[stage] = str(out / "report.md")
    return {"reports": reports}


STAGE_FUNCTIONS = {"experts": experts, "export": export, "rollouts": rollouts, "labels": labels, "router": router,
                   "evaluate": evaluate, "report": report}


def summary_lines(qs: Quickstart, elapsed_s: dict[str, float], budget_file: Path) -> list[str]:
    done = qs.state["done"]
    config = qs.loaded.config
    lines = ["", "=" * 78, f"quickstart finished ({budget_file.name}: {config.description})", ""]
    lines += [f"  {stage:<9} {elapsed_s.get(stage, 0.0):7.0f} s" + ("" if stage in elapsed_s else "  (done before)")
              for stage in done]
    from mwx_ray.tracking.store import tracking_uri

    lines += ["", f"MLflow store: {tracking_uri(config)}"]
    for stage in ("experts", "labels", "router"):
        lines.append(f"  {stage:<8} run {done.get(stage, {}).get('mlflow_run_id') or '(not tracked)'}")
    lines += ["browse it:   mwx dashboard" + (f" --set run.root_dir={config.run.root_dir}"
                                               if config.run.root_dir != "runs" else ""), ""]
    lines.append(f"experts (best hb/return in training): {done['experts'].get('best_hb_return')}")
    lines.append(f"expert registry: {done['export']['registry']}")
    lines.append(f"router checkpoint: {done['router']['checkpoint']}")
    for name, result in done["evaluate"]["results"].items():
        if name == "router":
            wins = round(result["success"] * result["episodes"])
            lines.append(f"router on {result['task']}: all-stage success "
                         f"{success_summary(wins, result['episodes'])}; video {result['video']}")
            if result.get("frame_strip"):
                lines.append(f"frames of that episode: {result['frame_strip']}")
        else:
            lines.append(f"{name}: hb/return {result['hb/return']} (deterministic); video {result['video']}")
    for name, path in done["report"]["reports"].items():
        lines.append(f"report ({name}): {path}")
    lines.append(f"budget: {budget_file} — numbers are real at this budget; `--budget long` trains for longer")
    return lines


def output_folder(budget: str, out: str | None) -> Path:
    return Path(out) if out else Path("runs") / "quickstart" / budget
