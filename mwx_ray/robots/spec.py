"""Robot description shared by model building, envs, rewards and motion retargeting.

A :class:`RobotSpec` is plain, frozen data (no MuJoCo objects) plus a ``build_spec`` factory that returns a
fresh, editable ``mujoco.MjSpec`` of the robot (actuators, sites, sensors, options, keyframe, ground, lights).
Tasks add their scene objects to that MjSpec before it is compiled (see ``mwx_ray.envs.task``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mujoco


@dataclass(frozen=True)
class JointSpec:
    """One actuated hinge joint and its position servo.

    Attributes:
        name: joint name in the MJCF (the actuator has the same name).
        kp: position gain, N·m/rad.
        kv: velocity (damping) gain, N·m·s/rad.
        force_limit: symmetric actuator torque limit, N·m (MuJoCo ``forcerange = ±force_limit``).
        range: joint limits (low, high), rad; also the actuator ``ctrlrange``.
    """

    name: str
    kp: float
    kv: float
    force_limit: float
    range: tuple[float, float]


@dataclass(frozen=True)
class SensorNames:
    """Names of the sensors every robot model must provide (read by ``mwx_ray.envs.context``)."""

    com_linvel: str  # subtreelinvel of the root body: centre-of-mass linear velocity, world frame, m/s
    body_velocimeter: str  # velocimeter at the ``com`` site: root linear velocity, site (local) frame, m/s
    left_foot_touch: str  # touch sensor over the left sole: normal contact force, N
    right_foot_touch: str  # touch sensor over the right sole: normal contact force, N


@dataclass(frozen=True)
class RobotSpec:
    """Static facts about a robot variant.

    Attributes:
        name: registry name (e.g. ``"h1"``), also the ``{robot}`` part of env ids.
        joints: actuated joints in actuator order (== qpos[7:] order for a floating-base robot).
        keyframe_qpos: reset pose, len == nq of the robot alone (free joint pos xyz m, quat wxyz, hinges rad).
        root_body: floating-base body (free joint), e.g. pelvis.
        torso_body: body whose world z-axis defines "upright" (``xmat[torso].zz``).
        sites: names of the robot's sites (head, com, imu, hands, feet...).
        sensors: names of the required sensors.
        build_spec: factory returning a fresh, uncompiled ``mujoco.MjSpec`` of the robot + ground.
    """

    name: str
    joints: tuple[JointSpec, ...]
    keyframe_qpos: tuple[float, ...]
    root_body: str
    torso_body: str
    sites: tuple[str, ...]
    sensors: SensorNames
    build_spec: Callable[[], mujoco.MjSpec]

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    @property
    def num_actuators(self) -> int:
        return len(self.joints)

    def joint(self, name: str) -> JointSpec:
        for joint in self.joints:
            if joint.name == name:
                return joint
        raise KeyError(f"{self.name} has no joint {name!r}; joints: {list(self.joint_names)}")
