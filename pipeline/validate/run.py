"""Validate a published data package, CSV and Parquet alike, faster than and beyond frictionless.

Checks everything `frictionless validate` checks on the CSV resources (header labels,
types, constraints, unique fields, primary and foreign keys, bytes, hash, the
descriptor against the Data Package v2 profile), reporting with frictionless's error
types, fields and row numbers (first data row = 2), and what it does not check:
`categories`, `uniqueKeys`, evidence rows pointing at an existing record, bytes and
hash of each Parquet twin, the Parquet logical types the schema implies, the same
checks on the Parquet rows, and CSV and Parquet twins holding the same rows.

This module opens the package, checks the descriptor and the files' bytes and hashes,
and runs pipeline.validate.columns (the rows, with Arrow) over every file, a resource at a time
(its tables then cut to the columns the foreign-key checks read: `_check_rows`), or, with the engine
"duckdb" or "spark", pipeline.validate.duckdb_engine or spark_engine (the same checks as
SQL, pipeline.validate.tablechecks, whose module note says which checks stay with Arrow).
Arrow is imported only once the files are being hashed, so the two overlap. A descriptor
feature outside what it checks (pipeline.validate.scope: a dialect, an encoding, a field
type...) is a located "unsupported-feature" error, never ignored in silence; a file is hashed
only by the algorithm its `hash` names (md5 when it names none, as the spec says).

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
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, NamedTuple

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
from pipeline.progress import Progress, or_silent
from pipeline.validate import scope
from pipeline.validate.errors import MAX_ERRORS, TEMPLATES, Report, Task, first, make_error

if TYPE_CHECKING:  # Arrow is imported only once the files are being hashed
    from pyspark.sql import SparkSession

    from pipeline.validate.columns import Table

DATA = "data"  # the package's folder of tables: every file in it must be described
# ---- opening a package ----


# what checks the rows: pipeline.validate.columns, duckdb_engine or spark_engine
ENGINES = ("arrow", "duckdb", "spark")


@dataclass(frozen=True)
class SparkOptions:
    """Where the spark engine runs: a session started at `master` (None: spark_engine's default,
    this machine's cores), or `session` (left running)."""

    master: str | None = None
    session: SparkSession | None = None


def validate_path(
    spec: Path,
    parquet: bool = True,
    max_errors: int = MAX_ERRORS,
    progress: Progress | None = None,
    engine: str = "arrow",
    memory_limit: str | None = None,
    spark: SparkOptions | None = None,
) -> Report:
    """Validate the package at `spec` (a folder, its datapackage.json, a release zip or git:REV);
    an unreadable package is a report with `unreadable` set. `engine` checks the rows; the duckdb
    engine holds them within `memory_limit` (DuckDB's words, e.g. "1GB"), the spark engine
    runs where `spark` says, `memory_limit` its driver's heap."""
    try:
        with open_package(spec) as folder:
            return validate_folder(
                folder, parquet, max_errors, progress, engine, memory_limit, spark
            )
    except (OSError, ValueError, PackageError) as exc:
        return Report(errors=[make_error("package-error", str(exc))], unreadable=True)


def resolve(folder: Path, place: object) -> tuple[Path | None, dict | None]:
    """The file a resource names, or None and the error saying why it is not read (it is never
    opened).

    frictionless's words where it has the case: an unsafe path is a resource-error, a missing file
    a scheme-error."""
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
    """An error for each file under data/ (links and special files included, never followed) that
    no resource names; folders are walked with a stack of their own, however deep they go."""
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
                yield make_error(
                    "undeclared-file",
                    f"{_kind(entry)} no resource names (remove it, or describe it in "
                    "datapackage.json)",
                    path=path,
                )
        stack += [
            f"{relative}/{entry.name}"
            for entry in reversed(entries)
            if entry.is_dir(follow_symlinks=False)
        ]


def _kind(entry: os.DirEntry) -> str:
    """What a folder entry is, in the words of an undeclared-file error; links are not followed."""
    if entry.is_symlink():
        return "a symbolic link"
    if entry.is_file(follow_symlinks=False):
        return "a file"
    return "a special file (device, FIFO or socket)"


def declared_paths(descriptor: dict) -> set[str]:
    """The paths the resources and their Parquet twins name, written the one way a folder walk
    finds them."""
    found = set()
    for resource in _dicts(descriptor.get("resources")):
        for described in [resource, *reader.twin_files(resource)]:
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
    """Hash and byte count against the file's `size` and its `digest` by the algorithm the hash
    names (md5 without a prefix); an algorithm outside scope.HASHES is an unsupported-feature error
    of `resource_errors`."""
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
    """The descriptor's errors: a profile other than Data Package v2; frictionless's own, found by
    frictionless unless `certainly_valid` shows it would find none; and an unsafe path of any
    Parquet twin (by frictionless's rule, which it does not apply there since it does not know the
    `parquet` property)."""
    from pipeline.validate.descriptor import certainly_valid

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
        errors += _frictionless_errors(descriptor)
    return errors + _parquet_path_errors(descriptor) + _parts_errors(descriptor)


def _frictionless_errors(descriptor: dict) -> list[dict]:
    """frictionless's errors of the descriptor, each of a type this vocabulary has (else a
    package-error)."""
    import frictionless

    try:
        found = [
            (error.type, error.note)
            for error in frictionless.Package.validate_descriptor(descriptor).errors
        ]
    except Exception as exc:
        # frictionless fails outright on some shapes, e.g. a field that is not an object
        found = [
            (
                "package-error",
                f"frictionless cannot read the descriptor ({type(exc).__name__}: {exc})",
            )
        ]
    return [
        make_error(kind if kind in TEMPLATES else "package-error", note) for kind, note in found
    ]


def _parquet_path_errors(descriptor: dict) -> list[dict]:
    """A resource-error for each Parquet twin whose path frictionless would call unsafe."""
    from pipeline.validate.descriptor import safe_path

    errors = []
    for resource in _dicts(descriptor.get("resources")):
        for twin in reader.twin_files(resource):
            path = twin.get("path")
            if isinstance(path, str) and not safe_path(path):
                errors.append(make_error("resource-error", f'path "{path}" is not safe'))
    return errors


def _parts_errors(descriptor: dict) -> list[dict]:
    """A resource-error for each partitioned twin whose `partitionBy` is not a field of its
    resource, or whose part is not named part-<value>.parquet."""
    errors = []
    for resource in _dicts(descriptor.get("resources")):
        twin = _dict(resource.get("parquet"))
        if "parts" not in twin:
            continue
        name, column = resource.get("name"), twin.get("partitionBy")
        fields = [f.get("name") for f in _dicts(_dict(resource.get("schema")).get("fields"))]
        if not isinstance(twin["parts"], list) or column not in fields:
            errors.append(
                make_error(
                    "resource-error",
                    f'resource "{name}": parquet.parts must be a list and parquet.partitionBy '
                    f"one of its fields, found {column!r}",
                )
            )
        errors += [
            make_error(
                "resource-error",
                f'resource "{name}": part path "{part.get("path")}" does not name its value '
                "(write part-<value>.parquet)",
            )
            for part in reader.twin_files(resource)
            if reader.part_value(part.get("path")) is None
        ]
    return errors


def resource_errors(resource: dict, resource_names: list) -> Iterator[dict]:
    """A resource's features this validator does not check (pipeline.validate.scope), each a
    located "unsupported-feature" error, and each foreign key to a resource the package does not
    have (frictionless's resource-error; frictionless then reports nothing else of the resource,
    this validator still does)."""
    yield from _unsupported_errors(resource)
    yield from _missing_resource_errors(resource, resource_names)


def _unsupported_errors(resource: dict) -> Iterator[dict]:
    """An unsupported-feature error for each refused feature of the resource and its fields, then
    for a refused hash algorithm of its Parquet twin."""
    for part, feature, spec, number in scope.problems(resource):
        yield make_error(
            "unsupported-feature",
            scope.note(part, feature),
            fieldName=spec and spec.get("name"),
            fieldNumber=number,
        )
    hashing = next(feature for feature in scope.SCOPE if feature.key == "hash")
    for twin in reader.twin_files(resource):
        for part in hashing.refuses(twin["hash"], twin) if "hash" in twin else []:
            yield make_error("unsupported-feature", scope.note(f"parquet.hash {part}", hashing))


def _missing_resource_errors(resource: dict, resource_names: list) -> Iterator[dict]:
    """A resource-error for each foreign key to a resource the package does not have, in
    frictionless's words."""
    for key in _dicts(_dict(resource.get("schema")).get("foreignKeys")):
        target = _dict(key.get("reference")).get("resource", "")
        if target and target != resource.get("name") and target not in resource_names:
            yield make_error(
                "resource-error",
                f'failed to handle a foreign key for resource "{resource.get("name")}" '
                f'as resource "{target}" does not exist',
            )


class Job(NamedTuple):
    """One file to check: the task its errors go to, its path (None when it is not read), what the
    descriptor says of it (the resource, or its `parquet` property) and the resource's schema."""

    task: Task
    path: Path | None
    described: dict
    schema: dict
    part: tuple[str, str] | None = None  # a part file of a partitioned twin: (column, value)


class CrossCheck(NamedTuple):
    """A check across the rows of a file, or across files: the task its errors go to, the table
    whose rows it reads (its size tells the cost) and the check, giving its errors in order;
    `foreign` when it looks up the keys of other tables (a foreign-key check)."""

    task: Task
    table: Table
    run: Callable[[], Iterator[dict]]
    foreign: bool = False


def validate_folder(
    folder: Path,
    parquet: bool = True,
    max_errors: int = MAX_ERRORS,
    progress: Progress | None = None,
    engine: str = "arrow",
    memory_limit: str | None = None,
    spark: SparkOptions | None = None,
) -> Report:
    """Validate the package in `folder`; `parquet=False` leaves the Parquet twins unread. At most
    `max_errors` errors are listed per file and for the package; the rest are counted. `progress`
    hears how many files are checked, then the checks across rows and files. `engine` "duckdb"
    checks the rows in DuckDB (pipeline.validate.duckdb_engine), out of core within
    `memory_limit`; "spark" in Spark (pipeline.validate.spark_engine), as `spark` says, the
    driver's heap `memory_limit`."""
    progress = or_silent(progress)
    # bounded in size and depth; PackageError: the package is unreadable
    descriptor = read_descriptor(folder)
    report = Report(limit=max_errors)
    jobs = _jobs(folder, descriptor, parquet, report)
    with ThreadPoolExecutor(max_workers=_threads()) as pool:
        # hashlib and Arrow work without holding Python's lock: the files are hashed first
        # (while Arrow is being imported), then checked side by side, the largest first;
        # then the checks across rows and files, each its own job.
        order = sorted(jobs, key=lambda job: -_size(job.path))
        facts = {
            id(job.task): pool.submit(file_facts, job.path, hash_of(job.described))
            if job.path is not None
            else None
            for job in order
        }
        described_errors = pool.submit(descriptor_errors, descriptor)
        if engine == "duckdb":
            from pipeline.validate import duckdb_engine

            readable = partial(_readable_job, facts=facts)
            whole = [job for job in order if job.part is None]
            duckdb_engine.check_rows(whole, readable, memory_limit, progress)
            _check_parts(pool, jobs, facts)  # the part files go the Arrow way
            report.add(described_errors.result())
            return _finished(report, folder, descriptor)
        if engine == "spark":
            from pipeline.validate import spark_engine

            readable = partial(_readable_job, facts=facts)
            where = spark or SparkOptions()
            whole = [job for job in order if job.part is None]
            spark_engine.check_rows(
                whole, readable, progress, where.master, where.session, memory_limit
            )
            _check_parts(pool, jobs, facts)  # the part files go the Arrow way
            report.add(described_errors.result())
            return _finished(report, folder, descriptor)
        # Arrow is imported now, while the files are hashed
        from pipeline.validate import columns  # noqa: F401

        _check_rows(pool, jobs, facts, progress)
        report.add(described_errors.result())
    return _finished(report, folder, descriptor)


def _finished(report: Report, folder: Path, descriptor: dict) -> Report:
    """The report with the undeclared files, each listing in row order and within its limit."""
    report.add(undeclared_files(folder, declared_paths(descriptor)))
    for listing in (report, *report.tasks):
        listing.finish()
    return report


def _check_file(job: Job, facts: Future | None) -> Table | None:
    """One file of a resource: its bytes and hash, then its rows (pipeline.validate.columns); None
    when it is not read."""
    from pipeline.validate import columns

    path = _readable(job, facts)
    return None if path is None else columns.check_file(path, job.task, job.schema)


def _readable_job(job: Job, facts: dict[int, Future | None]) -> bool:
    return _readable(job, facts[id(job.task)]) is not None


def _readable(job: Job, facts: Future | None) -> Path | None:
    """The file, if its rows are to be read: its bytes and hash checked (errors to its task), a
    file that can be read, and no feature that stops its rows."""
    task = job.task
    if job.path is None or facts is None:
        return None
    try:
        size, digest = facts.result()
    except OSError as exc:  # e.g. a file nobody may read
        task.add(
            [make_error("scheme-error", f'[Errno {exc.errno}] {exc.strerror}: "{task.place}"')]
        )
        return None
    task.add(integrity_errors(job.described, size, digest))
    if task.format == "csv" and scope.stops_rows(job.described):
        return None  # its unsupported-feature errors say why
    return job.path


def _run_cross_checks(pool: ThreadPoolExecutor, checks: list[CrossCheck]) -> None:
    """Run the checks side by side, the costliest first, each listing no more errors than its task
    has room for; their errors go to their tasks in the order of `checks`."""
    for check, found in zip(checks, _found(pool, checks), strict=True):
        check.task.add_counted(*found)


def _found(pool: ThreadPoolExecutor, checks: list[CrossCheck]) -> list[tuple[list[dict], int]]:
    """The errors each check lists (no more than its task has room for) and counts beyond them, in
    the order of `checks`; run side by side, the costliest first."""
    costly_first = sorted(range(len(checks)), key=lambda i: -len(checks[i].table.row_numbers))
    rooms = [check.task.limit - len(check.task.errors) for check in checks]
    found = dict(
        zip(
            costly_first,
            pool.map(lambda i: first(checks[i].run(), rooms[i]), costly_first),
            strict=True,
        )
    )
    return [found[i] for i in range(len(checks))]


def _check_rows(
    pool: ThreadPoolExecutor, jobs: list[Job], facts: dict[int, Future | None], progress: Progress
) -> None:
    """Read every file's rows and run the checks across rows and files, a resource at a time, the
    largest first: its files are read and checked within themselves and against each other, then
    cut to the columns the foreign-key checks read (`_key_columns`), which run last, on them. The
    errors go to each task in the order `_cross_checks` and `_part_checks` list its checks.

    Holding every file's whole table until the end, `pipeline validate` of the 10k benchmark's
    package (840,000 changes rows) peaked at 1,483 MB; a resource at a time, at 777 MB.
    """
    keep = _key_columns(jobs)
    by_format: dict[str, dict[str, Table]] = {"csv": {}, "parquet": {}}
    found: dict[int, list[tuple[int, tuple[list[dict], int]]]] = {}  # task -> (place, errors)
    foreign_place: dict[int, int] = {}  # task -> the place of its foreign-key check in its list
    read = FilesRead(progress, len(jobs))
    for group in _by_resource(jobs):
        _check_resource(pool, group, facts, by_format, found, foreign_place, read)
        name = group[0].task.name
        for tables in by_format.values():  # this resource's whole tables are not read again
            if name in tables:
                tables[name] = _cut(tables[name], keep.get(name, set()))
    progress("validating keys across files")
    foreign = [check for check in _cross_checks(jobs, by_format) if check.foreign]
    for check, result in zip(foreign, _found(pool, foreign), strict=True):
        found.setdefault(id(check.task), []).append((foreign_place[id(check.task)], result))
    for job in jobs:
        for _, (errors, more) in sorted(found.get(id(job.task), []), key=lambda pair: pair[0]):
            job.task.add_counted(errors, more)


class FilesRead:
    """The files read so far, told to `progress`."""

    def __init__(self, progress: Progress, total: int):
        self.progress, self.done, self.total = progress, 0, total
        progress("validating files", 0, total)

    def one_more(self) -> None:
        self.done += 1
        self.progress("validating files", self.done, self.total)


def _check_resource(
    pool: ThreadPoolExecutor,
    group: list[Job],
    facts: dict[int, Future | None],
    by_format: dict[str, dict[str, Table]],
    found: dict[int, list[tuple[int, tuple[list[dict], int]]]],
    foreign_place: dict[int, int],
    read: FilesRead,
) -> None:
    """Read the files of one resource into `by_format` and run their checks but the foreign-key
    ones, whose place in each task's list goes to `foreign_place`; the errors go to `found`."""
    parts: dict[int, Table] = {}
    checked = pool.map(lambda job: _check_file(job, facts[id(job.task)]), group)
    for job, table in zip(group, checked, strict=True):
        read.one_more()
        if table is not None and job.part is not None:
            parts[id(job.task)] = table
        elif table is not None:
            by_format[job.task.format][job.task.name] = table
    listed = _cross_checks(group, by_format) + _part_checks(group, by_format, parts)
    placed = list(zip(listed, _places(listed), strict=True))
    foreign_place.update((id(check.task), place) for check, place in placed if check.foreign)
    own = [(check, place) for check, place in placed if not check.foreign]
    results = _found(pool, [check for check, _ in own])
    for (check, place), result in zip(own, results, strict=True):
        found.setdefault(id(check.task), []).append((place, result))


def _places(checks: list[CrossCheck]) -> list[int]:
    """The place of each check in the list of its task's checks."""
    seen: dict[int, int] = {}
    places = []
    for check in checks:
        places.append(seen.get(id(check.task), 0))
        seen[id(check.task)] = places[-1] + 1
    return places


def _by_resource(jobs: list[Job]) -> list[list[Job]]:
    """The jobs of each resource (its CSV file, Parquet twin or parts), the largest resource
    first, each the largest file first."""
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.task.name, []).append(job)
    ordered = [sorted(group, key=lambda job: -_size(job.path)) for group in groups.values()]
    return sorted(ordered, key=lambda group: -sum(_size(job.path) for job in group))


def _key_columns(jobs: list[Job]) -> dict[str, set[str]]:
    """The columns of each resource a foreign-key check reads: its own keys' fields, the fields
    other resources' keys name in it, its record columns (columns.POLYMORPHIC_KEYS), and its
    primary key when it is one field (a record's id). A column left out would hide errors."""
    from pipeline.validate import columns

    keep: dict[str, set[str]] = {}
    for job in jobs:
        name = job.task.name
        primary = columns.primary_key_of(job.schema)
        keep.setdefault(name, set()).update(primary if len(primary) == 1 else [])
        for key in _dicts(job.schema.get("foreignKeys")):
            reference = _dict(key.get("reference"))
            target = reference.get("resource") or name
            keep[name].update(_field_names(key.get("fields")))
            if isinstance(target, str):
                keep.setdefault(target, set()).update(_field_names(reference.get("fields")))
    for resource, kind_column, id_column in columns.POLYMORPHIC_KEYS:
        keep.setdefault(resource, set()).update((kind_column, id_column))
    return keep


def _field_names(value: object) -> list[str]:
    """The field names a foreign key's `fields` gives: one name, or a list of them."""
    names = [value] if isinstance(value, str) else value
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def _cut(table: Table, keep: set[str]) -> Table:
    """`table` with only the typed columns in `keep`: what the foreign-key checks read of it (their
    messages quote typed values, never the cells' text)."""
    return replace(
        table,
        columns={name: column for name, column in table.columns.items() if name in keep},
        text={},
    )


def _jobs(folder: Path, descriptor: dict, parquet: bool, report: Report) -> list[Job]:
    """A job per file to check; a task whose file is not read holds the reason."""
    # Resources, keys and paths of the wrong shape are the descriptor check's to report; the rows
    # are checked as far as the rest allows.
    jobs = []
    resources = _dicts(descriptor.get("resources"))
    names = [resource.get("name") for resource in resources]
    for resource in resources:
        if not isinstance(resource.get("schema"), dict):
            # frictionless would fetch it, or guess one from the rows
            report.add([_no_inline_schema(resource)])
            continue
        twins = [("csv", resource)]
        if parquet:
            twins += [("parquet", twin) for twin in reader.twin_files(resource)]
        for fmt, described in twins:
            job = _job(folder, resource, fmt, described, names, report.limit)
            report.tasks.append(job.task)
            jobs.append(job)
    return jobs


def _part_of(resource: dict, described: dict) -> tuple[str, str] | None:
    """(column, value) of a part file of the resource's partitioned twin, None for a whole file."""
    twin = _dict(resource.get("parquet"))
    if described is resource or "parts" not in twin:
        return None
    column = twin.get("partitionBy")  # a wrong one is the descriptor check's (_parts_errors)
    value = reader.part_value(described.get("path"))
    return (column if isinstance(column, str) else "", value or "")


def _no_inline_schema(resource: dict) -> dict:
    return make_error(
        "resource-error",
        f'resource "{resource.get("name")}" has no inline schema; its '
        "files are not read (describe its fields in datapackage.json: a schema by path or "
        "URL is not read)",
    )


def _job(
    folder: Path, resource: dict, fmt: str, described: dict, resource_names: list, limit: int
) -> Job:
    """The job of one file of `resource` (the CSV, or the Parquet twin `described`), its task
    holding the errors found before the file is read."""
    place = described.get("path")
    task = Task(
        name=str(resource.get("name", "")),
        place=place if isinstance(place, str) else "",
        format=fmt,
        limit=limit,
    )
    inline = fmt == "csv" and "data" in resource and place is None  # refused by resource_errors
    path, error = (None, None) if inline else resolve(folder, place)
    task.add([error] if error else [])
    task.add(resource_errors(resource, resource_names) if fmt == "csv" else [])
    return Job(task, path, described, resource["schema"], _part_of(resource, described))


def _cross_checks(jobs: list[Job], by_format: dict[str, dict[str, Table]]) -> list[CrossCheck]:
    """The checks across rows and files, in the order their errors are listed."""
    from pipeline.validate import columns

    checks = []
    for job in jobs:
        task, schema = job.task, job.schema
        tables = by_format[task.format]
        table = tables.get(task.name)
        if table is None:
            continue
        checks.append(CrossCheck(task, table, partial(columns.unique_field_errors, table)))
        primary_key = columns.primary_key_of(schema)
        checks.append(
            CrossCheck(task, table, partial(columns.primary_key_errors, table, primary_key))
        )
        checks += [
            CrossCheck(task, table, partial(columns.unique_key_errors, table, key))
            for key in _lists_of_names(schema.get("uniqueKeys"))
        ]
        fk = partial(columns.foreign_key_errors, table, schema, tables)
        checks.append(CrossCheck(task, table, fk, foreign=True))
        if task.format == "parquet" and task.name in by_format["csv"]:
            twin = by_format["csv"][task.name]
            checks.append(CrossCheck(task, table, partial(columns.twin_errors, twin, table)))
    return checks


def _part_checks(
    jobs: list[Job], by_format: dict[str, dict[str, Table]], parts: dict[int, Table]
) -> list[CrossCheck]:
    """The checks of the part files of partitioned twins: keys within each part, its rows against
    the CSV's rows of its value, and each value of the CSV held by a part. (Foreign keys across
    parts follow from the CSV's, which are checked, once each part equals its rows.)"""
    from pipeline.validate import columns

    checks: list[CrossCheck] = []
    values: dict[str, tuple[str, set[str]]] = {}  # resource -> (column, values of its parts)
    for job in jobs:
        if job.part is not None:  # a declared part that cannot be read has its own error
            values.setdefault(job.task.name, (job.part[0], set()))[1].add(job.part[1])
        table = parts.get(id(job.task))
        if job.part is None or table is None:
            continue
        column, value = job.part
        checks.append(CrossCheck(job.task, table, partial(columns.unique_field_errors, table)))
        key = columns.primary_key_of(job.schema)
        checks.append(CrossCheck(job.task, table, partial(columns.primary_key_errors, table, key)))
        csv_table = by_format["csv"].get(job.task.name)
        if csv_table is not None:
            twin = partial(columns.part_twin_errors, csv_table, table, column, value)
            checks.append(CrossCheck(job.task, table, twin))
    for job in jobs:
        csv_table = by_format["csv"].get(job.task.name)
        if job.task.format == "csv" and csv_table is not None and job.task.name in values:
            column, held = values[job.task.name]
            missing = partial(columns.missing_part_errors, csv_table, column, held)
            checks.append(CrossCheck(job.task, csv_table, missing))
    return checks


def _check_parts(pool: ThreadPoolExecutor, jobs: list[Job], facts: dict) -> None:
    """The part files and their checks, with Arrow (for the DuckDB engine, which checks the rest):
    the CSV of each partitioned resource is read again here, its errors already reported."""
    from pipeline.validate import columns

    part_jobs = [job for job in jobs if job.part is not None]
    names = {job.task.name for job in part_jobs}
    by_format: dict[str, dict[str, Table]] = {"csv": {}, "parquet": {}}
    for job in jobs:
        if job.task.format == "csv" and job.task.name in names and job.path is not None:
            scratch = Task(name=job.task.name, place=job.task.place, format="csv")
            table = columns.check_file(job.path, scratch, job.schema)
            if table is not None:
                by_format["csv"][job.task.name] = table
    checked = pool.map(lambda job: _check_file(job, facts[id(job.task)]), part_jobs)
    parts = {
        id(job.task): table
        for job, table in zip(part_jobs, checked, strict=True)
        if table is not None
    }
    _run_cross_checks(pool, _part_checks(jobs, by_format, parts))


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


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
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no sched_getaffinity outside Linux
        return 2


def verify_package(folder: Path, progress: Progress | None = None) -> list[Problem]:
    """Validate the written package (pipeline validate) before it goes live; problems mean it must
    not."""
    report = validate_folder(folder, progress=progress)
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
