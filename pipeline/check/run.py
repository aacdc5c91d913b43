"""Run every validation layer on seeds/ and return the tables with all problems found.

Layers (DESIGN.md section 5): 1 file structure, 2 evidence spans, 3 table
constraints, 4 keys, 5 domain rules; then seeds/changes.yaml, as far as it can be
checked without a published package. All run on whatever could be read, so one
run reports every problem at once. Layers 1, 2, the single cells' constraints of 3 and the record
rules of 5 look at one annotation file at a time, and their results are cached per file
(pipeline.build.cache) unless `use_cache` is off; the rest (repeats, keys, circles, responses,
excluded chrome) always runs over every row.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pipeline.build.cache import open_cache
from pipeline.build.cluster import LOCAL
from pipeline.build.collector import existing_objects_frozen
from pipeline.build.parallel import RecordRules, read_and_build
from pipeline.build.tables import Tables
from pipeline.check import coverage, rules
from pipeline.contract.problems import Problem, unique_sorted
from pipeline.load.reasons import reasons_problems
from pipeline.load.seeds import Corpus
from pipeline.progress import Progress, or_silent


@dataclass
class Checked:
    corpus: Corpus
    tables: Tables
    exclusions: list
    problems: list[Problem]


def to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


def check_seeds(
    seeds: Path,
    progress: Progress | None = None,
    use_cache: bool = True,
    note: Callable[[str], None] = to_stderr,
    avoid: Iterable[Path] = (),
    scheduler: str = LOCAL,
    kept: dict | None = None,
) -> Checked:
    """Every problem of `seeds`; `progress` hears the folders read, then each check across tables;
    `note` hears about the cache (an entry ignored, a cache folder not used), which is never used
    inside `seeds` or a folder of `avoid`. The per-file layers run where `scheduler` says
    (pipeline.build.cluster); the checks across files run here. A `kept` mapping, handed to each
    check of one process, keeps the folders' parts in memory from one check to the next."""
    progress = or_silent(progress)
    cache = open_cache(seeds, note, avoid) if use_cache and seeds.is_dir() else None
    if cache is not None:
        cache.kept = kept
    record_rules = RecordRules(rules.record_context, rules.record_problems, rules.cell_problems)
    corpus, tables, problems = read_and_build(seeds, record_rules, cache, progress, scheduler)
    with existing_objects_frozen():
        exclusions = coverage.resolve_exclusions(corpus, problems)
        progress("checking constraints")
        columns = rules.arrow_columns(tables)
        problems += rules.constraint_problems(tables, columns, cells=False)
        progress("checking keys")
        problems += rules.key_problems(tables, columns)
        # the record rules ran as the rows were built
        problems += rules.chrome_problems(tables, exclusions)
    problems += reasons_problems(seeds)  # seeds/changes.yaml, as far as it needs no package
    return Checked(corpus, tables, exclusions, unique_sorted(problems))
