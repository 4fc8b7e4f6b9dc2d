"""One module per ``mwx`` subcommand; each exposes ``register(subparsers)``."""
