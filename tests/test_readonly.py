"""Commands that only read (check, coverage, diff, history, validate, report) never change seeds/ or datapackage/.

Each runs in a project folder holding seeds/ and a published datapackage/, with valid
seeds, with hostile seeds, and with a tampered package; every file is hashed before and
after. Every command of the CLI is either one of these readers or one that writes by design.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pipeline.cli import app

from conftest import BASE_SEEDS, FIXTURES, assemble_case, copy_package, tree

READERS = ["check", "coverage", "diff", "history", "validate", "report"]
WRITERS = {
    "annotation-schema": "writes schemas/annotation.schema.json",
    "ingest": "adds a source to seeds/",
    "publish": "replaces datapackage/",
    "release": "writes a zip of the package into dist/",
    "database": "writes a SQLite database of the package and its metadata into dist/",
}
COMMANDS = typer.main.get_command(app).commands
runner = CliRunner()


def test_every_command_is_a_reader_or_a_writer():
    assert sorted(COMMANDS) == sorted(READERS + list(WRITERS))


@pytest.fixture(params=["valid", "hostile-seeds", "tampered-package"])
def project(request, tmp_path: Path, published_minimal: Path, monkeypatch) -> Path:
    """A project folder (the working directory) with seeds/ and datapackage/."""
    folder = tmp_path / "project"
    folder.mkdir()
    if request.param == "hostile-seeds":
        assemble_case(FIXTURES / "invalid" / "yaml-alias-bomb", folder)
        (folder / "seeds" / "wire-2020-09-30" / "text.txt").write_bytes(
            b"\xef\xbb\xbfCRLF text\r\n"
        )
    else:
        shutil.copytree(BASE_SEEDS, folder / "seeds")
    copy_package(published_minimal, folder / "datapackage")
    if request.param == "tampered-package":
        data = folder / "datapackage" / "data" / "actors.csv"
        data.write_bytes(data.read_bytes().replace(b"Armenia", b"Armenia!", 1))
        (folder / "datapackage" / "data" / "events.parquet").write_bytes(b"PAR1 not parquet")
    monkeypatch.chdir(folder)
    return folder


def invocations(name: str) -> list[list[str]]:
    """The command with its required arguments filled in, without and with --json."""
    command = COMMANDS[name]
    required = [
        "datapackage"
        for param in command.params
        if param.param_type_name == "argument" and param.required
    ]
    calls = [[name, *required]]
    if any("--json" in getattr(param, "opts", []) for param in command.params):
        calls.append([name, *required, "--json"])
    return calls


@pytest.mark.parametrize("name", READERS)
def test_reading_commands_write_nothing(name: str, project: Path):
    before = (tree(project / "seeds", stat=True), tree(project / "datapackage", stat=True))
    for args in invocations(name):
        result = runner.invoke(app, args)
        assert "Traceback" not in result.output, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(
            result.exception
        )
        assert (
            tree(project / "seeds", stat=True),
            tree(project / "datapackage", stat=True),
        ) == before, f"'{' '.join(args)}' wrote"
