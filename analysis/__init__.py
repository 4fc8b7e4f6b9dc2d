"""MLflow → pandas analysis of mwx_ray runs: loaders, tables (with published figures alongside), plots, reports.

Imports ``mwx_ray``, never the reverse (``mwx_ray``'s library code does not depend on it; the ``mwx report``
command imports it lazily). Modules:

- :mod:`analysis.schema`     tag/param/metric names read from MLflow (the contract with the stages)
- :mod:`analysis.loaders`    runs → one-row-per-run DataFrame; metric histories → long DataFrame
- :mod:`analysis.published`  HumanoidBench / MetaWorld-X published figures as labeled data
- :mod:`analysis.tables`     per-run summaries, results per task and method, ablations, router, stage success
- :mod:`analysis.plots`      learning curves (mean ± 95% CI), router usage timelines, stage-success bars
- :mod:`analysis.report`     the report folder (markdown + PNG + CSV), logged to the sweep's parent run
"""

from analysis.loaders import Study, load_metric_histories, load_runs, load_study, resolve_target
from analysis.report import ReportOutcome, make_report, write_report

__all__ = ["ReportOutcome", "Study", "load_metric_histories", "load_runs", "load_study", "make_report",
           "resolve_target", "write_report"]
