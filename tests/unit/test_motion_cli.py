"""`mwx motion retarget|replay|list` end to end through the CLI entry point."""

import math

import imageio.v2 as imageio
import numpy as np
import pytest

from mwx_ray.cli import main
from mwx_ray.motion import MotionClip


def _joint(name, offset, children=(), channels=("Zrotation", "Xrotation", "Yrotation")):
    return {"name": name, "offset": offset, "children": list(children), "channels": channels}


def _side(side, sign):
    leg = _joint(f"{side}UpLeg", (9 * sign, -5, 0), [
        _joint(f"{side}Leg", (0, -43, 0), [_joint(f"{side}Foot", (0, -43, 0), [_joint(f"{side}Toe", (0, -7, 13))])])])
    arm = _joint(f"{side}Shoulder", (5 * sign, 12, 0), [
        _joint(f"{side}Arm", (12 * sign, 0, 0), [_joint(f"{side}ForeArm", (28 * sign, 0, 0), [
            _joint(f"{side}Hand", (25 * sign, 0, 0))])])])
    return leg, arm


def walking_bvh(path, frames=12):
    """A CMU/LAFAN1-like skeleton (cm, Y up, facing +Z) walking forward with swinging knees and hips."""
    left_leg, left_arm = _side("Left", 1)
    right_leg, right_arm = _side("Right", -1)
    chest = _joint("Spine2", (0, 15, 0), [_joint("Neck", (0, 15, 0), [_joint("Head", (0, 10, 0))]), left_arm,
                                          right_arm])
    hips = _joint("Hips", (0, 0, 0), [left_leg, right_leg, _joint("Spine", (0, 10, 0), [
        _joint("Spine1", (0, 15, 0), [chest])])],
        channels=("Xposition", "Yposition", "Zposition", "Zrotation", "Yrotation", "Xrotation"))
    lines, columns = ["HIERARCHY"], []

    def write(node, depth, root=False):
        pad = "  " * depth
        lines.extend([f"{pad}{'ROOT' if root else 'JOINT'} {node['name']}", pad + "{",
                      f"{pad}  OFFSET {' '.join(str(v) for v in node['offset'])}",
                      f"{pad}  CHANNELS {len(node['channels'])} {' '.join(node['channels'])}"])
        columns.extend((node["name"], channel) for channel in node["channels"])
        for child in node["children"]:
            write(child, depth + 1)
        if not node["children"]:
            lines.extend([f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET 0 0 5", pad + "  }"])
        lines.append(pad + "}")

    write(hips, 0, root=True)
    rows = []
    for frame in range(frames):
        swing = 25 * math.sin(2 * math.pi * frame / frames)
        values = {("Hips", "Yposition"): 95.0, ("Hips", "Zposition"): 4.0 * frame,
                  ("LeftUpLeg", "Xrotation"): -swing, ("RightUpLeg", "Xrotation"): swing,
                  ("LeftLeg", "Xrotation"): 20 + swing, ("RightLeg", "Xrotation"): 20 - swing,
                  ("LeftShoulder", "Zrotation"): -70.0, ("RightShoulder", "Zrotation"): 70.0}  # arms down
        rows.append(" ".join(f"{values.get(column, 0.0):.4f}" for column in columns))
    lines += ["MOTION", f"Frames: {frames}", "Frame Time: 0.0333333", *rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_retarget_a_bvh_file_writes_a_clip_and_reports_errors(tmp_path, capsys):
    out = tmp_path / "walk.npz"
    assert main(["motion", "retarget", str(walking_bvh(tmp_path / "walk.bvh")), "--format", "bvh",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "per-frame keypoint error" in text and "worst keypoints" in text and f"wrote {out}" in text
    clip = MotionClip.load(out)
    assert clip.num_frames == 12 and clip.fps == pytest.approx(30.0, rel=1e-4)
    assert clip.provenance["synthetic"] is False and clip.provenance["source"] == "bvh"
    assert clip.provenance["retarget"]["keypoint_error_m"]["max"] < 0.1
    assert clip.root_pos[-1, 0] > clip.root_pos[0, 0] + 0.2  # walked forward (+x after frame conversion)
    knee = clip.joint_pos[:, 3]
    assert np.ptp(knee) > 0.3  # the swinging knee came through


@pytest.mark.render
def test_retarget_synthetic_walk_and_replay_it_to_mp4(tmp_path, capsys):
    out = tmp_path / "walk.npz"
    assert main(["motion", "retarget", "walk", "--format", "synthetic", "--out", str(out)]) == 0
    assert "[SYNTHETIC source motion]" in capsys.readouterr().out
    clip = MotionClip.load(out)
    assert clip.provenance["synthetic"] is True and clip.keypoints is not None
    video = tmp_path / "walk.mp4"
    assert main(["motion", "replay", str(out), "--quality", "fast", "--max-frames", "6", "--out", str(video)]) == 0
    frames = [frame for frame in imageio.get_reader(video)]  # list() asks len(): inf for ffmpeg readers
    assert len(frames) == 6 and frames[0].shape == (224, 224, 3)
    green = (frames[0][..., 1].astype(int) - frames[0][..., 0] > 80).sum()
    assert green > 50  # the source skeleton is drawn (green: well retargeted)
    assert not list(tmp_path.glob(".*partial*"))


def test_list_shows_builtin_skills_and_sources(capsys):
    assert main(["motion", "list"]) == 0
    text = capsys.readouterr().out
    assert "SYNTHETIC" in text
    for name in ("stand", "walk", "run", "sit", "crawl", "reach_left", "squat", "bvh", "keypoints", "h1_csv"):
        assert name in text


def test_bad_input_is_reported_not_raised(tmp_path, capsys):
    assert main(["motion", "retarget", str(tmp_path / "missing.bvh"), "--format", "bvh"]) == 2
    assert "mwx: motion error" in capsys.readouterr().err


@pytest.mark.parametrize("action", ["retarget", "replay", "playback", "list"])
def test_help_has_examples(action, capsys):
    with pytest.raises(SystemExit):
        main(["motion", action, "--help"])
    assert "examples:" in capsys.readouterr().out


def _rig_walk_file(tmp_path, rig_name, fps, n_cycles=2, tpose_frames=0, name=None):
    from mwx_ray.motion import generate_synthetic
    from mwx_ray.motion.bvh_writer import rig_leg_length_m, write_rig_bvh
    from mwx_ray.motion.rigs import RIG_LAYOUTS

    rig = RIG_LAYOUTS[rig_name]
    human = generate_synthetic("walk", fps=fps, n_cycles=n_cycles, speed_mps=1.2, height_m=rig_leg_length_m(rig) / 0.491)
    return write_rig_bvh(rig, human, tmp_path / f"{name or rig_name}.bvh", tpose_frames)


def test_retarget_cmu_file_with_convention_units_range_loop_and_license(tmp_path, capsys):
    path = _rig_walk_file(tmp_path, "cmu", fps=120, tpose_frames=1)
    out = tmp_path / "cmu_walk.npz"
    assert main(["motion", "retarget", str(path), "--format", "bvh", "--convention", "cmu", "--units", "cmu",
                 "--start", "1", "--end", "2.2s", "--loop", "--fps", "60", "--license", "CMU: free for any use",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "joint names: convention cmu (19/19 keypoints" in text and "units cmu (0.0564444 m/unit, given)" in text
    assert "loop: source frames" in text and "license: stated by the user: CMU: free for any use" in text
    assert "keypoint_error_m" in text and "MISSED" not in text
    clip = MotionClip.load(out)
    p = clip.provenance
    assert p["cyclic"] and p["license"] == "CMU: free for any use" and len(p["source_sha256"]) == 64
    selection = p["source_provenance"]["selection"]
    assert selection["options"]["start"] == "1" and selection["loop"]["seam_pose_error_m"] < 0.01
    assert p["frames_per_cycle"] == clip.num_frames and p["cycle_root_displacement_m"][0] > 0.5


def test_unknown_rig_writes_a_joint_map_template_to_fill_in(tmp_path, capsys):
    path = _rig_walk_file(tmp_path, "lafan1", fps=30, n_cycles=1)
    odd = tmp_path / "odd.bvh"
    odd.write_text(path.read_text().replace("JOINT LeftUpLeg\n", "JOINT thigh_l\n"))
    out = tmp_path / "odd.npz"
    assert main(["motion", "retarget", str(odd), "--format", "bvh", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    template = tmp_path / "odd.joint_map.yaml"
    assert "unknown rig" in err and "'thigh_l'" in err and f"--joint-map {template}" in err
    assert "left_hip: FILL_ME" in template.read_text()
    template.write_text(template.read_text().replace("left_hip: FILL_ME", "left_hip: thigh_l"))
    assert main(["motion", "retarget", str(odd), "--format", "bvh", "--joint-map", str(template),
                 "--out", str(out)]) == 0
    assert "19 from the joint map" in capsys.readouterr().out  # the template names every keypoint
    assert MotionClip.load(out).provenance["source_provenance"]["joint_names"]["joint_map"]["left_hip"] == "thigh_l"
    assert main(["motion", "retarget", str(odd), "--format", "bvh", "--units", "cm", "--unit-scale", "0.01"]) == 2
    assert "not both" in capsys.readouterr().err


@pytest.mark.render
def test_replay_range_camera_speed_and_geoms(tmp_path, capsys):
    out = tmp_path / "walk.npz"
    assert main(["motion", "retarget", "walk", "--format", "synthetic", "--out", str(out)]) == 0
    capsys.readouterr()
    videos = {}
    for geoms in ("collision", "visual"):
        videos[geoms] = tmp_path / f"{geoms}.mp4"
        assert main(["motion", "replay", str(out), "--start", "5", "--end", "0.5s", "--speed", "2", "--camera", "side",
                     "--robot-geoms", geoms, "--out", str(videos[geoms])]) == 0
        # 50 Hz clip at 2x = 100 clip frames/s, video capped at 30 fps: frames 5, 8, 11, 15, 18, 21
        assert "clip frames [5, 25) at 2x, 6 video frames at 30 fps" in capsys.readouterr().out
    frames = {g: [f for f in imageio.get_reader(v)] for g, v in videos.items()}
    assert len(frames["collision"]) == 6 and frames["collision"][0].shape == (224, 224, 3)
    assert np.abs(frames["collision"][0].astype(int) - frames["visual"][0]).mean() > 1.0  # meshes vs primitives
    assert main(["motion", "replay", str(out), "--start", "30", "--end", "10"]) == 2
    assert "empty frame range" in capsys.readouterr().err
