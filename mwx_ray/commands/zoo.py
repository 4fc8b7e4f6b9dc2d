"""``mwx zoo``: the pretrained expert zoo shipped with mwx_ray — list it, publish a trained expert into it, check it."""

from __future__ import annotations

from mwx_ray.commands.common import add_subcommand

EXAMPLES = """  mwx zoo list                                         skills, unseen-seed returns, provenance
  mwx zoo publish runs/experts/walk-20261205-130000/tune/walk --skill walk
  mwx zoo publish runs/experts/handover-20261205-150000/tune/handover --skill walk --select latest
  mwx zoo publish runs/experts/getup-20261206-130634/tune/getup --skill stand --seed 0 --select latest --as getup
  mwx zoo check                                        re-evaluate every entry (fails on a >5% drop)
  mwx eval zoo:walk --episodes 10                      any command takes zoo:<skill> as an expert
"""


def register(subparsers) -> None:
    parser = add_subcommand(subparsers, "zoo", "the pretrained expert zoo: list, publish, check", EXAMPLES, run)
    parser.add_argument("action", choices=("list", "publish", "check"))
    parser.add_argument("experiment", nargs="?", help="publish: the Tune experiment folder of a finished sweep")
    parser.add_argument("--skill", help="publish: the skill to publish")
    parser.add_argument("--episodes", type=int, help="evaluation episodes (publish: 10, check: 5)")
    parser.add_argument("--select", choices=("best", "latest"), default="best",
                        help="publish: the best checkpoint by hb/return (default) or the most trained one")
    parser.add_argument("--seed", type=int, help="publish: only the trial with this seed")
    parser.add_argument("--as", dest="name", help="publish: the zoo name (default: the skill), e.g. a variant "
                                                  "beside the skill's main entry")


def run(args) -> int:
    from mwx_ray.experts import zoo

    if args.action == "publish":
        if not args.experiment or not args.skill:
            print("mwx zoo publish: needs the experiment folder and --skill")
            return 2
        entry = zoo.publish(args.experiment, args.skill, episodes=args.episodes or zoo.UNSEEN_EPISODES,
                            selection=args.select, seed=args.seed, name=args.name)
        unseen = entry["zoo"]["unseen"]
        low, high = unseen["hb_return_ci95"]
        print(f"zoo:{args.name or args.skill}: hb/return {unseen['hb_return_mean']:.1f} (95% CI {low:.1f}-{high:.1f}) on "
              f"{unseen['episodes']} unseen seeds, success {unseen['hb_success']:.0%}; trained "
              f"{entry['zoo']['env_steps']} env steps; retrain: {entry['zoo']['command']}")
        return 0
    if args.action == "check":
        rows = zoo.check(episodes=args.episodes or zoo.CHECK_EPISODES)
        for row in rows:
            print(f"  {row['skill']:<8} recorded {row['recorded']:8.1f}  now {row['now']:8.1f}  "
                  f"{'ok' if row['ok'] else 'DROPPED'}")
        return 0 if all(row["ok"] for row in rows) else 1
    from mwx_ray.experts.registry import ExpertRegistry, zoo_root

    try:
        registry = ExpertRegistry.load(zoo_root())
    except FileNotFoundError:
        print(f"the zoo is empty ({zoo_root()})")
        return 0
    for skill, entry in registry.entries.items():
        record = entry.record["zoo"]
        unseen = record["unseen"]
        print(f"  zoo:{skill:<8} {entry.env_id:<30} hb/return {unseen['hb_return_mean']:7.1f} "
              f"({unseen['episodes']} unseen seeds, success {unseen['hb_success']:.0%})  "
              f"{record['env_steps']:>9} env steps  seed {record['seed']}  git {str(record['git_sha'])[:10]}")
    return 0
