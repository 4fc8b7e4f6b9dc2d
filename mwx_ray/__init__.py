"""mwx_ray: MetaWorld-X (hierarchical humanoid experts + VLM-supervised router) on Ray."""

__version__ = "0.1.0"
