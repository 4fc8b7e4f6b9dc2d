"""The router of MetaWorld-X's Intelligent Routing Mechanism, on RLlib, over frozen experts.

Files: ``gating`` (pure torch math), ``experts_frozen`` (K experts, observation adapters, hash checks),
``network`` (router MLP + Ray-free ``RouterPolicy``), ``module`` (RLlib MultiRLModule wiring),
``action_distribution`` (hard top-1 mixture), ``learner`` (PPO + supervision), ``labels`` (label sources),
``instruction`` (MiniLM embedding), ``setup``/``training``/``runs``/``sweep``/``tracking`` (runs),
``checkpoint`` (Ray-free export), ``evaluation`` (stage success, weights plot and video), ``env`` (1-agent env).

Wiring decision: a custom MultiRLModule that composes sub-modules (``RouterMultiRLModule``: module ``router``
trained, modules ``expert_<skill>`` frozen), over a one-agent env. Both candidate wirings were built and run
for 2-4 PPO iterations on ``stand_walk_stand`` with K = 2 and K = 8 tiny experts:

1. Hierarchical multi-agent env, experts as agents, ``policies_to_train=["router"]`` (prototype). It runs, but
   (a) the router's PPO action is the K logits, so the executed joint action is a function computed inside
   the env: exploration happens in weight space only, the RL gradient cannot use how the weights map to
   joint actions, and the mixing logic lives in the env (deployment/evaluation must duplicate it);
   (b) K + 1 agent streams per env step flow through the EnvRunner and the learner connector pipeline,
   K of them dead weight that ``policies_to_train`` only drops after GAE; (c) the frozen experts must bypass
   RLlib's action sampling (output ``ACTIONS`` directly) to stay deterministic.
2. Composed MultiRLModule (chosen). The mixture ``a = Σ_k w_k a_k`` is the mean of the PPO action
   distribution, so PPO's gradient reaches the router through the mixture (pathwise), exploration is in
   joint-action space, hard gating has an exact likelihood (mixture of Gaussians), the env is unchanged, and
   the same torch modules serve RLlib, the Ray-free policy, evaluation and the latency benchmark.
   Iteration times were the same within the noise of this shared 2-core machine.

Found while proving experts frozen (both wirings are exposed to it): RLlib 2.60 puts every module that has
learner metrics into the post-iteration weight sync, and its numpy→torch state conversion rounds float64
tensors to float32, so the EnvRunners' expert normalizer means silently drifted from the registry
(|Δ| ≈ 6e-8). ``FrozenExpertRLModule`` therefore has an empty state (experts come only from their registry
folders), and ``training.check_experts_frozen`` compares every copy (Learner and each EnvRunner) with the
registry at the end of every run.
"""
