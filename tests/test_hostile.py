"""Hostile input: every command refuses it with located problems, never a traceback, and writes nothing.

Each folder of tests/fixtures/invalid goes through `check`, which must report exactly its
problems, and through `publish`, which must refuse it with the same problems and leave a
published package alone. The cases a git fixture cannot hold are built at run time:
symbolic links, a 100 MB annotation file, files nobody may read, and the inputs of
`pipeline ingest`.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.check.run import check_seeds
from pipeline.cli import app
from pipeline.load.spans import fold

from conftest import (
    BASE_SEEDS,
    FIXTURES,
    ROOT,
    assemble_case,
    assert_refused,
    command_env,
    installed,
    tree,
)

runner = CliRunner()
PIPELINE = installed("pipeline")
INVALID = sorted(p for p in (FIXTURES / "invalid").iterdir() if p.is_dir())
SOURCE = "wire-2020-09-30"
ASTRAL = FIXTURES / "valid" / "astral-plane" / "seeds"


def problem_lines(result) -> list[str]:
    lines = result.output.splitlines()
    assert lines and lines[-1] == f"{len(lines) - 1} problem(s) found.", result.output
    return lines[:-1]


# ---- the fixture catalogue, through every command that reads seeds ----


@pytest.mark.parametrize("case", INVALID, ids=[p.name for p in INVALID])
def test_invalid_case_is_reported_exactly_and_changes_nothing(
    case: Path, tmp_path: Path, published_copy: Path, monkeypatch
):
    seeds = assemble_case(case, tmp_path)
    monkeypatch.chdir(tmp_path)  # run beside seeds/, so problems name seeds/<source>/<file>
    out = published_copy
    before = (tree(seeds), tree(out))
    expected = [
        line
        for line in (case / "expected.txt").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]

    checked = runner.invoke(app, ["check", "--seeds", str(seeds)])
    assert_refused(checked)
    assert checked.output.splitlines() == [*expected, f"{len(expected)} problem(s) found."]

    as_json = runner.invoke(app, ["check", "--json", "--seeds", str(seeds)])
    assert_refused(as_json)
    report = json.loads(as_json.stdout)
    assert report["valid"] is False and len(report["problems"]) == len(expected)

    result = runner.invoke(app, ["publish", "--seeds", str(seeds), "--out", str(out)])
    assert_refused(result)
    assert problem_lines(result) == expected
    assert (tree(seeds), tree(out)) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["datapackage", "seeds"]


# ---- offsets are code points ----


def test_astral_characters_before_quotes_keep_code_point_offsets(tmp_path: Path):
    checked = check_seeds(ASTRAL)
    assert checked.problems == []
    text = checked.corpus.sources["wire-2020-10-01"].text
    rows = checked.tables.rows["evidence"]
    assert len(rows) == 4
    for row in rows:
        assert text[row["start"] : row["end"]] == row["exact"]
        assert row["end"] - row["start"] == len(row["exact"])
    by_id = {row["evidence_id"]: row for row in rows}
    claim = by_id["statements-azerbaijan-geneva-talks-1"]
    quote = "Azerbaijan said on Thursday that talks 😀 would begin in 𝔊eneva"
    assert claim["exact"] == quote and fold(claim["exact"]) == fold(quote)
    assert claim["start"] == text.index(quote)
    utf16_start = len(text[: claim["start"]].encode("utf-16-le")) // 2
    assert (
        utf16_start > claim["start"]
    )  # astral characters stand before the quote: UTF-16 would count more
    assert by_id["statements-armenia-geneva-talks-1"]["exact"] == "Armenia said it would attend"

    out = tmp_path / "datapackage"
    result = runner.invoke(app, ["publish", "--seeds", str(ASTRAL), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with open(out / "data" / "evidence.csv", encoding="utf-8", newline="") as handle:
        published = list(csv.DictReader(handle))
    assert len(published) == 4
    for row in published:
        assert text[int(row["start"]) : int(row["end"])] == row["exact"]


# ---- links and paths that would leave seeds/ (git fixtures cannot hold links) ----


def _linked(minimal_seeds: Path, tmp_path: Path, how: str) -> str:
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = minimal_seeds / SOURCE
    if how == "text":
        (outside / "secret.txt").write_text("secret\n")
        (folder / "text.txt").unlink()
        (folder / "text.txt").symlink_to(outside / "secret.txt")
        return (
            "seeds/wire-2020-09-30/source.yaml:7: sources/wire-2020-09-30: text_file: text_file 'text.txt' "
            "leaves the source folder (name a regular file inside the folder, e.g. text.txt)"
        )
    if how == "annotations":
        shutil.copyfile(folder / "annotations.yaml", outside / "annotations.yaml")
        (folder / "annotations.yaml").unlink()
        (folder / "annotations.yaml").symlink_to(outside / "annotations.yaml")
        return "seeds/wire-2020-09-30/annotations.yaml: annotation file is a link leaving seeds/ (use a regular file)"
    if how == "metadata":
        shutil.copyfile(folder / "source.yaml", outside / "source.yaml")
        (folder / "source.yaml").unlink()
        (folder / "source.yaml").symlink_to(outside / "source.yaml")
        return "seeds/wire-2020-09-30/source.yaml: file is a symbolic link (use a regular file inside seeds/)"
    if how == "conventions":
        shutil.copyfile(
            minimal_seeds / "count_conventions.yaml", outside / "count_conventions.yaml"
        )
        (minimal_seeds / "count_conventions.yaml").unlink()
        (minimal_seeds / "count_conventions.yaml").symlink_to(outside / "count_conventions.yaml")
        return "seeds/count_conventions.yaml: file is a symbolic link (use a regular file inside seeds/)"
    if how == "folder":
        shutil.move(folder, outside / SOURCE)
        folder.symlink_to(outside / SOURCE, target_is_directory=True)
        return (
            "seeds/wire-2020-09-30: source folder is a symbolic link "
            "(keep each source as a real folder inside seeds/)"
        )
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["text", "annotations", "metadata", "conventions", "folder"])
def test_symbolic_links_are_refused(how: str, minimal_seeds: Path, tmp_path: Path):
    expected = _linked(minimal_seeds, tmp_path, how)
    before = (tree(minimal_seeds), tree(tmp_path / "outside"))
    result = runner.invoke(app, ["check", "--seeds", str(minimal_seeds)])
    assert_refused(result)
    assert expected in problem_lines(result)
    assert (tree(minimal_seeds), tree(tmp_path / "outside")) == before


def bound_by_file_modes(command: list[str]) -> list[str]:
    """`command` run so that file modes bind it: as root (who reads any file otherwise) without the
    capabilities that override them."""
    if os.geteuid() != 0:
        return command
    dropped = "-dac_override,-dac_read_search"
    return ["setpriv", f"--bounding-set={dropped}", f"--inh-caps={dropped}", "--", *command]


def test_unreadable_annotation_file(minimal_seeds: Path):
    path = minimal_seeds / SOURCE / "annotations.yaml"
    path.chmod(0)
    try:
        done = subprocess.run(
            bound_by_file_modes([str(PIPELINE), "check", "--seeds", str(minimal_seeds)]),
            capture_output=True,
            text=True,
            env=command_env(),
            timeout=120,
        )
    finally:
        path.chmod(0o644)
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        "seeds/wire-2020-09-30/annotations.yaml: cannot read file: Permission denied\n"
        "1 problem(s) found.\n",
    )


# ---- size: refused before reading, without the memory to hold it ----


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _write_big(path: Path, size: int, line: bytes) -> None:
    chunk = line * (1024 * 1024 // len(line))
    with open(path, "wb") as handle:
        written = 0
        while written < size:
            handle.write(chunk)
            written += len(chunk)
        handle.truncate(size)


@pytest.mark.parametrize(
    "name, line, expected",
    [
        (
            "annotations.yaml",
            b"  - {quote: Azerbaijan said, reason: padding padding padding}\n",
            "seeds/wire-2020-09-30/annotations.yaml: file is 104.9 MB, over the 10 MB limit "
            "(split the annotations into several files)",
        ),
        (
            "text.txt",
            b"Azerbaijan said on Wednesday that the talks went on.\n",
            "seeds/wire-2020-09-30/text.txt: file is 104.9 MB; an article is far smaller "
            "(check that this is the article text)",
        ),
    ],
)
def test_huge_file_fails_fast_in_little_memory(
    name: str, line: bytes, expected: str, minimal_seeds: Path
):
    _write_big(minimal_seeds / SOURCE / name, 100 * 1024 * 1024, line)
    before = _peak_rss_mb()
    result = runner.invoke(app, ["check", "--seeds", str(minimal_seeds)])
    assert _peak_rss_mb() - before < 200
    assert_refused(result)
    assert problem_lines(result) == [expected]


# ---- ingest ----


@pytest.fixture
def ingest_world(minimal_seeds: Path, published_copy: Path):
    """seeds/ with one source, a published package beside it, and their hashes before the command."""
    return minimal_seeds, published_copy, (tree(minimal_seeds), tree(published_copy))


def _ingest(path: Path, seeds: Path, *extra: str):
    return runner.invoke(
        app, ["ingest", str(path), "--seeds", str(seeds), "--publisher", "Wire", *extra]
    )


def _text_of_base() -> bytes:
    return (BASE_SEEDS / SOURCE / "text.txt").read_bytes()


INGEST_CASES = {
    # name: (file content or a builder, extra options, the expected first line with {file} and {seeds})
    "directory": (
        "dir",
        ["--id", "new-1"],
        "{file}: is a directory, not a text file (ingest one file at a time)",
    ),
    "binary": (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        ["--id", "new-1"],
        "{file}: file is binary (contains NUL bytes), not text (ingest a plain-text file)",
    ),
    "empty": (
        b"",
        ["--id", "new-1"],
        "{file}: file is empty (no text) (ingest a file with the article text)",
    ),
    "blank": (
        b" \n\r\n\t\n",
        ["--id", "new-1"],
        "{file}: file is empty (no text) (ingest a file with the article text)",
    ),
    "not-utf8": (
        "Caf\u00e9 talks in Terter\n".encode("latin-1"),
        ["--id", "new-1"],
        "{file}:1: not valid UTF-8 (byte 0xe9 at offset 3) "
        "(convert the file to UTF-8 first, e.g. iconv -f latin1 -t utf-8)",
    ),
    "utf16": (
        "Talks\n".encode("utf-16"),
        ["--id", "new-1"],
        "{file}: file is binary (contains NUL bytes), not text (ingest a plain-text file)",
    ),
    "missing": (None, ["--id", "new-1"], "{file}: file not found"),
    "id-clash": (
        b"A new article about Terter.\n",
        ["--id", SOURCE],
        "{seeds}/wire-2020-09-30: source_id: source id 'wire-2020-09-30' is already taken (pass another --id)",
    ),
    "duplicate-text": (
        "base",
        ["--id", "new-1"],
        "{file}: this text is already ingested as 'wire-2020-09-30' (same sha256)",
    ),
    "duplicate-text-crlf": (
        "base-crlf",
        ["--id", "new-1"],
        "{file}: this text is already ingested as 'wire-2020-09-30' (same sha256)",
    ),
    "id-escapes-seeds": (
        b"A new article.\n",
        ["--id", "../escaped"],
        "{file}: source_id: source id '../escaped' is not a lowercase slug "
        "(pass --id with lowercase letters, digits and hyphens)",
    ),
    "id-absolute": (
        b"A new article.\n",
        ["--id", "/tmp/escaped"],
        "{file}: source_id: source id '/tmp/escaped' is not a lowercase slug "
        "(pass --id with lowercase letters, digits and hyphens)",
    ),
    "id-with-newline": (
        b"A new article.\n",
        ["--id", "new-1\n"],
        "{file}: source_id: source id 'new-1\\n' is not a lowercase slug "
        "(pass --id with lowercase letters, digits and hyphens)",
    ),
    "impossible-date": (
        b"A new article.\n",
        ["--id", "new-1", "--published", "2020-02-30"],
        "{file}: published_date: --published '2020-02-30' is not a yyyy-mm-dd date",
    ),
    "too-big": (
        "sparse",
        ["--id", "new-1"],
        "{file}: file is 25.2 MB; an article is far smaller (check that this is the article text)",
    ),
}


@pytest.mark.parametrize("name", sorted(INGEST_CASES))
def test_ingest_refuses_hostile_input_and_writes_nothing(name: str, tmp_path: Path, ingest_world):
    seeds, out, before = ingest_world
    content, extra, expected = INGEST_CASES[name]
    path = tmp_path / "incoming" / "article.txt"
    path.parent.mkdir()
    if content == "dir":
        path.mkdir()
    elif content == "base":
        path.write_bytes(_text_of_base())
    elif content == "base-crlf":
        path.write_bytes(b"\xef\xbb\xbf" + _text_of_base().replace(b"\n", b"\r\n"))
    elif content == "sparse":
        with open(path, "wb") as handle:
            handle.truncate(24 * 1024 * 1024 + 1)
    elif content is not None:
        path.write_bytes(content)
    result = _ingest(path, seeds, *extra)
    assert_refused(result)
    assert problem_lines(result)[0] == expected.format(file=path, seeds=seeds)
    assert (tree(seeds), tree(out)) == before


def test_ingest_into_a_file_instead_of_a_folder(tmp_path: Path):
    seeds = tmp_path / "seeds"
    seeds.write_text("not a folder\n")
    article = tmp_path / "article.txt"
    article.write_text("A new article.\n")
    result = _ingest(article, seeds, "--id", "new-1")
    assert_refused(result)
    assert problem_lines(result) == [f"{seeds}: seeds folder is not a folder (pass --seeds DIR)"]
    assert seeds.read_text() == "not a folder\n"


def test_ingest_usage_error_exits_2(tmp_path: Path, ingest_world):
    seeds, out, before = ingest_world
    article = tmp_path / "article.txt"
    article.write_text("A new article.\n")
    result = runner.invoke(
        app, ["ingest", str(article), "--seeds", str(seeds)]
    )  # --publisher is required
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert (tree(seeds), tree(out)) == before


def test_ingested_text_passes_check_after_normalising(tmp_path: Path, minimal_seeds: Path):
    """The texts check refuses (BOM, CRLF, NFD) are the ones ingest repairs: the hint works."""
    article = tmp_path / "article.txt"
    article.write_bytes(
        b"\xef\xbb\xbf" + "Talks\r\n\r\nArme\u0301nia said on Thursday it would talk.\r\n".encode()
    )
    result = _ingest(article, minimal_seeds, "--id", "wire-2020-10-01", "--published", "2020-10-01")
    assert result.exit_code == 0, result.output
    stored = (minimal_seeds / "wire-2020-10-01" / "text.txt").read_text(encoding="utf-8")
    assert stored == "Talks\n\nArm\u00e9nia said on Thursday it would talk.\n"
    checked = runner.invoke(app, ["check", "--seeds", str(minimal_seeds)])
    assert checked.exit_code == 0, checked.output


# ---- the last resort ----


def test_unexpected_fault_is_one_line_not_a_traceback(minimal_seeds: Path, monkeypatch):
    import pipeline.check.run

    def broken(seeds, *options, **named):
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(pipeline.check.run, "check_seeds", broken)
    result = runner.invoke(app, ["check", "--seeds", str(minimal_seeds)])
    assert result.exit_code == 1
    assert result.output == (
        "error: unexpected RuntimeError: disk on fire second line "
        "(set PIPELINE_DEBUG=1 for the traceback)\n"
    )


def test_unexpected_fault_through_the_console_entry(minimal_seeds: Path):
    program = (
        "import sys, pipeline.check.run\n"
        "def broken(seeds, *options, **named):\n    raise KeyError('boom')\n"
        "pipeline.check.run.check_seeds = broken\n"
        "from pipeline.cli import main\n"
        "sys.argv = ['pipeline', 'check', '--seeds', sys.argv[1]]\nmain()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PIPELINE_DEBUG"}
    done = subprocess.run(
        [sys.executable, "-c", program, str(minimal_seeds)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert (
        done.stderr
        == "error: unexpected KeyError: 'boom' (set PIPELINE_DEBUG=1 for the traceback)\n"
    )
