"""The packages form layers: no import cycle between mwx_ray's subpackages (deferred imports included), and the
dependency on ``analysis`` points one way (analysis -> mwx_ray; mwx_ray finds it only through entry points)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROOTS = ("mwx_ray", "analysis", "tune_configs")


def unit_of(module: str) -> str | None:
    """The layer a module belongs to: ``mwx_ray.<subpackage or module>``, ``analysis``, ``tune_configs``."""
    parts = module.split(".")
    if parts[0] not in ROOTS:
        return None
    return parts[0] if parts[0] != "mwx_ray" or len(parts) == 1 else f"mwx_ray.{parts[1]}"


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for root in ROOTS:
        for path in (REPO / root).rglob("*.py"):
            module = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
            source = unit_of(module)
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
                for name in names:
                    target = unit_of(name)
                    if target and target not in (source, "mwx_ray"):
                        graph[source].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if state.get(nxt) is None and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state.get(node) is None and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle_between_packages():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_mwx_ray_never_imports_analysis():
    graph = import_graph()
    offenders = sorted(unit for unit, targets in graph.items() if unit.startswith("mwx_ray") and "analysis" in targets)
    assert not offenders, f"{offenders} import analysis (it plugs in through entry points instead)"


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
