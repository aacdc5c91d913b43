"""Coverage as the plain reading of its rule says: a sentence is covered when an evidence span
overlaps it (some span starts before it ends and ends after it starts), excluded when an
`uncovered` entry does, and each sentence is on the line of the text where it starts."""

from __future__ import annotations

import re
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from pipeline.check.coverage import Covers, classify, sentences
from pipeline.load.spans import line_of

span = st.tuples(st.integers(0, 80), st.integers(0, 80))


@given(st.lists(span), st.integers(0, 80), st.integers(1, 20))
def test_covers_answers_as_every_span_looked_at(spans, start: int, length: int):
    end = start + length
    assert Covers(spans).overlap(start, end) == any(s < end and start < e for s, e in spans)


def sentences_line_by_line(text: str) -> list[tuple[int, int]]:
    """The rule read plainly: each line split where . ! ? (perhaps with a closing quote) comes
    before spaces and a capital or quote; sentences of nothing but spaces left out."""
    end = re.compile(r"(?<=[.!?])[\"”’']?\s+(?=[A-Z\"“‘'])")
    found, offset = [], 0
    for line in text.split("\n"):
        cursor = 0
        for match in end.finditer(line):
            found.append((offset + cursor, offset + match.start()))
            cursor = match.end()
        found.append((offset + cursor, offset + len(line)))
        offset += len(line) + 1
    return [(s, e) for s, e in found if text[s:e].strip()]


PIECES = ["One. ", "Two? ", "“Three.” ", "\n", "a", " ", "B", "!", ".", "'", "\r", "\u2028", "\x0c"]


@given(st.lists(st.sampled_from(PIECES)).map("".join))
def test_sentences_are_split_as_the_rule_reads_line_by_line(text: str):
    assert sentences(text) == sentences_line_by_line(text)


@given(
    st.lists(st.sampled_from(["One. ", "Two? ", "“Three.” ", "\n", "a", " ", "B"])).map("".join),
    st.lists(span),
    st.lists(st.tuples(span, st.sampled_from(["a quote", "a heading"]))),
)
def test_each_sentence_is_classified_as_the_rule_reads(text: str, spans, exclusions):
    corpus = SimpleNamespace(sources={"s": SimpleNamespace(text=text)})
    excluded = [(start, end, "s", reason) for (start, end), reason in exclusions]
    found = list(classify(corpus, [("s", start, end) for start, end in spans], excluded))  # type: ignore[arg-type]
    assert [(s.start, s.end) for s in found] == sentences(text)
    for sentence in found:
        start, end = sentence.start, sentence.end
        reason = next((r for s, e, _, r in excluded if s < end and start < e), None)
        if any(s < end and start < e for s, e in spans):
            assert (sentence.status, sentence.reason) == ("covered", None)
        else:
            assert (sentence.status, sentence.reason) == (
                "excluded" if reason else "uncovered",
                reason,
            )
        assert sentence.line == line_of(text, start)
        assert sentence.text == text[start:end]
