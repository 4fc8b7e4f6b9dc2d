"""Sweep specs without a Ray runtime: search spaces, stop rules, schedulers, param spaces, the expert YAMLs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, PopulationBasedTraining
from ray.tune.search.sample import Categorical, Float, Integer, LogUniform
from ray.tune.search.variant_generator import generate_variants

from mwx_ray.config import ConfigError, load_config
from mwx_ray.config.experts_schema import PPOSection
from mwx_ray.experts.param_space import build_param_space
from mwx_ray.experts.stage import validate_experts as validate_sweep
from mwx_ray.tune.schedulers import build_scheduler
from mwx_ray.tune.search_space import ppo_search_space, to_tune_space
from mwx_ray.tune.stoppers import StopRule, TrialStopper, stop_rules

REPO = Path(__file__).resolve().parents[2]
EXPERT_CONFIGS = sorted((REPO / "tune_configs" / "experts").glob("*.yaml"))
SMOKE = REPO / "tune_configs" / "experts" / "smoke.yaml"


def resolved_trials(loaded) -> list[dict]:
    """Every trial config Tune would generate (grids expanded, sample_from resolved; num_samples = 1)."""
    space, _ = build_param_space(loaded.config)
    return [config for _resolved, config in generate_variants(space)]


# ---------------------------------------------------------------- search spaces
def test_each_space_kind_becomes_the_matching_tune_domain():
    lr = to_tune_space("lr", {"loguniform": [1e-5, 1e-3]})
    assert isinstance(lr, Float) and isinstance(lr.get_sampler(), LogUniform)
    assert (lr.lower, lr.upper) == (1e-5, 1e-3)
    gamma = to_tune_space("gamma", {"uniform": [0.9, 0.99]})
    assert isinstance(gamma, Float) and (gamma.lower, gamma.upper) == (0.9, 0.99)
    epochs = to_tune_space("num_epochs", {"randint": [3, 11]})
    assert isinstance(epochs, Integer) and (epochs.lower, epochs.upper) == (3, 11)
    minibatch = to_tune_space("minibatch_size", {"choice": [128, 256]})
    assert isinstance(minibatch, Categorical) and minibatch.categories == [128, 256]
    assert to_tune_space("fcnet_hiddens", {"grid": [[64], [64, 64]]}) == {"grid_search": [[64], [64, 64]]}


@pytest.mark.parametrize(("spec", "problem"), [
    ({"normal": [0, 1]}, "unknown space kind 'normal'"),
    ([1e-4, 1e-3], "expected a one-key mapping"),
    ({"uniform": [1, 2], "choice": [1]}, "expected a one-key mapping"),
    ({"choice": []}, "non-empty list"),
    ({"uniform": [0.5]}, "needs [low, high] numbers"),
    ({"uniform": [0.9, 0.5]}, "needs low < high"),
    ({"loguniform": [0.0, 1e-3]}, "loguniform needs low > 0"),
    ({"randint": [1.5, 4]}, "randint needs integer bounds"),
])
def test_malformed_spaces_are_rejected_naming_the_key(spec, problem):
    with pytest.raises(ConfigError) as err:
        to_tune_space("experts.search_space.lr", spec)
    assert err.value.key == "experts.search_space.lr" and problem in err.value.problem


def test_search_values_are_checked_against_each_skills_ppo_bounds():
    skills = {"stand": PPOSection(), "walk": PPOSection(train_batch_size_per_learner=512, minibatch_size=128)}
    with pytest.raises(ConfigError) as err:  # gamma has le=1
        ppo_search_space({"gamma": {"uniform": [0.9, 1.5]}}, skills)
    assert err.value.key == "experts.search_space.gamma" and "1.5" in err.value.problem
    with pytest.raises(ConfigError) as err:  # valid for stand's 4000-step batch, not for walk's 512
        ppo_search_space({"minibatch_size": {"choice": [256, 1024]}}, skills)
    assert "1024" in err.value.problem and "minibatch_size" in err.value.problem
    with pytest.raises(ConfigError) as err:
        ppo_search_space({"learning_rate": {"choice": [1e-3]}}, skills)
    assert "not a PPO field" in err.value.problem and "'lr'" not in err.value.problem  # lists valid names
    # randint's upper bound is exclusive: [1, 11) only produces valid num_epochs (ge=1).
    assert isinstance(ppo_search_space({"num_epochs": {"randint": [1, 11]}}, skills)["num_epochs"], Integer)


def test_set_override_of_a_search_space_is_parsed_and_sampled(tmp_path):
    loaded = load_config(SMOKE, ["experts.search_space.lr={loguniform: [1.0e-5, 1.0e-3]}",
                                 "experts.search_space.num_epochs={grid: [1, 2]}"])
    trials = resolved_trials(loaded)
    assert len(trials) == 2 * 2  # skills x epoch grid
    assert sorted({t["ppo"]["num_epochs"] for t in trials}) == [1, 2]
    assert all(1e-5 <= t["ppo"]["lr"] <= 1e-3 for t in trials)
    assert validate_sweep(loaded) == 4


# ---------------------------------------------------------------- stop rules and the stopper
def test_stop_rule_fires_on_budget_success_bar_and_max_iters():
    rule = StopRule(env_steps=1000, success_bar=700.0, max_iters=5)
    assert rule.reason({"env_steps": 999, "training_iteration": 4}) is None
    assert "budget" in rule.reason({"env_steps": 1000})
    assert rule.reason({"env_steps": 10, "hb/return": 699.9}) is None
    assert "success bar" in rule.reason({"env_steps": 10, "hb/return": 700.0})
    assert "max_iters" in rule.reason({"env_steps": 10, "training_iteration": 5})
    assert StopRule(env_steps=1000).reason({"env_steps": 10, "hb/return": 1e9}) is None  # no bar: budget only
    assert StopRule.from_dict(rule.to_dict()) == rule


def test_stop_rules_use_humanoidbench_bars_and_per_skill_budgets():
    loaded = load_config(SMOKE, ["experts.stop.env_steps=5000", "experts.per_skill.walk.stop_env_steps=9000"])
    rules = stop_rules(loaded.config.experts)
    assert rules["stand"] == StopRule(env_steps=5000, success_bar=800.0, max_iters=2)
    assert rules["walk"] == StopRule(env_steps=9000, success_bar=700.0, max_iters=2)
    no_bar = stop_rules(load_config(SMOKE, ["experts.stop.at_success_bar=false"]).config.experts)
    assert no_bar["walk"].success_bar is None

    stopper = TrialStopper(rules)
    result = {"config": {"skill": "walk"}, "env_steps": 6000, "training_iteration": 1}
    assert not stopper(trial_id="t", result=result)  # walk's own budget is 9000
    assert stopper(trial_id="t", result={**result, "config": {"skill": "stand"}})
    assert stopper(trial_id="t", result={**result, "hb/return": 701.0})
    with pytest.raises(KeyError, match="run"):
        stopper(trial_id="t", result={**result, "config": {"skill": "run"}})


# ---------------------------------------------------------------- schedulers
def test_schedulers_by_name():
    fifo = load_config(SMOKE)
    experts = fifo.config.experts
    ppo = {skill: experts.ppo_for(skill) for skill in experts.skills}
    assert isinstance(build_scheduler(experts, ppo), FIFOScheduler)

    asha = load_config(REPO / "tune_configs/experts/sweep_asha.yaml")
    experts = asha.config.experts
    scheduler = build_scheduler(experts, {"walk": experts.ppo_for("walk")})
    assert isinstance(scheduler, ASHAScheduler)
    # max_t = ceil(3M-step budget / 8192-step batch) iterations; rungs from the 10-iteration grace period.
    assert scheduler._max_t == math.ceil(3_000_000 / 8192)
    assert [milestone for milestone, _ in scheduler._brackets[0]._rungs] == [270, 90, 30, 10]

    pbt = load_config(REPO / "tune_configs/experts/sweep_pbt.yaml")
    experts = pbt.config.experts
    scheduler = build_scheduler(experts, {"stand": experts.ppo_for("stand")})
    assert isinstance(scheduler, PopulationBasedTraining)
    assert set(scheduler._hyperparam_mutations["ppo"]) == {"lr", "clip_param", "lambda_"}
    assert scheduler._perturbation_interval == 10


@pytest.mark.parametrize(("overrides", "key", "problem"), [
    (["experts.scheduler.perturbation_interval_iters=15"], "experts.scheduler.perturbation_interval_iters",
     "multiple of checkpoint.every_iters"),
    (["experts.eval.every_iters=4"], "experts.checkpoint.every_iters", "multiple of eval.every_iters"),
    (["experts.scheduler.mutations={lr: {grid: [1.0e-4, 1.0e-3]}}"], "experts.scheduler.mutations.lr",
     "grid is not allowed"),
    (["experts.scheduler.mutations={}"], "experts.scheduler.mutations", "at least one ppo field"),
    (["experts.skills=[stand, walk]"], "experts.skills", "must train one skill"),
])
def test_pbt_misconfigurations_fail_before_training(overrides, key, problem):
    loaded = load_config(REPO / "tune_configs/experts/sweep_pbt.yaml", overrides)
    with pytest.raises(ConfigError) as err:
        validate_sweep(loaded)
    assert err.value.key == key and problem in err.value.problem


# ---------------------------------------------------------------- param space
def test_trials_are_skills_by_seeds_with_per_skill_values():
    loaded = load_config(SMOKE, ["experts.seeds=[0, 1, 2]", "experts.per_skill.walk.ppo={lr: 1.0e-4}",
                                 "experts.per_skill.walk.stop_env_steps=4096"])
    trials = resolved_trials(loaded)
    assert sorted((t["skill"], t["seed"]) for t in trials) == [(s, n) for s in ("stand", "walk") for n in (0, 1, 2)]
    for trial in trials:
        walk = trial["skill"] == "walk"
        assert trial["env_id"] == f"mwx/h1-{trial['skill']}-v0"
        assert trial["ppo"]["lr"] == (1e-4 if walk else 3e-4)
        assert trial["stop"] == {"env_steps": 4096 if walk else 512, "success_bar": 700.0 if walk else 800.0,
                                 "max_iters": 2}
        PPOSection(**trial["ppo"])  # every PPO field present, nothing extra
        assert trial["resources"]["env_runners_per_trial"] == 1 and trial["checkpoint"] == {"every_iters": 1}


def test_ablation_variants_are_a_grid_axis_each_with_its_own_task_settings():
    variants = ("{full: {}, no_rsi: {imitation: {reference_state_init: {probability: 0.0}}}, "
                "plain_reward: {imitation: {enabled: false}}}")
    loaded = load_config(SMOKE, ["experts.seeds=[0, 1]", "env.task.imitation.reference_state_init.probability=0.5",
                                 f"experts.variants={variants}"])
    trials = resolved_trials(loaded)
    assert validate_sweep(loaded) == len(trials) == 2 * 2 * 3  # skills x seeds x variants
    for trial in trials:
        imitation = trial["task"]["imitation"]
        assert imitation["reference_state_init"]["probability"] == (0.0 if trial["variant"] == "no_rsi" else 0.5)
        assert imitation["enabled"] is (trial["variant"] != "plain_reward")
        assert trial["task"]["name"] == trial["skill"]  # the skill still owns its task
    assert "variant" not in resolved_trials(load_config(SMOKE))[0]  # no variants: no axis, no tag


@pytest.mark.parametrize(("variants", "extra", "key", "problem"), [
    ("{a: {imitation: {w_track: -1}}}", [], "experts.variants.a.imitation.w_track", ">= 0"),
    ("{a: {imitation: {no_such_field: 1}}}", [], "experts.variants.a.imitation.no_such_field", "unknown"),
    ("{a: {name: run}}", [], "experts.variants.a.name", "not the task"),
    ("{a: {}}", ["experts.search_space={task.imitation.w_track: {grid: [0.3, 0.7]}}"],
     "experts.search_space.task.imitation.w_track", "varied by `variants`"),
])
def test_malformed_variants_fail_naming_the_key(variants, extra, key, problem):
    with pytest.raises(ConfigError) as err:
        load_config(SMOKE, [f"experts.variants={variants}", *extra])
    assert err.value.key == key and problem in err.value.problem


def test_an_ablation_grid_is_not_pruned_by_a_scheduler():
    loaded = load_config(SMOKE, ["experts.skills=[walk]", "experts.variants={a: {}, b: {imitation: {alpha: 1.0}}}",
                                 "experts.scheduler.name=asha"])
    with pytest.raises(ConfigError) as err:
        validate_sweep(loaded)
    assert err.value.key == "experts.scheduler.name" and "needs scheduler fifo" in err.value.problem


def test_a_field_cannot_be_both_searched_and_overridden_per_skill():
    loaded = load_config(SMOKE, ["experts.search_space={lr: {choice: [1.0e-4, 3.0e-4]}}",
                                 "experts.per_skill.walk.ppo={lr: 1.0e-4}"])
    with pytest.raises(ConfigError) as err:
        validate_sweep(loaded)
    assert err.value.key == "experts.search_space.lr" and "per_skill.walk.ppo.lr" in err.value.problem


# ---------------------------------------------------------------- the expert YAMLs
@pytest.mark.parametrize("path", EXPERT_CONFIGS, ids=lambda p: p.name)
def test_expert_yamls_state_purpose_and_build_a_sweep(path, tmp_path):
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# Purpose:") and any(line.startswith("# Command: mwx ") for line in lines[:6])
    assert any(line.startswith("extends: ") for line in lines)
    loaded = load_config(path)
    assert loaded.config.description
    assert validate_sweep(loaded) >= 1
    # `mwx resume` rebuilds the config from the saved resolved YAML: it must load back identically.
    saved = tmp_path / "mwx_sweep.yaml"
    saved.write_text(loaded.to_yaml())
    assert load_config(saved).hash() == loaded.hash()


def test_expert_yamls_cover_the_required_set():
    assert {p.name for p in EXPERT_CONFIGS} >= {"smoke.yaml", "stand.yaml", "walk.yaml", "sweep_asha.yaml",
                                                 "sweep_pbt.yaml"}
    root = load_config(REPO / "tune_configs/experts/stand.yaml")
    assert root.config.experts.ppo.vf_clip_param == 1.0e4


# ---------------------------------------------------------------- finding a sweep to resume
def test_resume_finds_the_experiment_from_run_folder_experiment_folder_or_name(tmp_path, monkeypatch):
    import json

    from mwx_ray.commands.resume import locate

    run_dir = tmp_path / "runs" / "experts" / "walk-20261121-120000"
    experiment = run_dir / "tune" / "walk"
    experiment.mkdir(parents=True)
    (experiment / "tuner.pkl").write_bytes(b"")
    (run_dir / "mwx_sweep.json").write_text(json.dumps({"experiment_path": str(experiment)}))
    (experiment / "mwx_sweep.json").write_text(json.dumps({"run_dir": str(run_dir)}))
    monkeypatch.chdir(tmp_path)  # the schema's default run.root_dir ("runs") is relative
    assert locate(str(run_dir)) == (str(experiment), run_dir)
    assert locate(str(experiment)) == (str(experiment.resolve()), run_dir)
    assert locate("walk-20261121-120000") == (str(experiment), Path("runs/experts/walk-20261121-120000"))
    with pytest.raises(FileNotFoundError, match="no Tune experiment"):
        locate("walk-19990101-000000")


def test_a_trial_requests_exactly_its_learner_and_env_runner_cpus():
    """The budget check (mwx_ray.resources) and Tune's placement group must agree, also below 1 CPU per process."""
    from mwx_ray.experts.param_space import build_param_space
    from mwx_ray.experts.trainable import trial_resources
    from mwx_ray.resources import trial_cpus

    loaded = load_config(SMOKE, ["resources.cpus_per_learner=0.5", "resources.cpus_per_env_runner=0.25",
                                 "resources.env_runners_per_trial=2"])
    space, _ = build_param_space(loaded.config)
    trial_config = next(config for _, config in generate_variants(space))
    request = trial_resources(trial_config)
    assert [bundle["CPU"] for bundle in request.bundles] == [0.5, 0.25, 0.25]
    assert sum(bundle["CPU"] for bundle in request.bundles) == trial_cpus(loaded.config) == 1.0


def test_a_trial_that_keeps_sampling_nothing_says_so_once():
    from mwx_ray.tune.trial_loop import StarvationWatch

    watch = StarvationWatch(limit=3)
    assert [watch.update(s) for s in (8192, 0, 0, 8192, 0, 0)] == [None] * 6  # gaps shorter than the limit
    message = watch.update(0)
    assert message is not None and "3 iterations in a row" in message and "max_concurrent_trials" in message
    assert watch.update(0) is None and watch.update(8192) is None  # once per trial
