"""`mwx dashboard` in a real browser: Debian's headless Chromium (driven by Playwright with the system binary,
never a downloaded one) opens the MLflow UI served over a store populated here, finds the project's experiment
and a run's metric, and saves a screenshot. Then SIGTERM (like Ctrl-C) must stop every server process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")  # Debian's `chromium` package (Makefile: system-deps)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EXPERIMENT = "mwxdash-experts"  # experiment_name(config, "experts") with prefix "mwxdash-": unlike any default
RETURN_VALUE = 612.5  # the final hb/return the run page must show
STARTUP_TIMEOUT_S = 180  # mlflow server's first start (DB migrations, UI bundle) is slow on 2 busy cores
UI_TIMEOUT_MS = 90_000


def populate(root: Path) -> tuple[str, str]:
    """A sweep parent and one trial with an hb/return history, as the experts stage logs them."""
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    experiment_id = client.create_experiment(EXPERIMENT, artifact_location=(root / "mlartifacts").as_uri())
    parent = client.create_run(experiment_id, run_name="sweep-dash", tags={"stage": "experts", "kind": "sweep"})
    child = client.create_run(experiment_id, run_name="walk-seed0", tags={
        "stage": "experts", "kind": "trial", "mlflow.parentRunId": parent.info.run_id, "skill": "walk",
        "seed": "0", "env_id": "mwx/h1-walk-v0"})
    run_id = child.info.run_id
    returns = [120.0, 380.0, RETURN_VALUE]
    client.log_batch(run_id, params=[Param("ppo.lr", "0.0003")], metrics=[
        Metric("hb/return", value, 1_700_000_000_000 + i, step)
        for i, (step, value) in enumerate(zip([4000, 8000, 12000], returns, strict=True))])
    client.set_terminated(run_id)
    client.set_terminated(parent.info.run_id)
    return experiment_id, run_id


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_health(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"mwx dashboard exited early:\n{log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(1)
    pytest.fail(f"dashboard not healthy within {STARTUP_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # mwx dashboard treats it like Ctrl-C
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_dashboard_shows_the_experiment_and_a_run_metric_in_headless_chromium(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (`make system-deps` as root)")
    from playwright.sync_api import sync_playwright  # dev extra; only the browser binary is the system's

    experiment_id, run_id = populate(tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "dashboard.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mwx_ray.cli", "dashboard", "--port", str(port),
             "--set", f"run.root_dir={tmp_path}"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_for_health(url, process, log)
        assert f"MLflow dashboard: {url}" in log.read_text()
        assert f"sqlite:///{tmp_path}/mlflow.db" in log.read_text()  # the project's store, not a default one
        screenshot = tmp_path / "dashboard_run_page.png"
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), headless=True,
                args=CHROMIUM_FLAGS, viewport={"width": 1400, "height": 900})
            try:
                page = context.new_page()
                page.goto(f"{url}/#/experiments")
                page.get_by_text(EXPERIMENT, exact=True).first.wait_for(timeout=UI_TIMEOUT_MS)

                page.goto(f"{url}/#/experiments/{experiment_id}/runs/{run_id}")
                # The metrics table row holding the key must show the run's latest logged value.
                row = page.get_by_role("row").filter(has_text="hb/return").first
                row.wait_for(timeout=UI_TIMEOUT_MS)
                row.scroll_into_view_if_needed()
                assert f"{RETURN_VALUE:g}" in row.inner_text()
                assert page.get_by_text("walk-seed0").first.is_visible()
                page.screenshot(path=str(screenshot))
            finally:
                context.close()
        check_non_blank_png(screenshot)
    finally:
        stop(process)
    assert process.returncode == 0, log.read_text()[-3000:]
    with pytest.raises(OSError):  # stopping mwx stopped the server behind it
        urllib.request.urlopen(f"{url}/health", timeout=2)


def check_non_blank_png(path: Path) -> None:
    from PIL import Image

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pixels = np.asarray(Image.open(path).convert("L"), dtype=np.float64)
    assert pixels.shape == (900, 1400)
    assert pixels.std() > 10 and len(np.unique(pixels)) > 50, "blank or near-blank screenshot"
