"""Safe YAML loading that remembers where every value came from.

PyYAML's SafeLoader is the parser. On top of it this module:
- keeps the line of every mapping and of every key (for file:line errors);
- rejects duplicate keys (PyYAML silently keeps the last one);
- rejects anchors and aliases (no "billion laughs");
- keeps dates and yes/no words as plain strings, so that 2020-02-30 is reported
  by the schema checks and "NO" stays Norway's code, not False;
- refuses files above a size limit before parsing them.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from pipeline.problems import InputError, Problem

MAX_BYTES = 10 * 1024 * 1024


class Located(dict):
    """A mapping that knows its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict


class LocatedList(list):
    line: int = 0
    item_lines: list


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


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def load_yaml(path: Path, shown: str, *, max_bytes: int = MAX_BYTES):
    """Parse one YAML file; raise InputError naming `shown`:line on any fault."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError([Problem(shown, None, f"cannot read file: {exc.strerror}")]) from None
    if size > max_bytes:
        raise InputError([Problem(shown, None, f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit",
                                  hint="split the annotations into several files")])
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError([Problem(shown, line, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
                                  hint="save the file as UTF-8")]) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except _YamlProblem as exc:
        raise InputError([Problem(shown, exc.line, exc.message, field=exc.field, hint=exc.hint)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        message = (exc.problem or str(exc)).strip()
        hint = None
        if "found character '\\t'" in message:
            message, hint = "tab character in indentation", "indent with spaces"
        elif isinstance(exc, yaml.constructor.ConstructorError) and "could not determine a constructor" in message:
            message, hint = f"tag not allowed: {message.split('tag ')[-1]}", "remove the tag; only plain YAML is read"
        raise InputError([Problem(shown, line, f"YAML syntax error: {message}" if hint is None else message, hint=hint)]) from None
    except yaml.YAMLError as exc:
        raise InputError([Problem(shown, None, f"YAML error: {exc}")]) from None
    except RecursionError:
        raise InputError([Problem(shown, None, "YAML nesting too deep")]) from None
