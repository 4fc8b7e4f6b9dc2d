"""Reward kernels and HumanoidBench building blocks (pure numpy, no Ray)."""

from mwx_ray.rewards.kernels import SIGMOIDS, tolerance

__all__ = ["SIGMOIDS", "tolerance"]
