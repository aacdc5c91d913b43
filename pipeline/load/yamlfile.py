"""Safe YAML loading that remembers where every value came from.

PyYAML is the parser (libyaml's C parser when it can, PyYAML's own otherwise). On top of it
this module:
- reads plain values as YAML 1.2's core schema, or refuses them: a number written in a form
  that YAML 1.1 and 1.2 (or a reader) would read differently, such as 017, 0x1F, 1_000 or
  1:20, is a located problem, never silently reinterpreted (FORMS lists every form);
- keeps dates and yes/no words as plain strings, so that 2020-02-30 is reported by the
  schema checks and "NO" stays Norway's code, not False;
- keeps the line of every mapping and of every key (for file:line errors);
- rejects duplicate keys (PyYAML silently keeps the last one), merge keys (<<),
  anchors and aliases (no "billion laughs");
- refuses tags beyond plain scalars, mappings and lists (no Python objects, no
  !!timestamp, !!binary, !!set), values a tag cannot hold, integers outside 64 bits;
- refuses files above a size limit before parsing them, and nesting deeper than
  MAX_DEPTH levels (text too deep for libyaml's recursive C code never reaches it).
"""

from __future__ import annotations

import math
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import BaseConstructor, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver, Resolver

from pipeline.contract.fieldtypes import INT64
from pipeline.contract.problems import InputError, Problem
from pipeline.load.spans import line_of, line_of_byte

MAX_BYTES = 10 * 1024 * 1024
# Annotation records nest 5 levels (file > table > record > evidence list > evidence item);
# the other seed files 2. Ten times that is margin, not a use.
MAX_DEPTH = 50
DEPTH_HINT = "annotation records nest 5 levels at most; flatten the nested lists or mappings"
_SPLIT_HINT = "split the annotations into several files"
_TAG_HINT = "remove the tag or write a plain value"
_ANCHOR_HINT = "write the value out in full; anchors and aliases are refused"
_INT64_HINT = "counts and numbers must fit in 64 bits"


@dataclass(frozen=True)
class Form:
    """One way of writing a plain (unquoted) value: how YAML 1.1 and 1.2 read it, and what
    this loader does.

    `pattern` is what the code uses: for a form that is read, the whole value matches it;
    for a refused form, it names the form of a value YAML 1.1 or 1.2 reads as a number
    but that is none of the forms read (the first refused form whose pattern is found).
    """

    name: str
    examples: str
    yaml11: str
    yaml12: str
    here: str
    pattern: str = ""
    base: str = ""  # how a reading of this form differs from the decimal digits typed, for messages


# Quoted values are never touched: '017' and "1:20" are text. Keys are read like values.
FORMS = (
    Form(
        "as a decimal integer",
        "17, -3, +1, 0",
        "integer",
        "integer",
        "integer",
        r"[-+]?(?:0|[1-9][0-9]*)",
    ),
    Form(
        "as a decimal number",
        "40.3447, -1.5, 1., .5, 6.8523015e+5",
        "number",
        "number",
        "number",
        r"[-+]?[0-9]+\.[0-9]*(?:[eE][-+][0-9]+)?|\.[0-9]+(?:[eE][-+][0-9]+)?",
    ),
    Form(
        "as infinity or not-a-number",
        ".inf, -.Inf, .nan",
        "number",
        "number",
        "number (the checks refuse it)",
        r"[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
    ),
    Form(
        "as true or false",
        "true, False, TRUE",
        "boolean",
        "boolean",
        "boolean",
        r"true|True|TRUE|false|False|FALSE",
    ),
    Form("as null", "~, null, Null, NULL", "null", "null", "null", r"~|null|Null|NULL|"),
    Form("as yes, no, on or off", "yes, No, OFF", "boolean", "text", "text"),
    Form("as a date", "2020-09-30", "date", "text", "text (the table checks read it as a date)"),
    Form("as = or << (a value)", "=, <<", "special", "text", "text"),
    Form("in base 60", "1:20, 190:20:30.15", "80, 685230.15", "text", "refused", r":", "base 60"),
    Form(
        "with digits grouped by _",
        "1_000, 1_0.5, 685.230_15e+03",
        "1000, 10.5, 685230.15",
        "text",
        "refused",
        r"_",
    ),
    Form("in binary", "0b11", "3", "text", "refused", r"0b", "binary"),
    Form("in octal (0o)", "0o17", "text", "15", "refused", r"0o", "octal"),
    Form("in hexadecimal", "0x1F", "31", "31", "refused", r"0x", "hexadecimal"),
    Form("with a sign before the point", "+.5, -.5", "text", "0.5, -0.5", "refused", r"^[-+]\."),
    Form(
        "with an exponent, without a point or a sign",
        "1e5, 1.5e3, 2E-3",
        "text",
        "100000.0, 1500.0, 0.002",
        "refused",
        r"[eE]",
    ),
    Form(
        "with a leading zero",
        "017, -08, 00",
        "15 (octal), text, 0",
        "17, -8, 0",
        "refused",
        r"^[-+]?0[0-9]",
        "octal",
    ),
    Form("as << (a key)", "<<: {...}", "merge", "text", "refused"),
)
_FORM = {form.name: form for form in FORMS}
_READ_INT, _READ_FLOAT, _READ_SPECIAL, _READ_BOOL, _READ_NULL = (
    re.compile(f"(?:{_FORM[name].pattern})\\Z")
    for name in (
        "as a decimal integer",
        "as a decimal number",
        "as infinity or not-a-number",
        "as true or false",
        "as null",
    )
)
_REFUSED = [form for form in FORMS if form.here == "refused" and form.pattern]
_OTHER = Form("as a number", "", "", "", "refused")

_STR, _MAP, _SEQ, _INT, _FLOAT, _BOOL, _NULL, _MERGE = (
    f"tag:yaml.org,2002:{kind}"
    for kind in ("str", "map", "seq", "int", "float", "bool", "null", "merge")
)
# What YAML 1.1 reads as a number (PyYAML's own resolvers) and what YAML 1.2's core schema
# does: a plain value that either of them reads as a number is one of the forms read above,
# or refused.
_YAML11 = {
    tag: regexp
    for resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.values()
    for tag, regexp in resolvers
}
_YAML12_DECIMAL = r"[-+]?[0-9]+"
_YAML12_BASED = r"0o[0-7]+|0x[0-9a-fA-F]+"
_YAML12_INT = f"{_YAML12_DECIMAL}|{_YAML12_BASED}"
_YAML12_FLOAT = (
    r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|"
    + _FORM["as infinity or not-a-number"].pattern
)
_NUMBER_RESOLVERS = [
    (_INT, re.compile(f"{_YAML11[_INT].pattern}|^(?:{_YAML12_INT})$", re.X)),
    (_FLOAT, re.compile(f"{_YAML11[_FLOAT].pattern}|^(?:{_YAML12_FLOAT})$", re.X)),
]


class Located(dict[str, Any]):
    """A mapping that knows its own line and the line of each key (1-based)."""

    __slots__ = ("line", "key_lines")  # no per-instance __dict__: corpora hold millions of these
    line: int
    key_lines: dict[str, int]


class LocatedList(list[Any]):
    """A list that knows its own line and the line of each item (1-based)."""

    __slots__ = ("line", "item_lines")
    line: int
    item_lines: list[int]


def _line(node: Node) -> int:
    """The 1-based line a node starts on."""
    return node.start_mark.line + 1


def _located(node: MappingNode) -> Located:
    """An empty mapping for `node`, with its line and no keys yet."""
    mapping = Located()
    mapping.line = _line(node)
    mapping.key_lines = {}
    return mapping


def _located_list(node: SequenceNode, items: LocatedList) -> LocatedList:
    """`items`, the values of `node`'s children, with the lines of `node` and of each child."""
    items.line = _line(node)
    # Lines taken inline rather than by _line(): this runs for every item of every file.
    items.item_lines = [child.start_mark.line + 1 for child in node.value]
    return items


class _YamlProblem(Exception):
    def __init__(
        self, line: int | None, message: str, hint: str | None = None, field: str | None = None
    ):
        super().__init__(message)
        self.line, self.message, self.hint, self.field = line, message, hint, field


class _Ambiguous(_YamlProblem):
    """A number typed in a form FORMS refuses; the mapping that holds it names its key."""


def forms_table() -> str:
    """FORMS as the Markdown table of the README."""
    rows = [
        "| written | for example | YAML 1.1 reads | YAML 1.2 reads | here |",
        "|---|---|---|---|---|",
    ]
    for form in FORMS:
        examples = ", ".join(f"`{example}`" for example in form.examples.split(", "))
        rows.append(f"| {form.name} | {examples} | {form.yaml11} | {form.yaml12} | {form.here} |")
    return "\n".join(rows)


# ---- numbers: what each YAML version reads, and the problem with a refused form ----


def _special_float(text: str) -> float:
    """.inf, -.Inf, .nan as a float: float() reads them without the point."""
    return float(text.replace(".", "", 1))


def _yaml11_reading(text: str) -> Any:
    """What YAML 1.1 (PyYAML's own SafeLoader) makes of a plain value; None if too long to read."""
    try:
        return yaml.load(text, Loader=yaml.SafeLoader)  # noqa: S506 - SafeLoader, on a value FORMS matched
    except (yaml.YAMLError, ValueError):
        return None


def _yaml12_reading(text: str) -> Any:
    """What YAML 1.2's core schema makes of a plain value; None if too long to read."""
    try:
        if re.fullmatch(_YAML12_DECIMAL, text):
            return int(text, 10)
        if re.fullmatch(_YAML12_BASED, text):
            return int(text[2:], 8 if text[1] == "o" else 16)
        if _READ_SPECIAL.match(text):
            return _special_float(text)
        if re.fullmatch(_YAML12_FLOAT, text):
            return float(text)
    except ValueError:
        return None
    return text


def _shown(reading: Any, text: str, form: Form) -> str:
    """A reading of `text` for a message, with the base it was read in when that changed it."""
    if isinstance(reading, str):
        return "text"
    if reading is None:
        return "a number too long to show"
    try:  # the digits as a reader sees them
        typed = float(text) if isinstance(reading, float) else int(text, 10)
    except ValueError:
        typed = None
    note = f" ({form.base})" if form.base and reading != typed else ""
    return f"{reading!r}{note}"


def _ambiguous(node: ScalarNode) -> _Ambiguous:
    """The problem with a plain value YAML 1.1 or 1.2 reads as a number, in a form FORMS refuses."""
    text = node.value
    form = next((form for form in _REFUSED if re.search(form.pattern, text)), _OTHER)
    old, new = _yaml11_reading(text), _yaml12_reading(text)
    if old == new:
        message = f"{text} is written {form.name}: YAML reads it as {old!r}"
    else:
        message = (
            f"{text} is ambiguous: YAML 1.1 reads it as {_shown(old, text, form)}, "
            f"YAML 1.2 as {_shown(new, text, form)}"
        )
    number = next((n for n in (new, old) if type(n) in (int, float) and math.isfinite(n)), None)
    hint = f"quote it ('{text}') if it is text"
    if number is not None:
        hint = f"write {number!r} if it is a number, or {hint}"
    return _Ambiguous(_line(node), message, hint)


def _is_refused_number(text: str) -> bool:
    """YAML 1.1 or 1.2 reads `text` as a number, and it is none of the number forms read."""
    return any(regexp.match(text) for _, regexp in _NUMBER_RESOLVERS) and not (
        _READ_INT.match(text) or _READ_FLOAT.match(text) or _READ_SPECIAL.match(text)
    )


# ---- constructors: a tagged value (implicitly, or by an explicit tag) as a Python value ----


def _scalar(node: Node, kind: str) -> str:
    """The text of a scalar node for a tag that wants `kind`; the tag's problem if it cannot be
    that."""
    if not isinstance(node, ScalarNode):
        raise _YamlProblem(_line(node), f"this value cannot be read as {kind}", _TAG_HINT)
    text = node.value
    if _is_refused_number(text):
        raise _ambiguous(node)
    return text


def _cannot(node: Node, kind: str) -> _YamlProblem:
    shown = repr(node.value if len(node.value) <= 40 else node.value[:40] + "...")
    return _YamlProblem(_line(node), f"{shown} cannot be read as {kind}", _TAG_HINT)


def _construct_int(loader: yaml.SafeLoader, node: Node) -> int:
    text = _scalar(node, "an integer")
    if not _READ_INT.match(text):
        raise _cannot(node, "an integer")
    try:
        value = int(text)
    except ValueError:  # more digits than Python converts (4300)
        raise _YamlProblem(
            _line(node), f"integer of {len(text)} digits is outside the 64-bit range", _INT64_HINT
        ) from None
    if not -INT64 <= value < INT64:
        raise _YamlProblem(_line(node), f"integer {value} is outside the 64-bit range", _INT64_HINT)
    return value


def _construct_float(loader: yaml.SafeLoader, node: Node) -> float:
    text = _scalar(node, "a number")
    if _READ_SPECIAL.match(text):
        return _special_float(text)
    if not (_READ_INT.match(text) or _READ_FLOAT.match(text)):
        raise _cannot(node, "a number")
    return float(text)


def _construct_bool(loader: yaml.SafeLoader, node: Node) -> bool:
    text = _scalar(node, "true or false")
    if not _READ_BOOL.match(text):
        raise _cannot(node, "true or false")
    return text[0] in "tT"


def _construct_null(loader: yaml.SafeLoader, node: Node) -> None:
    if not _READ_NULL.match(_scalar(node, "null")):
        raise _cannot(node, "null")


def _construct_merge(loader: yaml.SafeLoader, node: Node) -> str:
    """`<<` where a value goes is text in YAML 1.2; as a key, _construct_mapping refuses it."""
    if _scalar(node, "<<") != "<<":
        raise _cannot(node, "<<")
    return "<<"


def _construct_mapping(loader: yaml.SafeLoader, node: MappingNode) -> Located:
    mapping = _located(node)
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE:
            raise _YamlProblem(
                _line(key_node), "merge keys (<<) are not supported", "write the keys out in full"
            )
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise _YamlProblem(_line(key_node), f"key {key!r} is not a string", "quote the key")
        if key in mapping:
            raise _YamlProblem(
                _line(key_node),
                f"duplicate key '{key}' (first at line {mapping.key_lines[key]})",
                "keep one of them; YAML would silently keep only the last",
                key,
            )
        mapping.key_lines[key] = _line(key_node)
        try:
            mapping[key] = loader.construct_object(value_node, deep=True)
        except _Ambiguous as problem:
            problem.field = problem.field or key
            raise
    return mapping


def _construct_sequence(loader: yaml.SafeLoader, node: SequenceNode) -> LocatedList:
    items = LocatedList(loader.construct_object(child, deep=True) for child in node.value)
    return _located_list(node, items)


# ---- loaders ----


def _event_line(event: yaml.Event) -> int | None:
    """The 1-based line an event starts on."""
    mark = event.start_mark
    return None if mark is None else mark.line + 1


class _DepthLimited(Composer):
    """PyYAML's composer, refusing anchors, aliases and nesting deeper than MAX_DEPTH levels."""

    depth = 0  # collections open while composing
    peek_event: Callable[[], yaml.Event | None]  # the parser's, beside this composer

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _YamlProblem(
                _event_line(event), f"alias *{event.anchor} is not allowed", _ANCHOR_HINT
            )
        if isinstance(event, yaml.NodeEvent) and event.anchor:
            message = f"anchor &{event.anchor} is not allowed"
            raise _YamlProblem(_event_line(event), message, _ANCHOR_HINT)
        if not isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            return super().compose_node(parent, index)
        if self.depth >= MAX_DEPTH:
            raise _YamlProblem(
                _event_line(event),
                f"YAML nested deeper than {MAX_DEPTH} levels",
                DEPTH_HINT,
            )
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _Loader(_DepthLimited, yaml.SafeLoader):
    """PyYAML's own parser, with the constructors below: every fault is located here."""


# Plain values: the forms of FORMS, and nothing else (no dates, no yes/no, no '=').
_Loader.yaml_implicit_resolvers = {}
_Loader.add_implicit_resolver(_BOOL, _READ_BOOL, list("tTfF"))
_Loader.add_implicit_resolver(_NULL, _READ_NULL, ["~", "n", "N", ""])
_Loader.add_implicit_resolver(_MERGE, re.compile(r"<<\Z"), ["<"])
for _tag, _regexp in _NUMBER_RESOLVERS:
    _Loader.add_implicit_resolver(_tag, _regexp, list("-+0123456789."))

# Only plain YAML: explicit tags for anything but text, numbers, booleans, null, maps and lists
# are refused. PyYAML calls the constructor of tag None for an unknown tag, which refuses it.
_Loader.yaml_constructors = {
    tag: constructor
    for tag, constructor in yaml.SafeLoader.yaml_constructors.items()
    if tag in (_STR, None)
}
for _tag, _constructor in (
    (_INT, _construct_int),
    (_FLOAT, _construct_float),
    (_BOOL, _construct_bool),
    (_NULL, _construct_null),
    (_MERGE, _construct_merge),
    (_MAP, _construct_mapping),
    (_SEQ, _construct_sequence),
):
    _Loader.add_constructor(_tag, _constructor)

# The implicit resolvers by the first character of a value; those for any character (None) last.
_RESOLVERS = {
    first: tuple(resolvers + _Loader.yaml_implicit_resolvers.get(None, []))
    for first, resolvers in _Loader.yaml_implicit_resolvers.items()
    if first is not None
}


class _QuickResolver(Resolver):
    """PyYAML's resolve minus its per-call overhead (called for every scalar).

    It skips path resolvers: the loaders have none.
    """

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            if implicit[0]:
                for tag, regexp in _RESOLVERS.get(value[:1], ()):
                    if regexp.match(value):
                        return tag
            return _STR
        return BaseResolver.resolve(self, kind, value, implicit)

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None


if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _FastLoader(_QuickResolver, yaml.CSafeLoader):
        """The same loader on libyaml's C parser, for text with no anchors or aliases."""

        yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers
        yaml_constructors = dict(_Loader.yaml_constructors)

    class _EventLoader(_DepthLimited, CParser, SafeConstructor, _QuickResolver):
        """libyaml's parser under PyYAML's composer, which counts levels: for text too deep to
        give libyaml's.

        On a 10 MB file, measured: 1.1 s, where _FastLoader takes 0.65 s and _Loader 11 s.
        """

        yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers
        yaml_constructors = dict(_Loader.yaml_constructors)

        def __init__(self, text: str):
            CParser.__init__(self, text)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            _QuickResolver.__init__(self)


# ---- building values from composed nodes ----


def _build(node: Node, loader: BaseConstructor, depth: int = 0) -> Any:
    """The value of a composed node; what _construct_mapping/_sequence build, without the
    constructor's overhead."""
    if node.tag == _STR and isinstance(node, ScalarNode):
        return node.value
    if node.tag == _MAP and isinstance(node, MappingNode):
        return _build_mapping(node, loader, depth)
    if node.tag == _SEQ and isinstance(node, SequenceNode):
        return _build_sequence(node, loader, depth)
    return loader.construct_object(node, deep=True)


def _build_mapping(node: MappingNode, loader: BaseConstructor, depth: int) -> Located:
    if depth >= MAX_DEPTH:
        raise ValueError("left to the Python parser for its message")
    mapping = _located(node)
    key_lines = mapping.key_lines
    for key_node, value_node in node.value:
        key = key_node.value
        if key_node.tag != _STR or not isinstance(key, str) or key in mapping:
            raise ValueError("left to the constructor for its message")
        key_lines[key] = key_node.start_mark.line + 1  # inline: this runs for every key
        mapping[key] = _build(value_node, loader, depth + 1)
    return mapping


def _build_sequence(node: SequenceNode, loader: BaseConstructor, depth: int) -> LocatedList:
    if depth >= MAX_DEPTH:
        raise ValueError("left to the Python parser for its message")
    items = LocatedList(_build(child, loader, depth + 1) for child in node.value)
    return _located_list(node, items)


# libyaml's composer is C code that recurses once per level: about 25,000 levels overflow an 8 MB
# stack and kill the process (measured). Text that might nest deeper than this never reaches it.
C_DEPTH = 1000
# A line starting with this many spaces and block indicators might open this many levels.
_PREFIX = C_DEPTH // 4
_INDENT = rf"[ \t?:-]{{{_PREFIX}}}"
_OTHER_BREAKS = "\r\x85\u2028\u2029"  # YAML's line breaks besides \n
_LONG_PREFIX = re.compile(r"\n" + _INDENT)
_FIRST_PREFIX = re.compile(_INDENT)
_LONG_PREFIX_ANY_BREAK = re.compile(f"[\n{_OTHER_BREAKS}]" + _INDENT)


def _within_c_depth(text: str) -> bool:
    """Whether `text` certainly nests at most C_DEPTH levels, checked before libyaml sees it.

    A bound, not a parse, so that no quoting can hide a level from it: flow levels are at most
    the '[' and '{' in the text (those in quotes and comments only count too many); block levels
    at most two per column of the longest run of spaces and '-', '?', ':' indicators starting a
    line (a block mapping and a list not indented under it share a column). Text beyond it goes
    to _EventLoader, whose composer counts levels exactly. Measured, best of several runs: 0.03 ms
    on a document of the benchmark (20 KB, 1.1 ms to parse), 0.05 to 0.2 ms on the largest seeds
    file (70 KB, 4 to 8 ms), 20 ms on a 10 MB file (60 ms with '\r' line ends; 0.8 to 1.6 s).
    """
    if text.count("[") + text.count("{") > C_DEPTH // 2:
        return False
    if _FIRST_PREFIX.match(text):
        return False
    if any(ch in text for ch in _OTHER_BREAKS):  # a 5 times slower search
        return _LONG_PREFIX_ANY_BREAK.search(text) is None
    return _LONG_PREFIX.search(text) is None


_UNREAD = object()  # what the fast path returns for text it leaves to the Python parser


def _parse_fast(text: str) -> Any:
    """The document in `text` read by libyaml's parser, or _UNREAD at any fault.

    Text that might nest too deep for libyaml's composer goes to libyaml's parser under
    PyYAML's composer.
    """
    loader: _FastLoader | _EventLoader = (
        _FastLoader(text) if _within_c_depth(text) else _EventLoader(text)
    )
    try:
        node = loader.get_single_node()
        return None if node is None else _build(node, loader)
    except Exception:  # noqa: BLE001 - re-parsed by the Python parser for the located message
        return _UNREAD
    finally:
        loader.dispose()


def _parse(text: str) -> Any:
    """The document in `text`; libyaml parses it when it can, PyYAML's parser otherwise.

    The C parser resolves aliases itself, so text with '&' or '*' anywhere goes to
    the Python parser, which refuses anchors and aliases. Any fault on the fast path
    (a refused value, nesting deeper than MAX_DEPTH) is parsed again by the Python
    parser, whose messages and lines the checks report, so that every path gives the
    same answer.
    """
    if yaml.__with_libyaml__ and "&" not in text and "*" not in text:
        value = _parse_fast(text)
        if value is not _UNREAD:
            return value
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


# ---- reading a file, and its faults as Problems ----


def _read_bytes(path: Path, shown: str, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes`."""
    try:
        facts = path.stat()
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise InputError([Problem(shown, None, f"cannot read file: {reason}")]) from None
    if not stat.S_ISREG(facts.st_mode):
        raise InputError(
            [
                Problem(
                    shown,
                    None,
                    "is not a regular file (a directory or device)",
                    hint="replace it with a YAML file",
                )
            ]
        )
    size = facts.st_size
    if size > max_bytes:
        message = f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit"
        raise InputError([Problem(shown, None, message, hint=_SPLIT_HINT)])
    try:
        with open(path, "rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputError([Problem(shown, None, f"cannot read file: {exc.strerror}")]) from None
    if len(raw) > max_bytes:  # it grew after it was measured
        message = f"file is over the {max_bytes / 1e6:.0f} MB limit"
        raise InputError([Problem(shown, None, message, hint=_SPLIT_HINT)])
    return raw


def _decoded(raw: bytes, shown: str) -> str:
    """The text of a YAML file: UTF-8, without a byte order mark."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = line_of_byte(raw, exc.start)
        message = f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})"
        raise InputError([Problem(shown, line, message, hint="save the file as UTF-8")]) from None
    return text[1:] if text.startswith("\ufeff") else text


def _marked_problem(exc: yaml.MarkedYAMLError, shown: str) -> Problem:
    """A parser's or composer's fault, located at its mark, in the annotators' words."""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else None
    message = (exc.problem or str(exc)).strip()
    hint = None
    if isinstance(exc, yaml.composer.ComposerError) and exc.context:
        message = f"{exc.context.strip()}, {message}"
        if "single document" in exc.context:
            hint = "keep one document per file: remove the '---' line"
    if "found character '\\t'" in message:
        message, hint = "tab character in indentation", "indent with spaces"
    elif (
        isinstance(exc, yaml.constructor.ConstructorError)
        and "could not determine a constructor" in message
    ):
        message = f"tag not allowed: {message.split('tag ')[-1]}"
        hint = "remove the tag; only plain YAML is read"
    if hint is None:
        message = f"YAML syntax error: {message}"
        hint = "check quotes, brackets, colons and indentation here or just before"
    return Problem(shown, line, message, hint=hint)


def _reader_problem(exc: yaml.reader.ReaderError, text: str, shown: str) -> Problem:
    """A character YAML does not allow, located by its line."""
    character = exc.character
    code = character if isinstance(character, int) else ord(str(character)[:1] or "\0")
    return Problem(
        shown,
        line_of(text, exc.position),
        f"character U+{code:04X} is not allowed in YAML",
        hint="remove it; raw control characters cannot appear in YAML files",
    )


def _problem(exc: Exception, text: str, shown: str) -> Problem:
    """The Problem a fault of parsing `text` makes."""
    if isinstance(exc, _YamlProblem):
        return Problem(shown, exc.line, exc.message, field=exc.field, hint=exc.hint)
    if isinstance(exc, yaml.MarkedYAMLError):
        return _marked_problem(exc, shown)
    if isinstance(exc, yaml.reader.ReaderError):
        return _reader_problem(exc, text, shown)
    if isinstance(exc, yaml.YAMLError):
        return Problem(shown, None, "YAML error: " + " ".join(str(exc).split()))
    return Problem(
        shown,
        None,
        "YAML nesting too deep",
        hint="records are mappings of plain values; flatten the nested lists or mappings",
    )


def load_yaml(path: Path, shown: str, *, max_bytes: int = MAX_BYTES) -> Any:
    """Parse one YAML file; raise InputError naming `shown`:line on any fault."""
    text = _decoded(_read_bytes(path, shown, max_bytes), shown)
    try:
        return _parse(text)
    except (_YamlProblem, yaml.YAMLError, RecursionError) as exc:
        raise InputError([_problem(exc, text, shown)]) from None
