"""hurdle / pole / stair / slide / maze: rewards on constructed states, computed by hand from HumanoidBench's
formulas (humanoidbench.md "Tasks (h1)" and HumanoidBench's envs/*.py), terminations, scenes, obs dims."""

import math

import mujoco
import numpy as np
import pytest

from mwx_ray.envs import make_env
from mwx_ray.rewards import course_terms

COURSE_TASKS = ["hurdle", "pole", "stair", "slide", "maze"]


# ---------------------------------------------------------------- hand formulas (independent of mwx_ray)
def gaussian_above(x, lower, margin):  # tol(x, (lower, inf), margin), gaussian, value_at_margin 0.1
    return 1.0 if x >= lower else 0.1 ** (((lower - x) / margin) ** 2)


def linear_above(x, lower, margin):  # tol(x, (lower, inf), margin, linear, value_at_margin 0)
    return 1.0 if x >= lower else max(0.0, 1.0 - (lower - x) / margin)


def hand_small_control(forces):
    return (4 + np.mean([max(0.0, 1 - (f / 10) ** 2) for f in forces])) / 5


def hand_move(vx, speed):
    return (5 * linear_above(vx, speed, speed) + 1) / 6


def site_z(env, name):
    return env.data.site_xpos[mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_SITE, name), 2]


def torso_zz(env):
    return env.data.xmat[mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_BODY, "torso_link"), 8]


def course_contact(env, name_prefix):
    """Whether any contact involves a geom whose name starts with ``name_prefix`` (slow reference check)."""
    names = [
        mujoco.mj_id2name(env.model, mujoco.mjtObj.mjOBJ_GEOM, g) or "" for g in env.data.contact.geom.ravel()
    ]
    return any(name.startswith(name_prefix) for name in names)


def place(env, x=0.0, y=0.0, z_offset=0.0, pitch_rad=0.0, qvel_xy=(0.0, 0.0)):
    """Keyframe pose (no noise) translated / pitched about world y, with a rigid CoM velocity; mj_forward."""
    model, data = env.model, env.data
    mujoco.mj_resetDataKeyframe(model, data, model.key("home").id)
    data.qpos[0:3] = (x, y, data.qpos[2] + z_offset)
    data.qpos[3:7] = (math.cos(pitch_rad / 2), 0.0, math.sin(pitch_rad / 2), 0.0)
    data.qvel[0:2] = qvel_xy
    mujoco.mj_forward(model, data)


@pytest.fixture(scope="module", params=COURSE_TASKS)
def course_env(request):
    env = make_env(request.param)
    env.reset(seed=0)
    yield env
    env.close()


@pytest.fixture(scope="module")
def envs():
    built = {name: make_env(name) for name in COURSE_TASKS}
    for env in built.values():
        env.reset(seed=0)
    yield built
    for env in built.values():
        env.close()


# ---------------------------------------------------------------- registry, obs, terminations
@pytest.mark.parametrize(
    ("task", "bar"), [("hurdle", 700), ("pole", 700), ("stair", 700), ("slide", 700), ("maze", 1200)]
)
def test_episode_length_success_bar_and_plain_observation(envs, task, bar):
    env = envs[task]
    assert env.task.episode_steps == 1000 and env.task.success_bar == bar
    assert env.task.description.endswith(".") and len(env.task.description.split()) > 8
    # HumanoidBench's course observations are concat(qpos, qvel) (dof·2 − 1): static scenery adds no state.
    obs, _ = env.reset(seed=1)
    assert env.task.extra_obs_dim == 0 and obs.shape == (51,) == env.observation_space.shape
    assert env.model.nq == 26 and env.model.nv == 25


def test_no_course_contact_at_reset(course_env):
    for seed in range(3):
        course_env.reset(seed=seed)
        geoms = course_env.data.contact.geom[: course_env.data.ncon]
        robot_floor_only = np.all((geoms == 0).any(axis=1))  # every contact involves the floor (geom 0)
        assert robot_floor_only


@pytest.mark.parametrize(("task", "fall_height"), [("hurdle", 0.2), ("pole", 0.5), ("maze", 0.2)])
def test_pelvis_height_termination(envs, task, fall_height):
    env = envs[task]
    place(env)
    env.data.qpos[2] = fall_height - 0.01
    assert env.task.terminated(env.ctx)
    env.data.qpos[2] = fall_height + 0.01
    assert not env.task.terminated(env.ctx)


@pytest.mark.parametrize("task", ["stair", "slide"])
def test_climb_terminates_on_torso_tilt_not_pelvis_height(envs, task):
    env = envs[task]
    place(env, pitch_rad=math.acos(0.05))
    assert torso_zz(env) == pytest.approx(0.05, abs=1e-9) and env.task.terminated(env.ctx)
    place(env, pitch_rad=math.acos(0.15))
    assert not env.task.terminated(env.ctx)
    place(env)
    env.data.qpos[2] = 0.1  # a low pelvis alone does not end stair/slide episodes
    assert not env.task.terminated(env.ctx)


# ---------------------------------------------------------------- hurdle
def test_hurdle_reward_standing_in_front_of_first_hurdle(envs):
    env = envs["hurdle"]
    place(env, qvel_xy=(2.5, 0.0))
    reward, terms = env.task.reward(env.ctx)
    small_control = hand_small_control(env.data.actuator_force)
    assert site_z(env, "head") >= 1.65 and torso_zz(env) == pytest.approx(1.0)
    assert terms["move"] == pytest.approx((5 * 0.5 + 1) / 6)  # 2.5 of 5 m/s
    assert terms["wall_discount"] == 1.0
    assert reward == pytest.approx(small_control * 1.0 * 1.0 * (5 * 0.5 + 1) / 6, rel=1e-12)


def test_hurdle_upright_bound_is_0_8():
    force = np.zeros(19)
    _, at_085 = course_terms.hurdle_reward(1.7, 0.85, force, 5.0, False)
    _, at_070 = course_terms.hurdle_reward(1.7, 0.70, force, 5.0, False)
    assert at_085["upright"] == 1.0
    assert at_070["upright"] == pytest.approx(1 - 0.1 / 1.9)
    reward, _ = course_terms.hurdle_reward(1.7, 0.85, force, 5.0, True)
    assert reward == pytest.approx(0.1)  # zero torque, standing, running fast, touching a wall


def test_hurdle_wall_contact_discounts_by_ten(envs):
    env = envs["hurdle"]
    place(env, x=-0.42)  # back against the barrier behind the start (front face x = −0.475)
    assert course_contact(env, "behind_barrier")
    reward, terms = env.task.reward(env.ctx)
    expected = (
        hand_small_control(env.data.actuator_force) * gaussian_above(site_z(env, "head"), 1.65, 1.65 / 4) / 6
    )
    assert terms["wall_discount"] == 0.1
    assert reward == pytest.approx(0.1 * expected, rel=1e-12)


def test_hurdle_contact_with_a_hurdle_is_discounted_only_on_request(envs):
    place(envs["hurdle"], x=7.0)  # legs inside the first hurdle (x = 7 m)
    assert course_contact(envs["hurdle"], "hurdle_")
    _, terms = envs["hurdle"].task.reward(envs["hurdle"].ctx)
    assert terms["wall_discount"] == 1.0  # HumanoidBench: only the corridor barriers discount
    strict = make_env("hurdle", task={"hurdle": {"discount_hurdle_contact": True}})
    strict.reset(seed=0)
    place(strict, x=7.0)
    _, terms = strict.task.reward(strict.ctx)
    assert terms["wall_discount"] == 0.1


# ---------------------------------------------------------------- pole
def test_pole_reward_in_open_space_and_touching_a_pole(envs):
    env = envs["pole"]
    place(env, qvel_xy=(0.5, 0.0))
    reward, terms = env.task.reward(env.ctx)
    small_control = hand_small_control(env.data.actuator_force)
    assert terms["move"] == pytest.approx(1.0) and terms["collision_discount"] == 1.0
    assert reward == pytest.approx(0.5 * small_control + 0.5, rel=1e-12)

    place(env, x=1.0, y=0.75 - 0.1, qvel_xy=(0.25, 0.0))  # pole r1_c2 stands at (1, 0.75)
    assert course_contact(env, "pole_r1_c2")
    reward, terms = env.task.reward(env.ctx)
    standing = gaussian_above(site_z(env, "head"), 1.65, 1.65 / 4)
    expected = 0.5 * hand_small_control(env.data.actuator_force) * standing + 0.5 * hand_move(0.25, 0.5)
    assert terms["collision_discount"] == 0.1
    assert reward == pytest.approx(0.1 * expected, rel=1e-12)


def test_pole_walls_do_not_discount(envs):
    env = envs["pole"]
    place(env, x=-0.4)  # against the wall behind the start (front face x = −0.45)
    assert course_contact(env, "pole_behind_barrier")
    assert env.task.reward(env.ctx)[1]["collision_discount"] == 1.0


# ---------------------------------------------------------------- stair / slide
def test_climb_standing_is_head_height_above_each_foot():
    assert course_terms.climb_standing(2.2, 0.9, 0.9) == 1.0  # feet 1.3 m below the head
    one_short = course_terms.climb_standing(2.2, 1.2, 0.9)  # left foot only 1.0 m below: 0.2 m short
    assert one_short == pytest.approx(0.1 ** ((0.2 / 0.45) ** 2))


@pytest.mark.parametrize("task", ["stair", "slide"])
def test_climb_reward_standing_on_the_stair_top_and_leaning(envs, task):
    env = envs[task]
    # Standing 0.9 m up (the stair top): head 2.58 m, feet ~0.92 m — head − foot ≥ 1.2 counts as standing.
    place(env, x=3.2, z_offset=0.9, qvel_xy=(1.0, 0.0))
    head = site_z(env, "head")
    assert head - site_z(env, "left_foot") == pytest.approx(1.66, abs=0.01)
    reward, terms = env.task.reward(env.ctx)
    assert terms["standing"] == 1.0 and terms["upright"] == 1.0 and terms["move"] == pytest.approx(1.0)
    assert reward == pytest.approx(hand_small_control(env.data.actuator_force), rel=1e-12)

    place(env, pitch_rad=math.radians(55))  # leaning: zz = 0.574 (≥ 0.5: upright 1), head − feet < 1.2
    head, left, right = site_z(env, "head"), site_z(env, "left_foot"), site_z(env, "right_foot")
    standing = gaussian_above(head - left, 1.2, 0.45) * gaussian_above(head - right, 1.2, 0.45)
    assert 0.0 < standing < 1.0
    reward, terms = env.task.reward(env.ctx)
    assert terms["upright"] == 1.0 and terms["standing"] == pytest.approx(standing, rel=1e-12)
    assert reward == pytest.approx(hand_small_control(env.data.actuator_force) * standing / 6, rel=1e-12)


def surface_height(env, x, y=0.0):
    """Height of the scenery (geom group 0: floor and course, not the robot) under (x, y): ray cast from 10 m."""
    geom = np.array([-1], dtype=np.int32)
    group_0_only = np.array([1, 0, 0, 0, 0, 0], dtype=np.uint8)
    start, down = np.array([x, y, 10.0]), np.array([0.0, 0.0, -1.0])
    distance = mujoco.mj_ray(env.model, env.data, start, down, group_0_only, 1, -1, geom)
    assert geom[0] >= 0, "the ray hit nothing"
    return 10.0 - distance


@pytest.mark.parametrize(
    ("x", "height"), [(0.3, 0.0), (0.8, 0.18), (1.4, 0.36), (3.2, 0.9), (5.6, 0.18), (6.2, 0.0), (9.2, 0.9)]
)
def test_stair_profile(envs, x, height):
    assert surface_height(envs["stair"], x, y=1.0) == pytest.approx(height, abs=1e-9)


@pytest.mark.parametrize(("x", "height"), [(0.2, 0.0), (2.8, 0.875), (5.3, 1.75), (7.8, 0.875), (15.3, 1.75)])
def test_slide_profile(envs, x, height):
    assert surface_height(envs["slide"], x, y=1.0) == pytest.approx(height, abs=1e-6)


def test_hurdle_profile(envs):
    heights = [surface_height(envs["hurdle"], x, y=1.0) for x in (3.5, 7.0, 14.0, 70.0, 71.0)]
    assert heights == pytest.approx([0.0, 0.375, 0.375, 0.375, 0.0])


# ---------------------------------------------------------------- maze
def maze_shaped_by_hand(env, stage_target, direction, vel_xy):
    head = site_z(env, "head")
    stand = gaussian_above(head, 1.65, 1.65 / 4) * linear_above(torso_zz(env), 0.9, 1.9)
    track = 1.0
    for v, d in zip(vel_xy, direction, strict=True):
        track *= max(0.0, 1 - abs(v - 2 * d) / 1.0)
    move = (5 * track + 1) / 6
    imu = env.data.site("imu").xpos
    proximity = 0.1 ** (math.hypot(imu[0] - stage_target[0], imu[1] - stage_target[1]) ** 2)
    return 0.2 * stand * hand_small_control(env.data.actuator_force) + 0.4 * move + 0.4 * proximity


def test_maze_stage_bonus_when_the_pelvis_reaches_checkpoint_1(envs):
    env = envs["maze"]
    env.reset(seed=0)
    assert env.task.stage == 0
    place(env)  # on checkpoint 0 (the start): first reward registers it
    reward, terms = env.task.reward(env.ctx)
    assert env.task.stage == 1 and terms["stage_bonus"] == 100.0
    assert reward == pytest.approx(maze_shaped_by_hand(env, (3, 0), (1, 0), (0, 0)) + 100.0, rel=1e-12)

    place(env, x=2.8, y=0.1, qvel_xy=(0.0, 2.0))  # pelvis 0.22 m from checkpoint 1 = (3, 0)
    reward, terms = env.task.reward(env.ctx)
    assert env.task.stage == 2 and env.task.step_info(env.ctx) == {"maze/checkpoint_index": 2}
    assert terms["stage_bonus"] == 200.0 and terms["move"] == pytest.approx(1.0)  # now heading +y at 2 m/s
    assert terms["wall_discount"] == 1.0
    assert reward == pytest.approx(maze_shaped_by_hand(env, (3, 6), (0, 1), (0, 2)) + 200.0, rel=1e-12)

    reward_again, terms = env.task.reward(env.ctx)  # same place next step: no second bonus
    assert env.task.stage == 2 and terms["stage_bonus"] == 0.0
    assert reward_again == pytest.approx(reward - 200.0, rel=1e-12)


def test_maze_checkpoint_not_reached_outside_0_4_m(envs):
    env = envs["maze"]
    env.reset(seed=0)
    place(env)
    env.task.reward(env.ctx)
    place(env, x=2.55)  # 0.45 m short of (3, 0)
    env.task.reward(env.ctx)
    assert env.task.stage == 1


def test_maze_wall_contact_discounts_the_shaped_part_only(envs):
    env = envs["maze"]
    env.reset(seed=0)
    place(env, x=-0.7)  # back against block_collision_50 (x −2.25 … −0.75)
    assert course_contact(env, "block_collision")
    reward, terms = env.task.reward(env.ctx)
    assert terms["wall_discount"] == 0.1 and terms["stage_bonus"] == 0.0  # pelvis 0.7 m from the start
    assert reward == pytest.approx(0.1 * maze_shaped_by_hand(env, (0, 0), (1, 0), (0, 0)), rel=1e-12)


def test_maze_env_step_reports_checkpoint_and_reset_restarts(envs):
    env = envs["maze"]
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.zeros(19))
    assert info["maze/checkpoint_index"] == 1 and reward > 100.0  # the start counts on step 1
    env.task.stage = 3
    env.reset(seed=0)
    assert env.task.stage == 0
    colors = env.model.geom_rgba[[env.model.geom(f"maze_checkpoint_{i}").id for i in range(4)]]
    np.testing.assert_array_equal(colors[:, :3], [[1, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]])


def test_maze_layout_matches_humanoidbench_and_checkpoints_are_free(envs):
    env = envs["maze"]
    blocks = [
        mujoco.mj_id2name(env.model, mujoco.mjtObj.mjOBJ_GEOM, g) for g in env.ctx.body_geom_ids("maze_walls")
    ]
    assert len(blocks) == 30 and "block_collision_42" in blocks and "block_collision_43" not in blocks
    for x, y in [(0, 0), (3, 0), (3, 1.5), (3, 3), (3, 4.5), (3, 6), (4.5, 6), (6, 6)]:  # the route
        assert surface_height(env, x, y) == pytest.approx(0.0)
    for x, y in [(-1.5, 0), (1.5, 1.5), (0, 4.5), (4.5, 4.5), (6, 1.5), (7.5, 6)]:
        assert surface_height(env, x, y) == pytest.approx(1.2)


def test_maze_pure_terms():
    checkpoints = ((0.0, 0.0), (3.0, 0.0), (3.0, 6.0), (6.0, 6.0))
    assert course_terms.maze_segment_directions(checkpoints) == ((1, 0), (1, 0), (0, 1), (1, 0))
    assert course_terms.maze_stage_update(3, 5.8, 6.1, checkpoints) == (4, 400.0)
    assert course_terms.maze_stage_update(4, 6.0, 6.0, checkpoints) == (4, 0.0)  # all reached: no more bonus
    assert course_terms.maze_move(0.0, 0.0, None) == 1.0
    assert course_terms.maze_move(1.5, 0.5, (1.0, 0.0)) == pytest.approx((5 * 0.5 * 0.5 + 1) / 6)
    assert course_terms.maze_move(3.5, 0.0, (1.0, 0.0)) == pytest.approx(1 / 6)  # too fast is penalised too


# ---------------------------------------------------------------- contact mask agrees with a plain contact scan
@pytest.mark.parametrize(
    ("task", "body"), [("hurdle", "hurdle_course_walls"), ("pole", "poles"), ("maze", "maze_walls")]
)
def test_contact_mask_matches_a_plain_scan_of_the_contacts(envs, task, body):
    from mwx_ray.envs.context import GeomContactMask

    env = envs[task]
    geoms = env.ctx.body_geom_ids(body)
    mask = GeomContactMask(env.model, geoms)
    seen = set()
    for x in np.linspace(-0.7, 1.2, 25):
        place(env, x=x, y=0.62 if task == "pole" else 0.0)
        seen.add(mask.touching(env.data))
        contacts = env.data.contact.geom[: env.data.ncon]
        assert mask.touching(env.data) == any(g in geoms for pair in contacts for g in pair)
    assert seen == {True, False}
