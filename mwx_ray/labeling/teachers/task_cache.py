"""One query per task and prompt: cached answers of task-scope teachers.

A task-scope answer depends only on (instruction, stage text if the prompt shows it) and the prompt, so the
labeling driver asks the teacher once per distinct key *before* the actor pool starts (:meth:`fill`), saves
the answers next to the labels (``task_answers.json``, reused by later runs with the same prompt hash) and
hands them to the actors, which only look them up. Frame-scope (per-frame) answers are never cached.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from mwx_ray.atomic_io import atomic_write_text
from mwx_ray.labeling.teachers.base import FrameBatch, Teacher, TeacherAnswer

CACHE_FILE = "task_answers.json"


def task_key(instruction: str, stage_description: str, use_stage_description: bool) -> str:
    """Cache key; the stage text is part of it only when the prompt shows it."""
    return json.dumps([instruction, stage_description if use_stage_description else ""])


class TaskAnswerCache:
    """``key -> {probs [K], fallback, reason, raw}`` for one teacher identity (``prompt_hash`` covers model + prompt)."""

    def __init__(self, prompt_hash: str, use_stage_description: bool, entries: dict[str, dict] | None = None):
        self.prompt_hash = prompt_hash
        self.use_stage_description = use_stage_description
        self.entries: dict[str, dict[str, Any]] = dict(entries or {})
        self.queries = 0

    def key(self, instruction: str, stage_description: str) -> str:
        return task_key(instruction, stage_description, self.use_stage_description)

    def fill(self, teacher: Teacher, pairs: Iterable[tuple[str, str]]) -> int:
        """Query ``teacher`` once, batched, for every (instruction, stage) key not cached yet; returns how many."""
        missing: dict[str, tuple[str, str]] = {}
        for instruction, stage in pairs:
            key = self.key(instruction, stage)
            if key not in self.entries:
                missing.setdefault(key, (instruction, stage))
        if not missing:
            return 0
        keys = list(missing)
        instructions = [missing[k][0] for k in keys]
        stages = [missing[k][1] for k in keys]
        frames = np.zeros((len(keys), 1, 1, 3), dtype=np.uint8)  # task scope: teachers never read frames
        answer = teacher.label_batch(FrameBatch(frames, instructions, stages, [""] * len(keys)))
        answer.check(len(keys), teacher.catalogue.size)
        for i, key in enumerate(keys):
            self.entries[key] = {"probs": answer.probs[i].tolist(), "fallback": bool(answer.fallback[i]),
                                 "reason": answer.reasons[i], "raw": answer.raw[i],
                                 "instruction": instructions[i], "stage_description": stages[i]}
        self.queries += len(keys)
        return len(keys)

    def answer(self, batch: FrameBatch) -> TeacherAnswer:
        """Answers for a batch from the cache; KeyError (naming the text) if a key was never filled."""
        rows = []
        for instruction, stage in zip(batch.instructions, batch.stage_descriptions, strict=True):
            key = self.key(instruction, stage)
            if key not in self.entries:
                raise KeyError(f"no cached task answer for instruction {instruction!r} / stage {stage!r}")
            rows.append(self.entries[key])
        return TeacherAnswer(np.asarray([r["probs"] for r in rows], dtype=np.float32).reshape(len(rows), -1),
                             np.asarray([r["fallback"] for r in rows], dtype=bool),
                             [r["reason"] for r in rows], [r["raw"] for r in rows])

    def to_json(self) -> dict[str, Any]:
        return {"prompt_hash": self.prompt_hash, "use_stage_description": self.use_stage_description,
                "entries": self.entries}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskAnswerCache:
        return cls(data["prompt_hash"], data["use_stage_description"], data["entries"])

    def save(self, folder: str | Path) -> Path:
        return atomic_write_text(Path(folder) / CACHE_FILE, json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def load_or_new(cls, folder: str | Path, prompt_hash: str, use_stage_description: bool) -> TaskAnswerCache:
        """The saved cache if it was made with the same prompt hash, else an empty one."""
        path = Path(folder) / CACHE_FILE
        if path.is_file():
            data = json.loads(path.read_text())
            if data.get("prompt_hash") == prompt_hash:
                return cls.from_json(data)
        return cls(prompt_hash, use_stage_description)
