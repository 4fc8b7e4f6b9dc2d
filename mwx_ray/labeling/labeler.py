"""The callable class each actor of the labeling pool runs: one teacher per actor, one teacher call per batch.

Input batch (numpy columns, B rows): ``shard``, ``episode_id``, ``step``, ``stage``, ``stage_skill``,
``stage_description``, ``instruction``, ``frame [B, H, W, 3] uint8``. Output: the same ids plus ``probs [B, K]``
float32, ``expert`` (argmax index), ``expert_name``, ``fallback``, ``fallback_reason``, ``answer`` (raw text,
truncated); frames are dropped so they never travel back to the driver.

Failures: a teacher call that raises is retried ``max_batch_retries`` times in the actor; after that the batch
fails with :class:`LabelingError` naming the shard(s) and frames (episode/step). A crashed actor process is
restarted by Ray and its batch re-run (Ray Data's actor pools default to ``max_restarts=-1``,
``max_task_retries=-1``). Task-scope teachers are never built here: the driver fills a
:class:`TaskAnswerCache` once and actors only look answers up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from mwx_ray.config.labeling_schema import TeacherSection
from mwx_ray.config.typed import build
from mwx_ray.labeling.catalogue import ExpertCatalogue
from mwx_ray.labeling.teachers.base import FrameBatch, Teacher, TeacherAnswer, build_teacher
from mwx_ray.labeling.teachers.task_cache import TaskAnswerCache

logger = logging.getLogger("mwx_ray.labeling")
ANSWER_CHARS = 200  # raw answers are kept for audits, truncated so rows stay small
TeacherFactory = Callable[[ExpertCatalogue, TeacherSection], Teacher]  # a Teacher subclass is one
ID_COLUMNS = ("shard", "episode_id", "step", "stage", "stage_skill")


class LabelingError(RuntimeError):
    """A batch that could not be labeled; the message names the shard(s) and frames."""


def describe_frames(batch: Mapping[str, np.ndarray], limit: int = 4) -> str:
    """``"shard-00001.npz frames (episode 3, step 40), (episode 3, step 50) ... (8 frames)"``."""
    keys = list(zip(batch["shard"], batch["episode_id"], batch["step"], strict=True))
    shards = sorted({str(s) for s, _, _ in keys})
    shown = ", ".join(f"(episode {int(e)}, step {int(t)})" for _, e, t in keys[:limit])
    more = " ..." if len(keys) > limit else ""
    return f"{', '.join(shards)} frames {shown}{more} ({len(keys)} frames)"


def make_teacher(catalogue: ExpertCatalogue, settings: TeacherSection,
                 factory: TeacherFactory | None = None) -> Teacher:
    """``factory(catalogue, settings)`` if given (tests inject teachers), else the registry's backend."""
    return factory(catalogue, settings) if factory is not None else build_teacher(settings, catalogue)


class FrameLabeler:
    """Ray Data ``map_batches`` callable class. Constructor args are plain data (picklable, small)."""

    def __init__(self, teacher_settings: dict[str, Any], catalogue: dict[str, str], *,
                 task_answers: dict[str, Any] | None = None, max_batch_retries: int = 2,
                 torch_threads: int = 1, teacher_factory: TeacherFactory | None = None):
        import torch

        # One actor per reserved CPU: more intra-op threads than CPUs only adds contention between actors.
        torch.set_num_threads(max(1, torch_threads))
        self.settings = build(TeacherSection, teacher_settings, lambda _key: "labeling.teacher")
        self.catalogue = ExpertCatalogue.from_json(catalogue)
        self.max_batch_retries = max_batch_retries
        self.cache = TaskAnswerCache.from_json(task_answers) if task_answers is not None else None
        self.teacher = None if self.cache is not None else make_teacher(self.catalogue, self.settings,
                                                                         teacher_factory)

    def _label(self, query: FrameBatch) -> TeacherAnswer:
        if self.cache is not None:
            return self.cache.answer(query)
        return self.teacher.label_batch(query)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        query = FrameBatch(frames=np.asarray(batch["frame"]),
                           instructions=[str(s) for s in batch["instruction"]],
                           stage_descriptions=[str(s) for s in batch["stage_description"]],
                           stage_skills=[str(s) for s in batch["stage_skill"]])
        size, errors = len(query), []
        for attempt in range(self.max_batch_retries + 1):
            try:
                answer = self._label(query)
                answer.check(size, self.catalogue.size)
                break
            except Exception as err:  # noqa: BLE001 - any teacher failure is retried, then reported with ids
                errors.append(f"{type(err).__name__}: {err}")
                logger.warning("labeling attempt %d failed for %s: %s", attempt + 1, describe_frames(batch), err)
                time.sleep(min(0.1 * 2**attempt, 2.0))
        else:
            raise LabelingError(f"teacher {self.settings.backend!r} failed on {describe_frames(batch)} after "
                                f"{len(errors)} attempts: {errors[-1]}")
        expert = answer.probs.argmax(axis=1).astype(np.int64)
        out = {key: np.asarray(batch[key]) for key in ID_COLUMNS}
        out.update({
            "probs": answer.probs.astype(np.float32),
            "expert": expert,
            "expert_name": np.array([self.catalogue.skills[i] for i in expert], dtype=object),
            "fallback": answer.fallback.astype(bool),
            "fallback_reason": np.array(answer.reasons, dtype=object),
            "answer": np.array([str(r)[:ANSWER_CHARS] for r in answer.raw], dtype=object),
        })
        return out
