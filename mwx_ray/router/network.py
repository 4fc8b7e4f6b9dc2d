"""The router network and the Ray-free router policy (pure torch; RLlib wraps the same modules in module.py).

``RouterNetwork``: raw task observation ``[B, D]`` → pooled-expert normalization (frozen, see
``FrozenExpertPool.pooled_normalizer``) ‖ projected instruction embedding → MLP → logits ``[B, K]``; a
separate MLP gives the value ``[B]``; a free log-std ``[A]`` parameterizes exploration around the executed
(mixed) action.

``RouterPolicy``: frozen expert pool + router network (or fixed weights, for the no-router ablations),
deterministic inference: soft ``a = Σ_k w_k a_k`` or hard ``a = a_argmax``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from mwx_ray.router import gating
from mwx_ray.router.experts_frozen import FrozenExpertPool

_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "silu": nn.SiLU}


def mlp(in_dim: int, hiddens: Sequence[int], out_dim: int, activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for size in hiddens:
        layers += [nn.Linear(in_dim, int(size)), _ACTIVATIONS[activation]()]
        in_dim = int(size)
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


class RouterNetwork(nn.Module):
    """Router logits ``[B, K]``, value ``[B]`` and action log-std ``[A]`` from raw task observations ``[B, D]``.

    ``spec`` (plain JSON data, so it travels in RLlib model configs and checkpoint manifests):
    ``obs_dim, num_experts, act_dim, hiddens, value_hiddens, activation, instruction_dim,
    action_log_std_init, log_std_clip, obs_clip, temperature``; tensors ``instruction [E]``,
    ``obs_mean [D]``, ``obs_std [D]`` are buffers.
    """

    def __init__(self, spec: Mapping[str, Any], *, instruction: torch.Tensor, obs_mean: torch.Tensor,
                 obs_std: torch.Tensor):
        super().__init__()
        self.spec = dict(spec)
        obs_dim, k, act_dim = int(spec["obs_dim"]), int(spec["num_experts"]), int(spec["act_dim"])
        self.register_buffer("instruction", torch.as_tensor(instruction, dtype=torch.float32).clone())
        self.register_buffer("obs_mean", torch.as_tensor(obs_mean, dtype=torch.float32).clone())
        self.register_buffer("obs_std", torch.as_tensor(obs_std, dtype=torch.float32).clone())
        self.instruction_proj = nn.Linear(self.instruction.numel(), int(spec["instruction_dim"]))
        features = obs_dim + int(spec["instruction_dim"])
        self.pi = mlp(features, spec["hiddens"], k, spec["activation"])
        self.vf = mlp(features, spec["value_hiddens"], 1, spec["activation"])
        # Small last layer: the router starts near uniform weights (no expert favoured before any signal).
        with torch.no_grad():
            self.pi[-1].weight.mul_(0.01)
            self.pi[-1].bias.zero_()
        self.action_log_std = nn.Parameter(torch.full((act_dim,), float(spec["action_log_std_init"])))
        self.temperature = float(spec.get("temperature", 1.0))
        self.obs_clip = float(spec["obs_clip"])
        self.log_std_clip = float(spec["log_std_clip"])

    def features(self, obs: torch.Tensor) -> torch.Tensor:
        """``[B, D]`` raw obs -> ``[B, D + P]`` normalized obs ‖ projected instruction."""
        x = ((obs.to(torch.float32) - self.obs_mean) / self.obs_std).clamp(-self.obs_clip, self.obs_clip)
        text = self.instruction_proj(self.instruction).expand(x.shape[0], -1)
        return torch.cat([x, text], dim=-1)

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        """Router logits ``[B, K]`` (weights are ``softmax(logits / temperature)``)."""
        return self.pi(self.features(obs))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """State value ``[B]``."""
        return self.vf(self.features(obs)).squeeze(-1)

    def log_std(self) -> torch.Tensor:
        """Clipped log-std ``[A]`` of the executed-action Gaussian."""
        return self.action_log_std.clamp(-self.log_std_clip, self.log_std_clip)


def router_spec(*, obs_dim: int, num_experts: int, act_dim: int, net: Any, temperature: float) -> dict[str, Any]:
    """``RouterNetwork`` spec from a ``RouterNetSection`` (plain data)."""
    return {"obs_dim": obs_dim, "num_experts": num_experts, "act_dim": act_dim, "hiddens": list(net.hiddens),
            "value_hiddens": list(net.value_hiddens), "activation": net.activation,
            "instruction_dim": net.instruction_dim, "action_log_std_init": net.action_log_std_init,
            "log_std_clip": net.log_std_clip, "obs_clip": net.obs_clip, "temperature": temperature}


class RouterPolicy(nn.Module):
    """Deterministic router-over-experts policy: raw obs ``[B, D]`` -> (action ``[B, A]``, weights ``[B, K]``).

    ``network=None`` uses ``fixed_weights [K]`` (uniform mixture or a single expert: the no-router ablations).
    """

    def __init__(self, experts: FrozenExpertPool, network: RouterNetwork | None, *, gating_kind: str = "soft",
                 fixed_weights: Sequence[float] | None = None, switch_hold_steps: int = 0):
        super().__init__()
        if (network is None) == (fixed_weights is None):
            raise ValueError("give exactly one of network and fixed_weights")
        self.experts = experts
        self.network = network
        self.gating_kind = gating_kind
        # Hysteresis of deployed top-1 gating (gating.SwitchHold); stateful: begin_episode() before each episode.
        self.switch_hold = gating.SwitchHold(switch_hold_steps) if gating_kind == "hard" and switch_hold_steps else None
        weights = fixed_weights if fixed_weights is not None else [0.0] * experts.num_experts
        self.register_buffer("fixed_weights", torch.tensor(list(weights), dtype=torch.float32))
        self.eval()

    @property
    def names(self) -> list[str]:
        return self.experts.names

    @torch.no_grad()
    def weights(self, obs: torch.Tensor) -> torch.Tensor:
        """Router weights ``[B, K]`` used for the executed action (one-hot rows under hard gating)."""
        obs = torch.as_tensor(obs, dtype=torch.float32)
        if self.network is None:
            return self.fixed_weights.expand(obs.shape[0], -1)
        logits = self.network.logits(obs)
        if self.gating_kind == "hard":
            top1 = gating.argmax_top1(logits, self.network.temperature)
            return top1 if self.switch_hold is None else self.switch_hold(top1)
        return gating.soft_weights(logits, self.network.temperature)

    def begin_episode(self) -> None:
        """Forget the previous episode's hand-over state (the switch hold's acting expert)."""
        if self.switch_hold is not None:
            self.switch_hold.begin_episode()

    @torch.no_grad()
    def forward(self, obs: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        obs = torch.as_tensor(obs)
        weights = self.weights(obs)
        return gating.mix_actions(self.experts(obs), weights), weights

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Numpy ``[D]`` -> ``[A]`` (or batched ``[B, D]`` -> ``[B, A]``)."""
        action, _ = self.act_with_weights(obs)
        return action

    def act_with_weights(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        obs = np.asarray(obs)
        batch = obs[None] if obs.ndim == 1 else obs
        action, weights = self(torch.from_numpy(np.ascontiguousarray(batch)))
        action, weights = action.numpy(), weights.numpy()
        return (action[0], weights[0]) if obs.ndim == 1 else (action, weights)
