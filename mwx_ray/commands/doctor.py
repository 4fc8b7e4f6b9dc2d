"""``mwx doctor``: a truthful health report of this machine and install.

Every check really exercises the piece it names (a Ray task round trip, an MLflow metric round trip, a
rendered frame, simulated env steps); a failed check prints why and makes the exit code non-zero.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from mwx_ray.commands.common import add_overrides_argument, add_subcommand
from mwx_ray.config import load_config
from mwx_ray.tracking.run_record import package_versions

EXAMPLES = """  mwx doctor
  mwx doctor --skip ray,render
  mwx doctor --config tune_configs/base/default.yaml --set tracking.uri=http://127.0.0.1:5000
"""

OK, WARN, FAIL = "ok", "warn", "FAIL"

# A tiny MJCF rendered in a child process: the GL backend is fixed when mujoco is first imported.
_RENDER_PROBE = """
import time, mujoco
m = mujoco.MjModel.from_xml_string('<mujoco><worldbody><light pos="0 0 3"/><geom type="sphere" size=".2"/>'
                                   '</worldbody></mujoco>')
d = mujoco.MjData(m); mujoco.mj_forward(m, d)
r = mujoco.Renderer(m, 64, 64); r.update_scene(d); t = time.perf_counter(); img = r.render()
assert img.shape == (64, 64, 3) and img.max() > 0, "blank frame"
print(f"{(time.perf_counter() - t) * 1e3:.1f}")
"""


@dataclass
class Check:
    name: str
    status: str
    detail: str


def register(subparsers) -> None:
    parser = add_subcommand(subparsers, "doctor", "health report: versions, hardware, rendering, Ray, MLflow, envs",
                            EXAMPLES, run)
    parser.add_argument("--config", help="config whose tracking/resources settings to check")
    add_overrides_argument(parser)
    parser.add_argument("--skip", default="", help="comma-separated checks to skip: assets,render,env,ray,mlflow")


def run(args) -> int:
    loaded = load_config(args.config, args.overrides)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    checks: list[tuple[str, Callable[[], Check]]] = [
        ("versions", check_versions),
        ("hardware", check_hardware),
        ("assets", check_assets),
        ("render", check_rendering),
        ("env", check_env_steps),
        ("ray", check_ray),
        ("mlflow", lambda: check_mlflow(loaded.config)),
    ]
    results = []
    for key, fn in checks:
        if key in skip:
            results.append(Check(key, WARN, "skipped (--skip)"))
            continue
        try:
            results.append(fn())
        except Exception as err:  # a doctor reports failures, it does not crash on them
            results.append(Check(key, FAIL, f"{type(err).__name__}: {err}"))
        last = results[-1]
        print(f"[{last.status:>4}] {last.name:<9} {last.detail}", flush=True)
    failed = [c.name for c in results if c.status == FAIL]
    print("\nall checks passed" if not failed else f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


def check_versions() -> Check:
    versions = package_versions()
    missing = [name for name, v in versions.items() if v == "missing" and name != "mwx_ray"]
    text = f"python {sys.version.split()[0]}; " + ", ".join(f"{k} {v}" for k, v in versions.items())
    return Check("versions", FAIL if missing else OK, text + (f"; missing: {missing}" if missing else ""))


def check_hardware() -> Check:
    import psutil
    import torch

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    ram_gib = psutil.virtual_memory().total / 2**30
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    gpu_text = f"{gpus} CUDA GPU(s): {torch.cuda.get_device_name(0)}" if gpus else "no CUDA GPU (CPU torch build)"
    return Check("hardware", OK, f"{cpus} CPU cores usable, {ram_gib:.1f} GiB RAM, {gpu_text}")


def check_assets() -> Check:
    from mwx_ray.robots.assets import menagerie_h1_dir

    folder = menagerie_h1_dir()
    return Check("assets", OK, f"Unitree H1 MJCF at {folder}")


def check_rendering() -> Check:
    """Render one frame with the configured backend; if it fails, say whether OSMesa would work instead."""
    preferred = os.environ.get("MUJOCO_GL", "egl")
    tried = []
    for backend in dict.fromkeys([preferred, "egl", "osmesa"]):
        env = {**os.environ, "MUJOCO_GL": backend, "PYOPENGL_PLATFORM": backend}
        proc = subprocess.run([sys.executable, "-c", _RENDER_PROBE], env=env, capture_output=True, text=True,
                              timeout=120)
        if proc.returncode == 0:
            ms = proc.stdout.strip().splitlines()[-1]
            status = OK if backend == preferred else WARN
            note = "" if backend == preferred else f" (MUJOCO_GL={preferred} failed; set MUJOCO_GL={backend})"
            return Check("render", status, f"MUJOCO_GL={backend} renders a 64x64 frame in {ms} ms{note}")
        tried.append(f"{backend}: {(proc.stderr.strip().splitlines() or ['no output'])[-1]}")
    return Check("render", FAIL, "no GL backend works (install libegl1 + libgl1-mesa-dri or libosmesa6): "
                 + " | ".join(tried))


def check_env_steps() -> Check:
    import numpy as np

    from mwx_ray.envs import make_env

    env = make_env("stand")
    env.reset(seed=0)
    action = np.zeros(env.action_space.shape)
    steps, start = 200, time.perf_counter()
    for _ in range(steps):
        _obs, _reward, terminated, truncated, _info = env.step(action)
        if terminated or truncated:
            env.reset()
    rate = steps / (time.perf_counter() - start)
    env.close()
    return Check("env", OK, f"{steps} steps of h1-stand at {rate:,.0f} env steps/s (obs dim {env.observation_space.shape[0]})")


def check_ray() -> Check:
    import ray

    start = time.perf_counter()
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        @ray.remote
        def square(x: int) -> int:
            return x * x

        assert ray.get(square.remote(7), timeout=60) == 49
        cpus = ray.cluster_resources().get("CPU", 0)
    finally:
        ray.shutdown()
    return Check("ray", OK, f"local Ray {ray.__version__} started, ran a task ({cpus:.0f} CPU) and stopped "
                 f"in {time.perf_counter() - start:.1f} s")


def check_mlflow(config) -> Check:
    """Probe the configured store, then do a full metric round trip in a throwaway store."""
    import mlflow

    from mwx_ray.tracking.store import probe_store, tracking_uri

    configured = probe_store(tracking_uri(config))
    with tempfile.TemporaryDirectory() as tmp:
        client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp}/doctor.db")
        exp = client.create_experiment("doctor", artifact_location=f"file://{tmp}/artifacts")
        run = client.create_run(exp)
        client.log_metric(run.info.run_id, "doctor/value", 1.5, step=3)
        history = client.get_metric_history(run.info.run_id, "doctor/value")
        client.set_terminated(run.info.run_id)
        assert [(m.value, m.step) for m in history] == [(1.5, 3)], history
    return Check("mlflow", OK, f"mlflow {mlflow.__version__} round trip ok; configured: {configured}")
