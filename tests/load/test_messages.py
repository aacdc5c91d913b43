"""What an annotator reads about a quote not found, a value outside its code list and a value not
of its pattern: the nearest whole words of the text, the closest allowed values, the pattern in
words."""

from __future__ import annotations

import pytest

from pipeline.contract import schemas
from pipeline.load.spans import Unresolved, resolve
from pipeline.load.structure import PATTERN_WORDS, structure_problems

TEXT = "Three civilians were killed in Terter, Azerbaijan said on Wednesday."


@pytest.mark.parametrize(
    "text, quote, hint",
    [
        ("three civilians were killed", "tree civilians", "nearest text is 'three civilians'"),
        ("three civilians were killed", "Xthree civilians", "nearest text is 'three civilians'"),
        (
            TEXT,
            "civilians were kiled in Tertr",
            "nearest text is 'civilians were killed in Terter'",
        ),
        (TEXT, "Azerbaijan sayd on Wednesday", "nearest text is 'Azerbaijan said on Wednesday'"),
        (TEXT, "on Wednesday.!", "nearest text is 'on Wednesday.'"),
        (TEXT, "qqq", "the quote shares nothing with the text"),
        (
            "Please enter your comment!",
            "Please leave a comment!",
            "nearest text is 'Please enter your comment!'",
        ),
    ],
    ids=[
        "letter-missing-at-offset-0",
        "letter-added-at-offset-0",
        "middle",
        "letter-missing-in-the-middle",
        "at-the-end",
        "nothing-shared",
        "word-replaced",
    ],
)
def test_a_quote_not_found_names_the_nearest_whole_words(text: str, quote: str, hint: str):
    with pytest.raises(Unresolved) as raised:
        resolve(text, quote)
    assert raised.value == Unresolved(f"quote not found in the source: {quote!r}", hint)


EVENT = {
    "event_id": "terter-shelling",
    "date_start": "2020-09-30",
    "date_precision": "day",
    "event_type": "Explosions/Remote violence",
    "sub_event_type": "Shelling/artillery/missile attack",
    "scope": "incident",
    "claim_status": "reported",
    "summary": "Shelling of Terter.",
    "evidence": ["Terter"],
}
STATEMENT = {
    "statement_id": "denial",
    "speaker_actor_id": "armenia",
    "date": "2020-09-30",
    "date_precision": "day",
    "channel": "unspecified",
    "statement_type": "DENY",
    "summary": "Armenia denied it.",
    "evidence": ["Armenia denied"],
}
EXPLOSIONS = (
    "allowed: Shelling/artillery/missile attack, Air/drone strike, "
    "Remote explosive/landmine/IED, Grenade, Suicide bomb, Chemical weapon"
)
ALL_STATEMENT_TYPES = "allowed: " + ", ".join(
    next(f for f in schemas.fields("statements") if f["name"] == "statement_type")["categories"]
)


def shape_problems(table: str, record: dict) -> list[str]:
    document = {"source_id": "wire-2020-09-30", table: [record]}
    found = structure_problems(
        document, schemas.annotation_json_schema(), "a.yaml", lambda path: f"{table}/x"
    )
    return [str(problem) for problem in found]


@pytest.mark.parametrize(
    "table, record, expected",
    [
        (
            "events",
            EVENT | {"date_precision": "dya"},
            "date_precision: 'dya' is not an allowed value "
            "(did you mean 'day' or 'year'? allowed: day, week, month, year)",
        ),
        (
            "events",
            EVENT | {"date_precision": "fortnight"},
            "date_precision: 'fortnight' is not an allowed value (allowed: day, week, month, year)",
        ),
        (
            "statements",
            STATEMENT | {"statement_type": "DENI"},
            "statement_type: 'DENI' is not an allowed value (did you mean 'DENY'?)",
        ),
        (
            "statements",
            STATEMENT | {"statement_type": "CONCEED"},
            "statement_type: 'CONCEED' is not an allowed value "
            "(did you mean 'CONCEDE', 'COERCE' or 'COOPERATE'?)",
        ),
        (
            "statements",
            STATEMENT | {"statement_type": "praise"},
            f"statement_type: 'praise' is not an allowed value ({ALL_STATEMENT_TYPES})",
        ),
        (
            "events",
            EVENT | {"sub_event_type": "Shelling"},
            f"sub_event_type: 'Shelling' is not an allowed value ({EXPLOSIONS})",
        ),
        (
            "events",
            EVENT | {"sub_event_type": "Drone strike"},
            "sub_event_type: 'Drone strike' is not an allowed value "
            f"(did you mean 'Air/drone strike'? {EXPLOSIONS})",
        ),
        (
            "events",
            EVENT | {"event_type": "Battles", "sub_event_type": "Armed clashes"},
            "sub_event_type: 'Armed clashes' is not an allowed value (did you mean 'Armed clash'? "
            "allowed: Armed clash, Government regains territory, "
            "Non-state actor overtakes territory)",
        ),
        (
            "events",
            EVENT | {"date_start": "30/09/2020"},
            "date_start: '30/09/2020' is not a date as YYYY-MM-DD (e.g. 2020-09-27)",
        ),
        (
            "events",
            EVENT | {"event_id": "Terter_Shelling"},
            "event_id: 'Terter_Shelling' is not an id: lowercase letters, digits and hyphens, "
            "starting with a letter or digit (e.g. terter-shelling-2020-09-30)",
        ),
        (
            "events",
            EVENT | {"event_id": "-terter"},
            "event_id: '-terter' is not an id: lowercase letters, digits and hyphens, "
            "starting with a letter or digit (e.g. terter-shelling-2020-09-30)",
        ),
    ],
    ids=[
        "short-list-close",
        "short-list-nothing-close",
        "long-list-one-close",
        "long-list-two-close",
        "long-list-nothing-close",
        "sub-type-of-its-event-type-nothing-close",
        "sub-type-of-its-event-type-close",
        "sub-type-of-another-event-type",
        "date",
        "id-with-capitals-and-underscore",
        "id-starting-with-a-hyphen",
    ],
)
def test_a_value_outside_its_code_list_or_pattern_is_explained(
    table: str, record: dict, expected: str
):
    assert shape_problems(table, record) == [f"a.yaml: {table}/x: {expected}"]


def test_a_sub_type_of_an_unknown_event_type_is_among_every_sub_type():
    record = EVENT | {"event_type": "Shelling", "sub_event_type": "Armed clashes"}
    assert shape_problems("events", record) == [
        "a.yaml: events/x: event_type: 'Shelling' is not an allowed value (allowed: Battles, "
        "Explosions/Remote violence, Violence against civilians, Protests, Riots, "
        "Strategic developments)",
        "a.yaml: events/x: sub_event_type: 'Armed clashes' is not an allowed value "
        "(did you mean 'Armed clash'?)",
    ]


def patterns(node) -> set[str]:
    """Every "pattern" in a JSON Schema."""
    if isinstance(node, dict):
        found = {node["pattern"]} if isinstance(node.get("pattern"), str) else set()
        return found.union(*(patterns(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(patterns(value) for value in node))
    return set()


def test_every_pattern_of_the_schemas_is_said_in_words():
    written = {
        field["constraints"]["pattern"]
        for table in schemas.TABLES
        for field in schemas.fields(table)
        if "pattern" in field.get("constraints", {})
    }
    for schema in (
        schemas.annotation_json_schema(),
        schemas.source_json_schema(),
        schemas.conventions_json_schema(),
    ):
        written |= patterns(schema)
    assert written == set(PATTERN_WORDS)
