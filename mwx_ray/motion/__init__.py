"""Motion priors, first half: the H1 ``MotionClip`` format, human keypoint loaders and synthetic human motion.

* :mod:`.clip` — ``MotionClip`` (H1 joint-space reference, versioned ``.npz``) and ``MotionError``;
* :mod:`.human_motion` — ``HumanMotion`` (human keypoints [T, J, 3], m, z up);
* :mod:`.skeleton` — canonical keypoints, name maps (BVH/CMU/LAFAN1, SMPL/AMASS), Y-up → Z-up, units;
* :mod:`.loaders` — motion-source registry (``bvh``, ``keypoints``, ``h1_csv``, ``holosoma``, ``clip``,
  ``synthetic``) behind ``load_motion(source, spec, **options)``;
* :mod:`.synthetic` — human-like keypoint trajectories from normative biomechanics.

Pure core: imports neither ``ray`` nor ``transformers``.
"""

from mwx_ray.motion.clip import FORMAT_VERSION, H1_JOINT_NAMES, H1_JOINT_RANGES_RAD, MotionClip
from mwx_ray.motion.errors import MotionError
from mwx_ray.motion.human_motion import HumanMotion
from mwx_ray.motion.loaders import get_motion_source, load_motion, motion_source_names, register_motion_source
from mwx_ray.motion.skeleton import CANONICAL_KEYPOINTS
from mwx_ray.motion.synthetic import generate_synthetic, synthetic_skill_names

__all__ = [
    "CANONICAL_KEYPOINTS",
    "FORMAT_VERSION",
    "H1_JOINT_NAMES",
    "H1_JOINT_RANGES_RAD",
    "HumanMotion",
    "MotionClip",
    "MotionError",
    "generate_synthetic",
    "get_motion_source",
    "load_motion",
    "motion_source_names",
    "register_motion_source",
    "synthetic_skill_names",
]
