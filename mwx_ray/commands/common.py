"""Argument helpers shared by subcommands."""

from __future__ import annotations

import argparse


def add_subcommand(subparsers, name: str, summary: str, examples: str, run) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` ends with usage examples."""
    parser = subparsers.add_parser(
        name, help=summary, description=summary, epilog="examples:\n" + examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=run)
    return parser


def add_config_arguments(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """``<config.yaml>`` plus repeatable ``--set key=value`` (the only way to override config from the CLI)."""
    parser.add_argument("config", nargs=None if required else "?", help="YAML file (see tune_configs/)")
    add_overrides_argument(parser)


def add_overrides_argument(parser: argparse.ArgumentParser) -> None:
    """Repeatable ``--set key=value`` for commands whose config file is optional or fixed."""
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value by dotted key; repeatable (e.g. --set run.seed=3)")
