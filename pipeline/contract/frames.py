"""pandera schemas of the published tables, to validate frames read from the package or derived
from it:

    from pipeline.contract.frames import pandas_schema, polars_schema
    events = pd.read_parquet("datapackage/data/events.parquet", dtype_backend="pyarrow")
    pandas_schema("events").validate(events, lazy=True)
    events = pd.read_parquet("datapackage/data/events.parquet")  # pandas's own dtypes
    pandas_schema("events", dtype_backend=None).validate(events, lazy=True)

Everything comes from the Table Schemas in schemas/ (pipeline.contract.schemas): the columns,
exactly and in order, as Table Schema's default `fieldsMatch: exact` says; their dtypes; and one
check per constraint, named after it in pandera's failure cases: `enum` (the code lists), `pattern`
(matched against the whole value, as Table Schema means it), `minimum`, `maximum`, `minLength`,
`maxLength`, `unique`, `primaryKey` and `uniqueKeys`. A required field, or one in the primary key,
is `nullable=False` (pandera's `not_nullable`). Missing values pass every other check, and a row
with a missing cell in a unique key is not compared, as Table Schema has it.

The dtypes are those of the Parquet files (pipeline.contract.fieldtypes: a text code list is a
dictionary of the whole list) as read by pandas with `dtype_backend="pyarrow"` (`pandas_schema`),
by plain `pandas.read_parquet` (`pandas_schema(table, dtype_backend=None)`: Int64, boolean,
date32, category) or by `polars.read_parquet` (`polars_schema`). pandas reads the CSV files
differently (dates as text, a column empty throughout as the Arrow null type, "NA" as missing),
so read a CSV file as plain `pandas.read_parquet` reads its Parquet twin with

    pd.read_csv(path, dtype=pandas_dtypes(table, dtype_backend=None),
                keep_default_na=False, na_values=[""])

(pandas cannot parse text into Arrow's dictionary type, the pyarrow reading of a code list.)

Foreign keys are not checked: they relate two tables, and a schema sees one frame. Join the
frames to check them (or run `pipeline validate` on the package).

pandas, polars and pandera are imported only when a schema is asked for, so importing
pipeline.contract stays cheap; polars only by `polars_schema`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline.contract import schemas
from pipeline.contract.fieldtypes import (
    category_values,
    coded_text,
    field_arrow_type,
    pandas_column,
)

# The column checks, in the order they run, by the Table Schema constraint each one enforces.
CHECKED_CONSTRAINTS = ["enum", "pattern", "minimum", "maximum", "minLength", "maxLength"]


def pandas_schema(table: str | dict, dtype_backend: str | None = "pyarrow"):
    """pandera DataFrameSchema of `table` (a package table's name, or a Table Schema) for pandas,
    with the dtypes `pandas.read_parquet` gives with `dtype_backend` ("pyarrow", or None for its
    default)."""
    import pandera.pandas as pandera

    def pattern(value: str):
        # pandas puts ^ and $ around a pattern for Arrow strings; grouped, "a|b" stays whole.
        return pandera.Check(lambda values: values.str.fullmatch(f"(?:{value})"), error="pattern")

    def distinct(name: str, key: list[str] | None):
        def check(data):
            cells = data if key is None else data[key]
            present = cells.notna() if key is None else cells.notna().all(axis=1)
            return ~(cells.duplicated(keep=False) & present)

        return pandera.Check(check, error=name)

    dtypes = pandas_dtypes(table, dtype_backend)
    return _schema(pandera, _table_schema(table), dtypes, pattern, distinct)


def polars_schema(table: str | dict):
    """pandera DataFrameSchema of `table` (a package table's name, or a Table Schema) for polars."""
    import pandera.polars as pandera
    import polars as pl

    def pattern(value: str):
        # \A and \z: the whole value, where $ would also match before a final line break.
        whole = rf"\A(?:{value})\z"
        return pandera.Check(
            lambda data: data.lazyframe.select(pl.col(data.key).str.contains(whole)),
            error="pattern",
        )

    def distinct(name: str, key: list[str] | None):
        def check(data):
            cells = [data.key] if key is None else key
            present = pl.all_horizontal(pl.col(cells).is_not_null())
            return data.lazyframe.select(~(pl.struct(cells).is_duplicated() & present))

        return pandera.Check(check, error=name)

    return _schema(pandera, _table_schema(table), polars_dtypes(table), pattern, distinct)


def pandas_dtypes(table: str | dict, dtype_backend: str | None = "pyarrow") -> dict[str, Any]:
    """Column -> pandas dtype, as `pandas.read_parquet` reads the Parquet file with
    `dtype_backend` ("pyarrow", or None for its default)."""
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]  # typed only with pandas-stubs

    if dtype_backend is None:
        return _pandas_default_dtypes(table)
    if dtype_backend != "pyarrow":
        raise ValueError(f'dtype_backend {dtype_backend!r}: the schemas know "pyarrow" and None')
    return {field.name: pd.ArrowDtype(field.type) for field in _arrow_fields(_table_schema(table))}


def _pandas_default_dtypes(table: str | dict) -> dict[str, Any]:
    """Column -> pandas dtype, as plain `pandas.read_parquet` reads the Parquet file: the dtype its
    "pandas" metadata names (fieldtypes.pandas_column), a code list a categorical of the list."""
    import pandas as pd

    fields = _table_schema(table)["fields"]
    return {
        field["name"]: (
            pd.CategoricalDtype(
                category_values(field), ordered=bool(field.get("categoriesOrdered"))
            )
            if coded_text(field) is not None
            else pd.api.types.pandas_dtype(pandas_column(field)["numpy_type"])
        )
        for field in fields
    }


def polars_dtypes(table: str | dict) -> dict[str, Any]:
    """Column -> polars dtype, as `polars.read_parquet` reads the Parquet file."""
    import polars as pl
    import pyarrow as pa

    empty = pa.schema(_arrow_fields(_table_schema(table))).empty_table()
    return dict(pl.DataFrame(empty).schema)


def _table_schema(table: str | dict) -> dict:
    """The Table Schema of a package table, by name; or a Table Schema given as a dict."""
    return schemas.table_schema(table) if isinstance(table, str) else table


def _arrow_fields(table_schema: dict) -> list:
    """The columns of the table's Parquet file: name and Arrow type."""
    import pyarrow as pa

    return [pa.field(field["name"], field_arrow_type(field)) for field in table_schema["fields"]]


def _primary_key(table_schema: dict) -> list[str]:
    key = table_schema.get("primaryKey") or []
    return [key] if isinstance(key, str) else list(key)


def _keys(table_schema: dict) -> list[tuple[str, list[str]]]:
    """("primaryKey" or "uniqueKeys", its fields) for the primary key and each unique key."""
    primary = _primary_key(table_schema)
    keys = [("primaryKey", primary)] if primary else []
    return keys + [("uniqueKeys", list(key)) for key in table_schema.get("uniqueKeys", [])]


def _schema(pandera, table_schema: dict, dtypes: dict, pattern: Callable, distinct: Callable):
    """The DataFrameSchema, built with pandera's module for pandas or polars, the column dtypes,
    and the two checks whose code differs between them: `pattern(value)` and `distinct(name,
    key)` (key None: the checked column alone)."""
    checks = {
        field["name"]: _column_checks(pandera, field.get("constraints", {}), pattern, distinct)
        for field in table_schema["fields"]
    }
    frame_checks = []
    for name, key in _keys(table_schema):
        if len(key) == 1:
            checks[key[0]].append(distinct(name, None))
        else:
            frame_checks.append(distinct(name, key))
    columns = {
        field["name"]: pandera.Column(
            dtypes[field["name"]],
            checks=checks[field["name"]],
            # A key identifies its row: a missing cell in it is as wrong as a required one.
            nullable=not (schemas.required(field) or field["name"] in _primary_key(table_schema)),
        )
        for field in table_schema["fields"]
    }
    return pandera.DataFrameSchema(columns, checks=frame_checks, strict=True, ordered=True)


def _column_checks(pandera, constraints: dict, pattern: Callable, distinct: Callable) -> list:
    """One check per constraint of a field, named after it."""
    made = {
        "enum": lambda value: pandera.Check.isin(value, error="enum"),
        "pattern": pattern,
        "minimum": lambda value: pandera.Check.ge(value, error="minimum"),
        "maximum": lambda value: pandera.Check.le(value, error="maximum"),
        "minLength": lambda value: pandera.Check.str_length(min_value=value, error="minLength"),
        "maxLength": lambda value: pandera.Check.str_length(max_value=value, error="maxLength"),
    }
    checks = [made[name](constraints[name]) for name in CHECKED_CONSTRAINTS if name in constraints]
    if constraints.get("unique"):
        # pandera's own unique=True counts missing values as repeats in polars (not in pandas).
        checks.append(distinct("unique", None))
    return checks
