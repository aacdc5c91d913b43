"""Messages the commands reach only in rare states, worded on edge values: an empty or blank
quote, occurrence 0, a one-character text, a pattern without words, a Unicode line separator,
a CSV cell a strict reading refuses. Each reads as a whole sentence."""

from __future__ import annotations

import pytest

from pipeline.contract.fieldtypes import from_csv
from pipeline.load.sourcetext import describe_character
from pipeline.load.spans import Unresolved, resolve
from pipeline.load.structure import not_matching, too_short

TEXT = "Azerbaijan said on Wednesday. Armenia said on Wednesday."


@pytest.mark.parametrize(
    ("quote", "occurrence", "expected"),
    [
        ("", None, ("quote is empty", "quote the exact words of the source")),
        ("  ", None, ("quote is empty", "quote the exact words of the source")),
        ("Wednesday", 0, ("occurrence 0 is not a position", "count occurrences from 1")),
        ("Wednesday", -1, ("occurrence -1 is not a position", "count occurrences from 1")),
        (
            "Wednesday",
            3,
            (
                "occurrence 3 asked but the quote occurs 2 time(s)",
                "use an occurrence between 1 and the count",
            ),
        ),
    ],
)
def test_a_quote_that_picks_no_passage(quote: str, occurrence: int | None, expected: tuple):
    with pytest.raises(Unresolved) as refused:
        resolve(TEXT, quote, occurrence=occurrence)
    assert (refused.value.message, refused.value.hint) == expected


@pytest.mark.parametrize(
    ("value", "least", "field", "expected"),
    [
        ("", 1, "summary", "the text is empty"),
        ("", 1, "evidence", "the text is empty"),
        ("x", 2, "summary", "'x' is shorter than 2 characters"),
        ("ab", 4, "quote", "'ab' is shorter than 4 characters"),
    ],
)
def test_a_text_below_its_least_length(value: str, least: int, field: str, expected: str):
    hint = (
        "copy the words from the source text"
        if field in ("evidence", "quote")
        else "write the text, or leave out a field the source says nothing about"
    )
    assert too_short(value, least, field) == (expected, hint)


@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [
        ("x", "^[0-9]+$", ("'x' does not match the pattern ^[0-9]+$", None)),
        ("", "^[0-9]+$", ("'' does not match the pattern ^[0-9]+$", None)),
        (
            "E",
            "^[a-z0-9][a-z0-9-]*$",
            (
                "'E' is not an id: lowercase letters, digits and hyphens, starting with a letter "
                "or digit",
                "e.g. terter-shelling-2020-09-30",
            ),
        ),
    ],
)
def test_a_value_of_the_wrong_form(value: str, pattern: str, expected: tuple):
    assert not_matching(value, pattern) == expected


@pytest.mark.parametrize(
    ("char", "expected"),
    [
        ("\n", "U+000A (a line break)"),
        ("\u2028", "U+2028 (LINE SEPARATOR, a line break)"),
        ("\u2029", "U+2029 (PARAGRAPH SEPARATOR, a line break)"),
        ("\t", "U+0009 (a tab)"),
        ("\x1b", "U+001B (ESC, a control character)"),
    ],
)
def test_a_character_is_described(char: str, expected: str):
    assert describe_character(char) == expected


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("boolean", "1", "'1' is refused by a strict reading as boolean"),
        ("number", "inf", "'inf' is refused by a strict reading as number"),
        (
            "integer",
            "9223372036854775808",
            "'9223372036854775808' is refused by a strict reading as integer",
        ),
    ],
)
def test_a_cell_a_strict_reading_refuses(kind: str, text: str, expected: str):
    with pytest.raises(ValueError) as refused:
        from_csv(kind, text, strict=True)
    assert str(refused.value) == expected
