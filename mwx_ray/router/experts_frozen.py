"""K frozen experts behind one call: per-expert observation adapters and normalizers, mixed-ready actions.

Each expert keeps exactly what it was trained with:
- its **observation layout**, derived from the env id in its manifest: HumanoidEnv observations are robot
  ``qpos ‖ qvel`` (the same for every H1 task without free bodies) followed by the task's ``extra_obs_dim``
  entries. An expert whose env has no extras reads the robot prefix of the composite observation; one with
  extras (reach: hand xyz + goal xyz) needs the composite task to provide extras of the same width after the
  robot state (``walk_reach`` does, by construction). Anything else is an error — observations of another
  layout are never zero-padded (a flaw of the authors' code).
- its own **normalizer** (RLlib MeanStdFilter statistics inside ``ExpertPolicy``), applied to its own slice,
  independent of anything the router run normalizes.
- its **frame**: an expert trained in the heading frame (``observation.heading_frame``) reads the robot state with
  the yaw removed (``envs/heading_frame.py``), computed here from the world-frame task observation;
- its **clip clock**, if it plays a clip by its phase (``imitation.phase_clock``, the sit expert): its phase
  features come from the composite task's clock entry for its skill and its feedforward is added to its action
  (``experts/clip_clock.py``), exactly as its training env did; a task without that clock is an error.
- its **algorithm's action head**: a PPO expert's deterministic action is its Gaussian mean, a SAC expert's
  the tanh-squashed mean; ``ExpertPolicy.forward_normalized`` returns either in the module's [-1, 1] action
  space, so PPO and SAC experts share the fused unsquash to env bounds below.

Frozen: ``requires_grad=False``, always in eval mode (``train()`` cannot switch it back), and
:meth:`FrozenExpertPool.verify_unchanged` compares sha256 hashes of every tensor (weights, log-std, normalizer
statistics, action bounds) with the registry copy on disk.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mwx_ray.envs.observation_layout import adapter_indices, clock_entry, observation_layout
from mwx_ray.experts.clip_clock import ClipClockInput, ExpertClipClock, carries_clip_clock, no_clock_error
from mwx_ray.experts.expert_inputs import heading_frame_t, observes_heading_frame, robot_qvel_start
from mwx_ray.experts.policy import RLLIB_FILTER_EPSILON, ExpertPolicy
from mwx_ray.motion.phase import NUM_PHASE_FEATURES

# Batches up to this size run the stacked actors (one batched GEMM per layer for all K experts); larger ones run
# K separate GEMMs. Measured on 1 core, 8 experts 51-256-256-19: stacked 4.5x faster at batch 1, 1.25x at 64,
# 0.93x at 1024 (a learner minibatch).
STACKED_MAX_BATCH = 256


class FrozenExpertPool(nn.Module):
    """K frozen experts: raw task observations ``[B, D]`` -> deterministic env actions ``[B, K, A]``."""

    def __init__(self, experts: Mapping[str, ExpertPolicy], folders: Mapping[str, Path], *, task_env_id: str,
                 task_obs_dim: int):
        super().__init__()
        self.names = list(experts)
        self.folders = {name: str(folders[name]) for name in self.names}
        self.experts = nn.ModuleList(experts[name] for name in self.names)
        task = observation_layout(task_env_id, task_obs_dim)
        act_dims = {expert.act_dim for expert in self.experts}
        if len(act_dims) != 1:
            raise ValueError(f"experts disagree on the action dimension: {act_dims}")
        self.act_dim = act_dims.pop()
        self.task_obs_dim = task_obs_dim
        # Each expert's entries of the task observation. What a heading-frame or phase-conditioned expert reads is
        # partly computed (``_expert_inputs``: the robot state in the heading frame, then phase features, after the
        # task observation), so its ``index_lists`` entry points past ``task_obs_dim`` there.
        self.task_index_lists: list[list[int]] = []
        self.index_lists: list[list[int]] = []
        self.clock_inputs = nn.ModuleList()
        self.clock_of: list[int | None] = []  # expert -> its position in clock_inputs
        self.heading_frame_of = [observes_heading_frame(expert.manifest) for expert in self.experts]
        self.heading_qvel_start = robot_qvel_start(task_env_id) if any(self.heading_frame_of) else None
        computed = task_obs_dim + (task.robot_dim if any(self.heading_frame_of) else 0)  # first phase feature
        for name, expert, heading in zip(self.names, self.experts, self.heading_frame_of, strict=True):
            clocked = carries_clip_clock(expert.manifest)
            own_dim = expert.obs_dim - (NUM_PHASE_FEATURES if clocked else 0)
            layout = observation_layout(expert.manifest["env_id"], own_dim)
            indices = adapter_indices(layout, task, expert_name=name, task_name=task_env_id)
            self.task_index_lists.append(indices)
            if heading:
                indices = [task_obs_dim + i if i < task.robot_dim else i for i in indices]
            self.clock_of.append(len(self.clock_inputs) if clocked else None)
            if clocked:
                entry = clock_entry(task_env_id, name, task_obs_dim)
                if entry is None:
                    raise no_clock_error(name, task_env_id)
                first = computed + NUM_PHASE_FEATURES * len(self.clock_inputs)
                indices = indices + list(range(first, first + NUM_PHASE_FEATURES))
                self.clock_inputs.append(ClipClockInput(ExpertClipClock.of(expert.manifest), entry))
            self.index_lists.append(indices)
        self._robot_dim = task.robot_dim
        # Contiguous prefixes (every layout today) slice instead of gathering: cheaper at batch size 1.
        self._prefix = [idx == list(range(len(idx))) for idx in self.index_lists]
        for k, idx in enumerate(self.index_lists):
            self.register_buffer(f"obs_index_{k}", torch.tensor(idx, dtype=torch.long), persistent=False)
        self._build_fused_pre_and_post()
        self._build_stacked_actors()
        self.reference_hashes = self.parameter_hashes()
        self.requires_grad_(False)
        super().train(False)

    def _build_fused_pre_and_post(self) -> None:
        """Concatenated normalizer constants (one op chain for all K) and stacked action bounds ``[K, A]``.

        The elementwise float64 math is exactly ``ExpertPolicy.normalize``'s (mean in float64, ``std + 1e-6``
        added in float32 then widened, clip, cast to float32), so fused and per-expert results are
        bit-identical; these derived buffers are not parameters and are not part of any hash.
        """
        means, denominators, clips = [], [], []
        for idx, expert in zip(self.index_lists, self.experts, strict=True):
            n = len(idx)
            means.append(expert.obs_mean if expert.de_mean else torch.zeros(n, dtype=torch.float64))
            denominators.append((expert.obs_std + RLLIB_FILTER_EPSILON).to(torch.float64) if expert.de_std
                                else torch.ones(n, dtype=torch.float64))
            clips.append(torch.full((n,), expert.obs_clip if expert.obs_clip else float("inf"), dtype=torch.float64))
        self.register_buffer("fused_index", torch.tensor([i for idx in self.index_lists for i in idx]),
                             persistent=False)
        self.register_buffer("fused_mean", torch.cat(means), persistent=False)
        self.register_buffer("fused_denominator", torch.cat(denominators), persistent=False)
        self.register_buffer("fused_clip", torch.cat(clips), persistent=False)
        self._splits = [len(idx) for idx in self.index_lists]
        lows = torch.stack([e.action_low for e in self.experts])
        highs = torch.stack([e.action_high for e in self.experts])
        # RLlib unsquashes only with normalize_actions and a finite Box; other experts go through their own path.
        self._fused_unsquash = all(e.normalize_actions for e in self.experts) and bool(
            torch.isfinite(lows).all() and torch.isfinite(highs).all())
        self.register_buffer("fused_low", lows, persistent=False)
        self.register_buffer("fused_high", highs, persistent=False)

    def _build_stacked_actors(self) -> None:
        """Every expert's Linear layers stacked ``[K, in, out]``, when all K actors have the same shape (the usual
        pool: locomotion experts on one observation layout), so small batches run one batched GEMM per layer
        instead of K. At batch 1 with 8 experts: one GEMM and one activation per layer instead of 8 of each,
        ~4x faster for the MLPs (``benchmarks/router_latency.py``). Batched GEMM sums in another order than K
        separate ones, so actions agree with per-expert inference to float32 rounding (~1e-6), not bit for bit.
        Derived buffers, not parameters: no hash covers them."""
        def signature(expert: ExpertPolicy) -> tuple:
            layers = tuple((type(m).__name__, tuple(m.weight.shape) if isinstance(m, nn.Linear) else ())
                           for m in expert.actor)
            return expert.obs_dim, layers, expert.free_log_std, expert.action_squashing

        first = self.experts[0]
        self._stacked_layers: list[tuple[str, str, nn.Module | None]] = []
        if self.num_experts < 2 or any(signature(expert) != signature(first) for expert in self.experts):
            return
        modules = list(first.actor)
        for i, module in enumerate(modules):
            if not isinstance(module, nn.Linear):
                continue
            stacked = [expert.actor[i] for expert in self.experts]
            self.register_buffer(f"stacked_weight_{i}", torch.stack([m.weight.T for m in stacked]).contiguous(),
                                 persistent=False)
            self.register_buffer(f"stacked_bias_{i}", torch.stack([m.bias for m in stacked]).unsqueeze(1),
                                 persistent=False)
            following = modules[i + 1] if i + 1 < len(modules) else None
            activation = following if following is not None and not isinstance(following, nn.Linear) else None
            self._stacked_layers.append((f"stacked_weight_{i}", f"stacked_bias_{i}", activation))

    @property
    def stacked(self) -> bool:
        """True when small batches run all experts as one batched GEMM per layer (equal actor shapes)."""
        return bool(self._stacked_layers)

    def _stacked_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalized observations ``[B, K·D]`` (equal D) -> module-space actions ``[B, K, A]``."""
        h = x.view(x.shape[0], self.num_experts, -1).transpose(0, 1)
        for weight, bias, activation in self._stacked_layers:
            h = torch.baddbmm(getattr(self, bias), h, getattr(self, weight))
            if activation is not None:
                h = activation(h)
        return self.experts[0].action_from_actor_output(h.transpose(0, 1))

    @classmethod
    def load(cls, folders: Mapping[str, str | Path], *, task_env_id: str, task_obs_dim: int) -> FrozenExpertPool:
        """Load each expert folder (hash-checked against its manifest) in the order of ``folders``."""
        experts = {name: ExpertPolicy.load(folder) for name, folder in folders.items()}
        return cls(experts, {k: Path(v) for k, v in folders.items()}, task_env_id=task_env_id,
                   task_obs_dim=task_obs_dim)

    @property
    def num_experts(self) -> int:
        return len(self.names)

    def train(self, mode: bool = True) -> FrozenExpertPool:
        """Frozen experts never leave eval mode (a parent's ``.train()`` must not switch them)."""
        return super().train(False)

    def _expert_inputs(self, obs: torch.Tensor) -> torch.Tensor:
        """Task observations ``[B, ≥D]`` -> ``[B, D (+ robot state in the heading frame) (+ 2·clocks)]`` for
        heading-frame and phase-conditioned experts (unchanged without such experts)."""
        if self.heading_qvel_start is None and not len(self.clock_inputs):
            return obs
        obs = obs[..., : self.task_obs_dim].to(torch.float64)
        parts = [obs]
        if self.heading_qvel_start is not None:
            parts.append(heading_frame_t(obs[..., : self._robot_dim], self.heading_qvel_start))
        parts.extend(clock.features(obs) for clock in self.clock_inputs)
        return torch.cat(parts, dim=-1)

    def _executed(self, actions: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
        """Env actions ``[B, K, A]`` -> what each expert's training env would execute (feedforward experts)."""
        if not len(self.clock_inputs):
            return actions
        per_expert = [actions[..., k, :] if c is None else self.clock_inputs[c].executed(actions[..., k, :], obs)
                      for k, c in enumerate(self.clock_of)]
        return torch.stack(per_expert, dim=-2)

    def expert_observation(self, k: int, obs: torch.Tensor) -> torch.Tensor:
        """Expert k's observation from task observations ``[B, D]`` -> ``[B, D_k]``."""
        obs = self._expert_inputs(obs)
        if self._prefix[k]:
            return obs[..., : len(self.index_lists[k])]
        return obs.index_select(-1, getattr(self, f"obs_index_{k}"))

    @torch.no_grad()
    def forward(self, obs: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Raw task observations ``[B, D]`` -> each expert's deterministic env action ``[B, K, A]`` (float32)."""
        obs = torch.as_tensor(obs)
        return self._executed(self._forward_env_actions(self._expert_inputs(obs.to(torch.float64))), obs)

    def _forward_env_actions(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.index_select(-1, self.fused_index)
        x = ((x - self.fused_mean) / self.fused_denominator).clamp(-self.fused_clip, self.fused_clip)
        x = x.to(torch.float32)
        if self.stacked and x.dim() == 2 and x.shape[0] <= STACKED_MAX_BATCH:
            means = self._stacked_forward(x)
        else:
            chunks = x.split(self._splits, dim=-1)
            means = torch.stack([expert.forward_normalized(chunk) for expert, chunk in zip(self.experts, chunks,
                                                                                             strict=True)], dim=-2)
        if self._fused_unsquash:
            low, high = self.fused_low, self.fused_high
            return (low + (means + 1.0) * (high - low) / 2.0).clamp(low, high)
        return torch.stack([expert.to_env_action(means[..., k, :]) for k, expert in enumerate(self.experts)], dim=-2)

    @torch.no_grad()
    def forward_per_expert(self, obs: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Reference path, one ``ExpertPolicy.forward`` per expert: ``[B, D]`` -> ``[B, K, A]``."""
        obs = torch.as_tensor(obs)
        actions = torch.stack([expert(self.expert_observation(k, obs)) for k, expert in enumerate(self.experts)],
                              dim=-2)
        return self._executed(actions, obs)

    def parameter_hashes(self) -> dict[str, str]:
        """sha256 per expert over weights, log-std, normalizer statistics and action bounds."""
        return {name: expert.parameter_hash() for name, expert in zip(self.names, self.experts, strict=True)}

    def verify_unchanged(self) -> dict[str, str]:
        """Compare every expert with its registry copy on disk; raise if any tensor differs. Returns hashes."""
        current = self.parameter_hashes()
        on_disk = {name: ExpertPolicy.load(folder).parameter_hash() for name, folder in self.folders.items()}
        changed = sorted(name for name in self.names if current[name] != on_disk[name])
        if changed:
            raise FrozenExpertError(f"experts {changed} differ from their registry copies "
                                    f"({[self.folders[n] for n in changed]}): frozen experts were modified")
        if any(p.requires_grad for p in self.parameters()):
            raise FrozenExpertError("an expert parameter has requires_grad=True")
        return current

    def pooled_normalizer(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Router input statistics ``(mean [D], std [D])`` pooled from the experts' normalizers.

        Entry d pools the experts that see d as an equal-weight mixture of their running statistics
        (``mean = avg μ_k``, ``var = avg(σ_k² + μ_k²) − mean²``); entries no expert sees keep (0, 1).
        Frozen like the experts: the router never depends on a running filter of its own run. A clock entry is
        scaled by its expert's clip length, so the router reads it as the share of the clip played.
        """
        total = torch.zeros(self.task_obs_dim, dtype=torch.float64)
        second = torch.zeros(self.task_obs_dim, dtype=torch.float64)
        count = torch.zeros(self.task_obs_dim, dtype=torch.float64)
        for idx, expert, heading in zip(self.task_index_lists, self.experts, self.heading_frame_of, strict=True):
            # its phase features are not task entries, nor is its robot state in the heading frame
            keep = [k for k, i in enumerate(idx) if not (heading and i < self._robot_dim)]
            index = torch.tensor([idx[k] for k in keep], dtype=torch.long)
            mean = expert.obs_mean.to(torch.float64)[keep]
            std = expert.obs_std.to(torch.float64)[keep]
            total.index_add_(0, index, mean)
            second.index_add_(0, index, std.pow(2) + mean.pow(2))
            count.index_add_(0, index, torch.ones_like(mean))
        seen = count > 0
        mean = torch.where(seen, total / count.clamp_min(1), torch.zeros_like(total))
        var = torch.where(seen, second / count.clamp_min(1) - mean.pow(2), torch.ones_like(total))
        for clock in self.clock_inputs:
            var[clock.clock_entry] = float(clock.clip_clock.clock.num_frames) ** 2
        return mean.float(), var.clamp_min(1e-8).sqrt().float()


class FrozenExpertError(RuntimeError):
    """A frozen expert's parameters or normalizer statistics changed (or became trainable)."""
