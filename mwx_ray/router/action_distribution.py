"""RLlib action distribution of hard top-1 gating: a mixture of K Gaussians centred on the experts' actions.

``π(a | s) = Σ_k w_k(s) · N(a; a_k(s), diag σ²)`` with router weights ``w = softmax(logits / τ)``.
Sampling is the Gumbel-max trick (``gating.gumbel_top1``: pick expert k ~ Cat(w)) then Gaussian noise;
deterministic inference executes the argmax expert's action. ``logp`` is the exact mixture likelihood, so
PPO's importance ratio is a true policy ratio and its gradient reaches the router logits through
``log w_k`` (no straight-through bias in the RL signal).

Distribution inputs ``[B, K + K·A + A]`` = logits ‖ flattened expert actions ‖ log-std. ``entropy`` and
``kl`` have no closed form for mixtures; we return the standard upper bounds (``H(Cat) + H(N)`` and
``KL(Cat ‖ Cat') + Σ_k w_k KL(N_k ‖ N'_k)``), which is what PPO's optional entropy/KL terms then use.
"""

from __future__ import annotations

import math
from functools import cache

import gymnasium as gym
import torch
from ray.rllib.core.distribution.distribution import Distribution
from ray.rllib.core.distribution.torch.torch_distribution import TorchDeterministic

from mwx_ray.router import gating


class TorchExpertMixture(Distribution):
    """Mixture-of-experts Gaussian. Use :func:`expert_mixture_class` for a class bound to (K, A)."""

    num_experts: int = 0
    act_dim: int = 0
    temperature: float = 1.0

    def __init__(self, logits: torch.Tensor, expert_actions: torch.Tensor, log_std: torch.Tensor):
        super().__init__()
        self.logits = logits  # [B, K]
        self.expert_actions = expert_actions  # [B, K, A]
        self.log_std = log_std  # [B, A]
        self.log_weights = torch.log_softmax(logits / self.temperature, dim=-1)

    @classmethod
    def split_inputs(cls, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        k, a = cls.num_experts, cls.act_dim
        logits = inputs[..., :k]
        actions = inputs[..., k: k + k * a].reshape(*inputs.shape[:-1], k, a)
        return logits, actions, inputs[..., k + k * a:]

    @classmethod
    def from_logits(cls, logits: torch.Tensor, **kwargs) -> TorchExpertMixture:
        return cls(*cls.split_inputs(logits))

    @classmethod
    def required_input_dim(cls, space: gym.Space, **kwargs) -> int:
        return cls.num_experts + cls.num_experts * cls.act_dim + cls.act_dim

    def _selected_means(self, one_hot: torch.Tensor) -> torch.Tensor:
        return gating.mix_actions(self.expert_actions, one_hot)

    def sample(self, *, sample_shape=None) -> torch.Tensor:
        with torch.no_grad():
            return self.rsample(sample_shape=sample_shape)

    def rsample(self, *, sample_shape=None) -> torch.Tensor:
        """Gumbel-max expert choice (straight-through in its relaxation) + reparameterized Gaussian noise."""
        one_hot = gating.gumbel_top1(self.logits / self.temperature)
        noise = torch.randn_like(self.log_std)
        return self._selected_means(one_hot) + noise * self.log_std.exp()

    def logp(self, value: torch.Tensor, **kwargs) -> torch.Tensor:
        return gating.mixture_log_prob(value, self.expert_actions, self.log_weights, self.log_std)

    def entropy(self, **kwargs) -> torch.Tensor:
        """Upper bound ``H(Cat(w)) + H(N(0, σ²))`` per row ``[B]``."""
        categorical = -(self.log_weights.exp() * self.log_weights).sum(dim=-1)
        gaussian = (self.log_std + 0.5 * (1.0 + math.log(2 * math.pi))).sum(dim=-1)
        return categorical + gaussian

    def kl(self, other: TorchExpertMixture, **kwargs) -> torch.Tensor:
        """Upper bound ``KL(Cat(w) ‖ Cat(w')) + Σ_k w_k KL(N_k ‖ N'_k)`` per row ``[B]``."""
        w = self.log_weights.exp()
        categorical = (w * (self.log_weights - other.log_weights)).sum(dim=-1)
        var, other_var = (2 * self.log_std).exp(), (2 * other.log_std).exp()
        diff = self.expert_actions - other.expert_actions  # [B, K, A]
        per_dim = (other.log_std - self.log_std).unsqueeze(1) + (var.unsqueeze(1) + diff.pow(2)) / (
            2 * other_var.unsqueeze(1)) - 0.5
        return categorical + (w * per_dim.sum(dim=-1)).sum(dim=-1)

    def to_deterministic(self) -> TorchDeterministic:
        """The argmax expert's action ``[B, A]``."""
        one_hot = torch.nn.functional.one_hot(self.logits.argmax(dim=-1), self.num_experts).to(self.logits.dtype)
        return TorchDeterministic(loc=self._selected_means(one_hot))


@cache
def expert_mixture_class(num_experts: int, act_dim: int, temperature: float = 1.0) -> type[TorchExpertMixture]:
    """``TorchExpertMixture`` bound to K experts and A action dims (RLlib builds distributions from the class)."""
    return type(f"TorchExpertMixture_K{num_experts}_A{act_dim}", (TorchExpertMixture,),
                {"num_experts": num_experts, "act_dim": act_dim, "temperature": float(temperature),
                 "__module__": __name__})
