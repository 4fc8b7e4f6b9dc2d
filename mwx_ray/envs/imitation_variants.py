"""Imitation variants of the HumanoidBench skill tasks (env ids ``mwx/h1-<task>_imitation-v0``).

Each variant = the plain task (same scene, termination, episode length, success bar; ``info["hb/return"]`` is the
plain HumanoidBench return) + tracking of a built-in reference clip (:mod:`mwx_ray.motion.library`, synthetic
human motion retargeted to H1). Options (``make_env(id, task_kwargs={...})`` / config ``env.options``) are the
fields of :class:`~mwx_ray.envs.imitation.ImitationSettings`, e.g. ``{"imitation": False}``,
``{"static_weights": True}``, ``{"w_track": 0.8, "w_task": 0.2, "alpha": 2.0, "beta": 0.1}``, ``{"clip": "x.npz"}``.

=====================  ===============  ==========================================================
task                   reference clip   note
=====================  ===============  ==========================================================
``stand_imitation``    ``stand``        quiet stance with sway
``walk_imitation``     ``walk``         ≈ 1.0 m/s on H1 (HumanoidBench's target speed)
``run_imitation``      ``run``          ≈ 3.3 m/s on H1 (the task rewards up to 5 m/s)
``sit_simple_imitation`` ``sit``        stand → sit, then hold the seated pose
``crawl_imitation``    ``crawl``        starts on hands and knees; the robot starts standing
``reach_imitation``    ``reach_left``   a fixed left-hand reach: a posture prior, not the random goal
=====================  ===============  ==========================================================
"""

from __future__ import annotations

from mwx_ray.envs.imitation import ImitationTask
from mwx_ray.envs.task import Task
from mwx_ray.envs.tasks.crawl import CrawlTask
from mwx_ray.envs.tasks.locomotion import RunTask, StandTask, WalkTask
from mwx_ray.envs.tasks.reach import ReachTask
from mwx_ray.envs.tasks.sit import SitSimpleTask


def imitation_variant(base: type[Task], clip_skill: str) -> type[ImitationTask]:
    """An :class:`ImitationTask` subclass named ``<base.name>_imitation`` with the base task's class constants."""
    class_name = "".join(part.title() for part in base.name.split("_")) + "ImitationTask"
    return type(class_name, (ImitationTask,), {
        "__module__": __name__,
        "__doc__": f"HumanoidBench ``{base.name}`` + tracking of the built-in ``{clip_skill}`` clip.",
        "name": f"{base.name}_imitation",
        "description": f"{base.description.rstrip('.')}, imitating a reference {clip_skill.replace('_', ' ')} motion.",
        "episode_steps": base.episode_steps,
        "success_bar": base.success_bar,
        "extra_obs_dim": base.extra_obs_dim,  # phase features are off by default (ImitationSettings.phase_obs)
        "base_task_cls": base,
        "default_clip": clip_skill,
    })


StandImitationTask = imitation_variant(StandTask, "stand")
WalkImitationTask = imitation_variant(WalkTask, "walk")
RunImitationTask = imitation_variant(RunTask, "run")
SitSimpleImitationTask = imitation_variant(SitSimpleTask, "sit")
CrawlImitationTask = imitation_variant(CrawlTask, "crawl")
ReachImitationTask = imitation_variant(ReachTask, "reach_left")

IMITATION_TASKS: tuple[type[ImitationTask], ...] = (
    StandImitationTask,
    WalkImitationTask,
    RunImitationTask,
    SitSimpleImitationTask,
    CrawlImitationTask,
    ReachImitationTask,
)
