"""The results pages in ``docs/results/`` are generated, not written: each ``<study>/export`` folder (a recorded
MLflow export, ``mwx report <target> --export``) must rebuild, with ``mwx report --from-export``, exactly the
tables committed beside it in ``<study>/report/tables``, so a change to the analysis code that alters a
published number is caught here."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.report import TABLES_DIR, write_report
from analysis.study_export import STUDY_FILE, load_study_export

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"
STUDIES = sorted(p.parent for p in RESULTS.glob(f"*/export/{STUDY_FILE}"))


def test_the_results_pages_have_recorded_studies():
    assert STUDIES, f"no recorded study export under {RESULTS}"


@pytest.mark.parametrize("study", STUDIES, ids=lambda p: p.parent.name)
def test_a_recorded_study_regenerates_its_committed_tables(study, tmp_path):
    committed = study.parent / "report" / TABLES_DIR
    rebuilt = write_report(load_study_export(study), tmp_path / "report").folder / TABLES_DIR
    names = sorted(p.name for p in committed.glob("*.csv"))
    assert names == sorted(p.name for p in rebuilt.glob("*.csv"))
    for name in names:
        pd.testing.assert_frame_equal(pd.read_csv(rebuilt / name), pd.read_csv(committed / name), obj=name)
