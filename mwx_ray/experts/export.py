"""Export a trained PPO, SAC or fastsac expert (live Algorithm or checkpoint folder) to a Ray-free, pickle-free folder.

The folder (``manifest.json`` + ``weights.safetensors``) is read by ``mwx_ray.experts.policy.ExpertPolicy``.

Where RLlib 2.60 keeps what we export (verified on checkpoints written by ``Algorithm.save_to_path``):
- Weights: ``learner_group/learner/rl_module/<module_id>/module_state.pkl`` (an OrderedDict of numpy
  arrays, ``core/rl_module/torch/torch_rl_module.py`` ``get_state``); the same dict comes from
  ``algo.learner_group.get_state(components="learner/rl_module/<module_id>")``. PPO actor keys:
  ``encoder.actor_encoder.net.mlp.{k}.*`` (``encoder.encoder...`` when ``vf_share_layers``),
  ``pi.net.mlp.{k}.*`` and ``pi.log_std`` (free log-std). SAC actor keys (``DefaultSACTorchRLModule``):
  ``pi_encoder.net.mlp.{k}.*`` and ``pi.net.mlp.{k}.*`` (the last layer outputs mean ‖ log-std); the critics
  (``qf*``, ``target_qf*``) are not exported.
- Which algorithm: the module class named in ``class_and_ctor_args.pkl`` (checkpoints) or the config's
  RLModule spec (live Algorithm).
- Architecture + module spaces: the module's ``class_and_ctor_args.pkl`` (``model_config`` dict,
  ``observation_space`` = the filter's ``Box(-clip, clip)``, ``action_space``).
- MeanStdFilter: ``env_runner/env_to_module_connector/MeanStdFilter/state.pkl`` with a local EnvRunner,
  else ``env_to_module_connector/MeanStdFilter/state.pkl``; state ``{None: {"running_stats": [...]}}`` with
  arrays serialized by ``utils/serialization.py`` ``_serialize_ndarray`` (base64(zlib(np.save))).
- msgpack checkpoints (``config.checkpointing(_use_msgpack_checkpoints=True)``) need ``msgpack_numpy``,
  which is not installed, so checkpoints are pickles. We read them with an allow-list unpickler (numpy
  arrays/dtypes, OrderedDict, gymnasium Box and its RNG, the PPO/SAC module/catalog classes): no arbitrary
  callables are resolved, and the expert folder itself contains no pickle at all.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import pickle
import platform
import re
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from safetensors.torch import save_file

from mwx_ray.atomic_io import atomic_path, atomic_write_text
from mwx_ray.experts.env_registration import PLUGINS_KEY
from mwx_ray.experts.policy import (
    MANIFEST_FILE,
    MANIFEST_FORMAT,
    RLLIB_FILTER_EPSILON,
    WEIGHTS_FILE,
    bounds_to_json,
    tensor_dict_sha256,
)
from mwx_ray.tracking import run_record

DEFAULT_MODULE_ID = "default_policy"  # ray.rllib.core.DEFAULT_MODULE_ID
FILTER_NAME = "MeanStdFilter"
_VERSIONED_PACKAGES = ("ray", "torch", "mujoco", "gymnasium", "numpy", "safetensors")

# (module, name) pairs an RLlib 2.60 PPO checkpoint's module/filter pickles need; nothing else resolves.
_PICKLE_ALLOWLIST = {
    ("collections", "OrderedDict"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.random._pcg64", "PCG64"),
    ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random._pickle", "__generator_ctor"),
    ("numpy.random.bit_generator", "SeedSequence"),
    ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"),
    ("gymnasium.spaces.box", "Box"),
    ("ray.rllib.algorithms.ppo.ppo_catalog", "PPOCatalog"),
    ("ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module", "DefaultPPOTorchRLModule"),
    ("ray.rllib.algorithms.sac.sac_catalog", "SACCatalog"),
    ("ray.rllib.algorithms.sac.torch.default_sac_torch_rl_module", "DefaultSACTorchRLModule"),
    ("mwx_ray.experts.sac", "SquashedModeCatalog"),
    ("mwx_ray.experts.fastsac.module", "FastSACTorchRLModule"),
}
# RLlib module class -> expert algorithm. fastsac's actor is RLlib's SAC actor (same catalog, fastsac/module.py).
MODULE_ALGORITHMS = {"DefaultPPOTorchRLModule": "ppo", "DefaultSACTorchRLModule": "sac", "FastSACTorchRLModule": "fastsac"}
SAC_ACTOR_ALGORITHMS = ("sac", "fastsac")  # pi_encoder + pi head -> tanh-squashed Gaussian
NETWORK_KINDS = {"ppo": "rllib.DefaultPPOTorchRLModule.actor", "sac": "rllib.DefaultSACTorchRLModule.actor", "fastsac": "mwx.FastSACTorchRLModule.actor"}
# TorchSquashedGaussian.from_logits clamps SAC's log-std to [MIN_LOG_NN_OUTPUT, MAX_LOG_NN_OUTPUT]
# (ray/rllib/utils/numpy.py: -5, 2); repeated here because this module must not need Ray to import.
SAC_LOG_STD_BOUNDS = (-5.0, 2.0)


class _AllowListUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _PICKLE_ALLOWLIST:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a checkpoint pickle")
        return super().find_class(module, name)


def load_checkpoint_pickle(path: str | Path) -> Any:
    """Unpickle an RLlib checkpoint state file, resolving only allow-listed numpy/gymnasium/PPO names."""
    with open(path, "rb") as f:
        return _AllowListUnpickler(f).load()


def _deserialize_array(value: Any) -> np.ndarray:
    """Inverse of RLlib's ``_serialize_ndarray``, with ``allow_pickle=False`` (float arrays need none)."""
    if isinstance(value, np.ndarray):
        return value
    return np.load(io.BytesIO(zlib.decompress(base64.b64decode(value))), allow_pickle=False)


def normalizer_from_filter_state(agent_state: Mapping[str, Any]) -> dict[str, Any]:
    """One agent's MeanStdFilter state -> ``{count, mean [obs_dim] f64, std [obs_dim] f32, var, clip, ...}``.

    ``std`` is computed exactly like ``ray/rllib/utils/filter.py`` ``RunningStat.std``: unbiased variance
    ``S / (n - 1)`` cast to float32 (0 for ``n <= 1``), then ``sqrt(max(0, var))``.
    """
    (stats,) = agent_state["running_stats"]  # flat Box obs -> exactly one RunningStat
    count = int(stats["num_pushes"])
    mean = _deserialize_array(stats["mean_array"]).astype(np.float64)
    sum_sq_diff = _deserialize_array(stats["sum_sq_diff_array"]).astype(np.float64)
    var = (sum_sq_diff / (count - 1.0)).astype(np.float32) if count > 1 else np.zeros_like(mean, np.float32)
    std = np.sqrt(np.maximum(0, var))
    clip = agent_state["clip_by_value"]
    return {
        "kind": "rllib.connectors.env_to_module.MeanStdFilter",
        "count": count,
        "mean": mean,
        "std": std,
        "var": var,
        "epsilon": RLLIB_FILTER_EPSILON,
        "clip": None if clip is None else float(clip),
        "de_mean": bool(agent_state["de_mean_to_zero"]),
        "de_std": bool(agent_state["de_std_to_one"]),
    }


def _mlp_linear_keys(module_state: Mapping[str, Any], prefix: str) -> list[str]:
    """``prefix{k}.weight`` layer prefixes of an RLlib TorchMLP, ordered by layer index ``k``."""
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)\.weight$")
    indices = sorted(int(m.group(1)) for key in module_state if (m := pattern.match(key)))
    return [f"{prefix}{k}" for k in indices]


def algorithm_of_module(module_class: type | str) -> str:
    """``ppo`` or ``sac`` for an RLlib module class (or its name); ValueError for anything else."""
    name = module_class if isinstance(module_class, str) else module_class.__name__
    if name not in MODULE_ALGORITHMS:
        raise ValueError(f"cannot export a {name}: experts are {sorted(MODULE_ALGORITHMS)} modules")
    return MODULE_ALGORITHMS[name]


def actor_tensors(module_state: Mapping[str, Any], model_config: Mapping[str, Any],
                  algorithm: str = "ppo") -> tuple[dict, list[str]]:
    """RLlib PPO/SAC module state -> canonical actor tensors ``actor.{i}.weight|bias`` (+ ``actor.log_std``).

    Returns the tensors and the RLlib layer prefixes they came from (recorded in the manifest).
    """
    if algorithm in SAC_ACTOR_ALGORITHMS:
        encoder = "pi_encoder.net.mlp."
    elif model_config["vf_share_layers"]:
        encoder = "encoder.encoder.net.mlp."
    else:
        encoder = "encoder.actor_encoder.net.mlp."
    sources = _mlp_linear_keys(module_state, encoder) + _mlp_linear_keys(module_state, "pi.net.mlp.")
    expected = len(model_config["fcnet_hiddens"]) + len(model_config["head_fcnet_hiddens"]) + 1
    if len(sources) != expected:
        raise ValueError(f"found {len(sources)} actor Linear layers {sources}, expected {expected}")
    tensors: dict[str, torch.Tensor] = {}
    for i, source in enumerate(sources):
        for part in ("weight", "bias"):
            tensors[f"actor.{i}.{part}"] = torch.as_tensor(np.asarray(module_state[f"{source}.{part}"]))
    if model_config["free_log_std"]:
        tensors["actor.log_std"] = torch.as_tensor(np.asarray(module_state["pi.log_std"]))
    return {k: v.to(torch.float32).contiguous() for k, v in tensors.items()}, sources


def _space_json(space: gym.spaces.Box) -> dict[str, Any]:
    if not isinstance(space, gym.spaces.Box):
        raise TypeError(f"experts support Box spaces only, got {space}")
    return {
        "shape": list(space.shape),
        "dtype": str(space.dtype),
        "low": bounds_to_json(space.low),
        "high": bounds_to_json(space.high),
    }


def package_versions() -> dict[str, str]:
    """Python and the packages an exported expert depends on (``"missing"`` if not installed)."""
    return {"python": platform.python_version(), **run_record.package_versions(_VERSIONED_PACKAGES)}


def network_record(model_config: Mapping[str, Any], algorithm: str, obs_dim: int, act_dim: int,
                   sources: list[str]) -> dict[str, Any]:
    """The manifest's ``network`` entry: what ``ExpertPolicy`` rebuilds, and how its output becomes an action."""
    free_log_std = bool(model_config["free_log_std"])
    network = {
        "kind": NETWORK_KINDS[algorithm],
        "input_dim": obs_dim,
        "act_dim": act_dim,
        "hidden_sizes": [int(h) for h in model_config["fcnet_hiddens"]],
        "activation": model_config["fcnet_activation"],
        "head_hidden_sizes": [int(h) for h in model_config["head_fcnet_hiddens"]],
        "head_activation": model_config["head_fcnet_activation"],
        "output_dim": act_dim if free_log_std else 2 * act_dim,
        "free_log_std": free_log_std,
        # SAC: tanh-squashed Gaussian, log-std clamped by the distribution; PPO: plain Gaussian whose log-std
        # the pi head clips at ±log_std_clip_param.
        "action_squashing": "tanh" if algorithm in SAC_ACTOR_ALGORITHMS else "none",
        "rllib_layer_sources": sources,
    }
    if algorithm in SAC_ACTOR_ALGORITHMS:
        network["log_std_bounds"] = list(SAC_LOG_STD_BOUNDS)
    else:
        clip = float(model_config["log_std_clip_param"])
        network.update(log_std_clip_param=clip, log_std_bounds=[-clip, clip],
                       vf_share_layers=bool(model_config["vf_share_layers"]))
    return network


def write_expert_folder(
    out_dir: str | Path,
    *,
    env_id: str,
    module_state: Mapping[str, Any],
    model_config: Mapping[str, Any],
    observation_space: gym.spaces.Box,
    action_space: gym.spaces.Box,
    filter_agent_state: Mapping[str, Any],
    normalize_actions: bool,
    clip_actions: bool,
    source_checkpoint: str | None,
    algorithm: str = "ppo",
    task: Mapping[str, Any] | None = None,
    plugins: list[str] | None = None,
) -> Path:
    """Write ``manifest.json`` + ``weights.safetensors`` for one expert and return ``out_dir``.

    ``observation_space`` is the env's raw (unnormalized) single-env space; shapes ``[obs_dim]``/``[act_dim]``.
    ``task`` is the plain ``env.task`` section the expert trained on (None for non-mwx envs): evaluation and the
    router rebuild its observation from it; ``plugins`` are the modules that register its task (``run.plugins``),
    imported by whoever builds its env.
    """
    out_dir = Path(out_dir)
    obs_dim, act_dim = int(np.prod(observation_space.shape)), int(np.prod(action_space.shape))
    tensors, sources = actor_tensors(module_state, model_config, algorithm)
    normalizer = normalizer_from_filter_state(filter_agent_state)
    if normalizer["mean"].shape != (obs_dim,):
        raise ValueError(f"normalizer shape {normalizer['mean'].shape} != observation shape ({obs_dim},)")
    tensors["normalizer.mean"] = torch.from_numpy(normalizer["mean"].copy())
    tensors["normalizer.std"] = torch.from_numpy(normalizer["std"].astype(np.float32))
    manifest = {
        "format": MANIFEST_FORMAT,
        "algorithm": algorithm,
        "env_id": env_id,
        "task": dict(task) if task is not None else None,
        "plugins": list(plugins or []),
        "module_id": DEFAULT_MODULE_ID,
        "observation_space": _space_json(observation_space),
        "action_space": _space_json(action_space),
        "network": network_record(model_config, algorithm, obs_dim, act_dim, sources),
        "normalizer": {
            **{k: normalizer[k] for k in ("kind", "count", "epsilon", "clip", "de_mean", "de_std")},
            "mean": normalizer["mean"].tolist(),
            "std": normalizer["std"].astype(np.float64).tolist(),
            "var": normalizer["var"].astype(np.float64).tolist(),
        },
        "actions": {"normalize_actions": bool(normalize_actions), "clip_actions": bool(clip_actions)},
        "weights_file": WEIGHTS_FILE,
        "tensors_sha256": tensor_dict_sha256(tensors),
        "versions": package_versions(),
        "source_checkpoint": source_checkpoint,
        "exported_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / WEIGHTS_FILE) as tmp:
        save_file(tensors, str(tmp), metadata={"format": MANIFEST_FORMAT, "env_id": env_id, "algorithm": algorithm})
    # Manifest last: a folder with a manifest is complete.
    atomic_write_text(out_dir / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    return out_dir


def filter_state_from_algorithm(algo) -> dict[str, Any]:
    """The merged MeanStdFilter state the Algorithm checkpoints (local EnvRunner, else its own pipeline)."""
    if algo.env_runner is not None:
        pipeline_state = algo.env_runner.get_state(components="env_to_module_connector")[
            "env_to_module_connector"
        ]
    else:
        pipeline_state = algo.env_to_module_connector.get_state()
    if FILTER_NAME not in pipeline_state:
        raise ValueError(
            f"no {FILTER_NAME} in the env-to-module pipeline (state keys {sorted(pipeline_state)})"
        )
    return pipeline_state[FILTER_NAME][None]


def module_state_from_algorithm(algo, module_id: str = DEFAULT_MODULE_ID) -> dict[str, np.ndarray]:
    """The Learner's (full, trained) RLModule state: ``{rllib_param_name: np.ndarray}``."""
    state = algo.learner_group.get_state(components=f"learner/rl_module/{module_id}")
    return state["learner"]["rl_module"][module_id]


def export_algorithm(algo, out_dir: str | Path, *, source_checkpoint: str | None = None) -> Path:
    """Export a live (new-stack PPO, SAC or fastsac) Algorithm's default module + MeanStdFilter to ``out_dir``."""
    raw_obs_space, action_space = algo.spaces["__env_single__"]
    env_id = algo.config.env if isinstance(algo.config.env, str) else repr(algo.config.env)
    env_config = dict(algo.config.env_config)
    task = env_config.get("task") or default_task_settings(env_id)
    return write_expert_folder(
        out_dir,
        env_id=env_id,
        module_state=module_state_from_algorithm(algo),
        model_config=algo.config.model_config,
        observation_space=raw_obs_space,
        action_space=action_space,
        filter_agent_state=filter_state_from_algorithm(algo),
        normalize_actions=algo.config.normalize_actions,
        clip_actions=algo.config.clip_actions,
        source_checkpoint=source_checkpoint,
        algorithm=algorithm_of_module(algo.config.rl_module_spec.module_class),
        task=task,
        plugins=env_config.get(PLUGINS_KEY),
    )


def default_task_settings(env_id: str) -> dict[str, Any] | None:
    """The task settings an mwx env built without explicit ones used (the schema's defaults), as plain data;
    None for other envs."""
    if not env_id.startswith("mwx/"):
        return None
    from mwx_ray.config.task_schema import TaskSection
    from mwx_ray.config.typed import to_plain
    from mwx_ray.envs.registry import parse_env_id

    return to_plain(TaskSection(name=parse_env_id(env_id)[1]))


def _raw_env_spaces(env_id: str, task: Mapping[str, Any] | None,
                    plugins: list[str] | None) -> tuple[gym.spaces.Box, gym.spaces.Box]:
    if env_id.startswith("mwx/"):
        from mwx_ray.envs.plugins import import_plugins  # registers the mwx/ gymnasium ids (and the plugins')

        import_plugins(plugins or ())
    env = gym.make(env_id, **({"task": task} if task is not None else {}))
    try:
        return env.observation_space, env.action_space
    finally:
        env.close()


def export_checkpoint(
    checkpoint_dir: str | Path,
    out_dir: str | Path,
    *,
    env_id: str,
    task: Mapping[str, Any] | None = None,
    plugins: list[str] | None = None,
    normalize_actions: bool = True,
    clip_actions: bool = False,
) -> Path:
    """Export an RLlib 2.60 Algorithm checkpoint folder without building the Algorithm (no Ray runtime).

    ``env_id`` and ``task`` (the trial's task settings) give the raw observation bounds (the module checkpoint
    only knows the filtered space);
    ``normalize_actions``/``clip_actions`` must match the training config (RLlib defaults: True/False).
    """
    ckpt = Path(checkpoint_dir)
    module_dir = ckpt / "learner_group" / "learner" / "rl_module" / DEFAULT_MODULE_ID
    class_and_ctor = load_checkpoint_pickle(module_dir / "class_and_ctor_args.pkl")
    ctor = class_and_ctor["ctor_args_and_kwargs"][1]
    module_state = load_checkpoint_pickle(module_dir / "module_state.pkl")
    filter_files = [
        ckpt / "env_runner" / "env_to_module_connector" / FILTER_NAME / "state.pkl",
        ckpt / "env_to_module_connector" / FILTER_NAME / "state.pkl",
    ]
    filter_file = next((f for f in filter_files if f.is_file()), None)
    if filter_file is None:
        raise FileNotFoundError(
            f"no {FILTER_NAME} state in {ckpt}; looked at {[str(f) for f in filter_files]}"
        )
    raw_obs_space, env_action_space = _raw_env_spaces(env_id, task, plugins)
    if raw_obs_space.shape != ctor["observation_space"].shape or env_action_space != ctor["action_space"]:
        raise ValueError(f"{env_id} spaces do not match the checkpoint's module spaces")
    return write_expert_folder(
        out_dir,
        env_id=env_id,
        module_state=module_state,
        model_config=ctor["model_config"],
        observation_space=raw_obs_space,
        action_space=ctor["action_space"],
        filter_agent_state=load_checkpoint_pickle(filter_file)[None],
        normalize_actions=normalize_actions,
        clip_actions=clip_actions,
        source_checkpoint=str(ckpt.resolve()),
        algorithm=algorithm_of_module(class_and_ctor["class"]),
        task=task or default_task_settings(env_id),
        plugins=plugins,
    )
