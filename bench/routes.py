"""The compilation routes of the SQL engines' table checks, measured side by side (bench step
`routes`).

One subset of the checks, on the `evidence` table of the planted package (about 530,000 rows):
the types of `start` and `end` (integers), required (every field), the enum of `record_table`,
the pattern of `evidence_id`, the minimum of `start` and `end`, the unique `evidence_id`, the
primary key and the foreign key `source_id` -> `sources`. Each route checks it from the CSV files
to the failing rows, on each engine it has:

- sql: pipeline.validate.tablechecks's own SQL (its functions, not a copy), run as written by
  DuckDB and transpiled by sqlglot for Spark;
- ibis: the same checks as ibis expressions over the text of the files, compiled by ibis's
  duckdb and pyspark backends;
- pandera: a pandera schema on pandera's ibis backend (DuckDB) and on pandera.pyspark.

    .venv/bin/python -m bench.routes ROUTE ENGINE    # one route on one engine: JSON on stdout

prints the seconds to compile the checks (SQL text, expressions or schema), the median of
ROUTE_RUNS runs from the files to the findings, and the findings: (check, field, row number)
where the route can give row numbers. bench/run.py runs each in a process of its own, for the
peak memory of its processes, and compares the findings with the Arrow engine's.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parent.parent
PLANTED = ROOT / "bench" / "work" / "package-planted"
PACKAGE = ROOT / "bench" / "work" / "package-routes"  # the two tables, errors of each check
TABLE, REFERENCE = "evidence", "sources"
INTEGERS = ["start", "end"]
ENUM, PATTERN, KEY, FOREIGN = "record_table", "evidence_id", "evidence_id", "source_id"
SUBSET_CONSTRAINTS = {"required", "enum", "pattern", "minimum", "unique"}
ROUTE_RUNS = 3
Finding = tuple[str, str, int]  # (check, field, row number)


# ---- the subset's package, and the Arrow engine's findings on it ----

# (row index, field, new text): an error of each check of the subset, several of some
PLANTS = [
    (1000, "start", "x1"),  # type
    (60000, "end", "1.5"),  # type
    (120000, "end", ""),  # required
    (180000, "record_table", "nowhere"),  # enum
    (240000, "evidence_id", "Bad_Id"),  # pattern
    (300000, "start", "-5"),  # minimum
    (300001, "end", "-1"),  # minimum
    (360000, "evidence_id", "@copy 360001"),  # unique and primary key
    (420000, "source_id", "no-such-source"),  # foreign key
    (480000, "source_id", ""),  # required
]


def make_package() -> None:
    """PACKAGE: the planted package's evidence and sources tables, evidence with PLANTS (the
    planted package holds one error of the subset), its descriptor without bytes and hashes."""
    import csv
    import shutil

    shutil.rmtree(PACKAGE, ignore_errors=True)
    (PACKAGE / "data").mkdir(parents=True)
    shutil.copy(PLANTED / "data" / f"{REFERENCE}.csv", PACKAGE / "data")
    with open(PLANTED / "data" / f"{TABLE}.csv", newline="", encoding="utf-8") as file:
        header, *rows = list(csv.reader(file))
    for index, field, text in PLANTS:
        if text.startswith("@copy "):
            text = rows[int(text.split()[1])][header.index(field)]
        rows[index][header.index(field)] = text
    with open(PACKAGE / "data" / f"{TABLE}.csv", "w", newline="", encoding="utf-8") as file:
        csv.writer(file, lineterminator="\n").writerows([header, *rows])
    resources = [
        {k: v for k, v in r.items() if k not in ("bytes", "hash", "parquet")}
        for r in json.loads((PLANTED / "datapackage.json").read_text())["resources"]
        if r["name"] in (TABLE, REFERENCE)
    ]
    described = {"$schema": descriptor_of(PLANTED)["$schema"], "name": "routes"}
    (PACKAGE / "datapackage.json").write_text(json.dumps(described | {"resources": resources}))


def descriptor_of(folder: Path) -> dict:
    return json.loads((folder / "datapackage.json").read_text())


def schemas() -> dict[str, dict]:
    return {r["name"]: r["schema"] for r in descriptor_of(PACKAGE)["resources"]}


def subset_schema(schema: dict) -> dict:
    """The evidence schema with only the subset's constraints and keys."""
    fields = [
        {
            **spec,
            "constraints": {
                name: value
                for name, value in spec.get("constraints", {}).items()
                if name in SUBSET_CONSTRAINTS
            },
        }
        for spec in schema["fields"]
    ]
    keys = [fk for fk in schema.get("foreignKeys", []) if fk["fields"] == [FOREIGN]]
    return {"fields": fields, "primaryKey": schema["primaryKey"], "foreignKeys": keys}


def finding(error: dict) -> Finding | None:
    """An error of the validator's report as a finding of the subset; None outside it."""
    kind, field, row = error.get("type"), str(error.get("fieldName")), int(error["rowNumber"])
    constraint = re.match(r'constraint "(\w+)"', error.get("note", ""))
    if kind == "type-error" and field in INTEGERS:
        return ("type", field, row)
    if kind == "constraint-error" and constraint and constraint.group(1) in SUBSET_CONSTRAINTS:
        return (constraint.group(1), field, row)
    if kind == "unique-error" and field == KEY:
        return ("unique", KEY, row)
    if kind == "primary-key":
        return ("primary-key", KEY, row)
    if kind == "foreign-key" and error.get("fieldNames") == [FOREIGN]:
        return ("foreign-key", FOREIGN, row)
    return None


def findings_of(errors: list[dict]) -> list[Finding]:
    return sorted({f for f in map(finding, errors) if f is not None})


def arrow_findings() -> list[Finding]:
    """The Arrow engine's findings on the subset, from its report of the whole package."""
    from pipeline.validate.run import validate_path

    report = validate_path(PACKAGE, parquet=False, max_errors=10**6).to_dict()
    task = next(t for t in report["tasks"] if t["name"] == TABLE and t["format"] == "csv")
    return findings_of(task["errors"])


# ---- route sql: tablechecks's own SQL ----


@dataclass
class Job:
    task: Any
    path: Path
    schema: dict


def sql_jobs() -> list[Job]:
    """The subset's table and the referenced table (its fields only: nothing of it is checked
    but its key), as pipeline.validate.run hands files to the SQL engines."""
    from pipeline.validate.errors import Task

    found = schemas()
    plain = {"fields": [{"name": f["name"], "type": f["type"]} for f in found[REFERENCE]["fields"]]}
    return [
        Job(Task(name=REFERENCE, limit=10**6), PACKAGE / "data" / f"{REFERENCE}.csv", plain),
        # not named evidence: the spans and evidence-to-record checks stay out of the subset
        Job(Task(name="subset", limit=10**6), PACKAGE / "data" / f"{TABLE}.csv",
            subset_schema(found[TABLE])),
    ]  # fmt: skip


class Recorder:
    """tablechecks.Sql that records each statement and runs none: the SQL text of the checks."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def rows(self, sql: str) -> list[tuple]:
        self.statements.append(sql)
        return []

    def run(self, sql: str) -> None:
        self.statements.append(sql)

    def register(self, name: str, table: pa.Table) -> None: ...

    def unregister(self, name: str) -> None: ...

    def keep(self, name: str) -> None: ...


def sql_compile(con: Any, engine: str) -> tuple[float, int]:
    """Seconds to write the subset's SQL (and, for Spark, to transpile it), and how many
    statements: the tables loaded once, then the checks written against a Recorder."""
    from pipeline.validate import spark_engine, tablechecks

    jobs = sql_jobs()
    loaded: dict[str, dict] = {"csv": {}, "parquet": {}}
    for n, job in enumerate(jobs):
        loaded["csv"][job.task.name] = tablechecks._load(con, job, f"c{n}")
    recorder = Recorder()
    started = time.perf_counter()
    subset = loaded["csv"]["subset"]
    tablechecks._file_checks(recorder, subset, jobs[1].task)
    tablechecks._cross_checks(recorder, jobs[1], loaded, 10**6)
    if engine == "spark":
        spark_engine.spark_sql.cache_clear()
        for statement in recorder.statements:
            spark_engine.spark_sql(statement)
    return time.perf_counter() - started, len(recorder.statements)


def sql_run(con: Any) -> list[Finding]:
    from pipeline.progress import silent
    from pipeline.validate import tablechecks

    jobs = sql_jobs()
    tablechecks.check_all(con, jobs, lambda job: True, silent)
    return findings_of(jobs[1].task.errors)


# ---- the files as text, for the ibis and pandera routes ----


def text_table(name: str) -> pa.Table:
    """A CSV file's cells as text, missing where empty, with frictionless's row numbers (read as
    tablechecks reads it: a quoted line break stays in its cell, an empty line is a row)."""
    path = PACKAGE / "data" / f"{name}.csv"
    table = pacsv.read_csv(
        path,
        parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types={spec["name"]: pa.string() for spec in schemas()[name]["fields"]},
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )
    rows = pa.array(np.arange(2, table.num_rows + 2, dtype=np.int64))
    return table.add_column(0, "__row", rows)


# ---- route ibis ----


def ibis_checks(evidence: Any, sources: Any) -> Any:
    """The subset as one ibis expression: (check, field, row) of every failing row."""
    import ibis
    from ibis import _

    from pipeline.validate.columns import INTEGER_RE

    constraints = {s["name"]: s.get("constraints", {}) for s in schemas()[TABLE]["fields"]}
    names = list(constraints)
    typed = evidence.filter(~ibis.and_(*[evidence[n].isnull() for n in names])).mutate(
        **{f"{n}__v": _[n].strip().try_cast("int64") for n in INTEGERS}
    )
    wrong = {n: typed[n].notnull() & ~typed[n].re_search(INTEGER_RE) for n in INTEGERS}
    failing = [("type", n, wrong[n]) for n in INTEGERS]
    failing += [("required", n, typed[n].isnull()) for n in names if constraints[n].get("required")]
    failing.append(
        ("enum", ENUM, typed[ENUM].notnull() & ~typed[ENUM].isin(constraints[ENUM]["enum"]))
    )
    pattern = constraints[PATTERN]["pattern"]
    failing.append(
        ("pattern", PATTERN, typed[PATTERN].notnull() & ~typed[PATTERN].re_search(pattern))
    )
    failing += [("minimum", n, typed[f"{n}__v"] < constraints[n]["minimum"]) for n in INTEGERS]
    selects = [
        typed.filter(where).select(check=ibis.literal(c), field=ibis.literal(f), row=typed["__row"])
        for c, f, where in failing
    ]
    keyed = typed.filter(typed[KEY].notnull()).mutate(
        previous=ibis.row_number().over(group_by=KEY, order_by="__row")
    )
    repeats = keyed.filter(keyed.previous > 0)
    for check in ("unique", "primary-key"):
        selects.append(
            repeats.select(check=ibis.literal(check), field=ibis.literal(KEY), row="__row")
        )
    missing = typed.filter(typed[FOREIGN].notnull()).anti_join(
        sources, typed[FOREIGN] == sources[FOREIGN]
    )
    selects.append(
        missing.select(check=ibis.literal("foreign-key"), field=ibis.literal(FOREIGN), row="__row")
    )
    return ibis.union(*selects)  # fmt: skip


def ibis_route(engine: str) -> tuple[float, Callable[[], list[Finding]]]:
    """Seconds to build and compile the expression, and one run from the files."""
    backend = _ibis_backend(engine)

    def run() -> list[Finding]:
        evidence, sources = _load_text(backend, engine)
        result = ibis_checks(evidence, sources).to_pyarrow()
        columns = [result[n].to_pylist() for n in ("check", "field", "row")]
        return sorted(set(zip(*columns, strict=True)))

    evidence, sources = _load_text(backend, engine)
    started = time.perf_counter()
    backend.compile(ibis_checks(evidence, sources))
    return time.perf_counter() - started, run


def _ibis_backend(engine: str) -> Any:
    import ibis

    if engine == "duckdb":
        import duckdb

        return ibis.duckdb.from_connection(duckdb.connect())
    return ibis.pyspark.connect(_spark())


def _load_text(backend: Any, engine: str) -> tuple[Any, Any]:
    """The two files as text tables of the backend (ibis's create_table from Arrow data fails
    with this sqlglot, so each goes in through the engine's own connection)."""
    tables = []
    for name in (TABLE, REFERENCE):
        data = text_table(name)
        if engine == "duckdb":
            con = backend.con
            con.register("arrow_data", data)
            con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM arrow_data")
            con.unregister("arrow_data")
        else:
            frame = _spark().createDataFrame(data.combine_chunks()).localCheckpoint()
            frame.createOrReplaceTempView(name)
        tables.append(backend.table(name))
    return tables[0], tables[1]


# ---- route pandera ----


def pandera_ibis_schema() -> Any:
    """The subset as a schema of pandera's ibis backend, over the text table with the integers
    typed beside it (the backend cannot coerce, and no check of it types a text)."""
    import ibis.expr.datatypes as dt
    from pandera.ibis import Check, Column, DataFrameSchema

    from pipeline.validate.columns import INTEGER_RE

    constraints = {s["name"]: s.get("constraints", {}) for s in schemas()[TABLE]["fields"]}
    columns: dict[str, Any] = {
        name: Column(dt.String, nullable=not c.get("required"), unique=bool(c.get("unique")))
        for name, c in constraints.items()
    }
    for name in INTEGERS:
        columns[name].checks = [Check.str_matches(INTEGER_RE)]
        minimum = constraints[name]["minimum"]
        columns[f"{name}__v"] = Column(dt.Int64, nullable=True, checks=[Check.ge(minimum)])
    columns[ENUM].checks = [Check.isin(constraints[ENUM]["enum"])]
    columns[PATTERN].checks = [Check.str_matches(constraints[PATTERN]["pattern"])]
    return DataFrameSchema(columns, unique=[KEY])


def pandera_pyspark_schema() -> Any:
    from pandera.pyspark import Check, Column, DataFrameSchema
    from pyspark.sql import types

    from pipeline.validate.columns import INTEGER_RE

    constraints = {s["name"]: s.get("constraints", {}) for s in schemas()[TABLE]["fields"]}
    columns: dict[str, Any] = {
        name: Column(types.StringType(), nullable=not c.get("required"))
        for name, c in constraints.items()
    }
    for name in INTEGERS:
        columns[name].checks = [Check.str_matches(INTEGER_RE)]
        minimum = constraints[name]["minimum"]
        columns[f"{name}__v"] = Column(types.LongType(), nullable=True, checks=[Check.ge(minimum)])
    columns[ENUM].checks = [Check.isin(constraints[ENUM]["enum"])]
    columns[PATTERN].checks = [Check.str_matches(constraints[PATTERN]["pattern"])]
    return DataFrameSchema(columns, unique=[KEY])


def pandera_route(engine: str) -> tuple[float, Callable[[], list[Finding]]]:
    """Seconds to build the schema (pandera compiles it as it validates), and one run. Its
    findings are those with a row number: pandera's ibis backend gives the position of a failing
    cell of its element-wise checks only; pandera.pyspark gives none, only each check's count."""
    started = time.perf_counter()
    schema = pandera_ibis_schema() if engine == "duckdb" else pandera_pyspark_schema()
    compiled = time.perf_counter() - started
    backend = _ibis_backend(engine)

    def run() -> list[Finding]:
        evidence, _ = _load_text(backend, engine)
        typed = evidence.mutate(
            **{f"{n}__v": evidence[n].strip().try_cast("int64") for n in INTEGERS}
        )
        if engine == "duckdb":
            return _pandera_ibis_findings(schema, typed)
        return _pandera_pyspark_findings(schema, backend._session.sql(backend.compile(typed)))

    return compiled, run  # fmt: skip


PANDERA_CHECKS = {  # pandera's check names -> the subset's
    "str_matches('^\\s*": "type",
    "str_matches": "pattern",
    "isin": "enum",
    "greater_than_or_equal_to": "minimum",
    "not_nullable": "required",
    "multiple_fields_uniqueness": "unique",
    "field_uniqueness": "unique",
}


def pandera_check(name: str) -> str:
    return next((ours for theirs, ours in PANDERA_CHECKS.items() if name.startswith(theirs)), name)


def _pandera_ibis_findings(schema: Any, table: Any) -> list[Finding]:
    """The located failures (row numbers from pandera's positions), and, with row number 0,
    the checks pandera reports without a row."""
    from pandera.errors import SchemaErrors

    try:
        schema.validate(table, lazy=True)
    except SchemaErrors as errors:
        cases = errors.failure_cases.to_dict("records")
    else:
        return []
    found = set()
    for case in cases:
        check, field, index = pandera_check(str(case["check"])), case["column"], case["index"]
        if isinstance(case["failure_case"], dict):  # an element-wise check: {column: value}
            field = next(iter(case["failure_case"])).removesuffix("__v")
        located = index is not None and index == index  # neither None nor NaN
        found.add((check, str(field if field == field else KEY), int(index) + 2 if located else 0))
    return sorted(found)


def _pandera_pyspark_findings(schema: Any, frame: Any) -> list[Finding]:
    """pandera.pyspark's report: each failing check once, with no row (row number 0)."""
    checked = schema.validate(frame)
    found = set()
    for kinds in checked.pandera.errors.values():
        for errors in kinds.values():
            for error in errors:
                field = str(error.get("column") or KEY).removesuffix("__v")
                found.add((pandera_check(str(error.get("check"))), field, 0))
    return sorted(found)


# ---- running one route ----


_SESSION: list[Any] = []


def _spark() -> Any:
    """One Spark session for the process, as the spark engine starts it (quiet, its scratch
    files in a temporary folder)."""
    if not _SESSION:
        from pipeline.validate import spark_engine

        _SESSION.append(_STACK.enter_context(spark_engine.session()))
    return _SESSION[0]


_STACK = contextlib.ExitStack()


def sql_route(engine: str) -> tuple[float, Callable[[], list[Finding]]]:
    from pipeline.validate.duckdb_engine import DuckSql
    from pipeline.validate.spark_engine import SparkSql

    def connect() -> Any:
        if engine == "spark":
            return SparkSql(_spark())
        import duckdb

        return DuckSql(duckdb.connect())

    compiled, _ = sql_compile(connect(), engine)
    return compiled, lambda: sql_run(connect())


ROUTES = {"sql": sql_route, "ibis": ibis_route, "pandera": pandera_route}


def measure(route: str, engine: str) -> dict:
    """Compile seconds, the median of ROUTE_RUNS runs and the findings of one route."""
    compiled, run = ROUTES[route](engine)
    seconds, found = [], []
    for _ in range(ROUTE_RUNS):
        started = time.perf_counter()
        found = run()
        seconds.append(time.perf_counter() - started)
    return {
        "compile_s": round(compiled, 3),
        "run_s": [round(s, 2) for s in seconds],
        "median_s": round(statistics.median(seconds), 2),
        "findings": found,
    }


def lines_of_code() -> dict[str, int]:
    """Lines (not blank, not comments) each route needs for the subset: the sql route's are
    those of the tablechecks functions it runs."""
    from pipeline.validate import tablechecks

    def count(*functions: Any) -> int:
        lines = "".join(inspect.getsource(f) for f in functions).splitlines()
        return sum(1 for line in lines if line.strip() and not line.strip().startswith("#"))

    sql = [
        tablechecks._typing,
        tablechecks._failing,
        tablechecks._pattern_failing,
        tablechecks._field_constraints,
        tablechecks._unique_fields,
        tablechecks._repeats,
        tablechecks._primary_key,
        tablechecks._foreign_keys,
        tablechecks._key_match,
    ]
    return {
        "sql": count(*sql),
        "ibis": count(ibis_checks),
        "pandera-ibis": count(pandera_ibis_schema),
        "pandera-pyspark": count(pandera_pyspark_schema),
    }


def main(argv: list[str]) -> int:
    route, engine = argv
    try:
        with _STACK, _quiet():
            measured = measure(route, engine)
    except ImportError as exc:  # pandera.pyspark imports pyspark.pandas, which needs pandas < 3
        measured = {"unavailable": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(measured))
    return 0


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """pyspark's and pandera's warnings kept off the JSON's standard output."""
    import warnings

    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        warnings.simplefilter("ignore")
        yield


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
