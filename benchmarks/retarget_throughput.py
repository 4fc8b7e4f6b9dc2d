"""Throughput of the retargeting operator M, and the imitation reward's overhead per env step.

Prints:
  1. operator M frames/s (warm: model compiled, first call done) per synthetic skill and for the whole pipeline
     (frame conversion + scale fitting + ground contact + warm-started IK + error stats), and the IK iterations it
     took on average;
  2. per env step: plain HumanoidBench step (µs), imitation-variant step (µs), their ratio; and the tracking part
     alone (ImitationTask.reward minus the base task's reward, called on the same state) as a fraction of the plain
     env step. Same seeded random actions for both envs.

Run:  PYTHONPATH=. python benchmarks/retarget_throughput.py [--steps 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mwx_ray.envs import make_env
from mwx_ray.motion import generate_synthetic
from mwx_ray.motion.retarget import RetargetSettings, retarget


def retarget_rates(skills: list[str], rounds: int) -> None:
    retarget(generate_synthetic("stand", n_cycles=1))  # warm-up: compiles the kinematic model
    print("operator M (synthetic human motion -> H1, default settings):")
    print(f"  {'skill':<11} {'frames':>6} {'frames/s':>9} {'IK err cm':>9}")
    total_frames, total_s = 0, 0.0
    for skill in skills:
        human = generate_synthetic(skill)
        best = float("inf")
        for _ in range(rounds):
            start = time.perf_counter()
            result = retarget(human, RetargetSettings())
            best = min(best, time.perf_counter() - start)
        total_frames += human.num_frames
        total_s += best
        error_cm = 100 * result.clip.provenance["retarget"]["keypoint_error_m"]["mean"]
        print(f"  {skill:<11} {human.num_frames:>6} {human.num_frames / best:>9,.0f} {error_cm:>9.2f}")
    print(f"  {'all':<11} {total_frames:>6} {total_frames / total_s:>9,.0f}")


def step_times(env_id: str, actions: np.ndarray) -> float:
    """Seconds per env step over the action sequence (resets excluded)."""
    env = make_env(env_id)
    env.reset(seed=0)
    elapsed = 0.0
    for action in actions:
        start = time.perf_counter()
        _, _, terminated, truncated, _ = env.step(action)
        elapsed += time.perf_counter() - start
        if terminated or truncated:
            env.reset()
    env.close()
    return elapsed / len(actions)


def reward_overhead(env_id: str, steps: int) -> tuple[float, float]:
    """(s per ImitationTask.reward, s per base task reward) on the same states."""
    env = make_env(env_id)
    env.reset(seed=0)
    task, ctx = env.task, env.ctx
    env.step(np.zeros(env.action_space.shape))
    start = time.perf_counter()
    for _ in range(steps):
        task.reward(ctx)
    full = (time.perf_counter() - start) / steps
    start = time.perf_counter()
    for _ in range(steps):
        task.base_task.reward(ctx)
    base = (time.perf_counter() - start) / steps
    env.close()
    return full, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    retarget_rates(["stand", "walk", "run", "sit", "crawl", "reach_left", "squat"], args.rounds)

    print(f"\nimitation reward overhead ({args.steps} steps, seeded uniform-random actions):")
    print(f"  {'task':<22} {'plain µs':>9} {'imitation µs':>12} {'ratio':>6} {'tracking µs':>11} {'of step':>8}")
    rng = np.random.default_rng(0)
    for plain in ("walk", "reach", "sit_simple"):
        actions = rng.uniform(-1, 1, (args.steps, 19))
        plain_s = min(step_times(plain, actions) for _ in range(args.rounds))
        imitation_s = min(step_times(f"{plain}_imitation", actions) for _ in range(args.rounds))
        full, base = reward_overhead(f"{plain}_imitation", args.steps)
        tracking = full - base
        print(f"  {plain + '_imitation':<22} {1e6 * plain_s:>9.1f} {1e6 * imitation_s:>12.1f} "
              f"{imitation_s / plain_s:>6.3f} {1e6 * tracking:>11.1f} {tracking / plain_s:>8.1%}")


if __name__ == "__main__":
    main()
