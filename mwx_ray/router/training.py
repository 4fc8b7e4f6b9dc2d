"""Router training with RLlib PPO: config builder, frozen checks, metrics, Ray-free export.

    setup = prepare_router(config)                           # experts, adapters, instruction, labels
    ppo_config = build_router_ppo_config(setup, seed=..., resources=config.resources)
    algo = ppo_config.build_algo(); algo.train() ...
    check_experts_frozen(algo, setup)                        # learner + every EnvRunner vs registry copy
    policy = router_policy_from_algorithm(algo, setup)       # Ray-free RouterPolicy

Metric names (flat, ``/`` namespaces): ``loss/policy``, ``loss/vf``, ``loss/total``, ``loss/ppo_entropy``,
``loss/ppo_kl`` (PPO's), ``router/lambda``, ``router/kl``, ``router/entropy``, ``router/supervision_loss``,
``router/usage/<expert>``, ``router/top1/<expert>`` (learner), ``train/episode_return_mean``, ``env_steps``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.utils.metrics import (
    ENV_RUNNER_RESULTS,
    EPISODE_RETURN_MEAN,
    LEARNER_RESULTS,
)

from mwx_ray.config.router_schema import EvalGating
from mwx_ray.config.schema import ResourcesSection
from mwx_ray.experts.env_registration import BASE_SEED_KEY, PLUGINS_KEY
from mwx_ray.router.checkpoint import network_state_from_module_state
from mwx_ray.router.experts_frozen import FrozenExpertError
from mwx_ray.router.learner import LEARNER_CONFIG_KEY, RouterPPOLearner, stage_label_connector
from mwx_ray.router.module import ROUTER_MODULE_ID, expert_module_id, router_module_spec
from mwx_ray.router.network import RouterNetwork, RouterPolicy
from mwx_ray.router.setup import RouterSetup

# RLlib learner-result keys -> our metric names.
_PPO_KEYS = {"policy_loss": "loss/policy", "vf_loss": "loss/vf", "total_loss": "loss/total",
             "entropy": "loss/ppo_entropy", "mean_kl_loss": "loss/ppo_kl", "vf_explained_var": "loss/vf_explained_var"}


def map_agent_to_router(agent_id, episode=None, **kwargs) -> str:
    """Policy mapping: the one agent always acts through the router module (module level: pickles)."""
    return ROUTER_MODULE_ID


def build_router_ppo_config(setup: RouterSetup, *, seed: int, resources: ResourcesSection,
                            plugins: Sequence[str] = ()) -> PPOConfig:
    """RLlib PPO config of the router run: one agent → ``router``; ``expert_*`` modules frozen."""
    from mwx_ray.router.env import (
        FALLBACK_KEY,
        STAGE_FEATURE_KEY,
        TIME_FEATURE_KEY,
        TRANSITIONS_KEY,
        register_router_env,
    )

    router, ppo = setup.router, setup.router.ppo
    transitions, fallback_folder = setup.transition_settings()
    env_name = register_router_env(setup.task_env_id)
    spec = router_module_spec(observation_space=setup.observation_space, action_space=setup.action_space,
                              router_config=setup.router_model_config(), expert_folders=setup.expert_folders,
                              expert_indices=setup.expert_indices, expert_inputs=setup.expert_inputs)
    labels = setup.label_source
    learner_cfg = {"lambda0": router.supervision.lambda0, "eta": router.supervision.eta,
                   "entropy_beta": router.supervision.entropy_beta, "temperature": router.gating.temperature,
                   "experts": setup.expert_names, "labels": labels.to_plain(),
                   "offline_batch_size": router.labels.batch_size, "seed": int(seed),
                   # labeled dataset states get the router's clock and stage appended, as the env wrappers do
                   "time_feature_horizon": int(setup.task.episode_steps) if router.time_feature else None,
                   "stage_feature_count": len(setup.task.stages) if router.stage_feature else None}
    connector = (functools.partial(stage_label_connector, stage_table=labels.stage_table.tolist())
                 if labels.online else None)
    config = (
        PPOConfig()
        .api_stack(enable_rl_module_and_learner=True, enable_env_runner_and_connector_v2=True)
        .framework("torch")
        .environment(env=env_name, env_config={**setup.task_settings.env_kwargs(), BASE_SEED_KEY: int(seed),
                                               PLUGINS_KEY: list(plugins), TRANSITIONS_KEY: transitions,
                                               FALLBACK_KEY: fallback_folder,
                                               TIME_FEATURE_KEY: router.time_feature,
                                               STAGE_FEATURE_KEY: router.stage_feature})
        .multi_agent(policies=set(spec.rl_module_specs), policy_mapping_fn=map_agent_to_router,
                     policies_to_train=[ROUTER_MODULE_ID])
        .rl_module(rl_module_spec=spec)
        # No MeanStdFilter: experts normalize their own slices, the router uses pooled frozen statistics.
        .env_runners(num_env_runners=resources.env_runners_per_trial,
                     num_envs_per_env_runner=resources.envs_per_env_runner,
                     num_cpus_per_env_runner=resources.cpus_per_env_runner,
                     rollout_fragment_length=ppo.rollout_fragment_length)
        .resources(num_cpus_for_main_process=resources.cpus_per_learner)
        .learners(num_learners=0, num_gpus_per_learner=resources.gpus_per_learner, learner_class=RouterPPOLearner,
                  learner_connector=connector, learner_config_dict={LEARNER_CONFIG_KEY: learner_cfg})
        .training(lr=ppo.lr, gamma=ppo.gamma, lambda_=ppo.lambda_, clip_param=ppo.clip_param,
                  vf_clip_param=ppo.vf_clip_param, entropy_coeff=ppo.entropy_coeff, vf_loss_coeff=ppo.vf_loss_coeff,
                  train_batch_size_per_learner=ppo.train_batch_size_per_learner, minibatch_size=ppo.minibatch_size,
                  num_epochs=ppo.num_epochs, grad_clip=ppo.grad_clip)
        .debugging(seed=int(seed))
    )
    return config


def learner_metrics(result: dict[str, Any]) -> dict[str, float]:
    """Flat metrics of one ``algo.train()`` result (see the module docstring for names)."""
    out: dict[str, float] = {}
    runner = result.get(ENV_RUNNER_RESULTS, {})
    if runner.get(EPISODE_RETURN_MEAN) is not None:
        out["train/episode_return_mean"] = float(runner[EPISODE_RETURN_MEAN])
    learner = result.get(LEARNER_RESULTS, {}).get(ROUTER_MODULE_ID, {})
    for key, value in learner.items():
        name = key if key.startswith("router/") else _PPO_KEYS.get(key)
        if name is not None and isinstance(value, int | float):
            out[name] = float(value)
    return out


def _expert_hashes_of_module(multi_module, names: list[str]) -> dict[str, str]:
    return {name: multi_module[expert_module_id(name)].policy.parameter_hash() for name in names}


def _expert_grad_flags(multi_module, names: list[str]) -> bool:
    return any(p.requires_grad for name in names for p in multi_module[expert_module_id(name)].parameters())


def check_experts_frozen(algo, setup: RouterSetup) -> dict[str, Any]:
    """Prove every expert copy (Learner, local and remote EnvRunners) equals the registry copy on disk.

    Compares sha256 over weights, log-std, normalizer mean/std and action bounds (``parameter_hash``) with
    experts freshly re-loaded from their folders; also checks that no expert parameter requires grad and
    that the experts are not in ``policies_to_train``. Raises :class:`FrozenExpertError`; returns a report.
    """
    names = setup.expert_names
    registry = setup.experts.verify_unchanged()  # the driver's pool vs disk
    copies: dict[str, dict[str, str]] = {}
    learner_state = algo.learner_group.foreach_learner(
        lambda learner: (_expert_hashes_of_module(learner.module, names), _expert_grad_flags(learner.module, names)))
    for i, call in enumerate(learner_state):
        hashes, trainable = call.get()
        copies[f"learner_{i}"] = hashes
        if trainable:
            raise FrozenExpertError(f"learner {i}: an expert parameter requires grad")
    runner_hashes = algo.env_runner_group.foreach_env_runner(
        lambda runner: _expert_hashes_of_module(runner.module, names), local_env_runner=True)
    for i, hashes in enumerate(runner_hashes):
        if hashes:
            copies[f"env_runner_{i}"] = hashes
    mismatched = sorted(f"{where}/{name}" for where, hashes in copies.items() for name in names
                        if hashes[name] != registry[name])
    if mismatched:
        raise FrozenExpertError(f"expert copies differ from the registry: {mismatched}")
    trained = algo.config.policies_to_train
    if trained is not None and set(trained) != {ROUTER_MODULE_ID}:
        raise FrozenExpertError(f"policies_to_train must be ['{ROUTER_MODULE_ID}'], got {trained}")
    return {"registry": registry, "copies_checked": sorted(copies), "ok": True}


def router_policy_from_algorithm(algo, setup: RouterSetup, *, gating: EvalGating = "trained") -> RouterPolicy:
    """The current router (Learner weights) + the driver's frozen expert pool, as a Ray-free policy; ``gating``
    (``router.eval.gating``) ``soft``/``hard`` replaces the trained gating, ``trained`` keeps it."""
    state = algo.learner_group.get_state(components=f"learner/rl_module/{ROUTER_MODULE_ID}")
    module_state = state["learner"]["rl_module"][ROUTER_MODULE_ID]
    cfg = setup.router_model_config()
    import torch

    network = RouterNetwork(cfg["spec"], instruction=torch.tensor(cfg["instruction"]),
                            obs_mean=torch.tensor(cfg["obs_mean"]), obs_std=torch.tensor(cfg["obs_std"]))
    network.load_state_dict(network_state_from_module_state(module_state))
    kind = setup.router.gating.kind if gating == "trained" else gating
    return RouterPolicy(setup.experts, network, gating_kind=kind,
                        switch_hold_steps=setup.router.transitions.switch_hold_steps)
