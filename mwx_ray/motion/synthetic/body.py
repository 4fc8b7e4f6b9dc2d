"""A simple human body: segment lengths and landmark heights as fractions of standing height.

Fractions are Winter's anthropometric segment lengths (D. A. Winter, *Biomechanics and Motor Control of Human
Movement*, 4th ed., 2009, Fig. 4.1, after Drillis & Contini 1966), H = standing height:

=====================  ========  =============================================
quantity               fraction  note
=====================  ========  =============================================
thigh (hip→knee)       0.245     0.530H greater-trochanter − 0.285H knee height
shank (knee→ankle)     0.246     0.285H knee − 0.039H ankle height
ankle height           0.039     lateral malleolus above the sole
foot length            0.152
upper arm              0.186     shoulder → elbow
forearm                0.146     elbow → wrist
shoulder width         0.259     between the shoulder joints
hip breadth            0.191     across the greater trochanters
shoulder height        0.818     acromion
chin / eye height      0.870 / 0.936
=====================  ========  =============================================

Assumptions of this generator (not from Winter): hip-joint centres are 0.6 × hip breadth apart (the trochanters
lie lateral of the joint centres); the pelvis keypoint is 0.04H above the hip centres (SMPL's pelvis joint also
sits above its hips); lumbar ``spine`` at 0.62H, ``chest`` at 0.72H, ``neck`` (C7) at 0.83H and ``head`` (mid-skull)
at 0.91H when standing (between Winter's shoulder, chin and eye heights); the ankle lies above the point 25 % of
the foot length from the heel and the toe base (MTP joint) 73 % from the heel, both at sole level.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Body:
    """Segment lengths (m) of a person of standing height ``height_m``; build with :meth:`from_height`."""

    height_m: float
    thigh_m: float
    shank_m: float
    ankle_height_m: float
    foot_length_m: float
    upper_arm_m: float
    forearm_m: float
    shoulder_width_m: float
    hip_joint_separation_m: float
    pelvis_above_hips_m: float
    pelvis_to_spine_m: float
    spine_to_chest_m: float
    chest_to_neck_m: float
    neck_to_head_m: float
    chest_to_shoulder_height_m: float

    @classmethod
    def from_height(cls, height_m: float) -> Body:
        """Winter (2009) fractions of ``height_m`` (see module docstring)."""
        h = float(height_m)
        hip_height = 0.530 * h
        pelvis_height = hip_height + 0.04 * h
        return cls(
            height_m=h,
            thigh_m=0.245 * h,
            shank_m=0.246 * h,
            ankle_height_m=0.039 * h,
            foot_length_m=0.152 * h,
            upper_arm_m=0.186 * h,
            forearm_m=0.146 * h,
            shoulder_width_m=0.259 * h,
            hip_joint_separation_m=0.6 * 0.191 * h,
            pelvis_above_hips_m=0.04 * h,
            pelvis_to_spine_m=0.62 * h - pelvis_height,
            spine_to_chest_m=0.10 * h,
            chest_to_neck_m=0.11 * h,
            neck_to_head_m=0.08 * h,
            chest_to_shoulder_height_m=0.818 * h - 0.72 * h,
        )

    @property
    def leg_length_m(self) -> float:
        """Hip joint to sole with straight legs: thigh + shank + ankle height."""
        return self.thigh_m + self.shank_m + self.ankle_height_m

    @property
    def heel_behind_ankle_m(self) -> float:
        return 0.25 * self.foot_length_m

    @property
    def toe_ahead_of_ankle_m(self) -> float:
        return (0.73 - 0.25) * self.foot_length_m

    def as_dict(self) -> dict[str, float]:
        return asdict(self)
