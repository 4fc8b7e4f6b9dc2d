"""Schema of ``experts.fastsac``: the off-policy expert built for small CPU machines (``mwx_ray.experts.fastsac``).

Same SAC objective as ``experts.sac`` (RLlib's SAC), different machinery: a flat-array replay buffer on the
learner's device and one fused update per gradient step (see ``mwx_ray/experts/fastsac/__init__.py``).

Where the defaults come from:
- cleanrl ``sac_continuous_action.py`` / stable-baselines3 SAC (the usual MuJoCo references): gamma 0.99, tau 0.005,
  batch 256, policy lr 3e-4, Q lr 1e-3 (cleanrl), 256x256 ReLU actor and critics on ``concat(obs, action)``, two
  critics with the min of their targets (clipped double-Q), automatic entropy tuning towards -|A|, uniform replay
  of 1M transitions, one gradient update per env step, 5000 env steps before learning starts.
- High update-to-data settings (SimbaV2, BRO, DroQ, FastTD3 report them for humanoids): ``replay_ratio`` 2-8 with
  ``critic_layer_norm`` (normalised critic features keep high-UTD Q-learning stable), wider critics
  (``critic_hiddens`` [512, 512]) and more critics (``num_critics`` 4-10 with ``q_target: min`` is REDQ-like
  pessimism; ``mean`` is the optimistic alternative). Distributional critics are not implemented.
- Sample calls of ``rollout_fragment_length`` steps per env (8 × envs per runner env steps) are followed by
  ``replay_ratio`` × that many updates: the policy acting in the env lags by at most one call (cleanrl/SB3 act
  with a policy updated every step; SB3's ``train_freq``/``gradient_steps`` is the same trade).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mwx_ray.config.sac_schema import Activation, SoftActorCriticCore
from mwx_ray.config.typed import setting


@dataclass
class FastSACSection(SoftActorCriticCore):
    """Hyperparameters of one fastsac expert (SAC's names where RLlib has one; see the module docstring)."""

    # Flat float32 arrays: (2 x obs_dim + act_dim + 2) x 4 bytes per transition = 0.5 kB on H1 (51-dim obs),
    # so cleanrl's 1M transitions take ~0.5 GB (RLlib's episode buffer needs ~1.9 kB per step, sac_schema.py).
    replay_buffer_capacity: int = setting(1_000_000, ge=1, help="transitions kept in the replay buffer")
    fcnet_hiddens: list[int] = setting(factory=lambda: [256, 256], help="actor MLP (RLlib's pi encoder)")
    activation: Activation = setting("relu", help="actor activation")
    head_fcnet_hiddens: list[int] = setting(factory=list, help="hidden layers of the actor head")
    critic_hiddens: list[int] = setting(factory=lambda: [256, 256], help="each critic's MLP on concat(obs, action)")
    critic_activation: Activation = setting("relu")
    critic_layer_norm: bool = setting(False, help="LayerNorm after every hidden critic layer (high-UTD stability)")
    num_critics: int = setting(2, ge=1, le=32, help="critics trained side by side (2 = clipped double-Q)")
    q_target: Literal["min", "mean"] = setting("min", help="how the critics combine in the target and the actor "
                                                           "loss: min (clipped double-Q) or mean")
    obs_clip: float = setting(10.0, gt=0, help="MeanStdFilter output clip, in standard deviations (RLlib: 10)")
    grad_clip: float | None = setting(None, gt=0, help="global-norm gradient clip per network (null: none)")
    rollout_fragment_length: int = setting(8, ge=1, help="env steps per env in one sample call; the updates "
                                                         "for them follow the call")
    min_sample_timesteps_per_iteration: int = setting(1000, ge=1, help="env steps per training iteration")

    def field_problems(self) -> dict[str, str]:
        """Cross-field checks, keyed by the field to blame."""
        problems = {}
        for name in ("fcnet_hiddens", "critic_hiddens"):
            sizes = getattr(self, name)
            if not sizes or any(h < 1 for h in sizes):
                problems[name] = "must list at least one positive layer size"
        if any(h < 1 for h in self.head_fcnet_hiddens):
            problems["head_fcnet_hiddens"] = "layer sizes must be positive"
        if self.train_batch_size_per_learner > self.replay_buffer_capacity:
            problems["train_batch_size_per_learner"] = (f"{self.train_batch_size_per_learner} is larger than "
                                                        f"replay_buffer_capacity {self.replay_buffer_capacity}")
        return problems
