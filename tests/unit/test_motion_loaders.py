"""Loaders: BVH parser + FK against hand-computed positions, keypoint arrays, H1 CSV, holosoma, registry."""

import hashlib
import importlib.util

import numpy as np
import pytest

from mwx_ray.motion import CANONICAL_KEYPOINTS, H1_JOINT_NAMES, MotionError, load_motion, motion_source_names
from mwx_ray.motion.conventions import UnknownRigError
from mwx_ray.motion.loaders.bvh import load_bvh, parse_bvh
from mwx_ray.motion.loaders.h1_csv import load_h1_csv
from mwx_ray.motion.loaders.holosoma import load_holosoma_demo
from mwx_ray.motion.loaders.keypoints import load_keypoints
from mwx_ray.motion.skeleton import SMPL_JOINT_NAMES_24, y_up_to_z_up

CHAIN_BVH = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Child
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 5 0
    }
  }
}
MOTION
Frames: 3
Frame Time: 0.0333333
1 2 3 0 0 0 0 0 0
0 0 0 90 0 0 0 0 0
0 0 0 0 0 0 90 90 0
"""

# Hand-computed FK in file units (cm, Y up), rows = frames, columns = Hips, Child, Child_end.
#  f0: root translated (1, 2, 3), no rotation.
#  f1: root Rz(90°) maps +y to -x: Child at (-10, 0, 0), end at (-15, 0, 0).
#  f2: Child rotates Z then X (R = Rz(90)·Rx(90)): Rx takes (0,5,0) to (0,0,5), Rz keeps it -> end (0, 10, 5).
#      (the other order would give (-5, 10, 0))
EXPECTED_CHAIN_CM = np.array(
    [
        [[1, 2, 3], [1, 12, 3], [1, 17, 3]],
        [[0, 0, 0], [-10, 0, 0], [-15, 0, 0]],
        [[0, 0, 0], [0, 10, 0], [0, 10, 5]],
    ],
    dtype=float,
)


def test_bvh_forward_kinematics_matches_hand_computation(tmp_path):
    path = tmp_path / "chain.bvh"
    path.write_text(CHAIN_BVH)
    bvh = parse_bvh(path)
    assert bvh.joint_names == ("Hips", "Child", "Child_end")
    assert bvh.fps == pytest.approx(30.0, rel=1e-5)
    np.testing.assert_allclose(bvh.world_positions(), EXPECTED_CHAIN_CM, atol=1e-9)
    motion = load_bvh(path, unit_scale=0.01, map_to_canonical=False)
    # Y-up (x, y, z) -> Z-up (z, x, y), centimetres -> metres
    np.testing.assert_allclose(motion.keypoints, EXPECTED_CHAIN_CM[..., [2, 0, 1]] * 0.01, atol=1e-11)
    np.testing.assert_allclose(motion.keypoints[0, 2], [0.03, 0.01, 0.17], atol=1e-12)


def _joint(name, offset, children=(), channels="Zrotation Xrotation Yrotation"):
    return {"name": name, "offset": offset, "children": list(children), "channels": channels}


def _limb(side, sign):
    leg = _joint(f"{side}UpLeg", (10 * sign, -5, 0), [
        _joint(f"{side}Leg", (0, -42, 0), [_joint(f"{side}Foot", (0, -42, 0), [_joint(f"{side}Toe", (0, -6, 12))])])
    ])
    arm = _joint(f"{side}Shoulder", (5 * sign, 10, 0), [
        _joint(f"{side}Arm", (12 * sign, 0, 0), [
            _joint(f"{side}ForeArm", (28 * sign, 0, 0), [_joint(f"{side}Hand", (25 * sign, 0, 0))])
        ])
    ])
    return leg, arm


def _write_skeleton(node, lines, depth=0, root=False):
    pad = "  " * depth
    lines.append(f"{pad}{'ROOT' if root else 'JOINT'} {node['name']}")
    lines.append(pad + "{")
    lines.append(f"{pad}  OFFSET {' '.join(str(v) for v in node['offset'])}")
    channels = node["channels"].split()
    lines.append(f"{pad}  CHANNELS {len(channels)} {' '.join(channels)}")
    for child in node["children"]:
        _write_skeleton(child, lines, depth + 1)
    if not node["children"]:
        lines += [f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET 0 0 5", pad + "  }"]
    lines.append(pad + "}")


def _count_channels(node):
    return len(node["channels"].split()) + sum(_count_channels(c) for c in node["children"])


def lafan_like_bvh(tmp_path, frames=2):
    left_leg, left_arm = _limb("Left", 1)
    right_leg, right_arm = _limb("Right", -1)
    spine2 = _joint("Spine2", (0, 15, 0), [_joint("Neck", (0, 15, 0), [_joint("Head", (0, 10, 0))]), left_arm, right_arm])
    spine = _joint("Spine", (0, 10, 0), [_joint("Spine1", (0, 15, 0), [spine2])])
    hips = _joint("Hips", (0, 0, 0), [left_leg, right_leg, spine],
                  channels="Xposition Yposition Zposition Zrotation Yrotation Xrotation")
    lines = ["HIERARCHY"]
    _write_skeleton(hips, lines, root=True)
    rows = [" ".join(["0", "95", str(5 * f)] + ["0"] * (_count_channels(hips) - 3)) for f in range(frames)]
    lines += ["MOTION", f"Frames: {frames}", "Frame Time: 0.0333333", *rows]
    path = tmp_path / "lafan_like.bvh"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_bvh_full_skeleton_maps_to_canonical_with_inferred_centimetres(tmp_path):
    motion = load_motion("bvh", lafan_like_bvh(tmp_path))
    assert motion.keypoint_names == CANONICAL_KEYPOINTS
    assert motion.provenance["unit_scale_m_per_unit"] == 0.01
    frame0 = dict(zip(motion.keypoint_names, motion.keypoints[0], strict=True))
    np.testing.assert_allclose(frame0["pelvis"], [0, 0, 0.95], atol=1e-12)
    np.testing.assert_allclose(frame0["left_hip"], [0, 0.10, 0.90], atol=1e-12)  # left is +y after Z-up
    np.testing.assert_allclose(frame0["left_toe"], [0.12, 0.10, 0.0], atol=1e-12)  # toes point +x
    np.testing.assert_allclose(frame0["chest"], [0, 0, 1.35], atol=1e-12)  # Spine2 (LAFAN1) over Spine1
    np.testing.assert_allclose(frame0["right_wrist"], [0, -0.70, 1.45], atol=1e-12)
    np.testing.assert_allclose(motion.keypoints[1, 0] - motion.keypoints[0, 0], [0.05, 0, 0], atol=1e-12)


def test_bvh_errors_name_file_and_line(tmp_path):
    path = tmp_path / "bad.bvh"
    path.write_text(CHAIN_BVH.replace("CHANNELS 3 Zrotation", "CHANNELS 3 Wrotation"))
    with pytest.raises(MotionError, match=r"bad\.bvh:9: joint 'Child': unknown channel 'Wrotation'"):
        parse_bvh(path)
    path.write_text(CHAIN_BVH.replace("0 0 0 90 0 0 0 0 0", "0 0 0 90 0 0 0 0"))
    with pytest.raises(MotionError, match=r"bad\.bvh:20: expected 9 values, found 8"):
        parse_bvh(path)
    with pytest.raises(MotionError, match="cannot infer length units"):
        load_bvh(_write(tmp_path, CHAIN_BVH), map_to_canonical=False)  # 17 units tall: neither m nor cm


def _write(tmp_path, text):
    path = tmp_path / "chain.bvh"
    path.write_text(text)
    return path


def test_bvh_missing_canonical_joint_is_listed(tmp_path):
    with pytest.raises(MotionError, match=r"no source joint for canonical keypoints \['spine', 'chest'"):
        load_bvh(_write(tmp_path, CHAIN_BVH), unit_scale=0.01)


def test_keypoint_array_loader_smpl_order_and_fps(tmp_path):
    rng = np.random.default_rng(1)
    positions = rng.normal(size=(6, 24, 3))
    np.savez(tmp_path / "amass.npz", joints=positions, mocap_framerate=np.array(120.0))
    motion = load_keypoints(tmp_path / "amass.npz")
    assert motion.fps == 120.0 and motion.keypoint_names == CANONICAL_KEYPOINTS
    index = {name: i for i, name in enumerate(SMPL_JOINT_NAMES_24)}
    np.testing.assert_array_equal(motion.keypoint("left_toe"), positions[:, index["left_foot"]])
    np.testing.assert_array_equal(motion.keypoint("chest"), positions[:, index["spine3"]])
    np.testing.assert_array_equal(motion.keypoint("right_wrist"), positions[:, index["right_wrist"]])


def test_keypoint_loader_y_up_centimetres_and_errors(tmp_path):
    names = list(CANONICAL_KEYPOINTS)
    standing = np.zeros((1, len(names), 3))
    standing[0, :, 1] = np.linspace(0, 170, len(names))  # 170 cm tall along +y
    np.save(tmp_path / "pose.npy", standing)
    motion = load_keypoints(tmp_path / "pose.npy", fps=30, joint_names=names, up_axis="y", unit_scale=None)
    np.testing.assert_allclose(motion.keypoints, y_up_to_z_up(standing) * 0.01)
    assert motion.keypoints[0, :, 2].max() == pytest.approx(1.7)
    with pytest.raises(MotionError, match="no fps in the file; pass fps"):
        load_keypoints(tmp_path / "pose.npy", joint_names=names)
    with pytest.raises(MotionError, match="19 joints and no joint_names"):
        load_keypoints(tmp_path / "pose.npy", fps=30)


def _h1_rows(num_frames=4):
    yaw = np.linspace(0, np.pi / 2, num_frames)
    quat_xyzw = np.column_stack([0 * yaw, 0 * yaw, np.sin(yaw / 2), np.cos(yaw / 2)])
    joints = np.tile(np.linspace(-0.2, 0.2, 19), (num_frames, 1))
    root = np.column_stack([np.linspace(0, 0.3, num_frames), 0 * yaw, 0.98 + 0 * yaw])
    return np.hstack([root, quat_xyzw, joints])


def test_h1_csv_loader_reorders_quaternion(tmp_path):
    rows = _h1_rows()
    path = tmp_path / "walk1_subject1.csv"
    np.savetxt(path, rows, delimiter=",", fmt="%.8f")
    clip = load_motion("h1_csv", path, skill_tags=("walk",))
    assert clip.fps == 30.0 and clip.num_frames == 4 and clip.name == "walk1_subject1"
    np.testing.assert_allclose(clip.root_quat[-1], [np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)], atol=1e-8)
    np.testing.assert_allclose(clip.joint_pos, rows[:, 7:], atol=1e-8)
    np.testing.assert_allclose(clip.root_pos, rows[:, :3], atol=1e-8)
    assert clip.provenance["quat_order_in_file"] == "xyzw" and clip.provenance["synthetic"] is False
    assert "CC BY-NC-ND" in clip.provenance["license_note"] and len(H1_JOINT_NAMES) == 19


def test_h1_csv_errors(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("x,y,z\n")
    with pytest.raises(MotionError, match=r"bad\.csv:1: expected 26 columns"):
        load_h1_csv(path)
    path.write_text(",".join(["root_x"] + ["0"] * 25) + "\n")
    with pytest.raises(MotionError, match="no header row"):
        load_h1_csv(path)
    rows = _h1_rows()
    rows[2, 7 + H1_JOINT_NAMES.index("left_knee")] = 3.0
    np.savetxt(path, rows, delimiter=",")
    with pytest.raises(MotionError, match=r"'left_knee' at frame 2 is 3.0000 rad"):
        load_h1_csv(path)
    assert load_h1_csv(path, clip_to_joint_limits=True).provenance["joint_values_clamped"] == 1


@pytest.mark.skipif(importlib.util.find_spec("holosoma_retargeting") is not None, reason="holosoma installed")
def test_holosoma_loader_names_the_install_command_when_missing():
    with pytest.raises(MotionError, match=r"pip install mwx_ray\[mocap\]"):
        load_holosoma_demo("omomo/sub3_largebox_003")
    with pytest.raises(MotionError, match=r"pip install mwx_ray\[mocap\]"):
        load_motion("holosoma", "omomo/sub3_largebox_003")


def test_registry_lists_valid_sources():
    assert {"bvh", "keypoints", "h1_csv", "holosoma", "clip", "synthetic"} <= set(motion_source_names())
    with pytest.raises(MotionError, match=r"unknown motion source 'fbx'; valid sources: \['bvh', 'clip'"):
        load_motion("fbx", "x.fbx")


def test_keypoint_loader_units_joint_map_and_provenance(tmp_path):
    walk = load_motion("synthetic", "walk", n_cycles=1)
    renamed = [n.replace("left_", "L_") for n in CANONICAL_KEYPOINTS]  # no convention knows 'L_hip'
    path = tmp_path / "walk_cm.npz"
    np.savez(path, joints=walk.keypoints * 100.0, joint_names=np.array(renamed), fps=np.array(50.0))
    with pytest.raises(UnknownRigError, match=r"unknown rig: no source joint for canonical keypoints") as caught:
        load_keypoints(path)
    assert "L_hip" in str(caught.value) and "left_hip: L_hip" in caught.value.template  # guessed from holosoma
    assert "right_hip: right_hip" in caught.value.template and ": FILL_ME" not in caught.value.template
    mapping = {n: n.replace("left_", "L_") for n in CANONICAL_KEYPOINTS if n.startswith("left_")}
    motion = load_keypoints(path, units="auto", joint_map=mapping, license="CC0 (test data)")
    np.testing.assert_allclose(motion.keypoints, walk.keypoints, atol=1e-9)  # cm inferred, names mapped
    p = motion.provenance
    assert p["unit_scale_m_per_unit"] == 0.01 and p["units"].startswith("units cm (inferred")
    assert p["license"] == "CC0 (test data)" and p["source_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert p["joint_names"]["canonical_to_source"]["left_wrist"] == "L_wrist"
    with pytest.raises(MotionError, match="unknown units 'furlong'"):
        load_keypoints(path, units="furlong", joint_map=mapping)
