"""Test helper: the sweep parent runs and trial child runs an MLflow experiment holds."""

from __future__ import annotations

from mlflow import MlflowClient


def sweep_runs(client: MlflowClient, experiment_name: str):
    """``(parents, children)``: the runs tagged ``kind=sweep`` and ``kind=trial`` in ``experiment_name``."""
    experiment = client.get_experiment_by_name(experiment_name)
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("kind") == "sweep"]
    children = [r for r in runs if r.data.tags.get("kind") == "trial"]
    return parents, children
