"""The robot's root state in its own heading frame: observations that do not change when the robot turns.

HumanoidBench observes the pelvis pose and velocity in the world frame, so an expert trained facing +x meets
inputs it never saw once it faces elsewhere: measured, the zoo stand expert, started facing ±2 rad, fell within
1.5 s. With ``env.task.observation.heading_frame`` an expert observes instead, in the robot prefix
``qpos ‖ qvel``:

* pelvis x, y (``qpos[0:2]``): 0 (where the robot stands on the floor says nothing in its own frame);
* pelvis orientation (``qpos[3:7]``): the quaternion without its yaw, ``q_z(−ψ) ⊗ q`` (ψ: ``rewards.heading.yaw_of``);
* pelvis linear velocity (``qvel[0:2]``, world frame): rotated by −ψ into the heading frame;
* everything else unchanged (height, joint angles, the free joint's angular velocity, which MuJoCo already gives
  in the pelvis frame, joint velocities, task extras).

At ψ = 0 and the origin the observation equals HumanoidBench's except for the zeroed x, y, so such an expert can
start from one trained on HumanoidBench's observation (``init_from``). A composite task keeps world-frame
observations; the router's expert pool converts them for such an expert (``experts/expert_inputs.py``).
"""

from __future__ import annotations

import math

import numpy as np

from mwx_ray.rewards.heading import into_heading_frame, yaw_of

ROOT_XY = slice(0, 2)
ROOT_QUAT = slice(3, 7)  # (w, x, y, z)


def to_heading_frame(obs: np.ndarray, qvel_start: int, out: np.ndarray | None = None) -> np.ndarray:
    """An observation that starts with a free-root robot's ``qpos ‖ qvel`` (``qvel`` at ``qvel_start``), in the
    robot's heading frame (module docstring); entries after the root are copied. Returns ``out`` (new if None;
    may be ``obs`` itself)."""
    out = np.array(obs, dtype=np.float64) if out is None else out
    if out is not obs:
        out[:] = obs
    w, x, y, z = (float(v) for v in obs[ROOT_QUAT])
    yaw = yaw_of(obs[ROOT_QUAT])
    c, s = math.cos(0.5 * yaw), math.sin(0.5 * yaw)
    out[ROOT_QUAT] = (c * w + s * z, c * x + s * y, c * y - s * x, c * z - s * w)
    out[ROOT_XY] = 0.0
    vx, vy = float(obs[qvel_start]), float(obs[qvel_start + 1])
    out[qvel_start], out[qvel_start + 1] = into_heading_frame(yaw, vx, vy)
    return out
