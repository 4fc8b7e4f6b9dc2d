"""Motion priors, first half: the H1 ``MotionClip`` format, human keypoint loaders and synthetic human motion.

* :mod:`.clip` — ``MotionClip`` (H1 joint-space reference, versioned ``.npz``) and ``MotionError``;
* :mod:`.human_motion` — ``HumanMotion`` (human keypoints [T, J, 3], m, z up);
* :mod:`.skeleton` — canonical keypoints, name maps (BVH/CMU/LAFAN1, SMPL/AMASS), Y-up → Z-up, units;
* :mod:`.loaders` — motion-source registry (``bvh``, ``keypoints``, ``h1_csv``, ``holosoma``, ``clip``,
  ``synthetic``) behind ``load_motion(source, spec, **options)``;
* :mod:`.synthetic` — human-like keypoint trajectories from normative biomechanics;
* operator M for real mocap (:mod:`.mocap_retarget`, used by ``mwx motion retarget``): joint-name
  :mod:`.conventions` and joint maps, :mod:`.units`, frame :mod:`.selection` (range, rest frames, loops),
  robust trunk :mod:`.frames`, ground :mod:`.contacts`, the IK terms of :mod:`.mocap_ik`, :mod:`.quality`
  figures, source-file :mod:`.provenance`; :mod:`.rigs` / :mod:`.bvh_writer` write BVH files with the LAFAN1,
  CMU and Mixamo layouts (test and benchmark data). The built-in library keeps the first operator
  (:mod:`.retarget`), so its cached clips do not change.

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
