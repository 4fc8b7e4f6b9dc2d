"""mwx_ray: MetaWorld-X (hierarchical humanoid experts + VLM-supervised router) on Ray.

Importing the package registers every task's gymnasium id (``mwx/h1-walk-v0`` ...), as ``import humanoid_bench``
does, so ``import mwx_ray; gymnasium.make("mwx/h1-walk-v0")`` works.
"""

__version__ = "0.1.0"

from mwx_ray import envs as _envs  # noqa: E402,F401 - registers the gymnasium ids
