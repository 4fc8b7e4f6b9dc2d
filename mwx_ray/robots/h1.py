"""Unitree H1 (no hands), position-controlled: HumanoidBench's ``h1`` robot rebuilt from MuJoCo Menagerie.

``build_h1_spec()`` loads Menagerie's ``unitree_h1/h1.xml`` with ``mujoco.MjSpec.from_file`` and edits it in
code into HumanoidBench's ``h1_pos.xml`` variant. Every value below is taken from
HumanoidBench (Sferrazza et al. 2024, arXiv 2403.10506; github.com/carlosferrazza/humanoid-bench), its h1_pos.xml and env conventions, cross-checked against
HumanoidBench's ``assets/robots/h1_pos.xml`` and ``assets/envs/h1_pos_walk.xml``:

* 19 ``<motor>`` → 19 ``<position>`` servos: kp/kv per joint group, forcerange = ±torque limit,
  ctrlrange = joint range (rad).
* hip_pitch range −3.14…2.53 rad (Menagerie: ±1.57).
* ankle inertial: mass 0.552448 kg (Menagerie 0.446) with HumanoidBench's ipos/iquat/diaginertia.
* sites ``head`` (torso_link, 0 0 0.7), ``com`` (pelvis origin), ``imu`` (Menagerie's), ``left_hand`` /
  ``right_hand`` (elbow link, 0.31 0 −0.01: HumanoidBench's value, just beyond the Menagerie elbow sphere at
  0.28 0 −0.015), ``left_foot`` / ``right_foot`` (ankle link, 0 0 −0.05: HumanoidBench's value, 2 cm above the sole).
* sensors: ``pelvis_subtreelinvel`` (CoM linear velocity, world frame), ``body_velocimeter`` at site ``com``
  (local frame), and foot touch sensors.
* options: timestep 0.002 s, Newton solver, iterations 100, ls_iterations 50, eulerdamp enabled.
* keyframe ``home``: pelvis (0, 0, 0.98), hip_pitch −0.4, knee 0.8, ankle −0.4 rad on both legs.

Deliberate deviations from HumanoidBench (documented, measured in benchmarks/env_throughput.py):

* **Collision geometry**: we keep Menagerie's primitive collision geoms (capsules/cylinders/spheres/box, group 3)
  instead of HumanoidBench's per-link mesh collisions. Primitive-primitive collisions are analytic and much
  cheaper than convex-mesh GJK/EPA, so raw ``mj_step`` is faster; contact geometry differs slightly (feet are
  three capsules per sole, the torso a box), so learned gaits may not transfer 1:1 to HumanoidBench.
  The benchmark prints raw mj_step/s of Menagerie's torque model vs this model.
* **Touch sensors**: HumanoidBench's foot touch sensors sit on 1 mm ``left_foot``/``right_foot`` sites that
  never enclose a contact point, so they always read 0. Ours use box sites covering each sole
  (``left_foot_sole``/``right_foot_sole``) so they report the real normal force (N). No reward reads them.
* HumanoidBench's empty ``left_hand``/``right_hand`` bodies and their subtreelinvel sensors are omitted
  (no h1 task reads them); the hand *sites* are kept.
* Ground and lights mirror Menagerie's ``scene.xml`` but without the skybox texture (cheaper rendering).
"""

from __future__ import annotations

import mujoco

from mwx_ray.robots.assets import unitree_h1_dir
from mwx_ray.robots.spec import JointSpec, RobotSpec, SensorNames

# --- HumanoidBench h1_pos.xml gains (kp N·m/rad, kv N·m·s/rad) and torque limits (N·m); humanoidbench.md table.
_HIP = {"kp": 200.0, "kv": 5.0, "force_limit": 200.0}
_KNEE = {"kp": 300.0, "kv": 6.0, "force_limit": 300.0}
_ANKLE = {"kp": 40.0, "kv": 2.0, "force_limit": 40.0}
_TORSO = {"kp": 300.0, "kv": 6.0, "force_limit": 200.0}
_SHOULDER_PITCH_ROLL = {"kp": 100.0, "kv": 2.0, "force_limit": 40.0}
_SHOULDER_YAW_ELBOW = {"kp": 100.0, "kv": 2.0, "force_limit": 18.0}

# Joint ranges (rad): Menagerie's, except hip_pitch widened to HumanoidBench's −3.14…2.53.
H1_JOINTS: tuple[JointSpec, ...] = (
    JointSpec("left_hip_yaw", range=(-0.43, 0.43), **_HIP),
    JointSpec("left_hip_roll", range=(-0.43, 0.43), **_HIP),
    JointSpec("left_hip_pitch", range=(-3.14, 2.53), **_HIP),
    JointSpec("left_knee", range=(-0.26, 2.05), **_KNEE),
    JointSpec("left_ankle", range=(-0.87, 0.52), **_ANKLE),
    JointSpec("right_hip_yaw", range=(-0.43, 0.43), **_HIP),
    JointSpec("right_hip_roll", range=(-0.43, 0.43), **_HIP),
    JointSpec("right_hip_pitch", range=(-3.14, 2.53), **_HIP),
    JointSpec("right_knee", range=(-0.26, 2.05), **_KNEE),
    JointSpec("right_ankle", range=(-0.87, 0.52), **_ANKLE),
    JointSpec("torso", range=(-2.35, 2.35), **_TORSO),
    JointSpec("left_shoulder_pitch", range=(-2.87, 2.87), **_SHOULDER_PITCH_ROLL),
    JointSpec("left_shoulder_roll", range=(-0.34, 3.11), **_SHOULDER_PITCH_ROLL),
    JointSpec("left_shoulder_yaw", range=(-1.3, 4.45), **_SHOULDER_YAW_ELBOW),
    JointSpec("left_elbow", range=(-1.25, 2.61), **_SHOULDER_YAW_ELBOW),
    JointSpec("right_shoulder_pitch", range=(-2.87, 2.87), **_SHOULDER_PITCH_ROLL),
    JointSpec("right_shoulder_roll", range=(-3.11, 0.34), **_SHOULDER_PITCH_ROLL),
    JointSpec("right_shoulder_yaw", range=(-4.45, 1.3), **_SHOULDER_YAW_ELBOW),
    JointSpec("right_elbow", range=(-1.25, 2.61), **_SHOULDER_YAW_ELBOW),
)

# Keyframe "home" (HumanoidBench qpos0 == Menagerie scene.xml "home"): pelvis xyz (m), quat wxyz, 19 hinges (rad).
_LEG_HOME = (0.0, 0.0, -0.4, 0.8, -0.4)  # hip yaw, hip roll, hip pitch, knee, ankle
H1_KEYFRAME_QPOS: tuple[float, ...] = (0.0, 0.0, 0.98, 1.0, 0.0, 0.0, 0.0) + _LEG_HOME + _LEG_HOME + (0.0,) * 9

# Ankle inertial of HumanoidBench h1_pos.xml (Menagerie: mass 0.446 with a different frame/inertia).
ANKLE_MASS_KG = 0.552448
_ANKLE_IPOS = (0.048568, 0.0, -0.045609)
_ANKLE_IQUAT = (0.489385, 0.510394, 0.510394, 0.489385)
_ANKLE_DIAGINERTIA = (0.00362, 0.00355701, 0.000149987)

# Sites: (name, body, pos in body frame m). Positions from HumanoidBench h1_pos.xml; imu is Menagerie's own.
_ADDED_SITES: tuple[tuple[str, str, tuple[float, float, float]], ...] = (
    ("head", "torso_link", (0.0, 0.0, 0.7)),
    ("com", "pelvis", (0.0, 0.0, 0.0)),
    ("left_hand", "left_elbow_link", (0.31, 0.0, -0.01)),
    ("right_hand", "right_elbow_link", (0.31, 0.0, -0.01)),
    ("left_foot", "left_ankle_link", (0.0, 0.0, -0.05)),
    ("right_foot", "right_ankle_link", (0.0, 0.0, -0.05)),
)
# Touch volume over each sole: box enclosing Menagerie's three foot capsules (x −0.049…0.154, y ±0.044,
# z −0.07…−0.031 in the ankle frame) with a few mm of slack; half-sizes in m.
_SOLE_BOX_POS = (0.0525, 0.0, -0.056)
_SOLE_BOX_HALF_SIZE = (0.105, 0.05, 0.025)

H1_SENSORS = SensorNames(
    com_linvel="pelvis_subtreelinvel",
    body_velocimeter="body_velocimeter",
    left_foot_touch="left_foot_touch",
    right_foot_touch="right_foot_touch",
)

# Physics options of HumanoidBench's assets/envs/h1_pos_*.xml.
TIMESTEP_S = 0.002
SOLVER_ITERATIONS = 100
SOLVER_LS_ITERATIONS = 50


def _set_options(spec: mujoco.MjSpec) -> None:
    spec.option.timestep = TIMESTEP_S
    spec.option.solver = mujoco.mjtSolver.mjSOL_NEWTON
    spec.option.iterations = SOLVER_ITERATIONS
    spec.option.ls_iterations = SOLVER_LS_ITERATIONS
    spec.option.disableflags &= ~int(mujoco.mjtDisableBit.mjDSBL_EULERDAMP)  # eulerdamp enabled


def _use_position_servos(spec: mujoco.MjSpec) -> None:
    """Turn Menagerie's torque motors into HumanoidBench's position servos, in place (order and names kept)."""
    actuators = {act.name: act for act in spec.actuators}
    if sorted(actuators) != sorted(j.name for j in H1_JOINTS):
        raise ValueError(f"unexpected Menagerie H1 actuators: {sorted(actuators)}")
    for joint in H1_JOINTS:
        act = actuators[joint.name]
        act.set_to_position(kp=joint.kp, kv=joint.kv)
        act.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
        act.ctrlrange = joint.range
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        act.forcerange = (-joint.force_limit, joint.force_limit)
        spec.joint(joint.name).range = joint.range


def _set_ankle_inertia(spec: mujoco.MjSpec) -> None:
    for side in ("left", "right"):
        body = spec.body(f"{side}_ankle_link")
        body.mass = ANKLE_MASS_KG
        body.ipos = _ANKLE_IPOS
        body.iquat = _ANKLE_IQUAT
        body.inertia = _ANKLE_DIAGINERTIA


def _add_sites(spec: mujoco.MjSpec) -> None:
    for name, body, pos in _ADDED_SITES:
        spec.body(body).add_site(name=name, pos=pos, size=(0.01, 0.01, 0.01), group=4)
    for side in ("left", "right"):
        spec.body(f"{side}_ankle_link").add_site(
            name=f"{side}_foot_sole",
            type=mujoco.mjtGeom.mjGEOM_BOX,
            pos=_SOLE_BOX_POS,
            size=_SOLE_BOX_HALF_SIZE,
            group=5,
        )


def _add_sensors(spec: mujoco.MjSpec) -> None:
    spec.add_sensor(
        name=H1_SENSORS.com_linvel,
        type=mujoco.mjtSensor.mjSENS_SUBTREELINVEL,
        objtype=mujoco.mjtObj.mjOBJ_BODY,
        objname="pelvis",
    )
    spec.add_sensor(
        name=H1_SENSORS.body_velocimeter,
        type=mujoco.mjtSensor.mjSENS_VELOCIMETER,
        objtype=mujoco.mjtObj.mjOBJ_SITE,
        objname="com",
    )
    for name, side in ((H1_SENSORS.left_foot_touch, "left"), (H1_SENSORS.right_foot_touch, "right")):
        spec.add_sensor(
            name=name,
            type=mujoco.mjtSensor.mjSENS_TOUCH,
            objtype=mujoco.mjtObj.mjOBJ_SITE,
            objname=f"{side}_foot_sole",
        )


def add_ground_and_lights(spec: mujoco.MjSpec, offscreen_size: tuple[int, int] = (640, 480)) -> None:
    """Checker floor, a directional light and a headlight, as Menagerie's scene.xml but without skybox.

    Args:
        offscreen_size: (width, height) in pixels of the offscreen framebuffer (largest render size).
    """
    spec.visual.headlight.diffuse = (0.6, 0.6, 0.6)
    spec.visual.headlight.ambient = (0.3, 0.3, 0.3)
    spec.visual.headlight.specular = (0.0, 0.0, 0.0)
    spec.visual.rgba.haze = (0.15, 0.25, 0.35, 1.0)
    spec.visual.global_.azimuth = 160.0
    spec.visual.global_.elevation = -20.0
    spec.visual.global_.offwidth, spec.visual.global_.offheight = offscreen_size
    spec.add_texture(
        name="groundplane",
        type=mujoco.mjtTexture.mjTEXTURE_2D,
        builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER,
        mark=mujoco.mjtMark.mjMARK_EDGE,
        rgb1=(0.2, 0.3, 0.4),
        rgb2=(0.1, 0.2, 0.3),
        markrgb=(0.8, 0.8, 0.8),
        width=300,
        height=300,
    )
    material = spec.add_material(name="groundplane", texuniform=True, texrepeat=(5, 5), reflectance=0.2)
    material.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = "groundplane"
    spec.worldbody.add_light(pos=(0, 0, 3.5), dir=(0, 0, -1), type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL)
    spec.worldbody.add_geom(
        name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=(0, 0, 0.05), material="groundplane"
    )


def build_h1_spec() -> mujoco.MjSpec:
    """Fresh, uncompiled MjSpec of HumanoidBench's position-controlled ``h1`` on a floor (see module doc)."""
    spec = mujoco.MjSpec.from_file(str(unitree_h1_dir() / "h1.xml"))
    spec.modelname = "h1_pos"
    _set_options(spec)
    _use_position_servos(spec)
    _set_ankle_inertia(spec)
    _add_sites(spec)
    _add_sensors(spec)
    add_ground_and_lights(spec)
    spec.add_key(name="home", qpos=list(H1_KEYFRAME_QPOS))
    return spec


def build_menagerie_h1_scene_spec() -> mujoco.MjSpec:
    """Menagerie's unmodified scene.xml (torque motors, default options); a baseline for benchmarks."""
    return mujoco.MjSpec.from_file(str(unitree_h1_dir() / "scene.xml"))


H1 = RobotSpec(
    name="h1",
    joints=H1_JOINTS,
    keyframe_qpos=H1_KEYFRAME_QPOS,
    root_body="pelvis",
    torso_body="torso_link",
    sites=("imu", "head", "com", "left_hand", "right_hand", "left_foot", "right_foot"),
    sensors=H1_SENSORS,
    build_spec=build_h1_spec,
)
