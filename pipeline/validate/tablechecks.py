"""The table checks of the SQL engines, declared once as SQL in DuckDB's dialect.

From each resource's schema this module derives the checks of its rows, in the Arrow engine's
order and with its error types, fields and messages (pipeline.validate.columns): blank rows,
types, required, minLength, maxLength, pattern, enum, minimum, maximum (and their exclusive
forms), categories and spans for a CSV file read by SQL; for every file, unique fields, primary
keys, uniqueKeys, foreign keys (anti joins, self-references included), evidence rows pointing at
their record, and the Parquet twins holding the CSV's rows. Each check is one SELECT of the
failing rows (row number first), worded into an error by a function beside it.

The SQL is written once, in DuckDB's dialect, and run by any connection that speaks `Sql`:
pipeline.validate.duckdb_engine runs it as written, pipeline.validate.spark_engine transpiles
each statement to Spark SQL with sqlglot (about 10 ms a statement). The queries of one shape
run as one statement (settle): a file's checks of its cells are one UNION ALL of the
failing-row selects, each tagged, ranked and counted on its own, and so are the checks across
files that select the same columns, because Spark makes a job of every statement: 48
statements instead of 304 on a 30-document synthetic package with planted errors, where Spark
took 93 and 111 s instead of 146 and 157 s (two runs each on a shared 2-core machine), with
the same reports.

The route was chosen by measurement (bench/routes.py, step `routes` of bench/run.py): one
subset of the checks (types, required, enum, pattern, minimum, unique, primary and foreign
key) on the evidence table of the benchmark's planted package (533,512 rows, 12 failing rows
planted), from the CSV files to the failing rows, as this SQL, as ibis expressions (ibis 12,
its duckdb and pyspark backends) and as pandera schemas (its ibis backend; pandera.pyspark).
Median of 3 runs on a shared 2-core machine (load about 11), peak memory of all processes:

- this SQL: 2 ms to write (35 ms with sqlglot's transpiling for Spark); 17.3 s on DuckDB
  (556 MB), 231 s on Spark (4.9 GB, the JVM's heap included); the Arrow engine's 12 rows; 182
  lines (the functions of this module the subset runs, which serve every other check too).
- ibis: 0.74 s to compile (0.33 s for pyspark); 5.8 s on DuckDB (644 MB), 69 s on Spark
  (4.3 GB); the same 12 rows; 40 lines.
- pandera's ibis backend: 1.3 s; 3.9 s on DuckDB (784 MB); 7 of the 12 rows, 3 checks failing
  without a row, the foreign key not checked; 18 lines. pandera.pyspark cannot be imported
  beside pandas 3 (pyspark.pandas needs pandas < 3); it reports a count per check, no row.

The run times are not the routes' alone: this SQL streams the CSV text in 4 MB batches and types
every field, as the engines must to bound memory, where the others read each file whole with
Arrow's multi-threaded reader and type only the subset's fields; the checks were not timed
apart from the reading. This route stays: the others would be a second declaration of every
check, in another language, to be kept equal to this one; ibis selects the failing rows but not
frictionless's messages, which word the cells this SQL selects beside them; pandera gives no
row for required or unique and has no foreign key check.

Which check runs where:

- pipeline.validate.run, unchanged, for every engine: the descriptor, every file's bytes and
  hash, unsafe paths, undeclared files, unsupported features.
- Arrow (columns.check_file), file by file: a CSV file the SQL cannot decide exactly as
  frictionless does (a header other than the schema's field names in row 1, rows with the
  wrong number of cells, bytes that are not UTF-8, columns with different missing values,
  "" not a missing value) and every Parquet twin (its types, dictionaries
  and cells). Each such file's typed columns are then copied into the SQL engine and the Arrow
  columns let go, so at most one file is held in memory at a time.
- SQL, generated here, for the rest.

The CSV text reaches the SQL engine through Arrow's streaming CSV reader, batch by batch, not
the engine's own reader: DuckDB's skips empty lines and silently reads some rows with the
wrong number of cells when not strict, and when strict refuses a "\\r\\n" among "\\n" line
ends, so its row numbers would not be frictionless's. Arrow's reader numbers every record
as the Arrow engine does (a quoted line break stays in its cell, an empty line is a row of
missing cells) and refuses any row with the wrong number of cells, which sends the file to
the Arrow engine.
A pattern is matched by the engine's regular expressions first (RE2 in DuckDB, Java's in
Spark) and Python's re decides the distinct values they fail, as in
pipeline.contract.constraints.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from pipeline.contract.constraints import CONSTRAINTS, Unreadable, int64s
from pipeline.progress import Progress
from pipeline.validate import columns, scope
from pipeline.validate.errors import Task, make_error

NUMERIC = {"HUGEINT", "DOUBLE", "BOOLEAN"}  # compared as numbers across types, as Python does
SQL_TYPES = {"integer": "HUGEINT", "number": "DOUBLE", "boolean": "BOOLEAN", "date": "DATE"}
BOUND_OPERATORS = {
    "minimum": ">=",
    "maximum": "<=",
    "exclusiveMinimum": ">",
    "exclusiveMaximum": "<",
}
DATE_PARTS = r"^(\d{4})-(1[0-2]|0[1-9]|[1-9])-(3[01]|[12]\d|0[1-9]|[1-9]| [1-9])$"
BLOCK_BYTES = 1 << 22  # CSV text read per batch
NO_PREVIOUS = 'cells composing the primary keys are all "None"'
CELLS = ("BIGINT", "VARCHAR", "VARCHAR")  # a file's checks select the row number, two cells
REPEATS = ("BIGINT", "BIGINT")  # the row number, the row it repeats
NO_CELL = "CAST(NULL AS VARCHAR)"


class QueryError(Exception):
    """The engine refused or could not finish a statement; its first line says why."""


class Sql(Protocol):
    """A connection that runs DuckDB-dialect SQL and holds tables of Arrow data."""

    def rows(self, sql: str) -> list[tuple]:
        """Every row of a query (QueryError when it fails)."""
        ...

    def run(self, sql: str) -> None:
        """A statement without rows: CREATE TABLE name AS SELECT, INSERT INTO name SELECT,
        DROP TABLE IF EXISTS name."""
        ...

    def register(self, name: str, table: pa.Table) -> None:
        """Arrow data readable as table `name` until unregistered."""
        ...

    def unregister(self, name: str) -> None: ...

    def keep(self, name: str) -> None:
        """Table `name` is complete: the checks read it from now on."""
        ...


def check_all(
    con: Sql,
    jobs: Sequence[FileJob],
    readable: Callable[[FileJob], bool],
    progress: Progress,
) -> None:
    """Check the rows of every file of `jobs` (those `readable` lets through) and the keys across
    them in `con`, adding the errors to each job's task."""
    loaded: dict[str, dict[str, Loaded]] = {"csv": {}, "parquet": {}}
    progress("validating files", 0, len(jobs))
    for done, job in enumerate(jobs, 1):
        table = _load(con, job, f"f{done}") if readable(job) else None
        if table is not None:
            loaded[job.task.format][job.task.name] = table
        progress("validating files", done, len(jobs))
    progress("validating keys across files")
    rooms = [job.task.limit - len(job.task.errors) for job in jobs]
    for job, room in zip(jobs, rooms, strict=True):
        _cross_checks(con, job, loaded, room)


def first_line(exc: BaseException) -> str:
    """An exception's first line, or its type's name when it says nothing."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class EngineError(ValueError):
    """DuckDB could not finish the checks (out of memory within the limit, out of disk for its
    spill files...): the package is not judged, and the report says why."""


class FileJob(Protocol):
    """One file to check, as pipeline.validate.run describes it."""

    @property
    def task(self) -> Task: ...

    @property
    def path(self) -> Path | None: ...

    @property
    def schema(self) -> dict: ...


@dataclass
class Loaded:
    """One file's rows in DuckDB: table `sql` holds __i (index from 0), __row (frictionless's row
    number), and per field k its text t{k}, its typed value v{k} and (CSV read by SQL) b{k}, true
    where the text is not of the field's type."""

    sql: str
    name: str
    fields: list[dict]
    index: dict[str, int]  # field name -> k
    types: dict[str, str]  # field name -> SQL type of v{k}
    rows: int
    primary: str | None

    def value(self, name: str, alias: str = "") -> str:
        return f"{alias}v{self.index[name]}"

    def text(self, name: str, alias: str = "") -> str:
        return f"{alias}t{self.index[name]}"


def _fields(schema: dict) -> list[dict]:
    return [
        scope.readable(f) for f in schema.get("fields", []) if isinstance(f, dict) and "name" in f
    ]


def _load(con: Sql, job: FileJob, key: str) -> Loaded | None:
    """The file's rows in DuckDB, checked file by file by SQL or, where SQL cannot decide the file
    exactly, by Arrow; None when the file's rows cannot be read."""
    task, schema, path = job.task, job.schema, job.path
    assert path is not None
    fields = _fields(schema)
    primary_key = columns.primary_key_of(schema)
    primary = primary_key[0] if len(primary_key) == 1 else None
    if task.format == "csv":
        table = _load_plain_csv(con, path, fields, schema, key, task.name, primary)
        if table is not None:
            task.rows = table.rows
            _file_checks(con, table, task)
            return table
    arrow_table = columns.check_file(path, task, schema)
    if arrow_table is None:
        return None
    return _load_arrow(con, arrow_table, key, primary)


# ---- reading a CSV file into DuckDB ----


def _load_plain_csv(
    con: Sql,
    path: Path,
    fields: list[dict],
    schema: dict,
    key: str,
    name: str,
    primary: str | None,
) -> Loaded | None:
    """The CSV's text, typed, in DuckDB; None when the file is not one SQL decides exactly (see the
    module note), whose rows Arrow then reads."""
    labels, header, refused = columns.read_header(path, fields)
    names = [spec["name"] for spec in fields]
    if refused is not None or header != 1 or labels != names or len(set(names)) != len(names):
        return None
    own = [columns.missing_values(schema, spec) for spec in fields]
    if any(values != own[0] for values in own) or "" not in own[0]:
        return None
    typed, types = [], {}
    for k, spec in enumerate(fields):
        sql_type, ok, value = _typing(spec, f"t{k}")
        types[spec["name"]] = sql_type
        typed.append(
            f"CASE WHEN {ok} THEN {value} END AS v{k}, "
            f"(t{k} IS NOT NULL AND NOT coalesce({ok} AND {value} IS NOT NULL, false)) AS b{k}"
        )
    blank = " AND ".join(f"t{k} IS NULL" for k in range(len(fields)))
    texts = ", ".join(f"t{k}" for k in range(len(fields)))
    select = f"__i, __i + 2 AS __row, {texts}, {', '.join(typed)}, ({blank}) AS __blank"
    rows = _stream_csv(con, path, len(fields), own[0], select, f"tab_{key}")
    if rows is None:
        con.run(f"DROP TABLE IF EXISTS tab_{key}")
        return None
    con.keep(f"tab_{key}")
    index = {spec["name"]: k for k, spec in enumerate(fields)}
    return Loaded(f"tab_{key}", name, fields, index, types, rows, primary)


def _stream_csv(
    con: Sql,
    path: Path,
    width: int,
    nulls: list[str],
    select: str,
    into: str,
) -> int | None:
    """Copy the CSV's rows after the header into table `into` as `select` types them (over the
    texts t0, t1... and the index __i), batch by batch: the text is never held whole; how many
    rows it copied. None when a row has other than `width` cells or bytes are not UTF-8: the
    Arrow engine reads such a file."""
    names = [f"t{k}" for k in range(width)]
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names, block_size=BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                null_values=nulls,
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
        seen = 0  # records so far, the header first
        for batch in reader:
            numbers = int64s(np.arange(seen - 1, seen - 1 + batch.num_rows, dtype=np.int64))
            seen += batch.num_rows
            chunk = pa.Table.from_batches([batch]).add_column(0, "__i", numbers)
            con.register("csv_batch", chunk)
            write = (
                f"INSERT INTO {into} SELECT"
                if seen > batch.num_rows
                else f"CREATE TABLE {into} AS SELECT"
            )
            con.run(f"{write} {select} FROM csv_batch WHERE __i >= 0")
            con.unregister("csv_batch")
    except (pa.ArrowInvalid, OSError):
        return None
    return seen - 1 if seen else None  # no header record: nothing SQL can number


def _typing(spec: dict, text: str) -> tuple[str, str, str]:
    """(SQL type, where the text is of the field's type, the typed value) of a field, as
    columns.parse_column types it."""
    kind, fmt = spec.get("type", "any"), spec.get("format", "default")
    trimmed = f"regexp_replace({text}, '^\\s+|\\s+$', '', 'g')"
    if kind == "integer":
        ok = f"regexp_matches({text}, {_literal(columns.INTEGER_RE)})"
        return "HUGEINT", ok, f"TRY_CAST({trimmed} AS HUGEINT)"
    if kind == "number":
        ok = f"regexp_matches({text}, {_literal(columns.NUMBER_RE)})"
        return "DOUBLE", ok, f"TRY_CAST({trimmed} AS DOUBLE)"
    if kind == "boolean":
        trues = _literals(spec.get("trueValues", columns.TRUE_VALUES))
        falses = _literals(spec.get("falseValues", columns.FALSE_VALUES))
        ok = f"({text} IN ({trues}) OR {text} IN ({falses}))"
        return "BOOLEAN", ok, f"CASE WHEN {text} IN ({trues}) THEN true ELSE false END"
    if kind == "date" and fmt == "default":
        year, month, day = (
            f"TRY_CAST(trim(regexp_extract({text}, {_literal(DATE_PARTS)}, {group})) AS BIGINT)"
            for group in (1, 2, 3)
        )
        value = f"try(make_date({year}, {month}, {day}))"
        return "DATE", f"regexp_matches({text}, {_literal(DATE_PARTS)})", value
    if kind == "string" and fmt == "uri":
        return "VARCHAR", f"regexp_matches({text}, {_literal(columns.URI_RE)})", text
    return "VARCHAR", "true", text


# ---- a file read by Arrow, copied into DuckDB ----


def _load_arrow(con: Sql, table: columns.Table, key: str, primary: str | None) -> Loaded:
    """The typed columns of a file the Arrow engine checked, as a DuckDB table for the checks
    across rows and files; integers of any width become HUGEINT as in SQL-read files."""
    rows = len(table.row_numbers)
    data = {
        "__i": int64s(np.arange(rows, dtype=np.int64)),
        "__row": int64s(table.row_numbers.astype(np.int64)),
    }
    index, types, select = {}, {}, ["__i", "__row"]
    for k, spec in enumerate(table.fields):
        name = spec["name"]
        if name not in table.columns or name in index:
            continue
        value = table.columns[name]
        if pa.types.is_decimal(value.type):  # beyond int64: DuckDB reads no decimal256
            value = value.cast(pa.string())
        data[f"v{k}"], data[f"t{k}"] = value, table.text[name]
        index[name] = k
        types[name] = _sql_type(spec, value.type)
        select += [f"t{k}", f"TRY_CAST(v{k} AS {types[name]}) AS v{k}"]
    con.register("arrow_file", pa.table(data))
    con.run(f"CREATE TABLE tab_{key} AS SELECT {', '.join(select)} FROM arrow_file")
    con.unregister("arrow_file")
    con.keep(f"tab_{key}")
    return Loaded(f"tab_{key}", table.name, table.fields, index, types, rows, primary)


def _sql_type(spec: dict, arrow_type: pa.DataType) -> str:
    if spec.get("type") == "date" and not pa.types.is_date(arrow_type):
        return "VARCHAR"  # a date of another format, read as text
    return SQL_TYPES.get(spec.get("type", "any"), "VARCHAR")


# ---- SQL values ----


def _literal(value: object) -> str:
    """A Python value (as constraint_values gives it) as an SQL literal."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"CAST({value} AS HUGEINT)" if abs(value) >= 1 << 63 else str(value)
    if isinstance(value, float):
        return f"CAST('{value!r}' AS DOUBLE)"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def _text(value: object) -> str:
    """A cell as the messages show it: a missing one as ""."""
    return "" if value is None else str(value)


def _literals(values: list) -> str:
    return ", ".join(_literal(value) for value in values)


def _scalar(con: Sql, sql: str) -> int:
    rows = con.rows(sql)
    return int(rows[0][0]) if rows else 0


def _found(con: Sql, sql: str, room: int) -> tuple[list[tuple], int]:
    """The first `room` rows of `sql` (ordered by its first column, then the second), and how
    many there are in all, in one query where there is room."""
    if room <= 0:
        return [], _scalar(con, f"SELECT count(*) FROM ({sql})")
    found = con.rows(f"SELECT *, count(*) OVER () FROM ({sql}) ORDER BY 1, 2 LIMIT {room}")
    return [row[:-1] for row in found], found[0][-1] if found else 0


def _found_together(con: Sql, sqls: list[str], width: int, room: int) -> list[Answer]:
    """_found of each query of `sqls` (each of `width` columns of the same types), in one
    statement: a UNION ALL of the queries tagged by their place, each ranked and counted on its
    own. On Spark every statement is a job (about 0.3 s each before a row is read): a file's
    checks of single cells are one job, instead of one each (304 statements became 72 on the
    benchmark's planted package)."""
    if len(sqls) == 1:
        return [_found(con, sqls[0], room)]
    names = ", ".join(f"__c{n}" for n in range(width))
    tagged = " UNION ALL ".join(
        f"SELECT {tag} AS __check, * FROM ({sql}) AS q{tag}({names})"
        for tag, sql in enumerate(sqls)
    )
    ranked = (
        f"SELECT *, count(*) OVER (PARTITION BY __check) AS __total, row_number() OVER "
        f"(PARTITION BY __check ORDER BY {names}) AS __rank FROM ({tagged})"
    )
    # one row at least of each query that found any, for its count
    found = con.rows(f"SELECT * FROM ({ranked}) WHERE __rank <= {max(room, 1)}")
    listed: list[list[tuple]] = [[] for _ in sqls]
    totals = [0 for _ in sqls]
    for row in sorted(found, key=lambda row: (row[0], row[-1])):
        listed[row[0]].append(tuple(row[1 : 1 + width]))
        totals[row[0]] = int(row[-2])
    return [(rows[: max(room, 0)], total) for rows, total in zip(listed, totals, strict=True)]


Answer = tuple[list[tuple], int]  # the first rows of a query, and how many it has in all


@dataclass
class _Query:
    sql: str
    make: Callable[[tuple], dict]
    shape: tuple[str, ...] | None  # the SQL types of its columns, when it may run with others


class Findings:
    """The errors of one check, in order: those of queries (run by `settle`) and those worded
    already; listed up to a room (a given one, or else the task's when settled) and counted
    beyond it."""

    def __init__(self, room: int | None = None):
        self.room = room
        self.items: list[_Query | dict] = []

    def add(
        self, sql: str, make: Callable[[tuple], dict], shape: tuple[str, ...] | None = None
    ) -> None:
        """The errors `make` words from the rows of `sql`, in the order of its columns. A query
        with a `shape` (the SQL types of its columns) runs in one statement with the others of
        that shape."""
        self.items.append(_Query(sql, make, shape))

    def one(self, error: dict) -> None:
        self.items.append(error)

    def room_in(self, task: Task) -> int:
        return self.room if self.room is not None else task.limit - len(task.errors)


def settle(con: Sql, task: Task, checks: Sequence[Findings]) -> None:
    """Run the queries of `checks` and add each check's errors to the task in turn, each listing
    up to its room. The queries of one shape run in one statement first, fetching for each the
    rows of the largest room any check can have; the others one by one."""
    shaped: dict[tuple[str, ...], list[_Query]] = {}
    for check in checks:
        for item in check.items:
            if isinstance(item, _Query) and item.shape is not None:
                shaped.setdefault(item.shape, []).append(item)
    most = max((check.room_in(task) for check in checks), default=0)
    answers: dict[int, Answer] = {}
    for shape, queries in shaped.items():
        found = _found_together(con, [q.sql for q in queries], len(shape), most)
        answers |= {id(query): answer for query, answer in zip(queries, found, strict=True)}
    for check in checks:
        room = check.room_in(task)
        listed: list[dict] = []
        more = 0
        for item in check.items:
            if isinstance(item, dict):
                if len(listed) < room:
                    listed.append(item)
                else:
                    more += 1
                continue
            left = room - len(listed)
            rows, total = answers.get(id(item)) or _found(con, item.sql, left)
            rows = rows[: max(left, 0)]
            listed += [item.make(row) for row in rows]
            more += total - len(rows)
        task.add_counted(listed, more)


# ---- checks on one file read by SQL ----


def _file_checks(con: Sql, table: Loaded, task: Task) -> None:
    """Blank rows, types, constraints, categories and spans, in the Arrow engine's order, each
    query selecting CELLS columns (row number, cells), all run in one statement."""
    blank, types, constraints, spans = Findings(), Findings(), Findings(), Findings()
    blank.add(
        f"SELECT __row, {NO_CELL}, {NO_CELL} FROM {table.sql} WHERE __blank",
        lambda row: make_error("blank-row", "", rowNumber=row[0]),
        CELLS,
    )
    for number, spec in enumerate(table.fields, start=1):
        k = table.index[spec["name"]]
        note = f'type is "{spec.get("type", "any")}/{spec.get("format", "default")}"'
        types.add(
            f"SELECT __row, t{k}, {NO_CELL} FROM {table.sql} WHERE b{k} AND NOT __blank",
            partial(
                _cell_error, "type-error", note, {"fieldName": spec["name"], "fieldNumber": number}
            ),
            CELLS,
        )
    for number, spec in enumerate(table.fields, start=1):
        _field_constraints(con, table, spec, number, constraints)
    _spans(table, spans)
    settle(con, task, [blank, types, constraints, spans])


def _field_constraints(con: Sql, table: Loaded, spec: dict, number: int, check: Findings) -> None:
    """The field's categories, then each constraint its type supports, as
    contract.constraints.field_violations finds them."""
    k = table.index[spec["name"]]
    where = {"fieldName": spec["name"], "fieldNumber": number}
    _categories(con, table, spec, where, check)
    constraints = spec.get("constraints", {})
    for constraint in CONSTRAINTS.get(spec.get("type", "any"), ["required"]):
        if constraint not in constraints:
            continue
        try:
            failing = _failing(con, table, spec, constraint)
        except _NotReadable as unreadable:
            fact = Unreadable(constraint, spec["name"], unreadable.reason)
            # an Unreadable is worded without reading the table
            error = columns._constraint_error(None, spec, fact, where)  # type: ignore[arg-type]  # no table
            check.one(error)
            continue
        if failing is None:
            continue
        value = constraints[constraint]
        check.add(
            f"SELECT __row, t{k}, {NO_CELL} FROM {table.sql} WHERE ({failing}) AND NOT __blank",
            partial(
                _cell_error, "constraint-error", f'constraint "{constraint}" is "{value}"', where
            ),
            CELLS,
        )


class _NotReadable(Exception):
    def __init__(self, reason: str | None = None):
        self.reason = reason


def _failing(con: Sql, table: Loaded, spec: dict, constraint: str) -> str | None:
    """SQL true where the row fails the constraint (None: no row can); _NotReadable for a pattern
    or bound no value can be checked against."""
    k, value = table.index[spec["name"]], spec["constraints"][constraint]
    typed = f"v{k}"
    if constraint == "required":
        return f"{typed} IS NULL AND NOT b{k}" if value else None
    if constraint in ("minLength", "maxLength"):
        if not isinstance(value, int) or isinstance(value, bool):
            return None  # the descriptor check reports it
        operator = "<" if constraint == "minLength" else ">"
        return f"length({typed}) {operator} {max(min(value, 1 << 62), -1)}"
    if constraint == "pattern":
        return _pattern_failing(con, table, typed, value)
    if constraint == "enum":
        if not isinstance(value, list):
            return None
        known = [v for v in columns.constraint_values(value, spec).to_pylist() if v is not None]
        inside = f" AND {typed} NOT IN ({_literals(known)})" if known else ""
        return f"{typed} IS NOT NULL{inside}"
    bound = columns.constraint_values([value], spec).to_pylist()[0]
    if bound is None:
        raise _NotReadable()
    passes = f"{typed} {BOUND_OPERATORS[constraint]} {_literal(bound)}"
    nan = f"isnan({typed}) OR " if table.types[spec["name"]] == "DOUBLE" else ""
    return f"{typed} IS NOT NULL AND ({nan}NOT ({passes}))"  # NaN passes no bound


def _pattern_failing(con: Sql, table: Loaded, typed: str, pattern: object) -> str | None:
    """Cells the pattern does not match as frictionless matches, re.match(f"^{pattern}$"): RE2
    first, then Python's re on the distinct values RE2 fails (see the module note)."""
    if not isinstance(pattern, str):
        return None  # the descriptor check reports it
    try:
        compiled = re.compile(f"^{pattern}$")
    except re.error as exc:
        raise _NotReadable(str(exc)) from None
    anchored = _literal("^(?:^" + pattern + "$)")
    failing = f"{typed} IS NOT NULL AND NOT regexp_matches({typed}, {anchored})"
    try:
        doubtful = con.rows(f"SELECT DISTINCT {typed} FROM {table.sql} WHERE {failing}")
        values = [row[0] for row in doubtful]
    except QueryError:  # RE2 cannot read the pattern: Python's re decides every value
        failing = f"{typed} IS NOT NULL"
        every = con.rows(f"SELECT DISTINCT {typed} FROM {table.sql}")
        values = [row[0] for row in every]
    matched = [value for value in values if value is not None and compiled.match(value)]
    return f"{failing} AND {typed} NOT IN ({_literals(matched)})" if matched else failing


def _categories(con: Sql, table: Loaded, spec: dict, where: dict, check: Findings) -> None:
    categories, constraints = spec.get("categories"), spec.get("constraints", {})
    if categories is None or spec.get("type") not in ("string", "integer"):
        return
    values = [c["value"] if isinstance(c, dict) else c for c in categories]
    k = table.index[spec["name"]]
    outside = f"v{k} IS NOT NULL AND v{k} NOT IN ({_literals(values)})" if values else "true"
    if isinstance(constraints.get("enum"), list):  # a value the enum refused is reported once
        known = [
            v
            for v in columns.constraint_values(constraints["enum"], spec).to_pylist()
            if v is not None
        ]
        outside += f" AND v{k} IN ({_literals(known)})" if known else " AND false"
    check.add(
        f"SELECT __row, t{k}, {NO_CELL} FROM {table.sql} WHERE v{k} IS NOT NULL AND {outside}",
        partial(_cell_error, "category-error", f'categories are "{values}"', where),
        CELLS,
    )


def _spans(table: Loaded, check: Findings) -> None:
    """Spans that cannot be spans of a text (see columns.span_errors)."""
    for resource, start, end in columns.SPANS:
        if table.name != resource or start not in table.index or end not in table.index:
            continue
        if not all(table.types[name] == "HUGEINT" for name in (start, end)):
            continue
        numbers = {spec["name"]: n for n, spec in enumerate(table.fields, start=1)}
        minimum = table.fields[numbers[start] - 1].get("constraints", {}).get("minimum")
        s, e, ts, te = table.value(start), table.value(end), table.text(start), table.text(end)
        if not (isinstance(minimum, int) and minimum >= 0):
            check.add(
                f"SELECT __row, {ts}, {NO_CELL} FROM {table.sql} WHERE {s} < 0",
                partial(_negative_start, {"fieldName": start, "fieldNumber": numbers[start]}),
                CELLS,
            )
        check.add(
            f"SELECT __row, {ts}, {te} FROM {table.sql} WHERE {s} > {e}",
            partial(_start_after_end, {"fieldName": end, "fieldNumber": numbers[end]}),
            CELLS,
        )


def _cell_error(kind: str, note: str, where: dict, row: tuple) -> dict:
    """The error of a cell (row: its number and text)."""
    return make_error(kind, note, rowNumber=row[0], cell=_text(row[1]), **where)


def _negative_start(where: dict, row: tuple) -> dict:
    start = _text(row[1])
    note = f'start "{start}" is negative (offsets count code points from 0)'
    return make_error("span-error", note, rowNumber=row[0], cell=start, **where)


def _start_after_end(where: dict, row: tuple) -> dict:
    start, end = _text(row[1]), _text(row[2])
    note = f'start "{start}" is after end "{end}" (a span ends at or after its start)'
    return make_error("span-error", note, rowNumber=row[0], cell=end, **where)


# ---- checks across rows and files ----


def _cross_checks(con: Sql, job: FileJob, loaded: dict[str, dict[str, Loaded]], room: int) -> None:
    """Unique fields, the primary key, unique keys, foreign keys and (a Parquet twin) the CSV's
    rows, each listing at most `room` errors, as run._cross_checks orders them; the queries of
    one shape run together (see settle)."""
    task, schema = job.task, job.schema
    tables = loaded[task.format]
    table = tables.get(task.name)
    if table is None:
        return
    checks: list[Callable[[Findings], None]] = [
        partial(_unique_fields, con, table),
        partial(_primary_key, con, table, columns.primary_key_of(schema)),
    ]
    checks += [
        partial(_unique_key, con, table, key) for key in _lists_of_names(schema.get("uniqueKeys"))
    ]
    checks.append(partial(_foreign_keys, con, table, schema, tables))
    if task.format == "parquet" and task.name in loaded["csv"]:
        checks.append(partial(_twin, con, loaded["csv"][task.name], table))
    found = [Findings(room) for _ in checks]
    for run, into in zip(checks, found, strict=True):
        run(into)
    settle(con, task, found)


def _lists_of_names(value: object) -> list[list[str]]:
    if not isinstance(value, list):
        return []
    return [
        item
        for item in value
        if isinstance(item, list) and item and all(isinstance(n, str) for n in item)
    ]


def _no_nan(table: Loaded, names: list[str]) -> str:
    checks = [f"NOT isnan({table.value(n)})" for n in names if table.types[n] == "DOUBLE"]
    return " AND ".join(checks) or "true"


def _repeats(table: Loaded, names: list[str], where: str) -> str:
    """Rows (row, previous row with the same key) repeating a key, among the rows `where` holds
    and with no NaN (which equals nothing)."""
    keys = ", ".join(table.value(n) for n in names)
    return (
        f"SELECT __row, previous FROM (SELECT __row, lag(__row) OVER (PARTITION BY {keys} "
        f"ORDER BY __row) AS previous FROM {table.sql} WHERE ({where}) AND "
        f"coalesce({_no_nan(table, names)}, true)) WHERE previous IS NOT NULL"
    )


def _same_as(previous: int | None) -> str:
    return NO_PREVIOUS if previous is None else f"the same as in the row at position {previous}"


def _unique_fields(con: Sql, table: Loaded, found: Findings) -> None:
    for number, spec in enumerate(table.fields, start=1):
        name = spec["name"]
        if not spec.get("constraints", {}).get("unique") or name not in table.index:
            continue
        sql = _repeats(table, [name], f"{table.value(name)} IS NOT NULL")
        found.add(
            f"SELECT r.__row, r.previous, t.{table.text(name)} FROM ({sql}) r "
            f"JOIN {table.sql} t USING (__row)",
            partial(_unique_error, {"fieldName": name, "fieldNumber": number}),
            ("BIGINT", "BIGINT", "VARCHAR"),
        )


def _unique_error(where: dict, row: tuple) -> dict:
    """A repeated value (row: its number, the previous row's, its text)."""
    return make_error(
        "unique-error", _same_as(row[1]), rowNumber=row[0], cell=_text(row[2]), **where
    )


def _primary_key(con: Sql, table: Loaded, key: list[str], found: Findings) -> None:
    """Rows whose every key cell is null, then each repeat of the key."""
    if not key or not all(name in table.index for name in key):
        return
    all_null = " AND ".join(f"{table.value(n)} IS NULL" for n in key)
    found.add(
        f"SELECT __row, NULL FROM {table.sql} WHERE {all_null}",
        lambda row: make_error("primary-key", NO_PREVIOUS, rowNumber=row[0]),
        REPEATS,
    )
    found.add(
        _repeats(table, key, f"NOT ({all_null})"),
        lambda row: make_error("primary-key", _same_as(row[1]), rowNumber=row[0]),
        REPEATS,
    )


def _unique_key(con: Sql, table: Loaded, key: list[str], found: Findings) -> None:
    """Each repeat of a unique key; a row with a null in the key repeats nothing."""
    if not all(name in table.index for name in key):
        return
    none_null = " AND ".join(f"{table.value(n)} IS NOT NULL" for n in key)
    found.add(
        _repeats(table, key, none_null),
        lambda row: make_error(
            "unique-key-error",
            _same_as(row[1]),
            rowNumber=row[0],
            fieldName=", ".join(key),
            fieldNames=list(key),
        ),
        REPEATS,
    )


def _key_match(table: Loaded, names: list[str], target: Loaded, ref_names: list[str]) -> str:
    """SQL true where row a's key equals row r's, as frictionless compares the typed tuples: a null
    equals a null, numbers compare across types, other types never equal."""
    if len(names) != len(ref_names):
        return "false"
    pairs = []
    for name, ref_name in zip(names, ref_names, strict=True):
        mine = table.value(name, "a.")
        if ref_name not in target.index:
            pairs.append(f"{mine} IS NULL")
            continue
        theirs, types = target.value(ref_name, "r."), {table.types[name], target.types[ref_name]}
        if len(types) == 1:
            pairs.append(f"{mine} IS NOT DISTINCT FROM {theirs}")
        elif types <= NUMERIC:
            pairs.append(f"CAST({mine} AS DOUBLE) IS NOT DISTINCT FROM CAST({theirs} AS DOUBLE)")
        else:
            pairs.append(f"({mine} IS NULL AND {theirs} IS NULL)")
    present = [target.value(n, "r.") for n in ref_names if n in target.index]
    any_ref = " OR ".join(f"{v} IS NOT NULL" for v in present) or "false"
    return f"({any_ref}) AND {' AND '.join(pairs)}"


def _foreign_keys(
    con: Sql,
    table: Loaded,
    schema: dict,
    tables: dict[str, Loaded],
    found: Findings,
) -> None:
    """Rows whose key is no key of the referenced table (an anti join), then evidence rows whose
    record is not in the table named beside it."""
    for names, reference, ref_names in columns._foreign_keys(schema):
        target = tables.get(reference or table.name)
        if target is None or not all(name in table.index for name in names):
            continue
        any_mine = " OR ".join(f"{table.value(n, 'a.')} IS NOT NULL" for n in names)
        nan = [f"isnan({table.value(n, 'a.')})" for n in names if table.types[n] == "DOUBLE"]
        cells = ", ".join(table.value(n, "a.") for n in names)
        sql = (
            f"SELECT a.__row, {cells} FROM {table.sql} a WHERE (({any_mine}) AND NOT EXISTS "
            f"(SELECT 1 FROM {target.sql} r WHERE {_key_match(table, names, target, ref_names)}))"
            f" OR coalesce({' OR '.join(nan) or 'false'}, false)"
        )
        shape = ("BIGINT", *(table.types[n] for n in names))  # the row number, the key's cells
        found.add(sql, partial(_fk_error, names, reference, ref_names), shape)
    for resource, kind_column, id_column in columns.POLYMORPHIC_KEYS:
        if table.name == resource and {kind_column, id_column} <= set(table.index):
            _record_keys(con, table, (kind_column, id_column), tables, found)


def _fk_error(names: list[str], reference: str, ref_names: list[str], row: tuple) -> dict:
    cells = [str(cell) for cell in row[1 : 1 + len(names)]]
    note = (
        f'for "{", ".join(names)}": values "{", ".join(cells)}" not found in the '
        f'lookup table "{reference}" as "{", ".join(ref_names)}"'
    )
    return make_error(
        "foreign-key",
        note,
        rowNumber=row[0],
        fieldNames=names,
        fieldCells=cells,
        referenceName=reference,
        referenceFieldNames=ref_names,
    )


def _record_keys(
    con: Sql,
    table: Loaded,
    names: tuple[str, str],
    tables: dict[str, Loaded],
    found: Findings,
) -> None:
    """Rows whose id is not a primary key of the table named beside it (evidence -> its record)."""
    kinds, ids = table.value(names[0], "a."), table.value(names[1], "a.")
    named = con.rows(f"SELECT DISTINCT {kinds} FROM {table.sql} a WHERE {kinds} IS NOT NULL")
    parts = []
    for (kind,) in named:
        target = tables.get(kind)
        if target is None or target.primary is None or target.primary not in target.index:
            continue  # not a table name: the field's categories say so
        key = target.value(target.primary, "r.")
        parts.append(
            f"SELECT a.__row, {kinds}, {ids}, {_literal(kind)} AS reference FROM {table.sql} a "
            f"WHERE {kinds} = {_literal(kind)} AND {ids} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {target.sql} r WHERE {key} = {ids})"
        )
    if not parts:
        return

    def error(row: tuple) -> dict:
        reference = row[3]
        made = _fk_error(list(names), reference, [str(tables[reference].primary)], row)
        return made | {"fieldName": names[1]}

    found.add(" UNION ALL ".join(parts), error)


def _twin(con: Sql, csv_table: Loaded, parquet_table: Loaded, found: Findings) -> None:
    """Rows of the Parquet twin that differ from the CSV's, by position (columns.twin_errors)."""
    if csv_table.rows != parquet_table.rows:
        found.one(
            make_error(
                "twin-mismatch",
                f"the CSV has {csv_table.rows} rows and the Parquet file {parquet_table.rows}",
                rowNumber=min(csv_table.rows, parquet_table.rows) + 2,
            )
        )
        return
    for number, spec in enumerate(csv_table.fields, start=1):
        name = spec["name"]
        if name not in csv_table.index or name not in parquet_table.index:
            continue
        if csv_table.types[name] != parquet_table.types[name]:
            continue  # a type error already reported
        a, b = csv_table.value(name, "a."), parquet_table.value(name, "b.")
        nan = f" OR (isnan({a}) AND isnan({b}))" if csv_table.types[name] == "DOUBLE" else ""
        sql = (
            f"SELECT a.__row, a.__i, {csv_table.text(name, 'a.')}, "
            f"{parquet_table.text(name, 'b.')} FROM {csv_table.sql} a "
            f"JOIN {parquet_table.sql} b USING (__i) WHERE {a} IS DISTINCT FROM {b}{nan}"
        )
        _twin_field(con, sql, name, number, found)


def _twin_field(con: Sql, sql: str, name: str, number: int, found: Findings) -> None:
    """The first TWIN_DIFFS_SHOWN differing rows of a field, then one error counting the rest."""
    shown = columns.TWIN_DIFFS_SHOWN
    rows, total = _found(con, sql, shown + 1)
    errors = [
        make_error(
            "twin-mismatch",
            f'CSV has "{_text(row[2])}", Parquet has "{_text(row[3])}"',
            rowNumber=row[0],
            cell=_text(row[3]),
            fieldName=name,
            fieldNumber=number,
        )
        for row in rows[:shown]
    ]
    if total > shown:
        errors.append(
            make_error(
                "twin-mismatch",
                f"{total - shown} more rows differ in this field",
                rowNumber=rows[shown][0],
                fieldName=name,
                fieldNumber=number,
            )
        )
    for error in errors:
        found.one(error)
