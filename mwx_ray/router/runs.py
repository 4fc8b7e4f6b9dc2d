"""One router trial, any mode: ``router`` (PPO + supervision), ``uniform``/``single`` (no router: fixed
weights, evaluation only), ``monolithic`` (plain PPO on the composite task with the same env-step budget).

``run_trial(config, trial_dir=..., report=..., tracker=...)`` needs a running Ray for the PPO modes. It
reports flat metrics per iteration (``env_steps``, ``train/...``, ``loss/...``, ``router/...``, and on
evaluation iterations ``hb/return``, ``hb/success``, ``stage_success/<stage>``, ``eval/usage/<expert>``).
At the end of a ``router`` trial it proves the experts frozen (``check_experts_frozen``; a failure fails the
trial), writes ``frozen_check.json``, exports the Ray-free router to ``<trial_dir>/router`` and records the
final evaluation video and weights-timeline plot.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mwx_ray.atomic_io import atomic_write_text
from mwx_ray.config.schema import MwxConfig
from mwx_ray.config.typed import to_plain
from mwx_ray.router.checkpoint import save_router_checkpoint
from mwx_ray.router.evaluation import RouterEvalResult, evaluate_router
from mwx_ray.router.network import RouterPolicy
from mwx_ray.router.setup import RouterSetup, prepare_router
from mwx_ray.router.tracking import TrialTracker

# Evaluation episode i resets with seed EVAL_SEED + i in every trial and every mode (fair comparisons).
EVAL_SEED = 2_000_003
Report = Callable[[dict[str, Any]], None]


def _act_with_weights(policy: RouterPolicy):
    return policy.act_with_weights


def evaluate_policy_on_task(policy: RouterPolicy, setup: RouterSetup, *, episodes: int, artifacts: Path | None,
                            video_steps: int, max_steps: int | None, tag: str = "final") -> RouterEvalResult:
    video = artifacts / f"{tag}_episode.mp4" if artifacts else None
    plot = artifacts / f"{tag}_weights.png" if artifacts else None
    return evaluate_router(_act_with_weights(policy), setup.task_env_id, episodes=episodes, seed=EVAL_SEED,
                           env_kwargs=setup.task_settings.for_evaluation().env_kwargs(),
                           expert_names=setup.expert_names, video_path=video, video_steps=video_steps,
                           plot_path=plot, max_steps=max_steps)


def _should_stop(router, env_steps: int, iteration: int) -> bool:
    return env_steps >= router.stop.env_steps or (router.stop.max_iters is not None
                                                 and iteration >= router.stop.max_iters)


def train_router_mode(config: MwxConfig, trial_dir: Path, report: Report, tracker: TrialTracker | None
                      ) -> dict[str, Any]:
    """PPO router training (see the module docstring)."""
    from mwx_ray.router.training import (
        build_router_ppo_config,
        check_experts_frozen,
        learner_metrics,
        router_policy_from_algorithm,
        sampled_env_steps,
    )

    router = config.router
    setup = prepare_router(config)
    if tracker is not None:
        tracker.log_params({"labels.provenance": json.dumps(setup.label_source.provenance, default=str)})
    algo = build_router_ppo_config(setup, seed=config.run.seed, resources=config.resources).build_algo()
    env_steps, started, metrics = 0, time.perf_counter(), {}
    try:
        while True:
            result = algo.train()
            iteration = int(algo.training_iteration)
            env_steps += sampled_env_steps(result)
            metrics = {"env_steps": env_steps, "training_iteration": iteration, **learner_metrics(result)}
            final = _should_stop(router, env_steps, iteration)
            if final or iteration % router.eval.every_iters == 0:
                policy = router_policy_from_algorithm(algo, setup)
                evaluation = evaluate_policy_on_task(
                    policy, setup, episodes=router.eval.episodes, artifacts=trial_dir if final else None,
                    video_steps=router.eval.video_steps if router.eval.video else 0,
                    max_steps=router.eval.max_steps)
                metrics.update(evaluation.metrics())
            metrics["time/wall_s"] = time.perf_counter() - started
            if not final:
                _emit(report, tracker, metrics)
                continue
            frozen = check_experts_frozen(algo, setup)
            atomic_write_text(trial_dir / "frozen_check.json", json.dumps(frozen, indent=2) + "\n")
            checkpoint = save_router_checkpoint(
                policy, trial_dir / "router", task_env_id=setup.task_env_id, instruction_text=setup.instruction_text,
                extra={"variant": router.variant, "labels": setup.label_source.provenance, "env_steps": env_steps,
                       "frozen_check": frozen["copies_checked"]})
            metrics["router/experts_frozen"] = 1.0
            _emit(report, tracker, {**metrics, "artifacts/eval_video": evaluation.video_path or "",
                                    "artifacts/router_checkpoint": str(checkpoint)})
            _log_files(tracker, checkpoint, evaluation, trial_dir / "frozen_check.json")
            return metrics
    finally:
        algo.stop()


def fixed_weights_mode(config: MwxConfig, trial_dir: Path, report: Report, tracker: TrialTracker | None
                       ) -> dict[str, Any]:
    """No router: the uniform mixture, or every expert alone with the best one (by ``hb/return``) kept."""
    router = config.router
    setup = prepare_router(config, label_source=False)
    k = setup.experts.num_experts
    candidates = ({"uniform": [1.0 / k] * k} if router.mode == "uniform" else
                  {name: [float(i == j) for j in range(k)] for i, name in enumerate(setup.expert_names)})
    scored = {}
    for name, weights in candidates.items():
        policy = RouterPolicy(setup.experts, None, fixed_weights=weights)
        scored[name] = evaluate_policy_on_task(policy, setup, episodes=router.eval.episodes, artifacts=None,
                                               video_steps=0, max_steps=router.eval.max_steps)
    best = max(scored, key=lambda n: scored[n].metrics()["hb/return"])
    policy = RouterPolicy(setup.experts, None, fixed_weights=candidates[best])
    evaluation = evaluate_policy_on_task(policy, setup, episodes=router.eval.episodes, artifacts=trial_dir,
                                         video_steps=router.eval.video_steps if router.eval.video else 0,
                                         max_steps=router.eval.max_steps)
    metrics = {"env_steps": 0, "training_iteration": 1, **evaluation.metrics()}
    metrics.update({f"single/{name}/hb/return": r.metrics()["hb/return"] for name, r in scored.items()
                    if router.mode == "single"})
    checkpoint = save_router_checkpoint(policy, trial_dir / "router", task_env_id=setup.task_env_id,
                                        instruction_text=setup.instruction_text,
                                        extra={"variant": router.variant, "fixed": best})
    if tracker is not None:
        tracker.set_tags({"chosen_expert_mixture": best})
    _emit(report, tracker, {**metrics, "artifacts/eval_video": evaluation.video_path or "",
                            "artifacts/router_checkpoint": str(checkpoint)})
    _log_files(tracker, checkpoint, evaluation)
    return metrics


def monolithic_mode(config: MwxConfig, trial_dir: Path, report: Report, tracker: TrialTracker | None
                    ) -> dict[str, Any]:
    """The paper's baseline: one PPO policy trained directly on the composite task, same env-step budget."""
    from mwx_ray.envs import resolve_env_id
    from mwx_ray.experts.export import export_algorithm
    from mwx_ray.experts.policy import ExpertPolicy
    from mwx_ray.experts.ppo import build_ppo_config
    from mwx_ray.router.training import sampled_env_steps

    router = config.router
    env_id = resolve_env_id(config.env.task.name)
    algo = build_ppo_config(env_id, seed=config.run.seed, ppo=router.ppo, resources=config.resources,
                            env_kwargs=config.env.task.env_kwargs()).build_algo()
    env_steps, iteration, started = 0, 0, time.perf_counter()
    try:
        while True:
            result = algo.train()
            iteration = int(algo.training_iteration)
            env_steps += sampled_env_steps(result)
            metrics = {"env_steps": env_steps, "training_iteration": iteration,
                       "time/wall_s": time.perf_counter() - started}
            if _should_stop(router, env_steps, iteration):
                break
            _emit(report, tracker, metrics)
        policy = ExpertPolicy.load(export_algorithm(algo, trial_dir / "monolithic_policy"))
    finally:
        algo.stop()
    evaluation = evaluate_router(lambda obs: (policy.act(obs), None), env_id, episodes=router.eval.episodes,
                                 env_kwargs=config.env.task.for_evaluation().env_kwargs(),
                                 seed=EVAL_SEED, expert_names=[],
                                 video_path=trial_dir / "final_episode.mp4" if router.eval.video else None,
                                 video_steps=router.eval.video_steps, max_steps=router.eval.max_steps)
    metrics.update(evaluation.metrics())
    _emit(report, tracker, {**metrics, "artifacts/eval_video": evaluation.video_path or ""})
    if tracker is not None:
        tracker.log_artifact(evaluation.video_path, "videos")
        tracker.log_artifact(trial_dir / "monolithic_policy", "policy")
    return metrics


def _emit(report: Report, tracker: TrialTracker | None, metrics: dict[str, Any]) -> None:
    report(metrics)
    if tracker is not None:
        tracker.log_metrics({k: v for k, v in metrics.items() if isinstance(v, int | float)},
                            step=int(metrics.get("env_steps", 0)))


def _log_files(tracker: TrialTracker | None, checkpoint: Path, evaluation: RouterEvalResult, *extra: Path) -> None:
    if tracker is None:
        return
    tracker.log_artifact(checkpoint, "router")
    tracker.log_artifact(evaluation.video_path, "videos")
    tracker.log_artifact(evaluation.plot_path, "plots")
    for path in extra:
        tracker.log_artifact(path, "checks")


MODES = {"router": train_router_mode, "uniform": fixed_weights_mode, "single": fixed_weights_mode,
         "monolithic": monolithic_mode}


def run_trial(config: MwxConfig, *, trial_dir: str | Path, report: Report | None = None,
              tracker: TrialTracker | None = None) -> dict[str, Any]:
    """Run ``config.router.mode``; returns the final metrics. The tracker run ends FINISHED or FAILED."""
    trial_dir = Path(trial_dir)
    trial_dir.mkdir(parents=True, exist_ok=True)
    if tracker is not None:
        tracker.log_params({"router": to_plain(config.router), "env.task": config.env.task.name,
                            "env.task.settings": to_plain(config.env.task),
                            "run.seed": config.run.seed})
        tracker.set_tags({"variant": config.router.variant, "mode": config.router.mode})
    try:
        metrics = MODES[config.router.mode](config, trial_dir, report or (lambda _m: None), tracker)
    except BaseException:
        if tracker is not None:
            tracker.finish("FAILED")
        raise
    if tracker is not None:
        tracker.finish("FINISHED")
    return metrics
