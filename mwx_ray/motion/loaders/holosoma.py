"""Demo clips shipped inside the optional PyPI package ``holosoma-retargeting`` (``pip install mwx_ray[mocap]``).

The package is imported lazily: nothing here touches it until a function is called, and a missing package
raises :class:`MotionError` naming the install command.

Clip kinds under ``holosoma_retargeting/demo_data/`` (layouts as read by holosoma's ``examples/robot_retarget.py``):

* ``OMOMO_new/<name>.pt`` — InterMimic-processed OMOMO (box carrying): a float tensor [T, ≥325]; columns
  162:318 are 52 SMPL-H joint positions (m, z up) in holosoma's ``smplh`` joint order. 30 Hz (InterMimic's rate).
* ``climb/<name>/*.npy`` — optical mocap [T, J, 3] in holosoma's ``mocap`` joint order (BVH-style names);
  holosoma keeps every 4th frame to reach its 30 Hz, so the raw rate is taken as 120 Hz.
* ``h1_csv/<name>.csv`` — H1 robot clips in the LAFAN1 CSV layout → :func:`load_h1_csv` (a MotionClip).

Units are checked with the body-height heuristic (:func:`~mwx_ray.motion.skeleton.infer_unit_scale`).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np

from mwx_ray.motion.clip import MotionClip
from mwx_ray.motion.errors import MotionError
from mwx_ray.motion.human_motion import HumanMotion
from mwx_ray.motion.loaders.h1_csv import load_h1_csv
from mwx_ray.motion.skeleton import infer_unit_scale, to_canonical

INSTALL_HINT = "pip install mwx_ray[mocap]"
OMOMO_FPS_HZ = 30.0  # InterMimic's processed OMOMO rate
CLIMB_MOCAP_FPS_HZ = 120.0  # holosoma downsamples these by 4 to its 30 Hz retargeting rate
_INTERMIMIC_JOINT_COLUMNS = slice(162, 162 + 52 * 3)  # holosoma load_intermimic_data's slice
LICENSE_NOTE = "holosoma-retargeting demo data: see the package's LICENSE and the original dataset's (OMOMO, ...)"


def _import_holosoma() -> ModuleType:
    try:
        import holosoma_retargeting  # pyright: ignore[reportMissingImports] - optional extra [mocap]
    except ImportError as err:
        raise MotionError(
            "the 'holosoma' motion source needs the optional package holosoma-retargeting, which is not "
            f"installed: run `{INSTALL_HINT}`"
        ) from err
    return holosoma_retargeting


def holosoma_demo_dir() -> Path:
    """Folder ``demo_data`` inside the installed ``holosoma_retargeting`` package."""
    package = _import_holosoma()
    folder = Path(package.__file__).resolve().parent / "demo_data"  # pyright: ignore[reportArgumentType] - a package: __file__ is set
    if not folder.is_dir():
        raise MotionError(f"holosoma-retargeting is installed but has no demo_data folder at {folder}")
    return folder


def list_holosoma_demo_clips() -> dict[str, Path]:
    """Clip name (``omomo/<stem>``, ``climb/<stem>``, ``h1_csv/<stem>``) → file path, sorted by name."""
    root = holosoma_demo_dir()
    clips: dict[str, Path] = {}
    for path in sorted(root.glob("OMOMO*/*.pt")):
        clips[f"omomo/{path.stem}"] = path
    for path in sorted(root.glob("climb/*/*.npy")):
        clips[f"climb/{path.parent.name}"] = path
    for path in sorted(root.glob("**/*.csv")):
        clips[f"h1_csv/{path.stem}"] = path
    return clips


def _demo_joint_names(data_format: str) -> tuple[str, ...]:
    """holosoma's own joint order for ``data_format`` (``smplh``/``mocap``), read from the installed package."""
    _import_holosoma()
    try:
        from holosoma_retargeting.config_types.data_type import DEMO_JOINTS_REGISTRY  # pyright: ignore[reportMissingImports] - optional extra [mocap]
    except ImportError as err:
        raise MotionError(f"holosoma-retargeting has no DEMO_JOINTS_REGISTRY (unsupported version): {err}") from err
    return tuple(DEMO_JOINTS_REGISTRY[data_format])


def _read_intermimic_positions(path: Path) -> np.ndarray:
    """[T, 52, 3] joint positions from an InterMimic ``.pt`` tensor (torch is imported only here)."""
    import torch

    table = torch.load(path, map_location="cpu", weights_only=True)
    table = np.asarray(table.detach().cpu().numpy() if hasattr(table, "detach") else table, dtype=np.float64)
    if table.ndim != 2 or table.shape[1] < _INTERMIMIC_JOINT_COLUMNS.stop:
        raise MotionError(f"{path}: expected an InterMimic [T, >=318] table, got shape {table.shape}")
    return table[:, _INTERMIMIC_JOINT_COLUMNS].reshape(len(table), 52, 3)


def load_holosoma_demo(name: str, skill_tags: tuple[str, ...] = ()) -> HumanMotion | MotionClip:
    """Load demo clip ``name`` (see :func:`list_holosoma_demo_clips`) → HumanMotion (human) or MotionClip (H1).

    Raises:
        MotionError: package missing (names ``pip install mwx_ray[mocap]``), or unknown name (lists valid ones).
    """
    clips = list_holosoma_demo_clips()
    if name not in clips:
        raise MotionError(f"unknown holosoma demo clip {name!r}; valid: {sorted(clips)}")
    path = clips[name]
    if name.startswith("h1_csv/"):
        return load_h1_csv(path, skill_tags=skill_tags, license_note=LICENSE_NOTE)
    if name.startswith("omomo/"):
        positions, names, fps = _read_intermimic_positions(path), _demo_joint_names("smplh"), OMOMO_FPS_HZ
    else:
        positions = np.asarray(np.load(path, allow_pickle=False), dtype=np.float64)
        names, fps = _demo_joint_names("mocap"), CLIMB_MOCAP_FPS_HZ
    if positions.ndim != 3 or positions.shape[1] != len(names):
        raise MotionError(f"{path}: expected [T, {len(names)}, 3] positions, got shape {positions.shape}")
    scale = infer_unit_scale(positions, 2, str(path))
    convention = "holosoma_smplh" if name.startswith("omomo/") else "bvh"
    keypoints, canonical = to_canonical(positions * scale, names, convention, owner=str(path))
    return HumanMotion(
        name=name,
        fps=fps,
        keypoints=keypoints,
        keypoint_names=canonical,
        source="holosoma",
        skill_tags=tuple(skill_tags),
        provenance={
            "source_file": str(path),
            "license_note": LICENSE_NOTE,
            "synthetic": False,
            "unit_scale_m_per_unit": scale,
        },
    ).validate()
