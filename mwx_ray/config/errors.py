"""The one exception type for configuration problems.

Every message names where the bad value came from (a YAML file, or ``--set``) and the dotted key, so a user
can fix it without reading a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ConfigError(ValueError):
    """A configuration file or override is malformed. ``str(err)`` is the whole user-facing message."""

    def __init__(self, source: str, key: str, problem: str):
        self.source = source
        self.key = key
        self.problem = problem
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{key}: {problem}" if key else f"{where}{problem}")

    def __reduce__(self):
        # Exceptions pickle as ``cls(*self.args)`` by default, i.e. with the one formatted message; Ray ships a
        # trial's exception to the driver by pickling it, so rebuild from the three fields instead.
        return type(self), (self.source, self.key, self.problem)


def suggestion(word: str, candidates: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the nearest candidate, or a list of valid names when none is close."""
    options = sorted(candidates)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" (valid keys: {', '.join(options)})" if options else ""
