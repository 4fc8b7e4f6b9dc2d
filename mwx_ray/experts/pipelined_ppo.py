"""PPO whose env runners sample the next batch while the learner trains on the last one (``experts.ppo.pipelined``).

RLlib's ``PPO.training_step`` (RLlib 2.60, ``algorithms/ppo/ppo.py``) samples, then updates, then syncs weights:
on a 2-core machine the env-runner cores idle while the learner runs its 320 minibatch updates, and the learner
idles while the runners sample. Here each iteration

1. asks every remote env runner for its next batch (``foreach_env_runner_async``: the runners act with the
   weights they hold, the previous iteration's),
2. runs the learner update on the batch collected during the previous iteration, meanwhile,
3. waits for the new batch, keeps it for the next iteration, and pushes the new weights to the runners.

The first iteration samples its batch synchronously (on-policy, as RLlib's); from then on every batch was sampled
by the policy one update behind the one that trains on it. Before each update the batch's action log-probabilities
and distribution inputs are recomputed with the learner's current weights, so PPO's clipped ratio starts at 1 for
the policy being updated (the "proximal policy" of decoupled PPO, Hilton et al. 2021, arXiv 2110.00641, without its
behaviour-policy importance weight). Measured first: with the sampling policy's own log-probabilities kept, the
tuned stand recipe stayed at ``hb/return`` 40-70 through 820k env steps, where its synchronous seeds reached
250-834; the recomputation was tried because samples that start outside the clip give no gradient. It was not
enough: with the recomputation too, stand seed 0 stayed at 50-90 through 1.1M env steps
(``docs/results/pipelined-stand/curve.json``). Measured since (``pipelined/stale_*``, stand seed 1, 2 runners x 8
envs): one update moves the policy far on the batch it leaves behind. Of the next batch's sampled actions, 47% lie
outside the clip range under the updated policy at the second update, 72-86% by 60-90k env steps (mean
|log-ratio| 0.24, then 0.6-3.7), and 87-94% from 120k on in the run with the weight below: the recipe's 320 Adam
steps per iteration on a 0.15 rad exploration noise leave little of a one-update-old batch usable. Decoupled
PPO's truncated behaviour weight, min(1, π_learner/π_sampler) on each sample's advantage, was tried and did not
help (hb/return 36-96 through 530k env steps, where the synchronous run with the same layout and seed was at
92-177, and 497 at 614k). Off by default.
The batch still in flight when a trial stops or checkpoints is dropped; a restored trial samples its first batch
synchronously again.
Every remote call finishes inside ``training_step``, so RLlib's connector-state (observation filter) sync after
it finds the runners idle. With no remote env runners (sampling in the trial process) there is nothing to
overlap and the step is RLlib's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from ray.rllib.algorithms.ppo import PPO
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.columns import Columns
from ray.rllib.execution.rollout_ops import synchronous_parallel_sample
from ray.rllib.utils.metrics import (
    ALL_MODULES,
    ENV_RUNNER_RESULTS,
    ENV_RUNNER_SAMPLING_TIMER,
    LEARNER_RESULTS,
    LEARNER_UPDATE_TIMER,
    NUM_ENV_STEPS_SAMPLED,
    NUM_ENV_STEPS_SAMPLED_LIFETIME,
    NUM_MODULE_STEPS_TRAINED_LIFETIME,
    SYNCH_WORKER_WEIGHTS_TIMER,
    TIMERS,
)

SAMPLE_TAG = "mwx_pipelined_sample"
# Result keys (``result["pipelined"][key]``; the expert trainable reports them as ``pipelined/<key>``).
STALENESS_RESULT_KEY = "pipelined"
STALENESS_KEYS = ("stale_abs_log_ratio", "stale_outside_clip")


def _sample_with_metrics(env_runner) -> tuple[Any, dict]:
    """What one runner returns per request: its episodes and its metrics (as RLlib's synchronous sampling)."""
    return env_runner.sample(), env_runner.get_metrics()


def refresh_behaviour_outputs(learner_group, episodes: list, clip_param: float = 0.2) -> dict[str, float]:
    """Overwrite each episode's ``action_logp`` and ``action_dist_inputs`` with the local learner's current
    policy (one batched forward pass); the stored observations are the normalized ones the module saw.

    Returns how far the sampling policy was from the updated one on this batch (``STALENESS_KEYS``): the mean
    |log-ratio| of the sampled actions and the fraction whose ratio lies outside PPO's ``[1 - clip, 1 + clip]``
    — samples PPO would have given no gradient had their own log-probabilities been kept."""
    learner = getattr(learner_group, "_learner", None)
    if learner is None:
        raise RuntimeError("experts.ppo.pipelined needs the trial's local learner (num_learners=0, as every mwx "
                           "expert config); remote learners do not see the driver's episodes")
    module = learner.module[DEFAULT_MODULE_ID]
    lengths = [len(episode) for episode in episodes]
    observations = np.concatenate([np.asarray(e.get_observations(slice(0, n))) for e, n in zip(episodes, lengths,
                                                                                                 strict=True)])
    actions = np.concatenate([np.asarray(e.get_actions(slice(0, n))) for e, n in zip(episodes, lengths, strict=True)])
    sampled_logp = np.concatenate([np.asarray(e.get_extra_model_outputs(Columns.ACTION_LOGP, slice(0, n)))
                                   for e, n in zip(episodes, lengths, strict=True)])
    with torch.no_grad():
        inputs = module.forward_inference({Columns.OBS: torch.as_tensor(observations, dtype=torch.float32)})[
            Columns.ACTION_DIST_INPUTS]
        logp = module.get_train_action_dist_cls().from_logits(inputs).logp(torch.as_tensor(actions))
    inputs_np, logp_np = inputs.numpy(), logp.numpy()
    log_ratio = logp_np.astype(np.float64) - sampled_logp.astype(np.float64)
    start = 0
    for episode, n in zip(episodes, lengths, strict=True):
        for key, values in ((Columns.ACTION_LOGP, logp_np), (Columns.ACTION_DIST_INPUTS, inputs_np)):
            buffer = episode.extra_model_outputs[key]
            # Episodes fetched from a runner hold numpy arrays deserialized zero-copy from Ray's object store,
            # which are read-only; the overwrite needs a private copy.
            if isinstance(buffer.data, np.ndarray) and not buffer.data.flags.writeable:
                buffer.data = buffer.data.copy()
            episode.set_extra_model_outputs(key=key, new_data=values[start:start + n], at_indices=slice(0, n))
        start += n
    return {STALENESS_KEYS[0]: float(np.abs(log_ratio).mean()),
            STALENESS_KEYS[1]: float((np.abs(np.exp(log_ratio) - 1.0) > clip_param).mean())}


class PipelinedPPO(PPO):
    """RLlib PPO with sampling overlapped with the learner update (module docstring)."""

    _next_batch: tuple[list, list[dict]] | None = None  # episodes and runner metrics sampled for the next update

    def training_step(self) -> None:
        if self.env_runner_group is None or self.env_runner_group.num_remote_env_runners() == 0:
            return super().training_step()
        with self.metrics.log_time((TIMERS, ENV_RUNNER_SAMPLING_TIMER)):
            one_update_behind = self._next_batch is not None
            episodes, runner_metrics = self._next_batch or self._sample(self.config.total_train_batch_size)
            self._next_batch = None
            launched = self.env_runner_group.foreach_env_runner_async(_sample_with_metrics, tag=SAMPLE_TAG)
            if not episodes:
                return
            self.metrics.aggregate(runner_metrics, key=ENV_RUNNER_RESULTS)
        with self.metrics.log_time((TIMERS, LEARNER_UPDATE_TIMER)):
            staleness = refresh_behaviour_outputs(self.learner_group, episodes, self.config.clip_param)
            if one_update_behind:  # a synchronously sampled batch is on-policy: nothing to measure
                self.metrics.log_dict(staleness, key=STALENESS_RESULT_KEY, window=1)
            learner_results = self.learner_group.update(
                episodes=episodes,
                timesteps={
                    NUM_ENV_STEPS_SAMPLED_LIFETIME: self.metrics.peek(
                        (ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME)),
                    NUM_MODULE_STEPS_TRAINED_LIFETIME: self.metrics.peek(
                        (LEARNER_RESULTS, ALL_MODULES, NUM_MODULE_STEPS_TRAINED_LIFETIME), default=0),
                },
                num_epochs=self.config.num_epochs,
                minibatch_size=self.config.minibatch_size,
                shuffle_batch_per_epoch=self.config.shuffle_batch_per_epoch,
            )
            self.metrics.aggregate(learner_results, key=LEARNER_RESULTS)
        with self.metrics.log_time((TIMERS, ENV_RUNNER_SAMPLING_TIMER)):
            self._next_batch = self._collect(launched)
        with self.metrics.log_time((TIMERS, SYNCH_WORKER_WEIGHTS_TIMER)):
            self.env_runner_group.sync_weights(from_worker_or_learner_group=self.learner_group,
                                               policies=set(learner_results[0]) - {ALL_MODULES},
                                               inference_only=True)

    def _sample(self, env_steps: int) -> tuple[list, list[dict]]:
        """``env_steps`` sampled synchronously (RLlib's way): the first batch, or topping one up."""
        episodes, metrics = synchronous_parallel_sample(
            worker_set=self.env_runner_group, max_env_steps=env_steps, sample_timeout_s=self.config.sample_timeout_s,
            _uses_new_env_runners=True, _return_metrics=True)
        return list(episodes), list(metrics)

    def _collect(self, launched: int) -> tuple[list, list[dict]]:
        """Wait for the ``launched`` requests; top the batch up synchronously if the runners' fragments fall short
        of the train batch (a ``rollout_fragment_length`` set below RLlib's ``auto``)."""
        episodes: list = []
        metrics: list[dict] = []
        received = 0
        while received < launched:
            results = self.env_runner_group.fetch_ready_async_reqs(tags=SAMPLE_TAG, timeout_seconds=None)
            if not results:
                raise RuntimeError(f"pipelined PPO: {launched - received} env runner(s) returned no batch (a runner "
                                   "failed); set experts.ppo.pipelined: false to sample synchronously")
            for _runner_id, (runner_episodes, runner_metrics) in results:
                episodes.extend(runner_episodes)
                metrics.append(runner_metrics)
                received += 1
        sampled = sum(int(m.get(NUM_ENV_STEPS_SAMPLED, 0)) for m in metrics)
        if sampled < self.config.total_train_batch_size:
            more_episodes, more_metrics = self._sample(self.config.total_train_batch_size - sampled)
            episodes += more_episodes
            metrics += more_metrics
        return episodes, metrics
