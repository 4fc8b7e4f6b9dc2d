"""`mwx env list|check|video` end to end through the CLI entry point."""

import imageio.v2 as imageio
import pytest

from mwx_ray.cli import main
from mwx_ray.envs import env_ids


def test_env_list_shows_every_registered_id(capsys):
    assert main(["env", "list"]) == 0
    out = capsys.readouterr().out
    for env_id in env_ids():
        assert env_id in out


def test_env_check_passes_on_walk(capsys):
    assert main(["env", "check", "walk", "--steps", "100"]) == 0
    out = capsys.readouterr().out
    assert "same seed -> identical rollout: True" in out and "RESULT: ok" in out
    assert "reward_terms" not in out and "small_control" in out


def test_env_check_unknown_id_lists_valid_ids(capsys):
    assert main(["env", "check", "mwx/h1-wlak-v0"]) == 2
    err = capsys.readouterr().err
    assert "unknown env id or task 'mwx/h1-wlak-v0'" in err and "mwx/h1-walk-v0" in err


@pytest.mark.render
def test_env_video_writes_an_mp4_with_one_frame_per_step(tmp_path, capsys):
    out = tmp_path / "stand.mp4"
    assert main(["env", "video", "stand", "--policy", "zero", "--steps", "8", "--quality", "fast",
                 "--out", str(out)]) == 0
    reader = imageio.get_reader(out)
    frames = [frame for frame in reader]
    assert len(frames) == 9  # the reset frame + one per step
    assert frames[0].shape == (224, 224, 3) and frames[0].std() > 5  # not a blank image
    assert not list(tmp_path.glob(".*partial*")), "temporary file left behind"
