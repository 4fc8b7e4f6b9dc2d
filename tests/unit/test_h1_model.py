"""The compiled h1 model matches HumanoidBench's h1_pos.xml (values from HumanoidBench's humanoid_bench/assets/mjx/h1_pos.xml)."""

import mujoco
import numpy as np
import pytest

from mwx_ray.robots import get_robot, robot_names
from mwx_ray.robots.h1 import H1

HB_JOINT_ORDER = [
    "left_hip_yaw", "left_hip_roll", "left_hip_pitch", "left_knee", "left_ankle",
    "right_hip_yaw", "right_hip_roll", "right_hip_pitch", "right_knee", "right_ankle",
    "torso",
    "left_shoulder_pitch", "left_shoulder_roll", "left_shoulder_yaw", "left_elbow",
    "right_shoulder_pitch", "right_shoulder_roll", "right_shoulder_yaw", "right_elbow",
]
# (kp, kv, force limit N·m) per HumanoidBench joint group
HB_GAINS = {
    "hip": (200, 5, 200), "knee": (300, 6, 300), "ankle": (40, 2, 40), "torso": (300, 6, 200),
    "shoulder_pitch": (100, 2, 40), "shoulder_roll": (100, 2, 40), "shoulder_yaw": (100, 2, 18), "elbow": (100, 2, 18),
}
MENAGERIE_RANGES = {
    "hip_yaw": (-0.43, 0.43), "hip_roll": (-0.43, 0.43), "knee": (-0.26, 2.05), "ankle": (-0.87, 0.52),
    "torso": (-2.35, 2.35), "shoulder_pitch": (-2.87, 2.87), "shoulder_yaw": None, "elbow": (-1.25, 2.61),
}


def group_of(joint: str) -> str:
    stem = joint.removeprefix("left_").removeprefix("right_")
    return "hip" if stem.startswith("hip_") else stem


@pytest.fixture(scope="module")
def model() -> mujoco.MjModel:
    return H1.build_spec().compile()


def test_sizes(model):
    assert (model.nq, model.nv, model.nu) == (26, 25, 19)


def test_joint_and_actuator_order(model):
    hinge_names = [model.joint(i).name for i in range(1, model.njnt)]
    assert hinge_names == HB_JOINT_ORDER
    assert [model.actuator(i).name for i in range(model.nu)] == HB_JOINT_ORDER
    assert list(H1.joint_names) == HB_JOINT_ORDER
    # actuator i drives hinge i, whose qpos address is 7 + i (free joint first)
    assert [int(model.jnt_qposadr[model.actuator_trnid[i, 0]]) for i in range(model.nu)] == list(range(7, 26))


def test_position_servo_gains_and_force_limits(model):
    for i, name in enumerate(HB_JOINT_ORDER):
        kp, kv, force = HB_GAINS[group_of(name)]
        assert model.actuator_gaintype[i] == mujoco.mjtGain.mjGAIN_FIXED
        assert model.actuator_biastype[i] == mujoco.mjtBias.mjBIAS_AFFINE
        assert model.actuator_gainprm[i, 0] == kp, name
        np.testing.assert_array_equal(model.actuator_biasprm[i, :3], [0.0, -kp, -kv], err_msg=name)
        assert model.actuator_forcelimited[i] and model.actuator_ctrllimited[i]
        np.testing.assert_array_equal(model.actuator_forcerange[i], [-force, force], err_msg=name)
        np.testing.assert_array_equal(model.actuator_ctrlrange[i], model.jnt_range[i + 1], err_msg=name)


def test_joint_ranges(model):
    for side in ("left", "right"):
        np.testing.assert_array_equal(model.joint(f"{side}_hip_pitch").range, [-3.14, 2.53])
        np.testing.assert_array_equal(model.joint(f"{side}_knee").range, [-0.26, 2.05])
        np.testing.assert_array_equal(model.joint(f"{side}_ankle").range, [-0.87, 0.52])
    np.testing.assert_array_equal(model.joint("left_shoulder_roll").range, [-0.34, 3.11])
    np.testing.assert_array_equal(model.joint("right_shoulder_yaw").range, [-4.45, 1.3])


def test_joint_defaults_damping_armature(model):
    np.testing.assert_array_equal(model.dof_damping[6:], 1.0)
    np.testing.assert_array_equal(model.dof_armature[6:], 0.1)


def test_ankle_inertial(model):
    for side in ("left", "right"):
        body = model.body(f"{side}_ankle_link")
        assert body.mass[0] == pytest.approx(0.552448)
        np.testing.assert_allclose(body.ipos, [0.048568, 0.0, -0.045609])


def test_sites(model):
    expected = {
        "head": ("torso_link", [0, 0, 0.7]), "com": ("pelvis", [0, 0, 0]),
        "imu": ("torso_link", [-0.04452, -0.01891, 0.27756]),
        "left_hand": ("left_elbow_link", [0.31, 0, -0.01]), "right_hand": ("right_elbow_link", [0.31, 0, -0.01]),
        "left_foot": ("left_ankle_link", [0, 0, -0.05]), "right_foot": ("right_ankle_link", [0, 0, -0.05]),
    }
    for name, (body, pos) in expected.items():
        site = model.site(name)
        assert model.body(site.bodyid[0]).name == body, name
        np.testing.assert_allclose(site.pos, pos, err_msg=name)
    assert set(H1.sites) == set(expected)


def test_sensors(model):
    def sensor(name):
        return model.sensor(name)

    s = sensor("pelvis_subtreelinvel")
    assert s.type[0] == mujoco.mjtSensor.mjSENS_SUBTREELINVEL and model.body(s.objid[0]).name == "pelvis"
    s = sensor("body_velocimeter")
    assert s.type[0] == mujoco.mjtSensor.mjSENS_VELOCIMETER and model.site(s.objid[0]).name == "com"
    for side in ("left", "right"):
        s = sensor(f"{side}_foot_touch")
        assert s.type[0] == mujoco.mjtSensor.mjSENS_TOUCH


def test_options(model):
    assert model.opt.timestep == 0.002
    assert model.opt.solver == mujoco.mjtSolver.mjSOL_NEWTON
    assert (model.opt.iterations, model.opt.ls_iterations) == (100, 50)
    assert not model.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_EULERDAMP


def test_keyframe(model):
    qpos = model.key("home").qpos
    np.testing.assert_array_equal(qpos[:7], [0, 0, 0.98, 1, 0, 0, 0])
    for side in ("left", "right"):
        for joint, angle in (("hip_pitch", -0.4), ("knee", 0.8), ("ankle", -0.4)):
            assert qpos[model.joint(f"{side}_{joint}").qposadr[0]] == angle
    assert np.count_nonzero(qpos[7:]) == 6


def test_collision_geoms_are_menagerie_primitives(model):
    colliding = [g for g in range(model.ngeom) if model.geom_contype[g] or model.geom_conaffinity[g]]
    robot = [g for g in colliding if model.geom_bodyid[g] != 0]
    assert len(robot) > 20
    assert all(model.geom_type[g] != mujoco.mjtGeom.mjGEOM_MESH for g in robot)
    assert all(model.geom_group[g] == 3 for g in robot)
    floor = model.geom("floor")
    assert floor.type[0] == mujoco.mjtGeom.mjGEOM_PLANE


def test_keyframe_head_height_and_foot_touch_sensors(model):
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key("home").id)
    mujoco.mj_forward(model, data)
    assert data.site("head").xpos[2] == pytest.approx(0.98 + 0.7)  # torso_link sits at the pelvis origin
    data.ctrl[:] = data.qpos[7:]  # hold the keyframe pose
    mujoco.mj_step(model, data, nstep=50)  # 0.1 s: feet settle on the floor
    weight_n = mujoco.mj_getTotalmass(model) * 9.81
    left, right = data.sensor("left_foot_touch").data[0], data.sensor("right_foot_touch").data[0]
    assert left > 0.1 * weight_n and right > 0.1 * weight_n
    assert left + right == pytest.approx(weight_n, rel=0.5)


def test_robot_registry_lists_valid_names():
    assert get_robot("h1") is H1
    assert "h1" in robot_names()
    with pytest.raises(KeyError, match="valid robots"):
        get_robot("g1_with_hands")
