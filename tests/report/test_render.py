"""The report's templates: every value escaped, an unknown name an error, the stylesheet and script
inlined from their files, the navigation marking the page it is on."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import UndefinedError
from markupsafe import Markup, escape

from pipeline.report.render import Navigation, environment, escaped
from pipeline.report.site import build_report

from conftest import BASE_SEEDS


@pytest.mark.parametrize(
    "value, expected",
    [
        ('<script>alert("1")</script>', "&lt;script&gt;alert(&#34;1&#34;)&lt;/script&gt;"),
        ("a & b 'c'", "a &amp; b &#39;c&#39;"),
        ("plain", "plain"),
    ],
    ids=["markup", "ampersand-and-quotes", "plain"],
)
def test_every_value_is_escaped(value: str, expected: str):
    assert environment().from_string('<p title="{{ v }}">{{ v }}</p>').render(v=value) == (
        f'<p title="{expected}">{expected}</p>'
    )


@given(
    st.one_of(
        st.text(alphabet=st.sampled_from("&<>'\"ab \u00e9\U0001f600")),
        st.text(),
        st.integers(),
        st.floats(),
        st.builds(Markup, st.text()),
    )
)
def test_a_value_is_written_as_markupsafe_escapes_it(value):
    assert escaped(value) == str(escape(value))


@pytest.mark.parametrize("name", environment().list_templates())
def test_every_template_writes_its_values_through_escaped(name: str):
    template = environment().get_template(name)
    assert template.root_render_func.__globals__["escape"] is escaped


def test_an_unknown_name_is_an_error_not_an_empty_string():
    with pytest.raises(UndefinedError, match="'missing' is undefined"):
        environment().from_string("{{ missing }}").render()


def test_the_navigation_marks_the_current_page_only():
    navigation = Navigation([("Overview", "index.html"), ("<b>", "table-x.html")])
    assert navigation.of("table-x.html") == (
        '<a href="index.html">Overview</a><a href="table-x.html" class="current">&lt;b&gt;</a>'
    )
    assert navigation.of("charts.html") == (
        '<a href="index.html">Overview</a><a href="table-x.html">&lt;b&gt;</a>'
    )


TABLE_CSS = (
    ".tag,.swatch{background:#718096}\n"
    ".t-actors{background:#2b6cb0}\n"
    ".t-places{background:#2f855a}\n"
    ".t-events{background:#dd6b20}\n"
    ".t-statements{background:#805ad5}\n"
    ".t-casualty_reports{background:#c53030}\n"
)


def test_every_page_inlines_the_stylesheet_and_script_once(tmp_path: Path, published_minimal: Path):
    static = files("pipeline.report").joinpath("static")
    css = static.joinpath("report.css").read_text(encoding="utf-8")
    script = static.joinpath("report.js").read_text(encoding="utf-8")
    pages = build_report(published_minimal, BASE_SEEDS, tmp_path / "report")
    assert len(pages) == 15
    for page in pages:
        html = page.read_text(encoding="utf-8")
        # then the tables' colours, then a text's highlights on its own page
        assert html.count(f"<style>\n{css}{TABLE_CSS}") == 1, page.name
        assert html.count("</style>") == 1, page.name
        assert html.count(f"<script>\n{script}</script>") == 1, page.name
        assert html.count("<style>") == html.count("<script>") == 1, page.name
