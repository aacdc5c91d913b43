"""Read seeds/changes.yaml: the annotator's reason for each change to the published data.

    changes:
      - table: events
        id: syrian-fighters-deployment     # one row: added, corrected or removed
        reason: "The text dates the deployment no earlier than ..."
      - table: events
        field: scope                       # a new column: one reason for every row's value of it
        reason: "New column ..."

Each entry names a data table and either one row (`id`) or one new column (`field`), with the
reason. Faults are Problems at file:line, like those of the other seed files, and `check` reports
them with the annotations' (`reasons_problems`); publish matches the entries with the rows that
changed (pipeline/package/lineage.py), which only it can tell: a change without an entry, an entry
for a row that did not change.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.contract import schemas
from pipeline.contract.problems import InputError, Problem, path_for_people
from pipeline.load.structure import character_problems, structure_problems
from pipeline.load.yamlfile import Located, load_yaml

REASONS_FILE = "changes.yaml"


@dataclass(frozen=True)
class Reason:
    table: str
    id: str | None  # the row's primary key, or None for a column's entry
    field: str | None  # the new column, or None for a row's entry
    reason: str
    file: str  # shown path
    line: int

    @property
    def label(self) -> str:
        return f"{self.table}/{self.id}" if self.id is not None else f"{self.table}.{self.field}"

    @property
    def place(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Reasons:
    file: str = f"seeds/{REASONS_FILE}"  # as problems show it
    rows: dict[tuple[str, str], Reason] = field(default_factory=dict)  # (table, id) -> entry
    columns: dict[tuple[str, str], Reason] = field(default_factory=dict)  # (table, field) -> entry


@functools.cache
def reasons_json_schema() -> dict:
    """JSON Schema of seeds/changes.yaml."""
    reason = {
        "type": "string",
        "minLength": 1,
        "pattern": r"\S",
        "description": "Why the data changed, for the people who cite it.",
    }
    table = {"type": "string", "enum": schemas.TABLES, "description": "A data table."}
    entry = {
        "type": "object",
        "properties": {
            "table": table,
            "id": {"type": "string", "pattern": schemas.ID_PATTERN, "description": "A row's id."},
            "field": {"type": "string", "minLength": 1, "description": "A new column."},
            "reason": reason,
        },
        "required": ["table", "reason"],
        "additionalProperties": False,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"changes": {"type": "array", "items": entry}},
        "required": ["changes"],
        "additionalProperties": False,
    }


def load_reasons(seeds: Path) -> Reasons:
    """The entries of seeds/changes.yaml (none when there is no such file); InputError with every
    fault, located."""
    path = seeds / REASONS_FILE
    shown = path_for_people(path)
    if not path.exists():
        return Reasons(shown)
    if path.is_symlink() or not path.is_file():
        hint = "use a regular file inside seeds/"
        raise InputError([Problem(shown, None, "not a regular file", hint=hint)])
    data = load_yaml(path, shown)
    if not isinstance(data, Located):
        hint = "write `changes:` and one entry per change, or delete the file if there are none"
        raise InputError([Problem(shown, 1, "expected a mapping with 'changes'", hint=hint)])
    label = functools.partial(_entry_label, data)
    problems = structure_problems(data, reasons_json_schema(), shown, label)
    problems += character_problems(data, shown, label)
    if problems:
        raise InputError(problems)
    return _collected(data, shown)


def reasons_problems(seeds: Path) -> list[Problem]:
    """The faults of seeds/changes.yaml that need no published package to be seen (`check` reports
    them beside the annotations'); none when the file is sound or absent."""
    try:
        load_reasons(seeds)
    except InputError as exc:
        return exc.problems
    return []


def _entry_label(data: Located, path: list) -> str | None:
    """The entry a path into changes.yaml points into: "events/x" or "events.scope"."""
    if len(path) < 2 or path[0] != "changes":
        return None
    item = data["changes"][path[1]]
    if not isinstance(item, dict) or not isinstance(item.get("table"), str):
        return None
    if isinstance(item.get("id"), str):
        return f"{item['table']}/{item['id']}"
    return f"{item['table']}.{item['field']}" if isinstance(item.get("field"), str) else None


def _collected(data: Located, shown: str) -> Reasons:
    """The valid entries by row and by column; InputError for a repeated one or an unknown
    column."""
    found, problems = Reasons(shown), []
    for item in data["changes"]:
        entry = Reason(
            item["table"], item.get("id"), item.get("field"), item["reason"], shown, item.line
        )
        if (entry.id is None) == (entry.field is None):
            problems.append(
                Problem(
                    shown,
                    item.line,
                    "an entry names either one row (id) or one new column (field)"
                    + (", not both" if entry.id is not None else ""),
                    entry.label if entry.id is not None else f"{entry.table}",
                    hint="write `id: <row id>` for a row, or `field: <column>` for a new column",
                )
            )
            continue
        if entry.field is not None and entry.field not in schemas.field_names(entry.table):
            columns = ", ".join(schemas.field_names(entry.table))
            problems.append(
                Problem(
                    shown,
                    item.key_lines.get("field", item.line),
                    f"{entry.table} has no column {entry.field!r}",
                    entry.label,
                    "field",
                    f"name a column of schemas/{entry.table}.yaml: {columns}",
                )
            )
            continue
        key = (entry.table, entry.id or entry.field or "")  # the schema requires one of them
        into = found.rows if entry.id is not None else found.columns
        first = into.get(key)
        if first is not None:
            problems.append(
                Problem(
                    shown,
                    item.line,
                    f"a second entry for {entry.label} (the first is at line {first.line})",
                    entry.label,
                    hint="give each row or column one entry, with one reason",
                )
            )
            continue
        into[key] = entry
    if problems:
        raise InputError(problems)
    return found
