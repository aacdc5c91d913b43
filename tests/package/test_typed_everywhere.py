"""Every table of a published package reads typed, without options, in each tool analysts use:
pandas (default and dtype_backend="pyarrow"), polars, DuckDB, and R through the package's load.R.

The expected type of each column is derived from its field in schemas/ through one mapping per
tool, written out here: a date, an integer, a number, a boolean, a text code list (`categories`,
ordered where `categoriesOrdered`) and plain text each have the type the tool gives them.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.contract import schemas

from conftest import ROOT, copy_package, edit_descriptor

# The published fields, each as (table, field), in package order.
FIELDS = [(table, field) for table in schemas.TABLES for field in schemas.fields(table)]
FIELD_IDS = [f"{table}.{field['name']}" for table, field in FIELDS]


def codes(field: dict) -> list | None:
    """A field's code list, as its values."""
    categories = field.get("categories")
    if categories is None:
        return None
    return [c["value"] if isinstance(c, dict) else c for c in categories]


def kind(field: dict) -> str:
    """The column kind of a field: its type, or "code list" for a text field with categories."""
    return "code list" if codes(field) is not None and field["type"] == "string" else field["type"]


PANDAS = {
    "string": "str",
    "integer": "Int64",
    "number": "float64",
    "boolean": "boolean",
    "date": "date32[day][pyarrow]",
    "code list": "category",
}
PANDAS_PYARROW = {
    "string": "string[pyarrow]",
    "integer": "int64[pyarrow]",
    "number": "double[pyarrow]",
    "boolean": "bool[pyarrow]",
    "date": "date32[day][pyarrow]",
}
POLARS = {
    "string": pl.String,
    "integer": pl.Int64,
    "number": pl.Float64,
    "boolean": pl.Boolean,
    "date": pl.Date,
    "code list": pl.Categorical,
}
DUCKDB = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "number": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "code list": "VARCHAR",
}
R = {
    "string": "character",
    "integer": "integer",
    "number": "numeric",
    "boolean": "logical",
    "date": "Date",
}


def pyarrow_dtype(field: dict) -> str:
    """pandas with dtype_backend="pyarrow": a code list is Arrow's dictionary of text."""
    if kind(field) != "code list":
        return PANDAS_PYARROW[field["type"]]
    index = "int8" if len(codes(field) or []) <= 127 else "int16"
    ordered = int(bool(field.get("categoriesOrdered")))
    return f"dictionary<values=string, indices={index}, ordered={ordered}>[pyarrow]"


def r_class(field: dict) -> tuple[str, str]:
    """R's class of the column and, for a factor, its levels: every code list is a factor."""
    values = codes(field)
    if values is None:
        return R[field["type"]], ""
    factor = "ordered/factor" if field.get("categoriesOrdered") else "factor"
    return factor, "|".join(map(str, values))


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    """The package published from the project's seeds."""
    out = tmp_path_factory.mktemp("typed") / "datapackage"
    result = CliRunner().invoke(app, ["publish", "--seeds", str(ROOT / "seeds"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def parquet(package: Path, table: str) -> Path:
    return package / "data" / f"{table}.parquet"


@pytest.mark.parametrize(("table", "field"), FIELDS, ids=FIELD_IDS)
def test_pandas_reads_each_column_typed_without_options(package: Path, table: str, field: dict):
    column = pd.read_parquet(parquet(package, table))[field["name"]]
    assert str(column.dtype) == PANDAS[kind(field)]
    if kind(field) == "code list":
        # The whole code list, in its order, whichever values the rows hold.
        assert list(column.cat.categories) == codes(field)
        assert column.cat.ordered is bool(field.get("categoriesOrdered"))


@pytest.mark.parametrize(("table", "field"), FIELDS, ids=FIELD_IDS)
def test_pandas_with_arrow_dtypes_reads_each_column_typed(package: Path, table: str, field: dict):
    frame = pd.read_parquet(parquet(package, table), dtype_backend="pyarrow")
    assert str(frame[field["name"]].dtype) == pyarrow_dtype(field)


@pytest.mark.parametrize(("table", "field"), FIELDS, ids=FIELD_IDS)
def test_polars_reads_each_column_typed(package: Path, table: str, field: dict):
    assert pl.read_parquet(parquet(package, table)).schema[field["name"]] == POLARS[kind(field)]


@pytest.mark.parametrize(("table", "field"), FIELDS, ids=FIELD_IDS)
def test_duckdb_reads_each_column_typed(package: Path, table: str, field: dict):
    described = duckdb.sql(f"DESCRIBE SELECT * FROM '{parquet(package, table)}'").fetchall()
    assert dict((row[0], row[1]) for row in described)[field["name"]] == DUCKDB[kind(field)]


@pytest.mark.parametrize("table", schemas.TABLES)
def test_the_typed_values_are_those_of_the_csv_file(package: Path, table: str):
    """Typing changes no value: each cell, written back as text, is the CSV file's cell."""
    frame = pd.read_parquet(parquet(package, table))
    with open(package / "data" / f"{table}.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(frame) == len(rows) > 0
    for field in schemas.fields(table):
        column = frame[field["name"]].astype(object)
        as_text = ["" if pd.isna(value) else text(value) for value in column]
        assert as_text == [row[field["name"]] for row in rows], field["name"]


def text(value: object) -> str:
    """A typed value as its CSV cell reads: booleans in lowercase, others as str() writes them."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def test_a_code_list_missing_from_the_rows_is_whole_in_every_category(package: Path):
    """sub_event_type has 25 codes; the seeds use fewer, and the categories still hold all 25."""
    column = pd.read_parquet(parquet(package, "events"))["sub_event_type"]
    used = set(column.dropna())
    assert len(used) < len(column.cat.categories) == 25


def test_the_twins_are_the_same_bytes_when_published_again(package: Path, tmp_path: Path):
    again = tmp_path / "datapackage"
    result = CliRunner().invoke(
        app, ["publish", "--seeds", str(ROOT / "seeds"), "--out", str(again)]
    )
    assert result.exit_code == 0, result.output
    for table in schemas.TABLES:
        assert parquet(again, table).read_bytes() == parquet(package, table).read_bytes(), table


# ---- R, through load.R ----


def rscript() -> str:
    """Rscript, which CI installs (.ci/run): the R tests fail without it."""
    found = shutil.which("Rscript")
    if found is None:
        pytest.fail("Rscript is not installed: apt-get install r-base-core r-cran-jsonlite")
    return found


def run_loader(package: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [rscript(), "load.R", "."], cwd=package, capture_output=True, text=True, check=False
    )


def test_publish_writes_the_r_loader_from_its_template(package: Path):
    template = ROOT / "pipeline" / "package" / "templates" / "load.R"
    assert (package / "load.R").read_bytes() == template.read_bytes()


def test_r_reads_every_table_typed_with_its_rows_and_missing_cells(package: Path):
    loaded = run_loader(package)
    assert (loaded.returncode, loaded.stderr) == (0, "")
    expected = []
    for table in schemas.PACKAGE_TABLES:
        arrow = pq.read_table(parquet(package, table))
        expected.append(f"{table}\trows\t{arrow.num_rows}")
        for field in schemas.fields(table):
            r_type, levels = r_class(field)
            missing = arrow.column(field["name"]).null_count
            expected.append(f"{table}\t{field['name']}\t{r_type}\t{missing}\t{levels}")
    assert loaded.stdout.splitlines() == expected


@pytest.mark.parametrize(
    ("table", "column", "cell", "message"),
    [
        (
            "casualty_reports",
            "killed_low",
            "3.5",
            "casualty_reports.killed_low, data row 1: '3.5' is not an integer within R's 32 bits"
            " (read the Parquet file with arrow for 64)",
        ),
        (
            "casualty_reports",
            "killed_low",
            "2147483648",
            "casualty_reports.killed_low, data row 1: '2147483648' is not an integer within R's"
            " 32 bits (read the Parquet file with arrow for 64)",
        ),
        (
            "events",
            "date_start",
            "2020-02-30",
            "events.date_start, data row 1: '2020-02-30' is not a date as YYYY-MM-DD",
        ),
        (
            "events",
            "date_precision",
            "decade",
            "events.date_precision, data row 1: 'decade' is not one of day, week, month, year",
        ),
        (
            "casualty_reports",
            "is_cumulative",
            "yes",
            "casualty_reports.is_cumulative, data row 1: 'yes' is not one of true, True, TRUE, 1,"
            " false, False, FALSE, 0",
        ),
        (
            "places",
            "latitude",
            "north",
            "places.latitude, data row 1: 'north' is not a number",
        ),
    ],
)
def test_r_stops_on_a_value_that_is_not_its_type(
    package: Path, tmp_path: Path, table: str, column: str, cell: str, message: str
):
    changed = copy_package(package, tmp_path / "changed")
    path = changed / "data" / f"{table}.csv"
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[0][column] = cell
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    loaded = run_loader(changed)
    assert (loaded.returncode, loaded.stdout) == (1, "")
    assert loaded.stderr == f"Error: {message}\nExecution halted\n"


# ---- the validator checks the dictionaries ----


def rewrite_twin(package: Path, codes, ordered: bool, first: str | None) -> None:
    """The events twin with date_precision holding the same values (the first row's `first`, when
    given) in the dictionary `codes(values)`, and the descriptor's bytes and hash of it updated."""
    path = parquet(package, "events")
    arrow = pq.read_table(path)
    index = arrow.column_names.index("date_precision")
    values = arrow.column(index).cast(pa.string()).to_pylist()
    values[0] = first or values[0]
    dictionary = pa.array(codes(values), pa.string())
    positions = pc.index_in(pa.array(values, pa.string()), value_set=dictionary).cast(pa.int8())
    array = pa.DictionaryArray.from_arrays(positions, dictionary, ordered=ordered)
    arrow = arrow.set_column(index, arrow.schema.field(index).with_type(array.type), array)
    pq.write_table(arrow, path, store_schema=True)
    written = path.read_bytes()

    def change(descriptor: dict) -> None:
        twin = next(r for r in descriptor["resources"] if r["name"] == "events")["parquet"]
        twin["bytes"], twin["hash"] = len(written), "sha256:" + hashlib.sha256(written).hexdigest()

    edit_descriptor(package, change)


PRECISIONS = ["day", "week", "month", "year"]
DICTIONARY_ERROR = (
    'events[parquet]:-:date_precision: parquet-type-error: Field "date_precision" at position "4"'
    " of the Parquet twin has the wrong type: expected the dictionary ['day', 'week', 'month',"
    " 'year'] (ordered: true) for the categories, found {found} (ordered: {ordered})"
)


@pytest.mark.parametrize(
    ("codes", "ordered", "first", "errors"),
    [
        # The values of the rows only, in the order they come: the categories pandas would give.
        (
            lambda values: list(dict.fromkeys(values)),
            True,
            None,
            [DICTIONARY_ERROR.format(found="['day', 'week', 'year']", ordered="true")],
        ),
        (
            lambda values: PRECISIONS,
            False,
            None,
            [DICTIONARY_ERROR.format(found="['day', 'week', 'month', 'year']", ordered="false")],
        ),
        (
            lambda values: [*PRECISIONS, "decade"],
            True,
            "decade",
            [
                DICTIONARY_ERROR.format(
                    found="['day', 'week', 'month', 'year', 'decade']", ordered="true"
                ),
                'events[parquet]:2:date_precision: constraint-error: The cell "decade" in row at'
                ' position "2" and field "date_precision" at position "4" does not conform to a'
                " constraint: constraint \"enum\" is \"['day', 'week', 'month', 'year']\"",
                "events[parquet]:2:date_precision: twin-mismatch: The Parquet twin differs from"
                ' the CSV in row at position "2" and field "date_precision": CSV has "day",'
                ' Parquet has "decade"',
            ],
        ),
    ],
    ids=["only the values present", "not ordered", "a value outside the code list"],
)
def test_validate_refuses_a_dictionary_that_is_not_the_code_list(
    package: Path, tmp_path: Path, codes, ordered: bool, first: str | None, errors: list[str]
):
    changed = copy_package(package, tmp_path / "changed")
    rewrite_twin(changed, codes, ordered, first)
    result = CliRunner().invoke(app, ["validate", str(changed)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [*errors, f"{len(errors)} error(s) found."]


def test_validate_accepts_the_code_lists_as_published(package: Path):
    result = CliRunner().invoke(app, ["validate", str(package)])
    assert (result.exit_code, result.output) == (0, f"valid: {package}\n")


def test_the_writer_refuses_a_value_outside_a_code_list(package: Path, tmp_path: Path):
    """publish checks the code lists first; the writer still never writes such a value as missing."""
    from pipeline.package.writer import write_parquet

    rows = pq.read_table(parquet(package, "events")).to_pylist()
    rows[0]["claim_status"] = "rumoured"
    with pytest.raises(ValueError, match="^claim_status: a value outside its code list cannot be"):
        write_parquet(tmp_path / "events.parquet", "events", rows, "name", "1.0.0")
    assert not (tmp_path / "events.parquet").exists()
