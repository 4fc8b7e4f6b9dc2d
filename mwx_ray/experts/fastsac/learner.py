"""fastsac's Learner: a flat replay buffer on the learner's device and one fused SAC update per gradient step.

Why not RLlib's SAC learner path (``Learner.update`` with an ``EpisodeReplayBuffer``)? Each update there samples
episodes in Python, runs the learner connector pipeline, converts a ``MultiAgentBatch`` to tensors and logs ~20
metrics: measured ~10x slower than stable-baselines3 per update on a 2-core CPU (``sac_schema.py``). Here:
- transitions are flat ``[capacity, ...]`` tensors on the learner's device (CPU or cuda); a batch is one
  ``index_select`` per column with indices drawn for all updates of a call at once;
- one update = target (no grad) + critic loss + actor loss + temperature loss, summed, one ``backward``: the actor
  loss evaluates the critics with detached parameters, so each network's gradient is exactly its own loss's
  (RLlib's SAC also computes all three losses from one forward pass); three fused Adam steps; one
  ``_foreach_lerp_`` Polyak update of the target critics;
- statistics stay on the device and are read once per call (no host sync per update).
The losses are cleanrl/SB3's SAC: ``0.5 Σ_critics MSE(Q_i, r + γ (1 - terminated) (Q'_target - α log π'))``,
``α log π - Q``, ``-log α (log π + target_entropy)``; ``Q'_target``/``Q`` combine the critics by ``q_target``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.learner.torch.torch_learner import TorchLearner

from mwx_ray.experts.ppo_learner import apply_torch_threads

TRANSITION_KEYS = ("obs", "actions", "rewards", "next_obs", "terminateds")
STAT_NAMES = ("critic_loss", "actor_loss", "alpha", "q_mean")


class FlatReplayBuffer:
    """Ring buffer of transitions as ``[capacity, ...]`` float32 tensors on ``device``."""

    def __init__(self, capacity: int, obs_dim: int, act_dim: int, device: torch.device):
        self.capacity, self.size, self.pos = int(capacity), 0, 0
        widths = {"obs": obs_dim, "actions": act_dim, "rewards": 0, "next_obs": obs_dim, "terminateds": 0}
        self.columns = {key: torch.zeros((self.capacity, w) if w else (self.capacity,), dtype=torch.float32,
                                         device=device) for key, w in widths.items()}

    def add(self, data: dict[str, np.ndarray]) -> None:
        n = len(data["rewards"])
        start = max(0, n - self.capacity)  # a call larger than the buffer keeps its newest transitions
        rows = (self.pos + torch.arange(n - start)) % self.capacity
        for key, column in self.columns.items():
            values = torch.as_tensor(np.asarray(data[key][start:], dtype=np.float32))
            column.index_copy_(0, rows.to(column.device), values.to(column.device))
        self.pos = int((self.pos + n - start) % self.capacity)
        self.size = min(self.size + n - start, self.capacity)

    def batch(self, rows: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.columns[key].index_select(0, rows) for key in TRANSITION_KEYS)


class FastSACTorchLearner(TorchLearner):
    """Trains :class:`~mwx_ray.experts.fastsac.module.FastSACTorchRLModule` through :meth:`add_and_update`."""

    def build(self) -> None:
        apply_torch_threads(self.config.learner_config_dict)
        super().build()
        module = self.module[DEFAULT_MODULE_ID].unwrapped()
        obs_dim = int(np.prod(module.observation_space.shape))
        act_dim = int(np.prod(module.action_space.shape))
        self.replay = FlatReplayBuffer(self.config.replay_buffer_capacity, obs_dim, act_dim, self._device)
        target = self.config.target_entropy
        self.target_entropy = -float(act_dim) if target == "auto" else float(target)
        self.rng = torch.Generator(device=self._device)
        self.rng.manual_seed(int(self.config.seed or 0))
        self.num_updates = 0
        self.update_credit = 0.0  # fractional updates owed by the replay ratio, carried between calls
        self.stored = 0  # transitions added to this learner's buffer (a restored learner starts again at 0)

    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        module = self._module[module_id].unwrapped()
        groups = (("actor", module.actor_params(), config.actor_lr),
                  ("critic", list(module.critic.parameters()), config.critic_lr),
                  ("alpha", [module.log_alpha], config.alpha_lr))
        for name, params, lr in groups:
            # fused: one kernel per optimizer step (CPU and cuda), as in mwx_ray.experts.ppo_learner.
            self.register_optimizer(module_id=module_id, optimizer_name=name, params=params,
                                    optimizer=torch.optim.Adam(params, lr=lr, fused=True), lr_or_lr_schedule=lr)

    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out):
        # RLlib's abstract loss hook; fastsac's fused update computes its losses itself, so reaching this means a
        # caller used Learner.update on a fastsac learner: fail loudly instead of training nothing.
        raise RuntimeError("fastsac trains through FastSACTorchLearner.add_and_update, not Learner.update")

    def add_and_update(self, data: dict[str, np.ndarray], num_updates: int | None = None) -> dict[str, Any]:
        """Append transitions (``TRANSITION_KEYS`` arrays, ``[n, ...]``), then run gradient steps on batches of
        ``train_batch_size_per_learner`` uniformly sampled transitions: ``num_updates`` of them, or (None)
        ``replay_ratio`` per new transition once the buffer holds ``num_steps_sampled_before_learning_starts``
        (so a restored learner, whose buffer starts empty, refills it before it updates again).
        Returns mean losses of this call and counters."""
        new = len(data["rewards"])
        if new:
            self.replay.add(data)
            self.stored += new
        batch_size = int(self.config.train_batch_size_per_learner)
        if num_updates is None:
            start = max(batch_size, int(self.config.num_steps_sampled_before_learning_starts))
            eligible = min(new, max(0, self.stored - start))  # only transitions past the learning start count
            self.update_credit += eligible * float(self.config.replay_ratio)
            num_updates = int(self.update_credit)
            self.update_credit -= num_updates
        stats: dict[str, Any] = {"replay_size": self.replay.size, "num_updates": 0,
                                 "num_updates_lifetime": self.num_updates}
        if num_updates <= 0 or self.replay.size < batch_size:
            return stats
        module = self.module[DEFAULT_MODULE_ID].unwrapped()
        module.train()
        rows = torch.randint(0, self.replay.size, (num_updates, batch_size), device=self._device, generator=self.rng)
        optimizers = [self.get_optimizer(DEFAULT_MODULE_ID, name) for name in ("actor", "critic", "alpha")]
        critic_params = list(module.critic.parameters())
        target_params = list(module.target_critic.parameters())
        totals = torch.zeros(len(STAT_NAMES), device=self._device)
        for step in range(num_updates):
            totals += self._update(module, self.replay.batch(rows[step]), optimizers)
            torch._foreach_lerp_(target_params, critic_params, float(self.config.tau))
        self.num_updates += num_updates
        stats.update(zip(STAT_NAMES, (totals / num_updates).tolist(), strict=True))
        stats.update(num_updates=num_updates, num_updates_lifetime=self.num_updates)
        return stats

    def _combine(self, q: torch.Tensor) -> torch.Tensor:
        """``[N, B]`` critics -> ``[B]``: min (clipped double-Q) or mean."""
        return q.min(dim=0).values if self.config.q_target == "min" else q.mean(dim=0)

    def _update(self, module, batch: tuple[torch.Tensor, ...], optimizers) -> torch.Tensor:
        obs, actions, rewards, next_obs, terminateds = batch
        alpha = module.log_alpha.detach().exp()
        with torch.no_grad():
            next_actions, next_logp = module.sample_actions(next_obs)
            next_q = self._combine(module.target_critic.q_values(next_obs, next_actions))
            target = rewards + self.config.gamma * (1.0 - terminateds) * (next_q - alpha * next_logp)
        q = module.critic.q_values(obs, actions)
        critic_loss = 0.5 * (q - target).pow(2).mean(dim=1).sum()
        pi_actions, logp = module.sample_actions(obs)
        actor_loss = (alpha * logp - self._combine(module.critic.q_values(obs, pi_actions, detach_params=True))).mean()
        alpha_loss = -(module.log_alpha * (logp.detach() + self.target_entropy)).mean()
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        (critic_loss + actor_loss + alpha_loss).backward()
        if self.config.grad_clip:
            for optimizer in optimizers[:2]:
                params = [p for group in optimizer.param_groups for p in group["params"]]
                torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip, foreach=True)
        for optimizer in optimizers:
            optimizer.step()
        return torch.stack((critic_loss.detach(), actor_loss.detach(), alpha, q.detach().mean()))
