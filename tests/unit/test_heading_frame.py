"""Heading-frame observations: unchanged when the robot turns; the env option, the batched version used by the
router's expert pool and RLlib expert modules, and scripted schedules all compute the same thing."""

import json
import math
import shutil

import mujoco
import numpy as np
import pytest
import torch

from mwx_ray.envs import make_env
from mwx_ray.envs.heading_frame import to_heading_frame
from mwx_ray.experts.expert_inputs import acting_in, heading_frame_t, observes_heading_frame
from mwx_ray.experts.policy import ExpertPolicy
from mwx_ray.experts.registry import expert_folder
from mwx_ray.router.experts_frozen import FrozenExpertPool
from mwx_ray.router.module import FrozenExpertRLModule

NQ = 26  # H1: free root (7) + 19 joints


def robot_state(env, *, yaw: float, xy=(0.0, 0.0), velocity_xy=(0.6, -0.2)) -> np.ndarray:
    """The keyframe pose, moving, turned to ``yaw`` about the pelvis and moved to ``xy``: its observation."""
    mujoco.mj_resetDataKeyframe(env.model, env.data, 0)
    q = env.data.qpos
    tilt = np.array([math.cos(0.1), math.sin(0.1), 0.0, 0.0])  # a slight roll, so the yaw removal is not trivial
    turn = np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])
    mujoco.mju_mulQuat(q[3:7], turn, tilt)
    q[0:2] = xy
    c, s = math.cos(yaw), math.sin(yaw)
    env.data.qvel[0:2] = (c * velocity_xy[0] - s * velocity_xy[1], s * velocity_xy[0] + c * velocity_xy[1])
    env.data.qvel[3:6] = (0.1, 0.2, 0.3)
    mujoco.mj_forward(env.model, env.data)
    return np.concatenate([env.data.qpos, env.data.qvel])


def test_heading_frame_observation_does_not_change_when_the_robot_turns_or_moves():
    env = make_env("stand")
    reference = to_heading_frame(robot_state(env, yaw=0.0), NQ)
    for yaw, xy in ((1.0, (0.0, 0.0)), (-2.5, (3.0, 1.0)), (math.pi - 1e-3, (-1.0, 2.0))):
        np.testing.assert_allclose(to_heading_frame(robot_state(env, yaw=yaw, xy=xy), NQ), reference, atol=1e-12)
    world = robot_state(env, yaw=0.0)
    expected = world.copy()
    expected[0:2] = 0.0  # at yaw 0 only the pelvis x, y change
    np.testing.assert_allclose(reference, expected, atol=1e-12)


def test_the_env_option_and_the_batched_version_agree():
    env = make_env("turn_around", task={"observation": {"heading_frame": True}})
    plain = make_env("turn_around")
    obs, _ = env.reset(seed=4)
    world, _ = plain.reset(seed=4)
    np.testing.assert_allclose(obs, to_heading_frame(world, NQ), atol=1e-12)
    states = np.stack([robot_state(plain, yaw=y, xy=(y, -y)) for y in (0.0, 0.7, -3.0)])
    np.testing.assert_allclose(heading_frame_t(torch.as_tensor(states), NQ).numpy(),
                               np.stack([to_heading_frame(s, NQ) for s in states]), atol=1e-12)
    with pytest.raises(Exception, match="heading_frame"):
        make_env("turn_around", task={"observation": {"heading_frame": True, "exclude_root_xy": True}})


@pytest.fixture()
def heading_stand(tmp_path):
    """zoo:stand's weights relabelled as a heading-frame expert (only the manifest's task settings change)."""
    folder = tmp_path / "stand_heading"
    shutil.copytree(expert_folder("zoo:stand"), folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["task"].setdefault("observation", {})["heading_frame"] = True
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_pool_module_and_schedule_give_a_heading_frame_expert_its_frame(heading_stand):
    env = make_env("walk_run_walk")
    states = np.stack([robot_state(env, yaw=y, xy=(2.0, 0.5)) for y in (0.0, 1.5, -2.9)])
    policy = ExpertPolicy.load(heading_stand)
    assert observes_heading_frame(policy.manifest)
    expected = policy.forward(np.stack([to_heading_frame(s, NQ) for s in states])).numpy()
    folders = {"walk": expert_folder("zoo:walk"), "stand": heading_stand}
    pool = FrozenExpertPool.load(folders, task_env_id="mwx/h1-walk_run_walk-v0", task_obs_dim=states.shape[1])
    np.testing.assert_allclose(pool(states)[:, 1].numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(pool.forward_per_expert(states)[:, 1].numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(pool(states)[:, 0].numpy(), ExpertPolicy.load(folders["walk"]).forward(states).numpy(),
                               atol=1e-5)  # the other expert still reads the world frame
    module = FrozenExpertRLModule(observation_space=env.observation_space, action_space=env.action_space,
                                  model_config={"folder": str(heading_stand), "obs_indices": list(range(51)),
                                                "heading_qvel_start": NQ, "clock_entry": None})
    np.testing.assert_allclose(module.expert_action(torch.as_tensor(states)).numpy(), expected, atol=1e-5)
    adapted = acting_in(policy, env, skill="stand")
    for state, action in zip(states, expected, strict=True):
        np.testing.assert_allclose(adapted.act(state), action, atol=1e-5)
    mean, std = pool.pooled_normalizer()  # the router's statistics come from the world-frame expert alone
    walk = ExpertPolicy.load(folders["walk"])
    np.testing.assert_allclose(mean[:2].numpy(), walk.obs_mean[:2].numpy(), rtol=1e-5)
