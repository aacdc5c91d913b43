"""The package as the review report reads it: confined, checked, typed, and indexed once.

The report opens only regular files inside the package folder (no absolute path, `..`,
URL, symbolic link, device or pipe), through pipeline.package.reader.open_member, the
one confined reader, and checks every shape it relies on before anything is rendered:
a malformed package is a list of located problems (InputError, exit 1; UnreadablePackage,
exit 2, when there is no descriptor to read). The rows come back typed by their schema,
with the lookups the pages need built once: rows by key, display names, the rows that
refer to each row, and the evidence of each record and each source.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from pipeline.contract import schemas
from pipeline.contract.problems import InputError, Problem
from pipeline.package.reader import NO_SUCH_FILE, PackageError, open_member

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


@dataclass
class Package:
    """The published package, read once: descriptor, typed rows, and the indexes pages need."""

    descriptor: dict
    rows: dict[str, list[dict]]
    keys: dict[str, str] = field(default_factory=dict)  # table -> primary key column
    # table -> column -> referenced table
    links: dict[str, dict[str, str]] = field(default_factory=dict)
    # (table, id) -> (table, id, column) of each row that refers to it
    referrers: dict[tuple[str, str], list[tuple[str, str, str]]] = field(default_factory=dict)
    evidence_of: dict[tuple[str, str], list[dict]] = field(default_factory=dict)
    # source id -> its evidence in reading order (start, end, evidence_id)
    evidence_in: dict[str, list[dict]] = field(default_factory=dict)
    # table -> id -> the record's short name, when it has one (the first row of an id wins)
    names: dict[str, dict[object, str]] = field(default_factory=dict)

    def name_of(self, table: str, record_id: str) -> str:
        """The record's short name for links and labels; its id when it has none or is not there."""
        return self.names.get(table, {}).get(record_id) or record_id


def load(package_dir: Path) -> Package:
    """The package in `package_dir`, read and checked by `read_checked_package`, with its
    indexes."""
    descriptor, rows = read_checked_package(package_dir)
    package = Package(descriptor, rows)
    for resource in descriptor["resources"]:
        table, schema = resource["name"], resource["schema"]
        key = package.keys[table] = _names(schema["primaryKey"])[0]
        package.links[table] = {
            _names(fk["fields"])[0]: fk["reference"].get("resource") or table
            for fk in schema.get("foreignKeys", [])
        }
        rows[table] = sorted(rows[table], key=lambda r: str(r[key]))
        package.names[table] = _short_names(rows[table], key, NAME_COLUMNS.get(table, ""))
    for table, columns in sorted(package.links.items()):
        for row in rows[table]:
            for column, target in sorted(columns.items()):
                if row.get(column) is not None:
                    package.referrers.setdefault((target, str(row[column])), []).append(
                        (table, str(row[package.keys[table]]), column)
                    )
    for ev in sorted(
        rows.get("evidence", []),
        key=lambda e: (e["source_id"], e["start"], e["end"], e["evidence_id"]),
    ):
        package.evidence_of.setdefault((ev["record_table"], ev["record_id"]), []).append(ev)
        package.evidence_in.setdefault(ev["source_id"], []).append(ev)
    return package


def _short_names(rows: list[dict], key: str, column: str) -> dict[object, str]:
    """Each row's short name by its key; an empty name is left out, so the id stands in for it."""
    names: dict[object, str] = {}
    for row in rows:
        name = row.get(column)
        names.setdefault(row[key], str(name) if name else "")
    return names


# ---- reading the package: confined and checked ----

DESCRIPTOR = "datapackage.json"
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


class Refused(Exception):
    """A file the report may not or cannot open; the message says why, after the file's name."""


def open_confined(package_dir: Path, relative: str) -> BinaryIO:
    """`relative` opened by the one confined reader (reader.open_member); Refused with its
    reason."""
    try:
        return open_member(package_dir, relative)
    except PackageError as exc:
        raise Refused(exc.reason or str(exc)) from None


def read_descriptor(package_dir: Path) -> dict:
    """The descriptor as a JSON object; UnreadablePackage when there is none to read."""
    where = str(package_dir / DESCRIPTOR)
    if not package_dir.is_dir():
        what = "is not a folder" if package_dir.exists() else "no such folder"
        raise UnreadablePackage(
            [
                Problem(
                    str(package_dir),
                    None,
                    what,
                    hint="pass --package, the folder of a published package",
                )
            ]
        )
    try:
        with open_confined(package_dir, DESCRIPTOR) as handle:
            raw = handle.read()
    except Refused as exc:
        missing = str(exc) == NO_SUCH_FILE
        raise UnreadablePackage(
            [
                Problem(
                    where,
                    None,
                    f"the descriptor: {exc}",
                    hint="run 'pipeline publish' first" if missing else REPUBLISH,
                )
            ]
        ) from None
    try:
        descriptor = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise UnreadablePackage(
            [
                Problem(
                    where,
                    raw[: exc.start].count(b"\n") + 1,
                    f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                    hint=REPUBLISH,
                )
            ]
        ) from None
    except json.JSONDecodeError as exc:
        raise UnreadablePackage(
            [
                Problem(
                    where,
                    exc.lineno,
                    f"not valid JSON: {exc.msg} (column {exc.colno})",
                    hint=REPUBLISH,
                )
            ]
        ) from None
    except RecursionError:
        raise UnreadablePackage(
            [Problem(where, None, "JSON nested too deeply to read", hint=REPUBLISH)]
        ) from None
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
    if not isinstance(key, list) or len(key) != 1 or key[0] not in columns:
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


INT64 = 2**63  # integers are 64-bit in the Parquet twins and in the charts' arithmetic


def _typed(text: str, kind: str):
    """A CSV cell as its schema type (empty -> None); ValueError when it is not one the report can
    draw."""
    if text == "":
        return None
    if kind == "integer":
        value = int(text)
        if not -INT64 <= value < INT64:
            raise ValueError("outside the 64-bit range")
        return value
    if kind == "number":
        number = float(text)
        if not math.isfinite(number):
            raise ValueError("not finite")
        return number
    if kind == "boolean":
        if text not in ("true", "false"):
            raise ValueError(text)
        return text == "true"
    if kind == "date":
        return dt.date.fromisoformat(text)
    return text


def read_table(package_dir: Path, resource: dict) -> tuple[list[dict], list[Problem]]:
    """The typed rows of one CSV resource, or the problems that stop the report reading them."""
    where = (
        str(package_dir / resource["path"])
        if isinstance(resource["path"], str)
        else str(package_dir)
    )
    try:
        with open_confined(package_dir, resource["path"]) as handle:
            raw = handle.read()
        text = raw.decode("utf-8")
    except Refused as exc:
        return [], [
            Problem(
                str(package_dir / DESCRIPTOR),
                None,
                f"{resource['path']!r}: {exc}",
                record=f"resources/{resource['name']}",
                field="path",
                hint="name a regular CSV file inside the package folder",
            )
        ]
    except UnicodeDecodeError as exc:
        return [], [
            Problem(
                where,
                raw[: exc.start].count(b"\n") + 1,
                f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                hint=REPUBLISH,
            )
        ]
    fields = resource["schema"]["fields"]
    names = [f["name"] for f in fields]
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, [])
    if header != names:
        return [], [
            Problem(
                where,
                1,
                f"the header is {', '.join(header) or 'empty'}; the schema has {', '.join(names)}",
                hint=REPUBLISH,
            )
        ]
    return _typed_rows(reader, resource, where)


def _typed_rows(reader, resource: dict, where: str) -> tuple[list[dict], list[Problem]]:
    fields = resource["schema"]["fields"]
    key = _names(resource["schema"]["primaryKey"])[0]
    rows, problems, line = [], [], 1
    try:
        for cells in reader:
            start, line = line + 1, reader.line_num
            if len(cells) != len(fields):
                problems.append(
                    Problem(
                        where,
                        start,
                        f"{len(cells)} cells; the header has {len(fields)}",
                        hint=REPUBLISH,
                    )
                )
            else:
                row, found = _typed_row(
                    cells, fields, where, start, f"{resource['name']}/{cells[0]}"
                )
                problems += found
                rows.append(row)
                if row[key] is None and not found:
                    problems.append(
                        Problem(where, start, "the primary key is empty", field=key, hint=REPUBLISH)
                    )
            if len(problems) >= MOST_PROBLEMS:
                return rows, problems + [
                    Problem(where, None, "more problems not listed (fix these first)")
                ]
    except csv.Error as exc:
        problems.append(Problem(where, line + 1, f"not a readable CSV row: {exc}", hint=REPUBLISH))
    return rows, problems


def _typed_row(
    cells: list[str], fields: list[dict], where: str, line: int, record: str
) -> tuple[dict, list]:
    row, problems = {}, []
    for text, spec in zip(cells, fields, strict=True):  # rows of another length are refused
        kind = spec.get("type", "string")
        try:
            row[spec["name"]] = value = _typed(text, kind)
        except ValueError:
            row[spec["name"]] = None
            what = "an integer" if kind == "integer" else f"a {kind}"
            problems.append(
                Problem(
                    where,
                    line,
                    f"{text!r} is not {what} the report can read",
                    record=record,
                    field=spec["name"],
                    hint=REPUBLISH,
                )
            )
            continue
        wrong = _constraint_broken(value, spec.get("constraints", {}))
        if wrong:
            problems.append(
                Problem(
                    where,
                    line,
                    f"{text!r} {wrong}",
                    record=record,
                    field=spec["name"],
                    hint=REPUBLISH,
                )
            )
    return row, problems


def _constraint_broken(value, constraints: dict) -> str | None:
    """The constraint the charts rely on (required, minimum, maximum) that `value` breaks, if
    any."""
    if value is None:
        return "is empty, but required" if constraints.get("required") else None
    low, high = constraints.get("minimum"), constraints.get("maximum")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(low, (int, float)) and value < low:
            return f"is below the minimum {low}"
        if isinstance(high, (int, float)) and value > high:
            return f"is above the maximum {high}"
    return None


def _twin_problems(package_dir: Path, resource: dict) -> list[Problem]:
    """A Parquet twin the checks page's validator would open outside the package; a missing one is
    the validator's to report."""
    path = (resource.get("parquet") or {}).get("path")
    if path is None:
        return []
    try:
        open_confined(package_dir, path).close()
    except Refused as exc:
        if str(exc) != NO_SUCH_FILE:
            return [
                Problem(
                    str(package_dir / DESCRIPTOR),
                    None,
                    f"{path!r}: {exc}",
                    record=f"resources/{resource['name']}",
                    field="parquet.path",
                    hint="name a regular Parquet file inside the package folder",
                )
            ]
    return []


def read_checked_package(package_dir: Path) -> tuple[dict, dict[str, list[dict]]]:
    """The descriptor and typed rows of every table, read only from regular files inside
    `package_dir`; UnreadablePackage when there is no descriptor to read, InputError with every
    problem when its shape, its files or their rows are not what the report reads."""
    descriptor = read_descriptor(package_dir)
    problems = descriptor_problems(descriptor, str(package_dir / DESCRIPTOR))
    if problems:
        raise InputError(problems)
    rows = {}
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
    return descriptor, rows
