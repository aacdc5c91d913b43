"""The code's layout follows the data flow: a module imports only from its own stage or those before it.

    contract -> load -> build -> check -> package -> validate -> report -> publish, release -> cli

pipeline/progress.py, which imports no stage, comes before them all: every stage may report its progress.
Every import counts, those inside functions too, and modules never import each other in a circle.
The pipeline imports nothing from the benchmark or the tests, which sit on top of it.
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
RANK = {
    **{stage: rank for rank, stage in enumerate(STAGES)},
    "release": STAGES.index("publish"),
    "progress": -1,  # pipeline/progress.py: a leaf before every stage, which any of them may tell
}
PIPELINE = ROOT / "pipeline"
MODULES = sorted(p for p in PIPELINE.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage_of(module: str) -> str | None:
    """pipeline.check.rules -> check; pipeline.publish -> publish; pipeline itself -> None."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def imported(source: str) -> set[str]:
    """Every module `source` imports, anywhere in it (`from x import y` names x, and x.y in case y
    is a module)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def upward(module: str, graph: dict[str, set[str]]) -> list[str]:
    """The modules `module` imports from stages after its own."""
    here = stage_of(module)
    return sorted(
        name
        for name in graph[module]
        if here and stage_of(name) and RANK[stage_of(name)] > RANK[here]
    )


def cycle(graph: dict[str, set[str]]) -> list[str]:
    """A circle of imports in `graph` (a module importing itself aside), or none."""
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        return exc.args[1]
    return []


SOURCES = {module_name(path): path.read_text(encoding="utf-8") for path in MODULES}
IMPORTS = {module: imported(source) for module, source in SOURCES.items()}
GRAPH = {  # pipeline modules only, and none importing itself
    module: {name for name in names if name in SOURCES and name != module}
    for module, names in IMPORTS.items()
}


def test_every_module_belongs_to_a_stage():
    assert sorted({stage_of(m) for m in GRAPH} - {None} - set(RANK)) == []


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_run_one_way(module):
    assert upward(module, GRAPH) == [], f"{module} ({stage_of(module)}) imports from a later stage"


def test_no_import_cycles():
    assert cycle(GRAPH) == []


def test_the_pipeline_imports_neither_the_benchmark_nor_the_tests():
    assert (
        sorted(
            (module, name)
            for module, names in IMPORTS.items()
            for name in names
            if name.split(".")[0] in ("bench", "tests", "conftest")
        )
        == []
    )


def test_an_upward_import_a_lazy_one_and_a_cycle_are_caught():
    """The checks above can fail: on made-up modules, each finds what it looks for."""
    source = "import pipeline.load.seeds\n\ndef late():\n    from pipeline.report import site\n"
    assert imported(source) == {
        "pipeline.load.seeds",
        "pipeline.report",
        "pipeline.report.site",
    }
    graph = {
        "pipeline.check.rules": {"pipeline.load.seeds", "pipeline.report.site"},
        "pipeline.load.seeds": {"pipeline.contract.schemas"},
        "pipeline.contract.schemas": set(),
        "pipeline.report.site": set(),
    }
    assert upward("pipeline.check.rules", graph) == ["pipeline.report.site"]
    assert upward("pipeline.load.seeds", graph) == []
    leaf = {
        "pipeline.progress": {"pipeline.contract.problems"},
        "pipeline.check.run": {"pipeline.progress"},
    }
    assert upward("pipeline.progress", leaf) == ["pipeline.contract.problems"]
    assert upward("pipeline.check.run", leaf) == []
    assert cycle(graph) == []
    graph["pipeline.contract.schemas"] = {"pipeline.check.rules"}
    assert cycle(graph) == [
        "pipeline.check.rules",
        "pipeline.contract.schemas",
        "pipeline.load.seeds",
        "pipeline.check.rules",
    ]
