"""`pipeline validate` on small packages with planted errors, compared with `frictionless validate`."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.contract import schemas
from pipeline.contract.constraints import repeats
from pipeline.validate.columns import parse_column
from pipeline.validate.run import validate_path

from conftest import frictionless_report

runner = CliRunner()


@pytest.fixture
def published(published_minimal: Path) -> Path:
    """The package published from the minimal seeds (shared: only read it)."""
    return published_minimal


@pytest.fixture
def package(published_copy: Path) -> Path:
    """A copy of it, tmp_path/datapackage, to change."""
    return published_copy


def edit_cell(
    package: Path, resource: str, row: int, field: str, value: str, refresh: bool = True
) -> None:
    """Set a CSV cell (row counted as frictionless does: first data row is 2); keep bytes and hash right."""
    path = package / "data" / f"{resource}.csv"
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    rows[row - 1][rows[0].index(field)] = value
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    if refresh:
        refresh_descriptor(package)


def refresh_descriptor(package: Path) -> None:
    path = package / "datapackage.json"
    descriptor = json.loads(path.read_text())
    for resource in descriptor["resources"]:
        for described in (resource, resource["parquet"]):
            data = (package / described["path"]).read_bytes()
            described["bytes"], described["hash"] = (
                len(data),
                "sha256:" + hashlib.sha256(data).hexdigest(),
            )
    path.write_text(json.dumps(descriptor, indent=2))


ONLY_OURS = {"category-error", "unique-key-error", "twin-mismatch", "parquet-type-error"}


def errors_of(package: Path, fmt: str = "csv", comparable: bool = False) -> set[tuple]:
    """(resource, type, rowNumber, fieldName) of each error; `comparable`: only what frictionless also checks."""
    report = validate_path(package)
    return {
        (
            t.name,
            e["type"],
            e.get("rowNumber"),
            e.get("fieldName") or (e.get("fieldNames") or [None])[0],
        )
        for t in report.tasks
        if t.format == fmt
        for e in t.errors
        if not comparable
        or (e["type"] not in ONLY_OURS and e.get("fieldNames") != ["record_table", "record_id"])
    }


def frictionless_errors(package: Path) -> set[tuple]:
    _, report = frictionless_report(package / "datapackage.json")
    return {
        (
            t["name"],
            e["type"],
            e.get("rowNumber"),
            e.get("fieldName") or (e.get("fieldNames") or [None])[0],
        )
        for t in report["tasks"]
        for e in t["errors"]
    }


def test_published_package_is_valid(published: Path):
    report = validate_path(published)
    assert report.valid, report.lines()
    assert [t.format for t in report.tasks].count("parquet") == len(schemas.PACKAGE_TABLES)


@pytest.mark.parametrize(
    "resource, row, field, value, expected",
    [
        ("events", 2, "date_start", "2020-02-30", ("events", "type-error", 2, "date_start")),
        (
            "casualty_reports",
            2,
            "killed_low",
            "two",
            ("casualty_reports", "type-error", 2, "killed_low"),
        ),
        (
            "casualty_reports",
            2,
            "is_cumulative",
            "maybe",
            ("casualty_reports", "type-error", 2, "is_cumulative"),
        ),
        ("places", 2, "latitude", "north", ("places", "type-error", 2, "latitude")),
        (
            "events",
            2,
            "claim_status",
            "rumoured",
            ("events", "constraint-error", 2, "claim_status"),
        ),
        ("events", 2, "summary", "", ("events", "constraint-error", 2, "summary")),
        ("actors", 3, "country", "Azerbaijan", ("actors", "constraint-error", 3, "country")),
        ("places", 2, "longitude", "200.5", ("places", "constraint-error", 2, "longitude")),
        ("evidence", 4, "start", "-1", ("evidence", "constraint-error", 4, "start")),
        ("places", 2, "geo_precision", "9", ("places", "constraint-error", 2, "geo_precision")),
        ("actors", 2, "actor_id", "azerbaijan", ("actors", "primary-key", 3, None)),
        ("events", 2, "actor1_id", "nobody", ("events", "foreign-key", 2, "actor1_id")),
        (
            "statements",
            2,
            "responds_to_statement_id",
            "nothing",
            ("statements", "foreign-key", 2, "responds_to_statement_id"),
        ),
        ("actors", 2, "parent_actor_id", "nobody", ("actors", "foreign-key", 2, "parent_actor_id")),
        (
            "casualty_reports",
            2,
            "injured_convention",
            "umpteen",
            ("casualty_reports", "foreign-key", 2, "injured_convention"),
        ),
        ("sources", 2, "url", "www.example.org/no-scheme", ("sources", "type-error", 2, "url")),
        ("sources", 2, "url", "1http://example.org", ("sources", "type-error", 2, "url")),
    ],
)
def test_planted_cell_error_found_and_agrees_with_frictionless(
    package, resource, row, field, value, expected
):
    edit_cell(package, resource, row, field, value)
    ours = errors_of(package)
    assert expected in ours
    theirs = frictionless_errors(package)
    assert expected in theirs
    assert errors_of(package, comparable=True) == theirs


def test_duplicate_key_reports_unique_and_primary_key(package):
    edit_cell(package, "actors", 2, "actor_id", "azerbaijan")
    report = validate_path(package)
    errors = [e for t in report.tasks if t.name == "actors" and t.format == "csv" for e in t.errors]
    assert [(e["type"], e["rowNumber"], e.get("note")) for e in errors] == [
        ("primary-key", 3, "the same as in the row at position 2"),
        ("unique-error", 3, "the same as in the row at position 2"),
    ]


def test_repeat_far_from_its_first_is_found(package):
    """Sorted key columns are checked in one pass; a column out of order still has every repeat located."""
    path = package / "data" / "evidence.csv"
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    first_id = rows[1][0]
    edit_cell(package, "evidence", len(rows), "evidence_id", first_id)
    report = validate_path(package)
    errors = [
        (e["type"], e["rowNumber"], e.get("note"))
        for t in report.tasks
        if t.name == "evidence" and t.format == "csv"
        for e in t.errors
        if e["type"] in ("primary-key", "unique-error")
    ]
    assert ("primary-key", len(rows), "the same as in the row at position 2") in errors


def test_cli_no_parquet_leaves_the_twins_unread(package):
    path = package / "data" / "events.parquet"
    path.write_bytes(path.read_bytes()[:-10])
    assert runner.invoke(app, ["validate", str(package)]).exit_code == 1
    result = runner.invoke(app, ["validate", str(package), "--no-parquet"])
    assert (result.exit_code, result.output) == (0, f"valid: {package}\n")
    report = json.loads(
        runner.invoke(app, ["validate", str(package), "--no-parquet", "--json"]).stdout
    )
    assert {t["format"] for t in report["tasks"]} == {"csv"}


def test_evidence_pointing_at_no_record(package):
    edit_cell(package, "evidence", 3, "record_id", "no-such-record")
    assert ("evidence", "foreign-key", 3, "record_id") in errors_of(package)
    assert ("evidence", "foreign-key", 3, "record_id") not in frictionless_errors(package)


def test_unique_keys_and_categories_frictionless_ignores(package):
    path = package / "data" / "evidence.csv"
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    key = [
        rows[0].index(name) for name in ("source_id", "record_table", "record_id", "start", "end")
    ]
    for column in key:
        rows[3][column] = rows[2][column]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    descriptor_path = package / "datapackage.json"
    descriptor = json.loads(descriptor_path.read_text())
    actors = next(r for r in descriptor["resources"] if r["name"] == "actors")
    next(f for f in actors["schema"]["fields"] if f["name"] == "actor_type")["constraints"].pop(
        "enum"
    )
    descriptor_path.write_text(json.dumps(descriptor))
    edit_cell(package, "actors", 2, "actor_type", "alien")
    ours = errors_of(package)
    assert (
        "evidence",
        "unique-key-error",
        4,
        "source_id, record_table, record_id, start, end",
    ) in ours
    assert ("actors", "category-error", 2, "actor_type") in ours
    theirs = frictionless_errors(package)
    assert not any(error[1] in ("unique-key-error", "category-error") for error in theirs)


def test_hash_and_bytes_of_both_formats(package):
    descriptor_path = package / "datapackage.json"
    descriptor = json.loads(descriptor_path.read_text())
    descriptor["resources"][0]["hash"] = "sha256:" + "0" * 64
    descriptor["resources"][1]["parquet"]["bytes"] += 1
    descriptor_path.write_text(json.dumps(descriptor))
    assert errors_of(package) == {("sources", "hash-count", None, None)}
    assert errors_of(package, "parquet") == {("count_conventions", "byte-count", None, None)}
    assert frictionless_errors(package) == {("sources", "hash-count", None, None)}


def test_parquet_twin_mismatch_and_types(package):
    import pyarrow as pa

    path = package / "data" / "events.parquet"
    table = pq.read_table(path)
    summary = table.column("summary").to_pylist()
    summary[0] = "Something else."
    table = table.set_column(
        table.column_names.index("summary"), "summary", pa.array(summary, pa.string())
    )
    table = table.set_column(
        table.column_names.index("date_start"),
        "date_start",
        pc_cast(table.column("date_start"), pa.string()),
    )
    pq.write_table(table, path)
    refresh_descriptor(package)
    assert errors_of(package, "parquet") == {
        ("events", "twin-mismatch", 2, "summary"),
        ("events", "parquet-type-error", None, "date_start"),
    }
    assert errors_of(package) == set()


URI_EXAMPLES = [
    "https://example.org/a?b#c",
    "mailto:someone@example.org",
    "urn:isbn:0451450523",
    "a:",
    "A+b-c.d:x",
    "www.example.org",
    "1http://x",
    "-a:b",
    "http//x",
    "://x",
    "?a:b",
    "#a:b",
    "/a:b",
    "a/b:c",
    "a b:c",
    "é:x",
    "h\ttp:x",
    "http\n:x",
    "http:\n",
    "x:\u00e9",
    " http://x",
    "http ://x",
    "a",
    "ht%74p:x",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(URI_EXAMPLES),
            st.text(alphabet=st.sampled_from("aZ09+.-:/?# \n\té%"), min_size=1, max_size=8),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_uri_check_agrees_with_rfc3986(values):
    """frictionless types a `uri` string with rfc3986 (scheme required); the column-wise check passes the same values."""
    import pyarrow as pa
    import rfc3986

    def rfc3986_valid(value: str) -> bool:
        try:
            rfc3986.validators.Validator().require_presence_of("scheme").validate(
                rfc3986.uri_reference(value)
            )
            return True
        except rfc3986.exceptions.ValidationError:
            return False

    _, errors = parse_column(
        pa.array(values, pa.string()), {"name": "url", "type": "string", "format": "uri"}
    )
    assert [not error for error in errors] == [rfc3986_valid(value) for value in values]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", None]), st.sampled_from([1, 2, None]), st.booleans()),
        max_size=30,
    )
)
def test_repeats_match_a_row_by_row_search(rows):
    """Every row whose key values (null equal to null) appeared before, paired with the latest such row."""
    import numpy as np
    import pyarrow as pa

    texts, numbers, skipped = zip(*rows, strict=True) if rows else ((), (), ())
    expected, last = [], {}
    for index, (text, number, skip) in enumerate(rows):
        if skip:
            continue
        if (text, number) in last:
            expected.append((index, last[(text, number)]))
        last[(text, number)] = index
    found = repeats(
        [pa.array(list(texts), pa.string()), pa.array(list(numbers), pa.int64())],
        np.array(skipped, dtype=bool),
    )
    assert found == expected


@pytest.mark.parametrize(
    "values, type_name",
    [
        (["a", "é", ""], "string"),
        ([], "string"),
        ([], "int64"),
        ([1, -2, None], "int64"),
        ([1, 2.5], "float64"),
        ([3], "float64"),
        ([True, False, None], "bool_"),
        (["2020-01-31", None], "date32"),
        (["1", "2"], "int64"),
    ],
)
def test_constant_arrays_built_from_buffers_equal_pyarrows(values, type_name):
    import pyarrow as pa

    from pipeline.contract.constraints import arrow_array as _array
    from pipeline.contract.constraints import as_mask as _mask

    kind = getattr(pa, type_name)()
    expected = (
        pa.array(values, pa.string()).cast(kind)
        if values and isinstance(values[0], str)
        else pa.array(values, kind)
    )
    assert _array(values, kind).equals(expected)
    if kind == pa.bool_():
        assert _mask(expected.slice(1)).tolist() == [False, False]


def test_repeats_on_keys_too_varied_for_one_int64():
    """Five columns of 10,000 distinct values: their codes multiply past 2**62 and are renumbered on the way."""
    import numpy as np
    import pyarrow as pa

    values = [str(i) for i in range(10_000)] + ["3"]
    columns = [pa.array(values) for _ in range(5)]
    assert repeats(columns, np.zeros(len(values), dtype=bool)) == [(10_000, 3)]
    columns[4] = pa.array(values[:-1] + ["other"])
    assert repeats(columns, np.zeros(len(values), dtype=bool)) == []


def test_validator_leaves_pandas_and_frictionless_unimported(published):
    """Neither is needed on a published package: pyarrow imports pandas on its first conversion of a Python
    value unless kept from it, and frictionless is asked only about descriptors not certainly valid."""
    code = (
        "import sys; from pathlib import Path; from pipeline.validate.run import validate_path; "
        f"report = validate_path(Path({str(published)!r})); "
        "assert report.valid; print(sorted(m for m in ('pandas', 'pandera', 'frictionless') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def pc_cast(column, to):
    import pyarrow.compute as pc

    return pc.cast(column, to)


def test_header_labels(package):
    path = package / "data" / "places.csv"
    path.write_text(path.read_text().replace("place_id,name", "place_id,title", 1))
    refresh_descriptor(package)
    ours = errors_of(package)
    assert ("places", "incorrect-label", None, "name") in ours
    assert errors_of(package, comparable=True) == frictionless_errors(package)


def test_descriptor_errors_are_package_errors(package):
    descriptor_path = package / "datapackage.json"
    descriptor = json.loads(descriptor_path.read_text())
    descriptor["resources"][0]["bytes"] = "many"
    descriptor.pop("$schema")
    descriptor_path.write_text(json.dumps(descriptor))
    report = validate_path(package)
    assert [e["type"] for e in report.errors] == ["package-error", "resource-error"]


def test_descriptor_frictionless_cannot_read_is_a_package_error(package):
    """frictionless raises on a field that is not an object; the report says so instead of crashing."""
    descriptor_path = package / "datapackage.json"
    descriptor = json.loads(descriptor_path.read_text())
    descriptor["resources"][0]["schema"]["fields"].append(True)
    descriptor_path.write_text(json.dumps(descriptor))
    result = CliRunner().invoke(app, ["validate", str(package), "--no-parquet"])
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        "package:-:-: package-error: The data package has an error: frictionless cannot "
        "read the descriptor (TypeError: argument of type 'bool' is not iterable)"
    )


def _resource_named(descriptor: dict, name: str) -> dict:
    return next(r for r in descriptor["resources"] if r["name"] == name)


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            lambda d: d["resources"].append(5),
            "package:-:-: package-error: The data package has an error: 5 is not of type "
            f"'object' at property 'resources/{len(schemas.PACKAGE_TABLES)}'",
        ),
        (
            lambda d: d.__setitem__("resources", 7),
            "package:-:-: package-error: The data package has an error: 7 is not of "
            "type 'array' at property 'resources'",
        ),
        (
            lambda d: _resource_named(d, "actors").__setitem__("path", 5),
            "package:-:-: resource-error: The data resource has "
            "an error: 5 is not of type 'string' at property 'path'",
        ),
        (
            lambda d: _resource_named(d, "actors").__setitem__("name", [1]),
            "package:-:-: resource-error: The data resource "
            "has an error: [1] is not of type 'string' at property 'name'",
        ),
        (
            lambda d: _resource_named(d, "actors")["schema"].__setitem__("foreignKeys", [5]),
            "package:-:-: package-error: The "
            "data package has an error: 5 is not of type 'object' at property 'foreignKeys/0'",
        ),
        (
            lambda d: _resource_named(d, "actors")["schema"].__setitem__("primaryKey", 5),
            "package:-:-: package-error: The "
            "data package has an error: 5 is not of type 'string' at property 'primaryKey/0'",
        ),
        (lambda d: _resource_named(d, "evidence")["schema"].__setitem__("uniqueKeys", [5]), None),
    ],
)
def test_descriptor_of_the_wrong_shape_is_reported_not_a_crash(package, change, expected):
    """Keys, paths and resources of the wrong type are frictionless's errors; the rows are checked as far as the
    rest of the descriptor allows, and nothing crashes."""
    descriptor_path = package / "datapackage.json"
    descriptor = json.loads(descriptor_path.read_text())
    change(descriptor)
    descriptor_path.write_text(json.dumps(descriptor))
    result = CliRunner().invoke(app, ["validate", str(package), "--no-parquet"])
    assert "unexpected" not in result.output
    if expected is None:  # uniqueKeys is this project's own property: frictionless does not read it
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 1
        assert expected in result.output.splitlines()


def test_zip_and_descriptor_paths(package, tmp_path):
    archive = tmp_path / "release.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in package.rglob("*"):
            zipped.write(path, Path("datapackage") / path.relative_to(package))
    assert validate_path(archive).valid
    assert validate_path(package / "datapackage.json").valid


def test_cli_valid_exit_0(package):
    result = runner.invoke(app, ["validate", str(package)])
    assert result.exit_code == 0
    assert result.output == f"valid: {package}\n"


def test_cli_invalid_exit_1_with_lines(package):
    edit_cell(package, "events", 2, "claim_status", "rumoured")
    result = runner.invoke(app, ["validate", str(package)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        'events:2:claim_status: constraint-error: The cell "rumoured" in row at position "2" and field '
        '"claim_status" at position "11" does not conform to a constraint: constraint "enum" is '
        "\"['reported', 'claimed', 'disputed', 'denied', 'unverified', 'confirmed']\"",
        'events[parquet]:2:claim_status: twin-mismatch: The Parquet twin differs from the CSV in row at position "2" '
        'and field "claim_status": CSV has "rumoured", Parquet has "denied"',
        "2 error(s) found.",
    ]


def test_cli_json_shape(package):
    edit_cell(package, "events", 2, "actor1_id", "nobody")
    result = runner.invoke(app, ["validate", str(package), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    events = next(t for t in report["tasks"] if t["name"] == "events" and t["format"] == "csv")
    error = events["errors"][0]
    assert (error["type"], error["rowNumber"], error["fieldNames"], error["referenceName"]) == (
        "foreign-key",
        2,
        ["actor1_id"],
        "actors",
    )


def test_cli_unreadable_exit_2(tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path / "absent")])
    assert result.exit_code == 2
    (tmp_path / "datapackage.json").write_text("{not json")
    assert runner.invoke(app, ["validate", str(tmp_path)]).exit_code == 2
