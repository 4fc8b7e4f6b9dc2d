"""Cyclic skills: walk, run and quiet stand, as :class:`HumanMotion` that loops seamlessly.

Gait recipe (per gait cycle of N frames, N even so the right leg is exactly half a cycle behind the left):

1. joint angles from the normative Fourier curves (:mod:`.normative`), the hip flexion excursion about its
   mean scaled by ``hip_amplitude_scale``; arms swing with the opposite leg;
2. forward kinematics relative to the pelvis (:mod:`.kinematics`);
3. feet on the ground: the support foot is the lowest foot in its stance phase; the pelvis height puts its
   lowest heel/toe point at z = 0, and horizontally that point is pinned, so the pelvis advances by exactly the
   distance the point slides back relative to the pelvis. Flight phases (running) are ballistic: constant
   horizontal velocity, parabolic height under g = 9.81 m/s²;
4. swing feet are lifted to a minimum-toe-clearance profile where the normative angles would graze the ground
   (two-bone IK, bone lengths exact);
5. ``hip_amplitude_scale`` is solved by bisection so the cycle displacement equals speed × period, with the
   period from the cadence/step-length relationships of :mod:`.normative`.

The pelvis path of one cycle is periodic up to the per-cycle displacement, so frame ``k + N`` equals frame ``k``
shifted by ``cycle_root_displacement_m``: the clip loops seamlessly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mwx_ray.motion.errors import MotionError
from mwx_ray.motion.synthetic.body import Body
from mwx_ray.motion.synthetic.kinematics import (
    LEFT,
    RIGHT,
    ArmAngles,
    LegAngles,
    body_keypoints,
    leg_points,
    two_link_ik,
)
from mwx_ray.motion.synthetic.normative import (
    RUN_STANCE_FRACTION,
    WALK_STANCE_FRACTION,
    gait_curves,
    run_step_frequency_hz,
    walk_step_length_m,
)

GRAVITY_MPS2 = 9.81
STEP_WIDTH_M = 0.10  # between heel centres; normative adult walking ≈ 0.08–0.12 m (e.g. Winter 1991)


@dataclass(frozen=True)
class GaitStyle:
    """Gait-specific constants (degrees unless stated)."""

    curves: str  # "walk" or "run" normative curve set
    stance_fraction: float  # toe-off as a fraction of the cycle
    pelvic_tilt_deg: float  # anterior pelvic tilt: thigh-to-vertical = clinical hip flexion − tilt
    trunk_lean_deg: float  # forward lean; ≈2–5° walking, ≈5–10° running (Novacheck 1998)
    arm_swing_gain: float  # shoulder flexion per degree of opposite-hip flexion
    elbow_mean_deg: float
    elbow_gain: float  # extra elbow flexion per degree of forward shoulder swing
    arm_abduction_deg: float
    speed_range_mps: tuple[float, float]  # where these normative curves describe people


# Pelvic tilt: ≈10° anterior in walking (Kadaba et al. 1990), more in running (≈15°, Novacheck 1998).
# Arm swing: shoulder excursion ≈ 20–30° at free walking (Murray, Sepic & Barnard, Phys. Ther. 47:272, 1967);
# running carries the elbows near 90° (Novacheck 1998). People switch from walking to running near 2 m/s
# (A. Thorstensson & H. Roberthson, Acta Physiol. Scand. 131:211, 1987), hence the speed ranges. The run model
# keeps Novacheck's 40 % stance at every speed, so it gains speed through hip excursion alone; above ≈3.5 m/s
# that crouches the runner (pelvis < 0.8 × standing height at 4 m/s), so faster running is refused.
WALK_STYLE = GaitStyle("walk", WALK_STANCE_FRACTION, 10.0, 3.0, 0.6, 20.0, 0.4, 6.0, (0.3, 2.5))
RUN_STYLE = GaitStyle("run", RUN_STANCE_FRACTION, 15.0, 8.0, 0.7, 90.0, 0.3, 10.0, (1.5, 4.0))
# Our pelvis stays level, so hip adduction would all become lateral pelvis shift (≈±9 cm); in people much of it
# is pelvic obliquity (≈±4° list, Perry 1992) and the pelvis shifts only ≈±2–3 cm. Keep 30 % of the excursion.
FRONTAL_EXCURSION_SCALE = 0.3


def _leg_angles(style: GaitStyle, phase: np.ndarray, hip_scale: float, body: Body) -> LegAngles:
    curves = gait_curves(style.curves)
    hip, knee, ankle, add = (curves[k] for k in ("hip_flexion", "knee_flexion", "ankle_dorsiflexion", "hip_adduction"))
    hip_deg = hip.mean + hip_scale * (hip(phase) - hip.mean) - style.pelvic_tilt_deg
    # constant adduction that brings the feet from hip-joint width to the step width
    base_add = np.degrees(np.arcsin((body.hip_joint_separation_m - STEP_WIDTH_M) / 2 / body.leg_length_m))
    add_deg = base_add + FRONTAL_EXCURSION_SCALE * (add(phase) - add.mean)
    return LegAngles.from_joint_angles(*(np.radians(a) for a in (hip_deg, knee(phase), ankle(phase), add_deg)))


def _arm_angles(style: GaitStyle, opposite_hip: np.ndarray) -> ArmAngles:
    """Arms hang from the vertical and swing with the opposite thigh (angles rad, [T])."""
    upper = style.arm_swing_gain * (opposite_hip - opposite_hip.mean())
    elbow = np.radians(style.elbow_mean_deg) + style.elbow_gain * np.maximum(upper, 0.0)
    return ArmAngles(upper, upper + elbow, np.full_like(upper, np.radians(style.arm_abduction_deg)))


def _pin_feet(contacts: np.ndarray, stance: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Pelvis path of one cycle from foot contact points relative to the pelvis.

    Args:
        contacts: [N, 2 feet, 2 points (heel, toe), 3] positions relative to the pelvis, m.
        stance: [N, 2] True where a foot is in its stance phase.
    Returns:
        ([N, 3] pelvis positions with frame 0 at x = y = 0, [3] displacement over the cycle), m.
    """
    num = len(contacts)
    lowest_point = contacts[..., 2].argmin(axis=2)  # [N, 2]
    lowest_z = contacts[..., 2].min(axis=2)
    support = np.where(stance, lowest_z, np.inf).argmin(axis=1)  # [N] lowest foot among those in stance
    has_support = stance.any(axis=1)
    if not has_support.any():
        raise MotionError("synthetic gait: no stance phase in the cycle")
    frames = np.arange(num)
    point = lowest_point[frames, support]
    now = contacts[frames, support, point]
    after = contacts[(frames + 1) % num, support, point]
    delta = np.where(has_support[:, None], now[:, :2] - after[:, :2], 0.0)  # pyright: ignore[reportIndexIssue] - numpy stub: a bool array, not a scalar
    height = np.where(has_support, -now[:, 2], 0.0)
    for start in np.flatnonzero(has_support & ~np.roll(has_support, -1)):  # last stance frame before a flight
        gap = 1
        while not has_support[(start + gap) % num]:  # pyright: ignore[reportIndexIssue] - numpy stub: a bool array, not a scalar
            gap += 1
        end = (start + gap) % num
        flight_s = gap / fps
        for i in range(1, gap):
            k, tau = (start + i) % num, i / fps
            delta[k] = delta[start]  # ballistic: horizontal velocity of take-off
            height[k] = height[start] + (height[end] - height[start]) * i / gap + 0.5 * GRAVITY_MPS2 * tau * (flight_s - tau)
    xy = np.concatenate([np.zeros((1, 2)), np.cumsum(delta, axis=0)[:-1]])
    return np.column_stack([xy, height]), np.array([*delta.sum(axis=0), 0.0])


# Minimum toe clearance in mid-swing ≈ 1.3 cm (D. A. Winter, "Foot trajectory in human gait", Phys. Ther.
# 72:45, 1992). A swing foot lower than MIN_TOE_CLEARANCE_M·sin(π·swing progress) is lifted by re-solving its
# hip→knee→ankle chain (bone lengths exact), which keeps the normative angles wherever they already clear.
MIN_TOE_CLEARANCE_M = 0.013


def _lift_swing_foot(rel: dict[str, np.ndarray], pelvis_z: np.ndarray, swing_progress: np.ndarray,
                     body: Body) -> dict[str, np.ndarray]:
    """Copy of one leg's relative points with the swing foot raised to the clearance profile."""
    sole = np.minimum(rel["heel"][:, 2], rel["toe"][:, 2]) + pelvis_z
    target = np.where(swing_progress >= 0, MIN_TOE_CLEARANCE_M * np.sin(np.pi * np.clip(swing_progress, 0, 1)), 0.0)
    deficit = np.where(swing_progress >= 0, np.maximum(target - sole, 0.0), 0.0)
    if not deficit.any():
        return rel
    ankle_target = rel["ankle"] + deficit[:, None] * [0.0, 0.0, 1.0]
    knee, ankle = two_link_ik(rel["hip"], ankle_target, body.thigh_m, body.shank_m, rel["knee"] - rel["hip"])
    shift = ankle - rel["ankle"]
    return dict(rel, knee=knee, ankle=ankle, heel=rel["heel"] + shift, toe=rel["toe"] + shift)


def _gait_cycle(style: GaitStyle, num: int, fps: float, hip_scale: float, body: Body) -> dict[str, Any]:
    phase = np.arange(num) / num
    local_phase = {LEFT: phase % 1.0, RIGHT: (phase + 0.5) % 1.0}
    legs = {side: _leg_angles(style, local_phase[side], hip_scale, body) for side in (LEFT, RIGHT)}
    rel = {side: leg_points(angles, side, body) for side, angles in legs.items()}
    contacts = np.stack([np.stack([rel[s]["heel"], rel[s]["toe"]], axis=1) for s in (LEFT, RIGHT)], axis=1)
    stance = np.stack([local_phase[s] < style.stance_fraction for s in (LEFT, RIGHT)], axis=1)
    pelvis, displacement = _pin_feet(contacts, stance, fps)
    for side in (LEFT, RIGHT):
        progress = (local_phase[side] - style.stance_fraction) / (1.0 - style.stance_fraction)  # < 0 in stance
        rel[side] = _lift_swing_foot(rel[side], pelvis[:, 2], progress, body)
    return {"legs": legs, "rel": rel, "pelvis": pelvis, "displacement": displacement}


def _solve_hip_scale(style: GaitStyle, num: int, fps: float, target_m: float, body: Body) -> float:
    """Bisection on the hip excursion scale so the cycle's forward displacement is ``target_m``."""
    low, high = 0.2, 3.0

    def excess(scale: float) -> float:
        return float(_gait_cycle(style, num, fps, scale, body)["displacement"][0] - target_m)

    if excess(low) > 0 or excess(high) < 0:
        raise MotionError(
            f"synthetic {style.curves}: cannot reach {target_m:.2f} m per cycle with hip excursion scale "
            f"in [{low}, {high}] (speed out of the human range for this gait?)"
        )
    for _ in range(40):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if excess(mid) < 0 else (low, mid)
    return 0.5 * (low + high)


def gait_motion(style: GaitStyle, speed_mps: float, step_frequency_hz: float, fps: float, n_cycles: int,
                body: Body, start_frame: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
    """Keypoints [n_cycles·N, 19, 3] of a straight gait along +x, and its metadata (period, displacement...)."""
    low, high = style.speed_range_mps
    if not low <= speed_mps <= high:
        raise MotionError(
            f"synthetic {style.curves}: speed {speed_mps} m/s is outside the {style.curves} range [{low}, {high}] m/s"
        )
    num = max(8, 2 * int(round(fps / step_frequency_hz)))  # two steps per cycle, even frame count
    period_s = num / fps
    target_m = speed_mps * period_s
    hip_scale = _solve_hip_scale(style, num, fps, target_m, body)
    cycle = _gait_cycle(style, num, fps, hip_scale, body)
    frames = start_frame + np.arange(n_cycles * num)
    index, laps = frames % num, frames // num
    pelvis = cycle["pelvis"][index] + laps[:, None] * cycle["displacement"]
    pelvis[:, 1] -= cycle["pelvis"][:, 1].mean()  # centre the lateral sway on y = 0
    pelvis[:, 0] -= pelvis[0, 0]
    legs = {side: {part: value[index] for part, value in rel.items()} for side, rel in cycle["rel"].items()}
    thigh = {side: angles.thigh[index] for side, angles in cycle["legs"].items()}
    lean = np.full(len(frames), np.radians(style.trunk_lean_deg))
    arms = {LEFT: _arm_angles(style, thigh[RIGHT]), RIGHT: _arm_angles(style, thigh[LEFT])}
    keypoints = body_keypoints(pelvis, legs, lean, arms, body)
    meta = {
        "cyclic": True,
        "period_s": period_s,
        "frames_per_cycle": num,
        "n_cycles": n_cycles,
        "cycle_root_displacement_m": cycle["displacement"].tolist(),
        "speed_mps": speed_mps,
        "step_length_m": target_m / 2,
        "cadence_steps_per_min": 120.0 / period_s,
        "stance_fraction": style.stance_fraction,
        "hip_amplitude_scale": hip_scale,
        "pelvic_tilt_deg": style.pelvic_tilt_deg,
        "trunk_lean_deg": style.trunk_lean_deg,
        "step_width_m": STEP_WIDTH_M,
    }
    return keypoints, meta


def walk(body: Body, fps: float, speed_mps: float = 1.0, n_cycles: int = 2, start_frame: int = 0):
    """Straight walking at ``speed_mps`` (HumanoidBench walk target: 1 m/s); step length from the speed power law."""
    step_frequency_hz = speed_mps / walk_step_length_m(speed_mps, body.height_m)
    return gait_motion(WALK_STYLE, speed_mps, step_frequency_hz, fps, n_cycles, body, start_frame)


def run(body: Body, fps: float, speed_mps: float = 3.0, n_cycles: int = 3, start_frame: int = 0):
    """Straight running at ``speed_mps`` (default 3 m/s; HumanoidBench's run task asks 5 m/s)."""
    return gait_motion(RUN_STYLE, speed_mps, run_step_frequency_hz(speed_mps), fps, n_cycles, body, start_frame)


# Quiet stance: body sways as an inverted pendulum about the ankles, a few mm at the centre of mass and below
# ~0.5 Hz (D. A. Winter, "Human balance and posture control during standing and walking", Gait & Posture
# 3:193, 1995). We use a 0.25 Hz, ±0.3° antero-posterior sway.
STAND_SWAY_PERIOD_S = 4.0
STAND_SWAY_AMPLITUDE_DEG = 0.3
STAND_ELBOW_DEG = 10.0


def stand(body: Body, fps: float, n_cycles: int = 2, start_frame: int = 0):
    """Quiet standing with ankle-strategy sway; feet flat and fixed, loops every ``STAND_SWAY_PERIOD_S``."""
    num = max(2, int(round(STAND_SWAY_PERIOD_S * fps)))
    frames = start_frame + np.arange(n_cycles * num)
    sway = np.radians(STAND_SWAY_AMPLITUDE_DEG) * np.sin(2 * np.pi * (frames % num) / num)
    base_add = np.arcsin((body.hip_joint_separation_m - STEP_WIDTH_M) / 2 / body.leg_length_m)
    zeros = np.zeros_like(sway)
    leg = LegAngles(sway, sway, zeros, zeros + base_add)
    arm = ArmAngles(sway, sway + np.radians(STAND_ELBOW_DEG), zeros + np.radians(5.0))
    rel = {side: leg_points(leg, side, body) for side in (LEFT, RIGHT)}
    pelvis = rel[LEFT]["heel"][0] * [1, 1, 0] - rel[LEFT]["heel"]  # left heel fixed on the ground
    keypoints = body_keypoints(pelvis, rel, sway, {LEFT: arm, RIGHT: arm}, body)
    meta = {
        "cyclic": True,
        "period_s": num / fps,
        "frames_per_cycle": num,
        "n_cycles": n_cycles,
        "cycle_root_displacement_m": [0.0, 0.0, 0.0],
        "sway_amplitude_deg": STAND_SWAY_AMPLITUDE_DEG,
        "step_width_m": STEP_WIDTH_M,
    }
    return keypoints, meta
