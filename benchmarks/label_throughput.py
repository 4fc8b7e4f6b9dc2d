"""Labeling throughput: the Ray Data actor pool vs one-frame-at-a-time calls of the same teacher, same run.

    python benchmarks/label_throughput.py                         # tiny random-weight VLM, 512 frames
    python benchmarks/label_throughput.py --model runs/models/smolvlm --frames 256 --batch-size 8

Frames: real 224×224 keyframes of ``stand_walk_stand`` (zero policy, ``fast`` render preset), rendered once
and replicated into shards of 32 frames to reach ``--frames`` (rendering is not what is measured).
Measured, all with the hf-vlm backend in score mode:

* sequential: ``teacher.label_batch`` on one frame at a time in this process (after one warm-up call), torch's
  default thread count;
* pipeline: ``label_shards`` (reader tasks + FrameLabeler actor pool) with 1 and then 2 actors, each actor
  ``--cpus-per-actor`` CPUs and batches of ``--batch-size``; "wall" includes actor start-up and model loading,
  "steady" starts at the first finished batch.

Prints frames/s, the pipeline/sequential ratio (goal ≥ 3×) and the 2-actor/1-actor scaling. Not a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402

from mwx_ray.config.labeling_schema import LabelingSection, RolloutsSection, TeacherSection  # noqa: E402
from mwx_ray.labeling.catalogue import build_catalogue  # noqa: E402
from mwx_ray.labeling.rollouts import collect_rollouts  # noqa: E402
from mwx_ray.labeling.shards import Shard, ShardIndex, read_shard, shard_file_name, write_shard  # noqa: E402
from mwx_ray.labeling.teachers.base import FrameBatch, build_teacher  # noqa: E402

EXPERTS = ["stand", "walk", "run", "sit", "crawl", "reach"]


def make_shards(root: Path, frames: int) -> ShardIndex:
    """Render 32 real keyframes once, then write ``frames / 32`` shards that reuse them as new episodes."""
    source = collect_rollouts("stand_walk_stand", RolloutsSection(policy="zero", episodes=1, max_steps=64,
                                                                  keyframe_every=2), root / "source", seed=0,
                              progress=False)
    template = read_shard(source.path_of(source.shards[0]))
    per_shard = template.num_frames  # 32 unless the episode ended early
    index = ShardIndex(folder=root / "shards", meta=dict(source.meta), shards=[])
    index.folder.mkdir(parents=True)
    for number in range(max(1, -(-frames // per_shard))):
        arrays = {**template.arrays, "episode_id": np.full_like(template.arrays["episode_id"], number)}
        meta = {**template.meta, "episodes": [{**template.meta["episodes"][0], "episode_id": number}]}
        index.shards.append(write_shard(index.folder / shard_file_name(number), Shard(arrays, meta)))
    index.save()
    return index


def sequential_fps(section: LabelingSection, index: ShardIndex, frames: int) -> float:
    teacher = build_teacher(section.teacher, build_catalogue(section.experts))
    shard = read_shard(index.path_of(index.shards[0])).frame_records()
    instruction, stage = str(shard["instruction"][0]), str(shard["stage_description"][0])

    def one(i: int) -> None:
        frame = shard["frame"][i % len(shard["frame"])][None]
        teacher.label_batch(FrameBatch(frame, [instruction], [stage], ["stand"]))

    one(0)  # warm-up: first-call allocations are not throughput
    start = time.perf_counter()
    for i in range(frames):
        one(i)
    return frames / (time.perf_counter() - start)


def pipeline_run(section: LabelingSection, index: ShardIndex, out_dir: Path):
    from mwx_ray.labeling.pipeline import label_shards

    result = label_shards(index, out_dir, section, progress=False)
    assert result.frames_labeled == index.num_frames == result.frames_total, "lost or duplicated frames"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="hf-vlm model folder/hub id (default: build the tiny random-weight VLM)")
    parser.add_argument("--frames", type=int, default=512)
    parser.add_argument("--sequential-frames", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--cpus-per-actor", type=float, default=0.75)
    parser.add_argument("--num-cpus", type=int, default=2)
    args = parser.parse_args()

    import ray

    root = Path(tempfile.mkdtemp(prefix="mwx-label-bench-"))
    try:
        model = args.model
        if model is None:
            from mwx_ray.labeling.tiny_vlm import build_tiny_vlm

            model = str(build_tiny_vlm(root / "tiny-llava"))
        index = make_shards(root, args.frames)
        teacher = TeacherSection(backend="hf-vlm", model=model, device="cpu", answer_mode="score")

        def section(actors: int, batch_size: int = args.batch_size) -> LabelingSection:
            return LabelingSection(actors=actors, cpus_per_actor=args.cpus_per_actor, batch_size=batch_size,
                                   experts=EXPERTS, teacher=teacher)

        seq = sequential_fps(section(1, 1), index, args.sequential_frames)
        ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
        try:
            runs = {n: pipeline_run(section(n), index, root / f"labels-{n}") for n in (1, 2)}
        finally:
            ray.shutdown()
        print(f"\nlabel throughput: hf-vlm {model}, {index.num_frames} frames of "
              f"{index.meta.get('frame_size') or [224, 224]} px, batch {args.batch_size}, "
              f"{args.cpus_per_actor} CPU/actor, Ray num_cpus={args.num_cpus}")
        print(f"{'mode':<28}{'frames/s (wall)':>18}{'frames/s (steady)':>20}{'vs sequential':>16}")
        print(f"{'sequential, 1 frame/call':<28}{seq:>18.1f}{seq:>20.1f}{1.0:>15.2f}x")
        for n, result in runs.items():
            print(f"{f'pipeline, {n} actor(s)':<28}{result.frames_per_s:>18.1f}{result.steady_frames_per_s:>20.1f}"
                  f"{result.frames_per_s / seq:>15.2f}x")
        print(f"scaling 1 -> 2 actors: {runs[2].frames_per_s / runs[1].frames_per_s:.2f}x wall, "
              f"{runs[2].steady_frames_per_s / runs[1].steady_frames_per_s:.2f}x steady")
        best = max(r.frames_per_s for r in runs.values()) / seq
        print(f"pipeline vs sequential (best, wall): {best:.2f}x (goal >= 3x)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
