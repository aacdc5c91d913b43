"""The table-constraint engine: which rows of typed Arrow columns break which constraint."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from pipeline.contract.constraints import (
    Unreadable,
    Violation,
    column_array,
    field_violations,
    foreign_key_violations,
    primary_key_violations,
    record_violations,
    unique_key_violations,
    unique_violations,
)

NONE_UNTYPABLE = np.zeros(4, dtype=bool)


def facts(values: list, spec: dict, untypable=NONE_UNTYPABLE, whole_match=False) -> list:
    column = column_array(values, spec["type"])
    return list(field_violations(column, {"name": "f", **spec}, untypable, whole_match=whole_match))


@pytest.mark.parametrize(
    "values, spec, expected",
    [
        (["a", None, "", "b"], {"type": "string", "constraints": {"required": True}}, [1]),
        (["a", None, "b", None], {"type": "string", "constraints": {"required": False}}, []),
        (["ab", "a", None, "abc"], {"type": "string", "constraints": {"minLength": 2}}, [1]),
        (["ab", "a", None, "abc"], {"type": "string", "constraints": {"maxLength": 2}}, [3]),
        (
            ["ARM", "arm", None, "AR"],
            {"type": "string", "constraints": {"pattern": "[A-Z]{3}"}},
            [1, 3],
        ),
        (["x", "y", None, "z"], {"type": "string", "constraints": {"enum": ["x", "z"]}}, [1]),
        ([1, -1, None, 0], {"type": "integer", "constraints": {"minimum": 0}}, [1]),
        ([1.5, 2.0, None, 2.5], {"type": "number", "constraints": {"maximum": 2}}, [3]),
        ([0, 1, None, 2], {"type": "integer", "constraints": {"exclusiveMinimum": 0}}, [0]),
        ([0, 1, None, 2], {"type": "integer", "constraints": {"exclusiveMaximum": 2}}, [3]),
        (
            [dt.date(2020, 9, 26), dt.date(2020, 9, 27), None, dt.date(2021, 1, 1)],
            {"type": "date", "constraints": {"minimum": "2020-09-27"}},
            [0],
        ),
        ([True, False, None, True], {"type": "boolean", "constraints": {"enum": [True]}}, [1]),
        # a constraint the type does not support is not checked
        ([1, 22, None, 333], {"type": "integer", "constraints": {"pattern": "1"}}, []),
    ],
    ids=[
        "required",
        "not-required",
        "minLength",
        "maxLength",
        "pattern",
        "enum",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "date-minimum",
        "boolean-enum",
        "unsupported",
    ],
)
def test_each_constraint_finds_exactly_its_rows(values, spec, expected):
    (constraint,) = spec["constraints"]
    assert facts(values, spec) == [Violation(constraint, ("f",), row) for row in expected]


def test_an_untypable_cell_is_not_also_missing():
    untypable = np.array([False, True, False, False])
    spec = {"type": "integer", "constraints": {"required": True, "minimum": 0}}
    assert facts([1, None, None, -2], spec, untypable) == [
        Violation("required", ("f",), 2),
        Violation("minimum", ("f",), 3),
    ]


@pytest.mark.parametrize(
    "whole_match, expected",
    [(False, []), (True, [Violation("pattern", ("f",), 1)])],
    ids=["as-frictionless", "whole-value"],
)
def test_a_final_newline_passes_a_pattern_only_as_frictionless_matches_it(whole_match, expected):
    """Python's $ also matches before a final newline: re.match("^arm$", "arm\\n") matches."""
    spec = {"type": "string", "constraints": {"pattern": "^[a-z]+$"}}
    assert facts(["arm", "arm\n"], spec, whole_match=whole_match) == expected


@pytest.mark.parametrize(
    "whole_match, expected",
    [(False, [0, 2, 3]), (True, [0, 1, 2, 3])],
    ids=["as-frictionless", "whole-value"],
)
def test_a_top_level_alternative_splits_the_anchors_only_as_frictionless_matches(
    whole_match, expected
):
    """frictionless matches ^a|b$ from the first character, so "ax" passes; the whole value must be
    a or b."""
    spec = {"type": "string", "constraints": {"pattern": "a|b"}}
    found = facts(["ba", "ax", "xb", "xx"], spec, whole_match=whole_match)
    assert found == [Violation("pattern", ("f",), row) for row in expected]


def test_text_with_a_lone_surrogate_is_matched_by_python_as_written():
    """The loader reports a lone surrogate and still builds its row: RE2 reads no such text."""
    spec = {"type": "string", "constraints": {"pattern": "a."}}
    assert facts(["a\ud800", "b\ud800", None, "ab"], spec, whole_match=True) == [
        Violation("pattern", ("f",), 1)
    ]


def test_python_decides_what_re2_cannot_read():
    """A back reference is beyond RE2: Python's re matches every distinct value."""
    spec = {"type": "string", "constraints": {"pattern": r"(a)\1"}}
    assert facts(["aa", "ab", None, "aa"], spec) == [Violation("pattern", ("f",), 1)]


@pytest.mark.parametrize(
    "spec, expected",
    [
        (
            {"type": "string", "constraints": {"pattern": "(", "required": True}},
            [
                Violation("required", ("f",), 1),
                # as frictionless reads it: "^(" + "$"
                Unreadable("pattern", "f", "missing ), unterminated subpattern at position 1"),
            ],
        ),
        (
            {"type": "integer", "constraints": {"minimum": "zero"}},
            [Unreadable("minimum", "f", None)],
        ),
    ],
    ids=["pattern", "bound"],
)
def test_a_constraint_that_cannot_be_read_is_one_fact_and_no_row(spec, expected):
    assert facts(["1", None, "2", "3"] if spec["type"] == "string" else [1, 2, 3, 4], spec) == (
        expected
    )


def test_repeats_point_at_the_previous_row_and_missing_values_repeat_nothing():
    column = column_array(["a", "b", "a", None, None, "a"], "string")
    assert list(unique_violations("f", column)) == [
        Violation("unique", ("f",), 2, 0),
        Violation("unique", ("f",), 5, 2),
    ]


def test_primary_key_rows_all_null_then_repeats():
    ids = column_array(["a", None, "a", "b"], "string")
    kinds = column_array(["x", None, "x", "x"], "string")
    assert list(primary_key_violations(["id", "kind"], [ids, kinds])) == [
        Violation("primary-key", ("id", "kind"), 1, None),
        Violation("primary-key", ("id", "kind"), 2, 0),
    ]


def test_unique_key_rows_with_a_null_repeat_nothing():
    one = column_array(["a", "a", "a", None, None], "string")
    two = column_array([1, 1, None, None, None], "integer")
    assert list(unique_key_violations(["one", "two"], [one, two])) == [
        Violation("unique-key", ("one", "two"), 1, 0),
    ]


@pytest.mark.parametrize(
    "values, known, expected",
    [
        (["a", "b", None, "z"], ["a", "b", None], [3]),
        ([1.0, float("nan"), None, 2.0], [1.0, float("nan"), 2.0], [1]),
    ],
    ids=["text", "nan-equals-nothing"],
)
def test_foreign_key_rows_whose_value_the_reference_lacks(values, known, expected):
    kind = "string" if isinstance(values[0], str) else "number"
    found = foreign_key_violations(
        ["f"], [column_array(values, kind)], [column_array(known, kind)], len(known)
    )
    assert list(found) == [Violation("foreign-key", ("f",), row) for row in expected]


def test_a_key_of_several_fields_is_looked_up_whole_and_a_missing_field_is_null():
    one = column_array(["a", "a", "b", None], "string")
    two = column_array([1, 2, None, None], "integer")
    ref_one = column_array(["a", "b"], "string")
    ref_two = column_array([1, None], "integer")
    found = foreign_key_violations(["one", "two"], [one, two], [ref_one, ref_two], 2)
    assert list(found) == [Violation("foreign-key", ("one", "two"), 1)]
    lacking = foreign_key_violations(["one", "two"], [one, two], [ref_one, None], 2)
    assert list(lacking) == [Violation("foreign-key", ("one", "two"), row) for row in (0, 1)]


def test_record_references_are_looked_up_in_the_table_each_row_names():
    tables = column_array(["events", "places", "events", "nowhere"], "string")
    ids = column_array(["e1", "p9", "e9", "x"], "string")
    keys = {"events": column_array(["e1"], "string"), "places": column_array(["p1"], "string")}
    found = record_violations(("record_table", "record_id"), tables, ids, keys.get)
    assert list(found) == [
        Violation("foreign-key", ("record_table", "record_id"), 1),
        Violation("foreign-key", ("record_table", "record_id"), 2),
    ]


@pytest.mark.parametrize(
    "values, kind, arrow_type",
    [
        (["a", None, "\u00e9\U0001f600"], "string", pa.string()),
        ([1, None, -(2**40)], "integer", pa.int64()),
        ([1.5, None, -0.25], "number", pa.float64()),
        ([True, None, False], "boolean", pa.bool_()),
        ([dt.date(2020, 9, 27), None, dt.date(1969, 12, 31)], "date", pa.date32()),
        ([], "date", pa.date32()),
    ],
    ids=["string", "integer", "number", "boolean", "date", "empty"],
)
def test_typed_python_values_become_the_arrow_column_pyarrow_would_build(values, kind, arrow_type):
    assert column_array(values, kind).equals(pa.array(values, arrow_type))


def test_integers_beyond_int64_are_held_at_its_ends():
    assert column_array([10**30, -(10**30)], "integer").to_pylist() == [2**63 - 1, -(2**63)]
