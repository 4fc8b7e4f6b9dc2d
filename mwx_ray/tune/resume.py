"""Continue an interrupted stage run (any stage): ``Tuner.restore`` with the same trainable, from the sweep record.

Unfinished trials continue from their latest checkpoint (iteration, env-step counter, wall time, optimizer and
connector state all restored, ``mwx_ray.tune.trial_loop``); errored trials are resumed from theirs too
(``resume_errored=True``); finished trials stay finished.

Tune pickles the original ``RunConfig`` (stopper, reporter, callbacks) into ``tuner.pkl``; restore reuses it.
``callbacks`` given here replace the pickled ones (``mwx resume`` rebuilds the tracking callback from the
experiment's saved config so it uses this process's settings); an empty sequence keeps them.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ray import tune

from mwx_ray.tune.stage import SWEEP_CONFIG_FILE, SWEEP_RECORD_FILE, prepare_tune_environment

TUNER_STATE_FILE = "tuner.pkl"  # written by Tune into every experiment folder
# Sweeps recorded before the record named its trainable were expert sweeps.
DEFAULT_TRAINABLE = "mwx_ray.experts.trainable:make_trainable"


def find_experiment(path_or_name: str, search_roots: Sequence[str | Path] = ()) -> str:
    """An experiment folder from its path, or its name under ``search_roots`` (e.g. ``runs/tune``)."""
    if "://" in path_or_name:
        return path_or_name
    candidates = [Path(path_or_name)] + [Path(root) / path_or_name for root in search_roots]
    for candidate in candidates:
        if (candidate / TUNER_STATE_FILE).is_file():
            return str(candidate.expanduser().resolve())
    looked = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"no Tune experiment ({TUNER_STATE_FILE}) at {looked}")


def sweep_record(experiment_path: str) -> dict[str, Any] | None:
    """``mwx_sweep.json`` of an experiment (stage, trainable, run folder, config hash, extra trial keys)."""
    path = Path(experiment_path) / SWEEP_RECORD_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def sweep_config_path(experiment_path: str) -> Path | None:
    """The resolved config the stage run was started with (``mwx_sweep.yaml``), if present."""
    path = Path(experiment_path) / SWEEP_CONFIG_FILE
    return path if path.is_file() else None


def trainable_from_ref(ref: str):
    """``"module:function"`` → ``function()`` (the stage's trainable with its resource request)."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)()


def restore_tuner(experiment_path: str, *, trainable_ref: str = DEFAULT_TRAINABLE,
                  callbacks: Sequence[tune.Callback] = ()) -> tune.Tuner:
    """``Tuner.restore`` of a stage run, optionally with replacement callbacks."""
    tuner = tune.Tuner.restore(experiment_path, trainable=trainable_from_ref(trainable_ref), resume_unfinished=True,
                               resume_errored=True, restart_errored=False)
    if callbacks:
        # Tuner.restore takes no RunConfig; the restored one is the object fit() will use.
        tuner._local_tuner.get_run_config().callbacks = list(callbacks)
    return tuner


def resume_stage(experiment_path: str, *, trainable_ref: str = DEFAULT_TRAINABLE,
                 callbacks: Sequence[tune.Callback] = ()) -> tune.ResultGrid:
    """Restore and run the stage to completion (needs a running Ray)."""
    prepare_tune_environment()
    return restore_tuner(experiment_path, trainable_ref=trainable_ref, callbacks=callbacks).fit()
