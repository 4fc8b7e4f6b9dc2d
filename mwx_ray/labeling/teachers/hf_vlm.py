"""``hf-vlm``: a Hugging Face transformers image-text-to-text model (local folder or hub id) as teacher.

Loaded with ``AutoProcessor`` + ``AutoModelForImageTextToText`` (SmolVLM/Idefics3, LLaVA, Qwen2-VL, ...).
The prompt (:mod:`.prompt`) goes through the processor's own chat template; each query carries the few-shot
example images followed by the keyframe. Batched: B frames = one padded forward pass (left padding).

Answer modes:

* ``score`` (default): one forward pass; the next-token log-probability of each option letter (``"A"`` and
  ``" A"`` variants merged by logsumexp) is that expert's score; ``probs = softmax(scores / temperature)``.
  Always a valid distribution (constrained to the options), so fallbacks only come from non-finite logits.
* ``generate``: greedy batched generation of ``max_new_tokens``, parsed by :mod:`.parsing`; an unparseable
  answer becomes the uniform fallback and is counted.

Offline: a hub id is loaded with ``local_files_only`` when ``HF_HUB_OFFLINE=1``; a missing model raises an
error that says how to get one (``python -m mwx_ray.labeling.tiny_vlm DIR`` builds a random-weight test model).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from mwx_ray.labeling.teachers.base import FrameBatch, Teacher, TeacherAnswer, answer_from_rows, softmax
from mwx_ray.labeling.teachers.parsing import parse_answer
from mwx_ray.labeling.teachers.prompt import PromptBuilder, load_example_image
from mwx_ray.labeling.teachers.text_prior import resolve_device


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")


def local_model_digest(folder: Path) -> str:
    """``local-<12 hex>`` over config.json and the weight files' names and sizes (a local folder's revision)."""
    digest = hashlib.sha256((folder / "config.json").read_bytes())
    for weights in sorted(folder.glob("*.safetensors")):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    return "local-" + digest.hexdigest()[:12]


def option_token_ids(tokenizer, letters) -> list[list[int]]:
    """Token ids that start each option letter (bare and space-prefixed); disjoint across options."""
    ids = []
    for letter in letters:
        candidates = {tokens[0] for text in (letter, " " + letter)
                      if (tokens := tokenizer.encode(text, add_special_tokens=False))}
        ids.append(sorted(candidates))
    flat = [i for option in ids for i in option]
    if len(flat) != len(set(flat)):
        raise ValueError(f"the tokenizer maps different option letters {list(letters)} to the same token; "
                         "use labeling.teacher.answer_mode=generate")
    return ids


class HFVisionLanguageTeacher(Teacher):
    backend = "hf-vlm"

    def __init__(self, catalogue, settings):
        super().__init__(catalogue, settings)
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        if not settings.model:
            raise ValueError("hf-vlm needs labeling.teacher.model: a local model folder or a hub id")
        self.local = Path(settings.model).is_dir()
        kwargs = {"revision": settings.revision, "local_files_only": self.local or _offline()}
        try:
            self.processor = AutoProcessor.from_pretrained(settings.model, **kwargs)
            dtype = settings.dtype if settings.dtype == "auto" else getattr(torch, settings.dtype)
            self.model = AutoModelForImageTextToText.from_pretrained(settings.model, dtype=dtype, **kwargs)
        except OSError as err:
            raise FileNotFoundError(
                f"hf-vlm model {settings.model!r} is not a local folder and is not in the Hugging Face cache "
                f"(offline: {_offline()}). Download it on a connected machine (huggingface-cli download), point "
                "labeling.teacher.model at a folder, or build a tiny test model with "
                f"`python -m mwx_ray.labeling.tiny_vlm DIR`. Cause: {err}"
            ) from err
        self.device = resolve_device(settings.device)
        self.model.to(self.device).eval()
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.padding_side = "left"  # the last position of every row is its prompt's end
        if getattr(self.processor, "chat_template", None) is None:
            raise ValueError(f"hf-vlm model {settings.model!r} has no chat template in its processor")
        self.prompt = PromptBuilder(catalogue, settings.examples, settings.use_stage_description, with_images=True)
        self.example_images = [load_example_image(p) for p in self.prompt.example_images()]
        self.option_ids = option_token_ids(self.tokenizer, catalogue.letters) if settings.answer_mode == "score" else []

    def _encode(self, batch: FrameBatch):
        texts = [self.processor.apply_chat_template(self.prompt.messages(i, s), add_generation_prompt=True,
                                                    tokenize=False)
                 for i, s in zip(batch.instructions, batch.stage_descriptions, strict=True)]
        images = [[*self.example_images, np.asarray(frame)] for frame in batch.frames]
        encoded = self.processor(text=texts, images=images, padding=True, return_tensors="pt")
        encoded = encoded.to(self.device)
        if "pixel_values" in encoded:
            encoded["pixel_values"] = encoded["pixel_values"].to(self.model.dtype)
        return encoded

    def label_batch(self, batch: FrameBatch) -> TeacherAnswer:
        import torch

        encoded = self._encode(batch)
        with torch.inference_mode():
            if self.settings.answer_mode == "score":
                return self._score(encoded)
            return self._generate(encoded)

    def _score(self, encoded) -> TeacherAnswer:
        import torch

        logits = self.model(**encoded).logits[:, -1, :].float()  # [B, V] next-token logits
        logprobs = torch.log_softmax(logits, dim=-1)
        scores = torch.stack([torch.logsumexp(logprobs[:, ids], dim=-1) for ids in self.option_ids], dim=-1)
        scores = scores.cpu().numpy()  # [B, K]
        finite = np.isfinite(scores).all(axis=1)
        probs = softmax(np.where(finite[:, None], scores, 0.0), self.settings.temperature)
        letters = self.catalogue.letters
        raw = [letters[int(np.argmax(row))] + " " + " ".join(f"{v:.2f}" for v in row) for row in scores]
        rows = [p if ok else None for p, ok in zip(probs, finite, strict=True)]
        return answer_from_rows(rows, ["" if ok else "non-finite option scores" for ok in finite], raw,
                                self.catalogue.size)

    def _generate(self, encoded) -> TeacherAnswer:
        output = self.model.generate(**encoded, max_new_tokens=self.settings.max_new_tokens, do_sample=False,
                                     pad_token_id=self.tokenizer.pad_token_id)
        texts = self.tokenizer.batch_decode(output[:, encoded["input_ids"].shape[1]:], skip_special_tokens=True)
        parsed = [parse_answer(t, self.catalogue, self.settings.label_smoothing) for t in texts]
        return answer_from_rows([p.probs for p in parsed], [p.reason for p in parsed], texts, self.catalogue.size)

    @classmethod
    def model_revision_for(cls, settings) -> str:
        if settings.revision:
            return settings.revision
        return local_model_digest(Path(settings.model)) if settings.model and Path(settings.model).is_dir() else ""

    @classmethod
    def prompt_payload_for(cls, catalogue, settings):
        prompt = PromptBuilder(catalogue, settings.examples, settings.use_stage_description, with_images=True)
        return {**prompt.payload(), "answer_mode": settings.answer_mode, "temperature": settings.temperature,
                "label_smoothing": settings.label_smoothing, "max_new_tokens": settings.max_new_tokens}
