"""``HumanMotion``: human keypoint trajectories (metres, world z up), the input of retargeting (operator M).

Loaders of human data (BVH, AMASS/SMPL joint arrays, holosoma demo clips) and the synthetic generator all return
this type, with keypoints in the canonical order of :mod:`mwx_ray.motion.skeleton` whenever the source allows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from mwx_ray.motion.clip import check_finite, check_fps
from mwx_ray.motion.errors import MotionError


@dataclass(frozen=True)
class HumanMotion:
    """Human keypoints over time.

    Attributes:
        name: identifier used in error messages (e.g. ``"synthetic/walk"``, a file stem).
        fps: frame rate, Hz; frame ``k`` is at ``k / fps`` s.
        keypoints: [T, J, 3] positions, metres, world frame, z up (x forward by convention for generated data).
        keypoint_names: J names (canonical names from :mod:`mwx_ray.motion.skeleton` after mapping).
        source: where it came from: a loader name (``"bvh"``, ``"keypoints"``, ``"holosoma"``, ``"synthetic"``).
        skill_tags: e.g. ``("walk",)``.
        provenance: JSON-able dict (source_file, license_note, synthetic flag, generating parameters, ...).
    """

    name: str
    fps: float
    keypoints: np.ndarray
    keypoint_names: tuple[str, ...]
    source: str
    skill_tags: tuple[str, ...] = ()
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.keypoints.shape[0])

    @property
    def duration_s(self) -> float:
        """Seconds from the first to the last frame."""
        return (self.num_frames - 1) / float(self.fps)

    def validate(self) -> HumanMotion:
        """Check shapes, names, fps and finiteness; return ``self``. Raises :class:`MotionError`."""
        owner = f"human motion {self.name!r}"
        check_fps(float(self.fps), owner)
        keypoints = np.asarray(self.keypoints)
        if keypoints.ndim != 3 or keypoints.shape[2] != 3 or keypoints.shape[0] < 1:
            raise MotionError(f"{owner}: keypoints must be [T, J, 3] with T >= 1, got shape {keypoints.shape}")
        if len(self.keypoint_names) != keypoints.shape[1]:
            raise MotionError(
                f"{owner}: {len(self.keypoint_names)} keypoint_names for {keypoints.shape[1]} keypoints"
            )
        if len(set(self.keypoint_names)) != len(self.keypoint_names):
            raise MotionError(f"{owner}: duplicate keypoint names in {list(self.keypoint_names)}")
        check_finite(keypoints, "keypoints", owner)
        return self

    def index(self, keypoint_name: str) -> int:
        """Column of ``keypoint_name``; the error lists the available names."""
        try:
            return self.keypoint_names.index(keypoint_name)
        except ValueError:
            raise MotionError(
                f"human motion {self.name!r} has no keypoint {keypoint_name!r}; it has {list(self.keypoint_names)}"
            ) from None

    def keypoint(self, keypoint_name: str) -> np.ndarray:
        """[T, 3] trajectory of one keypoint, m."""
        return self.keypoints[:, self.index(keypoint_name)]

    def resample(self, fps: float) -> HumanMotion:
        """Linearly interpolated copy at ``fps`` Hz over the same time span."""
        check_fps(float(fps), f"human motion {self.name!r} resample target")
        old_t = np.arange(self.num_frames) / float(self.fps)
        num_frames = int(np.floor(old_t[-1] * fps + 1e-9)) + 1
        new_t = np.arange(num_frames) / float(fps)
        flat = self.keypoints.reshape(self.num_frames, -1)
        resampled = np.stack([np.interp(new_t, old_t, column) for column in flat.T], axis=1)
        return replace(
            self,
            fps=float(fps),
            keypoints=resampled.reshape(num_frames, -1, 3),
            provenance=dict(self.provenance, resampled_from_fps=float(self.fps)),
        )
