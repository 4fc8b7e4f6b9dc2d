"""Provenance of a source file: where it was, its exact bytes (sha256), and the licence the user states.

A clip must be traceable to the file it came from even after the file moves: the absolute path is recorded
together with the file's sha256 and size. Datasets differ in their terms (LAFAN1: CC BY-NC-ND 4.0; the CMU
database: free for research and commercial use; Mixamo: Adobe's terms), and a file rarely says which applies,
so the licence is what the user states (``--license``); without one the clip says so explicitly.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from mwx_ray.motion.errors import MotionError

NO_LICENSE = "not stated by the user: check the source dataset's terms before use (pass --license)"


def file_provenance(path: str | os.PathLike[str], license: str | None = None) -> dict[str, object]:
    """``source_file`` (absolute), ``source_sha256``, ``source_bytes``, ``license`` and ``license_note``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise MotionError(f"{path}: cannot read: {err}") from err
    stated = license.strip() if license and license.strip() else None
    return {
        "source_file": str(path.resolve()),
        "source_sha256": hashlib.sha256(data).hexdigest(),
        "source_bytes": len(data),
        "license": stated,
        "license_note": f"stated by the user: {stated}" if stated else NO_LICENSE,
    }
