"""The field-type table: what each Table Schema type accepts from YAML (with the exact message and hint
for what it refuses), how it is written to CSV and read back, its JSON Schema and its Arrow type; every
type the schemas use is in it, and reading it does not import pyarrow."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys

import pyarrow as pa
import pytest

from pipeline.contract import fieldtypes, schemas
from pipeline.contract.fieldtypes import BadValue, arrow_type, from_csv, from_yaml, to_csv

from conftest import ROOT


@pytest.mark.parametrize(
    ("kind", "value", "typed"),
    [
        ("string", "Martakert", "Martakert"),
        ("string", "yes", "yes"),
        ("integer", 17, 17),
        ("integer", -3, -3),
        ("number", 40.3447, 40.3447),
        ("number", 17, 17.0),
        ("boolean", True, True),
        ("boolean", False, False),
        ("date", "2020-09-30", dt.date(2020, 9, 30)),
        ("string", None, None),
        ("integer", "", None),
        ("date", None, None),
        ("datetime", None, None),
    ],
)
def test_yaml_values_of_each_type(kind: str, value, typed):
    result = from_yaml(kind, value)
    assert (result, type(result)) == (typed, type(typed))


@pytest.mark.parametrize(
    ("kind", "value", "message", "hint"),
    [
        ("string", 17, "expected text, got 17", "quote the value"),
        ("string", True, "expected text, got True", "quote the value"),
        ("integer", True, "expected an integer, got True", None),
        ("integer", 1.5, "expected an integer, got 1.5", None),
        ("integer", "17", "expected an integer, got '17'", None),
        ("number", False, "expected a finite number, got False", None),
        ("number", math.inf, "expected a finite number, got inf", None),
        ("number", math.nan, "expected a finite number, got nan", None),
        ("number", "1.5", "expected a finite number, got '1.5'", None),
        ("boolean", "yes", "expected true or false, got 'yes'", None),
        ("boolean", 1, "expected true or false, got 1", None),
        ("date", 20200930, "expected a date, got 20200930", "write dates as yyyy-mm-dd"),
        (
            "date",
            "2020-9-30",
            "'2020-9-30' is not a valid date (not yyyy-mm-dd)",
            "write a real calendar date as yyyy-mm-dd",
        ),
        (
            "date",
            "2020-02-30",
            "'2020-02-30' is not a valid date (day is out of range for month)",
            "write a real calendar date as yyyy-mm-dd",
        ),
        ("datetime", "2020-09-30T00:00:00", "unsupported field type datetime", None),
    ],
)
def test_yaml_values_refused_with_message_and_hint(kind: str, value, message: str, hint):
    with pytest.raises(BadValue) as caught:
        from_yaml(kind, value)
    assert (caught.value.message, caught.value.hint) == (message, hint)


@pytest.mark.parametrize(
    ("kind", "value", "text"),
    [
        ("string", '=1+1, "quoted"', '=1+1, "quoted"'),
        ("integer", 17, "17"),
        ("integer", -9223372036854775808, "-9223372036854775808"),
        ("number", 40.3447, "40.3447"),
        ("number", 0.1 + 0.2, "0.30000000000000004"),
        ("number", 1e22, "1e+22"),
        ("boolean", True, "true"),
        ("boolean", False, "false"),
        ("date", dt.date(2020, 9, 30), "2020-09-30"),
    ],
)
def test_csv_text_of_each_type_reads_back_as_the_same_value(kind: str, value, text: str):
    assert to_csv(value) == text
    assert fieldtypes.FIELD_TYPES[kind].to_csv(value) == text
    read = from_csv(kind, text)
    assert (read, type(read)) == (value, type(value))


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        ("integer", "", None),
        ("string", "", None),
        ("datetime", "2020-09-30T00:00", "2020-09-30T00:00"),
    ],
)
def test_empty_cells_are_none_and_unknown_types_stay_text(kind: str, text: str, value):
    assert from_csv(kind, text) == value


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, ""), (dt.datetime(2020, 9, 30, 8, 15), "2020-09-30T08:15:00"), (True, "true")],
    ids=["none", "datetime", "bool-not-int"],
)
def test_to_csv_by_python_type(value, text: str):
    assert to_csv(value) == text


@pytest.mark.parametrize(
    ("kind", "json_schema", "arrow"),
    [
        ("string", {"type": "string"}, pa.string()),
        ("integer", {"type": "integer"}, pa.int64()),
        ("number", {"type": "number"}, pa.float64()),
        ("boolean", {"type": "boolean"}, pa.bool_()),
        (
            "date",
            {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
            pa.date32(),
        ),
    ],
)
def test_json_schema_and_arrow_type_of_each_type(kind: str, json_schema: dict, arrow):
    assert fieldtypes.FIELD_TYPES[kind].json_schema == json_schema
    assert arrow_type(kind) == arrow


@pytest.mark.parametrize("kind", [None, "datetime", "any"])
def test_arrow_type_of_no_type_or_an_unknown_one_is_text(kind):
    assert arrow_type(kind) == pa.string()


def test_every_type_the_schemas_use_is_in_the_table():
    used = {field["type"] for table in schemas.TABLES for field in schemas.fields(table)}
    assert sorted(used) == ["boolean", "date", "integer", "number", "string"]
    assert sorted(fieldtypes.FIELD_TYPES) == sorted(used)


def test_a_date_field_in_the_annotation_schema_carries_its_format_and_pattern():
    record = schemas.annotation_json_schema()["$defs"]["events"]["properties"]["date_start"]
    assert list(record) == ["type", "description", "format", "pattern"]
    assert (record["type"], record["format"], record["pattern"]) == (
        "string",
        "date",
        r"^\d{4}-\d{2}-\d{2}$",
    )


def test_the_contract_does_not_import_pyarrow():
    code = (
        "import sys, pipeline.contract.schemas, pipeline.contract.fieldtypes; "
        "print('pyarrow' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout == "False\n"
