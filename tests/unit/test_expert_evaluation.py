"""Ray-free deterministic evaluation: HumanoidBench return and success from the env, per-step reward terms."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from mwx_ray.experts.evaluation import evaluate_policy


def zero_policy(obs: np.ndarray) -> np.ndarray:
    """Mid-range joint targets for all 19 H1 actuators (the robot sags and usually falls)."""
    return np.zeros(19, dtype=np.float32)


def test_evaluation_reads_hb_return_success_and_reward_terms():
    result = evaluate_policy(zero_policy, "mwx/h1-stand-v0", episodes=2, seed=5)
    assert len(result.episode_returns) == len(result.episode_lengths) == 2
    assert result.return_mean == pytest.approx(np.mean(result.episode_returns))
    assert result.return_std == pytest.approx(np.std(result.episode_returns))
    assert 0 < result.return_mean < 800 and result.success_rate == 0.0  # far below the stand bar (800)
    assert {"standing", "upright", "small_control", "dont_move"} <= set(result.reward_term_means)
    assert all(0.0 <= v <= 1.0 for v in result.reward_term_means.values())
    metrics = result.metrics()
    assert metrics["hb/return"] == result.return_mean and metrics["hb/success"] == 0.0
    assert metrics["reward_terms/upright"] == result.reward_term_means["upright"]


def test_same_seed_same_episodes_other_seed_other_episodes():
    rng = np.random.default_rng(0)
    noise = rng.uniform(-0.3, 0.3, size=(2000, 19)).astype(np.float32)
    counter = {"t": 0}

    def open_loop(obs):  # deterministic given the step index, independent of the obs
        counter["t"] += 1
        return noise[counter["t"] % len(noise)]

    def run(seed):
        counter["t"] = 0
        return evaluate_policy(open_loop, "mwx/h1-walk-v0", episodes=1, seed=seed).episode_returns[0]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_env_without_success_info_reports_nan_success():
    result = evaluate_policy(lambda obs: np.zeros(1, np.float32), "Pendulum-v1", episodes=1, seed=0)
    assert math.isnan(result.success_rate) and result.episode_lengths == [200]
    assert result.return_mean < 0 and result.reward_term_means == {}


@pytest.mark.render
def test_video_of_the_first_episode(tmp_path):
    path = tmp_path / "eval.mp4"
    result = evaluate_policy(zero_policy, "mwx/h1-stand-v0", episodes=1, seed=0, video_path=path, video_steps=12)
    assert result.video_path == str(path) and path.stat().st_size > 1000
    import imageio.v2 as imageio

    frames = imageio.mimread(path)
    assert len(frames) == 12 and frames[0].shape == (224, 224, 3)  # render_quality="fast"


def test_falls_are_counted_and_a_handover_runs_the_first_expert_before_the_evaluated_one(capsys):
    from mwx_ray.cli import main as mwx_main

    # The zero policy lets H1 sag until the stand task ends the episode: every episode is a fall.
    sagging = evaluate_policy(zero_policy, "mwx/h1-stand-v0", episodes=2, seed=5)
    assert sagging.falls == 2 and max(sagging.episode_lengths) < 1000
    # zoo:walk acts 40 control steps first: the stand expert then has 1000 - 40 steps of the time limit left.
    assert mwx_main(["eval", "zoo:stand", "--task", "stand", "--after", "zoo:walk", "--after-steps", "40", "40",
                     "--episodes", "1", "--seed", "7", "--no-video"]) == 0
    out = capsys.readouterr().out
    assert "mean episode length 960 steps; fell in 0/1 after taking over from zoo:walk" in out, out
    with pytest.raises(SystemExit, match="--after-steps"):
        mwx_main(["eval", "zoo:stand", "--after", "zoo:walk", "--after-steps", "9", "3", "--episodes", "1"])


def test_an_expert_evaluated_on_a_task_with_extras_reads_its_slice_and_a_missing_slice_is_named(capsys):
    from mwx_ray.cli import main as mwx_main

    # zoo:stand (51-d robot state) on reach (57-d: + hand and goal): it reads the robot state and stands there.
    assert mwx_main(["eval", "zoo:stand", "--task", "reach", "--episodes", "1", "--seed", "3", "--no-video"]) == 0
    assert "fell in 0/1" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="needs 6 task entries after the robot state"):
        mwx_main(["eval", "zoo:reach", "--task", "walk", "--episodes", "1", "--no-video"])


def test_a_clocked_expert_is_evaluated_in_its_own_task_and_from_recorded_hand_over_states(capsys):
    from mwx_ray.cli import main as mwx_main

    # zoo:sit observes its clip's phase (2 entries its task adds with phase_clock): evaluated where it trained.
    assert mwx_main(["eval", "zoo:sit", "--episodes", "1", "--seed", "5000003", "--no-video"]) == 0
    assert "success 100% (1/1)" in capsys.readouterr().out
    # From the states walk_to_chair_sit's turn expert hands it over in, it falls (docs/results.md).
    states = "tune_configs/experts/start_states/walk_to_chair_sit-sit.npz"
    assert mwx_main(["eval", "zoo:sit", "--start-states", states, "--episodes", "2", "--seed", "900000",
                     "--no-video"]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"fell in [12]/2 from the recorded states of {states}", out), out
    assert float(re.search(r"return ([\d.]+) ±", out).group(1)) < 750, "below the bar it holds from the reset"
    with pytest.raises(SystemExit, match="start-states file not found: nowhere.npz"):
        mwx_main(["eval", "zoo:sit", "--start-states", "nowhere.npz", "--episodes", "1", "--no-video"])


def test_a_phase_clocked_expert_reads_its_whole_observation_in_its_own_task_and_its_robot_state_elsewhere():
    from mwx_ray.envs import make_env
    from mwx_ray.envs.observation_layout import expert_indices_in

    clocked = make_env("sit_simple_imitation", task={"imitation": {"phase_clock": True}})  # 51 + 2 clock entries
    assert expert_indices_in(clocked, "mwx/h1-sit_simple_imitation-v0", 53, expert_name="sit") == list(range(53))
    with pytest.raises(ValueError, match="sit"):  # elsewhere its 53 entries are not a prefix of the task's 51
        expert_indices_in(make_env("stand"), "mwx/h1-sit_simple_imitation-v0", 53, expert_name="sit")
