"""MLflow → tidy pandas: one row per run (params, tags, latest metrics), and long metric histories.

- :func:`load_runs`: ``DataFrame`` with one row per run. Columns ``params.<name>``, ``tags.<name>``,
  ``metrics.<name>`` (latest value) as in ``mlflow.search_runs``, plus derived columns that every table needs:
  ``run_id, run_name, experiment_id, experiment, status, start_time, end_time, parent_run_id, kind, stage,
  skill, seed, env_id, task, algorithm, method, ablation, hardware``.
- :func:`load_metric_histories`: long ``DataFrame [run_id, key, step, value, timestamp]``; ``step`` is the
  trial's cumulative env steps (the stages log every metric with ``step = env_steps``), ``timestamp`` is UTC.
- :func:`resolve_target` turns the argument of ``mwx report`` (experiment name or run id) into what to load.

Every function takes an explicit ``MlflowClient`` (or URI): no process-global tracking state.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from analysis import schema

HISTORY_COLUMNS = ["run_id", "key", "step", "value", "timestamp"]


def client_for(tracking_uri: str):
    """An ``MlflowClient`` bound to ``tracking_uri`` (imported lazily: mlflow takes seconds to import)."""
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri)


@dataclass(frozen=True)
class ReportTarget:
    """What a report covers: the runs of ``experiment_ids`` (all, or the sweeps ``parent_run_ids`` and their
    trials: one sweep, or several that make one study, e.g. an ablation rerun later with more seeds)."""

    experiment_ids: tuple[str, ...]
    experiment_names: tuple[str, ...]
    parent_run_ids: tuple[str, ...]  # sweep parent runs; empty = every run of the experiment(s)
    label: str  # short name for folders and titles


def resolve_target(client, target: str, experiment_prefix: str = "") -> ReportTarget:
    """``target`` is an experiment name (``experts``, tried also as ``<prefix>experts``) or a run id.

    A run id of a child run resolves to its parent sweep. Raises ``LookupError`` naming what was tried.
    """
    for name in dict.fromkeys((target, f"{experiment_prefix}{target}")):
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return ReportTarget((experiment.experiment_id,), (experiment.name,), (), _safe_label(name))
    try:
        run = client.get_run(target)
    except Exception as err:  # mlflow raises MlflowException (RESOURCE_DOES_NOT_EXIST) or a DB error
        known = sorted(e.name for e in client.search_experiments())
        raise LookupError(f"{target!r} is neither an MLflow experiment nor a run id; experiments: {known}") from err
    parent = run.data.tags.get(schema.TAG_PARENT) or run.info.run_id
    parent_run = client.get_run(parent) if parent != run.info.run_id else run
    experiment = client.get_experiment(parent_run.info.experiment_id)
    label = parent_run.data.tags.get(schema.TAG_RUN_NAME) or parent_run.info.run_name or parent
    return ReportTarget((experiment.experiment_id,), (experiment.name,), (parent,), _safe_label(label))


def resolve_targets(client, targets: Sequence[str], experiment_prefix: str = "") -> ReportTarget:
    """One target (:func:`resolve_target`), or several sweeps (run ids) reported as one study."""
    resolved = [resolve_target(client, target, experiment_prefix) for target in targets]
    if len(resolved) == 1:
        return resolved[0]
    whole = [target for target, one in zip(targets, resolved, strict=True) if not one.parent_run_ids]
    if whole:
        raise LookupError(f"several targets must all be sweeps (run ids); {whole} name whole experiments")
    return merge_targets(resolved)


def merge_targets(resolved: Sequence[ReportTarget]) -> ReportTarget:
    """Several sweeps' targets as one: their parents (each once), experiments and labels joined by ``+``."""
    parents = tuple(dict.fromkeys(parent for one in resolved for parent in one.parent_run_ids))
    experiments = dict(pair for one in resolved for pair in zip(one.experiment_ids, one.experiment_names, strict=True))
    label = "+".join(dict.fromkeys(one.label for one in resolved))
    return ReportTarget(tuple(experiments), tuple(experiments.values()), parents, label)


def _safe_label(text: str) -> str:
    return re.sub(r"[^\w.\-]+", "_", text).strip("_") or "report"


def load_runs(client, experiment_ids: Iterable[str], parent_run_ids: str | Sequence[str] = ()) -> pd.DataFrame:
    """Runs of ``experiment_ids``; with ``parent_run_ids`` (one id or several), those parents and their children."""
    experiment_ids = list(experiment_ids)
    parent_run_ids = (parent_run_ids,) if isinstance(parent_run_ids, str) else tuple(parent_run_ids)
    names = {eid: client.get_experiment(eid).name for eid in experiment_ids}
    runs = []
    for parent_run_id in parent_run_ids:
        runs.append(client.get_run(parent_run_id))
        runs.extend(_search_all(client, experiment_ids, f"tags.`{schema.TAG_PARENT}` = '{parent_run_id}'"))
    if not parent_run_ids:
        runs.extend(_search_all(client, experiment_ids, ""))
    rows = [_run_row(run, names) for run in runs]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=_DERIVED_COLUMNS)
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(pd.to_numeric(frame[column]), unit="ms", utc=True)
    frame = _derive_columns(frame)
    return frame.sort_values(["start_time", "run_id"], kind="stable").reset_index(drop=True)


def _search_all(client, experiment_ids: list[str], filter_string: str) -> list:
    found, token = [], None
    while True:
        page = client.search_runs(experiment_ids, filter_string=filter_string, max_results=1000, page_token=token)
        found.extend(page)
        token = page.token
        if not token:
            return found


def _run_row(run, experiment_names: dict[str, str]) -> dict:
    info, data = run.info, run.data
    row = {
        "run_id": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "experiment": experiment_names.get(info.experiment_id, info.experiment_id),
        "status": info.status,
        "start_time": info.start_time,  # ms since the epoch; converted per column (an unfinished run has None)
        "end_time": info.end_time,
        "artifact_uri": info.artifact_uri,
    }
    row.update({f"params.{k}": v for k, v in data.params.items()})
    row.update({f"tags.{k}": v for k, v in data.tags.items()})
    row.update({f"metrics.{k}": v for k, v in data.metrics.items()})
    return row


_DERIVED_COLUMNS = ["run_id", "run_name", "experiment_id", "experiment", "status", "start_time", "end_time",
                    "artifact_uri", "parent_run_id", "kind", "stage", "skill", "seed", "env_id", "task", "algorithm",
                    "method", "ablation", "hardware"]


def _column(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].astype("object") if column in frame else pd.Series(pd.NA, index=frame.index,
                                                                             dtype="object")


def _tag(frame: pd.DataFrame, name: str) -> pd.Series:
    return _column(frame, f"tags.{name}")


def _param(frame: pd.DataFrame, name: str) -> pd.Series:
    return _column(frame, f"params.{name}")


def canonical_env_id(task):
    """A registered task name or env id → its canonical id (``walk`` → ``mwx/h1-walk-v0``); else unchanged."""
    if not isinstance(task, str):
        return pd.NA
    from mwx_ray.envs import resolve_env_id
    from mwx_ray.errors import UnknownNameError

    try:
        return resolve_env_id(task)
    except UnknownNameError:  # not in the registry (e.g. a HumanoidBench backend id): keep the name
        return task


def _derive_columns(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["parent_run_id"] = _tag(frame, schema.TAG_PARENT)
    # Untagged runs: a child is a trial, a run with children a sweep, any other run stands alone ("run").
    parents = set(frame["parent_run_id"].dropna())
    untagged_kind = [schema.KIND_TRIAL if pd.notna(parent) else schema.KIND_SWEEP if run_id in parents
                     else schema.KIND_RUN for run_id, parent in zip(frame["run_id"], frame["parent_run_id"],
                                                                     strict=True)]
    frame["kind"] = _tag(frame, schema.TAG_KIND).fillna(pd.Series(untagged_kind, index=frame.index))
    frame["stage"] = _tag(frame, schema.TAG_STAGE).fillna(frame["experiment"].map(stage_of_experiment))
    frame["env_id"] = _tag(frame, schema.TAG_ENV_ID).fillna(_param(frame, schema.PARAM_TASK).fillna(
        _param(frame, schema.PARAM_TASK_LEGACY)).map(canonical_env_id))
    frame["task"] = frame["env_id"].map(task_of_env_id)
    frame["skill"] = _tag(frame, schema.TAG_SKILL).fillna(frame["task"].map(
        lambda task: task.split("-", 1)[-1] if isinstance(task, str) else pd.NA))
    frame["task"] = frame["task"].fillna(frame["skill"])
    seed = _tag(frame, schema.TAG_SEED).fillna(_param(frame, schema.PARAM_SEED))
    frame["seed"] = pd.to_numeric(seed, errors="coerce").astype("Int64")
    # Trials without the tag predate it: their stage's only algorithm (experts: ppo). Sweep parents have none.
    default_algorithm = frame["stage"].map(lambda stage: schema.DEFAULT_ALGORITHM_BY_STAGE.get(stage, pd.NA))
    frame["algorithm"] = _tag(frame, schema.TAG_ALGORITHM).fillna(
        default_algorithm.where(frame["kind"] == schema.KIND_TRIAL)).astype("object")
    by_algorithm = frame["algorithm"].map(lambda algorithm: schema.METHOD_BY_ALGORITHM.get(algorithm, pd.NA)
                                          if isinstance(algorithm, str) else pd.NA)
    by_mode = _tag(frame, schema.TAG_MODE).map(lambda mode: schema.METHOD_BY_MODE.get(mode, mode)
                                               if isinstance(mode, str) else pd.NA)
    frame["method"] = _tag(frame, schema.TAG_METHOD).fillna(by_mode).fillna(by_algorithm).fillna(
        frame["stage"].map(lambda stage: schema.DEFAULT_METHOD_BY_STAGE.get(stage, stage)))
    frame["ablation"] = _ablation_labels(frame, ablation_keys(frame))
    frame["hardware"] = _hardware(frame)
    return frame


def ablation_keys(runs: pd.DataFrame) -> list[str]:
    """Tag names that carry ablation keys: ``ablation``, ``ablation.<key>`` and ``variant``, sorted."""
    prefix = f"tags.{schema.TAG_ABLATION}"
    return sorted(c.removeprefix("tags.") for c in runs.columns
                  if c.removeprefix("tags.") in schema.ABLATION_TAGS or c.startswith((prefix + ".", prefix + "/")))


def _ablation_labels(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    """``"ablation=no_labels"`` (several keys joined by ``", "``); NA for runs without ablation tags."""
    def label(row: pd.Series):
        parts = [f"{key}={row[f'tags.{key}']}" for key in keys if pd.notna(row[f"tags.{key}"])]
        return ", ".join(parts) if parts else pd.NA

    if not keys:
        return pd.Series(pd.NA, index=frame.index, dtype="object")
    return frame.apply(label, axis=1).astype("object")


def stage_of_experiment(name: str) -> str | None:
    """``<prefix>experts`` → ``experts``; None for an experiment that is not a stage's."""
    return next((stage for stage in schema.STAGES if isinstance(name, str) and name.endswith(stage)), None)


def task_of_env_id(env_id) -> str | None:
    """``mwx/h1-walk-v0`` → ``h1-walk`` (namespace and version dropped); None for a missing id."""
    if not isinstance(env_id, str) or not env_id:
        return None
    return re.sub(r"-v\d+$", "", env_id.rsplit("/", 1)[-1])


def _hardware(frame: pd.DataFrame) -> pd.Series:
    """The ``hardware`` tag of the run, else of its parent, else the trial's resources from its params."""
    own = _tag(frame, schema.TAG_HARDWARE)
    by_run = dict(zip(frame["run_id"], own, strict=True))
    from_parent = frame["parent_run_id"].map(lambda parent: by_run.get(parent, pd.NA))
    return own.fillna(from_parent).fillna(frame.apply(_resources_description, axis=1))


def _resources_description(row: pd.Series):
    def number(name: str, default: float) -> float:
        value = pd.to_numeric(row.get(f"params.{name}", default), errors="coerce")
        return default if pd.isna(value) else float(value)

    if f"params.{schema.PARAM_CPUS_PER_LEARNER}" not in row or pd.isna(row[f"params.{schema.PARAM_CPUS_PER_LEARNER}"]):
        return pd.NA
    cpus = number(schema.PARAM_CPUS_PER_LEARNER, 1) + \
        number(schema.PARAM_ENV_RUNNERS, 0) * number(schema.PARAM_CPUS_PER_ENV_RUNNER, 1)
    gpus = number(schema.PARAM_GPUS_PER_LEARNER, 0)
    return f"{cpus:g} CPU + {gpus:g} GPU per trial"


def load_metric_histories(client, runs: pd.DataFrame, keys: Iterable[str] | None = None) -> pd.DataFrame:
    """Every logged value of the chosen metrics of ``runs``: ``[run_id, key, step, value, timestamp]``.

    ``keys`` selects metric names; an entry ending in ``/`` selects every metric under that prefix; None = all.
    A run's metric names come from its ``metrics.*`` columns (the latest values), so only logged keys are read.
    """
    wanted = None if keys is None else tuple(keys)
    rows = []
    for run_id, row in runs.set_index("run_id").iterrows():
        for column in row.index[row.index.str.startswith("metrics.")]:
            key = column.removeprefix("metrics.")
            if pd.isna(row[column]) or not _selected(key, wanted):
                continue
            rows.extend((run_id, key, m.step, m.value, m.timestamp) for m in client.get_metric_history(run_id, key))
    frame = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    frame["step"] = frame["step"].astype("int64")
    frame["value"] = frame["value"].astype("float64")
    frame["timestamp"] = pd.to_datetime(frame["timestamp"].astype("int64"), unit="ms", utc=True)
    return frame.sort_values(["run_id", "key", "step", "timestamp"], kind="stable").reset_index(drop=True)


def _selected(key: str, wanted: tuple[str, ...] | None) -> bool:
    if wanted is None:
        return True
    return any(key.startswith(w) if w.endswith("/") else key == w for w in wanted)


@dataclass
class Study:
    """Everything a report needs: the target, its runs and the metric histories it plots."""

    target: ReportTarget
    runs: pd.DataFrame
    histories: pd.DataFrame
    tracking_uri: str


def load_study(tracking_uri: str, target: str | Sequence[str], experiment_prefix: str = "",
               history_keys: Iterable[str] = schema.REPORT_HISTORY_KEYS) -> Study:
    """Resolve ``target`` (one, or several sweeps) and load its runs and the histories of ``history_keys``."""
    client = client_for(tracking_uri)
    resolved = resolve_targets(client, [target] if isinstance(target, str) else list(target), experiment_prefix)
    runs = load_runs(client, resolved.experiment_ids, resolved.parent_run_ids)
    return Study(resolved, runs, load_metric_histories(client, runs, history_keys), tracking_uri)
