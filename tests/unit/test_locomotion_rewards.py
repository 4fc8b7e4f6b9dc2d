"""stand/walk/run rewards and terminations computed by hand from humanoidbench.md formulas."""

import math

import mujoco
import numpy as np
import pytest

from mwx_ray.envs import make_env


def gaussian_tol_above(x, lower, margin):  # tol(x, (lower, inf), margin), gaussian, value_at_margin 0.1
    if x >= lower:
        return 1.0
    d = (lower - x) / margin
    return math.exp(-0.5 * (d * math.sqrt(-2 * math.log(0.1))) ** 2)


def hand_terms(model, data):
    head_z = data.site_xpos[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "head"), 2]
    torso_zz = data.xmat[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "torso_link"), 8]
    standing = gaussian_tol_above(head_z, 1.65, 1.65 / 4)
    upright = 1.0 if torso_zz >= 0.9 else max(0.0, 1.0 - (0.9 - torso_zz) / 1.9)
    forces = data.actuator_force
    small_control = (4 + np.mean([max(0.0, 1 - (f / 10) ** 2) for f in forces])) / 5
    com_vel = data.sensor("pelvis_subtreelinvel").data
    return standing, upright, small_control, com_vel


def set_keyframe_state(env, qvel_x=0.0):
    model, data = env.model, env.data
    mujoco.mj_resetDataKeyframe(model, data, model.key("home").id)
    data.qvel[0] = qvel_x  # whole robot translating along world x
    mujoco.mj_forward(model, data)


def test_stand_reward_at_keyframe_standing_still():
    env = make_env("stand")
    env.reset(seed=0)
    set_keyframe_state(env)
    standing, upright, small_control, com_vel = hand_terms(env.model, env.data)
    assert standing == 1.0 and upright == 1.0  # head at 1.68 m ≥ 1.65, torso vertical
    np.testing.assert_allclose(com_vel, 0.0, atol=1e-12)  # dont_move = 1
    reward, terms = env.task.reward(env.ctx)
    assert reward == pytest.approx(small_control * standing * upright * 1.0, rel=1e-12)
    assert terms["dont_move"] == 1.0
    assert terms["small_control"] == pytest.approx(small_control, rel=1e-12)
    # keyframe with ctrl = 0 (zero pose targets): servos push hard, so small_control is well below 1
    assert 0.8 <= small_control < 0.95


@pytest.mark.parametrize(("task", "speed", "expected_move"), [("walk", 1.0, 1.0), ("walk", 0.5, (5 * 0.5 + 1) / 6),
                                                            ("run", 1.0, (5 * 0.2 + 1) / 6), ("run", 5.0, 1.0)])
def test_move_reward_for_a_constructed_velocity(task, speed, expected_move):
    env = make_env(task)
    env.reset(seed=0)
    set_keyframe_state(env, qvel_x=speed)
    standing, upright, small_control, com_vel = hand_terms(env.model, env.data)
    assert com_vel[0] == pytest.approx(speed)  # rigid translation: CoM moves with the pelvis
    reward, terms = env.task.reward(env.ctx)
    assert terms["move"] == pytest.approx(expected_move)
    assert reward == pytest.approx(small_control * standing * upright * expected_move, rel=1e-12)


def test_stand_penalises_horizontal_motion():
    env = make_env("stand")
    env.reset(seed=0)
    set_keyframe_state(env, qvel_x=2.0)
    _, terms = env.task.reward(env.ctx)
    assert terms["dont_move"] == pytest.approx((0.1 + 1.0) / 2)  # vx at the margin, vy = 0


@pytest.mark.parametrize("task", ["stand", "walk", "run"])
def test_termination_when_pelvis_below_20_cm(task):
    env = make_env(task)
    env.reset(seed=0)
    env.data.qpos[2] = 0.19
    assert env.task.terminated(env.ctx)
    env.data.qpos[2] = 0.21
    assert not env.task.terminated(env.ctx)


@pytest.mark.parametrize(("task", "bar"), [("stand", 800), ("walk", 700), ("run", 700)])
def test_episode_length_and_success_bar(task, bar):
    env = make_env(task)
    assert env.task.episode_steps == 1000 and env.task.success_bar == bar
    assert env.task.is_success(bar) and not env.task.is_success(bar - 1e-9)


def test_reward_reads_state_of_the_last_substep_start_without_mj_forward():
    """HumanoidBench timing: kinematics/sensors are from the start of the last mj_step, qpos is post-step."""
    env = make_env("walk")
    env.reset(seed=3)
    model = env.model
    shadow = mujoco.MjData(model)
    mujoco.mj_copyData(shadow, model, env.data)
    action = np.random.default_rng(0).uniform(-1, 1, 19)
    _, reward, _, _, info = env.step(action)

    shadow.ctrl[:] = env.data.ctrl
    mujoco.mj_step(model, shadow, nstep=env.frame_skip - 1)
    mujoco.mj_forward(model, shadow)  # == the forward pass inside the 10th mj_step
    np.testing.assert_array_equal(env.data.site_xpos, shadow.site_xpos)
    np.testing.assert_array_equal(env.data.sensordata, shadow.sensordata)
    standing, upright, small_control, com_vel = hand_terms(model, shadow)
    move = (5 * min(1.0, max(0.0, 1 - (1.0 - com_vel[0]) / 1.0)) + 1) / 6
    assert reward == pytest.approx(small_control * standing * upright * move, rel=1e-12)
    assert info["reward_terms/move"] == pytest.approx(move, rel=1e-12)

    mujoco.mj_step(model, shadow)  # the 10th step's integration gives the post-step qpos = observation
    np.testing.assert_array_equal(env.data.qpos, shadow.qpos)
