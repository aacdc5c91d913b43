"""Long lists over pages: the pager's links, and a report whose tables and timeline outgrow one
page, built from a synthetic corpus of 80 documents (1,097 events, 1,449 statements)."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_report import parse

from pipeline.package.reader import read_package
from pipeline.publish import build_package
from pipeline.report import charts, site
from pipeline.report.charts import MOST_MARKS, timeline
from pipeline.report.pages import PAGE_ROWS, PageLink, page_bounds, page_file, pager, split
from pipeline.report.read import load
from pipeline.report.site import build_report
from pipeline.report.texts import source_texts

from conftest import ROOT

P = PageLink

PAGERS = {
    "one page": (("t", 1, 1, ""), []),
    "first of two": (
        ("t", 1, 2, ""),
        [P("1", "t.html", True), P("2", "t.page-2.html"), P("next", "t.page-2.html")],
    ),
    "last of two": (
        ("t", 2, 2, ""),
        [P("previous", "t.html"), P("1", "t.html"), P("2", "t.page-2.html", True)],
    ),
    "middle of nine": (
        ("t", 5, 9, ""),
        [
            P("previous", "t.page-4.html"),
            P("1", "t.html"),
            P("…", ""),
            P("3", "t.page-3.html"),
            P("4", "t.page-4.html"),
            P("5", "t.page-5.html", True),
            P("6", "t.page-6.html"),
            P("7", "t.page-7.html"),
            P("…", ""),
            P("9", "t.page-9.html"),
            P("next", "t.page-6.html"),
        ],
    ),
    "first page elsewhere": (
        ("timeline", 2, 3, "charts.html#timeline"),
        [
            P("previous", "charts.html#timeline"),
            P("1", "charts.html#timeline"),
            P("2", "timeline.page-2.html", True),
            P("3", "timeline.page-3.html"),
            P("next", "timeline.page-3.html"),
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(PAGERS))
def test_pager_links_first_previous_nearby_next_and_last(case: str):
    args, expected = PAGERS[case]
    assert pager(*args) == expected


@given(st.integers(1, 400), st.data())
def test_a_pager_has_a_bounded_number_of_links_and_marks_its_page(count: int, data):
    current = data.draw(st.integers(1, count))
    links = pager("t", current, count)
    numbered = [int(link.label) for link in links if link.label.isdigit()]
    assert numbered == sorted(set(numbered)) and len(links) <= 11
    assert [int(link.label) for link in links if link.current] == ([current] if count > 1 else [])
    assert count == 1 or {1, count, current} <= set(numbered)


@pytest.mark.parametrize(
    "items, expected",
    [([], [[]]), ([1], [[1]]), ([1, 2, 3, 4, 5], [[1, 2], [3, 4], [5]])],
)
def test_split_keeps_order_and_makes_one_page_of_nothing(items: list, expected: list):
    assert split(items, 2) == expected


BOUNDS = {
    "no rows": (([],), [range(0, 0)]),
    "rows only": (([0] * 5, 2, 10), [range(0, 2), range(2, 4), range(4, 5)]),
    "links fill a page": (
        ([2, 2, 2, 9, 1], 10, 5),
        [range(0, 2), range(2, 3), range(3, 4), range(4, 5)],
    ),
    "a row over the links alone": (([9], 10, 5), [range(0, 1)]),
    "exactly full": (([1, 4, 5], 10, 5), [range(0, 2), range(2, 3)]),
}


@pytest.mark.parametrize("case", sorted(BOUNDS))
def test_page_bounds(case: str):
    args, expected = BOUNDS[case]
    assert page_bounds(*args) == expected


@given(st.lists(st.integers(0, 30), max_size=60), st.integers(1, 8), st.integers(1, 40))
def test_page_bounds_cover_every_row_once_within_both_limits(links, most_rows, most_links):
    bounds = page_bounds(links, most_rows, most_links)
    assert [i for page in bounds for i in page] == list(range(len(links)))
    for page in bounds:
        assert 1 <= len(page) <= most_rows or links == []
        assert sum(links[i] for i in page) <= most_links or len(page) == 1


@pytest.mark.parametrize(
    "stem, page, expected",
    [("table-events", 1, "table-events.html"), ("table-events", 12, "table-events.page-12.html")],
)
def test_page_file(stem: str, page: int, expected: str):
    assert page_file(stem, page) == expected


# ---- a report of more than one page per table ----


@pytest.fixture(scope="module")
def paged(tmp_path_factory) -> tuple[Path, Path]:
    """(package, report) of the synthetic 80-document corpus."""
    work = tmp_path_factory.mktemp("paged")
    seeds = work / "seeds"
    made = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "synth.py"), "--docs", "80", "--out", str(seeds)],
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    build_package(seeds, work / "package", None)
    build_report(work / "package", seeds, work / "report")
    return work / "package", work / "report"


def rows_on(report: Path, table: str) -> dict[str, list[str]]:
    """Page file -> the row anchors on it, for each page of a table."""
    files = sorted(report.glob(f"table-{table}.html")) + sorted(
        report.glob(f"table-{table}.page-*.html"), key=lambda p: int(p.stem.rsplit("-", 1)[1])
    )
    return {
        path.name: re.findall(r'<tr id="row-([^"]+)"', path.read_text(encoding="utf-8"))
        for path in files
    }


def test_each_row_is_on_one_page_in_key_order(paged):
    package, report = paged
    _, rows = read_package(package)
    for table, key in [
        ("events", "event_id"),
        ("statements", "statement_id"),
        ("evidence", "evidence_id"),
    ]:
        pages = rows_on(report, table)
        ids = sorted(str(row[key]) for row in rows[table])
        assert len(ids) > PAGE_ROWS, table
        assert len(pages) == -(-len(ids) // PAGE_ROWS), table
        assert [rid for found in pages.values() for rid in found] == ids, table
        assert all(len(found) <= PAGE_ROWS for found in pages.values()), table


def test_every_link_of_a_paged_report_reaches_its_row(paged):
    _, report = paged
    pages = {path.name: parse(path) for path in sorted(report.glob("*.html"))}
    broken = []
    for name, page in pages.items():
        for href in page.hrefs:
            target, _, fragment = href.partition("#")
            target = target or name
            if target not in pages or (fragment and fragment not in pages[target].ids):
                broken.append(f"{name}: {href}")
    assert broken == []
    assert "table-events.page-2.html" in pages["table-events.html"].hrefs


def test_a_reference_links_to_the_page_of_its_row(paged):
    package, report = paged
    _, rows = read_package(package)
    last = sorted(str(e["event_id"]) for e in rows["events"])[-1]  # on the last page
    wanted = f"table-events.page-2.html#row-{last}"
    evidence = [
        e for e in rows["evidence"] if e["record_table"] == "events" and e["record_id"] == last
    ]
    assert evidence
    assert wanted in parse(report / f"source-{evidence[0]['source_id']}.html").hrefs
    on_pages = rows_on(report, "evidence")
    page = next(name for name, ids in on_pages.items() if evidence[0]["evidence_id"] in ids)
    assert wanted in parse(report / page).hrefs


def test_the_timeline_goes_on_over_pages_of_whole_lanes(paged):
    package, report = paged
    _, rows = read_package(package)
    files = [report / "charts.html"] + sorted(report.glob("timeline.page-*.html"))
    assert [p.name for p in files] == ["charts.html", "timeline.page-2.html"]
    marks = []
    for path in files:
        html = path.read_text(encoding="utf-8")
        timeline = html.split('class="chart timeline"', 1)[1].split("</svg>", 1)[0]
        found = re.findall(
            r'class="mark" data-table="(events|statements)" data-id="([^"]+)"', timeline
        )
        assert len(found) <= MOST_MARKS, path.name
        marks += found
    dated = [("events", e["event_id"]) for e in rows["events"] if e["date_start"]]
    dated += [("statements", s["statement_id"]) for s in rows["statements"] if s["date"]]
    assert sorted(marks) == sorted(dated)
    assert '<a href="timeline.page-2.html">2</a>' in files[0].read_text(encoding="utf-8")


def test_the_navigation_lists_the_overview_tables_charts_and_checks(paged):
    package, report = paged
    descriptor, _ = read_package(package)
    html = (report / "table-events.page-2.html").read_text(encoding="utf-8")
    nav = re.findall(
        r'<a href="([^"]+)"( class="current")?>', html.split("<nav>", 1)[1].split("</nav>", 1)[0]
    )
    tables = [f"table-{r['name']}.html" for r in descriptor["resources"]]
    assert [href for href, _ in nav] == ["index.html", *tables, "charts.html", "checks.html"]
    assert [href for href, current in nav if current] == ["table-events.html"]


def test_a_lane_of_more_marks_than_a_chart_holds_is_drawn_in_parts():
    """An actor's lane over MOST_MARKS marks goes on over charts in runs of its rows, each part
    labelled with its number; the next lane shares the last part's chart when it fits."""
    day = dt.date(2024, 5, 1)

    def event(actor: str, number: int) -> dict:
        return {
            "event_id": f"{actor}-{number}",
            "date_start": day,
            "date_end": None,
            "actor1_id": actor,
            "event_type": "attack",
            "summary": "s",
        }

    busy = [event("a", n) for n in range(2 * MOST_MARKS + 500)]  # one day: a row for each
    charts = timeline(busy + [event("b", n) for n in range(10)], [], {"a": "Alpha", "b": "Beta"})
    drawn = [[(lane["label"], len(lane["marks"])) for lane in chart["lanes"]] for chart in charts]
    assert drawn == [
        [("Alpha (1/3)", MOST_MARKS)],
        [("Alpha (2/3)", MOST_MARKS)],
        [("Alpha (3/3)", 500), ("Beta", 10)],
    ]


def test_pages_written_by_workers_are_the_pages_written_here(paged, tmp_path: Path):
    package_dir, _ = paged
    package = load(package_dir)
    pages = site.site_pages(package, source_texts(package, None))
    assert len(pages) >= site.PARALLEL_MIN_PAGES  # so that two processes write it in parallel
    written = {}
    for processes in (1, 2):
        out = tmp_path / str(processes)
        paths = site.write_pages(
            out, pages, site.navigation(package), "T", package.href, None, processes
        )
        assert [path.name for path in paths] == list(pages)
        written[processes] = {path.name: path.read_bytes() for path in sorted(out.iterdir())}
    assert written[1] == written[2]


def first_fit(items: list[charts.TimelineItem], actor_names: dict[str, str]) -> dict[str, list]:
    """The timeline's lanes as the rule says: per actor, by name, start, table and id, each item
    in the first row whose last item ends before it starts."""
    lanes: dict[str, list[list[charts.TimelineItem]]] = {}
    for item in sorted(
        items, key=lambda i: (actor_names.get(i.actor, i.actor), i.start, i.table, i.id)
    ):
        rows = lanes.setdefault(item.actor, [])
        row = next((row for row in rows if row[-1].end < item.start), None)
        if row is None:
            rows.append([item])
        else:
            row.append(item)
    return lanes


ITEMS = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]), st.integers(0, 30), st.integers(0, 10), st.booleans()
    ),
    max_size=60,
)


@given(ITEMS, st.booleans())
def test_timeline_lanes_take_each_item_in_the_first_row_it_fits(drawn, same_names):
    items = [
        charts.TimelineItem("events", str(n), start, start + length, actor, "")
        for n, (actor, start, length, _) in enumerate(drawn)
    ]
    # two actors of one name come in one run of the sort, their items interleaved
    names = {"a": "x", "b": "x"} if same_names else {}
    assert charts._lanes(items, names) == first_fit(items, names)
