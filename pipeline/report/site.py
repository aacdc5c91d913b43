"""The review report: a self-contained static HTML site built from the published package.

    pipeline report --package datapackage --seeds seeds --out report

Pages: index.html (overview), source-<id>.html (each text with every evidence span
highlighted, coloured by table), table-<name>.html (each table, sortable and
filterable, ids cross-linked), charts.html (the timeline), casualties.html (casualty
claims), map.html (places) and checks.html (package validation, text hashes, annotation
check, uncovered sentences). The package ships only excerpts, so the texts come from seeds/; each
is checked against sources.text_sha256 and the page says when it differs.

The package is read and checked by pipeline.report.read before anything is rendered
(a malformed package is a list of located problems and no page is written); this
module gathers what each page shows and renders it with the templates of
pipeline/report/templates/, which escape every value. The pages are written by forked
workers, one per core, once everything they share is read and laid out. Everything is
sorted and free of wall-clock time: the same inputs give the same bytes. Nothing is
fetched at view time.
"""

from __future__ import annotations

import contextlib
import html
import json
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator
from functools import cache, partial
from multiprocessing.connection import Connection
from multiprocessing.pool import IMapIterator
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
from markupsafe import Markup

from pipeline.build.collector import collector_paused, existing_objects_frozen
from pipeline.build.parallel import worker_pool, worker_start, workers
from pipeline.check.coverage import classify
from pipeline.check.run import check_seeds
from pipeline.package.reader import twin_files
from pipeline.package.schemaorg import dataset
from pipeline.package.writer import csv_cell
from pipeline.progress import Progress, or_silent, signals_held
from pipeline.report import charts
from pipeline.report.pages import PAGE_ROWS, page_file, pager, split
from pipeline.report.read import (
    ANNOTATED,
    NO_ROWS,
    Package,
    UnreadablePackage,
    load,
    read_checked_descriptor,
)
from pipeline.report.render import Navigation, macro, render
from pipeline.report.texts import (
    UNREAD,
    SourceText,
    pieces,
    segments,
    source_texts,
    style_classes,
)
from pipeline.validate.run import verify_package

__all__ = ["UnreadablePackage", "build_report", "highlighted_text", "segments"]

VALIDATOR = "pipeline.validate.run.verify_package (types, constraints, keys, CSV and Parquet twins)"
LONG_CELL = 60  # characters (escaped) beyond which a cell is given room to wrap


def highlighted_text(text: str, spans: list[dict]) -> str:
    """The text as HTML: every evidence span highlighted and linked, overlapping spans split at
    their boundaries."""
    return str(macro("highlighted")(pieces(text, spans)))


# ---- pages: what each shows ----


def index_page(package: Package, texts: dict[str, SourceText]) -> dict:
    descriptor = package.descriptor
    sources = package.rows.get("sources", NO_ROWS)
    return {
        "descriptor": descriptor,
        "licences": [
            csv_cell(lic.get("title") or lic.get("name")) for lic in descriptor.get("licenses", [])
        ],
        # the first page's worth; the sources table lists every source, linked to its page
        "sources": [
            (s, len(package.evidence_in.get(s["source_id"], ())), texts[s["source_id"]].status)
            for s in sources[:PAGE_ROWS]
        ],
        # the sources table's page that goes on from there
        "more_sources": (
            len(sources) - PAGE_ROWS,
            package.href("sources", sources[PAGE_ROWS]["source_id"]),
        )
        if len(sources) > PAGE_ROWS
        else None,
        "tables": [(r, len(package.rows[r["name"]])) for r in descriptor["resources"]],
        "json_ld": overview_json_ld(descriptor),
    }


# Listed by the package's own Dataset (croissant.json, datapackage.json) and by the sources table:
# one entry a source was 187 bytes, and made the 10,000-document overview a page of 2.01 MB.
PER_SOURCE = ("isBasedOn", "citation")


def overview_json_ld(descriptor: dict) -> str:
    """The package's schema.org Dataset (pipeline.package.schemaorg) as the overview describes it:
    without the list of its sources, so that the page does not grow with them."""
    found = {key: value for key, value in dataset(descriptor).items() if key not in PER_SOURCE}
    return json.dumps(found, ensure_ascii=False, indent=2)


def source_page(package: Package, source: dict, found: SourceText) -> dict:
    spans = package.evidence_within(source["source_id"])
    link = cache(package.href)  # a span's row, asked for by each of its pieces and its line
    cut = pieces(found.text, spans, link) if found.text is not None else []
    return {
        "source": source,
        "found": found,
        "spans": [_evidence_line(span, link, found.text) for span in spans],
        "pieces": cut,
        # made of the project's colours and numbers only (texts.segment_style): CSS as it is
        "styles": Markup(style_classes(cut)),
        "colours": charts.TABLE_COLOURS,
        "unread": UNREAD,
    }


def _evidence_line(span: dict, link: Callable[[str, str], str], text: str | None) -> tuple:
    """What the source page lists of an evidence row: (evidence_id, record_table, record_id,
    start, end, exact, the record's address, whether the text there differs from exact): a tuple
    the template unpacks, rather than a row whose fields it looks up one by one."""
    table, record, start, end = (
        span[name] for name in ("record_table", "record_id", "start", "end")
    )
    differs = text is not None and text[start:end] != span["exact"]
    return (
        span["evidence_id"],
        table,
        record,
        start,
        end,
        span["exact"],
        link(table, record),
        differs,
    )


# One table cell: (kind, text, link, title, css). `kind` is plain, empty, link, key, linked-key
# (of a source or evidence row) or record; `text` is the value as the CSV writes it. A plain
# tuple: a NamedTuple made for each of the 10k corpus's 20 million cells was a tenth of the
# table pages' time.
Cell = tuple[str, str, str, str, str]
EMPTY: Cell = ("empty", "", "", "", "")
NUMERIC_CSS = {"integer": "num", "number": "num", "date": "date"}


def _column_cells(package: Package, table: str, spec: dict) -> Callable[[object], Cell]:
    """How a column's values are shown, chosen once per column (not for each of its cells): the
    key, a link to the row it refers to, or plain text; each value's cell made once (a code, a
    date or an id repeats down a column)."""
    column = spec["name"]
    target = package.links[table].get(column)
    shown: Callable[[str], Cell]
    if column == package.keys[table]:
        shown = partial(_cell, "key", css="")
    elif target is not None and not (table == "evidence" and column == "record_id"):
        shown = partial(_link, package, target)
    elif spec["type"] in NUMERIC_CSS:
        shown = partial(_cell, "plain", css=NUMERIC_CSS[spec["type"]])
    else:
        shown = _plain
    made: dict[tuple[type, object], Cell] = {(type(None), None): EMPTY}
    made_of_text: dict[str, Cell] = {}  # most cells: looked up without making a key

    def cell(value: object) -> Cell:
        if type(value) is str:
            found = made_of_text.get(value)
            if found is None:
                found = made_of_text[value] = shown(value)
            return found
        # by type too: 1, 1.0 and True are one key of a dict, and not one text
        found = made.get((type(value), value))
        if found is None:
            found = made[type(value), value] = shown(_text(value))
        return found

    return cell


def _cell(kind: str, text: str, css: str) -> Cell:
    return (kind, text, "", "", css)


def _link(package: Package, target: str, text: str) -> Cell:
    return ("link", text, package.href(target, text), package.name_of(target, text), "")


def _text(value: object) -> str:
    """A value as the CSV writes it; a string is its own text (most cells, spared the lookup)."""
    return value if type(value) is str else csv_cell(value)


def _plain(text: str) -> Cell:
    """A text cell, given room to wrap when it is long as the page shows it, escaped: escaping
    at most sextuples a character, so only a text of LONG_CELL / 6 to LONG_CELL characters needs
    escaping to tell."""
    if len(text) > LONG_CELL or (len(text) * 6 > LONG_CELL and len(html.escape(text)) > LONG_CELL):
        return ("plain", text, "", "", "long")
    return ("plain", text, "", "", "")


def _key_cells(table: str, ids: list[str], values: dict[str, list]) -> list[Cell] | None:
    """The key cells of a page of sources (each linked to its page) or of evidence (each linked
    to its passage), given the page's `values` by column; None for other tables."""
    if table == "sources":
        return [("linked-key", rid, f"source-{rid}.html", "", "") for rid in ids]
    if table == "evidence":
        return [
            ("linked-key", rid, f"source-{source}.html#ev-{rid}", "", "")
            for rid, source in zip(ids, values["source_id"], strict=True)
        ]
    return None


def _referrers(package: Package, table: str, record_id: str) -> dict:
    """The rows that refer to this one: listed, or counted when a table has many of them."""
    counted, listed = package.referrers_of(table, record_id)
    return {
        "counted": counted,
        "listed": [(t, rid, column, package.name_of(t, rid)) for t, rid, column in listed],
    }


def table_page(package: Package, resource: dict, page: int) -> dict:
    """Page `page` of a table: its share of the table's rows (Package.bounds)."""
    table = resource["name"]
    fields = resource["schema"]["fields"]
    header = [f["name"] for f in fields] + (["evidence"] if table in ANNOTATED else [])
    total = len(package.rows[table])
    bounds = package.bounds[table]
    shown = bounds[page - 1]
    # a column no row can fill is left out (the changes and evidence tables: 1.3 million rows)
    referred = package.referred(table)
    return {
        "resource": resource,
        "parquet": _parquet_files(resource),
        "referred": referred,
        "header": header + (["referenced by"] if referred else []),
        "count": len(shown),
        "span": _span(shown.start, len(shown), total, len(bounds) > 1),
        "pager": pager(f"table-{table}", page, len(bounds)),
        "rows": _table_rows(package, table, fields, shown),
    }


def _parquet_files(resource: dict) -> str | None:
    """The Parquet twin's path, or the glob of its part files and how many there are."""
    files = twin_files(resource)
    if "parts" not in (resource.get("parquet") or {}):
        return files[0].get("path") if files else None
    return f"data/{resource['name']}/part-*.parquet ({len(files)} parts)"


def _span(start: int, shown: int, total: int, paged: bool) -> dict:
    """Which of a list's items a page shows, the first at `start` (from 0): the first's and
    last's numbers (from 1), the total, and whether the list has more than one page."""
    return {"first": start + 1, "last": start + shown, "total": total, "paged": paged}


def _table_rows(package: Package, table: str, fields: list[dict], shown: range) -> Iterator[tuple]:
    """(id, cells, evidence or None, referrers or None) of each of the rows `shown`, made as the
    page is written, a column at a time; referrers are None for a table nobody refers to."""
    rows = package.rows[table]
    values = {f["name"]: rows.values(f["name"], shown) for f in fields}
    columns = [list(map(_column_cells(package, table, f), values[f["name"]])) for f in fields]
    # the id of a row whose key has several fields (the changes table's) joins them with '/'
    key = [values[name] for name in package.key_fields[table]]
    ids = ["/".join(map(str, parts)) for parts in zip(*key, strict=True)]
    if table == "evidence":
        place = [f["name"] for f in fields].index("record_id")
        columns[place] = [
            ("record", csv_cell(record), package.href(record_table, record), "", "")
            for record_table, record in zip(
                values["record_table"], values["record_id"], strict=True
            )
        ]
    columns[0] = _key_cells(table, ids, values) or columns[0]
    evidence = package.evidence_for(table, shown) if table in ANNOTATED else [None] * len(ids)
    referred = package.referred(table)
    for rid, cells, listed in zip(ids, zip(*columns, strict=True), evidence, strict=True):
        yield rid, cells, listed, _referrers(package, table, rid) if referred else None


def chart_pages(package: Package) -> dict[str, tuple[str, str, Callable[[], dict]]]:
    """(template, heading, what it shows, gathered when it is written) of each page of charts by
    its file: the charts page (the timeline's first chart), the casualty claims' first chart
    (casualties.html), the map (map.html), then a page for each further chart of the timeline or
    of the claims (charts.MOST_MARKS marks each). Each of the three is a page of its own: together,
    the 10k corpus's were one page of 4.1 MB. The charts are laid out here and each drawn when its
    page is written."""
    rows = package.rows
    events, statements = rows.get("events", NO_ROWS), rows.get("statements", NO_ROWS)
    places = list(rows.get("places", NO_ROWS))
    actor_names = {a["actor_id"]: a["name"] for a in rows.get("actors", NO_ROWS)}
    timelines, outside = charts.timeline_charts(
        events.select(charts.TIMELINE_COLUMNS["events"]),
        statements.select(charts.TIMELINE_COLUMNS["statements"]),
        actor_names,
    )
    reports = rows.get("casualty_reports", NO_ROWS)
    # only the events a claim is about are labelled (all 139,746 of the 10k corpus: 29 MB)
    claimed = set(reports.column("event_id")) if "event_id" in reports.names else set()
    claims = charts.casualty_charts(
        reports,
        actor_names,
        {
            e["event_id"]: e["summary"]
            for e in events.select(("event_id", "summary"))
            if e["event_id"] in claimed
        },
        {p["place_id"]: p["name"] for p in places},
    )
    _, far = charts.map_regions(places)
    most_marks = f"{charts.MOST_MARKS:,}"
    charts_page = {
        "timeline_pager": pager("timeline", 1, len(timelines), TIMELINE_FIRST),
        "outside": outside,
        "most_marks": most_marks,
    }
    casualties = {"pager": pager("casualties", 1, len(claims)), "most_marks": most_marks}
    place_map = {
        "place_map": charts.place_map(places),
        "unmapped": far
        + [p for p in places if p.get("latitude") is None or p.get("longitude") is None],
    }
    found: dict[str, tuple[str, str, Callable[[], dict]]] = {
        "charts.html": (
            "charts.html",
            "Charts",
            partial(_drawn, charts_page, "timeline", timelines[0] if timelines else None),
        ),
        "casualties.html": (
            "casualties.html",
            f"Charts: {CHART_NAMES['casualties']}",
            partial(_drawn, casualties, "chart", claims[0] if claims else None),
        ),
        "map.html": ("map.html", "Charts: map of places", partial(dict, place_map)),
    }
    for kind, drawn in (("timeline", timelines), ("casualties", claims)):
        first = TIMELINE_FIRST if kind == "timeline" else ""
        for page, chart in enumerate(drawn[1:], 2):
            shown = {"kind": kind, "pager": pager(kind, page, len(drawn), first)}
            found[page_file(kind, page)] = (
                "chart.html",
                f"Charts: {CHART_NAMES[kind]}",
                partial(_drawn, shown, "chart", chart),
            )
    return found


def _drawn(shown: dict, name: str, chart: Callable[[], dict] | None) -> dict:
    """What a page of charts shows, its chart `name` drawn now (None when there is none)."""
    return {**shown, name: chart() if chart is not None else None}


# the timeline's first chart is on the charts page, at its heading
TIMELINE_FIRST = "charts.html#timeline"


def checks_page(package_dir: Path, seeds: Path | None, progress: Progress | None = None) -> dict:
    """The package validated once, by the project's validator; the annotation check and the
    sentences no evidence covers. Run in a process of its own (checks_started): the memory of the
    check's corpus and of the validator's Arrow tables (at 10,000 documents, 0.9 GB at their
    peak) is never the page writers'."""
    # The validator first: its peak comes while the report's own process is still small, and its
    # Arrow memory is given back before the check reads the corpus (10k corpus: 675 -> 230 MB).
    problems = sorted(str(p) for p in verify_package(package_dir, progress))
    pa.default_memory_pool().release_unused()
    covered = coverage(seeds, progress)
    return {"validator": VALIDATOR, "problems": problems, "coverage": covered, "unread": UNREAD}


def coverage(seeds: Path | None, progress: Progress | None = None) -> dict | None:
    """Annotation check problems and every sentence no evidence covers, from seeds/; None without
    a seeds folder."""
    if seeds is None or not seeds.is_dir():
        return None
    # the rows stay in Arrow: as Python values, the 10k corpus's took 1.4 GB and 8 s more
    checked = check_seeds(seeds, progress, tables=False)
    counts = dict.fromkeys(("covered", "excluded", "uncovered"), 0)
    shown = []
    for sentence in classify(checked.corpus, checked.evidence_spans(), checked.exclusions):
        counts[sentence.status] += 1
        if sentence.status != "covered":
            shown.append(sentence)
    return {
        "seeds": str(seeds),
        "problems": [str(p) for p in checked.problems],
        "sentences": sum(counts.values()),
        "counts": counts,
        "shown": shown,
    }


def checks_pages(checks: dict, texts: dict[str, SourceText]) -> list[dict]:
    """The checks page with each text's hash, then pages of the uncovered sentences it cannot
    hold (pages.split)."""
    shown = checks["coverage"]["shown"] if checks["coverage"] is not None else []
    chunks = split(shown)
    hashes = sorted(texts.items())  # once: sorting for each of 194 pages took 5 s at 10k
    return [
        {
            **checks,
            "texts": hashes,
            "page": page,
            "shown": chunk,
            "span": _span((page - 1) * PAGE_ROWS, len(chunk), len(shown), len(chunks) > 1),
            "pager": pager("checks", page, len(chunks)),
        }
        for page, chunk in enumerate(chunks, 1)
    ]


# ---- the whole site ----


def build_report(
    package_dir: Path, seeds: Path | None, out: Path, progress: Progress | None = None
) -> list[Path]:
    """Write the report site into `out` (its previous pages are replaced); return the pages
    written. `progress` hears each step: reading, checking, validating, then each page written."""
    progress = or_silent(progress)
    progress("reading the package")
    # The package's shape first: a folder that is no package is refused before the long checks.
    read_checked_descriptor(package_dir)
    # The checks run in a process of their own while this one reads the package and lays out the
    # pages, so that both cores work (the 1k corpus: this process waits 0.2 s for them, which took
    # it 3.4 s before), and their memory is gone with it before the page writers are forked from
    # this one. Nothing is written until both are done; each other page is gathered as it is
    # written.
    with checks_started(package_dir, seeds, progress) as checked:
        package = load(package_dir)
        texts = source_texts(package, seeds if seeds is not None and seeds.is_dir() else None)
        pages = site_pages(package, texts)
        checks = checked()
    for page, shown in enumerate(checks_pages(checks, texts), 1):
        pages[page_file("checks", page)] = Page(
            "checks.html", "Checks", "checks.html", partial(dict, shown)
        )
    title = package.descriptor.get("title") or package.descriptor.get("name") or str(package_dir)
    return write_pages(out, pages, navigation(package), title, package.href, progress)


@contextlib.contextmanager
def checks_started(
    package_dir: Path, seeds: Path | None, progress: Progress
) -> Iterator[Callable[[], dict]]:
    """checks_page run in a forked process, its progress told to `progress` as it goes (by a
    thread of this process that reads what the process sends); yields the function that waits
    for its result and returns it (or raises what it raised). The process is ended however the
    block ends."""
    context = multiprocessing.get_context("fork")
    receiving, sending = context.Pipe(duplex=False)
    with signals_held():  # a signal between the fork and the child's handlers would be lost
        child = context.Process(
            target=_checks_child, args=(os.getpid(), sending, package_dir, seeds)
        )
        child.start()
    sending.close()
    received: list[tuple[str, object]] = []
    relay = threading.Thread(target=_relayed, args=(receiving, progress, received), daemon=True)
    relay.start()
    try:
        yield partial(_checks_received, relay, received, child)
    finally:
        with signals_held():  # the clean-up is not cut short: it waits until the child is gone
            if child.is_alive():
                child.terminate()
            child.join()
            relay.join()
            receiving.close()


def _checks_child(parent: int, sending: Connection, package_dir: Path, seeds: Path | None) -> None:
    """In the forked process: the checks page's work, sent to the parent, or what it raised; its
    progress sent as it goes."""
    worker_start(parent)  # Ctrl-C is the parent's; dies with the parent

    def progress(what: str, done: int = 0, total: int = 0) -> None:
        sending.send(("progress", (what, done, total)))

    try:
        found: tuple[str, object] = ("checks", checks_page(package_dir, seeds, progress))
    except Exception as error:  # handed over: the parent raises it as its own
        found = ("error", error)
    try:
        sending.send(found)
    except Exception as error:  # an error that cannot be pickled is sent as its words
        sending.send(("error", RuntimeError(f"{type(error).__name__}: {error}")))


def _relayed(receiving: Connection, progress: Progress, received: list[tuple[str, object]]) -> None:
    """Tell `progress` what the checks' process reports, until it sends its result (kept in
    `received`) or ends without one."""
    while True:
        try:
            kind, found = receiving.recv()
        except (EOFError, OSError):  # ended without a word, or the block is being left
            return
        if kind != "progress":
            received.append((kind, found))
            return
        assert isinstance(found, tuple)
        progress(*found)


def _checks_received(
    relay: threading.Thread, received: list[tuple[str, object]], child: BaseProcess
) -> dict:
    """The checks page's work, once the forked process has sent it."""
    relay.join()
    if not received:
        child.join()
        raise ChecksFailed(
            f"the package's checks ended without a result (exit status {child.exitcode})"
        )
    [(kind, found)] = received
    if kind == "error":
        assert isinstance(found, BaseException)
        raise found
    assert isinstance(found, dict)
    return found


class ChecksFailed(Exception):
    """The process running the checks ended without sending their result (killed, or out of
    memory)."""


class Page(NamedTuple):
    """A page of the site: its template, heading, the navigation entry it is under ("" for
    none) and what it shows, gathered when it is written."""

    template: str
    heading: str
    under: str
    shown: Callable[[], dict]


def navigation(package: Package) -> Navigation:
    """The links on every page: the overview, each table's first page, the charts and checks.
    Sources are reached from the overview and the sources table: a link to each on every page
    made a site of n sources n * n links (246 MB for 1,000 sources)."""
    tables = [(r["name"], f"table-{r['name']}.html") for r in package.descriptor["resources"]]
    return Navigation(
        [("Overview", "index.html"), *tables, ("Charts", "charts.html"), ("Checks", "checks.html")]
    )


def site_pages(package: Package, texts: dict[str, SourceText]) -> dict[str, Page]:
    """Every page of the site but the checks pages by its file name, each gathered when it is
    written."""
    pages = {
        "index.html": Page(
            "index.html", "Overview", "index.html", partial(index_page, package, texts)
        )
    }
    for source in package.rows.get("sources", NO_ROWS):
        pages[f"source-{source['source_id']}.html"] = Page(
            "source.html",
            f"Source: {source['title']}",
            "",
            partial(source_page, package, source, texts[source["source_id"]]),
        )
    for resource in package.descriptor["resources"]:
        table = resource["name"]
        for page in range(1, len(package.bounds[table]) + 1):
            pages[page_file(f"table-{table}", page)] = Page(
                "table.html",
                f"Table: {table}",
                f"table-{table}.html",
                partial(table_page, package, resource, page),
            )
    with collector_paused():  # the charts' geometry: objects by the million, and no cycles
        laid_out = chart_pages(package)
    for name, (template, heading, shown) in laid_out.items():
        pages[name] = Page(template, heading, "charts.html", shown)
    return pages


CHART_NAMES = {"timeline": "timeline of events and statements", "casualties": "casualty claims"}
STALE = (  # pages a smaller package lacks
    "source-*.html",
    "table-*.html",
    "checks.page-*.html",
    "timeline.page-*.html",
    "casualties.page-*.html",
)  # pages a smaller package lacks


def write_pages(
    out: Path,
    pages: dict[str, Page],
    nav: Navigation,
    package_title: str,
    href: Callable[[str, str], str],
    progress: Progress | None = None,
    processes: int | None = None,
) -> list[Path]:
    """Each page written into `out`, its rows linked by `href(table, id)`, after removing the
    pages of sources, tables and checks no longer in the package. A site of PARALLEL_MIN_PAGES
    pages or more is written by `processes` processes (one per core by default): this one and
    forked workers, each writing runs of PAGES_PER_RUN pages, every `processes`-th run this
    one's; a page's bytes are the same whoever writes it."""
    progress = or_silent(progress)
    out.mkdir(parents=True, exist_ok=True)
    for pattern in STALE:
        for stale in sorted(out.glob(pattern)):
            if stale.name not in pages:
                stale.unlink()
    global _site  # set before the fork: the workers inherit it, and share the rows it reaches
    _site = Site(out, pages, nav, package_title, href)
    names = list(pages)
    runs = [names[start : start + PAGES_PER_RUN] for start in range(0, len(names), PAGES_PER_RUN)]
    count = workers() if processes is None else processes
    done = 0
    progress("writing pages", done, len(names))
    # the collector passes over the package's rows no more, nor writes to them in a worker
    # (which would copy each of their memory pages there)
    with existing_objects_frozen():
        try:
            if count >= 2 and len(names) >= PARALLEL_MIN_PAGES:
                # This process writes too: a worker that only waited would still hold a share
                # of the memory the writers copy (at 10,000 documents, 200 MB a writer).
                mine = runs[::count]
                theirs = [run for index, run in enumerate(runs) if index % count]
                with worker_pool(count - 1) as pool:
                    written = pool.imap_unordered(_write_run, theirs)
                    for run in mine:
                        done += _write_run(run) + sum(_ready(written))
                        progress("writing pages", done, len(names))
                    for count_written in written:
                        done += count_written
                        progress("writing pages", done, len(names))
            else:
                for name in names:
                    done += _write_run([name])
                    progress("writing pages", done, len(names))
        finally:
            _site = None
    return [out / name for name in names]


def _ready(results: IMapIterator) -> Iterator[int]:
    """The results a pool has ready, without waiting for any other."""
    while True:
        try:
            yield results.next(timeout=0)
        except (multiprocessing.TimeoutError, StopIteration):  # none ready, or none left
            return


class Site(NamedTuple):
    """What every page of the site is written with."""

    out: Path
    pages: dict[str, Page]
    nav: Navigation
    package_title: str
    href: Callable[[str, str], str]


_site: Site | None = None
# A pool of two workers starts and stops in 0.04 to 0.11 s here, the time of a few pages (the 1k
# corpus's average 10 ms); a small site, the tests' 15 pages, is written here. Runs of 20 pages,
# dealt in turn, are small enough that no writer is left with much to do after the others end.
PARALLEL_MIN_PAGES = 100
PAGES_PER_RUN = 20


def _write_run(names: list[str]) -> int:
    """Write the pages `names` of the site being written; how many were written."""
    assert _site is not None, "write_pages sets the site before any page is written"
    for name in names:
        page = _site.pages[name]
        context = {
            "title": page.heading,
            "package_title": _site.package_title,
            "nav": _site.nav.of(page.under),
            "href": _site.href,
        }
        with (_site.out / name).open("w", encoding="utf-8") as handle:
            handle.write(render(page.template, **context, **page.shown()))
    return len(names)
