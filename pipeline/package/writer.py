"""Write built tables as a data package: CSV and Parquet per table, datapackage.json.

Bytes are deterministic: rows sorted by primary key, fixed CSV dialect, pinned
Parquet writer, no wall-clock time anywhere but the `created` value handed in.

The Parquet twins are typed for every reader without options: each column has its field's
Arrow type (fieldtypes.field_arrow_type: a text code list is a dictionary of the whole list),
and the "pandas" metadata names the pandas dtype of each column (fieldtypes.pandas_column), so
that plain `pandas.read_parquet` gives Int64, boolean, date32 and categorical columns.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import json
import operator
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from pipeline.contract import schemas
from pipeline.contract.fieldtypes import (
    FIELD_TYPES,
    coded_text,
    field_arrow_type,
    pandas_column,
    to_csv,
)
from pipeline.package.reader import DESCRIPTOR, PART_FILE, file_facts

# The R loader publish writes beside the descriptor: it reads every table typed from it, with
# base R and jsonlite only (Debian has no package of R's arrow).
R_LOADER = "load.R"
R_LOADER_TEMPLATE = Path(__file__).parent / "templates" / R_LOADER


# `publish --partition-by` choices: the column each names. A table with that column gets its
# Parquet twin as part files, one per value; the others keep their one twin file.
PARTITIONS = {"source": "source_id"}


def partitioned_tables(partition_by: str | None) -> list[str]:
    """The package tables whose twin is split into parts under `partition_by` (None: none)."""
    if partition_by is None:
        return []
    column = PARTITIONS[partition_by]
    return [
        table
        for table in schemas.PACKAGE_TABLES
        if column in (f["name"] for f in schemas.fields(table))
    ]


def part_path(table: str, value: str) -> str:
    """The path of a part file in the package; a value that is no safe file name is refused (the
    schemas' id patterns allow none, and publish checks them first)."""
    name = f"part-{value}.parquet"
    if not isinstance(value, str) or PART_FILE.fullmatch(name) is None:
        raise ValueError(f"{table}: {value!r} cannot name a part file (a lowercase slug can)")
    return f"data/{table}/{name}"


def part_rows(table: str, rows: list[dict], partition_by: str) -> dict[str, list[dict]]:
    """The rows of each part, by value in sorted order, each in the order of `rows` (the CSV's)."""
    column = PARTITIONS[partition_by]
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row[column], []).append(row)
    return {value: groups[value] for value in sorted(groups)}


def package_metadata() -> dict:
    with open(schemas.SCHEMAS_DIR / "package.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def sorted_rows(table: str, rows: list[dict]) -> list[dict]:
    return sorted(rows, key=operator.itemgetter(schemas.primary_key(table)))


def csv_cell(value) -> str:
    """A typed value as the text of its CSV cell (fieldtypes.to_csv)."""
    return to_csv(value)


def _cells(rows: list[dict], names: list[str]) -> list[tuple]:
    """Each row's values in the order of `names`; taken in C, unless a row lacks one (None
    there)."""
    getter = operator.itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
    try:
        return list(map(getter, rows))
    except KeyError:
        return [tuple(row.get(name) for name in names) for row in rows]


# Rows of an Arrow table turned into Python values at a time when it is written as CSV.
ARROW_BATCH_ROWS = 1 << 16


def write_csv(handle, table: str, rows) -> None:
    """The rows (dicts, or an Arrow table: the changes table) as CSV into the text `handle`, each
    cell as its field type writes it."""
    writer = csv.writer(handle, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    names = [f["name"] for f in schemas.fields(table)]
    writer.writerow(names)
    if isinstance(rows, list):
        _write_cells(writer, table, _cells(rows, names))
        return
    # An Arrow table, a batch at a time: never all its rows as Python values at once. Arrow turns
    # dates into their text (ISO, as date.isoformat): the 10k corpus's changes table took 3.8 s of
    # CPU to write through a Python date per cell, 1.9 s so.
    import pyarrow as pa

    for batch in rows.select(names).to_batches(max_chunksize=ARROW_BATCH_ROWS):
        columns = [
            (column.cast(pa.string()) if pa.types.is_date32(column.type) else column).to_pylist()
            for column in batch.columns
        ]
        _write_cells(writer, table, list(zip(*columns, strict=True)))


def _conversions(table: str) -> dict[int, Callable[[Any], str]]:
    """The columns (by place) whose type writes a cell otherwise than str() does, the csv module's
    own way (it writes None as ""): booleans. str() of a date is its isoformat, as to_csv's."""
    return {
        index: FIELD_TYPES[f["type"]].to_csv
        for index, f in enumerate(schemas.fields(table))
        if FIELD_TYPES[f["type"]].to_csv is not str and FIELD_TYPES[f["type"]].python is not dt.date
    }


def _write_cells(writer, table: str, cells: list[tuple]) -> None:
    converted = _conversions(table)
    if converted and cells:
        # Column by column: only the converted columns' cells are visited in Python. Converting
        # per cell of whole rows (dates too), the 10k corpus's data tables took 6.3 s of CPU to
        # write, 5.8 s so.
        by_column = list(zip(*cells, strict=True))
        for index, convert in converted.items():
            by_column[index] = tuple(None if v is None else convert(v) for v in by_column[index])
        cells = list(zip(*by_column, strict=True))
    writer.writerows(cells)


def arrow_schema(table: str, package_name: str, version: str):
    import pyarrow as pa

    arrow_fields = [
        pa.field(
            f["name"],
            field_arrow_type(f),
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
            # What pyarrow's own pandas metadata holds, less the versions of the libraries that
            # wrote it: they would change the bytes of unchanged rows.
            "pandas": json.dumps(
                {
                    "index_columns": [],
                    "column_indexes": [],
                    "columns": [pandas_column(f) for f in schemas.fields(table)],
                }
            ),
        },
    )


def write_parquet(path: Path, table: str, rows, package_name: str, version: str) -> None:
    """The rows (dicts, or an Arrow table: the changes table) as the table's Parquet twin."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema(table, package_name, version)
    if not isinstance(rows, list):
        columns = {name: rows.column(name).combine_chunks() for name in schema.names}
    elif rows:
        cells = zip(*_cells(rows, schema.names), strict=True)
        columns = dict(zip(schema.names, map(list, cells), strict=True))
    else:
        columns = {name: [] for name in schema.names}
    arrow_table = pa.Table.from_pydict(
        {
            f["name"]: _column(columns[f["name"]], f, schema.field(f["name"]).type)
            for f in schemas.fields(table)
        },
        schema=schema,
    )
    pq.write_table(
        arrow_table,
        path,
        compression="zstd",
        # Arrow writes a dictionary column's own dictionary as the Parquet dictionary page, unused
        # values included, and the stored Arrow schema (store_schema) makes readers restore it.
        use_dictionary=schemas.code_list_columns(table),
        write_statistics=True,
        store_schema=True,
    )


def _column(values, field: dict, arrow_type):
    """The Arrow array of a column's values (a list, or an Arrow array of the field's plain type);
    a text code list's dictionary is the whole list in its order (values absent from the rows
    too), its indices the place of each value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    codes = coded_text(field)
    given = isinstance(values, pa.Array)
    if codes is None:
        return values.cast(arrow_type) if given else pa.array(values, arrow_type)
    text = values if given else pa.array(values, pa.string())
    indices = pc.index_in(text, value_set=pa.array(codes, pa.string()))
    if indices.null_count != text.null_count:  # publish checks the code lists before writing
        raise ValueError(f"{field['name']}: a value outside its code list cannot be written")
    return pa.DictionaryArray.from_arrays(
        indices.cast(arrow_type.index_type), codes, ordered=arrow_type.ordered
    )


def _sha256_facts(path: Path) -> tuple[int, str]:
    """Size and `hash` of a written file, as a resource states them."""
    size, digest = file_facts(path, "sha256")
    return size, "sha256:" + digest


def resource_schema(table: str) -> dict:
    schema = copy.deepcopy(schemas.table_schema(table))
    for fk in schema.get("foreignKeys", []):
        if fk["reference"].get("resource") == table:
            del fk["reference"]["resource"]  # v2: no resource means this same resource
    return schema


def _twin(out: Path, table: str, twins: bool, split: tuple[str, list[str]] | None) -> dict:
    """The `parquet` property: the one twin file, or (`split`: a column and its values) a part
    per value and the column they are split by; bytes and hash of each file only when `twins`."""
    values = None if split is None else split[1]
    kind = {"format": "parquet", "mediatype": "application/vnd.apache.parquet"}
    paths = [f"data/{table}.parquet"] if values is None else [part_path(table, v) for v in values]
    files: list[dict[str, object]] = [{"path": path} for path in paths]
    if values is None:  # the key order of the published descriptor: path, format, ..., hash
        files = [{**files[0], **kind}]
    if twins:
        for described in files:
            described["bytes"], described["hash"] = _sha256_facts(out / str(described["path"]))
    if values is None:
        return files[0]
    assert split is not None
    return {"parts": files, **kind, "partitionBy": split[0]}


def _resource(
    out: Path, table: str, twins: bool, split: tuple[str, list[str]] | None = None
) -> dict:
    """The CSV resource, with its Parquet twin described under "parquet" (its bytes and hash only
    when `twins`: the Parquet file is written).

    frictionless-py 5.21 cannot check bytes or hash on Parquet and reads nullable
    integers as floats, so Parquet files declared as resources could never pass
    `frictionless validate`. The twin shares the resource's schema and rows and is
    checked (bytes, hash, rows, types) by `pipeline validate`.
    """
    raw = schemas.raw_schema(table)
    csv_path = f"data/{table}.csv"
    csv_size, csv_hash = _sha256_facts(out / csv_path)
    twin = _twin(out, table, twins, split)
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
        "parquet": twin,
        "schema": resource_schema(table),
    }


def descriptor(
    out: Path,
    version: str,
    created: str,
    sources: list[dict],
    twins: bool = True,
    parts: dict[str, tuple[str, list[str]]] | None = None,
) -> dict:
    """The descriptor of the package in `out` (the Parquet twins' bytes and hash only when
    `twins`); `parts` gives the column and values each partitioned table is split by."""
    parts = parts or {}
    meta = package_metadata()
    package = {
        "$schema": schemas.PACKAGE_PROFILE,
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
    package["resources"] = [
        _resource(out, table, twins, parts.get(table)) for table in schemas.PACKAGE_TABLES
    ]
    return package


def ordered_rows(rows: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """The rows of every table, sorted by primary key as the package holds them."""
    return {table: sorted_rows(table, rows[table]) for table in schemas.TABLES}


def write_tables(
    out: Path, ordered: dict[str, list[dict]], tables: list[str] | None = None
) -> None:
    """The CSV file of each of `tables` (the data tables: they do not depend on the version) into
    `out`/data."""
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    for table in schemas.TABLES if tables is None else tables:
        with open(data / f"{table}.csv", "w", encoding="utf-8", newline="") as handle:
            write_csv(handle, table, ordered[table])


def part_values(
    ordered: dict[str, list[dict]], partition_by: str | None
) -> dict[str, tuple[str, list[str]]]:
    """The column and sorted values each partitioned table is split by (none when `partition_by`
    is None)."""
    if partition_by is None:
        return {}
    column = PARTITIONS[partition_by]
    return {
        table: (column, list(part_rows(table, ordered[table], partition_by)))
        for table in partitioned_tables(partition_by)
    }


def write_twins(
    out: Path, ordered: dict[str, list[dict]], version: str, partition_by: str | None = None
) -> None:
    """The Parquet twin of every table into `out`/data (its metadata names the version); a table
    `partition_by` splits gets a part file per value instead, each with the twin's schema."""
    name = package_metadata()["name"]
    split = partitioned_tables(partition_by)
    for table in schemas.PACKAGE_TABLES:
        if table not in split:
            write_parquet(out / "data" / f"{table}.parquet", table, ordered[table], name, version)
            continue
        assert partition_by is not None
        (out / "data" / table).mkdir(parents=True, exist_ok=True)
        for value, rows in part_rows(table, ordered[table], partition_by).items():
            write_parquet(out / part_path(table, value), table, rows, name, version)


def write_descriptor(
    out: Path,
    version: str,
    created: str,
    ordered: dict[str, list[dict]],
    partition_by: str | None = None,
) -> None:
    """datapackage.json of the package whose files are in `out`."""
    parts = part_values(ordered, partition_by)
    package = descriptor(out, version, created, ordered["sources"], parts=parts)
    (out / DESCRIPTOR).write_text(
        json.dumps(package, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def write_r_loader(out: Path) -> None:
    """load.R into `out`: the same bytes for every package, as it reads what the descriptor
    says."""
    shutil.copyfile(R_LOADER_TEMPLATE, out / R_LOADER)


def write_package(out: Path, rows: dict[str, list[dict]], version: str, created: str) -> None:
    """Write the package into the empty or absent folder `out` (`rows` of every package table)."""
    ordered = {**ordered_rows(rows), **{table: rows.get(table, []) for table in schemas.BUILT}}
    write_tables(out, ordered, schemas.PACKAGE_TABLES)
    write_twins(out, ordered, version)
    write_descriptor(out, version, created, ordered)
    write_r_loader(out)
