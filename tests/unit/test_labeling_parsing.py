"""Answer text -> distribution: every accepted format, and every invalid answer names its reason (no Ray)."""

import numpy as np
import pytest

from mwx_ray.labeling.catalogue import ExpertCatalogue
from mwx_ray.labeling.teachers.base import FallbackStats, answer_from_rows, fallback_distribution
from mwx_ray.labeling.teachers.parsing import parse_answer

CATALOGUE = ExpertCatalogue(("stand", "walk", "run", "sit"), ("stand still", "walk forward", "run fast", "sit down"))


@pytest.mark.parametrize("text, expected", [
    ("B", [0, 1, 0, 0]),
    ("  (b). ", [0, 1, 0, 0]),
    ("Answer: D", [0, 0, 0, 1]),
    ("Expert C", [0, 0, 1, 0]),
    ("I would use walk here.", [0, 1, 0, 0]),
    ('{"walk": 0.75, "stand": 0.25}', [0.25, 0.75, 0, 0]),
    ('Weights: {"walk": 8, "run": 2}', [0, 0.8, 0.2, 0]),     # the authors' 0-10 scores
    ('{"A": 1, "D": 3}', [0.25, 0, 0, 0.75]),                # letters as keys
    ("walk: 6, run = 2, stand: 0", [0, 0.75, 0.25, 0]),
    ("Sit: 1", [0, 0, 0, 1]),
])
def test_valid_answers_become_distributions(text, expected):
    parsed = parse_answer(text, CATALOGUE)
    assert parsed.valid, parsed.reason
    np.testing.assert_allclose(parsed.probs, expected, atol=1e-6)
    assert parsed.probs.dtype == np.float32 and abs(parsed.probs.sum() - 1) < 1e-6


@pytest.mark.parametrize("text, reason", [
    ("", "empty answer"),
    ("   ", "empty answer"),
    ("Z", "option 'Z' is not one of ABCD"),
    ('{"fly": 1.0}', "unknown expert 'fly'"),
    ('{"walk": -1, "run": 2}', "negative"),
    ('{"walk": 0, "run": 0}', "all weights are zero"),
    ('{"walk": "lots"}', "not a number"),
    ("walk or run, hard to say", "several experts"),
    ("the robot looks happy", "names no catalogue expert"),
    ("walking", "names no catalogue expert"),  # whole words only: 'walking' is not the expert 'walk'
])
def test_invalid_answers_are_rejected_with_a_reason(text, reason):
    parsed = parse_answer(text, CATALOGUE)
    assert not parsed.valid and parsed.probs is None
    assert reason in parsed.reason


def test_label_smoothing_spreads_mass_on_single_expert_answers_only():
    smoothed = parse_answer("B", CATALOGUE, label_smoothing=0.2).probs
    np.testing.assert_allclose(smoothed, [0.05, 0.85, 0.05, 0.05], atol=1e-6)
    weights = parse_answer('{"walk": 1}', CATALOGUE, label_smoothing=0.2).probs
    np.testing.assert_allclose(weights, [0, 1, 0, 0])


def test_invalid_rows_get_the_uniform_fallback_and_are_counted_by_reason():
    texts = ["B", "???", '{"fly": 1}', "C", ""]
    parsed = [parse_answer(t, CATALOGUE) for t in texts]
    answer = answer_from_rows([p.probs for p in parsed], [p.reason for p in parsed], texts, CATALOGUE.size)
    answer.check(5, 4)
    assert answer.fallback.tolist() == [False, True, True, False, True]
    np.testing.assert_allclose(answer.probs[1], fallback_distribution(4))
    assert answer.reasons[0] == "" and answer.reasons[2] == "unknown expert 'fly'"
    stats = FallbackStats()
    stats.add(answer.fallback, answer.reasons)
    stats.add(np.array([False, True]), ["", "empty answer"])
    assert stats.frames == 7 and stats.fallbacks == 4
    assert stats.rate == pytest.approx(4 / 7)
    assert stats.by_reason == {"answer names no catalogue expert": 1, "unknown expert 'fly'": 1, "empty answer": 2}
