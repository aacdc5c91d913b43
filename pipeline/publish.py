"""Publish the package: check seeds, build, version, validate, swap in atomically.

Nothing is written unless the seeds pass every check; a build identical to the
published package leaves every byte of it alone, version and date included. The
version bump is derived from the diff with the published package; `bump` may raise
it, never lower it. A dry run builds in the system's temporary folder and reports.
"""

from __future__ import annotations

import datetime as dt
import filecmp
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pipeline import atomic, versions
from pipeline.check import check_seeds
from pipeline.collector import existing_objects_frozen
from pipeline.problems import InputError, Problem
from pipeline.writer import write_package

CHANGELOG = "CHANGELOG.md"
DATASHEET = "README.md"
CHANGELOG_HEADER = "# Changelog\n\nEvery published version of the package, newest first.\n"


@dataclass
class Published:
    version: str
    changed: bool
    level: str | None  # major / minor / patch, None for the first publication or no change
    report: str | None = None  # what a dry run would change


def created_timestamp() -> str:
    """SOURCE_DATE_EPOCH when set (reproducible builds), else the current time, in UTC."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc) if epoch else dt.datetime.now(dt.timezone.utc)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def same_tree(a: Path, b: Path) -> bool:
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    if files_a != files_b:
        return False
    return all(filecmp.cmp(a / rel, b / rel, shallow=False) for rel in files_a)


def write_datasheet(out: Path) -> None:
    """README.md of the package, rendered from its own files (so an unchanged build gives the same bytes)."""
    from pipeline.datasheet import render_datasheet

    (out / DATASHEET).write_text(render_datasheet(out), encoding="utf-8")


def build_package(seeds: Path, out: Path, previous: Path | None, bump: str | None = None) -> Published:
    """Build the package from `seeds` into the absent folder `out`, versioned against `previous`.

    `bump` (major, minor, patch) raises the derived bump and gives a new version even
    when nothing changed; lower than the changes require, it raises BumpError.
    """
    checked = check_seeds(seeds)
    if checked.problems:
        raise InputError(checked.problems)
    rows = checked.tables.rows
    del checked  # the loaded annotations and row origins are not needed to write: free them first
    with existing_objects_frozen():
        return _write_versioned(rows, out, previous, bump)


def _write_versioned(rows: dict[str, list[dict]], out: Path, previous: Path | None, bump: str | None) -> Published:
    old = versions.read_descriptor(previous) if previous is not None else None
    if old is not None:
        write_package(out, rows, old["version"], old["created"])
        if (previous / CHANGELOG).is_file():
            shutil.copyfile(previous / CHANGELOG, out / CHANGELOG)
        write_datasheet(out)
        same = same_tree(previous, out)
        if same and bump is None:
            return Published(old["version"], changed=False, level=None)
        # Bytes that differ with the same content (a new Parquet writer, say) still need a new version.
        required = None if same else versions.required_bump(previous, out) or "patch"
        level = versions.chosen_bump(required, bump)
        version = versions.bump(old["version"], level)
    else:
        required, level, version = None, None, versions.first_version(bump)
    created = created_timestamp()
    if out.exists():
        shutil.rmtree(out)
    write_package(out, rows, version, created)
    entry = versions.changelog_entry(previous if old is not None else None, out, version, level, created, required)
    history = (previous / CHANGELOG).read_text(encoding="utf-8") if old is not None and (previous / CHANGELOG).is_file() else ""
    body = history[len(CHANGELOG_HEADER):].lstrip("\n") if history.startswith(CHANGELOG_HEADER) else history
    (out / CHANGELOG).write_text(CHANGELOG_HEADER + "\n" + entry + ("\n" + body if body else ""), encoding="utf-8")
    write_datasheet(out)
    return Published(version, changed=True, level=level)


def verify_package(folder: Path) -> list[Problem]:
    """Validate the written package (pipeline validate) before it goes live; problems mean it must not."""
    from pipeline.validate import validate_folder

    report = validate_folder(folder)
    problems = [Problem(str(folder / "datapackage.json"), None, f"{e['type']}: {e['message']}") for e in report.errors]
    for task in report.tasks:
        for e in task.errors:
            problems.append(Problem(str(folder / task.place), e.get("rowNumber"), f"{e['type']}: {e['message']}",
                                    task.name, e.get("fieldName")))
    return problems


def publish(seeds: Path, target: Path, bump: str | None = None, dry: bool = False) -> Published:
    """Check, build and atomically publish the package into `target` (or only report, when `dry`)."""
    if dry:
        return dry_run(seeds, target, bump)
    with atomic.publish_lock(target):
        temp = atomic.temp_dir_for(target)
        try:
            result = build_package(seeds, temp, target if target.exists() else None, bump)
            if not result.changed:
                return result
            problems = verify_package(temp)
            if problems:
                raise InputError(problems)
            atomic.swap_in(temp, target)
            return result
        finally:
            if temp.exists():
                shutil.rmtree(temp, ignore_errors=True)


def dry_run(seeds: Path, target: Path, bump: str | None = None) -> Published:
    """What `publish` would do: build in the system's temporary folder, diff, report; write nothing here."""
    from pipeline.diff import diff_packages, render_text

    previous = target if (target / "datapackage.json").is_file() else None
    with tempfile.TemporaryDirectory(prefix="pipeline-dry-run-") as scratch:
        out = Path(scratch) / "datapackage"
        result = build_package(seeds, out, previous, bump)
        if previous is None:
            result.report = f"no package published in {target} yet\n"
        else:
            result.report = render_text(diff_packages(previous, out, str(target), f"build of {seeds}"))
    return result
