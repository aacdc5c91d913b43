"""Layer 1: the shape of annotation and metadata files, checked against JSON Schemas.

A compiled fastjsonschema validator passes clean documents quickly; a document it
rejects goes to jsonschema, which finds every fault, and this module turns each into a
Problem with the file, the line of the offending key or value, the record id and the
field, and a hint (e.g. the field name an unknown key was probably meant to be).

A value outside its code list or pattern reads the same here and in the table checks
(`not_allowed`, `not_matching`): the closest allowed values, the pattern in words.

`character_problems` checks what no JSON Schema says: each text value holds only
characters a text may hold (no control characters, lone surrogates or bidirectional
controls; tabs and newlines only in free-text fields).
"""

from __future__ import annotations

import difflib
import functools
import json

import fastjsonschema
import jsonschema  # type: ignore[import-untyped]  # it ships no type information

from pipeline.contract import schemas
from pipeline.contract.fieldtypes import FIELD_TYPES
from pipeline.contract.problems import Problem
from pipeline.load.sourcetext import character_hint, suspect, value_fault
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
    """(quick pass/fail check, full error finder) for one schema, compiled once per schema
    object."""
    return quick_validator(schema), full_validator(schema)


def quick_validator(schema: dict):
    """The quick pass/fail check of one schema, compiled once per schema object (the schema is
    kept beside it, so its id is never reused by another)."""
    if id(schema) not in _COMPILED:
        _COMPILED[id(schema)] = (schema, _quick(json.dumps(schema, sort_keys=True)))
    return _COMPILED[id(schema)][1]


def full_validator(schema: dict):
    """The validator that finds every error, built only for a document that fails the quick
    check (most files pass). Both are built only when a file is parsed: with every file cached,
    a check builds neither (the annotation schema took 0.14 s to build and 0.44 s to compile)."""
    return _full(json.dumps(schema, sort_keys=True))


@functools.cache
def _quick(schema_json: str):
    schema = json.loads(schema_json)
    # fastjsonschema knows drafts up to 7, enough for the keywords these schemas use.
    draft7 = {key: value for key, value in schema.items() if key not in ("$schema", "$id")}
    draft7["$schema"] = "http://json-schema.org/draft-07/schema#"
    return fastjsonschema.compile(draft7)


@functools.cache
def _full(schema_json: str):
    return jsonschema.Draft202012Validator(json.loads(schema_json))


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
    try:
        quick_validator(schema)(document)
        return []
    except fastjsonschema.JsonSchemaException:
        pass
    return [
        problem
        for top in full_validator(schema).iter_errors(document)
        for error in _leaf_errors(top)
        for problem in _error_problems(error, document, shown, record_label)
    ]


def _error_problems(error, document, shown: str, record_label) -> list[Problem]:
    """The Problems one schema error makes: one per unknown key, or one for the error."""
    path = list(error.absolute_path)
    record = record_label(path)
    line = _line_at(document, path)
    if error.validator == "additionalProperties":
        return _unknown_fields(error, shown, line, record)
    if error.validator == "required":
        missing = error.message.split("'")[1]
        message = f"missing required field '{missing}'"
        return [Problem(shown, line, message, record, missing, _SCHEMAS_HINT)]
    field = next((str(step) for step in reversed(path) if isinstance(step, str)), None)
    message, hint = _explained(error, field, document)
    return [Problem(shown, line, message, record, field, hint)]


_SCHEMAS_HINT = "add it; see schemas/ for what it holds"


def _unknown_fields(error, shown: str, line: int | None, record: str | None) -> list[Problem]:
    """A Problem for each key the schema does not name, at its own line, with the closest name."""
    value = error.instance
    allowed = list(error.schema.get("properties", {}))
    problems = []
    for key in sorted(set(value) - set(allowed)):
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else "allowed fields: " + ", ".join(allowed)
        key_line = value.key_lines.get(key, line) if isinstance(value, Located) else line
        problems.append(Problem(shown, key_line, f"unknown field '{key}'", record, key, hint))
    return problems


def _explained(error, field: str | None, document) -> tuple[str, str | None]:
    """The message and hint for an error about one value."""
    if error.validator == "enum":  # the code list may depend on the record (ACLED sub types)
        record = _record_at(document, list(error.absolute_path)[:-1])
        return not_allowed(error.instance, allowed_values(field, error.validator_value, record))
    if error.validator == "type" and error.instance is None:
        return "required value is missing", "fill it in; see schemas/ for what it holds"
    wanted = _wanted_types(error)
    if wanted is not None:
        return _type_mismatch(wanted, error.instance)
    explain = _EXPLAIN.get(error.validator)
    return explain(error, field) if explain else (error.message, None)


def _wanted_types(error) -> list[str] | None:
    """The types a value should have had, when that is all the error says; None otherwise."""
    if error.validator == "type":
        wanted = error.validator_value
        return [wanted] if isinstance(wanted, str) else wanted
    if error.validator != "anyOf":
        return None
    type_branches = [
        sub.validator_value
        for sub in error.context or ()
        if sub.validator == "type" and not sub.path
    ]
    return type_branches if type_branches and len(type_branches) == len(error.context) else None


def _type_mismatch(wanted: list[str], value) -> tuple[str, str | None]:
    message = f"expected {_wanted(wanted)}, got {_describe(value)}"
    if "string" in wanted and isinstance(value, (int, float)):
        return message, "quote the value to make it text"
    if "boolean" in wanted and isinstance(value, str):
        return message, "write true or false; yes/no/on/off are read as text"
    return message, None


def _record_at(document, path: list):
    """The mapping at `path` in `document`, or None."""
    node = document
    for step in path:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return None
    return node if isinstance(node, dict) else None


# A code list this long or shorter is listed whole in a hint; a longer one only by its closest
# values, when some are close.
SHORT_CODE_LIST = 8


def allowed_values(field: str | None, allowed: list, record: dict | None) -> list:
    """The values `field` may take in `record`: an ACLED sub type only those of the record's event
    type, when that type is one of the code list."""
    event_type = record.get("event_type") if record is not None else None
    if field == "sub_event_type" and isinstance(event_type, str):
        return schemas.sub_event_types().get(event_type, allowed)
    return allowed


def not_allowed(value, allowed: list) -> tuple[str, str]:
    """The message and hint for a value outside its code list: the closest allowed values (at most
    3) first, then the whole list when it is short."""
    names = [str(v) for v in allowed]
    close = difflib.get_close_matches(str(value), names, n=3, cutoff=0.5)
    suggestion = f"did you mean {_either(close)}?" if close else ""
    if len(names) <= SHORT_CODE_LIST or not close:
        listed = "allowed: " + ", ".join(names)
        hint = f"{suggestion} {listed}" if suggestion else listed
    else:
        hint = suggestion
    return f"{value!r} is not an allowed value", hint


def _either(values: list[str]) -> str:
    """'a', 'a' or 'b', 'a', 'b' or 'c'."""
    quoted = [repr(value) for value in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


# Each pattern of schemas/ in words: what a value must be, and an example (None: no example helps).
PATTERN_WORDS: dict[str, tuple[str, str | None]] = {
    schemas.ID_PATTERN: (
        "an id: lowercase letters, digits and hyphens, starting with a letter or digit",
        "terter-shelling-2020-09-30",
    ),
    FIELD_TYPES["date"].json_schema["pattern"]: ("a date as YYYY-MM-DD", "2020-09-27"),
    "^[A-Z]{3}$": ("an ISO 3166-1 alpha-3 country code: three capital letters", "ARM"),
    "^Q[1-9][0-9]*$": ("a Wikidata id: Q and a number without leading zeros", "Q227"),
    "^[a-z]{2}$": ("an ISO 639-1 language code: two lowercase letters", "en"),
    "^[0-9a-f]{64}$": ("a sha256 digest: 64 lowercase hexadecimal digits", None),
}


def not_matching(value, pattern: str) -> tuple[str, str | None]:
    """The message and hint for a text value that does not match its pattern, in words."""
    if pattern not in PATTERN_WORDS:
        return f"{value!r} does not match the pattern {pattern}", None
    what, example = PATTERN_WORDS[pattern]
    return f"{value!r} is not {what}", f"e.g. {example}" if example else None


def _no_match(error, field: str | None) -> tuple[str, str | None]:
    return not_matching(error.instance, error.validator_value)


def _too_few(error, field: str | None) -> tuple[str, str | None]:
    hint = "every record rests on at least one quote from a source" if field == "evidence" else None
    return "needs at least one item", hint


def _out_of_range(error, field: str | None) -> tuple[str, str | None]:
    return f"{error.instance!r} is out of range ({error.validator} {error.validator_value})", None


def too_short(value: str, least: int, field: str | None = None) -> tuple[str, str | None]:
    """The message and hint for a text shorter than its minLength; an empty one is named so."""
    hint = "write the text, or leave out a field the source says nothing about"
    if field in ("evidence", "quote"):
        hint = "copy the words from the source text"
    if value == "":
        return "the text is empty", hint
    return f"{value!r} is shorter than {least} characters", hint


def _too_short(error, field: str | None) -> tuple[str, str | None]:
    return too_short(error.instance, error.validator_value, field)


def _not_evidence(error, field: str | None) -> tuple[str, str | None]:
    got = _describe(error.instance)
    return f"expected a quote (text) or a mapping with 'quote', got {got}", None


# How each kind of schema error reads; any other kind keeps jsonschema's own message.
_EXPLAIN = {
    "pattern": _no_match,
    "minItems": _too_few,
    "minimum": _out_of_range,
    "maximum": _out_of_range,
    "minLength": _too_short,
    "oneOf": _not_evidence,
}


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
    """Add to `found` (path, line, text) of each text value under `node` that a one-line field
    could not hold.

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
    suspects: list[tuple[tuple, int | None, str]] = []
    _suspects(document, (), getattr(document, "line", None), suspects)
    for path, line, text in suspects:
        field = next((step for step in reversed(path) if isinstance(step, str)), None)
        fault = value_fault(text, field in MULTILINE_FIELDS)
        if fault is not None:
            message, char = fault
            hint = character_hint(char, in_yaml=True)
            problems.append(Problem(shown, line, message, record_label(path), field, hint))
    return problems
