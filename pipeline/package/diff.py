"""Compare two packages: metadata, resources, schemas and rows, each change with the bump it needs.

Levels follow the Frictionless "Data Package Version" recipe (DESIGN.md section 7):
major for removing, renaming, adding or reordering fields or resources, retyping,
tightening a constraint, changing keys or deleting rows; minor for a new resource,
added rows or a looser constraint; patch for corrected values and descriptive
metadata. Rows are read from the CSV resources and compared, as strings, by primary key.
Descriptors and CSV files are read only through pipeline.package.reader, so a path that
leaves the package (absolute, `..`, a URL, a symbolic link, a FIFO or device) is an
error naming the package and the resource, and the file is never opened.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.package import reader
from pipeline.package.reader import DESCRIPTOR, PackageError, open_package

LEVELS = ("patch", "minor", "major")

# Package properties that change with every publication, not with the content.
VOLATILE_PACKAGE = {"version", "created", "resources"}
IDENTITY_PACKAGE = {"name", "id"}
# Resource properties: sizes and hashes follow the rows, compared on their own.
VOLATILE_RESOURCE = {"bytes", "hash", "schema", "parquet", "name"}
STRUCTURAL_RESOURCE = {"path", "format", "mediatype", "encoding", "dialect", "type", "profile"}
DESCRIPTIVE = {
    "title",
    "description",
    "example",
    "categories",
    "categoriesOrdered",
    "rdfType",
    "$schema",
}
# Constraints where a larger value accepts more (maximum...) or fewer (minimum...) values.
LARGER_IS_LOOSER = {"maximum", "exclusiveMaximum", "maxLength"}
LARGER_IS_TIGHTER = {"minimum", "exclusiveMinimum", "minLength"}
FLAGS = {"required", "unique"}


def higher(a: str | None, b: str | None) -> str | None:
    """The higher of two levels (None for no change)."""
    if a is None or b is None:
        return a or b
    return a if LEVELS.index(a) >= LEVELS.index(b) else b


@dataclass
class Change:
    level: str
    where: str  # "package" or a resource name
    message: str


@dataclass
class TableRows:
    table: str
    key: list[str]
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[tuple[str, str, str]]] = field(
        default_factory=dict
    )  # id -> (field, old, new)

    @property
    def level(self) -> str | None:
        if self.removed:
            return "major"
        if self.added:
            return "minor"
        return "patch" if self.changed else None


@dataclass
class PackageDiff:
    old: str
    new: str
    old_version: str | None
    new_version: str | None
    changes: list[Change] = field(default_factory=list)
    tables: list[TableRows] = field(default_factory=list)

    @property
    def bump(self) -> str | None:
        """The bump the differences need; None when the packages hold the same content."""
        level = None
        for item in [*self.changes, *self.tables]:
            level = higher(level, item.level)
        return level

    @property
    def identical(self) -> bool:
        return self.bump is None


def show(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


# ---- schemas ----


def diff_constraint(name: str, key: str, old, new) -> Change:
    where = f"field {name}: constraint {key}"
    if key in FLAGS:
        tighter = bool(new) and not bool(old)
        return Change(
            "major" if tighter else "minor",
            "",
            f"{where} {show(bool(old))} -> {show(bool(new))} "
            f"({'tightened' if tighter else 'loosened'})",
        )
    if old is None:
        return Change("major", "", f"{where} added: {show(new)} (tightened)")
    if new is None:
        return Change("minor", "", f"{where} removed: was {show(old)} (loosened)")
    if key == "enum":
        if set(map(show, new)) == set(map(show, old)):
            return Change("patch", "", f"{where} reordered: {show(old)} -> {show(new)}")
        tighter = not set(map(show, old)) <= set(map(show, new))
    elif key in LARGER_IS_LOOSER | LARGER_IS_TIGHTER:
        try:
            larger = new > old
        except TypeError:
            larger = None
        tighter = larger is None or larger == (key in LARGER_IS_TIGHTER)
    else:
        tighter = True  # a changed pattern or unknown constraint: cannot tell, assume tighter
    label = "tightened" if tighter else "loosened"
    return Change(
        "major" if tighter else "minor", "", f"{where} {show(old)} -> {show(new)} ({label})"
    )


def diff_field(old: dict, new: dict) -> list[Change]:
    name = new["name"]
    changes = []
    for key in sorted((set(old) | set(new)) - {"name", "constraints"}):
        if old.get(key) == new.get(key):
            continue
        if key == "type":
            changes.append(
                Change("major", "", f"field {name}: retyped {old.get(key)} -> {new.get(key)}")
            )
        elif key in DESCRIPTIVE:
            changes.append(Change("patch", "", f"field {name}: {key} changed"))
        else:
            changes.append(
                Change(
                    "major", "", f"field {name}: {key} {show(old.get(key))} -> {show(new.get(key))}"
                )
            )
    old_c, new_c = old.get("constraints", {}), new.get("constraints", {})
    for key in sorted(set(old_c) | set(new_c)):
        same = (
            bool(old_c.get(key)) == bool(new_c.get(key))
            if key in FLAGS
            else old_c.get(key) == new_c.get(key)
        )
        if not same:
            changes.append(diff_constraint(name, key, old_c.get(key), new_c.get(key)))
    return changes


def diff_schema(old: dict, new: dict) -> list[Change]:
    old_fields = {f["name"]: f for f in old.get("fields", [])}
    new_fields = {f["name"]: f for f in new.get("fields", [])}
    old_names, new_names = list(old_fields), list(new_fields)
    removed = [n for n in old_names if n not in new_fields]
    added = [n for n in new_names if n not in old_fields]
    changes = []
    for name in list(removed):
        position = old_names.index(name)
        twin = new_names[position] if position < len(new_names) else None
        if twin in added and new_fields[twin].get("type") == old_fields[name].get("type"):
            changes.append(Change("major", "", f"field {name} renamed to {twin}"))
            removed.remove(name)
            added.remove(twin)
    changes += [Change("major", "", f"field {name} removed") for name in removed]
    changes += [Change("major", "", f"field {name} added") for name in added]
    kept_old = [n for n in old_names if n in new_fields]
    kept_new = [n for n in new_names if n in old_fields]
    if kept_old != kept_new:
        changes.append(
            Change("major", "", f"fields reordered: {', '.join(kept_old)} -> {', '.join(kept_new)}")
        )
    for name in kept_new:
        changes += diff_field(old_fields[name], new_fields[name])
    if old.get("primaryKey") != new.get("primaryKey"):
        changes.append(
            Change(
                "major",
                "",
                f"primary key {show(old.get('primaryKey'))} -> {show(new.get('primaryKey'))}",
            )
        )
    old_fks = {show(fk) for fk in old.get("foreignKeys", [])}
    new_fks = {show(fk) for fk in new.get("foreignKeys", [])}
    changes += [
        Change("major", "", f"foreign key added: {fk} (tightened)")
        for fk in sorted(new_fks - old_fks)
    ]
    changes += [
        Change("minor", "", f"foreign key removed: {fk} (loosened)")
        for fk in sorted(old_fks - new_fks)
    ]
    for key in sorted((set(old) | set(new)) - {"fields", "primaryKey", "foreignKeys"}):
        if old.get(key) != new.get(key):
            level = "patch" if key in DESCRIPTIVE else "major"
            changes.append(
                Change(level, "", f"schema {key} {show(old.get(key))} -> {show(new.get(key))}")
            )
    return changes


# ---- rows ----


def read_rows(folder: Path, resource: dict, label: str) -> tuple[list[str], list[dict]]:
    """Header and rows of a CSV resource of the package `label` (in `folder`), read only from inside it."""
    try:
        binary = reader.open_member(folder, resource.get("path"))
    except PackageError as exc:
        raise PackageError(f"{label}: resource {resource['name']}: {exc}") from None
    path = folder / resource["path"]
    try:
        with io.TextIOWrapper(
            binary, encoding=resource.get("encoding", "utf-8"), newline=""
        ) as handle:
            rows = csv.DictReader(handle)
            return list(rows.fieldnames or []), list(rows)
    except (OSError, UnicodeDecodeError, LookupError, csv.Error) as exc:
        raise PackageError(
            f"{path}: cannot read the rows of resource {resource.get('name')} ({exc})"
        ) from None
    finally:
        binary.close()


def diff_rows(
    old_dir: Path,
    old_res: dict,
    new_dir: Path,
    new_res: dict,
    labels: tuple[str, str] = ("old", "new"),
) -> TableRows | None:
    old_header, old_rows = read_rows(old_dir, old_res, labels[0])
    new_header, new_rows = read_rows(new_dir, new_res, labels[1])
    for key in (
        new_res.get("schema", {}).get("primaryKey"),
        old_res.get("schema", {}).get("primaryKey"),
    ):
        if key and all(k in old_header and k in new_header for k in key):
            break
    else:
        return None
    before = {",".join(row[k] for k in key): row for row in old_rows}
    after = {",".join(row[k] for k in key): row for row in new_rows}
    columns = [c for c in new_header if c in old_header]
    table = TableRows(new_res["name"], list(key))
    table.added = sorted(after.keys() - before.keys())
    table.removed = sorted(before.keys() - after.keys())
    for row_id in sorted(before.keys() & after.keys()):
        old_row, new_row = before[row_id], after[row_id]
        fields = [(c, old_row[c], new_row[c]) for c in columns if old_row[c] != new_row[c]]
        if fields:
            table.changed[row_id] = fields
    return table if table.level else None


# ---- packages ----


def read_descriptor(folder: Path) -> dict:
    """The descriptor of the package in `folder` (read by reader.read_descriptor: bounded, confined),
    refused unless its resources are a list of objects, each with a name."""
    descriptor = reader.read_descriptor(folder)
    path = folder / DESCRIPTOR
    resources = descriptor.get("resources", [])
    if not isinstance(resources, list) or not all(
        isinstance(r, dict) and r.get("name") for r in resources
    ):
        raise PackageError(
            f"{path}: not a data package descriptor (needs a list of named resources)"
        )
    return descriptor


def diff_resource(old_dir: Path, old: dict, new_dir: Path, new: dict, result: PackageDiff) -> None:
    name = new["name"]
    changes = []
    for key in sorted((set(old) | set(new)) - VOLATILE_RESOURCE):
        if old.get(key) != new.get(key):
            level = "major" if key in STRUCTURAL_RESOURCE else "patch"
            message = (
                f"{key} changed"
                if level == "patch"
                else f"{key} {show(old.get(key))} -> {show(new.get(key))}"
            )
            changes.append(Change(level, "", message))
    old_twin = {k: v for k, v in (old.get("parquet") or {}).items() if k not in {"bytes", "hash"}}
    new_twin = {k: v for k, v in (new.get("parquet") or {}).items() if k not in {"bytes", "hash"}}
    if old_twin != new_twin:
        changes.append(Change("major", "", f"parquet {show(old_twin)} -> {show(new_twin)}"))
    changes += diff_schema(old.get("schema", {}), new.get("schema", {}))
    result.changes += [Change(c.level, name, c.message) for c in changes]
    if old.get("format", "csv") == "csv" and new.get("format", "csv") == "csv":
        rows = diff_rows(old_dir, old, new_dir, new, (result.old, result.new))
        if rows is not None:
            result.tables.append(rows)
        elif old.get("hash") != new.get("hash") and not changes:
            result.changes.append(Change("patch", name, "file changed, rows the same"))


def diff_packages(
    old: Path, new: Path, old_label: str | None = None, new_label: str | None = None
) -> PackageDiff:
    """Every difference between the packages in folders `old` and `new`."""
    before, after = read_descriptor(old), read_descriptor(new)
    result = PackageDiff(
        old_label or str(old), new_label or str(new), before.get("version"), after.get("version")
    )
    for key in sorted((set(before) | set(after)) - VOLATILE_PACKAGE):
        if before.get(key) != after.get(key):
            level = "major" if key in IDENTITY_PACKAGE else "patch"
            result.changes.append(
                Change(
                    level,
                    "package",
                    f"{key} {show(before.get(key))} -> {show(after.get(key))}"
                    if level == "major"
                    else f"{key} changed",
                )
            )
    old_res = {r.get("name"): r for r in before.get("resources", [])}
    new_res = {r.get("name"): r for r in after.get("resources", [])}
    removed = [n for n in old_res if n not in new_res]
    added = [n for n in new_res if n not in old_res]
    for name in list(removed):
        fields = [
            (f.get("name"), f.get("type"))
            for f in old_res[name].get("schema", {}).get("fields", [])
        ]
        twin = next(
            (
                a
                for a in added
                if fields
                and fields
                == [
                    (f.get("name"), f.get("type"))
                    for f in new_res[a].get("schema", {}).get("fields", [])
                ]
            ),
            None,
        )
        if twin is not None:
            result.changes.append(Change("major", "package", f"resource {name} renamed to {twin}"))
            removed.remove(name)
            added.remove(twin)
    result.changes += [Change("major", "package", f"resource {name} removed") for name in removed]
    result.changes += [Change("minor", "package", f"resource {name} added") for name in added]
    kept_old = [n for n in old_res if n in new_res]
    kept_new = [n for n in new_res if n in old_res]
    if kept_old != kept_new:
        result.changes.append(
            Change(
                "major",
                "package",
                f"resources reordered: {', '.join(kept_old)} -> {', '.join(kept_new)}",
            )
        )
    for name in kept_new:
        diff_resource(old, old_res[name], new, new_res[name], result)
    return result


def diff_specs(old: str, new: str) -> PackageDiff:
    """Compare two packages given as folders, descriptors, release zips or git:REV."""
    with open_package(old) as old_dir, open_package(new) as new_dir:
        try:
            return diff_packages(old_dir, new_dir, old, new)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise PackageError(
                f"{old} or {new}: malformed descriptor ({type(exc).__name__}: {exc})"
            ) from None


# ---- reports ----


def to_dict(result: PackageDiff) -> dict:
    return {
        "old": {"package": result.old, "version": result.old_version},
        "new": {"package": result.new, "version": result.new_version},
        "identical": result.identical,
        "bump": result.bump,
        "changes": [
            {"level": c.level, "where": c.where, "message": c.message} for c in result.changes
        ],
        "tables": {
            t.table: {
                "key": t.key,
                "added": t.added,
                "removed": t.removed,
                "changed": {
                    ident: {f: {"old": o, "new": n} for f, o, n in fields}
                    for ident, fields in t.changed.items()
                },
            }
            for t in result.tables
        },
    }


def render_text(result: PackageDiff) -> str:
    lines = [
        f"--- {result.old} (version {result.old_version})",
        f"+++ {result.new} (version {result.new_version})",
    ]
    if result.identical:
        return "\n".join(lines + ["no differences"]) + "\n"
    if result.changes:
        lines.append("schema and metadata:")
        lines += [f"  {c.level:<5}  {c.where}: {c.message}" for c in result.changes]
    if result.tables:
        lines.append("rows:")
    for t in result.tables:
        lines.append(
            f"  {t.table}: {len(t.added)} added, {len(t.removed)} removed, {len(t.changed)} changed"
        )
        lines += [f"    + {ident}" for ident in t.added]
        lines += [f"    - {ident}" for ident in t.removed]
        for ident, fields in t.changed.items():
            lines.append(
                f"    ~ {ident}: " + "; ".join(f"{f}: {show(o)} -> {show(n)}" for f, o, n in fields)
            )
    lines.append(f"required bump: {result.bump}")
    return "\n".join(lines) + "\n"
