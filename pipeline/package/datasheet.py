"""The package's datasheet, datapackage/README.md, rendered from the package itself.

Its sections are those of "Datasheets for Datasets" (Gebru et al.): motivation,
composition, collection, preprocessing and labelling, uses, distribution, maintenance,
and how to cite. `render_datasheet` is a pure function of the files in the package
folder (datapackage.json with its inlined Table Schemas, data/*.csv, CHANGELOG.md), of
the event type hierarchy in schemas/ and of the method sections (seeds/METHOD.md, read
by `read_method`), so rebuilding an unchanged package gives the same bytes. The method
file is the maintainers' own Markdown and is shown as written; without one, each section
says that the method is not documented. Every value it prints from the package goes
through `inline_text`, `code` or `url` (and `table_cell` in a table), so the rendered
page shows the data's own characters and no tag, link or layout can come out of them.
The package is read through pipeline.package.reader, as every package is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

from pipeline.contract import schemas
from pipeline.contract.fieldtypes import to_csv
from pipeline.contract.problems import InputError, Problem
from pipeline.load.spans import line_of_byte
from pipeline.package.citation import (
    CITATION_FILE,
    ZENODO_FILE,
    authors,
    recommended_citation,
    subset_citation_advice,
)
from pipeline.package.croissant import CROISSANT_FILE
from pipeline.package.reader import (
    CHANGELOG,
    DESCRIPTOR,
    read_columns,
    read_descriptor,
    read_typed_rows,
    twin_files,
)

METHOD_FILE = (
    "METHOD.md"  # in the seeds folder: how the package was made, in the maintainers' words
)
METHOD_SECTIONS = (
    "Motivation",
    "Collection",
    "Annotation",
    "Preprocessing",
    "Uses",
    "Limitations",
    "Biases",
    "Personal and sensitive information",
    "Maintenance",
)
NO_METHOD = (
    f"Not documented: the seeds folder had no {METHOD_FILE} when this package was published."
)

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
        "\n## Composition\n\n"
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
            _parquet_files(r),
        ]
        for r in descriptor["resources"]
    ]
    text += "### Tables and row counts\n\n" + table(
        ["table", "title", "rows", "CSV", "Parquet"], body
    )
    return text


def _parquet_files(resource: dict) -> str:
    """The Parquet twin's file, or the glob of its part files and how many there are."""
    parts = twin_files(resource)
    if "parts" not in resource["parquet"]:
        return code(parts[0]["path"])
    by = resource["parquet"]["partitionBy"]
    folder = f"data/{resource['name']}/part-*.parquet"
    return f"{code(folder)} ({len(parts)} parts by {code(by)})"


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
            inline_text(s.get("note") or ""),
        ]
        for s in sorted(rows.get("sources", []), key=lambda s: s["source_id"])
    ]
    text = (
        "\n### Sources\n\nThe articles the records come from, with how each publication date was "
        "established and the annotators' note on each text (its publisher, its state: a machine "
        "translation, say).\n\n"
    )
    text += table(
        ["source_id", "publisher", "title", "published", "date basis", "url", "characters", "note"],
        body,
    )
    text += "\n### Coverage dates\n\n"
    if dates:
        overall = [min(d[1] for d in dates), max(d[2] for d in dates)]
        text += f"The records span {cell(overall[0])} to {cell(overall[1])}.\n\n"
        text += table(["table", "earliest", "latest"], [[code(d[0]), d[1], d[2]] for d in dates])
    else:
        text += "No dated records.\n"
    return text


def _dictionary(descriptor: dict) -> str:
    text = "\n### Data dictionary\n\nEvery field of every table, as declared in its Table Schema.\n"
    for resource in descriptor["resources"]:
        schema = resource["schema"]
        text += (
            f"\n#### {code(resource['name'])}\n\n{inline_text(resource.get('description', ''))}\n\n"
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
        "\n### Casualty count conventions\n\n"
        "Vague words in casualty claims are read as ranges through these conventions; every ranged "
        "figure in `casualty_reports` names its term in a `*_convention` column. Claims are never "
        "merged: each is its own row, attributed to its claimant, and running totals are flagged "
        "`is_cumulative`.\n\n"
        + (table(["term", "phrase", "low", "high", "basis"], body) if body else "No conventions.\n")
    )


def read_method(seeds: Path) -> dict[str, str] | None:
    """The sections of `seeds`/METHOD.md (heading -> text), None when there is no such file;
    InputError, located, for a heading that is unknown, repeated or missing, or text before the
    first section other than a title."""
    path = seeds / METHOD_FILE
    if not path.is_file():
        return None
    raw = path.read_bytes()
    try:
        lines = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        problem = Problem(
            str(path),
            line_of_byte(raw, exc.start),
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            hint="save the file as UTF-8",
        )
        raise InputError([problem]) from None
    sections: dict[str, list[str]] = {}
    problems, current = [], None
    for number, line in enumerate(lines, start=1):
        if line.startswith("## "):
            current = line[3:].strip()
            if current not in METHOD_SECTIONS or current in sections:
                why = "repeated" if current in sections else "not a section of the method"
                problems.append(
                    Problem(
                        str(path),
                        number,
                        f"heading {current!r} is {why}",
                        hint="use each of these once: " + ", ".join(METHOD_SECTIONS),
                    )
                )
            sections.setdefault(current, [])
        elif current is not None:
            sections[current].append(line)
    missing = [name for name in METHOD_SECTIONS if not "\n".join(sections.get(name, [])).strip()]
    if missing:
        problems.append(
            Problem(
                str(path),
                None,
                "sections missing or empty: " + ", ".join(missing),
                hint="write each as a '## ' heading followed by its text",
            )
        )
    if problems:
        raise InputError(problems)
    return {name: "\n".join(sections[name]).strip() for name in METHOD_SECTIONS}


def _method(method: dict[str, str] | None, *names: str) -> str:
    """The method sections `names`, each under its own heading, as the maintainers wrote them."""
    if method is None:
        return "\n" + NO_METHOD + "\n"
    # The first section carries the chapter's heading; the others get their own.
    return f"\n{method[names[0]]}\n" + "".join(
        f"\n### {name}\n\n{method[name]}\n" for name in names[1:]
    )


def scope_counts(package_dir: Path, descriptor: dict) -> dict[str, int]:
    """Rows of events per `scope` (incident, aggregate, background); empty without the column."""
    for resource in descriptor["resources"]:
        names = [f["name"] for f in resource["schema"]["fields"]]
        if resource["name"] == "events" and "scope" in names:
            counts: dict[str, int] = {}
            for value in read_columns(package_dir, resource, ["scope"])["scope"].to_pylist():
                counts[str(value)] = counts.get(str(value), 0) + 1
            return dict(sorted(counts.items()))
    return {}


def incident_span(package_dir: Path, descriptor: dict) -> tuple[str, str] | None:
    """Earliest start and latest end of the events whose scope is incident; None without any."""
    for resource in descriptor["resources"]:
        names = [f["name"] for f in resource["schema"]["fields"]]
        if resource["name"] == "events" and {"scope", "date_start", "date_end"} <= set(names):
            columns = read_columns(package_dir, resource, ["scope", "date_start", "date_end"])
            spans = [
                (start, end or start)
                for scope, start, end in zip(
                    columns["scope"].to_pylist(),
                    columns["date_start"].to_pylist(),
                    columns["date_end"].to_pylist(),
                    strict=True,
                )
                if scope == "incident" and start
            ]
            if spans:
                return min(s for s, _ in spans), max(e for _, e in spans)
    return None


def _scope_and_sums(scopes: dict[str, int], incidents: tuple[str, str] | None) -> str:
    shown = ", ".join(f"{count} {code(scope)}" for scope, count in scopes.items())
    shown += " events" if shown else ""
    if incidents:
        shown += (
            f"; the incidents' possible dates span {cell(incidents[0])} to {cell(incidents[1])}"
        )
    return (
        "\n### Incidents, aggregates and background\n\n"
        "Each event says what it stands for in `events.scope`: `incident` (one occurrence the "
        "sources report, however vaguely dated), `aggregate` (a period of fighting as a whole, "
        "overlapping the incidents within it) or `background` (history the sources give as "
        "context, such as the 1990s war). "
        + (f"This version holds {shown}.\n" if shown else "\n")
        + "\n**Adding up casualty figures.** Sum only `casualty_reports` rows with "
        "`is_cumulative = false` whose event has `scope = incident`, from one claimant, and "
        "never across claimants. Rows with no event are left out too: they are a claimant's "
        "figure for a period or a place, not an incident's, and may overlap the incidents. "
        "Figures of aggregate and background events (a war's death toll, the fighting since a "
        "date) must never be added to incident totals. In DuckDB:\n\n"
        "```sql\n"
        "select c.claimant_actor_id, sum(c.killed_low) as killed_low, "
        "sum(c.killed_high) as killed_high\n"
        "from 'data/casualty_reports.parquet' c\n"
        "join 'data/events.parquet' e on e.event_id = c.event_id\n"
        "where not c.is_cumulative and e.scope = 'incident'\n"
        "group by c.claimant_actor_id;\n"
        "```\n"
    )


def _motivation(method: dict[str, str] | None) -> str:
    return "\n## Motivation\n" + _method(method, "Motivation")


def _collection(method: dict[str, str] | None) -> str:
    return (
        "\n## Collection process\n\nThe sources, their publication dates and how each was "
        "established, and the annotators' notes on each text, are listed under Composition > "
        "Sources.\n" + _method(method, "Collection")
    )


def _labelling(method: dict[str, str] | None) -> str:
    return "\n## Preprocessing, cleaning and labelling\n" + _method(
        method, "Annotation", "Preprocessing"
    )


def _uses(method: dict[str, str] | None) -> str:
    return "\n## Uses\n" + _method(method, "Uses", "Limitations", "Biases")


def _distribution(descriptor: dict) -> str:
    licence = descriptor.get("licenses", [{}])[0]
    files = [
        [code(DESCRIPTOR), "the Frictionless Data Package v2 descriptor, with every file's sha256"],
        [code(CROISSANT_FILE), "Croissant 1.1 description, for dataset search engines"],
        [code(CITATION_FILE), "Citation File Format 1.2.0"],
        [code(ZENODO_FILE), "Zenodo deposit metadata"],
        [code("README.md"), "this datasheet"],
        [code(CHANGELOG), "every version and what changed"],
        [code("data/"), "each table as CSV and Parquet"],
    ]
    return (
        "\n## Distribution\n\n"
        "The tables are released under "
        f"{inline_text(licence.get('title') or licence.get('name', ''))} "
        f"({code(licence.get('name', ''))}). The evidence excerpts are short quotations of the "
        "articles, whose copyright stays with their publishers; the full texts are not "
        "distributed.\n\n" + table(["file", "what it is"], files)
    )


def _maintenance(descriptor: dict, method: dict[str, str] | None) -> str:
    names = ", ".join(inline_text(name) for name in authors(descriptor))
    return (
        "\n## Maintenance\n\n"
        f"Maintained by the package's contributors: {names}. No contact address is published "
        "with the package.\n" + _method(method, "Maintenance")
    )


def _citation(descriptor: dict, descriptor_sha256: str) -> str:
    return (
        "\n## How to cite\n\n"
        "Cite the version you used, as below (the same citation as `CITATION.cff`). The sha256 "
        "is that of `datapackage.json`, which lists the sha256 of every data file, so it pins "
        "the exact bytes of every table; the release zip's own sha256 is not known when the "
        "package is written, since the zip is made from it afterwards.\n\n"
        f"> {inline_text(recommended_citation(descriptor, descriptor_sha256))}\n\n"
        f"{inline_text(subset_citation_advice())}\n"
    )


def _twin_glob(descriptor: dict, table: str) -> str:
    """What a reader names to read a table's twin: its file, or the glob of its part files."""
    resource = next(r for r in descriptor["resources"] if r["name"] == table)
    if "parts" in resource["parquet"]:
        return f"data/{table}/*.parquet"
    return resource["parquet"]["path"]


def _partitioned_note(descriptor: dict) -> str:
    """How to read part files, when some twins are split into them."""
    split = [r for r in descriptor["resources"] if "parts" in r["parquet"]]
    if not split:
        return ""
    tables = ", ".join(f"{code(r['name'])} (by {code(r['parquet']['partitionBy'])})" for r in split)
    return (
        f"\nThe Parquet twins of {tables} are split into one part file per value, "
        "`data/<table>/part-<value>.parquet`, each with the table's schema: DuckDB and polars "
        "read them together with the glob `data/<table>/*.parquet`, pandas and pyarrow with the "
        "folder `data/<table>`. The CSV files are whole.\n"
    )


def _loading(descriptor: dict) -> str:
    evidence = _twin_glob(descriptor, "evidence")
    return (
        """
### Load the data

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
join '{evidence}' v on v.record_table = 'events' and v.record_id = e.event_id;
```

R:

```r
library(arrow)
events <- read_parquet("data/events.parquet")
# or, with the descriptor: frictionless::read_package("datapackage.json")
```

Paths are relative to this folder. Dates are dates, counts nullable 64-bit integers, flags booleans,
in Parquet and (through the descriptor) in CSV alike.
""".replace("{evidence}", evidence)
        + _partitioned_note(descriptor)
    )


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
        "\n### Opening the CSV in a spreadsheet\n\n"
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


def render_datasheet(package_dir: Path, method: dict[str, str] | None = None) -> str:
    """The datasheet of the package in `package_dir`, as Markdown; `method` holds the sections of
    the seeds' METHOD.md (read_method), None when there is none."""
    descriptor = read_descriptor(package_dir)
    descriptor_sha256 = hashlib.sha256((package_dir / DESCRIPTOR).read_bytes()).hexdigest()
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
        _motivation(method),
        _what(descriptor, counts),
        _scope_and_sums(
            scope_counts(package_dir, descriptor), incident_span(package_dir, descriptor)
        ),
        _sources(rows, coverage_dates(package_dir, descriptor)),
        _dictionary(descriptor),
        _conventions(rows),
        "\n### Personal and sensitive information\n"
        + _method(method, "Personal and sensitive information"),
        _collection(method),
        _labelling(method),
        _uses(method),
        _loading(descriptor),
        _spreadsheets(descriptor),
        _distribution(descriptor),
        _maintenance(descriptor, method),
        "\n### Latest changes\n\n"
        + ("##" + latest if latest else "No changelog.\n")
        + "\nEvery version is listed in `CHANGELOG.md`.\n",
        _citation(descriptor, descriptor_sha256),
    ]
    return "".join(parts)
