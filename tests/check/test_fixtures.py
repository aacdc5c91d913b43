"""`pipeline check` on the folders of valid fixtures: each passes, with its counts.

Each invalid set (tests/fixtures/invalid) is run once, by tests/test_hostile.py, through
`check` (exactly its problems) and `publish` (refused, nothing changed).
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from pipeline.cli import app

from conftest import FIXTURES

VALID = sorted(p.name for p in (FIXTURES / "valid").iterdir() if p.is_dir())
COUNTS = {
    "astral-plane": "1 sources, 0 count_conventions, 2 actors, 0 places, 0 events, 2 statements, "
    "0 casualty_reports, 4 evidence",
    "minimal": "1 sources, 1 count_conventions, 2 actors, 1 places, 1 events, 2 statements, "
    "1 casualty_reports, 7 evidence",
    "opt-outs": "1 sources, 1 count_conventions, 2 actors, 1 places, 1 events, 2 statements, "
    "1 casualty_reports, 8 evidence",
}
runner = CliRunner()


def test_every_valid_fixture_has_its_counts():
    assert VALID == sorted(COUNTS)


@pytest.mark.parametrize("case", VALID)
def test_valid_fixture_passes(case: str):
    result = runner.invoke(app, ["check", "--seeds", str(FIXTURES / "valid" / case / "seeds")])
    assert (result.exit_code, result.output) == (0, f"ok: {COUNTS[case]}\n")
