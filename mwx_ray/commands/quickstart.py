"""``mwx quickstart``: the whole MetaWorld-X pipeline in one command on the embedded defaults."""

from __future__ import annotations

import sys
import time

from mwx_ray.commands.common import add_overrides_argument, add_subcommand

BUDGETS = ("smoke", "default", "long")

EXAMPLES = """  mwx quickstart                      default budget: ≤ 20 min on 2 CPU cores
  mwx quickstart --budget smoke       every stage for real on a tiny budget (a few minutes)
  mwx quickstart --budget long        experts 1M env steps each: hours on a laptop, minutes on a cluster
  mwx quickstart --fresh              start over instead of skipping the stages already done
  mwx quickstart --experts trained    route the experts this run trains instead of the pretrained zoo
  mwx quickstart --set experts.seeds=[0,1]
"""


def register(subparsers) -> None:
    parser = add_subcommand(subparsers, "quickstart", "run every stage: experts, export, rollouts, labels, router, "
                            "evaluation, report", EXAMPLES, run)
    parser.add_argument("--budget", choices=BUDGETS, default="default",
                        help="tune_configs/quickstart/<budget>.yaml")
    parser.add_argument("--out", help="output folder (default runs/quickstart/<budget>)")
    parser.add_argument("--fresh", action="store_true", help="ignore the stages recorded as done and start over")
    parser.add_argument("--experts", choices=("zoo", "trained"), default="zoo",
                        help="experts the rollouts and the router use: the pretrained zoo (default; the expert "
                             "stage still trains a short sweep to show that path) or the ones this run trains")
    add_overrides_argument(parser)


def run(args) -> int:
    from mwx_ray.config import load_config
    from mwx_ray.quickstart import STAGES, Quickstart, QuickstartError
    from mwx_ray.quickstart_stages import STAGE_FUNCTIONS, output_folder, summary_lines
    from mwx_ray.ray_runtime import ray_session
    from tune_configs import config_dir

    budget_file = config_dir() / "quickstart" / f"{args.budget}.yaml"
    loaded = load_config(budget_file, args.overrides)  # config errors surface before anything runs
    out = output_folder(args.budget, args.out)
    out.mkdir(parents=True, exist_ok=True)
    qs = Quickstart(loaded=loaded, out=out, experts=args.experts)
    qs.load_state()
    if args.fresh:
        qs.state = {"done": {}}
    changed = qs.forget_routed_stages_if_changed()
    if changed:
        print(f"{changed}: redoing rollouts onwards")
    elapsed: dict[str, float] = {}
    with ray_session(loaded.config, stages=("experts",)):  # one Ray session for every stage
        for index, stage in enumerate(STAGES, start=1):
            if stage in qs.state["done"]:
                print(f"[{index}/{len(STAGES)}] {stage}: done in an earlier run, skipped ({out})", flush=True)
                continue
            print(f"\n[{index}/{len(STAGES)}] {stage} ...", flush=True)
            start = time.perf_counter()
            try:
                outputs = STAGE_FUNCTIONS[stage](qs)
            except QuickstartError as err:
                print(f"mwx quickstart: {err}\nRerun `mwx quickstart --budget {args.budget}` to continue from "
                      "here.", file=sys.stderr)
                return 1
            elapsed[stage] = time.perf_counter() - start
            qs.mark_done(stage, outputs)
            print(f"[{index}/{len(STAGES)}] {stage} finished in {elapsed[stage]:.0f} s", flush=True)
    print("\n".join(summary_lines(qs, elapsed, budget_file)))
    return 0
