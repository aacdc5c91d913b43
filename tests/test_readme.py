"""The README's "Load the data" examples run as written, on the committed package."""

from __future__ import annotations

import re

import duckdb
import pytest

from conftest import ROOT

SECTION = re.search(
    r"^## Load the data\n(.*?)^## ", (ROOT / "README.md").read_text(encoding="utf-8"), re.M | re.S
).group(1)
BLOCKS = re.findall(r"^```(\w+)\n(.*?)^```", SECTION, re.M | re.S)


def test_the_section_shows_python_and_sql():
    assert sorted({language for language, _ in BLOCKS}) == ["python", "r", "sql"]


@pytest.mark.parametrize(
    "code",
    [code for language, code in BLOCKS if language == "python"],
    ids=lambda code: code.splitlines()[-1][:40],
)
def test_python_example_runs(code, monkeypatch):
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    frames = [v for k, v in namespace.items() if not k.startswith("_") and hasattr(v, "shape")]
    assert frames and all(frame.shape[0] > 0 for frame in frames)


@pytest.mark.parametrize("query", [code for language, code in BLOCKS if language == "sql"])
def test_sql_example_runs(query, monkeypatch):
    monkeypatch.chdir(ROOT)
    rows = duckdb.sql(query.strip().rstrip(";")).fetchall()
    assert rows and all(len(row) == 3 for row in rows)
