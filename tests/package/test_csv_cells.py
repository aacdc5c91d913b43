"""The CSV writer: each cell as its field type writes it (fieldtypes.to_csv), None as the empty
cell, in the csv module's quoting, for every table and every type."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.contract import schemas
from pipeline.contract.fieldtypes import FIELD_TYPES
from pipeline.package import writer

TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\x00"), max_size=8
)
VALUES = {
    "string": TEXT,
    "integer": st.integers(min_value=-(2**63), max_value=2**63 - 1),
    "number": st.floats(allow_nan=False, allow_infinity=False),
    "boolean": st.booleans(),
    "date": st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
}


def rows_of(table: str) -> st.SearchStrategy[list[dict]]:
    fields = schemas.fields(table)
    return st.lists(
        st.fixed_dictionaries({f["name"]: st.one_of(st.none(), VALUES[f["type"]]) for f in fields}),
        max_size=12,
    )


def expected_csv(table: str, rows: list[dict]) -> str:
    """The CSV text as the field types write each cell, one cell at a time."""
    fields = schemas.fields(table)
    handle = io.StringIO()
    out = csv.writer(handle, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    out.writerow([f["name"] for f in fields])
    for row in rows:
        cells = [row[f["name"]] for f in fields]
        out.writerow(
            [
                None if value is None else FIELD_TYPES[f["type"]].to_csv(value)
                for f, value in zip(fields, cells, strict=True)
            ]
        )
    return handle.getvalue()


@pytest.mark.parametrize("table", schemas.TABLES)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_each_cell_is_written_as_its_type_writes_it(table: str, data):
    rows = data.draw(rows_of(table))
    written = io.StringIO()
    writer.write_csv(written, table, rows)
    assert written.getvalue() == expected_csv(table, rows)


def test_booleans_dates_and_gaps_are_written_in_their_cells():
    fields = schemas.fields("casualty_reports")
    typed = {"boolean": True, "date": dt.date(2020, 10, 1), "integer": 3}
    row = {f["name"]: typed.get(f["type"], "x") for f in fields}
    gaps = {f["name"]: None for f in fields}
    written = io.StringIO()
    writer.write_csv(written, "casualty_reports", [row, gaps])
    header, first, second = written.getvalue().splitlines()
    cells = dict(zip(header.split(","), first.split(","), strict=True))
    assert {cells[f["name"]] for f in fields if f["type"] == "boolean"} == {"true"}
    assert {cells[f["name"]] for f in fields if f["type"] == "date"} == {"2020-10-01"}
    assert second == "," * (len(fields) - 1)
