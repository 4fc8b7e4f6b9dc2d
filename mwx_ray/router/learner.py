"""PPO Learner extension for the router: PPO loss + ``λ(t)·KL(w_label ‖ w_router) − β·H(w_router)``.

Extends RLlib through its public hooks only (no edits to RLlib):
- ``compute_loss_for_module``: adds the supervision term to ``PPOTorchLearner``'s loss for module ``router``
  and logs ``router/lambda``, ``router/kl``, ``router/entropy``, ``router/supervision_loss``,
  ``router/usage/<expert>`` (mean weight) and ``router/top1/<expert>`` (fraction of states where the expert
  has the largest weight).
- ``configure_optimizers_for_module``: Adam over parameters with ``requires_grad`` only; the frozen expert
  modules get no optimizer at all (belt and braces next to ``policies_to_train=["router"]``).
- ``after_gradient_based_update``: advances t (one per training iteration), so ``λ(t) = λ0·η^t``; t is part
  of the learner state (checkpoints resume the schedule).
- :class:`AddStageLabelsToBatch` (a learner ConnectorV2 piece) writes the task-prior label of every timestep
  (``info["stage"]`` → ``stage_table``) into the train batch as ``ROUTER_LABELS [B, K]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.core.columns import Columns

from mwx_ray.router import gating
from mwx_ray.router.labels import LabeledStates, LabelSource, load_labeled_states
from mwx_ray.router.module import ROUTER_LOGITS, ROUTER_MODULE_ID

LEARNER_CONFIG_KEY = "mwx_router"  # key in AlgorithmConfig.learner_config_dict
ROUTER_LABELS = "router_labels"  # train-batch column [B, K]
SUPERVISION_STEP_STATE = "mwx_router_supervision_step"


class AddStageLabelsToBatch(ConnectorV2):
    """Learner connector: ``ROUTER_LABELS`` = ``stage_table[info["stage"]]`` for every timestep.

    Runs after PPO's ``AddOneTsToEpisodesAndTruncate`` (which PPO prepends), so each episode already has its
    extra bootstrap timestep and the column lines up with ``OBS`` row for row. The reset info carries no
    ``stage``: the episode starts in stage 0.
    """

    def __init__(self, input_observation_space=None, input_action_space=None, *, stage_table=None, **kwargs):
        super().__init__(input_observation_space, input_action_space, **kwargs)
        self.stage_table = np.asarray(stage_table, dtype=np.float32)

    def __call__(self, *, rl_module, batch, episodes, explore=None, shared_data=None, **kwargs):
        last = self.stage_table.shape[0] - 1
        for episode in self.single_agent_episode_iterator(episodes, agents_that_stepped_only=False):
            if episode.module_id not in (None, ROUTER_MODULE_ID):
                continue
            n = len(episode)
            stages = [min(int(info.get("stage", 0)), last) for info in episode.get_infos(slice(0, n))]
            self.add_n_batch_items(batch, ROUTER_LABELS, items_to_add=list(self.stage_table[stages]),
                                   num_items=n, single_agent_episode=episode)
        return batch


def stage_label_connector(input_observation_space=None, input_action_space=None, device=None, *,
                          stage_table=None):
    """``config.training(learner_connector=partial(stage_label_connector, stage_table=...))``."""
    return AddStageLabelsToBatch(input_observation_space, input_action_space, stage_table=stage_table)


class RouterPPOLearner(PPOTorchLearner):
    """``learner_config_dict[LEARNER_CONFIG_KEY]`` = ``{"lambda0", "eta", "entropy_beta", "temperature",
    "experts": [...], "labels": LabelSource.to_plain(), "offline_batch_size", "seed"}``."""

    def build(self) -> None:
        super().build()
        cfg = self.config.learner_config_dict[LEARNER_CONFIG_KEY]
        self._router_cfg = cfg
        self._label_source = LabelSource.from_plain(cfg["labels"])
        self._offline: LabeledStates | None = None
        if self._label_source.kind == "dataset":
            self._offline = load_labeled_states(self._label_source.dataset_dir, self._label_source.shards_dir,
                                                cfg["experts"], time_feature_horizon=cfg.get("time_feature_horizon"),
                                                stage_feature_count=cfg.get("stage_feature_count"))
        self._offline_rng = np.random.default_rng(int(cfg.get("seed", 0)))
        self._supervision_step = 0

    @property
    def supervision_step(self) -> int:
        """t in ``λ(t) = λ0·η^t`` (training iterations completed by this learner)."""
        return self._supervision_step

    def set_supervision_step(self, step: int) -> None:
        self._supervision_step = int(step)

    def current_lambda(self) -> float:
        cfg = self._router_cfg
        return gating.supervision_lambda(cfg["lambda0"], cfg["eta"], self._supervision_step)

    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        params = [p for p in self._module[module_id].parameters() if p.requires_grad]
        if not params:  # a frozen expert module: nothing to optimize, no optimizer
            return
        self.register_optimizer(module_id=module_id, optimizer=torch.optim.Adam(params), params=params,
                                lr_or_lr_schedule=config.lr)

    def _offline_kl(self, module_id, temperature: float) -> torch.Tensor:
        """Mean KL(label ‖ router) on a random minibatch of the labeled dataset states."""
        states = self._offline
        size = min(int(self._router_cfg["offline_batch_size"]), len(states.probs))
        index = self._offline_rng.choice(len(states.probs), size=size, replace=False)
        obs = torch.as_tensor(states.obs[index], device=self._device)
        labels = torch.as_tensor(states.probs[index], device=self._device)
        logits = self.module[module_id].unwrapped().router_logits(obs)
        return gating.kl_label_to_router(labels, torch.log_softmax(logits / temperature, dim=-1)).mean()

    def compute_loss_for_module(self, *, module_id, config, batch: dict[str, Any], fwd_out: dict[str, Any]):
        total = super().compute_loss_for_module(module_id=module_id, config=config, batch=batch, fwd_out=fwd_out)
        if module_id != ROUTER_MODULE_ID:
            return total
        cfg = self._router_cfg
        temperature, lam = float(cfg["temperature"]), self.current_lambda()
        logits = fwd_out[ROUTER_LOGITS]
        mask = batch.get(Columns.LOSS_MASK)
        terms = gating.router_supervision_loss(logits, batch.get(ROUTER_LABELS), lam=lam,
                                               beta=float(cfg["entropy_beta"]), temperature=temperature, mask=mask)
        supervision, kl = terms.loss, terms.kl
        if self._offline is not None:
            kl = self._offline_kl(module_id, temperature)
            supervision = supervision + lam * kl
        with torch.no_grad():
            weights = gating.soft_weights(logits, temperature)
            if mask is not None:
                weights = weights[mask.bool()]
            mean_weight, top1 = gating.usage(weights)
        metrics = {"router/lambda": lam, "router/kl": kl.detach(), "router/entropy": terms.entropy.detach(),
                   "router/supervision_loss": supervision.detach(),
                   "router/supervision_step": float(self._supervision_step)}
        for k, name in enumerate(cfg["experts"]):
            metrics[f"router/usage/{name}"] = mean_weight[k]
            metrics[f"router/top1/{name}"] = top1[k]
        self.metrics.log_dict(metrics, key=module_id, window=1)
        return total + supervision

    def after_gradient_based_update(self, *, timesteps: dict[str, Any]) -> None:
        super().after_gradient_based_update(timesteps=timesteps)
        self._supervision_step += 1

    def get_state(self, components=None, *, not_components=None, **kwargs):
        state = super().get_state(components, not_components=not_components, **kwargs)
        state[SUPERVISION_STEP_STATE] = self._supervision_step
        return state

    def set_state(self, state) -> None:
        state = dict(state)
        if SUPERVISION_STEP_STATE in state:
            self._supervision_step = int(state.pop(SUPERVISION_STEP_STATE))
        super().set_state(state)
