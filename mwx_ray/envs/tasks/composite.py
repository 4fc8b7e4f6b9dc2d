"""Composite multi-stage tasks on flat ground (see ``mwx_ray.envs.composite`` for the mechanics).

Distances are chosen so that each stage takes a few seconds at the skill's speed and a 1000-step (20 s)
episode leaves time for every stage: walking 3 m at 1 m/s takes 3 s, running 10 m at 5 m/s takes 2 s.
"""

from __future__ import annotations

from mwx_ray.envs.composite import CompositeTask
from mwx_ray.envs.stages import StandStill, run_forward, walk_forward


class StandWalkStand(CompositeTask):
    name = "stand_walk_stand"
    description = "Stand still for a moment, then walk forward about three metres, then stop and stand still."
    episode_steps = 1000

    def make_stages(self):
        return (
            StandStill("stand_start", hold_steps=50),
            walk_forward("walk", until_x_m=3.0),
            StandStill("stand_end", hold_steps=100, description="Stop walking and stand still."),
        )


class WalkRunWalk(CompositeTask):
    name = "walk_run_walk"
    description = "Walk forward, then break into a run, then slow down and walk again."
    episode_steps = 1000

    def make_stages(self):
        return (
            walk_forward("walk_start", until_x_m=3.0),
            run_forward("run", until_x_m=13.0),
            walk_forward("walk_end", until_x_m=18.0),
        )
