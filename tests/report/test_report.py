"""The review report: highlights, links, escaping and determinism, then the pages in a real headless Chromium.

The report is built from the package publish makes of the minimal fixture seeds and,
when the project's own seeds carry annotations, of those too. The browser test
takes its screenshots into the test's own temporary folder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.package.reader import read_package
from pipeline.publish import build_package
from pipeline.report import site
from pipeline.report.read import ColumnReader, Package, load
from pipeline.report.site import build_report, highlighted_text, segments
from pipeline.report.texts import pieces, style_classes
from pipeline.validate.run import verify_package

from conftest import BASE_SEEDS, ROOT

CORPORA = {"minimal": BASE_SEEDS}
if any((ROOT / "seeds").glob("*/annotations.yaml")):
    CORPORA["seeds"] = ROOT / "seeds"


class Page(HTMLParser):
    """Ids, links and highlight segments of one page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.segments: list[tuple[list[str], str]] = []  # (evidence ids, text) in document order
        self.classes: list[str] = []
        self._seg: list[str] | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and "href" in attrs:
            self.hrefs.append(attrs["href"])
        self.classes += (attrs.get("class") or "").split()
        if tag == "a" and "seg" in (attrs.get("class") or "").split():
            self._seg, self._text = attrs["data-ev"].split(), ""

    def handle_endtag(self, tag):
        if tag == "a" and self._seg is not None:
            self.segments.append((self._seg, self._text))
            self._seg = None

    def handle_data(self, data):
        if self._seg is not None:
            self._text += data


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module", params=sorted(CORPORA))
def built(request, tmp_path_factory) -> tuple[Path, Path, Path]:
    """(package, seeds, report) for one corpus."""
    seeds = CORPORA[request.param]
    work = tmp_path_factory.mktemp(request.param)
    build_package(seeds, work / "package", None)
    build_report(work / "package", seeds, work / "report")
    return work / "package", seeds, work / "report"


def test_every_evidence_row_is_highlighted_with_its_exact_words(built):
    package, _, report = built
    _, rows = read_package(package)
    pages = {}
    for ev in rows["evidence"]:
        sid = ev["source_id"]
        page = pages.setdefault(sid, parse(report / f"source-{sid}.html"))
        assert f"ev-{ev['evidence_id']}" in page.ids, ev["evidence_id"]
        covered = "".join(text for ids, text in page.segments if ev["evidence_id"] in ids)
        assert covered == ev["exact"], ev["evidence_id"]


def test_every_link_resolves_to_an_existing_anchor(built):
    _, _, report = built
    pages = {path.name: parse(path) for path in sorted(report.glob("*.html"))}
    checked = 0
    for name, page in pages.items():
        for href in page.hrefs:
            if re.match(r"^[a-z]+:", href):
                assert href.startswith(("https://", "http://")), f"{name}: {href}"
                continue
            target, _, fragment = href.partition("#")
            target = target or name
            assert target in pages, f"{name}: {href}"
            if fragment:
                assert fragment in pages[target].ids, f"{name}: {href}"
            checked += 1
    assert checked > 50


def test_rows_are_cross_linked(built):
    package, _, report = built
    _, rows = read_package(package)
    events = parse(report / "table-events.html")
    for event in rows["events"]:
        assert f"row-{event['event_id']}" in events.ids
    for statement in rows["statements"]:
        if statement["about_event_id"]:
            assert f"table-statements.html#row-{statement['statement_id']}" in events.hrefs
    for claim in rows["casualty_reports"]:
        if claim["event_id"]:
            assert f"table-casualty_reports.html#row-{claim['report_id']}" in events.hrefs
    for ev in rows["evidence"]:
        page = parse(report / f"table-{ev['record_table']}.html")
        assert f"source-{ev['source_id']}.html#ev-{ev['evidence_id']}" in page.hrefs


@pytest.mark.parametrize(
    ("table", "referred"),
    [("events", True), ("actors", True), ("changes", False), ("evidence", False)],
)
def test_only_a_table_others_refer_to_has_a_referenced_by_column(built, table, referred):
    _, _, report = built
    page = (report / f"table-{table}.html").read_text(encoding="utf-8")
    header = re.search(r"<thead><tr>(.*?)</tr></thead>", page).group(1)
    assert ('<th scope="col">referenced by</th>' in header) is referred
    assert ("“referenced by” lists the rows that point here" in page) is referred
    rows = re.findall(r"<tr id=.*</tr>", page)
    assert rows
    assert {row.count("<td") for row in rows} == {header.count("<th")}


CHART_PAGES = {"charts.html": "timeline", "casualties.html": "casualties", "map.html": "map"}


def test_charts_have_a_mark_per_row(built):
    package, _, report = built
    _, rows = read_package(package)
    pages = {name: (report / name).read_text(encoding="utf-8") for name in CHART_PAGES}
    for name, kind in CHART_PAGES.items():
        charts = re.findall(
            r'<svg xmlns="http://www.w3.org/2000/svg" class="chart (\w+)"', pages[name]
        )
        assert charts == [kind], name
        assert "http" not in re.sub(r'xmlns="http://www.w3.org/2000/svg"', "", pages[name]).replace(
            "https://creativecommons", ""
        )
    for item in [*rows["events"], *rows["statements"]]:
        table, key = (
            ("events", "event_id") if "event_id" in item else ("statements", "statement_id")
        )
        if item.get("date_start") or item.get("date"):
            assert f'href="table-{table}.html#row-{item[key]}"' in pages["charts.html"]
    for claim in rows["casualty_reports"]:
        assert (
            f'href="table-casualty_reports.html#row-{claim["report_id"]}"'
            in pages["casualties.html"]
        )
    for place in rows["places"]:
        if place["latitude"] is not None:
            assert f"table-places.html#row-{place['place_id']}" in pages["map.html"]


def test_pages_are_self_contained(built):
    _, _, report = built
    for path in sorted(report.glob("*.html")):
        html = path.read_text(encoding="utf-8")
        assert not re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', html), path.name


def test_report_is_deterministic(built, tmp_path: Path):
    package, seeds, report = built
    again = tmp_path / "again"
    build_report(package, seeds, again)
    names = sorted(p.name for p in report.glob("*.html"))
    assert names == sorted(p.name for p in again.glob("*.html"))
    for name in names:
        assert (report / name).read_bytes() == (again / name).read_bytes(), name


def test_overlapping_spans_split_at_every_boundary():
    spans = [
        {"evidence_id": "a", "start": 0, "end": 5, "record_table": "events", "record_id": "e"},
        {"evidence_id": "b", "start": 3, "end": 8, "record_table": "actors", "record_id": "x"},
        {"evidence_id": "c", "start": 3, "end": 5, "record_table": "places", "record_id": "p"},
    ]
    got = [(a, b, [s["evidence_id"] for s in active]) for a, b, active in segments(10, spans)]
    assert got == [(0, 3, ["a"]), (3, 5, ["a", "b", "c"]), (5, 8, ["b"]), (8, 10, [])]


SPANS = st.lists(
    st.tuples(st.integers(-3, 30), st.integers(-3, 30), st.sampled_from(["events", "actors"])),
    max_size=12,
)


@given(st.integers(0, 25), SPANS)
def test_segments_hold_each_span_that_covers_them_outermost_first(length: int, drawn: list):
    spans = [
        {"evidence_id": f"e{n}", "start": a, "end": b, "record_table": t, "record_id": "r"}
        for n, (a, b, t) in enumerate(drawn)
    ]
    ordered = sorted(spans, key=lambda s: (s["start"], -s["end"], s["evidence_id"]))
    cuts = sorted(
        {0, length} | {min(max(v, 0), length) for s in spans for v in (s["start"], s["end"])}
    )
    # the definition: every span whose offsets hold the piece, tested one by one
    expected = [
        (a, b, [s for s in ordered if s["start"] <= a and b <= s["end"]]) for a, b in pairwise(cuts)
    ]
    assert segments(length, spans) == expected


def test_text_is_escaped():
    text = 'x <script>alert("1")</script> & y'
    spans = [
        {"evidence_id": "s", "start": 2, "end": 10, "record_table": "events", "record_id": "e<1>"}
    ]
    html = highlighted_text(text, spans)
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp; y" in html
    assert 'href="table-events.html#row-e&lt;1&gt;"' in html


STRIPE = "linear-gradient({0},{0}) left 0 bottom {1}px/100% 3px no-repeat"
FILL = "linear-gradient({0}2e,{0}2e) left 0 top 0/100% calc(100% - 15px) no-repeat"
EVENTS, ACTORS = "#dd6b20", "#2b6cb0"


def test_each_style_of_highlight_is_one_class_of_the_page(tmp_path: Path):
    spans = [
        {"evidence_id": "e1", "start": 0, "end": 5, "record_table": "events", "record_id": "r"},
        {"evidence_id": "e2", "start": 3, "end": 5, "record_table": "actors", "record_id": "a"},
        {"evidence_id": "e3", "start": 6, "end": 8, "record_table": "events", "record_id": "q"},
    ]
    found = pieces("ab cd ef", spans)
    assert style_classes(found) == (
        f".text .s0{{background:{STRIPE.format(EVENTS, 12)},{FILL.format(EVENTS)};"
        "padding-bottom:15px}\n"
        f".text .s1{{background:{STRIPE.format(EVENTS, 12)},{STRIPE.format(ACTORS, 9)},"
        f"{FILL.format(ACTORS)};padding-bottom:15px}}\n"
    )
    assert highlighted_text("ab cd ef", spans) == (
        '<span class="anchor" id="ev-e1"></span><a class="seg s0" href="table-events.html#row-r"'
        ' data-ev="e1" title="events/r">ab </a><span class="anchor" id="ev-e2"></span>'
        '<a class="seg s1" href="table-actors.html#row-a" data-ev="e1 e2"'
        ' title="events/r; actors/a">cd</a> <span class="anchor" id="ev-e3"></span>'
        '<a class="seg s0" href="table-events.html#row-q" data-ev="e3" title="events/q">ef</a>'
    )


def test_a_source_page_declares_the_classes_of_its_highlights(tmp_path: Path, published_minimal):
    build_report(published_minimal, BASE_SEEDS, tmp_path / "report")
    page = (tmp_path / "report" / "source-wire-2020-09-30.html").read_text(encoding="utf-8")
    styles = page.split("<style>", 1)[1].split("</style>", 1)[0]
    used = set(re.findall(r'<a class="seg (s\d+)"', page))
    declared = re.findall(r"^\.text \.(s\d+)\{background:", styles, re.MULTILINE)
    assert used and sorted(used) == sorted(declared) == sorted(set(declared))
    assert "style=" not in page


@pytest.mark.parametrize(
    ("failing", "expected"),
    [
        ("raise", "ValueError: the validator broke"),
        ("exit", "ChecksFailed: the package's checks ended without a result (exit status 3)"),
    ],
)
def test_what_stops_the_checks_stops_the_report(
    failing: str, expected: str, tmp_path: Path, published_minimal: Path, monkeypatch
):
    def broken(folder: Path, progress=None):
        if failing == "exit":
            os._exit(3)  # as the kernel ends a process out of memory: no word sent back
        raise ValueError("the validator broke")

    monkeypatch.setattr(site, "verify_package", broken)
    with pytest.raises(Exception) as raised:
        build_report(published_minimal, BASE_SEEDS, tmp_path / "report")
    assert f"{type(raised.value).__name__}: {raised.value}" == expected
    assert not (tmp_path / "report").exists()


def test_a_changed_text_is_flagged(tmp_path: Path):
    seeds = tmp_path / "seeds"
    shutil.copytree(BASE_SEEDS, seeds)
    build_package(seeds, tmp_path / "package", None)
    text = seeds / "wire-2020-09-30" / "text.txt"
    text.write_text(text.read_text(encoding="utf-8").replace("Terter", "Tartar"), encoding="utf-8")
    build_report(tmp_path / "package", seeds, tmp_path / "report")
    page = (tmp_path / "report" / "source-wire-2020-09-30.html").read_text(encoding="utf-8")
    assert "differs from sources.text_sha256" in page
    assert "differs from the text" in page
    checks = (tmp_path / "report" / "checks.html").read_text(encoding="utf-8")
    assert "sha256 differs" in checks


def test_a_damaged_package_is_flagged(tmp_path: Path):
    build_package(BASE_SEEDS, tmp_path / "package", None)
    places = tmp_path / "package" / "data" / "places.csv"
    places.write_text(
        places.read_text(encoding="utf-8").replace("Terter", "Tartar"), encoding="utf-8"
    )
    build_report(tmp_path / "package", BASE_SEEDS, tmp_path / "report")
    checks = (tmp_path / "report" / "checks.html").read_text(encoding="utf-8")
    assert "verify_package" in checks and 'class="bad">' in checks and "places" in checks


def test_cli_report(tmp_path: Path):
    build_package(BASE_SEEDS, tmp_path / "package", None)
    result = CliRunner().invoke(
        app,
        [
            "report",
            "--package",
            str(tmp_path / "package"),
            "--seeds",
            str(BASE_SEEDS),
            "--out",
            str(tmp_path / "report"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (
        result.output
        == f"wrote 15 pages to {tmp_path / 'report'}; open {tmp_path / 'report' / 'index.html'}\n"
    )
    missing = CliRunner().invoke(
        app, ["report", "--package", str(tmp_path / "nothing"), "--out", str(tmp_path / "r2")]
    )
    assert missing.exit_code == 2  # no package to read at all


def test_checks_page_lists_validation_and_coverage(built):
    _, _, report = built
    checks = (report / "checks.html").read_text(encoding="utf-8")
    assert "verify_package" in checks and "passes" in checks
    assert "Uncovered sentences" in checks and "sentences:" in checks


# ---- in a real browser ----


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def run_chromium(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    binary = chromium()
    if binary is None:  # .ci/run installs it: a missing browser is a failure, never a skip
        pytest.fail("chromium is not installed (Debian's chromium package, as .ci/run installs)")
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *extra,
        url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def console_messages(stderr: str) -> list[str]:
    """Console output and uncaught errors of the page (the report's script logs nothing)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@pytest.mark.parametrize("name", ["source", "charts", "table-events", "checks"])
def test_pages_render_in_chromium(built, tmp_path: Path, name: str):
    package, _, report = built
    _, rows = read_package(package)
    source_id = rows["sources"][0]["source_id"]
    first = sorted(e["evidence_id"] for e in rows["evidence"] if e["source_id"] == source_id)
    first_ev = first[0] if first else None
    file = {
        "source": f"source-{source_id}.html",
        "charts": "charts.html",
        "table-events": "table-events.html",
        "checks": "checks.html",
    }[name]
    url = (report / file).as_uri() + (f"#ev-{first_ev}" if name == "source" and first_ev else "")
    dumped = run_chromium(url, tmp_path / "profile", "--dump-dom")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert console_messages(dumped.stderr) == []
    dom = Page()
    dom.feed(dumped.stdout)
    if name == "source":
        segs = [ids for ids, _ in dom.segments]
        assert len({i for ids in segs for i in ids}) == len(first)
        assert "focus" in dom.classes, "the script marks the highlights named in the address"
        assert f"ev-{first_ev}" in dom.ids
    if name == "charts":
        assert dumped.stdout.count('class="chart ') == 1  # the timeline; the others have pages
        written = (report / file).read_text(encoding="utf-8").count('class="mark"')
        assert dumped.stdout.count('class="mark"') == written > 0  # every mark the file holds
    if name == "table-events":
        assert all(f"row-{e['event_id']}" in dom.ids for e in rows["events"])
    shot = tmp_path / f"report-{name}.png"
    # Without the #fragment: headless Chromium captures a scrolled page with a blank band.
    taken = run_chromium(
        (report / file).as_uri(),
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=1400,2000",
    )
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert console_messages(taken.stderr) == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


# ---- the package validated once, rows looked up by key ----

VALIDATOR_LINE = (
    "<p><code>pipeline.validate.run.verify_package (types, constraints, keys, CSV and Parquet "
    "twins)</code>: {state}</p>"
)


def test_the_package_is_validated_once(tmp_path: Path, published_minimal: Path, monkeypatch):
    calls = tmp_path / "calls"  # a file: the checks run in a process of their own

    def counted(folder: Path, progress=None):
        with calls.open("a", encoding="utf-8") as handle:
            handle.write(f"{folder}\n")
        return verify_package(folder, progress)

    monkeypatch.setattr(site, "verify_package", counted)
    build_report(published_minimal, BASE_SEEDS, tmp_path / "report")
    assert calls.read_text(encoding="utf-8") == f"{published_minimal}\n"
    checks = (tmp_path / "report" / "checks.html").read_text(encoding="utf-8")
    section = checks.split("<h2>Package validation</h2>\n", 1)[1].split("<h2>", 1)[0]
    assert section == VALIDATOR_LINE.format(state='<span class="ok">passes</span>') + "\n"


def test_the_checks_page_lists_each_validation_error(tmp_path: Path, published_minimal: Path):
    package = tmp_path / "package"
    shutil.copytree(published_minimal, package)
    places = package / "data" / "places.csv"
    expected = hashlib.sha256(places.read_bytes()).hexdigest()
    places.write_text(
        places.read_text(encoding="utf-8").replace("Terter", "Tartar"), encoding="utf-8"
    )
    actual = hashlib.sha256(places.read_bytes()).hexdigest()
    build_report(package, BASE_SEEDS, tmp_path / "report")
    checks = (tmp_path / "report" / "checks.html").read_text(encoding="utf-8")
    section = checks.split("<h2>Package validation</h2>\n", 1)[1].split("<h2>", 1)[0]
    assert section == (
        VALIDATOR_LINE.format(state='<span class="bad">2 problem(s)</span>')
        + f"\n<ul><li>{package}/data/places.csv: places: hash-count: The data source does not "
        f"match the expected hash count: expected is &#34;{expected}&#34; and actual is "
        f"&#34;{actual}&#34;</li><li>{package}/data/places.parquet:2: places: name: "
        "twin-mismatch: The Parquet twin differs from the CSV in row at position &#34;2&#34; and "
        "field &#34;name&#34;: CSV has &#34;Tartar&#34;, Parquet has &#34;Terter&#34;</li></ul>\n"
    )


NAMES = {
    "a name": ("actors", "armenia", "Armenia"),
    "a summary": (
        "events",
        "terter-shelling-2020-09-30",
        "Shelling of Terter, blamed on Armenia, denied by Armenia.",
    ),
    "no such row": ("actors", "atlantis", "atlantis"),
    "a table without names": ("evidence", "actors-armenia-1", "actors-armenia-1"),
    "no such table": ("rumours", "armenia", "armenia"),
}


@pytest.mark.parametrize("case", sorted(NAMES))
def test_a_record_is_named_by_its_name_column_or_its_id(case: str, published_minimal: Path):
    table, record_id, expected = NAMES[case]
    assert load(published_minimal).name_of(table, record_id) == expected


READS = {
    "date": ("2024-05-01", dt.date(2024, 5, 1)),
    "integer": ("-12", -12),
    "number": ("2.5", 2.5),
    "boolean": ("true", True),
    "string": ("killed", "killed"),
}


@pytest.mark.parametrize("kind", sorted(READS))
def test_a_column_reader_shares_a_repeated_value(kind: str):
    text, expected = READS[kind]
    read = ColumnReader(kind)
    first = read(text)
    assert first == expected and type(first) is type(expected)
    assert read("".join(text)) is first  # an equal text, another object: the same value


def test_a_column_reader_types_every_cell_past_the_values_it_keeps():
    read = ColumnReader("integer")
    texts = [str(n) for n in range(ColumnReader.MOST_SHARED + 50)] * 2
    assert [read(text) for text in texts] == [int(text) for text in texts]
    assert len(read.seen) == ColumnReader.MOST_SHARED


@pytest.mark.parametrize("text", ["x", "1.5", str(2**63)])
def test_a_column_reader_refuses_an_unreadable_cell_each_time(text: str):
    read = ColumnReader("integer")
    for _ in range(2):
        with pytest.raises(ValueError):
            read(text)
    assert read.seen == {}


def test_a_package_without_the_charted_tables_has_empty_charts():
    laid_out = site.chart_pages(Package({"resources": []}, {}))
    assert {name: shown() for name, (_, _, shown) in laid_out.items()} == {
        "charts.html": {
            "timeline": None,
            "timeline_pager": [],
            "outside": [],
            "most_marks": "2,000",
        },
        "casualties.html": {"chart": None, "pager": [], "most_marks": "2,000"},
        "map.html": {"place_map": None, "unmapped": []},
    }
