"""Row lineage: the changes table, the annotator's reasons, and the record of every release.

The changes table (schemas/changes.yaml) lists, per release, each row of the data tables added,
corrected or removed, with the fields corrected and the reason; removed rows stay listed. Publish
builds it from the published package's changes table, the row diff between that package and the
new build (diff.py), and the reasons in seeds/changes.yaml:

- every added, removed or corrected row needs an entry for its (table, id);
- a row whose only difference is values in new columns is covered by a `field:` entry for each of
  those columns, and every new column needs such an entry;
- an entry for a row that did not change is ignored when the changes table already records that
  reason for it (an old entry left in the file), otherwise it is a note, never an error.

A first publication records every row as added, with the reason "first publication".

The changes table is held as an Arrow table (`changes_table`), never as a dict per row: at a first
publication it has a row per data row (about 830,000 for 10,000 articles), which as Python dicts
took some 640 MB more at the peak of publish (bench/RESULTS.md: 2,646 MB against 2,004 MB before
the table). Only the rows a change adds, and the few rows a command shows, become Python values.

Each release also leaves releases/<version>.json: its full descriptor and the sha256 of each of its
files. Publish carries the earlier ones forward unchanged, so any version can be compared with the
newest without git (`diff_since`), and a row's story read from the changes table (`row_history`).
A package published before lineage was kept gets its history from its earlier packages
(`seed_history`: publish --history-from).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.contract import schemas
from pipeline.contract.fieldtypes import arrow_type
from pipeline.contract.problems import Problem
from pipeline.load.reasons import Reason, Reasons
from pipeline.package import reader
from pipeline.package.atomic import Refused
from pipeline.package.diff import (
    PackageDiff,
    TableRows,
    diff_descriptors,
    diff_packages,
    head_lines,
    higher,
    to_dict,
)
from pipeline.package.reader import PackageError, open_member, open_package

if TYPE_CHECKING:  # Arrow is imported by the functions that use it: `pipeline --help` needs none
    import pyarrow as pa

CHANGES = "changes"
RELEASES = "releases"
RELEASE_FILE = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.json")
FIRST_REASON = "first publication"
# The reason of rows and changes that were published before reasons were kept.
UNRECORDED = "published at {version}; history before it was not recorded"
EARLIER = "published at {version}, before reasons were kept (see CHANGELOG.md)"
KIND_LEVEL = {"added": "minor", "corrected": "patch", "removed": "major"}
KIND_MARK = {"added": "+", "removed": "-", "corrected": "~"}
SPEC_VERSION = re.compile(r"(?P<spec>.+)@(?P<version>[0-9]+\.[0-9]+\.[0-9]+)")


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def release_day(created: str) -> dt.date:
    return dt.date.fromisoformat(created[:10])


def sorted_changes(rows: list[dict]) -> list[dict]:
    """Rows of the changes table in their published order: by version, table, then id."""
    order = {table: index for index, table in enumerate(schemas.TABLES)}
    return sorted(
        rows,
        key=lambda r: (
            version_key(r["version"]),
            order.get(r["table_name"], len(order)),
            r["record_id"],
        ),
    )


# ---- the changes table as Arrow ----


def changes_schema() -> pa.Schema:
    """The changes table's columns with their plain Arrow types (the writer codes the code
    lists)."""
    import pyarrow as pa

    return pa.schema([(f["name"], arrow_type(f["type"])) for f in schemas.fields(CHANGES)])


def changes_table(rows: list[dict]) -> pa.Table:
    """Rows of the changes table (dicts) as an Arrow table."""
    import pyarrow as pa

    return pa.Table.from_pylist(rows, schema=changes_schema())


def merged_changes(past: pa.Table, rows: list[dict]) -> pa.Table:
    """The published changes table with the rows of a new release, in the published order
    (`sorted_changes`): by version (as numbers), table (in the package's order), then id, which
    Arrow sorts as Python does, by code point. The sort is stable."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pa.concat_tables([past, changes_table(rows)]).combine_chunks()
    parts = pc.split_pattern(table["version"], ".")
    keys = {f"v{place}": pc.cast(pc.list_element(parts, place), pa.int64()) for place in range(3)}
    position = pc.index_in(table["table_name"], value_set=pa.array(schemas.TABLES, pa.string()))
    keys["table"] = pc.fill_null(position, len(schemas.TABLES))
    keys["record_id"] = table["record_id"]
    order = pc.sort_indices(pa.table(keys), sort_keys=[(name, "ascending") for name in keys])
    return table.take(order)


def _repeated(value, count: int, kind: pa.DataType) -> pa.Array:
    import pyarrow as pa

    return pa.repeat(pa.scalar(value, kind), count)


def _added_table(ids: dict[str, list[str]], version: str, day: dt.date, reason: str) -> pa.Table:
    """A changes row "added" at `version` for `reason` for each id of each data table, in the
    package's order of tables and the given order of ids; one Arrow array per column."""
    import pyarrow as pa

    schema = changes_schema()
    parts = []
    for table in schemas.TABLES:
        count = len(ids.get(table, []))
        if count == 0:
            continue
        values = {
            "version": _repeated(version, count, pa.string()),
            "date": _repeated(day, count, pa.date32()),
            "table_name": _repeated(table, count, pa.string()),
            "record_id": pa.array(ids[table], pa.string()),
            "kind": _repeated("added", count, pa.string()),
            "fields": pa.nulls(count, pa.string()),
            "reason": _repeated(reason, count, pa.string()),
        }
        parts.append(pa.table([values[name] for name in schema.names], schema=schema))
    return pa.concat_tables(parts).combine_chunks() if parts else schema.empty_table()


def _row(version: str, day: dt.date, table: str, ident: str, kind: str, fields, reason: str):
    return {
        "version": version,
        "date": day,
        "table_name": table,
        "record_id": ident,
        "kind": kind,
        "fields": ";".join(fields) or None,
        "reason": reason,
    }


# ---- reading the lineage of a package ----


def changes_resource(descriptor: dict) -> dict | None:
    return next((r for r in descriptor.get("resources", []) if r.get("name") == CHANGES), None)


def read_changes(folder: Path, descriptor: dict) -> pa.Table | None:
    """The package's changes table, typed (read by Arrow from its CSV file, an empty cell
    missing); None when it has none; PackageError when it cannot be read."""
    import pyarrow as pa
    import pyarrow.compute as pc

    resource = changes_resource(descriptor)
    if resource is None:
        return None
    schema = changes_schema()
    try:
        text = reader.read_columns(folder, resource, schema.names)
        columns = [pc.cast(text[name], schema.field(name).type) for name in schema.names]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        raise PackageError(
            f"{folder / str(resource.get('path'))}: cannot read the rows of resource {CHANGES} "
            f"({str(exc).splitlines()[0]})"
        ) from None
    return pa.Table.from_arrays(columns, schema=schema).combine_chunks()


def first_rows(ordered: dict[str, list[dict]], version: str, day: dt.date, reason: str):
    """Every row of the data tables as added at `version`, for `reason`: the changes table of a
    first publication."""
    ids = {
        table: [str(row[schemas.primary_key(table)]) for row in ordered[table]]
        for table in schemas.TABLES
    }
    return _added_table(ids, version, day, reason)


def _ids_in(folder: Path, descriptor: dict) -> dict[str, list[str]]:
    """The ids of every data table of a published package, read from its CSV files."""
    ids = {}
    for resource in descriptor.get("resources", []):
        name = resource.get("name")
        if name in schemas.TABLES:
            _, rows = reader.read_text_rows(folder, resource, str(folder))
            key = schemas.primary_key(name)
            ids[name] = [row[key] for row in rows]
    return ids


# ---- the reasons: matched with the row diff ----


@dataclass
class Lineage:
    """What a data change records: its rows of the changes table, and the reasons it did not
    use."""

    rows: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # changes without a reason
    notes: list[str] = field(default_factory=list)  # reasons without a change
    used: list[Reason] = field(default_factory=list)


def _changed_rows(table: TableRows) -> list[tuple[str, str, list[str]]]:
    """(id, kind, fields) of each row of `table` added, removed or corrected, fields in column
    order (corrected values, then values in new columns)."""
    found: list[tuple[str, str, list[str]]] = []
    found += [(ident, "added", []) for ident in table.added]
    found += [(ident, "removed", []) for ident in table.removed]
    for ident in sorted(table.changed.keys() | table.filled.keys()):
        fields = [f for f, _, _ in table.changed.get(ident, [])] + table.filled.get(ident, [])
        found.append((ident, "corrected", fields))
    return found


def _missing(
    reasons: Reasons,
    table: str,
    ident: str,
    kind: str,
    since: str | None,
    owner: tuple[str, str] | None = None,
) -> Problem:
    also = f" (or for its record: table {owner[0]}, id {owner[1]})" if owner else ""
    return Problem(
        reasons.file,
        None,
        f"{kind} since {since} and no reason is given",
        f"{table}/{ident}",
        hint=(
            f"add an entry to {reasons.file}: `- {{table: {table}, id: {ident}, reason: ...}}`"
            f"{also} saying why, for the people who cite the data"
        ),
    )


def _column_missing(reasons: Reasons, table: str, column: str) -> Problem:
    return Problem(
        reasons.file,
        None,
        "new column and no reason is given",
        f"{table}.{column}",
        hint=(
            f"add an entry to {reasons.file}: `- {{table: {table}, field: {column}, "
            "reason: ...}` saying what the column holds and why it was added"
        ),
    )


def match_reasons(
    diff: PackageDiff,
    reasons: Reasons,
    history: list[dict],
    version: str,
    day: dt.date,
    owners: dict[str, tuple[str, str]] | None = None,
) -> Lineage:
    """The changes rows of release `version` for the row diff `diff`, each with its reason; a
    Problem for each change without one, a note for each reason without a change.

    An evidence row (built from a record's quotes) is covered by its own entry, or else by the
    entry of the record it belongs to: `owners` maps its id to (record table, record id)."""
    result = Lineage()
    unexplained: set[tuple[str, str] | None] = set()
    for table in diff.tables:
        for column in table.new_columns:
            entry = reasons.columns.get((table.table, column))
            if entry is None:
                result.problems.append(_column_missing(reasons, table.table, column))
            else:
                result.used.append(entry)
        for ident, kind, fields in _changed_rows(table):
            entry = reasons.rows.get((table.table, ident))
            if entry is None and ident in (owners or {}):
                entry = reasons.rows.get((owners or {})[ident])
            text = entry.reason if entry is not None else _column_reasons(reasons, table, ident)
            if entry is not None and entry not in result.used:
                result.used.append(entry)
            if text is None:
                owner = (owners or {}).get(ident)
                # A row's own problem, unless its record's or its new columns' problems cover it.
                if owner not in unexplained and (ident in table.changed or kind != "corrected"):
                    problem = _missing(reasons, table.table, ident, kind, diff.old_version, owner)
                    result.problems.append(problem)
                unexplained.add((table.table, ident))
                continue
            result.rows.append(_row(version, day, table.table, ident, kind, fields, text))
    result.notes = unused_notes(reasons, result.used, history, diff.old_version)
    return result


def _column_reasons(reasons: Reasons, table: TableRows, ident: str) -> str | None:
    """The reason for a row whose only differences are values in new columns: their entries'
    reasons; None when the row has other differences or a column has no entry."""
    if ident not in table.filled or ident in table.changed:
        return None
    entries = [reasons.columns.get((table.table, c)) for c in table.filled[ident]]
    if any(entry is None for entry in entries):
        return None
    return " ".join(dict.fromkeys(entry.reason for entry in entries if entry is not None))


def unused_notes(
    reasons: Reasons, used: list[Reason], history: pa.Table | None, since: str | None
) -> list[str]:
    """A note for each entry that no change used and the changes table (`history`, None for none)
    does not already hold."""
    unused = [e for e in [*reasons.rows.values(), *reasons.columns.values()] if e not in used]
    recorded, recorded_tables = _recorded(history, {entry.reason for entry in unused})
    notes = []
    for entry in unused:
        if entry.id is not None and (entry.table, entry.id, entry.reason) in recorded:
            continue
        if entry.id is None and (entry.table, entry.reason) in recorded_tables:
            continue
        what = "row" if entry.id is not None else "column"
        notes.append(
            f"note: {entry.place}: {entry.label}: no change to this {what} since "
            f"{since}; the reason is unused"
        )
    return notes


def _recorded(history: pa.Table | None, reasons: set[str]) -> tuple[set, set]:
    """(table, id, reason) and (table, reason) of the rows of `history` that hold one of
    `reasons`: only those rows are read into Python."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if history is None or not reasons:
        return set(), set()
    wanted = pc.is_in(history["reason"], value_set=pa.array(sorted(reasons), pa.string()))
    rows = history.select(["table_name", "record_id", "reason"]).filter(wanted).to_pylist()
    return (
        {(r["table_name"], r["record_id"], r["reason"]) for r in rows},
        {(r["table_name"], r["reason"]) for r in rows},
    )


def reasons_report(lineage: Lineage) -> str:
    """The reasons a publish would record, for a dry run."""
    if not lineage.rows:
        return ""
    lines = ["reasons:"]
    for row in lineage.rows:
        fields = f" ({row['fields'].replace(';', ', ')})" if row["fields"] else ""
        lines.append(
            f"  {row['table_name']}/{row['record_id']}: {row['kind']}{fields}: {row['reason']}"
        )
    return "\n".join(lines) + "\n"


# ---- release records: releases/<version>.json ----


def release_record(folder: Path) -> bytes:
    """The record of the release in `folder`: its full descriptor and the sha256 of each of its
    files (the earlier release records aside)."""
    descriptor = reader.read_descriptor(folder)
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_file() and not relative.startswith(f"{RELEASES}/"):
            files[relative] = "sha256:" + reader.file_facts(path, "sha256")[1]
    record = {"version": descriptor["version"], "descriptor": descriptor, "files": files}
    return (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_release_record(out: Path) -> None:
    """releases/<version>.json for the package just written in `out`: written last, after every
    file it lists."""
    record = release_record(out)
    version = json.loads(record)["version"]
    (out / RELEASES).mkdir(exist_ok=True)
    (out / RELEASES / f"{version}.json").write_bytes(record)


def release_names(folder: Path) -> list[str]:
    """The release records the package in `folder` holds, oldest first (regular files only)."""
    place = folder / RELEASES
    if not os.path.isdir(place) or os.path.islink(place):
        return []
    names = [
        name
        for name in os.listdir(place)
        if RELEASE_FILE.fullmatch(name) and stat.S_ISREG(os.lstat(place / name).st_mode)
    ]
    return sorted(names, key=lambda name: version_key(name[: -len(".json")]))


def carry_releases(previous: Path, out: Path) -> None:
    """The earlier release records, byte for byte, into `out`."""
    names = release_names(previous)
    if names:
        (out / RELEASES).mkdir(exist_ok=True)
    for name in names:
        with open_member(previous, f"{RELEASES}/{name}") as source:
            (out / RELEASES / name).write_bytes(source.read())


def read_release(folder: Path, version: str, label: str) -> dict:
    """The stored record of `version` in the package in `folder`; PackageError naming the versions
    it holds when it has no such record."""
    try:
        with open_member(folder, f"{RELEASES}/{version}.json") as handle:
            record = json.loads(handle.read(reader.MAX_DESCRIPTOR_BYTES + 1).decode("utf-8"))
    except PackageError:
        held = [name[: -len(".json")] for name in release_names(folder)]
        close = difflib.get_close_matches(version, held, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise PackageError(
            f"{label}: no record of version {version} in {RELEASES}/ "
            f"({hint}it holds {', '.join(held) or 'none'})"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackageError(f"{label}: {RELEASES}/{version}.json: not JSON ({exc})") from None
    if not isinstance(record, dict) or not isinstance(record.get("descriptor"), dict):
        raise PackageError(f"{label}: {RELEASES}/{version}.json: no descriptor in the record")
    return record


# ---- bringing a package published before lineage into it ----


@dataclass
class History:
    rows: pa.Table  # the changes table
    records: dict[str, bytes]  # version -> release record


def seed_history(earlier: list[str], previous: Path, previous_descriptor: dict) -> History:
    """The changes rows and release records of the published package `previous` and of the
    `earlier` packages (specs, oldest first, the first being the first publication): every row of
    the first as added, then the row diff of each package with the one before it. Without
    `earlier`, the rows of `previous` are recorded as added at its version, unexplained."""
    version = previous_descriptor["version"]
    if not earlier:
        ids = _ids_in(previous, previous_descriptor)
        day = release_day(previous_descriptor["created"])
        rows = _added_table(ids, version, day, UNRECORDED.format(version=version))
        return History(rows, {version: release_record(previous)})
    records: dict[str, bytes] = {}
    parts = []
    before: tuple[Path, dict] | None = None
    with contextlib.ExitStack() as stack:
        folders = [stack.enter_context(open_package(spec)) for spec in earlier]
        for folder in [*folders, previous]:
            descriptor = reader.read_descriptor_with_resources(folder)
            _check_order(records, descriptor, folder)
            records[descriptor["version"]] = release_record(folder)
            parts.append(_changes_between(before, folder, descriptor))
            before = (folder, descriptor)
    import pyarrow as pa

    return History(pa.concat_tables(parts).combine_chunks(), records)


def _check_order(records: dict[str, bytes], descriptor: dict, folder: Path) -> None:
    """Refused unless the packages' versions rise, each an x.y.z."""
    held = list(records)
    version = descriptor.get("version")
    if not isinstance(version, str) or not RELEASE_FILE.fullmatch(f"{version}.json"):
        raise Refused(f"--history-from: {folder}: version {version!r} is not x.y.z")
    if held and version_key(version) <= version_key(held[-1]):
        raise Refused(
            f"--history-from: version {version} is not later than {held[-1]}: give the earlier "
            "releases oldest first, and leave out the published package (it is the last)"
        )


def _changes_between(before: tuple[Path, dict] | None, folder: Path, descriptor: dict) -> pa.Table:
    version, day = descriptor["version"], release_day(descriptor["created"])
    if before is None:
        return _added_table(_ids_in(folder, descriptor), version, day, FIRST_REASON)
    diff = diff_packages(before[0], folder)
    reason = EARLIER.format(version=version)
    return changes_table(
        [
            _row(version, day, table.table, ident, kind, fields, reason)
            for table in diff.tables
            for ident, kind, fields in _changed_rows(table)
        ]
    )


# ---- a row's story, and the changes since a version ----


def _lineage_of(folder: Path, label: str) -> pa.Table:
    descriptor = reader.read_descriptor_with_resources(folder)
    rows = read_changes(folder, descriptor)
    if rows is None:
        raise PackageError(
            f"{label}: the package has no {CHANGES} table, so it records no row history "
            "(publish it with this version of the pipeline)"
        )
    return rows


def row_history(spec: str, ident: str, table: str | None = None) -> list[str]:
    """One line per change to the row `ident` (of `table`, when given) in the package `spec`:
    `2.0.0 2026-12-01 corrected (date_start, date_end): <reason>`; PackageError for an unknown id
    (with close matches), an id of several tables without `table`, or no changes table."""
    if table is not None and table not in schemas.TABLES:
        close = difflib.get_close_matches(table, schemas.TABLES, n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise PackageError(
            f"--table: {table!r} is not a data table ({hint}tables: {', '.join(schemas.TABLES)})"
        )
    import pyarrow.compute as pc

    with open_package(spec) as folder:
        rows = _lineage_of(folder, spec)
    candidates = rows.filter(pc.equal(rows["record_id"], ident)).to_pylist()
    mine = [r for r in candidates if table in (None, r["table_name"])]
    if not mine:
        raise PackageError(_unknown(spec, ident, table, rows))
    tables = sorted({r["table_name"] for r in mine})
    if len(tables) > 1:
        raise PackageError(
            f"{spec}: {ident!r} is an id in {', '.join(tables)}: pass --table with one of them"
        )
    return [_history_line(r) for r in sorted_changes(mine)]


def _unknown(spec: str, ident: str, table: str | None, rows: pa.Table) -> str:
    import pyarrow.compute as pc

    if table is not None:
        rows = rows.filter(pc.equal(rows["table_name"], table))
    ids = sorted(pc.unique(rows["record_id"]).to_pylist())
    close = difflib.get_close_matches(ident, ids, n=3)
    where = f"table {table} of " if table else ""
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return f"{spec}: no row {ident!r} in {where}the changes table{hint}"


def _history_line(row: dict) -> str:
    fields = f" ({row['fields'].replace(';', ', ')})" if row["fields"] else ""
    return f"{row['version']} {row['date'].isoformat()} {row['kind']}{fields}: {row['reason']}"


@dataclass
class Since:
    """The difference between a released version (its stored descriptor) and a package: the
    descriptor's differences and the rows the changes table lists after that version."""

    diff: PackageDiff
    rows: list[dict]

    @property
    def bump(self) -> str | None:
        level = self.diff.bump
        for row in self.rows:
            level = higher(level, KIND_LEVEL[row["kind"]])
        return level

    @property
    def identical(self) -> bool:
        return self.bump is None


def split_spec(spec: str) -> tuple[str, str] | None:
    """(package spec, version) for `<package>@x.y.z`; None for any other spec."""
    match = SPEC_VERSION.fullmatch(spec)
    return (match["spec"], match["version"]) if match else None


def diff_since(old: str, new: str) -> Since:
    """`new` compared with the release `old` (`<package>@x.y.z`) as that package recorded it: the
    stored descriptor for the descriptor, the changes table of `new` for the rows."""
    parts = split_spec(old)
    if parts is None:
        raise PackageError(f"{old}: not <package>@<version> (e.g. datapackage@1.0.0)")
    spec, version = parts
    with open_package(spec) as old_dir:
        before = read_release(old_dir, version, spec)["descriptor"]
    with open_package(new) as new_dir:
        after = reader.read_descriptor_with_resources(new_dir)
        rows = _lineage_of(new_dir, new)
        try:
            diff = diff_descriptors(old_dir, before, new_dir, after, (old, new), rows=False)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise PackageError(f"{old}: malformed stored descriptor ({exc})") from None
    import pyarrow as pa

    since = version_key(version)
    later = pa.array([version_key(v) > since for v in rows["version"].to_pylist()], pa.bool_())
    return Since(diff, sorted_changes(rows.filter(later).to_pylist()))


def render_since(since: Since) -> str:
    lines = head_lines(since.diff, since.identical)
    if since.identical:
        return "\n".join(lines) + "\n"
    if since.rows:
        lines.append(f"rows (from the {CHANGES} table):")
    for table in schemas.TABLES:
        mine = [r for r in since.rows if r["table_name"] == table]
        if not mine:
            continue
        counts = {kind: sum(r["kind"] == kind for r in mine) for kind in KIND_MARK}
        lines.append(
            f"  {table}: {counts['added']} added, {counts['removed']} removed, "
            f"{counts['corrected']} corrected"
        )
        for row in mine:
            fields = f" ({row['fields'].replace(';', ', ')})" if row["fields"] else ""
            lines.append(
                f"    {KIND_MARK[row['kind']]} {row['version']} {row['record_id']}{fields}: "
                f"{row['reason']}"
            )
    lines.append(f"required bump: {since.bump}")
    return "\n".join(lines) + "\n"


def since_to_dict(since: Since) -> dict:
    result = to_dict(since.diff)
    result["identical"], result["bump"] = since.identical, since.bump
    result["rows"] = [
        {
            **row,
            "date": row["date"].isoformat(),
            "fields": [f for f in (row["fields"] or "").split(";") if f],
        }
        for row in since.rows
    ]
    return result
