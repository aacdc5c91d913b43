"""The review report: a self-contained static HTML site built from the published package.

    pipeline report --package datapackage --seeds seeds --out report

Pages: index.html (overview), source-<id>.html (each text with every evidence span
highlighted, coloured by table), table-<name>.html (each table, sortable and
filterable, ids cross-linked), charts.html (timeline, casualty claims, map) and
checks.html (package validation, text hashes, annotation check, uncovered
sentences). The package ships only excerpts, so the texts come from seeds/; each
is checked against sources.text_sha256 and the page says when it differs.

The package is read and checked by pipeline.report.read before anything is rendered
(a malformed package is a list of located problems and no page is written); this
module gathers what each page shows and renders it with the templates of
pipeline/report/templates/, which escape every value. Everything is sorted and free
of wall-clock time: the same inputs give the same bytes. Nothing is fetched at view
time.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import NamedTuple

from pipeline.check.coverage import classify
from pipeline.check.run import check_seeds
from pipeline.package.writer import csv_cell
from pipeline.progress import Progress, or_silent
from pipeline.report import charts
from pipeline.report.read import ANNOTATED, Package, UnreadablePackage, load
from pipeline.report.render import Navigation, macro, render
from pipeline.report.texts import UNREAD, SourceText, pieces, segments, source_texts
from pipeline.validate.run import verify_package

__all__ = ["UnreadablePackage", "build_report", "highlighted_text", "segments"]

VALIDATOR = "pipeline.validate.run.verify_package (types, constraints, keys, CSV and Parquet twins)"
MOST_REFERRERS = 12  # a longer group of referring rows is summarised by its count
LONG_CELL = 60  # characters (escaped) beyond which a cell is given room to wrap


def highlighted_text(text: str, spans: list[dict]) -> str:
    """The text as HTML: every evidence span highlighted and linked, overlapping spans split at
    their boundaries."""
    return str(macro("highlighted")(pieces(text, spans)))


# ---- pages: what each shows ----


def index_page(package: Package, texts: dict[str, SourceText]) -> dict:
    descriptor = package.descriptor
    return {
        "descriptor": descriptor,
        "licences": [
            csv_cell(lic.get("title") or lic.get("name")) for lic in descriptor.get("licenses", [])
        ],
        "sources": [
            (s, len(package.evidence_in.get(s["source_id"], [])), texts[s["source_id"]].status)
            for s in package.rows.get("sources", [])
        ],
        "tables": [(r, len(package.rows[r["name"]])) for r in descriptor["resources"]],
    }


def source_page(package: Package, source: dict, found: SourceText) -> dict:
    spans = package.evidence_in.get(source["source_id"], [])
    return {
        "source": source,
        "found": found,
        "spans": spans,
        "pieces": pieces(found.text, spans) if found.text is not None else [],
        "colours": charts.TABLE_COLOURS,
        "unread": UNREAD,
    }


class Cell(NamedTuple):
    """One table cell: its text as the CSV writes it, and how the page shows it."""

    kind: str  # plain, empty, link, key, linked-key (of a source or evidence row) or record
    text: str = ""
    link: str = ""
    title: str = ""
    css: str = ""


def _cell(package: Package, table: str, column: str, value, kind: str) -> Cell:
    if value is None:
        return Cell("empty")
    text = csv_cell(value)
    if column == package.keys[table]:
        return Cell("key", text)
    target = package.links[table].get(column)
    if target is not None and not (table == "evidence" and column == "record_id"):
        return Cell(
            "link", text, charts.href(target, str(value)), package.name_of(target, str(value))
        )
    css = {"integer": "num", "number": "num", "date": "date"}.get(kind)
    if css is None:  # measured as the page shows it, escaped
        css = "long" if len(html.escape(text)) > LONG_CELL else ""
    return Cell("plain", text, css=css)


def _key_cell(table: str, row: dict, rid: str) -> Cell | None:
    """The key cell of a source (its page) or an evidence row (its passage), linked; None for
    other tables."""
    if table == "sources":
        return Cell("linked-key", rid, f"source-{rid}.html")
    if table == "evidence":
        return Cell("linked-key", rid, f"source-{row['source_id']}.html#ev-{rid}")
    return None


def _referrers(package: Package, table: str, record_id: str) -> dict:
    """The rows that refer to this one: listed, or counted when a table has many of them."""
    refs = sorted(package.referrers.get((table, record_id), []))
    counts: dict[str, int] = {}
    for ref_table, _, _ in refs:
        counts[ref_table] = counts.get(ref_table, 0) + 1
    return {
        "counted": [(t, n) for t, n in sorted(counts.items()) if n > MOST_REFERRERS],
        "listed": [
            (t, rid, column, package.name_of(t, rid))
            for t, rid, column in refs
            if counts[t] <= MOST_REFERRERS
        ],
    }


def table_page(package: Package, resource: dict) -> dict:
    table = resource["name"]
    fields = resource["schema"]["fields"]
    header = [f["name"] for f in fields] + (["evidence"] if table in ANNOTATED else [])
    return {
        "resource": resource,
        "parquet": (resource.get("parquet") or {}).get("path"),
        "header": header + ["referenced by"],
        "count": len(package.rows[table]),
        "rows": _table_rows(package, table, fields, _key_fields(resource)),
    }


def _key_fields(resource: dict) -> list[str]:
    key = resource["schema"]["primaryKey"]  # one name or a list of names, as read.py checked it
    return [key] if isinstance(key, str) else list(key)


def _table_rows(
    package: Package, table: str, fields: list[dict], key: list[str]
) -> Iterator[tuple]:
    """(id, cells, evidence or None, referrers) of each row, made as the page is written; the id
    of a row whose key has several fields (the changes table's) joins them with '/'."""
    record_column = [f["name"] for f in fields].index("record_id") if table == "evidence" else -1
    for row in package.rows[table]:
        rid = "/".join(str(row[name]) for name in key)
        cells = [_cell(package, table, f["name"], row.get(f["name"]), f["type"]) for f in fields]
        if record_column >= 0:
            cells[record_column] = Cell(
                "record",
                csv_cell(row["record_id"]),
                charts.href(row["record_table"], row["record_id"]),
            )
        cells[0] = _key_cell(table, row, rid) or cells[0]
        evidence = package.evidence_of.get((table, rid), []) if table in ANNOTATED else None
        yield rid, cells, evidence, _referrers(package, table, rid)


def charts_page(package: Package) -> dict:
    rows = package.rows
    events, statements = rows.get("events", []), rows.get("statements", [])
    places = rows.get("places", [])
    actor_names = {a["actor_id"]: a["name"] for a in rows.get("actors", [])}
    _, far = charts.map_regions(places)
    return {
        "timeline": charts.timeline(events, statements, actor_names),
        "outside": charts.timeline_outside(events, statements),
        "casualties": charts.casualty_ranges(
            rows.get("casualty_reports", []),
            actor_names,
            {e["event_id"]: e["summary"] for e in events},
            {p["place_id"]: p["name"] for p in places},
        ),
        "place_map": charts.place_map(places),
        "unmapped": far
        + [p for p in places if p.get("latitude") is None or p.get("longitude") is None],
    }


def checks_page(
    package_dir: Path,
    seeds: Path | None,
    texts: dict[str, SourceText],
    progress: Progress | None = None,
) -> dict:
    """The package validated once, by the project's validator; each text's hash; the annotation
    check and the sentences no evidence covers."""
    # first: the validator's Arrow memory would stay on top of it
    covered = coverage(seeds, progress)
    return {
        "validator": VALIDATOR,
        "problems": sorted(str(p) for p in verify_package(package_dir, progress)),
        "texts": sorted(texts.items()),
        "coverage": covered,
        "unread": UNREAD,
    }


def coverage(seeds: Path | None, progress: Progress | None = None) -> dict | None:
    """Annotation check problems and every sentence no evidence covers, from seeds/; None without
    a seeds folder."""
    if seeds is None or not seeds.is_dir():
        return None
    checked = check_seeds(seeds, progress)
    sentences = classify(
        checked.corpus, checked.tables.rows.get("evidence", []), checked.exclusions
    )
    return {
        "seeds": str(seeds),
        "problems": [str(p) for p in checked.problems],
        "sentences": sentences,
        "counts": {
            status: sum(1 for s in sentences if s.status == status)
            for status in ("covered", "excluded", "uncovered")
        },
        "shown": [s for s in sentences if s.status != "covered"],
    }


# ---- the whole site ----


def build_report(
    package_dir: Path, seeds: Path | None, out: Path, progress: Progress | None = None
) -> list[Path]:
    """Write the report site into `out` (its previous pages are replaced); return the pages
    written. `progress` hears each step: reading, checking, validating, then each page written."""
    progress = or_silent(progress)
    progress("reading the package")
    package = load(package_dir)
    texts = source_texts(package, seeds if seeds is not None and seeds.is_dir() else None)
    # The checks run before anything is written; each other page is gathered as it is written,
    # so only one page's worth of cells is held at a time.
    checks = checks_page(package_dir, seeds, texts, progress)
    title = package.descriptor.get("title") or package.descriptor.get("name") or str(package_dir)
    return write_pages(out, site_pages(package, texts, checks), title, progress)


# file name -> (template, link text, heading, what the page shows), in the navigation's order
Pages = dict[str, tuple[str, str, str, Callable[[], dict]]]


def site_pages(package: Package, texts: dict[str, SourceText], checks: dict) -> Pages:
    """Every page of the site, each gathered when it is written."""
    pages: Pages = {
        "index.html": ("index.html", "Overview", "Overview", partial(index_page, package, texts))
    }
    for source in package.rows.get("sources", []):
        pages[f"source-{source['source_id']}.html"] = (
            "source.html",
            source["source_id"],
            f"Source: {source['title']}",
            partial(source_page, package, source, texts[source["source_id"]]),
        )
    for resource in package.descriptor["resources"]:
        pages[f"table-{resource['name']}.html"] = (
            "table.html",
            resource["name"],
            f"Table: {resource['name']}",
            partial(table_page, package, resource),
        )
    pages["charts.html"] = ("charts.html", "Charts", "Charts", partial(charts_page, package))
    pages["checks.html"] = ("checks.html", "Checks", "Checks", lambda: checks)
    return pages


def write_pages(
    out: Path, pages: Pages, package_title: str, progress: Progress | None = None
) -> list[Path]:
    """Each page written into `out`, after removing the pages of sources and tables no longer in
    the package."""
    progress = or_silent(progress)
    navigation = Navigation([(label, name) for name, (_, label, _, _) in pages.items()])
    out.mkdir(parents=True, exist_ok=True)
    for pattern in ("source-*.html", "table-*.html"):
        for stale in sorted(out.glob(pattern)):
            if stale.name not in pages:
                stale.unlink()
    written: list[Path] = []
    for name, (template, _, heading, shown) in pages.items():
        progress("writing pages", len(written), len(pages))
        path = out / name
        context = {"title": heading, "package_title": package_title, "nav": navigation.of(name)}
        with path.open("w", encoding="utf-8") as handle:
            handle.writelines(render(template, **context, **shown()))
        written.append(path)
    progress("writing pages", len(written), len(pages))
    return written
