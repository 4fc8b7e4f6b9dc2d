"""``mwx eval``: deterministic evaluation of an exported expert: HumanoidBench return, success rate, video."""

from __future__ import annotations

import math
from pathlib import Path

from mwx_ray.commands.common import add_subcommand

EXAMPLES = """  mwx eval runs/registry:walk --episodes 5
  mwx eval runs/registry/walk --task mwx/h1-walk-v0 --episodes 10 --seed 3 --video runs/videos/walk.mp4
  mwx eval runs/registry:stand --episodes 3 --no-video
  mwx eval zoo:walkup --after zoo:crawl --after-steps 100 300 --episodes 20 --no-video
  mwx eval zoo:sit --start-states tune_configs/experts/start_states/walk_to_chair_sit-sit.npz --episodes 40 --no-video
"""


def register(subparsers) -> None:
    parser = add_subcommand(subparsers, "eval", "deterministic evaluation of an expert: return, success, video",
                            EXAMPLES, run)
    parser.add_argument("expert", help="expert folder, <registry dir>:<skill>, or a router checkpoint folder")
    parser.add_argument("--task", help="task name or env id (default: the env the expert was trained on)")
    parser.add_argument("--episodes", type=int, required=True, help="number of episodes")
    parser.add_argument("--seed", type=int, default=0, help="reset seed of episode 0 (episode i uses seed + i)")
    parser.add_argument("--video", help="mp4 of the last episode (default runs/videos/eval-<expert>-<task>.mp4)")
    parser.add_argument("--video-steps", type=int, default=250, help="env steps filmed (50 per second on H1)")
    parser.add_argument("--no-video", action="store_true", help="do not render a video")
    parser.add_argument("--after", metavar="EXPERT", help="take over from this expert: in every episode it acts "
                        "first for --after-steps control steps, then the evaluated expert (how well it takes "
                        "over, e.g. in a composite task; the return includes the first expert's steps)")
    parser.add_argument("--after-steps", type=int, nargs=2, default=(25, 150), metavar=("MIN", "MAX"),
                        help="control steps the --after expert acts, drawn uniformly per episode (default 25 150)")
    parser.add_argument("--start-states", metavar="NPZ", help="start every episode in one of these recorded states "
                        "(`mwx rollouts start-states`: where a composite task's stage begins), drawn per episode: "
                        "how well the expert takes over the robot as that task hands it over")
    parser.add_argument("--action-smoothing", type=float, help="router checkpoints: evaluate with this "
                        "router.transitions.action_smoothing instead of the trained one (its effect, no retraining)")
    parser.add_argument("--fallback", help="router checkpoints: evaluate with this expert as the stabiliser "
                        "fallback (router.transitions.fallback_expert; 'none' turns it off)")
    parser.add_argument("--gating", choices=("soft", "hard"), help="router checkpoints: evaluate with this gating "
                        "instead of the trained one (hard: the top-1 expert of the router's weights)")
    parser.add_argument("--switch-hold", type=int, metavar="STEPS", help="router checkpoints under hard gating: "
                        "another expert takes over only after being the top choice this many steps in a row "
                        "(router.transitions.switch_hold_steps; 0 = off)")


def _env_id(task: str) -> str:
    """A registered mwx task name or id -> its canonical id; other registered gymnasium ids pass through."""
    import gymnasium

    from mwx_ray.envs import resolve_env_id
    from mwx_ray.errors import UnknownNameError

    try:
        return resolve_env_id(task)
    except UnknownNameError:
        if task in gymnasium.registry:
            return task
        raise


def _handover_wrapper(first_expert: str, steps: tuple[int, int]):
    """Env wrapper: ``first_expert`` acts ``steps`` (uniform in [min, max]) control steps after every reset (the
    training envs' handover start, with probability 1)."""
    from mwx_ray.config import ConfigError
    from mwx_ray.envs.registry import task_settings
    from mwx_ray.experts.handover import wrap_handover_start

    settings = {"handover_start": {"probability": 1.0, "expert": first_expert, "steps": list(steps)}}
    try:
        task_settings(settings)  # fail before any env is built
    except ConfigError as err:
        raise SystemExit(f"mwx eval: --after/--after-steps: {err}") from err
    return lambda env: wrap_handover_start(env, settings)


def _from_recorded_states(env_kwargs: dict, path: str, env_id: str) -> dict:
    """``env_kwargs`` whose every episode starts in a state of the start-states file ``path``; SystemExit naming
    the file or key when it cannot."""
    from mwx_ray.config import ConfigError
    from mwx_ray.envs.registry import task_settings

    if not env_id.startswith("mwx/"):
        raise SystemExit(f"mwx eval: --start-states needs an mwx task, not {env_id}")
    task = {**env_kwargs.get("task", {}), "start_states": {"path": path, "probability": 1.0}}
    try:
        task_settings(task)  # fail before any env is built
    except ConfigError as err:
        raise SystemExit(f"mwx eval: --start-states: {err}") from err
    return {**env_kwargs, "task": task}


def _act_on_its_slice(policy, env_id: str, name: str, env_kwargs: dict):
    """``policy.act`` fed the part of ``env_id``'s observation (built with ``env_kwargs``: the expert's own task
    settings, e.g. its phase clock) the expert was trained on (a stand expert reads the robot state of a reach
    task's observation); SystemExit naming both layouts when it cannot act there."""
    from mwx_ray.envs import make_env
    from mwx_ray.envs.observation_layout import expert_prefix_width

    probe = make_env(env_id, task=env_kwargs.get("task"))
    try:
        width = expert_prefix_width(probe, policy.manifest["env_id"], policy.obs_dim, expert_name=name)
    except ValueError as err:
        raise SystemExit(f"mwx eval: {err}") from err
    finally:
        probe.close()
    if width == int(probe.observation_space.shape[0]):
        return policy.act
    return lambda obs: policy.act(obs[..., :width])


def run(args) -> int:
    from mwx_ray.experts.evaluation import evaluate_policy, expert_eval_env_kwargs
    from mwx_ray.experts.registry import load_expert

    if args.episodes < 1:
        print("mwx eval: --episodes must be >= 1")
        return 2
    from mwx_ray.commands.eval_router import is_router_checkpoint, run_router_checkpoint

    if is_router_checkpoint(args.expert):  # router checkpoints (mwx train-router): separate path
        return run_router_checkpoint(args)
    policy, about = load_expert(args.expert)
    task = args.task or about["env_id"]
    env_id = _env_id(task)
    name = about["skill"] or Path(about["folder"]).name
    video = None if args.no_video else Path(
        args.video or f"runs/videos/eval-{name}-{env_id.split('/')[-1]}.mp4")
    print(f"expert {name} ({about['folder']}) on {env_id}: {args.episodes} episodes from seed {args.seed}")
    env_kwargs = expert_eval_env_kwargs(policy.manifest, args.task) if env_id.startswith("mwx/") else {}
    if args.start_states:
        env_kwargs = _from_recorded_states(env_kwargs, args.start_states, env_id)
    wrap_env = _handover_wrapper(args.after, args.after_steps) if args.after else None
    act = _act_on_its_slice(policy, env_id, name, env_kwargs) if env_id.startswith("mwx/") else policy.act
    result = evaluate_policy(act, env_id, episodes=args.episodes, seed=args.seed, video_path=video,
                             video_steps=args.video_steps, env_kwargs=env_kwargs, wrap_env=wrap_env)
    successes = "n/a (env reports none)" if math.isnan(result.success_rate) else (
        f"{result.success_rate:.0%} ({round(result.success_rate * args.episodes)}/{args.episodes})")
    mean_len = sum(result.episode_lengths) / len(result.episode_lengths)
    print(f"return {result.return_mean:.2f} ± {result.return_std:.2f} (HumanoidBench episode return)")
    print(f"success {successes}; mean episode length {mean_len:.0f} steps; fell in {result.falls}/{args.episodes}"
          + (f" after taking over from {args.after}" if args.after else "")
          + (f" from the recorded states of {args.start_states}" if args.start_states else ""))
    if result.reward_term_means:
        terms = ", ".join(f"{k} {v:.3f}" for k, v in result.reward_term_means.items())
        print(f"reward terms (per-step mean): {terms}")
    if "hb/return" in about["metrics"]:
        print(f"registry hb/return at export: {about['metrics']['hb/return']:.2f}")
    print(f"video: {result.video_path}" if result.video_path else "video: none (--no-video)")
    return 0
