"""Version numbers of the published package.

The bump a change needs is derived from the difference between the published
package and the new build (the Frictionless "Data Package Version" recipe, see
pipeline/package/diff.py); `--bump` may raise it, never lower it. The changelog entry
lists, per table, the rows added, removed and corrected, by id, from that same diff, each with
the annotator's reason (pipeline/package/lineage.py).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from pipeline.contract.problems import Problem
from pipeline.package import reader
from pipeline.package.atomic import Refused
from pipeline.package.diff import LEVELS, PackageDiff, diff_descriptors, diff_packages, higher
from pipeline.package.reader import DESCRIPTOR, PackageError

FIRST_VERSION = "0.1.0"
FIRST_PUBLIC_VERSION = "1.0.0"
SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
CREATED = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"
)  # as publish writes it
RESTORE = (
    "restore the published folder from version control or a release, or move it away to publish "
    "afresh"
)


class BumpError(ValueError):
    """A requested bump lower than the one the changes require."""


def _refuse(path: Path, message: str, field: str | None = None, hint: str = RESTORE) -> Refused:
    return Refused(str(Problem(str(path), None, message, field=field, hint=hint)))


def read_published(folder: Path) -> dict | None:
    """The published descriptor of `folder`, None if it has none; Refused (located) if publish
    cannot build on it: not a regular file, too big, unreadable, not UTF-8, not JSON, not an object,
    no x.y.z version or created time."""
    path = folder / DESCRIPTOR
    if not os.path.lexists(path):
        return None
    try:
        descriptor = reader.read_descriptor(folder)  # the one reader: bounded, no links, no devices
    except PackageError as exc:
        raise Refused(f"{exc} ({RESTORE})") from None
    for key, pattern, example in (
        ("version", SEMVER, "1.0.0"),
        ("created", CREATED, "2020-10-01T00:00:00Z"),
    ):
        value = descriptor.get(key)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise _refuse(
                path,
                f"{json.dumps(value)} is not a {key} publish writes (like {example})",
                key,
                f"set it to the {key} of the last publication, e.g. from CHANGELOG.md, or "
                f"{RESTORE}",
            )
    return descriptor


def bump(version: str, level: str) -> str:
    """`version` (x.y.z) raised by `level`; Refused for anything else, which publish cannot
    raise."""
    match = SEMVER.fullmatch(version)
    if match is None:
        raise Refused(f"version {version!r} is not x.y.z")
    major, minor, patch = (int(part) for part in match.groups())
    if level == "major":
        return f"{major + 1}.0.0"
    if level == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def diff_published(old: Path, new: Path, after: dict | None = None) -> PackageDiff:
    """diff_packages from the published package `old` (to the package in `new`, described by `after`
    when given); Refused (located) when its files cannot be read."""
    try:
        if after is None:
            return diff_packages(old, new)
        before = reader.read_descriptor_with_resources(old)
        return diff_descriptors(old, before, new, after, (str(old), str(new)))
    except PackageError as exc:
        raise Refused(f"{exc} ({RESTORE})") from None
    except (LookupError, TypeError, AttributeError, ValueError, RecursionError) as exc:
        raise _refuse(
            old / DESCRIPTOR, f"malformed descriptor ({type(exc).__name__}: {exc})"
        ) from None


def required_bump(old: Path, new: Path) -> str | None:
    """The bump the change from package `old` to `new` needs: major, minor or patch; None if nothing
    changed."""
    return diff_published(old, new).bump


def check_level(requested: str | None) -> None:
    if requested is not None and requested not in LEVELS:
        raise BumpError(f"--bump must be major, minor or patch, not {requested!r}")


def chosen_bump(required: str | None, requested: str | None) -> str | None:
    """`requested` if it is at least `required`, else BumpError; `required` when nothing is
    requested."""
    if requested is None:
        return required
    check_level(requested)
    if higher(requested, required) != requested:
        raise BumpError(
            f"--bump {requested} is lower than the {required} bump the changes require; "
            f"use --bump {required} or higher, or leave --bump out"
        )
    return requested


def first_version(requested: str | None) -> str:
    """The version of a first publication: 1.0.0 with --bump major, else FIRST_VERSION."""
    check_level(requested)
    return FIRST_PUBLIC_VERSION if requested == "major" else FIRST_VERSION


def changelog_entry(
    changes: PackageDiff | None,
    version: str,
    level: str | None,
    created: str,
    required: str | None = None,
    rewritten: list[str] | None = None,
    lineage: list[dict] | None = None,
    column_reasons: dict | None = None,
) -> str:
    """The CHANGELOG.md section for `version`: the bump and, per table, the rows added, removed and
    corrected (`changes`, the diff from the published package; None for a first publication), each
    with its reason (`lineage`, the new rows of the changes table), and the new columns with theirs
    (`column_reasons`: (table, column) -> entry); with no such change, the files that `rewritten`
    names as written anew (a new datasheet, say)."""
    day = created[:10]
    if changes is None or level is None:
        return f"## {version} ({day})\n\nFirst publication of the package.\n"
    required = required if required is not None else changes.bump
    headline = f"{level.capitalize()} release."
    if required != level:
        headline += (
            f" Raised with --bump {level}; the changes alone need {required or 'no new version'}."
        )
    reasons = {(r["table_name"], r["record_id"]): r["reason"] for r in lineage or []}
    body = _change_lines(changes, rewritten, reasons, column_reasons or {})
    return f"## {version} ({day})\n\n{headline}\n\n" + body + "\n"


def _because(reason: str | None) -> str:
    return f": {' '.join(reason.split())}" if reason else ""


def _change_lines(
    changes: PackageDiff, rewritten: list[str] | None, reasons: dict, column_reasons: dict
) -> str:
    """Per table the new columns, the ids added, removed and corrected, each with its reason, then
    the other changes; or that there are none. Rows whose only differences are values in new
    columns are told by their column's line."""
    lines = []
    for table in changes.tables:
        name = table.table
        for column in table.new_columns:
            entry = column_reasons.get((name, column))
            lines.append(f"- {name}: new column `{column}`{_because(entry and entry.reason)}")
        lines += [f"- {name}: added `{i}`{_because(reasons.get((name, i)))}" for i in table.added]
        lines += [
            f"- {name}: removed `{i}`{_because(reasons.get((name, i)))}" for i in table.removed
        ]
        for ident, fields in table.changed.items():
            shown = ", ".join([f for f, _, _ in fields] + table.filled.get(ident, []))
            lines.append(
                f"- {name}: corrected `{ident}` ({shown}){_because(reasons.get((name, ident)))}"
            )
    lines += [f"- {change.where}: {change.message}" for change in changes.changes]
    if not lines:
        files = ", ".join(f"`{name}`" for name in rewritten or [])
        lines.append(
            "- no change to the data or its description"
            + (f"; written anew: {files}" if files else "")
        )
    return "\n".join(lines)
