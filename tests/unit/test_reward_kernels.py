"""tolerance() against hand-computed values (dm_control semantics) and the HumanoidBench building blocks."""

import math

import numpy as np
import pytest

from mwx_ray.rewards import humanoid_terms as terms
from mwx_ray.rewards.kernels import SIGMOIDS, tolerance

BOUNDS = (0.0, 1.0)


def test_inside_bounds_is_one_for_every_sigmoid():
    for sigmoid in SIGMOIDS:
        value_at_margin = 0.1
        assert tolerance(0.5, BOUNDS, margin=1.0, sigmoid=sigmoid, value_at_margin=value_at_margin) == 1.0
        assert tolerance(1.0, BOUNDS, margin=1.0, sigmoid=sigmoid, value_at_margin=value_at_margin) == 1.0


@pytest.mark.parametrize("sigmoid", SIGMOIDS)
def test_value_at_margin_is_reached_at_distance_margin(sigmoid):
    # x = 3 is 2 above the upper bound; margin 2 → the sigmoid is evaluated at exactly 1.
    assert tolerance(3.0, BOUNDS, margin=2.0, sigmoid=sigmoid, value_at_margin=0.3) == pytest.approx(0.3)
    assert tolerance(-2.0, BOUNDS, margin=2.0, sigmoid=sigmoid, value_at_margin=0.3) == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("sigmoid", "value_at_margin", "x", "expected"),
    [
        # gaussian: exp(-0.5 (d·sqrt(-2 ln v))²) = v^(d²); d = 0.5 → 0.1^0.25
        ("gaussian", 0.1, 1.5, 0.1**0.25),
        ("gaussian", 0.1, 3.0, 0.1**4),
        # linear: max(0, 1 − d(1 − v))
        ("linear", 0.0, 1.5, 0.5),
        ("linear", 0.5, 1.5, 0.75),
        ("linear", 0.0, 2.0, 0.0),
        ("linear", 0.0, 5.0, 0.0),
        # quadratic: max(0, 1 − d²(1 − v))
        ("quadratic", 0.0, 1.5, 0.75),
        ("quadratic", 0.1, 2.0, 0.1),
        ("quadratic", 0.0, 3.0, 0.0),
        # hyperbolic: 1/cosh(d·acosh(1/v)); d = 2, v = 0.5 → 1/cosh(2·acosh 2)
        ("hyperbolic", 0.5, 3.0, 1.0 / math.cosh(2.0 * math.acosh(2.0))),
        # long_tail: 1/((d·sqrt(1/v − 1))² + 1); d = 2, v = 0.1 → 1/37
        ("long_tail", 0.1, 3.0, 1.0 / 37.0),
        # reciprocal: 1/(|d|(1/v − 1) + 1); d = 2, v = 0.5 → 1/3
        ("reciprocal", 0.5, 3.0, 1.0 / 3.0),
        # cosine: scale = acos(2v − 1)/π; v = 0.5 → scale 0.5; d = 0.5 → (1 + cos(π/4))/2; d = 2 → 0
        ("cosine", 0.5, 1.5, (1.0 + math.cos(math.pi / 4)) / 2.0),
        ("cosine", 0.5, 3.0, 0.0),
        # tanh_squared: 1 − tanh(d·atanh(sqrt(1 − v)))²; d = 2, v = 0.5
        ("tanh_squared", 0.5, 3.0, 1.0 - math.tanh(2.0 * math.atanh(math.sqrt(0.5))) ** 2),
    ],
)
def test_hand_computed_values(sigmoid, value_at_margin, x, expected):
    got = tolerance(x, BOUNDS, margin=1.0, sigmoid=sigmoid, value_at_margin=value_at_margin)
    assert isinstance(got, float)
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_margin_zero_is_an_indicator_for_scalars_and_arrays():
    assert tolerance(0.3, BOUNDS) == 1.0
    assert tolerance(1.0001, BOUNDS) == 0.0
    x = np.array([-0.1, 0.0, 0.5, 1.0, 1.1])
    np.testing.assert_array_equal(tolerance(x, BOUNDS), [0.0, 1.0, 1.0, 1.0, 0.0])


def test_infinite_bounds():
    assert tolerance(100.0, (1.65, math.inf), margin=1.0) == 1.0
    assert tolerance(-100.0, (-math.inf, 0.0), margin=1.0) == 1.0
    assert tolerance(0.65, (1.65, math.inf), margin=1.0) == pytest.approx(0.1)


@pytest.mark.parametrize("sigmoid", SIGMOIDS)
def test_array_path_matches_scalar_path(sigmoid):
    x = np.linspace(-4.0, 5.0, 91)
    value_at_margin = 0.2
    array_values = tolerance(x, BOUNDS, margin=1.5, sigmoid=sigmoid, value_at_margin=value_at_margin)
    assert array_values.shape == x.shape
    scalar_values = [tolerance(float(v), BOUNDS, 1.5, sigmoid, value_at_margin) for v in x]
    np.testing.assert_allclose(array_values, scalar_values, rtol=1e-12, atol=1e-15)
    assert np.all((array_values >= 0.0) & (array_values <= 1.0))


def test_default_bounds_are_zero_like_dm_control():
    assert tolerance(0.0, margin=2.0) == 1.0
    assert tolerance(2.0, margin=2.0) == pytest.approx(0.1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bounds": (1.0, 0.0)},
        {"margin": -1.0},
        {"margin": 1.0, "sigmoid": "gaussian", "value_at_margin": 0.0},
        {"margin": 1.0, "sigmoid": "linear", "value_at_margin": 1.0},
        {"margin": 1.0, "sigmoid": "sigmoidal"},
    ],
)
def test_invalid_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        tolerance(0.5, **kwargs)


def test_humanoid_building_blocks_by_hand():
    assert terms.standing(1.7) == 1.0
    assert terms.standing(1.65 - 1.65 / 4) == pytest.approx(0.1)  # one margin below → value_at_margin
    assert terms.upright(0.95) == 1.0
    assert terms.upright(0.0) == pytest.approx(1.0 - 0.9 / 1.9)
    assert terms.upright(-1.0) == 0.0
    assert terms.stand_reward(1.7, 0.0) == pytest.approx(1.0 - 0.9 / 1.9)
    assert terms.small_control(np.zeros(19)) == 1.0
    assert terms.small_control(np.full(19, 5.0)) == pytest.approx((4.0 + 0.75) / 5.0)
    assert terms.small_control(np.full(19, -50.0)) == pytest.approx(0.8)
    assert terms.move(1.2, 1.0) == 1.0
    assert terms.move(0.5, 1.0) == pytest.approx((5 * 0.5 + 1) / 6)
    assert terms.move(-3.0, 5.0) == pytest.approx(1.0 / 6.0)
    assert terms.dont_move(np.zeros(2)) == 1.0
    assert terms.dont_move(np.array([2.0, 0.0])) == pytest.approx((0.1 + 1.0) / 2)


@pytest.mark.parametrize("sigmoid", SIGMOIDS)
def test_non_finite_inputs_follow_dm_control(sigmoid):
    value_at_margin = 0.2
    x = np.array([np.inf, -np.inf, np.nan])
    # one-sided bounds: ±inf inside the infinite side is in bounds
    assert tolerance(x[:1], (0.0, np.inf), 1.0, sigmoid, value_at_margin)[0] == 1.0
    assert tolerance(x[1:2], (-np.inf, 0.0), 1.0, sigmoid, value_at_margin)[0] == 1.0
    np.testing.assert_array_equal(tolerance(x[:2], (-np.inf, np.inf), 1.0, sigmoid, value_at_margin), [1.0, 1.0])
    # NaN is never in bounds; dm_control's piecewise sigmoids give 0 there, smooth ones NaN
    nan_value = tolerance(x[2:], (0.0, 1.0), 1.0, sigmoid, value_at_margin)[0]
    if sigmoid in ("linear", "quadratic", "cosine"):
        assert nan_value == 0.0
    else:
        assert np.isnan(nan_value)
