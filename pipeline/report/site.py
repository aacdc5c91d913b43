"""The review report: a self-contained static HTML site built from the published package.

    pipeline report --package datapackage --seeds seeds --out report

Pages: index.html (overview), source-<id>.html (each text with every evidence span
highlighted, coloured by table), table-<name>.html (each table, sortable and
filterable, ids cross-linked), charts.html (timeline, casualty claims, map) and
checks.html (package validation, text hashes, annotation check, uncovered
sentences). The package ships only excerpts, so the texts come from seeds/; each
is checked against sources.text_sha256 and the page says when it differs.
The package is read only from regular files inside its folder, and its shape is
checked before anything is rendered: a malformed package is a list of located
problems (exit 1; exit 2 when there is no descriptor to read) and no page is written.
Everything is escaped, sorted and free of wall-clock time: the same inputs give
the same bytes. Nothing is fetched at view time.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import BinaryIO

from pipeline.contract import schemas
from pipeline.contract.problems import InputError, Problem
from pipeline.package.reader import NO_SUCH_FILE, PackageError, open_member
from pipeline.package.writer import csv_cell
from pipeline.report import charts

ANNOTATED = ["actors", "places", "events", "statements", "casualty_reports"]
# Columns shown as a record's short name in links and chart labels.
NAME_COLUMNS = {
    "actors": "name",
    "places": "name",
    "events": "summary",
    "statements": "summary",
    "casualty_reports": "count_text",
    "sources": "title",
    "count_conventions": "phrase",
}


@dataclass
class Package:
    """The published package, read once: descriptor, typed rows, and the indexes pages need."""

    descriptor: dict
    rows: dict[str, list[dict]]
    keys: dict[str, str] = field(default_factory=dict)  # table -> primary key column
    links: dict[str, dict[str, str]] = field(
        default_factory=dict
    )  # table -> column -> referenced table
    referrers: dict[tuple[str, str], list[tuple[str, str, str]]] = field(default_factory=dict)
    evidence_of: dict[tuple[str, str], list[dict]] = field(default_factory=dict)

    def name_of(self, table: str, record_id: str) -> str:
        for row in self.rows.get(table, []):
            if row[self.keys[table]] == record_id:
                return str(row.get(NAME_COLUMNS.get(table, ""), "") or record_id)
        return record_id


def load(package_dir: Path) -> Package:
    """The package in `package_dir`, checked and read by `read_checked_package`, with its indexes."""
    descriptor, rows = read_checked_package(package_dir)
    package = Package(descriptor, rows)
    for resource in descriptor["resources"]:
        table, schema = resource["name"], resource["schema"]
        package.keys[table] = _names(schema["primaryKey"])[0]
        package.links[table] = {
            _names(fk["fields"])[0]: fk["reference"].get("resource") or table
            for fk in schema.get("foreignKeys", [])
        }
        rows[table] = sorted(rows[table], key=lambda r: str(r[package.keys[table]]))
    for table, columns in sorted(package.links.items()):
        for row in rows[table]:
            for column, target in sorted(columns.items()):
                if row.get(column) is not None:
                    package.referrers.setdefault((target, str(row[column])), []).append(
                        (table, str(row[package.keys[table]]), column)
                    )
    for ev in sorted(
        rows.get("evidence", []),
        key=lambda e: (e["source_id"], e["start"], e["end"], e["evidence_id"]),
    ):
        package.evidence_of.setdefault((ev["record_table"], ev["record_id"]), []).append(ev)
    return package


# ---- reading the package: confined and checked ----
# The report opens only regular files inside the package folder (no absolute path, `..`, URL, symbolic link,
# device or pipe) and checks every shape it relies on before rendering, so a malformed package is a located
# problem and nothing is written. Files are opened by pipeline.package.reader.open_member, the one confined reader.

DESCRIPTOR = "datapackage.json"
SAFE_NAME = re.compile(
    r"^[a-z0-9][a-z0-9_-]{0,99}$"
)  # resource names and source ids become file names
MOST_PROBLEMS = (
    20  # per file: enough to see what is wrong without a line for every row of a broken table
)
REPUBLISH = "publish the package again with 'pipeline publish'"


class UnreadablePackage(InputError):
    """The package cannot be read at all (no folder, no descriptor, not JSON): the command exits 2."""


class Refused(Exception):
    """A file the report may not or cannot open; the message says why, after the file's name."""


def open_confined(package_dir: Path, relative: str) -> BinaryIO:
    """`relative` opened by the one confined reader (packages.open_member); Refused with its reason."""
    try:
        return open_member(package_dir, relative)
    except PackageError as exc:
        raise Refused(exc.reason or str(exc)) from None


def read_descriptor(package_dir: Path) -> dict:
    """The descriptor as a JSON object; UnreadablePackage when there is none to read."""
    where = str(package_dir / DESCRIPTOR)
    if not package_dir.is_dir():
        what = "is not a folder" if package_dir.exists() else "no such folder"
        raise UnreadablePackage(
            [
                Problem(
                    str(package_dir),
                    None,
                    what,
                    hint="pass --package, the folder of a published package",
                )
            ]
        )
    try:
        with open_confined(package_dir, DESCRIPTOR) as handle:
            raw = handle.read()
    except Refused as exc:
        missing = str(exc) == NO_SUCH_FILE
        raise UnreadablePackage(
            [
                Problem(
                    where,
                    None,
                    f"the descriptor: {exc}",
                    hint="run 'pipeline publish' first" if missing else REPUBLISH,
                )
            ]
        ) from None
    try:
        descriptor = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise UnreadablePackage(
            [
                Problem(
                    where,
                    raw[: exc.start].count(b"\n") + 1,
                    f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                    hint=REPUBLISH,
                )
            ]
        ) from None
    except json.JSONDecodeError as exc:
        raise UnreadablePackage(
            [
                Problem(
                    where,
                    exc.lineno,
                    f"not valid JSON: {exc.msg} (column {exc.colno})",
                    hint=REPUBLISH,
                )
            ]
        ) from None
    except RecursionError:
        raise UnreadablePackage(
            [Problem(where, None, "JSON nested too deeply to read", hint=REPUBLISH)]
        ) from None
    if not isinstance(descriptor, dict):
        raise InputError(
            [
                Problem(
                    where,
                    None,
                    f"the descriptor is {_kind(descriptor)}, not a JSON object",
                    hint=REPUBLISH,
                )
            ]
        )
    return descriptor


def _kind(value) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), "null")


def _names(value) -> list:
    """A Table Schema key (primaryKey, foreign key fields): one name or a list of names."""
    return [value] if isinstance(value, str) else value


def descriptor_problems(descriptor: dict, where: str) -> list[Problem]:
    """Every way the descriptor's shape differs from what the report reads."""
    problems = [
        Problem(where, None, f"{_kind(descriptor[key])}, not a string", field=key, hint=REPUBLISH)
        for key in ("name", "title", "description", "version", "created")
        if key in descriptor and not isinstance(descriptor[key], str)
    ]
    licences = descriptor.get("licenses", [])
    if not isinstance(licences, list) or not all(isinstance(lic, dict) for lic in licences):
        problems.append(
            Problem(where, None, "not a list of objects", field="licenses", hint=REPUBLISH)
        )
    resources = descriptor.get("resources")
    if not isinstance(resources, list) or not resources:
        return problems + [
            Problem(
                where, None, "missing, or not a list of tables", field="resources", hint=REPUBLISH
            )
        ]
    names = [r.get("name") if isinstance(r, dict) else None for r in resources]
    for number, resource in enumerate(resources):
        record = (
            names[number]
            if isinstance(names[number], str) and SAFE_NAME.match(names[number])
            else None
        )
        if not isinstance(resource, dict):
            found = [("", f"{_kind(resource)}, not an object describing a table")]
        elif record is None:
            found = [("name", "missing, or not a lowercase name of letters, digits, - and _")]
        else:
            found = _resource_problems(resource, names)
        problems += [
            Problem(
                where,
                None,
                message,
                record=f"resources/{record or number}",
                field=key or None,
                hint=REPUBLISH,
            )
            for key, message in found
        ]
    return problems


def _resource_problems(resource: dict, names: list) -> list[tuple[str, str]]:
    """(property, what is wrong) for one resource whose name is sound."""
    found = []
    if names.count(resource["name"]) > 1:
        found.append(("name", "more than one resource has this name"))
    if not isinstance(resource.get("path"), str):
        found.append(("path", "missing, or not a string"))
    parquet = resource.get("parquet", {})
    if not isinstance(parquet, dict) or not isinstance(parquet.get("path", ""), str):
        found.append(("parquet", "not an object with a path"))
    schema = resource.get("schema")
    fields = schema.get("fields") if isinstance(schema, dict) else None
    if (
        not isinstance(fields, list)
        or not fields
        or not all(
            isinstance(f, dict)
            and isinstance(f.get("name"), str)
            and isinstance(f.get("type", "string"), str)
            and isinstance(f.get("constraints", {}), dict)
            for f in fields
        )
    ):
        return found + [
            ("schema.fields", "not a list of fields, each an object with a name and a type")
        ]
    columns = [f["name"] for f in fields]
    key = _names(schema.get("primaryKey"))
    if not isinstance(key, list) or len(key) != 1 or key[0] not in columns:
        found.append(("schema.primaryKey", "missing, or not one field of the table"))
    for fk in (
        schema.get("foreignKeys", []) if isinstance(schema.get("foreignKeys", []), list) else [None]
    ):
        ref = fk.get("reference") if isinstance(fk, dict) else None
        local = _names(fk.get("fields")) if isinstance(fk, dict) else None
        target = ref.get("resource") or resource["name"] if isinstance(ref, dict) else None
        if (
            not isinstance(local, list)
            or len(local) != 1
            or local[0] not in columns
            or target not in names
        ):
            found.append(
                (
                    "schema.foreignKeys",
                    "each foreign key names one field of the table and a table of the package",
                )
            )
    return found + _project_field_problems(
        resource["name"], {f["name"]: f.get("type", "string") for f in fields}
    )


def _project_field_problems(table: str, types: dict[str, str]) -> list[tuple[str, str]]:
    """The columns of the project's own tables the report reads by name, with the types it reads them as."""
    if table not in schemas.TABLES:
        return []
    return [
        ("schema.fields", f"no field {f['name']!r} of type {f['type']}, which the report reads")
        for f in schemas.fields(table)
        if types.get(f["name"]) != f["type"]
    ]


INT64 = 2**63  # integers are 64-bit in the Parquet twins and in the charts' arithmetic


def _typed(text: str, kind: str):
    """A CSV cell as its schema type (empty -> None); ValueError when it is not one the report can draw."""
    if text == "":
        return None
    if kind == "integer":
        value = int(text)
        if not -INT64 <= value < INT64:
            raise ValueError("outside the 64-bit range")
        return value
    if kind == "number":
        value = float(text)
        if not math.isfinite(value):
            raise ValueError("not finite")
        return value
    if kind == "boolean":
        if text not in ("true", "false"):
            raise ValueError(text)
        return text == "true"
    if kind == "date":
        return dt.date.fromisoformat(text)
    return text


def read_table(package_dir: Path, resource: dict) -> tuple[list[dict], list[Problem]]:
    """The typed rows of one CSV resource, or the problems that stop the report reading them."""
    where = (
        str(package_dir / resource["path"])
        if isinstance(resource["path"], str)
        else str(package_dir)
    )
    try:
        with open_confined(package_dir, resource["path"]) as handle:
            raw = handle.read()
        text = raw.decode("utf-8")
    except Refused as exc:
        return [], [
            Problem(
                str(package_dir / DESCRIPTOR),
                None,
                f"{resource['path']!r}: {exc}",
                record=f"resources/{resource['name']}",
                field="path",
                hint="name a regular CSV file inside the package folder",
            )
        ]
    except UnicodeDecodeError as exc:
        return [], [
            Problem(
                where,
                raw[: exc.start].count(b"\n") + 1,
                f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                hint=REPUBLISH,
            )
        ]
    fields = resource["schema"]["fields"]
    names = [f["name"] for f in fields]
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, [])
    if header != names:
        return [], [
            Problem(
                where,
                1,
                f"the header is {', '.join(header) or 'empty'}; the schema has {', '.join(names)}",
                hint=REPUBLISH,
            )
        ]
    return _typed_rows(reader, resource, where)


def _typed_rows(reader, resource: dict, where: str) -> tuple[list[dict], list[Problem]]:
    fields = resource["schema"]["fields"]
    key = _names(resource["schema"]["primaryKey"])[0]
    rows, problems, line = [], [], 1
    try:
        for cells in reader:
            start, line = line + 1, reader.line_num
            if len(cells) != len(fields):
                problems.append(
                    Problem(
                        where,
                        start,
                        f"{len(cells)} cells; the header has {len(fields)}",
                        hint=REPUBLISH,
                    )
                )
            else:
                row, found = _typed_row(
                    cells, fields, where, start, f"{resource['name']}/{cells[0]}"
                )
                problems += found
                rows.append(row)
                if row[key] is None and not found:
                    problems.append(
                        Problem(where, start, "the primary key is empty", field=key, hint=REPUBLISH)
                    )
            if len(problems) >= MOST_PROBLEMS:
                return rows, problems + [
                    Problem(where, None, "more problems not listed (fix these first)")
                ]
    except csv.Error as exc:
        problems.append(Problem(where, line + 1, f"not a readable CSV row: {exc}", hint=REPUBLISH))
    return rows, problems


def _typed_row(
    cells: list[str], fields: list[dict], where: str, line: int, record: str
) -> tuple[dict, list]:
    row, problems = {}, []
    for text, spec in zip(cells, fields):
        kind = spec.get("type", "string")
        try:
            row[spec["name"]] = value = _typed(text, kind)
        except ValueError:
            row[spec["name"]] = None
            what = "an integer" if kind == "integer" else f"a {kind}"
            problems.append(
                Problem(
                    where,
                    line,
                    f"{text!r} is not {what} the report can read",
                    record=record,
                    field=spec["name"],
                    hint=REPUBLISH,
                )
            )
            continue
        wrong = _constraint_broken(value, spec.get("constraints", {}))
        if wrong:
            problems.append(
                Problem(
                    where,
                    line,
                    f"{text!r} {wrong}",
                    record=record,
                    field=spec["name"],
                    hint=REPUBLISH,
                )
            )
    return row, problems


def _constraint_broken(value, constraints: dict) -> str | None:
    """The constraint the charts rely on (required, minimum, maximum) that `value` breaks, if any."""
    if value is None:
        return "is empty, but required" if constraints.get("required") else None
    low, high = constraints.get("minimum"), constraints.get("maximum")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(low, (int, float)) and value < low:
            return f"is below the minimum {low}"
        if isinstance(high, (int, float)) and value > high:
            return f"is above the maximum {high}"
    return None


def _twin_problems(package_dir: Path, resource: dict) -> list[Problem]:
    """A Parquet twin the checks page's validators would open outside the package; a missing one is theirs
    to report."""
    path = (resource.get("parquet") or {}).get("path")
    if path is None:
        return []
    try:
        open_confined(package_dir, path).close()
    except Refused as exc:
        if str(exc) != NO_SUCH_FILE:
            return [
                Problem(
                    str(package_dir / DESCRIPTOR),
                    None,
                    f"{path!r}: {exc}",
                    record=f"resources/{resource['name']}",
                    field="parquet.path",
                    hint="name a regular Parquet file inside the package folder",
                )
            ]
    return []


def read_checked_package(package_dir: Path) -> tuple[dict, dict[str, list[dict]]]:
    """The descriptor and typed rows of every table, read only from regular files inside `package_dir`;
    UnreadablePackage when there is no descriptor to read, InputError with every problem when its shape,
    its files or their rows are not what the report reads."""
    descriptor = read_descriptor(package_dir)
    problems = descriptor_problems(descriptor, str(package_dir / DESCRIPTOR))
    if problems:
        raise InputError(problems)
    rows = {}
    for resource in descriptor["resources"]:
        rows[resource["name"]], found = read_table(package_dir, resource)
        problems += found + _twin_problems(package_dir, resource)
    paths = {r["name"]: r["path"] for r in descriptor["resources"]}
    for source in rows.get("sources", []):
        if not SAFE_NAME.match(str(source["source_id"])):
            problems.append(
                Problem(
                    str(package_dir / paths["sources"]),
                    None,
                    "not a lowercase slug, so no page can be named after it",
                    record=f"sources/{source['source_id']}",
                    field="source_id",
                    hint=REPUBLISH,
                )
            )
    if problems:
        raise InputError(problems)
    return descriptor, rows


# ---- page frame: inline CSS and script, navigation, HTML building blocks ----

CSS = """
:root { --ink: #1a202c; --muted: #5a6472; --line: #d8dde4; --bg: #fbfbfc; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: var(--bg); }
header { background: #1f2937; color: #fff; padding: 10px 24px; display: flex; flex-wrap: wrap; gap: 4px 18px; }
header .title { font-weight: 600; white-space: nowrap; }
header a { color: #cbd5e0; text-decoration: none; margin-right: 12px; white-space: nowrap; }
header a.current, header a:hover { color: #fff; text-decoration: underline; }
header nav { display: inline; }
main { padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0 12px; }
h2 { font-size: 18px; margin: 28px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
a { color: #2b6cb0; }
.muted, .empty { color: var(--muted); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0 0 12px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.ok { color: #276749; font-weight: 600; }
.bad { color: #c53030; font-weight: 600; }
.warning { background: #fff5f5; border: 1px solid #feb2b2; padding: 8px 12px; border-radius: 4px; }
.wrap { overflow-x: auto; border: 1px solid var(--line); background: #fff; }
table.data { border-collapse: collapse; width: max-content; min-width: 100%; font-size: 13px; }
table.data th, table.data td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
table.data td { max-width: 26em; }
table.data td.id, table.data td.date { white-space: nowrap; max-width: none; }
table.data td.long { min-width: 16em; }
table.data th { background: #edf2f7; position: sticky; top: 0; cursor: pointer; user-select: none; white-space: nowrap; }
table.data th[aria-sort="ascending"]::after { content: " ▲"; }
table.data th[aria-sort="descending"]::after { content: " ▼"; }
table.data tr:target, table.data tr.focus { background: #fefcbf; outline: 2px solid #d69e2e; }
table.data td.num { text-align: right; font-variant-numeric: tabular-nums; }
.filter { margin: 8px 0; display: flex; gap: 12px; align-items: center; }
.filter input { padding: 5px 8px; width: 320px; border: 1px solid #a0aec0; border-radius: 4px; }
ul.refs { margin: 0; padding-left: 0; list-style: none; }
ul.refs li { white-space: nowrap; }
.tag { display: inline-block; font-size: 11px; padding: 0 5px; border-radius: 3px; color: #fff; margin-right: 3px; }
.legend-box { display: flex; gap: 14px; flex-wrap: wrap; margin: 8px 0 12px; }
.legend-box span { display: inline-flex; align-items: center; gap: 5px; }
.swatch { width: 14px; height: 14px; border-radius: 3px; display: inline-block; }
.text { background: #fff; border: 1px solid var(--line); padding: 16px 20px; white-space: pre-wrap;
        font: 16px/2.4 Georgia, "Times New Roman", serif; max-width: 60em; }
.text a.seg { color: inherit; text-decoration: none; }
.text a.seg:hover { outline: 1px solid #4a5568; }
.text a.seg.focus { outline: 2px solid #d69e2e; background-color: #fefcbf !important; }
#popover { position: absolute; display: none; background: #fff; border: 1px solid #a0aec0; border-radius: 4px;
           box-shadow: 0 4px 14px rgba(0,0,0,.15); padding: 8px 10px; font-size: 13px; z-index: 10; max-width: 480px; }
#popover ul { margin: 4px 0 0; padding-left: 18px; }
svg.chart { background: #fff; border: 1px solid var(--line); max-width: 100%; height: auto; }
svg.chart a.mark:hover * { stroke: #000; stroke-width: 1.5; }
"""

SCRIPT = r"""
(function () {
  function cellValue(td) {
    var v = td.getAttribute('data-sort'); if (v === null) v = td.textContent.trim();
    return v;
  }
  function sortTable(table, col, th) {
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    var desc = th.getAttribute('aria-sort') === 'ascending';
    var numeric = rows.every(function (r) { var v = cellValue(r.cells[col]); return v === '' || !isNaN(Number(v)); });
    rows.sort(function (a, b) {
      var x = cellValue(a.cells[col]), y = cellValue(b.cells[col]);
      if (x === '' && y !== '') return 1; if (y === '' && x !== '') return -1;
      var c = numeric ? Number(x) - Number(y) : x.localeCompare(y);
      return desc ? -c : c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', desc ? 'descending' : 'ascending');
  }
  document.querySelectorAll('table.data').forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.addEventListener('click', function () { sortTable(table, col, th); });
    });
  });
  document.querySelectorAll('input[data-filter]').forEach(function (input) {
    var table = document.getElementById(input.getAttribute('data-filter'));
    var count = document.getElementById(input.getAttribute('data-filter') + '-count');
    input.addEventListener('input', function () {
      var terms = input.value.toLowerCase().split(/\s+/).filter(Boolean), shown = 0;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var text = row.textContent.toLowerCase();
        var hit = terms.every(function (t) { return text.indexOf(t) >= 0; });
        row.hidden = !hit; if (hit) shown++;
      });
      if (count) count.textContent = shown + ' of ' + table.tBodies[0].rows.length + ' rows';
    });
  });
  function focusEvidence() {
    document.querySelectorAll('.seg.focus').forEach(function (s) { s.classList.remove('focus'); });
    var m = /^#ev-(.+)$/.exec(location.hash);
    if (!m) return;
    var id = decodeURIComponent(m[1]);
    document.querySelectorAll('.seg').forEach(function (s) {
      if ((' ' + s.getAttribute('data-ev') + ' ').indexOf(' ' + id + ' ') >= 0) s.classList.add('focus');
    });
  }
  window.addEventListener('hashchange', focusEvidence);
  focusEvidence();
  var pop = document.getElementById('popover');
  if (pop) {
    document.addEventListener('click', function (e) {
      var seg = e.target.closest ? e.target.closest('a.seg') : null;
      if (!seg) { if (!pop.contains(e.target)) pop.style.display = 'none'; return; }
      var ids = seg.getAttribute('data-ev').split(' ');
      if (ids.length < 2) return;
      e.preventDefault();
      pop.innerHTML = '';
      var head = document.createElement('div'); head.textContent = 'This passage supports:'; pop.appendChild(head);
      var list = document.createElement('ul'); pop.appendChild(list);
      ids.forEach(function (id) {
        var source = document.getElementById('evrow-' + id);
        var link = source ? source.querySelector('a.record') : null;
        if (!link) return;
        var li = document.createElement('li'), a = link.cloneNode(true); li.appendChild(a); list.appendChild(li);
      });
      var r = seg.getBoundingClientRect();
      pop.style.left = (window.scrollX + r.left) + 'px'; pop.style.top = (window.scrollY + r.bottom + 4) + 'px';
      pop.style.display = 'block';
    });
  }
})();
"""


def esc(value) -> str:
    """Any cell value as escaped HTML text, written as in the CSV files."""
    return escape(csv_cell(value))


def page(
    title: str, body: str, nav: list[tuple[str, str]], current: str, package_title: str
) -> str:
    links = _nav(nav, current)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n'
        f"<title>{escape(title)} · {escape(package_title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f'<header><span class="title">{escape(package_title)}</span><nav>{links}</nav></header>\n'
        f'<main>\n<h1>{escape(title)}</h1>\n{body}\n</main>\n<div id="popover"></div>\n'
        f"<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )


def _nav(nav: list[tuple[str, str]], current: str) -> str:
    parts = []
    for label, href in nav:
        mark = ' class="current"' if href == current else ""
        parts.append(f'<a href="{escape(href)}"{mark}>{escape(label)}</a>')
    return "".join(parts)


def data_table(table_id: str, header: list[str], rows: list[str], caption: str = "") -> str:
    """A sortable, filterable table; `rows` are ready <tr> elements."""
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in header)
    return (
        f'<div class="filter"><input type="search" placeholder="Filter rows" data-filter="{table_id}" '
        f'aria-label="Filter {escape(caption or table_id)}"><span id="{table_id}-count" class="muted">'
        f"{len(rows)} rows</span></div>\n"
        f'<div class="wrap"><table class="data" id="{table_id}"><thead><tr>{head}</tr></thead>\n<tbody>\n'
        + "\n".join(rows)
        + "\n</tbody></table></div>\n"
    )


def facts(pairs: list[tuple[str, str]]) -> str:
    """A definition list; values are HTML already."""
    return (
        '<dl class="facts">'
        + "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in pairs)
        + "</dl>\n"
    )


# ---- source texts ----


@dataclass
class SourceText:
    source_id: str
    text: str | None  # None when seeds/ has no text for the source
    status: str  # "ok", "differs", "missing", "unread"
    sha256: str | None = None


UNREAD = "text in seeds/ is a link, not a regular file, or unreadable: not read"


def source_texts(package: Package, seeds: Path | None) -> dict[str, SourceText]:
    """Each source's text from seeds/<id>/text.txt, with its sha256 compared to the package's."""
    found = {}
    for source in package.rows.get("sources", []):
        sid = source["source_id"]
        path = seeds / sid / "text.txt" if seeds is not None else None
        if path is None or not os.path.lexists(path):
            found[sid] = SourceText(sid, None, "missing")
            continue
        try:  # a link could lead out of seeds/ and a pipe would never end: only a regular file is read
            with open_confined(seeds, f"{sid}/text.txt") as handle:
                raw = handle.read()
        except Refused:
            found[sid] = SourceText(sid, None, "unread")
            continue
        digest = hashlib.sha256(raw).hexdigest()
        text = raw.decode("utf-8", errors="replace")
        found[sid] = SourceText(
            sid, text, "ok" if digest == source["text_sha256"] else "differs", digest
        )
    return found


def segments(length: int, spans: list[dict]) -> list[tuple[int, int, list[dict]]]:
    """The text split at every span boundary: (start, end, spans covering it, outermost first)."""
    cuts = sorted(
        {0, length}
        | {min(max(s["start"], 0), length) for s in spans}
        | {min(max(s["end"], 0), length) for s in spans}
    )
    ordered = sorted(spans, key=lambda s: (s["start"], -s["end"], s["evidence_id"]))
    result = []
    for a, b in zip(cuts, cuts[1:]):
        if b > a:
            result.append((a, b, [s for s in ordered if s["start"] <= a and b <= s["end"]]))
    return result


STRIPE_PX, STRIPE_LEVELS = 3, 5
OTHER_COLOUR = "#718096"  # evidence of a table the charts have no colour for


def stripe_levels(spans: list[dict]) -> dict[str, int]:
    """A fixed stripe level per span (interval partitioning), so a span's stripe keeps its height along the text."""
    ends: list[int] = []  # end of the last span placed at each level
    levels = {}
    for span in sorted(spans, key=lambda s: (s["start"], -s["end"], s["evidence_id"])):
        level = next((i for i, end in enumerate(ends) if end <= span["start"]), len(ends))
        if level == len(ends):
            ends.append(span["end"])
        ends[level] = span["end"]
        levels[span["evidence_id"]] = level
    return levels


def _segment_style(active: list[dict], levels: dict[str, int]) -> str:
    """Fill of the innermost span's table over the words; below them one stripe per covering span, at its level."""
    pad = STRIPE_PX * STRIPE_LEVELS
    colour = {
        s["evidence_id"]: charts.TABLE_COLOURS.get(s["record_table"], OTHER_COLOUR) for s in active
    }
    inner = colour[active[-1]["evidence_id"]]
    layers = [
        f"linear-gradient({colour[s['evidence_id']]},{colour[s['evidence_id']]}) "
        f"left 0 bottom {pad - STRIPE_PX * (min(levels[s['evidence_id']], STRIPE_LEVELS - 1) + 1)}px/100% {STRIPE_PX}px no-repeat"
        for s in active
    ]
    layers.append(
        f"linear-gradient({inner}2e,{inner}2e) left 0 top 0/100% calc(100% - {pad}px) no-repeat"
    )
    return f"background:{','.join(layers)};padding-bottom:{pad}px"


def highlighted_text(text: str, spans: list[dict]) -> str:
    """The text as HTML: every evidence span highlighted and linked, overlapping spans split at their boundaries."""
    levels = stripe_levels(spans)
    starts: dict[int, list[dict]] = {}
    for span in spans:
        starts.setdefault(span["start"], []).append(span)
    parts = []
    for a, b, active in segments(len(text), spans):
        for span in sorted(starts.pop(a, []), key=lambda s: s["evidence_id"]):
            parts.append(f'<span class="anchor" id="ev-{escape(span["evidence_id"])}"></span>')
        piece = escape(text[a:b])
        if not active:
            parts.append(piece)
            continue
        inner = active[-1]
        ids = " ".join(s["evidence_id"] for s in active)
        tip = "; ".join(f"{s['record_table']}/{s['record_id']}" for s in active)
        parts.append(
            f'<a class="seg" href="{escape(charts.href(inner["record_table"], inner["record_id"]))}" '
            f'data-ev="{escape(ids)}" title="{escape(tip)}" style="{_segment_style(active, levels)}">{piece}</a>'
        )
    return "".join(parts)


def _legend_html() -> str:
    return (
        '<div class="legend-box">'
        + "".join(
            f'<span><i class="swatch" style="background:{c}"></i>{escape(t)}</span>'
            for t, c in charts.TABLE_COLOURS.items()
        )
        + '<span class="muted">Stripes under a passage: one per record it supports. Click a passage to reach its record(s).</span></div>\n'
    )


def source_page(package: Package, source: dict, found: SourceText) -> str:
    sid = source["source_id"]
    spans = [e for e in package.rows.get("evidence", []) if e["source_id"] == sid]
    spans.sort(key=lambda e: (e["start"], e["end"], e["evidence_id"]))
    status = {
        "ok": '<span class="ok">matches sources.text_sha256</span>',
        "differs": f'<span class="bad">differs from sources.text_sha256</span> (seeds text {escape(found.sha256 or "")})',
        "missing": '<span class="bad">text not found in seeds/</span>',
        "unread": f'<span class="bad">{UNREAD}</span>',
    }[found.status]
    body = facts(
        [
            ("Source id", f'<a href="{charts.href("sources", sid)}">{escape(sid)}</a>'),
            ("Publisher", esc(source["publisher"])),
            ("Published", esc(source["published_date"])),
            ("Date basis", esc(source["published_date_basis"])),
            ("URL", esc(source.get("url")) or "not known"),
            ("sha256", f"<code>{esc(source['text_sha256'])}</code> {status}"),
            ("Evidence spans", str(len(spans))),
        ]
    )
    if found.status == "differs":
        body += (
            '<p class="warning">The text in seeds/ is not the text the package was built from: offsets may '
            "point at the wrong words. Spans whose words differ are listed below.</p>\n"
        )
    if found.text is None:
        body += '<p class="warning">The text is not available here; only the evidence excerpts are shown.</p>\n'
    else:
        body += (
            _legend_html()
            + f'<div class="text" id="text">{highlighted_text(found.text, spans)}</div>\n'
        )
    rows = []
    for ev in spans:
        matches = found.text is not None and found.text[ev["start"] : ev["end"]] == ev["exact"]
        check = (
            ""
            if found.text is None
            else ("" if matches else ' <span class="bad">differs from the text</span>')
        )
        rows.append(
            f'<tr id="evrow-{escape(ev["evidence_id"])}"><td><a href="#ev-{escape(ev["evidence_id"])}">'
            f"{escape(ev['evidence_id'])}</a></td><td>{_tag(ev['record_table'])}</td>"
            f'<td><a class="record" href="{escape(charts.href(ev["record_table"], ev["record_id"]))}">'
            f"{escape(ev['record_table'])}/{escape(ev['record_id'])}</a></td>"
            f'<td class="num">{ev["start"]}</td><td class="num">{ev["end"]}</td><td>{esc(ev["exact"])}{check}</td></tr>'
        )
    body += "<h2>Evidence in this source</h2>\n" + data_table(
        "evidence-list",
        ["evidence_id", "table", "record", "start", "end", "exact"],
        rows,
        "evidence",
    )
    return body


def _tag(table: str) -> str:
    colour = charts.TABLE_COLOURS.get(table, OTHER_COLOUR)
    return f'<span class="tag" style="background:{colour}">{escape(table)}</span>'


# ---- tables ----


def _cell(package: Package, table: str, column: str, value, kind: str) -> str:
    if value is None:
        return "<td></td>"
    target = package.links[table].get(column)
    if table == "evidence" and column == "record_id":
        target = None
    if column == package.keys[table]:
        return f'<td class="id" data-sort="{esc(value)}"><strong>{esc(value)}</strong></td>'
    if target is not None:
        title = escape(package.name_of(target, str(value)))
        return f'<td class="id"><a href="{escape(charts.href(target, str(value)))}" title="{title}">{esc(value)}</a></td>'
    text = esc(value)
    cls = {"integer": "num", "number": "num", "date": "date"}.get(
        kind, "long" if len(text) > 60 else ""
    )
    return f'<td class="{cls}">{text}</td>' if cls else f"<td>{text}</td>"


def _evidence_cell(package: Package, table: str, record_id: str) -> str:
    items = []
    for ev in package.evidence_of.get((table, record_id), []):
        excerpt = ev["exact"] if len(ev["exact"]) <= 48 else ev["exact"][:47] + "…"
        items.append(
            f'<li><a href="source-{escape(ev["source_id"])}.html#ev-{escape(ev["evidence_id"])}" '
            f'title="{escape(ev["source_id"])} {ev["start"]}-{ev["end"]}">“{escape(excerpt)}”</a></li>'
        )
    return f'<td class="long"><ul class="refs">{"".join(items)}</ul></td>'


def _referrers_cell(package: Package, table: str, record_id: str, most: int = 12) -> str:
    """The rows that refer to this one, grouped by table; a long group is summarised by its count."""
    items = []
    refs = sorted(package.referrers.get((table, record_id), []))
    counts: dict[str, int] = {}
    for ref_table, _, _ in refs:
        counts[ref_table] = counts.get(ref_table, 0) + 1
    for ref_table, count in sorted(counts.items()):
        if count > most:
            items.append(
                f'<li>{_tag(ref_table)}<a href="table-{escape(ref_table)}.html">{count} rows</a></li>'
            )
    for ref_table, ref_id, column in refs:
        if counts[ref_table] > most:
            continue
        items.append(
            f'<li>{_tag(ref_table)}<a href="{escape(charts.href(ref_table, ref_id))}" '
            f'title="{escape(column)}: {escape(package.name_of(ref_table, ref_id))}">{escape(ref_id)}</a></li>'
        )
    return f'<td><ul class="refs">{"".join(items)}</ul></td>'


def table_page(package: Package, resource: dict) -> str:
    table = resource["name"]
    fields = resource["schema"]["fields"]
    has_evidence = table in ANNOTATED
    header = (
        [f["name"] for f in fields] + (["evidence"] if has_evidence else []) + ["referenced by"]
    )
    rows = []
    for row in package.rows[table]:
        rid = str(row[package.keys[table]])
        cells = [_cell(package, table, f["name"], row.get(f["name"]), f["type"]) for f in fields]
        if table == "evidence":
            cells[header.index("record_id")] = (
                f'<td class="id"><a href="{escape(charts.href(row["record_table"], row["record_id"]))}">'
                f"{esc(row['record_id'])}</a></td>"
            )
            cells[0] = (
                f'<td class="id" data-sort="{esc(rid)}"><a href="source-{escape(row["source_id"])}.html#ev-{escape(rid)}">'
                f"<strong>{esc(rid)}</strong></a></td>"
            )
        if table == "sources":
            cells[0] = (
                f'<td class="id" data-sort="{esc(rid)}"><a href="source-{escape(rid)}.html"><strong>{esc(rid)}</strong></a></td>'
            )
        if has_evidence:
            cells.append(_evidence_cell(package, table, rid))
        cells.append(_referrers_cell(package, table, rid))
        rows.append(f'<tr id="row-{escape(rid)}">' + "".join(cells) + "</tr>")
    intro = f"<p>{esc(resource.get('description', ''))}</p>\n"
    parquet = (resource.get("parquet") or {}).get("path")
    intro += (
        f'<p class="muted">Data: <code>{esc(resource["path"])}</code>'
        + (f" and <code>{esc(parquet)}</code>" if parquet else "")
        + ". "
        "Click a column heading to sort; ids link to their rows; “referenced by” lists the rows that point here.</p>\n"
    )
    return intro + data_table(f"table-{table}", header, rows, table)


# ---- charts ----


def charts_page(package: Package) -> str:
    rows = package.rows
    actor_names = {a["actor_id"]: a["name"] for a in rows.get("actors", [])}
    place_names = {p["place_id"]: p["name"] for p in rows.get("places", [])}
    event_labels = {e["event_id"]: e["summary"] for e in rows.get("events", [])}
    body = '<h2 id="timeline">Timeline of events and statements</h2>\n'
    body += (
        '<p class="muted">One lane per actor (an event under its actor 1, a statement under its speaker). '
        "Bars span the possible dates (date_start to date_end, date to date_latest); diamonds are statements "
        "known to the day. Click a mark to open its row.</p>\n"
    )
    body += charts.timeline(rows.get("events", []), rows.get("statements", []), actor_names) + "\n"
    outside = charts.timeline_outside(rows.get("events", []), rows.get("statements", []))
    if outside:
        body += (
            "<p>Earlier records, outside the timeline's window:</p>\n<ul>"
            + "".join(
                f"<li>{esc(i['start'])}{'' if i['end'] == i['start'] else ' to ' + esc(i['end'])}: {_tag(i['table'])}"
                f'<a href="{escape(charts.href(i["table"], i["id"]))}">{escape(i["id"])}</a> {escape(i["label"])}</li>'
                for i in outside
            )
            + "</ul>\n"
        )
    body += '<h2 id="casualties">Casualty claims</h2>\n'
    body += (
        '<p class="muted">Each claim is its own row, attributed to its claimant; claims about the same event (or the '
        "same place, period and population) are grouped so competing figures sit side by side. A bar runs from the "
        "lowest to the highest reading, a dot is an exact figure, an arrow an open upper bound; dashed outlines are "
        "cumulative totals. The scale is logarithmic.</p>\n"
    )
    body += (
        charts.casualty_ranges(
            rows.get("casualty_reports", []), actor_names, event_labels, place_names
        )
        + "\n"
    )
    body += '<h2 id="map">Map of places</h2>\n'
    body += (
        '<p class="muted">Longitude and latitude over a graticule (equirectangular, scaled at the map\'s middle '
        "latitude). Larger, fainter, dashed markers are less precise (UCDP geo_precision).</p>\n"
    )
    body += charts.place_map(rows.get("places", [])) + "\n"
    _, far = charts.map_regions(rows.get("places", []))
    unmapped = [
        p for p in rows.get("places", []) if p.get("latitude") is None or p.get("longitude") is None
    ]
    if far or unmapped:
        body += (
            "<p>Places outside the map:</p>\n<ul>"
            + "".join(
                f'<li><a href="{escape(charts.href("places", p["place_id"]))}">{esc(p["name"])}</a> '
                + (
                    f"({p['latitude']:.2f}, {p['longitude']:.2f})"
                    if p.get("latitude") is not None and p.get("longitude") is not None
                    else "(no coordinates)"
                )
                + f", precision {esc(p['geo_precision'])}</li>"
                for p in far + unmapped
            )
            + "</ul>\n"
        )
    return body


# ---- checks ----


def validation_problems(package_dir: Path) -> list[tuple[str, list[str]]]:
    """(validator, problems as text) for each package validator available.

    Always the publish-time check of files against the descriptor; and the
    project's package validator (pipeline.validate.run: schemas, keys and rules on CSV
    and Parquet alike) when the module is there.
    """
    from pipeline.validate.run import verify_package

    results = [
        (
            "pipeline.validate.run.verify_package (files against their descriptor)",
            sorted(str(p) for p in verify_package(package_dir)),
        )
    ]
    try:
        from pipeline.validate import run as validator
    except ImportError:
        return results
    run = getattr(validator, "validate_path", None) or getattr(validator, "validate", None)
    if run is None:
        return results
    name = f"pipeline.validate.run.{run.__name__} (types, constraints, keys, CSV and Parquet twins)"
    try:
        outcome = run(package_dir)
    except Exception as exc:  # a failing validator is a finding to show, not a crash of the report
        return results + [(name, [f"the validator failed: {type(exc).__name__}: {exc}"])]
    if hasattr(outcome, "lines"):
        problems = outcome.lines()
    else:
        problems = getattr(outcome, "problems", outcome)
        problems = problems.get("problems", []) if isinstance(problems, dict) else problems
    return results + [(name, sorted(str(p) for p in problems or []))]


def checks_page(
    package: Package, package_dir: Path, seeds: Path | None, texts: dict[str, SourceText]
) -> str:
    body = "<h2>Package validation</h2>\n"
    for name, problems in validation_problems(package_dir):
        state = (
            '<span class="ok">passes</span>'
            if not problems
            else f'<span class="bad">{len(problems)} problem(s)</span>'
        )
        body += f"<p><code>{escape(name)}</code>: {state}</p>\n"
        if problems:
            body += "<ul>" + "".join(f"<li>{escape(p)}</li>" for p in problems) + "</ul>\n"
    body += (
        "<h2>Source texts</h2>\n<ul>"
        + "".join(
            f'<li><a href="source-{escape(sid)}.html">{escape(sid)}</a>: '
            + {
                "ok": '<span class="ok">sha256 matches</span>',
                "differs": '<span class="bad">sha256 differs</span>',
                "missing": '<span class="bad">text not in seeds/</span>',
                "unread": f'<span class="bad">{UNREAD}</span>',
            }[t.status]
            + "</li>"
            for sid, t in sorted(texts.items())
        )
        + "</ul>\n"
    )
    body += coverage_section(seeds)
    return body


def coverage_section(seeds: Path | None) -> str:
    """Annotation check status and every sentence no evidence covers, from seeds/."""
    if seeds is None or not seeds.is_dir():
        return '<h2>Uncovered sentences</h2>\n<p class="muted">No seeds folder: coverage not computed.</p>\n'
    from pipeline.check.coverage import classify
    from pipeline.check.run import check_seeds

    checked = check_seeds(seeds)
    body = "<h2>Annotation check</h2>\n"
    if checked.problems:
        body += f'<p><span class="bad">{len(checked.problems)} problem(s)</span> in {escape(str(seeds))}:</p>\n<ul>'
        body += (
            "".join(f"<li><code>{escape(str(p))}</code></li>" for p in checked.problems) + "</ul>\n"
        )
    else:
        body += f'<p><code>pipeline check</code> on {escape(str(seeds))}: <span class="ok">no problems</span></p>\n'
    sentences = classify(
        checked.corpus, checked.tables.rows.get("evidence", []), checked.exclusions
    )
    counts = {
        s: sum(1 for x in sentences if x.status == s) for s in ("covered", "excluded", "uncovered")
    }
    body += (
        f"<h2>Uncovered sentences</h2>\n<p>{len(sentences)} sentences: {counts['covered']} covered by evidence, "
        f"{counts['excluded']} excluded with a reason, "
        f'<span class="{"bad" if counts["uncovered"] else "ok"}">{counts["uncovered"]} unexplained</span>.</p>\n'
    )
    rows = [
        f'<tr><td><a href="source-{escape(s.source_id)}.html">{escape(s.source_id)}</a></td><td class="num">{s.line}</td>'
        f'<td class="num">{s.start}</td><td>{escape(s.status)}</td><td>{escape(s.reason or "")}</td><td>{escape(s.text)}</td></tr>'
        for s in sentences
        if s.status != "covered"
    ]
    return body + data_table(
        "uncovered", ["source", "line", "start", "status", "reason", "sentence"], rows, "sentences"
    )


# ---- overview and the whole site ----


def index_page(package: Package, texts: dict[str, SourceText]) -> str:
    d = package.descriptor
    body = f"<p>{esc(d.get('description'))}</p>\n" + facts(
        [
            ("Package", f"<code>{esc(d.get('name'))}</code>"),
            ("Version", esc(d.get("version"))),
            ("Created", esc(d.get("created"))),
            (
                "Licence",
                ", ".join(
                    esc(lic.get("title") or lic.get("name")) for lic in d.get("licenses", [])
                ),
            ),
        ]
    )
    body += (
        "<h2>Sources</h2>\n<ul>"
        + "".join(
            f'<li><a href="source-{escape(s["source_id"])}.html">{esc(s["title"])}</a> — {esc(s["publisher"])}, '
            f"{esc(s['published_date'])} ({sum(1 for e in package.rows.get('evidence', []) if e['source_id'] == s['source_id'])} "
            f"evidence spans{'' if texts[s['source_id']].status == 'ok' else '; text ' + texts[s['source_id']].status})</li>"
            for s in package.rows.get("sources", [])
        )
        + "</ul>\n"
    )
    body += (
        "<h2>Tables</h2>\n<ul>"
        + "".join(
            f'<li><a href="table-{escape(r["name"])}.html">{escape(r["name"])}</a>: {len(package.rows[r["name"]])} rows — '
            f"{esc(r.get('title', ''))}</li>"
            for r in d["resources"]
        )
        + "</ul>\n"
    )
    body += (
        '<h2>Also</h2>\n<ul><li><a href="charts.html">Charts</a>: timeline, casualty claims, map</li>'
        '<li><a href="checks.html">Checks</a>: package validation, text hashes, uncovered sentences</li></ul>\n'
    )
    return body


def build_report(package_dir: Path, seeds: Path | None, out: Path) -> list[Path]:
    """Write the report site into `out` (its previous pages are replaced); return the pages written."""
    package = load(package_dir)
    texts = source_texts(package, seeds if seeds is not None and seeds.is_dir() else None)
    title = package.descriptor.get("title") or package.descriptor.get("name") or str(package_dir)
    resources = package.descriptor["resources"]
    pages: dict[str, tuple[str, str]] = {"index.html": ("Overview", index_page(package, texts))}
    for source in package.rows.get("sources", []):
        sid = source["source_id"]
        pages[f"source-{sid}.html"] = (
            f"Source: {source['title']}",
            source_page(package, source, texts[sid]),
        )
    for resource in resources:
        pages[f"table-{resource['name']}.html"] = (
            f"Table: {resource['name']}",
            table_page(package, resource),
        )
    pages["charts.html"] = ("Charts", charts_page(package))
    pages["checks.html"] = ("Checks", checks_page(package, package_dir, seeds, texts))
    nav = (
        [("Overview", "index.html")]
        + [
            (s["source_id"], f"source-{s['source_id']}.html")
            for s in package.rows.get("sources", [])
        ]
        + [(r["name"], f"table-{r['name']}.html") for r in resources]
        + [("Charts", "charts.html"), ("Checks", "checks.html")]
    )
    out.mkdir(parents=True, exist_ok=True)
    for pattern in (
        "source-*.html",
        "table-*.html",
    ):  # pages of sources or tables no longer in the package
        for stale in sorted(out.glob(pattern)):
            if stale.name not in pages:
                stale.unlink()
    written = []
    for name, (heading, body) in pages.items():
        path = out / name
        path.write_text(page(heading, body, nav, name, title), encoding="utf-8")
        written.append(path)
    return written
