"""Real rig layouts (LAFAN1, CMU cgspeed, Mixamo) as BVH test data, and how the loader reads them: joint-name
conventions (auto, joint maps, unknown rigs), units (cm, CMU units, inches), up axis, rest frames, loops.

The BVH files are written by mwx_ray.motion.bvh_writer from the published hierarchies in mwx_ray.motion.rigs,
animated with a synthetic walk; no mocap file is downloaded.
"""

import hashlib
from dataclasses import replace

import numpy as np
import pytest

from mwx_ray.motion import CANONICAL_KEYPOINTS, MotionError, generate_synthetic
from mwx_ray.motion.bvh_writer import rig_leg_length_m, write_rig_bvh
from mwx_ray.motion.conventions import UnknownRigError, resolve_joint_names
from mwx_ray.motion.loaders.bvh import load_bvh, parse_bvh
from mwx_ray.motion.rigs import RIG_LAYOUTS
from mwx_ray.motion.selection import SourceSelection, rest_frames, select_frames
from mwx_ray.motion.skeleton import y_up_to_z_up
from mwx_ray.motion.units import UNIT_PRESETS


def rig_walk(rig_name, fps=None, n_cycles=1, speed_mps=1.2):
    """Synthetic walk of a person whose legs match the rig's (Winter: thigh + shank = 0.491 × height)."""
    rig = RIG_LAYOUTS[rig_name]
    return generate_synthetic("walk", fps=fps or rig.fps, n_cycles=n_cycles, speed_mps=speed_mps,
                              height_m=rig_leg_length_m(rig) / 0.491)


def write(tmp_path, rig_name, name=None, tpose_frames=0, **walk):
    rig = RIG_LAYOUTS[rig_name]
    return write_rig_bvh(rig, rig_walk(rig_name, **walk), tmp_path / f"{name or rig_name}.bvh", tpose_frames)


@pytest.mark.parametrize("rig_name", sorted(RIG_LAYOUTS))
def test_written_bvh_follows_the_motion_bone_by_bone(tmp_path, rig_name):
    rig = RIG_LAYOUTS[rig_name]
    human = rig_walk(rig_name, fps=30)
    bvh = parse_bvh(write_rig_bvh(rig, human, tmp_path / "walk.bvh"))
    positions = y_up_to_z_up(bvh.world_positions() * rig.metres_per_unit)
    at = {j.keypoint: positions[:, bvh.joint_names.index(j.name)] for j in rig.joints if j.keypoint}
    wanted = {name: human.keypoints[:, i] for i, name in enumerate(human.keypoint_names)}
    for side in ("left", "right"):
        for a, b in (("hip", "knee"), ("knee", "ankle"), ("ankle", "toe"), ("shoulder", "elbow"), ("elbow", "wrist")):
            a, b = f"{side}_{a}", f"{side}_{b}"
            got = at[b] - at[a]
            want = wanted[b] - wanted[a]
            cos = np.sum(got * want, -1) / np.linalg.norm(got, axis=-1) / np.linalg.norm(want, axis=-1)
            assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() < 0.5, (a, b)
    # the rig's hip centre follows the motion's, and its lowest toe touches the motion's floor
    mid = 0.5 * (at["left_hip"] + at["right_hip"])
    np.testing.assert_allclose(mid[:, :2], 0.5 * (wanted["left_hip"] + wanted["right_hip"])[:, :2], atol=1e-4)
    assert min(at["left_toe"][:, 2].min(), at["right_toe"][:, 2].min()) == pytest.approx(
        min(wanted["left_toe"][:, 2].min(), wanted["right_toe"][:, 2].min()), abs=1e-4)


def test_published_layout_facts_that_broke_the_first_operator(tmp_path):
    lafan = load_bvh(write(tmp_path, "lafan1", n_cycles=1, fps=30))
    points = dict(zip(lafan.keypoint_names, np.moveaxis(lafan.keypoints, 1, 0), strict=True))
    hips_to_pelvis = points["pelvis"] - 0.5 * (points["left_hip"] + points["right_hip"])
    assert np.linalg.norm(hips_to_pelvis, axis=-1).max() < 0.02  # Hips level with the hip joints: 1.9 cm
    assert np.abs(hips_to_pelvis[:, 2]).max() < 0.005  # ... and horizontal (the vertical part is 1 mm)
    cmu = load_bvh(write(tmp_path, "cmu", fps=60), convention="bvh", units="cmu")  # generic names: neck = Neck
    points = dict(zip(cmu.keypoint_names, np.moveaxis(cmu.keypoints, 1, 0), strict=True))
    assert np.linalg.norm(points["neck"] - points["chest"], axis=-1).max() < 1e-9  # Spine1 and Neck coincide


def test_auto_convention_picks_the_rig_and_reports_why(tmp_path):
    expected = {"lafan1": ("lafan1", "Spine2", "LeftToe"), "cmu": ("cmu", "Spine1", "LeftToeBase"),
                "mixamo": ("mixamo", "mixamorig:Spine2", "mixamorig:LeftToeBase")}
    for rig_name, (convention, chest, toe) in expected.items():
        motion = load_bvh(write(tmp_path, rig_name, fps=30))
        names = motion.provenance["joint_names"]
        assert names["convention"] == convention and f"auto -> {convention}" in names["report"]
        assert names["canonical_to_source"]["chest"] == chest and names["canonical_to_source"]["left_toe"] == toe
    assert resolve_joint_names(["Hips", "LHipJoint", *[f"x{i}" for i in range(3)]] + list(CANONICAL_KEYPOINTS)
                               ).convention == "canonical"


def test_unknown_rig_lists_joints_and_a_template_that_works_when_filled_in(tmp_path):
    path = write(tmp_path, "lafan1", fps=30)
    renamed = {"LeftUpLeg": "thigh_l", "RightUpLeg": "thigh_r", "LeftLeg": "calf_l", "RightLeg": "calf_r"}
    text = path.read_text()
    for old, new in renamed.items():
        text = text.replace(f"JOINT {old}\n", f"JOINT {new}\n")
    odd = tmp_path / "odd_rig.bvh"
    odd.write_text(text)
    with pytest.raises(UnknownRigError) as caught:
        load_bvh(odd)
    message, template = str(caught.value), caught.value.template
    assert "'thigh_l'" in message and "--joint-map" in message and "left_hip" in message
    assert "left_hip: FILL_ME" in template and "chest: Spine2" in template  # known names are pre-filled
    filled = template.replace("left_hip: FILL_ME", "left_hip: thigh_l").replace("right_hip: FILL_ME", "right_hip: thigh_r")
    filled = filled.replace("left_knee: FILL_ME", "left_knee: calf_l").replace("right_knee: FILL_ME", "right_knee: calf_r")
    (tmp_path / "map.yaml").write_text(filled)
    mapped = load_bvh(odd, joint_map=tmp_path / "map.yaml")
    np.testing.assert_allclose(mapped.keypoints, load_bvh(path).keypoints, atol=1e-12)
    assert mapped.provenance["joint_names"]["joint_map_sha256"] == hashlib.sha256(filled.encode()).hexdigest()
    (tmp_path / "bad.yaml").write_text("left_hip: thigh_x\n")
    with pytest.raises(MotionError, match=r"joint map says left_hip: 'thigh_x'.*close: \[.*'thigh_l'"):
        load_bvh(odd, joint_map=tmp_path / "bad.yaml")
    with pytest.raises(MotionError, match=r"keys \['hips'\] are not canonical keypoints"):
        load_bvh(odd, joint_map={"hips": "thigh_l"})


def test_units_cm_cmu_and_inches(tmp_path):
    lafan = load_bvh(write(tmp_path, "lafan1", fps=30))
    assert lafan.provenance["unit_scale_m_per_unit"] == 0.01 and "units cm (inferred" in lafan.provenance["units"]
    cmu = load_bvh(write(tmp_path, "cmu", fps=60))
    assert cmu.provenance["unit_scale_m_per_unit"] == pytest.approx(0.056444, abs=1e-6)
    assert "inferred from CMU joint names" in cmu.provenance["units"]
    # the same CMU-sized skeleton under generic names: no guess, an error listing plausible presets and flags
    with pytest.raises(MotionError, match=r"cannot infer length units.*--units cmu -> 1\.[0-9]+ m tall.*--unit-scale"):
        load_bvh(tmp_path / "cmu.bvh", convention="bvh")
    given = load_bvh(tmp_path / "cmu.bvh", convention="bvh", units="cmu")
    np.testing.assert_allclose(given.keypoints, load_bvh(tmp_path / "cmu.bvh", convention="cmu").keypoints[:, :],
                               atol=0.2)  # same skeleton (neck joint differs by convention)
    scaled = load_bvh(tmp_path / "lafan1.bvh", unit_scale=0.01 / 2.54, units="auto")  # read cm as inches
    assert scaled.keypoints[..., 2].max() == pytest.approx(lafan.keypoints[..., 2].max() / 2.54, rel=1e-6)
    assert UNIT_PRESETS["in"] == 0.0254


def test_wrong_up_axis_is_named(tmp_path):
    motion = load_bvh(write(tmp_path, "mixamo", fps=30), up_axis="z")
    (warning,) = motion.provenance["warnings"]
    assert "up axis 'z'" in warning and "try --up-axis y" in warning
    assert load_bvh(tmp_path / "mixamo.bvh").provenance["warnings"] == []


def test_cmu_t_pose_first_frame_is_detected_and_trimmed(tmp_path):
    motion = load_bvh(write(tmp_path, "cmu", tpose_frames=1, fps=60))
    assert rest_frames(motion.keypoints, motion.keypoint_names, motion.fps)[:2] == (1, 0)
    selected = select_frames(motion)
    assert selected.num_frames == motion.num_frames - 1
    assert selected.provenance["selection"]["trimmed_rest_frames"]["reasons"] == ["1 leading T-pose frame(s)"]
    np.testing.assert_array_equal(selected.keypoints, motion.keypoints[1:])
    kept = select_frames(motion, SourceSelection(start=0))  # the user fixed the start: nothing trimmed
    assert kept.num_frames == motion.num_frames
    ranged = select_frames(motion, SourceSelection(start="0.5s", end=40))
    assert ranged.provenance["selection"]["source_frames"] == [30, 40] and ranged.num_frames == 10
    with pytest.raises(MotionError, match=r"end '9999' = frame 9999 is outside"):
        select_frames(motion, SourceSelection(end="9999"))


def test_loop_selection_cuts_whole_cycles_and_checks_the_seam(tmp_path):
    motion = load_bvh(write(tmp_path, "lafan1", fps=30, n_cycles=3))
    cut = motion.keypoints[7:80]  # not a whole number of cycles
    looped = select_frames(replace(motion, keypoints=cut), SourceSelection(loop=True))
    loop = looped.provenance["selection"]["loop"]
    period = rig_walk("lafan1", fps=30).provenance["frames_per_cycle"]
    assert looped.provenance["cyclic"] and looped.num_frames == 2 * period  # the longest clean loop: 2 cycles
    assert loop["seam_pose_error_m"] < 0.01 and abs(loop["heading_change_deg"]) < 1
    assert looped.provenance["cycle_root_displacement_m"][0] > 1.0  # two cycles of walking forward
    drifting = cut.copy()  # the arms rise through the clip: no frame repeats an earlier one
    for name in ("left_elbow", "left_wrist", "right_elbow", "right_wrist"):
        drifting[:, CANONICAL_KEYPOINTS.index(name), 2] += np.linspace(0.0, 0.6, len(cut))
    with pytest.raises(MotionError, match="no seamless loop.*mean keypoint mismatch of [0-9.]+ cm"):
        select_frames(replace(motion, keypoints=drifting), SourceSelection(loop=True, max_seam_error_m=0.01))
