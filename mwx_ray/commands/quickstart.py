"""``mwx quickstart``: the whole MetaWorld-X pipeline in one command on the embedded defaults."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from mwx_ray.commands.common import add_overrides_argument, add_subcommand

BUDGETS = ("smoke", "default", "long")
CONFIG_DIR = Path(__file__).resolve().parents[2] / "tune_configs" / "quickstart"

EXAMPLES = """  mwx quickstart                      default budget: ≤ 20 min on 2 CPU cores
  mwx quickstart --budget smoke       every stage for real on a tiny budget (a few minutes)
  mwx quickstart --budget long        experts 1M env steps each: hours on a laptop, minutes on a cluster
  mwx quickstart --fresh              start over instead of skipping the stages already done
  mwx quickstart --set experts.seeds=[0,1]
"""


def register(subparsers) -> None:
    parser = add_subcommand(subparsers, "quickstart", "run every stage: experts, export, rollouts, labels, router, "
                            "evaluation, report", EXAMPLES, run)
    parser.add_argument("--budget", choices=BUDGETS, default="default",
                        help="tune_configs/quickstart/<budget>.yaml")
    parser.add_argument("--out", help="output folder (default runs/quickstart/<budget>)")
    parser.add_argument("--fresh", action="store_true", help="ignore the stages recorded as done and start over")
    add_overrides_argument(parser)


def run(args) -> int:
    from mwx_ray.config import load_config
    from mwx_ray.quickstart import STAGES, Quickstart, QuickstartError
    from mwx_ray.quickstart_stages import STAGE_FUNCTIONS, output_folder, summary_lines

    config_path = CONFIG_DIR / f"{args.budget}.yaml"
    loaded = load_config(config_path, args.overrides)  # config errors surface before anything runs
    out = output_folder(args.budget, args.out)
    out.mkdir(parents=True, exist_ok=True)
    qs = Quickstart(config_path=config_path, loaded=loaded, out=out, overrides=args.overrides)
    qs.load_state()
    if args.fresh:
        qs.state = {"done": {}}
    elapsed: dict[str, float] = {}
    for index, stage in enumerate(STAGES, start=1):
        if stage in qs.state["done"]:
            print(f"[{index}/{len(STAGES)}] {stage}: done in an earlier run, skipped ({out})", flush=True)
            continue
        print(f"\n[{index}/{len(STAGES)}] {stage} ...", flush=True)
        start = time.perf_counter()
        try:
            outputs = STAGE_FUNCTIONS[stage](qs)
        except QuickstartError as err:
            print(f"mwx quickstart: {err}\nRerun `mwx quickstart --budget {args.budget}` to continue from here.",
                  file=sys.stderr)
            return 1
        elapsed[stage] = time.perf_counter() - start
        qs.mark_done(stage, outputs)
        print(f"[{index}/{len(STAGES)}] {stage} finished in {elapsed[stage]:.0f} s", flush=True)
    print("\n".join(summary_lines(qs, elapsed)))
    return 0
