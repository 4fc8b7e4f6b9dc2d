"""clusters/: launcher YAMLs pass Ray's own schema offline, images and installs are pinned to pyproject, the
RayJob manifest is consistent; ``mwx submit`` argument handling; the resource budget of the presets."""

from __future__ import annotations

import copy
import json
import re
import shlex
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

from mwx_ray.cli import build_parser
from mwx_ray.commands import submit
from mwx_ray.config import load_config
from mwx_ray.resources import ResourceBudgetError, check_budget

REPO = Path(__file__).resolve().parents[2]
CLUSTERS = REPO / "clusters"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
RAY_PIN = next(re.fullmatch(r"ray\[[^\]]*\]==(\S+)", dep).group(1)
               for dep in PYPROJECT["project"]["dependencies"] if dep.startswith("ray["))
MWX_VERSION = PYPROJECT["project"]["version"]
PINNED_IMAGE = re.compile(rf"rayproject/ray:{re.escape(RAY_PIN)}-py311(-gpu)?")


def launcher_configs() -> list[Path]:
    """Every cluster-launcher YAML in clusters/ (Kubernetes manifests have an apiVersion instead)."""
    return [p for p in sorted(CLUSTERS.glob("*.yaml")) if "apiVersion" not in yaml.safe_load(p.read_text())]


def ray_validate(raw: dict) -> dict:
    """What `ray up` does before touching a cloud: merge provider defaults, then validate against
    ray/autoscaler/ray-schema.json (plus Ray's cross-field checks). The raw file is validated too, so a
    misspelled key of ours is not hidden by the defaults merge."""
    from ray.autoscaler._private.util import prepare_config, validate_config

    prepared = prepare_config(copy.deepcopy(raw))
    validate_config(prepared)
    return prepared


def test_aws_and_gcp_launchers_exist():
    providers = {yaml.safe_load(p.read_text())["provider"]["type"] for p in launcher_configs()}
    assert {"aws", "gcp"} <= providers


@pytest.mark.parametrize("path", launcher_configs(), ids=lambda p: p.name)
def test_launcher_config_validates_against_ray_schema(path):
    raw = yaml.safe_load(path.read_text())
    import ray.autoscaler

    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    jsonschema.validate(raw, schema)
    prepared = ray_validate(raw)
    assert prepared["head_node_type"] in prepared["available_node_types"]


def test_schema_validation_rejects_a_misspelled_key():
    """The check above can fail: a typo in a node type is a schema error, as `ray up` would report."""
    raw = yaml.safe_load((CLUSTERS / "aws.yaml").read_text())
    raw["available_node_types"]["cpu_worker"]["max_worker"] = 3
    with pytest.raises(jsonschema.ValidationError, match="max_worker"):
        ray_validate(raw)


@pytest.mark.parametrize("path", launcher_configs(), ids=lambda p: p.name)
def test_launcher_has_head_cpu_and_gpu_worker_types(path):
    raw = yaml.safe_load(path.read_text())
    types = raw["available_node_types"]
    head = types[raw["head_node_type"]]
    workers = {name: spec for name, spec in types.items() if name != raw["head_node_type"]}
    assert head["resources"].get("CPU") == 0, "trials and labeling actors must not land on the head"
    cpu_types = [s for s in workers.values() if s["resources"].get("CPU", 0) > 0 and not s["resources"].get("GPU")]
    gpu_types = [s for s in workers.values() if s["resources"].get("GPU", 0) >= 1]
    assert cpu_types and all(s["max_workers"] > s.get("min_workers", 0) for s in cpu_types), "CPU workers autoscale"
    assert gpu_types and all(PINNED_IMAGE.fullmatch(s["docker"]["worker_image"]) and
                             s["docker"]["worker_image"].endswith("-gpu") for s in gpu_types)
    assert PINNED_IMAGE.fullmatch(raw["docker"]["image"]) and not raw["docker"]["image"].endswith("-gpu")


@pytest.mark.parametrize("path", launcher_configs(), ids=lambda p: p.name)
def test_launcher_installs_pinned_mwx_ray_and_mounts_motion_data(path):
    raw = yaml.safe_load(path.read_text())
    wheel = f"mwx_ray-{MWX_VERSION}-py3-none-any.whl"
    assert any(wheel in command and "pip install" in command for command in raw["setup_commands"])
    mounts = raw["file_mounts"]
    wheel_dir = next(remote for remote, local in mounts.items() if local == "./dist")
    assert any(f"{wheel_dir}/{wheel}" in command for command in raw["setup_commands"])
    assert any("motion" in remote for remote in mounts), "motion clips must be mounted on every node"
    assert any("mlflow server" in command for command in raw["head_setup_commands"])


def test_no_moving_image_tags_anywhere_in_clusters():
    for path in sorted(CLUSTERS.iterdir()):
        text = path.read_text()
        assert not re.search(r"[\w./-]+:latest\b", text), f"{path.name} uses a moving :latest tag"
        assert not re.search(r"rayproject/ray-ml:", text), f"{path.name}: ray-ml images are no longer published"
        for image in re.findall(r"rayproject/ray:[\w.\-<>]+", text):
            if "<" not in image:  # README placeholders like rayproject/ray:<version>
                assert PINNED_IMAGE.fullmatch(image), f"{path.name}: {image} is not pinned to ray {RAY_PIN}"


def test_cluster_python_matches_pyproject():
    assert PYPROJECT["project"]["requires-python"] == ">=3.11,<3.12"  # the images are -py311


def rayjob() -> dict:
    return yaml.safe_load((CLUSTERS / "kuberay-rayjob.yaml").read_text())


def test_rayjob_manifest_pins_ray_and_images():
    job = rayjob()
    assert (job["apiVersion"], job["kind"]) == ("ray.io/v1", "RayJob")
    cluster = job["spec"]["rayClusterSpec"]
    assert cluster["rayVersion"] == RAY_PIN
    images = [c["image"] for c in cluster["headGroupSpec"]["template"]["spec"]["containers"]]
    groups = cluster["workerGroupSpecs"]
    for group in groups:
        images += [c["image"] for c in group["template"]["spec"]["containers"]]
    assert images and all(PINNED_IMAGE.fullmatch(image) for image in images), images
    gpu_groups = [g for g in groups if g["rayStartParams"].get("num-gpus")]
    assert gpu_groups and all(c["image"].endswith("-gpu") for g in gpu_groups
                              for c in g["template"]["spec"]["containers"])
    assert any(g["maxReplicas"] > g["minReplicas"] for g in groups), "worker groups autoscale"


def test_rayjob_entrypoint_is_a_valid_mwx_command():
    spec = rayjob()["spec"]
    words = shlex.split(spec["entrypoint"])
    start = words.index("mwx_ray.cli") + 1
    args = build_parser().parse_args(words[start:])
    assert args.command == "train-experts" and (REPO / args.config).is_file()
    loaded = load_config(REPO / args.config, args.overrides)
    assert loaded.config.resources.address == "auto"
    assert loaded.config.resources.storage_path.startswith("/mnt/shared")
    runtime_env = yaml.safe_load(spec["runtimeEnvYAML"])
    assert any(f"mwx_ray-{MWX_VERSION}-" in item for item in runtime_env["pip"])
    assert runtime_env["env_vars"]["MLFLOW_TRACKING_URI"] == loaded.config.tracking.uri


def test_readme_gives_the_exact_commands():
    text = (CLUSTERS / "README.md").read_text()
    for command in ("ray up clusters/aws.yaml", "ray up clusters/gcp.yaml", "ray submit clusters/aws.yaml",
                    "ray job submit --address", "mwx submit http://127.0.0.1:8265 --", "mlflow server",
                    "storage_path", "kubectl apply -f clusters/kuberay-rayjob.yaml", "ray down clusters/aws.yaml"):
        assert command in text, f"clusters/README.md lacks `{command}`"


# ---- mwx submit: argument handling (no cluster needed) ------------------------------------------------

def parse_submit(argv: list[str]):
    args = build_parser().parse_args(["submit", *argv])
    return args, submit.split_command_line(args)


@pytest.mark.parametrize("argv", [
    ["http://127.0.0.1:8265", "--no-wait", "--working-dir", "/tmp", "--", "train-experts", "a.yaml", "--set", "x=1"],
    ["--no-wait", "--working-dir", "/tmp", "http://127.0.0.1:8265", "--", "train-experts", "a.yaml", "--set", "x=1"],
])
def test_submit_options_before_or_after_the_address(argv):
    args, command = parse_submit(argv)
    assert (args.address, args.no_wait, args.working_dir) == ("http://127.0.0.1:8265", True, "/tmp")
    assert command == ["train-experts", "a.yaml", "--set", "x=1"]


def test_submit_keeps_the_commands_own_options():
    args, command = parse_submit(["http://h:8265", "--", "config", "show", "c.yaml", "--no-wait"])
    assert not args.no_wait and command == ["config", "show", "c.yaml", "--no-wait"]


def test_job_joins_its_own_cluster_unless_told_otherwise():
    parser = build_parser()
    assert submit.job_command(["train-experts", "a.yaml"], parser) == [
        "train-experts", "a.yaml", "--set", "resources.address=auto"]
    explicit = ["train-experts", "a.yaml", "--set", "resources.address=10.0.0.1:6379"]
    assert submit.job_command(explicit, parser) == explicit
    assert submit.job_command(["env", "list"], parser) == ["env", "list"]  # takes no config overrides


def test_job_environment_carries_tracking_uri_and_headless_rendering():
    command = ["train-experts", "a.yaml", "--set", "tracking.uri=http://10.0.0.5:5000"]
    env = submit.job_env_vars(command, {"HF_HUB_OFFLINE": "1"})
    assert env["MLFLOW_TRACKING_URI"] == "http://10.0.0.5:5000"
    assert env["MUJOCO_GL"] == "egl" and env["HF_HUB_OFFLINE"] == "1" and env["PYTHONUNBUFFERED"] == "1"
    assert "MLFLOW_TRACKING_URI" not in submit.job_env_vars(["train-experts", "a.yaml"], {})
    assert submit.job_env_vars(["doctor"], {"MLFLOW_TRACKING_URI": "http://x:5000"})["MLFLOW_TRACKING_URI"] == \
        "http://x:5000"


def test_runtime_env_uploads_the_checkout_without_heavy_folders(tmp_path):
    env = submit.runtime_env(tmp_path, ["doctor"], {})
    assert env["working_dir"] == str(tmp_path.resolve())
    assert {".venv", ".git", "runs"} <= set(env["excludes"])
    with pytest.raises(FileNotFoundError, match="no such folder"):
        submit.runtime_env(tmp_path / "missing", ["doctor"], {})


def test_entrypoint_quotes_arguments():
    assert submit.entrypoint(["train-experts", "a b.yaml"]) == "python -m mwx_ray.cli train-experts 'a b.yaml'"


@pytest.mark.parametrize(("address", "url"), [("127.0.0.1:8265", "http://127.0.0.1:8265"),
                                              ("https://ray.example:443/", "https://ray.example:443")])
def test_dashboard_url(address, url):
    assert submit.dashboard_url(address) == url


def test_dashboard_url_rejects_driver_addresses():
    with pytest.raises(ValueError, match="dashboard"):
        submit.dashboard_url("ray://10.0.0.1:10001")


@pytest.mark.parametrize(("status", "driver_code", "code"),
                         [("SUCCEEDED", 0, 0), ("STOPPED", None, 130), ("FAILED", 2, 2), ("FAILED", None, 1)])
def test_exit_code_follows_job_status(status, driver_code, code):
    assert submit.exit_code(status, driver_code) == code


# ---- resource budget: trials and the labeling pool cannot starve each other ----------------------------

def worker_resources(path: Path) -> tuple[dict[str, float], list[dict[str, float]]]:
    """Total and per-node resources of a launcher config at full scale (every worker type at max_workers)."""
    raw = yaml.safe_load(path.read_text())
    total: dict[str, float] = {}
    nodes = []
    for name, spec in raw["available_node_types"].items():
        count = 1 if name == raw["head_node_type"] else spec["max_workers"]
        nodes += [dict(spec["resources"])] * count
        for key, value in spec["resources"].items():
            total[key] = total.get(key, 0) + value * count
    return total, nodes


@pytest.mark.parametrize("path", launcher_configs(), ids=lambda p: p.name)
def test_cluster_preset_fits_the_launched_cluster_with_labeling_alongside(path):
    config = load_config(REPO / "tune_configs/base/cluster.yaml").config
    total, nodes = worker_resources(path)
    demands = check_budget(config, total, stages=("experts", "labeling"), nodes=nodes)
    assert sum(d.cpus for d in demands) <= total["CPU"]


def test_smoke_sweep_fits_two_cpus_alone_but_not_next_to_a_labeling_pool():
    config = load_config(REPO / "tune_configs/experts/smoke.yaml").config
    (experts,) = check_budget(config, {"CPU": 2.0}, stages=("experts",))
    assert experts.cpus == 2.0
    shared = load_config(REPO / "tune_configs/experts/smoke.yaml",
                         ["resources.max_concurrent_trials=1"]).config
    with pytest.raises(ResourceBudgetError, match=r"needs 3.25 CPU at once but the cluster has 2"):
        check_budget(shared, {"CPU": 2.0}, stages=("experts", "labeling"))


def test_unbounded_trials_next_to_a_labeling_pool_are_refused():
    config = load_config(REPO / "tune_configs/base/cluster.yaml", ["resources.max_concurrent_trials=null"]).config
    with pytest.raises(ResourceBudgetError, match="max_concurrent_trials is null"):
        check_budget(config, {"CPU": 1000.0, "GPU": 8.0})


def test_a_gpu_actor_needs_a_node_with_a_gpu():
    config = load_config(REPO / "tune_configs/base/cluster.yaml").config
    with pytest.raises(ResourceBudgetError, match="labeling: a single bundle"):
        check_budget(config, {"CPU": 200.0, "GPU": 2.0}, nodes=[{"CPU": 100.0}, {"CPU": 100.0, "GPU": 0.5}])


def test_override_value_reads_both_set_spellings_last_wins():
    words = ["train-experts", "a.yaml", "--set", "tracking.uri=http://a:1", "--set=tracking.uri=http://b:2"]
    assert submit.override_value(words, "tracking.uri") == "http://b:2"
    assert submit.override_value(words[:4], "tracking.uri") == "http://a:1"
    assert submit.override_value(["doctor", "--set"], "tracking.uri") is None


def test_submit_waits_for_the_heads_job_agent_and_not_for_real_errors():
    from mwx_ray.commands.submit import AGENT_NOT_READY, submit_when_agent_ready

    class Client:
        def __init__(self, failures, message=AGENT_NOT_READY):
            self.failures, self.message, self.calls = failures, message, 0

        def submit_job(self, **job):
            self.calls += 1
            if self.calls <= self.failures:
                raise RuntimeError(f"Request failed with status code 500: {self.message}, please try again later..")
            return "raysubmit_1"

    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    def clock():
        return now[0]

    client = Client(failures=3)
    assert submit_when_agent_ready(client, entrypoint="mwx doctor", sleep=sleep, clock=clock) == "raysubmit_1"
    assert client.calls == 4 and now[0] == 6.0
    with pytest.raises(RuntimeError, match="no agent for you"):
        submit_when_agent_ready(Client(failures=1, message="no agent for you"), sleep=sleep, clock=clock)
    now[0] = 0.0
    with pytest.raises(RuntimeError, match=AGENT_NOT_READY):  # gives up after wait_s
        submit_when_agent_ready(Client(failures=100), wait_s=10.0, sleep=sleep, clock=clock)
    assert now[0] == 10.0
