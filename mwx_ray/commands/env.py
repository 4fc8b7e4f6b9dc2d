"""``mwx env``: list the registered tasks, check an env's contract, record a rollout video."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mwx_ray.commands.common import add_overrides_argument, add_subcommand

LIST_EXAMPLES = """  mwx env list
"""
CHECK_EXAMPLES = """  mwx env check mwx/h1-walk-v0
  mwx env check sit_hard --steps 1000 --seed 3
  mwx env check walk_imitation --set env.task.clip=runs/motion/my_walk.npz      any env.task setting applies
  mwx env check walk_imitation --config tune_configs/experts/walk.yaml          the settings a config trains with
"""
VIDEO_EXAMPLES = """  mwx env video mwx/h1-walk-v0 --policy zero
  mwx env video crawl --policy random --steps 300 --out runs/videos/crawl.mp4
"""


def register(subparsers) -> None:
    env = subparsers.add_parser("env", help="list, check and film the environments",
                                description="List, check and film the environments.")
    actions = env.add_subparsers(dest="env_command", metavar="<action>", required=True)
    add_subcommand(actions, "list", "registered tasks with ids, episode length and success bar", LIST_EXAMPLES,
                   run_list)
    check = add_subcommand(actions, "check", "contract checks: gymnasium checker, determinism, reward ranges",
                           CHECK_EXAMPLES, run_check)
    check.add_argument("env_id", help="env id (mwx/h1-walk-v0) or task name (walk)")
    check.add_argument("--seed", type=int, default=0)
    check.add_argument("--steps", type=int, default=300, help="random-action steps for the reward ranges")
    add_task_settings_arguments(check)
    video = add_subcommand(actions, "video", "render a rollout of a simple policy to mp4", VIDEO_EXAMPLES,
                           run_video)
    video.add_argument("env_id", help="env id (mwx/h1-walk-v0) or task name (walk)")
    video.add_argument("--policy", choices=["zero", "random"], default="zero",
                       help="zero = middle of every joint range; random = uniform actions")
    video.add_argument("--steps", type=int, default=150, help="env steps (50 per second of video)")
    video.add_argument("--seed", type=int, default=0)
    video.add_argument("--quality", choices=["fast", "video"], default="video", help="render preset")
    video.add_argument("--out", help="mp4 path (default runs/videos/<task>-<policy>.mp4)")
    add_task_settings_arguments(video)


def add_task_settings_arguments(parser) -> None:
    """``--config`` / ``--set``: the env is built with that config's ``env.task`` settings (name from the id)."""
    parser.add_argument("--config", help="YAML whose env.task settings build the env (default: schema defaults)")
    add_overrides_argument(parser)


def task_settings(args):
    """The ``env.task`` section of ``--config``/``--set`` with ``name`` = the env id argument."""
    from dataclasses import replace

    from mwx_ray.config import load_config
    from mwx_ray.envs.registry import resolve_env_id

    task = load_config(args.config, args.overrides).config.env.task
    return replace(task, name=resolve_env_id(args.env_id))


def run_list(args) -> int:
    from mwx_ray.envs.registry import task_entries

    header = ("env id", "steps", "success when", "description")
    rows = [(e.env_id, str(e.task_cls.episode_steps), e.task_cls.success_criterion(), e.task_cls.description)
            for e in task_entries()]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3])
    return 0


def run_check(args) -> int:
    from mwx_ray.envs.checks import check_env

    report = check_env(args.env_id, seed=args.seed, steps=args.steps, task=task_settings(args))
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


def run_video(args) -> int:
    from mwx_ray.envs.registry import make_env, resolve_env_id
    from mwx_ray.video_io import write_mp4

    env_id = resolve_env_id(args.env_id)
    out = Path(args.out or f"runs/videos/{env_id.split('/')[-1]}-{args.policy}.mp4")
    env = make_env(env_id, task=task_settings(args), render_mode="rgb_array", render_quality=args.quality)
    env.reset(seed=args.seed)
    env.action_space.seed(args.seed)
    zero = np.zeros(env.action_space.shape)

    def frames():
        yield env.render()
        for _ in range(args.steps):
            action = zero if args.policy == "zero" else env.action_space.sample()
            _obs, _reward, terminated, truncated, _info = env.step(action)
            yield env.render()
            if terminated or truncated:
                break

    fps = env.metadata["render_fps"]  # 50: 1/dt is 49.999… in floats and ffmpeg would drop a frame
    write_mp4(frames(), out, fps=fps)
    env.close()
    print(f"wrote {out} ({env_id}, policy {args.policy}, {fps:.0f} fps)")
    return 0
