"""A publish killed at any moment leaves datapackage/ complete: the old package or the new one.

`pipeline publish` runs as a child process and is killed with SIGKILL while it builds and
swaps in a new package over an old one. PIPELINE_TEST_PAUSE_AT=locked stops the child
(SIGSTOP) once it holds the lock and has cleared leftovers of earlier runs, so the kill
delays, drawn with a fixed seed, fall inside the work of the publish itself rather than
inside Python's start-up. PIPELINE_TEST_PAUSE_AT=exchanged stops it just after the swap,
with the old package still lying in the temporary folder.

After every kill the folder must hash exactly like one of the two expected trees and its
descriptor must match its files; the next run must remove what the killed one left.
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

from conftest import BASE_SEEDS, FIXTURES, ROOT

PIPELINE = ROOT / ".venv" / "bin" / "pipeline"
FRICTIONLESS = ROOT / ".venv" / "bin" / "frictionless"
EPOCH = "1601510400"  # 2020-10-01T00:00:00Z: `created` is the same in every run
KILLS = 20

pytestmark = pytest.mark.skipif(not PIPELINE.exists(), reason="needs the installed pipeline command")


def tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(out.name + "."))


def assert_descriptor_matches_files(out: Path) -> None:
    descriptor = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    for resource in descriptor["resources"]:
        for described in (resource, resource["parquet"]):
            data = (out / described["path"]).read_bytes()
            assert len(data) == described["bytes"], described["path"]
            assert "sha256:" + hashlib.sha256(data).hexdigest() == described["hash"], described["path"]


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    env.update(SOURCE_DATE_EPOCH=EPOCH, **extra)
    return env


def run_publish(seeds: Path, out: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([str(PIPELINE), "publish", "--seeds", str(seeds), "--out", str(out)],
                          capture_output=True, text=True, env=environment(), timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def start_paused(seeds: Path, out: Path, step: str) -> subprocess.Popen:
    """A publish stopped at `step` (or finished, if it never got there)."""
    child = subprocess.Popen([str(PIPELINE), "publish", "--seeds", str(seeds), "--out", str(out)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env=environment(PIPELINE_TEST_PAUSE_AT=step))
    _, status = os.waitpid(child.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), f"publish did not reach {step}"
    return child


def kill(child: subprocess.Popen) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    child.stderr.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Seed sets A and B, and the trees of A published and of B published over A."""
    root = tmp_path_factory.mktemp("crash")
    seeds_a = root / "seeds-a"
    shutil.copytree(BASE_SEEDS, seeds_a)
    seeds_b = root / "seeds-b"
    shutil.copytree(BASE_SEEDS, seeds_b)
    second = FIXTURES / "valid" / "astral-plane" / "seeds" / "wire-2020-10-01"
    shutil.copytree(second, seeds_b / second.name)
    annotations = seeds_b / second.name / "annotations.yaml"
    text = annotations.read_text(encoding="utf-8")
    start, end = text.index("actors:\n"), text.index("places:")
    annotations.write_text(text[:start] + "actors: []\n" + text[end:], encoding="utf-8")  # the actors of A serve

    old = root / "ref" / "datapackage"
    assert run_publish(seeds_a, old).returncode == 0
    old_copy = root / "old-package"
    shutil.copytree(old, old_copy)
    done = run_publish(seeds_b, old)
    assert done.returncode == 0, done.stderr
    assert "published" in done.stdout
    tree_a, tree_b = tree(old_copy), tree(old)
    assert tree_a != tree_b and tree_a.keys() == tree_b.keys()
    return {"a": seeds_a, "b": seeds_b, "old": old_copy, "tree_a": tree_a, "tree_b": tree_b, "root": root}


def reset(world, out: Path) -> None:
    """datapackage/ back to the old package; leftovers of a killed run stay for the next run to clear."""
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(world["old"], out)


def test_killed_publish_leaves_old_or_new_package(world):
    work = world["root"] / "work"
    work.mkdir()
    out = work / "datapackage"
    reset(world, out)

    # How long the publish works once it holds the lock: the span the kills are spread over.
    child = start_paused(world["b"], out, "locked")
    began = time.monotonic()
    child.send_signal(signal.SIGCONT)
    assert child.wait(timeout=120) == 0, child.stderr.read()
    child.stderr.close()
    span = time.monotonic() - began
    assert tree(out) == world["tree_b"]

    outcomes = {"old": 0, "new": 0}
    draw = random.Random(20200927)
    for number in range(KILLS):
        reset(world, out)
        child = start_paused(world["b"], out, "locked")
        assert [name for name in leftovers(out) if "tmp-" in name or "old-" in name] == [], \
            "the run did not clear what the killed one left"
        child.send_signal(signal.SIGCONT)
        time.sleep(draw.uniform(0.0, span * 1.05))
        kill(child)
        now = tree(out)
        assert now in (world["tree_a"], world["tree_b"]), f"kill {number}: neither the old nor the new package"
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
    assert any(name.startswith("datapackage.tmp-") for name in leftovers(out)), "the old package should be left over"

    # The next run clears every leftover and ends with the new package, valid.
    done = run_publish(world["b"], out)
    assert done.returncode == 0, done.stderr
    assert tree(out) == world["tree_b"]
    assert [name for name in leftovers(out) if name != ".datapackage.lock"] == []
    assert outcomes["old"] > 0, outcomes  # the kills did land before the swap
    validated = subprocess.run([str(FRICTIONLESS), "validate", str(out / "datapackage.json")],
                               capture_output=True, text=True, timeout=120)
    assert validated.returncode == 0, validated.stdout[-2000:]
