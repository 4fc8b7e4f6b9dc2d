"""The ``mwx`` command line: thin subcommands that load a config, build the pieces and run them.

Each subcommand lives in ``mwx_ray/commands/<name>.py`` and registers itself with :func:`register`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mwx_ray import __version__
from mwx_ray.commands import (
    config_show,
    dashboard,
    doctor,
    env,
    export_experts,
    label,
    motion,
    quickstart,
    resume,
    rollouts,
    submit,
    train_experts,
    train_router,
    zoo,
)
from mwx_ray.commands import eval as eval_command  # `eval` would shadow the builtin
from mwx_ray.config import ConfigError
from mwx_ray.errors import UnknownNameError
from mwx_ray.resources import ResourceBudgetError

# In pipeline order, as `mwx --help` lists them; commands of other packages (`mwx report` from `analysis`) plug in
# through the `mwx_ray.commands` entry point group and are listed after train-router.
COMMAND_MODULES = (
    quickstart, doctor, config_show, env, motion, train_experts, resume, export_experts, eval_command,
    rollouts, label, train_router, zoo,
)
TRAILING_MODULES = (dashboard, submit)
PLUGIN_GROUP = "mwx_ray.commands"


def plugin_command_modules() -> list:
    """Modules with a ``register(subparsers)`` found through the ``mwx_ray.commands`` entry points."""
    from importlib.metadata import entry_points

    return [entry.load() for entry in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name)]

EPILOG = """examples:
  mwx quickstart                               the whole pipeline on the embedded defaults (≤ 20 min)
  mwx doctor                                   health report of this machine and install
  mwx config show tune_configs/base/default.yaml --set run.seed=3
  mwx env list                                 registered tasks
  mwx <command> --help                         help and examples of one command
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mwx",
        description="mwx_ray: MetaWorld-X humanoid expert pools and VLM-supervised routing on Ray.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mwx_ray {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for module in (*COMMAND_MODULES, *plugin_command_modules(), *TRAILING_MODULES):
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.root_parser = parser  # for commands that inspect other commands (mwx submit)
    try:
        return int(args.run(args) or 0)
    except ConfigError as err:
        print(f"mwx: config error: {err}", file=sys.stderr)
        return 2
    except (UnknownNameError, ResourceBudgetError) as err:
        print(f"mwx: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mwx: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
