"""Expert hand-over options (router.transitions): action smoothing and the stabiliser fallback, on the real env."""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import mwx_ray.envs  # noqa: F401 - registers the ids
from mwx_ray.experts.export import write_expert_folder
from mwx_ray.experts.policy import ExpertPolicy
from mwx_ray.router.evaluation import RouterEpisode, save_frame_strip, strip_steps, transition_metrics
from mwx_ray.router.transitions import wrap_transitions

OBS, ACT, HIDDEN = 51, 19, 16


def stand_expert(tmp_path):
    """A random-weight expert with the stand task's layout (what the fallback reads)."""
    rng = np.random.default_rng(0)
    state = {"encoder.actor_encoder.net.mlp.0.weight": rng.normal(size=(HIDDEN, OBS)).astype(np.float32) * 0.1,
             "encoder.actor_encoder.net.mlp.0.bias": np.zeros(HIDDEN, np.float32),
             "pi.net.mlp.0.weight": rng.normal(size=(ACT, HIDDEN)).astype(np.float32),
             "pi.net.mlp.0.bias": np.zeros(ACT, np.float32), "pi.log_std": np.zeros(ACT, np.float32)}
    import base64
    import io
    import zlib

    def serialized(array):
        buffer = io.BytesIO()
        np.save(buffer, array)
        return base64.b64encode(zlib.compress(buffer.getvalue())).decode("ascii")

    stats = {"num_pushes": 10, "mean_array": serialized(np.zeros(OBS)), "sum_sq_diff_array": serialized(np.ones(OBS) * 9)}
    config = {"fcnet_hiddens": [HIDDEN], "fcnet_activation": "tanh", "head_fcnet_hiddens": [],
              "head_fcnet_activation": "tanh", "free_log_std": True, "log_std_clip_param": 5.0, "vf_share_layers": False}
    box = gym.spaces.Box(-np.inf, np.inf, (OBS,), np.float64)
    return write_expert_folder(tmp_path / "stand", env_id="mwx/h1-stand-v0", module_state=state, model_config=config,
                               observation_space=box, action_space=gym.spaces.Box(-1.0, 1.0, (ACT,), np.float32),
                               filter_agent_state={"shape": np.array([OBS]), "de_mean_to_zero": True,
                                                   "de_std_to_one": True, "clip_by_value": 10.0,
                                                   "running_stats": [stats]},
                               normalize_actions=True, clip_actions=False, source_checkpoint=None)


def test_off_by_default_and_smoothing_is_an_ema_of_executed_actions():
    plain = gym.make("mwx/h1-stand_walk_stand-v0")
    assert wrap_transitions(plain, {"action_smoothing": 0.0}) is plain
    env = wrap_transitions(gym.make("mwx/h1-stand_walk_stand-v0"), {"action_smoothing": 0.75})
    env.reset(seed=0)
    first, second = np.full(ACT, 0.4), np.full(ACT, -0.4)
    env.step(first)
    np.testing.assert_allclose(env.unwrapped.ctx.action, first, atol=1e-6)  # nothing to smooth on step 1
    env.step(second)
    np.testing.assert_allclose(env.unwrapped.ctx.action, 0.75 * first + 0.25 * second, atol=1e-6)
    env.reset(seed=0)
    env.step(second)
    np.testing.assert_allclose(env.unwrapped.ctx.action, second, atol=1e-6)  # a reset forgets the history


def test_fallback_expert_acts_alone_while_the_robot_is_falling(tmp_path):
    folder = stand_expert(tmp_path)
    settings = {"fallback_expert": "stand", "fallback_torso_zz_below": 0.85, "fallback_head_below_m": 1.3}
    env = wrap_transitions(gym.make("mwx/h1-stand_walk_stand-v0"), settings, str(folder))
    obs, _ = env.reset(seed=0)
    router_action = np.full(ACT, 0.3)
    _, _, _, _, info = env.step(router_action)
    assert info["router/fallback"] == 0.0  # upright: the router's action
    np.testing.assert_allclose(env.unwrapped.ctx.action, router_action, atol=1e-6)
    data, model = env.unwrapped.data, env.unwrapped.model
    data.qpos[3:7] = [np.cos(0.5), 0.0, np.sin(0.5), 0.0]  # pitched 57°: torso zz ≈ 0.54
    mujoco.mj_forward(model, data)
    obs = env.unwrapped._observation()
    env._obs = obs  # the observation the router saw in this state
    assert env.at_risk()
    _, _, _, _, info = env.step(router_action)
    assert info["router/fallback"] == 1.0
    expected = ExpertPolicy.load(folder).act(obs[:OBS])
    np.testing.assert_allclose(env.unwrapped.ctx.action, np.clip(expected, -1, 1), atol=1e-5)
    assert not np.allclose(expected, router_action)


def test_fallback_needs_its_folder():
    with pytest.raises(ValueError, match="has no folder"):
        wrap_transitions(gym.make("mwx/h1-stand-v0"), {"fallback_expert": "stand"})


def test_transition_metrics_count_falls_after_switches_and_jerk_around_them():
    stages = np.array([0] * 30 + [1] * 20)
    actions = np.zeros((50, 2), np.float32)
    actions[30:] = 1.0  # a step change exactly at the switch: jerk concentrated there
    fell = RouterEpisode(10.0, 50, False, {}, np.zeros((50, 0)), stages, actions, terminated=True)
    fine = RouterEpisode(10.0, 50, True, {}, np.zeros((50, 0)), stages, np.zeros((50, 2)), terminated=False)
    metrics = transition_metrics([fell, fine])
    assert metrics["transition/switches"] == 1.0
    assert metrics["transition/fall_rate"] == 0.5  # one of two switches ended in a fall within 1 s
    assert metrics["transition/jerk_ratio"] > 1.0


def test_frame_strip_shows_every_stage_change_and_says_whether_the_episode_succeeded(tmp_path):
    from PIL import Image

    stages = np.repeat([0, 1, 2], [50, 150, 100])
    assert strip_steps(stages, 300) == [0, 50, 99, 199, 200, 299]  # both switches, then evenly spaced
    assert strip_steps(stages, 40) == [0, 7, 15, 23, 31, 39]  # nothing switches in the filmed part
    frames = [np.full((60, 80, 3), t % 256, np.uint8) for t in range(300)]
    episode = RouterEpisode(900.0, 300, True, {}, np.zeros((300, 0)), stages)
    path = save_frame_strip(frames, episode, ["stand_start", "walk", "stand_end"], tmp_path / "strip.png")
    image = np.asarray(Image.open(path))
    assert image.shape == (30 + 16, 6 * 40, 3)  # six half-size tiles under a title line
    assert image[16 + 20, 40 * 2 + 30, 0] == 99  # the third tile is step 99 (its pixel value), below its caption
    assert not list(tmp_path.glob("*.tmp*"))


def test_time_feature_appends_the_elapsed_fraction_for_the_router_only():
    from mwx_ray.router.transitions import wrap_router_env

    env = wrap_router_env(gym.make("mwx/h1-stand_walk_stand-v0"), time_feature=True)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (52,) and obs[-1] == 0.0 and env.observation_space.shape == (52,)
    for step in range(1, 4):
        obs, *_ = env.step(np.zeros(ACT, np.float32))
        assert obs[-1] == pytest.approx(step / 1000)  # stand_walk_stand lasts 1000 control steps
    assert np.array_equal(obs[:51], env.unwrapped._observation())  # the task's observation, unchanged


def test_stage_feature_appends_the_active_stage_one_hot_after_the_clock():
    from mwx_ray.router.transitions import wrap_router_env

    env = wrap_router_env(gym.make("mwx/h1-stand_walk_stand-v0"), time_feature=True, stage_feature=True)
    obs, _ = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape == (55,)  # 51 task + clock + 3 stages
    np.testing.assert_array_equal(obs[-3:], [1, 0, 0])
    task = env.unwrapped.task
    task.active = 1  # as if stand_start had just completed (the hold takes 50 steps)
    obs, *_ = env.step(np.zeros(ACT, np.float32))
    np.testing.assert_array_equal(obs[-3:], [0, 1, 0])
    assert obs[-4] == pytest.approx(1 / 1000)  # the clock stays where it was
    obs, _ = env.reset(seed=1)
    np.testing.assert_array_equal(obs[-3:], [1, 0, 0])  # a new episode starts in the first stage
    with pytest.raises(ValueError, match="needs a composite task with stages"):
        wrap_router_env(gym.make("mwx/h1-stand-v0"), stage_feature=True)


def test_mwx_eval_can_change_a_trained_routers_hand_over_options():
    from mwx_ray.commands.eval_router import with_transition_overrides

    manifest = {"experts": [{"name": "stand", "folder": "/zoo/stand"}, {"name": "walk", "folder": "/zoo/walk"}]}
    trained = {"transitions": {"action_smoothing": 0.0, "fallback_expert": None}, "fallback_folder": None,
               "time_feature": True}
    changed = with_transition_overrides(trained, manifest, 0.5, "stand")
    assert changed["transitions"] == {"action_smoothing": 0.5, "fallback_expert": "stand"}
    assert changed["fallback_folder"] == "/zoo/stand" and changed["time_feature"] is True
    off = with_transition_overrides(changed, manifest, None, "none")
    assert off["transitions"]["fallback_expert"] is None and off["fallback_folder"] is None
    assert with_transition_overrides(trained, manifest, None, None) == trained
    with pytest.raises(ValueError, match="not one of the router's experts"):
        with_transition_overrides(trained, manifest, None, "run")
    with pytest.raises(ValueError, match="must be in"):
        with_transition_overrides(trained, manifest, 1.0, None)


def test_mwx_eval_reports_per_switch_measures_only_when_a_switch_happened():
    from mwx_ray.commands.eval_router import transition_summary

    none = {"transition/switches": 0.0, "transition/fall_rate": float("nan"), "transition/jerk_ratio": float("nan")}
    assert "nan" not in transition_summary(none) and "no hand-over" in transition_summary(none)
    two = {"transition/switches": 2.0, "transition/fall_rate": 0.25, "transition/jerk_ratio": 0.9}
    assert "falls within 1 s of a switch 25%" in transition_summary(two) and "0.90x" in transition_summary(two)


def test_mwx_eval_refuses_a_negative_switch_hold(tmp_path):
    from mwx_ray.cli import main as mwx_main
    from mwx_ray.router.checkpoint import MANIFEST_FILE

    (tmp_path / MANIFEST_FILE).write_text("{}")  # a router checkpoint folder; refused before it is read
    with pytest.raises(SystemExit, match="--switch-hold -1: must be >= 0"):
        mwx_main(["eval", str(tmp_path), "--switch-hold", "-1", "--episodes", "1", "--no-video"])
