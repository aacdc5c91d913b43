"""The code's layout follows the data flow: a module imports only from its own stage or those before it.

    contract -> load -> build -> check -> package -> validate -> report -> publish, release -> cli

Every import counts, those inside functions too, and modules never import each other in a circle.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

from conftest import ROOT

STAGES = [
    "contract",
    "load",
    "build",
    "check",
    "package",
    "validate",
    "report",
    "publish",
    "release",
    "cli",
]
RANK = {**{stage: rank for rank, stage in enumerate(STAGES)}, "release": STAGES.index("publish")}
PIPELINE = ROOT / "pipeline"
MODULES = sorted(p for p in PIPELINE.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage_of(module: str) -> str | None:
    """pipeline.check.rules -> check; pipeline.publish -> publish; pipeline itself -> None."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def imported(path: Path) -> set[str]:
    """The pipeline modules `path` imports, anywhere in it (`from pipeline.x import y` names y if it
    is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    known = {module_name(p) for p in MODULES}
    return {name for name in found if name in known}


GRAPH = {module_name(path): imported(path) for path in MODULES}


def test_every_module_belongs_to_a_stage():
    assert sorted({stage_of(m) for m in GRAPH} - {None} - set(RANK)) == []


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_run_one_way(module):
    here = stage_of(module)
    upward = sorted(
        name
        for name in GRAPH[module]
        if here and stage_of(name) and RANK[stage_of(name)] > RANK[here]
    )
    assert upward == [], f"{module} ({here}) imports from a later stage"


def test_no_import_cycles():
    graph = {module: {name for name in names if name != module} for module, names in GRAPH.items()}
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_a_cycle_or_an_upward_import_is_caught():
    """The checks above can fail: a later stage imported from an earlier one is found."""
    assert "pipeline.validate.errors" in GRAPH["pipeline.validate.columns"]
    assert RANK[stage_of("pipeline.check.rules")] > RANK[stage_of("pipeline.build.tables")]
    with pytest.raises(CycleError):
        list(TopologicalSorter({"a": {"b"}, "b": {"a"}}).static_order())
