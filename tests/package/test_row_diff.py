"""The row diff as Arrow columns gives what the csv module's dict rows give (diff_text_rows):
rows added, removed and changed by primary key, new columns and the rows filling them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.package import diff, reader

# No carriage return: the csv module leaves it unquoted (publish refuses it in any text).
CELL = st.text(alphabet='ab,"\n é', max_size=4)
IDS = st.text(alphabet="abé,", min_size=1, max_size=3)


def write(folder: Path, header: list[str], rows: list[list[str]]) -> dict:
    (folder / "data").mkdir(parents=True)
    with open(folder / "data" / "t.csv", "w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(header)
        out.writerows(rows)
    return {"name": "t", "path": "data/t.csv", "schema": {"primaryKey": ["id"]}}


@st.composite
def tables(draw, columns: list[str]) -> list[list[str]]:
    ids = draw(st.lists(IDS, max_size=8))  # repeated ids too: the last row wins
    return [[ident, *(draw(CELL) for _ in columns[1:])] for ident in ids]


def by_dicts(old: Path, old_res: dict, new: Path, new_res: dict):
    old_header, old_rows = reader.read_text_rows(old, old_res, "old")
    new_header, new_rows = reader.read_text_rows(new, new_res, "new")
    return diff.diff_text_rows(old_res, old_header, old_rows, new_res, new_header, new_rows)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    old_columns=st.sampled_from([["id", "x"], ["id", "x", "y"]]),
    new_columns=st.sampled_from([["id", "x"], ["id", "y", "x"], ["id", "x", "z"]]),
    data=st.data(),
)
def test_the_columns_diff_is_the_dicts_diff(tmp_path_factory, old_columns, new_columns, data):
    folder = tmp_path_factory.mktemp("diff")
    old_res = write(folder / "old", old_columns, data.draw(tables(old_columns)))
    new_res = write(folder / "new", new_columns, data.draw(tables(new_columns)))
    assert diff._text_table(folder / "old", old_res) is not None  # the Arrow way is taken
    found = diff.diff_rows(folder / "old", old_res, folder / "new", new_res)
    assert found == by_dicts(folder / "old", old_res, folder / "new", new_res)


CASES = {
    "a corrected cell, an added and a removed row": (
        ["id", "x"],
        [["a", "1"], ["b", "2"], ["c", "3"]],
        ["id", "x"],
        [["b", "2"], ["c", "three, 3"], ["d", "4"]],
        {"added": ["d"], "removed": ["a"], "changed": {"c": [("x", "3", "three, 3")]}},
    ),
    "a new column, filled in one row": (
        ["id", "x"],
        [["a", "1"], ["b", "2"]],
        ["id", "x", "y"],
        [["a", "1", ""], ["b", "2", "new\nline"]],
        {"new_columns": ["y"], "filled": {"b": ["y"]}},
    ),
    "rows in another order, the same": (
        ["id", "x"],
        [["b", "2"], ["a", "1"]],
        ["id", "x"],
        [["a", "1"], ["b", "2"]],
        None,
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_row_diff_cases(tmp_path: Path, case: str):
    old_header, old_rows, new_header, new_rows, expected = CASES[case]
    old_res = write(tmp_path / "old", old_header, old_rows)
    new_res = write(tmp_path / "new", new_header, new_rows)
    found = diff.diff_rows(tmp_path / "old", old_res, tmp_path / "new", new_res)
    if expected is None:
        assert found is None
    else:
        assert found == diff.TableRows("t", ["id"], **expected)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (b"id,x\na,1\nb\n", "a row of another width"),
        (b"\xef\xbb\xbfid,x\na,1\n", "a byte order mark"),
        (b"id,id\na,1\n", "a repeated column name"),
        (b"id,x\na,\xff\n", "bytes that are not UTF-8"),
        (b"id,x\na,\rb\n", "a carriage return the csv module leaves unquoted"),
    ],
)
def test_files_arrow_might_read_otherwise_go_the_dicts_way(tmp_path: Path, text: bytes, why: str):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "t.csv").write_bytes(text)
    assert diff._text_table(tmp_path, {"name": "t", "path": "data/t.csv"}) is None, why


@pytest.mark.parametrize(
    ("encoding", "by_arrow"), [("utf-8", True), ("UTF-8", True), ("latin-1", False), (7, False)]
)
def test_only_utf_8_files_go_the_arrow_way(tmp_path: Path, encoding: object, by_arrow: bool):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "t.csv").write_bytes(b"id,x\na,1\n")
    resource = {"name": "t", "path": "data/t.csv", "encoding": encoding}
    assert (diff._text_table(tmp_path, resource) is not None) is by_arrow
