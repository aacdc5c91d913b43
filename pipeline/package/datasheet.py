"""The package's datasheet, datapackage/README.md, rendered from the package itself.

`render_datasheet` is a pure function of the files in the package folder
(datapackage.json with its inlined Table Schemas, data/*.csv, CHANGELOG.md) and of
the event type hierarchy in schemas/, so rebuilding an unchanged package gives the
same bytes. Every value it prints from the package goes through `inline_text`, `code`
or `url` (and `table_cell` in a table), so the rendered page shows the data's own
characters and no tag, link or layout can come out of them. The package is read
through pipeline.package.reader, as every package is.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from pipeline.contract import schemas
from pipeline.contract.fieldtypes import to_csv
from pipeline.package.reader import CHANGELOG, read_columns, read_descriptor, read_typed_rows

# Markdown escaping is written by hand: markdown-it-py and mistune render Markdown but write none,
# and a general "escape every punctuation mark" would rewrite plain sentences (their brackets,
# hyphens, dots) for nothing. Only what can start markup is escaped, so text without markup keeps
# its bytes.
_MARKUP = re.compile(
    r"\\(?=[!-/:-@\[-`{-~]|$)"  # a backslash that would escape the next character
    r"|[`*~<>\[\]&]"  # code, emphasis, strikethrough, HTML and autolinks, links, entities
    r"|(?<![^\W_])_|_(?![^\W_])"
)  # an underscore not inside a word (emphasis)
# Marks that open a block (heading, list, rule, setext underline) when they begin a line.
_BLOCK_START = re.compile(r"^(?:[#+=-]|\d{1,9}(?=[.)](?:\s|$)))")
_SAFE_URL = re.compile(r"^https?://[^\s<>()\\`]+$")


def _plain(value) -> str:
    """A value written as in the CSV files, on one line."""
    return " ".join(to_csv(value).split())


def inline_text(value) -> str:
    """A value as Markdown text that renders as exactly its characters: no tag, link, code span,
    emphasis or heading can come out of the data, and a newline cannot end the paragraph or table
    row it stands in."""
    text = _MARKUP.sub(lambda m: "\\" + m.group(0), _plain(value))
    start = _BLOCK_START.match(text)
    if start:
        end = start.end()
        text = text[:end] + "\\" + text[end:] if text[:1].isdigit() else "\\" + text
    return text


def code(value) -> str:
    """A value as a Markdown code span (no markup inside one), fenced by more backticks than it
    holds."""
    text = _plain(value)
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def url(value) -> str:
    """A web address as an autolink; anything else (javascript:, data:, a relative path) as plain
    text."""
    text = _plain(value)
    return f"<{text}>" if _SAFE_URL.match(text) else inline_text(text)


def table_cell(markdown: str) -> str:
    """Inline Markdown made fit for a table cell: GFM splits cells at every `|`, even inside a code
    span, and removes the backslash of `\\|` before reading the cell, so every `|` is escaped."""
    return markdown.replace("|", "\\|")


def cell(value) -> str:
    """A plain value as the text of a Markdown table cell."""
    return table_cell(inline_text(value))


def table(header: list[str], rows: list[list]) -> str:
    """A Markdown table; `rows` hold inline Markdown (from inline_text, code, url) or plain numbers
    and dates."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join(table_cell(v) if isinstance(v, str) else cell(v) for v in row) + " |"
        for row in rows
    ]
    return "\n".join(lines) + "\n"


def code_values(field: dict) -> str:
    """The code list of a field: `value` (label), ... ; empty when it has none."""
    parts = []
    for category in field.get("categories") or []:
        if isinstance(category, dict):
            value, label = code(category.get("value")), category.get("label")
            parts.append(f"{value} ({inline_text(label)})" if label else value)
        else:
            parts.append(code(category))
    return ", ".join(parts)


def _constraints(field: dict) -> str:
    shown = []
    for key, value in sorted(field.get("constraints", {}).items()):
        if key in ("required", "enum"):
            continue
        shown.append("unique" if key == "unique" else f"{inline_text(key)} {code(value)}")
    return ", ".join(shown)


def coverage_dates(package_dir: Path, descriptor: dict) -> list[list]:
    """Per dated table: earliest and latest date its rows span (a missing end counts as its
    start)."""
    import pyarrow.compute as pc

    result = []
    for resource in descriptor["resources"]:
        if resource["name"] not in schemas.DATE_SPANS:
            continue
        first, last = schemas.DATE_SPANS[resource["name"]]
        columns = read_columns(package_dir, resource, [first, last])
        dated = pc.is_valid(columns[first])
        starts = pc.filter(columns[first], dated)
        ends = pc.filter(pc.coalesce(columns[last], columns[first]), dated)
        if len(starts):
            earliest, latest = pc.min(starts).as_py(), pc.max(ends).as_py()
            result.append(
                [resource["name"], dt.date.fromisoformat(earliest), dt.date.fromisoformat(latest)]
            )
    return result


def row_count(package_dir: Path, resource: dict) -> int:
    first = resource["schema"]["fields"][0]["name"]
    return len(read_columns(package_dir, resource, [first])[first])


def latest_changelog_entry(text: str) -> str:
    """The first `## ` section of the changelog, without its trailing blank lines."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("## ")]
    if not starts:
        return ""
    end = starts[1] if len(starts) > 1 else len(lines)
    return "\n".join(lines[starts[0] : end]).strip() + "\n"


def _about(descriptor: dict) -> str:
    licences = ", ".join(_licence(lic) for lic in descriptor.get("licenses", []))
    facts = [
        ["Name", code(descriptor["name"])],
        ["Version", inline_text(descriptor["version"])],
        ["Created", inline_text(descriptor["created"])],
        ["Identifier", code(descriptor["id"])],
        ["Licence", licences],
        ["Keywords", ", ".join(inline_text(k) for k in descriptor.get("keywords", []))],
    ]
    return (
        f"# {inline_text(descriptor['title'])}: datasheet\n\n"
        "Generated from the package and its Table Schemas by `pipeline publish`; do not edit.\n\n"
        f"{inline_text(descriptor['description'])}\n\n" + table(["", ""], facts)
    )


def _licence(licence: dict) -> str:
    """A licence as a link to its text when that is a web address, else its name."""
    name = inline_text(licence.get("title") or licence.get("name"))
    path = _plain(licence.get("path"))
    return f"[{name}]({path})" if _SAFE_URL.match(path) else name


def _what(descriptor: dict, counts: dict[str, int]) -> str:
    text = (
        "\n## What the data is\n\n"
        "Hand annotations of news articles about the 2020 Nagorno-Karabakh war, as tables. Each "
        "row of events, statements and casualty reports rests on at least one row of `evidence`: a "
        "span of an article given by Unicode code-point offsets (start inclusive, end exclusive) "
        "with the exact words. The articles are the publishers' copyright and are not shipped; "
        "`sources.text_sha256` lets anyone holding a copy check that the offsets refer to the same "
        "text.\n\n"
    )
    body = [
        [
            code(r["name"]),
            inline_text(r.get("title", "")),
            counts[r["name"]],
            code(r["path"]),
            code(r["parquet"]["path"]),
        ]
        for r in descriptor["resources"]
    ]
    text += "### Tables and row counts\n\n" + table(
        ["table", "title", "rows", "CSV", "Parquet"], body
    )
    return text


def _sources(rows: dict[str, list[dict]], dates: list[list]) -> str:
    body = [
        [
            inline_text(s["source_id"]),
            inline_text(s["publisher"]),
            inline_text(s["title"]),
            s["published_date"],
            inline_text(s["published_date_basis"]),
            url(s.get("url")),
            s["text_chars"],
        ]
        for s in sorted(rows.get("sources", []), key=lambda s: s["source_id"])
    ]
    text = "\n## Sources\n\n" + table(
        ["source_id", "publisher", "title", "published", "date basis", "url", "characters"], body
    )
    text += "\n## Coverage dates\n\n"
    if dates:
        overall = [min(d[1] for d in dates), max(d[2] for d in dates)]
        text += f"The records span {cell(overall[0])} to {cell(overall[1])}.\n\n"
        text += table(["table", "earliest", "latest"], [[code(d[0]), d[1], d[2]] for d in dates])
    else:
        text += "No dated records.\n"
    return text


def _dictionary(descriptor: dict) -> str:
    text = "\n## Data dictionary\n\nEvery field of every table, as declared in its Table Schema.\n"
    for resource in descriptor["resources"]:
        schema = resource["schema"]
        text += (
            f"\n### {code(resource['name'])}\n\n{inline_text(resource.get('description', ''))}\n\n"
        )
        text += f"- primary key: {code(', '.join(schema.get('primaryKey', [])))}\n"
        for fk in schema.get("foreignKeys", []):
            ref = fk["reference"]
            target = (ref.get("resource") or resource["name"]) + "." + ", ".join(ref["fields"])
            text += f"- foreign key: {code(', '.join(fk['fields']))} -> {code(target)}\n"
        body = [
            [
                code(f["name"]),
                inline_text(f["type"]),
                "yes" if f.get("constraints", {}).get("required") else "no",
                inline_text(f.get("description", "")),
                _constraints(f),
                code_values(f),
            ]
            for f in schema["fields"]
        ]
        text += "\n" + table(
            ["field", "type", "required", "description", "constraints", "values"], body
        )
        if resource["name"] == "events":
            hierarchy = [
                [inline_text(t), ", ".join(code(s) for s in subs)]
                for t, subs in schemas.sub_event_types().items()
            ]
            text += "\nACLED event types and the sub event types that belong to each:\n\n"
            text += table(["event_type", "sub_event_type"], hierarchy)
    return text


def _conventions(rows: dict[str, list[dict]]) -> str:
    body = [
        [
            inline_text(c["term"]),
            inline_text(c["phrase"]),
            c["low"],
            c["high"] if c["high"] is not None else "no upper bound",
            inline_text(c["basis"]),
        ]
        for c in sorted(rows.get("count_conventions", []), key=lambda c: c["term"])
    ]
    return (
        "\n## Casualty count conventions\n\n"
        "Vague words in casualty claims are read as ranges through these conventions; every ranged "
        "figure in `casualty_reports` names its term in a `*_convention` column. Claims are never "
        "merged: each is its own row, attributed to its claimant, and running totals are flagged "
        "`is_cumulative`.\n\n"
        + (table(["term", "phrase", "low", "high", "basis"], body) if body else "No conventions.\n")
    )


def _citation(descriptor: dict) -> str:
    licence = descriptor.get("licenses", [{}])[0]
    authors = "; ".join(inline_text(c.get("title", "")) for c in descriptor.get("contributors", []))
    year = inline_text(descriptor["created"][:4])
    title, name = inline_text(descriptor["title"]), code(descriptor["name"])
    version = inline_text(descriptor["version"])
    return (
        "\n## Licence and citation\n\n"
        "The tables are released under "
        f"{inline_text(licence.get('title') or licence.get('name', ''))} "
        f"({code(licence.get('name', ''))}). The evidence excerpts are short quotations of the "
        "articles, whose copyright stays with their publishers.\n\nCite as:\n\n"
        f"> {authors} ({year}). *{title}* ({name}), version {version}, "
        f"created {inline_text(descriptor['created'])}. {inline_text(descriptor['id'])}\n"
    )


def _loading() -> str:
    return """
## Load the data

pandas:

```python
import pandas as pd
events = pd.read_parquet("data/events.parquet", dtype_backend="pyarrow")
```

polars:

```python
import polars as pl
claims = pl.read_parquet("data/casualty_reports.parquet")
```

DuckDB:

```sql
select e.event_id, e.date_start, v.exact
from 'data/events.parquet' e
join 'data/evidence.parquet' v on v.record_table = 'events' and v.record_id = e.event_id;
```

R:

```r
library(arrow)
events <- read_parquet("data/events.parquet")
# or, with the descriptor: frictionless::read_package("datapackage.json")
```

Paths are relative to this folder. Dates are dates, counts nullable 64-bit integers, flags booleans,
in Parquet and (through the descriptor) in CSV alike.
"""


def free_text_columns(descriptor: dict) -> list[tuple[str, list[str]]]:
    """Per table, its string columns that no pattern, code list or foreign key constrains: any text
    can stand there."""
    found = []
    for resource in descriptor["resources"]:
        schema = resource["schema"]
        linked = {name for fk in schema.get("foreignKeys", []) for name in fk["fields"]}
        names = [
            f["name"]
            for f in schema["fields"]
            if f["type"] == "string"
            and f["name"] not in linked
            and not {"pattern", "enum"} & set(f.get("constraints", {}))
            and not f.get("categories")
        ]
        if names:
            found.append((resource["name"], names))
    return found


def _spreadsheets(descriptor: dict) -> str:
    columns = "".join(
        f"- {code(table)}: {', '.join(code(n) for n in names)}\n"
        for table, names in free_text_columns(descriptor)
    )
    return (
        "\n## Opening the CSV in a spreadsheet\n\n"
        "The CSV files keep the text of the annotations exactly as written, so a cell of a "
        "free-text column may begin with `=`, `+`, `-`, `@`, a tab or a carriage return. Excel, "
        "LibreOffice Calc and Google Sheets take such a cell for a formula when the file is opened "
        "directly (CSV or formula injection): it can show a computed value instead of the text, "
        "and a crafted formula can fetch addresses or run commands. The free-text columns (strings "
        "no pattern, code list or foreign key constrains) are:\n\n"
        f"{columns}\n"
        "To read them safely, load the Parquet files or the CSV with a data library (pandas, "
        "polars, R, DuckDB), which never evaluates formulas; or import the CSV into the "
        "spreadsheet as text rather than opening it: LibreOffice's Text Import dialog with the "
        "column type set to Text, Excel's Data > From Text/CSV with the columns set to Text before "
        "loading, Google Sheets' File > Import with \"Convert text to numbers, dates, "
        'and formulas" unticked. Do not let a spreadsheet save the CSV back over the package.\n'
    )


def render_datasheet(package_dir: Path) -> str:
    """The datasheet of the package in `package_dir`, as Markdown."""
    descriptor = read_descriptor(package_dir)
    # Only the small tables are read whole; the others give their row count and date range.
    rows = {
        r["name"]: read_typed_rows(package_dir, r)
        for r in descriptor["resources"]
        if r["name"] in ("sources", "count_conventions")
    }
    counts = {
        r["name"]: len(rows[r["name"]]) if r["name"] in rows else row_count(package_dir, r)
        for r in descriptor["resources"]
    }
    changelog = package_dir / CHANGELOG
    latest = (
        latest_changelog_entry(changelog.read_text(encoding="utf-8")) if changelog.is_file() else ""
    )
    parts = [
        _about(descriptor),
        _what(descriptor, counts),
        _sources(rows, coverage_dates(package_dir, descriptor)),
        _dictionary(descriptor),
        _conventions(rows),
        _citation(descriptor),
        _loading(),
        _spreadsheets(descriptor),
        "\n## Latest changes\n\n"
        + ("#" + latest if latest else "No changelog.\n")
        + "\nEvery version is listed in `CHANGELOG.md`.\n",
    ]
    return "".join(parts)
