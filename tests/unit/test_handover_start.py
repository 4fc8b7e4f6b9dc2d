"""Handover starts (``env.task.handover_start``): the first expert really acts before the episode starts, for the
drawn number of steps, from a stream that follows the reset seed; a fall during that prelude falls back to a plain
start; evaluation settings switch it off; bad settings fail at load time naming the key."""

from __future__ import annotations

import numpy as np
import pytest

from mwx_ray.config import ConfigError, load_config
from mwx_ray.config.task_schema import TaskSection
from mwx_ray.envs import make_env
from mwx_ray.experts.handover import HANDOVER_INFO_KEY, HandoverStartWrapper, wrap_handover_start

CONTROL_DT_S = 0.02  # 10 x 2 ms


def test_the_first_expert_acts_for_the_drawn_number_of_steps():
    env = wrap_handover_start(make_env("walk_imitation"), {"handover_start": {
        "probability": 1.0, "expert": "zoo:stand", "steps": [30, 30]}})
    obs, info = env.reset(seed=3)
    assert info[HANDOVER_INFO_KEY] == 30
    assert env.unwrapped.data.time == pytest.approx(30 * CONTROL_DT_S)
    plain, _ = make_env("walk_imitation").reset(seed=3)
    assert not np.allclose(obs, plain), "the episode starts where the stand expert left the robot"


def test_a_second_expert_acts_after_the_first():
    task = {"handover_start": {"probability": 1.0, "expert": "zoo:walk", "steps": [60, 60],
                               "then_expert": "zoo:standrest", "then_steps": [40, 40]}}
    env = wrap_handover_start(make_env("walk_imitation"), task)
    _, info = env.reset(seed=4)
    assert info[HANDOVER_INFO_KEY] == 100
    assert env.unwrapped.data.time == pytest.approx(100 * CONTROL_DT_S)
    walked_only = wrap_handover_start(make_env("walk_imitation"), {"handover_start": {
        "probability": 1.0, "expert": "zoo:walk", "steps": [100, 100]}})
    walked_only.reset(seed=4)
    speed = np.linalg.norm(env.unwrapped.data.qvel[:2])
    assert speed < np.linalg.norm(walked_only.unwrapped.data.qvel[:2]), "the stand expert brakes the walker"


def test_draws_follow_the_reset_seed():
    def drawn(seed: int) -> list[int]:
        env = wrap_handover_start(make_env("walk_imitation"), {"handover_start": {
            "probability": 0.5, "expert": "zoo:stand", "steps": [1, 5]}})
        first = env.reset(seed=seed)[1][HANDOVER_INFO_KEY]
        return [first] + [env.reset()[1][HANDOVER_INFO_KEY] for _ in range(7)]

    assert drawn(11) == drawn(11)
    assert 0 in drawn(11) and max(drawn(11)) > 0, "probability 0.5 gives both plain and handover starts"


class _FallingExpert:
    """An 'expert' that acts at random over the whole joint ranges: the robot falls within the prelude."""

    obs_dim = 51
    manifest = {"env_id": "mwx/h1-walk-v0"}

    def __init__(self):
        self.rng = np.random.default_rng(0)

    def act(self, obs):
        return self.rng.uniform(-1, 1, 19).astype(np.float32)


def test_a_fall_during_the_prelude_gives_a_plain_start():
    env = HandoverStartWrapper(make_env("walk"), _FallingExpert(), probability=1.0, steps=(400, 400))
    _, info = env.reset(seed=0)
    assert info[HANDOVER_INFO_KEY] == 0 and env.unwrapped.data.time == 0.0


def test_a_walker_hands_over_to_a_reach_task_which_places_its_goal_where_the_walker_stopped():
    task = {"reach": {"goal_from_pelvis_m": [[0.3, 0.0, 1.0], [0.3, 0.0, 1.0]]},
            "handover_start": {"probability": 1.0, "expert": "zoo:walk", "steps": [100, 100]}}
    env = wrap_handover_start(make_env("reach", task=task), task)
    obs, info = env.reset(seed=2)
    assert info[HANDOVER_INFO_KEY] == 100, "the walker reads the robot state prefix of the 57-d observation"
    pelvis = env.unwrapped.data.qpos[:2]
    assert pelvis[0] > 0.5, "the walker walked"
    np.testing.assert_allclose(obs[-3:], (pelvis[0] + 0.3, pelvis[1], 1.0))


class _ReachLayoutExpert(_FallingExpert):
    obs_dim = 57
    manifest = {"env_id": "mwx/h1-reach-v0"}


def test_an_expert_that_needs_task_entries_the_task_lacks_is_refused():
    with pytest.raises(ValueError, match="cannot act in this task.*needs 6 task entries"):
        HandoverStartWrapper(make_env("walk"), _ReachLayoutExpert(), probability=1.0, steps=(1, 2))


def test_evaluation_never_uses_it():
    task = TaskSection(name="walk_imitation")
    task.handover_start.probability, task.handover_start.expert = 1.0, "zoo:stand"
    assert task.for_evaluation().handover_start.probability == 0.0


@pytest.mark.parametrize(("values", "key"), [
    ({"probability": 0.5}, "env.task.handover_start.expert"),
    ({"probability": 0.5, "expert": "zoo:stand", "steps": [10, 5]}, "env.task.handover_start.steps"),
    ({"probability": 1.5, "expert": "zoo:stand"}, "env.task.handover_start.probability"),
    ({"probability": 0.5, "expert": "zoo:stand", "then_steps": [0, 5]}, "env.task.handover_start.then_steps"),
])
def test_bad_settings_name_the_key(tmp_path, values, key):
    path = tmp_path / "bad.yaml"
    lines = "".join(f"      {k}: {v}\n" for k, v in values.items())
    path.write_text(f"env:\n  task:\n    name: walk_imitation\n    handover_start:\n{lines}")
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(path)
