"""The batched env-runner connectors (``mwx_ray.experts.connectors``) against RLlib's own pieces, without a Ray
runtime: same filter statistics (to float rounding) and state format, identical normalization at frozen statistics,
identical env actions, and a module batch equal to what RLlib's default pieces build."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.connectors.env_to_module.mean_std_filter import MeanStdFilter as RLlibMeanStdFilter
from ray.rllib.connectors.module_to_env import NormalizeAndClipActions
from ray.rllib.core.columns import Columns
from ray.rllib.env.single_agent_episode import SingleAgentEpisode
from ray.rllib.utils.filter import RunningStat

from mwx_ray.experts.connectors import BatchedNormalizeAndClipActions, MeanStdFilter, push_batch

OBS_SPACE = gym.spaces.Box(-np.inf, np.inf, (5,), np.float32)
ACT_SPACE = gym.spaces.Box(np.array([-2.0, 0.0, -1.0], np.float32), np.array([3.0, 1.0, 1.0], np.float32))
STAT_FIELDS = ("mean_array", "sum_sq_diff_array", "mean_delta_array", "sum_sq_diff_delta_array")


def stats_arrays(stats: RunningStat) -> dict[str, np.ndarray]:
    return {name: np.asarray(getattr(stats, name)) for name in STAT_FIELDS}


def test_batched_push_equals_rllib_sequential_pushes():
    rng = np.random.default_rng(0)
    sequential, batched = RunningStat((5,)), RunningStat((5,))
    for size in (1, 7, 16, 3, 16):  # first chunk of one: RLlib's special first push
        chunk = rng.normal(3.0, 2.0, size=(size, 5)).astype(np.float32)
        for row in chunk:
            sequential.push(row)
        push_batch(batched, chunk)
    assert (batched.num_pushes, batched.num_pushes_delta) == (sequential.num_pushes, sequential.num_pushes_delta)
    for name, value in stats_arrays(sequential).items():
        np.testing.assert_allclose(stats_arrays(batched)[name], value, rtol=1e-10, atol=1e-10, err_msg=name)
    np.testing.assert_array_equal(batched.std.dtype, sequential.std.dtype)


def make_filter(cls, **kwargs):
    # Spaces are set afterwards, as a connector pipeline does (RLlib's filter cannot take them in its constructor).
    connector = cls(multi_agent=False, clip_by_value=10.0, **kwargs)
    connector.input_action_space = ACT_SPACE
    connector.input_observation_space = OBS_SPACE
    connector._init_new_filters()
    return connector


def episodes_with(obs_rows: np.ndarray) -> list[SingleAgentEpisode]:
    episodes = []
    for row in obs_rows:
        episode = SingleAgentEpisode(observation_space=OBS_SPACE, action_space=ACT_SPACE)
        episode.add_env_reset(observation=row)
        episodes.append(episode)
    return episodes


def run(connector, obs_rows: np.ndarray) -> tuple[dict, np.ndarray]:
    episodes = episodes_with(obs_rows)
    batch = connector(rl_module=None, batch={}, episodes=episodes, explore=True, shared_data={})
    return batch, np.stack([episode.get_observations(-1) for episode in episodes])


def test_filter_statistics_state_and_merge_match_rllib():
    rng = np.random.default_rng(1)
    ours = [make_filter(MeanStdFilter) for _ in range(2)]
    rllib = [make_filter(RLlibMeanStdFilter) for _ in range(2)]
    for step in range(6):  # two "runners", 8 sub-envs each, several vector steps
        for k in range(2):
            rows = rng.normal(k, 1.0 + step, size=(8, 5)).astype(np.float32)
            run(ours[k], rows)
            run(rllib[k], rows)
    ours_state, rllib_state = ours[0].get_state(), rllib[0].get_state()
    assert set(ours_state[None]) == set(rllib_state[None])
    # RLlib's filter restores our state and vice versa (checkpoints stay interchangeable).
    swapped = make_filter(RLlibMeanStdFilter)
    swapped.set_state(ours_state)
    back = make_filter(MeanStdFilter)
    back.set_state(rllib_state)
    np.testing.assert_array_equal(swapped._filters[None].running_stats.mean, ours[0]._filters[None].running_stats.mean)
    np.testing.assert_array_equal(back._filters[None].running_stats.mean, rllib[0]._filters[None].running_stats.mean)
    merged_ours = ours[0].merge_states([f.get_state() for f in ours])
    merged_rllib = rllib[0].merge_states([f.get_state() for f in rllib])
    a = RunningStat.from_state(merged_ours[None]["running_stats"][0])
    b = RunningStat.from_state(merged_rllib[None]["running_stats"][0])
    # RLlib merges every given state's delta into the calling filter's own statistics: 48 + 48 + 48.
    assert a.num_pushes == b.num_pushes == 144
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-10)
    np.testing.assert_allclose(a.std, b.std, rtol=1e-6)
    assert type(ours[0]).__name__ == "MeanStdFilter"  # RLlib keys connector state (and checkpoint dirs) by this


def test_frozen_normalization_and_emitted_batch_equal_rllib():
    rng = np.random.default_rng(2)
    trained = make_filter(MeanStdFilter)
    run(trained, rng.normal(0.5, 3.0, size=(64, 5)).astype(np.float32))
    ours = make_filter(MeanStdFilter, update_stats=False, emit_batch=True)
    rllib = make_filter(RLlibMeanStdFilter, update_stats=False)
    ours.set_state(trained.get_state())
    rllib.set_state(trained.get_state())
    rows = np.concatenate([rng.normal(0.5, 3.0, size=(6, 5)), rng.normal(0, 300.0, size=(2, 5))]).astype(np.float32)
    batch, ours_obs = run(ours, rows)
    _, rllib_obs = run(rllib, rows)
    np.testing.assert_array_equal(ours_obs, rllib_obs)  # bit-identical, including the ±10 std clip
    assert np.abs(ours_obs).max() == pytest.approx(10.0)
    assert batch[Columns.OBS].dtype == torch.float32
    np.testing.assert_array_equal(batch[Columns.OBS].numpy(), rllib_obs.astype(np.float32))
    assert ours.get_state()[None]["running_stats"][0]["num_pushes"] == 64  # frozen: nothing pushed


@pytest.mark.parametrize(("normalize", "clip"), [(True, False), (False, True), (False, False)])
def test_batched_actions_are_bit_identical_to_rllib(normalize, clip):
    rng = np.random.default_rng(3)
    actions = rng.normal(0.0, 1.5, size=(16, 3)).astype(np.float32)  # many outside [-1, 1] and the bounds
    ours = BatchedNormalizeAndClipActions(input_action_space=ACT_SPACE, normalize_actions=normalize,
                                          clip_actions=clip)
    out = ours(rl_module=None, batch={Columns.ACTIONS: actions.copy()}, episodes=[], shared_data={})
    rllib = NormalizeAndClipActions(input_action_space=ACT_SPACE, normalize_actions=normalize, clip_actions=clip)
    per_item = {Columns.ACTIONS: {(f"e{i}",): [row.copy()] for i, row in enumerate(actions)}}
    expected = rllib(rl_module=None, batch=per_item, episodes=[], shared_data={})
    if not (normalize or clip):
        assert Columns.ACTIONS_FOR_ENV not in out and Columns.ACTIONS_FOR_ENV not in expected
        return
    rllib_rows = np.stack([expected[Columns.ACTIONS_FOR_ENV][(f"e{i}",)][0] for i in range(16)])
    np.testing.assert_array_equal(out[Columns.ACTIONS_FOR_ENV], rllib_rows)
    np.testing.assert_array_equal(out[Columns.ACTIONS], actions)  # the module's actions stay untouched
