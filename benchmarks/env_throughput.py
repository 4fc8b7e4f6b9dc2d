"""Env throughput vs raw MuJoCo physics, per registered task, plus collision-geometry cost of the H1 model.

Prints, for every registered env id and for zero / uniform-random actions:
    env steps/s, raw mj_step/s on the same compiled model (same control sequence, same reset rule),
    and ratio = env steps/s ÷ (raw mj_step/s ÷ frame_skip)   (goal ≥ 0.8 for locomotion).
Then raw mj_step/s of: Menagerie's unmodified scene.xml (torque motors, primitive collisions), our h1 model
(position servos, primitive collisions), and our h1 model with HumanoidBench-style mesh collisions.

Run:  PYTHONPATH=. python benchmarks/env_throughput.py [--steps 2000]
"""

from __future__ import annotations

import argparse
import time

import mujoco
import numpy as np

from mwx_ray.envs import make_env, task_entries
from mwx_ray.robots.h1 import build_h1_spec, build_menagerie_h1_scene_spec


def env_steps_per_s(env, actions: np.ndarray) -> tuple[float, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """Env steps/s, and the physics state after every reset (keyed by the step index it precedes)."""
    env.reset(seed=0)
    resets = {0: (env.data.qpos.copy(), env.data.qvel.copy())}
    start = time.perf_counter()
    for i, action in enumerate(actions):
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
            resets[i + 1] = (env.data.qpos.copy(), env.data.qvel.copy())
    elapsed = time.perf_counter() - start
    return len(actions) / elapsed, resets


def raw_mj_steps_per_s(model: mujoco.MjModel, ctrls: np.ndarray, frame_skip: int,
                       resets: dict[int, tuple[np.ndarray, np.ndarray]]) -> float:
    """mj_step/s replaying the env's trajectory: same controls, same reset states at the same steps, so both
    loops simulate identical states (contact-heavy falls cost more than standing, whoever runs them)."""
    data = mujoco.MjData(model)

    def restore(index: int) -> None:
        qpos, qvel = resets[index]
        mujoco.mj_resetData(model, data)
        data.qpos[:], data.qvel[:] = qpos, qvel
        mujoco.mj_forward(model, data)

    restore(0)
    start = time.perf_counter()
    for i, ctrl in enumerate(ctrls):
        if i in resets and i:
            restore(i)
        data.ctrl[:] = ctrl
        mujoco.mj_step(model, data, nstep=frame_skip)
    return len(ctrls) * frame_skip / (time.perf_counter() - start)


def paired_rates(env, actions: np.ndarray, ctrls: np.ndarray, rounds: int) -> tuple[float, float]:
    """Median env and raw rates over alternating rounds (robust to a busy machine)."""
    env_rates, raw_rates = [], []
    for _ in range(rounds):
        env_rate, resets = env_steps_per_s(env, actions)
        env_rates.append(env_rate)
        raw_rates.append(raw_mj_steps_per_s(env.model, ctrls, env.frame_skip, resets))
    return float(np.median(env_rates)), float(np.median(raw_rates))


def mesh_collision_variant() -> mujoco.MjSpec:
    """Our h1 with HumanoidBench-style collisions: each link's visual mesh also collides (group 3, massless);
    Menagerie's primitives are removed except the hip-yaw cylinders, which HumanoidBench keeps."""
    spec = build_h1_spec()
    for geom in list(spec.geoms):
        if geom.group == 3 and geom.type != mujoco.mjtGeom.mjGEOM_PLANE and "hip_yaw" not in geom.parent.name:
            spec.delete(geom)
    for geom in list(spec.geoms):
        if geom.type == mujoco.mjtGeom.mjGEOM_MESH and geom.meshname != "logo_link":
            geom.parent.add_geom(type=mujoco.mjtGeom.mjGEOM_MESH, meshname=geom.meshname, group=3,
                                 contype=1, conaffinity=1, mass=0.0, density=0.0)
    return spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000, help="env steps per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating env/raw rounds; medians are printed")
    args = parser.parse_args()
    rng = np.random.default_rng(0)

    print(f"{'env id':<28} {'policy':<7} {'env steps/s':>12} {'raw mj_step/s':>14} {'ratio':>6}")
    for entry in task_entries():
        env = make_env(entry.env_id)
        nu, frame_skip = env.action_space.shape[0], env.frame_skip
        policies = {"zero": np.zeros((args.steps, nu)), "random": rng.uniform(-1, 1, (args.steps, nu))}
        low, high = env.model.actuator_ctrlrange.T
        for policy, actions in policies.items():
            ctrls = (actions + 1) / 2 * (high - low) + low
            env_rate, raw_rate = paired_rates(env, actions, ctrls, args.rounds)
            print(f"{entry.env_id:<28} {policy:<7} {env_rate:>12,.0f} {raw_rate:>14,.0f} "
                  f"{env_rate / (raw_rate / frame_skip):>6.2f}")
        env.close()

    print("\nraw mj_step/s by model (random position targets / zero torque for Menagerie's motors):")
    steps = args.steps
    variants = {
        "menagerie scene.xml (motors, primitives)": (build_menagerie_h1_scene_spec(), False),
        "mwx h1 (position servos, primitives)": (build_h1_spec(), True),
        "mwx h1 + HB-style mesh collisions": (mesh_collision_variant(), True),
    }
    for name, (spec, servo) in variants.items():
        model = spec.compile()
        key = model.key("home").id
        if servo:
            low, high = model.actuator_ctrlrange.T
            ctrls = (rng.uniform(-1, 1, (steps, model.nu)) + 1) / 2 * (high - low) + low
        else:
            ctrls = np.zeros((steps, model.nu))
        ngeom_colliding = int(np.count_nonzero(model.geom_contype | model.geom_conaffinity))
        home = mujoco.MjData(model)
        mujoco.mj_resetDataKeyframe(model, home, key)
        rate = raw_mj_steps_per_s(model, ctrls, 10, {0: (home.qpos.copy(), home.qvel.copy())})
        print(f"  {name:<44} {rate:>9,.0f} mj_step/s  ({ngeom_colliding} colliding geoms)")


if __name__ == "__main__":
    main()
