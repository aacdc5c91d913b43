"""Publish the package: check seeds, build, version, validate, swap in atomically.

Nothing is written unless the seeds pass every check; a build identical to the
published package leaves every byte of it alone, version and date included.
"""

from __future__ import annotations

import datetime as dt
import filecmp
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from pipeline import atomic, versions
from pipeline.check import check_seeds
from pipeline.problems import InputError, Problem
from pipeline.writer import write_package

CHANGELOG = "CHANGELOG.md"
CHANGELOG_HEADER = "# Changelog\n\nEvery published version of the package, newest first.\n"


@dataclass
class Published:
    version: str
    changed: bool
    level: str | None  # major / minor / patch, None for the first publication or no change


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


def build_package(seeds: Path, out: Path, previous: Path | None) -> Published:
    """Build the package from `seeds` into the absent folder `out`, versioned against `previous`."""
    checked = check_seeds(seeds)
    if checked.problems:
        raise InputError(checked.problems)
    rows = checked.tables.rows
    old = versions.read_descriptor(previous) if previous is not None else None
    if old is not None:
        write_package(out, rows, old["version"], old["created"])
        if (previous / CHANGELOG).is_file():
            shutil.copyfile(previous / CHANGELOG, out / CHANGELOG)
        if same_tree(previous, out):
            return Published(old["version"], changed=False, level=None)
        level = versions.required_bump(previous, out)
        version = versions.bump(old["version"], level)
    else:
        level, version = None, versions.FIRST_VERSION
    created = created_timestamp()
    if out.exists():
        shutil.rmtree(out)
    write_package(out, rows, version, created)
    entry = versions.changelog_entry(previous if old is not None else None, out, version, level, created)
    history = (previous / CHANGELOG).read_text(encoding="utf-8") if old is not None and (previous / CHANGELOG).is_file() else ""
    body = history[len(CHANGELOG_HEADER):].lstrip("\n") if history.startswith(CHANGELOG_HEADER) else history
    (out / CHANGELOG).write_text(CHANGELOG_HEADER + "\n" + entry + ("\n" + body if body else ""), encoding="utf-8")
    return Published(version, changed=True, level=level)


def verify_package(folder: Path) -> list[Problem]:
    """Re-read the written package before it goes live; problems mean it must not."""
    from pipeline.writer import file_facts

    problems = []
    descriptor = versions.read_descriptor(folder)
    for resource in descriptor["resources"]:
        for described in (resource, resource["parquet"]):
            size, digest = file_facts(folder / described["path"])
            if (size, digest) != (described["bytes"], described["hash"]):
                problems.append(Problem(str(folder / described["path"]), None, "written file does not match its descriptor"))
    return problems


def publish(seeds: Path, target: Path) -> Published:
    """Check, build and atomically publish the package into `target`."""
    with atomic.publish_lock(target):
        temp = atomic.temp_dir_for(target)
        try:
            result = build_package(seeds, temp, target if target.exists() else None)
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
