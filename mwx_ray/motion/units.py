"""Length units of mocap files: presets, and inference from the skeleton's size (pose-independent).

Presets (metres per file unit): ``m`` 1, ``cm`` 0.01, ``mm`` 0.001, ``in`` 0.0254 and ``cmu`` 0.0254 / 0.45 =
0.056444 (the CMU ASF files declare ``:units length 0.45``: a length of 1 is 1/0.45 inch; the cgspeed BVH
release keeps those units, so a CMU subject is about 30 units tall).

Inference measures a *body length* that does not depend on the pose: thigh + shank (mean of both sides) + hip
centre → neck + neck → head, median over frames. For an adult this is about 0.85 × standing height (Winter's
segment fractions: 0.491 H of leg; hip joint 0.53 H, C7 ≈ 0.83 H and mid-skull ≈ 0.91 H above the floor), so
an adult of 1.0–2.2 m has a body length of 0.8–1.9 m. ``auto`` picks the one of m/cm/mm that puts the body length in that range; if
none does, the CMU preset is taken for a CMU-named rig when it fits, and otherwise the error lists the presets
that would give a plausible person.
"""

from __future__ import annotations

import numpy as np

from mwx_ray.motion.errors import MotionError

UNIT_PRESETS: dict[str, float] = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254, "cmu": 0.0254 / 0.45}
UNIT_CHOICES = ("auto", *UNIT_PRESETS)
BODY_LENGTH_PER_HEIGHT = 0.85  # see the module docstring
PLAUSIBLE_BODY_LENGTH_M = (0.8, 1.9)


def body_length(points: dict[str, np.ndarray]) -> float:
    """Median pose-independent body length (see the module docstring) of canonical keypoints [T, 3], in their units."""
    def dist(a: str, b: str) -> np.ndarray:
        return np.linalg.norm(points[a] - points[b], axis=-1)

    legs = 0.5 * sum(dist(f"{s}_hip", f"{s}_knee") + dist(f"{s}_knee", f"{s}_ankle") for s in ("left", "right"))
    mid_hips = 0.5 * (points["left_hip"] + points["right_hip"])
    trunk = np.linalg.norm(points["neck"] - mid_hips, axis=-1) + dist("neck", "head")
    return float(np.median(legs + trunk))


def _plausible(length_m: float) -> bool:
    low, high = PLAUSIBLE_BODY_LENGTH_M
    return low <= length_m <= high


def resolve_units(points: dict[str, np.ndarray], units: str = "auto", unit_scale: float | None = None,
                  convention: str | None = None, owner: str = "motion") -> tuple[float, str]:
    """(metres per unit, how it was chosen) for canonical keypoints in file units.

    Args:
        units: ``auto`` or a preset of :data:`UNIT_PRESETS`. unit_scale: explicit metres per unit (wins; then
            ``units`` must be ``auto``). convention: the joint-name convention (``cmu`` enables the CMU guess).
    Raises:
        MotionError: unknown preset, non-positive scale, or no unambiguous inference (lists plausible presets).
    """
    if unit_scale is not None:
        if units not in ("auto", None):
            raise MotionError(f"{owner}: give either units ({units!r}) or unit_scale ({unit_scale}), not both")
        if not np.isfinite(unit_scale) or unit_scale <= 0:
            raise MotionError(f"{owner}: unit scale must be a positive number of metres per unit, got {unit_scale}")
        return float(unit_scale), f"unit scale {unit_scale:g} m/unit (given)"
    if units not in UNIT_CHOICES:
        raise MotionError(f"{owner}: unknown units {units!r}; valid: {list(UNIT_CHOICES)} "
                          "(or give the scale in metres per unit: --unit-scale / unit_scale=)")
    if units != "auto":
        return UNIT_PRESETS[units], f"units {units} ({UNIT_PRESETS[units]:g} m/unit, given)"
    length = body_length(points)
    metric = [u for u in ("m", "cm", "mm") if _plausible(length * UNIT_PRESETS[u])]
    if len(metric) == 1:
        unit = metric[0]
        return UNIT_PRESETS[unit], (f"units {unit} (inferred: body length {length:.4g} units = "
                                    f"{length * UNIT_PRESETS[unit]:.2f} m)")
    if convention == "cmu" and _plausible(length * UNIT_PRESETS["cmu"]):
        return UNIT_PRESETS["cmu"], (f"units cmu ({UNIT_PRESETS['cmu']:.6f} m/unit, inferred from CMU joint names "
                                     f"and a body length of {length:.4g} units = {length * UNIT_PRESETS['cmu']:.2f} m)")
    readings = ", ".join(f"--units {u} -> {length * s / BODY_LENGTH_PER_HEIGHT:.2f} m tall"
                         for u, s in UNIT_PRESETS.items() if 0.5 < length * s / BODY_LENGTH_PER_HEIGHT < 3.0)
    raise MotionError(
        f"{owner}: cannot infer length units: the skeleton's body length (legs + trunk + neck) is {length:.4g} "
        f"file units, which is no adult in m, cm or mm. Readings: {readings or 'none plausible'}. Pass --units "
        f"{{{', '.join(UNIT_PRESETS)}}} or --unit-scale <metres per unit> (Python: units=..., unit_scale=...)")
