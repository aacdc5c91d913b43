"""A publish stopped at any moment leaves datapackage/ complete: the old package or the new one.

`pipeline publish` runs as a child process and is killed with SIGKILL, interrupted with
SIGINT or terminated with SIGTERM while it builds and swaps in a new package over an old
one. PIPELINE_TEST_PAUSE_AT=locked stops the child (SIGSTOP) once it holds the lock and
has cleared leftovers of earlier runs, so the delays, drawn with a fixed seed, fall inside
the work of the publish itself rather than inside Python's start-up.
PIPELINE_TEST_PAUSE_AT=exchanged stops it just after the swap, with the old package still
lying in the temporary folder.

After every kill the folder must hash exactly like one of the two expected trees and its
descriptor must match its files; the next run must remove what the killed one left. After
SIGINT or SIGTERM the run itself must clean up: one line, exit 130 or 143, and nothing
beside the package that a completed run would not leave there.

Names beside the package are not assumed: what lies there is every entry named after it
(`datapackage.*`, `.datapackage*`), compared with what a completed publish leaves.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (
    BASE_SEEDS,
    FIXTURES,
    PUBLISHED_EPOCH,
    beside,
    command_env,
    copy_package,
    installed,
    tree,
)

PIPELINE = installed("pipeline")
FRICTIONLESS = installed("frictionless")
EPOCH = PUBLISHED_EPOCH  # `created` is the same in every run, and that of the shared package
KILLS = 20
SIGNALLED = 3  # random moments per signal
STOPS = [(signal.SIGINT, 130, "interrupted\n"), (signal.SIGTERM, 143, "terminated\n")]


def folders_beside(out: Path, deep: bool = False) -> list[Path]:
    """Folders left beside `out` (and, with `deep`, every folder within them, where a package may be parked)."""
    found = [out.parent / name for name in beside(out) if (out.parent / name).is_dir()]
    return (
        found + [sub for folder in found for sub in folder.rglob("*") if sub.is_dir()]
        if deep
        else found
    )


def assert_descriptor_matches_files(out: Path) -> None:
    descriptor = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    for resource in descriptor["resources"]:
        for described in (resource, resource["parquet"]):
            data = (out / described["path"]).read_bytes()
            assert len(data) == described["bytes"], described["path"]
            assert "sha256:" + hashlib.sha256(data).hexdigest() == described["hash"], described[
                "path"
            ]


def run_publish(seeds: Path, out: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(PIPELINE), "publish", "--seeds", str(seeds), "--out", str(out)],
        capture_output=True,
        text=True,
        env=command_env(SOURCE_DATE_EPOCH=EPOCH),
        timeout=120,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def start_paused(seeds: Path, out: Path, step: str) -> subprocess.Popen:
    """A publish stopped at `step` (or finished, if it never got there)."""
    child = subprocess.Popen(
        [str(PIPELINE), "publish", "--seeds", str(seeds), "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=command_env(SOURCE_DATE_EPOCH=EPOCH, PIPELINE_TEST_PAUSE_AT=step),
    )
    _, status = os.waitpid(child.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), f"publish did not reach {step}"
    return child


def kill(child: subprocess.Popen) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    child.stderr.close()


def finish(child: subprocess.Popen) -> tuple[int, str]:
    """Exit status and stderr of a child that was sent a signal."""
    _, err = child.communicate(timeout=60)
    return child.returncode, err.decode()


@pytest.fixture(scope="module")
def world(tmp_path_factory, published_minimal: Path):
    """Seed sets A (the minimal seeds) and B, and the trees of A published (the shared package)
    and of B published over A."""
    root = tmp_path_factory.mktemp("crash")
    seeds_b = root / "seeds-b"
    shutil.copytree(BASE_SEEDS, seeds_b)
    second = FIXTURES / "valid" / "astral-plane" / "seeds" / "wire-2020-10-01"
    shutil.copytree(second, seeds_b / second.name)
    annotations = seeds_b / second.name / "annotations.yaml"
    text = annotations.read_text(encoding="utf-8")
    start, end = text.index("actors:\n"), text.index("places:")
    annotations.write_text(
        text[:start] + "actors: []\n" + text[end:], encoding="utf-8"
    )  # the actors of A serve
    (seeds_b / "changes.yaml").write_text(
        "changes:\n"
        + "".join(
            f"  - {{table: {table}, id: {ident}, reason: The second article.}}\n"
            for table, ident in [
                ("sources", "wire-2020-10-01"),
                ("statements", "armenia-geneva-talks"),
                ("statements", "azerbaijan-geneva-talks"),
            ]
        ),
        encoding="utf-8",
    )

    old = copy_package(published_minimal, root / "ref" / "datapackage")
    done = run_publish(seeds_b, old)
    assert done.returncode == 0, done.stderr
    assert "published" in done.stdout
    tree_a, tree_b = tree(published_minimal), tree(old)
    # B adds only the record of its release
    assert tree_a != tree_b and tree_b.keys() - tree_a.keys() == {"releases/0.2.0.json"}
    for package in (published_minimal, old):  # every run below ends with one of these: both valid
        validated = subprocess.run(
            [str(PIPELINE), "validate", str(package)], capture_output=True, text=True, timeout=120
        )
        assert validated.returncode == 0, validated.stderr[-2000:]
    world = {
        "b": seeds_b,
        "old": published_minimal,
        "tree_a": tree_a,
        "tree_b": tree_b,
        "root": root,
        "beside": beside(old),
    }  # what completed runs leave beside the package

    # How long the publish works once it holds the lock: the span the kills and signals are spread over.
    out = root / "timed" / "datapackage"
    reset(world, out)
    child = start_paused(seeds_b, out, "locked")
    began = time.monotonic()
    child.send_signal(signal.SIGCONT)
    assert child.wait(timeout=120) == 0, child.stderr.read()
    child.stderr.close()
    world["span"] = time.monotonic() - began
    assert tree(out) == tree_b
    return world


def reset(world, out: Path) -> None:
    """datapackage/ back to the old package; leftovers of a killed run stay for the next run to clear."""
    if out.exists():
        shutil.rmtree(out)
    copy_package(world["old"], out)


def test_killed_publish_leaves_old_or_new_package(world):
    work = world["root"] / "work"
    work.mkdir()
    out = work / "datapackage"
    span = world["span"]
    outcomes = {"old": 0, "new": 0}
    draw = random.Random(20200927)
    for number in range(KILLS):
        reset(world, out)
        child = start_paused(world["b"], out, "locked")
        assert folders_beside(out) == [], "the run did not clear what the killed one left"
        child.send_signal(signal.SIGCONT)
        time.sleep(draw.uniform(0.0, span * 1.05))
        kill(child)
        now = tree(out)
        assert now in (world["tree_a"], world["tree_b"]), (
            f"kill {number}: neither the old nor the new package"
        )
        outcomes["old" if now == world["tree_a"] else "new"] += 1
        assert_descriptor_matches_files(out)

    # Killed at the two steps that matter most: just holding the lock, and just after the swap.
    reset(world, out)
    kill(start_paused(world["b"], out, "locked"))
    assert tree(out) == world["tree_a"]
    reset(world, out)
    kill(start_paused(world["b"], out, "exchanged"))
    assert tree(out) == world["tree_b"]
    assert_descriptor_matches_files(out)
    assert any(world["tree_a"] == tree(folder) for folder in folders_beside(out, deep=True)), (
        "the old package should be left over"
    )

    # The next run clears every leftover and ends with the new package, valid.
    done = run_publish(world["b"], out)
    assert done.returncode == 0, done.stderr
    assert tree(out) == world["tree_b"]
    assert beside(out) == world["beside"]
    assert outcomes["old"] > 0, outcomes  # the kills did land before the swap
    validated = subprocess.run(
        [str(FRICTIONLESS), "validate", str(out / "datapackage.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert validated.returncode == 0, validated.stdout[-2000:]


@pytest.mark.parametrize("signum, code, line", STOPS, ids=[s.name for s, _, _ in STOPS])
def test_interrupted_publish_cleans_up_and_leaves_old_or_new_package(world, signum, code, line):
    out = world["root"] / f"stopped-{signum.name}" / "datapackage"

    # At the two paused steps: the signal waits while the run is stopped and lands as it resumes.
    for step, expected in (("locked", "tree_a"), ("exchanged", "tree_b")):
        reset(world, out)
        child = start_paused(world["b"], out, step)
        child.send_signal(signum)
        child.send_signal(signal.SIGCONT)
        assert finish(child) == (code, line), step
        assert tree(out) == world[expected], step
        assert beside(out) == world["beside"], f"{step}: the run left something beside the package"

    # At seeded random moments of its work; a signal that comes too late finds it finished.
    draw = random.Random(20201010 + signum)
    outcomes = {"old": 0, "new": 0}
    for number in range(SIGNALLED):
        reset(world, out)
        child = start_paused(world["b"], out, "locked")
        child.send_signal(signal.SIGCONT)
        time.sleep(draw.uniform(0.0, world["span"] * 1.05))
        child.send_signal(signum)
        status, err = finish(child)
        now = tree(out)
        assert now in (world["tree_a"], world["tree_b"]), (
            f"signal {number}: neither the old nor the new package"
        )
        assert (status, err) in ((code, line), (0, "")), f"signal {number}"
        assert status == code or now == world["tree_b"], (
            f"signal {number}: a completed run left the old package"
        )
        outcomes["old" if now == world["tree_a"] else "new"] += 1
        assert_descriptor_matches_files(out)
        assert beside(out) == world["beside"], (
            f"signal {number}: the run left something beside the package"
        )
    assert outcomes["old"] > 0, outcomes  # the signals did land before the swap
