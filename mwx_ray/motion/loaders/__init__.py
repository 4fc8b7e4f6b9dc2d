"""Motion-source registry: one name per kind of motion input, ``load_motion(source, spec, **options)``.

=============  ==============================================  ==============================================
source         ``spec``                                        returns
=============  ==============================================  ==============================================
``bvh``        path to a ``.bvh`` file                         HumanMotion (canonical keypoints, m, z up)
``keypoints``  path to ``.npy``/``.npz`` joint positions        HumanMotion
``holosoma``   demo clip name (``omomo/…``, ``climb/…``)        HumanMotion, or MotionClip for ``h1_csv/…``
``h1_csv``     path to a LAFAN1-retargeted H1 ``.csv``          MotionClip (H1 joint space)
``clip``       path to a MotionClip ``.npz``                    MotionClip
``synthetic``  skill name (``walk``, ``run``, ``sit`` …)        HumanMotion generated from normative data
=============  ==============================================  ==============================================

Adding a source = one :func:`register_motion_source` call; unknown names raise an error listing valid ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mwx_ray.motion.clip import MotionClip
from mwx_ray.motion.errors import MotionError
from mwx_ray.motion.human_motion import HumanMotion
from mwx_ray.motion.loaders.bvh import load_bvh
from mwx_ray.motion.loaders.h1_csv import load_h1_csv
from mwx_ray.motion.loaders.holosoma import load_holosoma_demo
from mwx_ray.motion.loaders.keypoints import load_keypoints
from mwx_ray.motion.synthetic import generate_synthetic

Motion = HumanMotion | MotionClip


@dataclass(frozen=True)
class MotionSource:
    """A registered loader: ``load(spec, **options)`` → HumanMotion or MotionClip."""

    name: str
    load: Callable[..., Motion]
    description: str


_SOURCES: dict[str, MotionSource] = {}


def register_motion_source(name: str, load: Callable[..., Motion], description: str) -> None:
    """Add a source; re-registering an existing name is an error (pick a new name)."""
    if name in _SOURCES:
        raise MotionError(f"motion source {name!r} is already registered")
    _SOURCES[name] = MotionSource(name, load, description)


def motion_source_names() -> list[str]:
    """Registered source names, sorted."""
    return sorted(_SOURCES)


def get_motion_source(name: str) -> MotionSource:
    """Look up a source; the error lists the valid names."""
    try:
        return _SOURCES[name]
    except KeyError:
        raise MotionError(f"unknown motion source {name!r}; valid sources: {motion_source_names()}") from None


def load_motion(source: str, spec: Any, **options: Any) -> Motion:
    """Load ``spec`` (a path, clip name or skill name) with the loader registered as ``source``."""
    return get_motion_source(source).load(spec, **options)


register_motion_source("bvh", load_bvh, "BVH mocap file (CMU, LAFAN1, ...) -> canonical keypoints")
register_motion_source("keypoints", load_keypoints, "AMASS/SMPL-style [T, J, 3] joint positions (.npy/.npz)")
register_motion_source("holosoma", load_holosoma_demo, "demo clips of the optional holosoma-retargeting package")
register_motion_source("h1_csv", load_h1_csv, "LAFAN1-retargeted Unitree H1 CSV (root + 19 joints, 30 Hz)")
register_motion_source("clip", MotionClip.load, "MotionClip .npz written by MotionClip.save")
register_motion_source("synthetic", generate_synthetic, "human-like keypoints from normative gait/posture data")

__all__ = [
    "Motion",
    "MotionSource",
    "get_motion_source",
    "load_bvh",
    "load_h1_csv",
    "load_holosoma_demo",
    "load_keypoints",
    "load_motion",
    "motion_source_names",
    "register_motion_source",
]
