"""PPO Learner with less host work per minibatch (fused Adam, one finiteness check); RLlib's loss unchanged."""

from __future__ import annotations

import torch
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner


class FastPPOTorchLearner(PPOTorchLearner):
    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        module = self._module[module_id]
        params = self.get_parameters(module)
        self.register_optimizer(module_id=module_id, optimizer=torch.optim.Adam(params, fused=True),
                                params=params, lr_or_lr_schedule=config.lr)

    def apply_gradients(self, gradients_dict) -> None:
        if self._grad_scalers is not None or self._lr_scheduler_classes is not None:
            return super().apply_gradients(gradients_dict)
        grads = [g for g in gradients_dict.values() if g is not None]
        finite = bool(torch.isfinite(torch.stack(torch._foreach_norm(grads)).sum())) if grads else True
        for pid, grad in gradients_dict.items():
            self._params[pid].grad = grad if finite else torch.nan_to_num(grad)
        for module_id, optimizer_names in self._module_optimizers.items():
            for optimizer_name in optimizer_names:
                self.get_optimizer(module_id, optimizer_name).step()
