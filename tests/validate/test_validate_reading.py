"""Reading a CSV file into rows, as frictionless reads it.

Each case is a small package written in tmp_path (a schema and the bytes of one CSV file). `pipeline validate
--no-parquet --json` must report exactly the errors listed, as (type, row, field), and frictionless's own
validator must report the same ones: rows with too many or too few cells keep every check their cells allow,
blank rows are reported and counted in the row numbers, header labels are read and named as frictionless
names them, only the schema's missing values are missing, and integers beyond int64 are integers.
"""

from __future__ import annotations

import json
from pathlib import Path

import frictionless
import pytest
from typer.testing import CliRunner

from pipeline.cli import app

from conftest import tree

runner = CliRunner()
PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
FIELDS = [
    {"name": "id", "type": "integer", "constraints": {"required": True}},
    {"name": "name", "type": "string", "constraints": {"unique": True}},
    {"name": "n", "type": "number"},
]
BIG = "9" * 20  # beyond int64


def resource(
    name: str, data: bytes, schema: dict, folder: Path, fields: list[dict] = FIELDS
) -> dict:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "data" / f"{name}.csv").write_bytes(data)
    return {
        "name": name,
        "path": f"data/{name}.csv",
        "type": "table",
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "schema": {"fields": fields, **schema},
    }


def write_package(folder: Path, *resources: dict) -> Path:
    descriptor = {"$schema": PROFILE, "name": "case", "resources": list(resources)}
    (folder / "datapackage.json").write_text(json.dumps(descriptor, indent=2), encoding="utf-8")
    return folder


def ours(package: Path) -> tuple[int, list[tuple]]:
    result = runner.invoke(app, ["validate", "--no-parquet", "--json", str(package)])
    report = json.loads(result.stdout)
    return result.exit_code, sorted(
        (e["type"], e.get("rowNumber"), e.get("fieldName") or None)
        for task in report["tasks"]
        for e in task["errors"]
    )


def theirs(package: Path) -> list[tuple]:
    report = frictionless.validate(str(package / "datapackage.json")).to_dict()
    return sorted(
        (e["type"], e.get("rowNumber"), e.get("fieldName") or None)
        for task in report["tasks"]
        for e in task["errors"]
    )


def check(folder: Path, *resources: dict) -> list[tuple]:
    """Our errors, once frictionless is shown to find the same ones and nothing but our own output changed."""
    package = write_package(folder, *resources)
    before = tree(folder)
    code, found = ours(package)
    assert tree(folder) == before
    assert code == (1 if found else 0)
    assert theirs(package) == found
    return found


HEADER = b"id,name,n\n"
CASES = {
    # class 1: a row with the wrong number of cells still gets every check its cells allow
    "short-row-cells-typed": (
        HEADER + b"1,a,1.5\nx,b\n3,c,2\n",
        {},
        [("missing-cell", 3, "n"), ("type-error", 3, "id")],
    ),
    "long-row-cells-typed": (
        HEADER + b"1,a,1.5,9,9\nx,b,q,z\n3,c,2\n",
        {},
        [
            ("extra-cell", 2, None),
            ("extra-cell", 2, None),
            ("extra-cell", 3, None),
            ("type-error", 3, "id"),
            ("type-error", 3, "n"),
        ],
    ),
    "short-rows-required-and-keys": (
        HEADER + b'1,a,1\n2,b\n"",c\n2\n',
        {"primaryKey": ["id"]},
        [
            ("constraint-error", 4, "id"),
            ("missing-cell", 3, "n"),
            ("missing-cell", 4, "n"),
            ("missing-cell", 5, "n"),
            ("missing-cell", 5, "name"),
            ("primary-key", 4, None),
            ("primary-key", 5, None),
        ],
    ),
    "long-and-short-rows-unique": (
        HEADER + b"1,a,1\n2,a,1,5\n3,a\n",
        {},
        [
            ("extra-cell", 3, None),
            ("missing-cell", 4, "n"),
            ("unique-error", 3, "name"),
            ("unique-error", 4, "name"),
        ],
    ),
    "quoted-line-breaks-in-bad-rows": (
        HEADER + b'"1,2","a\nb",3,4\n7\n',
        {},
        [
            ("extra-cell", 2, None),
            ("missing-cell", 3, "n"),
            ("missing-cell", 3, "name"),
            ("type-error", 2, "id"),
        ],
    ),
    "cell-over-csv-default-limit-in-a-long-row": (
        HEADER + b"x," + b"y" * 200_000 + b",1,2\n",
        {},
        [("extra-cell", 2, None), ("type-error", 2, "id")],
    ),
    "crlf-rows": (
        b'id,name,n\r\n1,a,1\r\n\r\n2\r\n"x\r\ny",b,c,d\r\n',
        {},
        [
            ("blank-row", 3, None),
            ("extra-cell", 5, None),
            ("missing-cell", 4, "n"),
            ("missing-cell", 4, "name"),
            ("type-error", 5, "id"),
            ("type-error", 5, "n"),
        ],
    ),
    # class 2: blank rows are reported, and counted in the row numbers
    "blank-rows-counted": (
        HEADER + b"1,a,1\n\n2,b,x\n,,\n3,c,2\n",
        {},
        [("blank-row", 3, None), ("blank-row", 5, None), ("type-error", 4, "n")],
    ),
    "trailing-empty-lines": (
        HEADER + b"1,a,1\n\n\n",
        {},
        [("blank-row", 3, None), ("blank-row", 4, None)],
    ),
    "blank-row-has-no-primary-key": (
        HEADER + b"1,a,1\n\n2,b,2\n",
        {"primaryKey": ["id", "n"]},
        [("blank-row", 3, None), ("primary-key", 3, None)],
    ),
    "short-and-long-rows-of-empty-cells-are-blank": (
        HEADER + b"1,a,1\n,\n,,,,\n",
        {},
        [("blank-row", 3, None), ("blank-row", 4, None)],
    ),
    "spaces-are-not-blank": (
        HEADER + b"1,a,1\n   \n",
        {},
        [("missing-cell", 3, "n"), ("missing-cell", 3, "name"), ("type-error", 3, "id")],
    ),
    # class 3: header labels
    "blank-label": (b"id,,n\n1,a,1\n", {}, [("blank-label", None, "name")]),
    "duplicate-label": (b"id,id,n\n1,a,1\n", {}, [("duplicate-label", None, "name")]),
    "blank-labels-are-not-duplicates": (
        b"id,,\n1,a,1\n",
        {},
        [("blank-label", None, "n"), ("blank-label", None, "name")],
    ),
    "byte-order-mark": (b"\xef\xbb\xbf" + HEADER + b"1,a,1\n", {}, []),
    "second-byte-order-mark-is-a-label": (
        b"\xef\xbb\xbf\xef\xbb\xbf" + HEADER + b"1,a,1\n",
        {},
        [("incorrect-label", None, "id")],
    ),
    "labels-stripped": (b"id, name ,n\n1,a,1\n", {}, []),
    "extra-labels-are-columns": (
        b"id,name,n,x,x\n1,a,1\n2,b,3,c,d\n",
        {},
        [
            ("extra-label", None, None),
            ("extra-label", None, None),
            ("missing-cell", 2, "x"),
            ("missing-cell", 2, "x2"),
        ],
    ),
    "fields-past-the-labels-are-not-read": (
        b"id,name\n1,a,1\n2\n",
        {},
        [("extra-cell", 2, None), ("missing-cell", 3, "name"), ("missing-label", None, "n")],
    ),
    "header-after-empty-lines": (
        b"\n\n" + HEADER + b"1,a,1\n\n2,b,x\n",
        {},
        [("blank-row", 5, None), ("type-error", 6, "n")],
    ),
    "empty-file": (b"", {}, [("source-error", None, None)]),
    # class 6: missing values are the schema's only
    "arrow-null-words-are-values": (
        HEADER + b"NA,NA,NaN\n2,null,nan\n3,N/A,NULL\n",
        {},
        [("type-error", 2, "id"), ("type-error", 4, "n")],
    ),
    "schema-missing-values": (
        HEADER + b"1,a,1\nNA,-,-\n,,\n-,x,NA\n",
        {"missingValues": ["-", "NA"]},
        [
            ("blank-row", 3, None),
            ("constraint-error", 5, "id"),
            ("type-error", 4, "id"),
            ("type-error", 4, "n"),
        ],
    ),
    "no-missing-values": (
        HEADER + b"1,,1\n,,\n\n",
        {"missingValues": []},
        [
            ("blank-row", 4, None),
            ("type-error", 3, "id"),
            ("type-error", 3, "n"),
            ("unique-error", 3, "name"),
        ],
    ),
    "missing-values-as-objects": (
        HEADER + b"1,a,1\nNA,b,-\n",
        {"missingValues": [{"value": "NA", "label": "n/a"}]},
        [("constraint-error", 3, "id"), ("type-error", 3, "n")],
    ),
    "quoted-missing-values": (
        HEADER + b'"NA","",1\n3,,\n',
        {"missingValues": ["NA"]},
        [("constraint-error", 2, "id"), ("type-error", 3, "n"), ("unique-error", 3, "name")],
    ),
    # class 8: integers beyond int64 are integers, compared as such
    "integers-beyond-int64": (
        HEADER + f"{BIG},a,1\n{BIG},b,2\n-{BIG},c,3\n".encode(),
        {"primaryKey": ["id"]},
        [("primary-key", 3, None)],
    ),
}


@pytest.mark.parametrize("data, schema, expected", CASES.values(), ids=CASES.keys())
def test_rows_read_as_frictionless_reads_them(
    data: bytes, schema: dict, expected: list, tmp_path: Path
):
    assert check(tmp_path, resource("t", data, schema, tmp_path)) == sorted(expected)


def test_field_missing_values_override_the_schema(tmp_path: Path):
    fields = [{**FIELDS[0], "missingValues": ["NA"]}, *FIELDS[1:]]
    found = check(tmp_path, resource("t", HEADER + b"NA,,\n,,\n", {}, tmp_path, fields))
    assert found == [("blank-row", 2, None), ("type-error", 3, "id")]


def test_integers_beyond_int64_meet_their_constraints(tmp_path: Path):
    fields = [{**FIELDS[0], "constraints": {"required": True, "maximum": 5}}, *FIELDS[1:]]
    table = resource("t", HEADER + f"{BIG},a,1\n-{BIG},b,2\n3,c,3\n".encode(), {}, tmp_path, fields)
    assert check(tmp_path, table) == [("constraint-error", 2, "id")]


def test_invalid_utf8_is_an_error_of_its_file_and_the_others_are_checked(tmp_path: Path):
    broken = resource("broken", HEADER + b"1,caf\xe9,1\n", {}, tmp_path)
    other = resource("other", HEADER + b"1,a,1\nx,b,2\n", {}, tmp_path)
    assert check(tmp_path, broken, other) == [
        ("encoding-error", None, None),
        ("type-error", 3, "id"),
    ]


def test_messages_name_the_row_and_label(tmp_path: Path):
    package = write_package(tmp_path, resource("t", b"id,id,\n1,a,1\n\n", {}, tmp_path))
    result = runner.invoke(app, ["validate", "--no-parquet", str(package)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        't:-:name: duplicate-label: Label "id" in the header at position "2" is duplicated to a label: at position "1"',
        't:-:n: blank-label: Label in the header in field at position "3" is blank',
        't:3:-: blank-row: Row at position "3" is completely blank',
        "3 error(s) found.",
    ]


def test_integers_over_76_digits_are_refused_where_frictionless_takes_them(tmp_path: Path):
    """No Arrow type holds them: a located type error, never a crash or a value left unchecked."""
    wide = "9" * 77
    package = write_package(
        tmp_path, resource("t", HEADER + f"{wide},a,1\n".encode(), {}, tmp_path)
    )
    result = runner.invoke(app, ["validate", "--no-parquet", str(package)])
    assert (result.exit_code, theirs(package)) == (1, [])
    assert result.output.splitlines() == [
        f't:2:id: type-error: Type error in the cell "{wide}" in row "2" and field "id" at position "1": type is '
        '"integer/default"',
        "1 error(s) found.",
    ]


@pytest.mark.parametrize(
    "data, position",
    [
        (HEADER + b"1,a,1\n2,caf\xe9,2\n", 21),
        (
            HEADER + b"1,a,1\n2,caf\xe9,2,4\n",
            21,
        ),  # in a row Arrow sets aside, which pyarrow cannot decode to show it
        (HEADER + b"1,a,1\n\xff\n", 16),
    ],
    ids=["in-a-row", "in-a-long-row", "in-a-short-row"],
)
def test_invalid_utf8_is_located_in_the_file(data: bytes, position: int, tmp_path: Path):
    package = write_package(tmp_path, resource("t", data, {}, tmp_path))
    result = runner.invoke(app, ["validate", "--no-parquet", str(package)])
    assert (result.exit_code, theirs(package)) == (1, [("encoding-error", None, None)])
    byte = data[position : position + 1].hex()
    assert result.output.splitlines() == [
        f"t:-:-: encoding-error: The data source could not be successfully decoded: 'utf-8' codec can't decode byte "
        f"0x{byte} in position {position}: invalid {'continuation' if byte == 'e9' else 'start'} byte",
        "1 error(s) found.",
    ]


@pytest.mark.parametrize("sliced_rows", [0, 1000], ids=["by-take", "between-slices"])
@pytest.mark.parametrize("bad_at", [[0], [2], [5], [0, 1, 4, 6], [3, 4, 5]])
def test_rows_set_aside_go_back_in_their_places(bad_at: list[int], sliced_rows: int, monkeypatch):
    import numpy as np
    import pyarrow as pa

    from pipeline.validate import columns

    monkeypatch.setattr(columns, "SLICED_ROWS", sliced_rows)
    total = 7
    kept = [f"k{i}" for i in range(total - len(bad_at))]
    column = pa.chunked_array(
        [kept[:2], kept[2:]], pa.string()
    )  # two chunks, as Arrow reads large files
    extra = pa.array([f"b{i}" for i in range(len(bad_at))], pa.string())
    placed = columns._placed(column, extra, np.array(bad_at, dtype=np.int64)).to_pylist()
    expected, rows, inserts = [], iter(kept), iter(extra.to_pylist())
    for position in range(total):
        expected.append(next(inserts) if position in bad_at else next(rows))
    assert placed == expected


def test_no_fields_and_no_header_make_every_row_blank(tmp_path: Path):
    """frictionless reads no cell of such a row, so it finds each one blank."""
    found = check(tmp_path, resource("t", b"\n1,a\n\n", {}, tmp_path, []))
    assert found == [("blank-row", 2, None), ("blank-row", 3, None)]
