"""Schema of the ``labeling`` section: rollout shards, the teacher that labels their keyframes, the actor pool.

Sizes that change between a laptop and a cluster (``actors``, ``cpus_per_actor``, ``gpus_per_actor``,
``batch_size``) sit at the top of the section, so one YAML scales by editing only those. The task comes from
``env.task`` and the render preset from ``env.render_quality``; nothing here duplicates them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mwx_ray.config.typed import setting

RolloutPolicyName = Literal["schedule", "expert", "zero", "random"]


@dataclass
class RolloutsSection:
    """``mwx rollouts collect``: which policy runs on ``env.task`` and what each shard keeps."""

    policy: RolloutPolicyName = setting(
        "schedule", help="schedule = the expert the current stage calls for; expert = one exported expert; "
                         "zero/random = no experts needed (tests, smoke runs)")
    experts_dir: str = setting("runs/experts", help="folder with one exported expert folder per skill")
    expert_dirs: dict[str, str] = setting(factory=dict, help="skill -> any expert source (zoo:getup, a folder): "
                                                             "overrides experts_dir for that skill, as "
                                                             "router.expert_dirs")
    expert: str | None = setting(None, help="policy=expert: a skill name under experts_dir, or an expert folder")
    episodes: int = setting(4, ge=1)
    episodes_per_shard: int = setting(1, ge=1, help="episodes per .npz shard (the unit of labeling resume)")
    max_steps: int | None = setting(None, ge=1, help="cap on env steps per episode (null = the task's length)")
    keyframe_every: int = setting(10, ge=1, help="env steps between rendered keyframes (50 Hz / 10 = 5 fps)")
    frame_size: list[int] | None = setting(None, help="[height, width] of stored keyframes in pixels "
                                                      "(null = the render preset's size)")
    out_dir: str | None = setting(None, help="shard folder; null = <run.root_dir>/rollouts/<run.name>")

    def field_problems(self) -> dict[str, str]:
        if self.frame_size is not None and (len(self.frame_size) != 2 or min(self.frame_size) < 8):
            return {"frame_size": f"expected [height, width] with both >= 8 pixels, got {self.frame_size}"}
        return {}


@dataclass
class FewShotExample:
    """One worked example in the teacher prompt: a frame (optional), its instruction/stage and the answer."""

    instruction: str = setting("", help="task instruction shown with the example")
    stage_description: str = setting("", help="stage description shown with the example (may be empty)")
    answer: str = setting("", help="the expected answer text, e.g. 'B' or '{\"walk\": 0.9, \"stand\": 0.1}'")
    image: str | None = setting(None, help="PNG/JPEG path of the example frame (null = text-only example)")


@dataclass
class TeacherSection:
    """The teacher backend and its settings; each backend reads the fields it needs (see labeling/teachers)."""

    backend: str = setting("oracle", help="oracle | text-prior | hf-vlm | openai (`mwx label --help` lists them)")
    model: str | None = setting(None, help="hf-vlm: local folder or hub id; openai: model name; "
                                           "text-prior: encoder folder (null = bundled all-MiniLM-L6-v2)")
    revision: str | None = setting(None, help="hub revision (commit/tag) of model, recorded in provenance")
    scope: Literal["frame", "task"] = setting(
        "frame", help="frame = one answer per keyframe (sees the image); task = one cached answer per "
                      "(instruction, stage) as in the paper (text only)")
    answer_mode: Literal["score", "generate"] = setting(
        "score", help="score = softmax over each option's next-token log-probability; generate = free "
                      "text parsed into a distribution (unparseable -> fallback)")
    use_stage_description: bool = setting(
        False, help="show the active stage's description in prompts/text prior: privileged, like the oracle "
                    "(off: the teacher infers the stage from the frame; text-prior is then one answer per task)")
    temperature: float = setting(1.0, gt=0, help="softmax temperature over option scores / similarities")
    label_smoothing: float = setting(0.0, ge=0, lt=1, help="mass spread uniformly when an answer names one expert")
    max_new_tokens: int = setting(32, ge=1, help="generate mode / openai: answer length cap in tokens")
    device: str = setting("auto", help="hf-vlm/text-prior: auto (cuda if available) | cpu | cuda[:i]")
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = setting("auto", help="hf-vlm weights dtype")
    examples: list[FewShotExample] = setting(factory=list, help="few-shot examples in the prompt")
    base_url: str = setting("http://127.0.0.1:8000/v1", help="openai: OpenAI-compatible endpoint (vLLM, Ollama)")
    api_key_env: str = setting("OPENAI_API_KEY", help="openai: environment variable holding the API key")
    timeout_s: float = setting(60.0, gt=0, help="openai: per-request timeout, s")
    max_retries: int = setting(3, ge=0, help="openai: retries of a failed request (exponential backoff)")
    requests_per_minute: float = setting(60.0, gt=0, help="openai: client-side rate limit per actor")
    concurrent_requests: int = setting(4, ge=1, help="openai: requests in flight per actor (the server batches)")


@dataclass
class LabelingSection:
    """``mwx label``: shards -> parquet label dataset through a Ray Data actor pool."""

    actors: int = setting(1, ge=1, help="labeler actors in the pool (fixed-size ActorPoolStrategy)")
    cpus_per_actor: float = setting(1.0, ge=0, help="CPUs reserved per labeler actor (also its torch threads)")
    gpus_per_actor: float = setting(0.0, ge=0, help="GPUs reserved per labeler actor")
    batch_size: int = setting(16, ge=1, help="frames per map_batches call (one teacher batch)")
    reader_cpus: float = setting(0.25, gt=0, help="CPUs per shard-reading task feeding the pool")
    max_batch_retries: int = setting(2, ge=0, help="in-actor retries of a batch whose teacher call raised")
    shards_dir: str | None = setting(None, help="input shard folder; null = the rollouts out_dir")
    out_dir: str | None = setting(None, help="label dataset folder; null = <run.root_dir>/labels/<run.name>")
    experts: list[str] = setting(factory=lambda: ["stand", "walk", "run", "sit", "crawl", "reach"],
                                 help="the K experts (skill names) labels are distributions over, in order")
    catalogue: dict[str, str] = setting(factory=dict, help="skill -> one-line description overrides "
                                                          "(default: the registered task's description)")
    teacher: TeacherSection = setting(factory=TeacherSection)
    sample_frames: int = setting(12, ge=0, help="frames with their labels logged to MLflow as an image")
    rollouts: RolloutsSection = setting(factory=RolloutsSection)

    def field_problems(self) -> dict[str, str]:
        if not self.experts:
            return {"experts": "must name at least one expert"}
        if len(set(self.experts)) != len(self.experts):
            return {"experts": f"duplicate expert names in {self.experts}"}
        unknown = sorted(set(self.catalogue) - set(self.experts))
        if unknown:
            return {"catalogue": f"descriptions for skills not in `experts`: {unknown}"}
        return {}
