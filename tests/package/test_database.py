"""`pipeline database`: the package as a SQLite database and its Datasette metadata, checked with
sqlite3 against the package's CSV files and descriptor, served by Datasette and asked over HTTP on
127.0.0.1, and refused where a file it did not write is in the way. Also the DuckDB route: the
Parquet twins attached as views."""

from __future__ import annotations

import collections
import csv
import io
import json
import re
import shutil
import socket
import sqlite3
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from markupsafe import escape
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.package.database import build_database, datasette_metadata

from conftest import PUBLISHED_EPOCH, ROOT, assert_refused, edit_descriptor, installed, tree

runner = CliRunner()
ABOUT_TABLES = ["_package", "_tables", "_columns"]
SQLITE_TYPES = {"integer": "INTEGER", "number": "REAL", "boolean": "INTEGER", "date": "TEXT"}


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    """The project's seeds, published into a temporary folder."""
    out = tmp_path_factory.mktemp("seeds-package") / "datapackage"
    result = runner.invoke(
        app,
        ["publish", "--seeds", str(ROOT / "seeds"), "--out", str(out)],
        env={"SOURCE_DATE_EPOCH": PUBLISHED_EPOCH},
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def descriptor(package: Path) -> dict:
    return json.loads((package / "datapackage.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def stem(descriptor: dict) -> str:
    """The files' name: <name>-<version>, dots as underscores (1.0.1 -> 1_0_1)."""
    return f"{descriptor['name']}-{descriptor['version']}".replace(".", "_")


@pytest.fixture(scope="module")
def built(package: Path, tmp_path_factory) -> Path:
    """The folder holding the database of `package` and its metadata."""
    out = tmp_path_factory.mktemp("database")
    build_database(package, out)
    return out


@pytest.fixture(scope="module")
def db(built: Path, stem: str) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(f"{(built / f'{stem}.db').as_uri()}?mode=ro", uri=True)
    yield connection
    connection.close()


def csv_rows(package: Path, resource: dict) -> list[dict]:
    with open(package / resource["path"], encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def as_csv(kind: str, value: object) -> str:
    """A SQLite value as the text of its CSV cell, by the field's type."""
    if value is None:
        return ""
    if kind == "boolean":
        assert value in (0, 1)
        return "true" if value else "false"
    if kind == "number":
        return repr(value)
    return str(value)


def test_every_table_and_only_them(db, descriptor):
    names = [
        row[0]
        for row in db.execute(
            "select name from sqlite_master where type = 'table' and name not like 'evidence_fts%' "
            "order by rowid"
        )
    ]
    assert names == [r["name"] for r in descriptor["resources"]] + ABOUT_TABLES


def test_columns_have_the_types_keys_and_required_of_the_schema(db, descriptor):
    for resource in descriptor["resources"]:
        schema = resource["schema"]
        expected = [
            (
                f["name"],
                SQLITE_TYPES.get(f["type"], "TEXT"),
                int(bool(f.get("constraints", {}).get("required"))),
                # pragma table_info numbers the primary key's columns from 1, 0 for the others
                schema["primaryKey"].index(f["name"]) + 1
                if f["name"] in schema["primaryKey"]
                else 0,
            )
            for f in schema["fields"]
        ]
        info = db.execute(f"pragma table_info([{resource['name']}])").fetchall()
        assert [(c[1], c[2], c[3], c[5]) for c in info] == expected, resource["name"]


def test_events_columns_exactly(db):
    info = [(c[1], c[2], c[3], c[5]) for c in db.execute("pragma table_info(events)")]
    assert info == [
        ("event_id", "TEXT", 1, 1),
        ("date_start", "TEXT", 1, 0),
        ("date_end", "TEXT", 1, 0),
        ("date_precision", "TEXT", 1, 0),
        ("event_type", "TEXT", 1, 0),
        ("sub_event_type", "TEXT", 1, 0),
        ("scope", "TEXT", 1, 0),
        ("actor1_id", "TEXT", 0, 0),
        ("actor2_id", "TEXT", 0, 0),
        ("place_id", "TEXT", 0, 0),
        ("claim_status", "TEXT", 1, 0),
        ("claimant_actor_id", "TEXT", 0, 0),
        ("summary", "TEXT", 1, 0),
        ("note", "TEXT", 0, 0),
    ]


def test_every_row_and_value_is_the_csv_cell(db, descriptor, package):
    for resource in descriptor["resources"]:
        kinds = {f["name"]: f["type"] for f in resource["schema"]["fields"]}
        names = list(kinds)
        stored = db.execute(
            f"select {', '.join(f'[{n}]' for n in names)} from [{resource['name']}] order by rowid"
        ).fetchall()
        as_text = [
            {n: as_csv(kinds[n], v) for n, v in zip(names, row, strict=True)} for row in stored
        ]
        assert as_text == csv_rows(package, resource), resource["name"]


def test_values_keep_their_sqlite_types(db):
    kinds = db.execute(
        "select typeof(date_start), typeof(actor1_id) from events where actor1_id is null limit 1"
    ).fetchall()
    assert kinds == [("text", "null")]
    flags = db.execute(
        "select distinct is_cumulative, typeof(is_cumulative) from casualty_reports order by 1"
    ).fetchall()
    assert flags == [(0, "integer"), (1, "integer")]
    assert db.execute("select typeof(latitude) from places where latitude is not null").fetchall()[
        0
    ] == ("real",)
    assert db.execute(
        "select count(*) from events where date_start not glob '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'"
    ).fetchone() == (0,)


def test_foreign_keys_are_the_descriptors_and_hold(db, descriptor):
    for resource in descriptor["resources"]:
        expected = sorted(
            (
                key["fields"][0],
                key["reference"].get("resource") or resource["name"],
                key["reference"]["fields"][0],
            )
            for key in resource["schema"].get("foreignKeys", [])
        )
        found = db.execute(f"pragma foreign_key_list([{resource['name']}])").fetchall()
        assert sorted((k[3], k[2], k[4]) for k in found) == expected, resource["name"]
    assert db.execute("pragma foreign_key_check").fetchall() == []
    assert db.execute("pragma integrity_check").fetchall() == [("ok",)]


def index_columns(db, table: str) -> dict[tuple[str, ...], int]:
    """(columns) -> unique, of every index of `table` but the primary key's own."""
    found = {}
    for _, name, unique, origin, _ in db.execute(f"pragma index_list([{table}])"):
        if origin != "pk":
            columns = tuple(c[2] for c in db.execute(f"pragma index_info([{name}])"))
            found[columns] = unique
    return found


def test_an_index_on_every_foreign_key_and_unique_key(db, descriptor):
    for resource in descriptor["resources"]:
        schema = resource["schema"]
        expected = {tuple(key): 1 for key in schema.get("uniqueKeys", [])}
        expected.update({tuple(key["fields"]): 0 for key in schema.get("foreignKeys", [])})
        assert index_columns(db, resource["name"]) == expected, resource["name"]


def test_evidence_indexes_exactly(db):
    assert index_columns(db, "evidence") == {
        ("source_id", "record_table", "record_id", "start", "end"): 1,
        ("source_id",): 0,
    }


def test_package_tables_and_columns_describe_the_package(db, descriptor, package):
    facts = dict(db.execute("select key, value from _package"))
    digest = __import__("hashlib").sha256((package / "datapackage.json").read_bytes()).hexdigest()
    assert facts == {
        "name": descriptor["name"],
        "version": descriptor["version"],
        "title": descriptor["title"],
        "created": descriptor["created"],
        "license": "CC-BY-4.0",
        "descriptor_sha256": digest,
        "written_by": "pipeline database",
    }
    assert db.execute("select table_name, title, description, rows from _tables").fetchall() == [
        (r["name"], r["title"], r["description"], len(csv_rows(package, r)))
        for r in descriptor["resources"]
    ]
    columns = db.execute(
        "select table_name, column_name, position, type, required, description, categories "
        "from _columns"
    ).fetchall()
    assert columns == [
        (
            r["name"],
            f["name"],
            position,
            f["type"],
            int(bool(f.get("constraints", {}).get("required"))),
            f["description"],
            json.dumps(f["categories"], indent=2, ensure_ascii=False) + "\n"
            if "categories" in f
            else None,
        )
        for r in descriptor["resources"]
        for position, f in enumerate(r["schema"]["fields"], start=1)
    ]


def test_same_package_same_bytes(package, built, stem, tmp_path):
    build_database(package, tmp_path)
    assert tree(tmp_path) == tree(built)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{stem}.db", f"{stem}.metadata.json"]


def test_metadata_of_a_table(built, stem, descriptor):
    metadata = json.loads((built / f"{stem}.metadata.json").read_text(encoding="utf-8"))
    events = next(r for r in descriptor["resources"] if r["name"] == "events")
    assert metadata["databases"][stem]["tables"]["events"] == {
        "title": "Events",
        "description": events["description"],
        "columns": {f["name"]: f["description"] for f in events["schema"]["fields"]},
        "facets": ["date_precision", "event_type", "sub_event_type", "scope", "claim_status"],
        "sort": "date_start",
        "label_column": "summary",
    }
    tables = metadata["databases"][stem]["tables"]
    assert {name: tables[name].get("label_column") for name in tables} == {
        "sources": "title",
        "count_conventions": "phrase",
        "actors": "name",
        "places": "name",
        "events": "summary",
        "statements": "summary",
        "casualty_reports": None,
        "evidence": None,
        "changes": None,
        "_package": None,
        "_tables": None,
        "_columns": None,
    }
    assert tables["evidence"]["fts_table"] == "evidence_fts"
    assert tables["evidence"]["fts_pk"] == "rowid"
    assert tables["places"]["facets"] == ["geo_precision"]
    assert tables["actors"]["sort"] == "actor_id"


def test_metadata_of_the_database(built, stem, descriptor):
    metadata = json.loads((built / f"{stem}.metadata.json").read_text(encoding="utf-8"))
    database = metadata.pop("databases")[stem]
    assert metadata == {
        "title": descriptor["title"],
        "description": descriptor["description"],
        "license": "CC-BY-4.0",
        "license_url": "https://creativecommons.org/licenses/by/4.0/",
        "source": "; ".join(s["title"] for s in descriptor["sources"]),
        "written_by": "pipeline database",
    }
    assert database["title"] == f"{descriptor['title']} {descriptor['version']}"
    assert database["description"] == descriptor["description"]


def test_units_where_the_schema_has_them(descriptor):
    copy = json.loads(json.dumps(descriptor))
    places = next(r for r in copy["resources"] if r["name"] == "places")
    for field in places["schema"]["fields"]:
        if field["name"] in ("latitude", "longitude"):
            field["unit"] = "degree"
    tables = datasette_metadata(copy, "x")["databases"]["x"]["tables"]
    assert tables["places"]["units"] == {"latitude": "degree", "longitude": "degree"}
    assert "units" not in tables["events"]


# -- Datasette, served on 127.0.0.1 --


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.status == 200
        return answer.read()


@pytest.fixture(scope="module")
def served(built: Path, stem: str) -> Iterator[str]:
    """Datasette serving the database with its metadata; the URL of the database."""
    port = free_port()
    process = subprocess.Popen(
        [
            str(installed("datasette")),
            "serve",
            "-i",
            str(built / f"{stem}.db"),
            "-m",
            str(built / f"{stem}.metadata.json"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            try:
                databases = json.loads(fetch(f"{base}/.json"))
                break
            except OSError:
                assert time.monotonic() < deadline, "Datasette did not answer within 60 s"
                time.sleep(0.2)
        yield base + databases[stem]["path"]
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


CONVERT = {"integer": int, "number": float, "boolean": lambda text: int(text == "true")}


def typed_row(resource: dict, row: dict) -> dict:
    """A CSV row of `resource` as Datasette's JSON gives it."""
    kinds = {f["name"]: f["type"] for f in resource["schema"]["fields"]}
    return {n: None if v == "" else CONVERT.get(kinds[n], str)(v) for n, v in row.items()}


def typed(package: Path, resource: dict) -> list[dict]:
    """The CSV rows of `resource` as Datasette's JSON gives them."""
    return [typed_row(resource, row) for row in csv_rows(package, resource)]


def resource_of(descriptor: dict, name: str) -> dict:
    return next(r for r in descriptor["resources"] if r["name"] == name)


def test_datasette_serves_every_row_of_a_table(served, package, descriptor):
    rows = json.loads(fetch(f"{served}/events.json?_shape=array&_size=max&_sort=event_id"))
    assert rows == typed(package, resource_of(descriptor, "events"))


def test_datasette_sorts_events_by_date_by_default(served, package, descriptor):
    rows = json.loads(fetch(f"{served}/events.json?_shape=array&_size=max"))
    expected = sorted(
        typed(package, resource_of(descriptor, "events")),
        key=lambda row: (row["date_start"], row["event_id"]),
    )
    assert rows == expected


def test_datasette_table_page_shows_the_metadata(served, descriptor):
    page = fetch(f"{served}/events").decode()
    events = resource_of(descriptor, "events")
    assert "<h1>Events</h1>" in page
    assert escape(events["description"]) in page
    date_start = events["schema"]["fields"][1]
    assert f"<dt>date_start</dt><dd>{escape(date_start['description'])}</dd>" in page


def test_datasette_links_a_foreign_key_to_its_row(served, package, descriptor):
    report = next(
        r for r in csv_rows(package, resource_of(descriptor, "casualty_reports")) if r["event_id"]
    )
    event = next(
        e
        for e in csv_rows(package, resource_of(descriptor, "events"))
        if e["event_id"] == report["event_id"]
    )
    query = urllib.parse.urlencode({"report_id": report["report_id"]})
    page = fetch(f"{served}/casualty_reports?{query}").decode()
    href = f"{urllib.parse.urlparse(served).path}/events/{report['event_id']}"
    assert f'<a href="{href}">{escape(event["summary"])}</a>' in page
    row = json.loads(fetch(f"{urllib.parse.urljoin(served, href)}.json?_shape=array"))
    assert row == [{**typed_row(resource_of(descriptor, "events"), event)}]


def test_datasette_row_page_counts_the_rows_pointing_at_it(served, package, descriptor):
    event_id = "martakert-shelling-2020-09-30"
    answer = json.loads(fetch(f"{served}/events/{event_id}.json?_extras=foreign_key_tables"))
    found = {
        (link["other_table"], link["other_column"]): link["count"]
        for link in answer["foreign_key_tables"]
    }
    claims = csv_rows(package, resource_of(descriptor, "casualty_reports"))
    statements = csv_rows(package, resource_of(descriptor, "statements"))
    assert found == {
        ("statements", "about_event_id"): sum(s["about_event_id"] == event_id for s in statements),
        ("casualty_reports", "event_id"): sum(c["event_id"] == event_id for c in claims),
    }
    assert found[("casualty_reports", "event_id")] == 1


def test_datasette_facets_a_code_list(served, package, descriptor):
    answer = json.loads(fetch(f"{served}/events.json?_facet=claim_status&_size=0"))
    results = answer["facet_results"]["claim_status"]["results"]
    counts = collections.Counter(
        r["claim_status"] for r in csv_rows(package, resource_of(descriptor, "events"))
    )
    assert {r["value"]: r["count"] for r in results} == dict(counts)


@pytest.mark.parametrize("word", ["Martakert", "ministry", "killed"])
def test_datasette_searches_the_evidence(served, package, descriptor, word):
    found = json.loads(fetch(f"{served}/evidence.json?_search={word}&_shape=array&_size=max"))
    expected = [
        r["evidence_id"]
        for r in csv_rows(package, resource_of(descriptor, "evidence"))
        if re.search(rf"\b{word}\b", r["exact"], re.IGNORECASE)
    ]
    assert expected
    assert sorted(r["evidence_id"] for r in found) == sorted(expected)


def test_datasette_answers_sql(served, package, descriptor):
    sql = "select count(*) as n from casualty_reports where is_cumulative = 0"
    answer = json.loads(fetch(f"{served}.json?sql={urllib.parse.quote(sql)}&_shape=array"))
    rows = csv_rows(package, resource_of(descriptor, "casualty_reports"))
    assert answer == [{"n": sum(r["is_cumulative"] == "false" for r in rows)}]


# -- the command --


def run(*args: str):
    return runner.invoke(app, ["database", *args])


def test_command_writes_both_files(published_minimal, tmp_path):
    descriptor = json.loads((published_minimal / "datapackage.json").read_text())
    name = f"{descriptor['name']}-{descriptor['version']}".replace(".", "_")
    out = tmp_path / "dist"
    result = run("--package", str(published_minimal), "--out", str(out))
    assert (result.exit_code, result.output) == (
        0,
        f"wrote {out}/{name}.db (9 tables, 32 rows) and {out}/{name}.metadata.json\n"
        f"explore: datasette serve -i {out}/{name}.db -m {out}/{name}.metadata.json\n",
    )
    first = tree(out)
    again = run("--package", str(published_minimal), "--out", str(out))
    assert again.exit_code == 0, again.output
    assert tree(out) == first


def foreign_database(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("create table notes (text)")
    connection.close()


REFUSALS = {
    "a text file as the database": (
        ".db",
        lambda path: path.write_text("my notes\n"),
        "{path}: not a database 'pipeline database' wrote, so it is not replaced "
        "(move it away, or choose another --out)\n",
    ),
    "another SQLite database": (
        ".db",
        foreign_database,
        "{path}: not a database 'pipeline database' wrote, so it is not replaced "
        "(move it away, or choose another --out)\n",
    ),
    "a folder as the database": (
        ".db",
        lambda path: path.mkdir(),
        "{path}: not a regular file (a link, folder, device or FIFO), so it is not replaced "
        "(move it away, or choose another --out)\n",
    ),
    "a link as the database": (
        ".db",
        lambda path: path.symlink_to("/etc/hostname"),
        "{path}: not a regular file (a link, folder, device or FIFO), so it is not replaced "
        "(move it away, or choose another --out)\n",
    ),
    "other JSON as the metadata": (
        ".metadata.json",
        lambda path: path.write_text('{"title": "mine"}\n'),
        "{path}: not metadata 'pipeline database' wrote, so it is not replaced "
        "(move it away, or choose another --out)\n",
    ),
    "text as the metadata": (
        ".metadata.json",
        lambda path: path.write_text("not json"),
        "{path}: not metadata 'pipeline database' wrote, so it is not replaced "
        "(move it away, or choose another --out)\n",
    ),
}


@pytest.mark.parametrize("suffix, plant, message", list(REFUSALS.values()), ids=list(REFUSALS))
def test_command_refuses_a_file_it_did_not_write(
    published_minimal, tmp_path, suffix, plant, message
):
    descriptor = json.loads((published_minimal / "datapackage.json").read_text())
    out = tmp_path / "dist"
    out.mkdir()
    stem = f"{descriptor['name']}-{descriptor['version']}".replace(".", "_")
    path = out / f"{stem}{suffix}"
    plant(path)
    before = tree(out)
    result = run("--package", str(published_minimal), "--out", str(out))
    assert_refused(result, 2)
    assert result.output == message.format(path=path)
    assert tree(out) == before


def rewrite(package: Path, table: str, change) -> None:
    """Replace the text of data/<table>.csv by `change(text)`."""
    path = package / "data" / f"{table}.csv"
    path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")


def actors_header(package: Path) -> str:
    return (package / "data" / "actors.csv").read_text(encoding="utf-8").splitlines()[0]


UNREADABLE = {
    "no package": (
        lambda package: shutil.rmtree(package),
        "error: {package}: no datapackage.json; run 'pipeline publish' first\n",
    ),
    "descriptor not JSON": (
        lambda package: (package / "datapackage.json").write_text("{"),
        "error: {package}/datapackage.json: not valid JSON: Expecting property name enclosed in "
        "double quotes at line 1, column 2\n",
    ),
    "a CSV file missing": (
        lambda package: (package / "data" / "sources.csv").unlink(),
        "error: {package}: resource sources: {package}/data/sources.csv: no such file\n",
    ),
    "a name that leaves --out": (
        lambda package: edit_descriptor(package, lambda d: d.update(name="../x", version="1.0.0")),
        "error: {package}/datapackage.json: name and version '../x-1.0.0' do not make a file name "
        "(letters, digits, '-', '.' and '_', starting with a letter or digit)\n",
    ),
    "a header that is not the schema's": (
        lambda package: rewrite(package, "actors", lambda text: text.replace("name,", "label,", 1)),
        "error: {package}/data/actors.csv: header ['actor_id', 'label', 'actor_type', 'country', "
        "'parent_actor_id', 'role', 'wikidata_id', 'note'] is not the fields of its schema "
        "['actor_id', 'name', 'actor_type', 'country', 'parent_actor_id', 'role', 'wikidata_id', "
        "'note']; run 'pipeline validate' on the package to see every fault\n",
    ),
    "a row with a cell missing": (
        lambda package: rewrite(package, "actors", lambda text: text + "x,y\n"),
        "error: {package}/data/actors.csv: row 4 has 2 cells, not 8; run 'pipeline validate' on "
        "the package to see every fault\n",
    ),
    "a row with a cell too many": (
        lambda package: rewrite(package, "actors", lambda text: text + "x,y,z,,,,,,extra\n"),
        "error: {package}/data/actors.csv: row 4 has 9 cells, not 8; run 'pipeline validate' on "
        "the package to see every fault\n",
    ),
    "an integer that is not one": (
        lambda package: rewrite(
            package, "evidence", lambda text: text.replace(",161,", ",161.5,", 1)
        ),
        "error: {package}/data/evidence.csv: row 2: invalid literal for int() with base 10: "
        "'161.5'; run 'pipeline validate' on the package to see every fault\n",
    ),
}


@pytest.mark.parametrize("damage, message", list(UNREADABLE.values()), ids=list(UNREADABLE))
def test_command_refuses_an_unreadable_package(published_copy, tmp_path, damage, message):
    damage(published_copy)
    result = run("--package", str(published_copy), "--out", str(tmp_path / "dist"))
    assert_refused(result, 2)
    assert result.output == message.format(package=published_copy)
    assert not (tmp_path / "dist").exists()


def test_command_refuses_rows_that_break_a_key(published_copy, tmp_path):
    events = published_copy / "data" / "events.csv"
    rows = events.read_text(encoding="utf-8").splitlines(keepends=True)
    header = rows[0].rstrip("\n").split(",")
    cells = next(csv.reader([rows[1]]))
    cells[header.index("place_id")] = "atlantis"
    line = io.StringIO()
    csv.writer(line, lineterminator="\n").writerow(cells)
    events.write_text(rows[0] + line.getvalue() + "".join(rows[2:]), encoding="utf-8")
    out = tmp_path / "dist"
    result = run("--package", str(published_copy), "--out", str(out))
    assert_refused(result, 1)
    assert result.output == (
        f"{published_copy}/data/events.csv: events/{cells[0]}: place_id: 'atlantis' is not a places key "
        "(run 'pipeline validate' on the package)\n1 problem(s) found.\n"
    )
    assert list(out.iterdir()) == []


# -- DuckDB: the Parquet twins as views (README, "Explore in Datasette") --

DUCKDB_VIEWS = """\
create view sources as from 'datapackage/data/sources.parquet';
create view actors as from 'datapackage/data/actors.parquet';
create view places as from 'datapackage/data/places.parquet';
create view events as from 'datapackage/data/events.parquet';
create view statements as from 'datapackage/data/statements.parquet';
create view casualty_reports as from 'datapackage/data/casualty_reports.parquet';
create view count_conventions as from 'datapackage/data/count_conventions.parquet';
create view evidence as from 'datapackage/data/evidence.parquet';
create view changes as from 'datapackage/data/changes.parquet';
select e.event_type, count(*) as claims, sum(c.killed_low) as killed_low
from casualty_reports c join events e using (event_id)
where not c.is_cumulative and e.scope = 'incident'
group by e.event_type order by e.event_type;
"""


def test_duckdb_views_of_the_parquet_twins(package, descriptor, monkeypatch):
    monkeypatch.chdir(package.parent)
    connection = duckdb.connect()
    *views, query = [s for s in DUCKDB_VIEWS.split(";\n") if s.strip()]
    for statement in views:
        connection.execute(statement)
    for resource in descriptor["resources"]:
        count = connection.execute(f"select count(*) from {resource['name']}").fetchone()
        assert count == (len(csv_rows(package, resource)),)
    events = {e["event_id"]: e for e in csv_rows(package, resource_of(descriptor, "events"))}
    expected: dict[str, list[int]] = {}
    for claim in csv_rows(package, resource_of(descriptor, "casualty_reports")):
        event = events.get(claim["event_id"])
        if event and event["scope"] == "incident" and claim["is_cumulative"] == "false":
            kind = events[claim["event_id"]]["event_type"]
            tally = expected.setdefault(kind, [0, 0])
            tally[0] += 1
            tally[1] += int(claim["killed_low"] or 0)
    assert connection.execute(query).fetchall() == [
        (kind, claims, killed) for kind, (claims, killed) in sorted(expected.items())
    ]
