"""Layers 3-5 of validation on built tables: schema constraints, integrity, domain rules.

Layer 3 runs pandera schemas derived from schemas/ (required, enum, pattern matched
whole, ranges, lengths, unique keys). Layer 4 checks primary and foreign keys, and
that references do not go round in a circle (responses, parents). Layer 5 holds the
rules no schema language expresses: ranges in order, sub types that belong to their
type, dates not after the reporting source, weekdays named in the evidence that match
the dates, ranges that follow the count conventions, counts of people below a bound,
quotes and count texts found in their evidence, evidence long enough to identify a
passage and clear of excluded page chrome.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re

from pipeline.build.tables import Origin, Tables
from pipeline.contract import schemas
from pipeline.contract.problems import Problem
from pipeline.contract.schemas import DATE_SPANS
from pipeline.load.spans import fold

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


# ---- layer 3: pandera ----


def import_libraries() -> None:
    """Import pandas and pandera, which take about a second, ahead of their first use."""
    import pandera.pandas  # noqa: F401


def pandera_schema(table: str):
    """A pandera DataFrameSchema for `table`, derived from its Table Schema.

    Values are already typed by the builder, so the schema checks constraints, not dtypes.
    Primary keys are left to the integrity layer, which names both definitions.
    """
    import pandera.pandas as pa

    pk = schemas.primary_key(table)
    columns = {}
    for field_def in schemas.fields(table):
        constraints = field_def.get("constraints", {})
        checks = []
        if "enum" in constraints:
            checks.append(pa.Check.isin(constraints["enum"], error="enum"))
        if "pattern" in constraints:
            # The whole value must match, as Table Schema means it: re.match would let "id\n" pass "^...$".
            checks.append(pa.Check(_full_match(constraints["pattern"]), error="pattern"))
        if "minimum" in constraints:
            checks.append(pa.Check.ge(constraints["minimum"], error="minimum"))
        if "maximum" in constraints:
            checks.append(pa.Check.le(constraints["maximum"], error="maximum"))
        if "minLength" in constraints:
            checks.append(
                pa.Check.str_length(min_value=constraints["minLength"], error="minLength")
            )
        unique = bool(constraints.get("unique")) and field_def["name"] != pk
        columns[field_def["name"]] = pa.Column(
            None,
            checks=checks,
            nullable=not constraints.get("required", False),
            unique=unique,
            required=True,
        )
    unique_keys = table_unique_keys(table)
    return pa.DataFrameSchema(columns, unique=unique_keys[0] if unique_keys else None, strict=True)


def _full_match(pattern: str):
    def check(values):
        return values.str.fullmatch(pattern).fillna(False).astype(bool)

    return check


def table_unique_keys(table: str) -> list[list[str]]:
    return schemas.table_schema(table).get("uniqueKeys", [])


_CHECK_MESSAGES = {
    "enum": lambda f, v: (
        f"{v!r} is not an allowed value",
        "allowed: " + ", ".join(map(str, f["constraints"]["enum"])),
    ),
    "pattern": lambda f, v: (
        f"{v!r} does not match the pattern {f['constraints']['pattern']}",
        None,
    ),
    "minimum": lambda f, v: (f"{v!r} is below the minimum {f['constraints']['minimum']}", None),
    "maximum": lambda f, v: (f"{v!r} is above the maximum {f['constraints']['maximum']}", None),
    "minLength": lambda f, v: (
        f"{v!r} is shorter than {f['constraints']['minLength']} character(s)",
        None,
    ),
}


def constraint_problems(tables: Tables) -> list[Problem]:
    import pandas as pd
    import pandera.errors

    problems = []
    for table in schemas.TABLES:
        rows = tables.rows[table]
        if not rows:
            continue
        frame = pd.DataFrame(rows, columns=schemas.field_names(table), dtype=object)
        try:
            pandera_schema(table).validate(frame, lazy=True)
        except pandera.errors.SchemaErrors as errors:
            by_name = {f["name"]: f for f in schemas.fields(table)}
            for case in errors.failure_cases.itertuples(index=False):
                column, check, index, value = (
                    case.column,
                    str(case.check),
                    case.index,
                    case.failure_case,
                )
                if index is None or (isinstance(index, float) and index != index):
                    continue
                origin = tables.origins[table][int(index)]
                if (table, int(index), column) in tables.bad_cells:
                    continue  # already reported as untypable
                if (table, column) == ("evidence", "evidence_id"):
                    continue  # evidence ids derive from record ids, whose own pattern check reports the fault
                if check == "not_nullable":
                    problems.append(
                        _problem(
                            origin,
                            column,
                            "required value is missing",
                            "fill it in; see schemas/ for what it holds",
                        )
                    )
                elif check in _CHECK_MESSAGES:
                    message, hint = _CHECK_MESSAGES[check](by_name[column], value)
                    problems.append(_problem(origin, column, message, hint))
                elif check == "field_uniqueness":
                    problems.append(_problem(origin, column, f"{value!r} is not unique"))
                elif check == "multiple_fields_uniqueness":
                    problems.append(
                        _problem(
                            origin,
                            None,
                            "duplicate row for the unique key "
                            + ", ".join(table_unique_keys(table)[0]),
                            "the same span is given twice for this record",
                        )
                    )
                else:
                    problems.append(_problem(origin, column, f"fails check {check}: {value!r}"))
    return problems


# ---- layer 4: keys ----


def key_problems(tables: Tables) -> list[Problem]:
    problems = []
    keys: dict[str, dict] = {}
    for table in schemas.TABLES:
        pk = schemas.primary_key(table)
        seen: dict = {}
        for row, origin in zip(tables.rows[table], tables.origins[table]):
            value = row.get(pk)
            if value is None:
                continue
            if value in seen:
                first = seen[value]
                if table == "evidence":
                    continue  # evidence ids derive from record ids: the record's clash is already reported
                problems.append(
                    _problem(
                        origin,
                        pk,
                        f"id {value!r} is already used in {table} at {first.file}:{first.line}",
                        "ids must be unique in their table across all files; rename one",
                    )
                )
            else:
                seen[value] = origin
        keys[table] = seen
    for table in schemas.TABLES:
        for column, ref_table, _ref_column in schemas.foreign_keys(table):
            for row, origin in zip(tables.rows[table], tables.origins[table]):
                value = row.get(column)
                if value is None or value in keys[ref_table]:
                    continue
                close = difflib.get_close_matches(
                    str(value), list(keys[ref_table]), n=1, cutoff=0.6
                )
                hint = f"did you mean {close[0]!r}?" if close else f"define it in {ref_table} first"
                problems.append(
                    _problem(origin, column, f"{value!r} is not a known {ref_table} id", hint)
                )
    return problems + cycle_problems(tables)


# References that must not come back round: a statement responds to an earlier one, an
# actor's parent is a larger body. (message, hint) of each; a record pointing at itself has its own message.
CYCLES = {
    ("statements", "responds_to_statement_id"): (
        "statements respond to each other in a circle",
        "a statement responds to an earlier one; correct or remove one responds_to_statement_id of the circle",
    ),
    ("actors", "parent_actor_id"): (
        "actors are each other's parents in a circle",
        "an actor's parent is a larger body; correct or remove one parent_actor_id of the circle",
    ),
}


def cycle_problems(tables: Tables) -> list[Problem]:
    """One problem per circle of references, at the member written first, listing the circle from there."""
    problems = []
    for (table, column), (message, hint) in CYCLES.items():
        pk = schemas.primary_key(table)
        target, origin_of = {}, {}
        for row, origin in zip(tables.rows[table], tables.origins[table]):
            key = row.get(pk)
            if (
                isinstance(key, str) and key not in origin_of
            ):  # a second row of an id is reported as a clash
                target[key], origin_of[key] = row.get(column), origin
        for circle in _circles(target):
            first = min(circle, key=lambda key: (origin_of[key].file, origin_of[key].line))
            at = circle.index(first)
            members = circle[at:] + circle[:at] + [first]
            problems.append(
                _problem(origin_of[first], column, f"{message}: " + " -> ".join(members), hint)
            )
    return problems


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
    first, last = DATE_SPANS[table]
    if row.get(first) is None or row.get(last) is None:
        return []
    span_days = (row[last] - row[first]).days
    problems = []
    for evidence in tables.evidence_of.get((table, row.get(schemas.primary_key(table))), []):
        if evidence["evidence_id"] in tables.weekday_exempt:
            continue
        for name in sorted(set(WEEKDAY_RE.findall(evidence["exact"]))):
            wanted = WEEKDAYS.index(name)
            if span_days >= 6 or any(
                (row[first] + dt.timedelta(d)).weekday() == wanted for d in range(span_days + 1)
            ):
                continue
            actual = ", ".join(
                sorted(
                    {
                        WEEKDAYS[(row[first] + dt.timedelta(d)).weekday()]
                        for d in range(span_days + 1)
                    }
                )
            )
            problems.append(
                _problem(
                    origin,
                    first,
                    f"evidence says {name} but {row[first].isoformat()}"
                    + (f"..{row[last].isoformat()}" if span_days else "")
                    + f" is a {actual}",
                    "correct the date, or mark the span with weekdays_refer_elsewhere and say why",
                )
            )
    return problems


def record_context(tables: Tables) -> tuple[dict, dict]:
    """What the record rules need beyond a record and its evidence: conventions by term, publication dates."""
    conventions = {row["term"]: row for row in tables.rows["count_conventions"] if row.get("term")}
    published = {row["source_id"]: row["published_date"] for row in tables.rows["sources"]}
    return conventions, published


def record_problems(tables: Tables, context: tuple[dict, dict]) -> list[Problem]:
    """The layer-5 rules that look at one record and its own evidence, so they can run on any part of a corpus."""
    conventions, published = context
    problems = _date_problems(tables, published)
    problems += _event_problems(tables)
    for row, origin in zip(tables.rows["casualty_reports"], tables.origins["casualty_reports"]):
        problems += _count_problems(row, origin, conventions)
        problems += _within_evidence(tables, "casualty_reports", row, origin, "count_text")
    for row, origin in zip(tables.rows["statements"], tables.origins["statements"]):
        problems += _within_evidence(tables, "statements", row, origin, "quote")
        responds_to = row.get("responds_to_statement_id")
        if responds_to is not None and responds_to == row.get("statement_id"):
            problems.append(
                _problem(origin, "responds_to_statement_id", "a statement cannot respond to itself")
            )
    for row, origin in zip(tables.rows["actors"], tables.origins["actors"]):
        if row.get("parent_actor_id") is not None and row["parent_actor_id"] == row.get("actor_id"):
            problems.append(
                _problem(origin, "parent_actor_id", "an actor cannot be its own parent")
            )
    return problems + _short_evidence_problems(tables)


def _date_problems(tables: Tables, published: dict) -> list[Problem]:
    """Date spans in order, not after the reporting source, and agreeing with the weekdays their evidence names."""
    problems = []
    for table, (first, last) in DATE_SPANS.items():
        for row, origin in zip(tables.rows[table], tables.origins[table]):
            problems += _ordered(row, origin, first, last, "dates")
            record_id = row.get(schemas.primary_key(table))
            evidence = tables.evidence_of.get((table, record_id), [])
            if row.get(first) is not None:
                for ev in evidence:
                    reported = published.get(ev["source_id"])
                    if reported is not None and row[first] > reported:
                        problems.append(
                            _problem(
                                origin,
                                first,
                                f"{first} {row[first].isoformat()} is after source "
                                f"{ev['source_id']} was published ({reported.isoformat()})",
                                "a source cannot report what had not happened; check the date",
                            )
                        )
                        break
            problems += _weekday_problems(tables, table, row, origin)
    return problems


def _event_problems(tables: Tables) -> list[Problem]:
    """Sub types of their own type; claims with a claimant."""
    problems = []
    sub_types = schemas.sub_event_types()
    for row, origin in zip(tables.rows["events"], tables.origins["events"]):
        event_type, sub_type = row.get("event_type"), row.get("sub_event_type")
        if (
            event_type is not None
            and sub_type is not None
            and sub_type not in sub_types.get(event_type, [sub_type])
        ):
            owner = next((t for t, subs in sub_types.items() if sub_type in subs), None)
            hint = f"{sub_type!r} belongs to {owner!r}" if owner else None
            problems.append(
                _problem(
                    origin,
                    "sub_event_type",
                    f"{sub_type!r} is not a sub type of {event_type!r}",
                    hint,
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


def _count_problems(row: dict, origin: Origin, conventions: dict) -> list[Problem]:
    """Each count group of a casualty report: low <= high, the convention's range, a plausible size."""
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
                        f"{group} range {low}..{high} differs from convention "
                        f"{term!r} ({convention['low']}..{convention['high']})",
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
    """Whether `note` writes `figure`, with or without thousands separators ("12,000,000", "12 000 000")."""
    if not note:
        return False
    joined = _SEPARATOR_RE.sub("", note)
    return re.search(rf"(?<!\d){figure}(?!\d)", joined) is not None


def _short_evidence_problems(tables: Tables) -> list[Problem]:
    """Evidence too short to identify a passage, unless the annotator says why it is enough."""
    problems = []
    for row, origin in zip(tables.rows["evidence"], tables.origins["evidence"]):
        found = sum(char.isalnum() for char in row["exact"])
        if found < schemas.MIN_EVIDENCE_CHARS and row["evidence_id"] not in tables.short_exempt:
            problems.append(
                Problem(
                    origin.file,
                    origin.line,
                    f"evidence {row['exact']!r} has {found} letter(s) or "
                    f"digit(s); at least {schemas.MIN_EVIDENCE_CHARS} are needed to identify a passage",
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
    evidence = tables.evidence_of.get((table, row.get(schemas.primary_key(table))), [])
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


def chrome_problems(tables: Tables, exclusions) -> list[Problem]:
    """Evidence must not overlap a passage the annotations exclude as content-free."""
    problems = []
    by_source: dict[str, list] = {}
    for start, end, source_id, reason in exclusions:
        by_source.setdefault(source_id, []).append((start, end, reason))
    for row, origin in zip(tables.rows["evidence"], tables.origins["evidence"]):
        for start, end, reason in by_source.get(row["source_id"], []):
            if row["start"] < end and start < row["end"]:
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
