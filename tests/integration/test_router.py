"""Router over frozen experts on a real local Ray: RLlib PPO + supervision, frozen-expert proofs, MLflow.

Two tiny experts are trained by the expert pipeline (``build_ppo_config`` + ``export_algorithm``: one PPO
iteration each on ``mwx/h1-stand-v0`` and ``mwx/h1-walk-v0``), then routers train for 2 iterations on the
composite task ``stand_walk_stand`` with the hashing instruction encoder (MiniLM is exercised elsewhere).
"""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

ray = pytest.importorskip("ray")

from mwx_ray.config import load_config  # noqa: E402
from mwx_ray.config.experts_schema import PPOSection  # noqa: E402
from mwx_ray.config.schema import ResourcesSection  # noqa: E402
from mwx_ray.experts.export import export_algorithm  # noqa: E402
from mwx_ray.experts.policy import ExpertPolicy  # noqa: E402
from mwx_ray.experts.ppo import build_ppo_config  # noqa: E402
from mwx_ray.router.checkpoint import load_router_policy  # noqa: E402
from mwx_ray.router.evaluation import EpisodicPolicy  # noqa: E402
from mwx_ray.router.experts_frozen import FrozenExpertError  # noqa: E402
from mwx_ray.router.module import expert_module_id  # noqa: E402
from mwx_ray.router.setup import prepare_router  # noqa: E402
from mwx_ray.router.stage import train_router  # noqa: E402
from mwx_ray.router.training import (  # noqa: E402
    build_router_ppo_config,
    check_experts_frozen,
    router_policy_from_algorithm,
)
from mwx_ray.tune.trial_loop import FAULT_MARKER  # noqa: E402

pytestmark = pytest.mark.ray

TASK = "stand_walk_stand"
LABEL = [0.9, 0.1]  # constant supervision target over (stand, walk)
SEED = 3


@pytest.fixture(scope="module")
def experts_dir(ray_runtime, tmp_path_factory):
    root = tmp_path_factory.mktemp("experts")
    ppo = PPOSection(train_batch_size_per_learner=128, minibatch_size=64, num_epochs=1, fcnet_hiddens=[32, 32])
    local = ResourcesSection(env_runners_per_trial=0)
    for skill, seed in (("stand", 1), ("walk", 2)):
        algo = build_ppo_config(f"mwx/h1-{skill}-v0", seed=seed, ppo=ppo, resources=local).build_algo()
        algo.train()
        export_algorithm(algo, root / skill)
        algo.stop()
    return root


def router_config(experts_dir, tmp_path, *overrides):
    return load_config("tune_configs/router/smoke.yaml", [
        f"router.experts_dir={experts_dir}", f"run.root_dir={tmp_path}", f"run.seed={SEED}",
        "router.labels.source=constant", f"router.labels.constant={LABEL}",
        "router.ppo.lr=0.003", "router.ppo.minibatch_size=64", "router.ppo.num_epochs=4",
        "router.eval.video_steps=20", "router.eval.max_steps=40", *overrides]).config


def visited_observations(n: int = 60, *, time_feature: bool = False, stage_feature: bool = False) -> np.ndarray:
    """Router observations ``[n, 51 (+1 clock) (+3 stages)]`` from a zero-action rollout (states the router really
    sees early on; ``router.time_feature`` / ``router.stage_feature`` append their entries as in training)."""
    import mwx_ray.envs  # noqa: F401
    from mwx_ray.router.transitions import wrap_router_env

    env = wrap_router_env(gym.make(f"mwx/h1-{TASK}-v0"), time_feature=time_feature, stage_feature=stage_feature)
    obs, _ = env.reset(seed=0)
    rows = []
    for _ in range(n):
        rows.append(obs)
        obs, _, terminated, truncated, _ = env.step(np.zeros(env.action_space.shape, np.float32))
        if terminated or truncated:
            obs, _ = env.reset(seed=1)
    env.close()
    return np.asarray(rows)


def train_and_read_weights(config, *, supervision_step: int = 0, iterations: int = 2):
    """Train ``iterations`` router iterations; returns (mean weights on visited states ``[K]``, algo, setup)."""
    setup = prepare_router(config)
    algo = build_router_ppo_config(setup, seed=config.run.seed, resources=config.resources).build_algo()
    if supervision_step:
        algo.learner_group.foreach_learner(lambda learner: learner.set_supervision_step(supervision_step))
    for _ in range(iterations):
        algo.train()
    policy = router_policy_from_algorithm(algo, setup)
    observations = visited_observations(time_feature=config.router.time_feature,
                                        stage_feature=config.router.stage_feature)
    weights = policy.weights(torch.as_tensor(observations)).mean(0).numpy()
    return weights, algo, setup


@pytest.fixture(scope="module")
def pure_rl_weights(experts_dir, tmp_path_factory):
    config = router_config(experts_dir, tmp_path_factory.mktemp("pure"), "router.supervision.lambda0=0.0")
    weights, algo, _setup = train_and_read_weights(config)
    algo.stop()
    return weights


def router_stage_config(experts_dir, tmp_path, *overrides):
    return load_config("tune_configs/router/smoke.yaml", [
        f"router.experts_dir={experts_dir}", f"run.root_dir={tmp_path}", f"run.seed={SEED}",
        f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}", "router.labels.source=constant",
        f"router.labels.constant={LABEL}", "router.ppo.lr=0.003", "router.ppo.minibatch_size=64",
        "router.ppo.num_epochs=4", "router.eval.video_steps=20", "router.eval.max_steps=40", *overrides])


def test_router_stage_trains_logs_everything_and_proves_experts_frozen(experts_dir, tmp_path):
    registry_hashes = {s: ExpertPolicy.load(experts_dir / s).parameter_hash() for s in ("stand", "walk")}
    # Trained soft, evaluated and saved top-1 (router.eval.gating): the argmax deployment of a soft router.
    loaded = router_stage_config(experts_dir, tmp_path, "router.supervision.lambda0=20.0", "router.eval.gating=hard")
    result = train_router(loaded, run_dir=tmp_path / "run")
    assert result.ok and result.stage == "router" and result.mlflow_run_id
    (trial,) = result.trials
    metrics = trial.last
    assert (trial.group, trial.seed, trial.status) == ("full", 0, "finished")
    assert metrics["training_iteration"] == 2 and metrics["env_steps"] == 512
    for key in ("loss/policy", "loss/vf", "loss/total", "router/lambda", "router/kl", "router/entropy",
                "router/supervision_loss", "router/usage/stand", "router/usage/walk", "router/top1/stand",
                "hb/return", "hb/success", "stage_success/walk", "eval/usage/stand"):
        assert key in metrics, key
    eta = loaded.config.router.supervision.eta
    assert metrics["router/lambda"] == pytest.approx(20.0 * eta)  # λ(1) = λ0·η on the second iteration
    assert 0 < metrics["router/entropy"] <= np.log(2) + 1e-6
    assert metrics["router/usage/stand"] + metrics["router/usage/walk"] == pytest.approx(1.0, abs=1e-5)

    # Frozen means proven: the end-of-run check passed, and the folders on disk are untouched.
    trial_dir = tmp_path / "run" / "trials" / "full-seed0"
    frozen = json.loads((trial_dir / "frozen_check.json").read_text())
    assert frozen["ok"] and frozen["registry"] == registry_hashes
    assert set(frozen["copies_checked"]) == {"learner_0", "env_runner_0"}
    assert {s: ExpertPolicy.load(experts_dir / s).parameter_hash() for s in registry_hashes} == registry_hashes

    # The Ray-free checkpoint reloads with the same experts and routes like the trained module did.
    assert metrics["artifacts/router_checkpoint"] == str(trial_dir / "router")
    manifest = json.loads((trial_dir / "router" / "router.json").read_text())
    assert (manifest["gating"], manifest["trained_gating"]) == ("hard", "soft")
    policy = load_router_policy(trial_dir / "router", gating="soft")  # `mwx eval --gating soft`
    assert policy.names == ["stand", "walk"]
    obs = np.random.default_rng(0).normal(size=(4, policy.network.obs_mean.shape[0])).astype(np.float32)
    soft = policy.weights(torch.from_numpy(obs)).numpy()
    hard = load_router_policy(trial_dir / "router").weights(torch.from_numpy(obs)).numpy()
    np.testing.assert_array_equal(hard, np.eye(2)[soft.argmax(axis=1)])
    held = load_router_policy(trial_dir / "router", switch_hold_steps=3)  # `mwx eval --switch-hold 3`
    assert held.switch_hold is not None and held.switch_hold.hold_steps == 3
    assert isinstance(held, EpisodicPolicy)  # so the evaluation begins each of its episodes
    np.testing.assert_array_equal(held.weights(torch.from_numpy(obs[:1])).numpy(), hard[:1])  # the first acts at once
    assert (trial_dir / "final_weights.png").stat().st_size > 0
    assert (trial_dir / "final_episode.mp4").stat().st_size > 0

    import mlflow

    client = mlflow.MlflowClient(result.tracking_uri)
    (child,) = client.search_runs([client.get_run(result.mlflow_run_id).info.experiment_id],
                                  filter_string=f"tags.mlflow.parentRunId = '{result.mlflow_run_id}'")
    assert child.info.status == "FINISHED"
    assert (child.data.tags["variant"], child.data.tags["mode"]) == ("full", "router")
    assert child.data.params["env.task.name"] == TASK and child.data.params["run.seed"] == "0"
    for key in ("router/lambda", "router/kl", "router/entropy", "router/usage/walk", "loss/policy"):
        assert key in child.data.metrics, key
    history = client.get_metric_history(child.info.run_id, "router/lambda")
    assert sorted(m.value for m in history) == pytest.approx([20.0 * eta, 20.0])
    assert {a.path for a in client.list_artifacts(child.info.run_id)} >= {"router", "videos", "plots", "checks"}


def test_crashed_router_trial_resumes_from_its_checkpoint(experts_dir, tmp_path):
    loaded = router_stage_config(experts_dir, tmp_path, "router.stop.max_iters=3", "router.stop.env_steps=768",
                                 "router.time_feature=true", "router.transitions.action_smoothing=0.5",
                                 "router.checkpoint_every_iters=1", "router.max_failures=1", "router.eval.video=false")
    result = train_router(loaded, run_dir=tmp_path / "run", param_overrides={"fail_at_iteration": 2})
    (trial,) = result.trials
    assert result.ok and trial.status == "finished"
    rows = [json.loads(line) for line in (Path(trial.path) / "result.json").read_text().splitlines() if line]
    assert (Path(trial.path) / FAULT_MARKER).is_file(), "the fault fired"
    # Iteration 1 was checkpointed, iteration 2 crashed; the retry restored iteration 1 and went on from there.
    # (Tune may rewrite result.json when it restores a trial, so the first run's row can be gone.)
    restarts = [r["training_iteration"] for r in rows if r["iterations_since_restore"] == 1]
    assert restarts in ([1, 2], [2])
    assert [r["env_steps"] for r in rows][-2:] == [512, 768]
    assert trial.last["training_iteration"] == 3


def test_large_lambda_pulls_router_weights_to_the_label(experts_dir, tmp_path, pure_rl_weights):
    config = router_config(experts_dir, tmp_path, "router.supervision.lambda0=50.0", "router.supervision.eta=1.0")
    weights, algo, setup = train_and_read_weights(config)
    try:
        check_experts_frozen(algo, setup)
    finally:
        algo.stop()
    # Starts at ~uniform (tiny last layer): the KL term moved the router most of the way to [0.9, 0.1] ...
    assert weights[0] > 0.8, weights
    # ... which PPO alone, on the same seed and budget, does not do.
    assert abs(pure_rl_weights[0] - 0.5) < 0.15, pure_rl_weights


def test_decayed_lambda_has_no_effect_on_training(experts_dir, tmp_path, pure_rl_weights):
    # λ(t) = 50 · 0.01^10 = 5e-19 from the first update on: the run must match pure RL (λ0 = 0) on the same seed.
    config = router_config(experts_dir, tmp_path, "router.supervision.lambda0=50.0", "router.supervision.eta=0.01")
    weights, algo, _setup = train_and_read_weights(config, supervision_step=10)
    algo.stop()
    np.testing.assert_allclose(weights, pure_rl_weights, rtol=0, atol=1e-5)
    assert abs(weights[0] - 0.5) < 0.15


def test_frozen_check_detects_a_modified_expert(experts_dir, tmp_path):
    config = router_config(experts_dir, tmp_path)
    setup = prepare_router(config)
    algo = build_router_ppo_config(setup, seed=SEED, resources=config.resources).build_algo()
    try:
        check_experts_frozen(algo, setup)

        def nudge_normalizer(learner):
            policy = learner.module[expert_module_id("walk")].policy
            with torch.no_grad():
                policy.obs_mean[0] += 1e-12  # far below float32 resolution of the obs: only a hash sees it

        algo.learner_group.foreach_learner(nudge_normalizer)
        with pytest.raises(FrozenExpertError, match="learner_0/walk"):
            check_experts_frozen(algo, setup)
    finally:
        algo.stop()
