"""The Makefile's targets: the exact command each would run (`make -n`), with ARGS= passed through
to it, and the header of `make help`."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from conftest import ROOT


def make(*args: str) -> subprocess.CompletedProcess[str]:
    """make in the project, with nothing from the caller's environment but PATH: no SEEDS, OUT or
    ARGS of theirs, and no MAKEFLAGS or MAKELEVEL of a make running the tests. `STAMP=` leaves
    out the virtualenv's install step, which runs only when requirements.lock changes."""
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
        timeout=60,
    )


# ARGS come last, so an option given there wins over the target's own (the last value counts).
RUNS = {
    "publish, dry run": (
        ["publish", "ARGS=--dry-run"],
        ".venv/bin/pipeline publish --seeds seeds --out datapackage --dry-run\n",
    ),
    "publish, no ARGS": (
        ["publish"],
        ".venv/bin/pipeline publish --seeds seeds --out datapackage \n",
    ),
    "check, as JSON": (
        ["check", "ARGS=--json"],
        ".venv/bin/pipeline check --seeds seeds --json\n",
    ),
    "coverage, every sentence": (
        ["coverage", "ARGS=--all --json"],
        ".venv/bin/pipeline coverage --seeds seeds --all --json\n",
    ),
    "validate-fast, CSV only": (
        ["validate-fast", "ARGS=--no-parquet --max-errors 5"],
        ".venv/bin/pipeline validate datapackage --no-parquet --max-errors 5\n",
    ),
    "report, other seeds": (
        ["report", "SEEDS=tests/fixtures/valid/minimal/seeds", "ARGS=--out report-minimal"],
        ".venv/bin/pipeline report --package datapackage --seeds tests/fixtures/valid/minimal/seeds "
        "--out report --out report-minimal\n",
    ),
    "release, other folder": (
        ["release", "ARGS=--out /tmp/releases"],
        ".venv/bin/pipeline release --package datapackage --out dist --out /tmp/releases\n"
        ".venv/bin/pipeline database --package datapackage --out dist --out /tmp/releases\n",
    ),
}


@pytest.mark.parametrize("args, command", list(RUNS.values()), ids=list(RUNS))
def test_target_passes_args_to_its_command(args, command):
    done = make("-n", "STAMP=", *args)
    assert (done.returncode, done.stdout, done.stderr) == (0, command, "")


def test_help_says_how_to_pass_args_then_lists_the_targets():
    done = make("help")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == [
        "make TARGET [ARGS=...]   ARGS: options for check, publish, coverage, validate-fast, "
        "report, release",
        "  make help          List the targets",
        "  make install       Create the virtualenv (reinstalls only when requirements.lock changes)",
        "  make check         Validate the annotations in seeds/ (every problem, file:line)",
        "  make publish       Check, build and publish datapackage/ (atomic, versioned)",
        "  make coverage      List sentences of each source that no evidence covers",
        "  make validate      Validate the published package with frictionless",
        "  make lint          Lint, check the formatting and the types (ruff, mypy)",
        "  make test          Lint, then run the test suite",
        "  make schema        Regenerate schemas/annotation.schema.json from the table schemas",
        "  make lock          Re-resolve dependencies from pyproject.toml into requirements.lock",
        "  make release       Zip the published package into dist/ (reproducible) with its .sha256, "
        "its SQLite database and Datasette metadata",
        "  make explore       Serve the package's SQLite database with Datasette on 127.0.0.1:8001 "
        "(PORT=), built into dist/ if needed",
        "  make validate-fast Validate the published package with pipeline validate (CSV and "
        "Parquet, all checks)",
        "  make conformance   Hold pipeline validate to frictionless: the conformance cases and "
        "2000 generated packages",
        "  make bench         Benchmark check, publish and validate on synthetic corpora; writes "
        "bench/RESULTS.md",
        "  make report        Build the HTML review report of the package into report/",
        "  make clean         Remove the virtualenv and caches",
    ]


def test_explore_builds_the_database_if_needed_then_serves_it(published_minimal, tmp_path):
    descriptor = json.loads((published_minimal / "datapackage.json").read_text(encoding="utf-8"))
    name = f"{descriptor['name']}-{descriptor['version']}".replace(".", "_")
    stem = f"{tmp_path}/{name}"
    package = f"{published_minimal}/datapackage.json"
    done = make(
        "-n", "STAMP=", "explore", f"OUT={published_minimal}", f"DIST={tmp_path}", "PORT=9001"
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == (
        f"test {stem}.db -nt {package} -a {stem}.metadata.json -nt {package} \\\n"
        f"\t|| .venv/bin/pipeline database --package {published_minimal} --out {tmp_path}\n"
        f".venv/bin/datasette serve -i {stem}.db -m {stem}.metadata.json --host 127.0.0.1 "
        "--port 9001\n"
    )
