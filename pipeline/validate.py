"""Validate a published data package, CSV and Parquet alike, faster than and beyond frictionless.

Checks everything `frictionless validate` checks on the CSV resources (header labels,
types, constraints, unique fields, primary and foreign keys, bytes, hash, the
descriptor against the Data Package v2 profile), reporting with frictionless's error
types, fields and row numbers (first data row = 2), and what it does not check:
`categories`, `uniqueKeys`, evidence rows pointing at an existing record, bytes and
hash of each Parquet twin, the Parquet logical types the schema implies, the same
checks on the Parquet rows, and CSV and Parquet twins holding the same rows.

This module opens the package, checks the descriptor and the files' bytes and hashes,
and runs pipeline.columns (the rows, with Arrow) over every file. Arrow is imported
only once the files are being hashed, so the two overlap.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.packages import PackageError, open_package

PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
TITLES = {
    "type-error": "Type Error", "constraint-error": "Constraint Error", "unique-error": "Unique Error",
    "primary-key": "PrimaryKey Error", "foreign-key": "ForeignKey Error", "hash-count": "Hash Count Error",
    "byte-count": "Byte Count Error", "missing-label": "Missing Label", "incorrect-label": "Incorrect Label",
    "extra-label": "Extra Label", "extra-cell": "Extra Cell", "missing-cell": "Missing Cell",
    "package-error": "Package Error", "resource-error": "Resource Error", "scheme-error": "Scheme Error",
    "encoding-error": "Encoding Error", "source-error": "Source Error", "category-error": "Category Error",
    "unique-key-error": "Unique Key Error", "twin-mismatch": "Parquet Twin Mismatch",
    "parquet-type-error": "Parquet Type Error",
}
TEMPLATES = {
    "type-error": 'Type error in the cell "{cell}" in row "{rowNumber}" and field "{fieldName}" at position "{fieldNumber}": {note}',
    "constraint-error": 'The cell "{cell}" in row at position "{rowNumber}" and field "{fieldName}" at position "{fieldNumber}" does not conform to a constraint: {note}',
    "unique-error": 'Row at position "{rowNumber}" has unique constraint violation in field "{fieldName}" at position "{fieldNumber}": {note}',
    "primary-key": 'Row at position "{rowNumber}" violates the primary key: {note}',
    "foreign-key": 'Row at position "{rowNumber}" violates the foreign key: {note}',
    "hash-count": "The data source does not match the expected hash count: {note}",
    "byte-count": "The data source does not match the expected byte count: {note}",
    "missing-label": 'There is a missing label in the header\'s field "{fieldName}" at position "{fieldNumber}"',
    "incorrect-label": 'Label "{label}" in field {fieldName} at position "{fieldNumber}" does not match the field name in the schema',
    "extra-label": 'There is an extra label "{label}" in header at position "{fieldNumber}"',
    "extra-cell": 'Row at position "{rowNumber}" has an extra value in field at position "{fieldNumber}"',
    "missing-cell": 'Row at position "{rowNumber}" has a missing cell in field "{fieldName}" at position "{fieldNumber}"',
    "package-error": "The data package has an error: {note}",
    "resource-error": "The data resource has an error: {note}",
    "scheme-error": "The data source could not be successfully loaded: {note}",
    "encoding-error": "The data source could not be successfully decoded: {note}",
    "source-error": "The data source has not supported or has inconsistent contents: {note}",
    "category-error": 'The cell "{cell}" in row at position "{rowNumber}" and field "{fieldName}" at position "{fieldNumber}" is not one of the field\'s categories: {note}',
    "unique-key-error": 'Row at position "{rowNumber}" repeats the unique key "{fieldName}": {note}',
    "twin-mismatch": 'The Parquet twin differs from the CSV in row at position "{rowNumber}" and field "{fieldName}": {note}',
    "parquet-type-error": 'Field "{fieldName}" at position "{fieldNumber}" of the Parquet twin has the wrong type: {note}',
}


def make_error(kind: str, note: str = "", **where) -> dict:
    error = {"type": kind, "title": TITLES.get(kind, kind), "note": note}
    error.update({key: value for key, value in where.items() if value is not None})
    error["message"] = TEMPLATES[kind].format_map({"note": note, "rowNumber": "", "fieldName": "", "fieldNumber": "",
                                                   "cell": "", "label": "", **where})
    return error


@dataclass
class Task:
    name: str
    place: str
    format: str
    errors: list[dict] = field(default_factory=list)
    rows: int = 0

    def to_dict(self) -> dict:
        return {"name": self.name, "type": "table", "valid": not self.errors, "place": self.place, "format": self.format,
                "stats": {"errors": len(self.errors), "rows": self.rows}, "errors": self.errors}


@dataclass
class Report:
    tasks: list[Task] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)  # package level
    unreadable: bool = False

    @property
    def valid(self) -> bool:
        return not self.errors and not any(t.errors for t in self.tasks)

    @property
    def exit_code(self) -> int:
        return 2 if self.unreadable else (0 if self.valid else 1)

    def to_dict(self) -> dict:
        count = len(self.errors) + sum(len(t.errors) for t in self.tasks)
        return {"valid": self.valid, "stats": {"tasks": len(self.tasks), "errors": count},
                "errors": self.errors, "tasks": [t.to_dict() for t in self.tasks]}

    def lines(self) -> list[str]:
        """One line per error: resource:row:field: type: message."""
        out = [f"package:-:-: {e['type']}: {e['message']}" for e in self.errors]
        for task in self.tasks:
            label = task.name if task.format == "csv" else f"{task.name}[parquet]"
            out += [f"{label}:{e.get('rowNumber', '-')}:{e.get('fieldName') or ','.join(e.get('fieldNames', [])) or '-'}: "
                    f"{e['type']}: {e['message']}" for e in task.errors]
        return out


# ---- opening a package ----

def validate_path(spec: Path, parquet: bool = True) -> Report:
    """Validate the package at `spec` (a folder, its datapackage.json, a release zip or git:REV);
    an unreadable package is a report with `unreadable` set."""
    try:
        with open_package(spec) as folder:
            return validate_folder(folder, parquet)
    except (OSError, ValueError, PackageError) as exc:
        return Report(errors=[make_error("package-error", str(exc))], unreadable=True)


# ---- reading files ----

def file_facts(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return path.stat().st_size, digest.hexdigest()


def integrity_errors(described: dict, size: int, digest: str) -> list[dict]:
    errors = []
    if "hash" in described:
        expected = str(described["hash"])
        algorithm, _, value = expected.rpartition(":")
        if algorithm in ("", "sha256") and value != digest:
            errors.append(make_error("hash-count", f'expected is "{value}" and actual is "{digest}"'))
    if "bytes" in described and described["bytes"] != size:
        errors.append(make_error("byte-count", f'expected is "{described["bytes"]}" and actual is "{size}"'))
    return errors


def label_errors(labels: list[str], fields: list[dict]) -> list[dict]:
    errors = []
    names = [f["name"] for f in fields]
    for number, name in enumerate(names, start=1):
        if number > len(labels):
            errors.append(make_error("missing-label", "", fieldName=name, fieldNumber=number, label="", rowNumbers=[1]))
        elif labels[number - 1] != name:
            errors.append(make_error("incorrect-label", "", label=labels[number - 1], fieldName=name, fieldNumber=number,
                                     rowNumbers=[1]))
    for number in range(len(names) + 1, len(labels) + 1):
        errors.append(make_error("extra-label", "", label=labels[number - 1], fieldName="", fieldNumber=number,
                                 rowNumbers=[1]))
    return errors


# ---- the package ----

def descriptor_errors(descriptor: dict, folder: Path) -> list[dict]:
    """The descriptor's errors: frictionless's, found by frictionless unless
    `certainly_valid` shows it would find none, and an unsafe path of any twin."""
    from pipeline.descriptor_check import certainly_valid

    errors = []
    if descriptor.get("$schema") != PROFILE:
        errors.append(make_error("package-error", f'"$schema" must be "{PROFILE}" (Data Package v2), '
                                 f'found {descriptor.get("$schema")!r}'))
    if not certainly_valid(descriptor):
        import frictionless

        try:
            found = [(error.type, error.note) for error in frictionless.Package.validate_descriptor(descriptor).errors]
        except Exception as exc:  # frictionless fails outright on some shapes, e.g. a field that is not an object
            found = [("package-error", f"frictionless cannot read the descriptor ({type(exc).__name__}: {exc})")]
        for kind, note in found:
            errors.append(make_error(kind if kind in TEMPLATES else "package-error", note))
    for resource in _dicts(descriptor.get("resources")):
        for described in _dicts([resource, resource.get("parquet")]):
            path = described.get("path")
            if not isinstance(path, str):
                continue
            if Path(path).is_absolute() or ".." in Path(path).parts:
                errors.append(make_error("resource-error", f'path "{path}" is not safe'))
    return errors


def _check_file(folder: Path, task: Task, described: dict, schema: dict, facts: Future | None):
    """One file of a resource: its bytes and hash, then its rows (pipeline.columns)."""
    from pipeline import columns

    if facts is None:
        task.errors.append(make_error("scheme-error", f'[Errno 2] No such file or directory: "{task.place}"'))
        return None
    task.errors += integrity_errors(described, *facts.result())
    return columns.check_file(folder / task.place, task, schema)


def validate_folder(folder: Path, parquet: bool = True) -> Report:
    """Validate the package in `folder`; `parquet=False` leaves the Parquet twins unread."""
    from concurrent.futures import ThreadPoolExecutor

    report = Report()
    try:
        descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{folder}: no datapackage.json") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"datapackage.json is not valid JSON: {exc}") from None
    if not isinstance(descriptor, dict):
        raise ValueError("datapackage.json is not a JSON object")
    # Resources, keys and paths of the wrong shape are the descriptor check's to report; the rows are checked
    # as far as the rest allows.
    resources = [r for r in _dicts(descriptor.get("resources")) if isinstance(r.get("schema"), dict)]
    schemas = {str(resource.get("name", "")): resource["schema"] for resource in resources}
    jobs = []
    for resource in resources:
        twins = [("csv", resource)]
        if parquet and isinstance(resource.get("parquet"), dict):
            twins.append(("parquet", resource["parquet"]))
        for fmt, described in twins:
            path = described.get("path")
            task = Task(str(resource.get("name", "")), path if isinstance(path, str) else "", fmt)
            report.tasks.append(task)
            jobs.append((task, described, resource["schema"]))
    by_format: dict[str, dict] = {"csv": {}, "parquet": {}}
    with ThreadPoolExecutor(max_workers=_threads()) as pool:
        # hashlib and Arrow work without holding Python's lock: the files are hashed first
        # (while Arrow is being imported), then checked side by side, the largest first;
        # then the checks across rows and files, each its own job.
        order = sorted(jobs, key=lambda job: -_size(folder / job[0].place))
        facts = {id(task): pool.submit(file_facts, folder / task.place) if _readable(folder, task.place) else None
                 for task, _, _ in order}
        described_errors = pool.submit(descriptor_errors, descriptor, folder)
        from pipeline import columns

        checked = pool.map(lambda job: _check_file(folder, *job, facts[id(job[0])]), order)
        for (task, _, _), table in zip(order, checked):
            if table is not None:
                by_format[task.format][task.name] = table
        checks = []  # (task, check) in the order their errors are listed
        for task, _, schema in jobs:
            table = by_format[task.format].get(task.name)
            if table is None:
                continue
            checks.append((task, lambda table=table: columns.unique_field_errors(table)))
            checks.append((task, lambda table=table, schema=schema:
                           columns.primary_key_errors(table, columns.primary_key_of(schema))))
            checks += [(task, lambda table=table, key=key: columns.unique_key_errors(table, key))
                       for key in _lists_of_names(schema.get("uniqueKeys"))]
            checks.append((task, lambda table=table, task=task:
                           columns.foreign_key_errors(table, schemas[task.name], by_format[task.format])))
            if task.format == "parquet" and task.name in by_format["csv"]:
                checks.append((task, lambda table=table, task=task: columns.twin_errors(by_format["csv"][task.name], table)))
        costly_first = sorted(range(len(checks)), key=lambda i: -len(by_format[checks[i][0].format][checks[i][0].name].row_numbers))
        found = dict(zip(costly_first, pool.map(lambda i: checks[i][1](), costly_first)))
        for i, (task, _) in enumerate(checks):
            task.errors += found[i]
        report.errors += described_errors.result()
    for task in report.tasks:
        task.errors.sort(key=lambda e: (e.get("rowNumber") or 0, e.get("fieldNumber") or 0))
    return report


def _dicts(value) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _lists_of_names(value) -> list[list[str]]:
    return [item for item in value if isinstance(item, list) and item and all(isinstance(n, str) for n in item)] \
        if isinstance(value, list) else []


def _readable(folder: Path, place: str) -> bool:
    return bool(place) and ".." not in Path(place).parts and (folder / place).is_file()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _threads() -> int:
    try:
        import os

        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return 2
