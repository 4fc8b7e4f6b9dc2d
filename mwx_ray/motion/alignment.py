"""Operator A: align an H1 reference clip to an episode — start phase, looping, root frame, smoothed velocities.

:class:`ReferenceTracker` (Ray-free, one per env) is built once from a :class:`MotionClip` and the env's control
period, and answers "what should the robot be doing now?" from the simulation time:

* **Time base.** The clip is resampled once to the control rate (``1 / control_dt``). Cyclic clips are resampled
  over exactly one loop (the wrap-around segment last frame → first frame + displacement included), with the loop
  length rounded to a whole number of control steps (≤ half a step of time stretch). Lookups use the simulation
  time since reset (``MjData.time``), so they stay correct if ``frame_skip`` changes.
* **Start phase.** Each :meth:`reset` draws one uniform number from the env's generator: cyclic clips start at a
  uniformly random frame; non-cyclic clips at a random frame within the first ``noncyclic_max_start_fraction`` of the
  clip (default 0: from the start, since the robot always resets standing). ``random_start=False`` starts at 0.
* **Looping.** Cyclic clips wrap around; each completed loop adds the clip's per-loop root displacement
  (``provenance["cycle_root_displacement_m"]`` × cycles in the clip, else extrapolated from the first and last
  frame), so a walk keeps walking forward. Loops are assumed not to turn (no yaw change per loop). Non-cyclic clips
  hold their last frame, with zero reference velocity.
* **Root alignment.** At reset the reference root trajectory is rotated about the vertical and translated so that
  the reference root at the start frame has the robot's current xy position and yaw; heights stay absolute
  (ground at z = 0 in both).
* **Velocities.** Reference joint velocities are Savitzky–Golay derivatives (``MotionClip.joint_velocities``,
  quadratic over ``velocity_window_s``), wrapping around for cyclic clips.
* **Phase.** φ ∈ [0, 1): frame / loop length for cyclic clips; for non-cyclic clips φ = progress / 2 ∈ [0, 0.5],
  so the observation features ``(sin 2πφ, cos 2πφ)`` never map the start and the end to the same point
  (``mwx_ray.motion.phase``, shared with the expert's own clock).
* **End effectors.** Hand and foot sites (HumanoidBench's ``left_hand``, ``right_hand``, ``left_foot``,
  ``right_foot``) of the reference, by forward kinematics, in the reference *pelvis frame* (m) — frame-invariant,
  so they need no alignment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from mwx_ray.motion.clip import MotionClip
from mwx_ray.motion.phase import PhaseClock, clip_frame, frame_phase, phase_features
from mwx_ray.motion.retarget_scale import kinematic_h1_model, site_ids

END_EFFECTOR_SITES = ("left_hand", "right_hand", "left_foot", "right_foot")


@dataclass(frozen=True)
class AlignmentSettings:
    """Options of operator A (see the module docstring)."""

    random_start: bool = True
    noncyclic_max_start_fraction: float = 0.0
    velocity_window_s: float = 0.1
    align_root: bool = True
    cyclic: bool | None = None  # None: read the clip's provenance["cyclic"]


@dataclass
class ReferenceFrame:
    """The reference at one instant. ``joint_pos``/``joint_vel``/``end_effectors`` are read-only views into the
    tracker's tables; ``root_pos``/``root_quat`` are fresh arrays.

    Attributes:
        joint_pos, joint_vel: [19] rad, rad/s. root_pos: [3] m, world (aligned). root_quat: [4] wxyz, world.
        end_effectors: [4, 3] m, pelvis frame. phase: φ. frame: index into the resampled clip.
    """

    joint_pos: np.ndarray
    joint_vel: np.ndarray
    root_pos: np.ndarray
    root_quat: np.ndarray
    end_effectors: np.ndarray
    phase: float
    frame: int


def yaw_of(quat_wxyz: np.ndarray) -> float:
    """Heading angle (rad) of a wxyz quaternion: atan2 of the body x-axis projected on the ground."""
    w, x, y, z = (float(v) for v in quat_wxyz)
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def _cyclic_resample(clip: MotionClip, rate_hz: float, displacement: np.ndarray) -> MotionClip:
    """Resample a cyclic clip over one loop including the wrap segment (module docstring, "Time base")."""
    num_frames = clip.num_frames
    loop_s = num_frames / clip.fps
    new_frames = max(2, int(round(loop_s * rate_hz)))
    old_t = np.arange(num_frames + 1) / clip.fps
    new_t = np.arange(new_frames) * (loop_s / new_frames)
    joints = np.vstack([clip.joint_pos, clip.joint_pos[:1]])
    roots = np.vstack([clip.root_pos, clip.root_pos[:1] + displacement])
    quats = np.vstack([clip.root_quat, clip.root_quat[:1]])
    rotations = Slerp(old_t, Rotation.from_quat(quats, scalar_first=True))(new_t)
    interp = lambda values: np.stack([np.interp(new_t, old_t, c) for c in values.T], axis=1)  # noqa: E731
    return replace(clip, fps=float(new_frames / loop_s), joint_pos=interp(joints), root_pos=interp(roots),
                   root_quat=rotations.as_quat(scalar_first=True), time_s=None, keypoints=None, keypoint_names=())


def loop_displacement(clip: MotionClip) -> np.ndarray:
    """[3] root displacement per loop of a cyclic clip, m, clip frame (z forced to 0)."""
    provenance = clip.provenance
    if "cycle_root_displacement_m" in provenance:
        cycles = clip.num_frames / float(provenance.get("frames_per_cycle", clip.num_frames))
        displacement = np.asarray(provenance["cycle_root_displacement_m"], dtype=np.float64) * cycles
    elif clip.num_frames > 1:
        displacement = (clip.root_pos[-1] - clip.root_pos[0]) * clip.num_frames / (clip.num_frames - 1)
    else:
        displacement = np.zeros(3)
    return displacement * np.array([1.0, 1.0, 0.0])


def end_effectors_in_pelvis_frame(joint_pos: np.ndarray, root_quat: np.ndarray) -> np.ndarray:
    """[T, 4, 3] hand/foot site positions relative to the pelvis, pelvis frame, m (FK on the kinematic H1)."""
    model = kinematic_h1_model()
    data = mujoco.MjData(model)
    sites = site_ids(model, "", END_EFFECTOR_SITES)
    out = np.empty((len(joint_pos), len(sites), 3))
    for frame in range(len(joint_pos)):
        data.qpos[:] = 0.0
        data.qpos[3:7] = root_quat[frame]
        data.qpos[7:26] = joint_pos[frame]
        mujoco.mj_kinematics(model, data)
        rotation = data.xmat[1].reshape(3, 3)  # body 1 = pelvis (root at the origin)
        out[frame] = (data.site_xpos[sites] - data.xpos[1]) @ rotation
    return out


class ReferenceTracker:
    """Operator A for one env (see the module docstring). Not thread-safe; one per env instance."""

    def __init__(self, clip: MotionClip, control_dt: float, settings: AlignmentSettings | None = None):
        self.settings = settings or AlignmentSettings()
        cyclic = self.settings.cyclic
        self.cyclic = bool(clip.provenance.get("cyclic", False)) if cyclic is None else bool(cyclic)
        rate_hz = 1.0 / float(control_dt)
        self.displacement = loop_displacement(clip) if self.cyclic else np.zeros(3)
        if self.cyclic:
            clip = _cyclic_resample(clip, rate_hz, self.displacement)
        elif abs(clip.fps - rate_hz) > 1e-9:
            clip = clip.resample(rate_hz)
        self.clip = clip
        self.rate_hz = float(clip.fps)
        self.num_frames = clip.num_frames
        self.joint_pos = np.array(clip.joint_pos)
        self.joint_vel = clip.joint_velocities(self.settings.velocity_window_s, cyclic=self.cyclic)
        self.root_pos = np.array(clip.root_pos)
        self.root_quat = np.array(clip.root_quat)
        self.root_yaw = np.array([yaw_of(q) for q in self.root_quat])
        self.end_effectors = end_effectors_in_pelvis_frame(self.joint_pos, self.root_quat)
        self._zero_vel = np.zeros_like(self.joint_vel[0])
        for table in (self.joint_pos, self.joint_vel, self.root_pos, self.root_quat, self.end_effectors,
                      self._zero_vel):
            table.setflags(write=False)  # lookups hand out views: nobody may edit the reference
        self.start_frame = 0
        self.yaw_offset = 0.0  # rad, reference → world rotation about z of the current episode
        # Per-episode aligned tables (world frame), filled by reset: root path [N, 3], root quats [N, 4], and the
        # world-frame displacement added per completed loop [3].
        self.aligned_root_pos = self.root_pos.copy()
        self.aligned_root_quat = self.root_quat.copy()
        self.aligned_displacement = self.displacement.copy()

    # ------------------------------------------------------------------ episode
    def reset(self, rng: np.random.Generator, robot_root_pos: np.ndarray, robot_root_quat: np.ndarray,
              start_frame: int | None = None, anchor_frame: int | None = None) -> None:
        """New episode: draw the start frame from ``rng`` (exactly one draw) and align the root to the robot.

        Args:
            robot_root_pos: [3] robot pelvis position, m, world. robot_root_quat: [4] wxyz, world.
            start_frame: start here instead of drawing (the caller chose the phase; ``rng`` is not used).
            anchor_frame: the frame placed at the robot's xy and yaw (default: the start frame). Reference
                state initialization anchors frame 0 at the robot, so a clip that leads somewhere (sit: onto the
                chair) still ends there when the episode starts half-way through it.
        """
        if start_frame is not None:
            if not 0 <= start_frame < self.num_frames:
                raise ValueError(f"start_frame {start_frame} outside the clip's {self.num_frames} frames")
            self.start_frame = int(start_frame)
        else:
            self.start_frame = self._draw_start_frame(float(rng.random()))
        self._align(robot_root_pos, robot_root_quat, self.start_frame if anchor_frame is None else int(anchor_frame))

    def _draw_start_frame(self, draw: float) -> int:
        if not self.settings.random_start:
            return 0
        if self.cyclic:
            return min(int(draw * self.num_frames), self.num_frames - 1)
        span = self.settings.noncyclic_max_start_fraction * (self.num_frames - 1)
        return int(draw * span)

    def _align(self, robot_root_pos: np.ndarray, robot_root_quat: np.ndarray, anchor: int) -> None:
        """Rotate/translate the reference root path so frame ``anchor`` sits at the robot's xy and yaw."""
        rotation, translation = np.eye(3), np.zeros(3)
        self.yaw_offset = 0.0
        if self.settings.align_root:
            self.yaw_offset = yaw_of(robot_root_quat) - float(self.root_yaw[anchor])
            c, s = math.cos(self.yaw_offset), math.sin(self.yaw_offset)
            rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
            translation[:2] = np.asarray(robot_root_pos[:2], dtype=np.float64) - (
                rotation @ self.root_pos[anchor])[:2]
        self.aligned_root_pos = self.root_pos @ rotation.T + translation  # heights unchanged (rotation about z)
        self.aligned_displacement = rotation @ self.displacement
        half = 0.5 * self.yaw_offset
        self.aligned_root_quat = quat_multiply(np.array([math.cos(half), 0.0, 0.0, math.sin(half)]), self.root_quat)

    # ------------------------------------------------------------------ lookups
    def frame_index(self, time_s: float) -> tuple[int, int]:
        """(frame in the clip, completed loops) at ``time_s`` seconds after reset."""
        steps = int(round(time_s * self.rate_hz))
        frame = clip_frame(self.start_frame, steps, self.num_frames, self.cyclic)
        return frame, ((self.start_frame + steps) // self.num_frames if self.cyclic else 0)

    def phase(self, time_s: float) -> float:
        """φ at ``time_s`` (``mwx_ray.motion.phase``)."""
        return frame_phase(self.frame_index(time_s)[0], self.num_frames, self.cyclic)

    def phase_features(self, time_s: float, out: np.ndarray | None = None) -> np.ndarray:
        """[2] (sin 2πφ, cos 2πφ) for the observation."""
        return phase_features(self.phase(time_s), out)

    def clock(self) -> PhaseClock:
        """The clock an expert trained on this reference carries (``mwx_ray.motion.phase``)."""
        return PhaseClock(num_frames=self.num_frames, cyclic=self.cyclic, control_dt_s=1.0 / self.rate_hz)

    def at(self, time_s: float) -> ReferenceFrame:
        """Reference at ``time_s`` seconds after reset (aligned to the robot's start pose)."""
        frame, loops = self.frame_index(time_s)
        unclamped = self.start_frame + int(round(time_s * self.rate_hz))
        held = not self.cyclic and unclamped >= self.num_frames  # past the end: hold, zero velocity
        root = self.aligned_root_pos[frame] + loops * self.aligned_displacement
        phase = frame_phase(frame, self.num_frames, self.cyclic)
        return ReferenceFrame(
            joint_pos=self.joint_pos[frame],
            joint_vel=self._zero_vel if held else self.joint_vel[frame],
            root_pos=root,
            root_quat=self.aligned_root_quat[frame].copy(),
            end_effectors=self.end_effectors[frame],
            phase=phase,
            frame=frame,
        )


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a ⊗ b of wxyz quaternions; a: [4], b: [..., 4] → [..., 4]."""
    aw, ax, ay, az = a
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], axis=-1)
