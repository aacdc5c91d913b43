"""The geometry of the review report's charts: timeline, casualty claim ranges, map of places.

Plain functions from typed package rows to what the SVG templates draw (charts/*.svg):
positions, sizes, colours, tooltips and the row each mark links to (`href(table, id)`).
No markup is made here; the templates escape every text. Output is deterministic:
inputs are sorted before drawing.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import NamedTuple

TABLE_COLOURS = {
    "actors": "#2b6cb0",
    "places": "#2f855a",
    "events": "#dd6b20",
    "statements": "#805ad5",
    "casualty_reports": "#c53030",
}
MEASURE_COLOURS = {
    "killed": "#b2182b",
    "injured": "#e08214",
    "casualties": "#7b3294",
    "displaced": "#2166ac",
}
MEASURES = ["killed", "injured", "casualties", "displaced"]
CHAR_W = 6.6  # average width of a 12px character, for laying out labels
# Marks per chart: a timeline mark is about 350 bytes of SVG, a casualty claim about 600, so a
# chart of 2,000 stays near 1 MB; the 1k corpus's 32,000 marks made one 21 MB page.
MOST_MARKS = 2000


def href(table: str, record_id: str) -> str:
    """The address of a record's row in its table page."""
    return f"table-{table}.html#row-{record_id}"


def lane_fill(index: int) -> str:
    return "#f3f6f9" if index % 2 else "#ffffff"


def clip(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def _path(*points: tuple[float, float]) -> str:
    """SVG path data of the closed polygon through `points`."""
    return "M" + " L".join(f"{x:.1f} {y:.1f}" for x, y in points) + " Z"


def _diamond(cx: float, cy: float, r: float) -> str:
    return _path((cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy))


def legend(entries: list[tuple[str, str, str]], x: float, y: float) -> list[dict]:
    """(label, colour, shape) entries laid out in a row from (x, y)."""
    laid = []
    for label, colour, shape in entries:
        laid.append({"label": label, "colour": colour, "shape": shape, "x": x, "y": y})
        if shape == "diamond":
            laid[-1]["d"] = _diamond(x + 6, y - 4, 6)
        x += 28 + CHAR_W * len(label)
    return laid


# ---- timeline ----


class TimelineItem(NamedTuple):
    """An event or statement as the timeline places it: a tuple rather than a dict, as the 10k
    corpus's 320,000 are held until their charts are drawn (dicts: 80 MB more)."""

    table: str
    id: str
    start: dt.date
    end: dt.date
    actor: str
    label: str


def timeline(
    events: Sequence[dict],
    statements: Sequence[dict],
    actor_names: dict[str, str],
    window_days: int = 60,
) -> list[dict]:
    """Events and statements by date (bars for date spans) in one lane per actor, as charts of at
    most MOST_MARKS marks each (whole lanes, all on one time axis); empty when there are none.

    Items that end before the window (`window_days` before the latest date) are left
    out of the drawing and listed by the caller; `timeline_charts` gives them.
    """
    charts, _ = timeline_charts(events, statements, actor_names, window_days)
    return [chart() for chart in charts]


def timeline_charts(
    events: Sequence[dict],
    statements: Sequence[dict],
    actor_names: dict[str, str],
    window_days: int = 60,
) -> tuple[list[Callable[[], dict]], list[TimelineItem]]:
    """The charts of `timeline`, each laid out in lanes and drawn when it is called (the marks of
    the 10k corpus's charts, drawn at once, held about 400 MB until the pages were written), and
    the items left out because they end before its window, by start."""
    items = _timeline_items(events, statements)
    if not items:
        return [], []
    before = shift(max(i.end for i in items), -window_days)
    outside = sorted((i for i in items if i.end < before), key=lambda i: (i.start, i.table, i.id))
    first, last = _window(items, window_days)
    lanes = _lanes([i for i in items if i.end >= first], actor_names)
    label_w = min(260, max(90, 12 + CHAR_W * max(len(actor_names.get(a, a or "")) for a in lanes)))
    order = sorted(lanes, key=lambda a: (actor_names.get(a, a) if a else "~", a))
    parts = {
        (actor, part, count): rows
        for actor in order
        for part, count, rows in _lane_parts(lanes[actor])
    }
    marks = {key: sum(len(row) for row in rows) for key, rows in parts.items()}
    charts: list[Callable[[], dict]] = [
        partial(
            _timeline_chart, {key: parts[key] for key in chunk}, actor_names, first, last, label_w
        )
        for chunk in in_pages(list(parts), marks)
    ]
    return charts, outside


def _lane_parts(rows: list[list[TimelineItem]]) -> list[tuple[int, int, list[list[TimelineItem]]]]:
    """(part, parts, rows) of one actor's lane: the whole lane, or, when it holds more than
    MOST_MARKS marks, its rows in runs of at most MOST_MARKS marks, so that no chart is over the
    limit (a whole lane made a 17.4 MB page of the 10k corpus's timeline; its pages are now at
    most 0.94 MB)."""
    weights = {index: len(row) for index, row in enumerate(rows)}
    runs = in_pages(list(weights), weights)
    return [(part, len(runs), [rows[i] for i in run]) for part, run in enumerate(runs, 1)]


def in_pages(keys: list, weights: dict, most: int | None = None) -> list[list]:
    """`keys` in order, in runs whose weights add up to at most `most` (MOST_MARKS); a key
    heavier than that alone."""
    most = MOST_MARKS if most is None else most
    runs: list[list] = [[]]
    total = 0
    for key in keys:
        if runs[-1] and total + weights[key] > most:
            runs.append([])
            total = 0
        runs[-1].append(key)
        total += weights[key]
    return runs


def _timeline_chart(
    lanes: dict[tuple[str, int, int], list[list[TimelineItem]]],
    actor_names: dict[str, str],
    first: dt.date,
    last: dt.date,
    label_w: float,
) -> dict:
    """The timeline of some lanes (an actor's lane, or part `part` of `parts` of it), in the given
    order, from day `first` to day `last`."""
    days = (last - first).days + 1
    plot_w = max(560, min(1000, days * 26))
    day_w = plot_w / days
    row_h, top = 18, 40
    height = top + sum(len(rows) * row_h + 8 for rows in lanes.values()) + 30
    drawn: list[dict] = []
    y = top
    for (actor, part, parts), rows in lanes.items():
        name = actor_names.get(actor, actor) if actor else "(actor not given)"
        part_of = f" ({part}/{parts})" if parts > 1 else ""  # kept whole when the name is clipped
        drawn.append(
            {
                "y": y,
                "height": len(rows) * row_h + 8,
                "fill": lane_fill(len(drawn)),
                "label": clip(name, max(1, int((label_w - 12) / CHAR_W) - len(part_of))) + part_of,
                "label_x": label_w - 8,
                "label_y": y + 4 + row_h / 2 + 4,
                "marks": [
                    _timeline_mark(item, first, day_w, label_w, y + 4 + index * row_h + row_h / 2)
                    for index, row in enumerate(rows)
                    for item in row
                ],
            }
        )
        y += drawn[-1]["height"]
    return {
        "width": label_w + plot_w + 20,
        "height": height,
        "axis": _timeline_axis(first, days, day_w, label_w, top, height - 26),
        "lanes": drawn,
        "legend": legend(
            [
                ("events", TABLE_COLOURS["events"], "rect"),
                ("statements", TABLE_COLOURS["statements"], "diamond"),
            ],
            label_w,
            14,
        ),
    }


def _lanes(
    items: list[TimelineItem], actor_names: dict[str, str]
) -> dict[str, list[list[TimelineItem]]]:
    """Per actor, rows of items that do not overlap in time, each item in the first row it fits."""
    lanes: dict[str, list[list[TimelineItem]]] = {}
    # Per actor, the items come by start: a row whose last item ends before one start stays
    # free for every later item until it takes one. So the rows wait by the end of their last
    # item, and those free are taken lowest first; looking at every row for each item took 3 s
    # of the 10k corpus's report.
    waiting: dict[str, list[tuple]] = {}  # actor -> heap of (end of the last item, row)
    free: dict[str, list[int]] = {}  # actor -> heap of the rows an item may join
    for item in sorted(
        items,
        key=lambda i: (actor_names.get(i.actor, i.actor), i.start, i.table, i.id),
    ):
        actor = item.actor
        rows = lanes.setdefault(actor, [])
        ends, open_rows = waiting.setdefault(actor, []), free.setdefault(actor, [])
        while ends and ends[0][0] < item.start:
            heapq.heappush(open_rows, heapq.heappop(ends)[1])
        if open_rows:
            row = heapq.heappop(open_rows)
            rows[row].append(item)
        else:
            row = len(rows)
            rows.append([item])
        heapq.heappush(ends, (item.end, row))
    return lanes


# the columns of each table _timeline_items reads
TIMELINE_COLUMNS = {
    "events": ("event_id", "date_start", "date_end", "actor1_id", "event_type", "summary"),
    "statements": (
        "statement_id",
        "date",
        "date_latest",
        "speaker_actor_id",
        "statement_type",
        "summary",
    ),
}


def _timeline_items(events: Sequence[dict], statements: Sequence[dict]) -> list[TimelineItem]:
    items = [
        TimelineItem(
            "events",
            e["event_id"],
            e["date_start"],
            e["date_end"] or e["date_start"],
            e.get("actor1_id") or "",
            f"{e['event_type']}: {e['summary']}",
        )
        for e in events
        if e.get("date_start")
    ]
    items += [
        TimelineItem(
            "statements",
            s["statement_id"],
            s["date"],
            s.get("date_latest") or s["date"],
            s["speaker_actor_id"] or "",
            f"{s['statement_type']}: {s['summary']}",
        )
        for s in statements
        if s.get("date")
    ]
    return items


def shift(day: dt.date, days: int) -> dt.date:
    """`day` moved by `days`, held within the dates Python can hold: a date of year 1 or 9999 is
    data too."""
    try:
        return day + dt.timedelta(days=days)
    except OverflowError:
        return dt.date.max if days > 0 else dt.date.min


def _window(
    items: list[TimelineItem], window_days: int, min_days: int = 7
) -> tuple[dt.date, dt.date]:
    """First and last day drawn, padded to at least `min_days`.

    The window starts shortly before the earliest day any recent item has reached
    (its end), so a few long spans reaching far back are clipped (drawn with an
    arrow) instead of stretching the axis; items older than `window_days` are left out.
    """
    last = max(i.end for i in items)
    recent = [i for i in items if i.end >= shift(last, -window_days)]
    first = max(min(i.start for i in recent), shift(min(i.end for i in recent), -2))
    short = min_days - ((last - first).days + 1)
    if short > 0:
        first, last = shift(first, -(short // 2)), shift(last, short - short // 2)
    return first, last


def _timeline_axis(
    first: dt.date, days: int, day_w: float, left: float, top: float, bottom: float
) -> dict:
    """Grid lines and day labels, one every `step` days, and the years the axis spans."""
    step = next(s for s in (1, 2, 7, 14, 30, 61) if days / s <= 16)
    ticks = []
    for offset in range(0, days + 1, step):
        x = left + offset * day_w
        label = shift(first, offset).strftime("%d %b") if offset < days else ""
        ticks.append({"x": x, "label": label, "label_x": x + day_w / 2 if step == 1 else x})
    years = sorted({first.year, shift(first, days - 1).year})
    return {
        "top": top,
        "bottom": bottom,
        "left": left,
        "ticks": ticks,
        "years": "–".join(str(y) for y in years),
    }


def _timeline_mark(
    item: TimelineItem, first: dt.date, day_w: float, left: float, cy: float
) -> dict:
    start = max(item.start, first)
    x0 = left + (start - first).days * day_w
    x1 = left + ((item.end - first).days + 1) * day_w
    dates = item.start.isoformat() + (
        "" if item.end == item.start else f" to {item.end.isoformat()}"
    )
    mark = {
        "table": item.table,
        "id": item.id,
        "tip": f"{item.table}/{item.id} ({dates}): {item.label}",
        "colour": TABLE_COLOURS[item.table],
    }
    if item.table == "statements" and item.end == item.start:
        return {**mark, "shape": "diamond", "d": _diamond((x0 + x1) / 2, cy, 6)}
    return {
        **mark,
        "shape": "bar",
        "x": x0 + 2,
        "y": cy - 6,
        "width": max(4.0, x1 - x0 - 4),
        "opacity": "0.85" if item.end == item.start else "0.55",
        # a span reaching back before the window: an arrow at its left end
        "clipped": _path((x0 - 4, cy), (x0 + 2, cy - 6), (x0 + 2, cy + 6))
        if item.start < first
        else "",
    }


# ---- casualty claims ----


def casualty_ranges(
    reports: Sequence[dict],
    actor_names: dict[str, str],
    event_labels: dict[str, str],
    place_names: dict[str, str],
) -> list[dict]:
    """Each claim's low-high range per measure, claims about the same thing side by side, as
    charts of at most MOST_MARKS claims each (whole groups, all on one scale); empty when there
    are no figures."""
    return [chart() for chart in casualty_charts(reports, actor_names, event_labels, place_names)]


def casualty_charts(
    reports: Sequence[dict],
    actor_names: dict[str, str],
    event_labels: dict[str, str],
    place_names: dict[str, str],
) -> list[Callable[[], dict]]:
    """The charts of `casualty_ranges`, each grouped and scaled, drawn when it is called."""
    groups = _claim_groups(reports)
    if not groups:
        return []
    axis_max = _axis_max([pair for rows in groups.values() for pair in rows])
    keys = sorted(groups)
    sizes = {key: len(groups[key]) for key in keys}
    names = (actor_names, event_labels, place_names)
    return [
        partial(_casualty_chart, {key: groups[key] for key in chunk}, axis_max, names)
        for chunk in in_pages(keys, sizes)
    ]


def _casualty_chart(
    groups: dict[tuple, list[tuple[dict, str]]],
    axis_max: int,
    names: tuple[dict[str, str], dict[str, str], dict[str, str]],
) -> dict:
    """The claims of some groups, in the given order, on a log scale up to `axis_max`."""
    actor_names, event_labels, place_names = names
    label_w, plot_w, row_h, top = 540, 520, 20, 40
    height = top + sum(22 + len(rows) * row_h + 8 for rows in groups.values()) + 10
    width = label_w + plot_w + 260

    def x_of(value: float) -> float:
        return label_w + plot_w * math.log10(1 + value) / math.log10(1 + axis_max)

    ticks, last_x = [], -100.0
    for tick in _log_ticks(axis_max):
        x = x_of(tick)
        if x - last_x >= 40:
            ticks.append({"x": x, "label": f"{tick:,}"})
            last_x = x
    drawn, y = [], top
    for key, rows in groups.items():
        label = _group_label(key, event_labels, place_names)
        drawn.append(
            {
                "label": clip(label, int((width - 8) / (CHAR_W * 1.1))),
                "label_y": y + 15,
                "y": y + 22,
                "height": len(rows) * row_h + 4,
                "claims": [
                    _claim_row(report, measure, actor_names, x_of, label_w + plot_w, cy)
                    for index, (report, measure) in enumerate(rows)
                    for cy in [y + 22 + index * row_h + row_h / 2 + 2]
                ],
            }
        )
        y += 22 + len(rows) * row_h + 8
    return {
        "width": width,
        "height": height,
        "top": top,
        "label_x": label_w - 8,
        "ticks": ticks,
        "groups": drawn,
        "legend": legend([(m, MEASURE_COLOURS[m], "rect") for m in MEASURES], label_w, 14),
    }


def _claim_groups(reports: Sequence[dict]) -> dict[tuple, list[tuple[dict, str]]]:
    """(claim, measure) pairs with a figure, grouped by what the claims are about."""
    groups: dict[tuple, list[tuple[dict, str]]] = {}
    for report in sorted(reports, key=lambda r: (r["period_start"], r["report_id"])):
        key = _claim_group(report)
        for measure in MEASURES:
            if (
                report.get(f"{measure}_low") is not None
                or report.get(f"{measure}_high") is not None
            ):
                groups.setdefault(key, []).append((report, measure))
    return groups


def _axis_max(pairs: list[tuple[dict, str]]) -> int:
    """The axis's end: above the highest figure, with room for an arrow when a range is open."""
    top_value = max([r.get(f"{m}_high") or r.get(f"{m}_low") or 0 for r, m in pairs] + [1])
    open_ended = any(r.get(f"{m}_high") is None for r, m in pairs)
    return _nice_ceiling(top_value * (1.3 if open_ended else 1.05))


def _claim_group(report: dict) -> tuple:
    if report.get("event_id"):
        return ("event", report["period_start"].isoformat(), report["event_id"])
    period = period_label(report["period_start"], report["period_end"])
    return (
        "other",
        report["period_start"].isoformat(),
        f"{report.get('place_id') or ''}|{period}|{report['population']}",
    )


def _group_label(key: tuple, event_labels: dict[str, str], place_names: dict[str, str]) -> str:
    if key[0] == "event":
        return f"Event {key[2]}: {event_labels.get(key[2], '')}"
    place, period, population = key[2].split("|")
    where = place_names.get(place, place) if place else "place not given"
    return f"{population.capitalize()} casualties, {where}, {period}"


def _claim_row(
    report: dict,
    measure: str,
    actor_names: dict[str, str],
    x_of: Callable[[float], float],
    plot_end: float,
    cy: float,
) -> dict:
    """One claim's figure for one measure: a dot for an exact figure, a bar for a range, an arrow
    when it has no upper bound."""
    low, high = report.get(f"{measure}_low"), report.get(f"{measure}_high")
    claimant = actor_names.get(report["claimant_actor_id"], report["claimant_actor_id"])
    period = period_label(report["period_start"], report["period_end"])
    flag = ", cumulative" if report["is_cumulative"] else ""
    low = low if low is not None else 0
    convention = report.get(f"{measure}_convention")
    figure = (
        f"{low:,}" if high == low else (f"{low:,}–{high:,}" if high is not None else f"{low:,}+")
    )
    claim = {
        "id": report["report_id"],
        "label": f"{claimant} · {measure} · {period}{flag}",
        "tip": (
            f"casualty_reports/{report['report_id']}: {claimant} claims {figure} {measure} "
            f"({report['population']}, {period}{flag})"
            f"{' via convention ' + convention if convention else ''}: “{report['count_text']}”"
        ),
        "cy": cy,
        "colour": MEASURE_COLOURS[measure],
        "cumulative": bool(report["is_cumulative"]),
        "x": x_of(low),
        "value": figure + (f" ({convention})" if convention else ""),
    }
    if high == low:
        return {**claim, "shape": "dot", "value_x": claim["x"] + 8}
    x1 = x_of(high) if high is not None else plot_end
    return {
        **claim,
        "shape": "bar",
        "width": max(3.0, x1 - claim["x"]),
        "arrow": _path((x1, cy - 7), (x1 + 8, cy), (x1, cy + 7)) if high is None else "",
        "value_x": x1 + (12 if high is None else 6),
    }


def period_label(start: dt.date, end: dt.date) -> str:
    """A date span, short: 30 Sep 2020, 27–30 Sep 2020, 27 Sep–7 Oct 2020, 1990–1999."""
    if start == end:
        return f"{start.day} {start:%b %Y}"
    if (start.month, start.day, end.month, end.day) == (1, 1, 12, 31):
        return str(start.year) if start.year == end.year else f"{start.year}–{end.year}"
    if start.year != end.year:
        return f"{start.day} {start:%b %Y}–{end.day} {end:%b %Y}"
    if start.month != end.month:
        return f"{start.day} {start:%b}–{end.day} {end:%b %Y}"
    return f"{start.day}–{end.day} {end:%b %Y}"


def _nice_ceiling(value: float) -> int:
    power = 10 ** max(0, math.floor(math.log10(max(value, 1))))
    for factor in (1, 2, 5, 10):
        if factor * power >= value:
            return int(factor * power)
    return int(10 * power)


def _log_ticks(axis_max: int) -> list[int]:
    ticks, power = [0], 1
    while power <= axis_max:
        ticks += [t for t in (power, 2 * power, 5 * power) if t <= axis_max]
        power *= 10
    return ticks if len(ticks) <= 10 else [0] + [t for t in ticks[1:] if str(t)[0] == "1"]


# ---- map ----

PRECISION_RADIUS = {1: 4, 2: 7, 3: 10, 4: 13, 5: 16, 6: 19, 7: 19}
PRECISION_OPACITY = {1: 0.9, 2: 0.75, 3: 0.6, 4: 0.5, 5: 0.4, 6: 0.3, 7: 0.3}
PRECISION_LABELS = {
    1: "exact place",
    2: "within ~25 km",
    3: "district",
    4: "province",
    5: "region",
    6: "country",
    7: "waters/airspace",
}
MAP_LEFT, MAP_TOP, MAP_WIDTH, MAP_ASPECT = 44.0, 24.0, 820.0, 820.0 / 540.0


def map_regions(places: Sequence[dict], reach: float = 6.0) -> tuple[list[dict], list[dict]]:
    """Places near the local cluster (within `reach` degrees of its median) and the rest."""
    located = [
        p for p in places if p.get("latitude") is not None and p.get("longitude") is not None
    ]
    if not located:
        return [], []
    local = [p for p in located if (p["geo_precision"] or 9) <= 5] or located
    lat0 = sorted(p["latitude"] for p in local)[len(local) // 2]
    lon0 = sorted(p["longitude"] for p in local)[len(local) // 2]
    near: list[dict] = []
    far: list[dict] = []
    for place in located:
        close = abs(place["latitude"] - lat0) <= reach and abs(place["longitude"] - lon0) <= reach
        (near if close else far).append(place)
    return sorted(near, key=lambda p: p["place_id"]), sorted(far, key=lambda p: p["place_id"])


def _frame(near: list[dict], min_span: float) -> tuple[float, float, float, float, float]:
    """South, north, west and east edges around the places, in the frame's shape, and the
    longitude factor at its middle latitude (equirectangular)."""
    lats = [p["latitude"] for p in near]
    lons = [p["longitude"] for p in near]
    lat_c, lon_c = (min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2
    kx = math.cos(math.radians(lat_c))
    half_lat = max((max(lats) - min(lats)) / 2 * 1.15 + 0.3, min_span / 2)
    half_lon = max((max(lons) - min(lons)) / 2 * 1.15 + 0.5, min_span / 2)
    if half_lon * kx < half_lat * MAP_ASPECT:  # widen or heighten to the frame's shape
        half_lon = half_lat * MAP_ASPECT / kx
    else:
        half_lat = half_lon * kx / MAP_ASPECT
    return lat_c - half_lat, lat_c + half_lat, lon_c - half_lon, lon_c + half_lon, kx


def place_map(places: Sequence[dict], min_span: float = 3.0) -> dict | None:
    """Places as a lat/lon scatter over a graticule; marker size and opacity show geo_precision.
    None when no place near the others has coordinates."""
    near, _ = map_regions(places)
    if not near:
        return None
    south, north, west, east, kx = _frame(near, min_span)
    scale = MAP_WIDTH / ((east - west) * kx)
    plot_h = (north - south) * scale

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return MAP_LEFT + (lon - west) * kx * scale, MAP_TOP + (north - lat) * scale

    step = next(s for s in (0.25, 0.5, 1, 2, 5, 10, 20) if (east - west) / s <= 12)
    meridians = [
        {"x": xy(north, lon)[0], "label": f"{lon:g}°E" if lon >= 0 else f"{-lon:g}°W"}
        for lon in _steps(west, east, step)
    ]
    parallels = [
        {"y": xy(lat, west)[1], "label": f"{lat:g}°N" if lat >= 0 else f"{-lat:g}°S"}
        for lat in _steps(south, north, step)
    ]
    # coarse places first, so they lie underneath
    ordered = sorted(near, key=lambda p: (-(p["geo_precision"] or 0), p["place_id"]))
    legend_y = MAP_TOP + plot_h + 36
    return {
        "width": MAP_LEFT + MAP_WIDTH + 20,
        "height": legend_y + 62,
        "left": MAP_LEFT,
        "top": MAP_TOP,
        "plot_w": MAP_WIDTH,
        "plot_h": plot_h,
        "meridians": meridians,
        "parallels": parallels,
        "marks": [_place_mark(place, xy) for place in ordered],
        "labels": _map_labels(ordered, xy),
        "legend": [
            {
                "x": MAP_LEFT + 20 + 118 * (precision - 1),
                "y": legend_y,
                "r": PRECISION_RADIUS[precision],
                "opacity": PRECISION_OPACITY[precision],
                "label": f"{precision} {PRECISION_LABELS[precision]}",
            }
            for precision in range(1, 8)
        ],
        "colour": TABLE_COLOURS["places"],
    }


def _place_mark(place: dict, xy: Callable[[float, float], tuple[float, float]]) -> dict:
    x, y = xy(place["latitude"], place["longitude"])
    precision = place["geo_precision"] or 7
    return {
        "id": place["place_id"],
        "x": x,
        "y": y,
        "r": PRECISION_RADIUS.get(precision, 19),
        "opacity": PRECISION_OPACITY.get(precision, 0.3),
        "exact": precision == 1,
        "tip": (
            f"places/{place['place_id']}: {place['name']} "
            f"({place['latitude']:.4f}, {place['longitude']:.4f}), "
            f"precision {precision}: {PRECISION_LABELS.get(precision, '')}"
        ),
    }


def _steps(low: float, high: float, step: float) -> list[float]:
    first = math.ceil(low / step) * step
    count = int(math.floor((high - first) / step)) + 1
    return [round(first + i * step, 6) for i in range(max(count, 0))]


def _map_labels(
    places: Sequence[dict], xy: Callable[[float, float], tuple[float, float]]
) -> list[dict]:
    """Name labels beside their markers: right, left, above or below, whichever overlaps nothing
    placed yet."""
    taken = Boxes()
    for place in places:
        x, y = xy(place["latitude"], place["longitude"])
        taken.add((x - 3, y - 3, 6, 6))
    labels = []
    for place in sorted(places, key=lambda p: (-p["latitude"], p["longitude"], p["place_id"])):
        x, y = xy(place["latitude"], place["longitude"])
        r = min(PRECISION_RADIUS.get(place["geo_precision"] or 7, 19), 8)
        w, h = CHAR_W * len(place["name"]), 13.0
        candidates = [
            (x + r + 3, y - h / 2),
            (x - r - 3 - w, y - h / 2),
            (x - w / 2, y - r - 3 - h),
            (x - w / 2, y + r + 3),
        ]
        candidates += [(x + r + 3, y - h / 2 + k * h) for k in range(1, 6)] + [
            (x + r + 3, y - h / 2 - k * h) for k in range(1, 6)
        ]
        lx, ly = next((c for c in candidates if taken.free((c[0], c[1], w, h))), candidates[0])
        taken.add((lx, ly, w, h))
        labels.append({"x": lx, "y": ly + h - 3, "text": place["name"]})
    return labels


class Boxes:
    """Boxes (x, y, w, h) placed so far, filed by the cells of a grid they touch: whether a new
    box overlaps one looks only at the boxes of its own cells, not at every box placed (with
    3,300 places, the scan over all of them made the map quadratic)."""

    CELL = 64.0

    def __init__(self) -> None:
        self.cells: dict[tuple[int, int], list[tuple[float, float, float, float]]] = {}

    def _cells(self, box: tuple[float, float, float, float]) -> list[tuple[int, int]]:
        x, y, w, h = box
        columns = range(math.floor(x / self.CELL), math.floor((x + w) / self.CELL) + 1)
        rows = range(math.floor(y / self.CELL), math.floor((y + h) / self.CELL) + 1)
        return [(column, row) for column in columns for row in rows]

    def add(self, box: tuple[float, float, float, float]) -> None:
        for cell in self._cells(box):
            self.cells.setdefault(cell, []).append(box)

    def free(self, box: tuple[float, float, float, float]) -> bool:
        """Whether `box` overlaps no box placed."""
        x, y, w, h = box
        return not any(
            x < bx + bw and bx < x + w and y < by + bh and by < y + h
            for cell in self._cells(box)
            for bx, by, bw, bh in self.cells.get(cell, ())
        )
