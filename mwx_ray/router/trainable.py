"""The Tune function trainable of one router trial, any mode, on the shared trial loop (``tune/trial_loop.py``).

Modes (``router.mode``):
- ``router``: PPO + annealed label supervision over the frozen experts. On its final iteration it proves the
  experts frozen (``check_experts_frozen``; a failure fails the trial), writes ``frozen_check.json`` and exports the
  Ray-free router (``<trial folder>/router``), with the final evaluation video and weights-timeline plot.
- ``monolithic``: plain PPO on the composite task with the same env-step budget (the paper's baseline); exports
  its policy as an expert folder (``<trial folder>/monolithic_policy``).
- ``uniform`` / ``single``: no training; the uniform mixture, or every expert alone with the best kept, evaluated
  once.
Router and monolithic trials checkpoint every ``router.checkpoint_every_iters`` iterations and resume from the
last checkpoint after a crash (``max_failures``) or ``mwx resume``, like expert trials.

Trial config (``router/stage.py``): ``variant``, ``seed``, ``configs`` (``{variant: resolved YAML}``),
``output_dir``, ``plugins``; optional ``fail_at_iteration`` (test hook).
Reports flat metrics: ``env_steps``, ``train/...``, ``loss/...``, ``router/...``, and on evaluation iterations
``hb/return``, ``hb/success``, ``stage_success/<stage>``, ``eval/usage/<expert>``, ``transition/...``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from ray import tune

from mwx_ray.atomic_io import atomic_write_text
from mwx_ray.config import load_config
from mwx_ray.config.schema import MwxConfig
from mwx_ray.config.task_schema import TaskSection
from mwx_ray.envs.plugins import import_plugins
from mwx_ray.router.checkpoint import save_router_checkpoint
from mwx_ray.router.evaluation import RouterEvalResult, evaluate_router
from mwx_ray.router.network import RouterPolicy
from mwx_ray.router.setup import RouterSetup, prepare_router
from mwx_ray.tune.stoppers import StopRule
from mwx_ray.tune.trial_loop import run_trial_loop

# Evaluation episode i resets with seed EVAL_SEED + i in every trial and every mode (fair comparisons).
EVAL_SEED = 2_000_003


def trial_config_of(trial_config: dict[str, Any]) -> MwxConfig:
    """The variant's resolved config, with ``run.seed`` = the trial's seed."""
    from mwx_ray.experts.env_registration import quiet_known_deprecations

    quiet_known_deprecations()
    import_plugins(trial_config.get("plugins", ()))
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        handle.write(trial_config["configs"][trial_config["variant"]])
    try:
        return load_config(handle.name, [f"run.seed={int(trial_config['seed'])}"]).config
    finally:
        Path(handle.name).unlink()


def evaluate_on_task(policy, task: TaskSection, *, expert_names: list[str], episodes: int,
                     artifacts: Path | None, video_steps: int, max_steps: int | None,
                     setup: RouterSetup | None = None) -> RouterEvalResult:
    """Deterministic evaluation on the composite task (``EVAL_SEED``), optionally with video and weights plot."""
    from mwx_ray.envs import resolve_env_id

    env_id = resolve_env_id(task.name)
    video = artifacts / "final_episode.mp4" if artifacts and video_steps else None
    plot = artifacts / "final_weights.png" if artifacts and expert_names else None
    return evaluate_router(policy, env_id, episodes=episodes, seed=EVAL_SEED, expert_names=expert_names,
                           video_path=video, video_steps=video_steps, plot_path=plot, max_steps=max_steps,
                           env_kwargs=task.for_evaluation().env_kwargs(),
                           **(setup.env_options() if setup is not None else {}))


class RouterHooks:
    """The router mode's part of the trial loop (``mwx_ray.tune.trial_loop.TrialHooks``)."""

    def __init__(self, config: MwxConfig, setup: RouterSetup, trial_dir: Path):
        self.config, self.setup, self.trial_dir = config, setup, trial_dir

    def _policy(self, algo) -> RouterPolicy:
        from mwx_ray.router.training import router_policy_from_algorithm

        return router_policy_from_algorithm(algo, self.setup, gating=self.config.router.eval.gating)

    def _evaluate(self, algo, artifacts: Path | None) -> RouterEvalResult:
        ev = self.config.router.eval
        return evaluate_on_task(self._policy(algo), self.setup.task_settings,
                                expert_names=self.setup.expert_names,
                                episodes=ev.episodes, artifacts=artifacts,
                                video_steps=ev.video_steps if ev.video else 0, max_steps=ev.max_steps,
                                setup=self.setup)

    def evaluate(self, algo) -> dict[str, Any]:
        return self._evaluate(algo, None).metrics()

    def iteration_metrics(self, algo, result) -> dict[str, Any]:
        from mwx_ray.router.training import learner_metrics

        return learner_metrics(result)

    def extra_state(self, algo) -> dict[str, Any]:
        return {}

    def after_restore(self, algo, state) -> None:
        return None

    def finalize(self, algo, metrics) -> dict[str, Any]:
        from mwx_ray.router.training import check_experts_frozen

        frozen = check_experts_frozen(algo, self.setup)
        frozen_file = self.trial_dir / "frozen_check.json"
        atomic_write_text(frozen_file, json.dumps(frozen, indent=2) + "\n")
        evaluation = self._evaluate(algo, self.trial_dir)
        checkpoint = save_router_checkpoint(
            self._policy(algo), self.trial_dir / "router", task_env_id=self.setup.task_env_id,
            instruction_text=self.setup.instruction_text,
            extra={"variant": self.config.router.variant, "trained_gating": self.config.router.gating.kind,
                   "labels": self.setup.label_source.provenance,
                   "env_steps": int(metrics.get("env_steps", 0)), "frozen_check": frozen["copies_checked"],
                   **self.setup.env_options()})
        return {"router/experts_frozen": 1.0, "artifacts/frozen_check": str(frozen_file),
                "artifacts/router_checkpoint": str(checkpoint), **_artifacts(evaluation)}


class MonolithicHooks:
    """The monolithic baseline's part of the trial loop: plain PPO, evaluated and exported like an expert."""

    def __init__(self, config: MwxConfig, env_id: str, trial_dir: Path):
        self.config, self.env_id, self.trial_dir = config, env_id, trial_dir

    def _evaluate(self, algo, artifacts: Path | None) -> RouterEvalResult:
        from mwx_ray.experts.export import export_algorithm
        from mwx_ray.experts.policy import ExpertPolicy

        with tempfile.TemporaryDirectory(prefix="mwx_mono_") as tmp:
            policy = ExpertPolicy.load(export_algorithm(algo, tmp))
        ev = self.config.router.eval
        return evaluate_on_task(lambda obs: (policy.act(obs), None), self.config.env.task, expert_names=[],
                                episodes=ev.episodes, artifacts=artifacts,
                                video_steps=ev.video_steps if ev.video else 0, max_steps=ev.max_steps)

    def evaluate(self, algo) -> dict[str, Any]:
        return self._evaluate(algo, None).metrics()

    def iteration_metrics(self, algo, result) -> dict[str, Any]:
        return {}

    def extra_state(self, algo) -> dict[str, Any]:
        return {}

    def after_restore(self, algo, state) -> None:
        return None

    def finalize(self, algo, metrics) -> dict[str, Any]:
        from mwx_ray.experts.export import export_algorithm

        folder = export_algorithm(algo, self.trial_dir / "monolithic_policy")
        return {"artifacts/policy": str(folder), **_artifacts(self._evaluate(algo, self.trial_dir))}


def _artifacts(evaluation: RouterEvalResult) -> dict[str, str]:
    out = {}
    if evaluation.video_path:
        out["artifacts/eval_video"] = evaluation.video_path
    if evaluation.plot_path:
        out["artifacts/weights_plot"] = evaluation.plot_path
    if evaluation.strip_path:
        out["artifacts/frame_strip"] = evaluation.strip_path
    return out


def fixed_weights_trial(config: MwxConfig, trial_dir: Path) -> None:
    """No router: the uniform mixture, or every expert alone with the best one (by ``hb/success``, then
    ``hb/return``) kept; one evaluation, one report."""
    router = config.router
    setup = prepare_router(config, label_source=False)
    k = setup.experts.num_experts
    candidates = ({"uniform": [1.0 / k] * k} if router.mode == "uniform" else
                  {name: [float(i == j) for j in range(k)] for i, name in enumerate(setup.expert_names)})
    ev = router.eval
    scored = {}
    for name, weights in candidates.items():
        policy = RouterPolicy(setup.experts, None, fixed_weights=weights)
        scored[name] = evaluate_on_task(policy, setup.task_settings,
                                        expert_names=setup.expert_names, episodes=ev.episodes, artifacts=None,
                                        video_steps=0, max_steps=ev.max_steps, setup=setup).metrics()
    best = max(scored, key=lambda n: (scored[n]["hb/success"], scored[n]["hb/return"]))
    policy = RouterPolicy(setup.experts, None, fixed_weights=candidates[best])
    evaluation = evaluate_on_task(policy, setup.task_settings, expert_names=setup.expert_names,
                                  episodes=ev.episodes, artifacts=trial_dir,
                                  video_steps=ev.video_steps if ev.video else 0, max_steps=ev.max_steps, setup=setup)
    checkpoint = save_router_checkpoint(policy, trial_dir / "router", task_env_id=setup.task_env_id,
                                        instruction_text=setup.instruction_text,
                                        extra={"variant": router.variant, "fixed": best,
                                               **setup.env_options()})
    metrics = {"env_steps": 0, "training_iteration": 1, **evaluation.metrics(), "tags/chosen_expert_mixture": best,
               "artifacts/router_checkpoint": str(checkpoint), **_artifacts(evaluation)}
    if router.mode == "single":
        metrics.update({f"single/{name}/hb/return": m["hb/return"] for name, m in scored.items()})
        metrics.update({f"single/{name}/hb/success": m["hb/success"] for name, m in scored.items()})
    tune.report(metrics)


def router_trial(trial_config: dict[str, Any]) -> None:
    """Tune function trainable: rebuild the variant's config and run its mode."""
    config = trial_config_of(trial_config)
    router = config.router
    trial_dir = Path(trial_config["output_dir"]) / f"{router.variant}-seed{config.run.seed}"
    trial_dir.mkdir(parents=True, exist_ok=True)
    if router.mode in ("uniform", "single"):
        fixed_weights_trial(config, trial_dir)
        return
    rule = StopRule(env_steps=router.stop.env_steps, max_iters=router.stop.max_iters)
    if router.mode == "router":
        from mwx_ray.router.training import build_router_ppo_config

        setup = prepare_router(config)
        algo = build_router_ppo_config(setup, seed=config.run.seed, resources=config.resources,
                                       plugins=config.run.plugins).build_algo()
        hooks: Any = RouterHooks(config, setup, trial_dir)
    else:
        from mwx_ray.envs import resolve_env_id
        from mwx_ray.experts.ppo import build_ppo_config

        env_id = resolve_env_id(config.env.task.name)
        algo = build_ppo_config(env_id, seed=config.run.seed, ppo=router.ppo, resources=config.resources,
                                env_kwargs=config.env.task.env_kwargs(), plugins=config.run.plugins).build_algo()
        hooks = MonolithicHooks(config, env_id, trial_dir)
    run_trial_loop(algo, hooks, rule, eval_every=router.eval.every_iters,
                   checkpoint_every=router.checkpoint_every_iters,
                   fail_at_iteration=trial_config.get("fail_at_iteration"))
