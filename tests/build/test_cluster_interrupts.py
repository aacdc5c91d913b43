"""Ctrl-C, SIGTERM and SIGKILL end a command reading on a Dask cluster it started, cleanly.

As in tests/test_interrupts.py, the command runs in a session of its own: Ctrl-C is SIGINT to the
whole process group (the command, the cluster's worker processes), SIGTERM goes to the command
alone. The signal comes while the cluster starts (its first worker process exists) or while the
workers read the annotations (the command has stored the first run's results in the per-file
cache, and more runs are under way). The command prints one line, exits 130 or 143, and no
process of its session outlives it; killed, it leaves no worker behind either.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from test_interrupts import ENDED, children, send, sessions, start, wait_empty, wait_for

from bench.synth import write_corpus

DOCS = 600  # three runs of 200 folders for two workers: the last is read after the first is in
__all__ = ["sessions"]  # the fixture, used by name


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cluster-interrupts") / "seeds"
    write_corpus(out, DOCS, seed=7)
    return out


def reach(child, phase: str, cache: Path) -> None:
    wait_for(child, lambda: children(child.pid), "the cluster's first worker process", 120)
    if phase == "reading":
        wait_for(child, lambda: list(cache.glob("*/*.json")), "the first run's results", 300)


CASES = [
    ("starting", signal.SIGINT),
    ("reading", signal.SIGINT),
    ("reading", signal.SIGTERM),
]


@pytest.mark.parametrize("phase, signum", CASES, ids=[f"{p}-{s.name}" for p, s in CASES])
def test_a_signal_ends_the_command_and_its_cluster(phase, signum, corpus, tmp_path, sessions):
    cache = tmp_path / "cache"
    child = start(
        ["check", "--seeds", str(corpus), "--scheduler", "dask"], PIPELINE_CACHE_DIR=str(cache)
    )
    sessions.append(child)
    reach(child, phase, cache)
    send(child, signum)
    stdout, stderr = child.communicate(timeout=120)
    assert (child.returncode, stderr, stdout) == (*ENDED[signum], "")
    assert wait_empty(child.pid, timeout=30) == [], "processes of the command outlived it"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]


def test_the_workers_die_with_a_killed_command(corpus, tmp_path, sessions):
    cache = tmp_path / "cache"
    child = start(
        ["check", "--seeds", str(corpus), "--scheduler", "dask"], PIPELINE_CACHE_DIR=str(cache)
    )
    sessions.append(child)
    reach(child, "reading", cache)
    child.send_signal(signal.SIGKILL)
    stdout, stderr = child.communicate(timeout=60)  # orphaned workers would hold the pipes open
    assert (child.returncode, stderr, stdout) == (-signal.SIGKILL, "", "")
    assert wait_empty(child.pid, live_only=True, timeout=30) == []
