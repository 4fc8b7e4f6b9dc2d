"""Built-in offline motion library: ``builtin_clip(skill)`` → an H1 :class:`MotionClip` for each skill.

!!! THESE CLIPS ARE SYNTHETIC !!!  No person was recorded. Each clip is a *human* keypoint trajectory generated
from published normative biomechanics (:mod:`mwx_ray.motion.synthetic`), passed through the same retargeting
operator M as real mocap (:func:`mwx_ray.motion.retarget.retarget_motion`). Every clip's provenance says
``"synthetic": true`` and carries a ``"notice"`` in capital letters; use real mocap (``mwx motion retarget``)
where realism matters.

=============  =====================  ======================================================================
skill          generator parameters   why
=============  =====================  ======================================================================
``stand``      one 4 s sway cycle     HumanoidBench stand
``walk``       1.1 m/s, one cycle     × root scale 0.93 ≈ 1.0 m/s on H1 = HumanoidBench's walk speed
``run``        3.5 m/s, one cycle     ≈ 3.3 m/s on H1; the generator's realistic limit is 4 m/s (HB asks 5)
``sit``        stand → sit, hold      HumanoidBench sit_simple (not cyclic: the last frame is held)
``crawl``      0.8 m/s, one cycle     hands and knees (HumanoidBench crawl asks ≥ 1 m/s in a 1.15 m tunnel)
``reach_left`` left hand to a point   reach prior (not cyclic)
``squat``      one 3 s cycle          extra skill for composite tasks
=============  =====================  ======================================================================

All at 50 Hz (HumanoidBench's control rate). Cyclic clips hold exactly one cycle and loop seamlessly in the
alignment operator (``provenance["cyclic"]``, ``["cycle_root_displacement_m"]``).

Cache: ``$MWX_MOTION_CACHE`` or ``$XDG_CACHE_HOME/mwx_ray/motion`` (default ``~/.cache/mwx_ray/motion``), one
``<skill>-<key>.npz`` per clip, written atomically. The key hashes the generator parameters, the retarget settings
and the source code of the generator, the retargeting operator and the H1 model, so any change regenerates the clip.
Clips are also memoised in-process. An unwritable cache directory only costs regeneration (a warning is issued).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

from mwx_ray.motion import retarget as retarget_module
from mwx_ray.motion import retarget_scale
from mwx_ray.motion.clip import FORMAT_VERSION, MotionClip
from mwx_ray.motion.errors import MotionError
from mwx_ray.motion.retarget import RETARGET_VERSION, RetargetSettings, retarget_motion
from mwx_ray.motion.synthetic import generate_synthetic
from mwx_ray.robots import h1 as h1_module

LIBRARY_FPS_HZ = 50.0
CACHE_ENV_VAR = "MWX_MOTION_CACHE"
BUILTIN_SKILLS: dict[str, dict[str, Any]] = {
    "stand": {"n_cycles": 1},
    "walk": {"speed_mps": 1.1, "n_cycles": 1},
    "run": {"speed_mps": 3.5, "n_cycles": 1},
    "sit": {},
    "crawl": {"speed_mps": 0.8, "n_cycles": 1},
    "reach_left": {},
    "squat": {"n_cycles": 1},
}
SYNTHETIC_NOTICE = "SYNTHETIC MOTION: generated from normative biomechanics, NOT motion capture of a person"
_MEMORY: dict[str, MotionClip] = {}


def builtin_skill_names() -> list[str]:
    return sorted(BUILTIN_SKILLS)


def motion_cache_dir() -> Path:
    """``$MWX_MOTION_CACHE``, else ``$XDG_CACHE_HOME/mwx_ray/motion``, else ``~/.cache/mwx_ray/motion``."""
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "mwx_ray" / "motion"


def _source_fingerprint() -> str:
    """Hash of the source files whose behaviour defines a library clip (generator, operator M, H1 model)."""
    import mwx_ray.motion.synthetic as synthetic_package

    digest = hashlib.sha256()
    files = sorted(Path(synthetic_package.__file__).parent.glob("*.py"))
    files += [Path(m.__file__) for m in (retarget_module, retarget_scale, h1_module)]  # pyright: ignore[reportArgumentType] - these modules are files: __file__ is set
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_key(skill: str, settings: RetargetSettings) -> str:
    """16 hex digits identifying (skill, generator parameters, retarget settings, code versions)."""
    payload = {
        "skill": skill,
        "generator": "mwx_ray.motion.synthetic",
        "params": BUILTIN_SKILLS[skill],
        "fps": LIBRARY_FPS_HZ,
        "retarget": settings.as_dict(),
        "retarget_version": RETARGET_VERSION,
        "format_version": FORMAT_VERSION,
        "source": _source_fingerprint(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def builtin_clip_path(skill: str, settings: RetargetSettings | None = None) -> Path:
    """Where the cached clip of ``skill`` lives (it may not exist yet)."""
    _check_skill(skill)
    return motion_cache_dir() / f"{skill}-{cache_key(skill, settings or RetargetSettings())}.npz"


def _check_skill(skill: str) -> None:
    if skill not in BUILTIN_SKILLS:
        raise MotionError(f"unknown built-in motion {skill!r}; valid skills: {builtin_skill_names()}")


def builtin_clip(skill: str, settings: RetargetSettings | None = None, refresh: bool = False) -> MotionClip:
    """The H1 reference clip of a built-in skill (synthetic human motion → operator M), cached on disk.

    Args:
        skill: one of :data:`BUILTIN_SKILLS` (the error lists them).
        settings: retarget settings (default :class:`RetargetSettings`); part of the cache key.
        refresh: regenerate even if a cached file exists.
    """
    _check_skill(skill)
    settings = settings or RetargetSettings()
    path = builtin_clip_path(skill, settings)
    memo_key = str(path)
    if not refresh and memo_key in _MEMORY:
        return _MEMORY[memo_key]
    clip = None
    if not refresh and path.exists():
        try:
            clip = MotionClip.load(path)
        except (MotionError, OSError, ValueError) as err:
            warnings.warn(f"ignoring unreadable cached motion {path}: {err}", stacklevel=2)
    if clip is None:
        clip = _generate(skill, settings, path.stem.split("-")[-1])
        try:
            clip.save(path)
        except OSError as err:
            warnings.warn(f"could not cache built-in motion at {path} ({err}); it will be regenerated next time "
                          f"(set {CACHE_ENV_VAR} to a writable folder)", stacklevel=2)
    _MEMORY[memo_key] = clip
    return clip


def _generate(skill: str, settings: RetargetSettings, key: str) -> MotionClip:
    human = generate_synthetic(skill, fps=LIBRARY_FPS_HZ, **BUILTIN_SKILLS[skill])
    clip = retarget_motion(human, settings)
    provenance = dict(clip.provenance)
    provenance.update(
        synthetic=True,
        notice=SYNTHETIC_NOTICE,
        library={"skill": skill, "cache_key": key, "generator_params": BUILTIN_SKILLS[skill]},
    )
    provenance.setdefault("cyclic", False)
    return replace(clip, name=f"builtin/{skill}", provenance=provenance).validate()
