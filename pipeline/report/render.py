"""The report's templates: one Jinja2 environment, autoescaping every value, strict about names.

Templates live in pipeline/report/templates/, the stylesheet and script in
pipeline/report/static/; both ship with the package. The pages inline the stylesheet
and script, so a page needs nothing else to be viewed. Filters format values as the
package writes them (`cell`, as in the CSV files), numbers as the charts draw them
(`f0`, `f1`: no or one decimal) and JSON for a <script> element (`script_json`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib.resources import files

from jinja2 import Environment, PackageLoader, StrictUndefined, Template
from markupsafe import Markup

from pipeline.package.writer import csv_cell
from pipeline.report.charts import clip
from pipeline.report.texts import table_css


def escaped(value: object) -> str:
    """What `{{ value }}` writes: markupsafe.escape's text, without the Markup object it wraps
    that text in. An output's pieces are only joined, and the join is wrapped in Markup where a
    block or macro is captured. A Markup object made for each of them took half the time of the
    table pages (the 1k corpus's: 6.7 s of CPU with them, 3.5 s without)."""
    if value.__class__ is str:
        return escape_text(value)
    html = getattr(value, "__html__", None)  # Markup, a macro's output: HTML as it is
    return html() if html is not None else escape_text(str(value))


# markupsafe's own replacements; its public escape returns them wrapped in Markup
ENTITIES = (("&", "&amp;"), (">", "&gt;"), ("<", "&lt;"), ("'", "&#39;"), ('"', "&#34;"))


def escape_text(text: str) -> str:
    """The text as markupsafe.escape writes it; most texts have nothing to escape and are
    returned as they are."""
    if "&" in text or "<" in text or ">" in text or "'" in text or '"' in text:
        for character, entity in ENTITIES:
            text = text.replace(character, entity)
    return text


class ReportTemplate(Template):
    """A template whose outputs are escaped by `escaped`: the compiled template looks `escape` up
    in its module's namespace, which is its functions' globals."""

    @classmethod
    def from_code(cls, environment, code, globals, uptodate=None):
        template = super().from_code(environment, code, globals, uptodate)
        template.root_render_func.__globals__["escape"] = escaped
        return template


@cache
def environment() -> Environment:
    """The templates' environment, made once per process."""
    env = Environment(
        loader=PackageLoader("pipeline.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.template_class = ReportTemplate
    env.filters["cell"] = csv_cell
    env.filters["clip"] = clip
    env.filters["f0"] = lambda value: f"{value:.0f}"
    env.filters["f1"] = lambda value: f"{value:.1f}"
    env.filters["script_json"] = script_json
    # `href`, the address of a row, is the package's (its table's pages): each page is given it
    env.globals.update(
        css=static("report.css"),
        script=static("report.js"),
        table_css=Markup(table_css()),  # the project's own colours, in the stylesheet as they are
    )
    return env


# Inside <script> the HTML parser ends the element at "</script" and changes state at "<!--"
# and "<script", whatever the JSON means: so no "<", ">" or "&" is left for it to see. JSON reads
# the \u escapes back as the same characters.
SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def script_json(text: str) -> Markup:
    """JSON text made safe to embed in a <script> element: "</script>" in a value cannot end it."""
    return Markup(text.translate(SCRIPT_SAFE))


def static(name: str) -> Markup:
    """A file of pipeline/report/static/, trusted as it is: the project's own stylesheet or
    script."""
    return Markup(files("pipeline.report").joinpath("static", name).read_text(encoding="utf-8"))


def render(template: str, **context: object) -> str:
    """`template` rendered with `context` (a page is at most about 2 MB)."""
    return environment().get_template(template).render(**context)


def macro(name: str) -> Callable[..., Markup]:
    """A macro of macros.html, to call from Python."""
    return getattr(environment().get_template("macros.html").module, name)


class Navigation:
    """The links of the navigation, rendered once, each both plain and marked as the current
    page, and joined per page."""

    def __init__(self, entries: list[tuple[str, str]]):
        link = macro("nav_link")
        self.links = [
            (href, link(label, href, False), link(label, href, True)) for label, href in entries
        ]

    def of(self, current: str) -> Markup:
        """The navigation of page `current`, its own link marked."""
        return Markup("").join(
            marked if href == current else plain for href, plain, marked in self.links
        )
