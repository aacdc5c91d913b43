"""Plant package-level errors into a published package, and tell which a validator report found.

`plant_package_errors(folder)` edits the CSV and Parquet files and datapackage.json of a
copy of a published package: type errors, a required value missing, enum and pattern
violations, a duplicate primary key, dangling foreign keys (to another resource, to the
same resource, and evidence pointing at no record), a uniqueKeys duplicate, a category
violation, a Parquet twin that differs from its CSV and hashes that do not match. The
descriptor's bytes and hashes are then brought up to date, except where a hash
mismatch is the planted error, so each planted error stands alone.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path


def _facts(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return path.stat().st_size, "sha256:" + digest


def _edit_csv(path: Path, edits: dict[int, dict]) -> None:
    """Rewrite `path` with cells changed: {row index: {column: new value or callable(row)}}."""
    temp = path.with_suffix(".tmp")
    with (
        open(path, encoding="utf-8", newline="") as src,
        open(temp, "w", encoding="utf-8", newline="") as dst,
    ):
        reader, writer = csv.reader(src), csv.writer(dst, lineterminator="\n")
        header = next(reader)
        writer.writerow(header)
        previous = None
        for index, row in enumerate(reader):
            for column, value in edits.get(index, {}).items():
                row[header.index(column)] = (
                    value(row, previous, header) if callable(value) else value
                )
            writer.writerow(row)
            previous = row
    temp.replace(path)


def row_count(folder: Path) -> int:
    descriptor = json.loads((folder / "datapackage.json").read_text())
    total = 0
    for resource in descriptor["resources"]:
        with open(folder / resource["path"], encoding="utf-8", newline="") as handle:
            total += sum(1 for _ in csv.reader(handle)) - 1
    return total


def _rows(folder: Path, resource: str) -> int:
    with open(folder / "data" / f"{resource}.csv", encoding="utf-8", newline="") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def plant_package_errors(folder: Path) -> list[dict]:
    """Plant the errors into the package in `folder`; returns each one's resource, format, row,
    field and the error types that count as finding it."""
    import pyarrow.parquet as pq

    descriptor_path = folder / "datapackage.json"
    descriptor = json.loads(descriptor_path.read_text())
    resources = {r["name"]: r for r in descriptor["resources"]}
    planted: list[dict] = []

    def plan(kind, resource, index, field, types, fmt="csv"):
        planted.append(
            {
                "kind": kind,
                "resource": resource,
                "format": fmt,
                "rowNumber": None if index is None else index + 2,
                "fieldName": field,
                "types": types,
            }
        )

    edits: dict[str, dict[int, dict]] = {}

    def cell(kind, resource, index, field, value, types):
        edits.setdefault(resource, {}).setdefault(index, {})[field] = value
        plan(kind, resource, index, field, types)

    events, statements, reports, evidence = (
        _rows(folder, r) for r in ("events", "statements", "casualty_reports", "evidence")
    )
    cell("type error (date)", "events", events // 3, "date_start", "2020-13-45", ["type-error"])
    cell(
        "type error (integer)",
        "casualty_reports",
        reports // 2,
        "killed_low",
        "many",
        ["type-error"],
    )
    cell("required value missing", "events", events // 2, "summary", "", ["constraint-error"])
    cell(
        "enum violation",
        "events",
        2 * events // 3,
        "claim_status",
        "rumoured",
        ["constraint-error"],
    )
    cell("pattern violation", "actors", 5, "country", "Azerbaijan", ["constraint-error"])
    cell("minimum violation", "evidence", evidence // 5, "start", "-5", ["constraint-error"])
    cell(
        "duplicate primary key",
        "statements",
        statements // 2,
        "statement_id",
        lambda row, prev, header: prev[0],
        ["primary-key"],
    )
    cell(
        "dangling foreign key (other resource)",
        "casualty_reports",
        reports // 3,
        "claimant_actor_id",
        "no-such-actor",
        ["foreign-key"],
    )
    cell(
        "dangling foreign key (self-reference)",
        "statements",
        statements // 3,
        "responds_to_statement_id",
        "no-such-statement",
        ["foreign-key"],
    )
    cell(
        "evidence pointing at no record",
        "evidence",
        evidence // 3,
        "record_id",
        "no-such-record",
        ["foreign-key"],
    )
    key = ["source_id", "record_table", "record_id", "start", "end"]
    index = evidence // 2
    for column in key:
        edits.setdefault("evidence", {}).setdefault(index, {})[column] = (
            lambda row, prev, header, column=column: prev[header.index(column)]
        )
    plan("uniqueKeys duplicate", "evidence", index, ", ".join(key), ["unique-key-error"])
    # categories without enum: frictionless has nothing to check the values against
    actor_type = next(
        f for f in resources["actors"]["schema"]["fields"] if f["name"] == "actor_type"
    )
    actor_type["constraints"].pop("enum", None)
    cell("category violation", "actors", 7, "actor_type", "alien", ["category-error"])
    for resource, changes in edits.items():
        _edit_csv(folder / "data" / f"{resource}.csv", changes)
    # the Parquet twin of events differs in one row
    twin = folder / resources["events"]["parquet"]["path"]
    table = pq.read_table(twin)
    at = min(events // 4, table.num_rows - 1)  # the scale step's twins hold fewer rows
    summary = table.column("summary").to_pylist()
    summary[at] = summary[at] + " (edited)"
    import pyarrow as pa

    table = table.set_column(
        table.column_names.index("summary"),
        table.schema.field("summary"),
        pa.chunked_array([pa.array(summary, pa.string())]),
    )
    pq.write_table(table, twin, compression="zstd")
    plan("Parquet twin differs from CSV", "events", at, "summary", ["twin-mismatch"], fmt="parquet")

    for resource in descriptor["resources"]:
        resource["bytes"], resource["hash"] = _facts(folder / resource["path"])
        resource["parquet"]["bytes"], resource["parquet"]["hash"] = _facts(
            folder / resource["parquet"]["path"]
        )
    resources["places"]["hash"] = "sha256:" + "0" * 64
    plan("CSV hash mismatch", "places", None, None, ["hash-count"])
    resources["sources"]["parquet"]["hash"] = "sha256:" + "0" * 64
    plan("Parquet hash mismatch", "sources", None, None, ["hash-count"], fmt="parquet")
    resources["count_conventions"]["parquet"]["bytes"] += 1
    plan(
        "Parquet byte count mismatch",
        "count_conventions",
        None,
        None,
        ["byte-count"],
        fmt="parquet",
    )
    descriptor_path.write_text(json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n")
    return planted


def _errors(report: dict):
    for task in report.get("tasks", []):
        fmt = task.get("format") or (
            "parquet" if str(task.get("place", "")).endswith(".parquet") else "csv"
        )
        for error in task.get("errors", []):
            yield task.get("name"), fmt, error


def found(planted: list[dict], report: dict) -> list[bool]:
    """For each planted error, whether `report` (ours or frictionless's --json) has it."""
    seen = list(_errors(report))
    result = []
    for error in planted:
        hit = False
        for name, fmt, e in seen:
            if (
                name != error["resource"]
                or fmt != error["format"]
                or e.get("type") not in error["types"]
            ):
                continue
            if error["rowNumber"] is not None and e.get("rowNumber") != error["rowNumber"]:
                continue
            fields = {e.get("fieldName"), *(e.get("fieldNames") or [])}
            if (
                error["fieldName"] is not None
                and error["fieldName"] not in fields
                and e.get("type") not in ("primary-key",)
            ):
                continue
            hit = True
            break
        result.append(hit)
    return result


def error_count(report: dict) -> int:
    return len(report.get("errors", [])) + sum(
        len(t.get("errors", [])) for t in report.get("tasks", [])
    )
