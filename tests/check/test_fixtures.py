"""`pipeline check` on folders of fixtures: valid sets pass, each invalid set reports exactly its problems."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app

from conftest import FIXTURES, assemble_case

VALID = sorted(p for p in (FIXTURES / "valid").iterdir() if p.is_dir())
INVALID = sorted(p for p in (FIXTURES / "invalid").iterdir() if p.is_dir())
runner = CliRunner()


@pytest.mark.parametrize("case", VALID, ids=[p.name for p in VALID])
def test_valid_fixture_passes(case: Path):
    result = runner.invoke(app, ["check", "--seeds", str(case / "seeds")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: ")


@pytest.mark.parametrize("case", INVALID, ids=[p.name for p in INVALID])
def test_invalid_fixture_reports_exact_problems(case: Path, tmp_path: Path):
    seeds = assemble_case(case, tmp_path)
    expected = [
        line
        for line in (case / "expected.txt").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    result = runner.invoke(app, ["check", "--seeds", str(seeds)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    assert lines[:-1] == expected
    assert lines[-1] == f"{len(expected)} problem(s) found."
