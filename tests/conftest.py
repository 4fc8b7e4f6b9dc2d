"""Shared test setup: headless rendering and no network access for model hubs."""

import os

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


# Native libraries loaded by the suite (MuJoCo's EGL contexts, Ray's core worker, torch threads) can crash while the
# interpreter tears down after every test has run and the summary is printed; one such segfault (exit 139 after
# "1221 passed") turned a green run red. Once pytest is done, exit with pytest's own status and skip the teardown.
_exit_status: list[int] = []


def pytest_sessionfinish(session, exitstatus):
    _exit_status.append(int(exitstatus))


@pytest.hookimpl(trylast=True)  # after every plugin's own unconfigure (reports, caches) has run
def pytest_unconfigure(config):
    if _exit_status and not hasattr(config, "workerinput"):  # never inside a pytest-xdist worker
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status[-1])
