"""Publish's verification (pipeline validate) reads a resource at a time and keeps only the
columns the foreign-key checks read: it reports every error, in the order and within the limits
it reports them holding every file's whole table until the end."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipeline.validate import run
from pipeline.validate.run import validate_folder

# (table, column, row index among the data rows, value): a key that points nowhere, and a value
# that breaks its own table's rules, in CSV and Parquet alike.
PLANTED = [
    ("events", "actor1_id", 0, "nobody"),
    ("statements", "responds_to_statement_id", 1, "nowhere"),
    ("evidence", "record_id", 2, "missing-record"),
    ("evidence", "source_id", 3, "missing-source"),
    ("actors", "parent_actor_id", 0, "no-parent"),
    ("changes", "record_id", 4, "Not A Slug"),
]


def plant(package: Path, table: str, column: str, index: int, value: str, fmt: str) -> None:
    if fmt == "csv":
        path = package / "data" / f"{table}.csv"
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        rows[index + 1][rows[0].index(column)] = value
        with open(path, "w", encoding="utf-8", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerows(rows)
        return
    path = package / "data" / f"{table}.parquet"
    twin = pq.read_table(path)
    at = pa.array([i == index for i in range(twin.num_rows)])
    changed = pc.if_else(at, pa.scalar(value, pa.string()), twin[column].cast(pa.string()))
    twin = twin.set_column(twin.schema.get_field_index(column), column, changed)
    pq.write_table(twin, path)


def refresh(package: Path) -> None:
    path = package / "datapackage.json"
    descriptor = json.loads(path.read_text())
    for resource in descriptor["resources"]:
        for described in (resource, resource["parquet"]):
            data = (package / described["path"]).read_bytes()
            described["bytes"] = len(data)
            described["hash"] = "sha256:" + hashlib.sha256(data).hexdigest()
    path.write_text(json.dumps(descriptor, indent=2))


def holding_every_table(monkeypatch) -> None:
    """The schedule before: every file read, then every check, on whole tables."""

    def one_group(jobs):
        return [sorted(jobs, key=lambda job: -run._size(job.path))]

    monkeypatch.setattr(run, "_by_resource", one_group)
    monkeypatch.setattr(run, "_cut", lambda table, keep: table)


@pytest.mark.parametrize("formats", [("csv",), ("parquet",), ("csv", "parquet")])
@pytest.mark.parametrize("limit", [1, 100])
def test_a_resource_at_a_time_reports_what_whole_tables_report(
    published_copy: Path, monkeypatch, formats: tuple[str, ...], limit: int
):
    for table, column, index, value in PLANTED:
        for fmt in formats:
            plant(published_copy, table, column, index, value, fmt)
    refresh(published_copy)
    report = validate_folder(published_copy, max_errors=limit).to_dict()
    holding_every_table(monkeypatch)
    assert report == validate_folder(published_copy, max_errors=limit).to_dict()
    found = {
        (task["name"], task["format"], error["type"])
        for task in report["tasks"]
        for error in task["errors"]
    }
    for fmt in formats:  # the planted keys are found in each format they were planted in
        assert ("events", fmt, "foreign-key") in found
        assert ("evidence", fmt, "foreign-key") in found or limit == 1


def test_the_cut_tables_keep_the_key_columns(published_minimal: Path):
    jobs = run._jobs(
        published_minimal,
        json.loads((published_minimal / "datapackage.json").read_text()),
        True,
        run.Report(),
    )
    assert run._key_columns(jobs) == {
        "sources": {"source_id"},
        "count_conventions": {"term"},
        "actors": {"actor_id", "parent_actor_id"},
        "places": {"place_id"},
        "events": {"event_id", "actor1_id", "actor2_id", "claimant_actor_id", "place_id"},
        "statements": {
            "statement_id",
            "speaker_actor_id",
            "target_actor_id",
            "about_event_id",
            "place_id",
            "responds_to_statement_id",
        },
        "casualty_reports": {
            "report_id",
            "claimant_actor_id",
            "affiliation_actor_id",
            "event_id",
            "place_id",
            "killed_convention",
            "injured_convention",
            "casualties_convention",
            "displaced_convention",
        },
        "evidence": {"evidence_id", "source_id", "record_table", "record_id"},
        "changes": set(),  # a key of three fields, which no foreign key names
    }
