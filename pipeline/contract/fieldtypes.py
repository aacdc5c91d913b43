"""The Table Schema field types the project uses, each declared once, in FIELD_TYPES.

A row of the table says, for one type, everything the stages need to know about it:
the JSON Schema an annotator's value gets in the annotation file format, how a value
read from YAML is checked and typed (a refused value raises BadValue with the message
and hint the annotator sees), how a typed value is written to a CSV cell and read back
from one, and the Arrow type of its Parquet column. pyarrow is imported only when an
Arrow type is asked for, so `check` and `publish` do not load it through this module.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class BadValue(Exception):
    """A value that is not of its field's type: what is wrong and, when there is one, how to fix
    it."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message, self.hint = message, hint


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise BadValue(f"expected text, got {value!r}", "quote the value")
    return value


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadValue(f"expected an integer, got {value!r}")
    return value


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadValue(f"expected a finite number, got {value!r}")
    return float(value)


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise BadValue(f"expected true or false, got {value!r}")
    return value


def _date(value: object) -> dt.date:
    """A yyyy-mm-dd text as a date: YAML 1.2 reads dates as text, so they are typed here."""
    if not isinstance(value, str):
        raise BadValue(f"expected a date, got {value!r}", "write dates as yyyy-mm-dd")
    try:
        if len(value) != 10:
            raise ValueError("not yyyy-mm-dd")
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise BadValue(
            f"{value!r} is not a valid date ({exc})", "write a real calendar date as yyyy-mm-dd"
        ) from None


def _boolean_text(value: bool) -> str:
    return "true" if value else "false"


def _date_text(value: dt.date) -> str:
    return value.isoformat()


def _is_true(text: str) -> bool:
    return text == "true"


@dataclass(frozen=True)
class FieldType:
    """One Table Schema type: its JSON Schema, its Python type, and its readers and writers."""

    name: str
    json_schema: dict[str, str]  # what an annotator may write, as JSON Schema keywords
    python: type  # the type of a typed value
    from_yaml: Callable[[Any], Any]  # a YAML value (not null or "") typed, or BadValue
    to_csv: Callable[[Any], str]  # a typed value (not None) as the text of its CSV cell
    from_csv: Callable[[str], Any]  # the text of a non-empty CSV cell typed
    arrow: str  # the pyarrow factory of its Parquet column's type
    # How pandas names a column of this type in the "pandas" metadata of a Parquet file, and the
    # dtype it then reads it as: one that holds a missing value as NA and keeps the type (an
    # integer column with a gap is never float, a date never a Python object).
    pandas_type: str
    pandas_dtype: str


FIELD_TYPES = {
    field_type.name: field_type
    for field_type in (
        FieldType("string", {"type": "string"}, str, _text, str, str, "string", "unicode", "str"),
        FieldType(
            "integer", {"type": "integer"}, int, _integer, str, int, "int64", "int64", "Int64"
        ),
        # str() of a float is its shortest repr, which reads back as the same float.
        FieldType(
            "number",
            {"type": "number"},
            float,
            _number,
            str,
            float,
            "float64",
            "float64",
            "float64",
        ),
        FieldType(
            "boolean",
            {"type": "boolean"},
            bool,
            _boolean,
            _boolean_text,
            _is_true,
            "bool_",
            "bool",
            "boolean",
        ),
        FieldType(
            "date",
            {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
            dt.date,
            _date,
            _date_text,
            dt.date.fromisoformat,
            "date32",
            # pandas's own datetime64 would add a time of day and a range (1677 to 2262) to a
            # calendar date; Arrow's date32 is the date itself, as the Parquet file holds it.
            "date",
            "date32[day][pyarrow]",
        ),
    )
}
# Looked up by a value's exact type first: a bool is also an int, but True is written "true".
_BY_PYTHON_TYPE = {field_type.python: field_type for field_type in FIELD_TYPES.values()}


def field_type(name: str) -> FieldType:
    """The row of type `name`; BadValue when the project does not use that type."""
    try:
        return FIELD_TYPES[name]
    except KeyError:
        raise BadValue(f"unsupported field type {name}") from None


def from_yaml(kind: str, value: object) -> Any:
    """A value read from YAML as the Python value of type `kind`; null and "" are None (left
    out)."""
    if value is None or value == "":
        return None
    return field_type(kind).from_yaml(value)


INT64 = 2**63  # Arrow's and Parquet's integers: -INT64 <= value < INT64


def from_csv(kind: str, text: str, strict: bool = False) -> Any:
    """The text of a CSV cell as the value of type `kind` (empty is None); a type outside the table
    stays text. With `strict`, ValueError for a value its Arrow column cannot hold or a chart
    cannot place: a boolean other than true or false, a number that is not finite, an integer
    outside 64 bits."""
    if text == "":
        return None
    if kind not in FIELD_TYPES:
        return text
    value = FIELD_TYPES[kind].from_csv(text)
    if strict and not _holds(kind, text, value):
        raise ValueError(f"{text!r} is refused by a strict reading as {kind}")
    return value


def _holds(kind: str, text: str, value: Any) -> bool:
    """Whether the typed `value` of a cell reading `text` is one a strict reading accepts."""
    if kind == "integer":
        return bool(-INT64 <= value < INT64)
    if kind == "number":
        return math.isfinite(value)
    if kind == "boolean":
        return text in ("true", "false")
    return True


def to_csv(value: object) -> str:
    """A typed value as the text of its CSV cell, by its Python type; None is the empty cell."""
    if value is None:
        return ""
    exact = _BY_PYTHON_TYPE.get(type(value))
    if exact is not None:
        return exact.to_csv(value)
    for kind in FIELD_TYPES.values():  # a subclass: a datetime is written as a date
        if isinstance(value, kind.python):
            return kind.to_csv(value)
    return str(value)


def arrow_type(name: str | None) -> Any:
    """The Arrow type of Table Schema type `name`. A field without a type is a string (Table
    Schema's default), and a type outside the table is read as text, as the validator reads it."""
    import pyarrow as pa

    kind = FIELD_TYPES.get(name or "string")
    return getattr(pa, kind.arrow if kind else "string")()


def category_values(field: dict) -> list | None:
    """The values of a field's code list (`categories`, as values or as value and label), or
    None when the field has none."""
    categories = field.get("categories")
    if categories is None:
        return None
    return [c["value"] if isinstance(c, dict) else c for c in categories]


def coded_text(field: dict) -> list[str] | None:
    """The code list of a text field, which its Parquet column holds as a dictionary; None for
    other fields. Arrow's Parquet reader restores dictionaries of text only, so an integer code
    list (geo_precision) stays an integer column, as ordered as its numbers."""
    values = category_values(field)
    return values if values is not None and field.get("type", "string") == "string" else None


def field_arrow_type(field: dict) -> Any:
    """The Arrow type of a field's Parquet column: a text code list is a dictionary of its values
    in their order (8-bit indices when they fit), ordered when the field says
    `categoriesOrdered`; any other field has its type's Arrow type."""
    import pyarrow as pa

    codes = coded_text(field)
    if codes is None:
        return arrow_type(field.get("type"))
    index = pa.int8() if len(codes) <= 127 else pa.int16()
    return pa.dictionary(index, pa.string(), ordered=bool(field.get("categoriesOrdered")))


def pandas_column(field: dict) -> dict:
    """The entry of a field's column in the "pandas" metadata of a Parquet file, which tells
    `pandas.read_parquet` (through pyarrow) the dtype to read it as: a code list is a categorical
    of the whole list, any other column the dtype of its type."""
    name = field["name"]
    codes = coded_text(field)
    if codes is not None:
        index = str(field_arrow_type(field).index_type)
        ordered = bool(field.get("categoriesOrdered"))
        return {
            "name": name,
            "field_name": name,
            "pandas_type": "categorical",
            "numpy_type": index,
            "metadata": {"num_categories": len(codes), "ordered": ordered},
        }
    kind = FIELD_TYPES.get(field.get("type") or "string", FIELD_TYPES["string"])
    return {
        "name": name,
        "field_name": name,
        "pandas_type": kind.pandas_type,
        "numpy_type": kind.pandas_dtype,
        "metadata": None,
    }
