"""Validate a published data package, CSV and Parquet alike, faster than and beyond frictionless.

Checks everything `frictionless validate` checks on the CSV resources (header labels,
types, constraints, unique fields, primary and foreign keys, bytes, hash, the
descriptor against the Data Package v2 profile), reporting with frictionless's error
types, fields and row numbers (first data row = 2), and what it does not check:
`categories`, `uniqueKeys`, evidence rows pointing at an existing record, bytes and
hash of each Parquet twin, the Parquet logical types the schema implies, the same
checks on the Parquet rows, and CSV and Parquet twins holding the same rows.

This module opens the package, checks the descriptor and the files' bytes and hashes,
and runs pipeline.validate.columns (the rows, with Arrow) over every file. Arrow is imported
only once the files are being hashed, so the two overlap. A descriptor feature outside
what it checks (pipeline.validate.scope: a dialect, an encoding, a field type...) is a located
"unsupported-feature" error, never ignored in silence; a file is hashed only by the
algorithm its `hash` names (md5 when it names none, as the spec says).

It reads nothing outside the package: every file a resource names is reached through
pipeline.package.reader.member_path (no absolute paths, `..`, URLs, symbolic links, devices
or FIFOs; such a path is an error of its resource, and the file is neither hashed nor
read), and a file in data/ the descriptor does not describe is an error of its own
("undeclared-file"): a package stands alone, and a stray file is leftover or smuggled.
Its output is bounded too: each file lists at most `max_errors` errors (the first each
check finds, in row order) and counts the rest.
"""

from __future__ import annotations

import hashlib
import os
import stat
from concurrent.futures import Future
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path, PurePosixPath
from typing import Iterable, Iterator

from pipeline.validate import scope
from pipeline.package.reader import PackageError, member_path, open_package, read_descriptor, unsafe_reason

PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
DATA = "data"  # the package's folder of tables: every file in it must be described
MAX_ERRORS = 1000  # listed per file (and for the package itself); the rest are counted
TITLES = {
    "type-error": "Type Error", "constraint-error": "Constraint Error", "unique-error": "Unique Error",
    "primary-key": "PrimaryKey Error", "foreign-key": "ForeignKey Error", "hash-count": "Hash Count Error",
    "byte-count": "Byte Count Error", "missing-label": "Missing Label", "incorrect-label": "Incorrect Label",
    "extra-label": "Extra Label", "extra-cell": "Extra Cell", "missing-cell": "Missing Cell",
    "blank-label": "Blank Label", "duplicate-label": "Duplicate Label", "blank-row": "Blank Row",
    "package-error": "Package Error", "resource-error": "Resource Error", "scheme-error": "Scheme Error",
    "encoding-error": "Encoding Error", "source-error": "Source Error", "category-error": "Category Error",
    "unique-key-error": "Unique Key Error", "twin-mismatch": "Parquet Twin Mismatch",
    "parquet-type-error": "Parquet Type Error", "span-error": "Span Error", "undeclared-file": "Undeclared File",
    "unsupported-feature": "Unsupported Feature", "field-error": "Field Error",
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
    "blank-label": 'Label in the header in field at position "{fieldNumber}" is blank',
    "duplicate-label": 'Label "{label}" in the header at position "{fieldNumber}" is duplicated to a label: {note}',
    "blank-row": 'Row at position "{rowNumber}" is completely blank',
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
    "span-error": ('Row at position "{rowNumber}" holds an impossible span in field "{fieldName}" '
                   'at position "{fieldNumber}": {note}'),
    "undeclared-file": 'File "{path}" is in the package but not in its descriptor: {note}',
    "unsupported-feature": "The resource uses a feature this validator does not check: {note}",
    "field-error": 'Field is not valid: {note}',
}


def make_error(kind: str, note: str = "", **where) -> dict:
    error = {"type": kind, "title": TITLES.get(kind, kind), "note": note}
    error.update({key: value for key, value in where.items() if value is not None})
    error["message"] = TEMPLATES[kind].format_map({"note": note, "rowNumber": "", "fieldName": "", "fieldNumber": "",
                                                   "cell": "", "label": "", "path": "", **where})
    return error


def first(errors: Iterable[dict], room: int) -> tuple[list[dict], int]:
    """The first `room` errors, and how many more there are: those are counted, never kept, so that
    memory stays bounded whatever the file holds."""
    rest = iter(errors)
    listed = list(islice(rest, max(room, 0)))
    return listed, sum(1 for _ in rest)


@dataclass
class Listing:
    """Errors listed up to `limit`, the rest counted (in `not_listed`)."""

    errors: list[dict] = field(default_factory=list)
    limit: int = MAX_ERRORS
    not_listed: int = 0

    def add(self, errors: Iterable[dict]) -> None:
        listed, more = first(errors, self.limit - len(self.errors))
        self.errors += listed
        self.not_listed += more

    def add_counted(self, listed: list[dict], more: int) -> None:
        """Errors a check listed (up to the room it was given) and counted beyond it."""
        self.add(listed)
        self.not_listed += more

    def finish(self) -> None:
        """The errors in row order, and no more than `limit` of them."""
        self.errors.sort(key=lambda e: (e.get("rowNumber") or 0, e.get("fieldNumber") or 0))
        self.not_listed += max(0, len(self.errors) - self.limit)
        del self.errors[self.limit:]

    @property
    def count(self) -> int:
        return len(self.errors) + self.not_listed

    def stats(self) -> dict:
        return {"errors": self.count, "notListed": self.not_listed}

    def warnings(self) -> list[str]:
        return [f"reached error limit: {self.limit}"] if self.not_listed else []  # frictionless's words

    def more_line(self, label: str) -> list[str]:
        return [f"{label}: ... and {self.not_listed} more (at most {self.limit} are listed per file; "
                "raise --max-errors to list more)"] if self.not_listed else []


@dataclass
class Task(Listing):
    name: str = ""
    place: str = ""
    format: str = "csv"
    rows: int = 0

    def to_dict(self) -> dict:
        return {"name": self.name, "type": "table", "valid": not self.count, "place": self.place, "format": self.format,
                "stats": {**self.stats(), "rows": self.rows}, "truncated": bool(self.not_listed),
                "warnings": self.warnings(), "errors": self.errors}


@dataclass
class Report(Listing):
    """The package's own errors (the Listing) and one task per file."""

    tasks: list[Task] = field(default_factory=list)
    unreadable: bool = False

    @property
    def valid(self) -> bool:
        return not self.count and not any(t.count for t in self.tasks)

    @property
    def exit_code(self) -> int:
        return 2 if self.unreadable else (0 if self.valid else 1)

    @property
    def total(self) -> int:
        return self.count + sum(t.count for t in self.tasks)

    def to_dict(self) -> dict:
        not_listed = self.not_listed + sum(t.not_listed for t in self.tasks)
        return {"valid": self.valid, "stats": {"tasks": len(self.tasks), "errors": self.total, "notListed": not_listed},
                "truncated": bool(not_listed), "warnings": self.warnings(), "errors": self.errors,
                "tasks": [t.to_dict() for t in self.tasks]}

    def lines(self) -> list[str]:
        """One line per error: resource:row:field: type: message; a line "... and N more" where some are not listed."""
        out = [f"package:-:-: {e['type']}: {e['message']}" for e in self.errors] + self.more_line("package")
        for task in self.tasks:
            label = task.name if task.format == "csv" else f"{task.name}[parquet]"
            out += [f"{label}:{e.get('rowNumber', '-')}:{_field_of(e)}: {e['type']}: {e['message']}" for e in task.errors]
            out += task.more_line(label)
        return out


def _field_of(error: dict) -> str:
    return error.get("fieldName") or ",".join(error.get("fieldNames", [])) or "-"


# ---- opening a package ----

def validate_path(spec: Path, parquet: bool = True, max_errors: int = MAX_ERRORS) -> Report:
    """Validate the package at `spec` (a folder, its datapackage.json, a release zip or git:REV);
    an unreadable package is a report with `unreadable` set."""
    try:
        with open_package(spec) as folder:
            return validate_folder(folder, parquet, max_errors)
    except (OSError, ValueError, PackageError) as exc:
        return Report(errors=[make_error("package-error", str(exc))], unreadable=True)


def resolve(folder: Path, place: object) -> tuple[Path | None, dict | None]:
    """The file a resource names, or None and the error saying why it is not read (it is never opened).

    frictionless's words where it has the case: an unsafe path is a resource-error, a missing file a scheme-error."""
    reason = unsafe_reason(place)
    if reason is not None:
        return None, make_error("resource-error", f'path "{place}" is not safe: it {reason}')
    try:
        return member_path(folder, place), None
    except PackageError as exc:
        why = str(exc).removeprefix(f"{folder / str(place)}: ")
    why = "is " + why if why.startswith("not ") else why.replace("cannot read", "cannot be read", 1)
    if why == "no such file":
        return None, make_error("scheme-error", f'[Errno 2] No such file or directory: "{place}"')
    return None, make_error("resource-error", f'path "{place}" is not safe: it {why}')


def undeclared_files(folder: Path, declared: set[str]) -> Iterator[dict]:
    """An error for each file under data/ (links and special files included, never followed) that no
    resource names; folders are walked with a stack of their own, however deep they go."""
    if not stat.S_ISDIR(_lstat_mode(folder / DATA)):
        return  # no data/ folder, or a link: each resource naming a file in it says so
    stack = [DATA]
    while stack:
        relative = stack.pop()
        try:
            with os.scandir(folder / relative) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            yield make_error("scheme-error", f'cannot list the folder "{relative}": {exc.strerror}')
            continue
        for entry in entries:
            path = f"{relative}/{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                continue
            if path not in declared:
                kind = ("a symbolic link" if entry.is_symlink() else "a file" if entry.is_file(follow_symlinks=False)
                        else "a special file (device, FIFO or socket)")
                yield make_error("undeclared-file", f"{kind} no resource names (remove it, or describe it in "
                                 "datapackage.json)", path=path)
        stack += [f"{relative}/{entry.name}" for entry in reversed(entries) if entry.is_dir(follow_symlinks=False)]


def declared_paths(descriptor: dict) -> set[str]:
    """The paths the resources and their Parquet twins name, written the one way a folder walk finds them."""
    found = set()
    for resource in _dicts(descriptor.get("resources")):
        for described in _dicts([resource, resource.get("parquet")]):
            if unsafe_reason(described.get("path")) is None:
                found.add(str(PurePosixPath(described["path"])))
    return found


# ---- reading files ----

def file_facts(path: Path, algorithm: str | None = None) -> tuple[int, str]:
    """Size of the file at `path` and its digest by `algorithm` ("" when none is asked for), both taken from
    the one open file, read once and only when there is a digest to compute."""
    with open(path, "rb") as handle:
        digest = hashlib.new(algorithm) if algorithm in scope.HASHES else None
        if digest is not None:
            for chunk in iter(lambda: handle.read(1 << 22), b""):
                digest.update(chunk)
        return os.fstat(handle.fileno()).st_size, digest.hexdigest() if digest is not None else ""


def hash_of(described: dict) -> str | None:
    """The algorithm of the described file's `hash`, if it has one."""
    return scope.hash_algorithm(described["hash"])[0] if "hash" in described else None


def integrity_errors(described: dict, size: int, digest: str) -> list[dict]:
    """Hash and byte count against the file's `size` and its `digest` by the algorithm the hash names (md5
    without a prefix); an algorithm outside scope.HASHES is an unsupported-feature error of `resource_errors`."""
    errors = []
    if "hash" in described:
        algorithm, expected = scope.hash_algorithm(described["hash"])
        if algorithm in scope.HASHES and expected != digest:
            errors.append(make_error("hash-count", f'expected is "{expected}" and actual is "{digest}"'))
    if "bytes" in described and described["bytes"] != size:
        errors.append(make_error("byte-count", f'expected is "{described["bytes"]}" and actual is "{size}"'))
    return errors


def label_errors(labels: list[str], fields: list[dict], row: int = 1) -> list[dict]:
    """The errors of the header (in row `row`), as frictionless finds them when labels and fields pair by
    position: a label past the fields is extra, a field past the labels is missing, and a label beside a field
    is blank, a repeat of an earlier label, or a name other than the field's."""
    errors = []
    names = [f["name"] for f in fields]
    for number, name in enumerate(names, start=1):
        if number > len(labels):
            errors.append(make_error("missing-label", "", fieldName=name, fieldNumber=number, label="",
                                     rowNumbers=[row]))
            continue
        label, where = labels[number - 1], {"fieldName": name, "fieldNumber": number, "rowNumbers": [row]}
        earlier = [str(position) for position, seen in enumerate(labels[:number - 1], start=1) if seen == label]
        if not label:
            errors.append(make_error("blank-label", "", label="", **where))
        elif earlier:
            errors.append(make_error("duplicate-label", f'at position "{", ".join(earlier)}"', label=label, **where))
        elif label != name:
            errors.append(make_error("incorrect-label", "", label=label, **where))
    for number in range(len(names) + 1, len(labels) + 1):
        errors.append(make_error("extra-label", "", label=labels[number - 1], fieldName="", fieldNumber=number,
                                 rowNumbers=[row]))
    return errors


# ---- the package ----

def descriptor_errors(descriptor: dict) -> list[dict]:
    """The descriptor's errors: frictionless's, found by frictionless unless
    `certainly_valid` shows it would find none, and an unsafe path of any Parquet twin (by frictionless's rule,
    which it does not apply there since it does not know the `parquet` property)."""
    from pipeline.validate.descriptor import certainly_valid, safe_path

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
        path = resource["parquet"].get("path") if isinstance(resource.get("parquet"), dict) else None
        if isinstance(path, str) and not safe_path(path):
            errors.append(make_error("resource-error", f'path "{path}" is not safe'))
    return errors


def resource_errors(resource: dict, resource_names: list) -> Iterator[dict]:
    """A resource's features this validator does not check (pipeline.validate.scope), each a located
    "unsupported-feature" error, and each foreign key to a resource the package does not have (frictionless's
    resource-error; frictionless then reports nothing else of the resource, this validator still does)."""
    for part, feature, spec, number in scope.problems(resource):
        yield make_error("unsupported-feature", scope.note(part, feature), fieldName=spec and spec.get("name"),
                         fieldNumber=number)
    twin = resource.get("parquet") if isinstance(resource.get("parquet"), dict) else {}
    hashing = next(feature for feature in scope.SCOPE if feature.key == "hash")
    for part in hashing.refuses(twin["hash"], twin) if "hash" in twin else []:
        yield make_error("unsupported-feature", scope.note(f"parquet.hash {part}", hashing))
    schema = resource.get("schema") if isinstance(resource.get("schema"), dict) else {}
    for key in _dicts(schema.get("foreignKeys")):
        reference = key.get("reference") if isinstance(key.get("reference"), dict) else {}
        target = reference.get("resource", "")
        if target and target != resource.get("name") and target not in resource_names:
            yield make_error("resource-error", f'failed to handle a foreign key for resource "{resource.get("name")}" '
                             f'as resource "{target}" does not exist')


def _check_file(path: Path | None, task: Task, described: dict, schema: dict, facts: Future | None):
    """One file of a resource: its bytes and hash, then its rows (pipeline.validate.columns); None when it is not read."""
    from pipeline.validate import columns

    if path is None or facts is None:
        return None
    try:
        size, digest = facts.result()
    except OSError as exc:  # e.g. a file nobody may read
        task.add([make_error("scheme-error", f'[Errno {exc.errno}] {exc.strerror}: "{task.place}"')])
        return None
    task.add(integrity_errors(described, size, digest))
    if task.format == "csv" and scope.stops_rows(described):
        return None  # its unsupported-feature errors say why
    return columns.check_file(path, task, schema)


def validate_folder(folder: Path, parquet: bool = True, max_errors: int = MAX_ERRORS) -> Report:
    """Validate the package in `folder`; `parquet=False` leaves the Parquet twins unread. At most `max_errors`
    errors are listed per file and for the package; the rest are counted."""
    from concurrent.futures import ThreadPoolExecutor

    descriptor = read_descriptor(folder)  # bounded in size and depth; PackageError: the package is unreadable
    report = Report(limit=max_errors)
    jobs = _jobs(folder, descriptor, parquet, report)
    by_format: dict[str, dict] = {"csv": {}, "parquet": {}}
    with ThreadPoolExecutor(max_workers=_threads()) as pool:
        # hashlib and Arrow work without holding Python's lock: the files are hashed first
        # (while Arrow is being imported), then checked side by side, the largest first;
        # then the checks across rows and files, each its own job.
        order = sorted(jobs, key=lambda job: -_size(job[1]))
        facts = {id(task): pool.submit(file_facts, path, hash_of(described)) if path is not None else None
                 for task, path, described, _ in order}
        described_errors = pool.submit(descriptor_errors, descriptor)
        from pipeline.validate import columns  # noqa: F401 - imported here, while the files are hashed

        checked = pool.map(lambda job: _check_file(job[1], job[0], job[2], job[3], facts[id(job[0])]), order)
        for (task, _, _, _), table in zip(order, checked):
            if table is not None:
                by_format[task.format][task.name] = table
        checks = _cross_checks(jobs, by_format)
        costly_first = sorted(range(len(checks)), key=lambda i: -len(checks[i][1].row_numbers))
        rooms = [checks[i][0].limit - len(checks[i][0].errors) for i in range(len(checks))]
        found = dict(zip(costly_first, pool.map(lambda i: first(checks[i][2](), rooms[i]), costly_first)))
        for i, (task, _, _) in enumerate(checks):
            task.add_counted(*found[i])
        report.add(described_errors.result())
    report.add(undeclared_files(folder, declared_paths(descriptor)))
    for listing in (report, *report.tasks):
        listing.finish()
    return report


def _jobs(folder: Path, descriptor: dict, parquet: bool, report: Report) -> list[tuple]:
    """(task, file or None, described, schema) per file to check; a task whose file is not read holds the reason."""
    # Resources, keys and paths of the wrong shape are the descriptor check's to report; the rows are checked
    # as far as the rest allows.
    jobs = []
    names = [resource.get("name") for resource in _dicts(descriptor.get("resources"))]
    for resource in _dicts(descriptor.get("resources")):
        if not isinstance(resource.get("schema"), dict):  # frictionless would fetch it, or guess one from the rows
            report.add([make_error("resource-error", f'resource "{resource.get("name")}" has no inline schema; its '
                                   "files are not read (describe its fields in datapackage.json: a schema by path or "
                                   "URL is not read)")])
            continue
        twins = [("csv", resource)]
        if parquet and isinstance(resource.get("parquet"), dict):
            twins.append(("parquet", resource["parquet"]))
        for fmt, described in twins:
            place = described.get("path")
            task = Task(name=str(resource.get("name", "")), place=place if isinstance(place, str) else "", format=fmt,
                        limit=report.limit)
            inline = fmt == "csv" and "data" in resource and place is None  # refused by resource_errors
            path, error = (None, None) if inline else resolve(folder, place)
            task.add([error] if error else [])
            task.add(resource_errors(resource, names) if fmt == "csv" else [])
            report.tasks.append(task)
            jobs.append((task, path, described, resource["schema"]))
    return jobs


def _cross_checks(jobs: list[tuple], by_format: dict[str, dict]) -> list[tuple]:
    """(task, table, check) for the checks across rows and files, in the order their errors are listed."""
    from pipeline.validate import columns

    checks = []
    for task, _, _, schema in jobs:
        table = by_format[task.format].get(task.name)
        if table is None:
            continue
        checks.append((task, table, lambda table=table: columns.unique_field_errors(table)))
        checks.append((task, table, lambda table=table, schema=schema:
                       columns.primary_key_errors(table, columns.primary_key_of(schema))))
        checks += [(task, table, lambda table=table, key=key: columns.unique_key_errors(table, key))
                   for key in _lists_of_names(schema.get("uniqueKeys"))]
        checks.append((task, table, lambda table=table, schema=schema, task=task:
                       columns.foreign_key_errors(table, schema, by_format[task.format])))
        if task.format == "parquet" and task.name in by_format["csv"]:
            checks.append((task, table, lambda table=table, task=task:
                           columns.twin_errors(by_format["csv"][task.name], table)))
    return checks


def _dicts(value) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _lists_of_names(value) -> list[list[str]]:
    return [item for item in value if isinstance(item, list) and item and all(isinstance(n, str) for n in item)] \
        if isinstance(value, list) else []


def _size(path: Path | None) -> int:
    try:
        return os.lstat(path).st_size if path is not None else 0
    except OSError:
        return 0


def _lstat_mode(path: Path) -> int:
    try:
        return os.lstat(path).st_mode
    except OSError:
        return 0


def _threads() -> int:
    try:
        import os

        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return 2
