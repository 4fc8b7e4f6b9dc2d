"""Adding a skill = one registry entry (in a module named in ``run.plugins``) + one YAML: no other edit.

``tests/integration/skill_plugin.py`` registers the ``squat`` skill (its own task, the built-in squat motion, a
composite task ``stand_then_squat``). Here a real Tune sweep trains stand + squat experts on their imitation
variants in Ray workers that import the plugin, the registry export records the plugin, ``mwx eval`` evaluates
the squat expert on its HumanoidBench-style task, and a real router run routes between the two on the composite
task with oracle labels that name the new skill.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from mwx_ray.cli import main as mwx_main  # noqa: E402
from mwx_ray.config import load_config  # noqa: E402
from mwx_ray.experts.registry import ExpertRegistry  # noqa: E402
from mwx_ray.experts.registry_export import export_registry  # noqa: E402
from mwx_ray.experts.stage import train_experts  # noqa: E402
from mwx_ray.router.stage import train_router  # noqa: E402

pytestmark = pytest.mark.ray

REPO = Path(__file__).resolve().parents[2]
PLUGIN = "tests.integration.skill_plugin"
TINY = ["resources.env_runners_per_trial=0", "resources.envs_per_env_runner=1", "resources.num_cpus=2",
        "experts.ppo.train_batch_size_per_learner=256", "experts.ppo.minibatch_size=128", "experts.ppo.num_epochs=1",
        "experts.ppo.fcnet_hiddens=[32, 32]", "experts.eval.video=false", "experts.stop.max_iters=2",
        "experts.stop.env_steps=512", "experts.eval.every_iters=1", "experts.checkpoint.every_iters=1",
        "resources.cpus_per_learner=1.0"]


def test_a_plugin_skill_trains_evaluates_and_routes_with_no_other_edit(ray_runtime, tmp_path, capsys):
    common = [f"run.root_dir={tmp_path}", f"tracking.uri=sqlite:///{tmp_path}/mlflow.db", f"run.plugins=[{PLUGIN}]"]
    experts = load_config(REPO / "tune_configs" / "experts" / "smoke.yaml",
                          [*common, *TINY, "experts.skills=[stand, squat]", "experts.motion_prior=true"])
    result = train_experts(experts)
    assert result.ok and {t.group for t in result.trials} == {"stand", "squat"}
    squat = next(t for t in result.trials if t.group == "squat")
    assert squat.config["env_id"] == "mwx/h1-squat_imitation-v0" and squat.config["plugins"] == [PLUGIN]
    assert squat.config["stop"]["success_bar"] == 700.0  # the plugin task's bar, through the skill registry
    assert "hb/return" in squat.best and "reward_terms/track" in squat.best

    registry = tmp_path / "registry"
    export_registry(result.experiment_path, registry, log_to_mlflow=False)
    manifest = ExpertRegistry.load(registry).entry("squat").load_policy().manifest
    assert manifest["plugins"] == [PLUGIN] and manifest["task"]["name"] == "squat_imitation"

    assert mwx_main(["eval", f"{registry}:squat", "--episodes", "1", "--no-video"]) == 0
    out = capsys.readouterr().out
    assert "on mwx/h1-squat_imitation-v0" in out and "return" in out

    router = load_config(REPO / "tune_configs" / "router" / "smoke.yaml", [
        *common, f"router.experts_dir={registry}", "router.experts=[stand, squat]", "env.task=stand_then_squat",
        "router.labels.source=oracle", "router.eval.video=false", "router.eval.max_steps=60"])
    routed = train_router(router)
    (trial,) = routed.trials
    assert routed.ok and trial.status == "finished"
    assert {"stage_success/stand", "stage_success/squat", "router/usage/squat", "eval/usage/squat"} <= set(trial.last)
