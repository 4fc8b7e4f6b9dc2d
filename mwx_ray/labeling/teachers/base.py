"""The teacher interface, the one registry of teacher backends, and fallback accounting.

A teacher turns a batch of keyframes (with their instruction and stage text) into label distributions over
the K catalogue experts::

    answer = teacher.label_batch(FrameBatch(frames [B, H, W, 3] uint8, instructions, stage_descriptions,
                                            stage_skills))
    answer.probs     # [B, K] float32, rows on the simplex, columns in catalogue order
    answer.fallback  # [B] bool: the answer was unparseable/invalid and row b is FALLBACK (uniform)
    answer.reasons   # [B] why each fallback happened ("" otherwise); answer.raw: the raw answer texts

Backends register by name; their modules import lazily, so ``transformers`` loads only when ``hf-vlm`` or
``text-prior`` is chosen. ``scope`` says what an answer depends on: ``frame`` (the image: queried per
keyframe, never cached) or ``task`` (instruction + stage text only: queried once per distinct text and prompt,
cached by :mod:`mwx_ray.labeling.teachers.task_cache`).
"""

from __future__ import annotations

import abc
import hashlib
import importlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from mwx_ray.config.labeling_schema import TeacherSection
from mwx_ray.errors import UnknownNameError
from mwx_ray.labeling.catalogue import ExpertCatalogue

# Backend name -> "module:Class"; imported only when chosen (heavy dependencies stay unloaded otherwise).
TEACHER_BACKENDS: dict[str, str] = {
    "oracle": "mwx_ray.labeling.teachers.oracle:OracleTeacher",
    "text-prior": "mwx_ray.labeling.teachers.text_prior:TextPriorTeacher",
    "hf-vlm": "mwx_ray.labeling.teachers.hf_vlm:HFVisionLanguageTeacher",
    "openai": "mwx_ray.labeling.teachers.openai_chat:OpenAIChatTeacher",
}


@dataclass
class FrameBatch:
    """B keyframes to label. ``stage_skills`` is privileged (the task's ground truth): only the oracle reads it."""

    frames: np.ndarray
    instructions: Sequence[str]
    stage_descriptions: Sequence[str]
    stage_skills: Sequence[str]

    def __len__(self) -> int:
        return len(self.instructions)


@dataclass
class TeacherAnswer:
    """Labels of one batch: ``probs [B, K]`` float32, ``fallback [B]`` bool, ``reasons``/``raw`` [B] str."""

    probs: np.ndarray
    fallback: np.ndarray
    reasons: list[str]
    raw: list[str]

    def check(self, batch_size: int, num_experts: int) -> None:
        """Raise ValueError unless shapes match and every row is a finite distribution."""
        if self.probs.shape != (batch_size, num_experts):
            raise ValueError(f"teacher returned probs of shape {self.probs.shape}, expected {(batch_size, num_experts)}")
        if self.fallback.shape != (batch_size,) or len(self.reasons) != batch_size or len(self.raw) != batch_size:
            raise ValueError("teacher returned fallback/reasons/raw of the wrong length")
        if not np.isfinite(self.probs).all() or (self.probs < 0).any():
            raise ValueError("teacher returned non-finite or negative probabilities")
        if not np.allclose(self.probs.sum(axis=1), 1.0, atol=1e-4):
            raise ValueError(f"teacher rows do not sum to 1: {self.probs.sum(axis=1)}")

    @classmethod
    def concat(cls, parts: Sequence[TeacherAnswer]) -> TeacherAnswer:
        return cls(np.concatenate([p.probs for p in parts]), np.concatenate([p.fallback for p in parts]),
                   [r for p in parts for r in p.reasons], [r for p in parts for r in p.raw])


def fallback_distribution(num_experts: int) -> np.ndarray:
    """FALLBACK: the uniform distribution ``[K]`` = "the teacher expressed no preference".

    Uniform (not the oracle, not a prior) so that a fallback row carries no information the teacher did not
    give; under the router's KL term it only pulls towards maximum entropy, which the entropy bonus does anyway.
    """
    return np.full(num_experts, 1.0 / num_experts, dtype=np.float32)


def one_hot(index: int, num_experts: int, label_smoothing: float = 0.0) -> np.ndarray:
    """``(1 - eps)·onehot + eps/K`` as float32 ``[K]``."""
    probs = np.full(num_experts, label_smoothing / num_experts, dtype=np.float32)
    probs[index] += 1.0 - label_smoothing
    return probs


def softmax(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``scores [..., K] / temperature`` in float64, returned as float32."""
    z = np.asarray(scores, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def answer_from_rows(rows: Iterable[np.ndarray | None], reasons: Iterable[str], raw: Iterable[str],
                     num_experts: int) -> TeacherAnswer:
    """Assemble an answer; a row that is None becomes the fallback distribution and is flagged."""
    probs, flags, why = [], [], []
    for row, reason in zip(rows, reasons, strict=True):
        if row is None:
            probs.append(fallback_distribution(num_experts))
            flags.append(True)
            why.append(reason or "invalid answer")
        else:
            probs.append(np.asarray(row, dtype=np.float32))
            flags.append(False)
            why.append("")
    return TeacherAnswer(np.stack(probs).astype(np.float32), np.asarray(flags, dtype=bool), why, list(raw))


@dataclass
class FallbackStats:
    """How many labels are fallbacks and why (computed from output rows, so retried batches count once)."""

    frames: int = 0
    fallbacks: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.fallbacks / self.frames if self.frames else 0.0

    def add(self, fallback: np.ndarray, reasons: Sequence[str]) -> None:
        fallback = np.asarray(fallback, dtype=bool)
        self.frames += int(fallback.size)
        self.fallbacks += int(fallback.sum())
        counts = Counter(str(r) for r, f in zip(reasons, fallback, strict=True) if f)
        for reason, n in counts.items():
            self.by_reason[reason] = self.by_reason.get(reason, 0) + n

    def to_json(self) -> dict[str, Any]:
        return {"frames": self.frames, "fallbacks": self.fallbacks, "rate": self.rate, "by_reason": self.by_reason}


def short_hash(payload: Any) -> str:
    """12 hex chars of sha256 over canonical JSON (prompt hashes, cache keys)."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class Teacher(abc.ABC):
    """Base class of teacher backends. Subclasses set ``backend`` and implement :meth:`label_batch`."""

    backend: ClassVar[str]
    #: scopes this backend supports; the first is its default
    scopes: ClassVar[tuple[str, ...]] = ("frame",)

    def __init__(self, catalogue: ExpertCatalogue, settings: TeacherSection):
        self.catalogue = catalogue
        self.settings = settings
        self.check_settings(settings)

    @classmethod
    def check_settings(cls, settings: TeacherSection) -> None:
        """Raise ValueError for settings this backend cannot honour (before any model loads)."""
        if settings.scope not in cls.scopes:
            raise ValueError(f"teacher {cls.backend!r} supports scope {list(cls.scopes)}, not {settings.scope!r} "
                             "(labeling.teacher.scope)")

    @property
    def scope(self) -> str:
        return self.settings.scope

    @abc.abstractmethod
    def label_batch(self, batch: FrameBatch) -> TeacherAnswer:
        """Label B frames; see the module docstring for shapes."""

    # Identity of the labels, computable without loading a model (the driver records it before labeling).
    @classmethod
    def model_id_for(cls, settings: TeacherSection) -> str:
        return settings.model or ""

    @classmethod
    def model_revision_for(cls, settings: TeacherSection) -> str:
        return settings.revision or ""

    @classmethod
    def prompt_payload_for(cls, catalogue: ExpertCatalogue, settings: TeacherSection) -> Any:
        """Everything that shapes the answers besides the model (prompt text, examples, decoding)."""
        return {"catalogue": catalogue.to_json(), "scope": settings.scope}

    @classmethod
    def provenance_for(cls, catalogue: ExpertCatalogue, settings: TeacherSection) -> dict[str, str]:
        """Recorded on every label row and in every report: which teacher produced the labels."""
        return {"teacher_backend": cls.backend, "teacher_model": cls.model_id_for(settings),
                "teacher_revision": cls.model_revision_for(settings),
                "prompt_hash": short_hash(cls.prompt_payload_for(catalogue, settings)),
                "teacher_scope": settings.scope}

    def provenance(self) -> dict[str, str]:
        return self.provenance_for(self.catalogue, self.settings)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free models/connections."""


def teacher_names() -> list[str]:
    return sorted(TEACHER_BACKENDS)


def teacher_class(name: str) -> type[Teacher]:
    if name not in TEACHER_BACKENDS:
        raise UnknownNameError(f"unknown teacher backend {name!r}; valid backends: {teacher_names()}")
    module_name, _, class_name = TEACHER_BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def build_teacher(settings: TeacherSection, catalogue: ExpertCatalogue) -> Teacher:
    """The backend named by ``settings.backend``, constructed (models load here, in the calling process)."""
    return teacher_class(settings.backend)(catalogue, settings)


def register_teacher(name: str, target: str) -> None:
    """Add a backend as ``"package.module:Class"`` (imported when first chosen)."""
    TEACHER_BACKENDS[name] = target
