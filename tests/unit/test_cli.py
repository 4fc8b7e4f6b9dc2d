"""The `mwx` CLI: help with examples on every subcommand, config errors as clean exit codes, a doctor that can fail."""

import argparse

import pytest

from mwx_ray.cli import build_parser, main


def all_subparsers(parser: argparse.ArgumentParser, path=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from all_subparsers(sub, (*path, name))


def test_every_leaf_subcommand_has_help_with_examples():
    leaves = [(path, sub) for path, sub in all_subparsers(build_parser())
              if not any(isinstance(a, argparse._SubParsersAction) for a in sub._actions)]
    assert {"doctor"} <= {p[0] for p, _ in leaves}
    for path, sub in leaves:
        text = sub.format_help()
        assert "examples:" in text and "mwx " in text, f"`mwx {' '.join(path)} --help` lacks examples"


def test_config_show_prints_resolved_values(capsys, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("run: {name: demo}\n")
    assert main(["config", "show", str(cfg), "--set", "run.seed=4"]) == 0
    out = capsys.readouterr().out
    assert "name: demo" in out and "seed: 4" in out and "root_dir: runs" in out


def test_config_show_misspelled_key_exits_2_naming_file_key_and_suggestion(capsys, tmp_path):
    cfg = tmp_path / "typo.yaml"
    cfg.write_text("env:\n  tsak: walk\n")
    assert main(["config", "show", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert f"{cfg}: env.tsak: unknown key (did you mean 'env.task'?)" in err


def test_doctor_reports_an_unreachable_tracking_server_as_a_failure(capsys):
    code = main(["doctor", "--skip", "render,ray,env,assets", "--set", "tracking.uri=http://127.0.0.1:9"])
    out = capsys.readouterr().out
    assert code == 1
    assert "[FAIL] mlflow" in out and "unreachable" in out
    assert "[  ok] versions" in out and "[  ok] hardware" in out


def test_unknown_subcommand_is_a_usage_error():
    with pytest.raises(SystemExit) as exit_info:
        main(["no-such-command"])
    assert exit_info.value.code == 2
