"""The published package as a SQLite database to explore, with its Datasette metadata beside it.

`build_database(package, out)` writes `out/<name>-<version>.db` and
`out/<name>-<version>.metadata.json` (every `.` of the name and version as `_`: `file_stem`). Every
table of the package becomes a table with its columns in order and the SQLite type of its field type
(SQLITE_TYPES: dates as ISO text, booleans as 0/1), NULL for an empty cell, NOT NULL for a required
field, its primary key, its foreign keys (REFERENCES), and an index on every foreign-key column,
every unique field and every unique key. Evidence has a full-text index of `exact` (FTS5,
`evidence_fts`). SQLite keeps no comments, so three tables say what the rest is: `_package` (name,
version, created, licence, the descriptor's sha256, and which command wrote the file), `_tables`
(title, description, row count) and `_columns` (position, type, required, description, code list).
The metadata file tells Datasette the same: titles, descriptions, licence, sources, column
descriptions, units, facets on code-list columns, the full-text table, a default sort and the label
of each table that keys point at.

The package is read only through `pipeline.package.reader`, its cells typed by `from_csv`. Both
files are written to a temporary file in `out` and renamed into place; an existing file is replaced
only when it says this command wrote it (the `_package` table, the metadata's WRITTEN_BY key),
otherwise Refused (exit 2) before anything is written. The bytes depend only on the package: tables,
rows (in file order, which is primary-key order), indexes and metadata are written in a fixed order,
with no clock, by the same SQLite library (its version is in the file's header). No VACUUM: it may
renumber the rowids the full-text index refers to, and a file written once, with nothing deleted,
has no free pages.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import sqlite3
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from pipeline.contract.fieldtypes import from_csv
from pipeline.contract.problems import InputError, Problem
from pipeline.package.atomic import Refused
from pipeline.package.reader import (
    DESCRIPTOR,
    PackageError,
    read_descriptor_bytes,
    read_descriptor_with_resources,
    read_text_rows,
)

WRITER = "pipeline database"  # recorded in both files; only such files are ever replaced
WRITTEN_BY = "written_by"  # the key saying so, in `_package` and in the metadata
# Table Schema type -> SQLite column type; any other type is stored as its text.
SQLITE_TYPES = {"integer": "INTEGER", "number": "REAL", "boolean": "INTEGER", "date": "TEXT"}
PACKAGE_TABLE, TABLES_TABLE, COLUMNS_TABLE = "_package", "_tables", "_columns"
FULL_TEXT = {"evidence": ["exact"]}  # table -> columns searched in Datasette
# Datasette shows a key as the label of the row it points at: the first of these the row has.
LABEL_COLUMNS = ("name", "title", "phrase", "summary")
# The name and version make a file name: one plain component, never a path or a hidden file.
FILE_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
VALIDATE_HINT = "run 'pipeline validate' on the package"
VALIDATE = f"{VALIDATE_HINT} to see every fault"
DESCRIPTIONS = {
    PACKAGE_TABLE: "Facts about the package this database was written from, one per row.",
    TABLES_TABLE: "Every table of the package: its title, description and number of rows.",
    COLUMNS_TABLE: "Every column of every table: its type, whether it is required, what it means, "
    "and its code list (JSON) where it has one.",
}


@dataclass
class Database:
    path: Path
    metadata: Path
    rows: dict[str, int]


def build_database(package: Path, out: Path) -> Database:
    """Write the SQLite database of the package in folder `package`, and its Datasette metadata,
    into the folder `out` (created if missing)."""
    descriptor = read_descriptor_with_resources(find_package(package))
    stem = file_stem(package, descriptor)
    path, metadata_path = out / f"{stem}.db", out / f"{stem}.metadata.json"
    refuse_foreign_database(path)
    refuse_foreign_metadata(metadata_path)
    resources = in_reference_order(package, descriptor["resources"])
    rows = {r["name"]: read_rows(package, r) for r in resources}
    digest = hashlib.sha256(read_descriptor_bytes(package)).hexdigest()
    metadata = datasette_metadata(descriptor, stem)
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_beside(
            path, lambda temp: write_sqlite(temp, package, descriptor, resources, rows, digest)
        )
        write_beside(metadata_path, lambda temp: temp.write_text(to_json(metadata), "utf-8"))
    except OSError as exc:
        raise PackageError(f"{out}: cannot write the database ({exc.strerror or exc})") from None
    return Database(path, metadata_path, {name: len(table) for name, table in rows.items()})


def find_package(package: Path) -> Path:
    """`package`, when it holds a descriptor; PackageError saying to publish first otherwise."""
    if not os.path.lexists(package / DESCRIPTOR):
        raise PackageError(f"{package}: no {DESCRIPTOR}; run 'pipeline publish' first")
    return package


def database_path(package: Path, out: Path) -> Path:
    """Where `build_database(package, out)` writes the database (`make explore` asks)."""
    descriptor = read_descriptor_with_resources(find_package(package))
    return out / f"{file_stem(package, descriptor)}.db"


def file_stem(package: Path, descriptor: dict) -> str:
    """`<name>-<version>` with every `.` as `_` (karabakh-2020-news-events-1_0_1), the name of both
    files and of the database in Datasette; PackageError unless it is a plain file name.

    Datasette escapes a `.` in a database name in its URLs (`1~2E0~2E1`), but Datasette 0.65 links
    a foreign key to its row with the name unescaped, a link that fails with a server error."""
    stem = f"{descriptor.get('name')}-{descriptor.get('version')}"
    if not FILE_STEM.fullmatch(stem):
        raise PackageError(
            f"{package / DESCRIPTOR}: name and version {stem!r} do not make a file name "
            "(letters, digits, '-', '.' and '_', starting with a letter or digit)"
        )
    return stem.replace(".", "_")


def refuse_foreign_database(path: Path) -> None:
    """Refused unless `path` is absent or a SQLite database whose `_package` says WRITER wrote
    it."""
    if not os.path.lexists(path):
        return
    _refuse_unless_regular(path)
    try:
        with opened(path) as db:
            found = db.execute(
                f"select value from {PACKAGE_TABLE} where key = ?", (WRITTEN_BY,)
            ).fetchone()
    except sqlite3.Error:
        found = None
    if found != (WRITER,):
        raise Refused(
            f"{path}: not a database '{WRITER}' wrote, so it is not replaced "
            "(move it away, or choose another --out)"
        )


def refuse_foreign_metadata(path: Path) -> None:
    """Refused unless `path` is absent or JSON whose WRITTEN_BY key says WRITER wrote it."""
    if not os.path.lexists(path):
        return
    _refuse_unless_regular(path)
    try:
        found = json.loads(path.read_bytes()[: 16 * 2**20]).get(WRITTEN_BY)
    except (OSError, ValueError, AttributeError):
        found = None
    if found != WRITER:
        raise Refused(
            f"{path}: not metadata '{WRITER}' wrote, so it is not replaced "
            "(move it away, or choose another --out)"
        )


def _refuse_unless_regular(path: Path) -> None:
    if not stat.S_ISREG(os.lstat(path).st_mode):
        raise Refused(
            f"{path}: not a regular file (a link, folder, device or FIFO), so it is not replaced "
            "(move it away, or choose another --out)"
        )


def in_reference_order(package: Path, resources: list[dict]) -> list[dict]:
    """The resources in descriptor order, except that each comes after those its foreign keys
    point at: sqlite-utils creates a table only once the tables it references exist."""
    waiting = {r["name"]: r for r in resources}
    order: list[dict] = []
    while waiting:
        ready = next((r for r in waiting.values() if not (targets(r) & waiting.keys())), None)
        if ready is None:
            raise PackageError(
                f"{package / DESCRIPTOR}: the foreign keys of {', '.join(waiting)} point in a "
                "circle, so no SQLite table can be created first"
            )
        order.append(waiting.pop(ready["name"]))
    return order


def targets(resource: dict) -> set[str]:
    """The other tables the foreign keys of `resource` point at."""
    keys = resource.get("schema", {}).get("foreignKeys", [])
    return {k["reference"].get("resource") or resource["name"] for k in keys} - {resource["name"]}


def read_rows(package: Path, resource: dict) -> list[dict]:
    """The rows of one resource, each cell typed by its field (dates as ISO text, empty as None);
    PackageError for a header other than the schema's fields, a row with too few or too many cells,
    or a cell its type cannot hold (rows numbered as records, the header being 1). The text rows are
    read, not `read_typed_rows`, which cannot tell a missing cell from one that reads "None"."""
    fields = resource["schema"]["fields"]
    kinds = {f["name"]: f.get("type", "string") for f in fields}
    file = package / str(resource.get("path"))
    header, rows = read_text_rows(package, resource, str(package))
    if header != list(kinds):
        raise PackageError(
            f"{file}: header {header} is not the fields of its schema {list(kinds)}; {VALIDATE}"
        )
    typed = []
    for number, row in enumerate(rows, start=2):
        extra = row.pop(None, [])  # csv.DictReader's place for cells beyond the header
        if extra or None in row.values():  # and its value for cells missing
            cells = sum(v is not None for v in row.values()) + len(extra)
            raise PackageError(
                f"{file}: row {number} has {cells} cells, not {len(header)}; {VALIDATE}"
            )
        try:
            typed.append({name: typed_cell(kinds[name], text) for name, text in row.items()})
        except ValueError as exc:
            raise PackageError(f"{file}: row {number}: {exc}; {VALIDATE}") from None
    return typed


def typed_cell(kind: str, text: str) -> object:
    """The value SQLite stores for the text of a CSV cell: by its type, a date as its ISO text."""
    value = from_csv(kind, text)
    return value.isoformat() if isinstance(value, dt.date) else value


def write_beside(path: Path, write: Callable[[Path], object]) -> None:
    """Write `path` through a fresh temporary file beside it (created exclusively), renamed into
    place once synced to disk; `write(temp)` fills it. The temporary file goes on any failure."""
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    temp = Path(name)
    try:
        write(temp)
        os.chmod(temp, 0o644)
        with open(temp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temp, path)
    finally:
        if os.path.lexists(temp):
            os.unlink(temp)


def write_sqlite(
    path: Path,
    package: Path,
    descriptor: dict,
    resources: list[dict],
    rows: dict[str, list[dict]],
    digest: str,
) -> None:
    """The database of the package in folder `package` into the empty file `path`: the tables,
    their rows and indexes, the full-text index, then `_package`, `_tables` and `_columns`;
    InputError, naming the package's files, when the rows break a key."""
    files = {r["name"]: str(package / r["path"]) for r in resources}
    with contextlib.closing(sqlite3.connect(path)) as connection:
        # No journal and no syncs: the file is a temporary one, discarded unless complete, and
        # synced once before it is renamed into place. sqlite-utils commits each batch of rows;
        # measured on 84,000 rows (1,000 synthetic documents), median of 3 on a busy machine:
        # 32.8 s wall and 4.0 s CPU with a sync per commit, 7.1 s and 2.5 s without.
        connection.execute("pragma journal_mode = off")
        connection.execute("pragma synchronous = off")
        db = sqlite_utils.Database(connection)
        with connection:
            for resource in resources:
                create_table(db, files[resource["name"]], resource, rows[resource["name"]])
            for table, columns in FULL_TEXT.items():
                if db.table(table).exists():
                    db.table(table).enable_fts(columns)
            write_about(db, descriptor, resources, rows, digest)
        broken = connection.execute("pragma foreign_key_check").fetchall()
        if broken:
            raise InputError([broken_reference(db, files, *fault) for fault in broken])


def create_table(db: sqlite_utils.Database, file: str, resource: dict, rows: list[dict]) -> None:
    """One table of the package: columns, keys, indexes and rows."""
    schema, name = resource["schema"], resource["name"]
    fields = schema["fields"]
    table = db.table(name)
    table.create(
        {f["name"]: SQLITE_TYPES.get(f.get("type", ""), "TEXT") for f in fields},
        pk=primary_key(schema),
        not_null=[f["name"] for f in fields if f.get("constraints", {}).get("required")],
        foreign_keys=[
            (
                key["fields"][0],
                key["reference"].get("resource") or name,
                key["reference"]["fields"][0],
            )
            for key in single_column_keys(schema)
        ],
    )
    try:
        table.insert_all(rows, batch_size=1000)
    except sqlite3.IntegrityError as exc:
        raise InputError([Problem(file, None, f"{exc}", name, hint=VALIDATE_HINT)]) from None
    for columns, unique in indexes(schema):
        table.create_index(columns, index_name=f"{name}_{'_'.join(columns)}", unique=unique)


def primary_key(schema: dict) -> str | tuple[str, ...] | None:
    key = schema.get("primaryKey")
    if isinstance(key, str):
        return key
    if isinstance(key, list) and key:
        return key[0] if len(key) == 1 else tuple(key)
    return None


def single_column_keys(schema: dict) -> list[dict]:
    """The foreign keys of a table: each is one column here, as every key this project declares."""
    keys = schema.get("foreignKeys", [])
    for key in keys:
        if len(key["fields"]) != 1:
            raise PackageError(
                f"foreign key {key['fields']}: only keys of one column are written to SQLite"
            )
    return keys


def indexes(schema: dict) -> list[tuple[list[str], bool]]:
    """(columns, unique) of each index: every unique key and unique field (the primary key has its
    own), then every foreign-key column, each once, in declaration order."""
    key = schema.get("primaryKey")
    primary = [key] if isinstance(key, str) else list(key or [])
    wanted: list[tuple[list[str], bool]] = [(list(k), True) for k in schema.get("uniqueKeys", [])]
    wanted += [
        ([f["name"]], True)
        for f in schema["fields"]
        if f.get("constraints", {}).get("unique") and [f["name"]] != primary
    ]
    for foreign in schema.get("foreignKeys", []):
        columns = list(foreign["fields"])
        if columns != primary and all(columns != have for have, _ in wanted):
            wanted.append((columns, False))
    return wanted


def broken_reference(
    db: sqlite_utils.Database,
    files: dict[str, str],
    table: str,
    rowid: int,
    target: str,
    index: int,
) -> Problem:
    """A row of `table` (by rowid) whose foreign key number `index` (as SQLite numbers them) finds
    no row in `target`."""
    keys = {key[0]: key[3] for key in db.execute(f"pragma foreign_key_list([{table}])")}
    column, pk = keys[index], db.table(table).pks[0]
    found = db.execute(f"select [{pk}], [{column}] from [{table}] where rowid = ?", [rowid])
    record, value = found.fetchone()
    return Problem(
        files[table],
        None,
        f"{value!r} is not a {target} key",
        f"{table}/{record}",
        column,
        VALIDATE_HINT,
    )


def write_about(
    db: sqlite_utils.Database,
    descriptor: dict,
    resources: list[dict],
    rows: dict[str, list[dict]],
    digest: str,
) -> None:
    """`_package`, `_tables` and `_columns`: what SQLite itself cannot say about the tables."""
    licences = descriptor.get("licenses") or [{}]
    facts = {
        "name": descriptor.get("name"),
        "version": descriptor.get("version"),
        "title": descriptor.get("title"),
        "created": descriptor.get("created"),
        "license": licences[0].get("name"),
        "descriptor_sha256": digest,
        WRITTEN_BY: WRITER,
    }
    db.table(PACKAGE_TABLE).insert_all(
        [{"key": key, "value": value} for key, value in facts.items()],
        pk="key",
        columns={"key": str, "value": str},
    )
    db.table(TABLES_TABLE).insert_all(
        [
            {
                "table_name": r["name"],
                "title": r.get("title"),
                "description": r.get("description"),
                "rows": len(rows[r["name"]]),
            }
            for r in resources
        ],
        pk="table_name",
    )
    db.table(COLUMNS_TABLE).insert_all(
        [
            {
                "table_name": r["name"],
                "column_name": field["name"],
                "position": position,
                "type": field.get("type", "string"),
                "sqlite_type": SQLITE_TYPES.get(field.get("type", ""), "TEXT"),
                "required": int(bool(field.get("constraints", {}).get("required"))),
                "description": field.get("description"),
                "categories": to_json(field["categories"]) if "categories" in field else None,
            }
            for r in resources
            for position, field in enumerate(r["schema"]["fields"], start=1)
        ],
        pk=("table_name", "column_name"),
        columns={"categories": str},
        foreign_keys=[("table_name", TABLES_TABLE, "table_name")],
    )


def to_json(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def datasette_metadata(descriptor: dict, stem: str) -> dict:
    """Datasette's metadata for the database `stem` (its file name without `.db`)."""
    licences = descriptor.get("licenses") or [{}]
    sources = descriptor.get("sources") or []
    metadata = {
        "title": descriptor.get("title"),
        "description": descriptor.get("description"),
        "license": licences[0].get("name"),
        "license_url": licences[0].get("path"),
        "source": "; ".join(s["title"] for s in sources if s.get("title")),
        "source_url": next((s["path"] for s in sources if s.get("path")), None),
        WRITTEN_BY: WRITER,
        "databases": {
            stem: {
                "title": f"{descriptor.get('title')} {descriptor.get('version')}",
                "description": descriptor.get("description"),
                "tables": {
                    **{r["name"]: table_metadata(r) for r in descriptor["resources"]},
                    **{name: {"description": text} for name, text in DESCRIPTIONS.items()},
                },
            }
        },
    }
    return {key: value for key, value in metadata.items() if value not in (None, "")}


def table_metadata(resource: dict) -> dict:
    """What Datasette shows of one table: title, description, columns, units, facets, sort, label,
    full-text search."""
    fields = resource["schema"]["fields"]
    names = [f["name"] for f in fields]
    dated = [f["name"] for f in fields if f.get("type") == "date"]
    key = primary_key(resource["schema"])
    table = {
        "title": resource.get("title"),
        "description": resource.get("description"),
        "columns": {f["name"]: f["description"] for f in fields if f.get("description")},
        "units": {f["name"]: f["unit"] for f in fields if f.get("unit")},
        "facets": [f["name"] for f in fields if "categories" in f],
        "sort": dated[0] if dated else key if isinstance(key, str) else None,
        "label_column": next((n for n in LABEL_COLUMNS if n in names), None),
    }
    if resource["name"] in FULL_TEXT:
        table.update(fts_table=f"{resource['name']}_fts", fts_pk="rowid")
    return {key: value for key, value in table.items() if value not in (None, "", {}, [])}


@contextlib.contextmanager
def opened(path: Path) -> Iterator[sqlite3.Connection]:
    """The database at `path`, read only."""
    with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
        yield db
