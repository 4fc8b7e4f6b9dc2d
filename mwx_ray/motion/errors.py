"""The one exception type of ``mwx_ray.motion``: bad motion data, named after the clip or file it came from."""

from __future__ import annotations


class MotionError(ValueError):
    """Invalid or unreadable motion data. Messages name the clip/file and the problem (frame, joint, value)."""
