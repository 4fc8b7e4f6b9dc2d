"""Training throughput of the experts' RLlib PPO and fastsac next to stable-baselines3 PPO/SAC and the raw env, all
measured in one run on ``mwx/h1-walk-v0`` (env steps per second of wall time, sampling + learning).

Systems (every one is built first, then timed in interleaved rounds, so a machine whose load changes during the
run affects all of them alike; each figure is the median over rounds):
- ``raw env``: a plain ``env.step`` loop with random actions in this process (one core, no policy, no Ray);
- ``rllib ppo RxE``: ``build_ppo_config`` with the tuned expert PPO of ``tune_configs/experts/stand.yaml``
  (8192 steps per iteration, 32 × 10 minibatches of 256, 256x256 tanh), R remote env runners (0 = sampling in
  this process) × E envs each, a trailing ``p`` (``1x8p``) with ``experts.ppo.pipelined`` (sampling overlapped
  with the learner update, ``mwx_ray/experts/pipelined_ppo.py``); ``--ppo-baseline RxE`` adds the same with RLlib's own MeanStdFilter,
  NormalizeAndClipActions and PPOTorchLearner (the pieces mwx replaced), for the before/after ratio;
- ``sb3 ppo``: stable-baselines3 PPO, one process, 8 envs (DummyVecEnv + VecNormalize for the obs, as the
  MeanStdFilter), 8192 steps per iteration, 32 × 10 minibatches, 256x256 tanh;
- ``sb3 sac`` and ``fastsac RxE``: update-to-data ratio 1 (``--replay-ratio``), batch 256, 256x256 ReLU actor and
  two 256x256 critics on concat(obs, action); SB3 with one env stepping once per update, fastsac sampling
  8-step fragments per env; both start learning after ``--sac-warmup`` env steps (outside the timing);
- ``rllib sac`` (``--rllib-sac``): RLlib's SAC with the same settings (slow: keep ``--sac-steps`` small);
- ``--sweep N``: what a laptop sweep gets, N trials at once, each in its own Ray actor with one torch thread:
  ``sweep N x rllib ppo 0xE`` (N single-process mwx PPO trials, ``--sweep-envs`` envs each, the layout of
  ``crawl_anneal.yaml``) against ``sweep N x sb3 ppo`` (N stable-baselines3 PPO processes); a chunk is one
  iteration of every trial, and the figure is their env steps over the wall time until the last one finishes.

Fairness: every learner uses ``--torch-threads`` torch threads (default 2: sampling and learning take turns, so each
learner has both cores while it trains; 1 for a trial with one learner CPU next to busy ones); Ray
workers run at the driver's niceness (``RAY_worker_niceness=0``; Ray's default 15 would favour the in-process
SB3 peer on a busy machine); Ray gets 16 logical CPUs so every system fits at once (there are still only the
machine's physical cores). ``--gpus-per-learner`` puts the RLlib learners on cuda (``resources.gpus_per_learner``)
and SB3 on cuda too; the table prints each learner's device.

Run:  PYTHONPATH=. python benchmarks/train_throughput.py [--rounds 5] [--ppo-layouts 1x8,2x16] [--ppo-baseline 1x8]
      needs the optional `bench` extra for the peers: pip install -e '.[bench]'
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import time
from pathlib import Path

import numpy as np

ENV_ID = "mwx/h1-walk-v0"
TUNED_PPO = Path(__file__).resolve().parents[1] / "tune_configs" / "experts" / "stand.yaml"


def raw_env_steps(steps: int) -> tuple[int, float]:
    """(steps, seconds) of a random-action loop on one core (resets on termination/truncation)."""
    import gymnasium as gym

    import mwx_ray.envs  # noqa: F401  (registers the mwx/ ids)

    env = gym.make(ENV_ID)
    actions = np.random.default_rng(0).uniform(-1, 1, size=(steps, *env.action_space.shape))
    env.reset(seed=0)
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    elapsed = time.perf_counter() - start
    env.close()
    return steps, elapsed


@dataclasses.dataclass
class System:
    """One trainer under test: ``chunk()`` trains a little and returns (env steps, seconds)."""

    name: str
    peer: str | None  # name of the system its ratio is taken against
    device: str
    chunk: object
    close: object = None
    rates: list[float] = dataclasses.field(default_factory=list)


def layout(text: str) -> tuple[int, int]:
    runners, envs = text.lower().removesuffix("p").split("x")
    return int(runners), int(envs)


def resources(text: str, args):
    from mwx_ray.config.schema import ResourcesSection

    runners, envs = layout(text)
    return ResourcesSection(env_runners_per_trial=runners, envs_per_env_runner=envs, cpus_per_env_runner=1.0,
                            cpus_per_learner=1.0, gpus_per_learner=args.gpus_per_learner,
                            torch_threads_per_learner=args.torch_threads)


def learner_device(algo) -> str:
    return [str(r.get()) for r in algo.learner_group.foreach_learner(lambda learner: learner._device)][0]


def train_chunk(algo):
    from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED

    def chunk() -> tuple[int, float]:
        start = time.perf_counter()
        result = algo.train()
        return int(result[ENV_RUNNER_RESULTS][NUM_ENV_STEPS_SAMPLED]), time.perf_counter() - start
    return chunk


def rllib_ppo(text: str, args, *, rllib_pieces: bool) -> System:
    from mwx_ray.config import load_config
    from mwx_ray.experts.ppo import build_ppo_config

    ppo = dataclasses.replace(load_config(TUNED_PPO).config.experts.ppo_for("stand"),
                              pipelined=text.lower().endswith("p"))
    config = build_ppo_config(ENV_ID, seed=0, ppo=ppo, resources=resources(text, args))
    if rllib_pieces:
        from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
        from ray.rllib.connectors.env_to_module.mean_std_filter import MeanStdFilter

        def rllib_filter(env=None, spaces=None, device=None):
            return MeanStdFilter(multi_agent=False, clip_by_value=ppo.obs_clip)

        config.env_runners(env_to_module_connector=rllib_filter, module_to_env_connector=None,
                           add_default_connectors_to_env_to_module_pipeline=True,
                           add_default_connectors_to_module_to_env_pipeline=True)
        config.learners(learner_class=PPOTorchLearner)
    algo = config.build_algo()
    algo.train()  # warm-up: actor start, first weight sync, torch lazy init
    name = f"rllib ppo {text}" + (" (RLlib's pieces)" if rllib_pieces else "")
    return System(name, "sb3 ppo", learner_device(algo), train_chunk(algo), algo.stop)


def fastsac(text: str, args) -> System:
    from mwx_ray.config.fastsac_schema import FastSACSection
    from mwx_ray.experts.fastsac import build_fastsac_config

    section = FastSACSection(replay_ratio=args.replay_ratio, num_steps_sampled_before_learning_starts=args.sac_warmup,
                             min_sample_timesteps_per_iteration=args.sac_steps)
    algo = build_fastsac_config(ENV_ID, seed=0, fastsac=section, resources=resources(text, args)).build_algo()
    while [r.get() for r in algo.learner_group.foreach_learner(lambda learner: learner.replay.size)][0] \
            < args.sac_warmup:
        algo.train()  # fills the buffer to the learning start (the last of these iterations starts learning)
    return System(f"fastsac {text}", "sb3 sac", learner_device(algo), train_chunk(algo), algo.stop)


def rllib_sac(args) -> System:
    from mwx_ray.config.sac_schema import SACSection
    from mwx_ray.experts.sac import build_sac_config

    section = SACSection(replay_ratio=args.replay_ratio, num_steps_sampled_before_learning_starts=args.sac_warmup,
                         min_sample_timesteps_per_iteration=args.sac_steps)
    algo = build_sac_config(ENV_ID, seed=0, sac=section, resources=resources("0x1", args)).build_algo()
    for _ in range(-(-args.sac_warmup // args.sac_steps)):
        algo.train()  # up to the learning start
    return System("rllib sac 0x1", "sb3 sac", learner_device(algo), train_chunk(algo), algo.stop)


def sb3_installed() -> bool:
    try:
        import stable_baselines3  # noqa: F401
    except ImportError:
        print("stable-baselines3 is not installed: skipping the peer (pip install -e '.[bench]')")
        return False
    return True


def sb3_systems(args) -> list[System]:
    """stable-baselines3 PPO and SAC, or [] with a message when the optional dependency is missing."""
    if not sb3_installed():
        return []
    import gymnasium as gym
    import stable_baselines3
    from stable_baselines3 import SAC

    import mwx_ray.envs  # noqa: F401

    device = "cuda" if args.gpus_per_learner > 0 else "cpu"
    print(f"stable-baselines3 {stable_baselines3.__version__}")
    ppo = sb3_ppo_trainer(device)

    sac = SAC("MlpPolicy", gym.make(ENV_ID), batch_size=256, learning_starts=args.sac_warmup, train_freq=1,
              gradient_steps=max(1, round(args.replay_ratio)), policy_kwargs=dict(net_arch=[256, 256]), seed=0,
              device=device, verbose=0)
    sac.learn(args.sac_warmup + 100)

    def sac_chunk() -> tuple[int, float]:
        start = time.perf_counter()
        sac.learn(args.sac_steps, reset_num_timesteps=False)
        return args.sac_steps, time.perf_counter() - start

    return [System("sb3 ppo", None, device, ppo), System("sb3 sac", None, str(sac.device), sac_chunk)]


def sb3_ppo_trainer(device: str = "cpu", seed: int = 0):
    """A warmed-up stable-baselines3 PPO on the tuned expert settings; returns its ``chunk()`` (one iteration)."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    import mwx_ray.envs  # noqa: F401

    envs = VecNormalize(make_vec_env(ENV_ID, n_envs=8, seed=seed), norm_obs=True, norm_reward=False)
    ppo = PPO("MlpPolicy", envs, n_steps=1024, batch_size=256, n_epochs=10, learning_rate=3e-4, gamma=0.99,
              gae_lambda=0.95, clip_range=0.2, max_grad_norm=0.5,
              policy_kwargs=dict(net_arch=dict(pi=[256, 256], vf=[256, 256]), activation_fn=torch.nn.Tanh),
              seed=seed, device=device, verbose=0)
    ppo.learn(8192)  # warm-up iteration

    def chunk() -> tuple[int, float]:
        start = time.perf_counter()
        ppo.learn(8192, reset_num_timesteps=False)
        return 8192, time.perf_counter() - start
    return chunk


def mwx_ppo_trainer(envs: int, seed: int = 0):
    """A warmed-up single-process mwx PPO trial (no env runner actor, one torch thread); returns its ``chunk()``."""
    from mwx_ray.config import load_config
    from mwx_ray.config.schema import ResourcesSection
    from mwx_ray.experts.ppo import build_ppo_config

    ppo = load_config(TUNED_PPO).config.experts.ppo_for("stand")
    trial = ResourcesSection(env_runners_per_trial=0, envs_per_env_runner=envs, torch_threads_per_learner=1)
    algo = build_ppo_config(ENV_ID, seed=seed, ppo=ppo, resources=trial).build_algo()
    algo.train()  # warm-up
    return train_chunk(algo)


def sweep(count: int, name: str, peer: str | None, trainer, **kwargs) -> System:
    """``count`` trainers at once, each built by ``trainer(seed=i, **kwargs)`` in its own Ray actor (module docstring)."""
    import ray
    import torch

    @ray.remote(num_cpus=1)
    class Trial:
        def __init__(self, seed: int):
            torch.set_num_threads(1)
            self.chunk = trainer(seed=seed, **kwargs)

        def run(self) -> tuple[int, float]:
            return self.chunk()

    trials = [Trial.remote(seed) for seed in range(count)]
    ray.get([trial.run.remote() for trial in trials])  # every actor built and warm before timing

    def chunk() -> tuple[int, float]:
        start = time.perf_counter()
        steps = sum(steps for steps, _ in ray.get([trial.run.remote() for trial in trials]))
        return steps, time.perf_counter() - start

    def close() -> None:
        for trial in trials:
            ray.kill(trial)
    return System(f"sweep {count} x {name}", peer, "cpu", chunk, close)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (median reported)")
    parser.add_argument("--ppo-layouts", default="1x8,2x16",
                        help="RxE: remote env runners x envs per runner; a trailing p = pipelined sampling")
    parser.add_argument("--ppo-baseline", default="1x8", help="RxE with RLlib's own pieces ('' = skip)")
    parser.add_argument("--fastsac-layouts", default="0x4", help="RxE for fastsac ('' = skip)")
    parser.add_argument("--rllib-sac", action="store_true", help="also time RLlib's SAC (slow)")
    parser.add_argument("--no-sb3", action="store_true", help="skip the stable-baselines3 peers")
    parser.add_argument("--replay-ratio", type=float, default=1.0, help="SAC updates per env step (UTD)")
    parser.add_argument("--sac-warmup", type=int, default=1000, help="env steps before SAC learning starts")
    parser.add_argument("--sac-steps", type=int, default=500, help="env steps per timed SAC chunk")
    parser.add_argument("--sweep", type=int, default=0,
                        help="also time N trials at once, mwx PPO against stable-baselines3 PPO (0 = skip)")
    parser.add_argument("--sweep-envs", type=int, default=16, help="envs per mwx PPO trial of --sweep")
    parser.add_argument("--raw-steps", type=int, default=3000, help="env steps per raw-env chunk")
    parser.add_argument("--torch-threads", type=int, default=2,
                        help="torch threads of every learner (2: a synchronous trial learns while its runners wait)")
    parser.add_argument("--gpus-per-learner", type=float, default=0.0, help="resources.gpus_per_learner")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.torch_threads)  # SB3 and the RLlib local learners run in this process
    os.environ.setdefault("RAY_worker_niceness", "0")
    import ray

    ray.init(num_cpus=16, include_dashboard=False, log_to_driver=False)
    systems = [System("raw env", None, "-", lambda: raw_env_steps(args.raw_steps))]
    try:
        if not args.no_sb3:
            systems += sb3_systems(args)
        systems += [rllib_ppo(t, args, rllib_pieces=True) for t in filter(None, args.ppo_baseline.split(","))]
        systems += [rllib_ppo(t, args, rllib_pieces=False) for t in filter(None, args.ppo_layouts.split(","))]
        systems += [fastsac(t, args) for t in filter(None, args.fastsac_layouts.split(","))]
        if args.rllib_sac:
            systems.append(rllib_sac(args))
        if args.sweep:
            with_peer = not args.no_sb3 and sb3_installed()
            peer = sweep(args.sweep, "sb3 ppo", None, sb3_ppo_trainer) if with_peer else None
            systems += [peer] if peer else []
            systems.append(sweep(args.sweep, f"rllib ppo 0x{args.sweep_envs}", peer and peer.name, mwx_ppo_trainer,
                                 envs=args.sweep_envs))
        for _ in range(args.rounds):
            for system in systems:
                steps, seconds = system.chunk()
                system.rates.append(steps / seconds)
        report(systems, args)
    finally:
        for system in systems:
            if system.close:
                system.close()
        ray.shutdown()


def report(systems: list[System], args) -> None:
    rate = {s.name: statistics.median(s.rates) for s in systems}
    raw = rate["raw env"]
    print(f"{ENV_ID}: env steps/s (median of {args.rounds} interleaved rounds), torch threads {args.torch_threads}, "
          f"SAC update-to-data {args.replay_ratio:g}")
    print(f"{'system':<34} {'device':<7} {'steps/s':>9} {'÷ raw env':>10} {'÷ peer':>8}  peer")
    for s in systems:
        peer = f"{rate[s.name] / rate[s.peer]:8.2f}  {s.peer}" if s.peer in rate else f"{'-':>8}"
        print(f"{s.name:<34} {s.device:<7} {rate[s.name]:9,.0f} {rate[s.name] / raw:10.3f} {peer}")
    base = [s.name for s in systems if "RLlib's pieces" in s.name]
    for s in systems:
        if base and s.name.startswith("rllib ppo") and s.name not in base:
            print(f"{s.name} ÷ {base[0]}: {rate[s.name] / rate[base[0]]:.2f}")


if __name__ == "__main__":
    main()
