"""Imitation variants of skill tasks (env ids ``mwx/h1-<task>_imitation-v0``), made by the skill registry.

Each variant = the plain task (same scene, termination, episode length, success bar; ``info["hb/return"]`` is the
plain HumanoidBench return) + tracking of the skill's reference clip (:class:`~mwx_ray.envs.imitation.ImitationTask`).
Its settings are ``env.task.imitation`` (``mwx_ray/config/task_schema.py``), e.g. ``{"enabled": false}``,
``{"dynamic_weights": {"enabled": false}}``, ``{"w_track": 0.8, "w_task": 0.2}``, and ``env.task.clip`` replaces
the clip.
"""

from __future__ import annotations

from mwx_ray.envs.imitation import ImitationTask
from mwx_ray.envs.task import Task


def imitation_variant(base: type[Task], clip: str, cyclic: bool) -> type[ImitationTask]:
    """An :class:`ImitationTask` subclass named ``<base.name>_imitation`` with the base task's class constants."""
    class_name = "".join(part.title() for part in base.name.split("_")) + "ImitationTask"
    motion = clip.replace("_", " ") if not clip.endswith(".npz") else "reference"
    return type(class_name, (ImitationTask,), {
        "__module__": __name__,
        "__doc__": f"HumanoidBench ``{base.name}`` + tracking of the ``{clip}`` clip.",
        "name": f"{base.name}_imitation",
        "description": f"{base.description.rstrip('.')}, imitating a reference {motion} motion.",
        "episode_steps": base.episode_steps,
        "success_bar": base.success_bar,
        "extra_obs_dim": base.extra_obs_dim,  # + 2 with imitation.phase_clock (the instance says)
        "base_task_cls": base,
        "default_clip": clip,
        "default_cyclic": cyclic,
    })
