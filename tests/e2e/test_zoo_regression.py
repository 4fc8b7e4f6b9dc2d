"""Slow lane: every zoo expert still does its skill. Each is re-evaluated on 5 of its unseen seeds (the same ones its
recorded figure used) and may score at most 5% below that figure, so a change to the env, reward or physics that
breaks the shipped experts fails here (what `mwx zoo check` runs)."""

from __future__ import annotations

import pytest

from mwx_ray.cli import main as mwx_main

pytestmark = pytest.mark.slow


def test_every_zoo_expert_keeps_its_recorded_return(capsys):
    code = mwx_main(["zoo", "check"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "DROPPED" not in out and out.count(" ok") >= 2, out
