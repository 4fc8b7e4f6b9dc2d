"""Ray-free inference for an exported expert: RLlib's MeanStdFilter + PPO/SAC actor MLP + action unsquash/clip.

An expert folder (written by ``mwx_ray.experts.export``) holds:
- ``manifest.json``: algorithm, env id, spaces, architecture (incl. the action squashing), normalizer, action
  post-processing, versions, hashes;
- ``weights.safetensors``: the actor tensors under canonical names (``actor.{i}.weight|bias`` for the i-th
  Linear layer, ``actor.log_std`` when ``free_log_std``) plus ``normalizer.mean`` (float64, as RLlib keeps
  it) and ``normalizer.std`` (float32, as RLlib computes it). Nothing is unpickled when loading.

Numerics mirror RLlib 2.60 exactly so actions match its deterministic inference:
- ``ray/rllib/utils/filter.py`` ``MeanStdFilter.__call__``: ``(obs - mean) / (std + 1e-6)``, clipped to
  ``±clip``, cast back to the obs dtype; ``mean`` is float64, ``std = sqrt(max(0, var_float32))`` with the
  unbiased variance (0 while ``count <= 1``).
- Deterministic module action: PPO (``action_squashing: none``): the mean half of the pi head
  (``TorchDiagGaussian.to_deterministic``). SAC (``action_squashing: tanh``): the mean squashed into [-1, 1]
  exactly as ``TorchSquashedGaussian._squash`` does, ``clamp(((tanh(m) + 1) / 2) * 2 - 1, -1, 1)`` — the action
  RLlib's explore=False path returns for our SAC experts (``mwx_ray.experts.sac.SquashedModeCatalog``).
- ``ray/rllib/utils/spaces/space_utils.py``: with ``normalize_actions`` the action is mapped
  ``low + (a + 1) * (high - low) / 2`` then clipped to ``[low, high]``; else clipped only if ``clip_actions``.

Manifest formats: ``mwx-expert/2`` adds ``algorithm`` (ppo | sac), ``network.action_squashing`` (none | tanh)
and ``network.log_std_bounds``; ``mwx-expert/1`` folders (PPO, written before SAC) still load, as PPO with
no squashing and ``±log_std_clip_param`` bounds.

This module must not import ray: routers and evaluation scripts load experts without a Ray runtime.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn

MANIFEST_FILE = "manifest.json"
WEIGHTS_FILE = "weights.safetensors"
MANIFEST_FORMAT = "mwx-expert/2"  # what export writes
READABLE_FORMATS = ("mwx-expert/1", MANIFEST_FORMAT)  # what ExpertPolicy loads
ACTION_SQUASHINGS = ("none", "tanh")
# RLlib's ``SMALL_NUMBER`` (ray/rllib/utils/numpy.py), added to std before dividing.
RLLIB_FILTER_EPSILON = 1e-6

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "swish": nn.SiLU,
    "elu": nn.ELU,
}


def tensor_dict_sha256(tensors: Mapping[str, torch.Tensor]) -> str:
    """sha256 over name, dtype, shape and raw bytes of every tensor, in name order (proves bit-identity)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().to("cpu").contiguous()
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def bounds_to_json(values: np.ndarray) -> list[float | str]:
    """Box bounds as JSON: finite floats stay numbers, ±inf become the strings "inf"/"-inf"."""
    return [float(v) if np.isfinite(v) else str(float(v)) for v in np.asarray(values, np.float64).ravel()]


def bounds_from_json(values: list[float | str]) -> np.ndarray:
    return np.array([float(v) for v in values], dtype=np.float64)


def is_expert_manifest(manifest_format: str | None) -> bool:
    """True for the manifest format of an expert folder this version can load."""
    return manifest_format in READABLE_FORMATS


def log_std_bounds(network: Mapping[str, Any]) -> tuple[float, float]:
    """``(low, high)`` clamp of the Gaussian log-std: SAC's [-5, 2] (RLlib's MIN/MAX_LOG_NN_OUTPUT, applied in
    ``TorchSquashedGaussian.from_logits``) or PPO's ``±log_std_clip_param`` (format 1 records only that)."""
    if "log_std_bounds" in network:
        low, high = network["log_std_bounds"]
        return float(low), float(high)
    clip = float(network["log_std_clip_param"])
    return -clip, clip


def build_actor_mlp(network: Mapping[str, Any]) -> nn.Sequential:
    """The actor path of RLlib's PPO (``DefaultPPOTorchRLModule``) or SAC (``pi_encoder`` + ``pi``) module as one
    Sequential (both are an MLP encoder followed by an MLP head).

    Encoder Linear+activation per ``hidden_sizes`` (RLlib applies the activation after the encoder's last
    layer too), head Linear+``head_activation`` per ``head_hidden_sizes``, then a linear output layer of
    ``output_dim`` (``act_dim`` with a free log-std, else ``2 * act_dim``: means then log-stds).
    Linear layers sit at even indices ``0, 2, 4, ...`` so ``actor.{i}`` in the weights file maps to them.
    """
    layers: list[nn.Module] = []
    width = int(network["input_dim"])
    for sizes, activation in (
        (network["hidden_sizes"], network["activation"]),
        (network["head_hidden_sizes"], network["head_activation"]),
    ):
        for size in sizes:
            layers += [nn.Linear(width, int(size)), _ACTIVATIONS[activation]()]
            width = int(size)
    layers.append(nn.Linear(width, int(network["output_dim"])))
    return nn.Sequential(*layers)


class ExpertPolicy(nn.Module):
    """A frozen PPO or SAC expert: raw observations ``[B, obs_dim]`` -> deterministic env actions ``[B, act_dim]``.

    Use ``ExpertPolicy.load(folder)``. For batching K experts in a router, call ``normalize`` (each expert
    has its own normalizer) and ``forward_normalized`` (deterministic module-space actions) separately.
    """

    def __init__(self, manifest: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]):
        super().__init__()
        self.manifest = dict(manifest)
        network = manifest["network"]
        self.algorithm = str(manifest.get("algorithm", "ppo"))
        self.obs_dim = int(network["input_dim"])
        self.act_dim = int(network["act_dim"])
        self.free_log_std = bool(network["free_log_std"])
        self.action_squashing = str(network.get("action_squashing", "none"))
        if self.action_squashing not in ACTION_SQUASHINGS:
            raise ValueError(f"unknown action_squashing {self.action_squashing!r}; valid: {list(ACTION_SQUASHINGS)}")
        self.log_std_low, self.log_std_high = log_std_bounds(network)
        self.actor = build_actor_mlp(network)
        linear_layers = [m for m in self.actor if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for i, layer in enumerate(linear_layers):
                layer.weight.copy_(tensors[f"actor.{i}.weight"])
                layer.bias.copy_(tensors[f"actor.{i}.bias"])
        # Free log-std is a parameter of the module in RLlib; it is kept here to report/clip it.
        log_std = tensors["actor.log_std"] if self.free_log_std else torch.zeros(0)
        self.log_std_free = nn.Parameter(log_std.clone().float(), requires_grad=False)
        normalizer = manifest["normalizer"]
        self.register_buffer("obs_mean", tensors["normalizer.mean"].to(torch.float64).clone())
        self.register_buffer("obs_std", tensors["normalizer.std"].to(torch.float32).clone())
        self.obs_clip = None if normalizer["clip"] is None else float(normalizer["clip"])
        self.de_mean = bool(normalizer["de_mean"])
        self.de_std = bool(normalizer["de_std"])
        actions = manifest["actions"]
        self.normalize_actions = bool(actions["normalize_actions"])
        self.clip_actions = bool(actions["clip_actions"])
        space = manifest["action_space"]
        self.register_buffer("action_low", torch.from_numpy(bounds_from_json(space["low"])).float())
        self.register_buffer("action_high", torch.from_numpy(bounds_from_json(space["high"])).float())
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def load(cls, folder: str | Path, *, verify_hash: bool = True) -> ExpertPolicy:
        """Load an expert folder without Ray and without pickle (JSON + safetensors only)."""
        folder = Path(folder)
        manifest = json.loads((folder / MANIFEST_FILE).read_text())
        if not is_expert_manifest(manifest.get("format")):
            raise ValueError(
                f"{folder}: manifest format {manifest.get('format')!r}, expected one of {list(READABLE_FORMATS)}"
            )
        tensors = load_file(str(folder / manifest["weights_file"]), device="cpu")
        if verify_hash and tensor_dict_sha256(tensors) != manifest["tensors_sha256"]:
            raise ValueError(f"{folder}: weights do not match the manifest's tensors_sha256")
        return cls(manifest, tensors)

    def normalize(self, obs: np.ndarray | torch.Tensor) -> torch.Tensor:
        """RLlib MeanStdFilter (no stats update): raw obs ``[B, obs_dim]`` -> float32 ``[B, obs_dim]``.

        Computed in float64 like RLlib's numpy code (float32 obs minus float64 mean), then cast back.
        """
        x = torch.as_tensor(obs).to(device=self.obs_mean.device, dtype=torch.float64)
        if self.de_mean:
            x = x - self.obs_mean
        if self.de_std:
            # RLlib adds the epsilon to the float32 std in float32 before the float64 division.
            x = x / (self.obs_std + RLLIB_FILTER_EPSILON).to(torch.float64)
        if self.obs_clip:
            x = x.clamp(-self.obs_clip, self.obs_clip)
        return x.to(torch.float32)

    def forward_normalized(self, obs_norm: torch.Tensor) -> torch.Tensor:
        """Normalized obs ``[B, obs_dim]`` -> deterministic action ``[B, act_dim]`` in the module's action space:
        the Gaussian mean (PPO), or the tanh-squashed mean (SAC, always within [-1, 1]).

        With ``normalize_actions`` (RLlib's default) that space is nominally [-1, 1]; ``to_env_action``
        maps it to the env's bounds.
        """
        return self.action_from_actor_output(self.actor(obs_norm.to(torch.float32)))

    def action_from_actor_output(self, out: torch.Tensor) -> torch.Tensor:
        """The actor MLP's output ``[..., output_dim]`` -> deterministic module-space action ``[..., act_dim]``."""
        mean = out if self.free_log_std else out[..., : self.act_dim]
        if self.action_squashing == "tanh":
            # TorchSquashedGaussian._squash with low=-1, high=1, operation for operation (bit-identical).
            low, high = -1.0, 1.0
            return torch.clamp(((torch.tanh(mean) + 1.0) / 2.0) * (high - low) + low, low, high)
        return mean

    def log_std(self, obs_norm: torch.Tensor | None = None) -> torch.Tensor:
        """Clamped Gaussian log-std: ``[act_dim]`` (free log-std) or ``[B, act_dim]`` (state dependent).

        For a SAC expert (``action_squashing == "tanh"``) this is the log-std of the Gaussian *before* the tanh,
        clamped to RLlib's [-5, 2]: the spread of the pre-squash sample, not of the executed action. A caller
        that needs an observation-independent log-std (PPO's ``free_log_std``) gets a ValueError without
        ``obs_norm`` — SAC experts never have one.
        """
        if self.free_log_std:
            raw = self.log_std_free
        else:
            if obs_norm is None:
                raise ValueError(f"this {self.algorithm} expert's log-std depends on the observation "
                                 "(no free log-std): pass obs_norm")
            raw = self.actor(obs_norm.to(torch.float32))[..., self.act_dim :]
        return raw.clamp(self.log_std_low, self.log_std_high)

    def to_env_action(self, module_action: torch.Tensor) -> torch.Tensor:
        """Module-space actions ``[B, act_dim]`` -> env actions ``[B, act_dim]`` (RLlib's unsquash/clip)."""
        low, high = self.action_low, self.action_high
        if self.normalize_actions:
            # RLlib leaves actions of an unbounded Box untouched (no unsquash, no clip).
            if not bool(torch.isfinite(low).all() and torch.isfinite(high).all()):
                return module_action
            return (low + (module_action + 1.0) * (high - low) / 2.0).clamp(low, high)
        return module_action.clamp(low, high) if self.clip_actions else module_action

    @torch.no_grad()
    def forward(self, obs: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Raw observations ``[B, obs_dim]`` -> deterministic env actions ``[B, act_dim]`` (float32)."""
        return self.to_env_action(self.forward_normalized(self.normalize(obs)))

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Numpy convenience: ``[B, obs_dim]`` or ``[obs_dim]`` -> ``[B, act_dim]`` or ``[act_dim]``."""
        obs = np.asarray(obs)
        batch = obs[None] if obs.ndim == 1 else obs
        action = self.forward(batch).cpu().numpy()
        return action[0] if obs.ndim == 1 else action

    def frozen_tensors(self) -> dict[str, torch.Tensor]:
        """All tensors that define the expert's behaviour (weights, log-std, normalizer, bounds)."""
        return {name: tensor for name, tensor in self.state_dict().items()}

    def parameter_hash(self) -> str:
        """sha256 over weights + normalizer + action bounds; equal before/after router training = frozen."""
        return tensor_dict_sha256(self.frozen_tensors())
