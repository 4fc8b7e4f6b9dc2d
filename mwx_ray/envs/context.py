"""Read-only view of the simulation that reward, termination and observation code reads.

One :class:`StepContext` lives for the env's lifetime. It caches MjData array views and model ids at
construction, so reading e.g. ``ctx.head_z`` per step costs one array index (no name lookups, no copies).

Timing (HumanoidBench parity, see humanoidbench.md "When rewards are computed"): after ``env.step`` runs its
``frame_skip`` ``mj_step`` calls it does **not** call ``mj_forward``. So ``qpos``/``qvel`` (and ``pelvis_z``)
are the post-step state, while everything MuJoCo derives from them (site/body poses, ``xmat``, sensors,
``actuator_force``, contacts) is from the start of the last substep, 2 ms earlier. After ``reset`` all
quantities are consistent (the env calls ``mj_forward``).

Frames and units: positions in m, world frame; velocities m/s; torques N·m; angles rad.
"""

from __future__ import annotations

import mujoco
import numpy as np

from mwx_ray.robots.spec import RobotSpec


class StepContext:
    """Cheap accessors over ``MjData`` for one env. Treat returned arrays as read-only views.

    Attributes:
        model, data: the env's MjModel / MjData (tasks may read anything; only ``Task.reset`` may write).
        robot: the :class:`RobotSpec`.
        action: last policy action in [-1, 1], shape [nu] (zeros after reset).
        step_count: env steps since reset.
        robot_nq, robot_nv: size of the robot's own part of qpos/qvel (they come first; task bodies follow).
    """

    __slots__ = (
        "model", "data", "robot", "action", "step_count", "robot_nq", "robot_nv",
        "_qpos", "_qvel", "_site_xpos", "_xpos", "_xmat", "_sensordata", "_actuator_force",
        "_head_site", "_torso_body", "_root_body", "_com_vel_slice", "_local_vel_slice",
        "_left_touch_adr", "_right_touch_adr",
    )

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData, robot: RobotSpec):
        self.model = model
        self.data = data
        self.robot = robot
        self.action = np.zeros(model.nu)
        self.step_count = 0
        root_joint = model.body_jntadr[self.body_id(robot.root_body)]
        self.robot_nq = len(robot.keyframe_qpos)
        self.robot_nv = self.robot_nq - 1 if model.jnt_type[root_joint] == mujoco.mjtJoint.mjJNT_FREE else self.robot_nq
        # Cached views: MjData never reallocates its arrays, so these stay valid.
        self._qpos = data.qpos
        self._qvel = data.qvel
        self._site_xpos = data.site_xpos
        self._xpos = data.xpos
        self._xmat = data.xmat
        self._sensordata = data.sensordata
        self._actuator_force = data.actuator_force
        self._head_site = self.site_id("head")
        self._torso_body = self.body_id(robot.torso_body)
        self._root_body = self.body_id(robot.root_body)
        self._com_vel_slice = self._sensor_slice(robot.sensors.com_linvel)
        self._local_vel_slice = self._sensor_slice(robot.sensors.body_velocimeter)
        self._left_touch_adr = self._sensor_slice(robot.sensors.left_foot_touch).start
        self._right_touch_adr = self._sensor_slice(robot.sensors.right_foot_touch).start

    # ---- id lookups: call these at bind time (Task.bind), never per step ----
    def site_id(self, name: str) -> int:
        return _lookup(self.model, mujoco.mjtObj.mjOBJ_SITE, name)

    def body_id(self, name: str) -> int:
        return _lookup(self.model, mujoco.mjtObj.mjOBJ_BODY, name)

    def geom_id(self, name: str) -> int:
        return _lookup(self.model, mujoco.mjtObj.mjOBJ_GEOM, name)

    def body_geom_ids(self, body_name: str) -> np.ndarray:
        """Ids of all geoms attached to one body (e.g. a wall or a chair), for :class:`GeomContactMask`."""
        return np.flatnonzero(self.model.geom_bodyid == self.body_id(body_name))

    def _sensor_slice(self, name: str) -> slice:
        sensor = _lookup(self.model, mujoco.mjtObj.mjOBJ_SENSOR, name)
        adr = int(self.model.sensor_adr[sensor])
        return slice(adr, adr + int(self.model.sensor_dim[sensor]))

    # ---- state ----
    @property
    def qpos(self) -> np.ndarray:
        """Full generalized positions, shape [nq] (post-step)."""
        return self._qpos

    @property
    def qvel(self) -> np.ndarray:
        """Full generalized velocities, shape [nv] (post-step)."""
        return self._qvel

    @property
    def pelvis_z(self) -> float:
        """Root (pelvis) height ``qpos[2]``, m, world frame (post-step; HumanoidBench's termination signal)."""
        return float(self._qpos[2])

    @property
    def head_z(self) -> float:
        """Height of the ``head`` site, m, world frame."""
        return float(self._site_xpos[self._head_site, 2])

    @property
    def torso_zz(self) -> float:
        """z-component of the torso's z-axis in world frame (``xmat[torso].zz``): 1 upright, −1 upside down."""
        return float(self._xmat[self._torso_body, 8])

    @property
    def com_velocity(self) -> np.ndarray:
        """Whole-robot centre-of-mass linear velocity (pelvis subtreelinvel sensor), world frame, m/s, [3]."""
        return self._sensordata[self._com_vel_slice]

    @property
    def com_vx(self) -> float:
        """Forward (world x) CoM velocity, m/s."""
        return float(self._sensordata[self._com_vel_slice.start])

    @property
    def root_local_velocity(self) -> np.ndarray:
        """Velocimeter at the ``com`` site: pelvis linear velocity in the pelvis frame, m/s, [3]."""
        return self._sensordata[self._local_vel_slice]

    @property
    def actuator_force(self) -> np.ndarray:
        """Actuator torques, N·m, [nu]."""
        return self._actuator_force

    @property
    def foot_contact_force(self) -> tuple[float, float]:
        """Normal contact force under the (left, right) sole, N (touch sensors)."""
        return float(self._sensordata[self._left_touch_adr]), float(self._sensordata[self._right_touch_adr])

    def site_pos(self, site_id: int) -> np.ndarray:
        """World position of a site, m, [3] (view). Get ``site_id`` once with :meth:`site_id`."""
        return self._site_xpos[site_id]

    def body_pos(self, body_id: int) -> np.ndarray:
        """World position of a body frame origin, m, [3] (view)."""
        return self._xpos[body_id]

    def body_zaxis(self, body_id: int) -> np.ndarray:
        """World-frame z-axis of a body, [3] (copy)."""
        return self._xmat[body_id, 2::3].copy()

    @property
    def root_pos(self) -> np.ndarray:
        """Pelvis position ``qpos[0:3]``, m, world frame (post-step view)."""
        return self._qpos[0:3]

    @property
    def yaw_rate(self) -> float:
        """Pelvis angular velocity about world +z, rad/s (the free joint's ``qvel[3:6]`` is in the pelvis frame)."""
        return float(self._xmat[self._root_body, 6:9] @ self._qvel[3:6])

    @property
    def root_quat(self) -> np.ndarray:
        """Pelvis orientation quaternion ``qpos[3:7]`` (w, x, y, z), world frame (post-step view)."""
        return self._qpos[3:7]


class GeomContactMask:
    """Per-step check "does any active contact involve one of these geoms" (walls, poles, a chair).

    Built once at bind time as a boolean mask over all geoms; a check is one fancy index over the
    ``[ncon, 2]`` contact geom pairs (~3 µs), ~10× cheaper than ``np.isin`` per step.
    """

    def __init__(self, model: mujoco.MjModel, geom_ids: np.ndarray):
        self._mask = np.zeros(model.ngeom, dtype=bool)
        self._mask[np.asarray(geom_ids, dtype=int)] = True

    def touching(self, data: mujoco.MjData) -> bool:
        ncon = data.ncon
        return bool(ncon) and bool(self._mask[data.contact.geom[:ncon]].any())


def _lookup(model: mujoco.MjModel, obj: mujoco.mjtObj, name: str) -> int:
    index = mujoco.mj_name2id(model, obj, name)
    if index < 0:
        kind = obj.name.removeprefix("mjOBJ_").lower()
        raise KeyError(f"model has no {kind} named {name!r}")
    return int(index)
