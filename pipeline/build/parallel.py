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

from pipeline.build.cache import (
    DigestMemo,
    FolderCache,
    LazySource,
    Part,
    Plan,
    SourceSnapshot,
    _NotCacheable,
    annotation_path,
    code_version,
    dependencies,
    file_digest,
    read_context,
    still_valid,
)
from pipeline.build.cluster import LOCAL
from pipeline.build.collector import collector_paused
from pipeline.build.snapshot import (
    Assembly,
    BuiltRows,
    FolderFacts,
    Kept,
    NotKept,
    Snapshot,
    _problem_data,
    discard_snapshot,
    exact_columns,
    extras_problems,
    open_snapshot,
    part_extras,
    snapshot_columns,
    snapshot_sources,
    write_snapshot,
)
from pipeline.build.tables import Origin, Tables, add_record_rows, add_source_rows
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
    corpus, _ = _cached_sources(seeds, cache, digests, progress, _local_mapper(fork))
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
        many = parallel and len(missing) >= PARALLEL_MIN_FOLDERS
        built = _built(missing, many, count, progress, len(found))
    finally:
        corpus.sources = sources
        _corpus, _context, _rules, _plan = None, ({}, {}), None, None
    found.update(zip(missing, built, strict=True))
    if plan is not None:
        for folder, part in zip(missing, built, strict=True):
            plan.keep(folder, part)
    return _finish(corpus, found, tables, problems, cache)


def _built(
    missing: list[Path], parallel: bool, count: int, progress: Progress, done_before: int
) -> list[Part]:
    """The parts of the folders `missing`, read by `count` forked workers or here (the module's
    globals set: the corpus, rules, context and plan)."""
    runs = _runs(missing)
    if parallel:
        quick_validator(annotation_json_schema())  # compiled here, not in every worker
        with worker_pool(count) as pool:
            mapped = counted(pool.imap, "reading annotations", progress, done_before)
            return [part for run in mapped(_build_run, runs) for part in run]
    mapped = counted(map, "reading annotations", progress, done_before)
    return [part for run in mapped(_build_run, runs) for part in run]


def _read_on_cluster(
    client, seeds: Path, rules: RecordRules | None, cache: FolderCache | None, progress: Progress
) -> tuple[Corpus, Tables, list[Problem]]:
    """As _read_and_build, each run of folders a task on the Dask cluster of `client`; the cache is
    looked up and written here (build_run_on_cluster says why)."""
    from pipeline.build.cluster import dask_mapper

    digests = None if cache is None else DigestMemo(cache)
    corpus, _ = _cached_sources(
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
) -> tuple[Corpus, SourceSnapshot | None]:
    """The corpus's sources: those unchanged since a clean read from the cache, the others read
    through the mapper the context `mapper_for(number of folders to read)` gives, then kept in
    the cache (the SourceSnapshot, also given)."""
    folders = source_folders(seeds)
    snapshot = None if cache is None or digests is None else SourceSnapshot(cache, digests, seeds)
    known = {} if snapshot is None else snapshot.lookup(folders)
    unread = [folder for folder in folders if folder.name not in known]
    with mapper_for(len(unread)) as map_:
        reading = counted(map_, "reading sources", progress, len(known))
        corpus = load_sources(seeds, FOLDERS_PER_RUN, reading, known, folders)
    if snapshot is not None:
        snapshot.store(corpus, unread)
    return corpus, snapshot


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
                count, initializer=worker_start, initargs=(os.getpid(),)
            )
        yield pool
    finally:
        with (
            signals_held()
        ):  # a signal now would cut the clean-up short: it waits until the workers are gone
            if pool is not None:
                pool.terminate()  # the results are all in, or no longer wanted
                pool.join()


def worker_start(parent: int) -> None:
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


# ---- a read through the whole-corpus snapshot (pipeline.build.snapshot) ----

# From this many folders on, a read goes through the snapshot: a warm check of 1,000 documents took
# 1.9 s with it and 4.8 s with the per-folder entries alone (medians of 3, a loaded machine).
# Smaller corpora keep to the entries, which their reads always used.
SNAPSHOT_MIN_FOLDERS = 1000
# Folders read again since the snapshot was written beyond which it is written again. Until then
# each run reads their entries: on 10,000 documents, 150 of them added 0.9 s to a warm check of
# 7.6 s, and writing the snapshot again took 8.8 s (a loaded machine); so a run stays within a
# second of a warm one, and the snapshot is written again only now and then.
REWRITE_AFTER = 200


def read_rows(
    seeds: Path,
    rules: RecordRules | None,
    cache: FolderCache | None,
    progress: Progress | None = None,
    scheduler: str = LOCAL,
    use_snapshot: bool = True,
) -> tuple[Corpus, BuiltRows, list[Problem]]:
    """As read_and_build, the tables given as BuiltRows: with a cache read here, on a corpus of
    SNAPSHOT_MIN_FOLDERS folders or more (and `use_snapshot`), through the whole-corpus snapshot,
    so that only the folders changed since are read."""
    if cache is None or scheduler != LOCAL or _entries_in(seeds) < SNAPSHOT_MIN_FOLDERS:
        corpus, tables, problems = read_and_build(seeds, rules, cache, progress, scheduler)
        if cache is not None and scheduler == LOCAL:
            discard_snapshot(cache)
        return corpus, BuiltRows.of_tables(tables), problems
    with collector_paused():
        return _read_through_snapshot(seeds, rules, cache, or_silent(progress), use_snapshot)


def _entries_in(seeds: Path) -> int:
    """How many entries `seeds` lists (at least its source folders): counted, not sorted or looked
    at, as a bound."""
    try:
        with os.scandir(seeds) as listing:
            return sum(1 for _ in listing)
    except OSError:
        return 0


def _read_through_snapshot(
    seeds: Path, rules: RecordRules | None, cache: FolderCache, progress: Progress, use: bool
) -> tuple[Corpus, BuiltRows, list[Problem]]:
    fork = "fork" in multiprocessing.get_all_start_methods()
    digests = DigestMemo(cache)
    corpus, source_memo = _cached_sources(seeds, cache, digests, progress, _local_mapper(fork))
    conventions = Tables()
    convention_problems: list[Problem] = []
    add_source_rows(Corpus(seeds, conventions=corpus.conventions), conventions, convention_problems)
    with_rules = rules is not None
    terms = rules.context(conventions)[0] if rules else {}
    context = f"{code_version()}\0{read_context(seeds, terms, with_rules)}"
    snap = open_snapshot(cache, context) if use else None
    tables, problems, fresh = _sources_through(corpus, snap)
    tables.rows["count_conventions"] = conventions.rows["count_conventions"]
    tables.origins["count_conventions"] = conventions.origins["count_conventions"]
    problems += convention_problems
    record_context = rules.context(tables) if rules else ({}, {})
    plan = Plan(cache, corpus, tables, record_context, with_rules, digests)
    reused = _reused(corpus.annotation_folders, snap, plan)
    missing = [folder for folder in corpus.annotation_folders if folder.name not in reused]
    gone = len(set(snap.folders) - {f.name for f in corpus.annotation_folders}) if snap else 0
    rewrite = snap is None or len(missing) + gone > REWRITE_AFTER
    parts = _parts(corpus, rules, record_context, plan, missing, rewrite, progress, len(reused))
    assembly = Assembly(snap)
    for folder in corpus.annotation_folders:
        if folder.name in reused:
            assembly.add_snapshot_folder(folder.name)
        else:
            assembly.add_part(folder.name, parts[folder])
    corpus.exclusions += assembly.exclusions
    if rewrite:
        _write_snapshot(cache, context, corpus, tables, fresh, source_memo, plan, parts, snap)
    cache.prune()
    return corpus, assembly.rows(tables), problems + assembly.problems


def _sources_through(
    corpus: Corpus, snap: Snapshot | None
) -> tuple[Tables, list[Problem], dict[str, list[Problem]]]:
    """The source rows, in the corpus's order: those of sources unchanged since the snapshot from
    it, the others built now (with their problems, also given by source: `fresh`); the problems
    met so far first."""
    tables, problems = Tables(), list(corpus.problems)
    fresh: dict[str, list[Problem]] = {}
    rows, origins = snapshot_sources(snap) if snap else ([], [])
    for source in corpus.sources.values():
        facts = snap.folders.get(source.source_id) if snap else None
        digests = source.digests if isinstance(source, LazySource) else None
        if snap and facts and facts.source and digests and facts.source == digests[::2]:
            at = snap.starts[source.source_id]["sources"]
            tables.add("sources", rows[at], origins[at])
            problems += extras_problems(facts.extras, "source_problems")
            continue
        one: Tables = Tables()
        found: list[Problem] = []
        add_source_rows(Corpus(corpus.root, sources={source.source_id: source}), one, found)
        tables.add("sources", one.rows["sources"][0], one.origins["sources"][0])
        problems += found
        fresh[source.source_id] = found
    return tables, problems, fresh


def _reused(folders: list[Path], snap: Snapshot | None, plan: Plan) -> set[str]:
    """The folders whose rows and facts the snapshot holds as they would be read now."""
    reused: set[str] = set()
    for folder in folders if snap else []:
        assert snap is not None
        facts = snap.folders.get(folder.name)
        if facts is None or facts.annotation is None:
            continue
        if plan.digests.digest(annotation_path(folder)) != facts.annotation:
            continue
        if still_valid({"deps": facts.deps}, plan.states, plan.known):
            reused.add(folder.name)
    return reused


def _parts(
    corpus: Corpus,
    rules: RecordRules | None,
    context: tuple,
    plan: Plan,
    missing: list[Path],
    rewrite: bool,
    progress: Progress,
    done_before: int,
) -> dict[Path, Part]:
    """The parts of the folders `missing`: from their entries, else read (and stored as entries,
    unless the snapshot is written again, which holds them)."""
    global _corpus, _context, _rules, _plan
    found = plan.lookup(missing)
    unread = [folder for folder in missing if folder not in found]
    count = min(workers(), -(-len(unread) // FOLDERS_PER_RUN))
    fork = "fork" in multiprocessing.get_all_start_methods()
    parallel = fork and count >= 2 and len(unread) >= PARALLEL_MIN_FOLDERS
    sources = corpus.sources
    corpus.sources = _RecordingSources(sources)
    _corpus, _rules, _context, _plan = corpus, rules, context, None if rewrite else plan
    try:
        built = _built(unread, parallel, count, progress, done_before + len(found))
    finally:
        corpus.sources = sources
        _corpus, _context, _rules, _plan = None, ({}, {}), None, None
    for folder, part in zip(unread, built, strict=True):
        found[folder] = part
        plan.keep(folder, part)
        plan.deps[folder] = dependencies(part, plan.states, plan.known)
    return found


def _write_snapshot(
    cache: FolderCache,
    context: str,
    corpus: Corpus,
    tables: Tables,
    fresh: dict[str, list[Problem]],
    source_memo: SourceSnapshot | None,
    plan: Plan,
    parts: dict[Path, Part],
    old: Snapshot | None,
) -> None:
    """Write the snapshot of this read: every folder whose source or rows come back the same.
    The entries of the folders it holds are no longer used; if it cannot be written, the folders
    read are stored as entries instead."""
    clean = source_memo.kept if source_memo is not None else {}
    index = {name: n for n, name in enumerate(corpus.sources)}
    kept = [
        item
        for folder in corpus.annotation_folders
        if (item := _kept_folder(folder, clean, fresh, plan, parts.get(folder), old)) is not None
    ]
    try:
        columns, files, keys = snapshot_columns(kept, _kept_sources(kept, tables, index), old)
    except NotKept:  # a folder's rows would not come back the same: the snapshot leaves it out
        kept = [item for item in kept if item.tables is None or _rows_kept(item.tables)]
        try:
            columns, files, keys = snapshot_columns(kept, _kept_sources(kept, tables, index), old)
        except NotKept:
            return _store_entries(plan, parts)
    written = write_snapshot(cache, context, [item.facts for item in kept], columns, files, keys)
    if not written:
        return _store_entries(plan, parts)
    held = {item.facts.name for item in kept if item.facts.annotation is not None}
    for folder, (_, key) in plan.keys.items():
        if folder.name in held:
            cache.used.discard(key)
    return None


def _kept_sources(
    kept: list[Kept], tables: Tables, index: dict[str, int]
) -> tuple[list[dict], list[Origin]]:
    """The source rows and origins of the folders `kept` whose source the snapshot holds."""
    at = [index[item.facts.name] for item in kept if item.facts.source is not None]
    return [tables.rows["sources"][n] for n in at], [tables.origins["sources"][n] for n in at]


def _rows_kept(tables: Tables) -> bool:
    try:
        for table, rows in tables.rows.items():
            if rows:
                exact_columns(table, rows)
    except NotKept:
        return False
    return True


def _store_entries(plan: Plan, parts: dict[Path, Part]) -> None:
    for folder, part in parts.items():
        plan.store(folder, part)


def _kept_folder(
    folder: Path,
    clean: dict,
    fresh: dict[str, list[Problem]],
    plan: Plan,
    part: Part | None,
    old: Snapshot | None,
) -> Kept | None:
    """The folder as the next snapshot holds it, or None when it holds nothing of it."""
    name = folder.name
    facts = FolderFacts(name, None, None, None, {}, {"source_problems": [], "problems": []})
    before = old.folders.get(name) if old else None
    if name in clean and plan.states.get(name, "unreadable") != "unreadable":
        facts.source = [clean[name][0], clean[name][2]]
        facts.counts["sources"] = 1
        if name in fresh:
            facts.extras["source_problems"] = [_problem_data(p) for p in fresh[name]]
        elif before is not None:
            facts.extras["source_problems"] = before.extras["source_problems"]
    tables = None
    if part is None and before is not None:  # the old snapshot's rows, still valid
        facts.annotation, facts.deps = before.annotation, before.deps
        facts.extras = {**before.extras, "source_problems": facts.extras["source_problems"]}
        facts.counts.update({t: n for t, n in before.counts.items() if t != "sources"})
    elif part is not None and folder in plan.keys and _facts_kept(part, folder, plan):
        facts.annotation, facts.deps = plan.keys[folder][0], plan.deps[folder]
        facts.extras = {**part_extras(part, []), "source_problems": facts.extras["source_problems"]}
        facts.counts.update({t: len(rows) for t, rows in part.tables.rows.items() if rows})
        tables = part.tables
    if facts.source is None and facts.annotation is None:
        return None
    return Kept(facts, tables)


def _facts_kept(part: Part, folder: Path, plan: Plan) -> bool:
    """Whether the part's facts come back the same, and its file is as it was looked up."""
    import orjson

    try:
        orjson.dumps(part_extras(part, []))
    except (_NotCacheable, orjson.JSONEncodeError):
        return False
    return file_digest(annotation_path(folder)) == plan.keys[folder][0]
