"""Layer 1: the shape of annotation and metadata files, checked against JSON Schemas.

A compiled fastjsonschema validator passes clean documents quickly; a document it
rejects goes to jsonschema, which finds every fault, and this module turns each into a Problem with the file,
the line of the offending key or value, the record id and the field, and a hint
(e.g. the field name an unknown key was probably meant to be).

`character_problems` checks what no JSON Schema says: each text value holds only
characters a text may hold (no control characters, lone surrogates or bidirectional
controls; tabs and newlines only in free-text fields).
"""

from __future__ import annotations

import difflib
import functools
import json

import fastjsonschema
import jsonschema

from pipeline.contract.problems import Problem
from pipeline.load.sourcetext import (
    character_hint,
    describe_character,
    forbidden_character,
    suspect,
)
from pipeline.load.yamlfile import Located, LocatedList

_TYPE_NAMES = {
    dict: "a mapping",
    list: "a list",
    str: "text",
    int: "an integer",
    float: "a number",
    bool: "true/false",
    type(None): "empty",
}


_COMPILED: dict[int, tuple] = {}


def validators(schema: dict):
    """(quick pass/fail check, full error finder) for one schema, compiled once per schema object."""
    if id(schema) not in _COMPILED:
        _COMPILED[id(schema)] = (schema, *_validators(json.dumps(schema, sort_keys=True)))
    return _COMPILED[id(schema)][1:]


@functools.cache
def _validators(schema_json: str):
    schema = json.loads(schema_json)
    # fastjsonschema knows drafts up to 7, enough for the keywords these schemas use.
    draft7 = {key: value for key, value in schema.items() if key not in ("$schema", "$id")}
    draft7["$schema"] = "http://json-schema.org/draft-07/schema#"
    return fastjsonschema.compile(draft7), jsonschema.Draft202012Validator(schema)


def _line_at(document, path) -> int | None:
    """Line of the value at `path` (keys and indices) in a loaded document."""
    node, line = document, getattr(document, "line", None)
    for step in path:
        if isinstance(node, Located) and step in node:
            line = node.key_lines.get(step, line)
            node = node[step]
        elif isinstance(node, LocatedList) and isinstance(step, int) and step < len(node):
            line = node.item_lines[step]
            node = node[step]
        else:
            break
    return line


def _describe(value) -> str:
    kind = next((name for cls, name in _TYPE_NAMES.items() if type(value) is cls), None) or next(
        (name for cls, name in _TYPE_NAMES.items() if isinstance(value, cls)), type(value).__name__
    )
    return f"{kind} {value!r}" if not isinstance(value, (dict, list)) else kind


def _wanted(types) -> str:
    names = [types] if isinstance(types, str) else list(types)
    words = {
        "string": "text",
        "integer": "an integer",
        "number": "a number",
        "boolean": "true or false",
        "array": "a list",
        "object": "a mapping",
        "null": "nothing",
    }
    return " or ".join(words.get(name, name) for name in names)


def _leaf_errors(error):
    """For oneOf/anyOf, the errors of the branch that fits the value's type best."""
    if error.validator in ("oneOf", "anyOf") and error.context:
        branches: dict[int, list] = {}
        for sub in error.context:
            branches.setdefault(sub.schema_path[0], []).append(sub)
        # Prefer the branch whose errors are not about the value's type.
        ranked = sorted(
            branches.values(),
            key=lambda errs: (any(e.validator == "type" and not e.path for e in errs), len(errs)),
        )
        best = ranked[0]
        if all(e.validator == "type" and not e.path for e in best):
            return [error]
        return [leaf for sub in best for leaf in _leaf_errors(sub)]
    return [error]


def structure_problems(document, schema: dict, shown: str, record_label) -> list[Problem]:
    """Every fault of `document` against `schema`, as Problems.

    `record_label(path)` names the record a path points into ("events/x") or None.
    """
    quick, validator = validators(schema)
    try:
        quick(document)
        return []
    except fastjsonschema.JsonSchemaException:
        pass
    problems = []
    for top in validator.iter_errors(document):
        for error in _leaf_errors(top):
            path = list(error.absolute_path)
            record = record_label(path)
            field = next((str(step) for step in reversed(path) if isinstance(step, str)), None)
            line = _line_at(document, path)
            value = error.instance
            hint = None
            if error.validator == "additionalProperties":
                allowed = list(error.schema.get("properties", {}))
                for key in sorted(set(value) - set(allowed)):
                    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                    hint = (
                        f"did you mean '{close[0]}'?"
                        if close
                        else "allowed fields: " + ", ".join(allowed)
                    )
                    key_line = (
                        value.key_lines.get(key, line) if isinstance(value, Located) else line
                    )
                    problems.append(
                        Problem(shown, key_line, f"unknown field '{key}'", record, key, hint)
                    )
                continue
            if error.validator == "required":
                missing = error.message.split("'")[1]
                problems.append(
                    Problem(
                        shown,
                        line,
                        f"missing required field '{missing}'",
                        record,
                        missing,
                        "add it; see schemas/ for what it holds",
                    )
                )
                continue
            type_branches = [
                sub.validator_value
                for sub in error.context or ()
                if sub.validator == "type" and not sub.path
            ]
            if error.validator == "type" and value is None:
                message, hint = (
                    "required value is missing",
                    "fill it in; see schemas/ for what it holds",
                )
            elif error.validator == "type" or (
                error.validator == "anyOf"
                and type_branches
                and len(type_branches) == len(error.context)
            ):
                wanted = error.validator_value if error.validator == "type" else type_branches
                message = f"expected {_wanted(wanted)}, got {_describe(value)}"
                wanted = [wanted] if isinstance(wanted, str) else wanted
                if "string" in wanted and isinstance(value, (int, float)):
                    hint = "quote the value to make it text"
                elif "boolean" in wanted and isinstance(value, str):
                    hint = "write true or false; yes/no/on/off are read as text"
            elif error.validator == "enum":
                allowed = [str(v) for v in error.validator_value]
                close = difflib.get_close_matches(str(value), allowed, n=1, cutoff=0.5)
                message = f"{value!r} is not an allowed value"
                hint = f"did you mean {close[0]!r}?" if close else "allowed: " + ", ".join(allowed)
            elif error.validator == "pattern":
                message = f"{value!r} does not match the pattern {error.validator_value}"
                if error.validator_value.startswith("^[a-z0-9]"):
                    hint = "ids are lowercase letters, digits and hyphens"
                elif "\\d{4}" in error.validator_value:
                    hint = "write dates as yyyy-mm-dd"
            elif error.validator == "minItems":
                message = "needs at least one item"
                if field == "evidence":
                    hint = "every record rests on at least one quote from a source"
            elif error.validator in ("minimum", "maximum", "minLength"):
                message = f"{value!r} is out of range ({error.validator} {error.validator_value})"
            elif error.validator == "oneOf":
                message = (
                    f"expected a quote (text) or a mapping with 'quote', got {_describe(value)}"
                )
            else:
                message = error.message
            problems.append(Problem(shown, line, message, record, field, hint))
    return problems


# Free text, which may span lines (tab and newline allowed); every other text value (ids,
# names, codes, dates, urls, paths) is one line. "evidence" is a quote written as plain text.
MULTILINE_FIELDS = frozenset(
    {
        "summary",
        "note",
        "quote",
        "evidence",
        "prefix",
        "count_text",
        "reason",
        "basis",
        "published_date_basis",
        "weekdays_refer_elsewhere",
        "short_quote_suffices",
    }
)


def _suspects(node, path: tuple, line: int | None, found: list) -> None:
    """Add (path, line, text) of each text value under `node` that a one-line field could not hold to `found`.

    Keys are left out (the schema names unknown ones). A plain recursion that builds a path
    only for a suspect, since it visits every value of every file: measured on 1,000 synthetic
    documents, half the time of a generator of every value, about 5% of parsing the files.
    """
    if isinstance(node, Located):
        lines = node.key_lines
        for key, value in node.items():
            if isinstance(value, str):
                if suspect(value):
                    found.append(((*path, key), lines.get(key, line), value))
            elif isinstance(value, (Located, LocatedList)):
                _suspects(value, (*path, key), lines.get(key, line), found)
    elif isinstance(node, LocatedList):
        for index, value in enumerate(node):
            if isinstance(value, str):
                if suspect(value):
                    found.append(((*path, index), node.item_lines[index], value))
            elif isinstance(value, (Located, LocatedList)):
                _suspects(value, (*path, index), node.item_lines[index], found)
    elif isinstance(node, str) and suspect(node):
        found.append((path, line, node))


def character_problems(document, shown: str, record_label) -> list[Problem]:
    """A Problem for each text value of `document` holding a character no text may hold.

    `record_label(path)` names the record a path points into, as for structure_problems.
    """
    problems = []
    found: list = []
    _suspects(document, (), getattr(document, "line", None), found)
    for path, line, text in found:
        field = next((step for step in reversed(path) if isinstance(step, str)), None)
        found = forbidden_character(text, field in MULTILINE_FIELDS)
        if found is not None:
            offset, char, count = found
            more = f", and {count - 1} more" if count > 1 else ""
            problems.append(
                Problem(
                    shown,
                    line,
                    f"contains {describe_character(char)} at character {offset + 1}{more}",
                    record_label(path),
                    field,
                    character_hint(char, in_yaml=True),
                )
            )
    return problems
