"""Read seeds/ into tables, spreading the annotation files over the machine's cores or a Dask
cluster.

Folders are cut into runs of consecutive folders, read by worker processes. Sources
and their texts are read first; then other workers, forked so that they share every
source already read, parse each run's annotation files and build its rows, which
come back in folder order. The result is the same as reading every file here, one by one: the
rows in the same order, the same problems. The rules that look at one record and
its own evidence (given by the caller, pipeline.check) run in the workers too, on each
folder's rows, so that what one folder gives depends on that folder (and the sources its
evidence names) alone: with a cache (pipeline.build.cache), folders whose entry is still valid
are not read, and only the others go to the workers. Small numbers of folders are read
here directly, where starting workers would cost more than it saves.

Only the parent answers Ctrl-C and SIGTERM: workers ignore SIGINT (a terminal sends it
to the whole process group), end silently when the pool terminates them, and are killed
by the kernel when their parent dies, however it dies. Whatever ends the read, the pool
is terminated and joined before the exception goes on.

On a Dask cluster (pipeline.build.cluster: `--scheduler dask` or an address) the same runs of
folders are tasks, sources first, then annotations, every folder not in the cache whatever
their number; the rows come back in folder order all the same. The cache is read and written
here, in the command, never by the tasks (build_run_on_cluster); the checks across files
(keys, duplicates, foreign keys, coverage) are the caller's, here too.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.build.cache import DigestMemo, FolderCache, Part, Plan, SourceSnapshot
from pipeline.build.cluster import LOCAL
from pipeline.build.collector import collector_paused
from pipeline.build.tables import Tables, add_record_rows, add_source_rows
from pipeline.contract.problems import Problem
from pipeline.contract.schemas import annotation_json_schema
from pipeline.load.seeds import Corpus, load_annotations, load_sources, source_folders
from pipeline.load.structure import quick_validator
from pipeline.progress import STOP_SIGNALS, Progress, or_silent, signals_held

PARALLEL_MIN_FOLDERS = (
    400  # measured: 400 documents are checked as fast (1.8 s) in one process as with workers
)
FOLDERS_PER_RUN = 200
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>

_corpus: Corpus | None = None  # the sources, handed to forked workers
_context: tuple = ({}, {})  # what the record rules need from the sources and conventions
_rules: RecordRules | None = None
_plan: Plan | None = None


@dataclass(frozen=True)
class RecordRules:
    """Rules run on each run's rows as they are built: `context(tables)` is computed once from the
    source rows; `problems(tables, context)` gives one folder's problems; `cells(parts)`, given the
    tables of a run's folders, the problems of each (rules of single cells, run once per run)."""

    context: Callable[[Tables], tuple]
    problems: Callable[[Tables, tuple], list[Problem]]
    cells: Callable[[list[Tables]], list[list[Problem]]] | None = None


class _RecordingSources(dict):
    """The corpus's sources, noting which ones a folder's evidence looks up and whether a message
    lists them all: what a cached folder depends on besides its own file."""

    read: set[str]
    listed: bool

    def start(self) -> None:
        self.read, self.listed = set(), False

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __iter__(self):
        self.listed = True
        return super().__iter__()


def _build_folder(folder: Path) -> Part:
    """In a pool's worker: the folder's part."""
    if _corpus is None:
        raise RuntimeError("a folder is built only after the sources are read")
    return build_part(_corpus, _rules, _context, folder)


def build_part(corpus: Corpus, rules: RecordRules | None, context: tuple, folder: Path) -> Part:
    """Rows, exclusions and problems of one folder's annotation file, with the sources its
    evidence looked up (corpus.sources is a _RecordingSources)."""
    sources = corpus.sources
    if not isinstance(sources, _RecordingSources):
        raise RuntimeError("a folder is built with sources that record their lookups")
    sources.start()
    part = load_annotations(corpus, [folder])
    tables = Tables()
    problems = part.problems
    add_record_rows(part, tables, problems)
    if rules is not None:
        problems += rules.problems(tables, context)
    return Part(tables, part.exclusions, problems, sources.read, sources.listed)


def _build_run(folders: list[Path]) -> list[Part]:
    """The parts of consecutive folders, stored in the cache when one is in use."""
    parts = with_cell_problems([_build_folder(folder) for folder in folders], _rules)
    if _plan is not None:
        for folder, part in zip(folders, parts, strict=True):
            _plan.store(folder, part)
    return parts


def with_cell_problems(parts: list[Part], rules: RecordRules | None) -> list[Part]:
    """`parts`, each with the problems of its single cells added (run once for the whole run)."""
    if rules is not None and rules.cells is not None:
        for part, found in zip(parts, rules.cells([p.tables for p in parts]), strict=True):
            part.problems += found
    return parts


def build_run_on_cluster(folders: list[Path], shared: tuple) -> list[Part]:
    """A Dask task: the parts of a run of folders. `shared` (the corpus's sources, the record rules
    and their context) is the same object for every task of a worker, which may run several at
    once: each task records the sources its folders look up in a copy of its own. The client
    stores the parts in the cache: it lives on the command's machine, which a worker of a
    remote cluster may not reach."""
    corpus, rules, context = shared
    own = Corpus(
        corpus.root,
        sources=_RecordingSources(corpus.sources),
        unreadable_sources=corpus.unreadable_sources,
    )
    parts = [build_part(own, rules, context, folder) for folder in folders]
    return with_cell_problems(parts, rules)


def workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def read_and_build(
    seeds: Path,
    rules: RecordRules | None = None,
    cache: FolderCache | None = None,
    progress: Progress | None = None,
    scheduler: str = LOCAL,
) -> tuple[Corpus, Tables, list[Problem]]:
    """The corpus (sources, exclusions), all its tables, every problem met reading them and the
    record rules'. With a `cache`, folders whose entry is still valid are not read again;
    `progress` hears how many folders have been read, sources then annotations. `scheduler`
    (pipeline.build.cluster) says where the folders are read: LOCAL, this machine's cores; else
    a Dask cluster, every folder not in the cache (the checks across files stay with the caller).
    """
    with collector_paused():
        if scheduler == LOCAL:
            return _read_and_build(seeds, rules, cache, or_silent(progress))
        from pipeline.build.cluster import connected

        with connected(scheduler, seeds, workers()) as client:
            return _read_on_cluster(client, seeds, rules, cache, or_silent(progress))


def _read_and_build(
    seeds: Path, rules: RecordRules | None, cache: FolderCache | None, progress: Progress
) -> tuple[Corpus, Tables, list[Problem]]:
    global _corpus, _context, _rules, _plan
    fork = "fork" in multiprocessing.get_all_start_methods()
    digests = None if cache is None else DigestMemo(cache)
    corpus = _cached_sources(seeds, cache, digests, progress, _local_mapper(fork))
    listed = len(corpus.annotation_folders)
    count = min(workers(), -(-listed // FOLDERS_PER_RUN))
    parallel = count >= 2 and listed >= PARALLEL_MIN_FOLDERS and fork
    tables, problems, context = _source_rows(corpus, rules)
    folders = corpus.annotation_folders
    sources = corpus.sources
    corpus.sources = _RecordingSources(sources)
    # set before the fork: the workers inherit them
    _corpus, _rules, _context = corpus, rules, context
    _plan = None
    if cache is not None:
        _plan = Plan(cache, corpus, tables, context, rules is not None, digests)
    plan = _plan
    try:
        found = {} if _plan is None else _plan.lookup(folders)
        missing = [folder for folder in folders if folder not in found]
        runs = _runs(missing)
        if parallel and len(missing) >= PARALLEL_MIN_FOLDERS:
            quick_validator(annotation_json_schema())  # compiled here, not in every worker
            with worker_pool(count) as pool:
                mapped = counted(pool.imap, "reading annotations", progress, len(found))
                built = [part for run in mapped(_build_run, runs) for part in run]
        else:
            mapped = counted(map, "reading annotations", progress, len(found))
            built = [part for run in mapped(_build_run, runs) for part in run]
    finally:
        corpus.sources = sources
        _corpus, _context, _rules, _plan = None, ({}, {}), None, None
    found.update(zip(missing, built, strict=True))
    if plan is not None:
        for folder, part in zip(missing, built, strict=True):
            plan.keep(folder, part)
    return _finish(corpus, found, tables, problems, cache)


def _read_on_cluster(
    client, seeds: Path, rules: RecordRules | None, cache: FolderCache | None, progress: Progress
) -> tuple[Corpus, Tables, list[Problem]]:
    """As _read_and_build, each run of folders a task on the Dask cluster of `client`; the cache is
    looked up and written here (build_run_on_cluster says why)."""
    from pipeline.build.cluster import dask_mapper

    digests = None if cache is None else DigestMemo(cache)
    corpus = _cached_sources(
        seeds, cache, digests, progress, lambda unread: _given(dask_mapper(client))
    )
    tables, problems, context = _source_rows(corpus, rules)
    folders = corpus.annotation_folders
    plan = None
    if cache is not None:
        plan = Plan(cache, corpus, tables, context, rules is not None, digests)
    found = {} if plan is None else plan.lookup(folders)
    missing = [folder for folder in folders if folder not in found]
    sources = Corpus(corpus.root, corpus.sources, unreadable_sources=corpus.unreadable_sources)
    mapper = dask_mapper(client, shared=(sources, rules, context))
    mapped = counted(mapper, "reading annotations", progress, len(found))
    built = [part for run in mapped(build_run_on_cluster, _runs(missing)) for part in run]
    for folder, part in zip(missing, built, strict=True):
        found[folder] = part
        if plan is not None:
            plan.store(folder, part)
            plan.keep(folder, part)
    return _finish(corpus, found, tables, problems, cache)


def _local_mapper(fork: bool) -> Callable:
    """For a number of source folders to read, a context giving the mapper to read them with:
    forked workers for many, this process for few."""

    @contextlib.contextmanager
    def mapper(unread: int) -> Iterator[Callable]:
        count = min(workers(), -(-unread // FOLDERS_PER_RUN))
        if fork and count >= 2 and unread >= PARALLEL_MIN_FOLDERS:
            with worker_pool(count) as pool:
                yield pool.imap
        else:
            yield map

    return mapper


def _cached_sources(
    seeds: Path,
    cache: FolderCache | None,
    digests: DigestMemo | None,
    progress: Progress,
    mapper_for: Callable,
) -> Corpus:
    """The corpus's sources: those unchanged since a clean read from the cache, the others read
    through the mapper the context `mapper_for(number of folders to read)` gives, then kept in
    the cache."""
    folders = source_folders(seeds)
    snapshot = None if cache is None or digests is None else SourceSnapshot(cache, digests, seeds)
    known = {} if snapshot is None else snapshot.lookup(folders)
    unread = [folder for folder in folders if folder.name not in known]
    with mapper_for(len(unread)) as map_:
        reading = counted(map_, "reading sources", progress, len(known))
        corpus = load_sources(seeds, FOLDERS_PER_RUN, reading, known)
    if snapshot is not None:
        snapshot.store(corpus, unread)
    return corpus


@contextlib.contextmanager
def _given(mapper: Callable) -> Iterator[Callable]:
    """`mapper` as the context _cached_sources takes."""
    yield mapper


def _source_rows(corpus: Corpus, rules: RecordRules | None) -> tuple[Tables, list[Problem], tuple]:
    """The source rows, the problems met so far and the record rules' context."""
    problems = list(corpus.problems)
    tables = Tables()
    add_source_rows(corpus, tables, problems)
    return tables, problems, rules.context(tables) if rules else ({}, {})


def _runs(folders: list[Path]) -> list[list[Path]]:
    return [folders[i : i + FOLDERS_PER_RUN] for i in range(0, len(folders), FOLDERS_PER_RUN)]


def _finish(
    corpus: Corpus,
    found: dict[Path, Part],
    tables: Tables,
    problems: list[Problem],
    cache: FolderCache | None,
) -> tuple[Corpus, Tables, list[Problem]]:
    """Every folder's part gathered in folder order; the cache pruned to what this read used."""
    _gather([found[folder] for folder in corpus.annotation_folders], corpus, tables, problems)
    if cache is not None:
        cache.prune()
    return corpus, tables, problems


def counted(mapper: Callable, what: str, progress: Progress, done_before: int = 0) -> Callable:
    """`mapper` (map, or a pool's ordered imap) over runs of folders, telling `progress` how many
    folders are done as each run's result comes back; `done_before` folders (read from the cache)
    count as done first, so the bar counts every folder either way."""

    def mapped(function: Callable, runs: list[list]) -> Iterator:
        total, done = done_before + sum(map(len, runs)), done_before
        progress(what, 0, total)
        if done_before:
            progress(what, done, total)
        for run, result in zip(runs, mapper(function, runs), strict=True):
            done += len(run)
            progress(what, done, total)
            yield result

    return mapped


def _gather(parts: list[Part], corpus: Corpus, tables: Tables, problems: list[Problem]) -> None:
    """The folders' rows, exclusions and problems, added in folder order."""
    for part in parts:
        tables.extend(part.tables)
        corpus.exclusions += part.exclusions
        problems += part.problems


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
