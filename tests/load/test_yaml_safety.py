"""YAML is read as YAML 1.2's core schema, or refused; nesting is bounded before libyaml's composer sees the text.

- every way of writing a plain value in pipeline.load.yamlfile.FORMS reads, or is refused, as its row says,
  and libyaml, libyaml's parser under PyYAML's composer, and PyYAML's parser give the same answer;
- no plain value ever loads as a number other than the one typed (hypothesis);
- nesting past MAX_DEPTH levels is refused at its line; 30,000 levels (which used to kill the
  process inside libyaml) end in that message in every command that reads seeds, run as real processes.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pipeline.contract.problems import InputError
from pipeline.load import yamlfile
from pipeline.load.yamlfile import FORMS, MAX_DEPTH, Located, LocatedList, forms_table, load_yaml

from conftest import BASE_SEEDS, ROOT, copy_package, installed, tree

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DEPTH = (
    "YAML nested deeper than 50 levels "
    "(annotation records nest 5 levels at most; flatten the nested lists or mappings)"
)


@pytest.fixture(scope="module")
def scratch():
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


def load(text: str, folder: Path):
    path = folder / "f.yaml"
    path.write_text(text, encoding="utf-8")
    return load_yaml(path, "f.yaml")


def refusal(text: str, folder: Path) -> list[str]:
    with pytest.raises(InputError) as refused:
        load(text, folder)
    return [str(problem) for problem in refused.value.problems]


def shape(value):
    """A value with the lines it carries, to compare what two parsers built."""
    if isinstance(value, Located):
        return (
            "map",
            value.line,
            value.key_lines,
            {key: shape(item) for key, item in value.items()},
        )
    if isinstance(value, LocatedList):
        return ("list", value.line, value.item_lines, [shape(item) for item in value])
    return (type(value).__name__, "nan" if value != value else value)


def _fast(loader_class, text: str):
    loader = loader_class(text)
    try:
        return shape(yamlfile._build(loader.get_single_node(), loader))
    except Exception:  # noqa: BLE001 - any fault on a fast path sends the text to PyYAML's parser
        return "refused"
    finally:
        loader.dispose()


def by_every_parser(text: str):
    """(libyaml, libyaml's parser under PyYAML's composer, PyYAML): each the value's shape, or 'refused'."""
    slow = yamlfile._Loader(text)
    try:
        slow_shape = shape(slow.get_single_data())
    except (yamlfile._YamlProblem, yaml.YAMLError):
        slow_shape = "refused"
    finally:
        slow.dispose()
    return _fast(yamlfile._FastLoader, text), _fast(yamlfile._EventLoader, text), slow_shape


# ---- every form of FORMS, as its row says ----

READ = [
    ("17", 17),
    ("-3", -3),
    ("+1", 1),
    ("0", 0),
    ("-0", 0),
    ("40.3447", 40.3447),
    ("-1.5", -1.5),
    ("1.", 1.0),
    (".5", 0.5),
    ("6.8523015e+5", 685230.15),
    ("01.5", 1.5),
    (".inf", math.inf),
    ("-.Inf", -math.inf),
    ("true", True),
    ("False", False),
    ("TRUE", True),
    ("~", None),
    ("null", None),
    ("Null", None),
    ("NULL", None),
    ("", None),
    ("yes", "yes"),
    ("No", "No"),
    ("OFF", "OFF"),
    ("on", "on"),
    ("2020-09-30", "2020-09-30"),
    ("=", "="),
    ("<<", "<<"),
    ("'017'", "017"),
    ('"1:20"', "1:20"),
    ("'0x1F'", "0x1F"),
    ("0:20", "0:20"),
    ("1:60", "1:60"),
    ("0X1F", "0X1F"),
    ("-0o17", "-0o17"),
    ("1:20 am", "1:20 am"),
    ("!!float 5", 5.0),
    ("!!str 017", "017"),
]


@pytest.mark.parametrize(("written", "expected"), READ, ids=[w or "nothing" for w, _ in READ])
def test_plain_value_reads_as_yaml_1_2(written: str, expected, scratch: Path):
    value = load(f"value: {written}\n", scratch)["value"]
    assert (type(value), value) == (type(expected), expected)


def test_not_a_number_reads_as_nan(scratch: Path):
    value = load("value: .nan\n", scratch)["value"]
    assert type(value) is float and math.isnan(value)


def _hint(number: str, written: str) -> str:
    return f"write {number} if it is a number, or quote it ('{written}') if it is text"


REFUSED = [
    ("1:20", "1:20 is ambiguous: YAML 1.1 reads it as 80 (base 60), YAML 1.2 as text", "80"),
    (
        "190:20:30.15",
        "190:20:30.15 is ambiguous: YAML 1.1 reads it as 685230.15 (base 60), YAML 1.2 as text",
        "685230.15",
    ),
    ("1_000", "1_000 is ambiguous: YAML 1.1 reads it as 1000, YAML 1.2 as text", "1000"),
    ("1_0.5", "1_0.5 is ambiguous: YAML 1.1 reads it as 10.5, YAML 1.2 as text", "10.5"),
    (
        "685.230_15e+03",
        "685.230_15e+03 is ambiguous: YAML 1.1 reads it as 685230.15, YAML 1.2 as text",
        "685230.15",
    ),
    ("1_", "1_ is ambiguous: YAML 1.1 reads it as 1, YAML 1.2 as text", "1"),
    ("0_", "0_ is ambiguous: YAML 1.1 reads it as 0, YAML 1.2 as text", "0"),
    ("0b11", "0b11 is ambiguous: YAML 1.1 reads it as 3 (binary), YAML 1.2 as text", "3"),
    ("0o17", "0o17 is ambiguous: YAML 1.1 reads it as text, YAML 1.2 as 15 (octal)", "15"),
    ("0x1F", "0x1F is written in hexadecimal: YAML reads it as 31", "31"),
    (
        "-0x1F",
        "-0x1F is ambiguous: YAML 1.1 reads it as -31 (hexadecimal), YAML 1.2 as text",
        "-31",
    ),
    ("+.5", "+.5 is ambiguous: YAML 1.1 reads it as text, YAML 1.2 as 0.5", "0.5"),
    ("-.5", "-.5 is ambiguous: YAML 1.1 reads it as text, YAML 1.2 as -0.5", "-0.5"),
    ("1e5", "1e5 is ambiguous: YAML 1.1 reads it as text, YAML 1.2 as 100000.0", "100000.0"),
    ("1.5e3", "1.5e3 is ambiguous: YAML 1.1 reads it as text, YAML 1.2 as 1500.0", "1500.0"),
    ("2E-3", "2E-3 is ambiguous: YAML 1.1 reads it as text, YAML 1.2 as 0.002", "0.002"),
    ("017", "017 is ambiguous: YAML 1.1 reads it as 15 (octal), YAML 1.2 as 17", "17"),
    ("-08", "-08 is ambiguous: YAML 1.1 reads it as text, YAML 1.2 as -8", "-8"),
    ("00", "00 is written with a leading zero: YAML reads it as 0", "0"),
]


@pytest.mark.parametrize(("written", "message", "number"), REFUSED, ids=[w for w, _, _ in REFUSED])
def test_ambiguous_number_is_refused_with_its_readings(
    written: str, message: str, number: str, scratch: Path
):
    assert refusal(f"value: {written}\n", scratch) == [
        f"f.yaml:1: value: {message} ({_hint(number, written)})"
    ]
    # A tag is no way round it: the number typed still cannot change.
    tag = "!!float" if "." in written or "e" in written.lower() else "!!int"
    assert refusal(f"n: 1\nvalue: {tag} {written}\n", scratch) == [
        f"f.yaml:2: value: {message} ({_hint(number, written)})"
    ]


def test_every_example_of_the_forms_table_is_specified_here():
    read = {written for written, _ in READ} | {".nan"}
    refused = {written for written, _, _ in REFUSED} | {
        "<<: {...}"
    }  # the merge key: test_keys_are_read_like_values
    for form in FORMS:
        assert set(form.examples.split(", ")) <= (refused if form.here == "refused" else read), (
            form.name
        )


def test_the_forms_table_for_the_readme():
    assert forms_table().splitlines() == [
        "| written | for example | YAML 1.1 reads | YAML 1.2 reads | here |",
        "|---|---|---|---|---|",
        "| as a decimal integer | `17`, `-3`, `+1`, `0` | integer | integer | integer |",
        "| as a decimal number | `40.3447`, `-1.5`, `1.`, `.5`, `6.8523015e+5` | number | number | number |",
        "| as infinity or not-a-number | `.inf`, `-.Inf`, `.nan` | number | number | number (the checks refuse it) |",
        "| as true or false | `true`, `False`, `TRUE` | boolean | boolean | boolean |",
        "| as null | `~`, `null`, `Null`, `NULL` | null | null | null |",
        "| as yes, no, on or off | `yes`, `No`, `OFF` | boolean | text | text |",
        "| as a date | `2020-09-30` | date | text | text (the table checks read it as a date) |",
        "| as = or << (a value) | `=`, `<<` | special | text | text |",
        "| in base 60 | `1:20`, `190:20:30.15` | 80, 685230.15 | text | refused |",
        "| with digits grouped by _ | `1_000`, `1_0.5`, `685.230_15e+03` | 1000, 10.5, 685230.15 | text | refused |",
        "| in binary | `0b11` | 3 | text | refused |",
        "| in octal (0o) | `0o17` | text | 15 | refused |",
        "| in hexadecimal | `0x1F` | 31 | 31 | refused |",
        "| with a sign before the point | `+.5`, `-.5` | text | 0.5, -0.5 | refused |",
        "| with an exponent, without a point or a sign | `1e5`, `1.5e3`, `2E-3` | text "
        "| 100000.0, 1500.0, 0.002 | refused |",
        "| with a leading zero | `017`, `-08`, `00` | 15 (octal), text, 0 | 17, -8, 0 | refused |",
        "| as << (a key) | `<<: {...}` | merge | text | refused |",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "!!int 1.5\n",
            "f.yaml:1: '1.5' cannot be read as an integer (remove the tag or write a plain value)",
        ),
        (
            "!!bool yes\n",
            "f.yaml:1: 'yes' cannot be read as true or false (remove the tag or write a plain value)",
        ),
        (
            "!!null 5\n",
            "f.yaml:1: '5' cannot be read as null (remove the tag or write a plain value)",
        ),
        (
            "!!float [1]\n",
            "f.yaml:1: this value cannot be read as a number (remove the tag or write a plain value)",
        ),
        (
            "!!merge a\n",
            "f.yaml:1: 'a' cannot be read as << (remove the tag or write a plain value)",
        ),
        (
            "9223372036854775808\n",
            "f.yaml:1: integer 9223372036854775808 is outside the 64-bit range (counts and numbers must fit in 64 bits)",
        ),
    ],
)
def test_a_tag_holds_only_what_a_plain_value_could(text: str, expected: str, scratch: Path):
    assert refusal(text, scratch) == [expected]


# ---- keys ----


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "017: x\n",
            "f.yaml:1: 017 is ambiguous: YAML 1.1 reads it as 15 (octal), YAML 1.2 as 17 "
            f"({_hint('17', '017')})",
        ),
        (
            "a: 1\n1:20: x\n",
            "f.yaml:2: 1:20 is ambiguous: YAML 1.1 reads it as 80 (base 60), YAML 1.2 as text "
            f"({_hint('80', '1:20')})",
        ),
        (
            "a: 1\n<<: {b: 2}\n",
            "f.yaml:2: merge keys (<<) are not supported (write the keys out in full)",
        ),
        (
            "a: {<<: {b: 2}}\n",
            "f.yaml:1: merge keys (<<) are not supported (write the keys out in full)",
        ),
        (
            "base: &b {a: 1}\nmerged:\n  <<: *b\n",
            "f.yaml:1: anchor &b is not allowed (write the value out in full; anchors and aliases are refused)",
        ),
        ("1999: founded\n", "f.yaml:1: key 1999 is not a string (quote the key)"),
    ],
)
def test_keys_are_read_like_values(text: str, expected: str, scratch: Path):
    assert refusal(text, scratch) == [expected]


def test_a_quoted_merge_key_is_text(scratch: Path):
    assert load('"<<": x\n', scratch) == {"<<": "x"}


# ---- both parsers, every form ----

PARITY = (
    [f"value: {written}\n" for written, _ in READ]
    + [f"value: {written}\n" for written, _, _ in REFUSED]
    + [f"{written}: x\n" for written, _ in READ if written]
    + [f"{written}: x\n" for written, _, _ in REFUSED]
    + [
        "a: [1, 017]\n",
        "a:\n  - 1\n  - {b: 0x1F}\n",
        "<<: {a: 1}\n",
        "a: {<<: b}\n",
        "a: <<\n",
        "a: =\n",
        "a: [true, no, ~, .inf, 2020-09-30, '1:20', 1:20]\n",
    ]
)


@pytest.mark.parametrize("text", PARITY)
def test_libyaml_and_pyyaml_read_every_form_alike(text: str):
    fast, events, slow = by_every_parser(text)
    assert fast == events == slow


# ---- no number other than the one typed ----

YAML12_NUMBER = re.compile(
    r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)"
    r"(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)  # the spec's core schema


def _yaml11(text: str):
    return yaml.safe_load(f"value: {text}\n")["value"]


def _is_number(value) -> bool:
    return type(value) in (int, float)


def _typed(text: str):
    """The number a reader sees in `text`, which YAML 1.2's core schema reads as a number."""
    if re.fullmatch(r"[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)", text):
        return float(text.replace(".", "", 1))
    return int(text, 10) if re.fullmatch(r"[-+]?[0-9]+", text) else float(text)


def _same(a, b) -> bool:
    return type(a) is type(b) and (a == b or (a != a and b != b))


@SETTINGS
@given(n=st.integers(-(2**63), 2**63 - 1))
def test_any_64_bit_integer_loads_as_itself(n: int, scratch: Path):
    value = load(f"count: {n}\n", scratch)["count"]
    assert type(value) is int and value == n


@SETTINGS
@given(n=st.one_of(st.integers(2**63, 10**30), st.integers(-(10**30), -(2**63) - 1)))
def test_an_integer_outside_64_bits_is_refused(n: int, scratch: Path):
    assert refusal(f"count: {n}\n", scratch) == [
        f"f.yaml:1: integer {n} is outside the 64-bit range (counts and numbers must fit in 64 bits)"
    ]


NUMBERISH = st.text(
    st.sampled_from(list("0123456789012345_:.eE+-xobXOBafAFinINnN")), min_size=1, max_size=12
)


@SETTINGS
@given(text=NUMBERISH)
def test_a_plain_value_is_the_number_typed_or_refused(text: str, scratch: Path):
    try:
        old = _yaml11(text)
    except yaml.YAMLError:
        assume(False)  # not a plain value on its own (a lone '-' starts a list, ':' a mapping ...)
    except ValueError:
        old = text  # a YAML 1.1 date that does not exist (2020-13-45): not a number either
    assume(not isinstance(old, (list, dict)))
    new_is_number = YAML12_NUMBER.fullmatch(text) is not None
    try:
        value = load(f"count: {text}\n", scratch)["count"]
    except InputError as refused:
        assert _is_number(old) or new_is_number, text  # only numbers are refused for their form
        assert str(refused.problems[0]).startswith(f"f.yaml:1: count: {text} is "), refused.problems
        return
    if _is_number(value):
        assert new_is_number and _same(value, _typed(text)) and _same(value, old), (
            text
        )  # YAML 1.1 agrees
    else:
        assert value == text and not _is_number(old) and not new_is_number, text


# Each refused form, drawn: the loader refuses every one and never returns a value.
REFUSED_FORMS = {
    "in base 60": r"[1-9][0-9]{0,2}(:[0-5][0-9]){1,2}(\.[0-9]{1,2})?",
    "with digits grouped by _": r"[1-9][0-9]{0,2}(_[0-9]{3}){1,2}(\.[0-9_]{1,3})?",
    "in binary": r"[-+]?0b[01]{1,8}",
    "in octal (0o)": r"0o[0-7]{1,6}",
    "in hexadecimal": r"[-+]?0x[0-9a-fA-F]{1,6}",
    "with a sign before the point": r"[-+]\.[0-9]{1,4}",
    "with an exponent, without a point or a sign": r"[1-9][0-9]{0,2}(\.[0-9]{1,2})?[eE][0-9]{1,2}|[1-9][eE][-+][0-9]",
    "with a leading zero": r"[-+]?0[0-9]{1,6}",
}


def test_every_refused_form_is_drawn():
    assert set(REFUSED_FORMS) == {
        form.name for form in FORMS if form.here == "refused" and form.pattern
    }


@SETTINGS
@given(data=st.data(), form=st.sampled_from(sorted(REFUSED_FORMS)))
def test_every_refused_form_is_refused(data, form: str, scratch: Path):
    text = data.draw(st.from_regex(REFUSED_FORMS[form], fullmatch=True), label="text")
    problems = refusal(f"count: {text}\n", scratch)
    assert len(problems) == 1 and problems[0].startswith(f"f.yaml:1: count: {text} is "), problems
    assert "ambiguous" in problems[0] or "written" in problems[0]
    assert by_every_parser(f"count: {text}\n") == ("refused",) * 3


SCALAR = st.one_of(NUMBERISH, st.sampled_from(["true", "no", "~", "=", "<<", "2020-09-30", "a b"]))


def _render(items: list[tuple[str, str, bool]]) -> str:
    lines = []
    for key, text, in_list in items:
        lines.append(f"{key}: [{text}]" if in_list else f"{key}: {text}")
    return "\n".join(lines) + "\n"


@SETTINGS
@given(
    items=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", "0", "017", "1:20", "<<"]), SCALAR, st.booleans()
        ),
        min_size=1,
        max_size=5,
    )
)
def test_every_parser_gives_the_same_answer(items):
    fast, events, slow = by_every_parser(_render(items))
    assert fast in (slow, "refused") and events in (
        slow,
        "refused",
    )  # a fast path may step aside, never differ


# ---- nesting ----


def _flow(levels: int) -> str:
    return (
        "value: " + "[" * (levels - 1) + "x" + "]" * (levels - 1) + "\n"
    )  # the file's mapping is level 1


def _dashes(levels: int) -> str:
    return "value:\n  " + "- " * (levels - 1) + "x\n"


def _indented(levels: int) -> str:
    return "".join(" " * i + "a:\n" for i in range(levels)) + " " * levels + "x\n"


@pytest.mark.parametrize(
    "text",
    [_flow(MAX_DEPTH), _dashes(MAX_DEPTH), _indented(MAX_DEPTH)],
    ids=["flow", "dashes", "indented"],
)
def test_nesting_at_the_limit_loads(text: str, scratch: Path):
    fast, events, slow = by_every_parser(text)
    assert fast == events == slow != "refused"
    value, levels = load(text, scratch), 0
    while isinstance(value, (dict, list)):
        value, levels = (
            (next(iter(value.values())) if isinstance(value, dict) else value[0]),
            levels + 1,
        )
    assert (levels, value) == (MAX_DEPTH, "x")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (_flow(MAX_DEPTH + 1), 1),
        ("value: " + "{a: " * MAX_DEPTH + "x" + "}" * MAX_DEPTH + "\n", 1),
        (_dashes(MAX_DEPTH + 1), 2),
        (_indented(MAX_DEPTH + 1), 51),
        (_indented(MAX_DEPTH + 1).replace("\n", "\r"), 51),
        (_indented(300).replace("\n", "\u2028"), 51),
        ("# a * sends the text to PyYAML's parser\n" + _flow(MAX_DEPTH + 1), 2),
        (
            'hidden: "' + "]" * 600 + '"\n' + _flow(600),
            2,
        ),  # a quote cannot hide a level from the bound
    ],
    ids=[
        "flow-51",
        "flow-mappings-51",
        "dashes-51",
        "indented-51",
        "indented-51-cr",
        "indented-300-ls",
        "python-parser-51",
        "closers-in-quotes-600",
    ],
)
def test_nesting_past_the_limit_is_refused_at_its_line(text: str, line: int, scratch: Path):
    assert refusal(text, scratch) == [f"f.yaml:{line}: {DEPTH}"]


@pytest.mark.parametrize(
    ("text", "within"),
    [
        ("[" * 500, True),
        ("[" * 501, False),
        ("{" * 250 + "[" * 251, False),
        (
            'a: "' + "[" * 501 + '"\n',
            False,
        ),  # brackets in quotes count too: the bound only ever says too many
        ("a: '" + "]" * 10000 + "'\nb: " + "[" * 400, True),  # closers never lower it
        (" " * 249 + "x", True),
        (" " * 250 + "x", False),
        ("- " * 125 + "x", False),
        ("a:\n" + " " * 250 + "b", False),
        ("a:\r" + " " * 250 + "b", False),
        ("a:\x85" + "? " * 125 + "b", False),
        ("a:\u2029" + " " * 250 + "b", False),
        ("a:\r\n" + ": " * 124 + "b", True),
    ],
)
def test_bound_checked_before_libyaml_sees_the_text(text: str, within: bool):
    assert yamlfile._within_c_depth(text) is within


def test_text_beyond_the_bound_loads_alike_without_libyaml_s_composer(scratch: Path):
    text = "".join(
        f"k{i}: [{i}, {{quote: 'q{i}', occurrence: 1}}]\n" for i in range(300)
    )  # 600 flow collections
    assert not yamlfile._within_c_depth(text)
    fast, events, slow = by_every_parser(text)
    assert fast == events == slow != "refused"
    assert shape(load(text, scratch)) == slow


def test_deep_text_within_the_bound_reaches_libyaml_and_is_refused_after(scratch: Path):
    # 500 flow levels under an indentation of 248: about as deep as the bound lets through, far below libyaml's crash.
    text = "a:\n" + " " * 248 + "b: " + "[" * 499 + "x" + "]" * 499 + "\n"
    assert yamlfile._within_c_depth(text)
    assert refusal(text, scratch) == [f"f.yaml:2: {DEPTH}"]


# ---- 30,000 levels through every command that reads seeds, as real processes ----
# (in a process of their own, since what they guard against is the death of the process)

PIPELINE = str(installed("pipeline"))


def _deep_seeds(world: Path, note: str) -> None:
    shutil.copytree(BASE_SEEDS, world / "seeds")
    path = world / "seeds" / "wire-2020-09-30" / "annotations.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("    quote: a lie\n", "    quote: a lie\n    note:" + note), encoding="utf-8"
    )


@pytest.fixture(scope="module")
def deep_world(tmp_path_factory, published_minimal: Path) -> Path:
    world = tmp_path_factory.mktemp("deep")
    _deep_seeds(world, " " + "[" * 30000 + "]" * 30000 + "\n")
    copy_package(published_minimal, world / "datapackage")
    return world


PROBLEM = f"seeds/wire-2020-09-30/annotations.yaml:56: {DEPTH}\n"
UNCOVERED = (
    "wire-2020-09-30:1: UNCOVERED: Clashes near Terter\n"
    "wire-2020-09-30:3: UNCOVERED: TERTER (Wire) \u2013 Azerbaijan said on Wednesday that two civilians "
    "were killed and dozens wounded by Armenian shelling in the town of Terter.\n"
    "wire-2020-09-30:5: UNCOVERED: Armenia denied the report, calling it \u201ca lie\u201d.\n"
    "wire-2020-09-30:7: UNCOVERED: Please enter your comment!\n"
    "4 sentences: 0 covered, 0 excluded with a reason, 4 unexplained\n"
)


@pytest.mark.parametrize(
    ("command", "code", "stdout", "stderr"),
    [
        (["check"], 1, "", PROBLEM + "1 problem(s) found.\n"),
        (["coverage"], 1, UNCOVERED, PROBLEM),
        (["publish", "--out", "datapackage"], 1, "", PROBLEM + "1 problem(s) found.\n"),
        (
            ["report", "--out", "report"],
            0,
            "wrote 15 pages to report; open report/index.html\n",
            "",
        ),
    ],
    ids=["check", "coverage", "publish", "report"],
)
def test_30000_levels_are_a_located_problem_not_a_crash(
    command, code, stdout, stderr, deep_world: Path
):
    shutil.rmtree(deep_world / "report", ignore_errors=True)
    (deep_world / ".datapackage.lock").unlink(missing_ok=True)
    before = tree(deep_world)
    done = subprocess.run(
        [PIPELINE, *command, "--seeds", "seeds"],
        cwd=deep_world,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "PIPELINE_CACHE_DIR": os.environ["PIPELINE_CACHE_DIR"]},
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        code,
        stdout,
        stderr,
    )  # a signal would be negative
    after = tree(deep_world)
    if command[0] == "report":  # the report lists the problem on its checks page
        assert PROBLEM.strip().split(": ", 1)[1] in (
            deep_world / "report" / "checks.html"
        ).read_text(encoding="utf-8")
        after = {path: digest for path, digest in after.items() if not path.startswith("report")}
    after.pop(".datapackage.lock", None)
    assert after == before


@pytest.mark.parametrize(
    ("note", "line"),
    [
        ("\n      " + "- " * 30000 + "x\n", 57),
        ("\n      " + "? " * 30000 + "x\n", 57),
        (" {" + "a: {" * 30000 + "}" * 30000 + "}\n", 56),
        (' "' + "]" * 30000 + '"\n    summary: ' + "[" * 30000 + "]" * 30000 + "\n", 57),
        ("\n" + "".join(" " * (6 + i) + "a:\n" for i in range(3000)), 104),
    ],
    ids=["dashes", "keys", "flow-mappings", "closers-in-quotes", "indented"],
)
def test_30000_levels_of_any_kind_are_a_located_problem(note: str, line: int, tmp_path: Path):
    _deep_seeds(tmp_path, note)
    done = subprocess.run(
        [PIPELINE, "check", "--seeds", "seeds"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "PIPELINE_CACHE_DIR": os.environ["PIPELINE_CACHE_DIR"]},
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        f"seeds/wire-2020-09-30/annotations.yaml:{line}: {DEPTH}\n1 problem(s) found.\n",
    )


def test_the_readme_shows_the_forms_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "\n".join("   " + line for line in forms_table().splitlines()) + "\n" in readme
