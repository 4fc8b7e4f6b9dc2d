"""Offscreen RGB rendering for HumanoidEnv: a tracking camera and two quality presets.

* ``"fast"``  — 224×224, no shadows/reflections/skybox, ``offsamples=0`` (no MSAA): frames for VLM labeling.
  platform_notes.md measured ~25 fps for H1 at these settings vs ~2 fps at default quality.
* ``"video"`` — 480×640 (H×W) with the skybox: evaluation videos. Shadows, reflections and MSAA stay off:
  with them Mesa renders ~1.3 fps on this machine class, without them ~14 fps (measured), so a
  1000-step evaluation video costs ~70 s instead of ~13 min.

GL backend: headless EGL by default. :func:`prefer_headless_gl` sets ``MUJOCO_GL=egl`` only if the user has
not set it, and only has effect if called before ``mujoco`` is first imported (``mwx_ray.envs`` calls it first
thing). If creating the renderer fails (no EGL device, or a GLFW default without a display), we retry with EGL
and then OSMesa by swapping the GL context class MuJoCo's Renderer uses.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass

import numpy as np


def prefer_headless_gl() -> None:
    """Default ``MUJOCO_GL`` to ``egl`` unless the user chose a backend."""
    os.environ.setdefault("MUJOCO_GL", "egl")


prefer_headless_gl()

import mujoco  # noqa: E402 - must come after prefer_headless_gl()
from mujoco.rendering.classic import gl_context as _mujoco_gl_context  # noqa: E402


@dataclass(frozen=True)
class RenderQuality:
    """Image size (pixels) and the costly visual features to enable."""

    height: int
    width: int
    shadows: bool
    reflections: bool
    skybox: bool
    offsamples: int  # multisample anti-aliasing samples of the offscreen buffer


RENDER_QUALITIES: dict[str, RenderQuality] = {
    "fast": RenderQuality(height=224, width=224, shadows=False, reflections=False, skybox=False, offsamples=0),
    "video": RenderQuality(height=480, width=640, shadows=False, reflections=False, skybox=True, offsamples=0),
}

# Tracking camera: follows the torso from behind-left, looking diagonally forward (m, degrees), so a frame shows
# the robot and what lies ahead of it (chair, goal sphere, tunnel): a VLM teacher needs both to pick a skill.
CAMERA_DISTANCE_M = 4.5
CAMERA_AZIMUTH_DEG = 45.0
CAMERA_ELEVATION_DEG = -15.0


def _make_renderer(model: mujoco.MjModel, height: int, width: int) -> mujoco.Renderer:
    errors: list[str] = []
    try:
        return mujoco.Renderer(model, height=height, width=width)
    except Exception as err:  # noqa: BLE001 - any GL failure means "try the next backend"
        errors.append(f"MUJOCO_GL={os.environ.get('MUJOCO_GL', '')!r}: {err}")
    for backend in ("egl", "osmesa"):
        try:
            context_cls = importlib.import_module(f"mujoco.{backend}").GLContext
            _mujoco_gl_context.GLContext = context_cls
            return mujoco.Renderer(model, height=height, width=width)
        except Exception as err:  # noqa: BLE001
            errors.append(f"{backend}: {err}")
    raise RuntimeError(
        "Could not create an OpenGL context for offscreen rendering. Tried: "
        + "; ".join(errors)
        + ". Install EGL (libegl1) or OSMesa (libosmesa6), or set MUJOCO_GL explicitly."
    )


class FrameRenderer:
    """Renders RGB frames of one MjModel from a camera tracking ``track_body``.

    Create lazily (on first ``render()``), ``close()`` to free the GL context.
    """

    def __init__(self, model: mujoco.MjModel, track_body: str, quality: str = "fast"):
        if quality not in RENDER_QUALITIES:
            raise ValueError(f"unknown render quality {quality!r}; valid: {sorted(RENDER_QUALITIES)}")
        self.quality = RENDER_QUALITIES[quality]
        q = self.quality
        # offsamples is read when the MjrContext is created; restore the model's value afterwards.
        saved_offsamples = model.vis.quality.offsamples
        model.vis.quality.offsamples = q.offsamples
        try:
            self._renderer = _make_renderer(model, q.height, q.width)
        finally:
            model.vis.quality.offsamples = saved_offsamples
        flags = self._renderer.scene.flags
        flags[mujoco.mjtRndFlag.mjRND_SHADOW] = q.shadows
        flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = q.reflections
        flags[mujoco.mjtRndFlag.mjRND_SKYBOX] = q.skybox
        self._camera = mujoco.MjvCamera()
        self._camera.type = mujoco.mjtCamera.mjCAMERA_TRACKING
        self._camera.trackbodyid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, track_body)
        self._camera.distance = CAMERA_DISTANCE_M
        self._camera.azimuth = CAMERA_AZIMUTH_DEG
        self._camera.elevation = CAMERA_ELEVATION_DEG

    def render(self, data: mujoco.MjData) -> np.ndarray:
        """RGB frame, uint8, shape [height, width, 3]."""
        if self._renderer is None:
            raise RuntimeError("FrameRenderer.render() after close()")
        self._renderer.update_scene(data, camera=self._camera)
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
