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
from typer.testing import CliRunner

from conftest import BASE_SEEDS, tree
from pipeline.cli import app
from pipeline.datasheet import code, free_text_columns, inline_text, render_datasheet, table_cell, url

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
    ("Le Drian \"on Wednesday\"; 27 September 2020.", "Le Drian \"on Wednesday\"; 27 September 2020."),
    ("", ""),
]


@pytest.mark.parametrize("value, expected", INLINE, ids=[v[:24] or "empty" for v, _ in INLINE])
def test_inline_text_escapes_exactly_what_could_become_markup(value: str, expected: str):
    assert inline_text(value) == expected


@pytest.mark.parametrize("value, expected", [
    ("a`b", "``a`b``"),
    ("`x`", "`` `x` ``"),
    ("x|y", "`x|y`"),
    (SCRIPT, f"`{SCRIPT}`"),
    ("two\nlines", "`two lines`"),
    ("", ""),
], ids=["backtick", "backticks-at-ends", "pipe", "script", "newline", "empty"])
def test_code_span_is_fenced_by_more_backticks_than_it_holds(value: str, expected: str):
    assert code(value) == expected


@pytest.mark.parametrize("value, expected", [
    ("https://example.org/a_b?x=1&y=2", "<https://example.org/a_b?x=1&y=2>"),
    ("javascript:alert(1)", "javascript:alert(1)"),
    ("data:text/html,<script>x</script>", r"data:text/html,\<script\>x\</script\>"),
    ("https://example.org/<script>", r"https://example.org/\<script\>"),
    ("", ""),
], ids=["web", "javascript", "data", "markup-in-web", "empty"])
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


def edit_descriptor(package: Path, change) -> None:
    path = package / "datapackage.json"
    descriptor = json.loads(path.read_text(encoding="utf-8"))
    change(descriptor)
    path.write_text(json.dumps(descriptor, indent=2), encoding="utf-8")


def resource(descriptor: dict, name: str) -> dict:
    return next(r for r in descriptor["resources"] if r["name"] == name)


def _hostile_descriptor(descriptor: dict) -> None:
    descriptor.update(title="*Title* <script>t</script>", description="- item\n\n<img src=x onerror=alert(3)>",
                      keywords=["<b>bold</b>", "a|b"])
    descriptor["licenses"][0]["path"] = "javascript:alert(4)"
    sources = resource(descriptor, "sources")
    sources["description"] = "[x](javascript:alert(5))"
    sources["schema"]["fields"][1]["description"] = "a | b `c`\nnext"
    actor_type = next(f for f in resource(descriptor, "actors")["schema"]["fields"] if f["name"] == "actor_type")
    actor_type["categories"][0]["label"] = "<i>label</i> | more"


@pytest.fixture
def hostile_package(tmp_path: Path, published_minimal: Path) -> Path:
    """The minimal package with markup in the values the datasheet and the report print."""
    package = tmp_path / "package"
    shutil.copytree(published_minimal, package)
    write_cells(package / "data" / "sources.csv", {"title": SCRIPT, "publisher": IMG, "url": "javascript:alert(1)",
                                                   "published_date_basis": "first line\n\n<script>alert(2)</script>"})
    write_cells(package / "data" / "count_conventions.csv", {"phrase": "left | right",
                                                             "basis": "# Heading | `x` [a](javascript:b)"})
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
        r"first line \<script\>alert(2)\</script\> | javascript:alert(1) | 236 |",
        r"| dozens | left \| right | 12 | 99 | \# Heading \| \`x\` \[a\](javascript:b) |",
        r"\[x\](javascript:alert(5))",
        r"| `title` | string | yes | a \| b \`c\` next | minLength `1` |  |",
        r"> Karabakh news-events annotation team (2020). *\*Title\* \<script\>t\</script\>* "
        r"(`karabakh-2020-news-events`), version 0.1.0, created 2020-09-30T00:00:00Z. "
        "urn:uuid:4f7c2a1e-9b3d-4e62-8a51-2c0d7e93b6f4",
    ]:
        assert expected in lines, expected
    actor_type = next(line for line in lines if line.startswith("| `actor_type` |"))
    assert r"`state` (\<i\>label\</i\> \| more)" in actor_type


ALLOWED_TAGS = {"h1", "h2", "h3", "p", "a", "code", "em", "pre", "ul", "li", "blockquote",
                "table", "thead", "tbody", "tr", "th", "td"}


def test_datasheet_renders_to_html_with_no_markup_from_the_data(hostile_package: Path):
    sheet = render_datasheet(hostile_package)
    page = Html(MARKDOWN.render(sheet))
    assert {tag for tag, _ in page.tags} <= ALLOWED_TAGS
    assert [name for _, attrs in page.tags for name in attrs if name.startswith("on")] == []
    assert [attrs for tag, attrs in page.tags if tag == "a"] == []  # the licence and the url are javascript:
    assert len(page.tables) == sum(line.startswith("|---") for line in sheet.splitlines()) == 14
    for rows in page.tables:
        assert {len(row) for row in rows} == {len(rows[0])}, rows
    source = next(row for rows in page.tables for row in rows if row[0] == "wire-2020-09-30")
    basis = "first line <script>alert(2)</script>"
    assert source == ["wire-2020-09-30", IMG, SCRIPT, "2020-09-30", basis, "javascript:alert(1)", "236"]
    convention = next(row for rows in page.tables for row in rows if row[0] == "dozens")
    assert convention == ["dozens", "left | right", "12", "99", "# Heading | `x` [a](javascript:b)"]
    assert page.text.startswith("*Title* <script>t</script>: datasheet\n")
    assert "\n- item <img src=x onerror=alert(3)>\n" in page.text
