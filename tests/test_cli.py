"""The CLI through Typer's CliRunner: exit codes and exact messages; its help, version and shell
completion."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app

from conftest import ROOT, command_env, installed

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
        "seeds/wire-2020-09-30/annotations.yaml:70: casualty_reports/terter-azerbaijan-claim: killed_high: "
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


# ---- the command's own options: help, version, shell completion ----

# Help as an 80-column terminal shows it; rich pads each line to the width, so lines are compared
# without their trailing spaces.
HELP_ENV = {"COLUMNS": "80", "TERMINAL_WIDTH": None, "FORCE_COLOR": None}


def help_lines(args: list[str]) -> list[str]:
    result = runner.invoke(app, args, prog_name="pipeline", env=HELP_ENV)
    assert result.exit_code == 0, result.output
    return [line.rstrip() for line in result.output.splitlines()]


def test_help_lists_commands_options_and_exit_codes():
    assert help_lines(["--help"]) == [
        "",
        " Usage: pipeline [OPTIONS] COMMAND [ARGS]...",
        "",
        " Hand-annotated news articles -> validated tables -> versioned data package.",
        "",
        "╭─ Options ────────────────────────────────────────────────────────────────────╮",
        "│ --version                     Print the version and exit.                    │",
        "│ --install-completion          Install completion for the current shell.      │",
        "│ --show-completion             Show completion for the current shell, to copy │",
        "│                               it or customize the installation.              │",
        "│ --help                        Show this message and exit.                    │",
        "╰──────────────────────────────────────────────────────────────────────────────╯",
        "╭─ Commands ───────────────────────────────────────────────────────────────────╮",
        "│ ingest             Add an article to seeds/: normalised text, metadata and   │",
        "│                    an empty annotation file.                                 │",
        "│ check              Validate seeds/: structure, evidence, schemas, keys and   │",
        "│                    domain rules; report every problem.                       │",
        "│ publish            Check seeds/, build every table and publish the package   │",
        "│                    atomically into datapackage/.                             │",
        "│ coverage           List, per source, the sentences no evidence touches; exit │",
        "│                    1 if any is unexplained.                                  │",
        "│ annotation-schema  Regenerate schemas/annotation.schema.json from the table  │",
        "│                    schemas.                                                  │",
        "│ diff               Compare two packages: schema changes, rows added, removed │",
        "│                    and changed, the bump; exit 1 if they differ.             │",
        "│ history            Print the story of one row: one line per release that     │",
        "│                    added, corrected or removed it, with the reason.          │",
        "│ release            Zip the package reproducibly as                           │",
        "│                    dist/<name>-<version>.zip, with its sha256 beside it.     │",
        "│ database           Write the package as a SQLite database with its Datasette │",
        "│                    metadata, into dist/.                                     │",
        "│ validate           Validate a published package: schemas, keys, categories,  │",
        "│                    hashes, CSV and Parquet twins.                            │",
        "│ report             Build the review report: a static HTML site of the        │",
        "│                    package (texts, tables, charts, checks).                  │",
        "╰──────────────────────────────────────────────────────────────────────────────╯",
        "",
        " Exit codes:",
        " 0    ok",
        " 1    invalid input (every problem printed), or a fault no command foresaw;",
        "      diff: the packages differ; coverage: a sentence is unexplained",
        " 2    usage error, or a package that cannot be read (release exits 1)",
        " 3    check, publish --scheduler: the Dask scheduler cannot be reached,",
        "      or a worker was lost",
        " 130  interrupted (SIGINT)",
        " 141  output cut off: the reader of its pipe stopped reading (nothing printed)",
        " 143  terminated (SIGTERM)",
        "",
        "",
    ]


# The first line of each option's row: an on/off option shows no type (it takes no value); the
# others keep theirs.
OPTION_ROWS = {
    "check": [
        "│ --seeds              <path>              Folder of sources and annotations.  │",
        "│ --json                                   Machine-readable output.            │",
        "│ --no-cache                               Read every annotation file again;   │",
        "│ --watch                                  Check again whenever a file under   │",
        "│ --quiet      -q                          No progress bar (shown on stderr    │",
        "│ --scheduler          local|dask|ADDRESS  Where the annotation files are read │",
        "│ --help                                   Show this message and exit.         │",
    ],
    "publish": [
        "│ --seeds                 <path>              Folder of sources and            │",
        "│ --out                   <path>              Folder of the published package. │",
        "│ --dry-run                                   Print the diff and the version   │",
        "│ --bump                  major|minor|patch   Raise the bump the changes       │",
        "│ --wait                  SECONDS [x>=0]      Seconds to wait for another      │",
        "│ --history-from          PACKAGE             An earlier release (folder, zip  │",
        "│ --no-cache                                  Read every annotation file       │",
        "│ --quiet         -q                          No progress bar (shown on stderr │",
        "│ --scheduler             local|dask|ADDRESS  Where the annotation files are   │",
        "│ --partition-by          <source>            Write the Parquet twin of each   │",
        "│ --help                                      Show this message and exit.      │",
    ],
    "coverage": [
        "│ --seeds           <path>  Folder of sources and annotations.                 │",
        "│ --all                     Also list excluded sentences.                      │",
        "│ --json                    Machine-readable output.                           │",
        "│ --no-cache                Read every annotation file again; neither read nor │",
        "│ --help                    Show this message and exit.                        │",
    ],
    "annotation-schema": [
        "│ --check          Fail if the file is out of date.                            │",
        "│ --help           Show this message and exit.                                 │",
    ],
    "diff": [
        "│ --json          Machine-readable output.                                     │",
        "│ --help          Show this message and exit.                                  │",
    ],
    "validate": [
        "│ --json                                                  Machine-readable     │",
        "│ --max-errors                        <int range> [x>=0]  Errors to list per   │",
        "│ --parquet           --no-parquet                        Also check the       │",
        "│ --engine                            <arrow|duckdb|spar  What checks the      │",
        "│ --memory-limit                      SIZE                With --engine        │",
        "│ --spark-master                      URL                 With --engine spark: │",
        "│ --quiet         -q                                      No progress bar      │",
        "│ --help                                                  Show this message    │",
    ],
}


@pytest.mark.parametrize("command, rows", list(OPTION_ROWS.items()), ids=list(OPTION_ROWS))
def test_on_off_options_are_shown_as_flags(command, rows):
    lines = help_lines([command, "--help"])
    assert [line for line in lines if line.startswith("│ --")] == rows


# The version pyproject.toml declares, which the installed distribution carries.
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def test_version_is_the_installed_distribution():
    result = runner.invoke(app, ["--version"])
    assert (result.exit_code, result.output) == (0, f"pipeline {VERSION}\n")


# Run in a fresh interpreter: what `--version` imports, beside what the CLI imports to declare
# its options.
AFTER_VERSION = """
import sys
from pipeline.cli import main
sys.argv = ["pipeline", "--version"]
try:
    main()
except SystemExit as stop:
    print("exit", stop.code)
print(*sorted(name for name in sys.modules if name.startswith("pipeline")))
"""


def test_version_imports_no_stage():
    done = subprocess.run(
        [installed("python"), "-c", AFTER_VERSION],
        capture_output=True,
        text=True,
        env=command_env(),
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == [
        f"pipeline {VERSION}",
        "exit 0",
        "pipeline pipeline.cli pipeline.contract pipeline.contract.problems pipeline.validate "
        "pipeline.validate.errors",
    ]


BASH_COMPLETION = """\
_pipeline_completion() {
    local IFS=$'
'
    COMPREPLY=( $( env COMP_WORDS="${COMP_WORDS[*]}" \\
                   COMP_CWORD=$COMP_CWORD \\
                   _PIPELINE_COMPLETE=complete_bash $1 ) )
    return 0
}

complete -o default -F _pipeline_completion pipeline
"""


def in_bash(command: str, home: Path) -> subprocess.CompletedProcess[str]:
    """`command` run by bash, so that Typer finds bash as the shell; `; true` keeps bash from
    replacing itself with the command."""
    return subprocess.run(
        ["bash", "-c", f"{command}; true"],
        capture_output=True,
        text=True,
        env=command_env(HOME=str(home)),
        timeout=60,
    )


def test_show_completion_prints_the_bash_script(tmp_path: Path):
    done = in_bash(f"{installed('pipeline')} --show-completion", tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, BASH_COMPLETION, "")
    assert list(tmp_path.iterdir()) == []


def test_install_completion_writes_the_script_and_sources_it(tmp_path: Path):
    done = in_bash(f"{installed('pipeline')} --install-completion", tmp_path)
    script = tmp_path / ".bash_completions" / "pipeline.sh"
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        f"bash completion installed in {script}\n"
        "Completion will take effect once you restart the terminal\n",
        "",
    )
    # the script printed by --show-completion, without the newline printing adds
    assert script.read_text() + "\n" == BASH_COMPLETION
    assert (tmp_path / ".bashrc").read_text() == f"\nsource '{script}'\n"


COMPLETIONS = {
    "a command": ("pipeline pu", "1", "publish\n"),
    "an option": ("pipeline publish --d", "2", "--dry-run\n"),
    "the flag pair": ("pipeline validate --no", "2", "--no-parquet\n"),
}


@pytest.mark.parametrize(
    "words, cword, expected", list(COMPLETIONS.values()), ids=list(COMPLETIONS)
)
def test_completion_answers_bash(words, cword, expected):
    env = command_env(_PIPELINE_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=cword)
    done = subprocess.run(
        [installed("pipeline")], capture_output=True, text=True, env=env, timeout=60
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, expected, "")
