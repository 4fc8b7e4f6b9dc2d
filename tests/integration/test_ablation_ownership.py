"""Ablation variants own their inputs: a sweep with the real ``full``, ``no_motion_prior`` and ``labels_tiny_vlm``
variant files (at a smoke budget) routes ``full`` over the registry it is given, ``no_motion_prior`` over experts it
trains itself without the motion prior, and the labels variant on labels its own teacher wrote (the oracle here:
the tiny VLM's own path is tested in the labeling tests); overriding a key a variant owns is refused before
anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from mwx_ray.config import ConfigError, load_config  # noqa: E402
from mwx_ray.config.experts_schema import PPOSection  # noqa: E402
from mwx_ray.config.schema import ResourcesSection  # noqa: E402
from mwx_ray.experts.export import export_algorithm  # noqa: E402
from mwx_ray.experts.ppo import build_ppo_config  # noqa: E402
from mwx_ray.router.stage import train_router, variant_configs  # noqa: E402

pytestmark = pytest.mark.ray

ABLATIONS = Path(__file__).resolve().parents[2] / "tune_configs" / "ablations"
SMOKE_ROUTER = Path(__file__).resolve().parents[2] / "tune_configs" / "router" / "smoke.yaml"
SMOKE_EXPERTS = Path(__file__).resolve().parents[2] / "tune_configs" / "experts" / "smoke.yaml"
LABELING = Path(__file__).resolve().parents[2] / "tune_configs" / "labeling"


@pytest.fixture(scope="module")
def given_experts(ray_runtime, tmp_path_factory):
    """A folder of two tiny motion-prior experts (stand_imitation, walk_imitation): the 'given' registry."""
    root = tmp_path_factory.mktemp("given")
    ppo = PPOSection(train_batch_size_per_learner=128, minibatch_size=64, num_epochs=1, fcnet_hiddens=[32, 32])
    for skill in ("stand", "walk"):
        algo = build_ppo_config(f"mwx/h1-{skill}_imitation-v0", seed=1, ppo=ppo,
                                resources=ResourcesSection(env_runners_per_trial=0)).build_algo()
        algo.train()
        export_algorithm(algo, root / skill)
        algo.stop()
    return root


def write_sweep(folder: Path, registry: Path) -> Path:
    """The two real variant files under a smoke-budget base, as one sweep file."""
    (folder / "experts_tiny.yaml").write_text(
        f"extends: {SMOKE_EXPERTS}\nexperts:\n  skills: [stand, walk]\n  motion_prior: false\n"
        "  eval: {video: false}\nresources: {env_runners_per_trial: 0, cpus_per_learner: 1.0}\n")
    (folder / "base.yaml").write_text(
        f"extends: [{ABLATIONS / 'base.yaml'}, {SMOKE_ROUTER}]\nrouter:\n  experts_dir: {registry}\n"
        "  eval: {video: false, max_steps: 40}\n")
    (folder / "full.yaml").write_text(f"extends: [{ABLATIONS / 'full.yaml'}, base.yaml]\nrouter: {{variant: full}}\n")
    (folder / "no_motion_prior.yaml").write_text(
        f"extends: [{ABLATIONS / 'no_motion_prior.yaml'}, base.yaml]\n"
        "router: {variant: no_motion_prior, experts_config: experts_tiny.yaml, "
        "owns: [router.experts_dir, router.experts_config]}\n")
    (folder / "labeling_tiny.yaml").write_text(
        f"extends: {LABELING / 'oracle.yaml'}\nlabeling:\n  actors: 1\n  cpus_per_actor: 0.5\n"
        "  rollouts: {episodes: 1, max_steps: 40, keyframe_every: 10}\n")
    (folder / "labels_owned.yaml").write_text(
        f"extends: [{ABLATIONS / 'labels_tiny_vlm.yaml'}, base.yaml]\n"
        "router: {variant: labels_owned, labels: {source: dataset}, labels_config: labeling_tiny.yaml}\n")
    sweep = folder / "sweep.yaml"
    sweep.write_text("extends: base.yaml\nrun: {name: ablations}\n"
                     "router:\n  sweep: [full.yaml, no_motion_prior.yaml, labels_owned.yaml]\n")
    return sweep


def routed_expert_tasks(trial) -> dict[str, str]:
    """Skill -> the task its routed expert trained on, read from the trial's exported router checkpoint."""
    manifest = json.loads((Path(trial.last["artifacts/router_checkpoint"]) / "router.json").read_text())
    return {e["name"]: json.loads((Path(e["folder"]) / "manifest.json").read_text())["task"]["name"]
            for e in manifest["experts"]}


def test_each_variant_uses_the_inputs_it_declares(given_experts, tmp_path):
    sweep = write_sweep(tmp_path, given_experts)
    common = [f"run.root_dir={tmp_path / 'runs'}", f"tracking.uri=sqlite:///{tmp_path}/mlflow.db"]
    with pytest.raises(ConfigError, match="variant 'no_motion_prior' .* owns router.experts_dir"):
        variant_configs(load_config(sweep, [*common, "router.experts_dir=/elsewhere"]),
                        [*common, "router.experts_dir=/elsewhere"])

    loaded = load_config(sweep, common)
    result = train_router(loaded, common, run_dir=tmp_path / "run")
    assert result.ok and result.stage == "ablations"
    trials = {t.group: t for t in result.trials}
    assert set(trials) == {"full", "no_motion_prior", "labels_owned"}
    assert routed_expert_tasks(trials["full"]) == {"stand": "stand_imitation", "walk": "walk_imitation"}
    assert routed_expert_tasks(trials["no_motion_prior"]) == {"stand": "stand", "walk": "walk"}
    own = tmp_path / "run" / "experts-no_motion_prior" / "registry"
    assert (own / "manifest.json").is_file(), "the variant trained and exported its own experts"
    labels = tmp_path / "run" / "labels-labels_owned"
    assert sorted(p.name for p in (labels / "labels").rglob("*.parquet")), "the variant labeled its own rollouts"
    trained_on = load_config(sweep.parent / "labels_owned.yaml", common).config.router.labels.dataset_dir
    assert trained_on is None, "the file names no dataset: the stage must have produced and set it"
    import yaml

    variant = yaml.safe_load(trials["labels_owned"].config["configs"]["labels_owned"])
    assert Path(variant["router"]["labels"]["dataset_dir"]) == labels / "labels"
