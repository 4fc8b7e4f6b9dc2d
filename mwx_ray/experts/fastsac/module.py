"""fastsac's RLModule: RLlib's SAC actor (catalog-built, so export and ExpertPolicy read it as a SAC actor) plus an
ensemble of critics evaluated with one batched matmul per layer.

Actor: ``SquashedModeCatalog`` (``mwx_ray.experts.sac``) builds ``pi_encoder`` (MLP over ``fcnet_hiddens``) and
``pi`` (head over ``head_fcnet_hiddens``, output ``[mean ‖ log_std]``) exactly as for RLlib's SAC, so the state keys
are ``pi_encoder.net.mlp.{k}.*`` / ``pi.net.mlp.{k}.*`` (what ``export.actor_tensors`` reads for SAC) and env
runners sample from the same squashed Gaussian (log-std clamped to RLlib's [-5, 2], ``squash(mean)`` as the
deterministic action).

Critics (learner only, never shipped to env runners): ``num_critics`` MLPs on ``concat(obs, action)`` stored as
``[N, fan_in, fan_out]`` weights, so each layer of all critics is one ``baddbmm``; initialised like
``torch.nn.Linear`` (uniform ±1/sqrt(fan_in)), optionally with a LayerNorm after each hidden layer. The entropy
temperature ``log_alpha`` is a module parameter, so RLlib's checkpoint holds it (RLlib's SAC keeps it outside
the module and loses it, see ``sac.py``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.models.base import ENCODER_OUT
from ray.rllib.core.rl_module.apis import InferenceOnlyAPI
from ray.rllib.core.rl_module.torch.torch_rl_module import TorchRLModule
from torch import nn
from torch.nn import functional as F  # noqa: N812

from mwx_ray.experts.sac import SquashedModeCatalog

# TorchSquashedGaussian.from_logits clamps the log-std to [MIN_LOG_NN_OUTPUT, MAX_LOG_NN_OUTPUT] (utils/numpy.py).
LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0
_ACTIVATIONS = {"tanh": torch.tanh, "relu": F.relu, "silu": F.silu, "swish": F.silu, "elu": F.elu}
CRITIC_KEYS = ("critic_hiddens", "critic_activation", "critic_layer_norm", "num_critics", "initial_alpha")


class EnsembleCritic(nn.Module):
    """``N`` Q-networks ``concat(obs, action) [B, in] -> Q [N, B]`` evaluated together."""

    def __init__(self, in_dim: int, hiddens: list[int], num_critics: int, activation: str, layer_norm: bool):
        super().__init__()
        self.activation = _ACTIVATIONS[activation]
        self.layer_norm = bool(layer_norm)
        sizes = [in_dim, *hiddens, 1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.norm_scales = nn.ParameterList()
        self.norm_shifts = nn.ParameterList()
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            bound = 1.0 / math.sqrt(fan_in)  # torch.nn.Linear's default init for weight and bias
            self.weights.append(nn.Parameter(torch.empty(num_critics, fan_in, fan_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(num_critics, 1, fan_out).uniform_(-bound, bound)))
            if self.layer_norm and i < len(hiddens):
                self.norm_scales.append(nn.Parameter(torch.ones(num_critics, 1, fan_out)))
                self.norm_shifts.append(nn.Parameter(torch.zeros(num_critics, 1, fan_out)))

    def q_values(self, obs: torch.Tensor, actions: torch.Tensor, *, detach_params: bool = False) -> torch.Tensor:
        """``[N, B]`` Q-values. ``detach_params`` evaluates the critics as constants (the actor loss), so one
        backward pass over the summed losses leaves the critics' gradients to the critic loss alone."""
        def p(param: torch.Tensor) -> torch.Tensor:
            return param.detach() if detach_params else param

        x = torch.cat((obs, actions), dim=-1)  # [B, in]
        last = len(self.weights) - 1
        for i in range(len(self.weights)):
            # First layer broadcasts the shared input over the ensemble: [B, in] @ [N, in, out] -> [N, B, out].
            x = torch.matmul(x, p(self.weights[i])) + p(self.biases[i]) if i == 0 else \
                torch.baddbmm(p(self.biases[i]), x, p(self.weights[i]))
            if i < last:
                if self.layer_norm:
                    x = F.layer_norm(x, x.shape[-1:]) * p(self.norm_scales[i]) + p(self.norm_shifts[i])
                x = self.activation(x)
        return x.squeeze(-1)


class FastSACTorchRLModule(TorchRLModule, InferenceOnlyAPI):
    """Actor for env runners; actor + critics + target critics + ``log_alpha`` on the learner."""

    def __init__(self, *args, **kwargs):
        kwargs["catalog_class"] = kwargs.get("catalog_class") or SquashedModeCatalog
        super().__init__(*args, **kwargs)

    def setup(self) -> None:
        self.pi_encoder = self.catalog.build_encoder(framework="torch")
        self.pi = self.catalog.build_pi_head(framework="torch")
        if self.inference_only:
            return
        config = self.model_config
        obs_dim = int(math.prod(self.observation_space.shape))
        act_dim = int(math.prod(self.action_space.shape))
        critic_args = (obs_dim + act_dim, list(config["critic_hiddens"]), int(config["num_critics"]),
                       config["critic_activation"], bool(config["critic_layer_norm"]))
        self.critic = EnsembleCritic(*critic_args)
        self.target_critic = EnsembleCritic(*critic_args)
        self.target_critic.load_state_dict(self.critic.state_dict())
        self.target_critic.requires_grad_(False)
        self.log_alpha = nn.Parameter(torch.tensor(math.log(float(config["initial_alpha"]))))

    def get_non_inference_attributes(self) -> list[str]:
        return ["critic", "target_critic", "log_alpha"]

    def actor_params(self) -> list[nn.Parameter]:
        return [*self.pi_encoder.parameters(), *self.pi.parameters()]

    def actor_logits(self, obs: torch.Tensor) -> torch.Tensor:
        """``[B, obs_dim]`` -> ``[B, 2 * act_dim]`` (mean ‖ log-std), through the catalog's torch MLPs directly."""
        return self.pi.net.mlp(self.pi_encoder.net.mlp(obs))

    def sample_actions(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised squashed-Gaussian sample ``[B, act_dim]`` in [-1, 1] and its log-prob ``[B]``, as
        ``TorchSquashedGaussian.rsample`` / ``logp`` compute them (same log-std clamp, same stable tanh Jacobian)."""
        mean, log_std = self.actor_logits(obs).chunk(2, dim=-1)
        log_std = log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)
        std = log_std.exp()
        noise = torch.randn_like(mean)
        pre_tanh = mean + std * noise
        # log N(pre_tanh; mean, std) = -noise^2/2 - log std - log(2 pi)/2, summed over the action dims
        gaussian_logp = (-0.5 * noise.pow(2) - log_std - 0.5 * math.log(2.0 * math.pi)).sum(-1)
        # log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u))
        jacobian = (2.0 * (math.log(2.0) - pre_tanh - F.softplus(-2.0 * pre_tanh))).sum(-1)
        return torch.tanh(pre_tanh), gaussian_logp - jacobian

    def _forward_inference(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        encoded = self.pi_encoder(batch)[ENCODER_OUT]
        return {Columns.ACTION_DIST_INPUTS: self.pi(encoded)}

    def _forward_exploration(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        return self._forward_inference(batch)

    def _forward_train(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        # The learner calls actor_logits/sample_actions/critic directly; this keeps RLModule's contract.
        return self._forward_inference(batch)
