"""Inline SVG charts of the review report: timeline, casualty claim ranges, map of places.

Plain functions from typed package rows to SVG text. Every mark links to its row
in the table pages (`href(table, id)`), carries a <title> tooltip, and all text is
escaped. Output is deterministic: inputs are sorted before drawing.
"""

from __future__ import annotations

import datetime as dt
import math
from html import escape

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
FONT = 'font-family="system-ui, sans-serif" font-size="12"'
VALUE_STYLE = 'font-size="11" fill="#2d3748"'
CHAR_W = 6.6  # average width of a 12px character, for laying out labels


def href(table: str, record_id: str) -> str:
    return f"table-{table}.html#row-{record_id}"


def _svg(width: float, height: float, body: list[str], label: str, cls: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {cls}" role="img" aria-label="{escape(label)}" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" {FONT}>\n'
        + "\n".join(body)
        + "\n</svg>"
    )


def _link(table: str, record_id: str, inner: str, tip: str) -> str:
    return (
        f'<a href="{escape(href(table, record_id))}" class="mark" data-table="{table}" data-id="{escape(record_id)}">'
        f"<title>{escape(tip)}</title>{inner}</a>"
    )


def _text(x: float, y: float, text: str, anchor: str = "start", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {extra}>{escape(text)}</text>'


def lane_fill(index: int) -> str:
    return "#f3f6f9" if index % 2 else "#ffffff"


def _clip(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


# ---- timeline ----


def timeline(
    events: list[dict], statements: list[dict], actor_names: dict[str, str], window_days: int = 60
) -> str:
    """Events and statements by date (bars for date spans) in one lane per actor.

    Items that end before the window (`window_days` before the latest date) are left
    out of the drawing and listed by the caller; `timeline_outside` returns them.
    """
    items = _timeline_items(events, statements)
    if not items:
        return '<p class="empty">No dated events or statements.</p>'
    first, last = _window(items, window_days)
    shown = [i for i in items if i["end"] >= first]
    lanes: dict[str, list[list[dict]]] = {}
    for item in sorted(
        shown,
        key=lambda i: (actor_names.get(i["actor"], i["actor"]), i["start"], i["table"], i["id"]),
    ):
        rows = lanes.setdefault(item["actor"], [])
        for row in rows:
            if row[-1]["end"] < item["start"]:
                row.append(item)
                break
        else:
            rows.append([item])
    label_w = min(260, max(90, 12 + CHAR_W * max(len(actor_names.get(a, a or "")) for a in lanes)))
    days = (last - first).days + 1
    plot_w = max(560, min(1000, days * 26))
    day_w = plot_w / days
    row_h, top = 18, 40
    height = top + sum(len(rows) * row_h + 8 for rows in lanes.values()) + 30
    width = label_w + plot_w + 20
    body = _timeline_axis(first, days, day_w, label_w, top, height - 26)
    y, lane = top, 0
    for actor in sorted(lanes, key=lambda a: (actor_names.get(a, a) if a else "~", a)):
        rows = lanes[actor]
        lane_h = len(rows) * row_h + 8
        body.insert(
            0,
            f'<rect x="0" y="{y:.1f}" width="{width:.0f}" height="{lane_h}" class="lane" fill="{lane_fill(lane)}"/>',
        )
        lane += 1
        name = actor_names.get(actor, actor) if actor else "(actor not given)"
        body.append(
            _text(
                label_w - 8, y + 4 + row_h / 2 + 4, _clip(name, int((label_w - 12) / CHAR_W)), "end"
            )
        )
        for index, row in enumerate(rows):
            cy = y + 4 + index * row_h + row_h / 2
            for item in row:
                body.append(_timeline_mark(item, first, day_w, label_w, cy))
        y += lane_h
    body.append(
        _legend(
            [
                ("events", TABLE_COLOURS["events"], "rect"),
                ("statements", TABLE_COLOURS["statements"], "diamond"),
            ],
            label_w,
            14,
        )
    )
    return _svg(width, height, body, "Timeline of events and statements by actor", "timeline")


def timeline_outside(
    events: list[dict], statements: list[dict], window_days: int = 60
) -> list[dict]:
    """The items the timeline leaves out because they end before its window."""
    items = _timeline_items(events, statements)
    if not items:
        return []
    last = max(i["end"] for i in items)
    first = shift(last, -window_days)
    return sorted(
        (i for i in items if i["end"] < first), key=lambda i: (i["start"], i["table"], i["id"])
    )


def _timeline_items(events: list[dict], statements: list[dict]) -> list[dict]:
    items = [
        {
            "table": "events",
            "id": e["event_id"],
            "start": e["date_start"],
            "end": e["date_end"] or e["date_start"],
            "actor": e.get("actor1_id") or "",
            "label": f"{e['event_type']}: {e['summary']}",
        }
        for e in events
        if e.get("date_start")
    ]
    items += [
        {
            "table": "statements",
            "id": s["statement_id"],
            "start": s["date"],
            "end": s.get("date_latest") or s["date"],
            "actor": s["speaker_actor_id"] or "",
            "label": f"{s['statement_type']}: {s['summary']}",
        }
        for s in statements
        if s.get("date")
    ]
    return items


def shift(day: dt.date, days: int) -> dt.date:
    """`day` moved by `days`, held within the dates Python can hold: a date of year 1 or 9999 is data too."""
    try:
        return day + dt.timedelta(days=days)
    except OverflowError:
        return dt.date.max if days > 0 else dt.date.min


def _window(items: list[dict], window_days: int, min_days: int = 7) -> tuple[dt.date, dt.date]:
    """First and last day drawn, padded to at least `min_days`.

    The window starts shortly before the earliest day any recent item has reached
    (its end), so a few long spans reaching far back are clipped (drawn with an
    arrow) instead of stretching the axis; items older than `window_days` are left out.
    """
    last = max(i["end"] for i in items)
    recent = [i for i in items if i["end"] >= shift(last, -window_days)]
    first = max(min(i["start"] for i in recent), shift(min(i["end"] for i in recent), -2))
    short = min_days - ((last - first).days + 1)
    if short > 0:
        first, last = shift(first, -(short // 2)), shift(last, short - short // 2)
    return first, last


def _timeline_axis(
    first: dt.date, days: int, day_w: float, left: float, top: float, bottom: float
) -> list[str]:
    step = next(s for s in (1, 2, 7, 14, 30, 61) if days / s <= 16)
    body = []
    for offset in range(0, days + 1, step):
        x = left + offset * day_w
        day = shift(first, offset)
        body.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom:.1f}" class="grid" stroke="#e2e8f0"/>'
        )
        if offset < days:
            label_x = x + day_w / 2 if step == 1 else x
            body.append(_text(label_x, bottom + 16, day.strftime("%d %b"), "middle"))
            body.append(_text(label_x, top - 8, day.strftime("%d %b"), "middle", VALUE_STYLE))
    years = sorted({first.year, shift(first, days - 1).year})
    body.append(
        _text(left - 8, bottom + 16, "–".join(str(y) for y in years), "end", 'font-weight="600"')
    )
    return body


def _timeline_mark(item: dict, first: dt.date, day_w: float, left: float, cy: float) -> str:
    clipped = item["start"] < first
    start = max(item["start"], first)
    x0 = left + (start - first).days * day_w
    x1 = left + ((item["end"] - first).days + 1) * day_w
    colour = TABLE_COLOURS[item["table"]]
    dates = item["start"].isoformat() + (
        "" if item["end"] == item["start"] else f" to {item['end'].isoformat()}"
    )
    tip = f"{item['table']}/{item['id']} ({dates}): {item['label']}"
    if item["table"] == "statements" and item["end"] == item["start"]:
        cx, r = (x0 + x1) / 2, 6
        shape = (
            f'<path d="M{cx:.1f} {cy - r:.1f} L{cx + r:.1f} {cy:.1f} L{cx:.1f} {cy + r:.1f} L{cx - r:.1f} {cy:.1f} Z" '
            f'fill="{colour}"/>'
        )
    else:
        opacity = "0.85" if item["end"] == item["start"] else "0.55"
        shape = (
            f'<rect x="{x0 + 2:.1f}" y="{cy - 6:.1f}" width="{max(4.0, x1 - x0 - 4):.1f}" height="12" rx="3" '
            f'fill="{colour}" fill-opacity="{opacity}" stroke="{colour}"/>'
        )
        if clipped:
            shape += f'<path d="M{x0 - 4:.1f} {cy:.1f} L{x0 + 2:.1f} {cy - 6:.1f} L{x0 + 2:.1f} {cy + 6:.1f} Z" fill="{colour}"/>'
    return _link(item["table"], item["id"], shape, tip)


def _legend(entries: list[tuple[str, str, str]], x: float, y: float) -> str:
    parts = []
    for label, colour, shape in entries:
        if shape == "diamond":
            parts.append(
                f'<path d="M{x + 6:.1f} {y - 10:.1f} L{x + 12:.1f} {y - 4:.1f} L{x + 6:.1f} {y + 2:.1f} L{x:.1f} {y - 4:.1f} Z" '
                f'fill="{colour}"/>'
            )
        elif shape == "circle":
            parts.append(f'<circle cx="{x + 6:.1f}" cy="{y - 4:.1f}" r="5" fill="{colour}"/>')
        else:
            parts.append(
                f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" rx="2" fill="{colour}"/>'
            )
        parts.append(_text(x + 16, y, label))
        x += 28 + CHAR_W * len(label)
    return '<g class="legend">' + "".join(parts) + "</g>"


# ---- casualty claims ----


def casualty_ranges(
    reports: list[dict],
    actor_names: dict[str, str],
    event_labels: dict[str, str],
    place_names: dict[str, str],
) -> str:
    """Each claim's low-high range per measure, claims about the same thing side by side."""
    groups: dict[tuple, list[tuple[dict, str]]] = {}
    for report in sorted(reports, key=lambda r: (r["period_start"], r["report_id"])):
        key = _claim_group(report)
        for measure in MEASURES:
            if (
                report.get(f"{measure}_low") is not None
                or report.get(f"{measure}_high") is not None
            ):
                groups.setdefault(key, []).append((report, measure))
    if not groups:
        return '<p class="empty">No casualty figures.</p>'
    top_value = max(
        [r.get(f"{m}_high") or r.get(f"{m}_low") or 0 for rows in groups.values() for r, m in rows]
        + [1]
    )
    axis_max = _nice_ceiling(
        top_value
        * (
            1.3
            if any(r.get(f"{m}_high") is None for rows in groups.values() for r, m in rows)
            else 1.05
        )
    )
    label_w, plot_w, row_h, top = 540, 520, 20, 40
    height = top + sum(22 + len(rows) * row_h + 8 for rows in groups.values()) + 10
    width = label_w + plot_w + 260

    def x_of(value: float) -> float:
        return label_w + plot_w * math.log10(1 + value) / math.log10(1 + axis_max)

    body, last_x = [], -100.0
    for tick in _log_ticks(axis_max):
        x = x_of(tick)
        if x - last_x < 40:
            continue
        last_x = x
        body.append(
            f'<line x1="{x:.1f}" y1="{top - 8}" x2="{x:.1f}" y2="{height - 10}" class="grid" stroke="#e2e8f0"/>'
        )
        body.append(_text(x, top - 12, f"{tick:,}", "middle"))
    y = top
    for key in sorted(groups):
        rows = groups[key]
        body.append(
            _text(
                4,
                y + 15,
                _clip(
                    _group_label(key, event_labels, place_names), int((width - 8) / (CHAR_W * 1.1))
                ),
                extra='font-weight="600"',
            )
        )
        y += 22
        body.insert(
            0,
            f'<rect x="0" y="{y:.1f}" width="{width:.0f}" height="{len(rows) * row_h + 4}" class="lane" fill="#f3f6f9"/>',
        )
        for report, measure in rows:
            body.append(
                _claim_row(report, measure, actor_names, x_of, label_w, plot_w, y + row_h / 2 + 2)
            )
            y += row_h
        y += 8
    body.append(_legend([(m, MEASURE_COLOURS[m], "rect") for m in MEASURES], label_w, 14))
    return _svg(width, height, body, "Casualty claims as ranges per claimant", "casualties")


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
    x_of,
    label_w: float,
    plot_w: float,
    cy: float,
) -> str:
    low, high = report.get(f"{measure}_low"), report.get(f"{measure}_high")
    colour = MEASURE_COLOURS[measure]
    claimant = actor_names.get(report["claimant_actor_id"], report["claimant_actor_id"])
    period = period_label(report["period_start"], report["period_end"])
    flag = ", cumulative" if report["is_cumulative"] else ""
    label = _text(
        label_w - 8,
        cy + 4,
        _clip(f"{claimant} · {measure} · {period}{flag}", int((label_w - 12) / CHAR_W)),
        "end",
    )
    low = low if low is not None else 0
    convention = report.get(f"{measure}_convention")
    figure = (
        f"{low:,}" if high == low else (f"{low:,}–{high:,}" if high is not None else f"{low:,}+")
    )
    tip = (
        f"casualty_reports/{report['report_id']}: {claimant} claims {figure} {measure} ({report['population']}, "
        f"{period}{flag}){' via convention ' + convention if convention else ''}: “{report['count_text']}”"
    )
    x0 = x_of(low)
    dash = ' stroke-dasharray="4 2"' if report["is_cumulative"] else ""
    if high == low:
        shape = f'<circle cx="{x0:.1f}" cy="{cy:.1f}" r="5" fill="{colour}" stroke="#222" stroke-width="0.6"{dash}/>'
        end = x0 + 6
    else:
        x1 = x_of(high) if high is not None else label_w + plot_w
        shape = (
            f'<rect x="{x0:.1f}" y="{cy - 5:.1f}" width="{max(3.0, x1 - x0):.1f}" height="10" rx="2" fill="{colour}" '
            f'fill-opacity="0.75" stroke="{colour}"{dash}/>'
        )
        if high is None:
            shape += f'<path d="M{x1:.1f} {cy - 7:.1f} L{x1 + 8:.1f} {cy:.1f} L{x1:.1f} {cy + 7:.1f} Z" fill="{colour}"/>'
        end = x1 + (10 if high is None else 4)
    shape += _text(
        end + 2, cy + 4, figure + (f" ({convention})" if convention else ""), extra=VALUE_STYLE
    )
    return label + _link("casualty_reports", report["report_id"], shape, tip)


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


def map_regions(places: list[dict], reach: float = 6.0) -> tuple[list[dict], list[dict]]:
    """Places near the local cluster (within `reach` degrees of its median) and the rest."""
    located = [
        p for p in places if p.get("latitude") is not None and p.get("longitude") is not None
    ]
    if not located:
        return [], []
    local = [p for p in located if (p["geo_precision"] or 9) <= 5] or located
    lat0 = sorted(p["latitude"] for p in local)[len(local) // 2]
    lon0 = sorted(p["longitude"] for p in local)[len(local) // 2]
    near = [
        p
        for p in located
        if abs(p["latitude"] - lat0) <= reach and abs(p["longitude"] - lon0) <= reach
    ]
    far = [p for p in located if p not in near]
    return sorted(near, key=lambda p: p["place_id"]), sorted(far, key=lambda p: p["place_id"])


def place_map(places: list[dict], min_span: float = 3.0) -> str:
    """Places as a lat/lon scatter over a graticule; marker size and opacity show geo_precision."""
    near, _ = map_regions(places)
    if not near:
        return '<p class="empty">No places with coordinates.</p>'
    lats = [p["latitude"] for p in near]
    lons = [p["longitude"] for p in near]
    lat_c, lon_c = (min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2
    kx = math.cos(math.radians(lat_c))
    plot_w, aspect = 820.0, 820.0 / 540.0
    half_lat = max((max(lats) - min(lats)) / 2 * 1.15 + 0.3, min_span / 2)
    half_lon = max((max(lons) - min(lons)) / 2 * 1.15 + 0.5, min_span / 2)
    if half_lon * kx < half_lat * aspect:  # widen or heighten to the frame's shape
        half_lon = half_lat * aspect / kx
    else:
        half_lat = half_lon * kx / aspect
    south, north, west, east = (
        lat_c - half_lat,
        lat_c + half_lat,
        lon_c - half_lon,
        lon_c + half_lon,
    )
    scale = plot_w / ((east - west) * kx)
    plot_h = (north - south) * scale
    left, top = 44.0, 24.0

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return left + (lon - west) * kx * scale, top + (north - lat) * scale

    body = [
        f'<rect x="{left}" y="{top}" width="{plot_w:.1f}" height="{plot_h:.1f}" class="sea" fill="#f4f8fb" stroke="#cbd5e0"/>'
    ]
    step = next(s for s in (0.25, 0.5, 1, 2, 5, 10, 20) if (east - west) / s <= 12)
    for lon in _steps(west, east, step):
        x, _ = xy(north, lon)
        body.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h:.1f}" class="grid" stroke="#e2e8f0"/>'
        )
        body.append(
            _text(x, top + plot_h + 16, f"{lon:g}°E" if lon >= 0 else f"{-lon:g}°W", "middle")
        )
    for lat in _steps(south, north, step):
        _, y = xy(lat, west)
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w:.1f}" y2="{y:.1f}" class="grid" stroke="#e2e8f0"/>'
        )
        body.append(_text(left - 4, y + 4, f"{lat:g}°N" if lat >= 0 else f"{-lat:g}°S", "end"))
    ordered = sorted(
        near, key=lambda p: (-(p["geo_precision"] or 0), p["place_id"])
    )  # coarse ones underneath
    for place in ordered:
        x, y = xy(place["latitude"], place["longitude"])
        precision = place["geo_precision"] or 7
        r = PRECISION_RADIUS.get(precision, 19)
        tip = (
            f"places/{place['place_id']}: {place['name']} ({place['latitude']:.4f}, {place['longitude']:.4f}), "
            f"precision {precision}: {PRECISION_LABELS.get(precision, '')}"
        )
        dash = "" if precision == 1 else ' stroke-dasharray="3 2"'
        shape = (
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{TABLE_COLOURS["places"]}" '
            f'fill-opacity="{PRECISION_OPACITY.get(precision, 0.3)}" stroke="#1c4532" stroke-width="1"{dash}/>'
        )
        body.append(_link("places", place["place_id"], shape, tip))
    body += _map_labels(ordered, xy)
    legend_y = top + plot_h + 36
    x = left
    for precision in range(1, 8):
        r = PRECISION_RADIUS[precision]
        body.append(
            f'<circle cx="{x + 20:.1f}" cy="{legend_y + 14:.1f}" r="{r}" fill="{TABLE_COLOURS["places"]}" '
            f'fill-opacity="{PRECISION_OPACITY[precision]}" stroke="#1c4532"/>'
        )
        body.append(
            _text(x + 20, legend_y + 50, f"{precision} {PRECISION_LABELS[precision]}", "middle")
        )
        x += 118
    return _svg(left + plot_w + 20, legend_y + 62, body, "Map of places", "map")


def _steps(low: float, high: float, step: float) -> list[float]:
    first = math.ceil(low / step) * step
    count = int(math.floor((high - first) / step)) + 1
    return [round(first + i * step, 6) for i in range(max(count, 0))]


def _map_labels(places: list[dict], xy) -> list[str]:
    """Name labels beside their markers: right, left, above or below, whichever overlaps nothing placed yet."""
    taken: list[tuple[float, float, float, float]] = []  # x, y, w, h of labels and markers

    def free(box: tuple[float, float, float, float]) -> bool:
        x, y, w, h = box
        return not any(
            x < bx + bw and bx < x + w and y < by + bh and by < y + h for bx, by, bw, bh in taken
        )

    for place in places:
        x, y = xy(place["latitude"], place["longitude"])
        taken.append((x - 3, y - 3, 6, 6))
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
        lx, ly = next((c for c in candidates if free((c[0], c[1], w, h))), candidates[0])
        taken.append((lx, ly, w, h))
        labels.append(
            _text(
                lx,
                ly + h - 3,
                place["name"],
                extra='class="place-label" paint-order="stroke" stroke="#ffffff" stroke-width="3" fill="#1a202c"',
            )
        )
    return labels
