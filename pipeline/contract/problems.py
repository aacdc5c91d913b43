"""What went wrong with the input: one Problem per fault, reported all at once.

Every data error the pipeline can meet becomes a Problem carrying the file, line,
record id and field it concerns, what is wrong and how to fix it. Commands print
them and exit 1; nothing raises a traceback at the user. What they print for people
goes through `printable`, so data cannot steer the terminal or split a line.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path

# Not shown as themselves: controls (they move the cursor, recolour, ring or break a line),
# format characters such as the bidirectional overrides (they reorder what is shown), lone
# surrogates (no terminal can print one) and the Unicode line and paragraph separators.
_HIDDEN = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def printable(text: str) -> str:
    """`text` for a terminal: each character of the kinds above as its Python escape (\\x1b,
    \\u202e, \\n)."""
    if text.isprintable():  # the usual case, decided in C
        return text
    return "".join(
        char.encode("unicode_escape").decode("ascii")
        if unicodedata.category(char) in _HIDDEN
        else char
        for char in text
    )


def printable_lines(text: str) -> str:
    """`text` of several lines for a terminal: each line through `printable`, the line breaks
    kept."""
    return "".join(printable(line) + "\n" for line in text.splitlines())


def path_for_people(path: Path) -> str:
    """`path` as a problem line names it, so that `file:line` opens in an editor from where the
    command runs: relative to the current folder when inside it, else absolute."""
    try:
        here = os.getcwd()
    except OSError:  # the current folder was removed: show the path as given
        return str(path)
    full = os.path.normpath(os.path.join(here, path))
    inside = os.path.commonpath([here, full]) == here
    return os.path.relpath(full, here) if inside else full


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int | None
    message: str
    record: str | None = None  # "table/id", e.g. "events/clash-martakert"
    field: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = [where]
        if self.record:
            parts.append(self.record)
        if self.field:
            parts.append(self.field)
        text = ": ".join(parts) + ": " + self.message
        if self.hint:
            text += f" ({self.hint})"
        return text

    def to_dict(self) -> dict:
        return asdict(self)


class InputError(Exception):
    """Raised with the problems that stop a command; the CLI prints them and exits 1."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def unique_sorted(problems: list[Problem]) -> list[Problem]:
    """Drop repeats of the same fault found by two layers (same place, record and field)."""
    seen: set[tuple] = set()
    kept = []
    for problem in problems:
        key = (problem.file, problem.line, problem.record, problem.field)
        if key in seen:
            continue
        seen.add(key)
        kept.append(problem)
    return sorted(
        kept, key=lambda p: (p.file, p.line or 0, p.record or "", p.field or "", p.message)
    )
