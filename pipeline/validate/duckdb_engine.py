"""The table checks of `pipeline validate --engine duckdb`: SQL run by DuckDB, out of core.

The same answers as the Arrow engine (pipeline.validate.columns), with the rows held in a
DuckDB database that spills to a temporary folder under `memory_limit`, instead of every
column of every file in memory. The checks are pipeline.validate.tablechecks's SQL, written in
DuckDB's dialect and run here as written; its module note says which check runs where.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence

import duckdb
import pyarrow as pa

from pipeline.progress import Progress
from pipeline.validate.tablechecks import EngineError, FileJob, QueryError, check_all, first_line

__all__ = ["EngineError", "check_rows"]


class DuckSql:
    """tablechecks.Sql over one DuckDB connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def rows(self, sql: str) -> list[tuple]:
        try:
            # fetched whole: DuckDB refuses work beside a result left open
            return self.con.execute(sql).fetchall()
        except duckdb.Error as exc:
            raise QueryError(first_line(exc)) from None

    def run(self, sql: str) -> None:
        self.rows(sql)

    def register(self, name: str, table: pa.Table) -> None:
        self.con.register(name, table)

    def unregister(self, name: str) -> None:
        self.con.unregister(name)

    def keep(self, name: str) -> None:
        """A DuckDB table is stored as it is written."""


def check_rows(
    jobs: Sequence[FileJob],
    readable: Callable[[FileJob], bool],
    memory_limit: str | None,
    progress: Progress,
) -> None:
    """Check the rows of every file of `jobs` (those `readable` lets through) and the keys across
    them, adding the errors to each job's task."""
    with tempfile.TemporaryDirectory(prefix="pipeline-validate-") as spill:
        config: dict[str, str | bool | int | float | list[str]] = {
            "temp_directory": spill,
            "preserve_insertion_order": False,  # every result is ordered by its row numbers
            "threads": _threads(),
        }
        if memory_limit:
            config["memory_limit"] = memory_limit
        try:
            con = duckdb.connect(config=config)
        except duckdb.Error as exc:
            raise EngineError(f"DuckDB cannot start: {first_line(exc)}") from None
        try:
            check_all(DuckSql(con), jobs, readable, progress)
        except QueryError as exc:
            raise EngineError(
                f"DuckDB could not check the rows: {exc} (raise --memory-limit, or "
                "free disk space for its temporary files)"
            ) from None
        finally:
            con.close()


def _threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no sched_getaffinity outside Linux
        return 2
