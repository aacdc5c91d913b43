"""The table checks of `pipeline validate --engine spark`: the same SQL, run by Apache Spark.

The checks are pipeline.validate.tablechecks's, written once in DuckDB's dialect; each statement
is transpiled to Spark SQL by sqlglot, with two rewrites sqlglot leaves to us: DuckDB's HUGEINT
becomes DECIMAL(38, 0) (Spark's widest integer), and DuckDB's try(...) becomes its argument
(Spark runs with ANSI mode off, where an impossible date is NULL as try makes it in DuckDB).

The rows reach Spark as they reach DuckDB: Arrow's streaming CSV reader numbers every record
(frictionless's physical rows, header = 1) and each batch becomes a Spark DataFrame, so row
numbers stay exact through quoted line breaks and mixed line ends; Spark's own CSV reader
would number them its own way. The Parquet twins too are read by Arrow (columns.check_file),
which checks their types and cells first.

The command starts one Spark session and stops it at the end. Spark's scratch space, warehouse,
derby home and the JVM's own temporary files go to a temporary folder it creates and removes,
and whatever the JVM prints goes to a log file there, never to the terminal. Java missing, a
master URL Spark cannot read, a standalone master nobody answers at: one-line errors of the
package, as any engine error (exit 2).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import signal
import socket
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from pipeline.progress import Progress
from pipeline.validate.tablechecks import EngineError, FileJob, QueryError, check_all, first_line

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

SPARK_MASTER = "local[*]"
STATEMENT = re.compile(r"(CREATE TABLE|INSERT INTO|DROP TABLE IF EXISTS) (\w+)(?: AS)?(?: (.*))?\Z")
CONNECT_SECONDS = 5  # to reach a standalone master before Spark's own minute of retries
# The driver's heap when no --memory-limit is given: with Spark's own 1g, the benchmark's
# package of 2,023,410 CSV rows stopped with "Java heap space" while its tables were computed.
DRIVER_MEMORY = "4g"
UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def check_rows(
    jobs: Sequence[FileJob],
    readable: Callable[[FileJob], bool],
    progress: Progress,
    master: str | None = None,
    spark: SparkSession | None = None,
    memory_limit: str | None = None,
) -> None:
    """Check the rows of every file of `jobs` (those `readable` lets through) and the keys across
    them in Spark: in `spark` when given (left running), else in a session started at `master`
    (SPARK_MASTER when None), its driver's heap `memory_limit` (DRIVER_MEMORY when None), and
    stopped at the end."""
    _needs()
    with contextlib.ExitStack() as stack:
        if spark is None:
            spark = stack.enter_context(session(master or SPARK_MASTER, memory_limit))
        try:
            check_all(SparkSql(spark), jobs, readable, progress)
        except QueryError as exc:
            raise EngineError(f"Spark could not check the rows: {exc}") from None


def _needs() -> None:
    """The engine's libraries, or a clear error naming them."""
    missing = [name for name in ("pyspark", "sqlglot") if importlib.util.find_spec(name) is None]
    if missing:
        raise EngineError(
            f"the spark engine needs {' and '.join(missing)}: pip install {' '.join(missing)}"
        )


@contextlib.contextmanager
def session(master: str = SPARK_MASTER, memory_limit: str | None = None) -> Iterator[SparkSession]:
    """A Spark session at `master`, quiet, its files in a temporary folder, its driver's heap
    `memory_limit` (e.g. "4GB"; DRIVER_MEMORY when None); stopped, and the folder removed, on
    leaving."""
    _needs()
    _reachable(master)
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise EngineError(
            "Spark needs Java 17 or later: install it (e.g. Debian's default-jre-headless) "
            "or set JAVA_HOME"
        )
    with tempfile.TemporaryDirectory(prefix="pipeline-spark-") as scratch:
        before = _children()
        try:
            spark = _start(master, Path(scratch), driver_memory(memory_limit))
        except BaseException:
            _end_children(before)
            raise
        try:
            yield spark
        finally:
            spark.stop()


def _children() -> set[int]:
    import psutil

    return {child.pid for child in psutil.Process().children(recursive=True)}


def _end_children(before: set[int]) -> None:
    """Kill the processes started since `before`: a JVM whose start was cut short (by Ctrl-C, say)
    ignores SIGINT and, before its gateway watches its standard input, outlives the command."""
    import psutil

    for child in psutil.Process().children(recursive=True):
        if child.pid not in before:
            with contextlib.suppress(psutil.Error):
                child.kill()


def _reachable(master: str) -> None:
    """A standalone master (spark://host:port, several comma-separated) must answer first:
    Spark would retry for a minute and then fail in the log, not to the command."""
    if not master.startswith("spark://"):
        return
    for address in master.removeprefix("spark://").split(","):
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS):
                return
        except (OSError, ValueError):
            continue
    raise EngineError(f"Spark cannot reach the master {master}: no answer at that address")


def driver_memory(memory_limit: str | None) -> str:
    """`memory_limit` in DuckDB's words (512MB, 1GB, 2GiB) as Spark's (in mebibytes: 488m)."""
    if memory_limit is None:
        return DRIVER_MEMORY
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*", memory_limit.lower())
    if match is None or match.group(2) not in UNITS:
        raise EngineError(f"{memory_limit!r} is not an amount of memory (write e.g. 4GB)")
    mebibytes = int(float(match.group(1)) * UNITS[match.group(2)] // 2**20)
    return f"{max(mebibytes, 1)}m"


def _start(master: str, scratch: Path, memory: str) -> SparkSession:
    """The session, its JVM's output sent to scratch/spark.log (the JVM writes to the standard
    error it was started with, for as long as it runs)."""
    java_options = " ".join(
        [
            f"-Djava.io.tmpdir={scratch}",
            f"-Dderby.system.home={scratch / 'derby'}",
            "-XX:-UsePerfData",  # no hsperfdata folder in the system's temporary folder
        ]
    )
    log = scratch / "spark.log"
    with warnings.catch_warnings(), _output_to(log):
        warnings.simplefilter("ignore")  # pyspark warns about the pandas version on import
        from py4j.protocol import Py4JError
        from pyspark.errors import PySparkException
        from pyspark.sql import SparkSession

        builder = (
            SparkSession.builder.master(master)
            .appName("pipeline validate")
            .config("spark.driver.memory", memory)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.local.dir", str(scratch / "local"))
            .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
            .config("spark.driver.extraJavaOptions", java_options)
            .config("spark.sql.ansi.enabled", "false")  # see the module note on try(...)
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.session.timeZone", "UTC")  # dates are read as written
        )
        try:
            return builder.getOrCreate()
        except (PySparkException, Py4JError) as exc:
            raise EngineError(f"Spark cannot start at {master}: {_why(log, exc)}") from None


def _why(log: Path, exc: BaseException) -> str:
    """Why the JVM stopped, as its log says (pyspark only says that it did)."""
    said = log.read_text(encoding="utf-8", errors="replace").splitlines()
    thrown = [line for line in said if line.startswith("Exception in thread")]
    return _reason(thrown[0]) if thrown else _reason(exc)


def _reason(exc: BaseException | str) -> str:
    """The first line of a Java exception's message, without the Java class's name."""
    line = exc if isinstance(exc, str) else first_line(exc)
    if "java.lang.OutOfMemoryError" in line:
        return "Spark's driver ran out of memory: give it more with --memory-limit (e.g. 8GB)"
    match = re.search(r"(?:Exception|Error): (.+)", line)
    return match.group(1) if match else line


@contextlib.contextmanager
def _output_to(log: Path) -> Iterator[None]:
    """File descriptors 1 and 2 (those a child process inherits) go to `log` meanwhile, and the
    SIGINT handler is kept: pyspark puts its own in place, which cancels Spark's jobs and lets
    the command's handler (pipeline.cli) go unheard."""
    handler = signal.getsignal(signal.SIGINT)
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(log, "ab") as file:
            os.dup2(file.fileno(), 1)
            os.dup2(file.fileno(), 2)
            yield
    finally:
        for descriptor, copy in enumerate(saved, start=1):
            os.dup2(copy, descriptor)
            os.close(copy)
        signal.signal(signal.SIGINT, handler)


@lru_cache(maxsize=4096)
def spark_sql(sql: str) -> str:
    """A DuckDB-dialect query as Spark SQL (see the module note)."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="duckdb")

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Try):
            return node.this
        if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.INT128:
            return exp.DataType.build("DECIMAL(38, 0)")
        return node

    return tree.transform(rewrite).sql(dialect="spark")


class SparkSql:
    """tablechecks.Sql over a Spark session: a table is a temporary view of a DataFrame."""

    def __init__(self, spark: SparkSession):
        self.spark = spark
        self.frames: dict[str, DataFrame] = {}

    def rows(self, sql: str) -> list[tuple]:
        from py4j.protocol import Py4JError
        from pyspark.errors import PySparkException

        try:
            return [tuple(row) for row in self.spark.sql(spark_sql(sql)).collect()]
        except (PySparkException, Py4JError) as exc:
            raise QueryError(_reason(exc)) from None

    def run(self, sql: str) -> None:
        match = STATEMENT.match(sql)
        if match is None:
            raise QueryError(f"not a statement this engine runs: {sql[:60]}")
        verb, name, select = match.groups()
        if verb == "DROP TABLE IF EXISTS":
            self.frames.pop(name, None)
            self.spark.catalog.dropTempView(name)
            return
        frame = self.spark.sql(spark_sql(select))
        if verb == "INSERT INTO":
            frame = self.frames[name].unionByName(frame)
        self._name(name, frame)

    def register(self, name: str, table: pa.Table) -> None:
        self.spark.createDataFrame(_plain(table)).createOrReplaceTempView(name)

    def unregister(self, name: str) -> None:
        self.spark.catalog.dropTempView(name)

    def keep(self, name: str) -> None:
        """Computed once and held by Spark: the checks read it many times, and its plan (a union
        of every batch) is cut."""
        from py4j.protocol import Py4JError
        from pyspark.errors import PySparkException

        try:
            self._name(name, self.frames[name].localCheckpoint())
        except (PySparkException, Py4JError) as exc:
            raise QueryError(_reason(exc)) from None

    def _name(self, name: str, frame: DataFrame) -> None:
        self.frames[name] = frame
        frame.createOrReplaceTempView(name)


def _plain(table: pa.Table) -> pa.Table:
    """Dictionary columns (a Parquet twin's) decoded, as Spark reads no Arrow dictionaries, and
    every column in one chunk: Spark keeps only the first batch's rows of columns chunked
    unlike the others."""
    columns = [
        column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column
        for column in table.columns
    ]
    return pa.table(columns, names=table.column_names).combine_chunks()
