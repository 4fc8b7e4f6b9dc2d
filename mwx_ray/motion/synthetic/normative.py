"""Normative human gait data: joint-angle curves over the gait cycle and cadence/step-length vs speed.

Angle curves are low-order Fourier series fitted to control points read off the classic normative curves
(values below, degrees, at % of the gait cycle; 0 % = ipsilateral heel strike / initial contact). The control
points are approximate readings of published group means (±2–3°), good for *human-like* reference motion, not
for clinical comparison:

* walking (natural cadence): D. A. Winter, *The Biomechanics and Motor Control of Human Gait* (2nd ed., 1991),
  sagittal hip/knee/ankle angle figures; J. Perry, *Gait Analysis: Normal and Pathological Function* (1992).
  Toe-off at ≈60 % of the cycle. Frontal hip ad/abduction: ≈+5° adduction in loading response, ≈−5° in swing
  (Winter 1991; Kadaba et al., J. Orthop. Res. 8:383, 1990).
* running (≈3.2 m/s): T. F. Novacheck, "The biomechanics of running", Gait & Posture 7:77–95 (1998), Fig. 7.
  Toe-off at ≈40 % of the cycle (two flight phases of ≈10 % each).

Conventions: hip flexion + (clinical hip angle: thigh relative to the pelvis; the generator subtracts the
anterior pelvic tilt to get the thigh-to-vertical angle), knee flexion +, ankle dorsiflexion +, hip adduction +
(knee toward the midline).

Speed relationships:

* walking step length grows as speed^0.42 (A. D. Kuo, "A simple model of bipedal walking predicts the preferred
  speed–step length relationship", J. Biomech. Eng. 123:264, 2001, after D. W. Grieve, Physiotherapy 54:452, 1968):
  ``step_length = STEP_LENGTH_REF_FRACTION · height · (v / v_ref)^0.42``, anchored at a natural free-walking speed
  of 1.37 m/s with a step length of 0.42·height (≈0.74 m and ≈111 steps/min for a 1.75 m adult, within the
  normative ranges of Winter 1991 and Öberg et al., J. Rehab. Res. Dev. 30:210, 1993);
* running: speed grows mostly through stride length while step frequency rises only slowly (P. R. Cavanagh &
  R. Kram, Med. Sci. Sports Exerc. 21:467, 1989: ≈1.4 strides/s ≈ 2.8 steps/s near 3.35 m/s): we use
  ``step_frequency = 2.8 + 0.12·(v − 3.35)`` steps/s, clipped to [2.4, 3.6].
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy.interpolate import CubicSpline

FOURIER_ORDER = 5  # harmonics kept; 5 reproduces the curves' peaks within ~1° while staying smooth

# (percent of gait cycle, degrees) control points; see module docstring for sources.
WALK_CONTROL_POINTS: dict[str, tuple[tuple[float, float], ...]] = {
    "hip_flexion": (
        (0, 30), (10, 27), (20, 19), (30, 10), (40, 1), (50, -7), (55, -10), (60, -7),
        (65, 0), (70, 10), (75, 18), (80, 25), (85, 30), (90, 33), (95, 32),
    ),
    "knee_flexion": (
        (0, 4), (5, 11), (10, 17), (15, 19), (20, 17), (30, 9), (40, 5), (45, 7), (50, 12), (55, 22),
        (60, 36), (65, 50), (70, 59), (73, 61), (77, 57), (80, 52), (85, 38), (90, 22), (95, 8),
    ),
    "ankle_dorsiflexion": (
        (0, 0), (5, -4), (8, -6), (12, -3), (20, 3), (30, 6), (40, 9), (47, 10), (52, 6), (57, -4),
        (62, -16), (65, -18), (70, -12), (75, -6), (80, -2), (85, 0), (90, 1), (95, 1),
    ),
    "hip_adduction": (
        (0, 1), (10, 5), (20, 6), (30, 5), (40, 3), (50, 0), (60, -4), (65, -6), (70, -6), (80, -3), (90, -1),
    ),
}
RUN_CONTROL_POINTS: dict[str, tuple[tuple[float, float], ...]] = {
    "hip_flexion": (
        (0, 38), (10, 30), (20, 15), (30, 2), (40, -8), (45, -9), (50, -5), (60, 10), (70, 28), (80, 42),
        (85, 46), (90, 44), (95, 41),
    ),
    "knee_flexion": (
        (0, 22), (8, 35), (15, 40), (25, 32), (35, 22), (40, 20), (50, 40), (60, 70), (70, 90), (75, 92),
        (80, 85), (90, 50), (95, 30),
    ),
    "ankle_dorsiflexion": (
        (0, 5), (8, 12), (18, 20), (28, 12), (35, 0), (40, -14), (45, -18), (55, -10), (65, 0), (75, 5),
        (85, 5), (95, 3),
    ),
    "hip_adduction": ((0, 3), (10, 8), (20, 9), (35, 4), (45, -4), (60, -8), (75, -6), (90, 0)),
}
WALK_STANCE_FRACTION = 0.60  # toe-off at 60 % (Winter 1991, Perry 1992)
RUN_STANCE_FRACTION = 0.40  # toe-off at ≈40 % near 3 m/s (Novacheck 1998)

# Walking speed -> step length (Grieve 1968 / Kuo 2001 power law, anchored as in the module docstring).
WALK_SPEED_REF_MPS = 1.37
STEP_LENGTH_REF_FRACTION = 0.42  # step length / body height at WALK_SPEED_REF_MPS
STEP_LENGTH_SPEED_EXPONENT = 0.42
# Running step frequency (Cavanagh & Kram 1989, see module docstring).
RUN_STEP_FREQUENCY_REF_HZ = 2.8
RUN_SPEED_REF_MPS = 3.35
RUN_STEP_FREQUENCY_SLOPE = 0.12  # (steps/s) per (m/s)


@dataclass(frozen=True)
class FourierCurve:
    """Periodic curve ``a0 + Σ_k a_k cos(2πkφ) + b_k sin(2πkφ)`` over phase φ ∈ [0, 1), degrees."""

    a0: float
    cos_coeffs: np.ndarray  # [K]
    sin_coeffs: np.ndarray  # [K]

    def __call__(self, phase: np.ndarray) -> np.ndarray:
        """Curve value in degrees at ``phase`` (any shape; cycles, wraps around)."""
        phase = np.asarray(phase, dtype=np.float64)
        k = np.arange(1, len(self.cos_coeffs) + 1)
        angle = 2.0 * np.pi * phase[..., None] * k
        return self.a0 + (np.cos(angle) * self.cos_coeffs + np.sin(angle) * self.sin_coeffs).sum(-1)

    @property
    def mean(self) -> float:
        return float(self.a0)


def fit_fourier(points: tuple[tuple[float, float], ...], order: int = FOURIER_ORDER) -> FourierCurve:
    """Fit a periodic Fourier series of ``order`` harmonics to (percent, degrees) control points.

    The points are first joined by a periodic cubic spline sampled at 200 phases, then projected on the
    Fourier basis (least squares on a uniform grid == truncated discrete Fourier transform).
    """
    percent = np.array([p for p, _ in points] + [points[0][0] + 100.0])
    values = np.array([v for _, v in points] + [points[0][1]])
    spline = CubicSpline(percent / 100.0, values, bc_type="periodic")
    grid = np.arange(200) / 200.0
    spectrum = np.fft.rfft(spline(grid)) / len(grid)  # periodic spline extrapolates periodically
    return FourierCurve(
        a0=float(spectrum[0].real),
        cos_coeffs=2.0 * spectrum[1 : order + 1].real,
        sin_coeffs=-2.0 * spectrum[1 : order + 1].imag,
    )


@cache
def gait_curves(gait: str) -> dict[str, FourierCurve]:
    """Fitted curves for ``gait`` ∈ {"walk", "run"}: hip_flexion, knee_flexion, ankle_dorsiflexion, hip_adduction."""
    table = {"walk": WALK_CONTROL_POINTS, "run": RUN_CONTROL_POINTS}[gait]
    return {name: fit_fourier(points) for name, points in table.items()}


def walk_step_length_m(speed_mps: float, height_m: float) -> float:
    """Preferred walking step length (m) at ``speed_mps`` for a person of ``height_m`` (power law, see module)."""
    return STEP_LENGTH_REF_FRACTION * height_m * (speed_mps / WALK_SPEED_REF_MPS) ** STEP_LENGTH_SPEED_EXPONENT


def run_step_frequency_hz(speed_mps: float) -> float:
    """Running step frequency (steps/s) at ``speed_mps`` (linear fit around Cavanagh & Kram 1989)."""
    rate = RUN_STEP_FREQUENCY_REF_HZ + RUN_STEP_FREQUENCY_SLOPE * (speed_mps - RUN_SPEED_REF_MPS)
    return float(np.clip(rate, 2.4, 3.6))
