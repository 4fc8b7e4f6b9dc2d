"""``mwx rollouts contacts``: robot-to-body contacts of recorded states, counted per stage and outcome."""

from __future__ import annotations

import mujoco
import pytest

from mwx_ray.envs import make_env
from mwx_ray.labeling.stage_contacts import robot_and_body_geoms, touches


@pytest.fixture(scope="module")
def chair_scene():
    env = make_env("mwx/h1-walk_to_chair_sit-v0")
    env.reset(seed=0)
    yield env.unwrapped
    env.close()


def test_a_robot_standing_in_the_seat_touches_the_chair_and_one_far_from_it_does_not(chair_scene):
    model, data, ctx = chair_scene.model, chair_scene.data, chair_scene.ctx
    robot, chair = robot_and_body_geoms(model, int(model.body_rootid[ctx.body_id(ctx.robot.root_body)]), "chair")
    assert robot.any() and chair.any() and not (robot & chair).any()
    start = data.qpos.copy()
    mujoco.mj_forward(model, data)
    assert not touches(data, robot, chair)  # HumanoidBench's start, 2.6 m from the seat
    data.qpos[0] = 2.45  # pelvis over the seat's front edge (2.39 m): the legs are inside the seat block
    mujoco.mj_forward(model, data)
    assert touches(data, robot, chair)
    data.qpos[:] = start


def test_an_unknown_body_names_the_scene_bodies(chair_scene):
    with pytest.raises(ValueError, match=r"no body 'sofa'.*'chair'"):
        robot_and_body_geoms(chair_scene.model, 1, "sofa")


def test_the_command_counts_every_episode_in_the_stage_it_reached(tmp_path, capsys):
    from mwx_ray.cli import main
    from mwx_ray.config.labeling_schema import RolloutsSection
    from mwx_ray.labeling.rollouts import collect_rollouts
    from mwx_ray.labeling.stage_contacts import stage_contacts

    shards = tmp_path / "shards"
    section = RolloutsSection(policy="random", episodes=3, episodes_per_shard=2, max_steps=8, keyframe_every=8)
    collect_rollouts("walk_to_chair_sit", section, shards, seed=1, progress=False)
    rows = stage_contacts(shards, "chair")
    assert [row["stage"] for row in rows] == ["walk_to_chair", "stop", "turn_around", "sit"]
    assert rows[0] == dict(stage="walk_to_chair", reached=3, completed=0, ended_in=3, touched_completed=0,
                           touched_ended_in=0)
    assert all(row["reached"] == 0 for row in rows[1:])
    assert main(["rollouts", "contacts", str(shards), "--body", "chair"]) == 0
    assert "walk_to_chair" in capsys.readouterr().out
    assert main(["rollouts", "contacts", str(shards), "--body", "sofa"]) == 2
    assert "no body 'sofa'" in capsys.readouterr().err
