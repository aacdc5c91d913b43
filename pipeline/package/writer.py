"""Write built tables as a data package: CSV and Parquet per table, datapackage.json.

Bytes are deterministic: rows sorted by primary key, fixed CSV dialect, pinned
Parquet writer, no wall-clock time anywhere but the `created` value handed in.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import hashlib
import json
import operator
from pathlib import Path

import yaml

from pipeline.contract import schemas

PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"


def package_metadata() -> dict:
    with open(schemas.SCHEMAS_DIR / "package.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def sorted_rows(table: str, rows: list[dict]) -> list[dict]:
    pk = schemas.primary_key(table)
    return sorted(rows, key=lambda row: row[pk])


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _cells(rows: list[dict], names: list[str]) -> list[tuple]:
    """Each row's values in the order of `names`; taken in C, unless a row lacks one (None there)."""
    getter = operator.itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
    try:
        return list(map(getter, rows))
    except KeyError:
        return [tuple(row.get(name) for name in names) for row in rows]


def write_csv(handle, table: str, rows: list[dict]) -> None:
    """The rows as CSV into the text `handle`, each cell as csv_cell writes it."""
    writer = csv.writer(handle, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    fields = schemas.fields(table)
    names = [f["name"] for f in fields]
    writer.writerow(names)
    cells = _cells(rows, names)
    # The csv module already writes None as "", str() of text, integers and dates and
    # repr() of floats, as csv_cell does: only booleans need converting.
    flags = [index for index, f in enumerate(fields) if f["type"] == "boolean"]
    if flags:
        cells = [
            tuple(csv_cell(value) if index in flags else value for index, value in enumerate(row))
            for row in cells
        ]
    writer.writerows(cells)


def arrow_schema(table: str, package_name: str, version: str):
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "integer": pa.int64(),
        "number": pa.float64(),
        "date": pa.date32(),
        "boolean": pa.bool_(),
    }
    arrow_fields = [
        pa.field(
            f["name"],
            types[f["type"]],
            nullable=not schemas.required(f),
            metadata={"description": f.get("description", "")},
        )
        for f in schemas.fields(table)
    ]
    return pa.schema(
        arrow_fields,
        metadata={
            "datapackage.name": package_name,
            "datapackage.version": version,
            "datapackage.resource": table,
        },
    )


def write_parquet(
    path: Path, table: str, rows: list[dict], package_name: str, version: str
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema(table, package_name, version)
    columns = (
        dict(zip(schema.names, map(list, zip(*_cells(rows, schema.names)))))
        if rows
        else {name: [] for name in schema.names}
    )
    arrow_table = pa.Table.from_pydict(columns, schema=schema)
    pq.write_table(
        arrow_table,
        path,
        compression="zstd",
        use_dictionary=schemas.code_list_columns(table),
        write_statistics=True,
        store_schema=True,
    )


def file_facts(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return path.stat().st_size, "sha256:" + digest.hexdigest()


def resource_schema(table: str) -> dict:
    schema = copy.deepcopy(schemas.table_schema(table))
    for fk in schema.get("foreignKeys", []):
        if fk["reference"].get("resource") == table:
            del fk["reference"]["resource"]  # v2: no resource means this same resource
    return schema


def _resource(out: Path, table: str) -> dict:
    """The CSV resource, with its Parquet twin described under "parquet".

    frictionless-py 5.21 cannot check bytes or hash on Parquet and reads nullable
    integers as floats, so Parquet files declared as resources could never pass
    `frictionless validate`. The twin shares the resource's schema and rows and is
    checked (bytes, hash, rows, types) by `pipeline validate`.
    """
    raw = schemas.raw_schema(table)
    csv_path, parquet_path = f"data/{table}.csv", f"data/{table}.parquet"
    csv_size, csv_hash = file_facts(out / csv_path)
    parquet_size, parquet_hash = file_facts(out / parquet_path)
    return {
        "name": table,
        "type": "table",
        "path": csv_path,
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "title": raw["title"],
        "description": raw["description"].strip(),
        "bytes": csv_size,
        "hash": csv_hash,
        "parquet": {
            "path": parquet_path,
            "format": "parquet",
            "mediatype": "application/vnd.apache.parquet",
            "bytes": parquet_size,
            "hash": parquet_hash,
        },
        "schema": resource_schema(table),
    }


def descriptor(out: Path, version: str, created: str, sources: list[dict]) -> dict:
    meta = package_metadata()
    package = {
        "$schema": PROFILE,
        "name": meta["name"],
        "id": meta["id"],
        "version": version,
        "created": created,
        "title": meta["title"],
        "description": meta["description"].strip(),
        "licenses": meta["licenses"],
        "contributors": meta["contributors"],
        "keywords": meta["keywords"],
    }
    package["sources"] = [
        {
            "title": f"{row['publisher']}: {row['title']} ({row['published_date'].isoformat()})",
            **({"path": row["url"]} if row.get("url") else {}),
        }
        for row in sources
    ]
    package["resources"] = [_resource(out, table) for table in schemas.TABLES]
    return package


def write_package(out: Path, rows: dict[str, list[dict]], version: str, created: str) -> None:
    """Write the package into the empty or absent folder `out`."""
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    name = package_metadata()["name"]
    ordered = {table: sorted_rows(table, rows[table]) for table in schemas.TABLES}
    for table in schemas.TABLES:
        with open(data / f"{table}.csv", "w", encoding="utf-8", newline="") as handle:
            write_csv(handle, table, ordered[table])
        write_parquet(data / f"{table}.parquet", table, ordered[table], name, version)
    package = descriptor(out, version, created, ordered["sources"])
    (out / "datapackage.json").write_text(
        json.dumps(package, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
