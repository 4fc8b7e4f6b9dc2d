"""``mwx config show``: print the fully resolved config (after ``extends`` and ``--set``)."""

from __future__ import annotations

from mwx_ray.commands.common import add_config_arguments, add_subcommand
from mwx_ray.config import load_config

EXAMPLES = """  mwx config show tune_configs/base/default.yaml
  mwx config show tune_configs/base/default.yaml --set run.seed=3 --set env.task=walk
"""


def register(subparsers) -> None:
    config = subparsers.add_parser("config", help="inspect configuration files",
                                   description="Inspect configuration files.")
    actions = config.add_subparsers(dest="config_command", metavar="<action>", required=True)
    show = add_subcommand(actions, "show", "print the resolved config (extends merged, overrides applied)",
                          EXAMPLES, run)
    add_config_arguments(show)


def run(args) -> int:
    loaded = load_config(args.config, args.overrides)
    print(f"# resolved from {args.config} (hash {loaded.hash()})")
    print(loaded.to_yaml(), end="")
    return 0
