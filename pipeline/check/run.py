"""Run every validation layer on seeds/ and return the tables with all problems found.

Layers (DESIGN.md section 5): 1 file structure, 2 evidence spans, 3 table
constraints, 4 keys, 5 domain rules; then seeds/changes.yaml, as far as it can be
checked without a published package. All run on whatever could be read, so one
run reports every problem at once. Layers 1, 2, the single cells' constraints of 3 and the record
rules of 5 look at one annotation file at a time, and their results are cached per file
(pipeline.build.cache, and for a large corpus pipeline.build.snapshot) unless `use_cache` is off;
the rest (repeats, keys, circles, responses, excluded chrome) looks at every row, on the
tables' Arrow columns (BuiltRows): a row is made into Python values only for a problem told
about it, and what a check finds is kept with a cache by the columns it read
(pipeline.check.memo), so it runs again only when they change.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from pipeline.build.cache import FolderCache, Resident, open_cache
from pipeline.build.cluster import LOCAL
from pipeline.build.collector import existing_objects_frozen
from pipeline.build.parallel import RecordRules, read_rows
from pipeline.build.snapshot import BuiltRows, SnapshotDamaged
from pipeline.build.tables import Tables
from pipeline.check import coverage, rules
from pipeline.check.memo import Memo
from pipeline.contract.problems import Problem, unique_sorted
from pipeline.load.reasons import reasons_problems
from pipeline.load.seeds import Corpus
from pipeline.progress import Progress, or_silent


class Checked:
    """What a check found: the corpus, the built tables (`rows`, and as Python rows `tables`, made
    when first asked for), the exclusions resolved and every problem."""

    def __init__(self, corpus: Corpus, rows: BuiltRows, exclusions: list, problems: list[Problem]):
        self.corpus, self.rows, self.exclusions, self.problems = corpus, rows, exclusions, problems
        self._tables: Tables | None = None

    @property
    def tables(self) -> Tables:
        if self._tables is None:
            self._tables = self.rows.tables()
        return self._tables

    def counts(self) -> dict[str, int]:
        """Rows per table, in the tables' order."""
        return self.rows.counts()

    def evidence_spans(self) -> Iterator[tuple[str, int, int]]:
        """(source_id, start, end) of each evidence row, read from its columns."""
        columns = [self.rows.column("evidence", name) for name in ("source_id", "start", "end")]
        return zip(*(column.to_pylist() for column in columns), strict=True)


def to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


def check_seeds(
    seeds: Path,
    progress: Progress | None = None,
    use_cache: bool = True,
    note: Callable[[str], None] = to_stderr,
    avoid: Iterable[Path] = (),
    scheduler: str = LOCAL,
    resident: Resident | None = None,
    tables: bool = True,
) -> Checked:
    """Every problem of `seeds`; `progress` hears the folders read, then each check across tables;
    `note` hears about the cache (an entry ignored, a cache folder not used), which is never used
    inside `seeds` or a folder of `avoid`. The per-file layers run where `scheduler` says
    (pipeline.build.cluster); the checks across files run here. A `resident`, handed to each
    check of one process, keeps the folders' parts, the cache's files and the files' status in
    memory from one check to the next (pipeline.build.cache.Resident). With
    `tables` off, the rows are not made into Python values (Checked.tables makes them when asked).

    A snapshot found damaged while it is read (pipeline.build.snapshot) is noted and the corpus
    read again without it."""
    progress = or_silent(progress)
    cache = open_cache(seeds, note, avoid) if use_cache and seeds.is_dir() else None
    if cache is not None:
        cache.resident = resident
    try:
        checked = _checked(seeds, progress, cache, scheduler, tables, use_snapshot=True)
    except SnapshotDamaged:
        assert cache is not None
        cache.unreadable()
        checked = _checked(seeds, progress, cache, scheduler, tables, use_snapshot=False)
    if resident is not None:
        resident.settled()
    return checked


def _checked(
    seeds: Path,
    progress: Progress,
    cache: FolderCache | None,
    scheduler: str,
    tables: bool,
    use_snapshot: bool,
) -> Checked:
    record_rules = RecordRules(rules.record_context, rules.record_problems, rules.cell_problems)
    corpus, rows, problems = read_rows(
        seeds, record_rules, cache, progress, scheduler, use_snapshot
    )
    memo = Memo(cache)
    with existing_objects_frozen():
        exclusions = coverage.resolve_exclusions(corpus, problems)
        progress("checking constraints")
        problems += rules.constraint_problems(rows, cells=False, memo=memo)
        progress("checking keys")
        problems += rules.key_problems(rows, memo)
        # the record rules ran as the rows were built
        problems += rules.chrome_problems(rows, exclusions)
    memo.save()
    problems += reasons_problems(seeds)  # seeds/changes.yaml, as far as it needs no package
    checked = Checked(corpus, rows, exclusions, unique_sorted(problems))
    if tables:
        checked.tables  # noqa: B018  made here, where a damaged snapshot can still be read again
    return checked
