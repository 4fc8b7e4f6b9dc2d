"""PPO or SAC training throughput (sampling + learning) on mwx/h1-walk-v0 vs the raw env, measured in the same run.

Prints, for 1 and 2 remote EnvRunners (the PPO settings of tune_configs/experts/walk.yaml: 256x256 tanh, MeanStdFilter, 32 x 10 minibatch steps per 8192) — or with
``--algorithm sac`` for 0 (sampling in the driver) and 1 EnvRunner, SAC as in sac_walk.yaml (256x256 ReLU,
replay ratio ``--replay-ratio``, batch 256, uniform replay, 4-step sample calls), iterations of ``--batch`` steps
after a first iteration that fills the buffer up to the learning start:
    train steps/s = sampled env steps ÷ wall time of ``algo.train()`` (sampling + learning, after 1 warm-up
    iteration); sample-only steps/s = the runners sampling a batch in parallel without learning; each as a
    ratio to raw env steps/s, a plain ``env.step`` loop with random actions in this process (one core, no
    policy, no Ray).
A ratio near 1 means training costs no more than simulating; on 2 cores the Learner's SGD epochs compete
with sampling, so 2 runners help only when sampling dominates. RLlib's SAC alternates sampling and updates in
one process (``DQN.training_step``), so its ratio is set by the per-update cost times the replay ratio.

Run:  PYTHONPATH=. python benchmarks/train_throughput.py [--batch 4096] [--iters 3] [--runners 1,2]
      PYTHONPATH=. python benchmarks/train_throughput.py --algorithm sac [--replay-ratio 0.25] [--batch 1000]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

ENV_ID = "mwx/h1-walk-v0"
WALK_CONFIG = Path(__file__).resolve().parents[1] / "tune_configs" / "experts" / "walk.yaml"


def raw_env_steps_per_s(steps: int) -> float:
    """Env steps/s of a random-action loop on one core (resets on termination/truncation)."""
    from mwx_ray.envs import make_env

    env = make_env(ENV_ID)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, size=(steps, *env.action_space.shape))
    env.reset(seed=0)
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    elapsed = time.perf_counter() - start
    env.close()
    return steps / elapsed


def timed_train(algo, iters: int) -> tuple[int, float]:
    """(env steps sampled, wall seconds) over ``iters`` calls of ``algo.train()`` (sampling + learning)."""
    from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED

    steps, elapsed = 0, 0.0
    for _ in range(iters):
        start = time.perf_counter()
        result = algo.train()
        elapsed += time.perf_counter() - start
        steps += int(result[ENV_RUNNER_RESULTS][NUM_ENV_STEPS_SAMPLED])
    return steps, elapsed


def sampled_steps(runner, num_timesteps: int) -> int:
    """Runs on an EnvRunner: sample ``num_timesteps`` with the current policy, return env steps taken."""
    return sum(len(episode) for episode in runner.sample(num_timesteps=num_timesteps, explore=True))


def ppo_env_steps_per_s(runners: int, batch: int, iters: int, envs_per_runner: int) -> tuple[float, float]:
    """(env steps/s of ``algo.train()``, env steps/s of sampling alone) with ``runners`` remote EnvRunners.

    Sampling alone = all runners sampling ``batch`` steps in parallel with the current policy (inference +
    MeanStdFilter + env), no learning: the ceiling ``algo.train()`` approaches as learning gets cheaper.
    """

    from mwx_ray.config import load_config
    from mwx_ray.config.schema import ResourcesSection
    from mwx_ray.experts.ppo import build_ppo_config

    # the tuned walk expert's PPO (minibatches, epochs, networks) with this benchmark's batch size
    tuned = load_config(WALK_CONFIG).config.experts.ppo_for("walk")
    ppo = dataclasses.replace(tuned, train_batch_size_per_learner=batch,
                              minibatch_size=min(tuned.minibatch_size, batch))
    # Logical CPUs: 1 for the driver + Learner, 1 shared by the runners, so any count fits 2 cores.
    resources = ResourcesSection(env_runners_per_trial=runners, envs_per_env_runner=envs_per_runner,
                                 cpus_per_env_runner=1.0 / runners, cpus_per_learner=1.0)
    algo = build_ppo_config(ENV_ID, seed=0, ppo=ppo, resources=resources).build_algo()
    try:
        algo.train()  # warm-up: actor start, first weight sync, torch lazy init
        steps, elapsed = timed_train(algo, iters)
        per_runner = batch // runners
        start = time.perf_counter()
        counts = algo.env_runner_group.foreach_env_runner(
            lambda runner: sampled_steps(runner, per_runner), local_env_runner=False)
        sampling_rate = sum(counts) / (time.perf_counter() - start)
        return steps / elapsed, sampling_rate
    finally:
        algo.stop()


def sac_env_steps_per_s(runners: int, batch: int, iters: int, envs_per_runner: int,
                        replay_ratio: float) -> tuple[float, float]:
    """(env steps/s of ``algo.train()`` with learning, env steps/s of sampling alone) for SAC.

    The warm-up iteration samples ``batch`` steps without learning (learning starts right after it), so every
    timed iteration does ``replay_ratio`` updates per env step on a non-empty buffer.
    """
    import torch

    from mwx_ray.config.sac_schema import SACSection
    from mwx_ray.config.schema import ResourcesSection
    from mwx_ray.experts.sac import build_sac_config

    # One torch thread, as in a Tune trial holding 1 CPU (Ray sets OMP_NUM_THREADS to the actor's CPUs): here the
    # Learner runs in this driver, and 2 threads on a busy 2-core box make every small update slower.
    torch.set_num_threads(1)
    sac = SACSection(replay_ratio=replay_ratio, min_sample_timesteps_per_iteration=batch,
                     num_steps_sampled_before_learning_starts=batch)
    resources = ResourcesSection(env_runners_per_trial=runners, envs_per_env_runner=envs_per_runner,
                                 cpus_per_env_runner=1.0, cpus_per_learner=1.0)
    algo = build_sac_config(ENV_ID, seed=0, sac=sac, resources=resources).build_algo()
    try:
        algo.train()  # warm-up: fills the buffer to the learning start
        steps, elapsed = timed_train(algo, iters)
        start = time.perf_counter()
        counts = algo.env_runner_group.foreach_env_runner(
            lambda runner: sampled_steps(runner, batch), local_env_runner=runners == 0)
        sampling_rate = sum(counts) / (time.perf_counter() - start)
        return steps / elapsed, sampling_rate
    finally:
        algo.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algorithm", choices=("ppo", "sac"), default="ppo")
    parser.add_argument("--batch", type=int, help="env steps per iteration (default: PPO 4096, SAC 1000)")
    parser.add_argument("--iters", type=int, default=3, help="timed iterations per configuration")
    parser.add_argument("--runners", help="comma-separated EnvRunner counts (default: PPO 1,2; SAC 0,1)")
    parser.add_argument("--replay-ratio", type=float, default=0.25, help="SAC: gradient updates per env step")
    parser.add_argument("--envs-per-runner", type=int, default=1)
    parser.add_argument("--raw-steps", type=int, default=5000, help="steps of the raw env measurement")
    args = parser.parse_args()
    sac = args.algorithm == "sac"
    batch = args.batch or (1000 if sac else 4096)
    runner_counts = [int(n) for n in (args.runners or ("0,1" if sac else "1,2")).split(",")]

    import ray

    raw = raw_env_steps_per_s(args.raw_steps)
    print(f"raw env ({ENV_ID}, random actions, 1 core): {raw:,.0f} env steps/s")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        label = f"SAC, replay ratio {args.replay_ratio:g}" if sac else "PPO"
        print(f"{label}, {batch} env steps per iteration")
        print(f"{'env runners':>11} {'envs/runner':>11} {'train steps/s':>13} {'ratio to raw':>12} "
              f"{'sample-only steps/s':>19} {'ratio to raw':>12}")
        for runners in runner_counts:
            if sac:
                rate, sampling = sac_env_steps_per_s(runners, batch, args.iters, args.envs_per_runner,
                                                     args.replay_ratio)
            else:
                rate, sampling = ppo_env_steps_per_s(runners, batch, args.iters, args.envs_per_runner)
            print(f"{runners:>11} {args.envs_per_runner:>11} {rate:>13,.0f} {rate / raw:>12.3f} "
                  f"{sampling:>19,.0f} {sampling / raw:>12.3f}")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
