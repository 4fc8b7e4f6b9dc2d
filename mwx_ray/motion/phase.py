"""The clip phase φ and its observation features: one definition for the training env and the expert's clock.

A reference clip resampled to the control rate has ``num_frames`` frames. After ``steps`` control steps from
start frame ``start``, the reference is at frame ``start + steps`` (cyclic clips wrap around, non-cyclic ones
hold their last frame), and

    φ = frame / num_frames                 cyclic clips, φ ∈ [0, 1)
    φ = 0.5 · frame / (num_frames − 1)     non-cyclic clips, φ ∈ [0, 0.5], so start and end never share a feature

The observation features are ``(sin 2πφ, cos 2πφ)``. An expert trained with them carries a :class:`PhaseClock`
that starts at frame 0 when the expert is activated, exactly as a training episode that started at frame 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

NUM_PHASE_FEATURES = 2


def clip_frame(start: int, steps: int, num_frames: int, cyclic: bool) -> int:
    """Frame index ``steps`` control steps after ``start`` (wrapped or held at the end)."""
    index = start + steps
    return index % num_frames if cyclic else min(index, num_frames - 1)


def frame_phase(frame: int, num_frames: int, cyclic: bool) -> float:
    """φ of a frame (module docstring)."""
    return frame / num_frames if cyclic else 0.5 * frame / max(num_frames - 1, 1)


def phase_features(phase: float, out: np.ndarray | None = None) -> np.ndarray:
    """[2] (sin 2πφ, cos 2πφ)."""
    angle = 2.0 * math.pi * phase
    out = np.empty(NUM_PHASE_FEATURES) if out is None else out
    out[0], out[1] = math.sin(angle), math.cos(angle)
    return out


@dataclass(frozen=True)
class PhaseClock:
    """What an expert needs to run its own clock: the clip's length at the control rate and whether it loops.

    Attributes:
        num_frames: frames of the reference at the control rate (one loop for cyclic clips).
        cyclic: the clip loops (gaits) or holds its last frame (sit, reach).
        control_dt_s: control period the frames are counted in, s.
    """

    num_frames: int
    cyclic: bool
    control_dt_s: float

    def features(self, steps: int, out: np.ndarray | None = None) -> np.ndarray:
        """[2] phase features after ``steps`` control steps of activity."""
        frame = clip_frame(0, int(steps), self.num_frames, self.cyclic)
        return phase_features(frame_phase(frame, self.num_frames, self.cyclic), out)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PhaseClock:
        return cls(num_frames=int(data["num_frames"]), cyclic=bool(data["cyclic"]),
                   control_dt_s=float(data["control_dt_s"]))
