"""Resolve an annotator's quote to code-point offsets in its source text.

Annotators never type offsets. A quote is found in the text, leniently as to
typographic variants (curly vs straight quotes, dashes, non-breaking spaces), and
the span keeps the source's own characters. A quote that occurs more than once
needs an occurrence number or a prefix; a quote that is not found is reported
with the nearest passage of the text.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

# One character for one character, so offsets in the folded text are offsets in the text.
_FOLD = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00a0": " ",
        "\u2007": " ",
        "\u202f": " ",
        "\u2009": " ",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
    }
)


def fold(text: str) -> str:
    """Typographic variants mapped to their plain forms, length preserved."""
    # Every variant is outside ASCII; isascii() is O(1), translate() goes char by char.
    if text.isascii():
        return text
    return text.translate(_FOLD)


@dataclass(frozen=True)
class Unresolved(Exception):
    message: str
    hint: str | None = None


def find_all(haystack: str, needle: str) -> list[int]:
    starts, at = [], haystack.find(needle)
    while at != -1:
        starts.append(at)
        at = haystack.find(needle, at + 1)
    return starts


def nearest_passage(text: str, quote: str) -> str:
    """The passage of `text` most like `quote`, for 'did you mean' hints.

    The longest run the two share anchors the passage, which then reaches as far either side
    as the quote does. A quote that lacks or adds letters before that run ("tree civilians"
    for "three civilians") would shift the passage by as many, so it is widened to whole words,
    and trimmed like a quote."""
    matcher = difflib.SequenceMatcher(None, text, quote, autojunk=False)
    block = matcher.find_longest_match(0, len(text), 0, len(quote))
    if block.size == 0:
        return ""
    # each end clamped on its own: a passage at the start of the text keeps the quote's end
    start = max(0, block.a - block.b)
    end = min(len(text), block.a - block.b + len(quote))
    while 0 < start and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while end < len(text) and text[end - 1].isalnum() and text[end].isalnum():
        end += 1
    return text[start:end].strip()


def line_of(text: str, offset: int) -> int:
    """The 1-based line of `text` that code point `offset` is on."""
    return text.count("\n", 0, offset) + 1


def line_of_byte(raw: bytes, offset: int) -> int:
    """The 1-based line of `raw` that byte `offset` is on (where text fails to decode)."""
    return raw.count(b"\n", 0, offset) + 1


def usable_occurrence(value) -> bool:
    """An occurrence number a quote can be resolved with: an integer from 1 (true/false are not
    numbers here)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def resolve(
    text: str,
    quote: str,
    *,
    occurrence: int | None = None,
    prefix: str | None = None,
    folded_text: str | None = None,
) -> tuple[int, int]:
    """Offsets (start inclusive, end exclusive, in code points) of `quote` in `text`.

    Raises Unresolved with a message and a hint when the quote is missing or ambiguous.
    """
    _refuse_untrimmed(quote)
    haystack = folded_text if folded_text is not None else fold(text)
    starts = find_all(haystack, fold(quote))
    if prefix is not None:
        starts = _after_prefix(haystack, starts, prefix)
    if not starts:
        near = nearest_passage(text, quote)
        hint = f"nearest text is {near!r}" if near else "the quote shares nothing with the text"
        raise Unresolved(f"quote not found in the source: {quote!r}", hint)
    start = _chosen(text, starts, occurrence)
    return start, start + len(quote)


def _refuse_untrimmed(quote: str) -> None:
    """A quote is words of the text: not empty, no whitespace around it."""
    if not quote.strip():
        raise Unresolved("quote is empty", "quote the exact words of the source")
    if quote != quote.strip():
        raise Unresolved(
            "quote starts or ends with whitespace", "trim the quote to the words themselves"
        )


def _after_prefix(haystack: str, starts: list[int], prefix: str) -> list[int]:
    """The starts that `prefix` comes just before; Unresolved if there are none."""
    folded_prefix = fold(prefix)
    kept = [s for s in starts if haystack[max(0, s - len(folded_prefix)) : s] == folded_prefix]
    if not kept:
        raise Unresolved(
            f"quote not found after prefix {prefix!r}",
            "the prefix must be the words immediately before the quote",
        )
    return kept


def _chosen(text: str, starts: list[int], occurrence: int | None) -> int:
    """The start the occurrence number picks, or the only one; Unresolved otherwise."""
    if occurrence is None:
        if len(starts) > 1:
            lines = ", ".join(str(line_of(text, s)) for s in starts)
            raise Unresolved(
                f"quote occurs {len(starts)} times in the source (text lines {lines})",
                "add 'occurrence: N' or a 'prefix' to say which one",
            )
        return starts[0]
    if occurrence < 1:  # starts[-1] would silently pick the last one
        raise Unresolved(f"occurrence {occurrence} is not a position", "count occurrences from 1")
    if occurrence > len(starts):
        raise Unresolved(
            f"occurrence {occurrence} asked but the quote occurs {len(starts)} time(s)",
            "use an occurrence between 1 and the count",
        )
    return starts[occurrence - 1]
