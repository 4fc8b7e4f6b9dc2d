"""sit_simple / sit_hard / crawl / reach / balance_simple: rewards on constructed states computed by hand from the
humanoidbench.md formulas, terminations, reset randomisation, observation sizes, and the reusable props."""

import math

import mujoco
import numpy as np
import pytest

from mwx_ray.envs import make_env, props
from mwx_ray.envs.tasks.balance import has_unwanted_balance_contact
from mwx_ray.envs.tasks.locomotion import StandTask
from mwx_ray.rewards import skill_terms
from mwx_ray.robots.h1 import build_h1_spec

GAUSS_SCALE = math.sqrt(-2 * math.log(0.1))  # gaussian tolerance, value 0.1 at the margin


def gauss_tol(x, lower, upper, margin):
    if lower <= x <= upper:
        return 1.0
    d = (lower - x if x < lower else x - upper) / margin
    return math.exp(-0.5 * (d * GAUSS_SCALE) ** 2)


def linear_tol_above(x, lower, margin):  # value_at_margin 0
    return 1.0 if x >= lower else max(0.0, 1.0 - (lower - x) / margin)


def small_control_by_hand(forces):
    return (4 + np.mean([max(0.0, 1 - (f / 10) ** 2) for f in forces])) / 5


def site_z(env, name):
    return env.data.site(name).xpos[2]


def sitting_state(env, chair_xy, pelvis_z=0.70):
    """Keyframe legs bent 90° at hip and knee, pelvis over the seat centre at ``pelvis_z``, at rest."""
    data = env.data
    mujoco.mj_resetDataKeyframe(env.model, data, env.model.key("home").id)
    data.qpos[0:3] = (chair_xy[0], chair_xy[1], pelvis_z)
    for leg in (7, 12):
        data.qpos[leg : leg + 5] = (0.0, 0.0, -1.57, 1.57, 0.0)
    mujoco.mj_forward(env.model, data)


# ---------------------------------------------------------------- sit
def test_sit_reward_pure_function_bands():
    forces = np.zeros(19)
    still = np.zeros(2)
    seated = dict(pelvis_xy=(-0.25, 0.0), pelvis_z=0.70, head_z=1.40, imu_z=1.0, torso_zz=1.0,
                  chair_xy=(-0.25, 0.0), com_vel_xy=still, actuator_force=forces)
    reward, terms = skill_terms.sit_reward(**seated)
    assert reward == 1.0 and terms["sitting"] == terms["on_chair"] == terms["sitting_posture"] == 1.0
    # pelvis 0.2 m below the band, 0.39 m in front of the seat centre (0.2 past its bound), zz 0.5
    reward, terms = skill_terms.sit_reward(**{**seated, "pelvis_z": 0.48, "pelvis_xy": (0.14, 0.0), "torso_zz": 0.5})
    assert terms["sitting"] == pytest.approx(0.1) and terms["on_chair"] == pytest.approx(0.1)
    assert terms["upright"] == pytest.approx(1 - 0.45 / 0.9)
    assert reward == pytest.approx((0.5 * 0.1 + 0.5 * 0.1) * 0.5)


def test_sit_simple_seated_on_the_chair_is_rewarded_by_hand():
    env = make_env("sit_simple")
    env.reset(seed=0)
    chair_xy = env.data.body("chair").xpos[:2].copy()
    np.testing.assert_allclose(chair_xy, (-0.25, 0.0))  # HumanoidBench: chair 0.25 m behind the start
    sitting_state(env, chair_xy)
    head_minus_imu = site_z(env, "head") - site_z(env, "imu")
    torso_zz = env.data.body("torso_link").xmat[8]
    posture = gauss_tol(head_minus_imu, 0.35, 0.45, 0.3)
    upright95 = linear_tol_above(torso_zz, 0.95, 0.9)
    sit = (0.5 * 1.0 + 0.5 * 1.0) * upright95 * posture  # sitting = on_chair = 1
    expected = small_control_by_hand(env.data.actuator_force) * sit * 1.0  # at rest: dont_move = 1
    reward, terms = env.task.reward(env.ctx)
    assert terms["sitting"] == 1.0 and terms["on_chair"] == 1.0
    assert posture == 1.0 and upright95 == 1.0  # a 90° seated pose is inside HumanoidBench's bands
    assert reward == pytest.approx(expected, rel=1e-12)


def test_seat_height_gives_the_rewarded_pelvis_height_when_the_robot_settles():
    env = make_env("sit_simple")
    env.reset(seed=0)
    sitting_state(env, (-0.25, 0.0), pelvis_z=0.85)  # dropped from above, servos hold the seated joint angles
    env.data.ctrl[:] = env.data.qpos[7:26]
    mujoco.mj_step(env.model, env.data, nstep=1000)
    assert 0.68 <= env.data.qpos[2] <= 0.72
    _, terms = env.task.reward(env.ctx)
    assert terms["sitting"] == 1.0 and terms["sitting_posture"] == 1.0


@pytest.mark.parametrize("task", ["sit_simple", "sit_hard"])
def test_sit_terminates_below_half_a_metre(task):
    env = make_env(task)
    env.reset(seed=0)
    env.data.qpos[2] = 0.45
    assert env.task.terminated(env.ctx)
    env.data.qpos[2] = 0.55
    assert not env.task.terminated(env.ctx)


def test_sit_hard_random_start_in_humanoidbench_ranges_and_reproducible():
    env = make_env("sit_hard")
    poses = []
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        x, y = obs[0], obs[1]
        w, qx, qy, qz = obs[3:7]
        yaw = 2 * math.atan2(qz, w)
        assert 0.2 <= x <= 0.4 and -0.15 <= y <= 0.15 and -1.8 <= yaw <= 1.8
        assert qx == qy == 0.0 and w * w + qz * qz == pytest.approx(1.0)
        poses.append((x, y, yaw))
    assert len(set(poses)) == 20
    again, _ = env.reset(seed=3)
    np.testing.assert_array_equal(again[:7], make_env("sit_hard").reset(seed=3)[0][:7])
    # the chair is a free body at HumanoidBench's spot; its 7 qpos / 6 qvel extend the observation
    assert env.observation_space.shape == (51 + 13,)
    np.testing.assert_allclose(again[26:29], (-0.25, 0.0, 0.0), atol=0.01)


def test_sit_hard_chair_is_pushable():
    env = make_env("sit_hard")
    env.reset(seed=0)
    chair_x = env.data.body("chair").xpos[0]
    env.data.qvel[25] = 0.5  # chair free joint: 0.5 m/s along x
    for _ in range(5):
        env.step(np.zeros(19))
    assert env.data.body("chair").xpos[0] > chair_x + 0.01


# ---------------------------------------------------------------- crawl
def test_crawl_reward_pure_function_in_and_out_of_the_tunnel():
    forces = np.zeros(19)
    crawl = dict(actuator_force=forces, com_vx=1.0, head_z=0.8, imu_z=0.8, pelvis_quat=(0.75, 0.0, 0.65, 0.0),
                 imu_y=0.0)
    reward, terms = skill_terms.crawl_reward(**crawl)
    assert reward == pytest.approx(0.1 + 0.25 + 0.4 + 0.25)
    assert terms["in_tunnel"] == 1.0 and terms["pelvis_orientation"] == 1.0
    # min(crawling, crawling_head): head at 1.65 (0.65 above the band) lowers only crawling_head
    reward, terms = skill_terms.crawl_reward(**{**crawl, "head_z": 1.65, "com_vx": 0.0})
    assert terms["crawling_head"] == pytest.approx(gauss_tol(1.65, 0.6, 1.0, 1.0)) and terms["crawling"] == 1.0
    assert reward == pytest.approx(0.1 + 0.25 * terms["crawling_head"] + 0.4 / 6 + 0.25)
    reward, terms = skill_terms.crawl_reward(**{**crawl, "imu_y": 1.01})
    assert reward == 0.0 and terms["in_tunnel"] == 0.0


def test_crawl_posture_inside_the_tunnel_by_hand():
    env = make_env("crawl")
    env.reset(seed=0)
    data = env.data
    mujoco.mj_resetDataKeyframe(env.model, data, env.model.key("home").id)
    quat = np.array([0.75, 0.0, 0.65, 0.0])
    data.qpos[0:3] = (4.0, 0.0, 0.45)  # pelvis pitched forward, inside the tunnel
    data.qpos[3:7] = quat / np.linalg.norm(quat)
    data.qvel[0] = 1.0
    mujoco.mj_forward(env.model, data)
    head_z, imu = site_z(env, "head"), data.site("imu").xpos
    com_vx = data.sensor("pelvis_subtreelinvel").data[0]
    quat_term = gauss_tol(np.linalg.norm(data.body("pelvis").xquat - quat), 0.0, 0.0, 1.0)
    move = (5 * min(1.0, max(0.0, com_vx)) + 1) / 6
    crawl = min(gauss_tol(imu[2], 0.6, 1.0, 1.0), gauss_tol(head_z, 0.6, 1.0, 1.0))
    expected = 0.1 * small_control_by_hand(data.actuator_force) + 0.25 * crawl + 0.4 * move + 0.25 * quat_term
    reward, terms = env.task.reward(env.ctx)
    assert terms["in_tunnel"] == 1.0 and com_vx == pytest.approx(1.0)
    assert reward == pytest.approx(expected, rel=1e-12)
    assert not env.task.terminated(env.ctx)
    data.qpos[2] = -1.0
    assert not env.task.terminated(env.ctx)  # crawl never terminates


def test_tunnel_ceiling_is_below_the_standing_head():
    env = make_env("crawl")
    env.reset(seed=0)
    ceiling = env.model.geom("tunnel_ceiling")
    body_x = env.data.body("tunnel").xpos[0]
    underside = ceiling.pos[2] - ceiling.size[2]
    assert underside == pytest.approx(1.15) and site_z(env, "head") > underside + 0.4
    assert body_x == pytest.approx(2.2) and ceiling.size[0] * 2 == pytest.approx(16.0)


# ---------------------------------------------------------------- reach
def test_reach_hand_exactly_at_goal_gets_both_bonuses():
    env = make_env("reach")
    env.reset(seed=0)
    env.data.qvel[:] = 0.0
    mujoco.mj_forward(env.model, env.data)
    env.task.goal[:] = env.data.site("left_hand").xpos
    pelvis_zz = env.data.body("pelvis").xmat[8]
    reward, terms = env.task.reward(env.ctx)
    assert terms["hand_dist"] == 0.0
    assert reward == pytest.approx(5 * pelvis_zz + 5 + 10, rel=1e-12)


def test_reach_distance_thresholds_and_motion_penalty():
    hand = np.array([0.0, 0.0, 1.0])
    qvel = np.full(25, 2.0)  # ‖qvel‖² = 100 → penalty 0.01
    for goal_offset, bonus in ((0.04, 15.0), (0.06, 5.0), (0.99, 5.0), (1.01, 0.0)):
        reward, _ = skill_terms.reach_reward(hand, hand + (0.0, goal_offset, 0.0), 1.0, qvel)
        assert reward == pytest.approx(5.0 - 1e-4 * 100 + bonus)


def test_reach_goal_range_reproducible_fixed_per_episode_and_observed():
    env = make_env("reach")
    goals = []
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        goal = env.task.goal.copy()
        assert np.all(goal >= (-2, -2, 0.2)) and np.all(goal <= (2, 2, 2))
        assert obs.shape == (57,) == env.observation_space.shape
        np.testing.assert_array_equal(obs[-3:], goal)
        np.testing.assert_array_equal(obs[-6:-3], env.data.site("left_hand").xpos)
        goals.append(tuple(goal))
    assert len(set(goals)) == 20
    env.reset(seed=4)
    goal = env.task.goal.copy()
    marker = env.model.body("goal").mocapid[0]
    np.testing.assert_array_equal(env.data.mocap_pos[marker], goal)  # the visual marker sits on the goal
    for _ in range(5):
        obs, *_ = env.step(np.zeros(19))
    np.testing.assert_array_equal(env.task.goal, goal)  # not resampled within the episode
    other = make_env("reach")
    other.reset(seed=4)
    np.testing.assert_array_equal(other.task.goal, goal)


REACH_TRAINING = {"reach": {"goal_from_pelvis_m": [[0.2, -0.1, 0.8], [0.7, 0.5, 1.4]], "dense_reward": True,
                             "min_pelvis_height_m": 0.6}}


def test_reach_training_goals_are_drawn_near_the_pelvis_and_re_placed_on_restart():
    env = make_env("reach", task=REACH_TRAINING)
    for seed in range(10):
        env.reset(seed=seed)
        offset = env.task.goal - (*env.data.qpos[:2], 0.0)
        assert np.all(offset >= (0.2, -0.1, 0.8)) and np.all(offset <= (0.7, 0.5, 1.4))
    env.data.qpos[:2] += (3.0, -1.0)  # as if a walker had carried the robot away during a prelude
    mujoco.mj_forward(env.model, env.data)
    obs = env.restart_task()
    offset = env.task.goal - (*env.data.qpos[:2], 0.0)
    assert np.all(offset >= (0.2, -0.1, 0.8)) and np.all(offset <= (0.7, 0.5, 1.4))
    np.testing.assert_array_equal(obs[-3:], env.task.goal)
    np.testing.assert_array_equal(env.data.mocap_pos[env.model.body("goal").mocapid[0]], env.task.goal)


def test_reach_dense_reward_and_training_termination_by_hand():
    env = make_env("reach", task=REACH_TRAINING)
    env.reset(seed=0)
    hand = env.data.site("left_hand").xpos.copy()
    env.task.goal[:] = hand + (0.0, 0.0, 0.35)
    reward, terms = env.task.reward(env.ctx)
    stand, _ = StandTask().reward(env.ctx)  # HumanoidBench's h1-stand reward (tested in test_locomotion_rewards)
    closeness, precision = gauss_tol(0.35, 0.0, 0.05, 1.0), gauss_tol(0.35, 0.0, 0.05, 0.2)
    expected = stand * (1 + (closeness + precision) / 2) / 2
    assert stand > 0.5 and reward == pytest.approx(expected, rel=1e-9)
    assert terms["hand_distance"] == pytest.approx(0.35)
    assert not env.task.terminated(env.ctx)
    env.data.qpos[2] = 0.5
    mujoco.mj_forward(env.model, env.data)
    assert env.task.terminated(env.ctx)
    plain = make_env("reach")  # HumanoidBench's reach never terminates
    plain.reset(seed=0)
    plain.data.qpos[2] = 0.5
    mujoco.mj_forward(plain.model, plain.data)
    assert not plain.task.terminated(plain.ctx)


def test_reach_training_settings_are_dropped_for_evaluation_and_checked_at_load():
    from mwx_ray.config.errors import ConfigError
    from mwx_ray.config.task_schema import TaskSection
    from mwx_ray.config.typed import build

    settings = build(TaskSection, {"name": "reach", **REACH_TRAINING}, lambda _key: "test", prefix="env.task.")
    assert settings.for_evaluation().reach.goal_from_pelvis_m is None
    assert not settings.for_evaluation().reach.dense_reward
    with pytest.raises(ConfigError, match=r"test: env\.task\.reach\.goal_from_pelvis_m"):
        build(TaskSection, {"name": "reach", "reach": {"goal_from_pelvis_m": [[0.7, 0, 0], [0.2, 0, 0]]}},
              lambda _key: "test", prefix="env.task.")


# ---------------------------------------------------------------- balance
def test_balance_start_on_the_board_reward_by_hand():
    env = make_env("balance_simple")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (64,)  # + the board's free joint (7 + 6), as in HumanoidBench
    np.testing.assert_allclose(obs[0:3], (-0.1, 0.0, 1.38), atol=0.01)  # HumanoidBench qpos0
    np.testing.assert_allclose(obs[26:29], (0.0, 0.0, 0.37), atol=0.01)
    head_z = site_z(env, "head")
    torso_zz = env.data.body("torso_link").xmat[8]
    standing = gauss_tol(head_z, 1.65 + 0.37, math.inf, 1.65 / 4)
    expected = small_control_by_hand(env.data.actuator_force) * standing * linear_tol_above(torso_zz, 0.9, 1.9)
    reward, terms = env.task.reward(env.ctx)
    assert head_z > 2.0 and reward == pytest.approx(expected, rel=1e-12)
    assert not env.task.terminated(env.ctx)


def test_balance_terminates_when_pelvis_drops_or_on_unwanted_contacts():
    env = make_env("balance_simple")
    env.reset(seed=0)
    env.data.qpos[2] = 0.7
    assert env.task.terminated(env.ctx)
    floor, board, pivot, shin, foot = 0, 1, 2, 3, 4
    allowed = [(pivot, floor), (board, pivot), (foot, board), (shin, board)]

    def unwanted(pairs):
        geom1, geom2 = np.array(pairs).T
        return has_unwanted_balance_contact(geom1, geom2, floor, board, pivot)

    assert not unwanted(allowed)
    for bad in ((shin, pivot), (floor, foot), (board, floor)):  # sphere on a shin, foot on floor, board on floor
        assert unwanted([*allowed, bad]) and unwanted([bad[::-1]])


def test_balance_foot_on_the_floor_terminates_in_the_env():
    env = make_env("balance_simple")
    env.reset(seed=0)
    env.data.qpos[0:3] = (1.0, 0.0, 0.98)  # robot standing on the floor beside the board
    mujoco.mj_forward(env.model, env.data)
    assert env.data.ncon > 0 and env.task.terminated(env.ctx)


# ---------------------------------------------------------------- props
def test_props_compose_with_prefixes_and_only_free_props_add_qpos():
    spec = build_h1_spec()
    assert props.add_chair(spec, (1.0, 0.5), yaw=math.pi / 2, name_prefix="a_") == "a_chair"
    props.add_chair(spec, (3.0, 0.0), name_prefix="b_", free=True)
    props.add_tunnel(spec, start_x=5.0, name_prefix="t_")
    props.add_goal_marker(spec, (0.0, 1.0, 1.0), name_prefix="g_")
    props.add_balance_board(spec, (8.0, 0.0), name_prefix="bb_")
    model = spec.compile()
    assert model.nq == 26 + 7 + 7  # free chair + board
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key("home").id)
    np.testing.assert_allclose(data.qpos[26:29], (3.0, 0.0, 0.0))  # keyframe picks up the free prop's placement
    mujoco.mj_forward(model, data)
    np.testing.assert_allclose(data.body("a_chair").xmat.reshape(3, 3)[:, 0], (0, 1, 0), atol=1e-12)  # yawed 90°
    marker = model.geom("g_goal_marker")
    assert marker.contype[0] == 0 and marker.conaffinity[0] == 0
    index = props.mocap_index(model, "g_goal")
    props.set_mocap_pos(data, index, (1.0, 2.0, 3.0))
    mujoco.mj_forward(model, data)
    np.testing.assert_allclose(data.geom("g_goal_marker").xpos, (1.0, 2.0, 3.0))
    with pytest.raises(KeyError, match="mocap"):
        props.mocap_index(model, "a_chair")


@pytest.mark.parametrize(("task", "obs_dim"), [("sit_simple", 51), ("sit_hard", 64), ("crawl", 51),
                                               ("reach", 57), ("balance_simple", 64)])
def test_observation_sizes_match_humanoidbench(task, obs_dim):
    env = make_env(task)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (obs_dim,) == env.observation_space.shape


@pytest.mark.parametrize(("task", "bar", "steps"), [("sit_simple", 750, 1000), ("sit_hard", 750, 1000),
                                                    ("crawl", 700, 1000), ("reach", 12000, 1000),
                                                    ("balance_simple", 800, 1000)])
def test_success_bars_and_episode_lengths(task, bar, steps):
    env = make_env(task)
    assert env.task.success_bar == bar and env.task.episode_steps == steps and env.task.description
