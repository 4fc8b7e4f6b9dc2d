"""Robot registry: ``get_robot("h1")`` → :class:`RobotSpec` (static facts + MjSpec factory)."""

from __future__ import annotations

from mwx_ray.errors import UnknownNameError
from mwx_ray.robots.h1 import H1
from mwx_ray.robots.spec import JointSpec, RobotSpec, SensorNames

_ROBOTS: dict[str, RobotSpec] = {H1.name: H1}


def robot_names() -> list[str]:
    """Registered robot names, sorted."""
    return sorted(_ROBOTS)


def get_robot(name: str) -> RobotSpec:
    """Look up a robot by name; the error lists the valid names."""
    try:
        return _ROBOTS[name]
    except KeyError:
        raise UnknownNameError(f"unknown robot {name!r}; valid robots: {robot_names()}") from None


__all__ = ["JointSpec", "RobotSpec", "SensorNames", "get_robot", "robot_names"]
