"""Read seeds/ into tables, spreading the annotation files over the machine's cores.

Folders are cut into runs of consecutive folders, read by worker processes. Sources
and their texts are read first; then other workers, forked so that they share every
source already read, parse each run's annotation files and build its rows, which
come back in folder order. The result is the same as reading every file here, one by one: the
rows in the same order, the same problems. The rules that look at one record and
its own evidence (given by the caller, pipeline.check) run in the workers too, on each
run's rows. Small corpora are read
here directly, where starting workers would cost more than it saves.

Only the parent answers Ctrl-C and SIGTERM: workers ignore SIGINT (a terminal sends it
to the whole process group), end silently when the pool terminates them, and are killed
by the kernel when their parent dies, however it dies. Whatever ends the read, the pool
is terminated and joined before the exception goes on.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.build.collector import collector_paused
from pipeline.build.tables import Tables, add_record_rows, add_source_rows
from pipeline.contract.problems import Problem
from pipeline.contract.schemas import annotation_json_schema
from pipeline.load.seeds import Corpus, load_annotations, load_sources, source_folders
from pipeline.load.structure import validators
from pipeline.progress import STOP_SIGNALS, Progress, or_silent, signals_held

PARALLEL_MIN_FOLDERS = (
    400  # measured: 400 documents are checked as fast (1.8 s) in one process as with workers
)
FOLDERS_PER_RUN = 200
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>

_corpus: Corpus | None = None  # the sources, handed to forked workers
_context: tuple = ({}, {})  # what the record rules need from the sources and conventions
_rules: RecordRules | None = None


@dataclass(frozen=True)
class RecordRules:
    """Rules run on each run's rows as they are built: `context(tables)` is computed once from the
    source rows; `problems(tables, context)` gives the run's problems."""

    context: Callable[[Tables], tuple]
    problems: Callable[[Tables, tuple], list[Problem]]


def _build_run(folders: list[Path]) -> tuple[Tables, list, list[Problem]]:
    """Rows, exclusions and problems of the annotation files in `folders`."""
    if _corpus is None:
        raise RuntimeError("a run is built only after the sources are read")
    part = load_annotations(_corpus, folders)
    tables = Tables()
    problems = part.problems
    add_record_rows(part, tables, problems)
    if _rules is not None:
        problems += _rules.problems(tables, _context)
    return tables, part.exclusions, problems


def workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def read_and_build(
    seeds: Path, rules: RecordRules | None = None, progress: Progress | None = None
) -> tuple[Corpus, Tables, list[Problem]]:
    """The corpus (sources, exclusions), all its tables, every problem met reading them and the
    record rules'; `progress` hears how many folders have been read, sources then annotations."""
    with collector_paused():
        return _read_and_build(seeds, rules, or_silent(progress))


def _read_and_build(
    seeds: Path, rules: RecordRules | None, progress: Progress
) -> tuple[Corpus, Tables, list[Problem]]:
    global _corpus, _context, _rules
    listed = len(source_folders(seeds))
    count = min(workers(), -(-listed // FOLDERS_PER_RUN))
    parallel = (
        count >= 2
        and listed >= PARALLEL_MIN_FOLDERS
        and "fork" in multiprocessing.get_all_start_methods()
    )
    if parallel:
        with worker_pool(count) as sources_pool:
            corpus = load_sources(
                seeds, FOLDERS_PER_RUN, counted(sources_pool.imap, "reading sources", progress)
            )
    else:
        corpus = load_sources(seeds, FOLDERS_PER_RUN, counted(map, "reading sources", progress))
    problems = list(corpus.problems)
    tables = Tables()
    add_source_rows(corpus, tables, problems)
    _context = rules.context(tables) if rules else ({}, {})
    folders = corpus.annotation_folders
    runs = [folders[i : i + FOLDERS_PER_RUN] for i in range(0, len(folders), FOLDERS_PER_RUN)]
    _corpus, _rules = corpus, rules  # set before the fork: the workers inherit them
    try:
        if parallel:
            validators(annotation_json_schema())  # compiled once here rather than in every worker
            with worker_pool(count) as pool:
                mapped = counted(pool.imap, "reading annotations", progress)
                _gather(mapped(_build_run, runs), corpus, tables, problems)
        else:
            mapped = counted(map, "reading annotations", progress)
            _gather(mapped(_build_run, runs), corpus, tables, problems)
    finally:
        _corpus, _context, _rules = None, ({}, {}), None
    return corpus, tables, problems


def counted(mapper: Callable, what: str, progress: Progress) -> Callable:
    """`mapper` (map, or a pool's ordered imap) over runs of folders, telling `progress` how many
    folders are done as each run's result comes back."""

    def mapped(function: Callable, runs: list[list]) -> Iterator:
        total, done = sum(map(len, runs)), 0
        progress(what, done, total)
        for run, result in zip(runs, mapper(function, runs), strict=True):
            done += len(run)
            progress(what, done, total)
            yield result

    return mapped


def _gather(parts, corpus: Corpus, tables: Tables, problems: list[Problem]) -> None:
    """The runs' rows, exclusions and problems, added in folder order."""
    for part, exclusions, found in parts:
        tables.extend(part)
        corpus.exclusions += exclusions
        problems += found


@contextlib.contextmanager
def worker_pool(count: int):
    """A pool of `count` forked workers, terminated and joined however the block ends."""
    pool = None
    try:
        with signals_held():
            pool = multiprocessing.get_context("fork").Pool(
                count, initializer=_worker_start, initargs=(os.getpid(),)
            )
        yield pool
    finally:
        with (
            signals_held()
        ):  # a signal now would cut the clean-up short: it waits until the workers are gone
            if pool is not None:
                pool.terminate()  # the results are all in, or no longer wanted
                pool.join()


def _worker_start(parent: int) -> None:
    """First thing in each worker: leave Ctrl-C to the parent, end silently when terminated, die
    with the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(
        signal.SIGTERM, signal.SIG_DFL
    )  # not the parent's handler: Pool.terminate() must print nothing
    _die_with_parent()
    if (
        os.getppid() != parent
    ):  # the parent died before prctl took effect: nothing would kill this worker
        os._exit(1)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def _die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies, even by SIGKILL (on Linux).

    To the kernel the parent is the thread that forked: the main thread, or for a worker
    replacing one that died, a thread of the pool, which ends with the pool anyway.
    """
    import ctypes  # here: only workers need it

    libc = ctypes.CDLL(None, use_errno=True)
    if hasattr(libc, "prctl"):
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
