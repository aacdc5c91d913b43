"""Problem lines name their files from the current folder, so that `file:line` opens in an editor
from wherever the command ran: relative inside it, absolute outside it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.contract.problems import path_for_people

from conftest import FIXTURES, assemble_case

runner = CliRunner()
CASE = FIXTURES / "invalid" / "actor-own-parent"
FAULT = "9: actors/azerbaijan: parent_actor_id: an actor cannot be its own parent"


@pytest.mark.parametrize(
    ("cwd", "seeds_arg", "shown"),
    [
        # inside the current folder: relative, whatever way --seeds was written
        ("work", "{tmp}/work/seeds", "seeds/wire-2020-09-30/annotations.yaml"),
        ("work", "seeds", "seeds/wire-2020-09-30/annotations.yaml"),
        (".", "work/seeds", "work/seeds/wire-2020-09-30/annotations.yaml"),
        ("work/seeds", ".", "wire-2020-09-30/annotations.yaml"),
        ("work/seeds/wire-2020-09-30", "..", "annotations.yaml"),
        # outside it: absolute, even when --seeds was written relative
        ("elsewhere", "{tmp}/work/seeds", "{tmp}/work/seeds/wire-2020-09-30/annotations.yaml"),
        ("elsewhere", "../work/seeds", "{tmp}/work/seeds/wire-2020-09-30/annotations.yaml"),
        (
            "elsewhere/..",
            "work/../elsewhere/../work/seeds",
            "work/seeds/wire-2020-09-30/annotations.yaml",
        ),
    ],
)
def test_check_names_files_from_the_current_folder(
    cwd: str, seeds_arg: str, shown: str, tmp_path: Path, monkeypatch
):
    tmp = tmp_path.resolve()
    (tmp / "work").mkdir()
    (tmp / "elsewhere").mkdir()
    assemble_case(CASE, tmp / "work")
    monkeypatch.chdir(tmp / cwd)
    result = runner.invoke(app, ["check", "--seeds", seeds_arg.format(tmp=tmp)])
    assert result.exit_code == 1
    expected = f"{shown.format(tmp=tmp)}:{FAULT}"
    assert result.output.splitlines() == [expected, "1 problem(s) found."]
    as_json = runner.invoke(app, ["check", "--json", "--seeds", seeds_arg.format(tmp=tmp)])
    assert [p["file"] for p in json.loads(as_json.stdout)["problems"]] == [shown.format(tmp=tmp)]


def test_publish_and_coverage_name_files_as_check_does(tmp_path: Path, monkeypatch):
    tmp = tmp_path.resolve()
    seeds = assemble_case(CASE, tmp / "work")
    monkeypatch.chdir(tmp / "work")
    published = runner.invoke(app, ["publish", "--seeds", "seeds", "--out", str(tmp / "out")])
    covered = runner.invoke(app, ["coverage", "--seeds", str(seeds)])
    assert (published.exit_code, covered.exit_code) == (1, 1)
    line = f"seeds/wire-2020-09-30/annotations.yaml:{FAULT}"
    assert published.output.splitlines() == [line, "1 problem(s) found."]
    assert covered.output.splitlines()[0] == line


@pytest.mark.parametrize(
    ("cwd", "path", "shown"),
    [
        ("a", "b/c.yaml", "b/c.yaml"),
        ("a", "{tmp}/a/b/c.yaml", "b/c.yaml"),
        ("a", "./b/../b/c.yaml", "b/c.yaml"),
        ("a", "../x/c.yaml", "{tmp}/x/c.yaml"),
        ("a", "{tmp}/ab/c.yaml", "{tmp}/ab/c.yaml"),  # a sibling whose name starts alike
        ("a/b", "..", "{tmp}/a"),
        ("a", ".", "."),
    ],
)
def test_path_for_people(cwd: str, path: str, shown: str, tmp_path: Path, monkeypatch):
    tmp = tmp_path.resolve()
    (tmp / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp / cwd)
    assert path_for_people(Path(path.format(tmp=tmp))) == shown.format(tmp=tmp)


def test_path_for_people_in_a_removed_folder_keeps_the_path_as_given(tmp_path: Path, monkeypatch):
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    assert path_for_people(Path("seeds/x.yaml")) == "seeds/x.yaml"
