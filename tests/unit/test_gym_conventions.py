"""Gymnasium conventions of the registered envs: serializable specs, episode limits gymnasium's wrappers can read,
constructor validation, and ``import mwx_ray`` registering the ids (as ``import humanoid_bench`` does)."""

from __future__ import annotations

import json
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

from mwx_ray.envs import env_ids, get_task_entry, make_env
from mwx_ray.envs.registry import parse_env_id
from mwx_ray.robots import get_robot


@pytest.mark.parametrize("env_id", env_ids())
def test_every_spec_serializes_and_states_its_episode_limit(env_id):
    spec = gym.spec(env_id)
    assert isinstance(spec.entry_point, str)
    assert json.loads(spec.to_json())["id"] == env_id
    _robot, task = parse_env_id(env_id)
    assert spec.max_episode_steps == get_task_entry(task).task_cls.episode_steps


def test_time_aware_observation_reads_the_episode_limit():
    env = gym.wrappers.TimeAwareObservation(gym.make("mwx/h1-stand-v0"))
    obs, _ = env.reset(seed=0)
    obs, *_ = env.step(np.zeros(19, np.float32))
    assert obs.shape == (52,) and obs[-1] == 1  # the elapsed-step feature gymnasium appends


def test_settings_travel_through_gymnasium_make_and_the_spec():
    env = gym.make("mwx/h1-walk_imitation-v0", task={"imitation": {"w_track": 0.4}})
    assert env.unwrapped.task.settings.w_track == 0.4
    assert json.loads(env.spec.to_json())["kwargs"]["task"] == {"imitation": {"w_track": 0.4}}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"frame_skip": 0}, "frame_skip must be an integer >= 1"),
    ({"frame_skip": 2.5}, "frame_skip must be an integer >= 1"),
    ({"reset_noise_scale": -0.1}, "reset_noise_scale must be >= 0"),
    ({"reset_noise_scale": float("nan")}, "reset_noise_scale must be >= 0"),
    ({"render_quality": "ultra"}, "unknown render_quality 'ultra'"),
    ({"render_mode": "human"}, "unsupported render_mode 'human'"),
])
def test_constructor_rejects_bad_arguments(kwargs, message):
    from mwx_ray.envs.base import HumanoidEnv
    from mwx_ray.envs.tasks.locomotion import StandTask

    with pytest.raises(ValueError, match=message):
        HumanoidEnv(get_robot("h1"), StandTask(), **kwargs)


def test_task_settings_validate_at_construction_naming_the_key():
    from mwx_ray.config import ConfigError

    with pytest.raises(ConfigError, match="env.task.frame_skip: value 0 out of range"):
        make_env("walk", task={"frame_skip": 0})
    with pytest.raises(ConfigError, match="env.task.hurdle.discount_hurdle_contact: expected bool, got 'false'"):
        make_env("hurdle", task={"hurdle": {"discount_hurdle_contact": "false"}})


def test_importing_the_package_registers_the_ids():
    code = "import gymnasium, mwx_ray; env = gymnasium.make('mwx/h1-walk-v0'); print(env.observation_space.shape)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "(51,)"
