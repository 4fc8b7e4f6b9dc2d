"""Labeling on a real local Ray (2 CPUs): Ray Data actor pool with a tiny random-weight VLM saved with
``save_pretrained`` and loaded back through the user path, exact counts, fallback counting, a crashed actor,
errors that name shard and frame, resume after a killed run, and the MLflow ``labels`` run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ray = pytest.importorskip("ray")

from mwx_ray.config import load_config  # noqa: E402
from mwx_ray.config.labeling_schema import LabelingSection, RolloutsSection, TeacherSection  # noqa: E402
from mwx_ray.labeling.label_parts import PARTS_DIR, part_path  # noqa: E402
from mwx_ray.labeling.pipeline import label_shards  # noqa: E402
from mwx_ray.labeling.rollouts import collect_rollouts  # noqa: E402
from mwx_ray.labeling.teachers.oracle import OracleTeacher  # noqa: E402
from mwx_ray.labeling.tiny_vlm import build_tiny_vlm  # noqa: E402

pytestmark = pytest.mark.ray
REPO = Path(__file__).resolve().parents[2]
EXPERTS = ["stand", "walk", "run", "sit"]
EPISODES, KEYFRAMES_PER_EPISODE = 6, 6  # 30 steps, a keyframe every 5 -> 36 frames in 6 shards

# Teacher factories defined here run inside Ray actors: ship this module by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    section = RolloutsSection(policy="random", episodes=EPISODES, max_steps=30, keyframe_every=5, frame_size=[64, 64])
    return collect_rollouts("stand_walk_stand", section, tmp_path_factory.mktemp("shards"), seed=0, progress=False)


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory):
    return str(build_tiny_vlm(tmp_path_factory.mktemp("models") / "tiny-llava"))


def vlm_section(model: str, **teacher) -> LabelingSection:
    return LabelingSection(actors=2, cpus_per_actor=0.5, batch_size=4, experts=EXPERTS,
                           teacher=TeacherSection(backend="hf-vlm", model=model, device="cpu", dtype="float32",
                                                  **teacher))


def read_labels(out_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(out_dir / PARTS_DIR)


def test_two_actor_tiny_vlm_pipeline_labels_every_frame_once_and_logs_mlflow(ray_runtime, shards, tiny_vlm, tmp_path):
    from mlflow import MlflowClient

    from mwx_ray.labeling.tracking import log_labels_run
    from mwx_ray.tracking.store import tracking_uri

    result = label_shards(shards, tmp_path / "labels", vlm_section(tiny_vlm), progress=False)
    assert result.frames_total == result.frames_labeled == shards.num_frames == EPISODES * KEYFRAMES_PER_EPISODE
    labels = read_labels(tmp_path / "labels")
    assert len(labels) == shards.num_frames
    assert not labels.duplicated(["episode_id", "step"]).any()
    assert sorted(labels["step"].unique()) == [0, 5, 10, 15, 20, 25]
    probs = np.stack(labels["probs"].to_numpy())
    assert probs.shape == (shards.num_frames, len(EXPERTS))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert (labels["expert"].to_numpy() == probs.argmax(axis=1)).all()
    assert set(labels["teacher_backend"]) == {"hf-vlm"} and set(labels["teacher_model"]) == {tiny_vlm}
    assert labels["teacher_revision"].iloc[0].startswith("local-")
    assert labels["frame_rate_hz"].iloc[0] == pytest.approx(10.0) and not labels["fallback"].any()
    assert result.manifest["provenance"]["prompt_hash"] == labels["prompt_hash"].iloc[0]

    loaded = load_config(None, [f"run.root_dir={tmp_path / 'runs'}", "run.name=it", "labeling.sample_frames=4"])
    run_id = log_labels_run(loaded, result, shards)
    client = MlflowClient(tracking_uri(loaded.config))
    run = client.get_run(run_id)
    assert run.data.tags["teacher"] == "hf-vlm" and run.data.tags["prompt_hash"] == labels["prompt_hash"].iloc[0]
    assert run.data.metrics["labels/frames"] == shards.num_frames
    assert run.data.metrics["labels/fallback_rate"] == 0.0 and run.data.metrics["labels/frames_per_s"] > 0
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"labels_manifest.json", "label_distribution.png", "sample_frames.png", "config.resolved.yaml"} <= artifacts
    assert client.get_experiment(run.info.experiment_id).name == "labels"


def test_unparseable_generated_answers_become_counted_fallbacks(ray_runtime, shards, tiny_vlm, tmp_path):
    # Random weights generate word salad: every frame must fall back to uniform and be counted, not dropped.
    section = vlm_section(tiny_vlm, answer_mode="generate", max_new_tokens=4)
    result = label_shards(shards, tmp_path, section, progress=False)
    labels = read_labels(tmp_path)
    assert len(labels) == shards.num_frames == result.frames_total
    fallback = result.manifest["fallback"]
    assert fallback["fallbacks"] == labels["fallback"].sum() > 0
    assert fallback["rate"] == pytest.approx(labels["fallback"].mean())
    assert sum(fallback["by_reason"].values()) == fallback["fallbacks"]
    np.testing.assert_allclose(np.stack(labels[labels["fallback"]]["probs"].to_numpy()), 1 / len(EXPERTS))


def crash_once_factory(marker: str):
    class CrashOnceTeacher(OracleTeacher):
        def label_batch(self, batch):
            if not os.path.exists(marker):
                Path(marker).write_text(str(os.getpid()))
                os._exit(1)  # a hard crash of the actor process mid-batch
            return super().label_batch(batch)

    return CrashOnceTeacher


def test_crashed_actor_is_restarted_and_its_batch_retried(ray_runtime, shards, tmp_path):
    marker = tmp_path / "crashed.pid"
    section = LabelingSection(actors=2, cpus_per_actor=0.5, batch_size=4, experts=EXPERTS)
    result = label_shards(shards, tmp_path / "labels", section, teacher_factory=crash_once_factory(str(marker)),
                          progress=False)
    assert marker.exists()  # the crash happened
    labels = read_labels(tmp_path / "labels")
    assert len(labels) == shards.num_frames == result.frames_total
    assert not labels.duplicated(["episode_id", "step"]).any()
    assert (labels["expert_name"] == labels["stage_skill"]).all()  # oracle labels survived the crash


class AlwaysFailingTeacher(OracleTeacher):
    def label_batch(self, batch):
        raise RuntimeError("teacher exploded")


def test_a_failing_batch_error_names_shard_and_frame(ray_runtime, shards, tmp_path):
    section = LabelingSection(actors=1, cpus_per_actor=0.5, batch_size=4, experts=EXPERTS, max_batch_retries=1)
    with pytest.raises(Exception, match=r"shard-0000\d\.npz frames \(episode \d, step \d+\)") as err:
        label_shards(shards, tmp_path, section, teacher_factory=AlwaysFailingTeacher, progress=False)
    assert "teacher exploded" in str(err.value)


def test_resume_after_a_killed_run_keeps_finished_parts_and_labels_the_rest(ray_runtime, shards, tiny_vlm, tmp_path):
    out = tmp_path / "labels"
    config = tmp_path / "label.yaml"
    config.write_text(f"""# Purpose: test
# Command: mwx label
extends: {REPO / 'tune_configs/base/default.yaml'}
description: resume test
run: {{root_dir: {tmp_path / 'runs'}}}
resources: {{address: "{ray_runtime}"}}
labeling:
  actors: 1
  cpus_per_actor: 0.5
  batch_size: 2
  experts: {EXPERTS}
  shards_dir: {shards.folder}
  out_dir: {out}
  teacher: {{backend: hf-vlm, model: {tiny_vlm}, answer_mode: generate, max_new_tokens: 24, device: cpu}}
""")
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "mwx_ray.cli", "label", str(config)], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    def complete_parts() -> dict[str, int]:  # not the hidden temporary files of a write in progress
        return {p.name: p.stat().st_mtime_ns for p in (out / PARTS_DIR).glob("*.parquet")
                if not p.name.startswith(".")}

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not complete_parts():
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the run we started, killed mid-way like a lost node or Ctrl-\
    proc.wait()
    finished = complete_parts()
    assert 1 <= len(finished) < len(shards.shards), f"kill did not land mid-run: {len(finished)} parts"
    # A kill during a write may leave that write's temporary file (hidden, never under a part's name).
    (out / PARTS_DIR / ".shard-09999.killed.partial.parquet").write_bytes(b"half a part")

    section = load_config(config).config.labeling
    result = label_shards(shards, out, section, progress=False)
    skipped = {Path(s).stem + ".parquet" for s in result.shards_skipped}
    assert skipped == set(finished)
    frames_done = sum(e["frames"] for e in shards.shards if part_path(out, e["file"]).name in finished)
    assert result.frames_labeled == shards.num_frames - frames_done
    assert {p.name: p.stat().st_mtime_ns for p in (out / PARTS_DIR).glob("*.parquet") if p.name in finished} == finished
    assert not list((out / PARTS_DIR).glob(".*partial*")), "the resumed run removed the killed run's temporaries"
    labels = read_labels(out)
    assert len(labels) == shards.num_frames and not labels.duplicated(["episode_id", "step"]).any()
