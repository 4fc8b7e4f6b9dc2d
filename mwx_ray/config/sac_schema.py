"""Schema of ``experts.sac``: RLlib SAC (new API stack) hyperparameters of one expert; field names are RLlib's.

Where the defaults come from:
- cleanrl ``sac_continuous_action.py`` (the usual MuJoCo SAC reference): gamma 0.99, tau 0.005, batch 256,
  policy lr 3e-4, Q lr 1e-3, 256x256 ReLU networks, automatic entropy tuning towards -|A|, uniform replay,
  one gradient update per sampled env step, 5000 env steps before learning starts (cleanrl acts uniformly at
  random until then; RLlib samples the freshly initialized policy, whose pre-tanh std ≈ 1 also spreads actions
  over most of [-1, 1]).
- RLlib 2.60 ``SACConfig`` (``ray/rllib/algorithms/sac/sac.py``) where cleanrl has no equivalent: initial
  alpha 1.0, alpha lr 3e-4, twin Q, 1-step returns, no gradient clipping, and the Q networks' fusion MLP
  (``fusionnet_hiddens`` [256, 256], ``DefaultModelConfig``) that joins the observation and action encodings.
- Sized for a 2-core CPU (24 GB shared by two trials and other work): a replay buffer of 300k steps instead of
  1M (RLlib keeps whole episodes, including every step's info dict: ~1.9 kB per H1 step, see
  ``replay_buffer_capacity``); 4-step sample calls (less per-call overhead than RLlib's 1); iterations of 1000
  env steps, so evaluation/checkpoint intervals count in env steps as PPO's batches do. Throughput on this
  machine class is set by RLlib's per-update cost (episode-based replay sampling in Python + the critic
  updates), not by the env: see ``tune_configs/experts/sac_walk.yaml`` and ``benchmarks/train_throughput.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mwx_ray.config.typed import setting

# Same set as experts_schema.Activation (kept separate to avoid a circular import; a unit test pins them equal):
# the activations both RLlib (models/utils.py get_activation_fn) and ExpertPolicy rebuild identically.
Activation = Literal["tanh", "relu", "silu", "swish", "elu"]


@dataclass
class SoftActorCriticCore:
    """The SAC objective's hyperparameters, shared by RLlib's SAC (``experts.sac``) and fastsac
    (``experts.fastsac``): the same names and defaults (cleanrl's; RLlib's where cleanrl has none)."""

    actor_lr: float = setting(3e-4, gt=0, le=1, help="policy Adam lr (cleanrl, SB3; RLlib's default 3e-5)")
    critic_lr: float = setting(1e-3, gt=0, le=1, help="Q-network Adam lr (cleanrl 1e-3; RLlib's and SB3's 3e-4)")
    alpha_lr: float = setting(3e-4, gt=0, le=1, help="entropy-temperature Adam lr (RLlib's default)")
    gamma: float = setting(0.99, gt=0, le=1)
    tau: float = setting(0.005, gt=0, le=1, help="Polyak factor of the target Q networks, every update")
    initial_alpha: float = setting(1.0, gt=0, help="initial entropy temperature (RLlib's default, SB3's 'auto')")
    target_entropy: float | Literal["auto"] = setting("auto", help="entropy target; auto = -act_dim (-19 on H1)")
    train_batch_size_per_learner: int = setting(256, ge=1, help="transitions per gradient update")
    num_steps_sampled_before_learning_starts: int = setting(5000, ge=0, help="env steps before the first update")
    replay_ratio: float = setting(1.0, gt=0, le=64, help="gradient updates per sampled env step (update-to-data; "
                                                         "cleanrl: 1)")


@dataclass
class SACSection(SoftActorCriticCore):
    """SAC and network hyperparameters of one expert (RLlib's field names; see the module docstring).
    ``replay_ratio`` is turned into RLlib's training_intensity."""

    # RLlib's EpisodeReplayBuffer keeps whole episodes: normalized obs, actions, rewards and each step's info
    # dict (the H1 tasks report ~15 reward terms): measured ~1.9 kB per step on h1-walk_imitation (RSS growth
    # over 20k buffered steps), so 300k steps ≈ 0.6 GB per trial; cleanrl's 1M would be ~1.9 GB.
    replay_buffer_capacity: int = setting(300_000, ge=1, help="env steps kept in the replay buffer")
    prioritized_replay: bool = setting(False, help="PrioritizedEpisodeReplayBuffer (RLlib's default, alpha 0.6 "
                                                   "beta 0.4) instead of uniform replay (cleanrl, the paper)")
    n_step: int = setting(1, ge=1, help="n-step returns")
    twin_q: bool = setting(True, help="clipped double-Q (two critics, min of the targets)")
    fcnet_hiddens: list[int] = setting(factory=lambda: [256, 256], help="pi encoder and Q obs/action encoders")
    activation: Activation = setting("relu")
    head_fcnet_hiddens: list[int] = setting(factory=list, help="hidden layers of the pi and Q heads")
    fusionnet_hiddens: list[int] = setting(factory=lambda: [256, 256],
                                           help="Q networks: MLP joining obs and action encodings (tanh)")
    obs_clip: float = setting(10.0, gt=0, help="MeanStdFilter output clip, in standard deviations (RLlib: 10)")
    grad_clip: float | None = setting(None, gt=0, help="global-norm gradient clip (RLlib's SAC default: none)")
    # Env steps per sample call and env: SAC then runs replay_ratio x (that many steps) updates before the next
    # call. Larger fragments cut the per-call overhead (weight sync after every call) at the price of a policy
    # that lags by up to a fragment; "auto" is RLlib's n_step (1 step: the most overhead).
    rollout_fragment_length: int | Literal["auto"] = setting(4)
    min_sample_timesteps_per_iteration: int = setting(1000, ge=1, help="env steps per training iteration "
                                                                       "(RLlib's wall-clock minimum is off)")
    # No store_buffer_in_checkpoints: RLlib 2.60 honours it on the old API stack only (Algorithm.__getstate__);
    # new-stack checkpoints never hold the buffer, so a restored trial refills it (mwx_ray.experts.sac).

    def field_problems(self) -> dict[str, str]:
        """Cross-field checks, keyed by the field to blame."""
        problems = {}
        for name in ("fcnet_hiddens", "fusionnet_hiddens"):
            sizes = getattr(self, name)
            if not sizes or any(h < 1 for h in sizes):
                problems[name] = "must list at least one positive layer size"
        if any(h < 1 for h in self.head_fcnet_hiddens):
            problems["head_fcnet_hiddens"] = "layer sizes must be positive"
        if self.rollout_fragment_length != "auto" and self.rollout_fragment_length < self.n_step:
            # RLlib's SACConfig.validate rule: an n-step return needs n steps per fragment.
            problems["rollout_fragment_length"] = (f"{self.rollout_fragment_length} is smaller than n_step "
                                                   f"{self.n_step}")
        if self.rollout_fragment_length != "auto" and self.rollout_fragment_length < 1:
            problems["rollout_fragment_length"] = "must be >= 1 or auto"
        if self.train_batch_size_per_learner > self.replay_buffer_capacity:
            problems["train_batch_size_per_learner"] = (f"{self.train_batch_size_per_learner} is larger than "
                                                        f"replay_buffer_capacity {self.replay_buffer_capacity}")
        return problems
