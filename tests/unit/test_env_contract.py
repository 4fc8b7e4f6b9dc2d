"""Contract checks over EVERY registered env id (parametrized from the registry, so new tasks are covered)."""

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import mwx_ray.envs  # noqa: F401 - registers tasks with gymnasium
from mwx_ray.envs import env_ids, make_env, task_entries

ENV_IDS = env_ids()


@pytest.fixture(scope="module", params=ENV_IDS)
def env(request):
    environment = make_env(request.param)
    yield environment
    environment.close()


def rollout(env, seed, steps=30):
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(123)  # same actions for both seeds: only the reset noise differs
    trace = [obs]
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(rng.uniform(-1, 1, env.action_space.shape))
        trace += [obs, [reward]]
        if terminated or truncated:
            break
    return np.concatenate(trace)


def test_registry_is_not_empty_and_ids_follow_the_pattern():
    assert {"mwx/h1-stand-v0", "mwx/h1-walk-v0", "mwx/h1-run-v0"} <= set(ENV_IDS)
    for entry in task_entries():
        assert entry.env_id == f"mwx/{entry.robot}-{entry.task_name}-v0"
        assert entry.task_cls.description and entry.task_cls.episode_steps > 0


def test_unknown_names_list_valid_ones():
    with pytest.raises(KeyError, match="valid env ids"):
        make_env("mwx/h1-moonwalk-v0")


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasium_make_works(env_id):
    env = gymnasium.make(env_id)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    env.close()


def test_gymnasium_env_checker_passes(env):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    # HumanoidBench's observation space is unbounded (−inf, inf); the checker's advice about that is the only
    # warning we accept.
    unexpected = [str(w.message) for w in caught if "infinity" not in str(w.message)]
    assert not unexpected


def test_observation_shape_dtype_and_space(env):
    obs, info = env.reset(seed=0)
    model = env.model
    assert obs.dtype == np.float64
    assert obs.shape == (model.nq + model.nv + env.task.extra_obs_dim,) == env.observation_space.shape
    np.testing.assert_array_equal(obs[: model.nq], env.data.qpos)
    np.testing.assert_array_equal(obs[model.nq : model.nq + model.nv], env.data.qvel)
    assert env.action_space.shape == (model.nu,) and env.action_space.low.min() == -1.0
    assert info["hb/return"] == 0.0


def test_reset_noise_is_uniform_one_centimetre_on_every_qpos(env):
    nq = env.model.nq
    obs, _ = env.reset(seed=5)
    # Reference: the same seeded reset without noise = keyframe + whatever Task.reset draws from the env's generator
    # (sit_hard overwrites the robot's x, y, yaw after the noise, as HumanoidBench does). A zero-width uniform
    # draw consumes the generator exactly like the real one, so the task's draws match.
    env.reset_noise_scale = 0.0
    try:
        noise_free, _ = env.reset(seed=5)
    finally:
        env.reset_noise_scale = 0.01
    deviation = obs[:nq] - noise_free[:nq]
    assert np.all(np.abs(deviation) <= 0.01)
    robot_nq = env.ctx.robot_nq
    assert np.count_nonzero(deviation[7:robot_nq]) == robot_nq - 7  # every joint angle is perturbed
    if np.array_equal(noise_free[:nq], env.model.key("home").qpos):  # task randomises nothing: all entries noisy
        assert np.count_nonzero(deviation) == nq
    np.testing.assert_array_equal(obs[nq : nq + env.model.nv], 0.0)


def test_same_seed_same_trajectory_different_seed_different(env):
    first, again, other = rollout(env, 7), rollout(env, 7), rollout(env, 8)
    np.testing.assert_array_equal(first, again)
    assert first.shape != other.shape or not np.array_equal(first, other)


def test_reset_does_not_use_numpy_global_rng(env):
    np.random.seed(0)
    a, _ = env.reset(seed=11)
    np.random.seed(1)
    b, _ = env.reset(seed=11)
    np.testing.assert_array_equal(a, b)


def test_info_has_reward_terms_return_and_success_at_episode_end(env):
    env.reset(seed=0)
    env.task.episode_steps = 3  # instance override: truncate quickly
    try:
        total = 0.0
        for step in range(3):
            _, reward, terminated, truncated, info = env.step(np.zeros(env.action_space.shape))
            # hb/return sums the plain HumanoidBench reward: the env reward, or the term a task names in
            # hb_reward_term when it shapes the training reward (imitation variants, envs/imitation.py).
            hb_term = getattr(env.task, "hb_reward_term", None)
            total += reward if hb_term is None else info[f"reward_terms/{hb_term}"]
            terms = {k: v for k, v in info.items() if k.startswith("reward_terms/")}
            assert terms and all(np.isfinite(v) for v in terms.values())
            assert info["hb/return"] == pytest.approx(total)
            assert ("success" in info) == (step == 2)
        assert truncated and not terminated
        assert info["success"] == (total >= env.task.success_bar)
    finally:
        del env.task.episode_steps


@pytest.mark.parametrize("bad", [np.full(19, np.nan), np.full(19, np.inf), np.zeros(18), np.zeros((19, 1))])
def test_invalid_actions_raise_value_error(env, bad):
    env.reset(seed=0)
    with pytest.raises(ValueError):
        env.step(bad)


def test_divergence_is_flagged_not_raised(env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MuJoCo appends its warnings to ./MUJOCO_LOG.TXT: keep it out of the repo
    env.reset(seed=0)
    count = env.divergence_count
    env.data.qvel[:] = 1e12  # beyond mjMAXVAL: MuJoCo raises mjWARN_BADQVEL and auto-resets
    obs, reward, terminated, truncated, info = env.step(np.zeros(env.action_space.shape))
    assert terminated and info["diverged"] and info["divergence_count"] == count + 1
    assert reward == 0.0 and np.all(np.isfinite(obs)) and info["success"] is False
    env.data.qpos[0] = np.nan  # a non-finite state is caught too
    _, _, terminated, _, info = env.step(np.zeros(env.action_space.shape))
    assert terminated and info["diverged"] and env.divergence_count == count + 2
    obs, _ = env.reset(seed=0)  # the env recovers on reset
    _, _, _, _, info = env.step(np.zeros(env.action_space.shape))
    assert not info["diverged"]


@pytest.mark.render
def test_render_fast_preset_tracks_robot_and_close_frees_it():
    env = make_env("walk", render_mode="rgb_array", render_quality="fast")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (224, 224, 3) and frame.dtype == np.uint8
    assert frame.std() > 5  # not a blank image
    env.data.qpos[0] += 5.0  # tracking camera follows the robot: the robot stays in view
    env.step(np.zeros(19))
    assert env.render().std() > 5
    env.close()
    assert env._renderer is None


@pytest.mark.render
def test_render_video_preset_size():
    env = make_env("stand", render_mode="rgb_array", render_quality="video")
    env.reset(seed=0)
    assert env.render().shape == (480, 640, 3)
    env.close()
