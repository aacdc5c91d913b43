"""The source texts behind the report's pages, and how their evidence spans lie over them.

The package ships only excerpts, so each text comes from seeds/<id>/text.txt (a regular
file, never followed through a link) and is checked against sources.text_sha256. A text
is cut at every span boundary into pieces; each piece knows the spans covering it, the
stripe level of each (so a span's stripe keeps its height along the text) and the
colours that show them. The markup itself is the templates' job.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

from pipeline.load.seeds import TEXT_FILE
from pipeline.load.sourcetext import sha256_text
from pipeline.package.reader import PackageError, open_member
from pipeline.report.charts import TABLE_COLOURS, href
from pipeline.report.read import NO_ROWS, Package

UNREAD = "text in seeds/ is a link, not a regular file, or unreadable: not read"
STRIPE_PX, STRIPE_LEVELS = 3, 5
OTHER_COLOUR = "#718096"  # evidence of a table the charts have no colour for


def colour_of(table: str) -> str:
    """The colour of a table's marks, tags and highlights."""
    return TABLE_COLOURS.get(table, OTHER_COLOUR)


@dataclass
class SourceText:
    source_id: str
    text: str | None  # None when seeds/ has no text for the source
    status: str  # "ok", "differs", "missing", "unread"
    sha256: str | None = None


def source_texts(package: Package, seeds: Path | None) -> dict[str, SourceText]:
    """Each source's text from seeds/<id>/text.txt, with its sha256 compared to the package's."""
    found = {}
    for source in package.rows.get("sources", NO_ROWS):
        sid = source["source_id"]
        relative = f"{sid}/{TEXT_FILE}"
        if seeds is None or not os.path.lexists(seeds / relative):
            found[sid] = SourceText(sid, None, "missing")
            continue
        # a link could lead out of seeds/ and a pipe would never end: only a regular file is read
        try:
            with open_member(seeds, relative) as handle:
                raw = handle.read()
        except PackageError:
            found[sid] = SourceText(sid, None, "unread")
            continue
        text, digest = _text_and_digest(raw)
        status = "ok" if digest == source["text_sha256"] else "differs"
        found[sid] = SourceText(sid, text, status, digest)
    return found


def _text_and_digest(raw: bytes) -> tuple[str, str]:
    """The file's text and its sha256 as the package records it (sha256_text); a file that is not
    UTF-8 is shown with replacement characters and digested as bytes, as sha256sum would."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), hashlib.sha256(raw).hexdigest()
    return text, sha256_text(text)


def segments(length: int, spans: list[dict]) -> list[tuple[int, int, list[dict]]]:
    """The text split at every span boundary: (start, end, spans covering it, outermost first)."""
    cuts = sorted(
        {0, length}
        | {min(max(s["start"], 0), length) for s in spans}
        | {min(max(s["end"], 0), length) for s in spans}
    )
    ordered = sorted(spans, key=lambda s: (s["start"], -s["end"], s["evidence_id"]))
    # A sweep over the cuts: the spans begun so far, less those ended (the cuts only grow), rather
    # than every span tested at every cut (quadratic in a text's spans).
    result: list[tuple[int, int, list[dict]]] = []
    active: list[dict] = []
    begun = 0
    for a, b in pairwise(cuts):
        starting = begun
        while begun < len(ordered) and ordered[begun]["start"] <= a:
            begun += 1
        # a new list each time: the one before is the previous piece's
        active = [s for s in active + ordered[starting:begun] if b <= s["end"]]
        result.append((a, b, active))
    return result


def stripe_levels(spans: list[dict]) -> dict[str, int]:
    """A fixed stripe level per span (interval partitioning), so a span's stripe keeps its height
    along the text."""
    ends: list[int] = []  # end of the last span placed at each level
    levels = {}
    for span in sorted(spans, key=lambda s: (s["start"], -s["end"], s["evidence_id"])):
        level = next((i for i, end in enumerate(ends) if end <= span["start"]), len(ends))
        if level == len(ends):
            ends.append(span["end"])
        ends[level] = span["end"]
        levels[span["evidence_id"]] = level
    return levels


@lru_cache(maxsize=4096)
def segment_style(layers: tuple[tuple[str, int], ...]) -> str:
    """CSS of a piece covered by spans of these (table, stripe level), outermost first: the fill
    of the innermost span's table over the words; below them one stripe per covering span, at its
    level. Made once for each such list (a page's pieces share a few: 44,306 pieces of 1,000
    sources made 0.2 s of styles)."""
    pad = STRIPE_PX * STRIPE_LEVELS
    inner = colour_of(layers[-1][0])
    stripes = [
        f"linear-gradient({fill},{fill}) left 0 bottom "
        f"{pad - STRIPE_PX * (min(level, STRIPE_LEVELS - 1) + 1)}px/100% {STRIPE_PX}px no-repeat"
        for fill, level in ((colour_of(table), level) for table, level in layers)
    ]
    stripes.append(
        f"linear-gradient({inner}2e,{inner}2e) left 0 top 0/100% calc(100% - {pad}px) no-repeat"
    )
    return f"background:{','.join(stripes)};padding-bottom:{pad}px"


def table_css() -> str:
    """The colour of each table's tags and swatches as CSS classes (`tag t-<table>`), a table
    without a colour of its own drawn in OTHER_COLOUR: one rule each, not a style on every tag."""
    rules = [f".tag,.swatch{{background:{OTHER_COLOUR}}}"]
    rules += [f".t-{table}{{background:{colour}}}" for table, colour in TABLE_COLOURS.items()]
    return "\n".join(rules) + "\n"


class Piece(NamedTuple):
    """A run of text between two span boundaries, with the anchors of the spans starting there.
    A tuple, unpacked by the template: Jinja's lookups of attributes (Environment.getattr) were
    6 s of the 115 s the 10k report's page writers were sampled for, the pieces' among them."""

    text: str
    anchors: list[str]  # evidence ids of the spans that start here, for #ev-<id> links
    link: str = ""  # the innermost span's row; empty when no span covers the piece
    ids: str = ""  # evidence ids of the covering spans, space-separated
    tip: str = ""  # table/id of each covering span's record
    style: str = ""  # its CSS (segment_style), written once per page as the rule of `css`
    css: str = ""  # the class of its style on its page: one class per distinct style


def pieces(text: str, spans: list[dict], row_href: Callable[[str, str], str] = href) -> list[Piece]:
    """The text cut at every span boundary, each piece with what the page shows over it, linked
    to its innermost span's row at `row_href(table, id)`. A text's pieces share a few styles (at
    10,000 documents a style was 300 bytes on each of 60 pieces a page): each distinct style is
    one class, numbered in the order met."""
    levels = stripe_levels(spans)
    starts: dict[int, list[dict]] = {}
    for span in spans:
        starts.setdefault(span["start"], []).append(span)
    classes: dict[str, str] = {}
    found = []
    for a, b, active in segments(len(text), spans):
        begun = starts.pop(a, None)
        anchors = sorted(s["evidence_id"] for s in begun) if begun else []
        if not active:
            found.append(Piece(text[a:b], anchors))
            continue
        inner = active[-1]
        style = segment_style(tuple((s["record_table"], levels[s["evidence_id"]]) for s in active))
        found.append(
            Piece(
                text[a:b],
                anchors,
                row_href(inner["record_table"], inner["record_id"]),
                " ".join(s["evidence_id"] for s in active),
                "; ".join(f"{s['record_table']}/{s['record_id']}" for s in active),
                style,
                classes.setdefault(style, f"s{len(classes)}"),
            )
        )
    return found


def style_classes(found: list[Piece]) -> str:
    """The page's CSS rules of the classes of its pieces' styles. A style is made only of the
    table colours and numbers of segment_style, so it is safe in a <style> element as it is."""
    rules = {piece.css: piece.style for piece in found if piece.style}
    return "".join(f".text .{name}{{{style}}}\n" for name, style in rules.items())
