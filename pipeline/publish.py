"""Publish the package: check seeds, build, version, validate, swap in atomically.

Nothing is written unless the seeds pass every check; a build identical to the
published package leaves every byte of it alone, version and date included. The
version bump is derived from the diff with the published package; `bump` may raise
it, never lower it. A dry run builds in the system's temporary folder and reports.

The CSV files do not depend on the version, so they are written first. When they are
the published ones, the rest is written as published and compared byte for byte; an
unchanged build stops there. Otherwise the diff with the published package, computed
once, gives both the bump and the changelog entry, and the Parquet twins, descriptor,
changelog and datasheet are written once, with the new version (twice only when the
tables are as published but other bytes differ, or --bump asks for a new version of
an unchanged package).

With the per-file cache in use (pipeline.build.cache) and no --bump, publish first compares the
seeds and the target with what they were after the last publish into the same target: when every
byte of both is as then, it says the package is unchanged without building it.

Publish replaces the whole target folder, so it writes only into a folder it
recognises as its own (check_target): absent, empty, or holding nothing but what
publish writes (datapackage.json, README.md, CHANGELOG.md, load.R, croissant.json,
CITATION.cff, .zenodo.json, data/<table>.csv and .parquet (or data/<table>/part-<value>.parquet
with --partition-by), releases/<version>.json, all
regular files) with a descriptor of this project's shape. Anything else is refused before a
byte is written.

Every data change needs the annotator's reason (seeds/changes.yaml); the reasons, the row diff
and the published changes table make the new changes table and the record of the release
(pipeline/package/lineage.py).
"""

from __future__ import annotations

import datetime as dt
import filecmp
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pipeline.build.cache import PublishMemo, open_cache
from pipeline.build.cluster import LOCAL
from pipeline.build.collector import existing_objects_frozen
from pipeline.check.run import check_seeds, to_stderr
from pipeline.contract import schemas
from pipeline.contract.problems import InputError, Problem
from pipeline.load.reasons import Reasons, load_reasons
from pipeline.package import atomic, lineage, reader, versions, writer
from pipeline.package.atomic import Refused
from pipeline.package.citation import CITATION_FILE, ZENODO_FILE
from pipeline.package.croissant import CROISSANT_FILE
from pipeline.package.diff import PackageDiff
from pipeline.package.lineage import CHANGES
from pipeline.package.reader import CHANGELOG, DATASHEET, DESCRIPTOR, PackageError
from pipeline.progress import Progress, or_silent
from pipeline.validate.run import verify_package

DATA_FILE = re.compile(r"[a-z0-9_]+\.(csv|parquet)")
CHANGELOG_HEADER = "# Changelog\n\nEvery published version of the package, newest first.\n"
DATA = "data"
# With the folders: all publish writes at the top (the catalogue files derive from the descriptor).
TOP_FILES = {
    DESCRIPTOR,
    DATASHEET,
    CHANGELOG,
    writer.R_LOADER,
    CROISSANT_FILE,
    CITATION_FILE,
    ZENODO_FILE,
}
FOLDERS = {DATA: DATA_FILE, lineage.RELEASES: lineage.RELEASE_FILE}  # and the files they hold
NOT_OURS = (
    "publish replaces the whole folder: pass --out a new or empty folder, or a package folder "
    "publish wrote"
)


@dataclass
class Published:
    version: str
    changed: bool
    level: str | None  # major / minor / patch, None for the first publication or no change
    report: str | None = None  # what a dry run would change
    changes: PackageDiff | None = None  # the diff from the published package, when it was needed
    notes: list[str] = field(default_factory=list)  # reasons in seeds/changes.yaml left unused
    reasons: str = ""  # the reasons recorded, one line per changed row (shown by a dry run)
    warnings: list[str] = field(
        default_factory=list
    )  # what could not be cleaned up (the result stands)


def created_timestamp() -> str:
    """SOURCE_DATE_EPOCH when set (reproducible builds), else the current time, in UTC."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch else dt.datetime.now(dt.UTC)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def differing_files(a: Path, b: Path) -> list[str]:
    """Paths, relative and sorted, of the files that are in only one of the folders or differ in
    bytes."""
    files_a = {p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file()}
    return sorted(
        (files_a ^ files_b)
        | {rel for rel in files_a & files_b if not filecmp.cmp(a / rel, b / rel, shallow=False)}
    )


def same_tree(a: Path, b: Path) -> bool:
    return not differing_files(a, b)


def write_datasheet(out: Path, method: dict[str, str] | None = None) -> None:
    """README.md of the package and its catalogue files (croissant.json, CITATION.cff,
    .zenodo.json), rendered from its own files and the method (so an unchanged build gives the
    same bytes)."""
    import hashlib

    from pipeline.package.citation import recommended_citation, render_citation_cff, render_zenodo
    from pipeline.package.croissant import render_croissant
    from pipeline.package.datasheet import render_datasheet
    from pipeline.package.reader import read_descriptor

    descriptor = read_descriptor(out)
    digest = hashlib.sha256((out / DESCRIPTOR).read_bytes()).hexdigest()
    citation = recommended_citation(descriptor, digest)
    (out / CROISSANT_FILE).write_text(render_croissant(descriptor, method, citation), "utf-8")
    (out / CITATION_FILE).write_text(render_citation_cff(descriptor, digest), "utf-8")
    (out / ZENODO_FILE).write_text(render_zenodo(descriptor, digest), "utf-8")
    (out / DATASHEET).write_text(render_datasheet(out, method), encoding="utf-8")


@dataclass(frozen=True)
class Choices:
    """How a package is built, as publish's options say.

    `bump` (major, minor, patch) raises the derived bump and gives a new version even when
    nothing changed; lower than the changes require, it raises BumpError. `progress` hears the
    check's steps, then each file written. `history_from` names the earlier packages of a package
    published before its lineage was kept (lineage.seed_history). The checks use the per-file
    cache unless `use_cache` is off; `note` hears about it. The per-file checks run where
    `scheduler` says (pipeline.build.cluster). `partition_by` (writer.PARTITIONS) writes the twins
    of the tables it names as part files.
    """

    bump: str | None = None
    progress: Progress | None = None
    history_from: tuple[str, ...] = ()
    use_cache: bool = True
    note: Callable[[str], None] | None = None
    scheduler: str = LOCAL
    partition_by: str | None = None


def build_package(
    seeds: Path, out: Path, previous: Path | None, choices: Choices = Choices()
) -> Published:
    """Build the package from `seeds` into the absent folder `out`, versioned against `previous`,
    as `choices` say. Every data change needs its reason in seeds/changes.yaml (InputError
    otherwise). The per-file cache is never used inside `out` or `previous`.
    """
    from pipeline.package.datasheet import read_method

    progress = or_silent(choices.progress)
    avoid = [out] if previous is None else [out, previous]
    note = choices.note or to_stderr
    checked = check_seeds(seeds, progress, choices.use_cache, note, avoid, choices.scheduler)
    if checked.problems:  # seeds/changes.yaml's among them
        raise InputError(checked.problems)
    reasons = load_reasons(seeds)
    method = read_method(seeds)  # seeds/METHOD.md; None when absent (the datasheet says so)
    rows = checked.tables.rows
    del checked  # the loaded annotations and row origins are not needed to write: free them first
    given = BuildInputs(reasons, choices.history_from, method, choices.partition_by)
    with existing_objects_frozen():
        return _write_versioned(rows, out, previous, choices.bump, given, progress)


@dataclass
class BuildInputs:
    """What the package is built from besides the rows: the reasons of its changes, the earlier
    packages of a package published before its lineage was kept, and the method file."""

    reasons: Reasons
    history_from: tuple[str, ...] = ()
    method: dict[str, str] | None = None
    partition_by: str | None = None  # writer.PARTITIONS: the twins split into part files


def _write_versioned(
    rows: dict[str, list[dict]],
    out: Path,
    previous: Path | None,
    bump: str | None,
    given: BuildInputs,
    progress: Progress,
) -> Published:
    old = versions.read_published(previous) if previous is not None else None
    history = _history(previous) if previous and old else ""  # before the copy the datasheet reads
    progress("writing CSV")
    ordered = writer.ordered_rows(rows)
    writer.write_tables(out, ordered)  # the CSV files: the same bytes whatever the version
    if previous is None or old is None:
        if given.history_from:
            raise Refused("--history-from: there is no published package to bring the history of")
        version = versions.first_version(bump)
        created = created_timestamp()
        day = lineage.release_day(created)
        ordered[CHANGES] = lineage.first_rows(ordered, version, day, lineage.FIRST_REASON)
        entry = versions.changelog_entry(None, version, None, created)
        _complete(out, ordered, version, created, _with_entry(history, entry), given, progress)
        return Published(version, changed=True, level=None)
    past = _past(previous, given.history_from)
    _put_records(out, past.records)
    ordered[CHANGES] = past.rows
    writer.write_tables(out, ordered, [CHANGES])  # as published, until the version is known
    rewritten = _differing_tables(previous, out)
    if rewritten:
        # The diff reads the new CSV files and a descriptor without the Parquet twins, which it
        # compares without their bytes and hash: the twins are written once, with the new version.
        progress("comparing with the published package")
        changes = versions.diff_published(
            previous, out, after=_descriptor(out, old, ordered, given.partition_by)
        )
    else:
        # The tables are as published: the whole package may be, byte for byte.
        if (previous / CHANGELOG).is_file():
            shutil.copyfile(previous / CHANGELOG, out / CHANGELOG)
        _complete(out, ordered, old["version"], old["created"], None, given, progress, False)
        progress("comparing with the published package")
        rewritten = differing_files(previous, out)
        if not rewritten and bump is None:
            notes = lineage.unused_notes(given.reasons, [], past.rows, old["version"])
            return Published(old["version"], changed=False, level=None, notes=notes)
        changes = versions.diff_published(previous, out)
    # Bytes that differ with the same content (a new Parquet writer, say) still need a new version.
    required = (changes.bump or "patch") if rewritten else None
    level = versions.chosen_bump(required, bump)
    assert level is not None  # files differ (a required bump) or a bump was asked for
    version = versions.bump(old["version"], level)
    created = created_timestamp()
    day = lineage.release_day(created)
    owners = _evidence_owners(changes, previous, ordered)
    found = lineage.match_reasons(changes, given.reasons, past.rows, version, day, owners)
    if found.problems:
        raise InputError(found.problems)
    ordered[CHANGES] = lineage.merged_changes(past.rows, found.rows)
    entry = versions.changelog_entry(
        changes, version, level, created, required, rewritten, found.rows, given.reasons.columns
    )
    _complete(out, ordered, version, created, _with_entry(history, entry), given, progress)
    changes.new_version = version  # it was taken before the new version was written
    return Published(
        version,
        changed=True,
        level=level,
        changes=changes,
        notes=found.notes,
        reasons=lineage.reasons_report(found),
    )


def _past(previous: Path, history_from: tuple[str, ...]) -> lineage.History:
    """The changes rows and release records of the published package: its own, or, for a package
    published before its lineage was kept, seeded from it and the `history_from` packages."""
    try:
        descriptor = reader.read_descriptor_with_resources(previous)
        rows = lineage.read_changes(previous, descriptor)
        if rows is None:
            return lineage.seed_history(list(history_from), previous, descriptor)
        if history_from:
            raise Refused(
                f"--history-from: {previous} already records its history "
                f"(its {CHANGES} table); leave --history-from out"
            )
        records = {}
        for name in lineage.release_names(previous):
            with reader.open_member(previous, f"{lineage.RELEASES}/{name}") as handle:
                records[name[: -len(".json")]] = handle.read()
        return lineage.History(rows, records)
    except PackageError as exc:
        raise Refused(f"{exc} ({versions.RESTORE})") from None


def _evidence_owners(
    changes: PackageDiff, previous: Path, ordered: dict[str, list[dict]]
) -> dict[str, tuple[str, str]]:
    """(record table, record id) of each evidence row, published or new, when evidence rows
    changed: their reason may be their record's."""
    if not any(table.table == "evidence" for table in changes.tables):
        return {}
    import pyarrow as pa

    descriptor = reader.read_descriptor_with_resources(previous)
    resource = next(r for r in descriptor["resources"] if r.get("name") == "evidence")
    names = ["evidence_id", "record_table", "record_id"]
    try:  # three columns, never a dict per row: 444,000 rows on the 10k corpus
        columns = reader.read_columns(previous, resource, names)
    except (pa.ArrowInvalid, OSError) as exc:
        raise PackageError(
            f"{previous / str(resource.get('path'))}: cannot read the rows of resource evidence "
            f"({str(exc).splitlines()[0]})"
        ) from None
    ids, tables, records = (columns[name].to_pylist() for name in names)
    owners = dict(zip(ids, zip(tables, records, strict=True), strict=True))
    owners.update((row[names[0]], (row[names[1]], row[names[2]])) for row in ordered["evidence"])
    return owners


def _put_records(out: Path, records: dict[str, bytes]) -> None:
    if records:
        (out / lineage.RELEASES).mkdir(exist_ok=True)
    for version, record in records.items():
        (out / lineage.RELEASES / f"{version}.json").write_bytes(record)


def _descriptor(
    out: Path, old: dict, ordered: dict[str, list[dict]], partition_by: str | None
) -> dict:
    """The descriptor of the tables written in `out`, Parquet twins not yet written."""
    parts = writer.part_values(ordered, partition_by)
    return writer.descriptor(
        out, old["version"], old["created"], ordered["sources"], twins=False, parts=parts
    )


def _differing_tables(previous: Path, out: Path) -> list[str]:
    """The CSV files written in `out` that the published package does not hold as they are."""
    written = sorted(p.relative_to(out).as_posix() for p in (out / DATA).glob("*.csv"))
    return [
        name
        for name in written
        if not (previous / name).is_file()
        or not filecmp.cmp(previous / name, out / name, shallow=False)
    ]


def _complete(
    out: Path,
    ordered: dict[str, list[dict]],
    version: str,
    created: str,
    changelog: str | None,
    given: BuildInputs,
    progress: Progress,
    record: bool = True,
) -> None:
    """Everything beside the data tables' CSV files: the changes table, Parquet twins, descriptor,
    changelog (unless None), datasheet and catalogue files, and the record of the release when it
    is a new one (`record`)."""
    writer.write_tables(out, ordered, schemas.BUILT)
    progress("writing Parquet")
    writer.write_twins(out, ordered, version, given.partition_by)
    progress("writing the descriptor and datasheet")
    writer.write_descriptor(out, version, created, ordered, given.partition_by)
    writer.write_r_loader(out)
    if changelog is not None:
        (out / CHANGELOG).write_text(changelog, encoding="utf-8")
    write_datasheet(out, given.method)  # it reads the package and its changelog
    if record:
        lineage.write_release_record(out)  # last: it holds the sha256 of every other file


def _with_entry(history: str, entry: str) -> str:
    """The changelog: its header, the new entry, then the published entries."""
    body = (
        history[len(CHANGELOG_HEADER) :].lstrip("\n")
        if history.startswith(CHANGELOG_HEADER)
        else history
    )
    return CHANGELOG_HEADER + "\n" + entry + ("\n" + body if body else "")


def _history(previous: Path) -> str:
    """The published CHANGELOG.md, "" if there is none; Refused (located) if it is not UTF-8
    text."""
    path = previous / CHANGELOG
    if not path.is_file():
        return ""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(
            path,
            f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})",
            versions.RESTORE,
        ) from None


def publish(
    seeds: Path,
    target: Path,
    bump: str | None = None,
    dry: bool = False,
    wait: float | None = None,
    notify=None,
    progress: Progress | None = None,
    history_from: tuple[str, ...] = (),
    use_cache: bool = True,
    note=None,
    scheduler: str = LOCAL,
    partition_by: str | None = None,
) -> Published:
    """Check, build and atomically publish the package into `target` (or only report, when `dry`).

    Refused (nothing written) for a target publish does not own, an unreadable published
    package, or a lock another run holds longer than `wait` seconds (atomic.DEFAULT_WAIT when
    None); `notify` hears that the run waits; `progress` hears each step of the work; `note`
    hears about the per-file cache (`use_cache`); `scheduler` says where the per-file checks run;
    `partition_by` (writer.PARTITIONS) writes the twins of the tables it names as part files.
    """
    versions.check_level(bump)
    progress = or_silent(progress)
    choices = Choices(bump, progress, history_from, use_cache, note, scheduler, partition_by)
    if dry:
        return dry_run(seeds, target, choices)
    check_target(target, seeds)  # before the lock, so a refused target gets no lock file beside it
    wait = atomic.DEFAULT_WAIT if wait is None else wait
    if not wait >= 0:  # also NaN, which no comparison would ever end
        raise Refused(f"--wait: {wait} is not a number of seconds (pass 0 or more)")
    made = _missing_folders(target.parent)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic.publish_lock(target, wait, notify):
            warnings = atomic.recover(target)
            atomic.pause_point("locked")
            result = _publish_locked(seeds, target, choices)
    except OSError as exc:
        _remove_empty(made)
        where = exc.filename or target
        raise Refused(
            f"{where}: {exc.strerror or exc} (publish stopped; {target} is as it was)"
        ) from None
    except BaseException:
        _remove_empty(made)
        raise
    result.warnings = warnings + result.warnings
    return result


def _missing_folders(folder: Path) -> list[Path]:
    """The folders, deepest first, that creating `folder` with its parents would make."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove the parent folders a publish that did not complete made, deepest first, while
    they are empty: it leaves nothing behind."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty (someone else's file), or already gone
            return


def _publish_locked(seeds: Path, target: Path, choices: Choices) -> Published:
    progress = or_silent(choices.progress)
    previous = check_target(target, seeds)  # again: recovery may have put a parked package back
    memo = _memo(seeds, target, choices)
    if previous is not None and _partitioned_by(previous) != choices.partition_by:
        memo = None  # the twins are to be split or joined: the memo cannot say "unchanged"
    version = memo.unchanged(previous) if memo is not None and previous is not None else None
    if version is not None:  # as at the last publish; its unused reasons are still worth a note
        assert previous is not None
        return Published(version, changed=False, level=None, notes=_notes(seeds, previous, version))
    with atomic.staging(target) as folder:
        result = build_package(seeds, folder / atomic.PACKAGE, previous, choices)
        if result.changed:
            problems = verify_package(folder / atomic.PACKAGE, progress)
            if problems:
                raise InputError(problems)
            progress("swapping in")
            result.warnings = atomic.swap_in(folder, target)
    if memo is not None:
        memo.record(target, result.version)
    return result


def _notes(seeds: Path, previous: Path, version: str) -> list[str]:
    """The notes on the reasons in seeds/changes.yaml that no change uses, for a package as
    published: the changes table is read only when there is a reason to look up in it. It has a
    row per data row: on 10,000 articles, reading it as dicts took 7.3 s (as Arrow, 3.0 s), where
    the whole unchanged publish now takes 5.0 s, all measured on one loaded machine."""
    reasons = load_reasons(seeds)
    if not reasons.rows and not reasons.columns:
        return []
    return lineage.unused_notes(reasons, [], _past(previous, ()).rows, version)


def _partitioned_by(package: Path) -> str | None:
    """The `--partition-by` choice the published package was written with (None: none)."""
    descriptor = versions.read_published(package) or {}
    columns = {
        twin.get("partitionBy")
        for resource in descriptor.get("resources", [])
        if isinstance(twin := resource.get("parquet"), dict)
    }
    return next((choice for choice, column in writer.PARTITIONS.items() if column in columns), None)


def _memo(seeds: Path, target: Path, choices: Choices) -> PublishMemo | None:
    """What the last publish into `target` found, when the cache is in use and no bump or history
    is asked (a bump gives a new version even of an unchanged package; a history changes it)."""
    if not choices.use_cache or choices.bump is not None or choices.history_from:
        return None
    if not seeds.is_dir():
        return None
    cache = open_cache(seeds, lambda line: None, [target])  # the check's own opening says why not
    if cache is None:
        return None
    cache.note = choices.note or to_stderr
    return PublishMemo.open(cache, seeds, target)


def dry_run(seeds: Path, target: Path, choices: Choices = Choices()) -> Published:
    """What `publish` would do: build in the system's temporary folder, diff, report; write nothing
    here."""
    from pipeline.package.diff import render_text

    previous = check_target(target, seeds)
    with tempfile.TemporaryDirectory(prefix="pipeline-dry-run-") as scratch:
        out = Path(scratch) / "datapackage"
        result = build_package(seeds, out, previous, choices)
        if previous is None:
            result.report = f"no package published in {target} yet\n"
        else:
            changes = result.changes or versions.diff_published(previous, out)
            changes.old, changes.new = str(target), f"build of {seeds}"
            result.report = render_text(changes) + result.reasons
    return result


# ---- the target folder: publish's own, or refused ----


def _refuse(path: Path, message: str, hint: str = NOT_OURS) -> Refused:
    return Refused(str(Problem(str(path), None, message, hint=hint)))


def check_target(target: Path, seeds: Path) -> Path | None:
    """The published package in `target` to build on, or None (absent or empty folder); Refused
    otherwise."""
    try:
        return _recognise(target, seeds)
    except OSError as exc:  # a folder on the way that cannot be listed or looked into
        raise _refuse(
            Path(exc.filename or target), f"cannot read: {exc.strerror}", versions.RESTORE
        ) from None


def _recognise(target: Path, seeds: Path) -> Path | None:
    _check_place(target, seeds)
    try:
        facts = os.lstat(target)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(facts.st_mode):
        raise _refuse(
            target, "is a symbolic link", "pass --out the folder itself, not a link to it"
        )
    if not stat.S_ISDIR(facts.st_mode):
        raise _refuse(target, "is a file, not a package folder")
    found = sorted(os.listdir(target))
    if not found:
        return None
    strangers = _strangers(target, found)
    if strangers:
        shown = ", ".join(strangers[:3]) + (
            f" and {len(strangers) - 3} more" if len(strangers) > 3 else ""
        )
        raise _refuse(target, f"not a package publish wrote: it holds {shown}")
    if DESCRIPTOR not in found:
        raise _refuse(target, f"not a package publish wrote: it holds no {DESCRIPTOR}")
    descriptor = versions.read_published(target)
    if descriptor is None or not _our_shape(descriptor):
        raise _refuse(
            target / DESCRIPTOR,
            "resources: not a package publish wrote "
            "(each of its resources is data/<name>.csv with a parquet twin data/<name>.parquet)",
        )
    return target


def _check_place(target: Path, seeds: Path) -> None:
    """Refuse a target that is no folder of its own: '.', '..', the root, the seeds or a folder
    above them."""
    try:
        place = target.resolve()
    except (OSError, RuntimeError) as exc:  # a loop of symbolic links
        raise _refuse(
            target, f"cannot be resolved ({exc})", "pass --out a plain folder path"
        ) from None
    if target.name in ("", ".", "..") or place == place.parent:
        raise _refuse(
            target,
            "is not a folder publish can replace",
            "pass --out the package folder, e.g. datapackage",
        )
    for folder in (
        target.parent,
        *target.parent.parents,
    ):  # the nearest that exists must be a folder
        if os.path.lexists(folder):
            if not folder.is_dir():
                raise _refuse(
                    target, f"{folder} is not a folder", "pass --out a path inside a folder"
                )
            break
    held = seeds.resolve()
    if place == held or held in place.parents:
        raise _refuse(
            target,
            f"is inside the seeds folder {seeds}" if place != held else "is the seeds folder",
            "pass --out a folder outside the seeds, e.g. datapackage",
        )
    if place in held.parents:
        raise _refuse(
            target,
            f"holds the seeds folder {seeds}",
            "pass --out a folder of its own, e.g. datapackage",
        )


def _strangers(target: Path, found: list[str]) -> list[str]:
    """What `target` holds that publish does not write: other names, links, special files, nested
    folders."""
    strangers = [
        _shown(target / name, name)
        for name in found
        if name not in TOP_FILES | set(FOLDERS)
        or not _is(target / name, stat.S_ISDIR if name in FOLDERS else stat.S_ISREG)
    ]
    for folder, allowed in FOLDERS.items():
        inside = target / folder
        if folder in found and _is(inside, stat.S_ISDIR):
            strangers += [
                _shown(inside / name, f"{folder}/{name}")
                for name in sorted(os.listdir(inside))
                if not _ours_in(inside, name, allowed)
            ]
    strangers += _part_strangers(target / DATA)
    return strangers


def _ours_in(inside: Path, name: str, allowed: re.Pattern) -> bool:
    """A file publish writes into `inside`, or (in data/) the folder of a table's part files."""
    if inside.name == DATA and name in schemas.PACKAGE_TABLES and _is(inside / name, stat.S_ISDIR):
        return True
    return allowed.fullmatch(name) is not None and _is(inside / name, stat.S_ISREG)


def _part_strangers(data: Path) -> list[str]:
    """What the part folders in `data` hold besides part files."""
    return [
        _shown(data / table / name, f"{DATA}/{table}/{name}")
        for table in schemas.PACKAGE_TABLES
        if (data / table).is_dir() and not (data / table).is_symlink()
        for name in sorted(os.listdir(data / table))
        if reader.part_value(name) is None or not _is(data / table / name, stat.S_ISREG)
    ]


def _is(path: Path, kind) -> bool:
    return kind(os.lstat(path).st_mode)


def _shown(path: Path, name: str) -> str:
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        return f"{name} (a symbolic link)"
    if stat.S_ISDIR(mode):
        return f"{name}/"
    return name if stat.S_ISREG(mode) else f"{name} (a special file)"


def _our_shape(descriptor: dict) -> bool:
    """Resources as publish writes them: data/<name>.csv in UTF-8, each with its Parquet twin
    described beside it.

    The names are those of the files the layout allows, so no path read later leaves the folder.
    """
    resources = descriptor.get("resources")
    if not isinstance(resources, list) or not resources:
        return False
    return all(isinstance(resource, dict) and _our_resource(resource) for resource in resources)


def _our_resource(resource: dict) -> bool:
    name, twin = resource.get("name"), resource.get("parquet")
    return (
        isinstance(name, str)
        and DATA_FILE.fullmatch(f"{name}.csv") is not None
        and resource.get("path") == f"{DATA}/{name}.csv"
        and resource.get("encoding", "utf-8") == "utf-8"
        and isinstance(twin, dict)
        and (twin.get("path") == f"{DATA}/{name}.parquet" or _our_parts(name, twin))
    )


def _our_parts(name: str, twin: dict) -> bool:
    """A partitioned twin as publish writes it: part files in data/<name>/."""
    files = reader.twin_files({"parquet": twin})
    return isinstance(twin.get("parts"), list) and all(
        PurePosixPath(str(part.get("path"))).parent == PurePosixPath(DATA, name)
        and reader.part_value(part.get("path")) is not None
        for part in files
    )
