"""Start an expert's training from another exported expert (``experts.per_skill.<skill>.init_from``).

A curriculum in one line of YAML: ``walk`` can start from the ``stand`` expert (``init_from: zoo:stand``), which
already balances, instead of from a random policy that falls in a second. What is copied into a *fresh* PPO trial
(a restored trial keeps its own checkpoint: the trial loop restores after this):

* the actor: every Linear layer of the exported ``actor.{i}`` into the RLlib layer it was exported from (the
  manifest's ``network.rllib_layer_sources``), and the free log-std (then clipped up to the trial's initial std,
  so the new skill still explores);
* the observation normalizer: the expert's MeanStdFilter statistics become the trial's starting statistics on
  every env runner (the actor was trained on inputs normalized by them); they keep updating from there.

The value function starts fresh: the new skill's returns are not the old one's. The source must be a PPO expert
with the same action size and actor architecture, and the same observation (checked, with the mismatch named) —
or, **widened**, a prefix of it: a source trained without task extras (stand: ``qpos ‖ qvel``) can start a task
that appends some (reach: + hand and goal positions), and a source with extras a task whose extras begin with
them (turn_around's "which way to turn" → turn_to_spot's, + the spot; the layout convention composite tasks rely
on too, ``envs/observation_layout.py``). Its first layer then reads the prefix as before and the new entries
through new zero weights, so the new trial starts acting exactly as the source; the new entries' normalizer
statistics start at their mean and variance over ``WIDENED_STATS_RESETS`` resets of the trial's training env
and, since RLlib's MeanStdFilter shares one count across entries, move as slowly as the rest from there. They are
estimated rather than set to mean 0, variance 1 so that a new entry enters at about one normalized unit of spread,
as the source's own inputs do (a spot drawn within 0.3 m would otherwise stay an input of ~0.15).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from mwx_ray.experts.policy import ExpertPolicy

WIDENED_STATS_RESETS = 64
# Entries that hardly vary at reset still read at most one normalized unit per 0.1 of their own (m, rad): our
# choice, so that an entry constant at reset does not turn its first change into a huge input.
WIDENED_VAR_FLOOR = 0.01


def source_input_dim(policy: ExpertPolicy, env_id: str | None, obs_dim: int) -> int:
    """How many leading entries of the trial's ``obs_dim``-wide observation the source expert reads: all of them,
    or its own prefix when the trial's task appends extras to the source's (widening; no clocks on either)."""
    from mwx_ray.envs.observation_layout import observation_layout

    if env_id is None or policy.obs_dim >= obs_dim:
        return obs_dim
    source = observation_layout(policy.manifest["env_id"], policy.obs_dim)
    trial = observation_layout(env_id, obs_dim)
    widens = (source.robot_dim == trial.robot_dim and source.extra_dim < trial.extra_dim
              and source.clock_dim == trial.clock_dim == 0)
    return policy.obs_dim if widens else obs_dim


def check_compatible(policy: ExpertPolicy, model_config: dict[str, Any], obs_dim: int, act_dim: int,
                     source: str) -> None:
    """Raise ValueError naming the first difference between the exported expert and the trial's PPO module
    (``obs_dim``: the observation entries the source reads, see :func:`source_input_dim`)."""
    network = policy.manifest["network"]
    wanted = {"algorithm": "ppo", "input_dim": obs_dim, "act_dim": act_dim,
              "hidden_sizes": [int(h) for h in model_config["fcnet_hiddens"]],
              "activation": model_config["fcnet_activation"],
              "head_hidden_sizes": [int(h) for h in model_config["head_fcnet_hiddens"]],
              "free_log_std": bool(model_config["free_log_std"])}
    found = {"algorithm": policy.algorithm, **{key: network[key] for key in wanted if key != "algorithm"}}
    for key, value in wanted.items():
        if found[key] != value:
            raise ValueError(f"init_from {source}: its {key} is {found[key]!r} but this trial's is {value!r}; "
                             "warm starts need the same PPO actor and observation layout")


def widened_statistics(env_id: str, env_config: dict[str, Any], first: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance (floored at ``WIDENED_VAR_FLOOR``) of observation entries ``first:`` over
    ``WIDENED_STATS_RESETS`` seeded resets of the trial's training env (its task settings and preludes)."""
    from mwx_ray.experts.env_registration import make_seeded_env

    env = make_seeded_env(env_id, env_config)
    try:
        rows = np.stack([env.reset(seed=seed)[0][first:] for seed in range(WIDENED_STATS_RESETS)])
    finally:
        env.close()
    return rows.mean(axis=0), np.maximum(rows.var(axis=0), WIDENED_VAR_FLOOR)


def _filter_state(policy: ExpertPolicy, template: dict[str, Any],
                  widened: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
    """The trial's MeanStdFilter agent state with the expert's statistics (RunningStat's serialized layout),
    followed by ``widened`` (mean, variance) for the entries a widening adds."""
    from ray.rllib.utils.serialization import _serialize_ndarray

    normalizer = policy.manifest["normalizer"]
    count = int(normalizer["count"])
    mean = np.concatenate((np.asarray(normalizer["mean"], dtype=np.float64), widened[0]))
    var = np.concatenate((np.asarray(normalizer["var"], dtype=np.float64), widened[1]))
    (stats,) = template["running_stats"]
    zeros = np.zeros_like(mean)
    stats = {**stats, "num_pushes": count, "num_pushes_delta": 0, "mean_array": _serialize_ndarray(mean),
             "mean_delta_array": _serialize_ndarray(zeros),
             "sum_sq_diff_array": _serialize_ndarray(var * max(count - 1, 0)),
             "sum_sq_diff_delta_array": _serialize_ndarray(zeros)}
    return {**template, "running_stats": [stats]}


def warm_start(algo, folder: str | Path, *, source: str | None = None, env_id: str | None = None) -> dict[str, Any]:
    """Copy the exported expert at ``folder`` into ``algo``'s PPO actor and normalizer (see the module docstring;
    ``env_id``, the trial's env, allows widening); returns what was copied (for the trial's record)."""
    from ray.rllib.core import DEFAULT_MODULE_ID

    from mwx_ray.experts.export import FILTER_NAME, filter_state_from_algorithm

    source = source or str(folder)
    policy = ExpertPolicy.load(folder)
    raw_obs_space, action_space = algo.spaces["__env_single__"]
    obs_dim = int(np.prod(raw_obs_space.shape))
    read_dim = source_input_dim(policy, env_id, obs_dim)
    check_compatible(policy, dict(algo.config.model_config), read_dim, int(np.prod(action_space.shape)), source)
    sources = policy.manifest["network"]["rllib_layer_sources"]
    linears = [m for m in policy.actor if isinstance(m, torch.nn.Linear)]
    tensors = {f"{prefix}.{part}": getattr(layer, part).detach().clone()
               for prefix, layer in zip(sources, linears, strict=True) for part in ("weight", "bias")}
    first = f"{sources[0]}.weight"  # widening: the task extras enter through zero weights
    tensors[first] = torch.nn.functional.pad(tensors[first], (0, obs_dim - read_dim))
    log_std = policy.log_std_free.detach().clone() if policy.free_log_std else None

    def assign(learner) -> None:
        parameters = dict(learner.module[DEFAULT_MODULE_ID].named_parameters())
        with torch.no_grad():
            for name, value in tensors.items():
                parameters[name].copy_(value)
            if log_std is not None:
                # Keep at least the trial's initial exploration: a converged expert's std is tiny.
                current = parameters["pi.log_std"]
                current.copy_(torch.maximum(current, log_std.to(current.dtype)))

    algo.learner_group.foreach_learner(assign)
    algo.env_runner_group.sync_weights(from_worker_or_learner_group=algo.learner_group, inference_only=True,
                                       timeout_seconds=60.0)
    widened = (widened_statistics(env_id, dict(algo.config.env_config), read_dim) if env_id and read_dim < obs_dim
               else (np.zeros(0), np.zeros(0)))
    state = _filter_state(policy, filter_state_from_algorithm(algo), widened)
    algo.env_runner_group.foreach_env_runner(
        lambda runner: runner.set_state({"env_to_module_connector": {FILTER_NAME: {None: state}}}),
        local_env_runner=True)
    return {"init_from": source, "layers": len(sources), "normalizer_count": int(policy.manifest["normalizer"]["count"]),
            "widened_inputs": obs_dim - read_dim}
