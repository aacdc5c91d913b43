"""Version numbers of the published package.

The bump a change needs is derived from the difference between the published
package and the new build (the Frictionless "Data Package Version" recipe, see
pipeline/diff.py); `--bump` may raise it, never lower it. The changelog entry lists,
per table, the rows added, removed and corrected, by id.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.diff import LEVELS, diff_packages, higher

FIRST_VERSION = "0.1.0"
FIRST_PUBLIC_VERSION = "1.0.0"


class BumpError(ValueError):
    """A requested bump lower than the one the changes require."""


def read_descriptor(folder: Path) -> dict | None:
    path = folder / "datapackage.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def bump(version: str, level: str) -> str:
    major, minor, patch = (int(part) for part in version.split("."))
    if level == "major":
        return f"{major + 1}.0.0"
    if level == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def required_bump(old: Path, new: Path) -> str | None:
    """The bump the change from package `old` to `new` needs: major, minor or patch; None if nothing changed."""
    return diff_packages(old, new).bump


def check_level(requested: str | None) -> None:
    if requested is not None and requested not in LEVELS:
        raise BumpError(f"--bump must be major, minor or patch, not {requested!r}")


def chosen_bump(required: str | None, requested: str | None) -> str | None:
    """`requested` if it is at least `required`, else BumpError; `required` when nothing is requested."""
    if requested is None:
        return required
    check_level(requested)
    if higher(requested, required) != requested:
        raise BumpError(f"--bump {requested} is lower than the {required} bump the changes require; "
                        f"use --bump {required} or higher, or leave --bump out")
    return requested


def first_version(requested: str | None) -> str:
    """The version of a first publication: 1.0.0 with --bump major, else FIRST_VERSION."""
    check_level(requested)
    return FIRST_PUBLIC_VERSION if requested == "major" else FIRST_VERSION


def _ids(ids: list[str]) -> str:
    return ", ".join(f"`{ident}`" for ident in ids)


def changelog_entry(old: Path | None, new: Path, version: str, level: str | None, created: str,
                    required: str | None = None) -> str:
    """The CHANGELOG.md section for `version`: the bump and, per table, the rows added, removed and corrected."""
    day = created[:10]
    if old is None:
        return f"## {version} ({day})\n\nFirst publication of the package.\n"
    changes = diff_packages(old, new)
    required = required if required is not None else changes.bump
    headline = f"{level.capitalize()} release."
    if required != level:
        headline += f" Raised with --bump {level}; the changes alone need {required or 'no new version'}."
    lines = []
    for table in changes.tables:
        if table.added:
            lines.append(f"- {table.table}: added {_ids(table.added)}")
        if table.removed:
            lines.append(f"- {table.table}: removed {_ids(table.removed)}")
        for ident, fields in table.changed.items():
            lines.append(f"- {table.table}: corrected `{ident}` ({', '.join(f for f, _, _ in fields)})")
    lines += [f"- {change.where}: {change.message}" for change in changes.changes]
    if not lines:
        lines.append("- no change to the data or its description")
    return f"## {version} ({day})\n\n{headline}\n\n" + "\n".join(lines) + "\n"
