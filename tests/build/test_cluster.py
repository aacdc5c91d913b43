"""check and publish on a Dask cluster give exactly what they give on this machine's cores.

A cluster of two worker processes (two threads each, so that tasks share a worker's copy of the
sources) is started here for the module and stopped after it; the commands reach it by its
address. `--scheduler dask`, the cluster a command starts and stops itself, is run once. The
seeds are given by absolute paths (outside the folder the workers run in), so that problems name
their files alike in the command and on the workers.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import dask
import psutil
import pytest
from distributed import Client, LocalCluster
from typer.testing import CliRunner

from bench.synth import write_corpus
from pipeline.build import cluster
from pipeline.build import parallel as reading
from pipeline.check.run import check_seeds
from pipeline.cli import app

from conftest import BASE_SEEDS, FIXTURES, PUBLISHED_EPOCH, assemble_case, tree

runner = CliRunner()
VALID = sorted(p.name for p in (FIXTURES / "valid").iterdir() if p.is_dir())
# invalid cases for each layer that runs per folder, and for those across folders
INVALID = [
    "annotation-is-a-directory",
    "annotation-missing",
    "annotation-not-utf8",
    "dangling-evidence-source",
    "duplicate-key",
    "evidence-in-wrong-source",
    "id-clash-across-files",
    "misspelled-field",
    "quote-not-found",
    "source-metadata-missing",
    "text-not-utf8",
    "wrong-weekday",
    "yaml-syntax-error",
]


@pytest.fixture(scope="module")
def address() -> Iterator[str]:
    with LocalCluster(
        n_workers=2,
        threads_per_worker=2,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        silence_logs=logging.CRITICAL,
    ) as started:
        yield started.scheduler_address


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "seeds"
    write_corpus(out, 12, seed=5, plant_errors=True)
    return out


def seeds_of(case: str, tmp_path: Path) -> Path:
    if case in VALID:
        return FIXTURES / "valid" / case / "seeds"
    return assemble_case(FIXTURES / "invalid" / case, tmp_path)


def check_output(seeds: Path, *options: str):
    result = runner.invoke(app, ["check", "--json", "--no-cache", "--seeds", str(seeds), *options])
    return result.exit_code, result.stdout


# ---- the same results ----


@pytest.mark.parametrize("case", VALID + INVALID)
def test_check_on_the_cluster_prints_what_it_prints_here(case, tmp_path, address):
    seeds = seeds_of(case, tmp_path)
    here = check_output(seeds)
    assert here[0] == (0 if case in VALID else 1), here[1]
    assert check_output(seeds, "--scheduler", address) == here
    if case in INVALID:
        expected = (FIXTURES / "invalid" / case / "expected.txt").read_text("utf-8").split("\n")
        assert len(json.loads(here[1])["problems"]) == len([line for line in expected if line])


def test_rows_origins_and_problems_are_the_same_in_several_runs(planted, monkeypatch, address):
    """A planted corpus cut into runs of 3 folders, spread over the workers' threads."""
    monkeypatch.setattr(reading, "FOLDERS_PER_RUN", 3)
    one = check_seeds(planted, use_cache=False)
    many = check_seeds(planted, use_cache=False, scheduler=address)
    assert len(one.problems) >= 30 and one.tables.bad_cells
    assert [str(p) for p in many.problems] == [str(p) for p in one.problems]
    assert many.tables.rows == one.tables.rows
    assert many.tables.origins == one.tables.origins
    assert many.tables.bad_cells == one.tables.bad_cells
    assert many.tables.evidence_of == one.tables.evidence_of
    assert many.exclusions == one.exclusions


@pytest.mark.parametrize("case", VALID)
def test_publish_on_the_cluster_writes_the_same_bytes(case, tmp_path, address):
    seeds = seeds_of(case, tmp_path)
    packages = []
    for route, options in [("here", []), ("cluster", ["--scheduler", address])]:
        out = tmp_path / route / "datapackage"
        result = runner.invoke(
            app,
            ["publish", "--no-cache", "--seeds", str(seeds), "--out", str(out), *options],
            env={"SOURCE_DATE_EPOCH": PUBLISHED_EPOCH},
        )
        assert result.exit_code == 0, result.output
        packages.append(tree(out))
    assert packages[0] == packages[1] and "datapackage.json" in packages[0]


def test_the_cluster_route_writes_the_cache_entries_of_the_local_route(
    planted, tmp_path, monkeypatch, address
):
    """The command stores what the tasks return: the same entries as the local route's, which a
    later run on either route reads."""
    outputs, entries = [], []
    for route, options in [("here", []), ("cluster", ["--scheduler", address])]:
        monkeypatch.setenv("PIPELINE_CACHE_DIR", str(tmp_path / route))
        result = runner.invoke(app, ["check", "--seeds", str(planted), *options])
        outputs.append((result.exit_code, result.output))
        entries.append(cache_entries(tmp_path / route))
    assert outputs[0] == outputs[1] and outputs[0][0] == 1
    # a folder, an entry per annotation file, the snapshot of the sources, what the checks across
    # files found
    assert entries[0] == entries[1] and len(entries[0]) == 1 + 12 + 1 + 1
    again = runner.invoke(app, ["check", "--seeds", str(planted)])
    assert ((again.exit_code, again.output), cache_entries(tmp_path / "cluster")) == (
        outputs[0],
        entries[1],
    )


def cache_entries(folder: Path) -> dict[str, str]:
    """The cache's files but digests.json, which records when each file's digest was taken."""
    return {
        name: digest
        for name, digest in tree(folder).items()
        if name.split("/")[-1] != "digests.json"
    }


def test_dask_starts_a_cluster_of_its_own_and_stops_it(tmp_path):
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    here = check_output(BASE_SEEDS)
    assert check_output(BASE_SEEDS, "--scheduler", "dask") == here
    assert {p.pid for p in psutil.Process().children(recursive=True)} - before == set()


# ---- errors ----


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_scheduler_is_one_line_and_exit_3():
    where = f"tcp://127.0.0.1:{free_port()}"
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        result = runner.invoke(app, ["check", "--seeds", str(BASE_SEEDS), "--scheduler", where])
    assert (result.exit_code, result.output) == (
        3,
        f"error: cannot reach the Dask scheduler at {where} (Timed out trying to connect to "
        f"{where} after 1 s); start one (dask scheduler, dask worker) or pass --scheduler local "
        "or dask\n",
    )


def test_a_worker_that_dies_on_every_try_is_a_scheduler_error():
    def die(run):
        os._exit(1)

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        LocalCluster(
            n_workers=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.CRITICAL,
        ) as started,
        Client(started) as client,
    ):
        with pytest.raises(cluster.SchedulerError) as raised:
            list(cluster.dask_mapper(client)(die, [[1]]))
    assert str(raised.value) == (
        "a Dask worker died while reading seeds, as often as the scheduler retries a task "
        "(distributed.scheduler.allowed-failures)"
    )


def test_workers_that_see_other_seeds_are_refused(tmp_path, monkeypatch, address):
    """The workers run in another folder, whose seeds/ is empty: nothing is read there."""
    here, there = tmp_path / "here", tmp_path / "there"
    shutil.copytree(BASE_SEEDS, here / "seeds")
    (there / "seeds").mkdir(parents=True)
    monkeypatch.chdir(here)
    with Client(address) as client:
        workers = client.run(os.getcwd)
        client.run(os.chdir, str(there))
        try:
            result = runner.invoke(app, ["check", "--seeds", "seeds", "--scheduler", address])
        finally:
            for worker, folder in workers.items():
                client.run(os.chdir, folder, workers=[worker])
    assert (result.exit_code, result.output) == (
        3,
        f"error: the Dask worker {min(workers)} does not see the seeds folder seeds as this "
        "command does: the workers must see it at the same path, from the same working folder\n",
    )


@pytest.mark.parametrize(
    "value, message",
    [
        ("threads", "'threads' is not local, dask or the address of a Dask scheduler"),
        ("127.0.0.1:8786", "'127.0.0.1:8786' is not local, dask or the address of a Dask"),
    ],
)
def test_a_scheduler_that_is_none_is_a_usage_error(value, message):
    result = runner.invoke(app, ["check", "--seeds", str(BASE_SEEDS), "--scheduler", value])
    assert result.exit_code == 2
    assert message in " ".join(result.output.replace("│", " ").split())


def test_watch_takes_no_scheduler():
    result = runner.invoke(app, ["check", "--watch", "--scheduler", "dask"])
    assert (result.exit_code, result.output) == (
        2,
        "error: --watch checks again in this process; it cannot take --scheduler\n",
    )
