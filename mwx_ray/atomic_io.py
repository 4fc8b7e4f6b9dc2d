"""Atomic file writes: write to a temporary sibling, then rename, so no reader sees a half-written file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``final``; on success it is renamed onto ``final``, on error removed.

    The temporary name keeps ``final``'s suffix so libraries that pick a format by extension still work.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".partial{final.suffix}", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def remove_stale_partials(folder: str | Path) -> list[Path]:
    """Delete the temporary files that writers killed mid-write (SIGKILL, a lost node) left in ``folder``: their
    ``finally`` never ran. Only for a folder this process alone writes to (a resumed run); returns what it
    removed."""
    stale = sorted(Path(folder).glob(".*.partial*")) if Path(folder).is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def atomic_write_bytes(final: str | Path, data: bytes) -> Path:
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)
    return Path(final)


def atomic_write_text(final: str | Path, text: str) -> Path:
    return atomic_write_bytes(final, text.encode("utf-8"))
