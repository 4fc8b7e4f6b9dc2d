"""Handover starts: training episodes that begin where another expert leaves the robot.

A composite task hands the robot from one expert to the next in whatever state the first one left it (a stand
expert swaying backwards, a walker at 1 m/s). An expert trained only from HumanoidBench's keyframe reset has never
seen those states, so the hand-over is where routed episodes fall. With ``env.task.handover_start`` a share of the
training episodes first runs the named expert (deterministically) for a random number of control steps (and then,
optionally, a second one: ``then_expert``, a composite task's stop after its walk) and then starts the episode
from the state it reached; the episode's own rewards and termination apply from there on.

This is a wrapper applied by the RLlib env creator (``env_registration.make_seeded_env``) rather than part of the
task, because running an exported expert belongs to this layer, not to ``mwx_ray.envs``. Evaluation never uses
it (``TaskSection.for_evaluation``), so ``hb/return`` keeps HumanoidBench's reset protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from mwx_ray.envs.observation_layout import expert_prefix_width

HANDOVER_INFO_KEY = "handover_steps"  # reset info: control steps the first expert acted (0 = a plain start)


class HandoverStartWrapper(gym.Wrapper):
    """On reset, with probability ``probability``, let ``policy`` act ``steps`` control steps (uniform in
    ``[min, max]``), then ``then = (second policy, its steps)`` if given, before the episode starts; then let the
    task re-place what it sets relative to the robot (``HumanoidEnv.restart_task``: a reach goal, a turn's spot).
    If the robot falls (or the episode ends) during that prelude, the episode starts from a plain reset instead, so
    a weak first expert costs starts, not training data. Each prelude expert reads its own slice of the
    observation (a walker reads the robot state of a reach task's)."""

    def __init__(self, env: gym.Env, policy, *, probability: float, steps: tuple[int, int],
                 then: tuple[Any, tuple[int, int]] | None = None):
        super().__init__(env)
        self.acts = [self._prelude_act(env, policy, steps, "handover_start")]
        if then is not None:
            self.acts.append(self._prelude_act(env, then[0], then[1], "handover_start.then_expert"))
        self.probability = float(probability)
        self._rng = np.random.default_rng()

    @staticmethod
    def _prelude_act(env: gym.Env, policy, steps: tuple[int, int], name: str):
        """(policy, the observation slice it reads, its [min, max] steps); ValueError when it cannot act here."""
        try:
            width = expert_prefix_width(env, policy.manifest["env_id"], policy.obs_dim, expert_name=name)
        except ValueError as error:
            raise ValueError(f"{name}: the expert cannot act in this task: {error}") from None
        return policy, slice(0, width), (int(steps[0]), int(steps[1]))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:  # the prelude's draws follow the env's seed, from their own stream
            self._rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(7,)))
        obs, info = self.env.reset(seed=seed, options=options)
        if self._rng.random() >= self.probability:
            return obs, {**info, HANDOVER_INFO_KEY: 0}
        total = 0
        for policy, observed, (low, high) in self.acts:
            steps = int(self._rng.integers(low, high + 1))
            for _ in range(steps):
                obs, _, terminated, truncated, info = self.env.step(policy.act(obs[observed]))
                if terminated or truncated:
                    obs, info = self.env.reset(options=options)
                    return obs, {**info, HANDOVER_INFO_KEY: 0}
            total += steps
        restart = getattr(self.env.unwrapped, "restart_task", None)
        if restart is not None:
            obs = restart()
        return obs, {**info, HANDOVER_INFO_KEY: total}


def wrap_handover_start(env: gym.Env, task: Mapping[str, Any] | None) -> gym.Env:
    """``env`` wrapped for the ``handover_start`` of ``task`` (``env.task`` settings, plain or partial) when its
    probability is > 0."""
    from mwx_ray.envs.registry import task_settings

    settings = task_settings(task).handover_start
    if settings.probability <= 0 or settings.expert is None:
        return env
    from mwx_ray.experts.registry import load_expert

    policy, _ = load_expert(settings.expert)
    then = None
    if settings.then_expert is not None:
        then = (load_expert(settings.then_expert)[0], (settings.then_steps[0], settings.then_steps[1]))
    return HandoverStartWrapper(env, policy, probability=settings.probability,
                                steps=(settings.steps[0], settings.steps[1]), then=then)
