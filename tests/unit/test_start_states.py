"""Recorded start states (``env.task.start_states``): a state recorded where a composite task's stage begins is
placed in a training task at the same pose relative to the shared body (the chair), an imitation clip starts over
there, evaluation never uses them, and bad files fail naming the file or key. ``mwx rollouts start-states``
extracts them from real rollout shards."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mwx_ray.config import ConfigError, load_config
from mwx_ray.config.task_schema import TaskSection
from mwx_ray.envs import make_env
from mwx_ray.envs.heading_frame import ROOT_QUAT
from mwx_ray.envs.start_states import (
    StartStatesError,
    body_xy_yaw,
    into_body_frame,
    load_start_states,
    out_of_body_frame,
    save_start_states,
)
from mwx_ray.rewards.heading import yaw_of


def _walked_state(steps: int = 40, seed: int = 0):
    """A real robot state of walk_to_chair_sit after ``steps`` of small random actions, and the env."""
    env = make_env("walk_to_chair_sit")
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        env.step(rng.uniform(-0.2, 0.2, 19))
    return env


def _pose_from_chair(env) -> tuple[np.ndarray, float]:
    """The pelvis (x, y) and yaw in the frame of the scene's chair."""
    unwrapped = env.unwrapped
    chair_xy, chair_yaw = body_xy_yaw(unwrapped.model, unwrapped.data, "chair")
    c, s = math.cos(-chair_yaw), math.sin(-chair_yaw)
    dx, dy = unwrapped.data.qpos[0:2] - chair_xy
    yaw = yaw_of(unwrapped.data.qpos[ROOT_QUAT]) - chair_yaw
    return np.array([c * dx - s * dy, s * dx + c * dy]), math.remainder(yaw, math.tau)


def test_into_and_out_of_a_body_frame_are_inverse():
    env = _walked_state()
    qpos, qvel = env.unwrapped.data.qpos.copy(), env.unwrapped.data.qvel.copy()
    body_xy, body_yaw = np.array([2.6, -0.4]), 2.5
    back = out_of_body_frame(*into_body_frame(qpos, qvel, body_xy, body_yaw), body_xy, body_yaw)
    np.testing.assert_allclose(back[0], qpos, atol=1e-12)
    np.testing.assert_allclose(back[1], qvel, atol=1e-12)


@pytest.fixture()
def recorded(tmp_path):
    """A start-states file with one state of walk_to_chair_sit (chair at (2.6, 0), yaw pi), and that state's pose
    relative to the chair and speed."""
    env = _walked_state()
    data, ctx = env.unwrapped.data, env.unwrapped.ctx
    chair_xy, chair_yaw = body_xy_yaw(env.unwrapped.model, data, "chair")
    qpos, qvel = into_body_frame(data.qpos[: ctx.robot_nq], data.qvel[: ctx.robot_nv], chair_xy, chair_yaw)
    path = save_start_states(tmp_path / "states.npz", qpos[None], qvel[None], {"reference_body": "chair"})
    relative, yaw = _pose_from_chair(env)
    return path, relative, yaw, float(np.linalg.norm(data.qvel[0:2])), data.qpos[7:].copy()


def test_a_recorded_state_is_placed_at_the_same_pose_relative_to_the_chair(recorded):
    path, relative, yaw, speed, joints = recorded
    env = make_env("sit_simple", task={"start_states": {"path": str(path), "probability": 1.0}})
    _, info = env.reset(seed=3)
    assert info["recorded_start"]
    placed_relative, placed_yaw = _pose_from_chair(env)
    np.testing.assert_allclose(placed_relative, relative, atol=1e-9)
    assert placed_yaw == pytest.approx(yaw, abs=1e-9)
    data = env.unwrapped.data
    assert float(np.linalg.norm(data.qvel[0:2])) == pytest.approx(speed, rel=1e-9)
    np.testing.assert_array_equal(data.qpos[7:], joints)
    chair_xy, _ = body_xy_yaw(env.unwrapped.model, data, "chair")
    assert not np.allclose(chair_xy, (2.6, 0.0)), "the two scenes' chairs are in different places"


def test_an_imitation_clip_starts_over_where_the_recorded_state_put_the_robot(recorded):
    path = recorded[0]
    task = {"imitation": {"phase_clock": True, "reference_feedforward": True,
                          "reference_state_init": {"probability": 1.0}},
            "start_states": {"path": str(path), "probability": 1.0}}
    env = make_env("sit_simple_imitation", task=task)
    unwrapped = env.unwrapped
    for seed in range(3):  # reference state init would start mid-clip; the recorded start restarts it
        obs, _ = env.reset(seed=seed)
        assert unwrapped.task.tracker.start_frame == 0
        np.testing.assert_allclose(obs[-2:], (0.0, 1.0), atol=1e-9)  # (sin, cos) of phase 0
        anchored = unwrapped.task.tracker.aligned_root_pos[0, :2]
        np.testing.assert_allclose(anchored, unwrapped.data.qpos[0:2], atol=1e-9)


def test_the_probability_mixes_recorded_and_plain_starts(recorded):
    env = make_env("sit_simple", task={"start_states": {"path": str(recorded[0]), "probability": 0.5}})
    starts = [env.reset(seed=seed)[1]["recorded_start"] for seed in range(20)]
    assert 0 < sum(starts) < 20
    assert starts == [env.reset(seed=seed)[1]["recorded_start"] for seed in range(20)], "draws follow the seed"


def test_evaluation_never_uses_them(recorded):
    task = TaskSection(name="sit_simple")
    task.start_states.path, task.start_states.probability = str(recorded[0]), 1.0
    assert task.for_evaluation().start_states.probability == 0.0


def test_bad_files_name_the_file_and_problem(tmp_path, recorded):
    with pytest.raises(StartStatesError, match="no such file"):
        load_start_states(tmp_path / "missing.npz", nq=26, nv=25)
    with pytest.raises(StartStatesError, match="this one has 27 / 26"):
        load_start_states(recorded[0], nq=27, nv=26)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, qpos=np.zeros((1, 26)), qvel=np.zeros((1, 25)), meta=np.array('{"format": "other"}'))
    with pytest.raises(StartStatesError, match=r"wrong\.npz: format 'other'"):
        load_start_states(wrong, nq=26, nv=25)
    with pytest.raises(ValueError, match="no body 'chair'"):
        make_env("walk", task={"start_states": {"path": str(recorded[0]), "probability": 1.0}})


@pytest.mark.parametrize(("values", "problem"), [
    ("{probability: 0.5}", "need a start-states file"),
    ("{path: nowhere.npz, probability: 0.5}", "not found: nowhere.npz"),
    ("{path: PATH, probability: 1.5}", "out of range"),
])
def test_bad_settings_name_the_key(tmp_path, recorded, values, problem):
    path = tmp_path / "bad.yaml"
    path.write_text(f"env:\n  task:\n    name: sit_simple\n    start_states: {values.replace('PATH', str(recorded[0]))}\n")
    with pytest.raises(ConfigError, match=rf"env\.task\.start_states\.(path|probability).*{problem}"):
        load_config(path)


def test_the_command_records_where_a_stage_begins(tmp_path, capsys):
    from mwx_ray.cli import main
    from mwx_ray.config.labeling_schema import RolloutsSection
    from mwx_ray.labeling.rollouts import collect_rollouts
    from mwx_ray.labeling.shards import read_shard

    shards = tmp_path / "shards"
    section = RolloutsSection(policy="random", episodes=3, episodes_per_shard=2, max_steps=8, keyframe_every=8)
    collect_rollouts("walk_to_chair_sit", section, shards, seed=1, progress=False)
    out = tmp_path / "starts.npz"
    assert main(["rollouts", "start-states", str(shards), "--stage", "walk_to_chair", "--reference-body", "chair",
                 "--out", str(out)]) == 0
    assert "wrote 3 start states" in capsys.readouterr().out
    states = load_start_states(out, nq=26, nv=25)
    assert len(states) == 3 and states.meta["stage"] == "walk_to_chair" and states.meta["episodes"] == 3
    first = read_shard(shards / "shard-00000.npz").arrays
    expected, _ = into_body_frame(first["qpos"][0], first["qvel"][0], np.array([2.6, 0.0]), math.pi)
    np.testing.assert_allclose(states.qpos[0], expected, atol=1e-9)
    assert main(["rollouts", "start-states", str(shards), "--stage", "sit", "--reference-body", "chair",
                 "--out", str(tmp_path / "none.npz")]) == 2
    assert "no episode of 3 reached stage 'sit'" in capsys.readouterr().err
    assert main(["rollouts", "start-states", str(shards), "--stage", "dance", "--reference-body", "chair",
                 "--out", str(tmp_path / "none.npz")]) == 2
    assert "has no stage 'dance'" in capsys.readouterr().err
    assert not (tmp_path / "none.npz").exists()
