"""RLlib wiring: a custom MultiRLModule that composes one trainable router RLModule with K frozen expert
RLModules (see the package docstring for why this wiring and not a hierarchical multi-agent env).

Module ids: ``router`` (trained; the only module mapped to an agent) and ``expert_<skill>`` (frozen, never
mapped to an agent, never in ``policies_to_train``). Per forward pass (exploration on EnvRunners, train in
the Learner) :class:`RouterMultiRLModule` runs every expert on its own slice of the raw observation with its
own normalizer, stacks the deterministic actions ``[B, K, A]`` under ``EXPERT_ACTIONS`` into the router's
batch, and lets the router produce the action-distribution inputs:

- soft gating: ``TorchDiagGaussian(mean = Σ_k w_k a_k, log_std = router's free log-std)``;
- hard gating: :class:`~mwx_ray.router.action_distribution.TorchExpertMixture` (Gumbel-max top-1).

Observations reach the modules raw (no MeanStdFilter connector): every expert normalizes its own slice, the
router normalizes with frozen pooled expert statistics.
"""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.distribution.torch.torch_distribution import TorchDiagGaussian
from ray.rllib.core.rl_module.apis import ValueFunctionAPI
from ray.rllib.core.rl_module.multi_rl_module import MultiRLModule, MultiRLModuleSpec
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.core.rl_module.torch.torch_rl_module import TorchRLModule

from mwx_ray.experts.clip_clock import ClipClockInput, ExpertClipClock
from mwx_ray.experts.expert_inputs import heading_frame_t
from mwx_ray.experts.policy import ExpertPolicy
from mwx_ray.router import gating
from mwx_ray.router.action_distribution import expert_mixture_class
from mwx_ray.router.network import RouterNetwork

ROUTER_MODULE_ID = "router"
EXPERT_MODULE_PREFIX = "expert_"
EXPERT_ACTIONS = "expert_actions"  # [B, K, A] deterministic env actions of the experts
ROUTER_LOGITS = "router_logits"  # [B, K]


def expert_module_id(skill: str) -> str:
    return f"{EXPERT_MODULE_PREFIX}{skill}"


class FrozenExpertRLModule(TorchRLModule):
    """One exported expert as an RLModule: raw task obs ``[B, D]`` -> its deterministic env action ``[B, A]``.

    ``model_config``: ``folder`` (expert folder, loaded in every process that builds the module),
    ``obs_indices`` (its slice of the task observation), ``heading_qvel_start`` (for an expert trained in the
    heading frame: where the robot's qvel starts, else None) and ``clock_entry`` (the task's clock entry for a
    phase-conditioned expert, else None): ``experts/expert_inputs.py``. Frozen: no parameter requires grad, eval
    mode.
    """

    def setup(self):
        self.policy = ExpertPolicy.load(self.model_config["folder"])
        self.heading_qvel_start = self.model_config.get("heading_qvel_start")
        entry = self.model_config.get("clock_entry")
        self.clock = (ClipClockInput(ExpertClipClock.of(self.policy.manifest), entry) if entry is not None
                      else None)
        self.register_buffer("obs_indices", torch.tensor(self.model_config["obs_indices"], dtype=torch.long),
                             persistent=False)
        self._prefix = self.model_config["obs_indices"] == list(range(len(self.model_config["obs_indices"])))
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True):
        return super().train(False)

    def get_state(self, *args, **kwargs) -> dict[str, Any]:
        """Nothing: a frozen expert's only source of truth is its registry folder.

        Measured, not hypothetical: RLlib 2.60 lists every module with learner metrics in the weight sync
        after each iteration, and its numpy→torch state conversion rounds the float64 normalizer mean to
        float32 (|Δ| ≈ 6e-8 on the H1 experts): the EnvRunners' experts silently drifted from the registry.
        With an empty state, weight syncs and checkpoints cannot touch the experts.
        """
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        if state:
            raise ValueError(f"frozen expert module {self.model_config['folder']} takes no state "
                             f"(got keys {sorted(state)[:4]}); it is loaded from its folder only")

    @torch.no_grad()
    def expert_action(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs[..., : self.obs_indices.numel()] if self._prefix else obs.index_select(-1, self.obs_indices)
        if self.heading_qvel_start is not None:  # its slice starts with the robot state
            x = heading_frame_t(x, self.heading_qvel_start)
        if self.clock is not None:
            x = torch.cat([x.to(torch.float64), self.clock.features(obs)], dim=-1)
        policy = self.policy
        action = policy.to_env_action(policy.forward_normalized(policy.normalize(x)))
        return action if self.clock is None else self.clock.executed(action, obs)

    def _forward(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        return {Columns.ACTIONS: self.expert_action(batch[Columns.OBS])}


class RouterRLModule(TorchRLModule, ValueFunctionAPI):
    """The trainable router: ``model_config`` = ``{"spec": RouterNetwork spec, "instruction", "obs_mean",
    "obs_std", "gating": {"kind", "temperature", "gumbel_temperature"}, "experts": [skill, ...]}``.

    Needs ``EXPERT_ACTIONS [B, K, A]`` in its batch (put there by :class:`RouterMultiRLModule`).
    """

    def setup(self):
        cfg = self.model_config
        self.network = RouterNetwork(cfg["spec"], instruction=torch.tensor(cfg["instruction"]),
                                     obs_mean=torch.tensor(cfg["obs_mean"]), obs_std=torch.tensor(cfg["obs_std"]))
        self.gating_kind = cfg["gating"]["kind"]
        self.temperature = float(cfg["gating"]["temperature"])
        self.experts = list(cfg["experts"])
        spec = cfg["spec"]
        self.mixture_cls = expert_mixture_class(int(spec["num_experts"]), int(spec["act_dim"]), self.temperature)

    def _dist_inputs(self, logits: torch.Tensor, expert_actions: torch.Tensor) -> torch.Tensor:
        log_std = self.network.log_std().expand(logits.shape[0], -1)
        if self.gating_kind == "hard":
            return torch.cat([logits, expert_actions.flatten(1), log_std], dim=-1)
        mean = gating.mix_actions(expert_actions, gating.soft_weights(logits, self.temperature))
        return torch.cat([mean, log_std], dim=-1)

    def _forward(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        logits = self.network.logits(batch[Columns.OBS])
        expert_actions = batch[EXPERT_ACTIONS].to(logits.dtype)
        return {Columns.ACTION_DIST_INPUTS: self._dist_inputs(logits, expert_actions), ROUTER_LOGITS: logits}

    def compute_values(self, batch: dict[str, Any], embeddings: Any = None) -> torch.Tensor:
        return self.network.value(batch[Columns.OBS])

    def get_inference_action_dist_cls(self):
        return self.mixture_cls if self.gating_kind == "hard" else TorchDiagGaussian

    def get_exploration_action_dist_cls(self):
        return self.get_inference_action_dist_cls()

    def get_train_action_dist_cls(self):
        return self.get_inference_action_dist_cls()

    def router_logits(self, obs: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, K]`` for raw observations (the supervision term on labeled states uses it)."""
        return self.network.logits(obs)


class RouterMultiRLModule(MultiRLModule):
    """Composes the router with the K frozen experts (expert order = the router's ``experts``)."""

    def setup(self):
        super().setup()
        self.router = self._rl_modules[ROUTER_MODULE_ID]
        self.expert_ids = [expert_module_id(skill) for skill in self.router.model_config["experts"]]
        missing = [mid for mid in self.expert_ids if mid not in self._rl_modules]
        if missing:
            raise ValueError(f"RouterMultiRLModule is missing expert modules {missing}")

    def expert_actions(self, obs: torch.Tensor) -> torch.Tensor:
        """Raw obs ``[B, D]`` -> ``[B, K, A]`` deterministic expert actions (no gradient)."""
        return torch.stack([self._rl_modules[mid].expert_action(obs) for mid in self.expert_ids], dim=1)

    def _route(self, batch: dict[str, Any], forward_type: str) -> dict[str, Any]:
        out = {}
        for module_id, module_batch in batch.items():
            if module_id != ROUTER_MODULE_ID:
                raise ValueError(f"only the router acts; got a batch for module {module_id!r}")
            module_batch = dict(module_batch)
            module_batch[EXPERT_ACTIONS] = self.expert_actions(module_batch[Columns.OBS])
            out[module_id] = getattr(self.router, forward_type)(module_batch)
        return out

    def _forward_inference(self, batch, **kwargs):
        return self._route(batch, "_forward_inference")

    def _forward_exploration(self, batch, **kwargs):
        return self._route(batch, "_forward_exploration")

    def _forward_train(self, batch, **kwargs):
        return self._route(batch, "_forward_train")

    def _forward(self, batch, **kwargs):
        return self._route(batch, "_forward")


def router_module_spec(*, observation_space, action_space, router_config: dict[str, Any],
                       expert_folders: dict[str, str], expert_indices: dict[str, list[int]],
                       expert_inputs: dict[str, dict[str, int | None]]) -> MultiRLModuleSpec:
    """The MultiRLModuleSpec: ``router`` + one ``expert_<skill>`` per expert (all plain-data configs);
    ``expert_inputs``: each expert's ``heading_qvel_start`` and ``clock_entry`` (``FrozenExpertRLModule``)."""
    specs = {ROUTER_MODULE_ID: RLModuleSpec(module_class=RouterRLModule, observation_space=observation_space,
                                            action_space=action_space, model_config=router_config)}
    for skill, folder in expert_folders.items():
        specs[expert_module_id(skill)] = RLModuleSpec(
            module_class=FrozenExpertRLModule, observation_space=observation_space, action_space=action_space,
            model_config={"folder": str(folder), "obs_indices": list(expert_indices[skill]),
                          **expert_inputs.get(skill, {})})
    return MultiRLModuleSpec(multi_rl_module_class=RouterMultiRLModule, rl_module_specs=specs)
