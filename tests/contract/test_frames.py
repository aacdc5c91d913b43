"""The pandera schemas analysts import: the published tables pass them, and each kind of fault
fails with exactly its failure cases, in pandas and in polars alike.

The published tables are those of the project's seeds, published once for this module. Invalid
frames are two rows of a published table with one fault written in, or rows written out here;
each case states the failure cases as (column, check, failure case, row index). polars reports
every failure case as text, so both are compared as text.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pandera.errors
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.contract import schemas
from pipeline.contract.frames import pandas_dtypes, pandas_schema, polars_schema

from conftest import ROOT

SCHEMAS = {"pandas": pandas_schema, "polars": polars_schema}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """The data folder of the package published from the project's seeds."""
    out = tmp_path_factory.mktemp("frames") / "datapackage"
    result = CliRunner().invoke(app, ["publish", "--seeds", str(ROOT / "seeds"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "data"


def arrow_rows(data: Path, table: str, rows: list[dict], types: dict | None = None) -> pa.Table:
    """`rows` as an Arrow table with the columns of the published Parquet file (`types`: column ->
    another Arrow type), every column nullable so that a missing required value can be written."""
    published = pq.read_schema(data / f"{table}.parquet")
    fields = [pa.field(f.name, (types or {}).get(f.name, f.type)) for f in published]
    return pa.Table.from_pylist(rows, schema=pa.schema(fields))


def published_rows(data: Path, table: str, edits: dict[tuple[int, str], object]) -> list[dict]:
    """The first two rows of a published table, with `edits` ((row, column) -> value) written in."""
    rows = pq.read_table(data / f"{table}.parquet").slice(0, 2).to_pylist()
    for (row, column), value in edits.items():
        rows[row][column] = value
    return rows


def frame(arrow: pa.Table, library: str):
    """The frame pandas (dtype_backend="pyarrow") or polars reads from a Parquet file of `arrow`."""
    return (
        arrow.to_pandas(types_mapper=pd.ArrowDtype) if library == "pandas" else pl.from_arrow(arrow)
    )


def failures(library: str, table: str | dict, data, **options) -> list[tuple]:
    """(column, check, failure case, index) of each failure case, as text; [] when `data` passes
    (`options`: for the schema)."""
    try:
        SCHEMAS[library](table, **options).validate(data, lazy=True)
    except pandera.errors.SchemaErrors as refused:
        cases = refused.failure_cases
        rows = cases.to_dicts() if library == "polars" else cases.to_dict("records")
        found = [
            (row["column"], row["check"], _text(row["failure_case"]), _text(row["index"]))
            for row in rows
        ]
        return sorted(found, key=lambda case: tuple(map(str, case)))
    return []


def of_library(expected: list | dict, library: str) -> list:
    """The failure cases `library` reports: `expected`, or its entry for `library`."""
    return expected[library] if isinstance(expected, dict) else expected


def _text(value) -> str | None:
    return None if value is None or value is pd.NA or value != value else str(value)


# ---- the published package ----


@pytest.mark.parametrize("library", sorted(SCHEMAS))
@pytest.mark.parametrize("table", schemas.TABLES)
def test_every_published_table_passes(data: Path, table: str, library: str):
    path = data / f"{table}.parquet"
    read = (
        pd.read_parquet(path, dtype_backend="pyarrow")
        if library == "pandas"
        else pl.read_parquet(path)
    )
    assert len(read) > 0
    assert failures(library, table, read) == []
    # The invalid frames below are built as this reading builds them.
    assert frame(pq.read_table(path), library).equals(read)


@pytest.mark.parametrize("table", schemas.TABLES)
def test_every_published_table_read_without_options_passes(data: Path, table: str):
    read = pd.read_parquet(data / f"{table}.parquet")
    assert dict(read.dtypes) == pandas_dtypes(table, dtype_backend=None)
    pandas_schema(table, dtype_backend=None).validate(read, lazy=True)


def test_a_code_list_out_of_its_categories_fails_read_without_options(data: Path):
    """A frame of plain pandas dtypes whose code list misses a value is not of the schema's dtype."""
    read = pd.read_parquet(data / "events.parquet").head(2)
    read["date_precision"] = read["date_precision"].cat.remove_categories(["year"])
    with pytest.raises(pandera.errors.SchemaErrors) as refused:
        pandas_schema("events", dtype_backend=None).validate(read, lazy=True)
    cases = refused.value.failure_cases
    assert [(row["column"], row["check"]) for row in cases.to_dict("records")] == [
        ("date_precision", "dtype('category')")
    ]


def test_an_unknown_dtype_backend_is_refused():
    with pytest.raises(ValueError, match="dtype_backend 'numpy_nullable'"):
        pandas_dtypes("events", dtype_backend="numpy_nullable")


@pytest.mark.parametrize("table", schemas.TABLES)
def test_a_csv_file_read_with_the_schema_dtypes_is_its_parquet_twin(data: Path, table: str):
    from_csv = pd.read_csv(
        data / f"{table}.csv",
        dtype=pandas_dtypes(table, dtype_backend=None),
        keep_default_na=False,
        na_values=[""],
    )
    pd.testing.assert_frame_equal(from_csv, pd.read_parquet(data / f"{table}.parquet"))
    assert failures("pandas", table, from_csv, dtype_backend=None) == []


def test_a_csv_file_read_without_them_has_dates_as_text(data: Path, tmp_path: Path):
    """Which reading the schema expects: pandas alone reads a date column of a CSV file as text,
    and a code list as text, not the dictionary of its Parquet twin."""
    import pyarrow.csv

    dates = {
        (0, "date_start"): dt.date(2020, 9, 27),
        (0, "date_end"): dt.date(2020, 9, 28),
        (1, "date_start"): dt.date(2020, 10, 1),
        (1, "date_end"): dt.date(2020, 10, 2),
    }
    rows = arrow_rows(data, "events", published_rows(data, "events", dates))
    pyarrow.csv.write_csv(rows, tmp_path / "e.csv")
    from_csv = pd.read_csv(tmp_path / "e.csv", dtype_backend="pyarrow")
    nominal = "dtype('dictionary<values=string, indices=int8, ordered=0>[pyarrow]')"
    ordinal = "dtype('dictionary<values=string, indices=int8, ordered=1>[pyarrow]')"
    assert failures("pandas", "events", from_csv) == [
        ("claim_status", nominal, "string[pyarrow]", None),
        ("date_end", "dtype('date32[day][pyarrow]')", "2020-09-28", "0"),
        ("date_end", "dtype('date32[day][pyarrow]')", "2020-10-02", "1"),
        ("date_precision", ordinal, "string[pyarrow]", None),
        ("date_start", "dtype('date32[day][pyarrow]')", "2020-09-27", "0"),
        ("date_start", "dtype('date32[day][pyarrow]')", "2020-10-01", "1"),
        ("event_type", nominal, "string[pyarrow]", None),
        ("scope", nominal, "string[pyarrow]", None),
        ("sub_event_type", nominal, "string[pyarrow]", None),
    ]


# ---- one fault of each kind ----

# Two evidence rows for the same span of the same record, under two ids.
SAME_SPAN = [
    {
        "evidence_id": f"martakert-shelling-{n}",
        "source_id": "wire-2020-09-30",
        "record_table": "events",
        "record_id": "martakert-shelling",
        "start": 10,
        "end": 24,
        "exact": "three civilians",
    }
    for n in (1, 2)
]
# name -> (table, rows or the edits of two published rows (published_rows), Arrow types changed,
# failure cases; or {library: failure cases} where the two report differently)
CASES = {
    "a missing required value": (
        "events",
        {(0, "summary"): None},
        None,
        [("summary", "not_nullable", None, "0")],
    ),
    "a duplicate primary key": (
        "events",
        {(0, "event_id"): "shelling", (1, "event_id"): "shelling"},
        None,
        [
            ("event_id", "primaryKey", "shelling", "0"),
            ("event_id", "primaryKey", "shelling", "1"),
            ("event_id", "unique", "shelling", "0"),
            ("event_id", "unique", "shelling", "1"),
        ],
    ),
    # pandas names every cell of the rows a frame-wide check fails; polars gives each row whole.
    "a duplicate unique key": (
        "evidence",
        SAME_SPAN,
        None,
        {
            "pandas": [
                ("end", "uniqueKeys", "24", "0"),
                ("end", "uniqueKeys", "24", "1"),
                ("evidence_id", "uniqueKeys", "martakert-shelling-1", "0"),
                ("evidence_id", "uniqueKeys", "martakert-shelling-2", "1"),
                ("exact", "uniqueKeys", "three civilians", "0"),
                ("exact", "uniqueKeys", "three civilians", "1"),
                ("record_id", "uniqueKeys", "martakert-shelling", "0"),
                ("record_id", "uniqueKeys", "martakert-shelling", "1"),
                ("record_table", "uniqueKeys", "events", "0"),
                ("record_table", "uniqueKeys", "events", "1"),
                ("source_id", "uniqueKeys", "wire-2020-09-30", "0"),
                ("source_id", "uniqueKeys", "wire-2020-09-30", "1"),
                ("start", "uniqueKeys", "10", "0"),
                ("start", "uniqueKeys", "10", "1"),
            ],
            "polars": [
                (
                    None,
                    "uniqueKeys",
                    '{"evidence_id":"martakert-shelling-1","source_id":"wire-2020-09-30",'
                    '"record_table":"events","record_id":"martakert-shelling","start":10,'
                    '"end":24,"exact":"three civilians"}',
                    "0",
                ),
                (
                    None,
                    "uniqueKeys",
                    '{"evidence_id":"martakert-shelling-2","source_id":"wire-2020-09-30",'
                    '"record_table":"events","record_id":"martakert-shelling","start":10,'
                    '"end":24,"exact":"three civilians"}',
                    "1",
                ),
            ],
        },
    ),
    "an enum value out of the list": (
        "events",
        {(1, "date_precision"): "fortnight"},
        None,
        [("date_precision", "enum", "fortnight", "1")],
    ),
    "a pattern mismatch": (
        "sources",
        {(0, "language"): "EN"},
        None,
        [("language", "pattern", "EN", "0")],
    ),
    "a value below the minimum": (
        "evidence",
        {(0, "start"): -1},
        None,
        [("start", "minimum", "-1", "0")],
    ),
    "a value above the maximum": (
        "places",
        {(1, "latitude"): 90.5},
        None,
        [("latitude", "maximum", "90.5", "1")],
    ),
    "a too short text": (
        "events",
        {(0, "summary"): ""},
        None,
        [("summary", "minLength", "", "0")],
    ),
    "a wrong dtype": (
        "evidence",
        {(0, "start"): 1, (1, "start"): 2},
        {"start": pa.float64()},
        {
            "pandas": [("start", "dtype('int64[pyarrow]')", "double[pyarrow]", None)],
            "polars": [("start", "dtype('Int64')", "Float64", None)],
        },
    ),
}


@pytest.mark.parametrize("library", sorted(SCHEMAS))
@pytest.mark.parametrize("name", list(CASES))
def test_each_kind_of_fault_fails_with_its_cases(data: Path, name: str, library: str):
    table, rows, types, expected = CASES[name]
    if isinstance(rows, dict):
        rows = published_rows(data, table, rows)
    built = frame(arrow_rows(data, table, rows, types), library)
    assert failures(library, table, built) == of_library(expected, library)


@pytest.mark.parametrize("library", sorted(SCHEMAS))
def test_constraints_match_the_whole_value(data: Path, library: str):
    """Python's $ also matches before a final line break; a pattern here matches the whole value."""
    edits = {(0, "actor_id"): "armenia\n", (0, "country"): "ARM\n"}
    built = frame(arrow_rows(data, "actors", published_rows(data, "actors", edits)), library)
    assert failures(library, "actors", built) == [
        ("actor_id", "pattern", "armenia\n", "0"),
        ("country", "pattern", "ARM\n", "0"),
    ]


# A Table Schema given as a mapping, for what the published tables do not hold: maxLength, a
# primary key of two fields, and a unique key with a missing cell.
COUNTRY_YEARS = {
    "fields": [
        {"name": "code", "type": "string", "constraints": {"maxLength": 3, "unique": True}},
        {"name": "year", "type": "integer"},
        {"name": "alias", "type": "string"},
    ],
    "primaryKey": ["code", "year"],
    "uniqueKeys": [["alias", "year"]],
}
# Rows 0 and 1 repeat the primary key and the code; rows 3 and 4 leave the code out (required in a
# primary key, but no repeat of each other); rows 0 and 1 leave alias out, so their unique key
# (alias, year) is not compared.
COUNTRY_YEAR_ROWS = pa.table(
    {
        "code": ["ARM", "ARM", "AZER", None, None],
        "year": pa.array([2020, 2020, None, 2021, 2022], pa.int64()),
        "alias": [None, None, "x", "x", "y"],
    }
)
COUNTRY_YEAR_FAILURES = [
    ("code", "maxLength", "AZER", "2"),
    ("code", "not_nullable", None, "3"),
    ("code", "not_nullable", None, "4"),
    ("code", "unique", "ARM", "0"),
    ("code", "unique", "ARM", "1"),
    ("year", "not_nullable", None, "2"),
]


@pytest.mark.parametrize(
    "library, key_failures",
    [
        (
            "pandas",
            [
                ("code", "primaryKey", "ARM", "0"),
                ("code", "primaryKey", "ARM", "1"),
                ("year", "primaryKey", "2020", "0"),
                ("year", "primaryKey", "2020", "1"),
            ],
        ),
        (
            "polars",
            [
                (None, "primaryKey", '{"code":"ARM","year":2020,"alias":null}', "0"),
                (None, "primaryKey", '{"code":"ARM","year":2020,"alias":null}', "1"),
            ],
        ),
    ],
)
def test_a_table_schema_given_as_a_mapping(library: str, key_failures: list[tuple]):
    data = frame(COUNTRY_YEAR_ROWS, library)
    assert failures(library, COUNTRY_YEARS, data) == sorted(
        COUNTRY_YEAR_FAILURES + key_failures, key=lambda case: tuple(map(str, case))
    )


# name -> (change to the columns of two events rows, failure cases; or {library: failure cases})
LAYOUTS = {
    "a missing column": (
        lambda arrow: arrow.drop_columns(["note"]),
        [(None, "column_in_dataframe", "note", None)],
    ),
    "an extra column": (
        lambda arrow: arrow.append_column("extra", pa.array([1, 2])),
        [(None, "column_in_schema", "extra", None)],
    ),
    "columns in another order": (
        lambda arrow: arrow.select(["date_start", "event_id", *arrow.column_names[2:]]),
        {
            "pandas": [
                (None, "column_ordered", "date_start", None),
                (None, "column_ordered", "event_id", None),
            ],
            "polars": [(None, "column_ordered", "date_start", None)],
        },
    ),
}


@pytest.mark.parametrize("library", sorted(SCHEMAS))
@pytest.mark.parametrize("name", list(LAYOUTS))
def test_the_columns_are_exactly_the_schema_fields_in_order(data: Path, name: str, library: str):
    change, expected = LAYOUTS[name]
    built = frame(change(arrow_rows(data, "events", published_rows(data, "events", {}))), library)
    assert failures(library, "events", built) == of_library(expected, library)


@pytest.mark.parametrize(
    "code, expected",
    [
        ("import pipeline.contract.frames", "[]"),
        ("pipeline.contract.frames.pandas_schema('events')", "['pandas', 'pandera', 'pyarrow']"),
        (
            "pipeline.contract.frames.polars_schema('events')",
            "['pandas', 'pandera', 'polars', 'pyarrow']",
        ),
    ],
)
def test_libraries_are_imported_only_for_the_schema_asked_for(code: str, expected: str):
    program = (
        "import sys, pipeline.contract.frames; "
        f"{code}; "
        "print(sorted(m for m in ('pandas', 'pandera', 'polars', 'pyarrow') if m in sys.modules))"
    )
    run = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert run.stdout == expected + "\n"
