"""Properties over generated input: quotes resolve exactly or not at all; no input crashes a reader.

- resolve: any text and quote give offsets whose slice, folded, is the folded quote, or Unresolved;
- load_yaml, normalise, read_text: any bytes give a value or InputError, nothing else;
- a text `normalise` stores is one `read_text` accepts unchanged (ingest output passes check);
- `pipeline check` on the minimal seeds with any annotation bytes exits 0 or 1, never a traceback.
"""

from __future__ import annotations

import shutil
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.contract.problems import InputError
from pipeline.load.sourcetext import normalise, read_text
from pipeline.load.spans import Unresolved, find_all, fold, resolve
from pipeline.load.yamlfile import load_yaml

from conftest import BASE_SEEDS

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Characters that matter to spans: plain letters, spaces, typographic variants that fold,
# astral characters (one code point, two UTF-16 units), combining marks and line ends.
SPAN_CHARS = st.one_of(
    st.sampled_from(
        list("ab AB.,\n")
        + [
            "\u2019",
            "'",
            "\u201c",
            "\u201d",
            '"',
            "\u2013",
            "-",
            "\u00a0",
            "\u202f",
            "\U0001f600",
            "\U0001d400",
            "\u0301",
            "\t",
        ]
    ),
    st.characters(codec="utf-8"),
)
SPAN_TEXT = st.text(SPAN_CHARS, max_size=80)


def _check_resolved(text: str, quote: str, **options) -> tuple[int, int] | None:
    try:
        start, end = resolve(text, quote, **options)
    except Unresolved as missed:
        assert missed.message
        return None
    assert 0 <= start <= end <= len(text)
    assert fold(text[start:end]) == fold(quote)
    if options.get("prefix") is not None:
        prefix = fold(options["prefix"])
        assert fold(text)[start - len(prefix) : start] == prefix
    return start, end


@SETTINGS
@given(
    text=SPAN_TEXT,
    quote=SPAN_TEXT,
    occurrence=st.none() | st.integers(1, 4),
    prefix=st.none() | st.text(SPAN_CHARS, min_size=1, max_size=5),
)
def test_any_quote_resolves_exactly_or_is_unresolved(text, quote, occurrence, prefix):
    _check_resolved(text, quote, occurrence=occurrence, prefix=prefix)


@SETTINGS
@given(data=st.data(), text=st.text(SPAN_CHARS, min_size=1, max_size=120))
def test_a_quote_taken_from_the_text_resolves_to_a_span_of_it(data, text):
    start = data.draw(st.integers(0, len(text) - 1), label="start")
    end = data.draw(st.integers(start + 1, len(text)), label="end")
    quote = text[start:end]
    # The annotator may type the plain variants of typographic characters.
    quote = data.draw(st.sampled_from([quote, fold(quote)]), label="typed")
    assume(quote.strip() and quote == quote.strip())
    count = len(find_all(fold(text), fold(quote)))  # occurrences, overlapping ones included
    occurrence = data.draw(st.none() | st.integers(1, 3), label="occurrence")
    found = _check_resolved(text, quote, occurrence=occurrence)
    if found is None:
        # Only ambiguity or an occurrence past the count may leave a quote from the text unresolved.
        assert occurrence > count if occurrence is not None else count > 1
    else:
        assert text[found[0] : found[1]] == text[found[0] : found[0] + len(quote)]


# ---- readers never raise anything but InputError ----

YAML_ALPHABET = st.sampled_from(
    list("-:[]{}&*!|>'\"#%@`,?~ \n\t\r.0123456789abcxyz")
    + [
        "!!python/object/apply:os.system",
        "!!timestamp",
        "!!int",
        "!!binary",
        "&a",
        "*a",
        "<<",
        "---",
        "...",
        "\ufeff",
        "\x00",
        "\x07",
        "\u2028",
        "\U0001f600",
        "9" * 30,
        "2020-02-30",
        "NO",
        "yes",
        ".nan",
        ".inf",
        "1e400",
    ]
)
YAMLISH = st.lists(YAML_ALPHABET, max_size=60).map(
    lambda parts: "".join(parts).encode("utf-8", "surrogatepass")
)
ANY_BYTES = st.one_of(st.binary(max_size=400), YAMLISH)


@pytest.fixture(scope="module")
def scratch():
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


@SETTINGS
@given(raw=ANY_BYTES)
def test_load_yaml_raises_only_input_error(raw, scratch):
    path = scratch / "any.yaml"
    path.write_bytes(raw)
    try:
        load_yaml(path, "any.yaml")
    except InputError as refused:
        assert refused.problems and all(p.file == "any.yaml" for p in refused.problems)
        assert all("\n" not in p.message for p in refused.problems)


TEXTISH = st.one_of(
    st.binary(max_size=300),
    st.lists(
        st.one_of(
            st.characters(codec="utf-8"),
            st.sampled_from(["\r\n", "\r", "\ufeff", "e\u0301", "\u212b"]),
        ),
        max_size=100,
    ).map(lambda parts: "".join(parts).encode("utf-8")),
)


@SETTINGS
@given(raw=TEXTISH)
def test_normalise_and_read_text_raise_only_input_error(raw, scratch):
    try:
        text, changes = normalise(raw, "article.txt")
    except InputError as refused:
        assert refused.problems
        text = None
    if text is not None:
        assert (
            unicodedata.is_normalized("NFC", text)
            and "\r" not in text
            and not text.startswith("\ufeff")
        )
        # What ingest stores, check reads back unchanged.
        stored = scratch / "stored.txt"
        stored.write_text(text, encoding="utf-8", newline="")
        assert read_text(stored, "stored.txt") == text
    path = scratch / "text.txt"
    path.write_bytes(raw)
    try:
        read_text(path, "text.txt")
    except InputError as refused:
        assert refused.problems


# ---- the whole check on any annotation file ----

BASE_ANNOTATIONS = (BASE_SEEDS / "wire-2020-09-30" / "annotations.yaml").read_bytes()


@st.composite
def mutated_annotations(draw) -> bytes:
    """The valid annotation file with a few lines deleted, repeated, swapped or garbled."""
    lines = BASE_ANNOTATIONS.split(b"\n")
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["delete", "repeat", "swap", "garble", "insert"]))
        if action == "delete" and len(lines) > 1:
            del lines[at]
        elif action == "repeat":
            lines.insert(at, lines[at])
        elif action == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
        elif action == "garble" and lines[at]:
            column = draw(st.integers(0, len(lines[at]) - 1))
            lines[at] = (
                lines[at][:column] + draw(YAMLISH | st.binary(max_size=4)) + lines[at][column + 1 :]
            )
        elif action == "insert":
            lines.insert(at, draw(YAMLISH))
    return b"\n".join(lines)


@pytest.fixture(scope="module")
def seeds(scratch):
    folder = scratch / "seeds"
    shutil.copytree(BASE_SEEDS, folder)
    return folder


@FEW
@given(raw=st.one_of(ANY_BYTES, mutated_annotations(), mutated_annotations()))
def test_check_on_any_annotation_bytes_exits_0_or_1(raw, seeds):
    (seeds / "wire-2020-09-30" / "annotations.yaml").write_bytes(raw)
    result = CliRunner().invoke(app, ["check", "--seeds", str(seeds)])
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    assert "error: unexpected" not in result.output, result.output
    if result.exit_code == 1:
        lines = result.output.splitlines()
        assert lines[-1].endswith("problem(s) found.")
        # the seeds lie outside the current folder, so problems name their files in full
        assert all(line.startswith(f"{seeds}/") for line in lines[:-1]), result.output
