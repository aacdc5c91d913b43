"""Checks across files through the snapshot: what the kept rows' facts and the rows built now
give together is what the check finds over the whole table, and stays so when the kept facts
come from an earlier run with other rows built."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.build.snapshot import BuiltRows, Segment, Snapshot, column_crc
from pipeline.check.delta import repeat_pairs, unknown_references
from pipeline.check.memo import Memo
from pipeline.contract import schemas
from pipeline.contract.constraints import (
    column_array,
    foreign_key_violations,
    nulls,
    repeats,
)

# a few values, so that repeats and references across kept and built rows are common
IDS = st.none() | st.sampled_from(["a", "b", "c", "d"])
STARTS = st.none() | st.integers(0, 2)
ROWS = st.lists(st.tuples(IDS, STARTS, st.booleans()), max_size=14)  # (value, start, kept)


class Shelf:
    """A cache holding one memo file, as FolderCache reads and writes it."""

    def __init__(self):
        self.payload = None

    def read(self, name):
        return self.payload

    def write(self, name, payload):
        self.payload = payload

    def unreadable(self):
        raise AssertionError("a memo written here is read back whole")


def built_rows(tables: dict[str, list[tuple[dict, bool]]], token: str = "t") -> BuiltRows:
    """Rows of `tables` (each row's fields, and whether the snapshot holds it): consecutive rows
    alike make one segment, a slice of the snapshot or rows built now."""
    segments, kept_tables = {}, {}
    for table, rows in tables.items():
        kept = [row for row, in_snapshot in rows if in_snapshot]
        kept_tables[table] = pa.table(
            {
                spec["name"]: column_array([row.get(spec["name"]) for row in kept], spec["type"])
                for spec in schemas.fields(table)
            }
        )
        segments[table], first = [], 0
        for start, (row, in_snapshot) in enumerate(rows):
            last = segments[table][-1] if segments[table] else None
            if last is not None and (last.rows is None) == in_snapshot:
                last.length += 1
                if last.rows is not None:
                    last.rows.append(row)
                    last.origins.append(None)
            elif in_snapshot:
                segments[table].append(Segment(start, 1, first=first))
            else:
                segments[table].append(Segment(start, 1, rows=[row], origins=[None]))
            first += in_snapshot
    crcs = {
        table: {name: column_crc(data.column(name)) for name in data.column_names}
        for table, data in kept_tables.items()
    }
    snapshot = Snapshot({}, {}, kept_tables, [], [], crcs, token)
    return BuiltRows(segments, snapshot)


def evidence(rows: list[tuple]) -> list[tuple[dict, bool]]:
    return [
        ({"source_id": "s", "record_table": "events", "record_id": value, "start": start}, kept)
        for value, start, kept in rows
    ]


def whole_repeats(rows: BuiltRows, fields: list[str], every: bool) -> list[tuple[int, int]]:
    arrays = [rows.column("evidence", field) for field in fields]
    return repeats(arrays, nulls(arrays, every=every))


FIELDS = [["record_id"], ["record_id", "start"]]


@settings(deadline=None)  # the first example loads Arrow's kernels
@given(rows=ROWS, later=ROWS, every=st.booleans(), fields=st.sampled_from(FIELDS))
def test_repeats_are_those_of_the_whole_table(rows, later, every, fields):
    shelf = Shelf()

    def skipped(arrays):
        return nulls(arrays, every=every)

    for found in (rows, later):  # later: the kept facts of the first run, other rows built
        kept = [row for row in rows if row[2]]
        built = [(value, start, False) for value, start, in_snapshot in found if not in_snapshot]
        table = built_rows({"evidence": evidence(built[:2] + kept + built[2:])})
        pairs = repeat_pairs(Memo(shelf), "repeats", table, "evidence", fields, skipped)
        assert pairs == whole_repeats(table, fields, every)


def references(rows: list[tuple], targets: list[tuple]) -> dict[str, list[tuple[dict, bool]]]:
    return {
        "casualty_reports": [({"event_id": value}, kept) for value, _, kept in rows],
        "events": [({"event_id": value}, kept) for value, _, kept in targets],
    }


@settings(deadline=None)
@given(rows=ROWS, targets=ROWS, later=ROWS)
def test_unknown_references_are_those_of_the_whole_table(rows, targets, later):
    shelf = Shelf()
    kept_targets = [row for row in targets if row[2]]
    for built_targets in (targets, later):  # later: other rows of the referred table built
        built = [(value, start, False) for value, start, kept in built_targets if not kept]
        tables = built_rows(references(rows, kept_targets[:1] + built + kept_targets[1:]))
        where, to = ("casualty_reports", "event_id"), ("events", "event_id")
        found = unknown_references(Memo(shelf), "references", tables, where, to)
        if tables.split("casualty_reports") is None or tables.split("events") is None:
            assert found is None  # no kept rows in a table: the check runs whole, elsewhere
            continue
        expected = foreign_key_violations(
            ["event_id"], [tables.column(*where)], [tables.column(*to)], tables.length("events")
        )
        assert found == [violation.row for violation in expected]


def test_a_table_without_kept_rows_has_no_split():
    tables = built_rows({"evidence": evidence([("a", 0, False), ("a", 0, False)])})
    assert tables.split("evidence") is None
    kept = built_rows({"evidence": evidence([("a", 0, True), ("b", 0, False), ("c", 1, True)])})
    split = kept.split("evidence")
    assert split is not None
    assert split.key == ["t", [[0, 1], [1, 1]]]
    assert split.kept.tolist() == [0, 2] and split.built.tolist() == [1]
    assert kept.built_column("evidence", "record_id").to_pylist() == ["b"]
