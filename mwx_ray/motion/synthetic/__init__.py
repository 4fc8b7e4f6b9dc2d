"""Synthetic human-like motion from published normative kinematics: ``generate_synthetic(skill, ...)``.

Skills (registry ``SYNTHETIC_SKILLS``): ``stand``, ``walk`` (default 1 m/s), ``run`` (default 3 m/s), ``sit``
(down on a chair), ``crawl`` (hands and knees), ``reach_left`` (left hand to a point), ``squat``.
Each returns a :class:`~mwx_ray.motion.human_motion.HumanMotion` with the 19 canonical keypoints ([T, 19, 3],
metres, z up, x forward) and provenance ``{"synthetic": true, "skill", "params", "cyclic", "period_s", ...}``.
Cyclic skills (stand, walk, run, crawl, squat) hold whole cycles and loop seamlessly: frame ``k + frames_per_cycle``
is frame ``k`` shifted by ``cycle_root_displacement_m``.

Determinism: the output is a pure function of the arguments. ``variability`` > 0 draws, from
``numpy.random.default_rng(seed)``, a body height (σ = 4 % × variability, about the adult spread) and, for
cyclic skills, the starting frame within the cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mwx_ray.motion.clip import check_fps
from mwx_ray.motion.errors import MotionError
from mwx_ray.motion.human_motion import HumanMotion
from mwx_ray.motion.skeleton import CANONICAL_KEYPOINTS
from mwx_ray.motion.synthetic.body import Body
from mwx_ray.motion.synthetic.crawl import crawl
from mwx_ray.motion.synthetic.locomotion import run, stand, walk
from mwx_ray.motion.synthetic.postures import reach_left, sit, squat

SkillFn = Callable[..., tuple[np.ndarray, dict[str, Any]]]
SYNTHETIC_SKILLS: dict[str, SkillFn] = {
    "stand": stand,
    "walk": walk,
    "run": run,
    "sit": sit,
    "crawl": crawl,
    "reach_left": reach_left,
    "squat": squat,
}
CYCLIC_SKILLS = frozenset({"stand", "walk", "run", "crawl", "squat"})
SOURCES = (
    "D. A. Winter, Biomechanics and Motor Control of Human Movement (2009) - segment lengths",
    "D. A. Winter, The Biomechanics and Motor Control of Human Gait (1991); J. Perry, Gait Analysis (1992) - walking",
    "T. F. Novacheck, Gait & Posture 7:77 (1998) - running",
    "D. W. Grieve (1968) / A. D. Kuo, J. Biomech. Eng. 123:264 (2001) - step length vs speed",
    "P. R. Cavanagh & R. Kram, Med. Sci. Sports Exerc. 21:467 (1989) - running step frequency",
    "T. Flash & N. Hogan, J. Neurosci. 5:1688 (1985) - minimum-jerk movements",
)


def synthetic_skill_names() -> list[str]:
    return sorted(SYNTHETIC_SKILLS)


def generate_synthetic(
    skill: str,
    fps: float = 50.0,
    height_m: float = 1.75,
    seed: int = 0,
    variability: float = 0.0,
    **skill_params: Any,
) -> HumanMotion:
    """Generate one synthetic skill clip.

    Args:
        skill: a name in ``SYNTHETIC_SKILLS`` (the error lists them).
        fps: output frame rate, Hz (50 = HumanoidBench control rate).
        height_m: standing height of the simulated person, m.
        seed, variability: see the module docstring (``variability=0`` → no randomness).
        **skill_params: forwarded to the skill, e.g. ``speed_mps=1.2``, ``n_cycles=3``, ``target_m=(x, y, z)``.
    """
    if skill not in SYNTHETIC_SKILLS:
        raise MotionError(f"unknown synthetic skill {skill!r}; valid skills: {synthetic_skill_names()}")
    check_fps(float(fps), f"synthetic {skill}")
    if not 1.0 <= height_m <= 2.5:
        raise MotionError(f"synthetic {skill}: height_m {height_m} is outside the adult range [1.0, 2.5] m")
    rng = np.random.default_rng(seed)
    jitter = rng.standard_normal(2)
    height = float(height_m * (1.0 + 0.04 * variability * jitter[0]))
    if variability > 0 and skill in CYCLIC_SKILLS:
        skill_params.setdefault("start_frame", int(abs(jitter[1]) * 1000))
    try:
        keypoints, meta = SYNTHETIC_SKILLS[skill](Body.from_height(height), float(fps), **skill_params)
    except TypeError as err:
        raise MotionError(f"synthetic {skill}: bad parameters {sorted(skill_params)}: {err}") from err
    params = {"fps": float(fps), "height_m": height_m, "seed": seed, "variability": variability}
    params.update({k: (list(v) if isinstance(v, tuple) else v) for k, v in skill_params.items()})
    provenance = {
        "synthetic": True,
        "generator": "mwx_ray.motion.synthetic",
        "skill": skill,
        "params": params,
        "body": Body.from_height(height).as_dict(),
        "license_note": "generated from published normative values; no third-party motion data",
        "sources": list(SOURCES),
        **meta,
    }
    return HumanMotion(
        name=f"synthetic/{skill}",
        fps=float(fps),
        keypoints=keypoints,
        keypoint_names=CANONICAL_KEYPOINTS,
        source="synthetic",
        skill_tags=(skill,),
        provenance=provenance,
    ).validate()


__all__ = ["CYCLIC_SKILLS", "SYNTHETIC_SKILLS", "Body", "generate_synthetic", "synthetic_skill_names"]
