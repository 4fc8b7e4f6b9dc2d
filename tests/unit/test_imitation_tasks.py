"""Imitation variants of the skill tasks: reward mix, HumanoidBench return parity, options, observation, library.

The generic env contract (spaces, determinism, info keys, divergence) runs over these ids in test_env_contract.py.
"""

import numpy as np
import pytest

from mwx_ray.config import ConfigError
from mwx_ray.envs import env_ids, make_env
from mwx_ray.motion import MotionClip
from mwx_ray.motion.library import BUILTIN_SKILLS, builtin_clip, builtin_clip_path, cache_key
from mwx_ray.motion.retarget import RetargetSettings

IMITATION_IDS = [f"mwx/h1-{name}_imitation-v0" for name in ("stand", "walk", "run", "sit_simple", "crawl", "reach")]


def rollout(env, seed, steps=25):
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    rewards, infos = [], []
    for _ in range(steps):
        _, reward, terminated, truncated, info = env.step(rng.uniform(-1, 1, env.action_space.shape))
        rewards.append(reward)
        infos.append(info)
        if terminated or truncated:
            break
    return np.array(rewards), infos


def test_every_variant_is_registered():
    assert set(IMITATION_IDS) <= set(env_ids())


@pytest.mark.parametrize("plain", ["walk", "reach", "sit_simple"])
def test_hb_return_equals_the_plain_task_return_on_the_same_trajectory(plain):
    base_env, imitation_env = make_env(plain), make_env(f"{plain}_imitation")
    base_rewards, base_infos = rollout(base_env, seed=3)
    mixed_rewards, infos = rollout(imitation_env, seed=3)
    assert len(base_rewards) == len(mixed_rewards)
    hb_returns = [info["hb/return"] for info in infos]
    np.testing.assert_allclose(hb_returns, np.cumsum(base_rewards), rtol=1e-12)
    np.testing.assert_allclose([i["reward_terms/task"] for i in infos], base_rewards, rtol=1e-12)
    assert not np.allclose(mixed_rewards, base_rewards)  # the training reward is the mixed one
    np.testing.assert_allclose(base_env.data.qpos, imitation_env.data.qpos[: base_env.model.nq])


def test_reward_is_the_documented_mix_and_every_term_is_logged():
    env = make_env("walk_imitation", task={"imitation": {"w_track": 0.6, "w_task": 0.4}})
    rewards, infos = rollout(env, seed=0, steps=5)
    for reward, info in zip(rewards, infos, strict=True):
        track, task = info["reward_terms/track"], info["reward_terms/task"]
        assert reward == pytest.approx(0.6 * track + 0.4 * task)
        assert track == pytest.approx(0.7 * info["reward_terms/track/pose"] + 0.3 * info["reward_terms/track/vel"])
        for key in ("task/move", "task/standing", "track/weight_max", "track/weight_min", "track/pose_error_rms",
                    "phase"):
            assert f"reward_terms/{key}" in info


def test_imitation_off_gives_the_plain_task_reward():
    plain, _ = rollout(make_env("walk"), seed=1)
    off, infos = rollout(make_env("walk_imitation", task={"imitation": {"enabled": False}}), seed=1)
    np.testing.assert_allclose(off, plain, rtol=1e-12)
    assert "reward_terms/track/pose" in infos[0]  # tracking is still measured and logged


def test_static_weights_switch_keeps_every_joint_weight_at_one():
    _, dynamic = rollout(make_env("walk_imitation"), seed=2, steps=12)  # W is refreshed every 10 steps
    _, static = rollout(make_env("walk_imitation", task={"imitation": {"dynamic_weights": {"enabled": False}}}), seed=2, steps=12)
    assert dynamic[-1]["reward_terms/track/weight_max"] > 1.2
    assert all(i["reward_terms/track/weight_max"] == i["reward_terms/track/weight_min"] == 1.0 for i in static)


def test_optional_terms_enter_the_mix_when_enabled():
    options = {"root_height_coef": 1.0, "root_orientation_coef": 1.0, "end_effector_coef": 1.0}
    _, infos = rollout(make_env("stand_imitation", task={"imitation": options}), seed=0, steps=3)
    info = infos[-1]
    terms = [info[f"reward_terms/track/{k}"] for k in ("pose", "vel", "root_height", "root_orientation",
                                                        "end_effectors")]
    assert all(0.0 <= t <= 1.0 for t in terms)
    expected = (0.7 * terms[0] + 0.3 * terms[1] + sum(terms[2:])) / 4.0
    assert info["reward_terms/track"] == pytest.approx(expected)


def test_unknown_setting_names_the_key_and_the_nearest_valid_one():
    with pytest.raises(ConfigError, match="env.task.imitation.wtrack: unknown key \\(did you mean 'env.task.imitation.w_track'"):
        make_env("walk_imitation", task={"imitation": {"wtrack": 0.5}})
    with pytest.raises(ConfigError, match="env.task.imitation.w_track: expected float, got 'high'"):
        make_env("walk_imitation", task={"imitation": {"w_track": "high"}})


def test_observation_is_the_plain_tasks_unless_phase_features_are_asked_for():
    plain = make_env("reach_imitation")  # default: the reach task's own layout, so a router can use the expert
    assert plain.observation_space.shape == make_env("reach").observation_space.shape == (57,)
    env = make_env("reach_imitation", task={"imitation": {"phase_clock": True}})
    obs, _ = env.reset(seed=4)
    nq, nv = env.model.nq, env.model.nv
    assert obs.shape == (nq + nv + 6 + 2,)
    np.testing.assert_allclose(obs[nq + nv + 3 : nq + nv + 6], env.task.base_task.goal)
    angle = 2 * np.pi * env.task.tracker.phase(0.0)
    np.testing.assert_allclose(obs[-2:], [np.sin(angle), np.cos(angle)])
    assert make_env("walk_imitation").observation_space.shape == (nq + nv,)


def test_start_phase_is_drawn_from_the_env_seed():
    env = make_env("walk_imitation", task={"imitation": {"phase_clock": True}})
    phases = []
    for seed in (7, 7, 8, 9):
        obs, _ = env.reset(seed=seed)
        phases.append(tuple(obs[-2:]))
    assert phases[0] == phases[1] and len(set(phases)) >= 2


def test_clip_option_accepts_a_saved_clip(tmp_path):
    path = builtin_clip("walk").save(tmp_path / "walk_copy.npz")
    env = make_env("walk_imitation", task={"clip": str(path)})
    assert env.task.clip.num_frames == builtin_clip("walk").num_frames


def test_library_clips_are_synthetic_cyclic_where_expected_and_cached(tmp_path, monkeypatch):
    for skill in BUILTIN_SKILLS:
        clip = builtin_clip(skill)
        assert clip.provenance["synthetic"] is True and "SYNTHETIC" in clip.provenance["notice"]
        assert clip.fps == 50.0 and clip.provenance["retarget"]["keypoint_error_m"]["mean"] < 0.03
        assert clip.provenance["cyclic"] == (skill in {"stand", "walk", "run", "crawl", "squat"})
    walk = builtin_clip("walk")
    speed = np.linalg.norm(walk.provenance["cycle_root_displacement_m"][:2]) / (walk.num_frames / walk.fps)
    assert speed == pytest.approx(1.0, abs=0.05)  # HumanoidBench's walk speed on H1
    monkeypatch.setenv("MWX_MOTION_CACHE", str(tmp_path))
    settings = RetargetSettings(max_iterations=6)  # another key: generated fresh into tmp_path
    path = builtin_clip_path("crawl", settings)
    assert path.parent == tmp_path and not path.exists()
    clip = builtin_clip("crawl", settings)
    assert path.exists() and not list(tmp_path.glob(".*"))  # written atomically, no temporary left
    reloaded = MotionClip.load(path)
    np.testing.assert_array_equal(reloaded.joint_pos, clip.joint_pos)
    assert reloaded.provenance["library"]["cache_key"] == cache_key("crawl", settings)
    assert cache_key("crawl", settings) != cache_key("crawl", RetargetSettings())


def test_weight_statistics_persist_across_episodes_and_restart_on_reseed():
    env = make_env("walk_imitation")
    rollout(env, seed=0, steps=15)
    first = env.task.joint_weights.ema_sq_error.copy()
    env.reset()  # unseeded: the policy's statistics carry over
    np.testing.assert_array_equal(env.task.joint_weights.ema_sq_error, first)
    env.reset(seed=0)  # re-seeded: start over, so the seeded rollout repeats exactly
    np.testing.assert_array_equal(env.task.joint_weights.ema_sq_error, 0.0)


def test_a_robot_exactly_on_the_reference_scores_one_on_every_tracking_term():
    import mujoco

    options = {"root_height_coef": 1.0, "root_orientation_coef": 1.0, "end_effector_coef": 1.0}
    env = make_env("walk_imitation", task={"imitation": options})
    env.reset(seed=6)
    env.data.time = 0.3  # mid-episode: the aligned reference has moved on and looped phase-wise
    reference = env.task.tracker.at(env.data.time)
    env.data.qpos[0:3], env.data.qpos[3:7] = reference.root_pos, reference.root_quat
    env.data.qpos[7:26], env.data.qvel[6:25] = reference.joint_pos, reference.joint_vel
    mujoco.mj_forward(env.model, env.data)
    _, terms = env.task.reward(env.ctx)
    for name in ("pose", "vel", "root_height", "root_orientation", "end_effectors"):
        assert terms[f"track/{name}"] == pytest.approx(1.0, abs=1e-9), name
    assert terms["track"] == pytest.approx(1.0)
