"""The validator's error vocabulary: frictionless's error types, titles and messages, and bounded
listings.

A leaf module: every part of the validator reports through `make_error` and collects into a
`Task` (one file) or a `Report` (the package), which list at most `limit` errors and count the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice

MAX_ERRORS = 1000  # listed per file (and for the package itself); the rest are counted
TITLES = {
    "type-error": "Type Error",
    "constraint-error": "Constraint Error",
    "unique-error": "Unique Error",
    "primary-key": "PrimaryKey Error",
    "foreign-key": "ForeignKey Error",
    "hash-count": "Hash Count Error",
    "byte-count": "Byte Count Error",
    "missing-label": "Missing Label",
    "incorrect-label": "Incorrect Label",
    "extra-label": "Extra Label",
    "extra-cell": "Extra Cell",
    "missing-cell": "Missing Cell",
    "blank-label": "Blank Label",
    "duplicate-label": "Duplicate Label",
    "blank-row": "Blank Row",
    "package-error": "Package Error",
    "resource-error": "Resource Error",
    "scheme-error": "Scheme Error",
    "encoding-error": "Encoding Error",
    "source-error": "Source Error",
    "category-error": "Category Error",
    "unique-key-error": "Unique Key Error",
    "twin-mismatch": "Parquet Twin Mismatch",
    "parquet-type-error": "Parquet Type Error",
    "span-error": "Span Error",
    "undeclared-file": "Undeclared File",
    "unsupported-feature": "Unsupported Feature",
    "field-error": "Field Error",
}
TEMPLATES = {
    "type-error": (
        'Type error in the cell "{cell}" in row "{rowNumber}" and field "{fieldName}" at '
        'position "{fieldNumber}": {note}'
    ),
    "constraint-error": (
        'The cell "{cell}" in row at position "{rowNumber}" and field "{fieldName}" at '
        'position "{fieldNumber}" does not conform to a constraint: {note}'
    ),
    "unique-error": (
        'Row at position "{rowNumber}" has unique constraint violation in field "{fieldName}" '
        'at position "{fieldNumber}": {note}'
    ),
    "primary-key": 'Row at position "{rowNumber}" violates the primary key: {note}',
    "foreign-key": 'Row at position "{rowNumber}" violates the foreign key: {note}',
    "hash-count": "The data source does not match the expected hash count: {note}",
    "byte-count": "The data source does not match the expected byte count: {note}",
    "missing-label": (
        'There is a missing label in the header\'s field "{fieldName}" at position "{fieldNumber}"'
    ),
    "incorrect-label": (
        'Label "{label}" in field {fieldName} at position "{fieldNumber}" does not match the '
        "field name in the schema"
    ),
    "extra-label": 'There is an extra label "{label}" in header at position "{fieldNumber}"',
    "blank-label": 'Label in the header in field at position "{fieldNumber}" is blank',
    "duplicate-label": (
        'Label "{label}" in the header at position "{fieldNumber}" is duplicated to a label: {note}'
    ),
    "blank-row": 'Row at position "{rowNumber}" is completely blank',
    "extra-cell": (
        'Row at position "{rowNumber}" has an extra value in field at position "{fieldNumber}"'
    ),
    "missing-cell": (
        'Row at position "{rowNumber}" has a missing cell in field "{fieldName}" at position '
        '"{fieldNumber}"'
    ),
    "package-error": "The data package has an error: {note}",
    "resource-error": "The data resource has an error: {note}",
    "scheme-error": "The data source could not be successfully loaded: {note}",
    "encoding-error": "The data source could not be successfully decoded: {note}",
    "source-error": "The data source has not supported or has inconsistent contents: {note}",
    "category-error": (
        'The cell "{cell}" in row at position "{rowNumber}" and field "{fieldName}" at '
        'position "{fieldNumber}" is not one of the field\'s categories: {note}'
    ),
    "unique-key-error": (
        'Row at position "{rowNumber}" repeats the unique key "{fieldName}": {note}'
    ),
    "twin-mismatch": (
        'The Parquet twin differs from the CSV in row at position "{rowNumber}" and field '
        '"{fieldName}": {note}'
    ),
    "parquet-type-error": (
        'Field "{fieldName}" at position "{fieldNumber}" of the Parquet twin has the wrong '
        "type: {note}"
    ),
    "span-error": (
        'Row at position "{rowNumber}" holds an impossible span in field "{fieldName}" '
        'at position "{fieldNumber}": {note}'
    ),
    "undeclared-file": 'File "{path}" is in the package but not in its descriptor: {note}',
    "unsupported-feature": "The resource uses a feature this validator does not check: {note}",
    "field-error": "Field is not valid: {note}",
}


def make_error(kind: str, note: str = "", **where) -> dict:
    error = {"type": kind, "title": TITLES.get(kind, kind), "note": note}
    error.update({key: value for key, value in where.items() if value is not None})
    error["message"] = TEMPLATES[kind].format_map(
        {
            "note": note,
            "rowNumber": "",
            "fieldName": "",
            "fieldNumber": "",
            "cell": "",
            "label": "",
            "path": "",
            **where,
        }
    )
    return error


def first(errors: Iterable[dict], room: int) -> tuple[list[dict], int]:
    """The first `room` errors, and how many more there are: those are counted, never kept, so that
    memory stays bounded whatever the file holds."""
    rest = iter(errors)
    listed = list(islice(rest, max(room, 0)))
    return listed, sum(1 for _ in rest)


@dataclass
class Listing:
    """Errors listed up to `limit`, the rest counted (in `not_listed`)."""

    errors: list[dict] = field(default_factory=list)
    limit: int = MAX_ERRORS
    not_listed: int = 0

    def add(self, errors: Iterable[dict]) -> None:
        listed, more = first(errors, self.limit - len(self.errors))
        self.errors += listed
        self.not_listed += more

    def add_counted(self, listed: list[dict], more: int) -> None:
        """Errors a check listed (up to the room it was given) and counted beyond it."""
        self.add(listed)
        self.not_listed += more

    def finish(self) -> None:
        """The errors in row order, and no more than `limit` of them."""
        self.errors.sort(key=lambda e: (e.get("rowNumber") or 0, e.get("fieldNumber") or 0))
        self.not_listed += max(0, len(self.errors) - self.limit)
        del self.errors[self.limit :]

    @property
    def count(self) -> int:
        return len(self.errors) + self.not_listed

    def stats(self) -> dict:
        return {"errors": self.count, "notListed": self.not_listed}

    def warnings(self) -> list[str]:
        # frictionless's words
        return [f"reached error limit: {self.limit}"] if self.not_listed else []

    def more_line(self, label: str) -> list[str]:
        if not self.not_listed:
            return []
        return [
            f"{label}: ... and {self.not_listed} more (at most {self.limit} are listed per "
            "file; raise --max-errors to list more)"
        ]


@dataclass
class Task(Listing):
    name: str = ""
    place: str = ""
    format: str = "csv"
    rows: int = 0

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "type": "table",
            "valid": not self.count,
            "place": self.place,
            "format": self.format,
            "stats": {**self.stats(), "rows": self.rows},
            "truncated": bool(self.not_listed),
            "warnings": self.warnings(),
            "errors": self.errors,
        }


@dataclass
class Report(Listing):
    """The package's own errors (the Listing) and one task per file."""

    tasks: list[Task] = field(default_factory=list)
    unreadable: bool = False

    @property
    def valid(self) -> bool:
        return not self.count and not any(t.count for t in self.tasks)

    @property
    def exit_code(self) -> int:
        return 2 if self.unreadable else (0 if self.valid else 1)

    @property
    def total(self) -> int:
        return self.count + sum(t.count for t in self.tasks)

    def to_dict(self) -> dict:
        not_listed = self.not_listed + sum(t.not_listed for t in self.tasks)
        return {
            "valid": self.valid,
            "stats": {"tasks": len(self.tasks), "errors": self.total, "notListed": not_listed},
            "truncated": bool(not_listed),
            "warnings": self.warnings(),
            "errors": self.errors,
            "tasks": [t.to_dict() for t in self.tasks],
        }

    def lines(self) -> list[str]:
        """One line per error: resource:row:field: type: message; a line "... and N more" where
        some are not listed."""
        out = [f"package:-:-: {e['type']}: {e['message']}" for e in self.errors] + self.more_line(
            "package"
        )
        for task in self.tasks:
            label = _label(task)
            out += [
                f"{label}:{e.get('rowNumber', '-')}:{_field_of(e)}: {e['type']}: {e['message']}"
                for e in task.errors
            ]
            out += task.more_line(label)
        return out


def _label(task: Task) -> str:
    """The resource, and which of its files: `name` (the CSV), `name[parquet]` (its twin), or
    `name[part-<value>.parquet]` (a part of a partitioned twin)."""
    if task.format == "csv":
        return task.name
    from pipeline.package.reader import part_value  # `pipeline --version` imports this module

    part = part_value(task.place)
    return f"{task.name}[part-{part}.parquet]" if part is not None else f"{task.name}[parquet]"


def _field_of(error: dict) -> str:
    return error.get("fieldName") or ",".join(error.get("fieldNames", [])) or "-"
