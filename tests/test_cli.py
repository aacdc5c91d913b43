"""The CLI through Typer's CliRunner: exit codes and exact messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app

runner = CliRunner()


def test_check_clean_seeds_exits_0(minimal_seeds: Path):
    result = runner.invoke(app, ["check", "--seeds", str(minimal_seeds)])
    assert result.exit_code == 0
    assert result.output == (
        "ok: 1 sources, 1 count_conventions, 2 actors, 1 places, 1 events, 2 statements, "
        "1 casualty_reports, 7 evidence\n"
    )


def test_check_json_lists_problems(minimal_seeds: Path):
    path = minimal_seeds / "wire-2020-09-30" / "annotations.yaml"
    path.write_text(path.read_text().replace("geo_precision: 1", "geo_precision: 9"))
    result = runner.invoke(app, ["check", "--json", "--seeds", str(minimal_seeds)])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert report["problems"] == [
        {
            "file": "seeds/wire-2020-09-30/annotations.yaml",
            "line": 21,
            "record": "places/terter",
            "field": "geo_precision",
            "message": "9 is not an allowed value",
            "hint": "allowed: 1, 2, 3, 4, 5, 6, 7",
        }
    ]


def test_usage_error_exits_2():
    result = runner.invoke(app, ["check", "--no-such-option"])
    assert result.exit_code == 2


def test_missing_seeds_folder_exits_1(tmp_path: Path):
    result = runner.invoke(app, ["check", "--seeds", str(tmp_path / "absent")])
    assert result.exit_code == 1
    assert "seeds folder not found" in result.output


def test_publish_refuses_invalid_seeds_and_keeps_old_package(minimal_seeds: Path, tmp_path: Path):
    out = tmp_path / "datapackage"
    assert (
        runner.invoke(app, ["publish", "--seeds", str(minimal_seeds), "--out", str(out)]).exit_code
        == 0
    )
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    path = minimal_seeds / "wire-2020-09-30" / "annotations.yaml"
    path.write_text(path.read_text().replace("killed_low: 2", "killed_low: 5"))
    result = runner.invoke(app, ["publish", "--seeds", str(minimal_seeds), "--out", str(out)])
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        "seeds/wire-2020-09-30/annotations.yaml:69: casualty_reports/terter-azerbaijan-claim: killed_high: "
        "killed_high 2 is before/below killed_low 5 (counts: killed_low must not exceed killed_high)"
    )
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["datapackage", "seeds"]


def test_publish_twice_is_a_no_op(minimal_seeds: Path, tmp_path: Path):
    out = tmp_path / "datapackage"
    first = runner.invoke(app, ["publish", "--seeds", str(minimal_seeds), "--out", str(out)])
    assert first.output == f"published {out} version 0.1.0\n"
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    second = runner.invoke(app, ["publish", "--seeds", str(minimal_seeds), "--out", str(out)])
    assert second.exit_code == 0
    assert second.output == f"unchanged: {out} stays at version 0.1.0\n"
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_ingest_normalises_and_refuses_duplicates(tmp_path: Path):
    raw = tmp_path / "article.txt"
    raw.write_bytes("\ufeffCafe\u0301 talks\r\nSecond line\r\n".encode("utf-8"))
    seeds = tmp_path / "seeds"
    result = runner.invoke(
        app, ["ingest", str(raw), "--seeds", str(seeds), "--publisher", "Wire", "--id", "wire-1"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:3] == [
        "normalised: removed byte order mark",
        "normalised: converted 2 CR/CRLF line ends to \\n",
        "normalised: normalised to NFC (1 code points fewer)",
    ]
    assert (seeds / "wire-1" / "text.txt").read_text(
        encoding="utf-8"
    ) == "Caf\u00e9 talks\nSecond line\n"
    again = runner.invoke(
        app, ["ingest", str(raw), "--seeds", str(seeds), "--publisher", "Wire", "--id", "wire-2"]
    )
    assert again.exit_code == 1
    assert (
        again.output.splitlines()[0]
        == f"{raw}: this text is already ingested as 'wire-1' (same sha256)"
    )
    clash = runner.invoke(
        app, ["ingest", str(raw), "--seeds", str(seeds), "--publisher", "Wire", "--id", "wire-1"]
    )
    assert clash.exit_code == 1
    assert "source id 'wire-1' is already taken" in clash.output


def test_ingest_refuses_binary_and_directories(tmp_path: Path):
    binary = tmp_path / "image.bin"
    binary.write_bytes(b"\x89PNG\x00\x01")
    result = runner.invoke(
        app, ["ingest", str(binary), "--seeds", str(tmp_path / "seeds"), "--publisher", "X"]
    )
    assert result.exit_code == 1
    assert (
        result.output.splitlines()[0]
        == f"{binary}: file is binary (contains NUL bytes), not text (ingest a plain-text file)"
    )
    result = runner.invoke(
        app, ["ingest", str(tmp_path), "--seeds", str(tmp_path / "seeds"), "--publisher", "X"]
    )
    assert result.exit_code == 1
    assert not (tmp_path / "seeds").exists()


def test_annotation_schema_is_up_to_date():
    result = runner.invoke(app, ["annotation-schema", "--check"])
    assert result.exit_code == 0, result.output


# ---- one exit-code policy: what each error a library function raises prints, and its code ----


def _input_error():
    from pipeline.contract.problems import InputError, Problem

    return InputError([Problem("a.txt", 3, "bad\x1b", "events/e-1", "summary", "fix it")])


def _unreadable():
    from pipeline.contract.problems import Problem
    from pipeline.report.site import UnreadablePackage

    return UnreadablePackage([Problem("pkg/datapackage.json", None, "no such file")])


def _bump_error():
    from pipeline.package.versions import BumpError

    return BumpError("--bump must be major, minor or patch, not 'huge'")


def _refused(code):
    from pipeline.package.atomic import Refused

    return lambda: Refused("out: the lock is held by pid 7", code)


def _package_error():
    from pipeline.package.reader import PackageError

    return PackageError("old: no datapackage.json")


PROBLEM_LINES = "a.txt:3: events/e-1: summary: bad\\x1b (fix it)\n1 problem(s) found.\n"
POLICY = {
    "ingest, invalid input": (
        "pipeline.load.ingest.ingest",
        ["ingest", "a.txt", "--publisher", "Wire"],
        _input_error,
        1,
        PROBLEM_LINES,
    ),
    "release, invalid package": (
        "pipeline.release.build_release",
        ["release"],
        _input_error,
        1,
        PROBLEM_LINES,
    ),
    "report, malformed package": (
        "pipeline.report.site.build_report",
        ["report"],
        _input_error,
        1,
        PROBLEM_LINES,
    ),
    "report, no package to read": (
        "pipeline.report.site.build_report",
        ["report"],
        _unreadable,
        2,
        "pkg/datapackage.json: no such file\n1 problem(s) found.\n",
    ),
    "publish, invalid seeds": (
        "pipeline.publish.publish",
        ["publish"],
        _input_error,
        1,
        PROBLEM_LINES,
    ),
    "publish, bump refused": (
        "pipeline.publish.publish",
        ["publish"],
        _bump_error,
        2,
        "error: --bump must be major, minor or patch, not 'huge'\n",
    ),
    "publish, refused with exit 2": (
        "pipeline.publish.publish",
        ["publish"],
        _refused(2),
        2,
        "out: the lock is held by pid 7\n",
    ),
    "publish, refused with exit 1": (
        "pipeline.publish.publish",
        ["publish"],
        _refused(1),
        1,
        "out: the lock is held by pid 7\n",
    ),
    "diff, unreadable package": (
        "pipeline.package.diff.diff_specs",
        ["diff", "old", "new"],
        _package_error,
        2,
        "error: old: no datapackage.json\n",
    ),
    "release, unreadable package": (
        "pipeline.release.build_release",
        ["release"],
        _package_error,
        1,
        "error: old: no datapackage.json\n",
    ),
}


@pytest.mark.parametrize(
    "function, args, error, code, output", list(POLICY.values()), ids=list(POLICY)
)
def test_every_command_ends_by_one_exit_policy(function, args, error, code, output, monkeypatch):
    raised = error()

    def fails(*args, **kwargs):
        raise raised

    monkeypatch.setattr(function, fails)
    result = runner.invoke(app, args)
    assert (result.exit_code, result.output) == (code, output)
