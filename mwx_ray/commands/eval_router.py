"""Router checkpoints in ``mwx eval``: stage success, overall success, return, weights video and timeline plot.

``mwx eval <folder>`` dispatches here when ``<folder>`` holds a router checkpoint (``router.json``, written by
``mwx train-router`` into each trial folder as ``router/``); expert folders keep going to the expert path.
"""

from __future__ import annotations

from pathlib import Path


def is_router_checkpoint(path: str) -> bool:
    from mwx_ray.router.checkpoint import MANIFEST_FILE

    return (Path(path) / MANIFEST_FILE).is_file()


def run_router_checkpoint(args) -> int:
    """``args``: ``expert`` (the checkpoint folder), ``task``, ``episodes``, ``seed``, ``video``,
    ``video_steps``, ``no_video``, ``action_smoothing``, ``fallback``, ``gating``, ``switch_hold`` (the options of
    ``mwx eval``)."""
    from mwx_ray.envs import resolve_env_id
    from mwx_ray.intervals import success_summary
    from mwx_ray.router.checkpoint import load_router_policy, read_router_manifest, router_env_options
    from mwx_ray.router.evaluation import evaluate_router

    folder = Path(args.expert)
    if args.switch_hold is not None and args.switch_hold < 0:
        raise SystemExit(f"mwx eval: --switch-hold {args.switch_hold}: must be >= 0 (0 = off)")
    manifest = read_router_manifest(folder)
    policy = load_router_policy(folder, gating=args.gating, switch_hold_steps=args.switch_hold)
    env_id = resolve_env_id(args.task) if args.task else manifest["task_env_id"]
    name = manifest.get("variant") or folder.parent.name
    video = None if args.no_video else Path(args.video or f"runs/videos/eval-router-{name}-{env_id.split('/')[-1]}.mp4")
    plot = (video.with_suffix(".png") if video else Path(f"runs/videos/eval-router-{name}.png"))
    # "gating" is how the router was saved to run (router.eval.gating); checkpoints from before that option ran as
    # trained and carry no "trained_gating".
    trained = manifest.get("trained_gating", manifest["gating"])
    gating = policy.gating_kind + ("" if policy.gating_kind == trained else f" (trained {trained})") + (
        f", switch hold {policy.switch_hold.hold_steps} steps" if policy.switch_hold is not None else "")
    print(f"router {name} ({folder}, {gating} gating over {policy.names}) on {env_id}: "
          f"{args.episodes} episodes from seed {args.seed}")
    options = with_transition_overrides(router_env_options(manifest), manifest, args.action_smoothing, args.fallback)
    if options["transitions"] != manifest.get("transitions"):
        print(f"hand-over options changed for this evaluation: {options['transitions']}")
    result = evaluate_router(policy, env_id, episodes=args.episodes, seed=args.seed,
                             expert_names=policy.names, video_path=video, video_steps=args.video_steps,
                             plot_path=plot, **options)
    metrics = result.metrics()
    print(f"return {metrics['hb/return']:.2f} ± {metrics['hb/return_std']:.2f} (HumanoidBench episode return)")
    wins = sum(e.success for e in result.episodes)
    print(f"all-stage success {success_summary(wins, len(result.episodes))}; "
          f"mean episode length {metrics['eval/episode_length']:.0f}")
    for stage in result.stage_names:
        print(f"  stage {stage:<16} success {metrics[f'stage_success/{stage}']:.0%}")
    print(transition_summary(metrics))
    usage = ", ".join(f"{n} {metrics.get(f'eval/usage/{n}', float('nan')):.2f}" for n in policy.names)
    print(f"mean router weights: {usage}")
    print(f"weights timeline: {result.plot_path}")
    print(f"video: {result.video_path}, frame strip: {result.strip_path}" if result.video_path
          else "video: none (--no-video)")
    return 0


def transition_summary(metrics: dict) -> str:
    """Switch count, and the per-switch measures only when a switch happened (they are NaN without one)."""
    switches = metrics["transition/switches"]
    if not switches > 0:
        return "stage switches per episode 0: no hand-over to measure"
    return (f"stage switches per episode {switches:.2f}; falls within 1 s of a switch "
            f"{metrics['transition/fall_rate']:.0%} of switches; action jerk around switches "
            f"{metrics['transition/jerk_ratio']:.2f}x the episode mean")


def with_transition_overrides(options: dict, manifest: dict, action_smoothing: float | None,
                              fallback: str | None) -> dict:
    """``router_env_options`` with ``router.transitions`` changed as asked (``mwx eval --action-smoothing`` /
    ``--fallback``): the same trained router, evaluated with another hand-over option."""
    transitions = dict(options.get("transitions") or {})
    if action_smoothing is not None:
        if not 0 <= action_smoothing < 1:
            raise ValueError(f"--action-smoothing {action_smoothing}: must be in [0, 1)")
        transitions["action_smoothing"] = action_smoothing
    folder = options.get("fallback_folder")
    if fallback is not None:
        experts = {e["name"]: e["folder"] for e in manifest["experts"]}
        if fallback != "none" and fallback not in experts:
            raise ValueError(f"--fallback {fallback!r}: not one of the router's experts {sorted(experts)}")
        transitions["fallback_expert"] = None if fallback == "none" else fallback
        folder = None if fallback == "none" else experts[fallback]
    return {**options, "transitions": transitions, "fallback_folder": folder}
