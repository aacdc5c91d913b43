"""Run every validation layer on seeds/ and return the tables with all problems found.

Layers (DESIGN.md section 5): 1 file structure, 2 evidence spans, 3 table
constraints, 4 keys, 5 domain rules. All run on whatever could be read, so one
run reports every problem at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.build.collector import existing_objects_frozen
from pipeline.build.parallel import RecordRules, read_and_build
from pipeline.build.tables import Tables
from pipeline.check import coverage, rules
from pipeline.contract.problems import Problem, unique_sorted
from pipeline.load.seeds import Corpus
from pipeline.progress import Progress, or_silent


@dataclass
class Checked:
    corpus: Corpus
    tables: Tables
    exclusions: list
    problems: list[Problem]


def check_seeds(seeds: Path, progress: Progress | None = None) -> Checked:
    """Every layer on `seeds`; `progress` hears the folders read, then each check across tables."""
    progress = or_silent(progress)
    record_rules = RecordRules(rules.record_context, rules.record_problems)
    corpus, tables, problems = read_and_build(seeds, record_rules, progress)
    with existing_objects_frozen():
        exclusions = coverage.resolve_exclusions(corpus, problems)
        progress("checking constraints")
        columns = rules.arrow_columns(tables)
        problems += rules.constraint_problems(tables, columns)
        progress("checking keys")
        problems += rules.key_problems(tables, columns)
        # the record rules ran as the rows were built
        problems += rules.chrome_problems(tables, exclusions)
    return Checked(corpus, tables, exclusions, unique_sorted(problems))
