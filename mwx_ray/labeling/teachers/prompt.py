"""The few-shot teacher prompt, shared by the hf-vlm and openai backends.

Structure (chat messages): a system message with the role, the lettered expert catalogue and the answer
format; then per few-shot example a user turn (its frame if any + its instruction/stage text) and an assistant
turn with its answer; then the query user turn (the keyframe + instruction). Messages use the
transformers/OpenAI "content parts" shape; images are placeholders ``{"type": "image"}`` that each backend
fills in its own way (processor images / base64 data URLs).

The stage description is privileged (it tells which stage is active); it appears only when
``use_stage_description`` is set, otherwise the teacher must infer progress from the frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mwx_ray.config.labeling_schema import FewShotExample
from mwx_ray.labeling.catalogue import ExpertCatalogue

SYSTEM_TEMPLATE = (
    "You supervise the skill router of a Unitree H1 humanoid robot. The robot has these motor-skill experts:\n"
    "{catalogue}\n"
    "Given the task instruction{stage_clause} and {view}, choose the expert that should control the robot "
    "now. Answer with the letter of that expert only (for example: {first_letter}), or with a JSON object "
    "that maps expert names to weights summing to 1."
)


def example_image_sha256(example: FewShotExample) -> str | None:
    import hashlib

    if example.image is None:
        return None
    return hashlib.sha256(Path(example.image).read_bytes()).hexdigest()[:12]


def load_example_image(path: str) -> np.ndarray:
    """``[H, W, 3]`` uint8 RGB of a few-shot example image; the error names the file and the config key."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except OSError as err:
        raise FileNotFoundError(f"labeling.teacher.examples: cannot read example image {path!r}: {err}") from err


@dataclass(frozen=True)
class PromptBuilder:
    """Builds chat messages for one query; ``with_images`` False gives the text-only (task-scope) prompt."""

    catalogue: ExpertCatalogue
    examples: Sequence[FewShotExample] = ()
    use_stage_description: bool = False
    with_images: bool = True

    def system_text(self) -> str:
        return SYSTEM_TEMPLATE.format(
            catalogue="\n".join(self.catalogue.lines()),
            stage_clause=", the current stage" if self.use_stage_description else "",
            view="the current camera frame" if self.with_images else "nothing else",
            first_letter=self.catalogue.letters[min(1, self.catalogue.size - 1)],
        )

    def query_text(self, instruction: str, stage_description: str) -> str:
        lines = [f"Instruction: {instruction}"]
        if self.use_stage_description and stage_description:
            lines.append(f"Current stage: {stage_description}")
        lines.append("Which expert should act now?")
        return "\n".join(lines)

    def _user_turn(self, text: str, has_image: bool) -> dict[str, Any]:
        parts: list[dict[str, Any]] = [{"type": "image"}] if (has_image and self.with_images) else []
        parts.append({"type": "text", "text": text})
        return {"role": "user", "content": parts}

    def messages(self, instruction: str, stage_description: str) -> list[dict[str, Any]]:
        """System + few-shot turns + the query turn (with one image placeholder when ``with_images``)."""
        messages = [{"role": "system", "content": [{"type": "text", "text": self.system_text()}]}]
        for example in self.examples:
            messages.append(self._user_turn(self.query_text(example.instruction, example.stage_description),
                                            example.image is not None))
            messages.append({"role": "assistant", "content": [{"type": "text", "text": example.answer}]})
        messages.append(self._user_turn(self.query_text(instruction, stage_description), True))
        return messages

    def example_images(self) -> list[str]:
        """Paths of the example images in message order (those shown only when ``with_images``)."""
        if not self.with_images:
            return []
        return [e.image for e in self.examples if e.image is not None]

    def payload(self) -> dict[str, Any]:
        """What the prompt hash covers: all text, the answers and a digest of each example image."""
        return {
            "system": self.system_text(),
            "query_template": self.query_text("{instruction}", "{stage_description}"),
            "examples": [{"instruction": e.instruction, "stage": e.stage_description, "answer": e.answer,
                          "image_sha256": example_image_sha256(e) if self.with_images else None}
                         for e in self.examples],
            "use_stage_description": self.use_stage_description,
            "with_images": self.with_images,
        }
