"""RLlib's PPO torch Learner with less host work per minibatch; the PPO loss is RLlib's.

Profiled on the tuned expert settings (8192 steps, 32 x 10 minibatches of 256, 256x256 tanh, one torch thread):
about a third of ``Learner.update`` was host work around the forward/backward passes, and ~8% of the compute went
to rows the loss masks out. ``update`` runs its own minibatch loop for single-module, feed-forward PPO (anything
else takes RLlib's ``Learner.update``):
- the learner connector (GAE, value targets) runs as in RLlib; masked rows are dropped once and minibatches are
  index views of plain tensors (``ppo_minibatches.py``): exactly ``minibatch_size`` rows of loss each, instead of
  ``SampleBatch`` slices that carry masked rows;
- every minibatch's loss is RLlib's PPO loss; the last one is computed by ``PPOTorchLearner.compute_loss_for_module``
  itself, which logs the loss statistics (RLlib logs them with ``window=1``, so only the last minibatch's count),
  the others by :meth:`FastPPOTorchLearner.loss_without_metrics`, the same terms without the logging;
- gradients go through RLlib's ``compute_gradients`` / ``postprocess_gradients`` (global-norm clip) and the
  ``apply_gradients`` below; steps-trained counters are logged once per epoch instead of once per minibatch, and
  RLlib's per-minibatch Prometheus timers and off-policyness metric are not recorded.
Three pieces of ``core/learner/torch/torch_learner.py`` are replaced as well (RLlib 2.60):
- ``_get_clip_function``: RLlib's global-norm clip takes one ``torch.norm`` per parameter in Python; here it is one
  ``_foreach_norm`` and one ``_foreach_mul_`` (:func:`clip_by_global_norm`, the same formula);
- ``configure_optimizers_for_module`` builds ``torch.optim.Adam(params)``, which on CPU tensors runs the
  per-parameter ``_single_tensor_adam`` loop; here it is ``Adam(params, fused=True)`` (one fused kernel for all
  parameters, CPU and CUDA; same optimizer state keys, so checkpoints load either way);
- ``apply_gradients`` runs ``torch.isfinite(grad).all()`` per parameter twice (each a host sync); here one
  ``_foreach_norm`` tells whether any gradient is non-finite, and only then are gradients passed through
  ``nan_to_num`` — RLlib's behaviour with its default ``torch_skip_nan_gradients=False``.
torch LR-scheduler classes and grad scalers (unused by the experts) fall back to RLlib's implementation;
``experts.ppo.lr_schedule`` is RLlib's own ``Scheduler``, which ``after_gradient_based_update`` steps as in RLlib.

``build`` also applies ``learner_config_dict["torch_threads"]`` (``resources.torch_threads_per_learner``).

``learner_config_dict["action_bound_coef"]`` (``experts.ppo.action_bound_coef``) adds
``coef · mean(relu(|μ| − 1)²)`` to every minibatch's loss, μ the Gaussian policy's mean action. The env executes
actions clipped to [−1, 1], so a mean beyond a bound moves nothing the env sees, and the policy gradient, which only
ever sees that, gets no signal to bring it back: experts park joint targets at a range limit (the zoo's turn
expert holds its right shoulder yaw at −4.35 rad with a mean action far past −1; docs/results.md,
"walk_to_chair_sit"), and later shaping cannot move them. The term pulls such means back to the bound, where the
executed action is the same, and leaves means inside [−1, 1] alone.
"""

from __future__ import annotations

import torch
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.core.columns import Columns
from ray.rllib.core.learner.training_data import TrainingData
from ray.rllib.evaluation.postprocessing import Postprocessing
from ray.rllib.utils.torch_utils import clip_gradients

from mwx_ray.experts.ppo_minibatches import minibatch_indices, trainable_rows

NORM_OVERFLOW = 10e8  # RLlib's compute_global_norm maps infinite norms to +-10e8 (then clips by the finite value)
TORCH_THREADS_KEY = "torch_threads"  # key of AlgorithmConfig.learner_config_dict (base_config.common_settings)
ACTION_BOUND_KEY = "action_bound_coef"  # key of AlgorithmConfig.learner_config_dict (ppo.build_ppo_config)


def apply_torch_threads(learner_config_dict) -> None:
    """Set torch's intra-op threads in the learner's process if the config asks for a number."""
    threads = (learner_config_dict or {}).get(TORCH_THREADS_KEY)
    if threads:
        torch.set_num_threads(int(threads))


def clip_by_global_norm(gradients_dict, *, grad_clip: float | None = None, grad_clip_by: str = "value"):
    """``ray.rllib.utils.torch_utils.clip_gradients`` with foreach kernels for ``grad_clip_by="global_norm"``:
    scales every gradient in place by ``min(1, grad_clip / (norm + 1e-6))`` and returns the global norm."""
    if grad_clip is None or grad_clip_by != "global_norm":
        return clip_gradients(gradients_dict, grad_clip=grad_clip, grad_clip_by=grad_clip_by)
    grads = [grad for grad in gradients_dict.values() if grad is not None]
    if not grads:
        return torch.tensor(0.0)
    norms = torch.stack(torch._foreach_norm(grads)).nan_to_num(neginf=-NORM_OVERFLOW, posinf=NORM_OVERFLOW)
    total = torch.linalg.vector_norm(norms).nan_to_num(neginf=-NORM_OVERFLOW, posinf=NORM_OVERFLOW)
    torch._foreach_mul_(grads, torch.clamp(grad_clip / torch.clamp(total + 1e-6, min=grad_clip), max=1.0))
    return total


def action_bound_penalty(action_dist_inputs: torch.Tensor) -> torch.Tensor:
    """``mean(relu(|μ| − 1)²)`` over a batch of diagonal-Gaussian inputs ``[μ, log σ]`` (module docstring)."""
    mean = action_dist_inputs[..., : action_dist_inputs.shape[-1] // 2]
    return torch.mean(torch.relu(mean.abs() - 1.0) ** 2)


class FastPPOTorchLearner(PPOTorchLearner):
    """``PPOTorchLearner`` with a lean minibatch loop, a fused Adam and one finiteness check per minibatch (module
    docstring)."""

    def build(self) -> None:
        apply_torch_threads(self.config.learner_config_dict)
        self._action_bound_coef = float((self.config.learner_config_dict or {}).get(ACTION_BOUND_KEY) or 0.0)
        super().build()
        # Minibatch shuffling, seeded like the rest of the trial (RLlib's iterator draws from numpy's global RNG).
        self._minibatch_generator = torch.Generator().manual_seed(int(self.config.seed or 0))

    def update(self, batch=None, batches=None, batch_refs=None, episodes=None, episodes_refs=None,
               data_iterators=None, training_data=None, *, timesteps=None, num_total_minibatches: int = 0,
               num_epochs: int = 1, minibatch_size: int | None = None, shuffle_batch_per_epoch: bool = False,
               _no_metrics_reduce: bool = False, **kwargs):
        if data_iterators or num_total_minibatches or kwargs or not minibatch_size or not self._lean_loop_applies():
            return super().update(batch, batches, batch_refs, episodes, episodes_refs, data_iterators, training_data,
                                  timesteps=timesteps, num_total_minibatches=num_total_minibatches,
                                  num_epochs=num_epochs, minibatch_size=minibatch_size,
                                  shuffle_batch_per_epoch=shuffle_batch_per_epoch,
                                  _no_metrics_reduce=_no_metrics_reduce, **kwargs)
        self._check_is_built()
        timesteps = timesteps or {}
        self.before_gradient_based_update(timesteps=timesteps)
        if training_data is None:
            training_data = TrainingData(batch=batch, batches=batches, batch_refs=batch_refs, episodes=episodes,
                                         episodes_refs=episodes_refs)
        training_data.validate()
        training_data.solve_refs()
        self._weights_seq_no += 1
        train_batch = self._make_batch_if_necessary(training_data=training_data)
        for module_id, module_batch in train_batch.policy_batches.items():
            if self.should_module_be_updated(module_id, train_batch):
                self._train_module(module_id, module_batch, num_epochs, minibatch_size, shuffle_batch_per_epoch)
        for _ in range(num_epochs):
            self._log_steps_trained_metrics(train_batch)
        self.after_gradient_based_update(timesteps=timesteps)
        return None if _no_metrics_reduce else self.metrics.reduce()

    def _lean_loop_applies(self) -> bool:
        if len(self.module) != 1:
            return False
        (module_id, module), = self.module.items()
        return not module.unwrapped().is_stateful() and self.config.get_config_for_module(module_id).use_critic

    def _train_module(self, module_id, module_batch, num_epochs: int, minibatch_size: int, shuffle: bool) -> None:
        rows = trainable_rows(module_batch)
        config = self.config.get_config_for_module(module_id)
        indices = list(minibatch_indices(len(rows[Columns.OBS]), minibatch_size, num_epochs, shuffle=shuffle,
                                         generator=self._minibatch_generator))
        for number, index in enumerate(indices, start=1):
            minibatch = {key: column[index] for key, column in rows.items()}
            fwd_out = self.module[module_id].forward_train(minibatch)
            loss_fn = self.compute_loss_for_module if number == len(indices) else self.loss_without_metrics
            loss = loss_fn(module_id=module_id, config=config, batch=minibatch, fwd_out=fwd_out)
            self.apply_gradients(self.postprocess_gradients(self.compute_gradients({module_id: loss})))
        self.metrics.log_value((module_id, self.TOTAL_LOSS_KEY), loss, window=1)

    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out) -> torch.Tensor:
        loss = super().compute_loss_for_module(module_id=module_id, config=config, batch=batch, fwd_out=fwd_out)
        if not self._action_bound_coef:
            return loss
        penalty = action_bound_penalty(fwd_out[Columns.ACTION_DIST_INPUTS])
        self.metrics.log_value((module_id, "action_bound_penalty"), penalty.detach(), window=1)
        return loss + self._action_bound_coef * penalty

    def loss_without_metrics(self, *, module_id, config, batch, fwd_out) -> torch.Tensor:
        """``PPOTorchLearner.compute_loss_for_module`` on a batch without masked rows, without its metric logging."""
        module = self.module[module_id].unwrapped()
        dist = module.get_train_action_dist_cls().from_logits(fwd_out[Columns.ACTION_DIST_INPUTS])
        ratio = torch.exp(dist.logp(batch[Columns.ACTIONS]) - batch[Columns.ACTION_LOGP])
        advantages = batch[Postprocessing.ADVANTAGES]
        surrogate = torch.min(advantages * ratio,
                              advantages * torch.clamp(ratio, 1 - config.clip_param, 1 + config.clip_param))
        values = module.compute_values(batch, embeddings=fwd_out.get(Columns.EMBEDDINGS))
        vf_loss = torch.clamp(torch.pow(values - batch[Postprocessing.VALUE_TARGETS], 2.0), 0, config.vf_clip_param)
        entropy_coeff = self.entropy_coeff_schedulers_per_module[module_id].get_current_value()
        total = torch.mean(-surrogate + config.vf_loss_coeff * vf_loss - entropy_coeff * dist.entropy())
        if config.use_kl_loss:
            previous = module.get_exploration_action_dist_cls().from_logits(batch[Columns.ACTION_DIST_INPUTS])
            total = total + self.curr_kl_coeffs_per_module[module_id] * torch.mean(previous.kl(dist))
        if self._action_bound_coef:
            total = total + self._action_bound_coef * action_bound_penalty(fwd_out[Columns.ACTION_DIST_INPUTS])
        return total

    @staticmethod
    def _get_clip_function():
        return clip_by_global_norm

    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        module = self._module[module_id]
        params = self.get_parameters(module)
        self.register_optimizer(module_id=module_id, optimizer=torch.optim.Adam(params, fused=True),
                                params=params, lr_or_lr_schedule=config.lr)

    def apply_gradients(self, gradients_dict) -> None:
        if self._grad_scalers is not None or self._lr_scheduler_classes is not None:
            return super().apply_gradients(gradients_dict)
        grads = [g for g in gradients_dict.values() if g is not None]
        # The norm of all gradients is finite iff every entry is (barring overflow, where nan_to_num is a no-op).
        finite = not grads or bool(torch.isfinite(torch.stack(torch._foreach_norm(grads)).sum()))
        for pid, grad in gradients_dict.items():
            self._params[pid].grad = grad if finite or grad is None else torch.nan_to_num(grad)
        for module_id, optimizer_names in self._module_optimizers.items():
            for optimizer_name in optimizer_names:
                self.get_optimizer(module_id, optimizer_name).step()
