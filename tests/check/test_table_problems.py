"""How `check` words the table-constraint engine's facts: each at the file and line of its row."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.build.snapshot import BuiltRows
from pipeline.build.tables import Origin, Tables
from pipeline.check import rules
from pipeline.contract import schemas

ACTOR = {"actor_id": "armenia", "name": "Armenia", "actor_type": "state", "country": "ARM"}
SPAN = {"source_id": "s", "record_table": "events", "record_id": "e", "start": 0, "end": 4}


def built(table: str, rows: list[dict], tables: Tables | None = None) -> Tables:
    """`rows` of `table` (missing fields null), the n-th written at line 10 * n of a.yaml."""
    tables = tables or Tables()
    pk = schemas.primary_key(table)
    for number, values in enumerate(rows, start=1):
        row = {name: None for name in schemas.field_names(table)} | values
        tables.add(table, row, Origin("a.yaml", 10 * number, f"{table}/{row[pk]}"))
    return tables


# The source the evidence rows point at.
SOURCES = [
    {
        "source_id": "s",
        "title": "T",
        "publisher": "P",
        "published_date": dt.date(2020, 9, 30),
        "published_date_basis": "date line",
        "language": "en",
        "text_sha256": "0" * 64,
        "text_chars": 4,
    }
]


def table_problems(tables: Tables) -> list[str]:
    rows = BuiltRows.of_tables(tables)
    found = rules.constraint_problems(rows) + rules.key_problems(rows)
    return sorted(str(problem) for problem in found)


@pytest.mark.parametrize(
    "table, rows, expected",
    [
        (
            "actors",
            [ACTOR | {"actor_id": "armenia\n", "country": "ARM\n"}],
            [
                "a.yaml:10: actors/armenia\n: actor_id: 'armenia\\n' is not an id: lowercase "
                "letters, digits and hyphens, starting with a letter or digit "
                "(e.g. terter-shelling-2020-09-30)",
                "a.yaml:10: actors/armenia\n: country: 'ARM\\n' is not an ISO 3166-1 alpha-3 "
                "country code: three capital letters (e.g. ARM)",
            ],
        ),
        (
            "actors",
            [ACTOR | {"actor_id": "arm\ud800"}],
            [
                "a.yaml:10: actors/arm\ud800: actor_id: 'arm\\ud800' is not an id: lowercase "
                "letters, digits and hyphens, starting with a letter or digit "
                "(e.g. terter-shelling-2020-09-30)"
            ],
        ),
        (
            "actors",
            [ACTOR | {"name": None}],
            [
                "a.yaml:10: actors/armenia: name: required value is missing "
                "(fill it in; see schemas/ for what it holds)"
            ],
        ),
        (
            "places",
            [{"place_id": "baku", "name": "Baku", "geo_precision": 1, "latitude": 95.0}],
            ["a.yaml:10: places/baku: latitude: 95.0 is above the maximum 90"],
        ),
        (
            "count_conventions",
            [{"term": "dozens", "phrase": "dozens", "low": -1, "high": 99, "basis": "ACLED"}],
            ["a.yaml:10: count_conventions/dozens: low: -1 is below the minimum 0"],
        ),
        (
            "evidence",
            [
                SPAN | {"evidence_id": "events-e-1", "exact": "word"},
                SPAN | {"evidence_id": "events-e-2", "exact": "word"},
            ],
            [
                f"a.yaml:{line}: evidence/events-e-{number}: duplicate row for the unique key "
                "source_id, record_table, record_id, start, end "
                "(the same span is given twice for this record)"
                for number, line in ((1, 10), (2, 20))
            ],
        ),
        (
            "actors",
            [ACTOR, ACTOR | {"name": "Armenia again"}, ACTOR | {"name": "and again"}],
            [
                f"a.yaml:{line}: actors/armenia: actor_id: id 'armenia' is already used in actors "
                "at a.yaml:10 (ids must be unique in their table across all files; rename one)"
                for line in (20, 30)
            ],
        ),
        (
            "actors",
            [ACTOR, ACTOR | {"actor_id": "yerevan", "parent_actor_id": "armenai"}],
            [
                "a.yaml:20: actors/yerevan: parent_actor_id: 'armenai' is not a known actors id "
                "(did you mean 'armenia'?)"
            ],
        ),
    ],
    ids=[
        "pattern-whole-value",
        "lone-surrogate",
        "required",
        "maximum",
        "minimum",
        "unique-key",
        "id-clash",
        "fk",
    ],
)
def test_each_fact_is_one_problem_at_its_row(table, rows, expected):
    assert table_problems(built(table, rows, built("sources", SOURCES))) == expected


def test_an_untypable_cell_is_reported_once_not_again_as_missing():
    tables = built("actors", [ACTOR | {"name": None}])
    tables.bad_cells.add(("actors", 0, "name"))
    assert table_problems(tables) == []
