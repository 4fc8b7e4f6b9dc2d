"""The turn skill's reward: heading from the pelvis quaternion, the shorter way round, paid like standing once
facing the goal."""

import math

import mujoco
import numpy as np
import pytest

from mwx_ray.envs import make_env
from mwx_ray.envs.skills import get_skill
from mwx_ray.rewards.heading import TURN_RATE_RAD_S, facing, heading_error, turn_reward, turning, yaw_of


def quat_of_yaw(yaw: float) -> np.ndarray:
    return np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])


@pytest.mark.parametrize("yaw", [0.0, 0.7, -2.5, math.pi - 1e-6])
def test_yaw_of_inverts_a_yaw_quaternion(yaw):
    assert yaw_of(quat_of_yaw(yaw)) == pytest.approx(yaw, abs=1e-9)


def test_heading_error_wraps_round():
    assert heading_error(3.0, -3.0) == pytest.approx(2 * math.pi - 6.0)
    assert heading_error(0.0, math.pi) == pytest.approx(math.pi)


def test_turning_pays_turning_left_until_facing_the_goal():
    assert turning(0.0, TURN_RATE_RAD_S, math.pi) == pytest.approx(1.0)  # half a turn: to the left
    assert turning(-0.5, TURN_RATE_RAD_S, math.pi) == pytest.approx(1.0)  # left even where right is shorter
    assert turning(0.5, -TURN_RATE_RAD_S, math.pi) == 0.0  # to the right: nothing
    assert turning(2.0, 0.0, math.pi) == 0.5  # standing still
    # twisting back and forth pays no more than standing still
    assert (turning(2.0, 1.5, math.pi) + turning(2.0, -1.5, math.pi)) / 2 <= 0.5
    assert turning(-math.pi + 0.1, 0.0, math.pi) == 1.0  # facing the goal: standing still is all it asks
    assert facing(0.0, math.pi) < facing(1.5, math.pi) < facing(3.0, math.pi) == 1.0


def test_turn_reward_once_facing_is_the_stand_reward():
    reward, parts = turn_reward(yaw_rad=math.pi, yaw_rate_rad_s=0.0, goal_yaw_rad=math.pi, head_z_m=1.7,
                                torso_zz=1.0, com_vel_xy_mps=np.zeros(2), actuator_force_nm=np.zeros(19))
    assert reward == pytest.approx(1.0) and parts["turning"] == parts["facing"] == 1.0


def test_turn_around_task_is_the_turn_skill_and_reads_the_pelvis_yaw_rate():
    assert get_skill("turn").task == "turn_around" and get_skill("turn").clip is None
    env = make_env("turn_around")
    env.reset(seed=0)
    mujoco.mj_resetDataKeyframe(env.model, env.data, 0)
    env.data.qpos[3:7] = quat_of_yaw(1.0)
    env.data.qvel[3:6] = (0.0, 0.0, 0.8)  # pelvis frame; upright, so also the world yaw rate
    mujoco.mj_forward(env.model, env.data)
    assert env.ctx.yaw_rate == pytest.approx(0.8)
    _, parts = env.task.reward(env.ctx)
    assert parts["turning"] == pytest.approx(turning(1.0, 0.8, math.pi))
    # which way to turn, in the robot's terms: π − 1 rad to the left
    np.testing.assert_allclose(env.task.extra_obs(env.ctx), (math.sin(math.pi - 1.0), math.cos(math.pi - 1.0)))


def test_random_start_headings_are_training_only():
    from mwx_ray.envs.registry import task_settings

    settings = task_settings({"turn": {"start_yaw_rad": [-3.1, 3.1]}})
    env = make_env("turn_around", task=settings)
    headings = []
    for seed in range(4):
        env.reset(seed=seed)
        headings.append(yaw_of(env.data.qpos[3:7]))
    assert max(abs(h) for h in headings) > 0.5  # drawn, not HumanoidBench's +x
    evaluation = make_env("turn_around", task=settings.for_evaluation())
    evaluation.reset(seed=0)
    assert abs(yaw_of(evaluation.data.qpos[3:7])) < 0.05  # the reset's noise only


def test_training_only_rest_shaping_halves_the_pay_of_walking_round():
    from mwx_ray.envs.registry import task_settings

    settings = task_settings({"turn": {"rest_margin_mps": 0.3}})
    env = make_env("turn_around", task=settings)
    env.reset(seed=0)
    mujoco.mj_resetDataKeyframe(env.model, env.data, 0)
    env.data.qvel[0] = 1.0  # walking at 1 m/s
    mujoco.mj_forward(env.model, env.data)
    shaped, parts = env.task.reward(env.ctx)
    plain, _ = make_env("turn_around").task.reward(env.ctx)
    assert parts["at_rest"] < 0.01 and shaped == pytest.approx(plain * (parts["at_rest"] + 1) / 2)
    assert settings.for_evaluation().turn.rest_margin_mps is None


def test_training_only_posture_shaping_pays_the_standing_stance():
    from mwx_ray.envs.registry import task_settings

    settings = task_settings({"turn": {"posture_margin_rad": 0.5}})
    env = make_env("turn_around", task=settings)
    env.reset(seed=0)
    mujoco.mj_resetDataKeyframe(env.model, env.data, 0)
    mujoco.mj_forward(env.model, env.data)
    _, standing = env.task.reward(env.ctx)
    assert standing["posture"] == pytest.approx(1.0)
    env.data.qpos[7 + 17] -= 4.25  # right shoulder yaw, as the zoo turn expert hands over (docs/results.md)
    mujoco.mj_forward(env.model, env.data)
    shaped, parts = env.task.reward(env.ctx)
    plain, _ = make_env("turn_around").task.reward(env.ctx)
    assert parts["posture"] < 0.01 and shaped == pytest.approx(plain * (parts["posture"] + 1) / 2)
    assert settings.for_evaluation().turn.posture_margin_rad is None


def test_turn_to_spot_draws_its_spot_near_the_start_observes_it_in_the_heading_frame_and_pays_for_it():
    from mwx_ray.envs.tasks.turn import SPOT_DRAW_RADIUS_M
    from mwx_ray.rewards.heading import on_spot

    env = make_env("turn_to_spot")
    spots = []
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        spot = env.task._spot_xy.copy()
        assert math.dist(spot, env.data.qpos[:2]) <= SPOT_DRAW_RADIUS_M
        spots.append(spot - env.data.qpos[:2])
        np.testing.assert_allclose(obs[51:53], make_env("turn_around").reset(seed=seed)[0][51:53])  # turn's extras
    assert np.ptp(np.array(spots), axis=0).min() > 0.2  # drawn all round, not one offset
    env.reset(seed=0)
    spot = env.task._spot_xy.copy()
    env.data.qpos[0:2] = spot + (0.0, -0.2)  # the spot 0.2 m to the world's +y ...
    env.data.qpos[3:7] = quat_of_yaw(math.pi / 2)  # ... which is straight ahead of a robot facing +y
    mujoco.mj_forward(env.model, env.data)
    np.testing.assert_allclose(env.task.extra_obs(env.ctx)[2:4], [0.2, 0.0], atol=1e-9)
    reward, parts = env.task.reward(env.ctx)
    plain, _ = make_env("turn_around").task.reward(env.ctx)
    assert parts["on_spot"] == pytest.approx(on_spot(0.2)) and reward == pytest.approx(plain * (1 + on_spot(0.2)) / 2)
    assert on_spot(0.05) == 1.0 and on_spot(0.525) == pytest.approx(0.5) and on_spot(1.5) == 0.0
    env.restart_task()  # a prelude handed the robot over here: the spot is drawn again around it
    assert math.dist(env.task._spot_xy, env.data.qpos[:2]) <= SPOT_DRAW_RADIUS_M


def test_turn_to_spot_places_its_chair_behind_the_spot_when_a_prelude_hands_over_and_parks_it_otherwise():
    from mwx_ray.config.task_schema import TaskSection, TurnSection
    from mwx_ray.envs.tasks.turn import PARKED_CHAIR_Z_M

    settings = {"turn": {"chair_behind_spot_m": 0.5}}
    env = make_env("turn_to_spot", task=settings).unwrapped
    chair = env.ctx.body_id("chair")
    env.reset(seed=0)
    assert env.data.xpos[chair][2] == PARKED_CHAIR_Z_M  # a plain start (or a prelude walker) has open floor
    env.restart_task()
    # Once turned (facing -x) the robot has the seat centre 0.5 m behind the spot, as in walk_to_chair_sit.
    np.testing.assert_allclose(env.data.xpos[chair], [*(env.task._spot_xy + (0.5, 0.0)), 0.0], atol=1e-12)
    with pytest.raises(ValueError, match="turn_around has no spot"):
        make_env("turn_around", task=settings)
    assert TaskSection(turn=TurnSection(chair_behind_spot_m=0.5)).for_evaluation().turn.chair_behind_spot_m is None


def test_a_turn_expert_widens_into_turn_to_spot_and_a_stand_expert_into_both():
    from mwx_ray.experts.policy import ExpertPolicy
    from mwx_ray.experts.registry import expert_folder
    from mwx_ray.experts.warm_start import source_input_dim

    turn = ExpertPolicy.load(expert_folder("zoo:turn"))
    stand = ExpertPolicy.load(expert_folder("zoo:stand"))
    assert source_input_dim(turn, "mwx/h1-turn_to_spot-v0", 55) == 53  # its extras lead turn_to_spot's
    assert source_input_dim(turn, "mwx/h1-turn_around-v0", 53) == 53
    assert source_input_dim(stand, "mwx/h1-turn_to_spot-v0", 55) == 51
    assert source_input_dim(turn, "mwx/h1-stand-v0", 51) == 51  # narrower: not a widening (then refused by name)
