"""The published package in datapackage/: valid, typed, traceable, and exactly what publish builds."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.contract import schemas
from pipeline.publish import build_package, same_tree

from conftest import ROOT, frictionless_report

PACKAGE = ROOT / "datapackage"
DESCRIPTOR = json.loads((PACKAGE / "datapackage.json").read_text(encoding="utf-8"))
RESOURCES = {r["name"]: r for r in DESCRIPTOR["resources"]}
INTEGER_COLUMNS = {
    t: [f["name"] for f in schemas.fields(t) if f["type"] == "integer"] for t in schemas.TABLES
}
DATE_COLUMNS = {
    t: [f["name"] for f in schemas.fields(t) if f["type"] == "date"] for t in schemas.TABLES
}


def test_committed_package_is_what_publish_builds(tmp_path: Path):
    build_package(ROOT / "seeds", tmp_path / "fresh", PACKAGE)
    assert same_tree(PACKAGE, tmp_path / "fresh"), (
        "datapackage/ is stale: run make publish and commit it"
    )


def test_frictionless_validate_passes():
    code, report = frictionless_report(PACKAGE / "datapackage.json")
    assert report["valid"], json.dumps(report["tasks"], indent=1)[:3000]
    assert code == 0


def test_descriptor_is_data_package_v2():
    assert DESCRIPTOR["$schema"] == "https://datapackage.org/profiles/2.0/datapackage.json"
    for key in (
        "name",
        "id",
        "version",
        "created",
        "title",
        "description",
        "licenses",
        "sources",
        "contributors",
        "keywords",
    ):
        assert DESCRIPTOR[key], key
    assert list(RESOURCES) == schemas.PACKAGE_TABLES


@pytest.mark.parametrize("table", schemas.TABLES)
def test_parquet_equals_csv_with_schema_types(table: str):
    import pandas as pd

    resource = RESOURCES[table]
    parquet = pq.read_table(PACKAGE / resource["parquet"]["path"])
    assert parquet.schema.names == schemas.field_names(table)
    for name in DATE_COLUMNS[table]:
        assert str(parquet.schema.field(name).type) == "date32[day]"
    for name in INTEGER_COLUMNS[table]:
        assert str(parquet.schema.field(name).type) == "int64"
    metadata = parquet.schema.metadata
    assert metadata[b"datapackage.version"].decode() == DESCRIPTOR["version"]
    from_parquet = parquet.to_pandas(types_mapper=pd.ArrowDtype)
    dtype = {
        f["name"]: {
            "integer": "int64[pyarrow]",
            "number": "double[pyarrow]",
            "boolean": "bool[pyarrow]",
            "date": "date32[pyarrow]",
            "string": "string[pyarrow]",
        }[f["type"]]
        for f in schemas.fields(table)
    }
    from_csv = pd.read_csv(
        PACKAGE / resource["path"], dtype=str, keep_default_na=False, na_values=[""]
    )
    from_csv = from_csv.replace({"true": "True", "false": "False"})
    for name, kind in dtype.items():
        if kind == "date32[pyarrow]":
            from_csv[name] = pd.to_datetime(from_csv[name]).dt.date.astype(kind)
        elif kind == "bool[pyarrow]":
            from_csv[name] = from_csv[name].map({"True": True, "False": False}).astype(kind)
        else:
            from_csv[name] = from_csv[name].astype(kind)
    pd.testing.assert_frame_equal(from_parquet.astype(dtype), from_csv, check_dtype=True)


def test_every_evidence_span_is_its_source_text():
    import csv

    texts = {
        p.parent.name: (p.parent / "text.txt").read_text(encoding="utf-8")
        for p in (ROOT / "seeds").glob("*/source.yaml")
    }
    with open(PACKAGE / "data" / "evidence.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    for row in rows:
        assert texts[row["source_id"]][int(row["start"]) : int(row["end"])] == row["exact"], row[
            "evidence_id"
        ]


def test_every_event_statement_and_claim_has_evidence():
    import csv

    with open(PACKAGE / "data" / "evidence.csv", encoding="utf-8", newline="") as handle:
        supported = {(r["record_table"], r["record_id"]) for r in csv.DictReader(handle)}
    for table in schemas.ANNOTATED:
        with open(PACKAGE / "data" / f"{table}.csv", encoding="utf-8", newline="") as handle:
            ids = [r[schemas.primary_key(table)] for r in csv.DictReader(handle)]
        assert ids, f"{table} is empty"
        assert [i for i in ids if (table, i) not in supported] == []


@pytest.mark.parametrize("table", schemas.TABLES)
def test_analysis_tools_read_dates_as_dates_and_integers_as_integers(table: str):
    import duckdb
    import pandas as pd
    import polars as pl

    path = str(PACKAGE / "data" / f"{table}.parquet")
    relation = duckdb.sql(f"select * from '{path}'")
    duck_types = {
        column: str(kind) for column, kind in zip(relation.columns, relation.types, strict=True)
    }
    polars_schema = pl.read_parquet(path).schema
    frame = pd.read_parquet(path, dtype_backend="pyarrow")
    for name in DATE_COLUMNS[table]:
        assert duck_types[name] == "DATE"
        assert polars_schema[name] == pl.Date
        assert str(frame[name].dtype) == "date32[day][pyarrow]"
    for name in INTEGER_COLUMNS[table]:
        assert duck_types[name] == "BIGINT"
        assert polars_schema[name] == pl.Int64
        assert str(frame[name].dtype) == "int64[pyarrow]"
