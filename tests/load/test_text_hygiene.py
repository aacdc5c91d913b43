"""Text that should never pass, and the cases a fixture folder cannot hold.

The fixture folders under tests/fixtures/invalid hold the annotation cases (control
characters, bidirectional controls, lone surrogates, line breaks, reference circles,
occurrences below 1, short evidence, implausible counts). Here: `pipeline ingest` given
such options, a named pipe, a device or an article over the size limit; how problems and
coverage lines show data on a terminal and in --json; ids with a trailing newline in every
kind of id field; and the opt-outs, which pass only with their reason.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.contract import schemas
from pipeline.contract.problems import printable
from pipeline.load.sourcetext import too_large

from conftest import BASE_SEEDS, FIXTURES, tree

runner = CliRunner()
SOURCE = "wire-2020-09-30"
ANNOTATIONS = f"{SOURCE}/annotations.yaml"
OPT_OUTS = FIXTURES / "valid" / "opt-outs" / "seeds"
ONE_LINE_HINT = (
    "write this value as one line without tabs; "
    "only free text such as a summary, note, quote or reason may span lines"
)
CONTROL_HINT = "remove it; control characters are not text"
YAML_CONTROL_HINT = CONTROL_HINT + ", and a YAML escape such as \\x1b or \\a writes one"
BIDI_HINT = "remove it; it makes the text display in another order than it is stored"
SURROGATE_HINT = (
    "write the character itself, or \\UXXXXXXXX beyond U+FFFF; a lone surrogate is half "
    "a UTF-16 pair or a byte that was not UTF-8, and cannot be stored"
)


def refused_lines(result) -> list[str]:
    """The problem lines of a refused command (exit 1, no traceback, no last-resort message)."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "unexpected" not in result.output, result.output
    lines = result.output.splitlines()
    assert lines[-1] == f"{len(lines) - 1} problem(s) found.", result.output
    return lines[:-1]


def edited(seeds: Path, relative: str, old: str, new: str) -> None:
    path = seeds / relative
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


# ---- ingest: options, named pipes, devices ----


@pytest.fixture
def world(tmp_path: Path):
    """seeds/ with one source and an article to ingest; returns (seeds, article, fingerprint of tmp_path)."""
    seeds = tmp_path / "seeds"
    shutil.copytree(BASE_SEEDS, seeds)
    article = tmp_path / "article.txt"
    article.write_text("A new article about Terter.\n", encoding="utf-8")
    return seeds, article, tree(tmp_path)


OPTION_CASES = {
    # name: (options after --seeds, the one expected problem line after "{file}: ")
    "publisher-esc": (
        ["--publisher", "Wire\x1b[31m"],
        "publisher: --publisher contains U+001B (ESC, a control character) at character 5 "
        f"({CONTROL_HINT})",
    ),
    "title-bel": (
        ["--publisher", "Wire", "--title", "Talks\x07"],
        f"title: --title contains U+0007 (BEL, a control character) at character 6 ({CONTROL_HINT})",
    ),
    "title-newline": (
        ["--publisher", "Wire", "--title", "Talks\nin Geneva"],
        f"title: --title contains U+000A (a line break) at character 6 ({ONE_LINE_HINT})",
    ),
    "basis-nul": (
        ["--publisher", "Wire", "--published", "2020-10-01", "--basis", "date \x00line"],
        "published_date_basis: --basis contains U+0000 (NUL, a control character) at character 6 "
        f"({CONTROL_HINT})",
    ),
    "url-bidi-override": (
        ["--publisher", "Wire", "--url", "https://example.org/\u202etxt.exe"],
        "url: --url contains U+202E (RIGHT-TO-LEFT OVERRIDE, a bidirectional control) "
        f"at character 21 ({BIDI_HINT})",
    ),
    "publisher-lone-surrogate": (
        ["--publisher", "Wi\udcffre"],
        "publisher: --publisher contains U+DCFF (a lone surrogate, not a character) "
        f"at character 3 ({SURROGATE_HINT})",
    ),
    "language-tab": (
        ["--publisher", "Wire", "--language", "e\tn"],
        f"language: --language contains U+0009 (a tab) at character 2 ({ONE_LINE_HINT})",
    ),
    "published-two-controls": (
        ["--publisher", "Wire", "--published", "\x1b2020-10-01\x1b"],
        "published_date: --published contains U+001B (ESC, a control character) at character 1, "
        f"and 1 more ({CONTROL_HINT})",
    ),
}


@pytest.mark.parametrize("name", sorted(OPTION_CASES))
def test_ingest_refuses_options_holding_forbidden_characters(name: str, world):
    seeds, article, before = world
    options, expected = OPTION_CASES[name]
    result = runner.invoke(
        app, ["ingest", str(article), "--seeds", str(seeds), "--id", "new-1", *options]
    )
    assert refused_lines(result) == [f"{article}: {expected}"]
    assert tree(article.parent) == before


def test_ingest_keeps_tabs_and_newlines_in_the_basis(world):
    seeds, article, _ = world
    result = runner.invoke(
        app,
        [
            "ingest",
            str(article),
            "--seeds",
            str(seeds),
            "--id",
            "new-1",
            "--publisher",
            "Wire",
            "--published",
            "2020-10-01",
            "--basis",
            "date line,\n\tfirst paragraph",
        ],
    )
    assert result.exit_code == 0, result.output
    assert 'published_date_basis: "date line,\\n\\tfirst paragraph"' in (
        seeds / "new-1" / "source.yaml"
    ).read_text(encoding="utf-8")


def _special(kind: str, tmp_path: Path) -> Path:
    if kind == "named-pipe":
        path = tmp_path / "pipe.txt"
        os.mkfifo(path)  # nobody writes to it: reading it would wait for ever
        return path
    if kind == "device":
        return Path("/dev/zero")  # reading it would never end
    raise AssertionError(kind)


@pytest.mark.parametrize("kind, what", [("named-pipe", "a named pipe"), ("device", "a device")])
def test_ingest_refuses_a_named_pipe_or_a_device_without_reading_it(
    kind: str, what: str, world, tmp_path: Path
):
    seeds, _article, _ = world
    path = _special(kind, tmp_path)
    before = tree(seeds)
    result = runner.invoke(
        app, ["ingest", str(path), "--seeds", str(seeds), "--id", "new-1", "--publisher", "Wire"]
    )
    assert refused_lines(result) == [
        f"{path}: is {what}, not a regular file (save the article to a regular file and ingest that)"
    ]
    assert tree(seeds) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["seeds", "article.txt"] + (["pipe.txt"] if kind == "named-pipe" else [])
    )


@pytest.mark.parametrize(
    "content, expected",
    [
        (
            "Talks\n\nArmenia\x1b[2J said.\n",
            "3: character U+001B (ESC, a control character) at column 8 (remove it from the original, "
            "then ingest it with 'pipeline ingest')",
        ),
        (
            "Talks\fin Geneva\n",
            "1: character U+000C (FF, a control character) at column 6 (remove it from the original, "
            "then ingest it with 'pipeline ingest')",
        ),
        (
            "Talks \ud800 in Geneva\n".encode(
                "utf-8", "surrogatepass"
            ),  # a surrogate's bytes are not UTF-8
            "1: not valid UTF-8 (byte 0xed at offset 6) (convert the file to UTF-8 first, e.g. iconv -f latin1 -t utf-8)",
        ),
        (
            "Talks in \u2066Geneva\u2069\n",
            "1: character U+2066 (LEFT-TO-RIGHT ISOLATE, a bidirectional control) at column 10, "
            "and 1 more (remove it from the original, then ingest it with 'pipeline ingest')",
        ),
    ],
)
def test_ingest_refuses_an_article_holding_control_characters(content, expected: str, world):
    seeds, article, _ = world
    article.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    before = tree(article.parent)
    result = runner.invoke(
        app, ["ingest", str(article), "--seeds", str(seeds), "--id", "new-1", "--publisher", "Wire"]
    )
    assert refused_lines(result) == [f"{article}:{expected}"]
    assert tree(article.parent) == before


@pytest.mark.parametrize(
    "size, expected",
    [
        (26_400_000, "a.txt: file is 26.4 MB; an article is far smaller"),
        (None, "a.txt: file is over 20 MB; an article is far smaller"),  # it grew while read
    ],
)
def test_an_article_over_the_size_limit_says_its_size_or_the_limit(size, expected: str):
    assert str(too_large("a.txt", size)) == f"{expected} (check that this is the article text)"


# ---- terminal output escapes what the data holds; --json keeps it ----


@pytest.mark.parametrize(
    "text, shown",
    [
        ("plain words, “quotes”, Ünïcode and 😀", "plain words, “quotes”, Ünïcode and 😀"),
        ("red \x1b[31malert\x1b[0m", "red \\x1b[31malert\\x1b[0m"),
        ("bell\x07 and nul\x00", "bell\\x07 and nul\\x00"),
        ("evil\u202etxt.exe", "evil\\u202etxt.exe"),
        ("isolated \u2066x\u2069", "isolated \\u2066x\\u2069"),
        ("half \ud800 pair", "half \\ud800 pair"),
        ("two\nlines\tand a tab\r", "two\\nlines\\tand a tab\\r"),
        ("line\u2028separator", "line\\u2028separator"),
        ("no\u00a0break space stays", "no\u00a0break space stays"),
    ],
)
def test_printable_escapes_what_a_terminal_would_act_on(text: str, shown: str):
    assert printable(text) == shown


def test_check_escapes_data_for_people_and_keeps_it_in_json(minimal_seeds: Path):
    edited(minimal_seeds, ANNOTATIONS, "  - place_id: terter\n", '  - place_id: "terter\\e[2J"\n')
    expected = [
        "seeds/wire-2020-09-30/annotations.yaml:16: places/terter\\x1b[2J: place_id: 'terter\\x1b[2J' is not "
        "an id: lowercase letters, digits and hyphens, starting with a letter or digit "
        "(e.g. terter-shelling-2020-09-30)",
        "seeds/wire-2020-09-30/annotations.yaml:31: events/terter-shelling-2020-09-30: place_id: "
        "'terter' is not a known places id (did you mean 'terter\\x1b[2J'?)",
        "seeds/wire-2020-09-30/annotations.yaml:64: casualty_reports/terter-azerbaijan-claim: place_id: "
        "'terter' is not a known places id (did you mean 'terter\\x1b[2J'?)",
    ]
    human = runner.invoke(app, ["check", "--seeds", str(minimal_seeds)])
    assert refused_lines(human) == expected
    assert "\x1b" not in human.output
    machine = runner.invoke(app, ["check", "--json", "--seeds", str(minimal_seeds)])
    assert machine.exit_code == 1
    assert "\x1b" not in machine.stdout  # JSON escapes it ...
    problems = json.loads(machine.stdout)["problems"]
    assert [p["record"] for p in problems] == [
        "places/terter\x1b[2J",
        "events/terter-shelling-2020-09-30",
        "casualty_reports/terter-azerbaijan-claim",
    ]  # ... and keeps it exactly
    assert problems[0]["field"] == "place_id" and problems[0]["line"] == 16


def test_coverage_escapes_data_for_people_and_keeps_it_in_json(minimal_seeds: Path):
    edited(
        minimal_seeds,
        ANNOTATIONS,
        "reason: page chrome (comment form)",
        'reason: "page chrome\\u202e (comment form)"',
    )
    human = runner.invoke(app, ["coverage", "--all", "--seeds", str(minimal_seeds)])
    assert human.exit_code == 1, human.output  # the headline is left unexplained
    assert human.output.splitlines() == [  # check's problem first: coverage shows what check finds
        "seeds/wire-2020-09-30/annotations.yaml:79: reason: contains U+202E (RIGHT-TO-LEFT OVERRIDE, a bidirectional "
        "control) at character 12 (remove it; it makes the text display in another order than it is stored)",
        "wire-2020-09-30:1: UNCOVERED: Clashes near Terter",
        "wire-2020-09-30:7: excluded (page chrome\\u202e (comment form)): Please enter your comment!",
        "4 sentences: 2 covered, 1 excluded with a reason, 1 unexplained",
    ]
    machine = runner.invoke(app, ["coverage", "--json", "--seeds", str(minimal_seeds)])
    assert machine.exit_code == 1, machine.output
    assert "\u202e" not in machine.stdout
    assert [s["reason"] for s in json.loads(machine.stdout)] == [
        None,
        "page chrome\u202e (comment form)",
    ]


# ---- ids end where they end: a trailing newline is refused in every kind of id field ----

A = "seeds/wire-2020-09-30/annotations.yaml"
LINE_BREAK = f"contains U+000A (a line break) at character {{}} ({ONE_LINE_HINT})"
ID_CASES = {
    # name: (file, old, new, the expected problem lines)
    "record-id": (
        ANNOTATIONS,
        "  - event_id: terter-shelling-2020-09-30\n",
        '  - event_id: "terter-shelling-2020-09-30\\n"\n',
        [
            f"{A}:24: events/terter-shelling-2020-09-30\\n: event_id: " + LINE_BREAK.format(27),
            *(
                f"{A}:{line}: {record}: {field}: 'terter-shelling-2020-09-30' is not a known events id "
                "(did you mean 'terter-shelling-2020-09-30\\n'?)"
                for line, record, field in [
                    (46, "statements/azerbaijan-terter-claim", "about_event_id"),
                    (57, "statements/armenia-terter-denial", "about_event_id"),
                    (63, "casualty_reports/terter-azerbaijan-claim", "event_id"),
                ]
            ),
        ],
    ),
    "annotation-source-id": (
        ANNOTATIONS,
        "source_id: wire-2020-09-30\n",
        'source_id: "wire-2020-09-30\\n"\n',
        [f"{A}:2: source_id: " + LINE_BREAK.format(16)],
    ),
    "evidence-source-id": (
        ANNOTATIONS,
        '["the town of Terter"]',
        '[{quote: "the town of Terter", source_id: "wire-2020-09-30\\n"}]',
        [
            f"{A}:22: places/terter: evidence: evidence names unknown source 'wire-2020-09-30\\n' "
            "(known sources: wire-2020-09-30)",
            f"{A}:22: places/terter: source_id: " + LINE_BREAK.format(16),
        ],
    ),
    "convention-term": (
        "count_conventions.yaml",
        "  - term: dozens\n",
        '  - term: "dozens\\n"\n',
        [
            "seeds/count_conventions.yaml:2: count_conventions/dozens\\n: term: "
            + LINE_BREAK.format(7),
            f"{A}:73: casualty_reports/terter-azerbaijan-claim: injured_convention: 'dozens' is not a known "
            "count_conventions id (did you mean 'dozens\\n'?)",
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(ID_CASES))
def test_an_id_with_a_trailing_newline_is_refused(name: str, minimal_seeds: Path):
    relative, old, new, expected = ID_CASES[name]
    edited(minimal_seeds, relative, old, new)
    assert refused_lines(runner.invoke(app, ["check", "--seeds", str(minimal_seeds)])) == expected


def _patterns(node) -> set[str]:
    if isinstance(node, dict):
        found = {node["pattern"]} if isinstance(node.get("pattern"), str) else set()
        return found.union(*(_patterns(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_patterns(value) for value in node))
    return set()


def test_annotation_schema_patterns_are_anchored_at_both_ends():
    """Editors read the patterns as ECMA regex, where ^...$ without alternatives spans the whole value."""
    patterns = _patterns(schemas.annotation_json_schema())
    assert schemas.ID_PATTERN in patterns
    assert (
        sorted(p for p in patterns if not (p.startswith("^") and p.endswith("$")) or "|" in p) == []
    )


# ---- opt-outs: they pass with their reason, and only with it ----


def test_opt_outs_pass_with_their_reasons():
    result = runner.invoke(app, ["check", "--seeds", str(OPT_OUTS)])
    assert result.exit_code == 0, result.output


SHORT = (
    f"{A}:16: actors/armenia: evidence: evidence 'lie' has 3 letter(s) or digit(s); at least 4 are needed to "
    "identify a passage (quote more of the sentence, or write the quote as a mapping with short_quote_suffices: "
    "and the reason it is enough)"
)


@pytest.mark.parametrize(
    "old, new, expected",
    [
        (
            '      - {quote: "lie", short_quote_suffices: "the one word Armenia used of the report, and it occurs once"}\n',
            '      - "lie"\n',
            SHORT,
        ),
        (
            'short_quote_suffices: "the one word Armenia used of the report, and it occurs once"',
            'short_quote_suffices: "  "',
            SHORT,
        ),
        (
            "      Fixture: displaced 12,000,000 is above",
            "      Fixture: displaced 12 million is above",
            f"{A}:77: casualty_reports/terter-azerbaijan-claim: displaced_high: 12,000,000 people is more than 10,000,000, "
            "the most one count may claim (correct the figure; if the source really says so, write the figure and why "
            "it holds in note)",
        ),
    ],
)
def test_without_its_reason_an_opt_out_is_refused(
    old: str, new: str, expected: str, tmp_path: Path, monkeypatch
):
    seeds = tmp_path / "seeds"
    shutil.copytree(OPT_OUTS, seeds)
    monkeypatch.chdir(tmp_path)  # problems name seeds/... from the current folder
    edited(seeds, ANNOTATIONS, old, new)
    assert refused_lines(runner.invoke(app, ["check", "--seeds", str(seeds)])) == [expected]


def test_validate_and_diff_escape_data_for_people(tmp_path: Path, published_minimal: Path):
    old, new = tmp_path / "old", tmp_path / "new"
    shutil.copytree(published_minimal, old)
    shutil.copytree(published_minimal, new)
    events = new / "data" / "events.csv"
    events.write_text(
        events.read_text(encoding="utf-8").replace(
            ",2020-09-30,2020-09-30,", ",\x1b[2J,2020-09-30,", 1
        ),
        encoding="utf-8",
    )
    validated = runner.invoke(app, ["validate", "--no-parquet", str(new)])
    assert validated.exit_code == 1
    assert "\x1b" not in validated.output
    assert 'Type error in the cell "\\x1b[2J" in row "2" and field "date_start"' in validated.output
    compared = runner.invoke(app, ["diff", str(old), str(new)])
    assert compared.exit_code == 1
    assert "\x1b" not in compared.output and "\\u001b[2J" in compared.output
    as_json = runner.invoke(app, ["validate", "--no-parquet", "--json", str(new)])
    assert "\\u001b[2J" in as_json.output  # JSON keeps the exact cell
