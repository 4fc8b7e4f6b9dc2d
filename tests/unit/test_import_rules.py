"""Pure core rule (shared/DESIGN.md): envs/rewards/motion/robots, router/gating and the Ray-free expert policy
never import ray or transformers."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "mwx_ray"
PURE = ["envs", "rewards", "motion", "robots", "router/gating.py", "experts/policy.py"]
FORBIDDEN = {"ray", "transformers"}


def pure_files():
    for entry in PURE:
        path = PACKAGE / entry
        if path.suffix == ".py":
            yield from [path] if path.exists() else []  # router/gating.py arrives with the router
        else:
            yield from sorted(path.rglob("*.py"))


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_pure_core_exists():
    assert any(pure_files()), "pure core packages are missing"


@pytest.mark.parametrize("path", list(pure_files()), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_pure_core_does_not_import_ray_or_transformers(path):
    bad = imported_roots(path) & FORBIDDEN
    assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}"


def test_the_rule_detects_a_violation(tmp_path):
    sample = tmp_path / "bad.py"
    sample.write_text("def f():\n    import ray.tune\n    from transformers import AutoModel\n")
    assert imported_roots(sample) & FORBIDDEN == {"ray", "transformers"}
