"""Read seeds/ into tables, spreading the annotation files over the machine's cores.

Folders are cut into runs of consecutive folders, read by worker processes. Sources
and their texts are read first; then other workers, forked so that they share every
source already read, parse each run's annotation files and build its rows, which
come back in folder order. The result is the same as reading every file here, one by one: the
rows in the same order, the same problems. The rules that look at one record and
its own evidence run in the workers too, on each run's rows. Small corpora are read
here directly, where starting workers would cost more than it saves.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path

from pipeline import rules
from pipeline.collector import collector_paused
from pipeline.problems import Problem
from pipeline.schemas import annotation_json_schema
from pipeline.seeds import Corpus, load_annotations, load_sources, source_folders
from pipeline.structure import validators
from pipeline.tables import Tables, add_record_rows, add_source_rows

PARALLEL_MIN_FOLDERS = 400  # measured: 400 documents are checked as fast (1.8 s) in one process as with workers
FOLDERS_PER_RUN = 200

_corpus: Corpus | None = None  # the sources, handed to forked workers
_context: tuple = ({}, {})  # what the record rules need from the sources and conventions


def _build_run(folders: list[Path]) -> tuple[Tables, list, list[Problem]]:
    """Rows, exclusions and problems of the annotation files in `folders`."""
    part = load_annotations(_corpus, folders)
    tables = Tables()
    problems = part.problems
    add_record_rows(part, tables, problems)
    problems += rules.record_problems(tables, _context)
    return tables, part.exclusions, problems


def workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def read_and_build(seeds: Path, while_waiting=None) -> tuple[Corpus, Tables, list[Problem]]:
    """The corpus (sources, exclusions), all its tables, every problem met reading them and the record rules'.

    `while_waiting`, if given, runs in a thread of this process while workers read the
    annotation files (this process mostly waits then), started only after they fork.
    """
    with collector_paused():
        return _read_and_build(seeds, while_waiting)


def _read_and_build(seeds: Path, while_waiting) -> tuple[Corpus, Tables, list[Problem]]:
    global _corpus, _context
    listed = len(source_folders(seeds))
    count = min(workers(), -(-listed // FOLDERS_PER_RUN))
    parallel = count >= 2 and listed >= PARALLEL_MIN_FOLDERS and "fork" in multiprocessing.get_all_start_methods()
    if parallel:
        with multiprocessing.get_context("fork").Pool(count) as sources_pool:
            corpus = load_sources(seeds, FOLDERS_PER_RUN, sources_pool.imap)
    else:
        corpus = load_sources(seeds, FOLDERS_PER_RUN)
    problems = list(corpus.problems)
    tables = Tables()
    add_source_rows(corpus, tables, problems)
    _context = rules.record_context(tables)
    folders = corpus.annotation_folders
    runs = [folders[i:i + FOLDERS_PER_RUN] for i in range(0, len(folders), FOLDERS_PER_RUN)]
    _corpus = corpus  # set before the fork: the workers inherit it
    if parallel:
        validators(annotation_json_schema())  # compiled once here rather than in every worker
    pool = multiprocessing.get_context("fork").Pool(count) if parallel else None
    helper = threading.Thread(target=while_waiting, daemon=True) if pool is not None and while_waiting else None
    if helper is not None:
        helper.start()
    try:
        for part, exclusions, found in (pool.imap(_build_run, runs) if pool else map(_build_run, runs)):
            tables.extend(part)
            corpus.exclusions += exclusions
            problems += found
        if pool is not None:
            pool.close()
            pool.join()
    finally:
        _corpus, _context = None, ({}, {})
        if pool is not None:
            pool.terminate()
        if helper is not None:
            helper.join()
    return corpus, tables, problems
