"""Ground contact: foot contacts detected in the source, planted-foot targets, and H1's floor geometry.

**Source foot contacts.** A foot point (ankle or toe keypoint) is in contact when it is within
``height_m`` (4 cm) of its own lowest level in the clip and moves slower than ``speed_mps`` (0.3 m/s,
horizontal, after a 50 ms moving average). Thresholds follow common practice in motion-synthesis data pipelines
(a few cm of height and a few tenths of a m/s); a point whose lowest level is more than 10 cm above the ground
never touches it (hand-stands, sitting with feet up). Runs shorter than 3 frames are dropped, gaps shorter than
3 frames closed.

**Planted targets.** During a contact run the H1 target of that point is pinned at the mean of the run's targets;
a pin within 3 cm of the H1 flat-foot height is put exactly at it (a flat foot on the floor; a kneeling or
crawling foot keeps its own height); the pin blends in and out over 0.1 s. The IK
gives pinned points ``contact_cost_factor`` times their normal cost (the contact-consistency term), so planted
feet neither skate nor hover.

**Ground for every link.** :data:`HUMAN_SURFACE_OFFSETS_M` gives, per human keypoint that can bear weight, the
depth of the joint centre below the body surface when it rests on the floor (sole under the ankle ≈ 0.039 ×
1.75 m, Winter 2009; patella, palm, buttocks/sacrum under the hip-level joints, back under the spine, occiput
under the head joint: adult soft-tissue and bone depths, rounded). On the robot every collision geom of our H1
model (capsules, cylinders, spheres, boxes: feet, shins, knees, thighs, pelvis, torso, head, arms, hands) is a
ground point: :func:`geom_lowest_points` gives each geom's exact lowest point, which feeds a floor inequality in
the IK and the final vertical placement.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from mwx_ray.motion.retarget_scale import h1_geometry
from mwx_ray.motion.skeleton import CANONICAL_KEYPOINTS

FOOT_POINTS = ("left_ankle", "left_toe", "right_ankle", "right_toe")
HUMAN_SURFACE_OFFSETS_M = {
    "toe": 0.0, "ankle": 0.07, "knee": 0.05, "wrist": 0.03, "elbow": 0.04, "shoulder": 0.06,
    "pelvis": 0.09, "left_hip": 0.09, "right_hip": 0.09, "spine": 0.09, "chest": 0.09, "neck": 0.07, "head": 0.08,
}
# The same for H1 targets built in H1 proportions: flat-foot heights from the model, and collision radii
# (knee sphere 5 cm, hand sphere 3.3 cm, torso box half-depth 7 cm, pelvis capsule 5 cm + its 5 cm drop, helmet).
H1_SURFACE_OFFSETS_M = {"knee": 0.05, "wrist": 0.033, "elbow": 0.03, "shoulder": 0.05, "pelvis": 0.10,
                        "left_hip": 0.08, "right_hip": 0.08, "spine": 0.07, "chest": 0.07, "neck": 0.07, "head": 0.08}
CONTACT_HEIGHT_M, CONTACT_SPEED_MPS, MAX_FLOOR_LEVEL_M = 0.04, 0.3, 0.10
SMOOTH_WINDOW_S, MIN_RUN_FRAMES, PIN_BLEND_S, FLAT_FOOT_SNAP_M = 0.05, 3, 0.1, 0.03
_COLLISION_TYPES = {int(mujoco.mjtGeom.mjGEOM_SPHERE), int(mujoco.mjtGeom.mjGEOM_CAPSULE),
                    int(mujoco.mjtGeom.mjGEOM_CYLINDER), int(mujoco.mjtGeom.mjGEOM_BOX)}


def _offset(name: str, table: dict[str, float]) -> float | None:
    part = name.split("_", 1)[1] if name.startswith(("left_", "right_")) and name not in table else name
    return table.get(name, table.get(part))


def surface_clearance(keypoints: np.ndarray, table: dict[str, float]) -> np.ndarray:
    """[T] height of the lowest body surface, m: min over keypoints in ``table`` of (z − surface depth)."""
    heights = [keypoints[:, i, 2] - off for i, name in enumerate(CANONICAL_KEYPOINTS)
               if (off := _offset(name, table)) is not None]
    return np.min(np.stack(heights, axis=1), axis=1)


def h1_surface_offsets() -> dict[str, float]:
    """H1 surface depths per keypoint part (flat-foot ankle/toe heights from the model)."""
    feet = h1_geometry().flat_foot_heights
    return {"toe": feet["toe"], "ankle": feet["ankle"], **H1_SURFACE_OFFSETS_M}


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index pairs of the True runs of a [T] bool mask."""
    edges = np.diff(np.concatenate([[0], np.asarray(mask, dtype=int), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def _clean_runs(mask: np.ndarray, min_len: int) -> np.ndarray:
    """Close interior gaps shorter than ``min_len`` frames, then drop runs shorter than ``min_len``."""
    mask = mask.copy()
    for start, end in runs(~mask):
        if start > 0 and end < len(mask) and end - start < min_len:
            mask[start:end] = True
    for start, end in runs(mask):
        if end - start < min_len:
            mask[start:end] = False
    return mask


def foot_contacts(keypoints: np.ndarray, fps: float, height_m: float = CONTACT_HEIGHT_M,
                  speed_mps: float = CONTACT_SPEED_MPS) -> np.ndarray:
    """[T, 4] bool contacts of (left ankle, left toe, right ankle, right toe), canonical keypoints [T, 19, 3] with
    the ground at z = 0 (see the module docstring)."""
    num = len(keypoints)
    window = max(1, int(round(SMOOTH_WINDOW_S * fps)))
    kernel = np.ones(window) / window
    out = np.zeros((num, len(FOOT_POINTS)), dtype=bool)
    for column, name in enumerate(FOOT_POINTS):
        path = keypoints[:, CANONICAL_KEYPOINTS.index(name)]
        if num > window:
            path = np.stack([np.convolve(np.pad(c, (window // 2, window - 1 - window // 2), mode="edge"), kernel,
                                         mode="valid") for c in path.T], axis=1)
        level = np.percentile(path[:, 2], 5)
        if level > MAX_FLOOR_LEVEL_M:
            continue
        speed = np.linalg.norm(np.gradient(path[:, :2], 1.0 / fps, axis=0), axis=1) if num > 1 else np.zeros(1)
        out[:, column] = _clean_runs((path[:, 2] - level < height_m) & (speed < speed_mps), MIN_RUN_FRAMES)
    return out


@dataclass(frozen=True)
class PinnedTargets:
    """Targets [T, 19, 3] with planted foot points pinned; pin weight per foot point [T, 4] in [0, 1] (only pins
    of a flat foot on the floor carry weight: a kneeling or crawling foot is pinned but not stressed); ``flat``
    [T, 4] marks frames inside flat-foot runs."""

    targets: np.ndarray
    weights: np.ndarray
    flat: np.ndarray


def pin_planted_feet(targets: np.ndarray, contacts: np.ndarray, fps: float) -> PinnedTargets:
    """Pin the planted foot points of H1-proportioned ``targets`` (ground at z = 0; see the module docstring)."""
    out = targets.copy()
    weights, flat_runs = np.zeros(contacts.shape), np.zeros(contacts.shape, dtype=bool)
    heights = h1_geometry().flat_foot_heights
    blend = max(1, int(round(PIN_BLEND_S * fps)))
    frames = np.arange(len(targets))
    for column, name in enumerate(FOOT_POINTS):
        index = CANONICAL_KEYPOINTS.index(name)
        pins = np.zeros((len(targets), 3))
        for start, end in runs(contacts[:, column]):
            pin = targets[start:end, index].mean(axis=0)
            flat = heights[name.split("_", 1)[1]]
            is_flat = abs(pin[2] - flat) < FLAT_FOOT_SNAP_M
            if is_flat:  # a flat foot stands on the floor: no hover
                pin[2] = flat
                flat_runs[start:end, column] = True
            # 1 inside the run, ramping to 0 over `blend` frames on either side; the nearer run wins
            ramp = np.clip(1.0 - np.maximum(start - frames, frames - (end - 1)) / blend, 0.0, 1.0)
            nearer = ramp > np.abs(weights[:, column])
            weights[nearer, column], pins[nearer] = ramp[nearer] * (1.0 if is_flat else -1.0), pin
        ramp = np.abs(weights[:, column])[:, None]
        out[:, index] = (1 - ramp) * targets[:, index] + ramp * pins
    return PinnedTargets(out, np.maximum(weights, 0.0), flat_runs)


@dataclass(frozen=True)
class GroundGeoms:
    """Collision geoms of a model that can touch the floor: ids, bodies, kinds and sizes."""

    ids: np.ndarray
    bodies: np.ndarray
    kinds: np.ndarray
    sizes: np.ndarray

    @classmethod
    def of(cls, model: mujoco.MjModel) -> GroundGeoms:
        ids = [g for g in range(model.ngeom) if model.geom_contype[g] and model.geom_bodyid[g] != 0
               and int(model.geom_type[g]) in _COLLISION_TYPES]
        return cls(np.array(ids), model.geom_bodyid[ids].copy(), model.geom_type[ids].astype(int),
                   model.geom_size[ids].copy())


def geom_lowest_points(data: mujoco.MjData, geoms: GroundGeoms) -> tuple[np.ndarray, np.ndarray]:
    """(heights [G], world points [G, 3]) of each geom's lowest surface point, m (exact for the primitives)."""
    centres = data.geom_xpos[geoms.ids]
    axes = data.geom_xmat[geoms.ids].reshape(-1, 3, 3)
    up_parts = axes[:, 2, :]  # z component of each local axis in world
    size = geoms.sizes
    points = centres.copy()
    for i, kind in enumerate(geoms.kinds):
        if kind == mujoco.mjtGeom.mjGEOM_SPHERE:
            points[i, 2] -= size[i, 0]
        elif kind == mujoco.mjtGeom.mjGEOM_CAPSULE:
            sign = np.sign(up_parts[i, 2]) or 1.0
            points[i] = centres[i] - sign * size[i, 1] * axes[i][:, 2]
            points[i, 2] -= size[i, 0]
        elif kind == mujoco.mjtGeom.mjGEOM_CYLINDER:
            sign = np.sign(up_parts[i, 2]) or 1.0
            radial = -np.array([0.0, 0.0, 1.0]) + up_parts[i, 2] * axes[i][:, 2]
            norm = np.linalg.norm(radial)
            points[i] = centres[i] - sign * size[i, 1] * axes[i][:, 2] + (size[i, 0] * radial / norm if norm > 1e-9
                                                                           else 0.0)
        else:  # box: the corner furthest down
            signs = -np.sign(up_parts[i])
            points[i] = centres[i] + axes[i] @ (signs * size[i])
    return points[:, 2].copy(), points
