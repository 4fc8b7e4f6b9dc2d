"""Pose-quality figures of a retargeted clip, and the targets of issue 18 they are checked against.

=========================  ===========================================================================  ========
figure                     definition                                                                   target
=========================  ===========================================================================  ========
``keypoint_error_m``       mean over frames and the 19 keypoints of ‖H1 keypoint − IK target‖ (IK fit)  ≤ 0.03
``heading_deg``            circular mean yaw of H1's pelvis over the clip (0 = +x after alignment)      |·| ≤ 10
``travel_heading_deg``     direction of the pelvis's net travel (locomotion: > 0.2 m at > 0.3 m/s)     |·| ≤ 10
``pelvis_height_ratio``    mean H1 hip-centre height / (human hip-centre height × leg-length scale s)   1 ± 0.05
``pelvis_pitch_error_deg`` mean |H1 pelvis pitch − pelvis-frame target pitch| (the human trunk's)          ≤ 5
``planted_foot_speed_mps`` median horizontal speed of H1 foot keypoints while the source foot is planted   ≤ 0.02
``planted_foot_hover_m``   median height of H1's foot (lowest point of its collision geoms) above the    ≤ 0.01
                           floor while that source foot stands flat on the floor
``joint_speed_ratio``      max over frames/joints of |Δq|·fps / H1 velocity limit                       ≤ 1
``silent_degenerate``      degenerate frames that no warning names (always 0 here: all are reported)    = 0
=========================  ===========================================================================  ========

"Height-scaled human": the hip-centre height of the human times s = H1 leg length / human leg length, the same
scale the pelvis path gets (so a human standing with straight legs maps to H1 standing with straight legs).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from mwx_ray.motion.clip import H1_JOINT_NAMES
from mwx_ray.motion.contacts import FOOT_POINTS
from mwx_ray.motion.mocap_ik import H1_JOINT_VELOCITY_LIMITS_RAD_S
from mwx_ray.motion.skeleton import CANONICAL_KEYPOINTS

TARGETS = {"keypoint_error_m": 0.03, "heading_deg": 10.0, "travel_heading_deg": 10.0, "pelvis_height_ratio": 0.05,
           "pelvis_pitch_error_deg": 5.0, "planted_foot_speed_mps": 0.02, "planted_foot_hover_m": 0.01,
           "joint_speed_ratio": 1.0, "silent_degenerate": 0}
MIN_TRAVEL_M, MIN_TRAVEL_SPEED_MPS = 0.2, 0.3


@dataclass(frozen=True)
class QualityReport:
    """The figures of the module docstring (None where they do not apply, e.g. no planted frames)."""

    keypoint_error_m: float
    heading_deg: float
    travel_heading_deg: float | None
    pelvis_height_ratio: float
    pelvis_pitch_error_deg: float
    planted_foot_speed_mps: float | None
    planted_foot_speed_p90_mps: float | None
    planted_foot_hover_m: float | None
    planted_fraction: float
    joint_speed_ratio: float
    fastest_joint: str
    degenerate_frames: int
    silent_degenerate: int

    def as_dict(self) -> dict:
        return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    def checks(self) -> dict[str, tuple[float | None, str, bool]]:
        """figure → (value, target text, met); figures that do not apply count as met."""
        def within(value, limit):
            return value is None or abs(value) <= limit
        t = TARGETS
        return {
            "keypoint_error_m": (self.keypoint_error_m, f"<= {t['keypoint_error_m']}",
                                 self.keypoint_error_m <= t["keypoint_error_m"]),
            "heading_deg": (self.heading_deg, f"|x| <= {t['heading_deg']}", within(self.heading_deg, t["heading_deg"])),
            "travel_heading_deg": (self.travel_heading_deg, f"|x| <= {t['travel_heading_deg']}",
                                   within(self.travel_heading_deg, t["travel_heading_deg"])),
            "pelvis_height_ratio": (self.pelvis_height_ratio, f"1 +- {t['pelvis_height_ratio']}",
                                    abs(self.pelvis_height_ratio - 1.0) <= t["pelvis_height_ratio"]),
            "pelvis_pitch_error_deg": (self.pelvis_pitch_error_deg, f"<= {t['pelvis_pitch_error_deg']}",
                                       self.pelvis_pitch_error_deg <= t["pelvis_pitch_error_deg"]),
            "planted_foot_speed_mps": (self.planted_foot_speed_mps, f"<= {t['planted_foot_speed_mps']}",
                                       within(self.planted_foot_speed_mps, t["planted_foot_speed_mps"])),
            "planted_foot_hover_m": (self.planted_foot_hover_m, f"<= {t['planted_foot_hover_m']}",
                                     within(self.planted_foot_hover_m, t["planted_foot_hover_m"])),
            "joint_speed_ratio": (self.joint_speed_ratio, f"<= {t['joint_speed_ratio']}",
                                  self.joint_speed_ratio <= t["joint_speed_ratio"]),
            "silent_degenerate": (float(self.silent_degenerate), "= 0", self.silent_degenerate == 0),
        }

    def failures(self) -> list[str]:
        return [name for name, (_, _, ok) in self.checks().items() if not ok]


def _pitch_deg(rotations: np.ndarray) -> np.ndarray:
    """[T] pitch (deg, + nose down) of body rotations [T, 3, 3]: elevation of the x axis, sign flipped."""
    return -np.degrees(np.arcsin(np.clip(rotations[:, 2, 0], -1.0, 1.0)))


def measure(joint_pos: np.ndarray, root_pos: np.ndarray, root_quat: np.ndarray, robot_keypoints: np.ndarray,
            fit_error: np.ndarray, human_keypoints: np.ndarray, root_scale: float, pelvis_target: np.ndarray,
            contacts: np.ndarray, flat_contacts: np.ndarray, foot_lowest: np.ndarray, fps: float, degenerate_frames: int,
            reported_degenerate: int) -> QualityReport:
    """Figures of the module docstring.

    Args:
        joint_pos [T, 19] rad; root_pos [T, 3] m; root_quat [T, 4] wxyz; robot_keypoints [T, 19, 3] m (final,
        after the vertical placement); fit_error [T, 19] m (IK fit); human_keypoints [T, 19, 3] m (aligned,
        ground at 0); pelvis_target [T, 3, 3]; contacts [T, 4] source foot contacts (FOOT_POINTS order);
        flat_contacts [T, 4] the contacts of a flat foot on the floor (hover is measured on these);
        foot_lowest [T, 2] lowest point of H1's left/right foot geoms, m.
    """
    index = {name: i for i, name in enumerate(CANONICAL_KEYPOINTS)}
    rotations = Rotation.from_quat(root_quat, scalar_first=True).as_matrix()
    yaw = np.arctan2(rotations[:, 1, 0], rotations[:, 0, 0])
    heading = float(np.degrees(np.angle(np.mean(np.exp(1j * yaw)))))
    travel = root_pos[-1, :2] - root_pos[0, :2]
    duration = max((len(root_pos) - 1) / fps, 1e-9)
    moving = np.linalg.norm(travel) > MIN_TRAVEL_M and np.linalg.norm(travel) / duration > MIN_TRAVEL_SPEED_MPS
    travel_heading = float(np.degrees(np.arctan2(travel[1], travel[0]))) if moving else None
    hips = [index["left_hip"], index["right_hip"]]
    robot_hip_z = robot_keypoints[:, hips, 2].mean(axis=1)
    human_hip_z = human_keypoints[:, hips, 2].mean(axis=1) * root_scale
    pitch_error = float(np.mean(np.abs(_pitch_deg(rotations) - _pitch_deg(pelvis_target))))
    speeds, hovers = [], []
    for column, name in enumerate(FOOT_POINTS):
        path = robot_keypoints[:, index[name]]
        speed = np.linalg.norm(np.gradient(path[:, :2], 1.0 / fps, axis=0), axis=1) if len(path) > 1 else [0.0]
        speeds.append(np.asarray(speed)[contacts[:, column]])
    for side in range(2):
        hovers.append(foot_lowest[flat_contacts[:, 2 * side:2 * side + 2].any(axis=1), side])
    speeds_all, hovers_all = np.concatenate(speeds), np.concatenate(hovers)
    steps = np.abs(np.diff(joint_pos, axis=0)) * fps / H1_JOINT_VELOCITY_LIMITS_RAD_S if len(joint_pos) > 1 \
        else np.zeros((1, joint_pos.shape[1]))
    worst = np.unravel_index(int(np.argmax(steps)), steps.shape)
    return QualityReport(
        keypoint_error_m=float(fit_error.mean()),
        heading_deg=heading,
        travel_heading_deg=travel_heading,
        pelvis_height_ratio=float(robot_hip_z.mean() / max(human_hip_z.mean(), 1e-6)),
        pelvis_pitch_error_deg=pitch_error,
        planted_foot_speed_mps=float(np.median(speeds_all)) if len(speeds_all) else None,
        planted_foot_speed_p90_mps=float(np.percentile(speeds_all, 90)) if len(speeds_all) else None,
        planted_foot_hover_m=float(np.median(hovers_all)) if len(hovers_all) else None,
        planted_fraction=float(contacts.mean()) if contacts.size else 0.0,
        joint_speed_ratio=float(steps.max()),
        fastest_joint=f"{H1_JOINT_NAMES[worst[1]]} at frame {worst[0]}",
        degenerate_frames=int(degenerate_frames),
        silent_degenerate=int(max(degenerate_frames - reported_degenerate, 0)),
    )


def quality_lines(report: QualityReport) -> list[str]:
    """One line per figure: value, target, met / MISSED (for command-line reports and the benchmark)."""
    lines = []
    for name, (value, target, ok) in report.checks().items():
        shown = "n/a" if value is None else f"{value:.4g}"
        lines.append(f"{name:<24} {shown:>9}  target {target:<12} {'met' if ok else 'MISSED'}")
    return lines
