"""Safe YAML loading that remembers where every value came from.

PyYAML's SafeLoader is the parser. On top of it this module:
- keeps the line of every mapping and of every key (for file:line errors);
- rejects duplicate keys (PyYAML silently keeps the last one);
- rejects anchors and aliases (no "billion laughs");
- keeps dates and yes/no words as plain strings, so that 2020-02-30 is reported
  by the schema checks and "NO" stays Norway's code, not False;
- refuses tags beyond plain scalars, mappings and lists (no Python objects, no
  !!timestamp, !!binary, !!set), values a tag cannot hold, integers outside 64 bits;
- refuses files above a size limit before parsing them.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

import yaml

from pipeline.problems import InputError, Problem

MAX_BYTES = 10 * 1024 * 1024
INT64 = 2**63


class Located(dict):
    """A mapping that knows its own line and the line of each key (1-based)."""

    __slots__ = ("line", "key_lines")  # no per-instance __dict__: corpora hold millions of these


class LocatedList(list):
    """A list that knows its own line and the line of each item (1-based)."""

    __slots__ = ("line", "item_lines")


class _Loader(yaml.SafeLoader):
    pass


# Only YAML 1.2 core booleans; dates stay strings (checked later against the schema).
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class _YamlProblem(Exception):
    def __init__(self, line: int, message: str, hint: str | None = None, field: str | None = None):
        super().__init__(message)
        self.line, self.message, self.hint, self.field = line, message, hint, field


def _compose_node(self, parent, index):
    if self.check_event(yaml.AliasEvent):
        event = self.peek_event()
        raise _YamlProblem(event.start_mark.line + 1, f"alias *{event.anchor} is not allowed",
                           "write the value out in full; anchors and aliases are refused")
    event = self.peek_event()
    if getattr(event, "anchor", None):
        raise _YamlProblem(event.start_mark.line + 1, f"anchor &{event.anchor} is not allowed",
                           "write the value out in full; anchors and aliases are refused")
    return yaml.SafeLoader.compose_node(self, parent, index)


_Loader.compose_node = _compose_node


def _construct_mapping(loader, node, deep=False):
    mapping = Located()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise _YamlProblem(key_node.start_mark.line + 1, f"key {key!r} is not a string", "quote the key")
        if key in mapping:
            raise _YamlProblem(
                key_node.start_mark.line + 1,
                f"duplicate key '{key}' (first at line {mapping.key_lines[key]})",
                "keep one of them; YAML would silently keep only the last",
                key,
            )
        mapping.key_lines[key] = key_node.start_mark.line + 1
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


def _construct_sequence(loader, node, deep=False):
    items = LocatedList(loader.construct_object(child, deep=True) for child in node.value)
    items.line = node.start_mark.line + 1
    items.item_lines = [child.start_mark.line + 1 for child in node.value]
    return items


_KINDS = {"int": "an integer", "float": "a number", "bool": "true or false", "null": "null"}


def _construct_object(self, node, deep=False):
    """Any value a tag cannot hold (`!!int abc`, 5000 digits) becomes a located problem."""
    line = node.start_mark.line + 1
    try:
        value = yaml.constructor.BaseConstructor.construct_object(self, node, deep)
    except (ValueError, LookupError, TypeError, AttributeError, ArithmeticError):
        shown = repr(node.value if len(node.value) <= 40 else node.value[:40] + "...") \
            if isinstance(node, yaml.ScalarNode) else "this value"
        if node.tag == "tag:yaml.org,2002:int" and re.fullmatch(r"[-+]?[0-9_]+", node.value or ""):
            raise _YamlProblem(line, f"integer of {len(node.value)} digits is outside the 64-bit range",
                               "counts and numbers must fit in 64 bits") from None
        kind = node.tag.rsplit(":", 1)[-1]
        raise _YamlProblem(line, f"{shown} cannot be read as {_KINDS.get(kind, kind)}",
                           "remove the tag or write a plain value") from None
    if type(value) is int and not -INT64 <= value < INT64:
        raise _YamlProblem(line, f"integer {value} is outside the 64-bit range", "counts and numbers must fit in 64 bits")
    return value


_Loader.construct_object = _construct_object
_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)
# Only plain YAML: explicit tags for anything but text, numbers, booleans, null, maps and lists are refused.
for _tag in ("timestamp", "binary", "set", "omap", "pairs"):
    del _Loader.yaml_constructors[f"tag:yaml.org,2002:{_tag}"]


class _FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """The same loader on libyaml's C parser, for text with no anchors or aliases."""


_FastLoader.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers
_FastLoader.yaml_constructors = dict(_Loader.yaml_constructors)
_FastLoader.construct_object = _construct_object

_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVERS = {first: tuple(resolvers + _Loader.yaml_implicit_resolvers.get(None, []))
              for first, resolvers in _Loader.yaml_implicit_resolvers.items() if first is not None}


def _resolve(self, kind, value, implicit):
    """PyYAML's resolve for loaders without path resolvers, minus its per-call overhead (called for every scalar)."""
    if kind is yaml.ScalarNode:
        if implicit[0]:
            for tag, regexp in _RESOLVERS.get(value[:1], ()):
                if regexp.match(value):
                    return tag
        return _STR_TAG
    return yaml.resolver.BaseResolver.resolve(self, kind, value, implicit)


if not _Loader.yaml_path_resolvers and None not in _Loader.yaml_implicit_resolvers:
    _FastLoader.resolve = _resolve
    _FastLoader.descend_resolver = lambda self, parent, index: None
    _FastLoader.ascend_resolver = lambda self: None


_STR, _MAP, _SEQ = (f"tag:yaml.org,2002:{kind}" for kind in ("str", "map", "seq"))


def _build(node, loader):
    """The value of a composed node; what _construct_mapping/_sequence build, without the constructor's overhead."""
    if node.tag == _STR and isinstance(node, yaml.ScalarNode):
        return node.value
    if node.tag == _MAP and isinstance(node, yaml.MappingNode):
        mapping = Located()
        mapping.line = node.start_mark.line + 1
        key_lines = mapping.key_lines = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key_node.tag != _STR or not isinstance(key, str) or key in mapping:
                raise ValueError("left to the constructor for its message")
            key_lines[key] = key_node.start_mark.line + 1
            mapping[key] = _build(value_node, loader)
        return mapping
    if node.tag == _SEQ and isinstance(node, yaml.SequenceNode):
        items = LocatedList(_build(child, loader) for child in node.value)
        items.line = node.start_mark.line + 1
        items.item_lines = [child.start_mark.line + 1 for child in node.value]
        return items
    return loader.construct_object(node, deep=True)


def _parse(text: str):
    """The document in `text`; libyaml parses it when it can, PyYAML's parser otherwise.

    The C parser resolves aliases itself, so text with '&' or '*' anywhere goes to
    the Python parser, which refuses anchors and aliases. Any fault on the fast path
    is parsed again by the Python parser, whose messages and lines the checks report.
    """
    if _FastLoader is not _Loader and "&" not in text and "*" not in text:
        loader = _FastLoader(text)
        try:
            node = loader.get_single_node()
            return None if node is None else _build(node, loader)
        except Exception:  # noqa: BLE001 - re-parsed below for the precise, located message
            pass
        finally:
            loader.dispose()
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    except RecursionError:
        raise _YamlProblem(loader.line + 1, "YAML nesting too deep",
                           "records are mappings of plain values; flatten the nested lists or mappings") from None
    finally:
        loader.dispose()


def load_yaml(path: Path, shown: str, *, max_bytes: int = MAX_BYTES):
    """Parse one YAML file; raise InputError naming `shown`:line on any fault."""
    try:
        facts = path.stat()
    except (OSError, ValueError) as exc:
        raise InputError([Problem(shown, None, f"cannot read file: {getattr(exc, 'strerror', None) or exc}")]) from None
    if not stat.S_ISREG(facts.st_mode):
        raise InputError([Problem(shown, None, "is not a regular file (a directory or device)",
                                  hint="replace it with a YAML file")])
    size = facts.st_size
    if size > max_bytes:
        raise InputError([Problem(shown, None, f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit",
                                  hint="split the annotations into several files")])
    try:
        with open(path, "rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputError([Problem(shown, None, f"cannot read file: {exc.strerror}")]) from None
    if len(raw) > max_bytes:
        raise InputError([Problem(shown, None, f"file is over the {max_bytes / 1e6:.0f} MB limit",
                                  hint="split the annotations into several files")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError([Problem(shown, line, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
                                  hint="save the file as UTF-8")]) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        return _parse(text)
    except _YamlProblem as exc:
        raise InputError([Problem(shown, exc.line, exc.message, field=exc.field, hint=exc.hint)]) from None
    except yaml.MarkedYAMLError as exc:
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
        elif isinstance(exc, yaml.constructor.ConstructorError) and "could not determine a constructor" in message:
            message, hint = f"tag not allowed: {message.split('tag ')[-1]}", "remove the tag; only plain YAML is read"
        if hint is None:
            message, hint = f"YAML syntax error: {message}", "check quotes, brackets, colons and indentation here or just before"
        raise InputError([Problem(shown, line, message, hint=hint)]) from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        what = f"U+{code:04X}"
        raise InputError([Problem(shown, line, f"character {what} is not allowed in YAML",
                                  hint="remove it; raw control characters cannot appear in YAML files")]) from None
    except yaml.YAMLError as exc:
        raise InputError([Problem(shown, None, "YAML error: " + " ".join(str(exc).split()))]) from None
    except RecursionError:
        raise InputError([Problem(shown, None, "YAML nesting too deep",
                                  hint="records are mappings of plain values; flatten the nested lists or mappings")]) from None
