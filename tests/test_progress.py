"""Progress: what the library tells, and the bar a command shows on a terminal.

Library functions tell an optional `progress` each step and count; without one they are silent.
A command shows a transient bar on stderr once its work has lasted a second, when stderr is a
terminal and CI is not set, never with --quiet; the bar is erased when the work ends, so the
lines printed are those printed without it, and stdout of --json stays the JSON alone. The
commands run here in a pseudo-terminal (Python's pty), as in a real one.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from bench.synth import write_corpus
from pipeline import progress
from pipeline.build import parallel
from pipeline.check.run import check_seeds
from pipeline.cli import app
from pipeline.contract import schemas
from pipeline.publish import publish
from pipeline.report.site import build_report
from pipeline.validate.run import validate_path

from conftest import BASE_SEEDS, command_env, installed

PIPELINE = installed("pipeline")
DOCS = 300  # checked in about 2 s alone, 5 s under load: the bar appears after 1 s
HIDE, SHOW = "\x1b[?25l", "\x1b[?25h"  # the cursor hidden while a bar is drawn, shown again
FILES = 2 * len(schemas.PACKAGE_TABLES)  # a CSV file and its Parquet twin per table
CHECKED = [
    ("reading sources", 0, 1),
    ("reading sources", 1, 1),
    ("reading annotations", 0, 1),
    ("reading annotations", 1, 1),
    ("checking constraints", 0, 0),
    ("checking keys", 0, 0),
]
WRITTEN = [("writing CSV", 0, 0), ("writing Parquet", 0, 0)]
WRITTEN += [("writing the descriptor and datasheet", 0, 0)]


def counting(what: str, total: int) -> list[tuple[str, int, int]]:
    return [(what, done, total) for done in range(total + 1)]


VALIDATED = counting("validating files", FILES) + [("validating keys across files", 0, 0)]


class Heard(list):
    """A Progress that keeps what it is told."""

    def __call__(self, what: str, done: int = 0, total: int = 0) -> None:
        self.append((what, done, total))


# ---- what the library tells ----


def test_check_tells_the_folders_read_then_each_check():
    heard = Heard()
    check_seeds(BASE_SEEDS, heard)
    assert heard == CHECKED


def test_publish_tells_the_check_each_file_written_the_validation_and_the_swap(tmp_path):
    heard, again = Heard(), Heard()
    publish(BASE_SEEDS, tmp_path / "datapackage", progress=heard)
    assert heard == CHECKED + WRITTEN + VALIDATED + [("swapping in", 0, 0)]
    # unchanged: nothing swapped (without the cache, whose memo would skip the build altogether)
    publish(BASE_SEEDS, tmp_path / "datapackage", progress=again, use_cache=False)
    assert again == CHECKED + WRITTEN + [("comparing with the published package", 0, 0)]


@pytest.mark.parametrize("parquet, files", [(True, FILES), (False, FILES // 2)])
def test_validate_tells_the_files_checked(published_minimal, parquet, files):
    heard = Heard()
    validate_path(published_minimal, parquet, progress=heard)
    assert heard == counting("validating files", files) + [("validating keys across files", 0, 0)]


def test_report_tells_its_validation_and_check_then_each_page(published_minimal, tmp_path):
    heard = Heard()
    pages = build_report(published_minimal, BASE_SEEDS, tmp_path / "report", heard)
    assert heard == [
        ("reading the package", 0, 0),
        *VALIDATED,
        *CHECKED,
        *counting("writing pages", len(pages)),
    ]


def test_synth_tells_each_document_written(tmp_path):
    heard = Heard()
    write_corpus(tmp_path / "corpus", 3, progress=heard)
    assert heard == [("generating documents", 0, 0), *counting("writing documents", 3)]


@given(st.lists(st.lists(st.integers(), max_size=4), max_size=6))
def test_counted_passes_each_result_on_and_tells_the_items_done(runs):
    heard = Heard()
    mapped = parallel.counted(map, "reading", heard)
    assert list(mapped(len, runs)) == [len(run) for run in runs]
    done = [sum(map(len, runs[:i])) for i in range(len(runs) + 1)]
    assert heard == [("reading", n, done[-1]) for n in done]


# ---- when a command shows it ----


@pytest.mark.parametrize(
    "quiet, forced, ci, terminal, shown",
    [
        (False, None, None, True, True),
        (False, None, None, False, False),  # a pipe or a file: CI logs stay clean
        (False, None, "true", True, False),
        (True, None, None, True, False),
        (False, "1", "true", False, True),  # asked for
        (True, "1", None, True, False),  # --quiet wins
        (False, "0", None, True, False),
    ],
)
def test_the_bar_is_wanted_on_a_terminal_outside_ci_unless_quiet(
    quiet, forced, ci, terminal, shown, monkeypatch
):
    for name, value in (("PIPELINE_PROGRESS", forced), ("CI", ci)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: terminal)
    assert progress.wanted(quiet) is shown


def test_work_quicker_than_the_delay_shows_nothing(capsys, monkeypatch):
    monkeypatch.setenv("PIPELINE_PROGRESS", "1")
    with progress.Display(delay=60) as display:
        display("reading annotations", 1, 2)
    assert (capsys.readouterr(), display.cleared) == (("", ""), False)


def test_the_bar_is_drawn_then_erased_with_the_cursor_shown(capsys, monkeypatch):
    monkeypatch.setenv("PIPELINE_PROGRESS", "1")
    parts: list[str] = []

    def drawn() -> str:
        parts.append(capsys.readouterr().err)
        return "".join(parts)

    with progress.Display(delay=0) as display:
        display("reading annotations", 1, 2)
        assert wait_until(lambda: "reading annotations 1/2" in drawn())
    assert display.cleared
    assert drawn().endswith("\x1b[2K")  # the bar's line erased, the cursor at its start
    assert drawn().rfind(SHOW) > drawn().rfind(HIDE) >= 0


def test_the_command_line_imports_no_display_and_no_heavy_library():
    done = subprocess.run(
        [installed("python"), "-c", "import sys, pipeline.cli; print(*sorted(sys.modules))"],
        capture_output=True,
        text=True,
        env=command_env(),
        timeout=60,
    )
    heavy = {"rich.progress", "rich.live", "pyarrow", "pandas", "numpy", "jinja2", "frictionless"}
    assert (done.returncode, heavy & set(done.stdout.split())) == (0, set())


# ---- commands, in a terminal and out of one ----


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("progress") / "corpus"
    write_corpus(folder, DOCS)
    return folder


def wait_until(condition, timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def in_terminal(args: list[str], stdout_piped: bool = False, **env: str) -> tuple[int, str, str]:
    """Run `pipeline args` with stderr (and stdout, unless piped) a pseudo-terminal of 100
    columns; its exit code, what the terminal received, and stdout when piped."""
    child, terminal = start_in_terminal(args, stdout_piped, **env)
    shown = read_terminal(terminal, child)
    stdout = child.stdout.read() if child.stdout else ""
    return child.wait(timeout=60), shown, stdout


def start_in_terminal(
    args: list[str], stdout_piped: bool = False, **env: str
) -> tuple[subprocess.Popen, int]:
    import fcntl
    import termios

    terminal, side = pty.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    # CI unset unless asked for: the run itself may be in CI
    environment = {k: v for k, v in command_env().items() if k != "CI"}
    environment.update(TERM="xterm-256color", **env)
    child = subprocess.Popen(
        [str(PIPELINE), *args],
        stdin=side,
        stdout=subprocess.PIPE if stdout_piped else side,
        stderr=side,
        text=True,
        env=environment,
        start_new_session=True,
    )
    os.close(side)
    return child, terminal


def read_terminal(terminal: int, child: subprocess.Popen, until: str | None = None) -> str:
    """What the terminal receives until the command closes it (or, with `until`, until that text
    has come: then what came so far)."""
    received = b""
    end = time.monotonic() + 120
    try:
        while time.monotonic() < end:
            ready, _, _ = select.select([terminal], [], [], 0.1)
            if not ready:
                continue
            try:
                chunk = os.read(terminal, 65536)
            except OSError:  # EIO: every process holding the terminal has ended
                break
            if not chunk:
                break
            received += chunk
            if until is not None and until in received.decode("utf-8", "replace"):
                break
    finally:
        if until is None:
            os.close(terminal)
    return received.decode("utf-8", "replace")


def ok_line(corpus: Path) -> str:
    """The line `check` prints for the corpus, as a pipe receives it."""
    done = subprocess.run(
        [str(PIPELINE), "check", "--seeds", str(corpus)],
        capture_output=True,
        text=True,
        env=command_env(),
        timeout=120,
    )
    assert (done.returncode, done.stderr) == (0, "")
    return done.stdout


OK = (
    f"ok: {DOCS} sources, 5 count_conventions, 149 actors, 100 places, 4190 events, "
    "5422 statements, 1857 casualty_reports, 13394 evidence\n"
)


def test_off_a_terminal_check_prints_its_line_alone(corpus):
    assert ok_line(corpus) == OK


def test_on_a_terminal_check_shows_a_bar_then_erases_it(corpus):
    # without the cache, whose hits would make the check too quick for a bar
    code, shown, _ = in_terminal(["check", "--seeds", str(corpus), "--no-cache"])
    assert code == 0
    assert re.search(r"reading annotations \d+/300", shown), shown[-2000:]
    assert shown.rfind(SHOW) > shown.rfind(HIDE) >= 0
    assert shown.endswith("\x1b[2K" + OK.replace("\n", "\r\n"))  # on the erased line


@pytest.mark.parametrize("quiet", ["--quiet", "-q"])
def test_quiet_on_a_terminal_prints_the_line_alone(corpus, quiet):
    assert in_terminal(["check", "--seeds", str(corpus), quiet]) == (
        0,
        OK.replace("\n", "\r\n"),
        "",
    )


def test_ci_on_a_terminal_prints_the_line_alone(corpus):
    assert in_terminal(["check", "--seeds", str(corpus)], CI="true") == (
        0,
        OK.replace("\n", "\r\n"),
        "",
    )


def test_json_stdout_stays_the_json_while_the_terminal_shows_the_bar(corpus):
    code, shown, stdout = in_terminal(
        ["check", "--seeds", str(corpus), "--json", "--no-cache"], True
    )
    assert (code, stdout) == (0, check_json(OK))
    assert "reading annotations" in shown and shown.rfind(SHOW) > shown.rfind(HIDE)


CHECK_OK = (
    "ok: 1 sources, 1 count_conventions, 2 actors, 1 places, 1 events, 2 statements, "
    "1 casualty_reports, 7 evidence\n"
)


def check_json(ok: str) -> str:
    """What `check --json` prints for the seeds `check` answers with the line `ok`."""
    rows = {table: int(n) for n, table in re.findall(r"(\d+) (\w+)", ok)}
    return json.dumps({"valid": True, "problems": [], "rows": rows}, indent=2) + "\n"


@pytest.mark.parametrize("forced", ["1", None], ids=["bar-forced", "default"])
@pytest.mark.parametrize("quiet", [[], ["--quiet"], ["-q"]], ids=["", "quiet", "q"])
def test_every_command_prints_the_same_with_quiet_and_with_the_bar_forced(
    published_minimal, tmp_path, quiet, forced
):
    """Off a terminal, or with the bar forced on for work too quick to show it, each command
    prints what it always printed, --quiet or not."""
    out, report = tmp_path / "datapackage", tmp_path / "report"
    cases = [
        (["check", "--seeds", str(BASE_SEEDS)], CHECK_OK),
        (["check", "--seeds", str(BASE_SEEDS), "--json"], check_json(CHECK_OK)),
        (["validate", str(published_minimal)], f"valid: {published_minimal}\n"),
        (
            ["publish", "--seeds", str(BASE_SEEDS), "--out", str(out)],
            "published {out} version {v}\n",
        ),
        (
            ["report", "--package", str(published_minimal), "--seeds", str(BASE_SEEDS)]
            + ["--out", str(report)],
            f"wrote 15 pages to {report}; open {report / 'index.html'}\n",
        ),
    ]
    runner = CliRunner()
    for args, expected in cases:
        result = runner.invoke(app, args + quiet, env={"PIPELINE_PROGRESS": forced})
        if "{v}" in expected:  # the version is the new package's own
            version = json.loads((out / "datapackage.json").read_text())["version"]
            expected = expected.format(out=out, v=version)
        assert (result.exit_code, result.output) == (0, expected), args


def test_quiet_publish_leaves_out_the_note_that_it_waits_for_a_lock(published_copy):
    """The note is not the result: --quiet drops it; the refusal that ends the wait stays."""
    from pipeline.package import atomic

    args = ["publish", "--seeds", str(BASE_SEEDS), "--out", str(published_copy), "--wait", "0.1"]
    with atomic.publish_lock(published_copy, 0):  # held here: the command waits, then gives up
        loud = CliRunner().invoke(app, args)
        quiet = CliRunner().invoke(app, [*args, "--quiet"])
    note, refusal = loud.output.split("\n", 1)
    assert (loud.exit_code, quiet.exit_code) == (1, 1)
    assert note.startswith(f"waiting up to 0.1 s for the lock on {published_copy}, held by ")
    assert refusal.startswith(f"{published_copy}: another publish holds the lock (")
    assert quiet.output == refusal
