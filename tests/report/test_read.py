"""The report reads a package's CSV file as Python's csv module and a strict reading of each cell
read it: Arrow's reader, the quick way, gives those rows or nothing (the careful reading then
words each problem), whatever the file holds."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.report import read

# A table of every type the schemas use, each with the constraints the report checks.
RESOURCE = {
    "name": "things",
    "path": "data/things.csv",
    "schema": {
        "fields": [
            {"name": "thing_id", "type": "string"},  # a key, required without saying so
            {"name": "note", "type": "string"},
            {"name": "count", "type": "integer", "constraints": {"minimum": 0}},
            {"name": "day", "type": "date", "constraints": {"required": True}},
            {"name": "share", "type": "number", "constraints": {"maximum": 1}},
            {"name": "confirmed", "type": "boolean"},
        ],
        "primaryKey": ["thing_id"],
    },
}
NAMES = [field["name"] for field in RESOURCE["schema"]["fields"]]

# Cells a reader may take otherwise: quotes, commas, line ends, NULs, a byte order mark, spaces,
# signs and leading zeros, dates out of range or not written in full, non-finite numbers.
TRICKY = st.sampled_from(
    [
        "",
        " ",
        '"',
        'a"b',
        '"a"b',
        ",",
        "\n",
        "\r",
        "\r\n",
        "\0",
        "\ufeff",
        "x" * 200,
        "0",
        "01",
        "+1",
        "-0",
        "-1",
        " 1",
        "1 ",
        "1_000",
        "1e3",
        "0x10",
        str(2**63),
        str(-(2**63)),
        "2020-09-30",
        "2020-9-30",
        "2020-02-30",
        "0000-01-01",
        "9999-12-31",
        "10000-01-01",
        "-2020-01-01",
        " 2020-09-30",
        "1.5",
        "0.5",
        "nan",
        "inf",
        "1e400",
        "true",
        "false",
        "True",
        "1",
    ]
)
# What each column holds when it reads: its type's texts as written, or empty where it may be.
WRITTEN = {
    "thing_id": st.text(min_size=1, max_size=6),
    "note": st.text(max_size=6),
    "count": st.integers(0, 2**63 - 1).map(str) | st.just(""),
    "day": st.dates().map(str),
    "share": st.floats(0, 1).map(repr) | st.just(""),
    "confirmed": st.sampled_from(["true", "false", ""]),
}


def cell(name: str) -> st.SearchStrategy[str]:
    """A cell of column `name`: as written 19 times in 20, else a tricky text."""
    return st.integers(0, 19).flatmap(lambda n: TRICKY if n == 0 else WRITTEN[name])


ROWS = st.lists(st.tuples(*map(cell, NAMES)).map(list), max_size=6)
# What can be done to the lines of a file besides its cells: its line ends, a row of another
# length, an empty line, a byte order mark, a quote left open.
DAMAGE = st.just("none") | st.sampled_from(
    ["crlf", "short row", "long row", "empty line", "bom", "open quote", "no end", "other header"]
)


def written(rows: list[list[str]], damage: str) -> bytes:
    """The CSV file of `rows` under the header, as the csv module writes it, then damaged."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n" if damage == "crlf" else "\n").writerows([NAMES, *rows])
    text = out.getvalue()
    if damage == "short row":
        text += "a,b\n"
    elif damage == "long row":
        text += ",".join(["x"] * (len(NAMES) + 1)) + "\n"
    elif damage == "empty line":
        text = text.replace("\n", "\n\n", 2)
    elif damage == "bom":
        text = "\ufeff" + text
    elif damage == "open quote":
        text += '"open,' + "," * (len(NAMES) - 2) + "\n"
    elif damage == "no end":
        text = text.rstrip("\n")
    elif damage == "other header":
        text = text.replace(NAMES[0], "id", 1)
    return text.encode("utf-8")


def same_rows(quick: read.Rows, careful: read.Rows) -> bool:
    return quick.names == careful.names and all(
        a.type == b.type and a.equals(b)
        for a, b in zip(quick.columns, careful.columns, strict=True)
    )


@settings(max_examples=400, deadline=None)
@given(rows=ROWS, damage=DAMAGE)
def test_the_quick_reading_gives_the_careful_readings_rows_or_nothing(rows, damage):
    raw = written(rows, damage)
    quick = read._clean_rows(raw, RESOURCE)
    careful, problems = read._read_carefully(raw, RESOURCE, "things.csv")
    if quick is not None:
        assert problems == [] and same_rows(quick, careful)


CLEAN_ROW = ["id-1", "a note", "3", "2020-09-30", "0.5", "true"]


@pytest.mark.parametrize("text", TRICKY.elements)
def test_a_tricky_cell_in_any_column_reads_as_the_careful_reading_reads_it(text):
    for column, name in enumerate(NAMES):
        raw = written([CLEAN_ROW[:column] + [text] + CLEAN_ROW[column + 1 :]], "none")
        quick = read._clean_rows(raw, RESOURCE)
        careful, problems = read._read_carefully(raw, RESOURCE, "things.csv")
        assert quick is None or (problems == [] and same_rows(quick, careful)), name


@pytest.mark.parametrize("note, quick", [("x" * 1001, False), ("é" * 600, True)])
def test_a_field_beyond_the_csv_modules_limit_goes_the_careful_way(note, quick):
    """The limit counts characters (1,200 bytes of "é" are 600); the csv module refuses a longer
    field."""
    limit = csv.field_size_limit(1000)
    try:
        raw = written([["id-1", note, *CLEAN_ROW[2:]]], "none")
        careful, problems = read._read_carefully(raw, RESOURCE, "things.csv")
        assert (read._clean_rows(raw, RESOURCE) is not None, problems == []) == (quick, quick)
    finally:
        csv.field_size_limit(limit)


@given(rows=st.lists(st.tuples(st.text(min_size=1), st.text(), st.integers(0, 2**63 - 1))))
def test_clean_rows_are_read_the_quick_way(rows):
    table = [
        [f"id-{n}", note, str(count), "2020-09-30", "0.5", "true"]
        for n, (_, note, count) in enumerate(rows)
    ]
    raw = written([[cell.replace("\r", "") for cell in row] for row in table], "none")
    quick = read._clean_rows(raw, RESOURCE)
    careful, problems = read._read_carefully(raw, RESOURCE, "things.csv")
    assert problems == [] and quick is not None and same_rows(quick, careful)


def test_each_table_of_a_published_package_is_read_the_quick_way(published_minimal: Path):
    descriptor = json.loads((published_minimal / "datapackage.json").read_text(encoding="utf-8"))
    for resource in descriptor["resources"]:
        raw = (published_minimal / resource["path"]).read_bytes()
        quick = read._clean_rows(raw, resource)
        careful, problems = read._read_carefully(raw, resource, resource["path"])
        assert problems == [] and quick is not None and same_rows(quick, careful), resource["name"]


# Evidence rows as the report indexes them: texts of any code points (Arrow orders them by their
# UTF-8 bytes, Python by code point: the same order), repeated ids and offsets, records that are
# not there, tables the package does not have.
TEXTS = st.text(st.characters(exclude_categories=("Cs",)), max_size=3)
EVIDENCE = st.lists(
    st.tuples(
        TEXTS, st.integers(0, 5), st.integers(0, 5), TEXTS, st.sampled_from(["a", "b", "z"]), TEXTS
    ),
    max_size=30,
)


@settings(deadline=None)
@given(evidence=EVIDENCE, a_ids=st.lists(TEXTS, max_size=8), b_ids=st.lists(TEXTS, max_size=8))
def test_evidence_is_indexed_in_reading_order_by_source_and_by_record(evidence, a_ids, b_ids):
    names = ["evidence_id", "source_id", "start", "end", "record_table", "record_id"]
    rows = {
        "evidence": read.Rows.typed(
            names,
            [[e[c] for e in evidence] for c in (3, 0, 1, 2, 4, 5)],
            ["string", "string", "integer", "integer", "string", "string"],
        ),
        "a": read.Rows.typed(["a_id"], [a_ids], ["string"]),
        "b": read.Rows.typed(["b_id"], [b_ids], ["string"]),
    }
    package = read.Package({}, rows, keys={"a": "a_id", "b": "b_id"})
    package.positions = {
        t: {rid: ids.index(rid) for rid in ids} for t, ids in (("a", a_ids), ("b", b_ids))
    }
    read._index_evidence(package, rows["evidence"])
    # what it is, said plainly: positions in reading order, then each row's by its table's rows
    reading = sorted(range(len(evidence)), key=lambda i: evidence[i][:4])
    by_source: dict[str, list[int]] = {}
    for i in reading:
        by_source.setdefault(evidence[i][0], []).append(i)
    assert package.evidence_in == by_source
    for table, ids in (("a", a_ids), ("b", b_ids)):
        mine = [
            (ids.index(evidence[i][5]), i)
            for i in reading
            if evidence[i][4] == table and evidence[i][5] in ids
        ]
        offsets = package.evidence_offsets.get(table)
        found = package.evidence_rows.get(table)
        assert (found.tolist() if found is not None else []) == [
            i for _, i in sorted(mine, key=lambda pair: pair[0])
        ]
        if offsets is not None:
            assert offsets.tolist() == [
                sum(1 for r, _ in mine if r < n) for n in range(len(ids) + 1)
            ]
    assert "z" not in package.evidence_rows
