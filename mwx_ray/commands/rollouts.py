"""``mwx rollouts collect``: run a policy on a (composite) task and write episode shards with keyframes.
``mwx rollouts start-states``: the robot's states where a stage begins in those shards, as training starts.
``mwx rollouts contacts``: per stage, how many episodes touched a scene body (a chair) and whether they went on."""

from __future__ import annotations

import sys
from pathlib import Path

from mwx_ray.commands.common import add_config_arguments, add_subcommand

COLLECT_EXAMPLES = """  mwx rollouts collect tune_configs/labeling/oracle.yaml
  mwx rollouts collect tune_configs/labeling/oracle.yaml --set labeling.rollouts.policy=zero --set labeling.rollouts.episodes=2
  mwx rollouts collect tune_configs/labeling/oracle.yaml --set env.task=walk_to_chair_sit --set labeling.rollouts.keyframe_every=5
"""

START_STATES_EXAMPLES = """  mwx rollouts start-states runs/rollouts/router-walk_to_chair_sit --stage sit --reference-body chair \\
      --out tune_configs/experts/start_states/walk_to_chair_sit-sit.npz
"""

CONTACTS_EXAMPLES = """  mwx rollouts contacts runs/rollouts/walk_to_chair_sit --body chair
"""


def register(subparsers) -> None:
    rollouts = subparsers.add_parser("rollouts", help="collect rollout shards for labeling",
                                     description="Collect rollout shards for labeling.")
    actions = rollouts.add_subparsers(dest="rollouts_command", metavar="<action>", required=True)
    collect = add_subcommand(actions, "collect",
                             "run labeling.rollouts.policy on env.task and write .npz episode shards (resumable)",
                             COLLECT_EXAMPLES, run_collect)
    add_config_arguments(collect)
    starts = add_subcommand(actions, "start-states",
                            "write the robot's state where a stage begins in each episode of a shard folder, as "
                            "recorded training starts (env.task.start_states)", START_STATES_EXAMPLES,
                            run_start_states)
    add_shards_argument(starts)
    starts.add_argument("--stage", required=True, help="the stage whose first step is recorded (e.g. sit)")
    starts.add_argument("--reference-body", required=True,
                        help="a fixed body both scenes have (e.g. chair): states are stored relative to it")
    starts.add_argument("--out", required=True, help="the .npz to write")
    contacts = add_subcommand(actions, "contacts",
                              "per stage of a shard folder's composite task: episodes that reached, completed and "
                              "ended in it, and how many of each touched a scene body", CONTACTS_EXAMPLES,
                              run_contacts)
    add_shards_argument(contacts)
    contacts.add_argument("--body", required=True, help="a scene body (e.g. chair), its child bodies included")


def add_shards_argument(parser) -> None:
    parser.add_argument("rollouts_dir", help="a shard folder written by `mwx rollouts collect`")


def shards_dir(config) -> Path:
    """``labeling.rollouts.out_dir`` or ``<run.root_dir>/rollouts/<run.name>``."""
    out = config.labeling.rollouts.out_dir
    return Path(out) if out else Path(config.run.root_dir) / "rollouts" / config.run.name


def run_collect(args) -> int:
    from mwx_ray.config import load_config
    from mwx_ray.labeling.shards import ShardFormatError
    from mwx_ray.labeling.stage import collect_stage_rollouts

    loaded = load_config(args.config, args.overrides)
    out_dir = shards_dir(loaded.config)
    try:
        index = collect_stage_rollouts(loaded, out_dir)
    except (FileNotFoundError, ShardFormatError) as err:
        print(f"mwx: {err}", file=sys.stderr)
        return 2
    print(f"wrote {len(index.shards)} shards ({index.num_episodes} episodes, {index.num_frames} keyframes at "
          f"{index.meta['frame_rate_hz']:g} fps) of {index.meta['task']} with policy "
          f"{index.meta['policy']['name']} to {out_dir}")
    episodes = [e for e in index.episode_summaries() if e.get("success") is not None]
    if episodes:  # a composite task: how often this policy (e.g. the oracle stage schedule) completed every stage
        from mwx_ray.intervals import success_summary

        seeds = sorted(int(e["seed"]) for e in episodes)
        # The seeds decide the outcome as much as the policy does: compare bounds and routers on the same ones
        # (router evaluations use 2,000,003 onwards: --set run.seed=2000003).
        print(f"all-stage success {success_summary(sum(bool(e['success']) for e in episodes), len(episodes))} "
              f"on reset seeds {seeds[0]}-{seeds[-1]} (run.seed)")
        # Stages complete in order, so "stage i completed" is "more than i stages completed": where episodes stop.
        stage_names = [stage["name"] for stage in index.meta.get("stages", [])]
        print("stages completed: " + ", ".join(
            f"{name} {sum(e['stages_completed'] > i for e in episodes)}/{len(episodes)}"
            for i, name in enumerate(stage_names)))
    print(f"next: mwx label {args.config}")
    return 0


def run_start_states(args) -> int:
    from mwx_ray.envs.start_states import StartStatesError
    from mwx_ray.labeling.shards import ShardFormatError
    from mwx_ray.labeling.stage_starts import stage_start_states

    try:
        counts = stage_start_states(args.rollouts_dir, args.stage, args.reference_body, args.out)
    except (ShardFormatError, StartStatesError, ValueError) as err:
        print(f"mwx: {err}", file=sys.stderr)
        return 2
    print(f"wrote {counts['states']} start states (stage {args.stage!r} began in {counts['states']} of "
          f"{counts['episodes']} episodes) to {args.out}")
    print(f"next: train from them with env.task.start_states: {{path: {args.out}, probability: 0.7}}")
    return 0


def run_contacts(args) -> int:
    from mwx_ray.labeling.shards import ShardFormatError
    from mwx_ray.labeling.stage_contacts import stage_contacts

    try:
        rows = stage_contacts(args.rollouts_dir, args.body)
    except (ShardFormatError, ValueError) as err:
        print(f"mwx: {err}", file=sys.stderr)
        return 2
    print(f"{'stage':<20} {'reached':>8} {'completed':>10} {'touched':>8} {'ended in':>9} {'touched':>8}"
          f"   (touched: in contact with {args.body!r} during the stage)")
    for row in rows:
        print(f"{row['stage']:<20} {row['reached']:>8} {row['completed']:>10} {row['touched_completed']:>8} "
              f"{row['ended_in']:>9} {row['touched_ended_in']:>8}")
    return 0
