"""Writing rollout frames to mp4 (H.264 via imageio's bundled ffmpeg), atomically."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from mwx_ray.atomic_io import atomic_path


def write_mp4(frames: Iterable[np.ndarray], path: str | Path, fps: float) -> Path:
    """Write ``[H, W, 3]`` uint8 frames to ``path``; the file appears only once it is complete.

    Frame sizes must be multiples of 2 for H.264 (yuv420p); callers render at even sizes.
    """
    import imageio.v2 as imageio

    path = Path(path)
    count = 0
    with atomic_path(path) as tmp:
        writer = imageio.get_writer(tmp, fps=fps, codec="libx264", quality=7, macro_block_size=1,
                                    ffmpeg_log_level="error", pixelformat="yuv420p")
        try:
            for frame in frames:
                writer.append_data(np.asarray(frame, dtype=np.uint8))
                count += 1
        finally:
            writer.close()
        if count == 0:
            raise ValueError(f"no frames to write to {path}")
    return path
