"""What `check` says of a record's dates against the weekdays its evidence names, and of a value
outside its code list: every combination of a span reads as a whole sentence."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.build.snapshot import BuiltRows
from pipeline.build.tables import Origin, Tables
from pipeline.check import rules
from pipeline.contract import schemas

WED, THU = dt.date(2020, 9, 30), dt.date(2020, 10, 1)
EVENT = {
    "event_id": "e",
    "date_precision": "day",
    "event_type": "Explosions/Remote violence",
    "sub_event_type": "Shelling/artillery/missile attack",
    "scope": "incident",
    "claim_status": "reported",
    "summary": "Shelling.",
}
SOURCE = {
    "source_id": "s",
    "title": "T",
    "publisher": "P",
    "published_date": dt.date(2020, 10, 9),
    "published_date_basis": "date line",
    "language": "en",
    "text_sha256": "0" * 64,
    "text_chars": 100,
}
HINT = "(correct the date, or mark the span with weekdays_refer_elsewhere and say why)"


def with_evidence(table: str, values: dict, quotes: list[str], elsewhere=()) -> Tables:
    """One record of `table` written at line 10 of a.yaml, its evidence `quotes`; the quotes
    numbered in `elsewhere` are marked weekdays_refer_elsewhere."""
    tables = Tables()
    tables.add("sources", SOURCE, Origin("s.yaml", 1, "sources/s"))
    row = {name: None for name in schemas.field_names(table)} | values
    record_id = row[schemas.primary_key(table)]
    tables.add(table, row, Origin("a.yaml", 10, f"{table}/{record_id}"))
    for number, quote in enumerate(quotes, start=1):
        evidence_id = f"{table}-{record_id}-{number}"
        tables.evidence_of.setdefault((table, record_id), []).append(
            {"evidence_id": evidence_id, "source_id": "s", "exact": quote}
        )
        if number in elsewhere:
            tables.weekday_exempt.add(evidence_id)
    return tables


def everything(tables: Tables) -> list[str]:
    """Every problem the record layers find, as printed."""
    rows = BuiltRows.of_tables(tables)
    found = rules.constraint_problems(rows) + rules.key_problems(rows)
    found += rules.record_problems(tables, rules.record_context(tables))
    return sorted(str(problem) for problem in found)


def event(start, end, quotes: list[str], elsewhere=()) -> list[str]:
    values = EVENT | {"date_start": start, "date_end": end}
    return everything(with_evidence("events", values, quotes, elsewhere))


def says(weekday: str, span: str, field: str = "date_start", record: str = "events/e") -> str:
    return f"a.yaml:10: {record}: {field}: evidence says {weekday} but {span} {HINT}"


@pytest.mark.parametrize(
    "start, end, quotes, elsewhere, expected",
    [
        (WED, WED, ["on Wednesday"], (), []),
        (THU, THU, ["on Wednesday"], (), [says("Wednesday", "2020-10-01 is a Thursday")]),
        (
            dt.date(2020, 9, 26),
            dt.date(2020, 9, 29),
            ["on Wednesday"],
            (),
            [says("Wednesday", "2020-09-26..2020-09-29 runs from Saturday to Tuesday")],
        ),
        (dt.date(2020, 9, 26), WED, ["on Wednesday"], (), []),
        (
            THU,
            dt.date(2020, 10, 6),
            ["on Wednesday"],
            (),
            [says("Wednesday", "2020-10-01..2020-10-06 runs from Thursday to Tuesday")],
        ),
        (THU, dt.date(2020, 10, 7), ["on Wednesday"], (), []),
        (
            THU,
            THU,
            ["on Wednesday", "on Thursday", "by Friday"],
            (),
            [
                says("Friday", "2020-10-01 is a Thursday"),
                says("Wednesday", "2020-10-01 is a Thursday"),
            ],
        ),
        (THU, THU, ["on Wednesday"], (1,), []),
        (
            THU,
            THU,
            ["on Wednesday", "on Tuesday"],
            (1,),
            [says("Tuesday", "2020-10-01 is a Thursday")],
        ),
        (
            THU,
            WED,
            ["on Monday"],
            (),
            [
                "a.yaml:10: events/e: date_end: date_end 2020-09-30 is before/below date_start "
                "2020-10-01 (dates: date_start must not exceed date_end)"
            ],
        ),
        (
            THU,
            None,
            ["on Monday"],
            (),
            [
                "a.yaml:10: events/e: date_end: required value is missing "
                "(fill it in; see schemas/ for what it holds)"
            ],
        ),
        (
            None,
            THU,
            ["on Monday"],
            (),
            [
                "a.yaml:10: events/e: date_start: required value is missing "
                "(fill it in; see schemas/ for what it holds)"
            ],
        ),
    ],
    ids=[
        "the-day-itself",
        "one-day-another-weekday",
        "span-without-the-weekday",
        "span-holding-the-weekday",
        "six-days-without-the-weekday",
        "a-week-holds-every-weekday",
        "one-line-per-weekday-not-in-the-span",
        "weekday-elsewhere",
        "weekday-elsewhere-in-one-quote-only",
        "inverted-span-reported-by-its-order-only",
        "missing-end-reported-as-missing-only",
        "missing-start-reported-as-missing-only",
    ],
)
def test_weekdays_in_the_evidence_against_the_date_span(start, end, quotes, elsewhere, expected):
    assert event(start, end, quotes, elsewhere) == expected


def test_a_statement_names_its_own_date_field():
    values = {
        "statement_id": "d",
        "speaker_actor_id": "a",
        "date": THU,
        "date_latest": THU,
        "date_precision": "day",
        "channel": "unspecified",
        "statement_type": "DENY",
        "summary": "Denied.",
    }
    tables = with_evidence("statements", values, ["said on Wednesday"])
    tables.add("actors", {"actor_id": "a"}, Origin("a.yaml", 1, "actors/a"))
    assert [line for line in everything(tables) if "weekday" in line] == [
        says("Wednesday", "2020-10-01 is a Thursday", field="date", record="statements/d")
    ]


@pytest.mark.parametrize(
    "values, expected",
    [
        (
            {"sub_event_type": "Shelling"},
            "sub_event_type: 'Shelling' is not an allowed value (allowed: "
            "Shelling/artillery/missile attack, Air/drone strike, Remote explosive/landmine/IED, "
            "Grenade, Suicide bomb, Chemical weapon)",
        ),
        (
            {"event_type": "Battles", "sub_event_type": "Armed clashes"},
            "sub_event_type: 'Armed clashes' is not an allowed value (did you mean 'Armed clash'? "
            "allowed: Armed clash, Government regains territory, "
            "Non-state actor overtakes territory)",
        ),
        (
            {"claim_status": "clamed"},
            "claim_status: 'clamed' is not an allowed value (did you mean 'claimed' or 'confirmed'? "
            "allowed: "
            "reported, claimed, disputed, denied, unverified, confirmed)",
        ),
        (
            {"event_id": "E_1"},
            "event_id: 'E_1' is not an id: lowercase letters, digits and hyphens, starting with "
            "a letter or digit (e.g. terter-shelling-2020-09-30)",
        ),
    ],
    ids=["sub-type-of-its-event-type", "sub-type-close", "short-code-list", "id"],
)
def test_the_table_checks_word_a_value_as_the_annotation_check_does(values: dict, expected: str):
    values = EVENT | {"date_start": WED, "date_end": WED} | values
    tables = with_evidence("events", values, [])
    record = values["event_id"]
    assert everything(tables) == [f"a.yaml:10: events/{record}: {expected}"]
