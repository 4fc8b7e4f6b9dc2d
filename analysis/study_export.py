"""A recorded MLflow export: the runs and metric histories a report was built from, as small files in a folder.

``mwx report <target> --export <folder>`` writes it next to the report; ``mwx report --from-export <folder>``
rebuilds the same report without the tracking store (the results page in ``docs/results`` is regenerated this
way, and a test checks that it still is). Several exports make one study (``--from-export A B``): an ablation whose
seeds ran at different times, on machines with different stores, is reported as one table. Files: ``study.json``
(target, tracking URI), ``runs.parquet`` and ``histories.parquet`` (parquet keeps every column's dtype, so the
rebuilt tables are identical).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from analysis.loaders import ReportTarget, Study, merge_targets
from mwx_ray.atomic_io import atomic_write_text

STUDY_FILE, RUNS_FILE, HISTORIES_FILE = "study.json", "runs.parquet", "histories.parquet"


def save_study(study: Study, folder: str | Path) -> Path:
    """Write ``study`` to ``folder`` (each file atomically; the study file last marks the export complete)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _write_frame(study.runs, folder / RUNS_FILE)
    _write_frame(study.histories, folder / HISTORIES_FILE)
    meta = {"target": asdict(study.target), "tracking_uri": study.tracking_uri}
    atomic_write_text(folder / STUDY_FILE, json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return folder


def load_study_export(folder: str | Path) -> Study:
    """The :class:`Study` saved by :func:`save_study`."""
    folder = Path(folder)
    if not (folder / STUDY_FILE).is_file():
        raise FileNotFoundError(f"{folder} holds no study export ({STUDY_FILE})")
    meta = json.loads((folder / STUDY_FILE).read_text())
    target = meta["target"]
    # Exports written before a study could span several sweeps hold one "parent_run_id" (or null).
    parents = target.get("parent_run_ids", [target.get("parent_run_id")] if target.get("parent_run_id") else [])
    return Study(ReportTarget(tuple(target["experiment_ids"]), tuple(target["experiment_names"]), tuple(parents),
                              target["label"]),
                 _read_frame(folder / RUNS_FILE), _read_frame(folder / HISTORIES_FILE), meta["tracking_uri"])


def load_study_exports(folders: Sequence[str | Path]) -> Study:
    """One study of several exports (:func:`load_study_export` each); a run in two of them is refused, since
    its seeds would count twice."""
    studies = [load_study_export(folder) for folder in folders]
    if len(studies) == 1:
        return studies[0]
    runs = pd.concat([study.runs for study in studies], ignore_index=True)
    repeated = sorted(set(runs["run_id"][runs["run_id"].duplicated()]))
    if repeated:
        raise ValueError(f"the exports {[str(f) for f in folders]} share runs {repeated[:3]}"
                         f"{' …' if len(repeated) > 3 else ''}: each sweep belongs in one export")
    histories = pd.concat([study.histories for study in studies], ignore_index=True)
    uris = " + ".join(dict.fromkeys(study.tracking_uri for study in studies))
    return Study(merge_targets([study.target for study in studies]), runs, histories, uris)


def _write_frame(frame: pd.DataFrame, path: Path) -> None:
    from mwx_ray.atomic_io import atomic_path

    with atomic_path(path) as tmp:
        frame.reset_index(drop=True).to_parquet(tmp, index=False)


def _read_frame(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path)
