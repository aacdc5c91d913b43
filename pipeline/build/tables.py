"""Build the package's tables from a loaded corpus.

Each annotated record becomes one row, its values typed by the table schema; each
evidence quote is resolved to offsets and becomes an evidence row. Every row keeps
the file and line it came from (its origin) so later checks can point at it.
Values that cannot be typed become empty and a Problem; nothing stops the build.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, cast

from pipeline.contract import schemas
from pipeline.contract.fieldtypes import BadValue, from_yaml
from pipeline.contract.problems import Problem
from pipeline.load.seeds import Corpus, Record
from pipeline.load.spans import Unresolved, resolve, usable_occurrence

_SHARED_KEYS: dict[tuple, tuple] = {}


class Origin(NamedTuple):
    """Where a row was written: file, line, record label, and the line of each key.

    The key lines are two tuples, the keys one shared by every record written with
    the same keys, rather than a dict per row; and a tuple rather than a class with
    attributes: rows cross between processes and a corpus has one origin per row.
    """

    file: str
    line: int
    record: str | None
    keys: tuple = ()
    lines: tuple = ()

    @classmethod
    def of(cls, file: str, values, record: str | None) -> Origin:
        """The origin of a record read as `values` (a Located mapping)."""
        keys = tuple(values.key_lines)
        return cls(
            file,
            values.line,
            record,
            _SHARED_KEYS.setdefault(keys, keys),
            tuple(values.key_lines.values()),
        )

    def line_of(self, key: str | None) -> int:
        """The line of `key` in the record, else the record's line."""
        if key in self.keys:
            return self.lines[self.keys.index(key)]
        return self.line


@dataclass
class Tables:
    rows: dict[str, list[dict]] = field(default_factory=lambda: {t: [] for t in schemas.TABLES})
    origins: dict[str, list[Origin]] = field(
        default_factory=lambda: {t: [] for t in schemas.TABLES}
    )
    # (table, record_id) -> evidence rows, for the domain checks
    evidence_of: dict[tuple[str, str], list[dict]] = field(default_factory=dict)
    # (table, row index, column) of cells already reported as untypable: no second report
    bad_cells: set[tuple[str, int, str]] = field(default_factory=set)
    # evidence ids whose weekdays the annotator says belong to another record
    weekday_exempt: set[str] = field(default_factory=set)
    # evidence ids whose quote the annotator says is long enough, though shorter than the rule
    short_exempt: set[str] = field(default_factory=set)

    def add(self, table: str, row: dict, origin: Origin) -> None:
        self.rows[table].append(row)
        self.origins[table].append(origin)

    def extend(self, other: Tables) -> None:
        """Append the rows of `other`, built from later files, as if built here."""
        offsets = {table: len(rows) for table, rows in self.rows.items()}
        for table, rows in other.rows.items():
            self.rows[table] += rows
            self.origins[table] += other.origins[table]
        for key, rows in other.evidence_of.items():
            self.evidence_of.setdefault(key, []).extend(rows)
        self.bad_cells.update(
            (table, offsets[table] + index, column) for table, index, column in other.bad_cells
        )
        self.weekday_exempt |= other.weekday_exempt
        self.short_exempt |= other.short_exempt


def _typed_row(
    table: str,
    values: dict,
    origin: Origin,
    problems: list[Problem],
    skip=(),
    bad: set | None = None,
) -> dict:
    """The record typed by the schema; names of untypable columns are added to `bad`."""
    bad = set() if bad is None else bad
    row = {}
    for field_def in schemas.fields(table):
        name = field_def["name"]
        if name in skip:
            continue
        try:
            row[name] = from_yaml(field_def["type"], values.get(name))
        except BadValue as fault:
            problems.append(
                Problem(
                    origin.file,
                    origin.line_of(name),
                    fault.message,
                    origin.record,
                    name,
                    fault.hint,
                )
            )
            row[name] = None
            bad.add(name)
    for (default_table, column), source_column in schemas.DEFAULTS.items():
        if default_table == table and row.get(column) is None and values.get(column) is None:
            row[column] = row.get(source_column)
            if source_column in bad:
                bad.add(column)
    return row


def evidence_id(table: str, record_id: str, number: int) -> str:
    return f"{table.replace('_', '-')}-{record_id}-{number}"


def _evidence_rows(corpus: Corpus, record: Record, tables: Tables, problems: list[Problem]) -> None:
    items = record.values.get("evidence")
    if not isinstance(items, list):
        return
    record_id = record.record_id
    collected = tables.evidence_of.setdefault((record.table, record_id), [])
    for number, item in enumerate(items, start=1):
        line = (
            items.item_lines[number - 1]
            if hasattr(items, "item_lines")
            else record.line_of("evidence")
        )
        spec = _evidence_spec(item)
        found = None if spec is None else _resolved(corpus, record, spec, line, problems)
        if spec is None or found is None:
            continue
        source_id, source, start, end = found
        row = {
            "evidence_id": evidence_id(record.table, str(record_id), number),
            "source_id": source_id,
            "record_table": record.table,
            "record_id": record_id,
            "start": start,
            "end": end,
            "exact": source.text[start:end],
        }
        tables.add("evidence", row, Origin(record.file, line, record.label))
        if "weekdays_refer_elsewhere" in spec:
            tables.weekday_exempt.add(row["evidence_id"])
        if str(spec.get("short_quote_suffices", "")).strip():  # a reason, not blanks
            tables.short_exempt.add(row["evidence_id"])
        collected.append(row)


def _evidence_spec(item) -> dict | None:
    """An evidence item as a mapping that can be resolved, or None: the structure layer reports
    what is wrong."""
    if isinstance(item, str):
        return {"quote": item}
    if not isinstance(item, dict) or not isinstance(item.get("quote"), str):
        return None
    if not isinstance(item.get("source_id", ""), str):
        return None
    if item.get("occurrence") is not None and not usable_occurrence(item["occurrence"]):
        return None  # not an integer, or below 1
    return item


def _resolved(corpus: Corpus, record: Record, spec: dict, line: int, problems: list[Problem]):
    """(source id, source, start, end) of an evidence item, or None with the reason added to
    `problems`."""
    source_id = spec.get("source_id", record.source_id)
    source = corpus.sources.get(source_id)
    if source is None:
        if source_id not in corpus.unreadable_sources:
            known = ", ".join(sorted(corpus.sources)) or "none"
            problems.append(
                Problem(
                    record.file,
                    line,
                    f"evidence names unknown source {source_id!r}",
                    record.label,
                    "evidence",
                    f"known sources: {known}",
                )
            )
        return None
    prefix = spec.get("prefix") if isinstance(spec.get("prefix"), str) else None
    try:
        start, end = resolve(
            source.text,
            spec["quote"],
            occurrence=spec.get("occurrence"),
            prefix=prefix,
            folded_text=source.folded,
        )
    except Unresolved as bad:
        where = "" if source_id == record.source_id else f" (source {source_id})"
        problems.append(
            Problem(record.file, line, bad.message + where, record.label, "evidence", bad.hint)
        )
        return None
    return source_id, source, start, end


def add_source_rows(corpus: Corpus, tables: Tables, problems: list[Problem]) -> None:
    """The sources and count_conventions rows."""
    for source in corpus.sources.values():
        origin = Origin.of(source.file, source.meta, f"sources/{source.source_id}")
        row = _typed_row(
            "sources", source.meta, origin, problems, skip=schemas.derived_columns("sources")
        )
        row["text_sha256"] = source.sha256
        row["text_chars"] = len(source.text)
        tables.add(
            "sources", {name: row.get(name) for name in schemas.field_names("sources")}, origin
        )
    for values, shown in corpus.conventions:
        origin = Origin.of(shown, values, f"count_conventions/{values.get('term')}")
        tables.add(
            "count_conventions", _typed_row("count_conventions", values, origin, problems), origin
        )


def add_record_rows(corpus: Corpus, tables: Tables, problems: list[Problem]) -> None:
    """A row for each annotated record of `corpus` and one for each of its evidence quotes."""
    # The parsed records are consumed: each is freed once its row is built, which keeps
    # large corpora from holding every record twice (as parsed and as a row).
    # Typed as holding None: each slot is emptied as its row is built.
    records = cast("list[Record | None]", corpus.records)
    corpus.records = []
    for index, record in enumerate(records):
        assert record is not None
        records[index] = None
        origin = Origin.of(record.file, record.values, record.label)
        bad: set[str] = set()
        tables.add(
            record.table, _typed_row(record.table, record.values, origin, problems, bad=bad), origin
        )
        tables.bad_cells.update(
            (record.table, len(tables.rows[record.table]) - 1, column) for column in bad
        )
        if isinstance(record.record_id, str):
            _evidence_rows(corpus, record, tables, problems)
