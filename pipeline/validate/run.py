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

import os
import stat
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path, PurePosixPath

from pipeline.contract.problems import Problem
from pipeline.contract.schemas import PACKAGE_PROFILE as PROFILE
from pipeline.package import reader
from pipeline.package.reader import (
    PackageError,
    member_path,
    open_package,
    read_descriptor,
    unsafe_reason,
)
from pipeline.validate import scope
from pipeline.validate.errors import MAX_ERRORS, TEMPLATES, Report, Task, first, make_error

DATA = "data"  # the package's folder of tables: every file in it must be described
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
                kind = (
                    "a symbolic link"
                    if entry.is_symlink()
                    else "a file"
                    if entry.is_file(follow_symlinks=False)
                    else "a special file (device, FIFO or socket)"
                )
                yield make_error(
                    "undeclared-file",
                    f"{kind} no resource names (remove it, or describe it in datapackage.json)",
                    path=path,
                )
        stack += [
            f"{relative}/{entry.name}"
            for entry in reversed(entries)
            if entry.is_dir(follow_symlinks=False)
        ]


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
    """reader.file_facts, with a digest only by an algorithm the validator checks (scope.HASHES)."""
    return reader.file_facts(path, algorithm if algorithm in scope.HASHES else None)


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
            errors.append(
                make_error("hash-count", f'expected is "{expected}" and actual is "{digest}"')
            )
    if "bytes" in described and described["bytes"] != size:
        errors.append(
            make_error("byte-count", f'expected is "{described["bytes"]}" and actual is "{size}"')
        )
    return errors


def descriptor_errors(descriptor: dict) -> list[dict]:
    """The descriptor's errors: frictionless's, found by frictionless unless
    `certainly_valid` shows it would find none, and an unsafe path of any Parquet twin (by frictionless's rule,
    which it does not apply there since it does not know the `parquet` property)."""
    from pipeline.validate.descriptor import certainly_valid, safe_path

    errors = []
    if descriptor.get("$schema") != PROFILE:
        errors.append(
            make_error(
                "package-error",
                f'"$schema" must be "{PROFILE}" (Data Package v2), '
                f"found {descriptor.get('$schema')!r}",
            )
        )
    if not certainly_valid(descriptor):
        import frictionless

        try:
            found = [
                (error.type, error.note)
                for error in frictionless.Package.validate_descriptor(descriptor).errors
            ]
        except (
            Exception
        ) as exc:  # frictionless fails outright on some shapes, e.g. a field that is not an object
            found = [
                (
                    "package-error",
                    f"frictionless cannot read the descriptor ({type(exc).__name__}: {exc})",
                )
            ]
        for kind, note in found:
            errors.append(make_error(kind if kind in TEMPLATES else "package-error", note))
    for resource in _dicts(descriptor.get("resources")):
        path = (
            resource["parquet"].get("path") if isinstance(resource.get("parquet"), dict) else None
        )
        if isinstance(path, str) and not safe_path(path):
            errors.append(make_error("resource-error", f'path "{path}" is not safe'))
    return errors


def resource_errors(resource: dict, resource_names: list) -> Iterator[dict]:
    """A resource's features this validator does not check (pipeline.validate.scope), each a located
    "unsupported-feature" error, and each foreign key to a resource the package does not have (frictionless's
    resource-error; frictionless then reports nothing else of the resource, this validator still does)."""
    for part, feature, spec, number in scope.problems(resource):
        yield make_error(
            "unsupported-feature",
            scope.note(part, feature),
            fieldName=spec and spec.get("name"),
            fieldNumber=number,
        )
    twin = resource.get("parquet") if isinstance(resource.get("parquet"), dict) else {}
    hashing = next(feature for feature in scope.SCOPE if feature.key == "hash")
    for part in hashing.refuses(twin["hash"], twin) if "hash" in twin else []:
        yield make_error("unsupported-feature", scope.note(f"parquet.hash {part}", hashing))
    schema = resource.get("schema") if isinstance(resource.get("schema"), dict) else {}
    for key in _dicts(schema.get("foreignKeys")):
        reference = key.get("reference") if isinstance(key.get("reference"), dict) else {}
        target = reference.get("resource", "")
        if target and target != resource.get("name") and target not in resource_names:
            yield make_error(
                "resource-error",
                f'failed to handle a foreign key for resource "{resource.get("name")}" '
                f'as resource "{target}" does not exist',
            )


def _check_file(path: Path | None, task: Task, described: dict, schema: dict, facts: Future | None):
    """One file of a resource: its bytes and hash, then its rows (pipeline.validate.columns); None when it is not read."""
    from pipeline.validate import columns

    if path is None or facts is None:
        return None
    try:
        size, digest = facts.result()
    except OSError as exc:  # e.g. a file nobody may read
        task.add(
            [make_error("scheme-error", f'[Errno {exc.errno}] {exc.strerror}: "{task.place}"')]
        )
        return None
    task.add(integrity_errors(described, size, digest))
    if task.format == "csv" and scope.stops_rows(described):
        return None  # its unsupported-feature errors say why
    return columns.check_file(path, task, schema)


def validate_folder(folder: Path, parquet: bool = True, max_errors: int = MAX_ERRORS) -> Report:
    """Validate the package in `folder`; `parquet=False` leaves the Parquet twins unread. At most `max_errors`
    errors are listed per file and for the package; the rest are counted."""
    from concurrent.futures import ThreadPoolExecutor

    descriptor = read_descriptor(
        folder
    )  # bounded in size and depth; PackageError: the package is unreadable
    report = Report(limit=max_errors)
    jobs = _jobs(folder, descriptor, parquet, report)
    by_format: dict[str, dict] = {"csv": {}, "parquet": {}}
    with ThreadPoolExecutor(max_workers=_threads()) as pool:
        # hashlib and Arrow work without holding Python's lock: the files are hashed first
        # (while Arrow is being imported), then checked side by side, the largest first;
        # then the checks across rows and files, each its own job.
        order = sorted(jobs, key=lambda job: -_size(job[1]))
        facts = {
            id(task): pool.submit(file_facts, path, hash_of(described))
            if path is not None
            else None
            for task, path, described, _ in order
        }
        described_errors = pool.submit(descriptor_errors, descriptor)
        from pipeline.validate import columns  # noqa: F401 - imported here, while the files are hashed

        checked = pool.map(
            lambda job: _check_file(job[1], job[0], job[2], job[3], facts[id(job[0])]), order
        )
        for (task, _, _, _), table in zip(order, checked):
            if table is not None:
                by_format[task.format][task.name] = table
        checks = _cross_checks(jobs, by_format)
        costly_first = sorted(range(len(checks)), key=lambda i: -len(checks[i][1].row_numbers))
        rooms = [checks[i][0].limit - len(checks[i][0].errors) for i in range(len(checks))]
        found = dict(
            zip(costly_first, pool.map(lambda i: first(checks[i][2](), rooms[i]), costly_first))
        )
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
        if not isinstance(
            resource.get("schema"), dict
        ):  # frictionless would fetch it, or guess one from the rows
            report.add(
                [
                    make_error(
                        "resource-error",
                        f'resource "{resource.get("name")}" has no inline schema; its '
                        "files are not read (describe its fields in datapackage.json: a schema by path or "
                        "URL is not read)",
                    )
                ]
            )
            continue
        twins = [("csv", resource)]
        if parquet and isinstance(resource.get("parquet"), dict):
            twins.append(("parquet", resource["parquet"]))
        for fmt, described in twins:
            place = described.get("path")
            task = Task(
                name=str(resource.get("name", "")),
                place=place if isinstance(place, str) else "",
                format=fmt,
                limit=report.limit,
            )
            inline = (
                fmt == "csv" and "data" in resource and place is None
            )  # refused by resource_errors
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
        checks.append(
            (
                task,
                table,
                lambda table=table, schema=schema: columns.primary_key_errors(
                    table, columns.primary_key_of(schema)
                ),
            )
        )
        checks += [
            (task, table, lambda table=table, key=key: columns.unique_key_errors(table, key))
            for key in _lists_of_names(schema.get("uniqueKeys"))
        ]
        checks.append(
            (
                task,
                table,
                lambda table=table, schema=schema, task=task: columns.foreign_key_errors(
                    table, schema, by_format[task.format]
                ),
            )
        )
        if task.format == "parquet" and task.name in by_format["csv"]:
            checks.append(
                (
                    task,
                    table,
                    lambda table=table, task=task: columns.twin_errors(
                        by_format["csv"][task.name], table
                    ),
                )
            )
    return checks


def _dicts(value) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _lists_of_names(value) -> list[list[str]]:
    return (
        [
            item
            for item in value
            if isinstance(item, list) and item and all(isinstance(n, str) for n in item)
        ]
        if isinstance(value, list)
        else []
    )


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


def verify_package(folder: Path) -> list[Problem]:
    """Validate the written package (pipeline validate) before it goes live; problems mean it must not."""
    report = validate_folder(folder)
    problems = [
        Problem(str(folder / "datapackage.json"), None, f"{e['type']}: {e['message']}")
        for e in report.errors
    ]
    for task in report.tasks:
        for e in task.errors:
            problems.append(
                Problem(
                    str(folder / task.place),
                    e.get("rowNumber"),
                    f"{e['type']}: {e['message']}",
                    task.name,
                    e.get("fieldName") or ",".join(e.get("fieldNames", [])) or None,
                )
            )
    return problems
