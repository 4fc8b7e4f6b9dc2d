"""Episode shards: round trip without pickle, atomic index, resumable collection, label parts checks (no Ray)."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from mwx_ray.config.labeling_schema import RolloutsSection
from mwx_ray.labeling.label_parts import (
    LabelCountError,
    ProvenanceMismatchError,
    part_is_complete,
    verify_label_dataset,
    write_part,
)
from mwx_ray.labeling.rollouts import collect_rollouts
from mwx_ray.labeling.shards import INDEX_FILE, ShardFormatError, ShardIndex, read_frame_records, read_shard

TASK = "stand_walk_stand"


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    out = tmp_path_factory.mktemp("shards")
    section = RolloutsSection(policy="random", episodes=3, episodes_per_shard=2, max_steps=12, keyframe_every=4,
                              frame_size=[48, 64])
    return out, section, collect_rollouts(TASK, section, out, seed=5, progress=False)


def test_collection_writes_complete_shards_with_keyframes_and_state(collected):
    out, _section, index = collected
    assert [e["file"] for e in index.shards] == ["shard-00000.npz", "shard-00001.npz"]
    assert [e["episodes"] for e in index.shards] == [[0, 1], [2]]
    shard = read_shard(out / "shard-00000.npz")
    a = shard.arrays
    assert a["obs"].shape == (24, 51) and a["qpos"].shape == (24, 26) and a["qvel"].shape == (24, 25)
    assert a["action"].shape == (24, 19) and a["action"].dtype == np.float32
    assert a["keyframes"].shape == (6, 48, 64, 3) and a["keyframes"].dtype == np.uint8
    assert a["keyframe_row"].tolist() == [0, 4, 8, 12, 16, 20]          # every 4 steps, rows of both episodes
    assert a["step"][a["keyframe_row"]].tolist() == [0, 4, 8, 0, 4, 8]
    np.testing.assert_array_equal(a["obs"][:, :26], a["qpos"])          # obs prefix is the simulator state
    assert a["time"][1] - a["time"][0] == pytest.approx(0.02)             # 50 Hz control
    assert shard.meta["instruction"].startswith("Stand still")
    assert [s["skill"] for s in shard.meta["stages"]] == ["stand", "walk", "stand"]
    assert shard.meta["frame_rate_hz"] == pytest.approx(12.5)
    assert index.num_frames == 9 and ShardIndex.load(out).shards == index.shards
    summaries = index.episode_summaries()
    assert [s["episode_id"] for s in summaries] == [0, 1, 2] and [s["steps"] for s in summaries] == [12, 12, 12]
    assert all(s["success"] is None for s in summaries), "cut at max_steps: the task has not judged success"


def test_collection_is_reproducible_resumes_at_the_first_missing_shard_and_drops_stale_temps(collected, tmp_path):
    out, section, index = collected
    first = out / "shard-00000.npz"
    before = first.stat().st_mtime_ns
    stale = out / ".shard-00001.killed.partial.npz"  # what a collection killed mid-write leaves behind
    stale.write_bytes(b"half a shard")
    again = collect_rollouts(TASK, section, out, seed=5, progress=False)
    assert first.stat().st_mtime_ns == before and again.shards == index.shards  # nothing recollected
    assert not stale.exists()
    fresh = collect_rollouts(TASK, RolloutsSection(**{**section.__dict__, "episodes": 1, "episodes_per_shard": 1}),
                             tmp_path, seed=5, progress=False)
    np.testing.assert_array_equal(read_shard(tmp_path / "shard-00000.npz").arrays["action"][:12],
                                  read_shard(first).arrays["action"][:12])  # episode 0, seed 5, same actions
    assert fresh.num_frames == 3


def test_index_refuses_mixing_collections(collected):
    out, section, _index = collected
    with pytest.raises(ShardFormatError, match="different"):
        collect_rollouts(TASK, section, out, seed=6, progress=False)


def test_frame_records_and_corruption_errors_name_the_file(collected, tmp_path):
    out, _section, _index = collected
    records = read_frame_records(out / "shard-00000.npz", 2, 5)
    assert records["step"].tolist() == [8, 0, 4] and records["episode_id"].tolist() == [0, 1, 1]
    assert records["frame"].shape == (3, 48, 64, 3) and records["stage_skill"][0] == "stand"
    broken = tmp_path / "shard-00009.npz"
    broken.write_bytes((out / "shard-00000.npz").read_bytes()[:500])
    with pytest.raises(ShardFormatError, match="shard-00009.npz"):
        read_shard(broken)
    (tmp_path / INDEX_FILE).write_text(json.dumps({"format": "mwx-rollout-shard/1", "shards": [
        {"file": "shard-00042.npz", "episodes": [0], "steps": 1, "frames": 1, "sha256": ""}]}))
    with pytest.raises(ShardFormatError, match="shard-00042.npz"):
        ShardIndex.load(tmp_path)


def _rows(shard_records, k=3):
    n = len(shard_records["step"])
    probs = np.full((n, k), 1.0 / k, np.float32)
    return {"episode_id": shard_records["episode_id"], "step": shard_records["step"],
            "stage": shard_records["stage"], "stage_skill": shard_records["stage_skill"], "probs": probs,
            "expert": np.zeros(n, np.int64), "expert_name": np.array(["stand"] * n, dtype=object),
            "fallback": np.zeros(n, bool), "fallback_reason": np.array([""] * n, dtype=object),
            "answer": np.array(["A"] * n, dtype=object)}


def test_label_parts_are_checked_for_count_duplicates_and_provenance(collected, tmp_path):
    out, _section, index = collected
    prov = {"teacher_backend": "oracle", "prompt_hash": "abc", "frame_rate_hz": 12.5}
    experts = ["stand", "walk", "run"]
    entry0, entry1 = index.shards
    rows = _rows(read_frame_records(out / entry0["file"]))
    duplicated = {**rows, "episode_id": rows["episode_id"].copy(), "step": rows["step"].copy()}
    duplicated["episode_id"][-1], duplicated["step"][-1] = rows["episode_id"][0], rows["step"][0]
    with pytest.raises(LabelCountError, match="shard-00000.npz: 1 duplicated"):
        write_part(tmp_path, entry0, duplicated, prov, experts)
    with pytest.raises(LabelCountError, match="5 labeled frames, expected 6"):
        write_part(tmp_path, entry0, {k: v[:5] for k, v in rows.items()}, prov, experts)
    path = write_part(tmp_path, entry0, rows, prov, experts)
    table = pq.read_table(path)
    assert table.num_rows == 6 and table["teacher_backend"][0].as_py() == "oracle"
    assert table["probs"].type.list_size == 3
    assert part_is_complete(tmp_path, entry0, prov, experts)
    assert not part_is_complete(tmp_path, {**entry0, "sha256": "other"}, prov, experts)  # shard re-collected
    with pytest.raises(ProvenanceMismatchError, match="another labeling.out_dir"):
        part_is_complete(tmp_path, entry0, {**prov, "teacher_backend": "hf-vlm"}, experts)
    with pytest.raises(LabelCountError, match="shard-00001.npz: no label part"):
        verify_label_dataset(tmp_path, index)
    write_part(tmp_path, entry1, _rows(read_frame_records(out / entry1["file"])), prov, experts)
    assert verify_label_dataset(tmp_path, index) == 9


def test_labeled_states_carry_the_routers_clock_when_it_has_one(collected, tmp_path):
    """A router with ``router.time_feature`` observes ``step / T`` after the task observation; its supervision on
    a label dataset must see the same vector (the quickstart's dataset labels once failed on 51 vs 52 values)."""
    import pandas as pd

    from mwx_ray.router.labels import load_labeled_states

    shards, _section, _index = collected
    (tmp_path / "labels.json").write_text(json.dumps({"experts": ["stand", "walk"], "shards_dir": str(shards)}))
    steps = [0, 4, 8]
    pd.DataFrame({"episode_id": [0, 0, 0], "step": steps, "probs": [[0.9, 0.1]] * 3}).to_parquet(
        tmp_path / "part.parquet")
    plain = load_labeled_states(tmp_path, None, ["walk", "stand"])
    timed = load_labeled_states(tmp_path, None, ["walk", "stand"], time_feature_horizon=1000)
    assert plain.obs.shape == (3, 51) and timed.obs.shape == (3, 52)
    np.testing.assert_array_equal(timed.obs[:, :51], plain.obs)
    np.testing.assert_allclose(timed.obs[:, 51], np.asarray(steps) / 1000)
    np.testing.assert_allclose(plain.probs, [[0.1, 0.9]] * 3)  # reordered to the router's experts


def test_labeled_states_carry_the_routers_stage_indicator_from_the_stage_column(collected, tmp_path):
    """``router.stage_feature`` appends the active stage's one-hot after the clock, online and offline alike."""
    import pandas as pd

    from mwx_ray.router.labels import load_labeled_states

    shards, _section, _index = collected
    (tmp_path / "labels.json").write_text(json.dumps({"experts": ["stand", "walk"], "shards_dir": str(shards)}))
    frame = pd.DataFrame({"episode_id": [0, 0, 0], "step": [0, 4, 8], "stage": [0, 1, 2], "probs": [[0.9, 0.1]] * 3})
    frame.to_parquet(tmp_path / "part.parquet")
    staged = load_labeled_states(tmp_path, None, ["stand", "walk"], time_feature_horizon=1000, stage_feature_count=3)
    assert staged.obs.shape == (3, 55)
    np.testing.assert_array_equal(staged.obs[:, 52:], np.eye(3))
    with pytest.raises(ValueError, match="do not fit a task with 2 stages"):
        load_labeled_states(tmp_path, None, ["stand", "walk"], stage_feature_count=2)
    frame.drop(columns="stage").to_parquet(tmp_path / "part.parquet")
    with pytest.raises(ValueError, match="no 'stage' column"):
        load_labeled_states(tmp_path, None, ["stand", "walk"], stage_feature_count=3)


def test_the_stage_schedule_takes_a_skill_from_its_explicit_expert_source(tmp_path):
    """``labeling.rollouts.expert_dirs`` (as ``router.expert_dirs``): the stand stage acts with zoo:getup, not
    the zoo's stand entry, so an oracle bound measures the experts a router would route."""
    from mwx_ray.experts.registry import load_expert

    section = RolloutsSection(policy="schedule", experts_dir="zoo", expert_dirs={"stand": "zoo:getup"}, episodes=1,
                              max_steps=3, keyframe_every=10, frame_size=[48, 64])
    collect_rollouts(TASK, section, tmp_path, seed=5, progress=False)
    arrays = read_shard(tmp_path / "shard-00000.npz").arrays
    getup, stand = load_expert("zoo:getup")[0], load_expert("zoo:stand")[0]
    first_obs = arrays["obs"][0]
    np.testing.assert_allclose(arrays["action"][0], getup.act(first_obs), atol=1e-6)
    assert not np.allclose(arrays["action"][0], stand.act(first_obs), atol=1e-3)


def test_the_collect_command_names_the_reset_seeds_of_its_success_figure(tmp_path, capsys):
    """A bound is only comparable with a router evaluated on the same reset seeds, so the summary names them."""
    from mwx_ray.cli import main as mwx_main

    code = mwx_main(["rollouts", "collect", "tune_configs/router/stand_walk_stand.yaml",
                     "--set", "labeling.rollouts.policy=random", "--set", "labeling.rollouts.episodes=2",
                     "--set", "labeling.rollouts.max_steps=null", "--set", "labeling.rollouts.keyframe_every=50",
                     "--set", f"labeling.rollouts.out_dir={tmp_path}", "--set", "run.seed=40"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "all-stage success 0/2 = 0%" in out and "on reset seeds 40-41 (run.seed)" in out, out
    assert "stages completed: stand_start 0/2, walk 0/2, stand_end 0/2" in out, out  # random actions fall


def test_the_collect_command_rolls_out_a_router_config_s_own_experts(tmp_path, capsys):
    """Given a router config, the oracle schedule runs the experts its router would route (router.expert_dirs),
    so its bound is the routers' without repeating them under labeling.rollouts."""
    from mwx_ray.cli import main as mwx_main
    from mwx_ray.experts.registry import load_expert

    code = mwx_main(["rollouts", "collect", "tune_configs/router/stand_walk_stand_standrest.yaml",
                     "--set", "labeling.rollouts.experts_dir=zoo", "--set", "labeling.rollouts.episodes=1",
                     "--set", "labeling.rollouts.max_steps=3", "--set", "labeling.rollouts.keyframe_every=50",
                     "--set", f"labeling.rollouts.out_dir={tmp_path}"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "labeling.rollouts.expert_dirs: {'stand': 'zoo:standrest'} (the config's router.expert_dirs)" in out
    arrays = read_shard(tmp_path / "shard-00000.npz").arrays
    standrest = load_expert("zoo:standrest")[0]
    np.testing.assert_allclose(arrays["action"][0], standrest.act(arrays["obs"][0]), atol=1e-6)
