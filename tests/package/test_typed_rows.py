"""read_typed_rows: each cell typed by its field; a ragged row's missing cells are missing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pipeline.package.reader import read_typed_rows

RESOURCE = {
    "name": "things",
    "path": "data/things.csv",
    "schema": {
        "fields": [
            {"name": "thing_id", "type": "string"},
            {"name": "count", "type": "integer"},
            {"name": "day", "type": "date"},
        ]
    },
}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("a,1,2020-10-01\n", [{"thing_id": "a", "count": 1, "day": dt.date(2020, 10, 1)}]),
        ("a,,\n", [{"thing_id": "a", "count": None, "day": None}]),
        ("a,1\n", [{"thing_id": "a", "count": 1, "day": None}]),
        ("a\n", [{"thing_id": "a", "count": None, "day": None}]),
        (
            "a,1,2020-10-01,extra,more\n",
            [{"thing_id": "a", "count": 1, "day": dt.date(2020, 10, 1)}],
        ),
        (
            "a\nb,2\n",
            [
                {"thing_id": "a", "count": None, "day": None},
                {"thing_id": "b", "count": 2, "day": None},
            ],
        ),
    ],
    ids=["full", "empty-cells", "short-by-one", "short-by-two", "long", "two-short"],
)
def test_ragged_rows_are_missing_not_text(tmp_path: Path, body: str, expected: list[dict]):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "things.csv").write_text("thing_id,count,day\n" + body, "utf-8")
    assert read_typed_rows(tmp_path, RESOURCE) == expected
