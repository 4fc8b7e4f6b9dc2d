"""MotionClip: validation errors name the clip and the problem; npz round trip without pickle; helpers."""

import json
from dataclasses import replace

import numpy as np
import pytest

from mwx_ray.motion import H1_JOINT_NAMES, H1_JOINT_RANGES_RAD, MotionClip, MotionError
from mwx_ray.robots.h1 import H1


def make_clip(num_frames: int = 20, fps: float = 50.0, **overrides) -> MotionClip:
    """Valid clip: joints sweep sinusoidally inside their ranges, pelvis walks along x, yaw turns slowly."""
    t = np.arange(num_frames) / fps
    mid = H1_JOINT_RANGES_RAD.mean(axis=1)
    half = np.diff(H1_JOINT_RANGES_RAD, axis=1)[:, 0] / 2
    joint_pos = mid + 0.5 * half * np.sin(2 * np.pi * 0.5 * t)[:, None]
    yaw = 0.2 * t
    root_quat = np.column_stack([np.cos(yaw / 2), 0 * t, 0 * t, np.sin(yaw / 2)])
    fields = dict(
        name="test/walk",
        fps=fps,
        joint_pos=joint_pos,
        root_pos=np.column_stack([t, 0 * t, 0.98 + 0 * t]),
        root_quat=root_quat,
        skill_tags=("walk",),
        provenance={"source_file": "generated", "synthetic": True, "retarget_error_m": {"mean": 0.01}},
    )
    fields.update(overrides)
    return MotionClip(**fields)


def test_joint_names_come_from_the_robot_spec():
    assert H1.joint_names == H1_JOINT_NAMES
    assert H1_JOINT_NAMES[2] == "left_hip_pitch" and H1_JOINT_NAMES[10] == "torso"
    assert tuple(H1_JOINT_RANGES_RAD[2]) == (-3.14, 2.53)  # HumanoidBench's widened hip pitch


def test_valid_clip_passes():
    assert make_clip().validate().num_frames == 20


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        ({"fps": 0.5}, ["'test/walk'", "fps 0.5", "out of range"]),
        ({"fps": 5000.0}, ["fps 5000", "out of range"]),
        ({"joint_pos": np.zeros((20, 18))}, ["joint_pos must be [T, 19]", "(20, 18)"]),
        ({"root_pos": np.zeros((19, 3))}, ["length mismatch", "root_pos", "(19, 3)"]),
        ({"root_quat": np.tile([2.0, 0, 0, 0], (20, 1))}, ["root_quat is not unit", "frame 0", "norm 2.0"]),
        ({"time_s": np.r_[np.arange(10), np.arange(10)] * 0.02}, ["time_s is not strictly increasing", "frame 10"]),
        ({"keypoints": np.zeros((20, 2, 3)), "keypoint_names": ("pelvis",)}, ["1 keypoint_names for 2 keypoints"]),
        ({"keypoints": np.zeros((10, 2, 3)), "keypoint_names": ("a", "b")}, ["length mismatch", "keypoints"]),
    ],
)
def test_validation_errors_name_the_problem(overrides, fragments):
    with pytest.raises(MotionError) as info:
        make_clip(**overrides).validate()
    for fragment in fragments:
        assert fragment in str(info.value)
    assert "'test/walk'" in str(info.value)


def test_nan_and_inf_name_array_and_frame():
    clip = make_clip()
    bad = clip.joint_pos.copy()
    bad[7, 3] = np.nan
    with pytest.raises(MotionError, match=r"joint_pos contains NaN \(first at frame 7\)"):
        replace(clip, joint_pos=bad).validate()
    root = clip.root_pos.copy()
    root[4, 2] = np.inf
    with pytest.raises(MotionError, match=r"root_pos contains inf \(first at frame 4\)"):
        replace(clip, root_pos=root).validate()


def test_joint_limit_violation_names_joint_frame_and_value():
    clip = make_clip()
    bad = clip.joint_pos.copy()
    knee = H1_JOINT_NAMES.index("right_knee")
    bad[12, knee] = 2.2  # range -0.26 … 2.05
    with pytest.raises(MotionError) as info:
        replace(clip, joint_pos=bad).validate()
    message = str(info.value)
    assert "'right_knee'" in message and "frame 12" in message and "2.2000" in message and "2.05" in message


def test_joint_limit_tolerance_absorbs_tiny_excess():
    clip = make_clip()
    edge = clip.joint_pos.copy()
    edge[0] = H1_JOINT_RANGES_RAD[:, 1] + 5e-4  # within 1e-3 rad
    replace(clip, joint_pos=edge).validate()


def test_npz_round_trip_without_pickle(tmp_path):
    clip = make_clip(keypoints=np.random.default_rng(0).normal(size=(20, 3, 3)), keypoint_names=("a", "b", "c"),
                     time_s=np.arange(20) * 0.02)
    path = clip.save(tmp_path / "sub" / "walk.npz")
    assert sorted(p.name for p in path.parent.iterdir()) == ["walk.npz"]  # temp file replaced, none left
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["metadata_json"][0]))
        assert meta["format_version"] == 1 and meta["joint_names"] == list(H1_JOINT_NAMES)
    loaded = MotionClip.load(path)
    for key in ("joint_pos", "root_pos", "root_quat", "keypoints", "time_s"):
        np.testing.assert_array_equal(getattr(loaded, key), getattr(clip, key))
    assert loaded.name == "test/walk" and loaded.fps == 50.0 and loaded.skill_tags == ("walk",)
    assert loaded.keypoint_names == ("a", "b", "c") and loaded.provenance == clip.provenance


def test_save_refuses_invalid_clip_and_load_refuses_foreign_files(tmp_path):
    with pytest.raises(MotionError):
        make_clip(fps=-1.0).save(tmp_path / "bad.npz")
    assert not (tmp_path / "bad.npz").exists()
    np.savez(tmp_path / "other.npz", dof=np.zeros((3, 19)))
    with pytest.raises(MotionError, match="not a MotionClip file"):
        MotionClip.load(tmp_path / "other.npz")


def test_load_refuses_newer_format_version(tmp_path):
    path = make_clip().save(tmp_path / "c.npz")
    with np.load(path) as data:
        arrays = dict(data)
    meta = json.loads(str(arrays["metadata_json"][0]))
    meta["format_version"] = 99
    arrays["metadata_json"] = np.array([json.dumps(meta)])
    np.savez(path, **arrays)
    with pytest.raises(MotionError, match="format_version 99 is not supported"):
        MotionClip.load(path)


def test_duration_resample_and_velocity():
    clip = make_clip(num_frames=101, fps=50.0)
    assert clip.duration_s == pytest.approx(2.0)
    resampled = clip.resample(30.0)
    assert resampled.num_frames == 61 and resampled.fps == 30.0
    assert resampled.duration_s == pytest.approx(2.0)
    np.testing.assert_allclose(resampled.root_pos[:, 0], np.arange(61) / 30.0, atol=1e-12)  # linear x(t) = t
    yaw = 2 * np.arctan2(resampled.root_quat[:, 3], resampled.root_quat[:, 0])
    np.testing.assert_allclose(yaw, 0.2 * np.arange(61) / 30.0, atol=1e-9)  # slerp of a constant-rate yaw
    assert resampled.provenance["resampled_from_fps"] == 50.0
    velocity = clip.joint_velocities(window_s=0.1)
    t = np.arange(101) / 50.0
    half = np.diff(H1_JOINT_RANGES_RAD, axis=1)[:, 0] / 2
    expected = 0.5 * half * np.pi * np.cos(np.pi * t)[:, None]
    np.testing.assert_allclose(velocity[5:-5], expected[5:-5], atol=0.02 * np.abs(expected).max())
    np.testing.assert_allclose(clip.root_velocity()[:, 0], 1.0, atol=1e-9)
