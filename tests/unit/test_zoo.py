"""The shipped zoo is complete and self-describing, and a warm-started entry records where it started."""

from __future__ import annotations

import json

from mwx_ray.experts import zoo
from mwx_ray.experts.registry import ExpertRegistry, zoo_root


def test_every_shipped_entry_has_its_provenance_and_files():
    registry = ExpertRegistry.load(zoo_root())
    assert {"stand", "walk"} <= set(registry.skills)
    for skill, entry in registry.entries.items():
        record = entry.record["zoo"]
        unseen = record["unseen"]
        assert unseen["seed"] == zoo.UNSEEN_SEED and len(unseen["episode_returns"]) == unseen["episodes"] >= 10
        low, high = unseen["hb_return_ci95"]
        assert low <= unseen["hb_return_mean"] <= high, skill
        assert record["env_steps"] > 0 and record["git_sha"] and record["command"].startswith("mwx train-experts")
        names = {p.name for p in entry.folder.iterdir()}
        assert {zoo.CONFIG_FILE, zoo.CURVE_FILE, "manifest.json", "weights.safetensors"} <= names, skill


def test_a_warm_started_entry_records_its_source_as_it_was(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("experts:\n  per_skill:\n    walk:\n      init_from: zoo:stand\n")
    (tmp_path / "manifest.json").write_text(json.dumps({"experts": {"stand": {"tensors_sha256": "f00", "zoo": {
        "command": "mwx train-experts stand.yaml", "git_sha": "abc", "published_utc": "2026-12-05T12:00:00+00:00",
        "env_steps": 1000, "init_from": None, "unseen": {"hb_return_mean": 848.3}}}}}))
    lineage = zoo.init_lineage("zoo:stand", tmp_path)
    assert lineage == {"source": "zoo:stand", "command": "mwx train-experts stand.yaml", "git_sha": "abc",
                       "published_utc": "2026-12-05T12:00:00+00:00", "env_steps": 1000, "init_from": None,
                       "hb_return_unseen": 848.3, "tensors_sha256": "f00"}
    assert zoo._init_lineage_at_publish(config, "walk", tmp_path)["recorded"].startswith("at publish")
    assert zoo._init_lineage_at_publish(config, "stand", tmp_path) is None, "stand was not warm-started"


def test_a_sweep_records_the_warm_start_it_began_from():
    """The trial config carries the source entry's provenance as the sweep starts: publishing later, after that
    zoo entry was replaced, still names the expert the trial really started from."""
    from mwx_ray.config import load_config
    from mwx_ray.experts.param_space import warm_start_lineages

    experts = load_config(None, ["experts.skills=[stand,walk]", "experts.per_skill.walk.init_from=zoo:stand"]
                          ).config.experts
    lineages = warm_start_lineages(experts)
    shipped = ExpertRegistry.load(zoo_root()).entry("stand").record
    assert lineages["stand"] is None
    assert lineages["walk"]["source"] == "zoo:stand"
    assert lineages["walk"]["tensors_sha256"] == shipped["tensors_sha256"]
    assert lineages["walk"]["env_steps"] == shipped["zoo"]["env_steps"]
