"""Composite multi-stage tasks on flat ground (see ``mwx_ray.envs.composite`` for the mechanics).

Distances are chosen so that each stage takes a few seconds at the skill's speed and a 1000-step (20 s)
episode leaves time for every stage: walking 3 m at 1 m/s takes 3 s, running 10 m at 5 m/s takes 2 s.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

from mwx_ray.envs.composite import CompositeTask
from mwx_ray.envs.context import StepContext
from mwx_ray.envs.props import add_chair, add_goal_marker, add_tunnel
from mwx_ray.envs.skill_stages import CrawlThrough, ReachWithLeftHand, SitOnChair, StandUp
from mwx_ray.envs.stages import StandStill, TurnAround, WalkTo, run_forward, walk_forward
from mwx_ray.rewards.heading import turn_to_spot_extras, yaw_of
from mwx_ray.robots.spec import RobotSpec

# walk_to_chair_sit's stop: at rest for 0.5 s (25 control steps at 50 Hz), as the turn stage's own hold.
STOP_HOLD_STEPS = 25


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
    """Stages are paced (``stages.WALK_PACE_MPS`` / ``RUN_PACE_MPS``): each completes at the distance only if it
    was covered at its gait's mean speed, so a walker alone or a runner alone cannot complete the task."""

    name = "walk_run_walk"
    description = "Walk forward, then break into a run, then slow down and walk again."
    episode_steps = 1000

    def make_stages(self):
        return (
            walk_forward("walk_start", until_x_m=3.0, paced=True),
            run_forward("run", until_x_m=13.0, paced=True),
            walk_forward("walk_end", until_x_m=18.0, paced=True),
        )


class WalkToChairSit(CompositeTask):
    """The chair faces the approaching robot (yaw π), so sitting means turning round first: HumanoidBench's
    sit_hard randomises the start yaw within ±1.8 rad for the same reason.

    The robot walks up to the chair, stops, turns round onto the spot from which the sit expert sits down
    (``sit_offset_m`` in front of the seat centre) and sits. The stop is a stage of its own (the ``stand`` skill):
    turning round while braking from walking pace fell or ended metres off; the turn stage is ``turn_to_spot``'s,
    since the robot stops within ±0.15 m of where it was meant to and the sit expert needs its spot to 0.1 m
    (docs/results.md, "walk_to_chair_sit"). Observation extras: ``turn_to_spot``'s (which way to face, where the
    spot is: 4; so a ``turn_around`` expert, which observes 2, is refused by the layout check), then the sit
    expert's clock (it plays its clip with a residual: steps since the sit stage began, ``clock_skills``).
    """

    name = "walk_to_chair_sit"
    description = "Walk to the chair in front of you, stop, turn around and sit down on it."
    episode_steps = 1000
    chair_xy_m = (2.6, 0.0)
    # Measured: zoo:sit, placed facing away from this chair, sat in 5/5 episodes from 0.25 to 0.7 m in front of the
    # seat centre (3/5 from 0.8 m, 4/5 from 0.15 m), and from 0.5 m also 0.1 m beside it (10/10): the middle.
    sit_offset_m = 0.5
    # Measured with the oracle schedule: zoo:walk arrives at 1.2-1.9 m/s and zoo:standrest brings it to rest
    # 0.6-0.9 m (mean ~0.68 m) after the walk stage ends, so the walk stage ends that much before the sit spot.
    stopping_distance_m = 0.68
    walk_radius_m = 0.2
    clock_skills = ("sit",)
    extra_obs_dim = 5
    facing_away_yaw_rad = math.pi  # the chair faces the approaching robot: sitting faces back along −x

    def build(self, spec: mujoco.MjSpec, robot: RobotSpec) -> None:
        add_chair(spec, pos_xy=self.chair_xy_m, yaw=math.pi)  # body "chair", read by the sit stage

    @property
    def sit_spot_xy(self) -> np.ndarray:
        return np.array((self.chair_xy_m[0] - self.sit_offset_m, self.chair_xy_m[1]))

    def make_stages(self):
        chair_x, chair_y = self.chair_xy_m
        # WalkTo completes walk_radius_m short of its goal: there the stop begins.
        walk_goal_x = chair_x - self.sit_offset_m - self.stopping_distance_m + self.walk_radius_m
        return (
            WalkTo("walk_to_chair", goal_xy_m=(walk_goal_x, chair_y), radius_m=self.walk_radius_m,
                   description="Walk up to the chair."),
            StandStill("stop", hold_steps=STOP_HOLD_STEPS, description="Stop in front of the chair."),
            TurnAround("turn_around", goal_yaw_rad=self.facing_away_yaw_rad, spot_xy_m=tuple(self.sit_spot_xy),
                       description="Turn around to face away from the chair, standing just in front of it."),
            SitOnChair("sit", chair_body="chair"),
        )

    def bind(self, ctx: StepContext) -> None:
        super().bind(ctx)
        self._obs = np.zeros(self.extra_obs_dim)
        self._spot = self.sit_spot_xy

    def extra_obs(self, ctx: StepContext) -> np.ndarray:
        """Which way to face and where the sit spot is (as ``turn_to_spot``), then the sit clock, [5]."""
        turn_to_spot_extras(yaw_of(ctx.root_quat), self.facing_away_yaw_rad, ctx.root_pos[:2], self._spot,
                            out=self._obs[0:4])
        self._obs[4:] = super().extra_obs(ctx)
        return self._obs


class WalkReach(CompositeTask):
    """Observation extras match the single-skill reach task (left-hand position, goal; 57 in all), so a reach
    expert sees exactly its own layout."""

    name = "walk_reach"
    description = "Walk to the red sphere ahead of you and touch it with your left hand."
    episode_steps = 1000
    extra_obs_dim = 6
    goal_m = (2.5, 0.3, 1.1)

    def build(self, spec: mujoco.MjSpec, robot: RobotSpec) -> None:
        add_goal_marker(spec, pos=self.goal_m)  # mocap body "goal", moved by the reach stage

    def make_stages(self):
        return (
            WalkTo("walk_to_target", goal_xy_m=(self.goal_m[0] - 0.45, self.goal_m[1] - 0.2), radius_m=0.3,
                   description="Walk up to the red sphere."),
            ReachWithLeftHand("reach", marker_body="goal", goal_m=self.goal_m),
        )

    def bind(self, ctx: StepContext) -> None:
        super().bind(ctx)
        self._hand_pos = ctx.data.site_xpos[ctx.site_id("left_hand")]
        self._obs = np.zeros(self.extra_obs_dim)

    def extra_obs(self, ctx: StepContext) -> np.ndarray:
        """Left-hand site position then goal, world frame, m, [6] (as in the reach task)."""
        self._obs[0:3] = self._hand_pos
        self._obs[3:6] = self.goal_m
        return self._obs


class CrawlStandWalk(CompositeTask):
    """HumanoidBench's tunnel, shortened to 4 m, starts 1 m ahead; the robot must get down to pass under it."""

    name = "crawl_stand_walk"
    description = "Crawl through the low tunnel ahead, stand up on the other side, then walk forward."
    episode_steps = 1500
    tunnel_start_x_m = 1.0
    tunnel_length_m = 4.0

    def build(self, spec: mujoco.MjSpec, robot: RobotSpec) -> None:
        add_tunnel(spec, start_x=self.tunnel_start_x_m, length=self.tunnel_length_m)

    def make_stages(self):
        exit_x = self.tunnel_start_x_m + self.tunnel_length_m + 0.5  # pelvis clear of the ceiling
        return (
            CrawlThrough("crawl", exit_x_m=exit_x),
            StandUp("stand_up"),
            walk_forward("walk", until_x_m=exit_x + 3.0),
        )
