"""Layers 3-5 of validation on built tables: schema constraints, integrity, domain rules.

Layers 3 and 4 put the built rows in Arrow columns and run the table-constraint engine
(pipeline.contract.constraints) on them, the one `validate` runs on the published files, and word
each fact it finds at the row's file and line: layer 3 the fields' constraints (required, enum,
pattern matched whole, ranges, lengths) and unique keys, layer 4 primary and foreign keys, and that
references do not go round in a circle (responses, parents). Layer 5 holds the rules no schema
language expresses: ranges in order, sub types that belong to their type, dates not after the
reporting source, weekdays named in the evidence that match the dates, ranges that follow the count
conventions, counts of people below a bound, quotes and count texts found in their evidence,
evidence long enough to identify a passage and clear of excluded page chrome.

The checks across files read the whole tables' Arrow columns (BuiltRows) and make Python values only
of the rows they report, or of the rows that can break a rule (circles and responses: the rows that
refer to another); with a cache, what each finds is kept by the columns it read and found again only
when they change (pipeline.check.memo), and through the snapshot the repeats and references look at
the kept rows once and at the rows built now each time (pipeline.check.delta). Profiled warm checks
of 10,000 documents, a loaded machine, before and after: the keys 9.7 s -> 2.5 s (references 5.6 ->
0.4, repeated ids 1.2 -> 0.2, circles 1.8 -> 0.3, responses 1.2 -> 1.5: 20,455 statements respond,
each looked at in Python), the repeated unique values 4.3 s -> 1.7 s (most of it the evidence's
unique key: coding its record ids takes 0.46 s)."""

from __future__ import annotations

import bisect
import datetime as dt
import difflib
import itertools
import re
from collections.abc import Callable, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.build.snapshot import BuiltRows
from pipeline.build.tables import Origin, Tables
from pipeline.check.delta import Columns, repeat_pairs, unknown_references
from pipeline.check.memo import Column, Memo
from pipeline.contract import schemas
from pipeline.contract.constraints import (
    Unreadable,
    Violation,
    arrow_scalar,
    as_mask,
    field_violations,
    foreign_key_violations,
    int64_values,
    int64s,
    nulls,
    row_codes,
    texts,
    value_codes,
)
from pipeline.contract.problems import Problem
from pipeline.contract.schemas import DATE_SPANS
from pipeline.load.spans import fold
from pipeline.load.structure import allowed_values, not_allowed, not_matching, too_short

# The most people one count may claim unless its note writes the figure and says why: about the
# population of Azerbaijan and three times that of Armenia, so a larger figure is a slip.
MAX_PEOPLE = 10_000_000
# Thousands separators between digits, dropped before looking for a figure in a note.
_SEPARATOR_RE = re.compile(r"(?<=\d)[,._' \u00a0\u2009\u202f](?=\d)")
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
WEEKDAY_RE = re.compile(r"\b(" + "|".join(WEEKDAYS) + r")\b")
COUNT_GROUPS = ["killed", "injured", "displaced", "casualties"]


def _problem(origin: Origin, field: str | None, message: str, hint: str | None = None) -> Problem:
    line = origin.line_of(field)
    return Problem(origin.file, line, message, origin.record, field, hint)


# ---- layer 3: table constraints ----

# What each check across files finds, as it is remembered (pipeline.check.memo, `fits`): a reference
# to no id, its row; a circle, [id, row] of each member; a response [row, answered row, dated
# before]. Repeats and clashes: pipeline.check.delta.
REFERENCES = [int, ...]
CIRCLES = [[[str, int], ...], ...]
RESPONSES = [[int, int, bool], ...]


# How each constraint a value breaks reads: (message, hint) from the field, the value and its row.
# Code lists and patterns read as the annotation files' structure check words them.
_CHECK_MESSAGES = {
    "enum": lambda f, v, row: not_allowed(
        v, allowed_values(f["name"], f["constraints"]["enum"], row)
    ),
    "pattern": lambda f, v, row: not_matching(v, f["constraints"]["pattern"]),
    "minimum": lambda f, v, row: (
        f"{v!r} is below the minimum {f['constraints']['minimum']}",
        None,
    ),
    "maximum": lambda f, v, row: (
        f"{v!r} is above the maximum {f['constraints']['maximum']}",
        None,
    ),
    "minLength": lambda f, v, row: too_short(v, f["constraints"]["minLength"]),
}


def constraint_problems(
    rows: BuiltRows, cells: bool = True, memo: Memo | None = None
) -> list[Problem]:
    """Each cell breaking its field's constraints (required, enum, pattern matched whole, ranges,
    lengths), unless `cells` is off (they were found as the rows were built: `cell_problems`),
    each repeat in a unique field other than the primary key, and each row of a repeated unique
    key; the repeats as `memo` remembers them, if given."""
    memo = memo or Memo(None)
    problems = []
    for table in schemas.TABLES:
        facts: Iterable[Violation | Unreadable] = _repeats(table, rows, memo)
        if cells:
            facts = itertools.chain(_cell_facts(rows, table), facts)
        for fact in facts:
            problems += _constraint_problems(rows, table, fact)
        rows.forget(table)  # made again if a key needs them
    return problems


def cell_problems(parts: list[Tables]) -> list[list[Problem]]:
    """The problems of each cell breaking its field's constraints, for each of `parts` (tables built
    from consecutive files): one engine run over them all, as a run over each would be slow (10,000
    documents, one file each: 115 columns per file), then each problem handed to its part."""
    merged = Tables()
    starts: dict[str, list[int]] = {table: [] for table in schemas.TABLES}
    for part in parts:
        for table in schemas.TABLES:
            starts[table].append(len(merged.rows[table]))
        merged.extend(part)
    found: list[list[Problem]] = [[] for _ in parts]
    rows = BuiltRows.of_tables(merged)
    for table in schemas.TABLES:
        for fact in _cell_facts(rows, table):
            owner = bisect.bisect_right(starts[table], fact.row) - 1
            found[owner] += _constraint_problems(rows, table, fact)
    return found


def _cell_facts(rows: BuiltRows, table: str):
    """The engine's facts about each cell of `table`; cells already reported as untypable are not
    missing."""
    count = rows.length(table)
    untypable = {name: np.zeros(count, dtype=bool) for name in schemas.field_names(table)}
    for bad_table, index, name in rows.bad_cells:
        if bad_table == table:
            untypable[name][index] = True
    for spec in schemas.fields(table):
        name = spec["name"]
        yield from field_violations(
            rows.column(table, name), spec, untypable[name], whole_match=True
        )
        rows.forget(table)  # one column at a time: the evidence texts alone are large


def _repeats(table: str, rows: BuiltRows, memo: Memo) -> list[Violation]:
    """The facts about values repeated in a unique field other than the primary key (the key
    layer reports the key's), and about repeated unique keys."""
    pk = schemas.primary_key(table)
    unique = [
        spec["name"]
        for spec in schemas.fields(table)
        if spec.get("constraints", {}).get("unique") and spec["name"] != pk
    ]
    keys = schemas.table_schema(table).get("uniqueKeys", [])[:1]
    facts = []
    for name in unique:  # missing cells repeat nothing
        pairs = repeat_pairs(memo, f"unique {table}.{name}", rows, table, [name], _all_null)
        facts += [Violation("unique", (name,), row, previous) for row, previous in pairs]
    for key in keys:  # a row with a null in the key repeats nothing
        name = f"unique-key {table}.{','.join(key)}"
        pairs = repeat_pairs(memo, name, rows, table, key, _any_null)
        facts += [Violation("unique-key", tuple(key), row, previous) for row, previous in pairs]
    return facts


def _all_null(arrays: Columns) -> np.ndarray:
    return nulls(arrays, every=True)


def _any_null(arrays: Columns) -> np.ndarray:
    return nulls(arrays, every=False)


def _constraint_problems(
    rows: BuiltRows, table: str, fact: Violation | Unreadable
) -> list[Problem]:
    """The problems of one fact: at its row, and for a repeat at the row it repeats too."""
    if isinstance(fact, Unreadable):
        return []  # a constraint of schemas/ that cannot be read: the schemas' own tests catch it
    # a repeat is reported at both rows
    indices = [fact.row] if fact.previous is None else [fact.previous, fact.row]
    problems = []
    for index in indices:
        column = fact.fields[0]
        if (table, index, column) in rows.bad_cells:
            continue  # already reported as untypable
        if (table, column) == ("evidence", "evidence_id"):
            continue  # evidence ids derive from record ids, whose own pattern check reports it
        origin = rows.origin(table, index)
        problems.append(_constraint_problem(origin, table, fact, rows.row(table, index)))
    return problems


def _constraint_problem(origin: Origin, table: str, fact: Violation, row: dict) -> Problem:
    column = fact.fields[0]
    value = row.get(column)
    if fact.kind == "required":
        return _problem(
            origin,
            column,
            "required value is missing",
            "fill it in; see schemas/ for what it holds",
        )
    if fact.kind in _CHECK_MESSAGES:
        by_name = {f["name"]: f for f in schemas.fields(table)}
        message, hint = _CHECK_MESSAGES[fact.kind](by_name[column], value, row)
        return _problem(origin, column, message, hint)
    if fact.kind == "unique":
        return _problem(origin, column, f"{value!r} is not unique")
    if fact.kind == "unique-key":
        return _problem(
            origin,
            None,
            "duplicate row for the unique key " + ", ".join(fact.fields),
            "the same span is given twice for this record",
        )
    return _problem(origin, column, f"fails check {fact.kind}: {value!r}")


# ---- layer 4: keys ----


def key_problems(rows: BuiltRows, memo: Memo | None = None) -> list[Problem]:
    """Ids used twice in a table, references to ids no table defines, and circles of references;
    what each check finds as `memo` remembers it, if given."""
    memo = memo or Memo(None)
    problems = []
    for table in schemas.TABLES:
        if (
            table != "evidence"
        ):  # evidence ids derive from record ids: the record's clash is reported
            problems += _clash_problems(rows, table, memo)
    for table in schemas.TABLES:
        for column, ref_table, ref_column in schemas.foreign_keys(table):
            problems += _reference_problems(rows, (table, column), (ref_table, ref_column), memo)
    return problems + cycle_problems(rows, memo) + response_problems(rows, memo)


def _clash_problems(rows: BuiltRows, table: str, memo: Memo) -> list[Problem]:
    """Each later row of an id, pointing at the row that used it first."""
    pk = schemas.primary_key(table)

    # rows whose every key cell is null: the required constraint reports them
    pairs = repeat_pairs(memo, f"clashes {table}", rows, table, [pk], _all_null)
    first: dict[int, int] = {}
    problems = []
    for row, previous in pairs:
        first[row] = first.get(previous, previous)
        value, at = rows.row(table, row)[pk], rows.origin(table, first[row])
        problems.append(
            _problem(
                rows.origin(table, row),
                pk,
                f"id {value!r} is already used in {table} at {at.file}:{at.line}",
                "ids must be unique in their table across all files; rename one",
            )
        )
    return problems


def _reference_problems(
    rows: BuiltRows, where: tuple[str, str], to: tuple[str, str], memo: Memo
) -> list[Problem]:
    """Each row of `where` (table, column) naming an id that `to` (table, column) does not hold."""
    (table, column), (ref_table, ref_column) = where, to
    name = f"references {table}.{column}"

    def find() -> list:
        facts = foreign_key_violations(
            [column],
            [rows.column(table, column)],
            [rows.column(ref_table, ref_column)],
            rows.length(ref_table),
        )
        return [fact.row for fact in facts]

    unknown = unknown_references(memo, name, rows, where, to)
    if unknown is None:
        unknown = memo.facts(name, rows, [where, to], find, REFERENCES)
    problems = []
    known: list | None = None
    for row in unknown:
        if known is None:  # in the order first written, as the ids' own rows give them
            known = pc.unique(rows.column(ref_table, ref_column)).to_pylist()
        value = rows.row(table, row)[column]
        close = difflib.get_close_matches(
            str(value), [k for k in known if k is not None], n=1, cutoff=0.6
        )
        hint = f"did you mean {close[0]!r}?" if close else f"define it in {ref_table} first"
        problems.append(
            _problem(
                rows.origin(table, row),
                column,
                f"{value!r} is not a known {ref_table} id",
                hint,
            )
        )
    return problems


# References that must not come back round: a statement responds to an earlier one, an actor's
# parent is a larger body. (message, hint) of each; a record pointing at itself has its own message.
CYCLES = {
    ("statements", "responds_to_statement_id"): (
        "statements respond to each other in a circle",
        "a statement responds to an earlier one; "
        "correct or remove one responds_to_statement_id of the circle",
    ),
    ("actors", "parent_actor_id"): (
        "actors are each other's parents in a circle",
        "an actor's parent is a larger body; correct or remove one parent_actor_id of the circle",
    ),
}


def cycle_problems(rows: BuiltRows, memo: Memo | None = None) -> list[Problem]:
    """One problem per circle of references, at the member written first, listing the circle from
    there. Only the first row of each id counts (a second row of an id is reported as a clash),
    and only rows that refer to another can be in a circle: those are the rows looked at."""
    memo = memo or Memo(None)
    problems = []
    for (table, column), (message, hint) in CYCLES.items():
        pk = schemas.primary_key(table)
        reads: list[Column] = [(table, pk), (table, column)]
        for circle in memo.facts(
            f"circles {table}.{column}", rows, reads, _circle_finder(rows, table, column), CIRCLES
        ):
            origins = {key: rows.origin(table, row) for key, row in circle}
            keys = [key for key, _ in circle]
            first = min(keys, key=lambda key: (origins[key].file, origins[key].line))
            start = keys.index(first)
            members = keys[start:] + keys[:start] + [first]
            problems.append(
                _problem(origins[first], column, f"{message}: " + " -> ".join(members), hint)
            )
    return problems


def _circle_finder(rows: BuiltRows, table: str, column: str) -> Callable[[], list]:
    """What finds the circles of `column` in `table`: each a list of [key, row of its first row]."""

    def find() -> list:
        pk = schemas.primary_key(table)
        at = _first_rows(rows.column(table, pk))
        at = at[as_mask(pc.is_valid(rows.column(table, column)))[at]]
        keys = rows.column(table, pk).take(int64s(at)).to_pylist()
        targets = rows.column(table, column).take(int64s(at)).to_pylist()
        row_of = dict(zip(keys, at.tolist(), strict=True))
        circles = _circles(dict(zip(keys, targets, strict=True)))
        return [[[key, row_of[key]] for key in circle] for circle in circles]

    return find


def _first_rows(keys: pa.Array) -> np.ndarray:
    """The index of the first row of each key (nulls left out), in row order."""
    codes = value_codes(keys)
    distinct, first = np.unique(codes, return_index=True)
    return np.sort(first[distinct >= 0])


def _last_rows(keys: pa.Array, wanted: pa.Array) -> np.ndarray:
    """For each value of `wanted`, the index of the last row of `keys` holding it, else -1."""
    backwards = keys.take(int64s(np.arange(len(keys) - 1, -1, -1)))
    found = pc.index_in(wanted, value_set=backwards)
    positions = int64_values(pc.fill_null(found, arrow_scalar(-1, found.type)))
    return np.where(positions >= 0, len(keys) - 1 - positions, -1)


# What the response rule reads: the statements' ids, dates and answers, and each evidence row's
# record and span start.
STATEMENTS = ("record_table", "statements")
RESPONSE_READS: list[Column] = [
    ("statements", "statement_id"),
    ("statements", "responds_to_statement_id"),
    ("statements", "date"),
    ("statements", "date_latest"),
    ("evidence", "record_id", STATEMENTS),
    ("evidence", "source_id", STATEMENTS),
    ("evidence", "start", STATEMENTS),
]


def response_problems(rows: BuiltRows, memo: Memo | None = None) -> list[Problem]:
    """A response must be able to follow what it answers: not dated wholly before it, and not
    taken from the very words that report both statements at once ("accused each other"), which
    give no order. Runs over the whole corpus: the answered statement may be in another file;
    only the statements that respond are looked at, each against the last row of the id it
    answers. Whole columns at once: 20,000 responses one by one took 0.5 s of each check."""
    memo = memo or Memo(None)
    problems = []
    for row, other, early in memo.facts(
        "responses", rows, RESPONSE_READS, _response_finder(rows), RESPONSES
    ):
        problem = _early_answer if early else _same_words_answer
        problems.append(problem(rows, row, rows.row("statements", other)))
    return problems


def _response_finder(rows: BuiltRows) -> Callable[[], list]:
    """What finds the responses that cannot follow what they answer: each a list of [its row,
    the answered row, whether it is dated before (else: the same words)]."""

    def find() -> list:
        table, field = "statements", "responds_to_statement_id"
        answering = np.flatnonzero(as_mask(pc.is_valid(rows.column(table, field))))
        answered = _last_rows(
            rows.column(table, "statement_id"), rows.column(table, field).take(int64s(answering))
        )
        kept = (answered >= 0) & (answered != answering)
        pairs = (answering[kept], answered[kept])
        early = _answers_earlier(rows, *pairs)
        same = _same_words(rows, *pairs)
        return [
            [int(pairs[0][n]), int(pairs[1][n]), bool(early[n])]
            for n in np.flatnonzero(early | same).tolist()
        ]

    return find


def _answers_earlier(rows: BuiltRows, row_at: np.ndarray, other_at: np.ndarray) -> np.ndarray:
    """Which statements (rows `row_at`) end before the one they answer (rows `other_at`) was made:
    its latest date, else its date, before the other's date."""
    dates, latest = rows.column("statements", "date"), rows.column("statements", "date_latest")
    at = int64s(row_at)
    ends = pc.coalesce(latest.take(at), dates.take(at))
    return as_mask(pc.less(ends, dates.take(int64s(other_at))))


def _same_words(rows: BuiltRows, row_at: np.ndarray, other_at: np.ndarray) -> np.ndarray:
    """Which statements (rows `row_at`) rest on the same words as the one they answer (rows
    `other_at`): the same (source, start) of every evidence row, and at least one."""
    ids = rows.column("statements", "statement_id")
    involved = pc.unique(ids.take(int64s(np.concatenate([row_at, other_at]))))
    record_ids = rows.column("evidence", "record_id")
    mask = pc.and_(
        # an Arrow scalar: a Python string here has pyarrow import pandas (0.3 s)
        pc.equal(rows.column("evidence", "record_table"), arrow_scalar("statements", pa.string())),
        pc.is_in(record_ids, value_set=involved),
    )
    at = int64s(np.flatnonzero(as_mask(mask)))
    owner = int64_values(pc.index_in(record_ids.take(at), value_set=involved))
    spans = [rows.column("evidence", name).take(at) for name in ("source_id", "start")]
    words = _word_sets(owner, row_codes(spans), len(involved))
    own, theirs = (
        _positions(ids.take(int64s(rows_at)), involved) for rows_at in (row_at, other_at)
    )
    return np.array(
        [
            min(a, b) >= 0 and words[a] is not None and words[a] == words[b]
            for a, b in zip(own.tolist(), theirs.tolist(), strict=True)
        ],
        dtype=bool,
    )


def _word_sets(owner: np.ndarray, word: np.ndarray, owners: int) -> list[bytes | None]:
    """For each owner, its distinct words (sorted, as bytes, so that equal sets compare equal);
    None for an owner without any."""
    order = np.lexsort((word, owner))
    owner, word = owner[order], word[order]
    distinct = np.ones(len(owner), dtype=bool)
    distinct[1:] = (owner[1:] != owner[:-1]) | (word[1:] != word[:-1])
    owner, word = owner[distinct], word[distinct]
    bounds = np.searchsorted(owner, np.arange(owners + 1))
    return [
        word[start:end].tobytes() if end > start else None
        for start, end in zip(bounds[:-1], bounds[1:], strict=True)
    ]


def _positions(values: pa.Array, value_set: pa.Array) -> np.ndarray:
    """Each value's index in `value_set`, -1 for a null."""
    found = pc.index_in(values, value_set=value_set)
    return int64_values(pc.fill_null(found, arrow_scalar(-1, found.type)))


def _early_answer(rows: BuiltRows, row: int, answered: dict) -> Problem:
    own = rows.row("statements", row)
    latest = own["date_latest"] or own["date"]
    return _problem(
        rows.origin("statements", row),
        "responds_to_statement_id",
        f"the statement ends ({latest.isoformat()}) before {answered['statement_id']} was made "
        f"({answered['date'].isoformat()}), so it cannot answer it",
        "correct the dates, or leave responds_to_statement_id empty",
    )


def _same_words_answer(rows: BuiltRows, row: int, answered: dict) -> Problem:
    return _problem(
        rows.origin("statements", row),
        "responds_to_statement_id",
        f"this statement and {answered['statement_id']} rest on the same words, which report "
        "both at once and give no order",
        "leave responds_to_statement_id empty, or quote the words that say which answered which",
    )


def _circles(target: dict) -> list[list]:
    """Each circle of two or more keys in `target` (key -> the key it refers to, or None)."""
    walked: dict = {}  # key -> the walk that reached it first
    circles = []
    for walk, start in enumerate(sorted(target)):
        key, path = start, []
        while key in target and key not in walked:
            walked[key] = walk
            path.append(key)
            key = target[key]
        if key in walked and walked[key] == walk and len(path) - path.index(key) >= 2:
            circles.append(path[path.index(key) :])
    return circles


# ---- layer 5: domain rules ----


def _ordered(row, origin, low, high, what) -> list[Problem]:
    if row.get(low) is not None and row.get(high) is not None and row[low] > row[high]:
        return [
            _problem(
                origin,
                high,
                f"{high} {row[high]} is before/below {low} {row[low]}",
                f"{what}: {low} must not exceed {high}",
            )
        ]
    return []


def _weekday_problems(tables: Tables, table: str, row: dict, origin: Origin) -> list[Problem]:
    """A weekday named in the record's evidence that no day of its date span falls on.

    Only a span that reads, in order, is checked: a missing or untypable date, or an end
    before the start, is reported by its own rule, and the weekday is checked once it is fixed."""
    first, last = DATE_SPANS[table]
    start, end = row.get(first), row.get(last)
    if start is None or end is None or end < start:
        return []
    # a week or more holds every weekday
    length = min((end - start).days, 6)
    weekdays = {(start + dt.timedelta(offset)).weekday() for offset in range(length + 1)}
    problems = []
    for evidence in _evidence_of(tables, table, row):
        if evidence["evidence_id"] in tables.weekday_exempt:
            continue
        for name in sorted(set(WEEKDAY_RE.findall(evidence["exact"]))):
            if WEEKDAYS.index(name) not in weekdays:
                problems.append(
                    _problem(
                        origin,
                        first,
                        f"evidence says {name} but {_span_weekdays(start, end)}",
                        "correct the date, or mark the span with weekdays_refer_elsewhere "
                        "and say why",
                    )
                )
    return problems


def _span_weekdays(start: dt.date, end: dt.date) -> str:
    """The weekdays of an ordered span in words: '2020-09-29 is a Tuesday', or for several days
    '2020-09-26..2020-09-29 runs from Saturday to Tuesday'."""
    if start == end:
        return f"{start.isoformat()} is a {WEEKDAYS[start.weekday()]}"
    return (
        f"{start.isoformat()}..{end.isoformat()} runs from {WEEKDAYS[start.weekday()]} "
        f"to {WEEKDAYS[end.weekday()]}"
    )


def record_context(tables: Tables) -> tuple[dict, dict]:
    """What the record rules need beyond a record and its evidence: conventions by term, publication
    dates."""
    conventions = {row["term"]: row for row in tables.rows["count_conventions"] if row.get("term")}
    published = {row["source_id"]: row["published_date"] for row in tables.rows["sources"]}
    return conventions, published


def record_problems(tables: Tables, context: tuple[dict, dict]) -> list[Problem]:
    """The layer-5 rules that look at one record and its own evidence, so they can run on any part
    of a corpus."""
    conventions, published = context
    problems = _date_problems(tables, published)
    problems += _event_problems(tables)
    for row, origin in zip(
        tables.rows["casualty_reports"], tables.origins["casualty_reports"], strict=True
    ):
        problems += _count_problems(row, origin, conventions)
        problems += _within_evidence(tables, "casualty_reports", row, origin, "count_text")
    for row, origin in zip(tables.rows["statements"], tables.origins["statements"], strict=True):
        problems += _within_evidence(tables, "statements", row, origin, "quote")
        responds_to = row.get("responds_to_statement_id")
        if responds_to is not None and responds_to == row.get("statement_id"):
            problems.append(
                _problem(origin, "responds_to_statement_id", "a statement cannot respond to itself")
            )
    for row, origin in zip(tables.rows["actors"], tables.origins["actors"], strict=True):
        if row.get("parent_actor_id") is not None and row["parent_actor_id"] == row.get("actor_id"):
            problems.append(
                _problem(origin, "parent_actor_id", "an actor cannot be its own parent")
            )
    return problems + _short_evidence_problems(tables)


def _date_problems(tables: Tables, published: dict) -> list[Problem]:
    """Date spans in order, not after the reporting source, and agreeing with the weekdays their
    evidence names."""
    problems = []
    for table, (first, last) in DATE_SPANS.items():
        for row, origin in zip(tables.rows[table], tables.origins[table], strict=True):
            problems += _ordered(row, origin, first, last, "dates")
            problems += _after_source(
                row, origin, first, _evidence_of(tables, table, row), published
            )
            problems += _weekday_problems(tables, table, row, origin)
    return problems


def _after_source(
    row: dict, origin: Origin, first: str, evidence: list[dict], published: dict
) -> list[Problem]:
    """The first of the record's sources published before the record's first date, if any."""
    if row.get(first) is None:
        return []
    for ev in evidence:
        reported = published.get(ev["source_id"])
        if reported is not None and row[first] > reported:
            return [
                _problem(
                    origin,
                    first,
                    f"{first} {row[first].isoformat()} is after source "
                    f"{ev['source_id']} was published ({reported.isoformat()})",
                    "a source cannot report what had not happened; check the date",
                )
            ]
    return []


def _evidence_of(tables: Tables, table: str, row: dict) -> list[dict]:
    """The evidence rows of a record (none for a record without an id)."""
    record_id = row.get(schemas.primary_key(table))
    return tables.evidence_of.get((table, record_id), []) if isinstance(record_id, str) else []


def _event_problems(tables: Tables) -> list[Problem]:
    """Sub types of their own type; claims with a claimant."""
    problems = []
    sub_types = schemas.sub_event_types()
    for row, origin in zip(tables.rows["events"], tables.origins["events"], strict=True):
        event_type, sub_type = row.get("event_type"), row.get("sub_event_type")
        # a sub type of no type is outside the code list, which says so with the closest values
        owner = next((t for t, subs in sub_types.items() if sub_type in subs), None)
        if owner is not None and event_type in sub_types and sub_type not in sub_types[event_type]:
            problems.append(
                _problem(
                    origin,
                    "sub_event_type",
                    f"{sub_type!r} is not a sub type of {event_type!r}",
                    f"{sub_type!r} belongs to {owner!r}",
                )
            )
        if (
            row.get("claim_status") in ("claimed", "denied", "disputed")
            and row.get("claimant_actor_id") is None
        ):
            problems.append(
                _problem(
                    origin,
                    "claimant_actor_id",
                    f"claim_status {row['claim_status']!r} needs a claimant",
                    "name the party whose claim this is",
                )
            )
    return problems


def _span(low: int | None, high: int | None) -> str:
    """A count range in words, an empty bound included: "12..99", "12 or more", "up to 99"."""
    if low is not None and high is not None:
        return f"{low}..{high}"
    if low is not None:
        return f"{low} or more"
    return "not given" if high is None else f"up to {high}"


def _count_problems(row: dict, origin: Origin, conventions: dict) -> list[Problem]:
    """Each count group of a casualty report: low <= high, the convention's range, a plausible
    size."""
    problems = []
    for group in COUNT_GROUPS:
        low, high, term = (
            row.get(f"{group}_low"),
            row.get(f"{group}_high"),
            row.get(f"{group}_convention"),
        )
        problems += _ordered(row, origin, f"{group}_low", f"{group}_high", "counts")
        if term is not None and term in conventions:
            convention = conventions[term]
            if (low, high) != (convention["low"], convention["high"]):
                problems.append(
                    _problem(
                        origin,
                        f"{group}_low",
                        f"{group} range is {_span(low, high)}, but convention {term!r} is "
                        f"{_span(convention['low'], convention['high'])}",
                        "use the convention's range or another convention",
                    )
                )
        column = f"{group}_high" if high is not None and high > MAX_PEOPLE else f"{group}_low"
        figure = row.get(column)
        if (
            figure is not None
            and figure > MAX_PEOPLE
            and not _states_figure(row.get("note"), figure)
        ):
            problems.append(
                _problem(
                    origin,
                    column,
                    f"{figure:,} people is more than {MAX_PEOPLE:,}, the most one count may claim",
                    "correct the figure; if the source really says so, write the figure "
                    "and why it holds in note",
                )
            )
    return problems


def _states_figure(note: str | None, figure: int) -> bool:
    """Whether `note` writes `figure`, with or without thousands separators ("12,000,000", "12 000
    000")."""
    if not note:
        return False
    joined = _SEPARATOR_RE.sub("", note)
    return re.search(rf"(?<!\d){figure}(?!\d)", joined) is not None


def _short_evidence_problems(tables: Tables) -> list[Problem]:
    """Evidence too short to identify a passage, unless the annotator says why it is enough."""
    problems = []
    for row, origin in zip(tables.rows["evidence"], tables.origins["evidence"], strict=True):
        found = sum(char.isalnum() for char in row["exact"])
        if found < schemas.MIN_EVIDENCE_CHARS and row["evidence_id"] not in tables.short_exempt:
            problems.append(
                Problem(
                    origin.file,
                    origin.line,
                    f"evidence {row['exact']!r} has {found} letter(s) or "
                    f"digit(s); at least {schemas.MIN_EVIDENCE_CHARS} are needed to identify a "
                    "passage",
                    origin.record,
                    "evidence",
                    "quote more of the sentence, or write the quote as a mapping with "
                    "short_quote_suffices: and the reason it is enough",
                )
            )
    return problems


def _within_evidence(
    tables: Tables, table: str, row: dict, origin: Origin, column: str
) -> list[Problem]:
    words = row.get(column)
    if words is None:
        return []
    evidence = _evidence_of(tables, table, row)
    if evidence and not any(fold(words) in fold(ev["exact"]) for ev in evidence):
        return [
            _problem(
                origin,
                column,
                f"{column} is not found in the record's evidence",
                f"{column} must be the source's own words, inside one of the evidence quotes",
            )
        ]
    return []


def chrome_problems(rows: BuiltRows, exclusions) -> list[Problem]:
    """Evidence must not overlap a passage the annotations exclude as content-free; only the
    evidence of sources with such passages is looked at."""
    problems: list[Problem] = []
    by_source: dict[str, list] = {}
    for start, end, source_id, reason in exclusions:
        by_source.setdefault(source_id, []).append((start, end, reason))
    if not by_source:
        return problems
    sources = rows.column("evidence", "source_id")
    at = np.flatnonzero(as_mask(pc.is_in(sources, value_set=texts(sorted(by_source)))))
    picked = int64s(at)
    for index, source_id, first, last in zip(
        at.tolist(),
        sources.take(picked).to_pylist(),
        rows.column("evidence", "start").take(picked).to_pylist(),
        rows.column("evidence", "end").take(picked).to_pylist(),
        strict=True,
    ):
        for start, end, reason in by_source[source_id]:
            if first < end and start < last:
                origin = rows.origin("evidence", index)
                problems.append(
                    Problem(
                        origin.file,
                        origin.line,
                        f"evidence overlaps text excluded as {reason!r}",
                        origin.record,
                        "evidence",
                        "quote the article's content, not page chrome",
                    )
                )
    return problems
