"""Expert folder format, normalizer numerics, hashing and env seeding, without a Ray runtime."""

from __future__ import annotations

import base64
import io
import json
import os
import pickle
import zlib

import gymnasium as gym
import numpy as np
import pytest
import torch

from mwx_ray.experts.env_registration import PerEnvSeedWrapper, derive_env_seed
from mwx_ray.experts.export import load_checkpoint_pickle, write_expert_folder
from mwx_ray.experts.policy import WEIGHTS_FILE, ExpertPolicy

OBS_DIM, ACT_DIM, HIDDEN = 3, 2, (8, 8)
MODEL_CONFIG = {
    "fcnet_hiddens": list(HIDDEN),
    "fcnet_activation": "tanh",
    "head_fcnet_hiddens": [],
    "head_fcnet_activation": "tanh",
    "free_log_std": True,
    "log_std_clip_param": 2.0,
    "vf_share_layers": False,
}


def rllib_serialized(array: np.ndarray) -> str:
    """Same encoding as ray/rllib/utils/serialization.py ``_serialize_ndarray``."""
    buf = io.BytesIO()
    np.save(buf, array)
    return base64.b64encode(zlib.compress(buf.getvalue())).decode("ascii")


def synthetic_expert(tmp_path, observations: np.ndarray):
    rng = np.random.default_rng(0)
    state = {}
    widths = [OBS_DIM, *HIDDEN]
    for k, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        state[f"encoder.actor_encoder.net.mlp.{2 * k}.weight"] = rng.normal(size=(n_out, n_in)).astype(
            np.float32
        )
        state[f"encoder.actor_encoder.net.mlp.{2 * k}.bias"] = rng.normal(size=n_out).astype(np.float32)
    state["pi.net.mlp.0.weight"] = rng.normal(size=(ACT_DIM, HIDDEN[-1])).astype(np.float32)
    state["pi.net.mlp.0.bias"] = rng.normal(size=ACT_DIM).astype(np.float32)
    state["pi.log_std"] = np.array([-7.0, 0.5], np.float32)
    state["vf.net.mlp.0.weight"] = rng.normal(size=(1, HIDDEN[-1])).astype(np.float32)
    mean = observations.astype(np.float64).mean(0)
    sum_sq = ((observations.astype(np.float64) - mean) ** 2).sum(0)
    filter_state = {
        "shape": np.array([OBS_DIM]),
        "de_mean_to_zero": True,
        "de_std_to_one": True,
        "clip_by_value": 10.0,
        "running_stats": [
            {
                "num_pushes": len(observations),
                "mean_array": rllib_serialized(mean),
                "sum_sq_diff_array": rllib_serialized(sum_sq),
            }
        ],
    }
    box = gym.spaces.Box(-np.inf, np.inf, (OBS_DIM,), np.float32)
    actions = gym.spaces.Box(np.array([-1.0, 0.0], np.float32), np.array([1.0, 4.0], np.float32))
    folder = write_expert_folder(
        tmp_path / "expert",
        env_id="Synthetic-v0",
        module_state=state,
        model_config=MODEL_CONFIG,
        observation_space=box,
        action_space=actions,
        filter_agent_state=filter_state,
        normalize_actions=True,
        clip_actions=False,
        source_checkpoint=None,
    )
    return folder, state, mean, sum_sq


def test_policy_reproduces_rllib_numerics(tmp_path):
    obs = np.random.default_rng(1).normal(3.0, 2.0, size=(64, OBS_DIM)).astype(np.float32)
    folder, state, mean, sum_sq = synthetic_expert(tmp_path, obs)
    policy = ExpertPolicy.load(folder)

    # RLlib MeanStdFilter: float32 unbiased var, std + 1e-6, clip ±10, back to float32.
    std = np.sqrt(np.maximum(0, (sum_sq / (len(obs) - 1)).astype(np.float32)))
    queries = np.concatenate([obs[:8], obs[:2] * 100.0])
    expected_norm = np.clip((queries - mean) / (std + 1e-6), -10, 10).astype(np.float32)
    np.testing.assert_array_equal(policy.normalize(queries).numpy(), expected_norm)

    hidden = expected_norm
    for k in range(len(HIDDEN)):
        w, b = (
            state[f"encoder.actor_encoder.net.mlp.{2 * k}.weight"],
            state[f"encoder.actor_encoder.net.mlp.{2 * k}.bias"],
        )
        hidden = np.tanh(hidden @ w.T + b)
    module_action = hidden @ state["pi.net.mlp.0.weight"].T + state["pi.net.mlp.0.bias"]
    low, high = np.array([-1.0, 0.0]), np.array([1.0, 4.0])
    expected = np.clip(low + (module_action + 1.0) * (high - low) / 2.0, low, high)
    actions = policy(queries).numpy()
    assert actions.shape == (len(queries), ACT_DIM)
    np.testing.assert_allclose(actions, expected, atol=1e-5)
    np.testing.assert_array_equal(policy.log_std().numpy(), np.array([-2.0, 0.5], np.float32))


def test_hash_is_stable_and_detects_changes(tmp_path):
    obs = np.random.default_rng(2).normal(size=(16, OBS_DIM)).astype(np.float32)
    folder, *_ = synthetic_expert(tmp_path, obs)
    a, b = ExpertPolicy.load(folder), ExpertPolicy.load(folder)
    assert a.parameter_hash() == b.parameter_hash()
    with torch.no_grad():
        b.actor[0].weight[0, 0] += 1e-7
    assert a.parameter_hash() != b.parameter_hash()
    assert all(not p.requires_grad for p in a.parameters())


def test_tampered_weights_are_rejected(tmp_path):
    obs = np.random.default_rng(3).normal(size=(16, OBS_DIM)).astype(np.float32)
    folder, *_ = synthetic_expert(tmp_path, obs)
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(folder / WEIGHTS_FILE))
    tensors["normalizer.mean"] = tensors["normalizer.mean"] + 1.0
    save_file(tensors, str(folder / WEIGHTS_FILE))
    with pytest.raises(ValueError, match="tensors_sha256"):
        ExpertPolicy.load(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format"] == "mwx-expert/2" and manifest["normalizer"]["count"] == 16


def test_checkpoint_unpickler_refuses_arbitrary_callables(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "state.pkl"
    path.write_bytes(pickle.dumps({"x": Evil()}))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        load_checkpoint_pickle(path)
    path.write_bytes(pickle.dumps({"w": np.arange(3.0)}))
    np.testing.assert_array_equal(load_checkpoint_pickle(path)["w"], np.arange(3.0))


def test_rllib_seed_offsets_map_to_independent_seeds():
    base = 11
    seen = {}
    for worker_index in (1, 2, 3):
        for env_index in (0, 1, 2):
            env = PerEnvSeedWrapper(gym.make("Pendulum-v1"), base_seed=base, worker_index=worker_index)
            env.reset(seed=base + worker_index + env_index)  # what RLlib + SyncVectorEnv pass
            assert env.env_index == env_index
            assert env.env_seed == derive_env_seed(base, worker_index, env_index)
            seen[(worker_index, env_index)] = env.env_seed
    assert len(set(seen.values())) == len(seen)
    evaluation = PerEnvSeedWrapper(gym.make("Pendulum-v1"), base_seed=base, worker_index=1)
    evaluation.reset(seed=base + 1 + 1_000_000)
    assert evaluation.env_index == 0 and evaluation.env_seed == derive_env_seed(base, 1, 0, evaluation=True)
    assert evaluation.env_seed != seen[(1, 0)]
    assert derive_env_seed(base, 1, 0) != derive_env_seed(base + 1, 1, 0)
