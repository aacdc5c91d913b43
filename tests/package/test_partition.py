"""`publish --partition-by source`: the Parquet twins of evidence and sources as one part file per
source (data/<table>/part-<source_id>.parquet), each with the whole twin's schema, listed in the
descriptor under `parquet.parts`; every reader of twins (validate, release, the catalogue files,
the datasheet, diff, read_twin) reads the parts; publishing with and without the option switches
cleanly.

The packages are published from the project's seeds (two sources) into temporary folders."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import duckdb
import mlcroissant as mlc
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.package import writer
from pipeline.package.reader import part_value, read_twin, twin_files
from tests.conftest import ROOT, assert_refused, frictionless_report, tree

runner = CliRunner()
EPOCH = {"SOURCE_DATE_EPOCH": "1601424000"}
SOURCES = ["new-arab-2020-10-07", "reuters-2020-09-30"]  # the seeds' sources, sorted
PARTITIONED = ["sources", "evidence"]  # the tables with a source_id column, in package order


def publish(out: Path, *options: str):
    return runner.invoke(
        app, ["publish", "--seeds", str(ROOT / "seeds"), "--out", str(out), *options], env=EPOCH
    )


@pytest.fixture(scope="module")
def packages(tmp_path_factory) -> dict[str, Path]:
    """The seeds published twice: with the option ("parts") and without it ("whole")."""
    folder = tmp_path_factory.mktemp("partition")
    for name, options in (("parts", ["--partition-by", "source"]), ("whole", [])):
        result = publish(folder / name, *options)
        assert result.exit_code == 0, result.output
    return {"parts": folder / "parts", "whole": folder / "whole"}


def descriptor_of(package: Path) -> dict:
    return json.loads((package / "datapackage.json").read_text(encoding="utf-8"))


def resource_of(package: Path, name: str) -> dict:
    return next(r for r in descriptor_of(package)["resources"] if r["name"] == name)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def copy_of(package: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(package, tmp_path / "datapackage"))


# ---- what publish writes ----


@pytest.mark.parametrize("table", PARTITIONED)
def test_descriptor_lists_one_part_per_source_in_sorted_order(packages, table: str):
    package = packages["parts"]
    paths = [f"data/{table}/part-{source}.parquet" for source in SOURCES]
    assert resource_of(package, table)["parquet"] == {
        "parts": [
            {
                "path": path,
                "bytes": (package / path).stat().st_size,
                "hash": "sha256:" + sha256(package / path),
            }
            for path in paths
        ],
        "format": "parquet",
        "mediatype": "application/vnd.apache.parquet",
        "partitionBy": "source_id",
    }


def test_only_the_twins_of_tables_with_a_source_column_are_split(packages):
    parts, whole = packages["parts"], packages["whole"]
    files = sorted(p.relative_to(parts / "data").as_posix() for p in (parts / "data").rglob("*"))
    tables = [r["name"] for r in descriptor_of(whole)["resources"]]
    assert files == sorted(
        [f"{t}.csv" for t in tables]
        + [f"{t}.parquet" for t in tables if t not in PARTITIONED]
        + PARTITIONED
        + [f"{t}/part-{source}.parquet" for t in PARTITIONED for source in SOURCES]
    )
    for table in tables:  # the CSV files and the whole twins are the same bytes either way
        names = [f"{table}.csv"] + ([f"{table}.parquet"] if table not in PARTITIONED else [])
        for name in names:
            assert (parts / "data" / name).read_bytes() == (whole / "data" / name).read_bytes()
        if table not in PARTITIONED:
            assert resource_of(parts, table) == resource_of(whole, table)


@pytest.mark.parametrize("table", PARTITIONED)
def test_each_part_has_the_whole_twins_schema_and_its_sources_rows_in_csv_order(
    packages, table: str
):
    whole = pq.read_table(packages["whole"] / "data" / f"{table}.parquet")
    for source in SOURCES:
        part = pq.read_table(packages["parts"] / "data" / table / f"part-{source}.parquet")
        assert part.schema.equals(whole.schema, check_metadata=True)
        wanted = whole.filter(pa.compute.equal(whole["source_id"], source))
        assert part.equals(wanted)


# ---- every reader gets the CSV's rows and types ----


# Each reads the files, or `where` they are (the twin file, or the folder of parts) as a user would.
def _pyarrow(files: list[Path], where: Path) -> pd.DataFrame:
    return ds.dataset([str(f) for f in files], format="parquet").to_table().to_pandas()


def _pandas(files: list[Path], where: Path) -> pd.DataFrame:
    return pd.read_parquet(where)


def _polars(files: list[Path], where: Path) -> pd.DataFrame:
    return (
        pl.scan_parquet(str(where if where.is_file() else where / "*.parquet"))
        .collect()
        .to_pandas()
    )


def _duckdb(files: list[Path], where: Path) -> pd.DataFrame:
    listed = ", ".join(f"'{f}'" for f in files)
    return duckdb.sql(f"select * from read_parquet([{listed}])").df()


@pytest.mark.parametrize("read", [_pyarrow, _pandas, _polars, _duckdb])
@pytest.mark.parametrize("table", PARTITIONED)
def test_parts_read_back_as_the_whole_twin_in_every_library(packages, table: str, read):
    """Each library reads the parts as it reads the whole twin (which equals the CSV: the
    typed-everywhere tests), rows and types, once sorted by the primary key."""
    folder = packages["parts"] / "data" / table
    files = [folder / f"part-{source}.parquet" for source in SOURCES]
    whole = packages["whole"] / "data" / f"{table}.parquet"
    key = resource_of(packages["whole"], table)["schema"]["primaryKey"]
    expected = read([whole], whole).sort_values(key, ignore_index=True)
    found = read(files, folder).sort_values(key, ignore_index=True)
    assert found.dtypes.to_dict() == expected.dtypes.to_dict()
    pd.testing.assert_frame_equal(found, expected)


@pytest.mark.parametrize("table", PARTITIONED)
def test_read_twin_joins_the_parts_in_the_csvs_order(packages, table: str):
    parts = read_twin(packages["parts"], resource_of(packages["parts"], table))
    whole = read_twin(packages["whole"], resource_of(packages["whole"], table))
    assert parts.equals(whole) and parts.schema.equals(whole.schema, check_metadata=True)
    csv_ids = pd.read_csv(packages["parts"] / "data" / f"{table}.csv", dtype=str).iloc[:, 0]
    assert parts.column(0).to_pylist() == csv_ids.tolist()


# ---- validate ----


@pytest.mark.parametrize("engine", ["arrow", "duckdb"])
def test_partitioned_package_is_valid_for_both_engines(packages, engine: str):
    result = runner.invoke(app, ["validate", str(packages["parts"]), "--engine", engine])
    assert (result.exit_code, result.output) == (0, f"valid: {packages['parts']}\n")


def test_partitioned_package_is_valid_for_frictionless(packages):
    code, report = frictionless_report(packages["parts"] / "datapackage.json")
    assert (code, report["valid"]) == (0, True)


def _tamper(package: Path) -> list[str]:
    """The second row of Reuters' evidence part gets other words (its hash and size change)."""
    path = package / "data" / "evidence" / f"part-{SOURCES[1]}.parquet"
    declared = next(
        p for p in twin_files(resource_of(package, "evidence")) if p["path"].endswith(path.name)
    )
    table = pq.read_table(path)
    index = table.schema.get_field_index("exact")
    cells = table.column(index).to_pylist()
    before, cells[1] = cells[1], "tampered"
    table = table.set_column(index, table.schema.field(index), pa.array(cells, pa.string()))
    pq.write_table(table, path)
    label = f"evidence[{path.name}]"
    return [
        f"{label}:-:-: hash-count: The data source does not match the expected hash count: "
        f'expected is "{declared["hash"].removeprefix("sha256:")}" and actual is '
        f'"{sha256(path)}"',
        f"{label}:-:-: byte-count: The data source does not match the expected byte count: "
        f'expected is "{declared["bytes"]}" and actual is "{path.stat().st_size}"',
        f'{label}:3:exact: twin-mismatch: The Parquet twin differs from the CSV in row at position "3"'
        f' and field "exact": CSV has "{before}", Parquet has "tampered"',
    ]


def _missing(package: Path) -> list[str]:
    name = f"part-{SOURCES[0]}.parquet"
    (package / "data" / "evidence" / name).unlink()
    return [
        f"evidence[{name}]:-:-: scheme-error: The data source could not be successfully loaded: "
        f'[Errno 2] No such file or directory: "data/evidence/{name}"'
    ]


def _undeclared(package: Path) -> list[str]:
    folder = package / "data" / "evidence"
    shutil.copyfile(folder / f"part-{SOURCES[1]}.parquet", folder / "part-extra.parquet")
    return [
        'package:-:-: undeclared-file: File "data/evidence/part-extra.parquet" is in the package '
        "but not in its descriptor: a file no resource names (remove it, or describe it in "
        "datapackage.json)"
    ]


def _dropped(package: Path) -> list[str]:
    """A part taken out of the descriptor and the folder: the CSV's rows of its source are
    held by no part."""
    descriptor = descriptor_of(package)
    resource = next(r for r in descriptor["resources"] if r["name"] == "evidence")
    resource["parquet"]["parts"] = resource["parquet"]["parts"][1:]
    (package / "data" / "evidence" / f"part-{SOURCES[0]}.parquet").unlink()
    (package / "datapackage.json").write_text(json.dumps(descriptor, indent=2), encoding="utf-8")
    first = pd.read_csv(package / "data" / "evidence.csv", dtype=str)["source_id"].tolist()
    row = first.index(SOURCES[0]) + 2
    return [
        f"evidence:{row}:source_id: twin-mismatch: The Parquet twin differs from the CSV in row at "
        f'position "{row}" and field "source_id": no part file holds the rows with source_id '
        f'"{SOURCES[0]}" (publish writes them to part-{SOURCES[0]}.parquet)'
    ]


@pytest.mark.parametrize("engine", ["arrow", "duckdb"])
@pytest.mark.parametrize("damage", [_tamper, _missing, _undeclared, _dropped])
def test_a_damaged_part_is_a_located_error(packages, tmp_path: Path, damage, engine: str):
    package = copy_of(packages["parts"], tmp_path)
    lines = damage(package)
    result = runner.invoke(app, ["validate", str(package), "--engine", engine])
    assert_refused(result)
    assert result.output.splitlines() == lines + [f"{len(lines)} error(s) found."]


# ---- release, catalogue files, datasheet ----


def test_release_zip_holds_every_part(packages, tmp_path: Path):
    result = runner.invoke(
        app, ["release", "--package", str(packages["parts"]), "--out", str(tmp_path)], env=EPOCH
    )
    assert result.exit_code == 0, result.output
    (archive,) = tmp_path.glob("*.zip")
    with zipfile.ZipFile(archive) as opened:
        parts = {
            name: opened.read(name) for name in opened.namelist() if part_value(name) is not None
        }
    assert parts == {
        f"data/{t}/part-{s}.parquet": (
            packages["parts"] / "data" / t / f"part-{s}.parquet"
        ).read_bytes()
        for t in PARTITIONED
        for s in SOURCES
    }


# rdflib 7.6 warns of its own JSON-LD parser's use of ConjunctiveGraph, which mlcroissant calls.
@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
def test_croissant_lists_each_part_and_still_loads_every_record_set(packages):
    package = packages["parts"]
    described = json.loads((package / "croissant.json").read_text(encoding="utf-8"))
    parquet = [
        f["@id"]
        for f in described["distribution"]
        if f["encodingFormat"] == "application/vnd.apache.parquet"
    ]
    assert [p for p in parquet if part_value(p) is not None] == [
        f"data/{t}/part-{s}.parquet" for t in PARTITIONED for s in SOURCES
    ]
    dataset = mlc.Dataset(str(package / "croissant.json"))
    read = {
        record_set.name: sum(1 for _ in dataset.records(record_set=record_set.uuid))
        for record_set in dataset.metadata.record_sets
    }
    rows = {
        r["name"]: len(pd.read_csv(package / r["path"], dtype=str))
        for r in descriptor_of(package)["resources"]
    }
    assert read == rows


def test_datasheet_names_the_part_files(packages):
    text = (packages["parts"] / "README.md").read_text(encoding="utf-8")
    for table in PARTITIONED:
        assert f"`data/{table}/part-*.parquet` (2 parts by `source_id`)" in text
        assert f"`data/{table}.parquet`" not in text


def test_datasheet_loading_snippets_run_on_the_parts(packages, monkeypatch):
    package = packages["parts"]
    text = (package / "README.md").read_text(encoding="utf-8")
    assert (
        "\n\nThe Parquet twins of `sources` (by `source_id`), `evidence` (by `source_id`) are "
        "split into one part file per value, `data/<table>/part-<value>.parquet`, each with the "
        "table's schema: DuckDB and polars read them together with the glob "
        "`data/<table>/*.parquet`, pandas and pyarrow with the folder `data/<table>`. The CSV "
        "files are whole.\n"
    ) in text
    sql = text.split("\nDuckDB:\n\n```sql\n", 1)[1].split("```", 1)[0]
    assert "join 'data/evidence/*.parquet' v" in sql
    monkeypatch.chdir(package)
    found = duckdb.sql(sql).fetchall()
    monkeypatch.chdir(packages["whole"])
    assert sorted(found) == sorted(duckdb.sql(sql.replace("evidence/*", "evidence")).fetchall())
    assert found


def test_schemaorg_distribution_lists_each_part(packages):
    from pipeline.package.schemaorg import dataset_json

    described = json.loads(dataset_json(descriptor_of(packages["parts"])))
    urls = [d["contentUrl"] for d in described["distribution"]]
    for table in PARTITIONED:
        assert [u for u in urls if u.startswith(f"data/{table}/")] == [
            f"data/{table}/part-{s}.parquet" for s in SOURCES
        ]


# ---- switching, and what counts as unchanged ----


def test_publish_switches_between_parts_and_whole_twins(tmp_path: Path):
    out = tmp_path / "datapackage"
    steps = [
        (["--partition-by", "source"], f"published {out} version 0.1.0"),
        (["--partition-by", "source"], f"unchanged: {out} stays at version 0.1.0"),
        ([], f"published {out} version 1.0.0 (major release)"),
        ([], f"unchanged: {out} stays at version 1.0.0"),
        (["--partition-by", "source"], f"published {out} version 2.0.0 (major release)"),
    ]
    for options, line in steps:
        result = publish(out, "--quiet", *options)
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines()[-1] == line
        files = set(tree(out / "data"))
        split = bool(options)
        for table in PARTITIONED:
            assert (f"{table}.parquet" in files) is not split
            assert {f"{table}/part-{s}.parquet" for s in SOURCES} <= files or not split
            assert not (out / "data" / table).exists() or split
        validated = runner.invoke(app, ["validate", str(out)])
        assert (validated.exit_code, validated.output) == (0, f"valid: {out}\n")


def test_a_stray_file_in_a_part_folder_is_refused(packages, tmp_path: Path):
    package = copy_of(packages["parts"], tmp_path)
    (package / "data" / "evidence" / "notes.txt").write_text("mine\n", encoding="utf-8")
    before = tree(package, stat=True)
    result = publish(package)
    assert_refused(result, code=2)
    assert "data/evidence/notes.txt" in result.output
    assert tree(package, stat=True) == before


def test_an_unknown_partition_is_a_usage_error(tmp_path: Path):
    result = publish(tmp_path / "datapackage", "--partition-by", "place")
    assert result.exit_code == 2
    words = " ".join(result.output.translate(str.maketrans("╭─╮│╰╯", "      ")).split())
    assert words == (
        "Usage: root publish [OPTIONS] Try 'root publish --help' for help. Error Invalid value "
        "for '--partition-by': Value error, 'place' is not one of 'source'."
    )
    assert not (tmp_path / "datapackage").exists()


# ---- part names ----


@given(st.text(max_size=20))
def test_a_part_path_names_its_value_or_is_refused(value: str):
    try:
        path = writer.part_path("evidence", value)
    except ValueError as exc:
        assert str(exc) == (f"evidence: {value!r} cannot name a part file (a lowercase slug can)")
    else:
        assert path == f"data/evidence/part-{value}.parquet"
        assert part_value(path) == value


@pytest.mark.parametrize("value", ["../x", "a/b", "Reuters", "-x", "", "x.parquet"])
def test_values_that_are_no_safe_file_name_are_refused(value: str):
    with pytest.raises(ValueError) as raised:
        writer.part_path("sources", value)
    assert str(raised.value) == f"sources: {value!r} cannot name a part file (a lowercase slug can)"


def test_report_table_pages_name_the_part_files(packages, tmp_path: Path):
    out = tmp_path / "report"
    args = ["report", "--package", str(packages["parts"]), "--seeds", str(ROOT / "seeds")]
    result = runner.invoke(app, [*args, "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    for table in PARTITIONED:
        page = (out / f"table-{table}.html").read_text(encoding="utf-8")
        assert f"and <code>data/{table}/part-*.parquet (2 parts)</code>." in page
    events = (out / "table-events.html").read_text(encoding="utf-8")
    assert "and <code>data/events.parquet</code>." in events
