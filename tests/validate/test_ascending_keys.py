"""The one-pass check of a composite primary key in published order: it never takes a repeated or
missing key for a sound one (the keys are then hashed, and every repeat reported)."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.validate.columns import _ascending_keys


def columns(rows: list[tuple]) -> list[pa.Array]:
    width = len(rows[0]) if rows else 2
    return [pa.array([row[i] for row in rows], pa.string()) for i in range(width)]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([], True),
        ([("1.0.0", "events", "a")], True),
        ([("1.0.0", "events", "a"), ("1.0.0", "events", "b"), ("1.0.0", "actors", "a")], True),
        ([("10.0.0", "events", "a"), ("9.0.0", "events", "a")], True),
        ([("1.0.0", "events", "a"), ("2.0.0", "actors", "a"), ("2.0.0", "events", "a")], False),
        ([("1.0.0", "events", "a"), ("1.0.0", "events", "a")], False),
        ([("1.0.0", "events", "b"), ("1.0.0", "events", "a")], False),
        ([("1.0.0", "events", "a"), ("2.0.0", "events", "a"), ("1.0.0", "events", "b")], False),
        ([("1.0.0", "events", "a"), ("2.0.0", "events", "b"), ("2.0.0", "actors", "a")], True),
        ([("1.0.0", "events", "a"), ("1.0.0", "events", None)], False),
        ([("1.0.0", None, "a")], False),
    ],
    ids=[
        "no-rows",
        "one-row",
        "ids-ascending-in-tables",
        "versions-in-their-own-order",
        "tables-out-of-their-first-order",
        "repeat",
        "ids-descending",
        "version-back-again",
        "tables-in-their-first-order",
        "missing-id",
        "missing-table-one-row",
    ],
)
def test_ascending_keys(rows: list[tuple], expected: bool):
    assert _ascending_keys(columns(rows)) is expected


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["1.0.0", "2.0.0", "10.0.0"]),
            st.sampled_from(["events", "actors"]),
            st.sampled_from(["a", "b", "c"]),
        ),
        max_size=12,
    )
)
def test_ascending_keys_are_distinct(rows: list[tuple]):
    if _ascending_keys(columns(rows)):
        assert len(set(rows)) == len(rows)
