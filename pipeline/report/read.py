"""The package as the review report reads it: confined, checked, typed, and indexed once.

The report opens only regular files inside the package folder (no absolute path, `..`,
URL, symbolic link, device or pipe), through pipeline.package.reader.open_member, the
one confined reader, and checks every shape it relies on before anything is rendered:
a malformed package is a list of located problems (InputError, exit 1; UnreadablePackage,
exit 2, when there is no descriptor to read). The rows come back typed by their schema and
held by column (Rows): read by Arrow's CSV reader when a file reads cleanly, else through
Python's csv module, which locates each problem. The lookups the pages need are built once:
rows by key, display names, the rows that refer to each row, the evidence of each record and
each source, and the rows of each page of a table.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import math
import re
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as arrow_csv

from pipeline.build.collector import collector_paused
from pipeline.contract import schemas
from pipeline.contract.constraints import Violation, arrow_type, column_array, field_violations
from pipeline.contract.fieldtypes import INT64, from_csv
from pipeline.contract.problems import InputError, Problem
from pipeline.load.spans import line_of_byte
from pipeline.package.reader import (
    DESCRIPTOR,
    NO_SUCH_FILE,
    PackageError,
    open_member,
    read_descriptor_bytes,
    too_deep,
    twin_files,
)
from pipeline.report.pages import page_bounds, page_file

ANNOTATED = ["actors", "places", "events", "statements", "casualty_reports"]
# Columns shown as a record's short name in links and chart labels.
NAME_COLUMNS = {
    "actors": "name",
    "places": "name",
    "events": "summary",
    "statements": "summary",
    "casualty_reports": "count_text",
    "sources": "title",
    "count_conventions": "phrase",
}
MOST_REFERRERS = 12  # a longer group of referring rows is summarised by its count
ROWS_A_BATCH = 4096  # rows made into Python values at once when every row is read in turn
# The days since 1970-01-01 of the first and last dates Python holds: an Arrow date beyond is a
# date a strict reading refuses.
DATE_DAYS = tuple((day - dt.date(1970, 1, 1)).days for day in (dt.date.min, dt.date.max))


class Rows(Sequence[dict]):
    """A table's typed rows, held a column at a time in Arrow; a row is a dict made when it is
    asked for. Python values held for each cell were most of the report's memory at 10,000
    documents (1.7 million rows: 1.0 GB, where Arrow holds them in 0.3 GB), and the page writers,
    forked, made a copy of each memory page of them they read (reading a Python value writes its
    reference count): 1.4 GB more."""

    def __init__(self, names: list[str], columns: list[pa.Array]):
        self.names, self.columns = names, columns
        self.length = len(columns[0]) if columns else 0
        # the same columns, not copied: a batch takes rows of every column in one call (a source
        # page's evidence: 0.12 ms, where a take of each column took 0.22 ms)
        self.batch = pa.RecordBatch.from_arrays(columns, names=names) if columns else None

    @classmethod
    def typed(cls, names: list[str], values: list[list], kinds: list[str]) -> Rows:
        """Rows of columns of Python values as `from_csv` reads them strictly, each of the Table
        Schema type of `kinds` (which Arrow holds exactly: a strict reading refuses the values it
        cannot)."""
        return cls(
            names,
            [
                pa.array(column, arrow_type(kind))
                for column, kind in zip(values, kinds, strict=True)
            ],
        )

    def __len__(self) -> int:
        return self.length

    @overload
    def __getitem__(self, index: int) -> dict: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict]: ...

    def __getitem__(self, index: int | slice) -> dict | list[dict]:
        if isinstance(index, slice):
            return self.take(range(*index.indices(self.length)))
        return self.take([range(self.length)[index]])[0]

    def __iter__(self) -> Iterator[dict]:
        """Each row as a dict, made a batch of rows at a time: the 10k corpus's 320,000 events and
        statements, every column made into Python values at once, held 0.6 GB while the charts
        were laid out."""
        for start in range(0, self.length, ROWS_A_BATCH):
            yield from self.take(range(start, min(start + ROWS_A_BATCH, self.length)))

    def column(self, name: str) -> list:
        """Every value of one column, in the rows' order."""
        return self.columns[self.names.index(name)].to_pylist()

    def values(self, name: str, shown: range) -> list:
        """The values of one column in the rows `shown` (a range of positions, step 1)."""
        return self.columns[self.names.index(name)][shown.start : shown.stop].to_pylist()

    def take(self, positions: Sequence[int]) -> list[dict]:
        """The rows at `positions`, in that order, as dicts."""
        if self.batch is None:
            return []
        if isinstance(positions, range) and positions.step == 1:
            return self.batch.slice(positions.start, len(positions)).to_pylist()
        return self.batch.take(pa.array(positions, pa.int64())).to_pylist()

    def select(self, names: Sequence[str]) -> Rows:
        """The rows with only the columns `names` (those of them it has): a row made for each of
        the 10k corpus's 320,000 events and statements, every column in it, took 2 s more."""
        kept = [name for name in names if name in self.names]
        return Rows(kept, [self.arrow(name) for name in kept])

    def arrow(self, name: str) -> pa.Array:
        """One column, as Arrow holds it."""
        return self.columns[self.names.index(name)]

    def ordered(self, order: pa.Array) -> Rows:
        """The rows at the positions `order` (an Arrow array of integers), in that order."""
        return Rows(self.names, [column.take(order) for column in self.columns])


NO_ROWS = Rows([], [])


@dataclass
class Package:
    """The published package, read once: descriptor, typed rows, and the indexes pages need."""

    descriptor: dict
    rows: dict[str, Rows]
    keys: dict[str, str] = field(default_factory=dict)  # table -> primary key column
    # table -> every column of its primary key (several for the changes table)
    key_fields: dict[str, list[str]] = field(default_factory=dict)
    # table -> column -> referenced table
    links: dict[str, dict[str, str]] = field(default_factory=dict)
    # (table, id) -> each table referring to it -> (id, column) of each of its rows that refers
    # to it, or how many when more than MOST_REFERRERS do (only the count is shown)
    referrers: dict[tuple[str, str], dict[str, list[tuple[str, str]] | int]] = field(
        default_factory=dict
    )
    # table -> the positions in rows["evidence"] of its rows' evidence, a row's after the one's
    # before it and each row's in reading order; and where each row's begin (one more at the
    # end). Arrays: a list of positions for each of the 10k corpus's 388,200 records, each by its
    # id, was 130 MB.
    evidence_rows: dict[str, np.ndarray] = field(default_factory=dict)
    evidence_offsets: dict[str, np.ndarray] = field(default_factory=dict)
    # source id -> its evidence in reading order (start, end, evidence_id), as positions
    evidence_in: dict[str, list[int]] = field(default_factory=dict)
    # table -> id -> the record's short name, when it has one (the first row of an id wins)
    names: dict[str, dict[str, str]] = field(default_factory=dict)
    # table -> id -> the position of its row in `rows` (the first row of an id wins)
    positions: dict[str, dict[str, int]] = field(default_factory=dict)
    # table -> the rows (positions in `rows`) of each of its pages (pages.page_bounds)
    bounds: dict[str, list[range]] = field(default_factory=dict)
    # table -> the first row of each of its pages
    page_starts: dict[str, list[int]] = field(default_factory=dict)

    def evidence_for(self, table: str, shown: range) -> list[list[dict]]:
        """The evidence rows of each of a table's rows `shown` (a range of positions, step 1), in
        reading order; taken from the columns at once (a take of each column for each record was
        30 µs a record)."""
        offsets = self.evidence_offsets.get(table)
        if offsets is None:
            return [[] for _ in shown]
        ends = offsets[shown.start : shown.stop + 1].tolist()
        rows = self.evidence_rows[table][ends[0] : ends[-1]].tolist()
        found = self.rows["evidence"].take(rows)
        return [found[a - ends[0] : b - ends[0]] for a, b in zip(ends, ends[1:], strict=False)]

    def evidence_within(self, source_id: str) -> list[dict]:
        """The evidence rows of a source, in reading order."""
        evidence = self.rows["evidence"] if "evidence" in self.rows else NO_ROWS
        return evidence.take(self.evidence_in.get(source_id, []))

    def row_id(self, table: str, row: dict) -> str:
        """A row's id: its key, or the key's fields joined with '/' (the changes table's)."""
        return "/".join(str(row[name]) for name in self.key_fields[table])

    def referrers_of(
        self, table: str, record_id: str
    ) -> tuple[list[tuple[str, int]], list[tuple[str, str, str]]]:
        """The rows that refer to this one: (table, count) of each table referring with more than
        MOST_REFERRERS rows, then (table, id, column) of each other referring row, sorted."""
        found = self.referrers.get((table, record_id), {})
        counted = sorted((t, n) for t, n in found.items() if isinstance(n, int))
        listed = sorted(
            (t, rid, column)
            for t, rows in found.items()
            if not isinstance(rows, int)
            for rid, column in rows
        )
        return counted, listed

    def referred(self, table: str) -> bool:
        """Whether a table refers to `table`: else none of its rows has referrers (the changes and
        evidence tables, 1.3 million of the 10k corpus's 1.7 million rows, looked up for none)."""
        return any(table in columns.values() for columns in self.links.values())

    def name_of(self, table: str, record_id: str) -> str:
        """The record's short name for links and labels; its id when it has none or is not there."""
        return self.names.get(table, {}).get(record_id) or record_id

    def href(self, table: str, record_id: str) -> str:
        """The address of a record's row: its table's page holding it, and its anchor (the first
        page when the record is not there, so a dangling reference still reaches its table)."""
        row = self.positions.get(table, {}).get(record_id)
        page = 1 if row is None else bisect_right(self.page_starts[table], row)
        return f"{page_file('table-' + table, page)}#row-{record_id}"


def load(package_dir: Path) -> Package:
    """The package in `package_dir`, read and checked by `read_checked_package`, with its
    indexes; read with the cycle collector paused (pipeline.build.collector: the rows hold no
    cycles; at 10,000 documents, 42 s of CPU with it, 23.5 s without). Arrow's pool keeps the
    memory it read the CSV text into until asked to give it back (at 10,000 documents, 100 MB
    held while the checks' process runs beside this one)."""
    with collector_paused():
        package = _indexed(*read_checked_package(package_dir))
    pa.default_memory_pool().release_unused()
    return package


def _indexed(descriptor: dict, rows: dict[str, Rows]) -> Package:
    """The package with the lookups its pages need."""
    package = Package(descriptor, rows)
    # each table's key column as text, in its rows' order: one list whose strings the lookups
    # below all hold (each made its own, the 10k corpus's ids were held three times)
    ids: dict[str, list[str]] = {}
    for resource in descriptor["resources"]:
        table, schema = resource["name"], resource["schema"]
        key = package.keys[table] = _names(schema["primaryKey"])[0]
        package.key_fields[table] = _names(schema["primaryKey"])
        package.links[table] = {
            _names(fk["fields"])[0]: fk["reference"].get("resource") or table
            for fk in schema.get("foreignKeys", [])
        }
        # Arrow orders text by its UTF-8 bytes, which is the order of its code points, Python's
        rows[table] = rows[table].ordered(pc.sort_indices(rows[table].arrow(key)))
        ids[table] = rows[table].column(key)
        package.names[table] = _short_names(rows[table], ids[table], NAME_COLUMNS.get(table, ""))
    for table, columns in sorted(package.links.items()):
        for column, target in sorted(columns.items()):
            for rid, value in zip(ids[table], rows[table].column(column), strict=True):
                if value is not None:
                    _refers(package.referrers, (target, str(value)), table, (rid, column))
    for table in rows:
        package.positions[table] = _row_positions(ids[table])
    if "evidence" in rows:
        _index_evidence(package, rows["evidence"])
    for table in rows:
        package.bounds[table] = page_bounds(_links_listed(package, table, ids[table]))
        package.page_starts[table] = [page.start for page in package.bounds[table]]
    return package


def _refers(
    referrers: dict[tuple[str, str], dict[str, list[tuple[str, str]] | int]],
    record: tuple[str, str],
    table: str,
    row: tuple[str, str],
) -> None:
    """Note that `row` (its id and column) of `table` refers to `record`; only how many once more
    than MOST_REFERRERS of the table do (the 10k corpus's 1.7 million references, each held, were
    200 MB)."""
    found = referrers.setdefault(record, {})
    rows = found.get(table)
    if rows is None:
        found[table] = [row]
    elif isinstance(rows, int):
        found[table] = rows + 1
    elif len(rows) < MOST_REFERRERS:
        rows.append(row)
    else:
        found[table] = len(rows) + 1


def _index_evidence(package: Package, evidence: Rows) -> None:
    """Each source's evidence, and each record's (of a table of the package), as positions in
    reading order. Sorted and matched by Arrow: Python's sort of the 10k corpus's 444,185
    (source, start, end, id) tuples and a lookup of each record took 2.1 s and 100 MB more."""
    if not len(evidence):
        return
    keys = ("source_id", "start", "end", "evidence_id")
    reading = pc.sort_indices(
        pa.table({c: evidence.arrow(c) for c in keys}), [(c, "ascending") for c in keys]
    )
    order = reading.to_numpy()
    sources = evidence.arrow("source_id").take(reading)
    firsts = np.flatnonzero(
        np.concatenate([[True], pc.not_equal(sources[1:], sources[:-1]).to_numpy(False)])
    )
    for first, end in zip(firsts.tolist(), [*firsts[1:].tolist(), len(order)], strict=True):
        package.evidence_in[sources[first].as_py()] = order[first:end].tolist()
    tables, records = (evidence.arrow(c).take(reading) for c in ("record_table", "record_id"))
    for table in pc.unique(tables).to_pylist():
        if table not in package.positions:
            continue
        mine = pc.fill_null(pc.equal(tables, table), False)
        # each record's row: the first row of its id, as Package.positions holds it
        rows = pc.index_in(
            records.filter(mine), value_set=package.rows[table].arrow(package.keys[table])
        )
        found = rows.is_valid().to_numpy(False)
        table_rows = rows.to_numpy(False)[found].astype(np.int64)
        positions = order[mine.to_numpy(False)][found]
        by_row = np.argsort(table_rows, kind="stable")
        package.evidence_rows[table] = positions[by_row]
        counts = np.bincount(table_rows, minlength=len(package.rows[table]))
        package.evidence_offsets[table] = np.concatenate([[0], np.cumsum(counts)])


def _links_listed(package: Package, table: str, ids: list[str]) -> list[int]:
    """How many links each row of `table` (its keys `ids`) lists on its page: its evidence
    passages, and the rows that refer to it or their counts (Package.referrers_of)."""
    listed = []
    offsets = package.evidence_offsets.get(table) if table in ANNOTATED else None
    evidence = np.diff(offsets).tolist() if offsets is not None else [0] * len(ids)
    if not package.referred(table):
        return evidence
    for rid, passages in zip(ids, evidence, strict=True):
        referrers = package.referrers.get((table, rid), {})
        count = sum(1 if isinstance(rows, int) else len(rows) for rows in referrers.values())
        listed.append(count + passages)
    return listed


def _short_names(rows: Rows, ids: list[str], column: str) -> dict[str, str]:
    """Each row's short name by its key (an empty name is its id's); none for a table without
    names (the evidence's 444,185 rows, each named "", were 65 MB at 10,000 documents)."""
    names: dict[str, str] = {}
    if column not in rows.names:
        return names
    for rid, name in zip(ids, rows.column(column), strict=True):
        names.setdefault(rid, str(name) if name else "")
    return names


def _row_positions(ids: list[str]) -> dict[str, int]:
    """Each row's position by its key (the first row of an id wins)."""
    found: dict[str, int] = {}
    for index, rid in enumerate(ids):
        found.setdefault(rid, index)
    return found


# ---- reading the package: confined and checked ----

SAFE_NAME = re.compile(
    r"^[a-z0-9][a-z0-9_-]{0,99}$"
)  # resource names and source ids become file names
MOST_PROBLEMS = (
    20  # per file: enough to see what is wrong without a line for every row of a broken table
)
REPUBLISH = "publish the package again with 'pipeline publish'"


class UnreadablePackage(InputError):
    """The package cannot be read at all (no folder, no descriptor, not JSON): the command exits
    2."""


def _path_problem(
    package_dir: Path, resource: dict, field: str, exc: PackageError, path: object = None
) -> Problem:
    """A resource's `field` (its CSV "path" or its twin's "parquet.path") names no regular file
    inside the package: the descriptor's problem."""
    kind = "Parquet" if field == "parquet.path" else "CSV"
    return Problem(
        str(package_dir / DESCRIPTOR),
        None,
        f"{resource['path'] if path is None else path!r}: {exc.reason or exc}",
        record=f"resources/{resource['name']}",
        field=field,
        hint=f"name a regular {kind} file inside the package folder",
    )


def _not_utf8(where: str, raw: bytes, exc: UnicodeDecodeError) -> Problem:
    return Problem(
        where,
        line_of_byte(raw, exc.start),
        f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
        hint=REPUBLISH,
    )


def _unreadable(
    where: str, line: int | None, message: str, hint: str = REPUBLISH
) -> UnreadablePackage:
    return UnreadablePackage([Problem(where, line, message, hint=hint)])


# reader.read_descriptor words each fault as one message; the report lists located problems.
def read_descriptor_as_problems(package_dir: Path) -> dict:
    """The descriptor as a JSON object, within reader's limits of size and depth;
    UnreadablePackage when there is none to read."""
    where = str(package_dir / DESCRIPTOR)
    if not package_dir.is_dir():
        what = "is not a folder" if package_dir.exists() else "no such folder"
        hint = "pass --package, the folder of a published package"
        raise _unreadable(str(package_dir), None, what, hint)
    try:
        raw = read_descriptor_bytes(package_dir)
    except PackageError as exc:
        missing = exc.reason == NO_SUCH_FILE
        hint = "run 'pipeline publish' first" if missing else REPUBLISH
        raise _unreadable(where, None, f"the descriptor: {exc.reason or exc}", hint) from None
    try:
        descriptor = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise UnreadablePackage([_not_utf8(where, raw, exc)]) from None
    except json.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} (column {exc.colno})"
        raise _unreadable(where, exc.lineno, message) from None
    except RecursionError:
        raise _unreadable(where, None, "JSON nested too deeply to read") from None
    if not isinstance(descriptor, dict):
        raise InputError(
            [
                Problem(
                    where,
                    None,
                    f"the descriptor is {_kind(descriptor)}, not a JSON object",
                    hint=REPUBLISH,
                )
            ]
        )
    if too_deep(descriptor):
        raise _unreadable(where, None, "JSON nested too deeply to read")
    return descriptor


def _kind(value) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), "null")


def _names(value) -> list:
    """A Table Schema key (primaryKey, foreign key fields): one name or a list of names."""
    return [value] if isinstance(value, str) else value


def descriptor_problems(descriptor: dict, where: str) -> list[Problem]:
    """Every way the descriptor's shape differs from what the report reads."""
    problems = _property_problems(descriptor, where)
    resources = descriptor.get("resources")
    if not isinstance(resources, list) or not resources:
        return problems + [
            Problem(
                where, None, "missing, or not a list of tables", field="resources", hint=REPUBLISH
            )
        ]
    names = [r.get("name") if isinstance(r, dict) else None for r in resources]
    for number, resource in enumerate(resources):
        name = names[number]
        record = name if isinstance(name, str) and SAFE_NAME.match(name) else None
        problems += [
            Problem(
                where,
                None,
                message,
                record=f"resources/{record or number}",
                field=key or None,
                hint=REPUBLISH,
            )
            for key, message in _table_problems(resource, record, names)
        ]
    return problems


def _property_problems(descriptor: dict, where: str) -> list[Problem]:
    """The package's own properties the pages show: texts, and a list of licences."""
    problems = [
        Problem(where, None, f"{_kind(descriptor[key])}, not a string", field=key, hint=REPUBLISH)
        for key in ("name", "title", "description", "version", "created")
        if key in descriptor and not isinstance(descriptor[key], str)
    ]
    licences = descriptor.get("licenses", [])
    if not isinstance(licences, list) or not all(isinstance(lic, dict) for lic in licences):
        problems.append(
            Problem(where, None, "not a list of objects", field="licenses", hint=REPUBLISH)
        )
    return problems


def _table_problems(resource, record: str | None, names: list) -> list[tuple[str, str]]:
    """(property, what is wrong) for one entry of `resources`, named `record` if soundly named."""
    if not isinstance(resource, dict):
        return [("", f"{_kind(resource)}, not an object describing a table")]
    if record is None:
        return [("name", "missing, or not a lowercase name of letters, digits, - and _")]
    return _resource_problems(resource, names)


def _resource_problems(resource: dict, names: list) -> list[tuple[str, str]]:
    """(property, what is wrong) for one resource whose name is sound."""
    found = _file_problems(resource, names)
    schema = resource.get("schema")
    if not isinstance(schema, dict) or not _sound_fields(schema.get("fields")):
        return found + [
            ("schema.fields", "not a list of fields, each an object with a name and a type")
        ]
    fields = schema["fields"]
    columns = [f["name"] for f in fields]
    key = _names(schema.get("primaryKey"))
    # One field; or, for a table publish builds (changes), the fields its schema declares.
    built = resource["name"] in schemas.BUILT and key == schemas.primary_key_fields(
        resource["name"]
    )
    if not isinstance(key, list) or not (len(key) == 1 or built) or key[0] not in columns:
        found.append(("schema.primaryKey", "missing, or not one field of the table"))
    foreign_keys = schema.get("foreignKeys", [])
    for fk in foreign_keys if isinstance(foreign_keys, list) else [None]:
        if not _sound_foreign_key(fk, columns, resource["name"], names):
            found.append(
                (
                    "schema.foreignKeys",
                    "each foreign key names one field of the table and a table of the package",
                )
            )
    return found + _project_field_problems(
        resource["name"], {f["name"]: f.get("type", "string") for f in fields}
    )


def _file_problems(resource: dict, names: list) -> list[tuple[str, str]]:
    """(property, what is wrong) for the resource's name and the paths of its files."""
    found = []
    if names.count(resource["name"]) > 1:
        found.append(("name", "more than one resource has this name"))
    if not isinstance(resource.get("path"), str):
        found.append(("path", "missing, or not a string"))
    parquet = resource.get("parquet", {})
    if not isinstance(parquet, dict) or not isinstance(parquet.get("path", ""), str):
        found.append(("parquet", "not an object with a path"))
    elif "parts" in parquet and not (
        isinstance(parquet["parts"], list)
        and all(
            isinstance(part, dict) and isinstance(part.get("path"), str)
            for part in parquet["parts"]
        )
    ):
        found.append(("parquet.parts", "not a list of objects with a path"))
    return found


def _sound_fields(fields) -> bool:
    """Whether `fields` is a list of fields, each an object with a name, a type and constraints."""
    return (
        isinstance(fields, list)
        and bool(fields)
        and all(
            isinstance(f, dict)
            and isinstance(f.get("name"), str)
            and isinstance(f.get("type", "string"), str)
            and isinstance(f.get("constraints", {}), dict)
            for f in fields
        )
    )


def _sound_foreign_key(fk, columns: list[str], table: str, names: list) -> bool:
    """Whether `fk` names one field of the table and a table of the package (itself by default)."""
    if not isinstance(fk, dict):
        return False
    local = _names(fk.get("fields"))
    reference = fk.get("reference")
    target = (reference.get("resource") or table) if isinstance(reference, dict) else None
    return isinstance(local, list) and len(local) == 1 and local[0] in columns and target in names


def _project_field_problems(table: str, types: dict[str, str]) -> list[tuple[str, str]]:
    """The columns of the project's own tables the report reads by name, with the types it reads
    them as."""
    if table not in schemas.TABLES:
        return []
    return [
        ("schema.fields", f"no field {f['name']!r} of type {f['type']}, which the report reads")
        for f in schemas.fields(table)
        if types.get(f["name"]) != f["type"]
    ]


def read_table(package_dir: Path, resource: dict) -> tuple[Rows, list[Problem]]:
    """The typed rows of one CSV resource, or the problems that stop the report reading them."""
    where = (
        str(package_dir / resource["path"])
        if isinstance(resource["path"], str)
        else str(package_dir)
    )
    try:
        with open_member(package_dir, resource["path"]) as handle:
            raw = handle.read()
        raw.decode("utf-8")  # whether it is UTF-8, where not; then read as lines
    except PackageError as exc:
        return NO_ROWS, [_path_problem(package_dir, resource, "path", exc)]
    except UnicodeDecodeError as exc:
        return NO_ROWS, [_not_utf8(where, raw, exc)]
    clean = _clean_rows(raw, resource)
    return (clean, []) if clean is not None else _read_carefully(raw, resource, where)


def _read_carefully(raw: bytes, resource: dict, where: str) -> tuple[Rows, list[Problem]]:
    """The typed rows of a CSV file read through Python's csv module, a cell at a time where it
    must be, or the problems of its header or rows, each at its line."""
    fields = resource["schema"]["fields"]
    names = [f["name"] for f in fields]
    # Lines decoded as they are read: a StringIO of the whole text holds 4 bytes a character
    # (400 MB more for the 10k corpus's 100 MB evidence.csv).
    reader = csv.reader(io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8", newline=""))
    header = next(reader, [])
    if header != names:
        return NO_ROWS, [
            Problem(
                where,
                1,
                f"the header is {', '.join(header) or 'empty'}; the schema has {', '.join(names)}",
                hint=REPUBLISH,
            )
        ]
    return _typed_rows(reader, resource, where)


def _clean_rows(raw: bytes, resource: dict) -> Rows | None:
    """The typed rows of a CSV file that reads cleanly, read and typed by Arrow; None when a row
    has a problem, or the file has what Arrow's reader and Python's csv module read otherwise (a
    byte order mark, an empty line, a field beyond the csv module's limit), or a cell Arrow may
    type otherwise than a strict reading: the reading through the csv module (`_typed_rows`)
    then finds and words each problem. The 10k corpus's tables took 22.6 s that way and 3.4 s here
    (one run of each in one process, the same rows)."""
    if raw.startswith(codecs.BOM_UTF8):  # Arrow reads past it; the csv module reads it as text
        return None
    fields = resource["schema"]["fields"]
    names = [f["name"] for f in fields]
    options = arrow_csv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()),
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    lines = arrow_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False)
    try:  # a row of another length, a header naming a field twice, a column beyond 2 GB
        table = arrow_csv.read_csv(
            pa.BufferReader(raw),
            # one block: each column in one piece, not copied again to join them
            read_options=arrow_csv.ReadOptions(block_size=min(max(len(raw), 1 << 20), 1 << 30)),
            parse_options=lines,
            convert_options=options,
        )
        if table.column_names != names:
            return None
        texts = [table.column(name).combine_chunks() for name in names]
    except (pa.ArrowInvalid, ValueError):
        return None
    columns = []
    for text, spec in zip(texts, fields, strict=True):
        column = _clean_column(text, spec.get("type", "string"))
        if column is None:
            return None
        columns.append(column)
    key = names.index(_names(resource["schema"]["primaryKey"])[0])
    if columns[key].null_count:  # an empty line reads as a row of empty cells: its key is empty
        return None
    if _broken_constraints(columns, [NONE_UNTYPABLE] * len(fields), fields):
        return None
    return Rows(names, columns)


def _clean_column(texts: pa.Array, kind: str) -> pa.Array | None:
    """The cells of one column typed as a strict reading types them (empty: null), or None when a
    cell may read otherwise: integers and dates typed by Arrow's cast when each is written back
    as the same text (" 1", "+1", "01" or "1_000" go the careful way), the other types as
    `_typed_column` reads them."""
    present = _empty_as_null(texts)
    if present is None:
        return None
    if kind == "string":
        return present
    if kind in ("integer", "date"):
        try:
            typed = pc.cast(present, arrow_type(kind))
        except pa.ArrowInvalid:
            return None
        # Arrow reads "0x10" as 16, which Python refuses: only a cell written back as it reads
        if pc.all(pc.equal(pc.cast(typed, pa.string()), present)).as_py() is False:
            return None
        if kind == "date":  # Arrow reads the year 0 too; a strict reading, as Python, from 1
            days = pc.min_max(typed.cast(pa.int32())).as_py()
            first, last = days["min"], days["max"]
            if first is not None and not DATE_DAYS[0] <= first <= last <= DATE_DAYS[1]:
                return None
        return typed
    values, untypable = _typed_column(tuple(texts.to_pylist()), kind)
    return None if untypable else pa.array(values, arrow_type(kind))


def _empty_as_null(texts: pa.Array) -> pa.Array | None:
    """The texts with each empty one null, sharing their bytes (an empty text has no bytes to
    leave out); None when one is longer than the csv module reads."""
    start, end = texts.offset, texts.offset + len(texts)
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int32)[start : end + 1]
    lengths = np.diff(offsets)
    limit = csv.field_size_limit()  # in characters, which are at most as many as bytes
    if len(lengths) and lengths.max() > limit and pc.max(pc.utf8_length(texts)).as_py() > limit:
        return None
    written = np.concatenate([np.zeros(start, dtype=bool), lengths > 0])
    validity = pa.py_buffer(np.packbits(written, bitorder="little"))
    return pa.Array.from_buffers(
        pa.string(), len(texts), [validity, *texts.buffers()[1:]], offset=start
    )


def _csv_rows(reader, where: str) -> tuple[list[tuple[int, list[str]]], list[Problem]]:
    """(the line it starts on, its cells) of each row, up to the first the CSV reader cannot read,
    which is a problem."""
    rows, line = [], 1
    try:
        for cells in reader:
            rows.append((line + 1, cells))
            line = reader.line_num
    except csv.Error as exc:
        return rows, [Problem(where, line + 1, f"not a readable CSV row: {exc}", hint=REPUBLISH)]
    return rows, []


def _typed_rows(reader, resource: dict, where: str) -> tuple[Rows, list[Problem]]:
    """The rows typed by their schema, each row's problems in order; at most MOST_PROBLEMS.

    The cells are typed a column at a time and only the rows with a problem are looked at one
    by one: at 10,000 documents (1.7 million rows), a row at a time took most of the report's
    reading."""
    fields = resource["schema"]["fields"]
    names = [f["name"] for f in fields]
    key = names.index(_names(resource["schema"]["primaryKey"])[0])
    read, unreadable = _csv_rows(reader, where)
    whole = [cells for _, cells in read if len(cells) == len(fields)]
    texts = list(zip(*whole, strict=True)) or [() for _ in fields]
    typed = [
        _typed_column(column, f.get("type", "string"))
        for column, f in zip(texts, fields, strict=True)
    ]
    columns = [values for values, _ in typed]
    untypable = [bad for _, bad in typed]
    broken = _broken_constraints(columns, untypable, fields)
    flagged = set(row for row, _ in broken).union(*untypable)
    flagged.update(row for row, value in enumerate(columns[key]) if value is None)
    if flagged or len(whole) < len(read):
        schema = (resource["name"], fields, key)
        return NO_ROWS, _row_problems(read, schema, (columns, untypable, broken), where, unreadable)
    return Rows.typed(names, columns, [f.get("type", "string") for f in fields]), unreadable


def _row_problems(
    read: list[tuple[int, list[str]]],
    schema: tuple[str, list[dict], int],
    typed: tuple[list[list], list[AbstractSet[int]], dict[tuple[int, int], str]],
    where: str,
    unreadable: list[Problem],
) -> list[Problem]:
    """Each problem of the rows of table `schema` (its name, fields and key's field number), row
    by row and in each row field by field, then `unreadable`; at most MOST_PROBLEMS."""
    table, fields, key = schema
    columns, untypable, broken = typed
    problems: list[Problem] = []
    index = 0
    for start, cells in read:
        if len(cells) != len(fields):
            message = f"{len(cells)} cells; the header has {len(fields)}"
            problems.append(Problem(where, start, message, hint=REPUBLISH))
        else:
            bad = {number for number, rows in enumerate(untypable) if index in rows}
            record = f"{table}/{cells[0]}"
            found = [
                Problem(where, start, message, record=record, field=name, hint=REPUBLISH)
                for name, message in _cell_problems(cells, fields, bad, broken, index)
            ]
            problems += found
            if columns[key][index] is None and not found:
                problems.append(
                    Problem(
                        where,
                        start,
                        "the primary key is empty",
                        field=fields[key]["name"],
                        hint=REPUBLISH,
                    )
                )
            index += 1
        if len(problems) >= MOST_PROBLEMS:
            return problems + [Problem(where, None, "more problems not listed (fix these first)")]
    return problems + unreadable


def _typed_column(texts: tuple[str, ...], kind: str) -> tuple[list, AbstractSet[int]]:
    """A column's cells typed (empty -> None), and the rows whose cell the report cannot read,
    which are None too."""
    if kind == "string":  # its own text, or None
        return [text or None for text in texts], NONE_UNTYPABLE
    read = ColumnReader(kind)
    try:
        return list(map(read, texts)), NONE_UNTYPABLE
    except ValueError:  # a cell is unreadable: find each
        values, untypable = [], set()
        for row, text in enumerate(texts):
            try:
                values.append(read(text))
            except ValueError:
                values.append(None)
                untypable.add(row)
        return values, untypable


class ColumnReader:
    """The cells of one column typed (fieldtypes.from_csv, strictly), the values of its first
    MOST_SHARED texts kept for every cell that repeats one: a code or a date repeated down a
    column is typed once. (The values go into Arrow columns, Rows.typed, so sharing them no longer
    saves memory.)"""

    MOST_SHARED = 4096

    def __init__(self, kind: str):
        self.kind = kind
        self.seen: dict[str, object] = {}

    def __call__(self, text: str) -> object:
        value = self.seen.get(text, self)  # the reader itself is no value: not seen
        if value is self:
            value = from_csv(self.kind, text, strict=True)
            if len(self.seen) < self.MOST_SHARED:
                self.seen[text] = value
        return value


# Shared by every column whose cells all read.
NONE_UNTYPABLE: frozenset[int] = frozenset()


def _cell_problems(
    cells: list[str],
    fields: list[dict],
    untypable: AbstractSet[int],
    broken: dict[tuple[int, int], str],
    row: int,
) -> list[tuple[str, str]]:
    """(field, what is wrong) for each cell of one row that cannot be read or breaks
    a constraint the charts rely on."""
    found = []
    for number, (text, spec) in enumerate(zip(cells, fields, strict=True)):
        if number in untypable:
            kind = spec.get("type", "string")
            what = "an integer" if kind == "integer" else f"a {kind}"
            found.append((spec["name"], f"{text!r} is not {what} the report can read"))
        elif (row, number) in broken:
            found.append((spec["name"], f"{text!r} {broken[row, number]}"))
    return found


# The constraints the charts rely on; the checks page's validator reports every other.
BROKEN = {
    "required": "is empty, but required",
    "minimum": "is below the minimum {}",
    "maximum": "is above the maximum {}",
}


def _charted_constraints(spec: dict) -> dict:
    """The field's constraints the report checks: required, and a numeric bound of a numeric
    field (a NaN bound bounds nothing)."""
    constraints = spec.get("constraints", {})
    checked = {"required": constraints["required"]} if "required" in constraints else {}
    if spec.get("type", "string") in ("integer", "number"):
        for bound in ("minimum", "maximum"):
            value = constraints.get(bound)
            if isinstance(value, (int, float)) and not math.isnan(value):
                checked[bound] = value
    return checked


def _as_compared(kind: str, checked: dict) -> tuple[str, dict]:
    """The type a column is compared as, and its constraints as compared: an integer column is
    compared as numbers when a bound is not a 64-bit integer (0.5, 2**70), since Arrow compares
    integers with nothing else, and a bound of a number column is a float (beyond floats, an
    infinity, which compares with every finite value as the integer does)."""
    bounds = [value for name, value in checked.items() if name != "required"]
    if kind == "integer" and all(
        isinstance(value, int) and -INT64 <= value < INT64 for value in bounds
    ):
        return kind, checked
    if kind not in ("integer", "number"):
        return kind, checked
    floats = {
        name: value if name == "required" else _as_float(value) for name, value in checked.items()
    }
    return "number", floats


def _as_float(value: int | float) -> int | float:
    if isinstance(value, bool) or isinstance(value, float):
        return value
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _broken_constraints(
    columns: Sequence[list | pa.Array], untypable: list[AbstractSet[int]], fields: list[dict]
) -> dict[tuple[int, int], str]:
    """(row, field number) -> how the cell breaks the first charted constraint it breaks, found
    column by column by the one engine, pipeline.contract.constraints."""
    broken: dict[tuple[int, int], str] = {}
    for number, spec in enumerate(fields):
        checked = _charted_constraints(spec)
        if not checked:
            continue
        own = spec.get("type", "string")
        kind, compared = _as_compared(own, checked)
        values = columns[number]
        if isinstance(values, pa.Array):  # read by Arrow: compared as it is, or as numbers
            column = values if kind == own else column_array(values.to_pylist(), kind)
        else:
            column = column_array(values, kind)
        bad = np.zeros(len(column), dtype=bool)
        bad[list(untypable[number])] = True
        for found in field_violations(column, {**spec, "type": kind, "constraints": compared}, bad):
            if isinstance(found, Violation):
                message = BROKEN[found.kind].format(checked.get(found.kind))
                broken.setdefault((found.row, number), message)
    return broken


def _twin_problems(package_dir: Path, resource: dict) -> list[Problem]:
    """A Parquet twin the checks page's validator would open outside the package; a missing one is
    the validator's to report."""
    problems = []
    for twin in twin_files(resource):
        path = twin.get("path")
        if path is None:
            continue
        try:
            open_member(package_dir, path).close()
        except PackageError as exc:
            if exc.reason != NO_SUCH_FILE:
                problems.append(_path_problem(package_dir, resource, "parquet.path", exc, path))
    return problems


def read_checked_descriptor(package_dir: Path) -> dict:
    """The descriptor, its shape checked and each Parquet twin's path confined (what the checks
    page's validator relies on, checked before it runs); UnreadablePackage or InputError as
    `read_checked_package`."""
    descriptor = _shaped_descriptor(package_dir)
    paths = [r["path"] for r in descriptor["resources"]]
    paths += [twin.get("path") for r in descriptor["resources"] for twin in twin_files(r)]
    if not all(_confined(package_dir, path) for path in paths if path is not None):
        read_checked_package(package_dir)  # raises, with every problem as a whole read finds them
    return descriptor


def _shaped_descriptor(package_dir: Path) -> dict:
    """The descriptor, its shape checked (descriptor_problems)."""
    descriptor = read_descriptor_as_problems(package_dir)
    problems = descriptor_problems(descriptor, str(package_dir / DESCRIPTOR))
    if problems:
        raise InputError(problems)
    return descriptor


def _confined(package_dir: Path, path: str) -> bool:
    """Whether `path` is a regular file inside the package folder, or missing (the validator's to
    report)."""
    try:
        open_member(package_dir, path).close()
    except PackageError as exc:
        return exc.reason == NO_SUCH_FILE
    return True


def read_checked_package(package_dir: Path) -> tuple[dict, dict[str, Rows]]:
    """The descriptor and typed rows of every table, read only from regular files inside
    `package_dir`; UnreadablePackage when there is no descriptor to read, InputError with every
    problem when its shape, its files or their rows are not what the report reads."""
    descriptor = _shaped_descriptor(package_dir)
    rows: dict[str, Rows] = {}
    problems: list[Problem] = []
    for resource in descriptor["resources"]:
        rows[resource["name"]], found = read_table(package_dir, resource)
        problems += found + _twin_problems(package_dir, resource)
    paths = {r["name"]: r["path"] for r in descriptor["resources"]}
    for source in rows.get("sources", []):
        if not SAFE_NAME.match(str(source["source_id"])):
            problems.append(
                Problem(
                    str(package_dir / paths["sources"]),
                    None,
                    "not a lowercase slug, so no page can be named after it",
                    record=f"sources/{source['source_id']}",
                    field="source_id",
                    hint=REPUBLISH,
                )
            )
    if problems:
        raise InputError(problems)
    pa.default_memory_pool().release_unused()  # what the readers no longer use, before any fork
    return descriptor, rows
