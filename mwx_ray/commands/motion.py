"""``mwx motion``: retarget human motion to H1 clips (operator M), replay clips next to their source, list motions."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from mwx_ray.commands.common import add_subcommand

FORMATS = ("bvh", "keypoints", "h1_csv", "holosoma", "synthetic")
RETARGET_EXAMPLES = """  mwx motion retarget walk --format synthetic --out runs/motion/walk.npz
  mwx motion retarget data/lafan1/walk1_subject1.bvh --format bvh --fps 50
  mwx motion retarget amass/run.npz --format keypoints --up-axis z --body-scale segments
  mwx motion retarget data/h1/dance1_subject2.csv --format h1_csv        (already H1 joints: converted, no IK)
"""
REPLAY_EXAMPLES = """  mwx motion replay runs/motion/walk.npz
  mwx motion replay runs/motion/walk.npz --quality fast --out /tmp/walk.mp4 --human-offset 1.2
  mwx motion replay builtin:sit                (a built-in clip, see `mwx motion list`)
"""
LIST_EXAMPLES = """  mwx motion list
  mwx motion list --build      generate (and cache) every built-in clip, then list them
"""
# Bone colour of the source skeleton in replays: green at ≤ 2 cm mean keypoint error of the frame, red at ≥ 10 cm.
GOOD_ERROR_M, BAD_ERROR_M = 0.02, 0.10


def register(subparsers) -> None:
    motion = subparsers.add_parser("motion", help="retarget, replay and list reference motions",
                                   description="Retarget human motion to Unitree H1 clips, replay and list them.")
    actions = motion.add_subparsers(dest="motion_command", metavar="<action>", required=True)
    retarget = add_subcommand(actions, "retarget", "human motion file -> H1 MotionClip (.npz) by inverse kinematics",
                              RETARGET_EXAMPLES, run_retarget)
    retarget.add_argument("file", help="motion file, or a skill name for --format synthetic")
    retarget.add_argument("--format", required=True, choices=FORMATS, help="how to read <file>")
    retarget.add_argument("--out", help="output clip (default runs/motion/<name>.npz)")
    retarget.add_argument("--fps", type=float, help="resample to this rate, Hz (default: the source rate)")
    retarget.add_argument("--body-scale", choices=["segments", "uniform", "none"], default="segments",
                          help="segments: H1 bone lengths + human bone directions; none: scale 1")
    retarget.add_argument("--up-axis", choices=["y", "z"], help="vertical axis of a keypoints/bvh file")
    retarget.add_argument("--unit-scale", type=float, help="metres per file unit (default: inferred/loader's)")
    retarget.add_argument("--source-fps", type=float, help="frame rate of a keypoints file without one, Hz")
    retarget.add_argument("--tag", action="append", default=[], help="skill tag to store (repeatable)")
    replay = add_subcommand(actions, "replay", "render a clip's kinematic replay next to its source skeleton",
                            REPLAY_EXAMPLES, run_replay)
    replay.add_argument("clip", help="MotionClip .npz, or builtin:<skill>")
    replay.add_argument("--out", help="mp4 path (default: the clip path with .mp4)")
    replay.add_argument("--quality", choices=["fast", "video"], default="video", help="render preset")
    replay.add_argument("--human-offset", type=float, default=1.0,
                        help="draw the source skeleton this far to the robot's right, m (0 = overlaid)")
    replay.add_argument("--max-frames", type=int, help="render at most this many frames")
    listing = add_subcommand(actions, "list", "built-in skills of the offline library and motion sources",
                             LIST_EXAMPLES, run_list)
    listing.add_argument("--build", action="store_true", help="generate and cache every built-in clip first")


def _fail(message: str) -> int:
    print(f"mwx: motion error: {message}", file=sys.stderr)
    return 2


def run_retarget(args) -> int:
    from mwx_ray.motion import MotionClip, MotionError, load_motion
    from mwx_ray.motion.retarget import RetargetSettings, retarget

    options: dict = {}
    if args.format in ("bvh", "keypoints"):
        if args.up_axis:
            options["up_axis"] = args.up_axis
        if args.unit_scale:
            options["unit_scale"] = args.unit_scale
    if args.format == "keypoints" and args.source_fps:
        options["fps"] = args.source_fps
    if args.format == "synthetic" and args.fps:
        options["fps"] = args.fps
    if args.tag:
        options["skill_tags"] = tuple(args.tag)
    try:
        motion = load_motion(args.format, args.file, **options)
        if isinstance(motion, MotionClip):
            clip = motion.resample(args.fps) if args.fps else motion
            print(f"{args.file}: already H1 joint space ({clip.num_frames} frames at {clip.fps:g} Hz); no IK needed")
        else:
            result = retarget(motion, RetargetSettings(body_scale=args.body_scale, fps=args.fps))
            clip = result.clip
            _print_retarget_report(result)
        out = Path(args.out or f"runs/motion/{clip.name.replace('/', '_')}.npz")
        clip.save(out)
    except (MotionError, OSError) as err:
        return _fail(str(err))
    print(f"wrote {out}")
    return 0


def _print_retarget_report(result) -> None:
    info = result.clip.provenance["retarget"]
    stats = info["keypoint_error_m"]
    clip = result.clip
    synthetic = " [SYNTHETIC source motion]" if clip.provenance.get("synthetic") else ""
    print(f"retargeted {clip.name}: {clip.num_frames} frames at {clip.fps:g} Hz, {result.frames_per_s:,.0f} frames/s"
          f"{synthetic}")
    print(f"body scale {info['settings']['body_scale']}: root scale {info['root_scale']:.3f}")
    print("per-frame keypoint error (mean over 19 keypoints), cm: "
          + ", ".join(f"{k} {100 * v:.2f}" for k, v in stats.items()))
    worst = sorted(info["keypoint_error_by_name_m"].items(), key=lambda kv: -kv[1])[:4]
    print("worst keypoints (mean error, cm): " + ", ".join(f"{k} {100 * v:.2f}" for k, v in worst))
    frame = int(np.argmax(result.keypoint_error_m))
    print(f"worst frame {frame}: {100 * result.keypoint_error_m[frame]:.2f} cm; "
          f"vertical ground shift max {100 * info['vertical_shift_m']['max']:.2f} cm")


def _load_clip(spec: str):
    from mwx_ray.motion import MotionClip
    from mwx_ray.motion.library import builtin_clip

    if spec.startswith("builtin:"):
        return builtin_clip(spec.split(":", 1)[1])
    return MotionClip.load(spec)


def run_replay(args) -> int:
    import mwx_ray.envs.rendering  # noqa: F401 - first: picks headless GL (MUJOCO_GL=egl) before mujoco loads
    from mwx_ray.motion import MotionError

    try:
        clip = _load_clip(args.clip)
    except (MotionError, OSError) as err:
        return _fail(str(err))
    default_out = f"runs/videos/{clip.name.replace('/', '_')}.mp4" if args.clip.startswith("builtin:") else None
    out = Path(args.out or default_out or Path(args.clip).with_suffix(".mp4"))
    frames = render_replay(clip, quality=args.quality, human_offset_m=args.human_offset, max_frames=args.max_frames)
    from mwx_ray.video_io import write_mp4

    write_mp4(frames, out, fps=clip.fps)
    note = "" if clip.keypoints is not None else " (clip has no source keypoints: robot only)"
    print(f"wrote {out}{note}")
    return 0


def render_replay(clip, quality: str = "video", human_offset_m: float = 1.0, max_frames: int | None = None):
    """Yield RGB frames [H, W, 3] uint8: H1 at the clip's pose, source skeleton ``human_offset_m`` to its right.

    The skeleton is drawn as user geoms (capsules/spheres added to the scene with ``mjv_initGeom`` /
    ``mjv_connector``); its colour goes green → red with the frame's mean keypoint error (provenance).
    """
    import mujoco

    from mwx_ray.envs.rendering import FrameRenderer
    from mwx_ray.motion.retarget_scale import kinematic_h1_model
    from mwx_ray.motion.skeleton import CANONICAL_BONES

    model = kinematic_h1_model()
    data = mujoco.MjData(model)
    renderer = FrameRenderer(model, "pelvis", quality)
    camera = renderer._camera  # noqa: SLF001 - reuse the preset's camera, but aim it between robot and skeleton
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    camera.azimuth, camera.elevation, camera.distance = 160.0, -12.0, 4.0 + abs(human_offset_m)  # 3/4 front
    names = list(clip.keypoint_names)
    bones = [(names.index(a), names.index(b)) for a, b in CANONICAL_BONES if a in names and b in names]
    errors = clip.provenance.get("retarget", {}).get("keypoint_error_per_frame_m")
    shift = np.array([0.0, -human_offset_m, 0.0])
    count = clip.num_frames if max_frames is None else min(max_frames, clip.num_frames)
    try:
        for frame in range(count):
            data.qpos[0:3], data.qpos[3:7], data.qpos[7:26] = (clip.root_pos[frame], clip.root_quat[frame],
                                                               clip.joint_pos[frame])
            mujoco.mj_kinematics(model, data)
            camera.lookat[:] = clip.root_pos[frame] + 0.5 * shift
            renderer._renderer.update_scene(data, camera=camera)  # noqa: SLF001
            if clip.keypoints is not None:
                error = None if errors is None or frame >= len(errors) else float(errors[frame])
                _draw_skeleton(renderer._renderer.scene, clip.keypoints[frame] + shift, bones, error)  # noqa: SLF001
            yield renderer._renderer.render()  # noqa: SLF001
    finally:
        renderer.close()


def _draw_skeleton(scene, points: np.ndarray, bones, error_m: float | None) -> None:
    import mujoco

    if error_m is None:
        rgba = np.array([0.2, 0.5, 1.0, 1.0], dtype=np.float32)
    else:
        badness = float(np.clip((error_m - GOOD_ERROR_M) / (BAD_ERROR_M - GOOD_ERROR_M), 0.0, 1.0))
        rgba = np.array([badness, 1.0 - 0.7 * badness, 0.2, 1.0], dtype=np.float32)
    identity = np.eye(3).ravel()
    for start, end in bones:
        if scene.ngeom >= scene.maxgeom:
            return
        geom = scene.geoms[scene.ngeom]
        mujoco.mjv_initGeom(geom, mujoco.mjtGeom.mjGEOM_CAPSULE, np.zeros(3), np.zeros(3), identity, rgba)
        mujoco.mjv_connector(geom, mujoco.mjtGeom.mjGEOM_CAPSULE, 0.02, points[start], points[end])
        scene.ngeom += 1
    for point in points:
        if scene.ngeom >= scene.maxgeom:
            return
        mujoco.mjv_initGeom(scene.geoms[scene.ngeom], mujoco.mjtGeom.mjGEOM_SPHERE, np.full(3, 0.035), point,
                            identity, rgba)
        scene.ngeom += 1


def run_list(args) -> int:
    from mwx_ray.motion import MotionClip, motion_source_names
    from mwx_ray.motion.library import BUILTIN_SKILLS, builtin_clip, builtin_clip_path, motion_cache_dir
    from mwx_ray.motion.loaders import get_motion_source

    print(f"built-in skills (SYNTHETIC human motion retargeted to H1; cache {motion_cache_dir()}):")
    for skill, params in BUILTIN_SKILLS.items():
        path = builtin_clip_path(skill)
        clip = builtin_clip(skill) if args.build else (MotionClip.load(path) if path.exists() else None)
        if clip is None:
            print(f"  {skill:<11} not generated yet   params {params}")
            continue
        cyclic = "cyclic" if clip.provenance.get("cyclic") else "one-shot"
        speed = float(np.linalg.norm(clip.provenance.get("cycle_root_displacement_m", [0, 0, 0])[:2])
                      / max(clip.num_frames / clip.fps, 1e-9)) if clip.provenance.get("cyclic") else 0.0
        error_cm = 100 * clip.provenance["retarget"]["keypoint_error_m"]["mean"]
        print(f"  {skill:<11} {clip.num_frames:4d} frames {clip.num_frames / clip.fps:5.2f} s  {cyclic:<8} "
              f"root speed {speed:4.2f} m/s  IK error {error_cm:.2f} cm  params {params}")
    print("motion sources (mwx motion retarget --format ...):")
    for name in motion_source_names():
        print(f"  {name:<11} {get_motion_source(name).description}")
    return 0
