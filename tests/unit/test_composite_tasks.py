"""Composite tasks: stage machine on constructed states, info keys, success = all stages."""

import mujoco
import numpy as np
import pytest

from mwx_ray.envs import make_env
from mwx_ray.envs.composite import STAGE_BONUS, CompositeTask
from mwx_ray.envs.registry import task_entries

COMPOSITES = sorted(e.task_name for e in task_entries() if issubclass(e.task_cls, CompositeTask))


def place_at_keyframe(env, x_m: float = 0.0):
    """Put the robot at the keyframe pose, at rest, pelvis at world x = ``x_m`` (task state untouched)."""
    mujoco.mj_resetDataKeyframe(env.model, env.data, 0)
    env.data.qpos[0] = x_m
    mujoco.mj_forward(env.model, env.data)


def test_at_least_the_five_required_composites_are_registered():
    assert {"stand_walk_stand", "walk_to_chair_sit", "walk_reach", "walk_run_walk", "crawl_stand_walk"} <= set(COMPOSITES)
    for name in COMPOSITES:
        task = make_env(name).task
        assert task.instruction and len(task.stages) >= 2
        assert all(stage.skill and stage.description for stage in task.stages)


def test_stand_walk_stand_advances_through_its_stages_on_constructed_states():
    env = make_env("stand_walk_stand")
    task, ctx = env.task, env.ctx
    env.reset(seed=0)
    place_at_keyframe(env)
    rewards = []
    for _ in range(50):  # StandStill holds for 50 steps (1 s) at rest
        reward, terms = task.reward(ctx)
        rewards.append(reward)
    assert task.active == 1 and task.completed[0]
    assert rewards[-1] == pytest.approx(terms["stage_reward"] + STAGE_BONUS)
    assert "stand_start/dont_move" in terms  # named after the stage that produced them, even as it completes
    assert all(r < 1.0 for r in rewards[:-1])  # no bonus before completion

    reward, _ = task.reward(ctx)  # walk stage, standing still at x=0: not complete
    assert task.active == 1 and reward < 1.0

    place_at_keyframe(env, x_m=3.05)  # past the walk goal (3 m)
    reward, terms = task.reward(ctx)
    assert task.active == 2 and reward >= STAGE_BONUS
    assert "walk/move" in terms and not any(key.startswith("stand_end/") for key in terms)
    info = task.step_info(ctx)
    assert info == {"stage": 2, "stage_skill": "stand", "stages_completed": 2}
    assert not task.is_success(0.0)
    for _ in range(100):
        task.reward(ctx)
    assert task.is_success(0.0)
    assert task.episode_end_info(ctx) == {"stage_success/stand_start": True, "stage_success/walk": True,
                                          "stage_success/stand_end": True}


def test_reset_restarts_the_stage_machine():
    env = make_env("stand_walk_stand")
    env.reset(seed=0)
    place_at_keyframe(env)
    for _ in range(50):
        env.task.reward(env.ctx)
    assert env.task.active == 1
    env.reset(seed=1)
    assert env.task.active == 0 and not any(env.task.completed)


@pytest.mark.parametrize("name", COMPOSITES)
def test_env_step_reports_stage_info_and_per_stage_success_at_the_end(name):
    env = make_env(name)
    env.reset(seed=0)
    info = {}
    for _ in range(env.task.episode_steps):
        _obs, _reward, terminated, truncated, info = env.step(np.zeros(env.action_space.shape))
        assert {"stage", "stage_skill", "stages_completed"} <= info.keys()
        if terminated or truncated:
            break
    stage_keys = {f"stage_success/{s.name}" for s in env.task.stages}
    assert stage_keys <= info.keys()
    assert info["success"] == all(info[k] for k in stage_keys)
    assert not info["success"]  # a zero action falls over: never completes every stage


def face(env, yaw_rad: float) -> None:
    """Turn the robot's pelvis to heading ``yaw_rad`` (about world +z) in place."""
    env.data.qpos[3:7] = (np.cos(yaw_rad / 2), 0.0, 0.0, np.sin(yaw_rad / 2))
    mujoco.mj_forward(env.model, env.data)


def test_walk_to_chair_sit_walks_stops_turns_round_then_sits_and_keeps_the_sit_clock():
    env = make_env("walk_to_chair_sit")
    task, ctx = env.task, env.ctx
    obs, _ = env.reset(seed=0)
    assert [stage.skill for stage in task.stages] == ["walk", "stand", "turn", "sit"]
    assert task.clock_skills == ("sit",) and task.clock_entry("sit", obs.shape[0]) == obs.shape[0] - 1
    assert obs[-1] == 0.0  # the sit clock has not started
    chair_x, chair_y = task.chair_xy_m
    place_at_keyframe(env, x_m=chair_x - task.sit_offset_m - task.stopping_distance_m - 0.05)
    task.reward(ctx)  # more than a stopping distance short of the sit spot: still walking up
    assert task.active == 0
    place_at_keyframe(env, x_m=chair_x - task.sit_offset_m - task.stopping_distance_m + 0.05)
    task.reward(ctx)  # within a stopping distance of the sit spot: the walk stage ends
    assert task.active == 1 and task.stages[1].skill == "stand"
    for _ in range(25):  # at rest for 0.5 s: stopped
        task.reward(ctx)
    assert task.active == 2 and task.stages[2].skill == "turn"
    for _ in range(40):  # facing the chair: never turned round
        task.reward(ctx)
    assert task.active == 2 and task.extra_obs(ctx)[-1] == 0.0
    face(env, np.pi - 0.1)  # within 0.2 rad of facing away from the chair, but 0.13 m beside the sit spot
    env.data.qpos[0:2] = task.sit_spot_xy + (0.0, 0.13)
    mujoco.mj_forward(env.model, env.data)
    np.testing.assert_allclose(task.extra_obs(ctx)[2:4], [0.0, 0.13 * np.cos(0.1)], atol=0.02)  # spot on its left
    for _ in range(40):
        _, terms = task.reward(ctx)
    assert task.active == 2 and 0.5 < terms["turn_around/on_spot"] < 1.0  # paid, but not complete
    env.data.qpos[0:2] = task.sit_spot_xy + (0.04, -0.05)  # on the spot
    mujoco.mj_forward(env.model, env.data)
    for _ in range(24):
        task.reward(ctx)
    assert task.active == 2
    _, terms = task.reward(ctx)  # the 25th step turned round, at rest and on the spot (0.5 s)
    assert task.active == 3 and task.stages[3].skill == "sit" and terms["turn_around/facing"] == 1.0
    assert task.extra_obs(ctx)[-1] == 0.0  # the sit clock starts at the first observation of its stage
    for steps in (1, 2, 3):
        task.reward(ctx)
        assert task.extra_obs(ctx)[-1] == steps
    env.data.qpos[0:3] = (chair_x, chair_y + 0.25, 0.70)  # seat height, but beside the 42-cm seat
    mujoco.mj_forward(env.model, env.data)
    for _ in range(30):
        task.reward(ctx)
    assert not task.completed[3]
    env.data.qpos[0:3] = (chair_x, chair_y + 0.08, 0.70)  # seated 8 cm off centre: HumanoidBench's y factor
    mujoco.mj_forward(env.model, env.data)              # pays 0.23 there, yet the robot is on the chair
    for _ in range(24):
        _, terms = task.reward(ctx)
        assert terms["sit/sitting"] == pytest.approx(1.0) and terms["sit/on_chair"] < 0.3
        assert not task.completed[3]
    task.reward(ctx)  # the 25th seated step (0.5 s)
    assert task.is_success(0.0)
    assert task.terminated(ctx) is False  # 0.70 m is above the sit stage's 0.5 m fall height
    env.reset(seed=1)
    assert task.extra_obs(ctx)[-1] == 0.0 and task.active == 0


def test_a_composite_task_keeps_clocks_only_for_its_stage_skills():
    class Bad(CompositeTask):
        name = "bad"
        clock_skills = ("sit",)
        extra_obs_dim = 1

        def make_stages(self):
            return make_env("stand_walk_stand").task.make_stages()

    with pytest.raises(ValueError, match=r"clock_skills \['sit'\] are not the skill of any stage"):
        Bad()


def test_walk_reach_observation_matches_the_reach_expert_layout_and_reach_completes():
    env = make_env("walk_reach")
    reach_env = make_env("reach")
    assert env.observation_space.shape == reach_env.observation_space.shape == (57,)
    task, ctx = env.task, env.ctx
    obs, _ = env.reset(seed=0)
    np.testing.assert_allclose(obs[-3:], task.goal_m)
    task.active = 1  # skip the walk: test the reach stage on a constructed state
    reach = task.stages[1]
    hand = ctx.site_pos(ctx.site_id("left_hand")).copy()
    reach.goal[:] = hand  # the hand is exactly at the goal
    for _ in range(10):
        reward, terms = task.reward(ctx)
    assert terms["reach/hand_distance"] == pytest.approx(0.0, abs=1e-9)
    assert terms["reach/closeness"] == 1.0 and task.completed[1]
    reach.goal[:] = hand + np.array([0.0, 0.0, 0.5])  # 0.5 m away: partial closeness, no completion
    task.reset(ctx, np.random.default_rng(0))
    task.active = 1
    _, terms = task.reward(ctx)
    assert 0.0 < terms["reach/closeness"] < 1.0 and not task.completed[1]


def test_crawl_stand_walk_crawl_stage_ends_past_the_tunnel_exit_and_never_falls():
    env = make_env("crawl_stand_walk")
    task, ctx = env.task, env.ctx
    env.reset(seed=0)
    crawl = task.stages[0]
    env.data.qpos[2] = 0.1  # lying low inside the tunnel: the crawl stage never terminates
    mujoco.mj_forward(env.model, env.data)
    assert not task.terminated(ctx)
    place_at_keyframe(env, x_m=crawl.exit_x_m - 0.1)
    task.reward(ctx)
    assert task.active == 0
    place_at_keyframe(env, x_m=crawl.exit_x_m + 0.01)
    task.reward(ctx)
    assert task.active == 1 and task.stages[1].name == "stand_up"
    for _ in range(25):  # standing tall at the keyframe for 0.5 s
        task.reward(ctx)
    assert task.active == 2 and task.step_info(ctx)["stage_skill"] == "walk"



def score_at(env, *, x_m: float, time_s: float) -> None:
    """Pelvis at ``x_m`` at simulated time ``time_s``; score that step twice (a stage that completes on the first
    hands over, and the next one starts here on the second)."""
    place_at_keyframe(env, x_m=x_m)
    env.data.time = time_s
    env.task.reward(env.ctx)
    env.task.reward(env.ctx)


@pytest.mark.parametrize(("walk_s", "run_s", "walk_end_s", "stages_done"), [
    (3.0, 4.0, 4.0, 3),   # ~1 m/s, then 2.5 m/s, then 1.25 m/s: walk, run, walk
    (1.0, 4.0, 4.0, 0),   # 3 m/s through the first walk stage is a run: it never completes
    (3.0, 10.0, 4.0, 1),  # 1 m/s through the run stage is a walk
    (3.0, 4.0, 1.0, 2),   # 5 m/s through the last walk stage
])
def test_walk_run_walk_stages_complete_only_at_their_gaits_pace(walk_s, run_s, walk_end_s, stages_done):
    env = make_env("walk_run_walk")
    env.reset(seed=0)
    elapsed = 0.0
    for x_m, seconds in ((0.0, 0.0), (3.05, walk_s), (13.05, run_s), (18.05, walk_end_s)):
        elapsed += seconds
        score_at(env, x_m=x_m, time_s=elapsed)
    assert sum(env.task.completed) == stages_done
    assert env.task.is_success(0.0) == (stages_done == 3)


def test_walk_to_chair_sit_layout_gives_the_turn_to_spot_expert_its_extras_and_keeps_the_clock_apart():
    from mwx_ray.envs.observation_layout import ObservationLayout, adapter_indices, observation_layout

    task = observation_layout("mwx/h1-walk_to_chair_sit-v0", 56)
    assert task == ObservationLayout(robot_dim=51, extra_dim=4, clock_dim=1)
    onto_spot = observation_layout("mwx/h1-turn_to_spot-v0", 55)
    assert adapter_indices(onto_spot, task, expert_name="turn", task_name="walk_to_chair_sit") == list(range(55))
    turn = observation_layout("mwx/h1-turn_around-v0", 53)  # turns round, but does not know the spot
    with pytest.raises(ValueError, match="needs 2 task entries after the robot state but task 'walk_to_chair_sit' "
                                         "provides 4"):
        adapter_indices(turn, task, expert_name="turn", task_name="walk_to_chair_sit")
    walk = observation_layout("mwx/h1-walk-v0", 51)
    assert adapter_indices(walk, task, expert_name="walk", task_name="walk_to_chair_sit") == list(range(51))
    env = make_env("walk_to_chair_sit")
    obs, _ = env.reset(seed=0)
    turn_env = make_env("turn_around")
    turn_obs, _ = turn_env.reset(seed=0)
    np.testing.assert_allclose(obs[51:53], turn_obs[51:53], atol=0.05)  # both: half a turn to go, from +x
