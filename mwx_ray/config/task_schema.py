"""Schema of ``env.task``: which task an env runs and every task, reward and imitation setting it reads.

The one source of these defaults. A task section travels as plain data through RLlib's ``env_config`` to every
env runner, the evaluation, the router env and the rollouts (``mwx_ray.envs.registry.make_env(id, task=...)``),
so any field is also a Tune search-space axis (``experts.search_space: {task.imitation.w_track: {...}}``).

In YAML ``env.task: walk`` is shorthand for ``env.task: {name: walk}`` (``TASK_SHORTHAND``).

Where the imitation defaults come from:
- ``w_track``/``w_task`` 0.7 / 0.3 and the pose/velocity mix 0.7 / 0.3: the MetaWorld-X authors' code
  (per skill 0.6–0.8 / 0.2–0.4).
- kernel scales ``alpha`` 0.5 /rad², ``beta`` 0.05 s²/rad²: ours, sized for H1's 19 hinges
  (``mwx_ray/rewards/imitation.py`` explains the choice against DeepMimic's).
- dynamic joint weights (τ 2 s, ε 1e-3 rad², p 0.5, clip [0.25, 4]): ours, formula in ``rewards/imitation.py``.
- reference state initialization, tracking termination and failure-weighted starts follow DeepMimic
  (Peng et al., SIGGRAPH 2018, sections 5–6); the bounds are ours, stated per field.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from mwx_ray.config.typed import setting, to_plain

TASK_SHORTHAND = "name"  # `env.task: walk` == `env.task: {name: walk}`


@dataclass
class DynamicWeightsSection:
    """Per-joint tracking weights that grow with each joint's tracking error (rewards/imitation.py)."""

    enabled: bool = setting(True, help="false = every joint weighs 1 (ablation 'without dynamic weights')")
    ema_time_constant_s: float = setting(2.0, gt=0, help="time constant of the squared-error EMA, s")
    epsilon_rad2: float = setting(1e-3, gt=0, help="errors below ~sqrt(ε) count as tracked, rad²")
    power: float = setting(0.5, ge=0, help="w ∝ (EMA + ε)^power before normalisation to mean 1")
    min: float = setting(0.25, gt=0, le=1, help="lowest weight after normalisation")
    max: float = setting(4.0, ge=1, help="highest weight after normalisation")
    refresh_steps: int = setting(10, ge=1, help="control steps between weight recomputations")


@dataclass
class StartPerturbationSection:
    """Training starts that are already in motion (HumanoidBench-reset episodes only; training only).

    A hand-over between experts starts the next expert in whatever state the previous one left: drifting, still
    stepping, carrying speed. With probability ``probability`` a keyframe reset gets a random pelvis velocity
    (uniform in ±``root_velocity_mps`` per horizontal axis, world frame) and joint velocities (±``joint_velocity_rad_s``),
    so the expert learns to take over from such states.
    """

    probability: float = setting(0.0, ge=0, le=1, help="share of keyframe resets that start in motion (0 = off)")
    root_velocity_mps: float = setting(0.5, ge=0, help="max |pelvis velocity| per horizontal axis, m/s")
    joint_velocity_rad_s: float = setting(0.5, ge=0, help="max |joint velocity|, rad/s")


@dataclass
class ReferenceStateInitSection:
    """Reference state initialization (RSI): training episodes start inside the clip, in its pose and velocity.

    With probability ``probability`` a reset places the robot at the reference of the drawn start phase (root
    height and orientation, joint angles, joint and root velocities), plus uniform noise, lifted so that no
    geom penetrates the floor; otherwise the robot starts from HumanoidBench's keyframe reset. Keyframe starts
    matter: they are the state every evaluation and every composite task begins from.
    """

    probability: float = setting(0.0, ge=0, le=1, help="share of resets that start in the reference state "
                                                       "(0 = off, HumanoidBench's reset only)")
    joint_pos_noise_rad: float = setting(0.05, ge=0, help="uniform ± noise on every joint angle, rad")
    joint_vel_noise_rad_s: float = setting(0.2, ge=0, help="uniform ± noise on every joint velocity, rad/s")


@dataclass
class TrackingTerminationSection:
    """End a training episode early when the robot has lost the reference (DeepMimic's early termination).

    A bound of ``null`` is not checked. Evaluation always uses the plain task's termination, so ``hb/return``
    is unaffected.
    """

    enabled: bool = setting(False)
    root_height_m: float | None = setting(0.25, gt=0, help="max |pelvis z − reference z|, m")
    root_orientation_rad: float | None = setting(0.8, gt=0, help="max geodesic angle to the reference pelvis "
                                                                 "orientation (yaw-aligned), rad")
    end_effector_m: float | None = setting(None, gt=0, help="max mean distance of hands/feet to the reference, "
                                                            "pelvis frame, m")
    grace_steps: int = setting(10, ge=0, help="control steps after reset before the check starts (a keyframe "
                                              "start needs a moment to reach the reference)")


@dataclass
class FailureWeightedStartsSection:
    """Draw start phases more often where episodes fail (per-env failure statistics over phase bins)."""

    enabled: bool = setting(False)
    bins: int = setting(10, ge=2, help="phase bins over the clip")
    mix: float = setting(0.5, ge=0, le=1, help="share of draws proportional to failure rate (rest uniform)")
    rate: float = setting(0.05, gt=0, le=1, help="EMA update per finished episode of its start bin's failure rate")


@dataclass
class ImitationSection:
    """Settings of the imitation variants (``<skill>_imitation``): tracking reward, reference, training tricks."""

    enabled: bool = setting(True, help="false = env reward is the plain task reward (ablation 'without "
                                       "imitation'); tracking terms are still logged")
    w_track: float = setting(0.7, ge=0, help="weight of the tracking reward")
    w_task: float = setting(0.3, ge=0, help="weight of the plain HumanoidBench task reward")
    alpha: float = setting(0.5, gt=0, help="pose kernel scale, 1/rad²")
    beta: float = setting(0.05, gt=0, help="joint-velocity kernel scale, s²/rad²")
    pose_coef: float = setting(0.7, ge=0, help="share of the pose kernel in the tracking reward")
    vel_coef: float = setting(0.3, ge=0, help="share of the joint-velocity kernel")
    root_height_coef: float = setting(0.0, ge=0, help="share of the pelvis-height kernel")
    root_orientation_coef: float = setting(0.0, ge=0, help="share of the pelvis-orientation kernel")
    end_effector_coef: float = setting(0.0, ge=0, help="share of the hands/feet position kernel")
    dynamic_weights: DynamicWeightsSection = setting(factory=DynamicWeightsSection)
    random_start_phase: bool = setting(True, help="start the reference at a random phase (cyclic clips)")
    noncyclic_max_start_fraction: float = setting(0.0, ge=0, le=1, help="non-cyclic clips start within this "
                                                                        "fraction of the clip")
    velocity_window_s: float = setting(0.1, gt=0, help="Savitzky-Golay window of reference velocities, s")
    phase_clock: bool = setting(False, help="the expert observes the clip's phase (sin, cos), counted from the "
                                            "episode's start frame; the router's expert pool cannot run such "
                                            "experts (it has no per-expert clock)")
    reference_feedforward: bool = setting(False, help="the policy acts around the reference: executed joint "
                                                      "targets = reference pose of the next control step + "
                                                      "residual_scale × action (a residual policy on the clip; "
                                                      "needs phase_clock)")
    residual_scale: float = setting(0.5, gt=0, le=2, help="range of the residual action around the reference, "
                                                           "in normalized action units (1 = half a joint's range)")
    reference_state_init: ReferenceStateInitSection = setting(factory=ReferenceStateInitSection)
    start_perturbation: StartPerturbationSection = setting(factory=StartPerturbationSection)
    tracking_termination: TrackingTerminationSection = setting(factory=TrackingTerminationSection)
    failure_weighted_starts: FailureWeightedStartsSection = setting(factory=FailureWeightedStartsSection)

    def field_problems(self) -> dict[str, str]:
        coefficients = (self.pose_coef, self.vel_coef, self.root_height_coef, self.root_orientation_coef,
                        self.end_effector_coef)
        if sum(coefficients) <= 0:
            return {"pose_coef": "the tracking mix needs at least one positive coefficient"}
        if self.enabled and self.w_track + self.w_task <= 0:
            return {"w_track": "w_track + w_task must be positive when imitation is enabled"}
        if self.reference_feedforward and not self.phase_clock:
            return {"reference_feedforward": "needs phase_clock: true (the policy must know where in the clip "
                                             "its feedforward is)"}
        return {}


@dataclass
class ObservationSection:
    """What the policy observes beyond HumanoidBench's ``concat(qpos, qvel)``-based observation."""

    exclude_root_xy: bool = setting(False, help="drop the pelvis x, y position (gymnasium MuJoCo's "
                                                "exclude_current_positions_from_observation): a walker then "
                                                "never meets positions it has not trained on")
    heading_frame: bool = setting(False, help="observe the pelvis pose and velocity in the robot's own heading "
                                              "frame (x, y zeroed, yaw removed: envs/heading_frame.py), so the "
                                              "observation does not change when the robot turns")

    def field_problems(self) -> dict[str, str]:
        if self.heading_frame and self.exclude_root_xy:
            return {"heading_frame": "the heading frame zeroes the pelvis x, y; not with exclude_root_xy"}
        return {}


@dataclass
class HurdleSection:
    discount_hurdle_contact: bool = setting(False, help="also discount contacts with the hurdles (HumanoidBench "
                                                        "discounts wall contacts only)")


def span_problem(key: str, span: Sequence[float] | None, minimum: float | None = None) -> dict[str, str]:
    """The ``field_problems`` entry of a ``[min, max]`` range setting: null, or two values with min <= max (and
    ``minimum`` <= min, if given)."""
    if span is None:
        return {}
    low_ok = len(span) == 2 and (minimum is None or minimum <= span[0])
    if low_ok and span[0] <= span[1]:
        return {}
    bound = f"{minimum:g} <= min <= max" if minimum is not None else "min <= max"
    return {key: f"expected [min, max] with {bound}, got {span}"}


def positive_or_null(key: str, value: float | None, unit: str = "m/s") -> dict[str, str]:
    """The ``field_problems`` entry of an optional shaping setting: null, or > 0 (a speed unless ``unit`` says)."""
    return {key: f"must be > 0 {unit} (or null), got {value}"} if value is not None and not value > 0 else {}


@dataclass
class StandSection:
    """Training-only shaping of the ``stand`` reward (``for_evaluation`` drops it, so ``hb/return`` stays
    HumanoidBench's). HumanoidBench's ``dont_move`` has a 2 m/s margin and still pays 95% at 0.3 m/s, so stand
    experts at the success bar drift or shuffle at 0.2-0.4 m/s; a composite task's stand stage asks for rest
    (< 0.3 m/s, ``envs/stages.py``). With ``rest_margin_mps`` set, the reward is also multiplied by
    ``(at_rest + 1) / 2``, ``at_rest`` a gaussian of the horizontal CoM speed that falls to 0.1 at that margin."""

    rest_margin_mps: float | None = setting(None, help="margin of the extra at-rest term, m/s (e.g. 0.5: the "
                                                       "reward keeps 72% at 0.3 m/s); null = HumanoidBench's only")

    def field_problems(self) -> dict[str, str]:
        return positive_or_null("rest_margin_mps", self.rest_margin_mps)


@dataclass
class WalkSection:
    """Training-only shaping of the ``walk`` reward (``for_evaluation`` drops it). HumanoidBench's ``move(1 m/s)``
    pays any speed above 1 m/s in full, so a walker handed a running robot keeps going at ~1.6 m/s and never
    slows to a walk (walk_run_walk's last stage asks for walking pace, ``envs/stages.py``). With
    ``max_speed_mps`` set, the reward is also multiplied by ``(slow + 1) / 2``, ``slow`` a gaussian of the
    forward CoM speed above that limit that falls to 0.1 at 0.5 m/s over it."""

    max_speed_mps: float | None = setting(None, help="forward speed above which the extra term falls off, m/s "
                                                     "(e.g. 1.3); null = HumanoidBench's reward only")

    def field_problems(self) -> dict[str, str]:
        return positive_or_null("max_speed_mps", self.max_speed_mps)


@dataclass
class CrawlSection:
    """Training-only termination and tunnel placement of the ``crawl`` task (``for_evaluation`` drops both).
    HumanoidBench's crawl never terminates, and lying face down still pays about half its reward (low head and
    imu, pelvis pitched forward): PPO from the walker fell at the tunnel and wriggled on the floor at 0.3 m/s
    (``hb/return`` ≈ 450). With ``min_head_height_m`` set, a training episode ends when the head drops below it,
    so only a crouch or a crawl that keeps the head up (the reward's window is 0.6–1.0 m) collects the rest of the
    episode."""

    min_head_height_m: float | None = setting(None, help="end a training episode when the head is lower than "
                                                         "this, m (e.g. 0.45); null = HumanoidBench's (never)")
    # HumanoidBench puts the tunnel 2.2 m ahead; composite tasks put it nearer (crawl_stand_walk: 1 m), and the
    # crawler sees no tunnel in its observation, so it must learn to get down early wherever the tunnel is.
    tunnel_start_x_m: list[float] | None = setting(None, help="[min, max] x of the tunnel's entrance, m, drawn "
                                                              "uniformly per training episode; null = "
                                                              "HumanoidBench's 2.2")

    def field_problems(self) -> dict[str, str]:
        return {**positive_or_null("min_head_height_m", self.min_head_height_m, unit="m"),
                **span_problem("tunnel_start_x_m", self.tunnel_start_x_m)}


@dataclass
class TurnSection:
    """Training-only start heading and shaping of the ``turn_around`` task (``for_evaluation`` drops both).
    HumanoidBench's reset faces +x, half a turn from the goal: drawn per training episode, start headings nearer
    the goal make the small turns a curriculum for the half turn that evaluation asks for."""

    start_yaw_rad: list[float] | None = setting(None, help="[min, max] start heading, rad, drawn uniformly per "
                                                           "training episode (e.g. [-3.14, 3.14]); null = +x")
    rest_margin_mps: float | None = setting(None, help="also multiply the reward by (at_rest + 1) / 2, at_rest = "
                                                       "tol(horizontal CoM speed, margin): turn on the spot rather "
                                                       "than walk round (as stand.rest_margin_mps), m/s")
    posture_margin_rad: float | None = setting(None, help="also multiply the reward by (posture + 1) / 2, posture = "
                                                          "tol(RMS joint-angle difference from the standing "
                                                          "keyframe, margin): end in a stance the next expert "
                                                          "knows, rad")
    chair_behind_spot_m: float | None = setting(
        None, help="turn_to_spot, episodes after a handover_start prelude: a chair whose seat centre is this far "
                   "behind the spot once turned (in front while the turn begins), as walk_to_chair_sit places its "
                   "chair (0.5), m; null = open floor")

    def field_problems(self) -> dict[str, str]:
        return {**span_problem("start_yaw_rad", self.start_yaw_rad),
                **positive_or_null("rest_margin_mps", self.rest_margin_mps),
                **positive_or_null("posture_margin_rad", self.posture_margin_rad, unit="rad"),
                **positive_or_null("chair_behind_spot_m", self.chair_behind_spot_m)}


@dataclass
class ReachSection:
    """Training-only goals, reward and termination of the ``reach`` task (``for_evaluation`` drops them).
    HumanoidBench draws the goal anywhere in a 4 × 4 m square around the start, so most goals need walking first,
    and its reward is flat between the 5 cm and 1 m bonus radii. A composite task hands the reach expert a robot
    that has just walked up to its goal; these settings train exactly that: goals within arm's reach of where the
    episode starts (``goal_from_pelvis_m``, also after a ``handover_start`` prelude), a dense reward that asks to
    stand at rest with the hand on the goal (``dense_reward``, ``stand.rest_margin_mps``), and an end to episodes
    that fall (``min_pelvis_height_m``; HumanoidBench's reach never ends)."""

    goal_from_pelvis_m: list[list[float]] | None = setting(
        None, help="[[x, y, z] min, [x, y, z] max]: goal x, y drawn relative to the pelvis where the episode starts "
                   "(world axes), z absolute, m; null = HumanoidBench's goals")
    dense_reward: bool = setting(False, help="train on the stand task's reward (with env.task.stand's at-rest "
                                             "term) times (1 + closeness) / 2, closeness the composite reach "
                                             "stage's, instead of HumanoidBench's reach reward")
    min_pelvis_height_m: float | None = setting(None, help="end a training episode when the pelvis is lower than "
                                                           "this, m (e.g. 0.6); null = HumanoidBench's (never)")

    def field_problems(self) -> dict[str, str]:
        box = self.goal_from_pelvis_m
        if box is not None and not (len(box) == 2 and all(len(corner) == 3 for corner in box)
                                    and all(low <= high for low, high in zip(*box, strict=True))):
            return {"goal_from_pelvis_m": f"expected [[x, y, z] min, [x, y, z] max] with min <= max, got {box}"}
        return positive_or_null("min_pelvis_height_m", self.min_pelvis_height_m, unit="m")


@dataclass
class HandoverStartSection:
    """Training episodes that begin where another expert leaves the robot: after the reset, that expert acts for
    a random number of steps, then the episode starts from the state it reached (a composite task hands the robot
    over in exactly such states). Applied by the training env creator (``experts/handover.py``: running an
    expert is above the envs layer); evaluation never uses it."""

    probability: float = setting(0.0, ge=0, le=1, help="share of training episodes that start this way")
    expert: str | None = setting(None, help="the expert that acts first: zoo:<skill>, <registry>:<skill> or an "
                                            "expert folder (same robot observation as this task)")
    steps: list[int] = setting(factory=lambda: [25, 150], help="[min, max] control steps it acts (50 Hz: "
                                                               "0.5-3 s by default), drawn uniformly")
    then_expert: str | None = setting(None, help="an expert that acts after the first one, before the episode "
                                                 "starts (a composite task's stop after its walk); null = none")
    then_steps: list[int] = setting(factory=lambda: [25, 100], help="[min, max] control steps the second expert "
                                                                    "acts, drawn uniformly")

    def field_problems(self) -> dict[str, str]:
        if problem := span_problem("steps", self.steps, minimum=1) or span_problem("then_steps", self.then_steps,
                                                                                   minimum=1):
            return problem
        if self.probability > 0 and not self.expert:
            return {"expert": "handover starts (probability > 0) need the expert that acts first"}
        return {}


@dataclass
class StartStatesSection:
    """Training episodes that begin in recorded states: where other experts handed the robot over in a composite
    task's rollouts (``mwx rollouts start-states``), placed relative to the body the file names (the chair), the
    clip restarted there (``envs/start_states.py``). Training-only: evaluation never uses it."""

    path: str | None = setting(None, help="a start-states .npz (`mwx rollouts start-states`), relative to the "
                                          "working directory")
    probability: float = setting(0.0, ge=0, le=1, help="share of training episodes that start in one of its "
                                                       "states, drawn uniformly")

    def field_problems(self) -> dict[str, str]:
        if self.path is not None and not Path(self.path).expanduser().is_file():
            return {"path": f"start-states file not found: {self.path}"}
        if self.probability > 0 and self.path is None:
            return {"path": "recorded starts (probability > 0) need a start-states file"}
        return {}


@dataclass
class TaskSection:
    """One task and its settings. ``name`` is a task name (``walk``) or env id (``mwx/h1-walk-v0``)."""

    SHORTHAND: ClassVar[str] = TASK_SHORTHAND

    name: str = setting("stand", help="task name or env id; `mwx env list` shows them")
    clip: str | None = setting(None, help="reference clip of an imitation variant: built-in motion name "
                                          "(`mwx motion list`) or path to a MotionClip .npz; null = the "
                                          "variant's default clip")
    imitation: ImitationSection = setting(factory=ImitationSection)
    observation: ObservationSection = setting(factory=ObservationSection)
    hurdle: HurdleSection = setting(factory=HurdleSection)
    stand: StandSection = setting(factory=StandSection)
    walk: WalkSection = setting(factory=WalkSection)
    crawl: CrawlSection = setting(factory=CrawlSection)
    turn: TurnSection = setting(factory=TurnSection)
    reach: ReachSection = setting(factory=ReachSection)
    handover_start: HandoverStartSection = setting(factory=HandoverStartSection)
    start_states: StartStatesSection = setting(factory=StartStatesSection)
    frame_skip: int = setting(10, ge=1, help="mj_step calls per control step (HumanoidBench: 10 × 2 ms = 50 Hz)")
    reset_noise_scale: float = setting(0.01, ge=0, help="uniform ± noise on every qpos entry at reset "
                                                        "(HumanoidBench: 0.01)")

    def field_problems(self) -> dict[str, str]:
        problem = clip_problem(self.clip) if self.clip is not None else None
        return {"clip": problem} if problem else {}

    def env_kwargs(self) -> dict[str, Any]:
        """``gymnasium.make(env_id, **kwargs)`` keyword arguments that build an env with these settings: plain
        data, so it travels inside RLlib's ``env_config`` to every env runner."""
        return {"task": to_plain(self)}

    def for_evaluation(self) -> TaskSection:
        """These settings with the training-only tricks off: HumanoidBench's reset (no reference-state starts),
        the plain task's termination (no tracking termination), and the clip from frame 0 (an expert's phase
        clock starts when it is activated), no handover or recorded starts, no stand, walk, crawl, turn or reach
        shaping. Observations are unchanged."""
        imitation = self.imitation
        return replace(self, handover_start=replace(self.handover_start, probability=0.0),
                       start_states=replace(self.start_states, probability=0.0), stand=StandSection(),
                       walk=WalkSection(), crawl=CrawlSection(), turn=TurnSection(), reach=ReachSection(),
                       imitation=replace(
            imitation, random_start_phase=False,
            reference_state_init=replace(imitation.reference_state_init, probability=0.0),
            start_perturbation=replace(imitation.start_perturbation, probability=0.0),
            tracking_termination=replace(imitation.tracking_termination, enabled=False),
            failure_weighted_starts=replace(imitation.failure_weighted_starts, enabled=False)))


def clip_problem(clip: str) -> str | None:
    """Why ``clip`` names no reference clip (a ``.npz`` path that is not a file, or an unknown built-in
    motion), or None. Checked at load time so a typo fails before any trial starts."""
    if not clip.strip():
        return "empty clip name; use null for the variant's default clip"
    if clip.endswith(".npz") or "/" in clip or os.sep in clip:
        return None if Path(clip).expanduser().is_file() else f"clip file not found: {clip}"
    from mwx_ray.motion.library import builtin_skill_names  # deferred: imports scipy/mujoco (~1 s)

    names = builtin_skill_names()
    return None if clip in names else f"unknown built-in motion {clip!r}; built-in motions: {names}"
