"""analysis/ on a real MLflow store populated here the way the stages log (parent sweep + child trials with
step histories, tags, params, an artifact): loaders, tables against the logged numbers, published rows, the
report folder and its MLflow artifacts, and the `mwx report` / `mwx dashboard --print-url-only` commands."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from analysis import at_budget, loaders, plots, published, report, schema, tables
from mwx_ray.cli import main

STEPS = [4000, 8000, 12000, 16000]
# Evaluation hb/return per seed at STEPS. Walk bar 700: seed 0 reaches it at 12000, seed 1 at 8000, seed 2 never.
WALK_RETURNS = {0: [100.0, 400.0, 710.0, 750.0], 1: [200.0, 705.0, 720.0, 790.0], 2: [50.0, 90.0, 300.0, 420.0]}
WALK_WALL_S = {0: 61.0, 1: 59.0, 2: 66.0}
STAND_RETURNS = {0: [300.0, 500.0, 810.0, 820.0], 1: [250.0, 450.0, 600.0, 640.0]}  # bar 800 from the registry
RESOURCES = {"resources.cpus_per_learner": "1.0", "resources.env_runners_per_trial": "1",
             "resources.cpus_per_env_runner": "1.0", "resources.gpus_per_learner": "0.0"}
# Router ablation sweep, tagged as mwx_ray/router writes it: tags variant + mode, params run.seed + env.task.name.
ABLATION_RETURNS = {"full": {0: [300.0, 600.0], 1: [320.0, 640.0]},
                    "no_labels": {0: [200.0, 400.0], 1: [180.0, 380.0]}}
USAGE = {"full": [(0.5, 0.5), (0.8, 0.2)], "no_labels": [(0.5, 0.5), (0.6, 0.4)]}  # (walk, stand) per step
STAGE_SUCCESS = {"full": {0: (1.0, 1.0), 1: (1.0, 0.0)}, "no_labels": {0: (1.0, 0.0), 1: (0.0, 0.0)}}


def _log(client, run_id, series: dict[str, list[float]], steps: list[int]) -> None:
    metrics = [Metric(key, value, 1_700_000_000_000 + step, step)
               for key, values in series.items() for step, value in zip(steps, values, strict=True)]
    client.log_batch(run_id, metrics=metrics)


def _experiment(client, name, root: Path) -> str:
    return client.create_experiment(name, artifact_location=(root / "mlartifacts").as_uri())


def _parent(client, experiment_id, stage, name) -> str:
    run = client.create_run(experiment_id, run_name=name, tags={"stage": stage, "kind": "sweep",
                                                                 "git_sha": "abc123", "config_hash": "cfg1"})
    client.log_batch(run.info.run_id, params=[Param("experts.skills", '["walk", "stand"]')])
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def _child(client, experiment_id, parent, stage, name, tags, params) -> str:
    all_tags = {"stage": stage, "kind": "trial", "mlflow.parentRunId": parent, "git_sha": "abc123",
                "config_hash": "cfg1", "version.mlflow": "3.17.2", **tags}
    run = client.create_run(experiment_id, run_name=name, tags=all_tags)
    client.log_batch(run.info.run_id, params=[Param(k, v) for k, v in params.items()],
                     tags=[RunTag("trial_id", name)])
    return run.info.run_id


def populate(root: Path) -> dict:
    """Experiments experts / ablations / labels as the stages write them; returns the ids."""
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    ids = {"uri": uri, "walk": {}, "stand": {}, "ablation": {}}
    experts = _experiment(client, "experts", root)
    ids["experts"] = experts
    ids["experts_parent"] = parent = _parent(client, experts, "experts", "sweep-1")
    for seed, returns in WALK_RETURNS.items():
        run_id = _child(client, experts, parent, "experts", f"walk-seed{seed}",
                        {"skill": "walk", "seed": str(seed), "env_id": "mwx/h1-walk-v0"},
                        {"stop.success_bar": "700.0", "ppo.lr": "0.0003", **RESOURCES})
        _log(client, run_id, {
            "hb/return": returns, "hb/success": [float(r >= 700) for r in returns],
            "hb/return_std": [5.0] * 4, "env_steps": [float(s) for s in STEPS],
            "time/wall_s": list(np.linspace(WALK_WALL_S[seed] / 4, WALK_WALL_S[seed], 4)),
            "perf/env_steps_per_s": [250.0] * 4, "train/episode_return_mean": [r * 1.5 for r in returns],
            "reward_terms/standing": [0.5, 0.7, 0.9, 0.95], "reward_terms/move": [0.1, 0.3, 0.6, 0.7 + seed / 10],
        }, STEPS)
        video = root / f"eval_video_{seed}.mp4"
        video.write_bytes(b"\x00\x00\x00\x18ftypmp42")
        client.log_artifact(run_id, str(video), "videos")
        client.set_terminated(run_id)
        ids["walk"][seed] = run_id
    for seed, returns in STAND_RETURNS.items():
        run_id = _child(client, experts, parent, "experts", f"stand-seed{seed}",
                        {"skill": "stand", "seed": str(seed), "env_id": "mwx/h1-stand-v0"},
                        {"stop.success_bar": "null", **RESOURCES})
        _log(client, run_id, {"hb/return": returns, "hb/success": [float(r >= 800) for r in returns],
                              "time/wall_s": [10.0, 20.0, 30.0, 40.0]}, STEPS)
        client.set_terminated(run_id)
        ids["stand"][seed] = run_id

    ablations = _experiment(client, "ablations", root)
    ids["ablations"] = ablations
    ids["ablations_parent"] = parent = _parent(client, ablations, "ablations", "router-ablation")
    for variant, seeds in ABLATION_RETURNS.items():
        for seed, returns in seeds.items():
            run_id = _child(client, ablations, parent, "ablations", f"{variant}-seed{seed}",
                            {"variant": variant, "mode": "router"},
                            {"run.seed": str(seed), "env.task.name": "walk_to_chair_sit"})
            walk, stand = zip(*USAGE[variant], strict=True)
            entropy = [-(w * math.log(w) + s * math.log(s)) for w, s in USAGE[variant]]
            reach_walk, reach_sit = STAGE_SUCCESS[variant][seed]
            _log(client, run_id, {"hb/return": returns, "router/usage/walk": list(walk),
                                  "router/usage/stand": list(stand), "router/entropy": entropy,
                                  "stage_success/walk": [0.0, reach_walk], "stage_success/sit": [0.0, reach_sit],
                                  "transition/fall_rate": [0.0, 0.5 * seed]},
                 [5000, 10000])
            client.set_terminated(run_id)
            ids["ablation"][(variant, seed)] = run_id

    ids["labels"] = labels = _experiment(client, "labels", root)
    run = client.create_run(labels, run_name="label-1", tags={"stage": "labels"})
    client.log_batch(run.info.run_id, metrics=[Metric("labels/frames", 120, 0, 0),
                                               Metric("labels/fallback_rate", 0.025, 0, 0)])
    ids["labels_run"] = run.info.run_id
    return ids


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow_store")
    return root, populate(root)


@pytest.fixture(scope="module")
def experts_study(store):
    _, ids = store
    return loaders.load_study(ids["uri"], ids["experts_parent"])


def test_load_runs_is_one_row_per_run_with_params_tags_and_derived_columns(store):
    _, ids = store
    client = MlflowClient(tracking_uri=ids["uri"])
    runs = loaders.load_runs(client, [ids["experts"]], [ids["experts_parent"]])
    assert len(runs) == 6 and runs["run_id"].is_unique
    walk0 = runs.set_index("run_id").loc[ids["walk"][0]]
    assert walk0["kind"] == "trial" and walk0["parent_run_id"] == ids["experts_parent"]
    assert (walk0["task"], walk0["skill"], walk0["seed"], walk0["stage"]) == ("h1-walk", "walk", 0, "experts")
    assert walk0["params.ppo.lr"] == "0.0003" and walk0["tags.git_sha"] == "abc123"
    assert walk0["metrics.hb/return"] == WALK_RETURNS[0][-1]
    assert walk0["method"] == schema.DEFAULT_METHOD_BY_STAGE["experts"]
    assert walk0["hardware"] == "2 CPU + 0 GPU per trial"  # learner 1 CPU + 1 env runner x 1 CPU
    parent = runs.set_index("run_id").loc[ids["experts_parent"]]
    assert parent["kind"] == "sweep" and pd.isna(parent["parent_run_id"])
    everything = loaders.load_runs(client, [ids["experts"], ids["ablations"]])
    assert len(everything) == 6 + 5
    labels = loaders.load_runs(client, [ids["labels"]])  # untagged kind, no parent, no children
    assert labels["kind"].tolist() == ["run"] and labels["stage"].tolist() == ["labels"]


def test_metric_histories_hold_every_logged_point_against_env_steps(store):
    _, ids = store
    client = MlflowClient(tracking_uri=ids["uri"])
    runs = loaders.load_runs(client, [ids["experts"]], [ids["experts_parent"]])
    history = loaders.load_metric_histories(client, runs, ["hb/return", "reward_terms/"])
    assert list(history.columns) == loaders.HISTORY_COLUMNS
    assert set(history["key"]) == {"hb/return", "reward_terms/standing", "reward_terms/move"}
    walk1 = history[(history["run_id"] == ids["walk"][1]) & (history["key"] == "hb/return")]
    assert walk1["step"].tolist() == STEPS and walk1["value"].tolist() == WALK_RETURNS[1]
    assert str(walk1["timestamp"].dt.tz) == "UTC"
    assert len(loaders.load_metric_histories(client, runs)) > len(history)  # keys=None: every metric


def test_resolve_target_by_experiment_name_parent_id_or_child_id(store):
    _, ids = store
    client = MlflowClient(tracking_uri=ids["uri"])
    by_name = loaders.resolve_target(client, "experts")
    assert by_name.experiment_ids == (ids["experts"],) and by_name.parent_run_ids == ()
    assert loaders.resolve_target(client, "erts", experiment_prefix="exp").experiment_names == ("experts",)
    assert loaders.resolve_target(client, ids["experts_parent"]).parent_run_ids == (ids["experts_parent"],)
    by_child = loaders.resolve_target(client, ids["walk"][2])
    assert by_child.parent_run_ids == (ids["experts_parent"],) and by_child.label == "sweep-1"
    with pytest.raises(LookupError, match="ablations"):
        loaders.resolve_target(client, "no-such-thing")


def test_several_sweeps_make_one_study(store, tmp_path):
    _, ids = store
    client = MlflowClient(tracking_uri=ids["uri"])
    both = loaders.resolve_targets(client, [ids["experts_parent"], ids["walk"][1], ids["ablations_parent"]])
    assert both.parent_run_ids == (ids["experts_parent"], ids["ablations_parent"]), "a trial names its sweep once"
    assert both.experiment_names == ("experts", "ablations") and both.label == "sweep-1+router-ablation"
    study = loaders.load_study(ids["uri"], [ids["experts_parent"], ids["ablations_parent"]])
    one = [len(loaders.load_study(ids["uri"], parent).runs) for parent in (ids["experts_parent"], ids["ablations_parent"])]
    assert len(study.runs) == sum(one) and set(study.runs["experiment"]) == {"experts", "ablations"}
    with pytest.raises(LookupError, match=r"\['experts'\] name whole experiments"):
        loaders.resolve_targets(client, [ids["ablations_parent"], "experts"])
    # A saved study keeps both sweeps; exports written before several sweeps existed (one parent_run_id) still load.
    from analysis.study_export import STUDY_FILE, load_study_export, save_study

    folder = save_study(study, tmp_path / "export")
    assert load_study_export(folder).target == study.target
    meta = json.loads((folder / STUDY_FILE).read_text())
    meta["target"].pop("parent_run_ids")
    meta["target"]["parent_run_id"] = ids["experts_parent"]
    (folder / STUDY_FILE).write_text(json.dumps(meta))
    assert load_study_export(folder).target.parent_run_ids == (ids["experts_parent"],)


def test_results_table_numbers_match_the_logged_metrics(experts_study):
    summary = tables.run_summary(experts_study.runs, experts_study.histories)
    results = tables.results_table(summary).set_index("task")
    walk = results.loc["h1-walk"]
    finals = [returns[-1] for returns in WALK_RETURNS.values()]
    assert walk["n_seeds"] == 3
    assert walk["return_mean"] == pytest.approx(np.mean(finals))
    assert walk["return_std"] == pytest.approx(np.std(finals, ddof=1))
    assert walk["success_rate"] == pytest.approx(2 / 3)  # seeds 0 and 1 end above 700
    assert walk["steps_to_success_bar_mean"] == pytest.approx((12000 + 8000) / 2)
    assert walk["seeds_reaching_bar"] == "2/3"
    assert walk["wall_clock_s_mean"] == pytest.approx(np.mean(list(WALK_WALL_S.values())))
    assert walk["env_steps_mean"] == STEPS[-1] and walk["hardware"] == "2 CPU + 0 GPU per trial"
    stand = results.loc["h1-stand"]  # no bar param ("null"): the registry's HumanoidBench bar, 800
    assert stand["steps_to_success_bar_mean"] == 12000 and stand["seeds_reaching_bar"] == "1/2"
    assert stand["return_mean"] == pytest.approx(np.mean([820.0, 640.0]))
    assert set(results["source"]) == {schema.MEASURED_SOURCE}


def test_comparison_puts_labeled_published_rows_beside_the_measured_ones(experts_study):
    results = tables.results_table(tables.run_summary(experts_study.runs, experts_study.histories))
    table = tables.comparison_table(results)
    assert set(table["skill"]) == {"walk", "stand"}
    published_rows = table[table["source"] != schema.MEASURED_SOURCE]
    assert set(published_rows["source"]) == {published.HUMANOIDBENCH_SOURCE, published.METAWORLDX_SOURCE,
                                             published.SIMBAV2_SOURCE}
    assert published_rows["reference"].str.contains("arXiv").all()
    td_mpc2_1m = published_rows[(published_rows["task"] == "h1-walk") & (published_rows["method"] == "TD-MPC2")
                                & (published_rows["env_steps"] == 1_000_000)]
    assert td_mpc2_1m[["return_mean", "return_std"]].iloc[0].tolist() == [806, 4]
    walk_rows = table[table["skill"] == "walk"]
    assert walk_rows["source"].iloc[0] == schema.MEASURED_SOURCE  # measured first, then published


def test_published_data_is_transcribed_and_labeled():
    claims = published.metaworldx_skill_claims().set_index(["skill", "method"])
    assert claims.loc[("run", "MetaWorld-X"), "return_mean"] == 2056.9
    assert claims.loc[("run", "MetaWorld-X"), "metric"] == published.TRACKING_RETURN  # not hb/return
    assert claims.loc[("sit", "TD-MPC2"), "success_rate"] == 0.4
    for frame in (published.humanoidbench_baselines(), published.one_million_step_results(),
                  published.metaworldx_skill_claims(),
                  published.metaworldx_complex_tasks(), published.metaworldx_door_ablation()):
        assert frame["source"].str.startswith("published (").all()
        assert frame["reference"].str.contains(r"arXiv \d{4}\.\d{5}").all()
    points = published.published_curve_points("walk")
    assert set(points["source"]) == {published.HUMANOIDBENCH_SOURCE} and len(points) == 14
    assert set(published.published_curve_points("sit_simple")["method"]) == {"SimbaV2", "TD-MPC2"}  # at 1M steps


def test_ablation_router_and_stage_tables_group_by_ablation_key(store):
    _, ids = store
    study = loaders.load_study(ids["uri"], "ablations")
    summary = tables.run_summary(study.runs, study.histories)
    assert summary["seed"].tolist() == [0, 1, 0, 1] and set(summary["task"]) == {"h1-walk_to_chair_sit"}
    ablation = tables.ablation_table(summary).set_index("ablation")
    assert set(ablation.index) == {"variant=full", "variant=no_labels"}
    assert ablation.loc["variant=no_labels", "return_mean"] == pytest.approx(390.0)
    assert ablation.loc["variant=no_labels", "return_delta_vs_baseline"] == pytest.approx(390.0 - 620.0)
    assert ablation.loc["variant=full", "return_std"] == pytest.approx(np.std([600, 640], ddof=1))
    assert len(tables.results_table(summary)) == 2  # one row per (task, method, variant)
    usage = tables.router_usage_table(study.runs, study.histories).set_index(["group", "expert"])
    assert usage.loc[("mwx_ray router [variant=full]", "walk"), "mean"] == pytest.approx(0.8)
    assert usage.loc[("mwx_ray router [variant=no_labels]", "(entropy)"), "mean"] == pytest.approx(
        -(0.6 * math.log(0.6) + 0.4 * math.log(0.4)))
    stages = tables.stage_success_table(study.runs, study.histories).set_index(["group", "stage"])
    assert stages.loc[("mwx_ray router [variant=full]", "sit"), "mean"] == pytest.approx(0.5)
    assert stages.loc[("mwx_ray router [variant=no_labels]", "walk"), "n_runs"] == 2


def test_ablation_tags_and_router_modes_label_runs(store):
    """``ablation=<v>`` / ``ablation.<key>=<v>`` tags (any stage) and router modes (baselines) as methods."""
    _, ids = store
    client = MlflowClient(tracking_uri=ids["uri"])
    experiment = client.create_experiment("tagged-ablations")
    for tags, final in (({"ablation": "none"}, 500.0), ({"ablation": "no_vlm", "ablation.imitation": "off"}, 350.0),
                        ({"mode": "uniform"}, 200.0)):
        run = client.create_run(experiment, tags={"env_id": "mwx/h1-walk-v0", **tags})
        client.log_batch(run.info.run_id, metrics=[Metric("hb/return", final, 0, 1000)])
    study = loaders.load_study(ids["uri"], "tagged-ablations")
    assert set(study.runs["ablation"].dropna()) == {"ablation=none", "ablation=no_vlm, ablation.imitation=off"}
    assert "uniform expert mixture (no router)" in set(study.runs["method"])
    ablation = tables.ablation_table(tables.run_summary(study.runs, study.histories)).set_index("ablation")
    assert ablation.loc["ablation=no_vlm, ablation.imitation=off", "return_delta_vs_baseline"] == -150.0


def test_ablation_returns_are_read_at_fixed_budgets_over_the_seeds_that_trained_that_far(store):
    """The walk-tricks table: hb/return at 1M and 2M env steps per variant, mean and 95% t-interval over seeds;
    a trial that stopped before a budget is not read at an earlier point."""
    _, ids = store
    client = MlflowClient(tracking_uri=ids["uri"])
    experiment = client.create_experiment("walk-tricks")
    steps = [500_000, 990_000, 1_500_000, 1_990_000]
    curves = {("full", 0): [100, 600, 700, 760], ("full", 1): [100, 620, 720, 780], ("full", 2): [80, 580, 690, 750],
              ("no_reference_state_init", 0): [50, 300, 400, 500],
              ("no_reference_state_init", 1): [50, 330]}  # stopped (crashed) after 990k
    for (variant, seed), values in curves.items():
        run = client.create_run(experiment, tags={"env_id": "mwx/h1-walk_imitation-v0", "variant": variant,
                                                  "seed": str(seed)})
        _log(client, run.info.run_id, {"hb/return": [float(v) for v in values]}, steps[:len(values)])
    study = loaders.load_study(ids["uri"], "walk-tricks")
    table = at_budget.returns_at_budgets(tables.run_summary(study.runs, study.histories), study.histories)
    table = table.set_index("ablation")
    full, ablated = table.loc["variant=full"], table.loc["variant=no_reference_state_init"]
    mean, low, high = 600.0, *(600.0 + sign * 4.302652729911275 * 20.0 / math.sqrt(3) for sign in (-1, 1))
    assert (full["return_1M_mean"], full["return_1M_ci_low"], full["return_1M_ci_high"]) == pytest.approx(
        (mean, low, high), rel=1e-4)  # mwx_ray.intervals tabulates t to 4 significant digits
    assert full["return_2M_mean"] == pytest.approx(763.333, abs=1e-3) and full["n_2M"] == "3/3"
    assert ablated["return_1M_mean"] == pytest.approx(315.0) and ablated["n_1M"] == "2/2"
    # Paired by seed against the full recipe: differences -300 and -290, t = -59 on 1 degree of freedom, where
    # Student's t is the Cauchy distribution: p = (2/pi) atan(1/59).
    assert ablated["diff_1M_vs_full"] == pytest.approx(-295.0)
    assert ablated["p_1M_vs_full"] == pytest.approx(2 / math.pi * math.atan(1 / 59), rel=1e-6)
    assert math.isnan(ablated["diff_2M_vs_full"]) and math.isnan(full["diff_1M_vs_full"])  # one shared seed; itself
    assert ablated["return_2M_mean"] == pytest.approx(500.0) and ablated["n_2M"] == "1/2"
    assert math.isnan(ablated["return_2M_ci_low"])  # one seed: no interval
    shown = at_budget.with_intervals(table.reset_index()).set_index("ablation")
    assert shown.loc["variant=full", "hb/return at 1M (95% CI), seeds"] == f"600 ({low:.0f}–{high:.0f}), 3/3"
    assert shown.loc["variant=no_reference_state_init", "hb/return at 2M (95% CI), seeds"] == "500, 1/2"
    assert shown.loc["variant=no_reference_state_init", "vs full at 1M: mean paired difference (p)"] == (
        "-295 (p = 0.011, significant)")
    assert shown.loc["variant=full", "vs full at 2M: mean paired difference (p)"] == "–"
    assert at_budget.budget_label(500_000) == "500k" and at_budget.budget_label(2_000_000) == "2M"


def test_seed_band_is_mean_with_student_t_interval_and_no_extrapolation():
    curves = [(np.array([0, 10]), np.array([1.0, 1.0])), (np.array([0, 10]), np.array([2.0, 2.0])),
              (np.array([0, 10, 20]), np.array([3.0, 3.0, 3.0]))]
    band = plots.seed_band(curves).set_index("step")
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, df=2) * std 1 / sqrt(3)
    assert band.loc[10, "mean"] == pytest.approx(2.0) and band.loc[10, "high"] - 2.0 == pytest.approx(half)
    assert band.loc[20, "n"] == 1 and band.loc[20, "low"] == band.loc[20, "high"] == 3.0


def test_seed_band_counts_seeds_that_stop_a_few_steps_apart_at_the_same_end():
    # Three seeds stopped at a 300k budget, their last batches ending 4 and 24 env steps apart.
    ends = [303_261, 303_265, 303_285]
    curves = [(np.array([40_000, end]), np.array([800.0, final])) for end, final in zip(ends, [915.0, 850.0, 525.0],
                                                                                       strict=True)]
    band = plots.seed_band(curves).set_index("step")
    assert (band["n"] == 3).all(), "no tail where the mean is one seed's value"
    assert band.loc[303_285, "mean"] == pytest.approx((915 + 850 + 525) / 3, abs=0.1)
    far = plots.seed_band([(np.array([0, 100_000]), np.array([1.0, 1.0])), (np.array([0, 300_000]), np.array([2.0, 2.0]))])
    assert far.set_index("step").loc[300_000, "n"] == 1, "a seed that stopped much earlier is not extended"


def test_report_writes_every_table_and_figure_and_logs_them_to_the_parent_run(store, tmp_path):
    _, ids = store
    outcome = report.make_report(ids["uri"], ids["experts_parent"], tmp_path / "experts-report")
    folder = outcome.folder
    expected_tables = {"results", "comparison_with_published", "ablations", "ablations_at_budget", "stage_success",
                       "router_usage",
                       "reward_terms", "labels", "run_summary", "runs", "published_humanoidbench",
                       "published_metaworldx_skills", "published_metaworldx_complex_tasks",
                       "published_metaworldx_door_ablation", "published_1m_steps", "composite_success"}
    assert {p.stem for p in (folder / "tables").glob("*.csv")} == expected_tables == set(outcome.tables)
    assert {p.name for p in outcome.figures} == {f"learning_curve_{kind}h1-{skill}.png" for kind in ("", "wall_")
                                                 for skill in ("walk", "stand")}  # vs env steps and wall clock
    for figure in outcome.figures:
        assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and figure.stat().st_size > 10_000
    markdown = (folder / "report.md").read_text()
    for name in expected_tables:
        assert f"tables/{name}.csv" in markdown
    for figure in outcome.figures:
        assert f"figures/{figure.name}" in markdown
    results = pd.read_csv(folder / "tables" / "results.csv").set_index("task")
    assert results.loc["h1-walk", "return_mean"] == pytest.approx(np.mean([750.0, 790.0, 420.0]))
    assert "653.33 ± 203.06" in markdown  # the same numbers, as shown to a reader
    assert "published (HumanoidBench logs)" in markdown and "published (MetaWorld-X paper claim)" in markdown
    assert not list(tmp_path.glob(".experts-report.*"))  # no partial or old folders left behind

    client = MlflowClient(tracking_uri=ids["uri"])
    assert outcome.mlflow_run_id == ids["experts_parent"]
    logged = {a.path for a in client.list_artifacts(ids["experts_parent"], "report")}
    assert {"report/report.md", "report/tables", "report/figures"} <= logged
    logged_tables = {a.path for a in client.list_artifacts(ids["experts_parent"], "report/tables")}
    assert logged_tables == {f"report/tables/{name}.csv" for name in expected_tables}
    logged_figures = {a.path for a in client.list_artifacts(ids["experts_parent"], "report/figures")}
    assert logged_figures == {f"report/figures/{p.name}" for p in outcome.figures}


def test_report_of_an_ablation_experiment_draws_router_stage_and_ablation_figures(store, tmp_path):
    _, ids = store
    study = loaders.load_study(ids["uri"], "ablations")
    first = report.write_report(study, tmp_path / "ablations")
    again = report.write_report(study, tmp_path / "ablations")  # replaces the folder atomically
    names = {p.name for p in again.figures}
    assert names == {"learning_curve_h1-walk_to_chair_sit.png", "router_usage_mwx_ray_router_variant_full.png",
                     "router_usage_mwx_ray_router_variant_no_labels.png", "stage_success.png",
                     "ablation_returns.png"} == {p.name for p in first.figures}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ablations"]
    stage = pd.read_csv(again.tables["stage_success"])
    assert len(stage) == 4 and set(stage["stage"]) == {"walk", "sit"}


def test_report_of_an_experiment_without_a_sweep_goes_to_a_report_run(store, tmp_path):
    _, ids = store
    outcome = report.make_report(ids["uri"], "labels", tmp_path / "labels")
    labels = pd.read_csv(outcome.tables["labels"])
    assert labels[["labels/frames", "labels/fallback_rate"]].iloc[0].tolist() == [120, 0.025]
    client = MlflowClient(tracking_uri=ids["uri"])
    holder = client.get_run(outcome.mlflow_run_id)
    assert holder.data.tags["kind"] == "report" and holder.info.experiment_id == ids["labels"]
    assert "report/report.md" in {a.path for a in client.list_artifacts(outcome.mlflow_run_id, "report")}


def test_mwx_report_command_writes_the_folder_and_logs_to_mlflow(store, tmp_path, capsys):
    root, ids = store  # the store is <root>/mlflow.db: where the config puts it for run.root_dir=<root>
    out = tmp_path / "out"
    assert main(["report", "experts", "--out", str(out), "--set", f"run.root_dir={root}"]) == 0
    printed = capsys.readouterr().out
    assert (out / "report.md").is_file() and "logged to MLflow run" in printed
    assert ids["experts_parent"] in printed  # the experiment's only sweep holds the report
    assert main(["report", "no-such", "--set", f"run.root_dir={root}"]) == 2
    assert "neither an MLflow experiment nor a run id" in capsys.readouterr().out
    two = tmp_path / "two"
    assert main(["report", ids["experts_parent"], ids["ablations_parent"], "--out", str(two), "--no-mlflow",
                 "--set", f"run.root_dir={root}"]) == 0
    header = (two / "report.md").read_text().split("\n\n")[1]
    assert f"`{ids['experts_parent']}`, `{ids['ablations_parent']}`" in header
    assert main(["report", str(two), "--from-export"]) == 2
    assert f"{two} holds no study export" in capsys.readouterr().out
    for parent, name in ((ids["experts_parent"], "a"), (ids["ablations_parent"], "b")):
        assert main(["report", parent, "--out", str(tmp_path / name / "report"), "--no-mlflow",
                     "--export", str(tmp_path / name / "export"), "--set", f"run.root_dir={root}"]) == 0
    merged = tmp_path / "merged"
    assert main(["report", str(tmp_path / "a" / "export"), str(tmp_path / "b" / "export"), "--from-export",
                 "--out", str(merged / "report"), "--export", str(merged / "export")]) == 0
    assert "from the exports" in capsys.readouterr().out
    merged_header = (merged / "report" / "report.md").read_text().split("\n\n")[1]
    assert f"`{ids['experts_parent']}`, `{ids['ablations_parent']}`" in merged_header
    assert (merged / "export" / "study.json").is_file()


def test_mwx_dashboard_print_url_only_names_the_project_store(tmp_path, capsys):
    assert main(["dashboard", "--print-url-only", "--port", "5123", "--set", f"run.root_dir={tmp_path}"]) == 0
    printed = capsys.readouterr().out
    assert "http://127.0.0.1:5123" in printed and f"sqlite:///{tmp_path}/mlflow.db" in printed
    assert f"--artifacts-destination {tmp_path}/mlartifacts" in printed


def test_schema_names_match_the_stages_that_write_them():
    root = Path(__file__).resolve().parents[2] / "mwx_ray"
    callback = (root / "tracking" / "sweep_callback.py").read_text()
    for literal in ('"kind": "sweep"', '"kind": "trial"', '"mlflow.parentRunId"', '"stage": self.stage',
                    '"skill", "variant", "seed", "env_id"', '"git_sha"', '"config_hash"'):
        assert literal in callback, literal
    trainable = (root / "tune" / "trial_loop.py").read_text()
    for name in (schema.METRIC_WALL_S, schema.METRIC_THROUGHPUT, schema.METRIC_TRAIN_RETURN, schema.METRIC_ENV_STEPS):
        assert f'"{name}"' in trainable, name
    router_stage = (root / "router" / "stage.py").read_text()
    for literal in (f'"{schema.TAG_VARIANT}": str(trial_config["variant"])',
                    f'"{schema.TAG_MODE}": str(config["router"]["mode"])', 'config.setdefault("run", {})["seed"]'):
        assert literal in router_stage, literal
    from mwx_ray.config import default_config
    from mwx_ray.tracking.run_values import flatten

    assert {schema.PARAM_TASK, schema.PARAM_SEED} <= set(flatten(default_config().as_dict()))
    learner = (root / "router" / "learner.py").read_text()
    assert f'"{schema.METRIC_ROUTER_ENTROPY}"' in learner and f'f"{schema.PREFIX_ROUTER_USAGE}{{name}}"' in learner
    from mwx_ray.experts.evaluation import REWARD_TERM_PREFIX
    from mwx_ray.tracking.run_values import STEP_KEY

    assert REWARD_TERM_PREFIX == schema.PREFIX_REWARD_TERMS and STEP_KEY == schema.METRIC_ENV_STEPS


def _report_text(outcome: report.ReportOutcome) -> str:
    """The report's markdown without its "generated" timestamp line."""
    text = (outcome.folder / "report.md").read_text()
    return "\n".join(line for line in text.splitlines() if "generated" not in line)


def test_a_study_export_regenerates_the_same_report_without_the_store(experts_study, tmp_path):
    from analysis.study_export import load_study_export, save_study

    direct = report.write_report(experts_study, tmp_path / "direct")
    export = save_study(experts_study, tmp_path / "export")
    again = report.write_report(load_study_export(export), tmp_path / "again")
    assert _report_text(again) == _report_text(direct)
    for name, path in direct.tables.items():
        assert (again.folder / "tables" / path.name).read_text() == path.read_text(), name


def test_exports_of_two_sweeps_make_the_report_of_both(store, tmp_path):
    """Seeds of one ablation run on two machines: each sweep's export, merged, reports as the two sweeps would
    from one store; the same sweep in two exports is refused rather than counted twice."""
    from analysis.study_export import load_study_exports, save_study

    _, ids = store
    parents = [ids["experts_parent"], ids["ablations_parent"]]
    exports = [save_study(loaders.load_study(ids["uri"], parent), tmp_path / f"export-{i}")
               for i, parent in enumerate(parents)]
    merged = load_study_exports(exports)
    together = loaders.load_study(ids["uri"], parents)
    assert merged.target == together.target
    assert sorted(merged.runs["run_id"]) == sorted(together.runs["run_id"])
    assert len(merged.histories) == len(together.histories)
    direct = report.write_report(together, tmp_path / "direct")
    again = report.write_report(merged, tmp_path / "again")
    assert _report_text(again) == _report_text(direct)
    with pytest.raises(ValueError, match="share runs"):
        load_study_exports([exports[0], exports[0]])


def test_switch_measures_of_a_run_whose_last_evaluation_had_no_switch_do_not_count():
    """MLflow keeps a metric's latest recorded value and NaN is never recorded: a run whose final evaluation had no
    stage switch still shows an earlier evaluation's fall rate, which the table must not average in."""
    from analysis import composite

    params = pd.DataFrame({"metrics.transition/switches": [2.0, 0.0], "metrics.transition/fall_rate": [0.0, 0.5],
                           "metrics.stage_success/walk": [1.0, 0.0]}, index=["a", "b"])
    cleaned = composite._without_stale_switch_measures(params)
    assert cleaned["metrics.transition/fall_rate"].tolist()[0] == 0.0
    assert math.isnan(cleaned["metrics.transition/fall_rate"]["b"])
    assert cleaned["metrics.stage_success/walk"].tolist() == [1.0, 0.0]


def test_composite_success_pools_episodes_with_wilson_intervals_and_fisher_tests(store):
    from analysis import composite

    _, ids = store
    study = loaders.load_study(ids["uri"], "ablations")
    table = composite.composite_success_table(study.runs, tables.run_summary(study.runs, study.histories))
    assert not table.empty and set(table["task"]) == {"h1-walk_to_chair_sit"}
    seeds = {seed for _variant, seed in ids["ablation"]}
    # the transition measures are averaged over seeds like the per-stage success (last value of each run)
    assert table["transition/fall_rate"].tolist() == pytest.approx([0.5 * sum(seeds) / len(seeds)] * len(table))
    for _, row in table.iterrows():
        assert row["episodes"] >= row["successes"] >= 0
        assert 0.0 <= row["success_ci95_low"] <= row["success_rate"] <= row["success_ci95_high"] <= 1.0
    low, high = composite.wilson_interval(0, 20)
    assert low == 0.0 and 0.15 < high < 0.18  # 0/20: the interval still admits ~16%
    assert composite.fisher_p(20, 20, 0, 20) < 1e-6 and composite.fisher_p(10, 20, 10, 20) == 1.0
