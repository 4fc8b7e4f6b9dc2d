"""``HumanoidEnv``: a gymnasium env = robot (RobotSpec) × task (Task), HumanoidBench-compatible.

Conventions (humanoidbench.md "Env conventions"):

* action: ``Box(-1, 1, (nu,))``, mapped linearly to each actuator's ctrlrange,
  ``ctrl = (a + 1) / 2 · (high − low) + low`` (joint-position targets, rad). Out-of-range actions are not
  clipped here; MuJoCo clamps ctrl to ctrlrange, as in HumanoidBench. NaN/inf or a wrong shape → ValueError.
* 50 Hz control: ``frame_skip`` (10) × ``mj_step`` at 0.002 s.
* reset: keyframe ``home``, + U(−0.01, 0.01) on every qpos entry from ``self.np_random`` (no quaternion
  renormalisation), mj_forward, ``task.reset(ctx, np_random)``, mj_forward; then, with ``start_states`` (training
  only), a recorded robot state with that probability (``envs/start_states.py``; ``info["recorded_start"]``).
* observation: float64 ``concat(qpos, qvel)`` of the whole model (+ ``task.extra_obs``): 51 for h1 locomotion;
  ``exclude_root_xy`` drops ``qpos[0:2]`` (an option for experts' training envs; HumanoidBench keeps them);
  ``heading_frame`` gives the root's pose and velocity in the robot's heading frame (``envs/heading_frame.py``).
* reward/termination: read from MjData right after the last ``mj_step``, **without** ``mj_forward``
  (HumanoidBench order; see envs/context.py). Truncation at ``task.episode_steps``.
* info keys (flat, so they map 1:1 to metric names):
    ``reward_terms/<name>`` every reward component of the task, every step;
    ``hb/return`` running HumanoidBench episode return (sum of rewards so far). A task whose env reward is
    not the HumanoidBench reward (imitation variants: ``w_track·r_track + w_task·r_task``) names the reward
    term holding the plain task reward in its ``hb_reward_term`` attribute; ``hb/return`` and ``success``
    then sum that term instead of the env reward (envs/imitation.py);
    ``diverged`` (bool) and ``divergence_count`` (divergent episodes seen by this env instance);
    at episode end (terminated or truncated) ``success`` (``task.is_success``: ``hb/return ≥ success_bar``
    for single skills, all stages done for composite tasks) plus ``task.episode_end_info`` entries.
* physics divergence (non-finite qpos/qvel, or a new mjWARN_BADQPOS/BADQVEL/BADQACC — MuJoCo auto-resets
  the data on those) ends the episode with ``terminated=True``, reward 0, ``info["diverged"]=True``; it never
  raises. The returned observation is sanitised to finite values.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import gymnasium
import mujoco
import numpy as np

from mwx_ray.envs.context import StepContext
from mwx_ray.envs.heading_frame import to_heading_frame
from mwx_ray.envs.rendering import RENDER_QUALITIES, FrameRenderer
from mwx_ray.envs.start_states import StartStates, body_xy_yaw, load_start_states, out_of_body_frame
from mwx_ray.envs.task import Task
from mwx_ray.robots.spec import RobotSpec

FRAME_SKIP = 10  # HumanoidBench: 10 × 0.002 s = 20 ms per env step (50 Hz)
RESET_QPOS_NOISE = 0.01  # HumanoidBench: uniform ±0.01 on every qpos entry
KEYFRAME_NAME = "home"
ROOT_XY_ENTRIES = 2  # qpos[0:2]: the free joint's world x, y (m)
_BADQPOS = int(mujoco.mjtWarning.mjWARN_BADQPOS)
_BADQVEL = int(mujoco.mjtWarning.mjWARN_BADQVEL)
_BADQACC = int(mujoco.mjtWarning.mjWARN_BADQACC)


class HumanoidEnv(gymnasium.Env):
    """Humanoid robot + task in MuJoCo. See the module docstring for the exact conventions."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(
        self,
        robot: RobotSpec,
        task: Task,
        *,
        render_mode: str | None = None,
        render_quality: str = "fast",
        frame_skip: int = FRAME_SKIP,
        reset_noise_scale: float = RESET_QPOS_NOISE,
        exclude_root_xy: bool = False,
        heading_frame: bool = False,
        start_states: str | Path | None = None,
        start_states_probability: float = 0.0,
    ):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"unsupported render_mode {render_mode!r}; valid: {self.metadata['render_modes']}")
        if render_quality not in RENDER_QUALITIES:
            raise ValueError(f"unknown render_quality {render_quality!r}; valid: {sorted(RENDER_QUALITIES)}")
        if int(frame_skip) != frame_skip or frame_skip < 1:
            raise ValueError(f"frame_skip must be an integer >= 1, got {frame_skip!r}")
        if not reset_noise_scale >= 0:  # also rejects NaN
            raise ValueError(f"reset_noise_scale must be >= 0, got {reset_noise_scale!r}")
        self.robot = robot
        self.task = task
        self.render_mode = render_mode
        self.render_quality = render_quality
        self.frame_skip = int(frame_skip)
        self.reset_noise_scale = float(reset_noise_scale)

        spec = robot.build_spec()
        task.build(spec, robot)
        self.model: mujoco.MjModel = spec.compile()
        self.data = mujoco.MjData(self.model)
        self.ctx = StepContext(self.model, self.data, robot)
        task.bind(self.ctx)
        self.metadata = {**self.metadata, "render_fps": round(1.0 / self.dt)}

        nu = self.model.nu
        self.action_space = gymnasium.spaces.Box(-1.0, 1.0, shape=(nu,), dtype=np.float32)
        # exclude_root_xy drops qpos[0:2] (pelvis x, y): gymnasium MuJoCo's exclude_current_positions_from_observation.
        self.exclude_root_xy = bool(exclude_root_xy)
        self._qpos_obs_start = ROOT_XY_ENTRIES if self.exclude_root_xy else 0
        # heading_frame: the root's pose and velocity in the robot's own heading frame (envs/heading_frame.py).
        if heading_frame and (self.exclude_root_xy or self.model.nq != self.ctx.robot_nq):
            raise ValueError("heading_frame needs the full robot qpos first and no other free bodies "
                             "(not with exclude_root_xy, nor in scenes with free props)")
        self.heading_frame = bool(heading_frame)
        self._qvel_obs_start = self.model.nq - self._qpos_obs_start
        obs_dim = self.model.nq - self._qpos_obs_start + self.model.nv + task.extra_obs_dim
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, shape=(obs_dim,), dtype=np.float64)

        # Precomputed for the hot path.
        self._key_id = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_KEY, KEYFRAME_NAME)
        if self._key_id < 0:
            raise ValueError(f"robot {robot.name!r} model has no keyframe {KEYFRAME_NAME!r}")
        ctrl_low = self.model.actuator_ctrlrange[:, 0].copy()
        self._ctrl_low = ctrl_low
        self._ctrl_span = self.model.actuator_ctrlrange[:, 1] - ctrl_low
        self._ctrl_buffer = np.empty(nu)
        self._ctrl = self.data.ctrl
        self._qpos, self._qvel = self.data.qpos, self.data.qvel
        self._warning_counts = self.data.warning.number  # live view into MjData.warning[*].number
        self._term_keys: dict[str, str] = {}
        self._has_extra_obs = task.extra_obs_dim > 0
        self._hb_reward_term = task.hb_reward_term  # see module docstring

        # Recorded starts (envs/start_states.py; training only), placed against the body the file names.
        self._start_states: StartStates | None = None
        self._start_states_probability = 0.0
        if start_states is not None:
            self._start_states = load_start_states(start_states, nq=self.ctx.robot_nq, nv=self.ctx.robot_nv)
            self._start_states_probability = float(start_states_probability)
            body_xy_yaw(self.model, self.data, self._start_states.reference_body)  # fails now if the scene lacks it

        self.divergence_count = 0
        self._episode_return = 0.0
        self._renderer: FrameRenderer | None = None

    @property
    def ctrl_per_action(self) -> np.ndarray:
        """[nu] actuator ctrl units (rad for position servos) per unit of the policy's action: half of each
        ctrlrange, times the task's ``action_scale`` (a residual policy moves targets by a fraction of that)."""
        return self._ctrl_span / 2.0 * self.task.action_scale

    @property
    def dt(self) -> float:
        """Control period, s (frame_skip × timestep)."""
        return self.model.opt.timestep * self.frame_skip

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        model, data = self.model, self.data
        mujoco.mj_resetDataKeyframe(model, data, self._key_id)
        noise = self.reset_noise_scale
        data.qpos += self.np_random.uniform(-noise, noise, size=model.nq)
        mujoco.mj_forward(model, data)
        self.ctx.action[:] = 0.0
        self.ctx.step_count = 0
        self.task.reset(self.ctx, self.np_random)
        mujoco.mj_forward(model, data)
        recorded = self._start_states_probability > 0 and self.np_random.random() < self._start_states_probability
        if recorded:
            self._begin_from_recorded_state()
        self._clear_divergence_warnings()
        self._episode_return = 0.0
        return self._observation(), {"hb/return": 0.0, "diverged": False, "divergence_count": self.divergence_count,
                                     "recorded_start": recorded}

    def _begin_from_recorded_state(self) -> None:
        """Put the robot in a recorded state drawn uniformly, placed at its reference body, and let the task
        begin the episode from it (``Task.begin_from_recorded_state``)."""
        states, ctx = self._start_states, self.ctx
        assert states is not None
        index = int(self.np_random.integers(len(states)))
        body_xy, body_yaw = body_xy_yaw(self.model, self.data, states.reference_body)
        qpos, qvel = out_of_body_frame(states.qpos[index], states.qvel[index], body_xy, body_yaw)
        self.data.qpos[: ctx.robot_nq] = qpos
        self.data.qvel[: ctx.robot_nv] = qvel
        mujoco.mj_forward(self.model, self.data)
        self.task.begin_from_recorded_state(ctx, self.np_random)
        mujoco.mj_forward(self.model, self.data)

    def restart_task(self) -> np.ndarray:
        """Begin the episode proper from the current state (after a training prelude, ``experts/handover.py``):
        the task re-places what it sets relative to the robot (``Task.restart``); returns the new observation."""
        self.task.restart(self.ctx, self.np_random)
        mujoco.mj_forward(self.model, self.data)
        return self._observation()

    def step(self, action):
        action = self.task.transform_action(self.ctx, self._validated_action(action))
        ctx = self.ctx
        # ctrl = (a + 1) / 2 · (high − low) + low, in place (HumanoidBench's unnormalize_action).
        buffer = self._ctrl_buffer
        np.add(action, 1.0, out=buffer)
        buffer /= 2.0
        buffer *= self._ctrl_span
        buffer += self._ctrl_low
        self._ctrl[:] = buffer
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)
        ctx.action[:] = action
        ctx.step_count += 1
        truncated = ctx.step_count >= self.task.episode_steps

        if self._physics_diverged():
            return self._diverged_step(truncated)

        reward, terms = self.task.reward(ctx)
        reward = float(reward)
        terminated = bool(self.task.terminated(ctx))
        hb_term = self._hb_reward_term
        self._episode_return += reward if hb_term is None else float(terms[hb_term])
        info: dict[str, Any] = {self._term_key(name): value for name, value in terms.items()}
        info["hb/return"] = self._episode_return
        info["diverged"] = False
        info["divergence_count"] = self.divergence_count
        step_info = self.task.step_info(ctx)
        if step_info:
            info.update(step_info)
        if terminated or truncated:
            info.update(self.task.episode_end_info(ctx))
            info["success"] = self.task.is_success(self._episode_return)
        return self._observation(), reward, terminated, truncated, info

    def render(self):
        if self.render_mode != "rgb_array":
            raise ValueError("render() needs render_mode='rgb_array' at construction")
        if self._renderer is None:
            self._renderer = FrameRenderer(self.model, self.robot.torso_body, self.render_quality)
        return self._renderer.render(self.data)

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        super().close()

    # ------------------------------------------------------------------ internals
    def _observation(self) -> np.ndarray:
        qpos = self._qpos[self._qpos_obs_start:]
        if self._has_extra_obs:
            obs = np.concatenate((qpos, self._qvel, self.task.extra_obs(self.ctx)))
        else:
            obs = np.concatenate((qpos, self._qvel))
        return to_heading_frame(obs, self._qvel_obs_start, out=obs) if self.heading_frame else obs

    def _validated_action(self, action) -> np.ndarray:
        action = np.asarray(action, dtype=np.float64)
        if action.shape != self._ctrl_buffer.shape:
            raise ValueError(f"action must have shape {self._ctrl_buffer.shape}, got {action.shape}")
        if not np.isfinite(action).all():
            raise ValueError(f"action contains NaN or inf: {action}")
        return action

    def _term_key(self, name: str) -> str:
        key = self._term_keys.get(name)
        if key is None:
            key = self._term_keys[name] = f"reward_terms/{name}"
        return key

    def _physics_diverged(self) -> bool:
        # A sum is non-finite iff some entry is non-finite (or values ~1e308, which is divergence anyway).
        # A bad qacc is caught by MuJoCo's own check inside mj_step (mjWARN_BADQACC, tested below).
        if not math.isfinite(float(self._qpos.sum()) + float(self._qvel.sum())):
            return True
        # MuJoCo's auto-reset zeroes all warning counters before counting the bad-state warning, so a counter
        # difference can miss it; we zero these counters ourselves on reset/divergence and test for non-zero.
        counts = self._warning_counts
        return bool(counts[_BADQPOS] or counts[_BADQVEL] or counts[_BADQACC])

    def _clear_divergence_warnings(self) -> None:
        counts = self._warning_counts
        counts[_BADQPOS] = counts[_BADQVEL] = counts[_BADQACC] = 0

    def _diverged_step(self, truncated: bool):
        self.divergence_count += 1
        self._clear_divergence_warnings()
        obs = np.nan_to_num(self._observation(), nan=0.0, posinf=0.0, neginf=0.0)
        info = {
            "hb/return": self._episode_return,
            "diverged": True,
            "divergence_count": self.divergence_count,
            **self.task.episode_end_info(self.ctx),
            "success": False,
        }
        return obs, 0.0, True, truncated, info
