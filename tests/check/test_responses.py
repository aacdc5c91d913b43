"""The response rule over whole columns says what a plain reading of it says, statement by
statement: a response neither ends before what it answers was made nor rests on the same words."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.build.snapshot import BuiltRows
from pipeline.build.tables import Origin, Tables
from pipeline.check import rules
from pipeline.contract import schemas

IDS = ["a", "b", "c", "d", None]
DAYS = [None, *(dt.date(2020, 10, day) for day in (1, 2, 3))]

statement = st.fixed_dictionaries(
    {
        "statement_id": st.sampled_from(IDS),
        "responds_to_statement_id": st.sampled_from([*IDS, "x"]),
        "date": st.sampled_from(DAYS),
        "date_latest": st.sampled_from(DAYS),
    }
)
evidence = st.fixed_dictionaries(
    {
        "record_table": st.sampled_from(["statements", "events"]),
        "record_id": st.sampled_from(IDS[:-1]),
        "source_id": st.sampled_from(["s", "t"]),
        "start": st.sampled_from([0, 5]),
    }
)


def plainly(statements: list[dict], spans: list[dict]) -> list[tuple[int, str]]:
    """(row, kind) of each problem, read one statement at a time."""
    last = {row["statement_id"]: n for n, row in enumerate(statements)}
    words: dict = {}
    for span in spans:
        if span["record_table"] == "statements":
            words.setdefault(span["record_id"], set()).add((span["source_id"], span["start"]))
    found = []
    for n, row in enumerate(statements):
        other = last.get(row["responds_to_statement_id"])
        if row["responds_to_statement_id"] is None or other is None or other == n:
            continue
        ends, said = row["date_latest"] or row["date"], statements[other]["date"]
        own = words.get(row["statement_id"], set()) if row["statement_id"] else set()
        if ends is not None and said is not None and ends < said:
            found.append((n, "ends"))
        elif own and own == words.get(statements[other]["statement_id"], set()):
            found.append((n, "same words"))
    return found


def built(table: str, rows: list[dict], tables: Tables) -> None:
    for n, values in enumerate(rows):
        row = {name: None for name in schemas.field_names(table)} | values
        tables.add(table, row, Origin("a.yaml", n + 1, f"{table}/{n}"))


@settings(max_examples=300, deadline=None)
@given(st.lists(statement, max_size=8), st.lists(evidence, max_size=10))
def test_responses_as_read_one_by_one(statements: list[dict], spans: list[dict]) -> None:
    tables = Tables()
    built("statements", statements, tables)
    built("evidence", spans, tables)
    found = rules.response_problems(BuiltRows.of_tables(tables))
    kinds = sorted(
        (p.line - 1, "ends" if "cannot answer it" in p.message else "same words") for p in found
    )
    assert kinds == plainly(statements, spans)
