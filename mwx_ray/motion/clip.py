"""``MotionClip``: a Unitree H1 reference motion, the output of retargeting (operator M) and the input of alignment.

Format (``format_version`` 1)
-----------------------------
In memory (:class:`MotionClip`) and on disk (one ``.npz``, loadable with ``allow_pickle=False``):

===================  =============  ===========================================================================
key                  shape / dtype  meaning
===================  =============  ===========================================================================
``fps``              [] float64     nominal frame rate, Hz (1 … 1000)
``joint_pos``        [T, 19] f64    H1 hinge angles, radians, HumanoidBench joint order (``H1_JOINT_NAMES``)
``root_pos``         [T, 3] f64     pelvis position, metres, world frame, z up (x forward at frame 0 by convention)
``root_quat``        [T, 4] f64     pelvis orientation, unit quaternion (w, x, y, z) — MuJoCo's order
``time_s``           [T] f64        optional explicit timestamps, seconds, strictly increasing
``keypoints``        [T, J, 3] f64  optional human keypoints the clip was retargeted from, metres, world z up
``keypoint_names``   [J] unicode    names of ``keypoints`` (canonical names of ``mwx_ray.motion.skeleton``)
``metadata_json``    [1] unicode    JSON object: ``format_version``, ``name``, ``skill_tags``, ``joint_names``,
                                    ``provenance`` (source file, license note, ``synthetic`` flag, retarget
                                    settings, per-frame retarget error stats ...; any JSON-able dict)
===================  =============  ===========================================================================

Files are written atomically (temporary file in the target folder, then ``os.replace``); ``load`` refuses files
from a newer ``format_version`` and files whose ``joint_names`` differ from the H1 order.

Time convention: frame ``k`` is at ``k / fps`` seconds (or ``time_s[k]``); ``duration_s`` is first→last frame.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from mwx_ray.motion.errors import MotionError
from mwx_ray.robots.h1 import H1

FORMAT_VERSION = 1
H1_JOINT_NAMES: tuple[str, ...] = H1.joint_names
H1_JOINT_RANGES_RAD: np.ndarray = np.array([joint.range for joint in H1.joints], dtype=np.float64)  # [19, 2]
FPS_RANGE_HZ = (1.0, 1000.0)
JOINT_LIMIT_TOLERANCE_RAD = 1e-3  # absorbs float32 round trips and IK solver slack
QUAT_NORM_TOLERANCE = 1e-3

__all__ = [
    "FORMAT_VERSION",
    "H1_JOINT_NAMES",
    "H1_JOINT_RANGES_RAD",
    "MotionClip",
    "MotionError",
    "check_finite",
    "check_fps",
]


def check_fps(fps: float, owner: str) -> None:
    """Raise :class:`MotionError` unless ``fps`` (Hz) is finite and within ``FPS_RANGE_HZ``."""
    low, high = FPS_RANGE_HZ
    if not np.isfinite(fps) or not low <= fps <= high:
        raise MotionError(f"{owner}: fps {fps!r} Hz is out of range [{low:g}, {high:g}] Hz")


def check_finite(array: np.ndarray, array_name: str, owner: str) -> None:
    """Raise :class:`MotionError` naming the first frame of ``array`` [T, ...] that holds NaN or inf."""
    bad = ~np.isfinite(array)
    if bad.any():
        frame = int(np.argwhere(bad)[0][0])
        kind = "NaN" if np.isnan(array).any() else "inf"
        raise MotionError(f"{owner}: {array_name} contains {kind} (first at frame {frame})")


@dataclass(frozen=True)
class MotionClip:
    """One H1 reference motion; see the module docstring for the format. Arrays are float64.

    Attributes:
        name: clip identifier used in error messages and registries (e.g. ``"lafan1/walk1_subject1"``).
        fps: nominal frame rate, Hz.
        joint_pos: [T, 19] hinge angles, rad, HumanoidBench H1 order.
        root_pos: [T, 3] pelvis position, m, world z-up.
        root_quat: [T, 4] pelvis orientation (w, x, y, z).
        time_s: optional [T] timestamps, s, strictly increasing.
        keypoints: optional [T, J, 3] source human keypoints, m, world z-up.
        keypoint_names: J names for ``keypoints``.
        skill_tags: e.g. ``("walk",)``.
        provenance: JSON-able dict (source_file, license_note, synthetic, retarget settings, error stats...).
        format_version: on-disk format version this clip follows.
    """

    name: str
    fps: float
    joint_pos: np.ndarray
    root_pos: np.ndarray
    root_quat: np.ndarray
    time_s: np.ndarray | None = None
    keypoints: np.ndarray | None = None
    keypoint_names: tuple[str, ...] = ()
    skill_tags: tuple[str, ...] = ()
    provenance: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    # ------------------------------------------------------------------ checks
    @property
    def num_frames(self) -> int:
        return int(np.shape(self.joint_pos)[0]) if np.ndim(self.joint_pos) >= 1 else 0

    def validate(self, joint_limit_tolerance_rad: float = JOINT_LIMIT_TOLERANCE_RAD) -> MotionClip:
        """Check shapes, finiteness, fps, time, quaternions and H1 joint limits; return ``self`` if valid.

        Raises:
            MotionError: the message names the clip and the first problem found (array, frame, joint, value).
        """
        owner = f"clip {self.name!r}"
        if self.format_version != FORMAT_VERSION:
            raise MotionError(f"{owner}: format_version {self.format_version} is not {FORMAT_VERSION}")
        check_fps(float(self.fps), owner)
        self._check_shapes(owner)
        for array_name in ("joint_pos", "root_pos", "root_quat", "time_s", "keypoints"):
            value = getattr(self, array_name)
            if value is not None:
                check_finite(np.asarray(value), array_name, owner)
        if self.time_s is not None:
            steps = np.diff(self.time_s)
            if (steps <= 0).any():
                frame = int(np.argmax(steps <= 0)) + 1
                raise MotionError(
                    f"{owner}: time_s is not strictly increasing at frame {frame} "
                    f"({self.time_s[frame - 1]:.6f} s -> {self.time_s[frame]:.6f} s)"
                )
        norms = np.linalg.norm(self.root_quat, axis=1)
        off = np.abs(norms - 1.0) > QUAT_NORM_TOLERANCE
        if off.any():
            frame = int(np.argmax(off))
            raise MotionError(f"{owner}: root_quat is not unit at frame {frame} (norm {norms[frame]:.6f})")
        self._check_joint_limits(owner, joint_limit_tolerance_rad)
        return self

    def _check_shapes(self, owner: str) -> None:
        joint_pos = np.asarray(self.joint_pos)
        if joint_pos.ndim != 2 or joint_pos.shape[1] != len(H1_JOINT_NAMES):
            raise MotionError(
                f"{owner}: joint_pos must be [T, {len(H1_JOINT_NAMES)}] (H1 joints), got shape {joint_pos.shape}"
            )
        num_frames = joint_pos.shape[0]
        if num_frames < 1:
            raise MotionError(f"{owner}: has no frames")
        expected = {"root_pos": (num_frames, 3), "root_quat": (num_frames, 4), "time_s": (num_frames,)}
        for array_name, shape in expected.items():
            value = getattr(self, array_name)
            if value is not None and np.shape(value) != shape:
                raise MotionError(
                    f"{owner}: length mismatch: {array_name} has shape {np.shape(value)}, expected {shape} "
                    f"(joint_pos has {num_frames} frames)"
                )
        if self.keypoints is not None:
            keypoints = np.asarray(self.keypoints)
            if keypoints.ndim != 3 or keypoints.shape[0] != num_frames or keypoints.shape[2] != 3:
                raise MotionError(
                    f"{owner}: length mismatch: keypoints has shape {keypoints.shape}, expected "
                    f"[{num_frames}, J, 3]"
                )
            if len(self.keypoint_names) != keypoints.shape[1]:
                raise MotionError(
                    f"{owner}: {len(self.keypoint_names)} keypoint_names for {keypoints.shape[1]} keypoints"
                )

    def _check_joint_limits(self, owner: str, tolerance_rad: float) -> None:
        low = H1_JOINT_RANGES_RAD[:, 0] - tolerance_rad
        high = H1_JOINT_RANGES_RAD[:, 1] + tolerance_rad
        outside = (self.joint_pos < low) | (self.joint_pos > high)
        if outside.any():
            frame, joint = (int(i) for i in np.argwhere(outside)[0])
            lo, hi = H1_JOINT_RANGES_RAD[joint]
            raise MotionError(
                f"{owner}: joint {H1_JOINT_NAMES[joint]!r} at frame {frame} is {self.joint_pos[frame, joint]:.4f} "
                f"rad, outside its range [{lo:.2f}, {hi:.2f}] rad ({int(outside.sum())} violations in total)"
            )

    # ------------------------------------------------------------------ helpers
    @property
    def duration_s(self) -> float:
        """Seconds from the first to the last frame."""
        if self.time_s is not None:
            return float(self.time_s[-1] - self.time_s[0])
        return (self.num_frames - 1) / float(self.fps)

    def times_s(self) -> np.ndarray:
        """[T] frame times, s (``time_s`` if given, else ``k / fps``)."""
        if self.time_s is not None:
            return np.asarray(self.time_s, dtype=np.float64)
        return np.arange(self.num_frames, dtype=np.float64) / float(self.fps)

    def resample(self, fps: float) -> MotionClip:
        """Clip at a new uniform rate ``fps`` (Hz) over the same time span.

        Joint angles, root position and keypoints are interpolated linearly; the root orientation by slerp.
        The result has no ``time_s`` (uniform frames) and records the original rate in its provenance.
        """
        check_fps(float(fps), f"clip {self.name!r} resample target")
        old_t = self.times_s() - self.times_s()[0]
        num_frames = int(np.floor(old_t[-1] * fps + 1e-9)) + 1
        new_t = np.arange(num_frames, dtype=np.float64) / fps

        def lerp(values: np.ndarray) -> np.ndarray:
            flat = values.reshape(len(old_t), -1)
            out = np.stack([np.interp(new_t, old_t, column) for column in flat.T], axis=1)
            return out.reshape((num_frames,) + values.shape[1:])

        if len(old_t) > 1:
            rotations = Rotation.from_quat(self.root_quat, scalar_first=True)
            root_quat = Slerp(old_t, rotations)(new_t).as_quat(scalar_first=True)
        else:
            root_quat = np.repeat(self.root_quat, num_frames, axis=0)
        provenance = dict(self.provenance, resampled_from_fps=float(self.fps))
        return replace(
            self,
            fps=float(fps),
            joint_pos=lerp(self.joint_pos),
            root_pos=lerp(self.root_pos),
            root_quat=root_quat,
            time_s=None,
            keypoints=None if self.keypoints is None else lerp(self.keypoints),
            provenance=provenance,
        )

    def joint_velocities(self, window_s: float = 0.1, cyclic: bool = False) -> np.ndarray:
        """[T, 19] joint velocities, rad/s, by a smoothed finite difference.

        A Savitzky–Golay derivative (quadratic fit over ``window_s`` seconds, at least 5 frames) suppresses the
        noise a plain difference amplifies; ``cyclic=True`` wraps around the ends (for looping clips).
        Clips shorter than the window fall back to ``np.gradient`` (central differences).
        """
        return _smoothed_derivative(self.joint_pos, float(self.fps), window_s, cyclic)

    def root_velocity(self, window_s: float = 0.1, cyclic: bool = False) -> np.ndarray:
        """[T, 3] pelvis linear velocity, m/s, world frame (same smoothing as :meth:`joint_velocities`)."""
        return _smoothed_derivative(self.root_pos, float(self.fps), window_s, cyclic)

    # ------------------------------------------------------------------ io
    def metadata(self) -> dict[str, Any]:
        """The JSON part of the file: version, name, tags, joint names, provenance."""
        return {
            "format_version": self.format_version,
            "name": self.name,
            "skill_tags": list(self.skill_tags),
            "joint_names": list(H1_JOINT_NAMES),
            "provenance": self.provenance,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Validate, then write the clip to ``path`` (``.npz``) atomically; returns the path written."""
        self.validate()
        arrays: dict[str, np.ndarray] = {
            "fps": np.asarray(float(self.fps)),
            "joint_pos": np.asarray(self.joint_pos, dtype=np.float64),
            "root_pos": np.asarray(self.root_pos, dtype=np.float64),
            "root_quat": np.asarray(self.root_quat, dtype=np.float64),
            "metadata_json": np.array([json.dumps(self.metadata(), sort_keys=True)]),
        }
        if self.time_s is not None:
            arrays["time_s"] = np.asarray(self.time_s, dtype=np.float64)
        if self.keypoints is not None:
            arrays["keypoints"] = np.asarray(self.keypoints, dtype=np.float64)
            arrays["keypoint_names"] = np.array(self.keypoint_names, dtype=np.str_)
        return write_npz_atomically(Path(path), arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str], validate: bool = True) -> MotionClip:
        """Read a clip written by :meth:`save` (no pickle); raises :class:`MotionError` naming the file."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except (OSError, ValueError) as err:
            raise MotionError(f"{path}: cannot read motion clip: {err}") from err
        missing = {"fps", "joint_pos", "root_pos", "root_quat", "metadata_json"} - set(arrays)
        if missing:
            raise MotionError(f"{path}: not a MotionClip file, missing keys {sorted(missing)}")
        try:
            meta = json.loads(str(arrays["metadata_json"][0]))
        except (json.JSONDecodeError, IndexError) as err:
            raise MotionError(f"{path}: metadata_json is not valid JSON: {err}") from err
        version = int(meta.get("format_version", -1))
        if version != FORMAT_VERSION:
            raise MotionError(f"{path}: format_version {version} is not supported (this code reads {FORMAT_VERSION})")
        if tuple(meta.get("joint_names", ())) != H1_JOINT_NAMES:
            raise MotionError(f"{path}: joint_names {meta.get('joint_names')} differ from the H1 joint order")
        clip = cls(
            name=str(meta.get("name", path.stem)),
            fps=float(arrays["fps"]),
            joint_pos=arrays["joint_pos"],
            root_pos=arrays["root_pos"],
            root_quat=arrays["root_quat"],
            time_s=arrays.get("time_s"),
            keypoints=arrays.get("keypoints"),
            keypoint_names=tuple(str(n) for n in arrays.get("keypoint_names", ())),
            skill_tags=tuple(meta.get("skill_tags", ())),
            provenance=dict(meta.get("provenance", {})),
            format_version=version,
        )
        return clip.validate() if validate else clip


def write_npz_atomically(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` to ``path`` via a temporary file in the same folder and ``os.replace`` (atomic on POSIX)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as tmp_file:
            np.savez_compressed(tmp_file, **arrays)  # pyright: ignore[reportArgumentType] - numpy's stub types **arrays as allow_pickle
            tmp_file.flush()
            os.fsync(tmp_file.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def _smoothed_derivative(values: np.ndarray, fps: float, window_s: float, cyclic: bool) -> np.ndarray:
    """d(values)/dt along axis 0, units of ``values`` per second ([T, ...] in, same shape out)."""
    values = np.asarray(values, dtype=np.float64)
    window = max(5, int(round(window_s * fps)) | 1)  # odd, ≥ 5 frames
    if len(values) < window:
        if len(values) < 2:
            return np.zeros_like(values)
        return np.gradient(values, 1.0 / fps, axis=0)
    mode = "wrap" if cyclic else "interp"
    from scipy.signal import (
        savgol_filter,  # deferred: scipy.signal costs ~0.9 s, and `import mwx_ray` is eager
    )

    return savgol_filter(values, window, polyorder=2, deriv=1, delta=1.0 / fps, axis=0, mode=mode)  # pyright: ignore[reportReturnType] - scipy's Array alias is an ndarray
