"""Which sentences of each source no evidence touches, and which are excluded on purpose.

A sentence is covered when an evidence span overlaps it, explained when an
`uncovered` entry of the annotations (a quote and a reason) overlaps it, and
unexplained otherwise. Unexplained sentences are gaps in the annotation.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from itertools import accumulate
from typing import NamedTuple

from pipeline.contract.problems import Problem
from pipeline.load.seeds import Corpus
from pipeline.load.spans import Unresolved, resolve, usable_occurrence

# A sentence ends after . ! ? (and perhaps a closing quote) before spaces and a capital or quote,
# all within a line; or at the line's end. The text is split at both in one pass, the mark
# matched rather than looked behind for (a line at a time, with a look-behind, took a third more
# of the 10k corpus's coverage).
_SENTENCE_OR_LINE_END = re.compile(r"\n|[.!?][\"”’']?[^\S\n]+(?=[A-Z\"“‘'])")


class Sentence(NamedTuple):
    """A sentence of a source and its coverage. A tuple: the 10k corpus has 636,430 sentences, and
    a frozen dataclass took five times as long to make."""

    source_id: str
    start: int
    end: int
    text: str
    line: int
    status: str  # covered | excluded | uncovered
    reason: str | None = None


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence: lines split at sentence ends, blank sentences dropped."""
    spans = []
    cursor = 0
    for match in _SENTENCE_OR_LINE_END.finditer(text):
        # a sentence keeps its mark; a line's end is no sentence's
        spans.append((cursor, match.start() + (match.group()[0] != "\n")))
        cursor = match.end()
    spans.append((cursor, len(text)))
    return [(s, e) for s, e in spans if e > s and not text[s:e].isspace()]


def resolve_exclusions(corpus: Corpus, problems: list[Problem]) -> list[tuple[int, int, str, str]]:
    """(start, end, source_id, reason) of each `uncovered` entry; faults go to `problems`."""
    resolved = []
    for exclusion in corpus.exclusions:
        source = corpus.sources.get(exclusion.source_id)
        values = exclusion.values
        if (
            source is None
            or not isinstance(values.get("quote"), str)
            or not isinstance(values.get("reason"), str)
        ):
            continue
        occurrence = values.get("occurrence")
        if occurrence is not None and not usable_occurrence(occurrence):
            continue  # reported by the structure layer (not an integer, or below 1)
        prefix = values.get("prefix") if isinstance(values.get("prefix"), str) else None
        try:
            start, end = resolve(
                source.text,
                values["quote"],
                occurrence=occurrence,
                prefix=prefix,
                folded_text=source.folded,
            )
        except Unresolved as bad:
            problems.append(
                Problem(exclusion.file, values.line, bad.message, None, "uncovered", bad.hint)
            )
            continue
        resolved.append((start, end, exclusion.source_id, values["reason"]))
    return resolved


def classify(
    corpus: Corpus, spans: Iterable[tuple[str, int, int]], exclusions: list
) -> Iterator[Sentence]:
    """Every sentence of every source with its coverage status, in turn (a caller that counts the
    covered ones need not hold them: at 10,000 documents, most of 0.8 GB); `spans` are the
    evidence's (source_id, start, end)."""
    spans_by_source: dict[str, list[tuple[int, int]]] = {}
    for source_id, start, end in spans:
        spans_by_source.setdefault(source_id, []).append((start, end))
    excluded_by_source: dict[str, list[tuple[int, int, str]]] = {}
    for start, end, source_id, reason in exclusions:
        excluded_by_source.setdefault(source_id, []).append((start, end, reason))
    for source_id, source in sorted(corpus.sources.items()):
        covers = Covers(spans_by_source.get(source_id, []))
        excluded = excluded_by_source.get(source_id, [])
        line, counted = 1, 0
        for start, end in sentences(source.text):
            line += source.text.count("\n", counted, start)  # line_of, counted on from the last
            counted = start
            text = source.text[start:end]
            if covers.overlap(start, end):
                yield Sentence(source_id, start, end, text, line, "covered")
                continue
            reason = (
                next((r for s, e, r in excluded if s < end and start < e), None)
                if excluded
                else None
            )
            status = "excluded" if reason else "uncovered"
            yield Sentence(source_id, start, end, text, line, status, reason)


class Covers:
    """Whether any of a source's evidence spans overlaps a stretch of its text: the spans sorted by
    start, with the furthest end of those up to each, so one search answers (each sentence looked
    at against every span took 9 s of the 10,000-document corpus's coverage)."""

    def __init__(self, spans: list[tuple[int, int]]):
        ordered = sorted(spans)
        self.starts = [start for start, _ in ordered]
        self.furthest = list(accumulate((end for _, end in ordered), max))

    def overlap(self, start: int, end: int) -> bool:
        """Whether a span (s, e) has s < end and start < e."""
        before = bisect_left(self.starts, end)  # the spans that start before `end`
        return before > 0 and self.furthest[before - 1] > start
