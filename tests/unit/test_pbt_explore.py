"""PBT exploration never leaves the schema: every numeric field of every algorithm section, mutated from both ends
of its widest valid range through the real ``PopulationBasedTraining`` scheduler the sweep builds.

Regression: a clean CI run once failed because PBT perturbed ``ppo.lambda_`` 0.95 × 1.2 = 1.14 and the trial
rejected it.
"""

from __future__ import annotations

import dataclasses
import random
import typing

import pytest
from ray.tune.schedulers.pbt import _explore

from mwx_ray.config import load_config
from mwx_ray.config.errors import ConfigError
from mwx_ray.config.experts_schema import ALGORITHM_SECTIONS
from mwx_ray.config.typed import build, to_plain
from mwx_ray.experts.param_space import build_param_space
from mwx_ray.tune.pbt_explore import KeepMutationsInBounds
from mwx_ray.tune.schedulers import build_scheduler

# Widest finite range tried for a field without an upper bound: a decade above its default (at least 10).
OPEN_RANGE_FACTOR = 10.0
EXPLORE_DRAWS = 40


def _numeric_fields(section_cls) -> list[tuple[str, type, float, float]]:
    """(field, type, low, high): every int/float field of ``section_cls`` with a valid range to mutate over."""
    hints = typing.get_type_hints(section_cls)
    default = section_cls()
    out = []
    for field in dataclasses.fields(section_cls):
        tp = hints[field.name]
        if tp not in (int, float):
            continue
        meta = field.metadata
        low = meta.get("ge") if meta.get("ge") is not None else meta.get("gt")
        high = meta.get("le") if meta.get("le") is not None else meta.get("lt")
        value = getattr(default, field.name)
        low = 0.0 if low is None else float(low)
        high = max(float(value) * OPEN_RANGE_FACTOR, low + 10.0) if high is None else float(high)
        if meta.get("gt") is not None:  # exclusive bounds: step just inside
            low = low + (1 if tp is int else 1e-6 * max(1.0, abs(low)))
        if meta.get("lt") is not None:
            high = high - (1 if tp is int else 1e-6 * max(1.0, abs(high)))
        low, high = _narrow_to_cross_field_rules(section_cls, field.name, tp, low, high, float(value))
        out.append((field.name, tp, low, high))
    return out


def _narrow_to_cross_field_rules(section_cls, field: str, tp: type, low: float, high: float, default: float):
    """Move each end towards the default until the default section accepts it (e.g. PPO's batch size may not
    go below its minibatch size): the range a user could declare for this field."""
    base = to_plain(section_cls())

    def valid(value: float) -> bool:
        try:
            build(section_cls, {**base, field: tp(value)}, lambda _key: "")
        except ConfigError:
            return False
        return True

    def towards_default(end: float) -> float:
        for step in range(1, 65):
            if valid(end):
                return end
            end = end + (default - end) * step / 64
        return default

    return towards_default(low), towards_default(high)


def _cases():
    for algorithm, section_cls in ALGORITHM_SECTIONS.items():
        for field, tp, low, high in _numeric_fields(section_cls):
            yield pytest.param(algorithm, field, tp, low, high, id=f"{algorithm}.{field}")


def _sweep_with_mutation(tmp_path, algorithm: str, field: str, spec: dict):
    path = tmp_path / "pbt.yaml"
    path.write_text("experts:\n  skills: [stand]\n  scheduler: {name: pbt, perturbation_interval_iters: 10}\n"
                    "  checkpoint: {every_iters: 10}\n  eval: {every_iters: 5}\n")
    # Batch sizes large enough that a mutated minibatch/batch size never trips minibatch <= batch.
    overrides = [f"experts.algorithm={algorithm}", f"experts.scheduler.mutations={{{field}: {spec}}}"]
    loaded = load_config(path, overrides)
    _space, sections = build_param_space(loaded.config)
    return loaded.config, build_scheduler(loaded.config.experts, sections[algorithm])


@pytest.mark.parametrize(("algorithm", "field", "tp", "low", "high"), list(_cases()))
def test_pbt_explore_keeps_every_field_inside_its_range_and_the_schema(tmp_path, algorithm, field, tp, low, high):
    section_cls = ALGORITHM_SECTIONS[algorithm]
    if tp is int:
        low, high = int(low), int(high)
        kind, values = "randint", [low, high + 1]  # randint's high is exclusive
    else:
        kind, values = ("loguniform" if low > 0 else "uniform"), [low, high]
    spec = f"{{{kind}: [{values[0]!r}, {values[1]!r}]}}"
    config, scheduler = _sweep_with_mutation(tmp_path, algorithm, field, spec)
    base = to_plain(config.experts.section_for(algorithm, "stand"))
    rng = random.Random(0)
    for start in (low, high):
        for resample in (0.0, 1.0):
            for _ in range(EXPLORE_DRAWS):
                random.seed(rng.random())
                trial_config = {"skill": "stand", algorithm: {**base, field: start}}
                explored, _ops = _explore(trial_config, scheduler._hyperparam_mutations, resample,
                                          scheduler._perturbation_factors, scheduler._custom_explore_fn)
                value = explored[algorithm][field]
                assert low <= value <= high, f"{field}: {start} explored to {value} outside [{low}, {high}]"
                build(section_cls, explored[algorithm], lambda _key: "")  # raises ConfigError if invalid


def test_choice_mutations_shift_between_listed_values(tmp_path):
    _config, scheduler = _sweep_with_mutation(tmp_path, "ppo", "num_epochs", "{choice: [5, 10, 20]}")
    assert scheduler._hyperparam_mutations["ppo"]["num_epochs"] == [5, 10, 20]  # a list: PBT shifts, not ×1.2
    seen = set()
    for seed in range(30):
        random.seed(seed)
        explored, _ = _explore({"ppo": {**to_plain(_config.experts.ppo), "num_epochs": 10}},
                               scheduler._hyperparam_mutations, 0.0, (0.8, 1.2), scheduler._custom_explore_fn)
        seen.add(explored["ppo"]["num_epochs"])
    assert seen <= {5, 10, 20} and len(seen) >= 2


def test_clamp_snaps_to_the_nearest_choice_and_into_ranges():
    clamp = KeepMutationsInBounds.clamp
    assert clamp("lambda_", 1.14, "uniform", [0.9, 0.99]) == 0.99
    assert clamp("lr", 1e-6, "loguniform", [3e-5, 1e-3]) == 3e-5
    assert clamp("num_epochs", 40, "randint", [5, 16]) == 15
    assert clamp("minibatch_size", 300, "choice", [256, 512]) == 256


def test_cross_field_rules_resample_a_coupled_field(tmp_path):
    """minibatch_size may not exceed the batch: a clamped minibatch that breaks it is resampled until valid."""
    keep = KeepMutationsInBounds("ppo", {"minibatch_size": {"randint": [64, 8193]}}, ALGORITHM_SECTIONS["ppo"])
    section = {**to_plain(ALGORITHM_SECTIONS["ppo"]()), "train_batch_size_per_learner": 1024}
    random.seed(3)
    explored = keep({"ppo": {**section, "minibatch_size": 9000}})
    assert 64 <= explored["ppo"]["minibatch_size"] <= 1024
