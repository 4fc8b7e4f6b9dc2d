"""``mwx submit``: run an ``mwx`` command on a Ray cluster as a Ray job (the Jobs API behind ``ray job submit``).

The job runs ``python -m mwx_ray.cli <mwx args>`` on the head node, in a copy of this checkout (the runtime
env's ``working_dir``, uploaded by the client), so the cluster runs exactly the code and tune_configs of the
checkout it was submitted from. Per-job settings travel in the runtime env:

- ``env_vars``: ``MUJOCO_GL`` (headless rendering on every node), ``PYTHONUNBUFFERED`` (logs stream as they
  are printed), and ``MLFLOW_TRACKING_URI`` when a tracking URI is known (``--set tracking.uri=...`` or the
  caller's environment), so any process of the job that talks to MLflow, remote workers included, uses the
  same server (remote processes without an explicit URI lose their artifacts; see platform notes).
- the command gets ``--set resources.address=auto`` when it accepts config overrides and does not set the
  address itself: inside a job, "auto" is the job's own cluster, while a null address would start a second,
  private Ray on the head node.

Logs stream until the job ends; the exit status is the job's (0 = SUCCEEDED). Needs the cluster's dashboard
(``ray[default]`` on the head) at an HTTP address such as http://127.0.0.1:8265.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mwx_ray.commands.common import add_subcommand

EXAMPLES = """  mwx submit http://127.0.0.1:8265 -- train-experts tune_configs/experts/smoke.yaml
  mwx submit http://127.0.0.1:8265 -- train-experts tune_configs/experts/walk.yaml \\
      --set resources.storage_path=s3://my-bucket/mwx --set tracking.uri=http://10.0.0.5:5000
  mwx submit http://127.0.0.1:8265 --no-wait -- label tune_configs/labeling/oracle.yaml
  (on a cloud cluster, first forward the dashboard: ray dashboard clusters/aws.yaml)
"""

# Never uploaded: environments, run outputs, caches and build products (Ray caps a working_dir at its
# gRPC message size, ~500 MiB, and uploads it once per job). Motion data reaches cloud nodes through the
# cluster YAML's file_mounts instead.
WORKING_DIR_EXCLUDES = (
    ".venv", ".git", "runs", "mlruns", "dist", "build", "*.egg-info", "__pycache__", ".pytest_cache",
    ".ruff_cache", "*.mp4", "MUJOCO_LOG.TXT",
)
# Environment variables copied from the submitting shell into the job when set there.
FORWARDED_ENV_VARS = ("HF_HUB_OFFLINE", "RAY_AIR_NEW_OUTPUT")
TRACKING_KEY = "tracking.uri"
ADDRESS_KEY = "resources.address"
TERMINAL_EXIT_CODES = {"SUCCEEDED": 0, "STOPPED": 130}


def add_submit_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--working-dir", default=".",
                        help="folder uploaded as the job's working directory (default: this checkout, .)")
    parser.add_argument("--no-wait", action="store_true",
                        help="print the job id and return without streaming logs")
    return parser


def register(subparsers) -> None:
    parser = add_subcommand(subparsers, "submit",
                            "run an mwx command on a Ray cluster as a Ray job (working dir + runtime env)",
                            EXAMPLES, run)
    parser.add_argument("address", help="the cluster dashboard's HTTP address, e.g. http://127.0.0.1:8265")
    add_submit_options(parser)
    # REMAINDER keeps the mwx command's own options (--set ...) away from this parser.
    parser.add_argument("mwx_args", nargs=argparse.REMAINDER, metavar="-- <mwx command ...>",
                        help="the mwx command to run on the cluster, after `--`")


def split_command_line(args: argparse.Namespace) -> list[str]:
    """The mwx command of ``mwx submit``'s arguments; submit's own options written after the address
    (``mwx submit URL --no-wait -- cmd``) land before the ``--`` in the remainder and are parsed here."""
    words = list(args.mwx_args)
    if "--" not in words:
        return words
    split = words.index("--")
    own = argparse.ArgumentParser(prog="mwx submit", add_help=False)
    add_submit_options(own).parse_args(words[:split], namespace=args)
    return words[split + 1:]


def dashboard_url(address: str) -> str:
    """``host:port`` or ``http(s)://host:port`` → the HTTP URL the Jobs API client needs."""
    address = address.strip().rstrip("/")
    if not address:
        raise ValueError("empty cluster address: give the dashboard's address, e.g. http://127.0.0.1:8265")
    if "://" not in address:
        return f"http://{address}"
    if not address.startswith(("http://", "https://")):
        raise ValueError(f"{address!r} is not a dashboard HTTP address (ray:// and GCS host:6379 addresses "
                         "are for drivers; jobs go to the dashboard, e.g. http://127.0.0.1:8265)")
    return address


def override_value(mwx_args: Sequence[str], key: str) -> str | None:
    """The last ``--set key=value`` value for ``key`` in an mwx command line (None if absent)."""
    value = None
    for index, word in enumerate(mwx_args):
        assignment = mwx_args[index + 1] if word == "--set" and index + 1 < len(mwx_args) else \
            word.removeprefix("--set=") if word.startswith("--set=") else ""
        if assignment.startswith(key + "="):
            value = assignment.split("=", 1)[1]
    return value


def accepts_overrides(mwx_args: Sequence[str], parser: argparse.ArgumentParser) -> bool:
    """Whether the mwx (sub)command named at the start of ``mwx_args`` takes ``--set`` config overrides
    (``parser``: the ``mwx`` command line's root parser)."""
    for word in mwx_args:
        choices = _subcommand_choices(parser)
        if word not in choices:
            break
        parser = choices[word]
    return "--set" in parser._option_string_actions


def _subcommand_choices(parser: argparse.ArgumentParser) -> Mapping[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    return {}


def job_command(mwx_args: Sequence[str], parser: argparse.ArgumentParser) -> list[str]:
    """The mwx arguments the job runs: the user's, plus ``resources.address=auto`` where it applies."""
    args = list(mwx_args)
    if accepts_overrides(args, parser) and override_value(args, ADDRESS_KEY) is None:
        args += ["--set", f"{ADDRESS_KEY}=auto"]
    return args


def entrypoint(mwx_args: Sequence[str]) -> str:
    """Shell command of the job: this package's CLI run by the cluster's Python from the working dir."""
    return "python -m mwx_ray.cli " + shlex.join(mwx_args)


def job_env_vars(mwx_args: Sequence[str], environ: Mapping[str, str]) -> dict[str, str]:
    """Environment of every process of the job (driver, trials, env runners, labeling actors)."""
    mujoco_gl = environ.get("MUJOCO_GL", "egl")
    env = {"MUJOCO_GL": mujoco_gl, "PYOPENGL_PLATFORM": environ.get("PYOPENGL_PLATFORM", mujoco_gl),
           "PYTHONUNBUFFERED": "1"}
    env.update({name: environ[name] for name in FORWARDED_ENV_VARS if name in environ})
    tracking = override_value(mwx_args, TRACKING_KEY) or environ.get("MLFLOW_TRACKING_URI")
    if tracking and tracking not in ("null", "~"):
        env["MLFLOW_TRACKING_URI"] = tracking
    # The cluster may run a wheel install with no git checkout: the job records the submitting checkout's commit.
    from mwx_ray.tracking.run_record import GIT_SHA_ENV, git_sha

    env[GIT_SHA_ENV] = environ.get(GIT_SHA_ENV) or git_sha()
    return env


def runtime_env(working_dir: str | Path, mwx_args: Sequence[str], environ: Mapping[str, str]) -> dict[str, Any]:
    folder = Path(working_dir).expanduser().resolve()
    if not folder.is_dir():
        raise FileNotFoundError(f"--working-dir {working_dir}: no such folder")
    return {"working_dir": str(folder), "excludes": list(WORKING_DIR_EXCLUDES),
            "env_vars": job_env_vars(mwx_args, environ)}


def exit_code(status: str, driver_exit_code: int | None) -> int:
    """0 for SUCCEEDED, 130 for STOPPED, the driver's own exit code (or 1) for FAILED."""
    if status in TERMINAL_EXIT_CODES:
        return TERMINAL_EXIT_CODES[status]
    return driver_exit_code if driver_exit_code else 1


async def _stream_logs(client, job_id: str) -> None:
    async for chunk in client.tail_job_logs(job_id):
        print(chunk, end="", flush=True)


def wait_for_job(client, job_id: str, poll_s: float = 2.0) -> int:
    """Stream the job's logs to stdout until it ends; returns the exit code of its final status."""
    try:
        asyncio.run(_stream_logs(client, job_id))
    except RuntimeError as err:  # the log stream can drop (dashboard restart); the status still tells
        print(f"mwx submit: log stream ended early ({err}); polling the job status", file=sys.stderr)
    info = client.get_job_info(job_id)
    while not info.status.is_terminal():
        time.sleep(poll_s)
        info = client.get_job_info(job_id)
    detail = f": {info.message}" if info.message else ""
    print(f"mwx submit: job {job_id} {info.status.value}{detail}", file=sys.stderr)
    return exit_code(info.status.value, info.driver_exit_code)


# Ray's head answers "No available agent to submit job" (HTTP 500) until its job agent has registered, which
# takes a few seconds after `ray start --head` and longer on a loaded machine: a transient state, not an error.
AGENT_NOT_READY = "No available agent to submit job"
AGENT_WAIT_S, AGENT_POLL_S = 60.0, 2.0


def submit_when_agent_ready(client, *, wait_s: float = AGENT_WAIT_S, poll_s: float = AGENT_POLL_S,
                            sleep=time.sleep, clock=time.monotonic, **job) -> str:
    """``client.submit_job(**job)``, retried while the head's job agent is not up yet (up to ``wait_s``)."""
    deadline = clock() + wait_s
    while True:
        try:
            return client.submit_job(**job)
        except RuntimeError as err:
            if AGENT_NOT_READY not in str(err) or clock() >= deadline:
                raise
            print(f"mwx submit: the cluster's job agent is not ready yet; retrying for up to {wait_s:.0f} s",
                  file=sys.stderr, flush=True)
            sleep(poll_s)


def run(args) -> int:
    mwx_args = split_command_line(args)
    if not mwx_args:
        print("mwx submit: no command given; usage: mwx submit <address> -- <mwx command ...>", file=sys.stderr)
        return 2
    from ray.job_submission import JobSubmissionClient

    command = job_command(mwx_args, args.root_parser)
    env = runtime_env(args.working_dir, command, os.environ)
    client = JobSubmissionClient(dashboard_url(args.address))
    job_id = submit_when_agent_ready(client, entrypoint=entrypoint(command), runtime_env=env,
                                     metadata={"mwx_command": shlex.join(command)})
    print(f"job id: {job_id}", flush=True)
    print(f"entrypoint: {entrypoint(command)}", flush=True)
    if args.no_wait:
        print(f"follow it with: ray job logs --follow --address {dashboard_url(args.address)} {job_id}")
        return 0
    try:
        return wait_for_job(client, job_id)
    except KeyboardInterrupt:
        print(f"\nmwx submit: stopped following; the job keeps running. Stop it with: "
              f"ray job stop --address {dashboard_url(args.address)} {job_id}", file=sys.stderr)
        return 130
