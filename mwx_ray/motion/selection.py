"""Which frames of a source motion are retargeted: ``--start/--end``, rest-frame trimming, loop selection.

* **Range.** ``start``/``end`` are source frames (``120``) or seconds (``"4.5s"``); frames ``[start, end)``.
* **Rest frames.** Many exports begin (or end) with a calibration pose: CMU's cgspeed BVH files start with one
  T-pose frame, others hold a T-pose for a second. A frame is a T-pose when both upper arms and forearms point
  sideways (within 25° of the shoulder line) and both knees are straight (within 20°). Leading/trailing runs of
  T-pose frames are trimmed, and so is a first/last frame followed by a jump (a keypoint moving faster than
  8 m/s relative to the hips where the rest of the clip moves at under 3 m/s: faster than any limb in gait).
  Trimming is skipped at an edge the user fixed with ``start``/``end``.
* **Loop.** ``loop=True`` marks the clip cyclic: the end frame e (and a start s within the first second) are
  chosen so that frame e repeats frame s, comparing hip-centred, heading-aligned keypoints and their
  velocities; of the seams within 1 cm of the best, the longest loop wins (several cycles beat one). The seam
  check fails the clip when the seam's mean keypoint mismatch exceeds ``max_seam_error_m``, the loop turns by
  more than 15° (operator A assumes loops do not turn) or it is a still pose (nothing moves by 5 cm). The clip
  keeps frames ``[s, e)``; provenance gets ``cyclic``, ``frames_per_cycle`` and ``cycle_root_displacement_m``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mwx_ray.motion.errors import MotionError
from mwx_ray.motion.human_motion import HumanMotion

T_POSE_ARM_DEG, T_POSE_KNEE_DEG = 25.0, 20.0
JUMP_SPEED_MPS, CALM_SPEED_MPS = 8.0, 3.0
MAX_LOOP_TURN_DEG = 15.0
SEAM_VELOCITY_WINDOW_S = 0.1  # velocity mismatch counts as the position gap it opens over 0.1 s
LOOP_COST_SLACK_M = 0.01  # prefer the longest loop whose seam is within 1 cm of the best one
MIN_LOOP_MOTION_M = 0.05  # a "loop" whose poses stay within 5 cm of its first pose is a still pose


@dataclass(frozen=True)
class SourceSelection:
    """Frame selection options (see the module docstring). All JSON-able; stored in the provenance."""

    start: str | int | None = None
    end: str | int | None = None
    trim_rest: bool = True
    loop: bool = False
    max_seam_error_m: float = 0.05
    min_loop_s: float = 0.5


def frame_index(value: str | int | float | None, fps: float, num_frames: int, what: str, owner: str) -> int | None:
    """Frame number from ``120`` / ``"120"`` (frames) or ``"4.5s"`` (seconds); None stays None."""
    if value is None:
        return None
    text = str(value).strip().lower()
    try:
        frame = int(round(float(text[:-1]) * fps)) if text.endswith("s") else int(text)
    except ValueError:
        raise MotionError(f"{owner}: {what} {value!r} is neither a frame number (120) nor seconds (4.5s)") from None
    if not 0 <= frame <= num_frames:
        raise MotionError(f"{owner}: {what} {value!r} = frame {frame} is outside the clip's 0..{num_frames} frames "
                          f"({num_frames / fps:.2f} s at {fps:g} Hz)")
    return frame


def _points(keypoints: np.ndarray, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    return {name: keypoints[:, i] for i, name in enumerate(names)}


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def t_pose_frames(points: dict[str, np.ndarray]) -> np.ndarray:
    """[T] bool: arms straight out sideways and knees straight (thresholds in the module docstring)."""
    lateral = _unit(points["left_shoulder"] - points["right_shoulder"])
    arm_cos, knee_cos = np.cos(np.radians(T_POSE_ARM_DEG)), np.cos(np.radians(T_POSE_KNEE_DEG))
    ok = np.ones(len(lateral), dtype=bool)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        for a, b in ((f"{side}_shoulder", f"{side}_elbow"), (f"{side}_elbow", f"{side}_wrist")):
            ok &= np.sum(_unit(points[b] - points[a]) * sign * lateral, axis=-1) > arm_cos
        thigh = _unit(points[f"{side}_knee"] - points[f"{side}_hip"])
        shank = _unit(points[f"{side}_ankle"] - points[f"{side}_knee"])
        ok &= np.sum(thigh * shank, axis=-1) > knee_cos
    return ok


def _relative_speeds(keypoints: np.ndarray, names: tuple[str, ...], fps: float) -> np.ndarray:
    """[T-1] max keypoint speed relative to the hip centre between consecutive frames, m/s."""
    points = _points(keypoints, names)
    centre = 0.5 * (points["left_hip"] + points["right_hip"])
    relative = keypoints - centre[:, None]
    return np.linalg.norm(np.diff(relative, axis=0), axis=-1).max(axis=1) * fps


def rest_frames(keypoints: np.ndarray, names: tuple[str, ...], fps: float) -> tuple[int, int, list[str]]:
    """(leading, trailing) frames to trim and the reasons (see the module docstring)."""
    num = len(keypoints)
    tpose = t_pose_frames(_points(keypoints, names))
    speeds = _relative_speeds(keypoints, names, fps) if num > 1 else np.zeros(0)
    counts, reasons = [0, 0], []
    for edge, order in ((0, range(num)), (1, range(num - 1, -1, -1))):
        run = 0
        for frame in order:
            if not tpose[frame]:
                break
            run += 1
        if 0 < run < num:
            counts[edge] = run
            reasons.append(f"{run} {'leading' if edge == 0 else 'trailing'} T-pose frame(s)")
        gap = counts[edge]  # a jump right after the rest frames, or at the edge itself
        if num - gap > 3 and len(speeds):
            jump = speeds[gap] if edge == 0 else speeds[num - 2 - gap]
            calm = np.median(speeds[1:-1]) if len(speeds) > 2 else 0.0
            if jump > JUMP_SPEED_MPS and calm < CALM_SPEED_MPS and counts[edge] == 0:
                counts[edge] = 1
                reasons.append(f"{'first' if edge == 0 else 'last'} frame jumps to the next at {jump:.0f} m/s")
    return counts[0], counts[1], reasons


def _heading(points: dict[str, np.ndarray]) -> np.ndarray:
    lateral = points["left_hip"] - points["right_hip"]
    return np.arctan2(-lateral[:, 0], lateral[:, 1])  # forward = lateral turned by -90° about z


def _loop_descriptors(keypoints: np.ndarray, names: tuple[str, ...], fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Hip-centred, heading-aligned keypoints [T, K, 3] and their velocities (m/s)."""
    points = _points(keypoints, names)
    centre = 0.5 * (points["left_hip"] + points["right_hip"])
    heading = _heading(points)
    cos, sin = np.cos(-heading)[:, None], np.sin(-heading)[:, None]
    rel = keypoints - centre[:, None] * [1.0, 1.0, 0.0]
    aligned = np.stack([cos * rel[..., 0] - sin * rel[..., 1], sin * rel[..., 0] + cos * rel[..., 1], rel[..., 2]], -1)
    return aligned, np.gradient(aligned, 1.0 / fps, axis=0)


def select_loop(human: HumanMotion, max_seam_error_m: float, min_loop_s: float) -> tuple[int, int, dict[str, Any]]:
    """(s, e, info): frames [s, e) form the best loop (frame e ≈ frame s); raises if the seam is bad."""
    owner = f"human motion {human.name!r}"
    keypoints, names, fps = np.asarray(human.keypoints), human.keypoint_names, float(human.fps)
    pose, velocity = _loop_descriptors(keypoints, names, fps)
    num, min_frames = len(keypoints), max(2, int(round(min_loop_s * fps)))
    if num <= min_frames:
        raise MotionError(f"{owner}: {num} frames are too few for a loop of at least {min_loop_s} s")
    candidates = []  # (cost, start, end, pose gap, velocity gap) of the best end per start
    for start in range(0, min(num - min_frames, int(fps) + 1)):
        ends = np.arange(start + min_frames, num)
        pose_gap = np.linalg.norm(pose[ends] - pose[start], axis=-1).mean(axis=1)
        velocity_gap = np.linalg.norm(velocity[ends] - velocity[start], axis=-1).mean(axis=1)
        cost = pose_gap + SEAM_VELOCITY_WINDOW_S * velocity_gap
        candidates += [(float(c), start, int(e), float(p), float(v))
                       for c, e, p, v in zip(cost, ends, pose_gap, velocity_gap, strict=True)]
    best_cost = min(c[0] for c in candidates)
    # the longest loop whose seam is within LOOP_COST_SLACK_M of the best: several cycles beat one
    best = max((c for c in candidates if c[0] <= best_cost + LOOP_COST_SLACK_M), key=lambda c: (c[2] - c[1], -c[0]))
    _, start, end, pose_gap, velocity_gap = best
    points = _points(keypoints, names)
    heading = _heading(points)
    turn = float(np.degrees(np.angle(np.exp(1j * (heading[end] - heading[start])))))
    where = f"best seam frame {end} -> {start} ({(end - start) / fps:.2f} s loop)"
    if pose_gap > max_seam_error_m:
        raise MotionError(f"{owner}: no seamless loop: {where} has a mean keypoint mismatch of {100 * pose_gap:.1f} "
                          f"cm (limit {100 * max_seam_error_m:.1f} cm); choose a range with --start/--end or drop --loop")
    motion = float(np.linalg.norm(pose[start:end] - pose[start], axis=-1).mean(axis=1).max())
    if motion < MIN_LOOP_MOTION_M:
        raise MotionError(f"{owner}: {where} barely moves (at most {100 * motion:.1f} cm from its first pose; need "
                          f"{100 * MIN_LOOP_MOTION_M:.0f} cm): nothing to loop; choose a range with --start/--end")
    if abs(turn) > MAX_LOOP_TURN_DEG:
        raise MotionError(f"{owner}: the loop turns by {turn:.0f} degrees ({where}); looping clips must keep their "
                          f"heading (limit {MAX_LOOP_TURN_DEG:.0f})")
    centre = 0.5 * (points["left_hip"] + points["right_hip"])
    displacement = (centre[end] - centre[start]) * [1.0, 1.0, 0.0]
    info = {"source_frames": [start, end], "seam_pose_error_m": round(pose_gap, 5),
            "seam_velocity_error_mps": round(velocity_gap, 4), "heading_change_deg": round(turn, 2)}
    return start, end, {"info": info, "displacement": displacement.tolist()}


def select_frames(human: HumanMotion, selection: SourceSelection | None = None) -> HumanMotion:
    """Apply ``selection`` to a canonical human motion; provenance["selection"] records every step."""
    selection = selection or SourceSelection()
    owner = f"human motion {human.name!r}"
    num, fps = human.num_frames, float(human.fps)
    start = frame_index(selection.start, fps, num, "start", owner)
    end = frame_index(selection.end, fps, num, "end", owner)
    first, last = start or 0, num if end is None else end
    if last - first < 2:
        raise MotionError(f"{owner}: the selection [{first}, {last}) holds {max(last - first, 0)} frames; need >= 2")
    record: dict[str, Any] = {"options": dict(vars(selection)), "source_frames": [first, last]}
    keypoints = np.asarray(human.keypoints)[first:last]
    if selection.trim_rest:
        lead, trail, reasons = rest_frames(keypoints, human.keypoint_names, fps)
        lead, trail = (0 if start is not None else lead), (0 if end is not None else trail)
        if lead or trail:
            keypoints = keypoints[lead:len(keypoints) - trail]
            first, last = first + lead, last - trail
            record["trimmed_rest_frames"] = {"leading": lead, "trailing": trail, "reasons": reasons}
    provenance = dict(human.provenance)
    clip = replace(human, keypoints=keypoints, provenance=provenance)
    if selection.loop:
        s, e, loop = select_loop(clip, selection.max_seam_error_m, selection.min_loop_s)
        clip = replace(clip, keypoints=keypoints[s:e])
        record["loop"] = {**loop["info"], "source_frames": [first + s, first + e]}
        first, last = first + s, first + e
        provenance.update(cyclic=True, frames_per_cycle=e - s, period_s=(e - s) / fps,
                          cycle_root_displacement_m=loop["displacement"])
    elif provenance.get("cyclic") and (first, last) != (0, num):
        provenance["cyclic"] = False  # a cut of a looping clip no longer loops
    record["source_frames"] = [first, last]
    provenance["selection"] = record
    return replace(clip, provenance=provenance).validate()
