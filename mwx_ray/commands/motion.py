"""``mwx motion``: retarget human motion to H1 clips (operator M), replay clips next to their source, list motions."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from mwx_ray.commands.common import add_subcommand

FORMATS = ("bvh", "keypoints", "h1_csv", "holosoma", "synthetic")
RETARGET_EXAMPLES = """  mwx motion retarget walk --format synthetic --out runs/motion/walk.npz
  mwx motion retarget data/lafan1/walk1_subject1.bvh --format bvh --license "CC BY-NC-ND 4.0 (LAFAN1)"
  mwx motion retarget 02_01.bvh --format bvh --convention cmu --units cmu --start 1 --end 10s --loop
  mwx motion retarget myrig.bvh --format bvh --joint-map myrig_joints.yaml   (rigs with other joint names)
  mwx motion retarget amass/run.npz --format keypoints --up-axis z --body-scale segments
  mwx motion retarget data/h1/dance1_subject2.csv --format h1_csv        (already H1 joints: converted, no IK)
"""
REPLAY_EXAMPLES = """  mwx motion replay runs/motion/walk.npz
  mwx motion replay runs/motion/walk.npz --start 2s --end 8s --camera side --speed 0.5 --out /tmp/walk.mp4
  mwx motion replay builtin:sit --robot-geoms visual --quality video   (meshes: slower, for presentation)
"""
PLAYBACK_EXAMPLES = """  mwx motion playback                      every skill with a clip, 3 episodes each
  mwx motion playback sit crawl --episodes 10
  mwx motion playback walk --clip runs/motion/walk.npz     a retargeted clip instead of the built-in one
"""
LIST_EXAMPLES = """  mwx motion list
  mwx motion list --build      generate (and cache) every built-in clip, then list them
"""
# Bone colour of the source skeleton in replays: green at ≤ 2 cm mean keypoint error of the frame, red at ≥ 10 cm.
GOOD_ERROR_M, BAD_ERROR_M = 0.02, 0.10
# Replay cameras: (azimuth, elevation) in degrees; azimuth 0 looks along +x (the clip's heading), so 180 is front.
CAMERAS = {"three-quarter": (160.0, -12.0), "front": (180.0, -8.0), "side": (270.0, -8.0), "back": (0.0, -10.0),
           "top": (180.0, -80.0)}


def register(subparsers) -> None:
    from mwx_ray.motion.conventions import CONVENTION_CHOICES
    from mwx_ray.motion.units import UNIT_CHOICES

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
    retarget.add_argument("--convention", choices=CONVENTION_CHOICES, default="auto",
                          help="joint-name convention of a bvh/keypoints file (auto: best match, reported)")
    retarget.add_argument("--joint-map", help="YAML 'canonical_keypoint: FileJointName' lines for other rigs")
    retarget.add_argument("--up-axis", choices=["x", "y", "z"], help="vertical axis of a keypoints/bvh file")
    retarget.add_argument("--units", choices=UNIT_CHOICES, help="length unit preset (cmu = 0.056444 m; default: "
                                                                "inferred for bvh, metres for keypoints)")
    retarget.add_argument("--unit-scale", type=float, help="metres per file unit (instead of --units)")
    retarget.add_argument("--source-fps", type=float, help="frame rate of a keypoints file without one, Hz")
    retarget.add_argument("--start", help="first source frame (120) or time (4.5s); default: after rest frames")
    retarget.add_argument("--end", help="end source frame, exclusive (900), or time (30s)")
    retarget.add_argument("--keep-rest-frames", action="store_true", help="keep leading/trailing T-pose frames")
    retarget.add_argument("--loop", action="store_true", help="cut the best loop and mark the clip cyclic")
    retarget.add_argument("--max-seam-cm", type=float, default=5.0, help="loop seam check: max keypoint mismatch")
    retarget.add_argument("--license", help="licence of the source file, as you know it (stored in the clip)")
    retarget.add_argument("--tag", action="append", default=[], help="skill tag to store (repeatable)")
    replay = add_subcommand(actions, "replay", "render a clip's kinematic replay next to its source skeleton",
                            REPLAY_EXAMPLES, run_replay)
    replay.add_argument("clip", help="MotionClip .npz, or builtin:<skill>")
    replay.add_argument("--out", help="mp4 path (default: the clip path with .mp4)")
    replay.add_argument("--quality", choices=["fast", "video"], default="fast", help="render preset (fast: 224 px)")
    replay.add_argument("--robot-geoms", choices=["collision", "visual"], default="collision",
                        help="draw H1's collision shapes (about 2.5x faster to render) or its meshes")
    replay.add_argument("--camera", choices=list(CAMERAS), default="three-quarter", help="view, following the pelvis")
    replay.add_argument("--start", help="first clip frame (or time, 2s)")
    replay.add_argument("--end", help="end clip frame, exclusive (or time, 8s)")
    replay.add_argument("--speed", type=float, default=1.0, help="playback speed (0.5 = slow motion)")
    replay.add_argument("--video-fps", type=float, default=30.0, help="at most this many video frames per second")
    replay.add_argument("--human-offset", type=float, default=1.0,
                        help="draw the source skeleton this far to the robot's side, m (0 = overlaid)")
    replay.add_argument("--max-frames", type=int, help="render at most this many frames")
    playback = add_subcommand(actions, "playback", "play skills' clips open loop on their tasks: does the clip "
                              "alone reach the success bar?", PLAYBACK_EXAMPLES, run_playback)
    playback.add_argument("skills", nargs="*", help="skills to play (default: every skill with a clip)")
    playback.add_argument("--episodes", type=int, default=3, help="HumanoidBench-reset episodes per skill")
    playback.add_argument("--clip", help="play this clip (built-in motion or .npz) instead of the skill's own")
    listing = add_subcommand(actions, "list", "built-in skills of the offline library and motion sources",
                             LIST_EXAMPLES, run_list)
    listing.add_argument("--build", action="store_true", help="generate and cache every built-in clip first")


def _fail(message: str) -> int:
    print(f"mwx: motion error: {message}", file=sys.stderr)
    return 2


def _load_options(args) -> dict:
    """Loader keyword arguments of ``--format`` from the command line."""
    options: dict = {}
    if args.format in ("bvh", "keypoints"):
        options.update(convention=args.convention, license=args.license)
        for flag, key in (("joint_map", "joint_map"), ("up_axis", "up_axis"), ("units", "units")):
            if getattr(args, flag):
                options[key] = getattr(args, flag)
        if args.unit_scale is not None:
            options["unit_scale"] = args.unit_scale
    if args.format == "keypoints" and args.source_fps:
        options["fps"] = args.source_fps
    if args.format == "synthetic" and args.fps:
        options["fps"] = args.fps
    if args.tag:
        options["skill_tags"] = tuple(args.tag)
    return options


def run_retarget(args) -> int:
    from mwx_ray.motion import MotionClip, MotionError, load_motion
    from mwx_ray.motion.conventions import UnknownRigError
    from mwx_ray.motion.mocap_retarget import MocapRetargetSettings, retarget_mocap
    from mwx_ray.motion.selection import SourceSelection, select_frames

    if args.units and args.unit_scale is not None:
        return _fail("give --units or --unit-scale, not both")
    default_out = Path("runs/motion") / f"{Path(args.file).stem}.npz"
    try:
        motion = load_motion(args.format, args.file, **_load_options(args))
        if isinstance(motion, MotionClip):
            clip = motion.resample(args.fps) if args.fps else motion
            print(f"{args.file}: already H1 joint space ({clip.num_frames} frames at {clip.fps:g} Hz); no IK needed")
        else:
            selection = SourceSelection(args.start, args.end, not args.keep_rest_frames, args.loop,
                                        args.max_seam_cm / 100.0)
            motion = select_frames(motion, selection)
            _print_source_report(motion)
            result = retarget_mocap(motion, MocapRetargetSettings(body_scale=args.body_scale, fps=args.fps))
            clip = result.clip
            _print_retarget_report(result)
        out = Path(args.out or default_out.with_name(f"{clip.name.replace('/', '_')}.npz"))
        clip.save(out)
    except UnknownRigError as err:
        template = Path(args.out or default_out).with_suffix(".joint_map.yaml")
        template.parent.mkdir(parents=True, exist_ok=True)
        template.write_text(err.template)
        return _fail(f"{err}\n(template written to {template}: fill it in and pass --joint-map {template})")
    except (MotionError, OSError) as err:
        return _fail(str(err))
    print(f"wrote {out}")
    return 0


def _print_source_report(motion) -> None:
    p = motion.provenance
    if "source_sha256" in p:
        print(f"source {p['source_file']} (sha256 {p['source_sha256'][:16]}..., {p['source_bytes']} bytes); "
              f"license: {p['license_note']}")
    if "joint_names" in p:
        print(f"joint names: {p['joint_names']['report']}")
    if "units" in p:
        print(f"{p['units']}; up axis {p.get('up_axis_in_file')}")
    selection = p.get("selection", {})
    first, last = selection.get("source_frames", [0, motion.num_frames])
    trimmed = selection.get("trimmed_rest_frames")
    print(f"frames [{first}, {last}) of the source" + (f"; trimmed {', '.join(trimmed['reasons'])}" if trimmed else ""))
    if "loop" in selection:
        loop = selection["loop"]
        a, b = loop["source_frames"]
        print(f"loop: source frames [{a}, {b}), seam {100 * loop['seam_pose_error_m']:.1f} cm / "
              f"{loop['seam_velocity_error_mps']:.2f} m/s, heading change {loop['heading_change_deg']:.1f} deg")


def _print_retarget_report(result) -> None:
    from mwx_ray.motion.quality import quality_lines

    info = result.clip.provenance["retarget"]
    stats = info["keypoint_error_m"]
    clip = result.clip
    synthetic = " [SYNTHETIC source motion]" if clip.provenance.get("synthetic") else ""
    print(f"retargeted {clip.name}: {clip.num_frames} frames at {clip.fps:g} Hz, {result.frames_per_s:,.0f} frames/s"
          f"{synthetic}")
    print(f"body scale {info['settings']['body_scale']}: root scale {info['root_scale']:.3f}; trunk axis "
          f"{' -> '.join(info['trunk_axis'])}; planted foot frames {info['contact_fraction']}")
    print("per-frame keypoint error (mean over 19 keypoints), cm: "
          + ", ".join(f"{k} {100 * v:.2f}" for k, v in stats.items()))
    worst = sorted(info["keypoint_error_by_name_m"].items(), key=lambda kv: -kv[1])[:4]
    print("worst keypoints (mean error, cm): " + ", ".join(f"{k} {100 * v:.2f}" for k, v in worst))
    frame = int(np.argmax(result.keypoint_error_m))
    print(f"worst frame {frame}: {100 * result.keypoint_error_m[frame]:.2f} cm; "
          f"vertical ground shift max {100 * info['vertical_shift_m']['max']:.2f} cm")
    print("quality:")
    for line in quality_lines(result.quality):
        print("  " + line)
    if info.get("seam"):
        print(f"loop seam (joint space): {info['seam']}")
    for warning in result.warnings:
        print(f"WARNING: {warning}")


def _load_clip(spec: str):
    from mwx_ray.motion import MotionClip
    from mwx_ray.motion.library import builtin_clip

    if spec.startswith("builtin:"):
        return builtin_clip(spec.split(":", 1)[1])
    return MotionClip.load(spec)


def run_replay(args) -> int:
    import mwx_ray.envs.rendering  # noqa: F401 - first: picks headless GL (MUJOCO_GL=egl) before mujoco loads
    from mwx_ray.motion import MotionError
    from mwx_ray.motion.selection import frame_index

    try:
        clip = _load_clip(args.clip)
        owner = f"replay of {clip.name!r}"
        start = frame_index(args.start, clip.fps, clip.num_frames, "start", owner) or 0
        end = frame_index(args.end, clip.fps, clip.num_frames, "end", owner)
        end = clip.num_frames if end is None else end
        if end - start < 1:
            raise MotionError(f"{owner}: empty frame range [{start}, {end})")
        if not args.speed > 0 or not args.video_fps > 0:
            raise MotionError(f"{owner}: --speed and --video-fps must be positive")
    except (MotionError, OSError) as err:
        return _fail(str(err))
    default_out = f"runs/videos/{clip.name.replace('/', '_')}.mp4" if args.clip.startswith("builtin:") else None
    out = Path(args.out or default_out or Path(args.clip).with_suffix(".mp4"))
    # Time runs at `speed`: one video frame every `step` clip frames, at most `video_fps` frames per second.
    video_fps = min(args.video_fps, clip.fps * args.speed)
    step = clip.fps * args.speed / video_fps
    indices = np.unique(np.floor(np.arange(start, end, step)).astype(int))[: args.max_frames]
    frames = render_replay(clip, quality=args.quality, human_offset_m=args.human_offset, frames=indices,
                           camera=args.camera, robot_geoms=args.robot_geoms)
    from mwx_ray.video_io import write_mp4

    write_mp4(frames, out, fps=video_fps)
    note = "" if clip.keypoints is not None else " (clip has no source keypoints: robot only)"
    print(f"wrote {out}: clip frames [{start}, {end}) at {args.speed:g}x, {len(indices)} video frames at "
          f"{video_fps:g} fps{note}")
    return 0


def render_replay(clip, quality: str = "fast", human_offset_m: float = 1.0, max_frames: int | None = None,
                  frames=None, camera: str = "three-quarter", robot_geoms: str = "collision"):
    """Yield RGB frames [H, W, 3] uint8: H1 at the clip's pose, source skeleton ``human_offset_m`` to its side.

    ``frames``: clip frame indices to render (default all, at most ``max_frames``). ``camera``: a key of
    :data:`CAMERAS` (a free camera following the pelvis; the skeleton is placed to the screen's left).
    ``robot_geoms``: ``collision`` draws H1's collision primitives (about 2.5x faster than its meshes with
    Mesa, measured: 45 vs 17 frames/s at 224 px), ``visual`` its meshes. The skeleton is drawn as user geoms;
    its colour goes green → red with the frame's mean keypoint error (provenance).
    """
    import mujoco

    from mwx_ray.envs.rendering import FrameRenderer
    from mwx_ray.motion.retarget_scale import kinematic_h1_model
    from mwx_ray.motion.skeleton import CANONICAL_BONES

    model = kinematic_h1_model()
    data = mujoco.MjData(model)
    renderer = FrameRenderer(model, "pelvis", quality)
    view = renderer._camera  # noqa: SLF001 - reuse the preset's camera, but aim it between robot and skeleton
    view.type = mujoco.mjtCamera.mjCAMERA_FREE
    azimuth, elevation = CAMERAS[camera]
    view.azimuth, view.elevation, view.distance = azimuth, elevation, 4.0 + abs(human_offset_m)
    option = mujoco.MjvOption()
    if robot_geoms == "collision":  # our H1: meshes in geom group 2, collision primitives in group 3
        option.geomgroup[:] = 0
        option.geomgroup[[0, 3]] = 1
    names = list(clip.keypoint_names)
    bones = [(names.index(a), names.index(b)) for a, b in CANONICAL_BONES if a in names and b in names]
    errors = clip.provenance.get("retarget", {}).get("keypoint_error_per_frame_m")
    rad = np.radians(azimuth)
    shift = human_offset_m * np.array([-np.sin(rad), np.cos(rad), 0.0])  # screen-left of the view direction
    if frames is None:
        frames = range(clip.num_frames if max_frames is None else min(max_frames, clip.num_frames))
    try:
        for frame in frames:
            data.qpos[0:3], data.qpos[3:7], data.qpos[7:26] = (clip.root_pos[frame], clip.root_quat[frame],
                                                               clip.joint_pos[frame])
            mujoco.mj_kinematics(model, data)
            view.lookat[:] = clip.root_pos[frame] + 0.5 * shift
            renderer._renderer.update_scene(data, camera=view, scene_option=option)  # noqa: SLF001
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


def run_playback(args) -> int:
    from mwx_ray.config.task_schema import clip_problem
    from mwx_ray.envs.skills import get_skill, skill_names
    from mwx_ray.experts.clip_playback import play_clip

    if args.episodes < 1:
        return _fail(f"--episodes must be >= 1, got {args.episodes}")
    try:
        skills = [get_skill(name).name for name in args.skills] or [
            name for name in skill_names() if get_skill(name).clip]
    except KeyError as error:
        return _fail(str(error))
    problem = args.clip and clip_problem(args.clip)
    if problem:
        return _fail(f"--clip: {problem}")
    print("open-loop playback of each clip through the position servos (HumanoidBench reset, deterministic):")
    print(f"  {'skill':<8} {'clip':<12} {'hb/return (95% CI)':<26} {'bar':>6}  at bar  steps")
    for skill in skills:
        try:
            result = play_clip(skill, episodes=args.episodes, clip=args.clip)
        except (KeyError, ValueError) as error:
            return _fail(str(error))
        mean, low, high = result.mean_ci95
        interval = f"({low:7.1f}-{high:7.1f})" if len(result.episode_returns) > 1 else " " * 17
        lengths = ",".join(str(n) for n in result.episode_lengths)
        print(f"  {skill:<8} {Path(result.clip).stem:<12} {mean:7.1f} {interval}    "
              f"{result.success_bar:6.0f}  {result.successes}/{len(result.episode_returns)}    {lengths}")
    print("above the bar: a residual policy around the clip suffices (imitation.reference_feedforward); "
          "far below: RL has to find the motion, or the clip needs fixing")
    return 0
