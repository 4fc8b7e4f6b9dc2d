"""SAC as an expert algorithm, without a Ray runtime: schema and its errors, the algorithm grid in the Tune param
space, search spaces and PBT mutations validated against the SAC section, the replay-ratio conversion RLlib
runs, and how trial configs become MLflow params."""

from __future__ import annotations

import math
import typing
from pathlib import Path

import pytest
from ray.rllib.algorithms.dqn.dqn import calculate_rr_weights
from ray.tune.schedulers import ASHAScheduler, PopulationBasedTraining
from ray.tune.search.variant_generator import generate_variants

from mwx_ray.config import ConfigError, load_config
from mwx_ray.config.experts_schema import Activation, SACSection
from mwx_ray.config.sac_schema import Activation as SACActivation
from mwx_ray.config.schema import ResourcesSection
from mwx_ray.experts.param_space import build_param_space
from mwx_ray.experts.stage import validate_experts as validate_sweep
from mwx_ray.tracking.run_values import split_trial_config
from mwx_ray.tune.schedulers import build_scheduler

REPO = Path(__file__).resolve().parents[2]
SMOKE = REPO / "tune_configs" / "experts" / "smoke.yaml"
SAC_WALK = REPO / "tune_configs" / "experts" / "sac_walk.yaml"
ABLATION = REPO / "tune_configs" / "ablations" / "expert_algorithm.yaml"


def trials(loaded) -> list[dict]:
    space, _ = build_param_space(loaded.config)
    return [config for _resolved, config in generate_variants(space)]


def config_error(path, overrides) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        validate_sweep(load_config(path, overrides))
    return err.value


# ---------------------------------------------------------------- schema
def test_sac_defaults_and_activations_match_ppo_and_the_policy():
    sac = load_config(SMOKE, ["experts.algorithm=sac"]).config.experts.sac
    assert (sac.actor_lr, sac.critic_lr, sac.tau, sac.gamma, sac.target_entropy) == (3e-4, 1e-3, 0.005, 0.99, "auto")
    assert sac.fcnet_hiddens == [256, 256] and sac.activation == "relu" and sac.replay_ratio == 1.0
    assert typing.get_args(Activation) == typing.get_args(SACActivation)
    from mwx_ray.experts.policy import _ACTIVATIONS

    assert set(typing.get_args(SACActivation)) == set(_ACTIVATIONS)


@pytest.mark.parametrize(("overrides", "key", "problem"), [
    (["experts.algorithm=sca"], "experts.algorithm", "did you mean 'sac'"),
    (["experts.algorithm=[ppo, sca]"], "experts.algorithm[1]", "did you mean 'sac'"),
    (["experts.algorithm=[sac, sac]"], "experts.algorithm", "names an algorithm twice"),
    (["experts.sac.actor_rl=1.0e-3"], "experts.sac.actor_rl", "did you mean 'experts.sac.actor_lr'"),
    (["experts.sac.tau=1.5"], "experts.sac.tau", "out of range"),
    (["experts.sac.target_entropy=high"], "experts.sac.target_entropy", "expected float or one of 'auto'"),
    (["experts.sac={n_step: 3, rollout_fragment_length: 2}"], "experts.sac.rollout_fragment_length",
     "smaller than n_step 3"),
    (["experts.sac.fusionnet_hiddens=[]"], "experts.sac.fusionnet_hiddens", "at least one positive layer size"),
    (["experts.per_skill.walk.sac={critic_lr: 2.0}"], "experts.per_skill.walk.sac.critic_lr", "out of range"),
])
def test_bad_sac_values_name_the_key_and_a_fix(overrides, key, problem):
    err = config_error(SMOKE, overrides)
    assert err.source == "--set" and err.key == key and problem in err.problem, str(err)


def test_a_typo_in_the_yaml_file_names_the_file(tmp_path):
    path = tmp_path / "sac.yaml"
    path.write_text(f"extends: {SMOKE}\nexperts:\n  algorithm: sac\n  sac:\n    replay_ration: 0.5\n")
    err = config_error(path, [])
    assert err.source == str(path) and err.key == "experts.sac.replay_ration"
    assert "did you mean 'experts.sac.replay_ratio'" in err.problem


# ---------------------------------------------------------------- param space
def test_sac_trials_carry_the_skills_sac_section_only():
    loaded = load_config(SMOKE, ["experts.algorithm=sac", "experts.per_skill.walk.sac={actor_lr: 1.0e-4}"])
    configs = trials(loaded)
    assert len(configs) == validate_sweep(loaded) == 2
    for trial in configs:
        assert trial["algorithm"] == "sac" and "ppo" not in trial
        assert trial["sac"]["actor_lr"] == (1e-4 if trial["skill"] == "walk" else 3e-4)
        SACSection(**trial["sac"])  # every SAC field present, nothing extra


def test_an_algorithm_grid_doubles_the_trials_with_the_other_section_null():
    loaded = load_config(SMOKE, ["experts.algorithm=[ppo, sac]", "experts.seeds=[0, 1]"])
    configs = trials(loaded)
    assert validate_sweep(loaded) == len(configs) == 2 * 2 * 2
    assert sorted((t["algorithm"], t["skill"], t["seed"]) for t in configs) == [
        (a, s, n) for a in ("ppo", "sac") for s in ("stand", "walk") for n in (0, 1)]
    for trial in configs:
        other = "sac" if trial["algorithm"] == "ppo" else "ppo"
        assert trial[other] is None and isinstance(trial[trial["algorithm"]], dict)
        params, _ = split_trial_config(trial, frozenset())
        assert params[other] == "null" and not any(key.startswith(f"{other}.") for key in params)
    # Same stop rule (env-step budget) for both algorithms of a skill: the comparison is at equal budgets.
    by_skill = {}
    for trial in configs:
        by_skill.setdefault(trial["skill"], set()).add(repr(trial["stop"]))
    assert all(len(rules) == 1 for rules in by_skill.values())


@pytest.mark.parametrize(("overrides", "key", "problem"), [
    (["experts.search_space={gamma: {choice: [0.99, 0.995]}}"], "experts.search_space", "fixed hyperparameters"),
    (["experts.skills=[walk]", "experts.scheduler.name=asha"], "experts.scheduler.name", "needs scheduler fifo"),
])
def test_an_algorithm_grid_is_a_fifo_comparison_without_search(overrides, key, problem):
    err = config_error(SMOKE, ["experts.algorithm=[ppo, sac]", *overrides])
    assert err.key == key and problem in err.problem


def test_search_space_is_checked_against_the_selected_algorithms_section():
    err = config_error(SMOKE, ["experts.algorithm=sac", "experts.search_space={lr: {loguniform: [1.0e-4, 1.0e-3]}}"])
    assert err.key == "experts.search_space.lr" and "not a SAC field" in err.problem and "actor_lr" in err.problem
    err = config_error(SMOKE, ["experts.algorithm=sac", "experts.search_space={tau: {uniform: [0.001, 2.0]}}"])
    assert "value 2.0 is invalid" in err.problem
    err = config_error(SMOKE, ["experts.algorithm=sac", "experts.search_space={actor_lr: {choice: [1.0e-4]}}",
                               "experts.per_skill.walk.sac={actor_lr: 1.0e-4}"])
    assert "per_skill.walk.sac.actor_lr" in err.problem
    loaded = load_config(SMOKE, ["experts.algorithm=sac", "experts.search_space={actor_lr: {grid: [1.0e-4, 3.0e-4]}}"])
    assert validate_sweep(loaded) == 4
    assert sorted({t["sac"]["actor_lr"] for t in trials(loaded)}) == [1e-4, 3e-4]
    # The same key is a PPO field under experts.algorithm: ppo, so the check really follows the algorithm.
    assert validate_sweep(load_config(SMOKE, ["experts.search_space={lr: {choice: [1.0e-4]}}"])) == 2


def test_pbt_mutates_sac_fields_under_the_sac_key():
    loaded = load_config(REPO / "tune_configs/experts/sweep_pbt.yaml", [
        "experts.algorithm=sac", "experts.scheduler.mutations={actor_lr: {loguniform: [1.0e-4, 1.0e-3]}}"])
    _, sections = build_param_space(loaded.config)
    scheduler = build_scheduler(loaded.config.experts, sections["sac"])
    assert isinstance(scheduler, PopulationBasedTraining) and set(scheduler._hyperparam_mutations) == {"sac"}
    err = config_error(REPO / "tune_configs/experts/sweep_pbt.yaml", ["experts.algorithm=sac"])  # PPO mutations
    assert err.key == "experts.scheduler.mutations.lr" and "not a SAC field" in err.problem
    trial = {"algorithm": "sac", "sac": {"actor_lr": 2e-4, "tau": 0.005}}
    params, mutable = split_trial_config(trial, frozenset({"actor_lr"}))
    assert mutable == {"actor_lr": 2e-4} and params == {"algorithm": "sac", "sac.tau": "0.005"}


def test_asha_sizes_sac_trials_by_env_steps_per_iteration():
    loaded = load_config(REPO / "tune_configs/experts/sweep_asha.yaml", [
        "experts.algorithm=sac", "experts.search_space={actor_lr: {loguniform: [1.0e-4, 1.0e-3]}}",
        "experts.sac.min_sample_timesteps_per_iteration=2000"])
    _, sections = build_param_space(loaded.config)
    scheduler = build_scheduler(loaded.config.experts, sections["sac"])
    assert isinstance(scheduler, ASHAScheduler) and scheduler._max_t == math.ceil(3_000_000 / 2000)


# ---------------------------------------------------------------- the RLlib config
@pytest.mark.parametrize(("runners", "envs", "fragment", "replay_ratio"), [
    (0, 1, 4, 1.0), (1, 1, 4, 1.0), (2, 2, 1, 0.5), (0, 4, 8, 0.25), (1, 1, 1, 0.1), (0, 1, 4, 2.0),
])
def test_replay_ratio_becomes_rllibs_round_robin_weights(runners, envs, fragment, replay_ratio):
    """RLlib's own calculate_rr_weights on the built config: updates per sample call ÷ env steps per call."""
    from mwx_ray.experts.sac import build_sac_config, steps_per_sample_call

    sac = SACSection(rollout_fragment_length=fragment, replay_ratio=replay_ratio)
    resources = ResourcesSection(env_runners_per_trial=runners, envs_per_env_runner=envs)
    config = build_sac_config("Pendulum-v1", seed=0, sac=sac, resources=resources)
    store_weight, train_weight = calculate_rr_weights(config)
    steps = steps_per_sample_call(sac, resources)
    assert steps == fragment * envs * max(runners, 1)
    wanted = replay_ratio * steps  # updates per sample call
    achieved = train_weight / store_weight
    # RLlib rounds to whole calls/updates: exact when `wanted` (or its inverse) is an integer.
    assert achieved == pytest.approx(wanted if wanted >= 1 else 1 / round(1 / wanted))


def test_sac_config_uses_our_module_catalog_buffer_and_iteration_length():
    from mwx_ray.experts.sac import SquashedModeCatalog, build_sac_config

    sac = SACSection(replay_buffer_capacity=1234, min_sample_timesteps_per_iteration=777, fusionnet_hiddens=[64])
    config = build_sac_config("Pendulum-v1", seed=3, sac=sac, resources=ResourcesSection(env_runners_per_trial=0))
    assert config.replay_buffer_config == {"type": "EpisodeReplayBuffer", "capacity": 1234}
    assert config.min_sample_timesteps_per_iteration == 777 and not config.min_time_s_per_iteration
    assert config.rl_module_spec.catalog_class is SquashedModeCatalog
    assert config.model_config["fusionnet_hiddens"] == [64] and config.model_config["free_log_std"] is False
    assert config.seed == 3 and config.lr is None and config.actor_lr == 3e-4
    prioritized = build_sac_config("Pendulum-v1", seed=3, sac=SACSection(prioritized_replay=True),
                                   resources=ResourcesSection())
    assert prioritized.replay_buffer_config["type"] == "PrioritizedEpisodeReplayBuffer"


# ---------------------------------------------------------------- shipped configs
def test_sac_walk_and_the_algorithm_ablation_build_their_sweeps():
    walk = load_config(SAC_WALK)
    assert walk.config.experts.algorithm == "sac" and walk.config.experts.motion_prior
    assert [t["env_id"] for t in trials(walk)] == ["mwx/h1-walk_imitation-v0"]
    ablation = load_config(ABLATION)
    configs = trials(ablation)
    assert sorted(t["algorithm"] for t in configs) == ["ppo", "ppo", "sac", "sac"]  # x seeds 0, 1
    assert {t["stop"]["env_steps"] for t in configs} == {ablation.config.experts.stop.env_steps}
    assert {repr(t["resources"]) for t in configs} == {repr(configs[0]["resources"])}  # same hardware budget
