"""`pipeline check --watch`: a save that adds a problem prints it as new, the save that fixes it
prints it as fixed, and Ctrl-C ends the watch with `interrupted` and exit 130."""

from __future__ import annotations

import queue
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from pipeline.check.run import check_seeds
from pipeline.check.watch import changes, counted, first_report, polling, saved_files, visible

from conftest import BASE_SEEDS, command_env, installed

WAIT = 120  # seconds: a bound, so a watch that never answers fails the test instead of hanging
ANNOTATIONS = "wire-2020-09-30/annotations.yaml"


def problems_after(seeds: Path, edit) -> list[str]:
    """The problem lines of a copy of `seeds` (also named seeds) with `edit` applied."""
    copy = seeds.parent / "expected" / "seeds"
    shutil.copytree(seeds, copy)
    edit(copy)
    # problem lines name files as the command does (absolute outside the current folder): as seeds
    return [
        str(p).replace(str(copy), str(seeds)) for p in check_seeds(copy, use_cache=False).problems
    ]


def break_country(seeds: Path) -> None:
    path = seeds / ANNOTATIONS
    path.write_text(path.read_text().replace("country: AZE", "country: XX", 1))


class Lines:
    """The lines a process writes, read by a thread so that every wait has a deadline."""

    def __init__(self, stream) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def next(self, count: int) -> list[str]:
        deadline = time.monotonic() + WAIT
        return [self.lines.get(timeout=max(0.1, deadline - time.monotonic())) for _ in range(count)]


# told by the operating system, and by watchfiles' polling (README: for file systems without
# notifications)
TOLD = {"notified": {}, "polled": {"WATCHFILES_FORCE_POLLING": "1"}}


@pytest.mark.parametrize("told", list(TOLD))
def test_watch_reports_new_and_fixed_problems_until_ctrl_c(told, tmp_path):
    seeds = tmp_path / "seeds"
    shutil.copytree(BASE_SEEDS, seeds)
    original = (seeds / ANNOTATIONS).read_text()
    broken = problems_after(seeds, break_country)
    assert broken  # the edit adds at least one problem
    watch = subprocess.Popen(
        [str(installed("pipeline")), "check", "--watch", "--seeds", str(seeds)],
        env=command_env(**TOLD[told]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out = Lines(watch.stdout)
        assert out.next(1) == ["no problems"]
        break_country(seeds)
        n = len(broken)
        expected_new = [f"new: {line}" for line in broken] + [f"{counted(n)} (0 fixed, {n} new)"]
        assert out.next(n + 1) == expected_new
        (seeds / ANNOTATIONS).write_text(original)
        expected_fixed = [f"fixed: {line}" for line in broken] + [f"no problems ({n} fixed, 0 new)"]
        assert out.next(n + 1) == expected_fixed
        watch.send_signal(signal.SIGINT)
        _, err = watch.communicate(timeout=WAIT)
    finally:
        watch.kill()  # a no-op once it has ended
        watch.wait()
    assert (watch.returncode, err) == (130, "interrupted\n")


@pytest.mark.parametrize(
    "args, code, said",
    [
        (
            ["--json", "--seeds", str(BASE_SEEDS)],
            2,
            "error: --watch prints changes for people; it cannot be combined with --json\n",
        ),
        (
            ["--seeds", "{missing}"],
            1,
            "{missing}: seeds folder not found (pass --seeds DIR)\n1 problem(s) found.\n",
        ),
    ],
    ids=["with-json", "missing-folder"],
)
def test_watch_that_cannot_start_says_so_once(args: list[str], code: int, said: str, tmp_path):
    missing = str(tmp_path / "none")
    done = subprocess.run(
        [str(installed("pipeline")), "check", "--watch"]
        + [arg.format(missing=missing) for arg in args],
        env=command_env(),
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert (done.returncode, done.stdout, done.stderr) == (code, "", said.format(missing=missing))


@pytest.mark.parametrize(
    "before, after, expected",
    [
        ([], [], ["no problems (0 fixed, 0 new)"]),
        (["a", "b"], ["b", "c"], ["fixed: a", "new: c", "2 problems (1 fixed, 1 new)"]),
        (["a"], [], ["fixed: a", "no problems (1 fixed, 0 new)"]),
        ([], ["a"], ["new: a", "1 problem (0 fixed, 1 new)"]),
    ],
)
def test_changes_lines(before, after, expected):
    assert changes(before, after) == expected


@pytest.mark.parametrize(
    "found, expected",
    [([], ["no problems"]), (["a", "b"], ["a", "b", "2 problems"])],
)
def test_first_report(found, expected):
    assert first_report(found) == expected


@pytest.mark.parametrize(
    "seeds, paths, expected",
    [
        ("seeds", ["{here}/seeds/a/annotations.yaml"], {"seeds/a/annotations.yaml"}),
        (
            "{here}/seeds",
            ["{here}/seeds/a/x", "{here}/seeds/b/y"],
            {"{here}/seeds/a/x", "{here}/seeds/b/y"},
        ),
        ("seeds", [], set()),
        # a folder made, removed or renamed: which of its files changed is not told
        ("seeds", ["{here}/seeds/a"], None),
        # count_conventions.yaml, changes.yaml: read every time, but a folder's entry too
        ("seeds", ["{here}/seeds/count_conventions.yaml"], None),
        ("seeds", ["{here}/seeds/a/annotations.yaml", "{here}/elsewhere/a/b"], None),
        ("seeds", ["{here}/seeds/a/b/c"], None),
    ],
)
def test_saved_files_are_named_as_the_check_names_them(seeds, paths, expected):
    here = str(Path.cwd())
    found = saved_files(Path(seeds.format(here=here)), [p.format(here=here) for p in paths])
    assert found == (None if expected is None else {e.format(here=here) for e in expected})


@pytest.mark.parametrize(
    "path, seen",
    [("/s/a/annotations.yaml", True), ("/s/a/.annotations.yaml.swp", False), ("/s/.git", False)],
)
def test_hidden_files_are_not_watched(path, seen):
    assert visible(None, path) is seen


@pytest.mark.parametrize(
    "value, polls",
    [(None, False), ("", False), ("false", False), ("Disabled", False), ("1", True), ("yes", True)],
)
def test_polling_is_asked_as_watchfiles_reads_its_variable(value, polls, monkeypatch):
    monkeypatch.delenv("WATCHFILES_FORCE_POLLING", raising=False)
    if value is not None:
        monkeypatch.setenv("WATCHFILES_FORCE_POLLING", value)
    assert polling() is polls
