"""The README's "Load the data" examples run as written, on the committed package."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import duckdb
import pytest

from conftest import ROOT, installed

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


CI_SECTION = re.search(
    r"^## Validate in CI\n(.*?)^## ", (ROOT / "README.md").read_text(encoding="utf-8"), re.M | re.S
).group(1)
CI_COMMANDS = [
    line.split("#")[0].split() for line in CI_SECTION.splitlines() if line.startswith("    ")
]


@pytest.mark.parametrize("command", CI_COMMANDS, ids=lambda command: " ".join(command[:2]))
def test_validate_in_ci_command_runs_as_written(command):
    """Each command of "Validate in CI" runs from the project folder, with the project's environment."""
    assert command[0].startswith(".venv/bin/")
    program = installed(Path(command[0]).name)  # from the environment running the tests
    done = subprocess.run(
        [str(program), *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_validate_in_ci_shows_three_commands():
    assert [command[:2] for command in CI_COMMANDS] == [
        [".venv/bin/frictionless", "validate"],
        [".venv/bin/pipeline", "validate"],
        [".venv/bin/pipeline", "check"],
    ]
