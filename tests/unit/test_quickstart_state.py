"""The quickstart redoes the rollouts onwards when the experts they routed change, and only then."""

from __future__ import annotations

import pytest

from mwx_ray.config import load_config
from mwx_ray.quickstart import STAGES, Quickstart
from tune_configs import config_dir


@pytest.fixture
def finished(tmp_path) -> Quickstart:
    """A quickstart whose every stage is recorded as done, with the zoo it routed recorded."""
    qs = Quickstart(loaded=load_config(config_dir() / "quickstart" / "smoke.yaml"), out=tmp_path)
    qs.state = {"done": {stage: {} for stage in STAGES}, "routed": qs.routed_fingerprint()}
    return qs


def test_unchanged_zoo_keeps_every_stage(finished):
    assert finished.forget_routed_stages_if_changed() is None
    assert list(finished.state["done"]) == list(STAGES)
    assert set(finished.state["routed"]["parameter_hash"]) >= {"stand", "walk", "run"}


def test_a_changed_zoo_expert_redoes_the_rollouts_onwards(finished):
    finished.state["routed"]["parameter_hash"]["walk"] = "an older walker"
    assert finished.forget_routed_stages_if_changed() == "zoo experts changed (walk)"
    assert list(finished.state["done"]) == ["experts", "export"]
    assert finished.forget_routed_stages_if_changed() is None  # the new fingerprint is recorded


def test_another_expert_source_or_an_unrecorded_one_redoes_them(finished):
    finished.experts = "trained"
    assert finished.forget_routed_stages_if_changed() == "experts source changed (zoo -> trained)"
    finished.state = {"done": {stage: {} for stage in STAGES}}  # written before fingerprints were kept
    assert "not recorded" in finished.forget_routed_stages_if_changed()
    assert list(finished.state["done"]) == ["experts", "export"]


def test_nothing_to_redo_before_the_routed_stages_ran(finished):
    finished.state = {"done": {"experts": {}}}
    assert finished.forget_routed_stages_if_changed() is None
