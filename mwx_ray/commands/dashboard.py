"""``mwx dashboard``: the MLflow UI on this machine, over the project's tracking store and artifact folder.

Runs ``mlflow server`` (UI + REST API) bound to 127.0.0.1 by default, with ``--backend-store-uri`` = the
project's store (``tracking_uri(config)``) and artifacts served from the project's artifact folder, prints the
URL and stays in the foreground until Ctrl-C (or SIGTERM), which stops the server. When the project tracks to a
remote server already (``tracking.uri: http://...``), that server *is* the dashboard: its URL is printed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from mwx_ray.commands.common import add_overrides_argument, add_subcommand
from mwx_ray.config import load_config
from mwx_ray.tracking.store import LOCAL_ARTIFACT_DIR, artifact_root, tracking_uri

EXAMPLES = """  mwx dashboard                               http://127.0.0.1:5000 over runs/mlflow.db; Ctrl-C stops it
  mwx dashboard --port 5001 --set run.root_dir=/data/mwx-runs
  mwx dashboard --print-url-only              the URL it would serve, then exit
  mwx dashboard --wait-ready 60               exit 1 unless the UI answers within 60 s (scripts, tests)
  ssh -L 5000:127.0.0.1:5000 <host>            then open http://127.0.0.1:5000 locally (remote machine)
"""

STOP_GRACE_S = 10.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def register(subparsers) -> None:
    parser = add_subcommand(subparsers, "dashboard",
                            "MLflow UI over the project's tracking store (experiments per stage, runs, artifacts)",
                            EXAMPLES, run)
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to bind (default 127.0.0.1: this machine only; use an SSH tunnel)")
    parser.add_argument("--port", type=int, default=5000, help="port (default 5000)")
    parser.add_argument("--config", help="config whose run.root_dir / tracking settings locate the store")
    add_overrides_argument(parser)
    parser.add_argument("--print-url-only", action="store_true", help="print the URL and the command, start nothing")
    parser.add_argument("--wait-ready", type=float, metavar="SECONDS",
                        help="after starting, fail (exit 1) unless /health answers within SECONDS")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes (default 1: a local UI)")


def server_command(config, host: str, port: int, workers: int) -> list[str]:
    """``python -m mlflow server ...`` for the project's local store (same interpreter: same mlflow version)."""
    root = Path(config.run.root_dir).resolve()
    artifacts = root / LOCAL_ARTIFACT_DIR
    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", tracking_uri(config),
            # New experiments (created from the UI) get the same artifact folder the stages use...
            "--default-artifact-root", artifact_root(config) or artifacts.as_uri(),
            # ...and proxied (mlflow-artifacts:/) uploads land there too.
            "--artifacts-destination", str(artifacts),
            "--host", host, "--port", str(port), "--workers", str(workers)]


def server_environment() -> dict[str, str]:
    """The server's environment. MLflow 3 starts a job runner plus five task-queue workers for GenAI jobs
    (judges, scorers) by default; a runs dashboard needs none of them, and on a 2-core machine they compete
    with training. Set ``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=true`` to get them back."""
    return {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION":
            os.environ.get("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")}


def wait_until_ready(url: str, timeout_s: float, process: subprocess.Popen | None = None) -> bool:
    """Poll ``<url>/health`` until it answers 200, the process exits, or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:  # noqa: S310 - local URL
                if reply.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    return False


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group is gone already
        os.killpg(process.pid, signum)


def _stop(process: subprocess.Popen) -> None:
    """Stop the server's whole process group (``mlflow server`` runs uvicorn as a child): SIGTERM, which
    uvicorn handles gracefully, then SIGKILL for anything still alive after the grace period."""
    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        process.wait()
    _signal_group(process, signal.SIGKILL)  # grandchildren that outlived their parent


def _raise_keyboard_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def run(args) -> int:
    config = load_config(args.config, args.overrides).config
    uri = tracking_uri(config)
    if not uri.startswith("sqlite:"):
        print(f"tracking.uri is {uri}: that server is the dashboard; open it in a browser")
        return 0
    url = f"http://{args.host}:{args.port}"
    command = server_command(config, args.host, args.port, args.workers)
    print(f"MLflow dashboard: {url}", flush=True)
    print(f"  store {uri}; artifacts {command[command.index('--artifacts-destination') + 1]}", flush=True)
    if args.print_url_only:
        print("  command: " + " ".join(command))
        return 0
    Path(config.run.root_dir).mkdir(parents=True, exist_ok=True)
    # `kill` or a closed terminal stops the server like Ctrl-C does (else the server would outlive mwx).
    previous = {signum: signal.signal(signum, _raise_keyboard_interrupt) for signum in STOP_SIGNALS}
    # Own process group: one signal reaches every server process, and Ctrl-C (delivered to mwx's foreground
    # group) is handled here once, instead of racing the server's own shutdown.
    process = subprocess.Popen(command, start_new_session=True, env=server_environment())
    try:
        if args.wait_ready is not None:
            if not wait_until_ready(url, args.wait_ready, process):
                print(f"mwx dashboard: no answer from {url}/health within {args.wait_ready:g} s", flush=True)
                return 1
            print(f"ready: {url}", flush=True)
        print("Ctrl-C stops the dashboard", flush=True)
        return process.wait()
    except KeyboardInterrupt:
        print("\nstopping the dashboard", flush=True)
        return 0
    finally:
        _stop(process)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
