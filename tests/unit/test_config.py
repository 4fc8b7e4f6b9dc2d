"""Typed config: extends, overrides, and errors that name the file, the key and a suggestion."""

from pathlib import Path

import pytest

from mwx_ray.config import ConfigError, load_config

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_come_from_the_schema():
    loaded = load_config(None)
    assert loaded.config.run.seed == 0
    assert loaded.config.env.robot == "h1"
    assert loaded.config.tracking.uri is None


def test_extends_merges_bases_in_order_and_child_wins(tmp_path):
    write(tmp_path, "a.yaml", "run: {name: a, seed: 1}\nenv: {task: walk}\n")
    write(tmp_path, "b.yaml", "run: {seed: 2}\n")
    child = write(tmp_path, "sub/child.yaml", "extends: [../a.yaml, ../b.yaml]\nrun: {name: child}\n")
    cfg = load_config(child).config
    assert (cfg.run.name, cfg.run.seed, cfg.env.task.name) == ("child", 2, "walk")


def test_set_overrides_are_typed_by_the_schema(tmp_path):
    base = write(tmp_path, "base.yaml", "run: {name: x}\n")
    cfg = load_config(base, ["run.seed=7", "run.name=007", "tracking.uri=null",
                                    "env.task.imitation.alpha=3e-4"]).config
    assert cfg.run.seed == 7
    assert cfg.run.name == "007"  # a str field keeps the text
    assert cfg.tracking.uri is None
    assert cfg.env.task.imitation.alpha == pytest.approx(3e-4)  # YAML 1.2 float, not the string "3e-4"


def test_set_inside_a_free_form_section_is_yaml_data_and_the_resolved_config_saves(tmp_path):
    """Per-skill task overrides are schema-free mappings: a `--set` deep inside one is parsed as YAML there
    (it once stayed raw text and the resolved config failed to save, after the run folder was made)."""
    base = write(tmp_path, "base.yaml", "experts:\n  skills: [stand]\n  per_skill:\n"
                                        "    stand: {task: {handover_start: {expert: 'zoo:walk'}}}\n")
    loaded = load_config(base, ["experts.per_skill.stand.task.handover_start.probability=0.85",
                                "experts.per_skill.stand.task.handover_start.steps=[100, 350]"])
    task = loaded.config.experts.per_skill["stand"].task
    assert task["handover_start"] == {"expert": "zoo:walk", "probability": 0.85, "steps": [100, 350]}
    assert type(task["handover_start"]["probability"]) is float
    assert "probability: 0.85" in loaded.to_yaml()


def test_unknown_key_names_file_key_and_suggestion(tmp_path):
    write(tmp_path, "base.yaml", "run: {seed: 1}\n")
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nrun:\n  sed: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(child)
    message = str(err.value)
    assert str(child) in message and "run.sed" in message and "did you mean 'run.seed'" in message


def test_unknown_key_in_base_file_names_the_base(tmp_path):
    base = write(tmp_path, "base.yaml", "trackng: {uri: null}\n")
    child = write(tmp_path, "child.yaml", "extends: base.yaml\n")
    with pytest.raises(ConfigError, match=r"base\.yaml: trackng: unknown key \(did you mean 'tracking'\?\)"):
        load_config(child)
    assert base.exists()


def test_wrong_type_and_out_of_range_name_the_key(tmp_path):
    bad_type = write(tmp_path, "t.yaml", "run: {seed: three}\n")
    with pytest.raises(ConfigError, match=r"t\.yaml: run\.seed: expected int, got 'three'"):
        load_config(bad_type)
    bad_range = write(tmp_path, "r.yaml", "run: {seed: -1}\n")
    with pytest.raises(ConfigError, match=r"r\.yaml: run\.seed: value -1 out of range \(must be >= 0\)"):
        load_config(bad_range)
    with pytest.raises(ConfigError, match=r"--set: resources\.num_cpus: value 0 out of range"):
        load_config(None, ["resources.num_cpus=0"])


def test_bad_override_syntax_and_section_replaced_by_scalar(tmp_path):
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_config(None, ["run.seed"])
    with pytest.raises(ConfigError, match=r"run: expected a mapping"):
        load_config(write(tmp_path, "s.yaml", "run: 3\n"))


def test_missing_file_cycles_and_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    a = write(tmp_path, "a.yaml", "extends: b.yaml\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\n")
    with pytest.raises(ConfigError, match="circular extends"):
        load_config(a)
    with pytest.raises(ConfigError, match=r"y\.yaml: invalid YAML at line 3, column 1"):
        load_config(write(tmp_path, "y.yaml", "run:\n  seed: [1,\n"))


def test_resolved_yaml_round_trips(tmp_path):
    loaded = load_config(None, ["run.seed=5", "env.task=walk"])
    resolved = write(tmp_path, "resolved.yaml", loaded.to_yaml())
    again = load_config(resolved)
    assert again.as_dict() == loaded.as_dict()
    assert again.hash() == loaded.hash()
    assert load_config(None, ["run.seed=6"]).hash() != loaded.hash()


@pytest.mark.parametrize("path", sorted((REPO / "tune_configs").rglob("*.yaml")),
                         ids=lambda p: str(p.relative_to(REPO / "tune_configs")))
def test_every_shipped_config_parses_and_builds(path):
    from mwx_ray.experts.stage import validate_experts as validate_sweep
    from mwx_ray.router.stage import variant_configs

    loaded = load_config(path)
    assert loaded.config.description, f"{path} should state its purpose in `description`"
    text = path.read_text()
    assert "# Purpose:" in text and "# Command:" in text, f"{path} must state its purpose and command"
    assert validate_sweep(loaded) >= 1  # the expert sweep's Tune search space builds (no Ray runtime)
    assert variant_configs(loaded, []), "the router variants resolve"


def test_motion_prior_trains_each_skill_on_its_imitation_variant():
    from mwx_ray.tune.skill_tasks import skill_task_settings, training_task

    config = load_config(None, ["experts.motion_prior=true", "experts.skills=[stand, walk, sit]",
                                "experts.per_skill.walk.task=walk",
                                "experts.per_skill.sit.task={imitation: {w_track: 0.9}}"]).config
    experts = config.experts
    assert training_task(experts, "stand") == "stand_imitation"
    assert training_task(experts, "walk") == "walk"  # an explicit per-skill task wins
    assert training_task(experts, "sit") == "sit_simple_imitation"  # the skill registry names sit's task
    sit = skill_task_settings(experts, "sit", config.env.task)
    assert (sit.name, sit.imitation.w_track) == ("sit_simple_imitation", 0.9)
    assert training_task(load_config(None).config.experts, "stand") == "stand"


def test_initial_log_std_needs_a_free_log_std(tmp_path):
    bad = write(tmp_path, "s.yaml", "experts:\n  ppo: {log_std_init: -1.0, free_log_std: false}\n")
    with pytest.raises(ConfigError, match=r"experts\.ppo\.log_std_init: needs free_log_std: true"):
        load_config(bad)


def test_exploration_std_in_joint_units_excludes_a_normalized_log_std(tmp_path):
    bad = write(tmp_path, "s.yaml", "experts:\n  ppo: {log_std_init: -1.0, exploration_std_ctrl: 0.1}\n")
    with pytest.raises(ConfigError, match=r"s\.yaml: experts\.ppo\.exploration_std_ctrl: set either log_std_init"):
        load_config(bad)


@pytest.mark.parametrize(("schedule", "problem"), [
    ("[[0, 3.0e-4], [1000000, 3.0e-5]]", None),
    ("[[0, 3.0e-4]]", "expected two or more"),  # RLlib's Scheduler refuses one point at build time
    ("[[100, 3.0e-4], [200, 1.0e-4]]", "env steps must start at 0 and increase"),
    ("[[0, 3.0e-4], [0, 1.0e-4]]", "env steps must start at 0 and increase"),
    ("[[0, 3.0e-4], [1000, 0.0]]", r"every lr must be in \(0, 1\]"),
    ("[[0, 3.0e-4, 1], [1000, 1.0e-4]]", "expected two or more \\[env_steps, lr\\] pairs"),
])
def test_lr_schedule_is_checked_where_it_is_written(tmp_path, schedule, problem):
    path = write(tmp_path, "s.yaml", f"experts:\n  ppo: {{lr_schedule: {schedule}}}\n")
    if problem is None:
        assert load_config(path).config.experts.ppo.lr_schedule == [[0, 3.0e-4], [1000000, 3.0e-5]]
        return
    with pytest.raises(ConfigError, match=rf"s\.yaml: experts\.ppo\.lr_schedule: {problem}"):
        load_config(path)


@pytest.mark.parametrize("where", ["ppo: {lr_schedule: [[0, 3.0e-4], [1000, 1.0e-4]]}",
                                   "per_skill: {walk: {ppo: {lr_schedule: [[0, 3.0e-4], [1000, 1.0e-4]]}}}"])
def test_a_searched_lr_under_a_schedule_is_refused(tmp_path, where):
    """RLlib follows the schedule and ignores lr: every trial of the search would train alike."""
    body = f"experts:\n  skills: [walk]\n  {where}\n  search_space: {{lr: {{loguniform: [1.0e-5, 1.0e-3]}}}}\n"
    with pytest.raises(ConfigError, match=r"s\.yaml: experts\.search_space\.lr: .*lr_schedule is set"):
        load_config(write(tmp_path, "s.yaml", body))
    another_field_searched = body.replace("search_space: {lr:", "search_space: {gamma:")
    assert load_config(write(tmp_path, "t.yaml", another_field_searched)).config.experts.search_space


def test_exploration_std_in_joint_units_becomes_one_log_std_per_actuator():
    import numpy as np

    from mwx_ray.config.experts_schema import PPOSection
    from mwx_ray.envs import make_env
    from mwx_ray.experts.ppo import initial_log_std

    log_std = np.asarray(initial_log_std("mwx/h1-stand-v0", PPOSection(exploration_std_ctrl=0.1), None))
    ctrlrange = make_env("mwx/h1-stand-v0").unwrapped.model.actuator_ctrlrange
    # std in rad = e^log_std · half the ctrl range, for every one of H1's 19 position servos
    np.testing.assert_allclose(np.exp(log_std) * (ctrlrange[:, 1] - ctrlrange[:, 0]) / 2, 0.1, rtol=1e-12)
    assert log_std.shape == (19,) and log_std.min() < log_std.max()  # hip pitch (±2.8 rad) gets the least
    with pytest.raises(ValueError, match="needs an mwx H1 env"):
        initial_log_std("Pendulum-v1", PPOSection(exploration_std_ctrl=0.1), None)


def test_a_sweep_retargets_every_variant_with_sweep_set(tmp_path):
    from mwx_ray.router.stage import variant_configs

    sweep = REPO / "tune_configs" / "ablations" / "sweep_router_walk_run_walk.yaml"
    variants = variant_configs(load_config(sweep), ["router.seeds=[0, 1]"])
    assert len(variants) == 6
    for variant in variants.values():
        assert variant.config.env.task.name == "walk_run_walk"
        assert variant.config.router.experts == ["stand", "walk", "run"]
        assert variant.config.router.seeds == [0, 1]  # the command line's --set still applies, after sweep_set
    bad = write(tmp_path, "s.yaml", "router:\n  sweep_set: [walk_run_walk]\n  sweep: [x.yaml]\n")
    with pytest.raises(ConfigError, match=r"router\.sweep_set: expected KEY=VALUE"):
        load_config(bad)
