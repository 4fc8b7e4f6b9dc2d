"""Per-step inference latency of the router + K frozen experts vs one expert and vs K separate expert calls.

    PYTHONPATH=. python benchmarks/router_latency.py                 # K = 8 experts, 256x256 tanh, 1 thread
    PYTHONPATH=. python benchmarks/router_latency.py --experts 4 --hidden 128 --threads 2

Experts are random-weight ``ExpertPolicy`` modules with the H1 layouts (51-d locomotion observation, 19-d
action, MeanStdFilter normalizer, unsquash to [-1, 1]) — latency does not depend on trained values. The
router is ``RouterNetwork`` (MLP 256-256, 384-d instruction embedding projected to 32). Measured in the same
process, same inputs, ``torch.no_grad``, median over ``--repeats`` timed calls after warm-up:

* one expert: ``ExpertPolicy.forward`` (normalize + actor MLP + unsquash);
* K separate: K ``ExpertPolicy.forward`` calls, as K independent policies would run;
* router + K: ``RouterPolicy.forward`` (K expert actions + router weights + mixture), what a deployed router does.

Prints µs per step at batch 1 and batch 64 and the ratios; the goal is router + 8 experts < 1 ms at batch 1 on
one core. Then the cost of what the router observes beyond the task: env step of ``stand_walk_stand`` with the
clock and the stage indicator (``router/transitions.py::wrap_router_env``) against the bare composite env, same
zero actions. Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from mwx_ray.config.router_schema import RouterNetSection
from mwx_ray.experts.policy import MANIFEST_FORMAT, ExpertPolicy
from mwx_ray.router.experts_frozen import FrozenExpertPool
from mwx_ray.router.network import RouterNetwork, RouterPolicy, router_spec

OBS_DIM, ACT_DIM, INSTRUCTION_DIM = 51, 19, 384  # H1 locomotion layout; MiniLM width


def random_expert(seed: int, hidden: int) -> ExpertPolicy:
    generator = torch.Generator().manual_seed(seed)
    sizes = [OBS_DIM, hidden, hidden, ACT_DIM]
    tensors = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        tensors[f"actor.{2 * i}.weight"] = torch.randn(n_out, n_in, generator=generator) / n_in**0.5
        tensors[f"actor.{2 * i}.bias"] = torch.zeros(n_out)
    # ExpertPolicy names Linear layers by their index among Linear layers, not by Sequential position.
    tensors = {f"actor.{i}.{kind}": tensors[f"actor.{2 * i}.{kind}"] for i in range(3) for kind in ("weight", "bias")}
    tensors["actor.log_std"] = torch.full((ACT_DIM,), -1.0)
    tensors["normalizer.mean"] = torch.randn(OBS_DIM, generator=generator, dtype=torch.float64)
    tensors["normalizer.std"] = torch.rand(OBS_DIM, generator=generator) + 0.5
    manifest = {
        "format": MANIFEST_FORMAT, "env_id": "mwx/h1-walk-v0",
        "network": {"input_dim": OBS_DIM, "act_dim": ACT_DIM, "free_log_std": True, "log_std_clip_param": 5.0,
                    "hidden_sizes": [hidden, hidden], "activation": "tanh", "head_hidden_sizes": [],
                    "head_activation": "tanh", "output_dim": ACT_DIM},
        "normalizer": {"clip": 10.0, "de_mean": True, "de_std": True},
        "actions": {"normalize_actions": True, "clip_actions": False},
        "action_space": {"low": [-1.0] * ACT_DIM, "high": [1.0] * ACT_DIM},
    }
    return ExpertPolicy(manifest, tensors)


def median_us(fn, repeats: int, warmup: int = 50) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1e3


def router_observation_overhead(steps: int = 2000) -> tuple[float, float]:
    """(bare composite env µs per step, with clock + stage indicator µs per step), zero actions, reset on end."""
    import gymnasium as gym

    import mwx_ray.envs  # noqa: F401 - registers the mwx ids
    from mwx_ray.router.transitions import wrap_router_env

    def run(env) -> float:
        action = np.zeros(env.action_space.shape, np.float32)
        env.reset(seed=0)
        start = time.perf_counter_ns()
        for _ in range(steps):
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
        elapsed = time.perf_counter_ns() - start
        env.close()
        return elapsed / steps / 1e3

    env_id = "mwx/h1-stand_walk_stand-v0"
    bare = run(gym.make(env_id))
    wrapped = run(wrap_router_env(gym.make(env_id), time_feature=True, stage_feature=True))
    return bare, wrapped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experts", type=int, default=8, help="K")
    parser.add_argument("--hidden", type=int, default=256, help="expert hidden width (2 layers)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1 = one CPU core)")
    parser.add_argument("--repeats", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    experts = {f"expert{k}": random_expert(k, args.hidden) for k in range(args.experts)}
    pool = FrozenExpertPool(experts, {name: f"<random {name}>" for name in experts}, task_env_id="mwx/h1-walk-v0",
                            task_obs_dim=OBS_DIM)
    mean, std = pool.pooled_normalizer()
    spec = router_spec(obs_dim=OBS_DIM, num_experts=args.experts, act_dim=ACT_DIM, net=RouterNetSection(),
                       temperature=1.0)
    network = RouterNetwork(spec, instruction=torch.randn(INSTRUCTION_DIM), obs_mean=mean, obs_std=std)
    policy = RouterPolicy(pool, network)
    single = next(iter(experts.values()))

    print(f"K = {args.experts} experts (MLP {OBS_DIM}-{args.hidden}-{args.hidden}-{ACT_DIM} tanh), router MLP "
          f"256-256, torch {torch.__version__}, {args.threads} thread(s); median of {args.repeats} calls")
    print(f"{'batch':>5}  {'one expert µs':>14}  {'K separate µs':>14}  {'router+K µs':>12}  "
          f"{'router+K / one':>14}  {'router+K / K separate':>21}")
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for batch in (1, 64):
            obs = torch.from_numpy(rng.normal(size=(batch, OBS_DIM)))
            one = median_us(lambda x=obs: single(x), args.repeats)
            separate = median_us(lambda x=obs: [e(x) for e in experts.values()], args.repeats)
            routed = median_us(lambda x=obs: policy(x), args.repeats)
            print(f"{batch:>5}  {one:>14.1f}  {separate:>14.1f}  {routed:>12.1f}  {routed / one:>14.2f}  "
                  f"{routed / separate:>21.2f}")
            if batch == 1:
                verdict = "meets" if routed < 1000 else "misses"
                print(f"       router + {args.experts} experts at batch 1: {routed / 1000:.3f} ms per step "
                      f"({verdict} the < 1 ms goal)")
    bare, wrapped = router_observation_overhead()
    print(f"stand_walk_stand env step: {bare:.1f} µs bare, {wrapped:.1f} µs with clock + stage indicator "
          f"(ratio {wrapped / bare:.3f})")


if __name__ == "__main__":
    main()
