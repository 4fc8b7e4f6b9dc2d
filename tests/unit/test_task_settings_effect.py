"""Every field of the typed task section (``env.task``) reaches the env it builds: changing it changes what the env
does on a seeded rollout (observations, rewards, terminations), or the task object it configures.

The table lists, per field, a changed value and the other settings it needs to show (a noise level needs
reference-state starts to be on, a bound needs tracking termination on). A test checks that the table covers every
field of the schema, so a new field without an effect on the env fails here. Handover starts run an exported
expert, so they act in the training env creator (``experts.env_registration.make_seeded_env``), which builds the
envs of those rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mwx_ray.config import unflatten_keys as unflatten
from mwx_ray.config.task_schema import TaskSection
from mwx_ray.config.typed import to_plain
from mwx_ray.envs import make_env
from mwx_ray.tracking.run_values import flatten

TT = {"imitation.tracking_termination.enabled": True}
TIGHT = {**TT, "imitation.tracking_termination.root_height_m": 0.05}
FWS = {**TIGHT, "imitation.failure_weighted_starts.enabled": True}
RSI = {"imitation.reference_state_init.probability": 1.0}
FF = {"imitation.phase_clock": True, "imitation.reference_feedforward": True}
STATES, OTHER_STATES = "<a start-states file written at test time>", "<another one>"
HANDOVER = {"handover_start.probability": 1.0, "handover_start.expert": "zoo:stand", "handover_start.steps": [20, 40]}
# field -> (changed value, context settings, task); None value = set at test time (the clip file)
EFFECTS: dict[str, tuple] = {
    "clip": (None, {}, "walk_imitation"),
    "imitation.enabled": (False, {}, "walk_imitation"),
    "imitation.w_track": (0.3, {}, "walk_imitation"),
    "imitation.w_task": (0.9, {}, "walk_imitation"),
    "imitation.alpha": (2.0, {}, "walk_imitation"),
    "imitation.beta": (0.5, {}, "walk_imitation"),
    "imitation.pose_coef": (0.2, {}, "walk_imitation"),
    "imitation.vel_coef": (0.9, {}, "walk_imitation"),
    "imitation.root_height_coef": (0.5, {}, "walk_imitation"),
    "imitation.root_orientation_coef": (0.5, {}, "walk_imitation"),
    "imitation.end_effector_coef": (0.5, {}, "walk_imitation"),
    "imitation.dynamic_weights.enabled": (False, {}, "walk_imitation"),
    "imitation.dynamic_weights.ema_time_constant_s": (0.1, {}, "walk_imitation"),
    "imitation.dynamic_weights.epsilon_rad2": (0.5, {}, "walk_imitation"),
    "imitation.dynamic_weights.power": (2.0, {}, "walk_imitation"),
    "imitation.dynamic_weights.min": (0.9, {}, "walk_imitation"),
    "imitation.dynamic_weights.max": (1.2, {}, "walk_imitation"),
    "imitation.dynamic_weights.refresh_steps": (1, {}, "walk_imitation"),
    "imitation.random_start_phase": (False, {}, "walk_imitation"),
    "imitation.noncyclic_max_start_fraction": (0.9, {}, "sit_simple_imitation"),
    "imitation.velocity_window_s": (0.5, {}, "walk_imitation"),
    "imitation.phase_clock": (True, {}, "walk_imitation"),
    "imitation.reference_feedforward": (True, {"imitation.phase_clock": True}, "walk_imitation"),
    "imitation.residual_scale": (1.5, FF, "walk_imitation"),
    "imitation.reference_state_init.probability": (1.0, {}, "walk_imitation"),
    "imitation.reference_state_init.joint_pos_noise_rad": (0.2, RSI, "walk_imitation"),
    "imitation.reference_state_init.joint_vel_noise_rad_s": (1.0, RSI, "walk_imitation"),
    "imitation.start_perturbation.probability": (1.0, {}, "walk_imitation"),
    "imitation.start_perturbation.root_velocity_mps": (1.0, {"imitation.start_perturbation.probability": 1.0},
                                                       "walk_imitation"),
    "imitation.start_perturbation.joint_velocity_rad_s": (2.0, {"imitation.start_perturbation.probability": 1.0},
                                                          "walk_imitation"),
    "imitation.tracking_termination.enabled": (True, {"imitation.tracking_termination.root_height_m": 0.05},
                                               "walk_imitation"),
    "imitation.tracking_termination.root_height_m": (0.05, TT, "walk_imitation"),
    "imitation.tracking_termination.root_orientation_rad": (0.05, TT, "walk_imitation"),
    "imitation.tracking_termination.end_effector_m": (0.05, TT, "walk_imitation"),
    "imitation.tracking_termination.grace_steps": (40, TIGHT, "walk_imitation"),
    "imitation.failure_weighted_starts.enabled": (True, TIGHT, "walk_imitation"),
    "imitation.failure_weighted_starts.bins": (3, FWS, "walk_imitation"),
    "imitation.failure_weighted_starts.mix": (1.0, FWS, "walk_imitation"),
    # A rate shows once one bin has failed more often than another: two bins make that happen by episode 3.
    "imitation.failure_weighted_starts.rate": (1.0, {**FWS, "imitation.failure_weighted_starts.bins": 2},
                                               "walk_imitation"),
    "observation.exclude_root_xy": (True, {}, "walk"),
    "observation.heading_frame": (True, {}, "walk"),
    "frame_skip": (5, {}, "walk"),
    "reset_noise_scale": (0.1, {}, "walk"),
    "handover_start.probability": (1.0, {"handover_start.expert": "zoo:stand"}, "walk_imitation"),
    "handover_start.expert": ("zoo:walk", HANDOVER, "walk_imitation"),
    "handover_start.steps": ([5, 5], HANDOVER, "walk_imitation"),
    "handover_start.then_expert": ("zoo:walk", HANDOVER, "walk_imitation"),
    "handover_start.then_steps": ([5, 5], {**HANDOVER, "handover_start.then_expert": "zoo:walk"}, "walk_imitation"),
    "start_states.path": (OTHER_STATES, {"start_states.path": STATES, "start_states.probability": 1.0}, "sit_simple"),
    "start_states.probability": (1.0, {"start_states.path": STATES}, "sit_simple"),
    "stand.rest_margin_mps": (0.5, {}, "stand_imitation"),
    "walk.max_speed_mps": (0.05, {}, "walk_imitation"),
    "crawl.min_head_height_m": (1.7, {}, "crawl"),  # above the standing head: the first step ends the episode
    "crawl.tunnel_start_x_m": ([-0.3, -0.3], {}, "crawl"),  # the ceiling starts behind the robot and hits its head
    "reach.goal_from_pelvis_m": ([[0.3, 0.0, 1.0], [0.3, 0.0, 1.0]], {}, "reach"),  # the observed goal moves
    "reach.dense_reward": (True, {}, "reach"),
    "reach.min_pelvis_height_m": (1.5, {}, "reach"),  # above the standing pelvis: the first step ends the episode
    "turn.start_yaw_rad": ([2.0, 2.0], {}, "turn_around"),  # the observed "which way to turn" changes
    "turn.rest_margin_mps": (0.05, {}, "turn_around"),
    "turn.posture_margin_rad": (0.1, {}, "turn_around"),
    "turn.chair_behind_spot_m": (0.2, HANDOVER, "turn_to_spot"),  # placed after the prelude, against the robot
}
# Fields whose effect is on the configured task object rather than on a short random rollout.
TASK_ATTRIBUTES = {"hurdle.discount_hurdle_contact": ("hurdle", True, "discount_hurdle_contact")}
EPISODES, STEPS = 3, 50


def signature(task: str, settings: dict) -> np.ndarray:
    """Observations, rewards and terminations of a seeded multi-episode rollout (same action sequence), and the
    start-phase distribution the env will draw its next episode from (imitation tasks)."""
    from mwx_ray.experts.env_registration import make_seeded_env  # the training envs' creator

    env = make_seeded_env(f"mwx/h1-{task}-v0", {"task": unflatten(settings)})
    rng = np.random.default_rng(0)
    rows = []
    obs, _ = env.reset(seed=1)
    for _episode in range(EPISODES):
        for _ in range(STEPS):
            obs, reward, terminated, truncated, _ = env.step(rng.uniform(-0.3, 0.3, 19))
            rows.append(np.concatenate([obs, [reward, float(terminated)]]))
            if terminated or truncated:
                break
        obs, _ = env.reset()
    sampler = getattr(env.unwrapped.task, "start_sampler", None)
    if sampler is not None:
        rows.append(sampler.bin_probabilities())
    return np.concatenate(rows)


def test_the_table_covers_every_schema_field():
    fields = set(flatten(to_plain(TaskSection()))) - {"name"}
    assert fields == set(EFFECTS) | set(TASK_ATTRIBUTES)


@pytest.mark.parametrize("field", sorted(EFFECTS))
def test_changing_a_task_field_changes_the_env(field, tmp_path):
    value, context, task = EFFECTS[field]
    if field == "clip":
        from mwx_ray.motion.library import builtin_clip

        clip = builtin_clip("walk")
        shifted = clip.__class__(**{**clip.__dict__, "joint_pos": np.roll(clip.joint_pos, 7, axis=0)})
        value = str(shifted.save(Path(tmp_path) / "shifted_walk.npz"))
    files = {STATES: ("a.npz", 0.3), OTHER_STATES: ("b.npz", 0.6)}  # how far ahead of the reset the state stands, m
    if field.startswith("start_states."):
        written = {key: str(_start_states_file(Path(tmp_path) / name, ahead)) for key, (name, ahead) in files.items()}
        value = written.get(value, value)
        context = {key: written.get(setting, setting) for key, setting in context.items()}
    baseline, changed = signature(task, dict(context)), signature(task, {**context, field: value})
    assert baseline.shape != changed.shape or not np.array_equal(baseline, changed), field


def _start_states_file(path: Path, ahead_m: float) -> Path:
    """One robot state: HumanoidBench's reset ``ahead_m`` further from the chair, stored against the chair."""
    from mwx_ray.envs.start_states import save_start_states

    state = make_env("sit_simple").unwrapped
    state.reset(seed=0)
    qpos, qvel = state.data.qpos.copy(), state.data.qvel.copy()
    qpos[0] += ahead_m + 0.25  # the sit_simple chair's origin is 0.25 m behind the reset pelvis
    return save_start_states(path, qpos[None], qvel[None], {"reference_body": "chair"})


@pytest.mark.parametrize("field", sorted(TASK_ATTRIBUTES))
def test_changing_a_task_field_changes_the_task(field):
    task, value, attribute = TASK_ATTRIBUTES[field]
    assert getattr(make_env(task, task=unflatten({field: value})).unwrapped.task, attribute) == value
    assert getattr(make_env(task).unwrapped.task, attribute) != value


def test_evaluation_drops_the_training_only_reward_shaping():
    from mwx_ray.config.task_schema import CrawlSection, StandSection, WalkSection

    task = TaskSection(name="walk_imitation", stand=StandSection(rest_margin_mps=0.5),
                       walk=WalkSection(max_speed_mps=1.3),
                       crawl=CrawlSection(min_head_height_m=0.45, tunnel_start_x_m=[0.8, 2.4]))
    evaluation = task.for_evaluation()
    assert evaluation.stand.rest_margin_mps is None and evaluation.walk.max_speed_mps is None
    assert evaluation.crawl.min_head_height_m is None and evaluation.crawl.tunnel_start_x_m is None


def test_the_crawl_tunnel_entrance_is_drawn_within_its_range_each_episode():
    import mujoco

    env = make_env("crawl", task={"crawl": {"tunnel_start_x_m": [0.8, 2.4]}})
    model, data = env.unwrapped.model, env.unwrapped.data
    ceiling = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "tunnel_ceiling")
    entrances = []
    for seed in range(8):
        env.reset(seed=seed)
        # the ceiling geom sits at the middle of the 16 m tunnel: its world x = entrance + 8 m
        entrances.append(float(data.geom_xpos[ceiling, 0]) - 8.0)
    assert all(0.8 <= x <= 2.4 for x in entrances) and np.ptp(entrances) > 0.5


def test_a_bad_tunnel_range_names_the_key(tmp_path):
    from mwx_ray.config import ConfigError, load_config

    path = tmp_path / "bad.yaml"
    path.write_text("env:\n  task:\n    name: crawl\n    crawl: {tunnel_start_x_m: [2.4, 0.8]}\n")
    with pytest.raises(ConfigError, match=r"env\.task\.crawl\.tunnel_start_x_m"):
        load_config(path)
