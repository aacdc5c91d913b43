"""Compare two packages: metadata, resources, schemas and rows, each change with the bump it needs.

Levels follow the Frictionless "Data Package Version" recipe (DESIGN.md section 7):
major for removing, renaming, adding or reordering fields or resources, retyping,
tightening a constraint, changing keys or deleting rows; minor for a new resource,
added rows or a looser constraint; patch for corrected values and descriptive
metadata. Rows are read from the CSV resources and compared, as strings, by primary key (as Arrow
columns, or as the csv module's dicts where Arrow might read a file otherwise: `diff_rows`); the
rows of the tables publish builds from the package's history (schemas.BUILT: the changes table)
are not compared, as they record the comparison itself.
Descriptors and CSV files are read only through pipeline.package.reader, so a path that
leaves the package (absolute, `..`, a URL, a symbolic link, a FIFO or device) is an
error naming the package and the resource, and the file is never opened.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.contract import schemas
from pipeline.package import reader
from pipeline.package.reader import PackageError, open_package

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
    # Columns only the new table has, and the kept rows holding a value in them: id -> columns.
    # They are not corrections of published values (the new column is a change of its own).
    new_columns: list[str] = field(default_factory=list)
    filled: dict[str, list[str]] = field(default_factory=dict)

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
        level: str | None = None
        items: list[Change | TableRows] = [*self.changes, *self.tables]
        for item in items:
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


def _renamed(
    removed: list[str],
    added: list[str],
    twin_of: Callable[[str], str | None],
    what: str,
    where: str,
) -> list[Change]:
    """Each removed name whose twin (`twin_of(name)`, or None) was added, reported as renamed and
    taken out of both lists."""
    changes = []
    for name in list(removed):
        twin = twin_of(name)
        if twin is not None:
            changes.append(Change("major", where, f"{what} {name} renamed to {twin}"))
            removed.remove(name)
            added.remove(twin)
    return changes


def _membership(
    old_names: list[str],
    new_names: list[str],
    twin_of: Callable[[str, list[str]], str | None],
    what: str,
    where: str,
) -> list[Change]:
    """Changes in which names there are and in their order: renamed, removed, added (major; an added
    resource is minor), reordered."""
    removed = [n for n in old_names if n not in new_names]
    added = [n for n in new_names if n not in old_names]
    changes = _renamed(removed, added, lambda name: twin_of(name, added), what, where)
    changes += [Change("major", where, f"{what} {name} removed") for name in removed]
    level = "minor" if what == "resource" else "major"
    changes += [Change(level, where, f"{what} {name} added") for name in added]
    kept_old = [n for n in old_names if n in new_names]
    kept_new = [n for n in new_names if n in old_names]
    if kept_old != kept_new:
        changes.append(
            Change(
                "major", where, f"{what}s reordered: {', '.join(kept_old)} -> {', '.join(kept_new)}"
            )
        )
    return changes


def _key_changes(old: dict, new: dict) -> list[Change]:
    """The primary key and the foreign keys of two schemas compared."""
    changes = []
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
    return changes


def diff_schema(old: dict, new: dict) -> list[Change]:
    old_fields = {f["name"]: f for f in old.get("fields", [])}
    new_fields = {f["name"]: f for f in new.get("fields", [])}
    old_names, new_names = list(old_fields), list(new_fields)

    def twin_of(name: str, added: list[str]) -> str | None:
        """The field added at the removed field's place, if it has the same type."""
        position = old_names.index(name)
        twin = new_names[position] if position < len(new_names) else None
        same_type = twin in added and new_fields[twin].get("type") == old_fields[name].get("type")
        return twin if same_type else None

    changes = _membership(old_names, new_names, twin_of, "field", "")
    for name in [n for n in new_names if n in old_fields]:
        changes += diff_field(old_fields[name], new_fields[name])
    changes += _key_changes(old, new)
    for key in sorted((set(old) | set(new)) - {"fields", "primaryKey", "foreignKeys"}):
        if old.get(key) != new.get(key):
            level = "patch" if key in DESCRIPTIVE else "major"
            changes.append(
                Change(level, "", f"schema {key} {show(old.get(key))} -> {show(new.get(key))}")
            )
    return changes


# ---- rows ----


def _shared_key(old_res: dict, new_res: dict, old_header: list, new_header: list) -> list | None:
    """The primary key both headers hold: the new schema's, else the old one's; None if neither."""
    for key in (
        new_res.get("schema", {}).get("primaryKey"),
        old_res.get("schema", {}).get("primaryKey"),
    ):
        if key and all(k in old_header and k in new_header for k in key):
            return key
    return None


def diff_rows(
    old_dir: Path,
    old_res: dict,
    new_dir: Path,
    new_res: dict,
    labels: tuple[str, str] = ("old", "new"),
) -> TableRows | None:
    """The rows added, removed and changed between the CSV files of two resources, by primary key.

    Compared as Arrow columns when both files read as Arrow reads them (`_text_table`), the way
    publish's own files always do; else as the csv module reads them, a dict per row
    (`diff_text_rows`), which gives the same answer. Comparing two packages of the 10k benchmark
    corpus took 11.1 s of CPU and 915 MB more at the peak as dicts, 4.5 s and 528 MB as Arrow.
    """
    old_table = _text_table(old_dir, old_res)
    new_table = _text_table(new_dir, new_res) if old_table is not None else None
    if old_table is not None and new_table is not None:
        key = _shared_key(old_res, new_res, old_table.column_names, new_table.column_names)
        if key is None:
            return None
        keys = (_joined_keys(old_table, key), _joined_keys(new_table, key))
        if all(_distinct(found) for found in keys):  # else the dicts' last row wins
            return _diff_columns(new_res["name"], key, old_table, new_table, keys)
    del old_table, new_table
    old_header, old_rows = reader.read_text_rows(old_dir, old_res, labels[0])
    new_header, new_rows = reader.read_text_rows(new_dir, new_res, labels[1])
    return diff_text_rows(old_res, old_header, old_rows, new_res, new_header, new_rows)


def diff_text_rows(
    old_res: dict,
    old_header: list[str],
    old_rows: list[dict],
    new_res: dict,
    new_header: list[str],
    new_rows: list[dict],
) -> TableRows | None:
    """diff_rows of rows read as dicts (csv.DictReader's: a short row's missing cells are None)."""
    key = _shared_key(old_res, new_res, old_header, new_header)
    if key is None:
        return None
    before = {",".join(row[k] for k in key): row for row in old_rows}
    after = {",".join(row[k] for k in key): row for row in new_rows}
    columns = [c for c in new_header if c in old_header]
    table = TableRows(new_res["name"], list(key))
    table.new_columns = [c for c in new_header if c not in old_header]
    table.added = sorted(after.keys() - before.keys())
    table.removed = sorted(before.keys() - after.keys())
    for row_id in sorted(before.keys() & after.keys()):
        old_row, new_row = before[row_id], after[row_id]
        fields = [(c, old_row[c], new_row[c]) for c in columns if old_row[c] != new_row[c]]
        if fields:
            table.changed[row_id] = fields
        filled = [c for c in table.new_columns if new_row[c] != ""]
        if filled:
            table.filled[row_id] = filled
    return table if table.level or table.filled or table.new_columns else None


def _text_table(folder: Path, resource: dict):
    """The CSV file of `resource` as an Arrow table of text columns (an empty cell is ""), or None
    when Arrow might not read it as the csv module does: another encoding, a byte order mark, a
    header that is not one row of distinct names, a row of another width, bytes that are not
    UTF-8 (the csv module's reading then says what is wrong, if anything)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    encoding = resource.get("encoding", "utf-8")
    if not isinstance(encoding, str) or encoding.lower() not in ("utf-8", "utf8"):
        return None
    try:
        with reader.open_member(folder, resource.get("path")) as handle:
            text = io.TextIOWrapper(handle, "utf-8", newline="")
            header = next(csv.reader(text), None)
            text.detach()  # the handle stays open for Arrow
            handle.seek(0)
            if not header or len(set(header)) != len(header) or header[0].startswith("\ufeff"):
                return None
            table = pacsv.read_csv(
                handle,
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in header}
                ),
            )
    except (PackageError, OSError, UnicodeDecodeError, csv.Error, pa.ArrowInvalid):
        return None
    return table if table.column_names == header else None


def _distinct(keys) -> bool:
    import pyarrow.compute as pc

    return pc.count_distinct(keys).as_py() == len(keys)


def _diff_columns(name: str, key: list[str], old, new, keys: tuple) -> TableRows | None:
    """diff_rows of two Arrow tables of text whose `keys` (each row's, joined) are distinct: the
    keys compared as sets, then the rows both hold, each table sorted by key, column by column;
    only the rows that differ become Python values."""
    import pyarrow.compute as pc

    old_keys, new_keys = keys
    table = TableRows(name, list(key))
    table.new_columns = [c for c in new.column_names if c not in old.column_names]
    in_old, in_new = pc.is_in(new_keys, value_set=old_keys), pc.is_in(old_keys, value_set=new_keys)
    table.added = sorted(new_keys.filter(pc.invert(in_old)).to_pylist())
    table.removed = sorted(old_keys.filter(pc.invert(in_new)).to_pylist())
    # The places of the rows both hold, in the order of their keys: a column is taken in that
    # order one at a time, compared, and let go.
    old_at, new_at = _in_key_order(old_keys, in_new), _in_key_order(new_keys, in_old)
    columns = [c for c in new.column_names if c in old.column_names]
    marks = {c: pc.not_equal(old[c].take(old_at), new[c].take(new_at)) for c in columns}
    marks |= {c: pc.not_equal(new[c].take(new_at), "") for c in table.new_columns}
    rows = sorted({i for mark in marks.values() for i in pc.indices_nonzero(mark).to_pylist()})
    for index in rows:
        before, after = old_at[index].as_py(), new_at[index].as_py()
        row_id = new_keys[after].as_py()
        fields = [
            (c, old[c][before].as_py(), new[c][after].as_py())
            for c in columns
            if marks[c][index].as_py()
        ]
        if fields:
            table.changed[row_id] = fields
        filled = [c for c in table.new_columns if marks[c][index].as_py()]
        if filled:
            table.filled[row_id] = filled
    return table if table.level or table.filled or table.new_columns else None


def _in_key_order(keys, held):
    """The places of the rows `held` marks, in the order of their keys (as Python sorts text: by
    code point, which is UTF-8's byte order)."""
    import pyarrow.compute as pc

    places = pc.indices_nonzero(held)
    return places.take(pc.sort_indices(keys.take(places)))


def _joined_keys(table, key: list[str]):
    """Each row's key, its cells joined by "," as diff_text_rows joins them."""
    import pyarrow.compute as pc

    columns = [table.column(k).combine_chunks() for k in key]
    return columns[0] if len(columns) == 1 else pc.binary_join_element_wise(*columns, ",")


# ---- packages ----


def _resource_property_changes(old: dict, new: dict) -> list[Change]:
    """The resource's own properties and its Parquet twin's (sizes and hashes aside) compared."""
    changes = _property_changes(old, new, VOLATILE_RESOURCE, STRUCTURAL_RESOURCE, "")
    old_twin, new_twin = _twin_layout(old), _twin_layout(new)
    if old_twin != new_twin:
        changes.append(Change("major", "", f"parquet {show(old_twin)} -> {show(new_twin)}"))
    return changes


def _twin_layout(resource: dict) -> dict:
    """The Parquet twin's properties but sizes, hashes and the list of parts: the parts follow the
    rows (one per value), whose changes the rows' diff reports."""
    twin = resource.get("parquet") or {}
    return {k: v for k, v in twin.items() if k not in {"bytes", "hash", "parts"}}


def diff_resource(
    old_dir: Path, old: dict, new_dir: Path, new: dict, result: PackageDiff, rows: bool = True
) -> None:
    """The resource's differences into `result`: its properties and schema, and its rows unless
    `rows` is False (then its sizes and hashes are not compared either)."""
    name = new["name"]
    changes = _resource_property_changes(old, new)
    changes += diff_schema(old.get("schema", {}), new.get("schema", {}))
    result.changes += [Change(c.level, name, c.message) for c in changes]
    if not rows or old.get("format", "csv") != "csv" or new.get("format", "csv") != "csv":
        return
    if name in schemas.BUILT:
        return  # the lineage of the rows: it grows with every release, it is not data changed
    table = diff_rows(old_dir, old, new_dir, new, (result.old, result.new))
    if table is not None:
        result.tables.append(table)
    elif old.get("hash") != new.get("hash") and not changes:
        result.changes.append(Change("patch", name, "file changed, rows the same"))


def _package_property_changes(before: dict, after: dict) -> list[Change]:
    return _property_changes(before, after, VOLATILE_PACKAGE, IDENTITY_PACKAGE, "package")


def _property_changes(
    old: dict, new: dict, ignored: set[str], major: set[str], where: str
) -> list[Change]:
    """Each property but the `ignored` that differs: a `major` one shown old -> new, any other a
    patch ("changed")."""
    changes = []
    for key in sorted((set(old) | set(new)) - ignored):
        if old.get(key) != new.get(key):
            if key in major:
                message = f"{key} {show(old.get(key))} -> {show(new.get(key))}"
                changes.append(Change("major", where, message))
            else:
                changes.append(Change("patch", where, f"{key} changed"))
    return changes


def _columns(resource: dict) -> list[tuple]:
    """(name, type) of each field of a resource: a resource with the same ones was renamed."""
    return [(f.get("name"), f.get("type")) for f in resource.get("schema", {}).get("fields", [])]


def diff_descriptors(
    old: Path, before: dict, new: Path, after: dict, labels: tuple[str, str], rows: bool = True
) -> PackageDiff:
    """Every difference between the package `before` (descriptor) in folder `old` and `after` in
    `new`; `labels` name them. With `rows` False, the descriptors alone (no file is read)."""
    result = PackageDiff(*labels, before.get("version"), after.get("version"))
    result.changes += _package_property_changes(before, after)
    old_res = {r.get("name"): r for r in before.get("resources", [])}
    new_res = {r.get("name"): r for r in after.get("resources", [])}

    def twin_of(name: str, added: list[str]) -> str | None:
        """The first added resource with the removed one's fields, if it has any."""
        fields = _columns(old_res[name])
        return next((a for a in added if fields and fields == _columns(new_res[a])), None)

    result.changes += _membership(list(old_res), list(new_res), twin_of, "resource", "package")
    for name in [n for n in new_res if n in old_res]:
        diff_resource(old, old_res[name], new, new_res[name], result, rows)
    return result


def diff_packages(
    old: Path, new: Path, old_label: str | None = None, new_label: str | None = None
) -> PackageDiff:
    """Every difference between the packages in folders `old` and `new`."""
    before = reader.read_descriptor_with_resources(old)
    after = reader.read_descriptor_with_resources(new)
    return diff_descriptors(old, before, new, after, (old_label or str(old), new_label or str(new)))


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


def head_lines(result: PackageDiff, identical: bool) -> list[str]:
    """The two packages named, then "no differences" or the schema and metadata changes: how every
    diff's text begins, the rows' changes following."""
    lines = [
        f"--- {result.old} (version {result.old_version})",
        f"+++ {result.new} (version {result.new_version})",
    ]
    if identical:
        return lines + ["no differences"]
    if result.changes:
        lines.append("schema and metadata:")
        lines += [f"  {c.level:<5}  {c.where}: {c.message}" for c in result.changes]
    return lines


def render_text(result: PackageDiff) -> str:
    lines = head_lines(result, result.identical)
    if result.identical:
        return "\n".join(lines) + "\n"
    if result.tables:
        lines.append("rows:")
    for t in result.tables:
        lines.append(
            f"  {t.table}: {len(t.added)} added, {len(t.removed)} removed, {len(t.changed)} changed"
        )
        if t.filled:
            lines.append(
                f"    {len(t.filled)} with values in new columns {', '.join(t.new_columns)}"
            )
        lines += [f"    + {ident}" for ident in t.added]
        lines += [f"    - {ident}" for ident in t.removed]
        for ident, fields in t.changed.items():
            lines.append(
                f"    ~ {ident}: " + "; ".join(f"{f}: {show(o)} -> {show(n)}" for f, o, n in fields)
            )
    lines.append(f"required bump: {result.bump}")
    return "\n".join(lines) + "\n"
