"""Pure torch gating math of the router (no ray, no transformers: enforced by tests/unit/test_import_rules.py).

Shapes: B = batch, K = experts, A = action dimension. Weights ``w [B, K]`` are rows on the simplex.

- :func:`soft_weights` — ``softmax(logits / τ)``.
- :func:`gumbel_top1` — hard one-hot of ``argmax(logits + Gumbel noise)`` (a sample of ``Cat(softmax(logits))``)
  with the straight-through gradient of ``softmax((logits + g) / τ_gumbel)`` (Jang et al. 2017).
- :func:`argmax_top1` — the deterministic hard choice (inference), straight-through like above without noise.
- :func:`mix_actions` — ``a = Σ_k w_k a_k``: ``[B, K, A] × [B, K] → [B, A]``.
- :func:`weight_entropy`, :func:`kl_label_to_router` — ``H(w)`` and ``KL(w_label ‖ w_router)`` per row.
- :func:`supervision_lambda` — ``λ(t) = λ0 · η^t`` (MetaWorld-X IRM: supervised → autonomous routing).
- :func:`router_supervision_loss` — ``mean_b[λ(t)·KL(w_label ‖ w_router) − β·H(w_router)]``.
- :func:`mixture_log_prob` — log-density of the hard-gating policy ``π(a|s) = Σ_k w_k N(a; a_k, σ²)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# Probabilities below this count as 0 in 0·log 0 terms (float32 softmax underflows near 1e-38 anyway).
_TINY = 1e-12


def soft_weights(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Router logits ``[B, K]`` -> weights ``[B, K]`` = ``softmax(logits / temperature)``."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return torch.softmax(logits / temperature, dim=-1)


def gumbel_noise(shape: torch.Size | tuple[int, ...], *, generator: torch.Generator | None = None,
                 dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> torch.Tensor:
    """Standard Gumbel samples ``-log(-log U)``, ``U ~ Uniform(0, 1)`` kept away from 0 and 1."""
    uniform = torch.rand(shape, generator=generator, dtype=dtype, device=device)
    uniform = uniform.clamp(torch.finfo(dtype).tiny, 1.0 - torch.finfo(dtype).eps)
    return -torch.log(-torch.log(uniform))


def _straight_through(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    """Forward value ``hard``, gradient of ``soft`` (``hard − soft.detach() + soft``)."""
    return hard - soft.detach() + soft


def gumbel_top1(logits: torch.Tensor, gumbel_temperature: float = 1.0, *,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """A hard top-1 sample ``[B, K]`` (one-hot rows) with straight-through Gumbel-softmax gradients.

    ``argmax(logits + g)`` is distributed as ``Categorical(softmax(logits))`` (Gumbel-max trick), whatever
    ``gumbel_temperature`` is; the temperature only shapes the surrogate gradient.
    """
    perturbed = logits + gumbel_noise(logits.shape, generator=generator, dtype=logits.dtype,
                                      device=logits.device)
    soft = torch.softmax(perturbed / gumbel_temperature, dim=-1)
    hard = F.one_hot(perturbed.argmax(dim=-1), logits.shape[-1]).to(logits.dtype)
    return _straight_through(hard, soft)


def argmax_top1(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Deterministic hard choice ``[B, K]``: one-hot of ``argmax(logits)``, straight-through softmax gradient."""
    soft = soft_weights(logits, temperature)
    hard = F.one_hot(logits.argmax(dim=-1), logits.shape[-1]).to(logits.dtype)
    return _straight_through(hard, soft)


def mix_actions(expert_actions: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Soft mixture ``a = Σ_k w_k a_k``: expert actions ``[B, K, A]``, weights ``[B, K]`` -> ``[B, A]``."""
    if expert_actions.shape[:-1] != weights.shape:
        raise ValueError(f"expert actions {tuple(expert_actions.shape)} do not match weights "
                         f"{tuple(weights.shape)} (expected [B, K, A] and [B, K])")
    return torch.einsum("bka,bk->ba", expert_actions, weights.to(expert_actions.dtype))


def weight_entropy(weights: torch.Tensor) -> torch.Tensor:
    """Entropy ``H(w) = −Σ_k w_k log w_k`` per row, nats: ``[B, K]`` -> ``[B]`` (0·log 0 = 0)."""
    return -(weights * torch.log(weights.clamp_min(_TINY))).sum(dim=-1)


def entropy_from_logits(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """``H(softmax(logits / τ))`` per row, computed from log-softmax (stable for peaked rows): ``[B]``."""
    log_w = torch.log_softmax(logits / temperature, dim=-1)
    return -(log_w.exp() * log_w).sum(dim=-1)


def kl_label_to_router(label_probs: torch.Tensor, router_log_weights: torch.Tensor) -> torch.Tensor:
    """``KL(w_label ‖ w_router) = Σ_k p_k (log p_k − log q_k)`` per row, nats: ``[B, K]`` × ``[B, K]`` -> ``[B]``.

    ``router_log_weights`` are log-probabilities (``log_softmax`` of the logits), so a router weight that
    underflows to 0 still gives a finite, informative gradient. Rows of ``label_probs`` must sum to 1.
    """
    p = label_probs.to(router_log_weights.dtype)
    log_p = torch.log(p.clamp_min(_TINY))
    return (torch.where(p > 0, p * (log_p - router_log_weights), torch.zeros_like(p))).sum(dim=-1)


def supervision_lambda(lambda0: float, eta: float, t: int | float) -> float:
    """``λ(t) = λ0 · η^t``: t counts training iterations from 0 (λ(0) = λ0)."""
    if t < 0:
        raise ValueError(f"t must be >= 0, got {t}")
    return float(lambda0) * float(eta) ** float(t)


@dataclass
class SupervisionTerms:
    """Scalar tensors of one supervision evaluation (means over the batch)."""

    loss: torch.Tensor  # λ(t)·KL − β·H, the term added to the PPO loss
    kl: torch.Tensor  # mean KL(w_label ‖ w_router), nats
    entropy: torch.Tensor  # mean H(w_router), nats


def router_supervision_loss(logits: torch.Tensor, label_probs: torch.Tensor | None, *, lam: float, beta: float,
                            temperature: float = 1.0, mask: torch.Tensor | None = None) -> SupervisionTerms:
    """``mean_b[λ·KL(w_label ‖ w_router) − β·H(w_router)]`` for logits ``[B, K]``, labels ``[B, K]`` or None.

    ``mask [B]`` (bool) selects the rows that count (RLlib's loss mask); None = all rows.
    """
    log_w = torch.log_softmax(logits / temperature, dim=-1)
    entropy = -(log_w.exp() * log_w).sum(dim=-1)
    kl = kl_label_to_router(label_probs, log_w) if label_probs is not None else torch.zeros_like(entropy)
    if mask is not None:
        count = mask.sum().clamp_min(1)
        mean_kl, mean_h = (kl * mask).sum() / count, (entropy * mask).sum() / count
    else:
        mean_kl, mean_h = kl.mean(), entropy.mean()
    return SupervisionTerms(loss=lam * mean_kl - beta * mean_h, kl=mean_kl, entropy=mean_h)


def usage(weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-expert usage over a batch ``[B, K]`` -> (mean weight ``[K]``, fraction of rows where k is top-1 ``[K]``)."""
    top1 = F.one_hot(weights.argmax(dim=-1), weights.shape[-1]).to(weights.dtype)
    return weights.mean(dim=0), top1.mean(dim=0)


def diag_gaussian_log_prob(actions: torch.Tensor, means: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """Log-density of a diagonal Gaussian summed over the last axis (broadcasting): ``[..., A]`` -> ``[...]``."""
    z = (actions - means) * torch.exp(-log_std)
    return (-0.5 * z.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(dim=-1)


def mixture_log_prob(actions: torch.Tensor, expert_actions: torch.Tensor, router_log_weights: torch.Tensor,
                     log_std: torch.Tensor) -> torch.Tensor:
    """``log Σ_k w_k N(a; a_k, diag σ²)``: actions ``[B, A]``, expert actions ``[B, K, A]``, log-weights
    ``[B, K]``, log-std ``[A]`` or ``[B, A]`` -> ``[B]``.

    This is the exact likelihood of hard top-1 gating (pick k ~ Cat(w), then a ~ N(a_k, σ²)), so PPO's ratio
    stays a true policy ratio and its gradient reaches the router logits without a straight-through bias.
    """
    if log_std.dim() == 2:
        log_std = log_std.unsqueeze(1)
    per_expert = diag_gaussian_log_prob(actions.unsqueeze(1), expert_actions, log_std)  # [B, K]
    return torch.logsumexp(router_log_weights + per_expert, dim=-1)


class SwitchHold:
    """Hysteresis for deployed top-1 gating (``router.transitions.switch_hold_steps``): the acting expert changes
    only once another expert has been the router's top choice for ``hold_steps`` consecutive control steps.

    Why: a soft-trained router deployed top-1 may flicker between two experts whose weights are close, and each
    single step of the other expert disturbs the acting one. Measured on walk_to_chair_sit (docs/results.md): the
    hold removed the flicker in the turn stage but brought no turns back, and it cost stops, which those routers
    make with short stand interventions; so it is off by default. One episode at a time (``begin_episode``)."""

    def __init__(self, hold_steps: int):
        if hold_steps < 0:
            raise ValueError(f"switch_hold_steps must be >= 0, got {hold_steps}")
        self.hold_steps = int(hold_steps)
        self.begin_episode()

    def begin_episode(self) -> None:
        self._acting: int | None = None
        self._candidate: int | None = None
        self._streak = 0

    def __call__(self, top1: torch.Tensor) -> torch.Tensor:
        """One-hot router choice ``[1, K]`` -> the one-hot of the expert that acts ``[1, K]``."""
        if top1.shape[0] != 1:
            raise ValueError(f"switch hold follows one episode at a time; got a batch of {top1.shape[0]}")
        choice = int(top1[0].argmax())
        if self._acting is None or choice == self._acting:
            self._acting, self._candidate, self._streak = choice, None, 0
        else:
            self._streak = self._streak + 1 if choice == self._candidate else 1
            self._candidate = choice
            if self._streak >= self.hold_steps:
                self._acting, self._candidate, self._streak = choice, None, 0
        return F.one_hot(torch.tensor([self._acting]), top1.shape[-1]).to(top1.dtype)
