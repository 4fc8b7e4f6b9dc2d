"""The few-shot teacher prompt and the expert catalogue (no Ray, no model)."""

import numpy as np
import pytest
from PIL import Image

from mwx_ray.config.labeling_schema import FewShotExample, TeacherSection
from mwx_ray.errors import UnknownNameError
from mwx_ray.labeling.catalogue import ExpertCatalogue, build_catalogue
from mwx_ray.labeling.teachers.base import teacher_class, teacher_names
from mwx_ray.labeling.teachers.prompt import PromptBuilder

CATALOGUE = ExpertCatalogue(("stand", "walk", "sit"), ("Stand still.", "Walk forward.", "Sit on the chair."))


def test_catalogue_reads_registered_task_descriptions_and_overrides():
    from mwx_ray.envs.registry import get_task_entry

    catalogue = build_catalogue(["walk", "sit", "crawl"], {"crawl": "Crawl on all fours."})
    assert catalogue.descriptions[0] == get_task_entry("walk").task_cls.description
    assert catalogue.descriptions[1] == get_task_entry("sit_simple").task_cls.description  # sit -> sit_simple
    assert catalogue.descriptions[2] == "Crawl on all fours."
    assert catalogue.letters == ("A", "B", "C")
    assert catalogue.lines()[1].startswith("B. sit: ")
    assert ExpertCatalogue.from_json(catalogue.to_json()) == catalogue


def test_catalogue_errors_list_valid_names():
    with pytest.raises(UnknownNameError, match="labeling.catalogue.fly"):
        build_catalogue(["walk", "fly"])
    with pytest.raises(UnknownNameError, match=r"catalogue experts: \['stand', 'walk', 'sit'\]"):
        CATALOGUE.index("run")


def test_prompt_has_catalogue_examples_then_query_and_hides_the_stage_by_default(tmp_path):
    image = tmp_path / "example.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(image)
    examples = [FewShotExample(instruction="Walk to the wall.", answer="B", image=str(image)),
                FewShotExample(instruction="Sit down.", answer='{"sit": 1.0}')]
    builder = PromptBuilder(CATALOGUE, examples)
    messages = builder.messages("walk to the door", "Walk forward at about 1 m/s until x = 3 m.")
    roles = [m["role"] for m in messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    system = messages[0]["content"][0]["text"]
    assert "A. stand: Stand still." in system and "C. sit: Sit on the chair." in system
    assert [p["type"] for p in messages[1]["content"]] == ["image", "text"]    # example with a frame
    assert [p["type"] for p in messages[3]["content"]] == ["text"]             # text-only example
    assert messages[2]["content"][0]["text"] == "B"
    query = messages[-1]["content"]
    assert query[0] == {"type": "image"} and "Instruction: walk to the door" in query[1]["text"]
    assert "until x = 3 m" not in query[1]["text"]  # stage description is privileged: hidden unless asked
    staged = PromptBuilder(CATALOGUE, examples, use_stage_description=True).messages("walk", "Stop and stand.")
    assert "Current stage: Stop and stand." in staged[-1]["content"][-1]["text"]
    assert builder.example_images() == [str(image)]


def test_text_only_prompt_has_no_image_parts():
    messages = PromptBuilder(CATALOGUE, [FewShotExample(instruction="x", answer="A", image="unused.png")],
                             with_images=False).messages("walk", "")
    assert all(p["type"] == "text" for m in messages for p in m["content"])


def test_prompt_hash_covers_text_answers_and_example_image_bytes(tmp_path):
    image = tmp_path / "example.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(image)
    settings = TeacherSection(backend="hf-vlm", model="unused", examples=[
        FewShotExample(instruction="Walk.", answer="B", image=str(image))])
    hf = teacher_class("hf-vlm")
    base = hf.provenance_for(CATALOGUE, settings)["prompt_hash"]
    settings.examples[0].answer = "A"
    changed_answer = hf.provenance_for(CATALOGUE, settings)["prompt_hash"]
    Image.fromarray(np.ones((8, 8, 3), np.uint8)).save(image)
    changed_image = hf.provenance_for(CATALOGUE, settings)["prompt_hash"]
    assert len({base, changed_answer, changed_image}) == 3


def test_teacher_registry_is_lazy_and_lists_valid_names():
    import subprocess
    import sys

    assert teacher_names() == ["hf-vlm", "openai", "oracle", "text-prior"]
    # Choosing the oracle (and running the pipeline module imports) must not load transformers or torch models.
    code = ("import sys; from mwx_ray.labeling.teachers.base import teacher_class; import mwx_ray.labeling.pipeline;"
            "teacher_class('oracle'); print('transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    with pytest.raises(UnknownNameError, match="valid backends: .*text-prior"):
        teacher_class("gpt")
    with pytest.raises(ValueError, match="supports scope \\['task'\\]"):
        teacher_class("text-prior").check_settings(TeacherSection(backend="text-prior", scope="frame"))
