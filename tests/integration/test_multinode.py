"""A real two-node Ray cluster on this machine runs the smoke expert sweep; trials land on both nodes.

Setup (module fixture, torn down even on failure):
- head:   ``ray start --head --block --num-cpus 1 --temp-dir <tmp>/head`` (+ dashboard on 127.0.0.1 if installed)
- node 2: ``ray start --block --address <head> --num-cpus 1 --temp-dir <tmp>/node2``: its own CPU and its own
  session/log folder, so a process's node is not a matter of guessing.
- an MLflow server (sqlite backend) on 127.0.0.1, and ``<tmp>/shared`` as the "NFS" ``storage_path``.
Every process gets its own Ray auth token through the environment (Ray 2.60 enables token auth and would
otherwise read the user-wide ``~/.ray/auth_token`` that other Ray sessions on this host rewrite).

Each trial asks for 1 CPU (learner only, 0 remote env runners) and there are 2 trials and 2 one-CPU nodes,
so a correct sweep must use both nodes at once; the test reads where the trials ran from the GCS actor
table (trial actor pid -> node id), then checks the shared storage and the MLflow server.

Two ways in: ``mwx submit`` (the Jobs API, the recommended path; needs ``ray[default]`` on the head) and a
driver joining the cluster by its GCS address (what ``ray submit`` / ``ray exec`` run on a head node).
Teardown stops exactly the processes started here (``ray stop`` would kill every Ray on the machine).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.ray

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SMOKE = "tune_configs/experts/smoke.yaml"
NODE_START_TIMEOUT_S = 90
SWEEP_TIMEOUT_S = 240
OBJECT_STORE_BYTES = 200 * 1024**2  # two raylets share 24 GB with everything else on this host
ITERATIONS, STEPS_PER_ITER = 2, 256


def dashboard_installed() -> bool:
    """The Jobs API lives in the dashboard, which needs ray[default] (aiohttp_cors, opencensus, ...)."""
    try:
        import ray.dashboard.optional_deps  # noqa: F401
    except ImportError:
        return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Runs in a subprocess joined to the cluster (the test process itself stays Ray-free): alive nodes and the
# GCS actor table. The public state API (ray.util.state) would need the dashboard; the GCS table does not.
PROBE = """
import json, sys, ray
import ray._private.state as state
ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)
nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
actors = [{"class": a["ActorClassName"], "pid": a["Pid"], "node_id": a["Address"]["NodeID"], "state": a["State"]}
          for a in state.actors().values()]
print("PROBE " + json.dumps({"nodes": nodes, "actors": actors}))
"""


@dataclass
class LocalCluster:
    gcs_address: str
    dashboard_url: str | None
    env: dict[str, str]
    root: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    def probe(self) -> dict:
        out = subprocess.run([sys.executable, "-c", PROBE, self.gcs_address], env=self.env, capture_output=True,
                             text=True, timeout=60, check=True).stdout
        return json.loads(next(line for line in out.splitlines() if line.startswith("PROBE "))[6:])


def start_blocking(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    """A process in its own process group (so teardown can reach all its children by that group id)."""
    return subprocess.Popen(args, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)


def stop_group(process: subprocess.Popen, grace_s: float = 20.0) -> None:
    """SIGTERM the blocking `ray start` (it shuts its node down), then SIGKILL whatever is left in its group."""
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def group_gone(pgid: int, timeout_s: float = 15.0) -> bool:
    """Whether every process of a killed group has disappeared (killed orphans are reaped by init, not at once)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def wait_until(predicate, timeout_s: float, what: str, logs: list[Path]):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception:  # noqa: BLE001 - not up yet; the timeout below reports with the logs
            pass
        time.sleep(1)
    tails = "\n".join(f"--- {log}\n{log.read_text()[-3000:]}" for log in logs if log.exists())
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}\n{tails}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    # Short root: Ray's unix socket paths must stay under ~107 characters.
    root = Path(tmp_path_factory.mktemp("mn", numbered=True))
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32), "PYTHONPATH": str(REPO),
           "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    env.pop("RAY_ADDRESS", None)
    port, dash_port = free_port(), free_port()
    with_dashboard = dashboard_installed()
    head_args = [str(BIN / "ray"), "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
                 "--port", str(port), "--num-cpus", "1", "--num-gpus", "0",
                 "--object-store-memory", str(OBJECT_STORE_BYTES), "--temp-dir", str(root / "head"),
                 "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dash_port),
                 "--include-dashboard", "true" if with_dashboard else "false", "--disable-usage-stats",
                 # Ray's default agent port (52365) is taken by any other Ray on this machine (and by node 2):
                 # a head whose job agent cannot bind never accepts a job submission.
                 "--dashboard-agent-listen-port", str(free_port())]
    logs = [root / "head.log", root / "node2.log"]
    started = LocalCluster(gcs_address=f"127.0.0.1:{port}",
                           dashboard_url=f"http://127.0.0.1:{dash_port}" if with_dashboard else None,
                           env=env, root=root)
    try:
        started.processes.append(start_blocking(head_args, logs[0], env))
        wait_until(lambda: len(started.probe()["nodes"]) == 1, NODE_START_TIMEOUT_S, "the head node", logs)
        started.processes.append(start_blocking(
            [str(BIN / "ray"), "start", "--block", "--address", started.gcs_address, "--node-ip-address",
             "127.0.0.1", "--num-cpus", "1", "--num-gpus", "0", "--object-store-memory", str(OBJECT_STORE_BYTES),
             "--temp-dir", str(root / "node2"), "--dashboard-agent-listen-port", str(free_port())], logs[1], env))
        wait_until(lambda: len(started.probe()["nodes"]) == 2, NODE_START_TIMEOUT_S, "the second node", logs)
        if with_dashboard:
            # Token auth is on: an unauthenticated request gets 401, so probe with the cluster's token.
            probe = urllib.request.Request(f"{started.dashboard_url}/api/version",
                                           headers={"Authorization": f"Bearer {env['RAY_AUTH_TOKEN']}"})
            wait_until(lambda: urllib.request.urlopen(probe, timeout=5), NODE_START_TIMEOUT_S,
                       "the dashboard / Jobs API", logs)
        yield started
    finally:
        for process in reversed(started.processes):
            stop_group(process)
        for process in started.processes:  # nothing of this cluster survives the test
            assert group_gone(process.pid), f"processes of group {process.pid} survived the teardown"


@pytest.fixture(scope="module")
def mlflow_server(cluster):
    port = free_port()
    server = start_blocking(
        [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{cluster.root / 'mlflow.db'}",
         "--artifacts-destination", str(cluster.root / "mlartifacts")],
        cluster.root / "mlflow.log", cluster.env)
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: urllib.request.urlopen(f"{uri}/health", timeout=5).status == 200, 90,
                   "the MLflow server", [cluster.root / "mlflow.log"])
        yield uri
    finally:
        stop_group(server)


def sweep_overrides(shared: Path, tracking_uri: str, run_name: str) -> list[str]:
    """smoke.yaml's 2 trials (stand, walk), with the sizes this test relies on stated here, not inherited."""
    settings = {
        "run.name": run_name,
        "run.root_dir": str(shared / "runs"),
        "resources.storage_path": str(shared),
        "tracking.uri": tracking_uri,
        "tracking.required": "true",
        # A trial = its 1-CPU learner process (no remote env runners): two trials need both 1-CPU nodes.
        "resources.env_runners_per_trial": "0",
        "resources.cpus_per_learner": "1.0",
        "resources.gpus_per_learner": "0.0",
        "resources.max_concurrent_trials": "2",
        "experts.ppo.train_batch_size_per_learner": str(STEPS_PER_ITER),
        "experts.stop.env_steps": str(ITERATIONS * STEPS_PER_ITER),
        "experts.stop.max_iters": str(ITERATIONS),
        "experts.eval.every_iters": "1",
        "experts.eval.video": "false",             # rendering is not what this test is about
        "experts.checkpoint.every_iters": "1",
    }
    return [word for key, value in settings.items() for word in ("--set", f"{key}={value}")]


def trial_results(shared: Path, run_name: str) -> dict[str, dict]:
    """skill -> last result of its trial, read from the shared storage path (not from the job's output)."""
    last = {}
    for path in shared.rglob("result.json"):
        if run_name not in str(path):
            continue
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if rows:
            last[rows[-1]["config"]["skill"]] = {**rows[-1], "trial_dir": path.parent}
    return last


def launch(mode: str, cluster: LocalCluster, overrides: list[str]) -> subprocess.CompletedProcess:
    if mode == "mwx submit":
        argv = [sys.executable, "-m", "mwx_ray.cli", "submit", cluster.dashboard_url, "--working-dir", str(REPO),
                "--", "train-experts", SMOKE, *overrides]
    else:  # a driver on the head joining by GCS address, as `ray submit` / `ray exec` would run it
        argv = [sys.executable, "-m", "mwx_ray.cli", "train-experts", SMOKE, *overrides,
                "--set", f"resources.address={cluster.gcs_address}"]
    return subprocess.run(argv, cwd=REPO, env=cluster.env, capture_output=True, text=True, timeout=SWEEP_TIMEOUT_S)


@pytest.mark.parametrize("mode", [
    pytest.param("mwx submit", marks=pytest.mark.skipif(
        not dashboard_installed(),
        reason="the Jobs API (ray job submit / mwx submit) needs ray[default] on the head: "
               "aiohttp_cors, opencensus, prometheus_client, ... are not installed in this venv")),
    "driver on head",
])
def test_smoke_sweep_spans_both_nodes(cluster, mlflow_server, mode):
    shared = cluster.root / "shared"
    run_name = "mn-" + mode.replace(" ", "-")
    started = time.monotonic()
    done = launch(mode, cluster, sweep_overrides(shared, mlflow_server, run_name))
    elapsed = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{mode} failed after {elapsed:.0f}s:\n{output[-6000:]}"
    if mode == "mwx submit":
        assert "job id: raysubmit_" in output and "SUCCEEDED" in output

    # Results are in the shared storage path: both skills, the full budget, a checkpoint each.
    results = trial_results(shared, run_name)
    assert set(results) == {"stand", "walk"}, output[-4000:]
    for skill, result in results.items():
        assert result["env_steps"] >= ITERATIONS * STEPS_PER_ITER, (skill, result)
        assert result["training_iteration"] == ITERATIONS, (skill, result)
        assert any(result["trial_dir"].glob("checkpoint_*/algorithm")), f"{skill}: no checkpoint in shared storage"

    # The trials ran on two different nodes: trial actor pid (from the result) -> node id (GCS actor table).
    probe = cluster.probe()
    node_of_pid = {a["pid"]: a["node_id"] for a in probe["actors"] if a["class"] == "ImplicitFunc"}
    trial_nodes = {skill: node_of_pid[result["pid"]] for skill, result in results.items()}
    assert set(trial_nodes.values()) == set(probe["nodes"]) and len(probe["nodes"]) == 2, (trial_nodes, probe)

    # The MLflow server has the sweep: one parent run and one finished child run per trial.
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name("experts")
    runs = client.search_runs([experiment.experiment_id], f"tags.`mlflow.runName` LIKE '{run_name}%' "
                                                         f"and tags.kind = 'sweep'")
    assert len(runs) == 1, [r.data.tags.get("mlflow.runName") for r in runs]
    children = client.search_runs([experiment.experiment_id],
                                  f"tags.`mlflow.parentRunId` = '{runs[0].info.run_id}'")
    assert sorted(r.data.tags["skill"] for r in children) == ["stand", "walk"]
    assert all(r.info.status == "FINISHED" and r.data.metrics.get("env_steps", 0) >= ITERATIONS * STEPS_PER_ITER
               for r in children)
    print(f"{mode}: sweep of 2 trials on 2 nodes in {elapsed:.0f}s")
