"""Which Table Schema, dialect and resource features the validator checks: one table, SCOPE.

Every feature a descriptor may use is either checked with frictionless-py's semantics or
refused with a located "unsupported-feature" error of its resource (and field): a feature
this validator would otherwise ignore (a ";" delimiter, a datetime field read as text)
would give false errors or hide real ones. The table is the one source of both the check
(`problems`) and the README's list (`markdown`). Properties it does not name are
descriptive metadata (title, description, rdfType, example, custom properties): allowed.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

SUPPORTED_TYPES = ["string", "integer", "number", "boolean", "date", "any"]
STRING_FORMATS = ["default", "uri"]
# The default CSV dialect (frictionless 5.21); a property at its default is harmless. Labels are
# compared case by case (frictionless reads "headerCase", not v2's "caseSensitiveHeader": only its
# true says what is done).
DIALECT_DEFAULTS = {
    "header": True,
    "headerRows": [1],
    "headerJoin": " ",
    "headerCase": True,
    "caseSensitiveHeader": True,
    "commentRows": [],
    "skipBlankRows": False,
    "delimiter": ",",
    "quoteChar": '"',
    "doubleQuote": True,
    "skipInitialSpace": False,
}
DIALECT_METADATA = {"$schema", "name", "title", "description", "csvddfVersion"}
# Any of them is read as a row's end, as frictionless reads them.
LINE_TERMINATORS = ["\r\n", "\n", "\r"]
UTF8 = ["utf-8", "utf-8-sig"]  # codec names as Python's codecs.lookup spells them
COMPRESSED = [".zip", ".gz", ".bz2", ".xz"]  # frictionless decompresses a path ending so
# Hash algorithms checked: frictionless's two, then the fixed-length ones every hashlib has
# (frictionless skips those with a warning; a wrong digest is a fault all the same).
HASHES = [
    "md5",
    "sha256",
    "sha1",
    "sha224",
    "sha384",
    "sha512",
    "sha3_224",
    "sha3_256",
    "sha3_384",
    "sha3_512",
    "blake2b",
    "blake2s",
]


@dataclass(frozen=True)
class Feature:
    """A descriptor property, where it is ("resource", "schema" or "field"), what of it is checked
    and what is refused (the README's words), and a test giving, for a value, the refused parts
    (empty: supported)."""

    where: str
    key: str
    supported: str
    refused: str
    refuses: Callable[[object, dict], list[str]]
    stops_rows: bool = False  # a refused value makes the rows unreadable as CSV: they are not read


def _show(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _dialect(value: object, resource: dict) -> list[str]:
    if not isinstance(value, dict):
        return [f"{_show(value)} (a dialect by path or URL)"]
    refused = []
    for key, setting in value.items():
        if key in DIALECT_METADATA or DIALECT_DEFAULTS.get(key, object()) == setting:
            continue
        if key == "lineTerminator" and setting in LINE_TERMINATORS:
            continue
        refused.append(f"dialect.{key} {_show(setting)}")
    return refused


def _encoding(value: object, resource: dict) -> list[str]:
    try:
        known = isinstance(value, str) and codecs.lookup(value).name in UTF8
    except LookupError:
        known = False
    return [] if known else [_show(value)]


def _format(value: object, resource: dict) -> list[str]:
    return [] if value == "csv" else [_show(value)]


def _path(value: object, resource: dict) -> list[str]:
    if isinstance(value, list):
        return [f"{_show(value)} (a resource in several files)"]
    suffix = PurePosixPath(value).suffix.lower() if isinstance(value, str) else ""
    if suffix in COMPRESSED:
        return [f'{_show(value)} (a file compressed as "{suffix[1:]}")']
    if suffix != ".csv" and "format" not in resource and isinstance(value, str):
        return [f'{_show(value)} (read as "{suffix[1:]}", from its extension, without "format")']
    return []


def hash_algorithm(value: object) -> tuple[str, str]:
    """The algorithm and hex digest of a `hash`, split at the first colon as frictionless splits
    it; no prefix means md5 (the spec's default)."""
    algorithm, colon, digest = str(value).partition(":")
    return (algorithm, digest) if colon else ("md5", str(value))


def _hash(value: object, resource: dict) -> list[str]:
    algorithm = hash_algorithm(value)[0]
    return [] if algorithm in HASHES else [f'algorithm "{algorithm}"']


def _always(value: object, owner: dict) -> list[str]:
    return [_show(value)]


def _unless(*allowed) -> Callable[[object, dict], list[str]]:
    return lambda value, owner: [] if value in allowed else [_show(value)]


def _field_format(value: object, field: dict) -> list[str]:
    kind = field.get("type", "any")
    allowed = STRING_FORMATS if kind == "string" else ["default"] if kind == "date" else None
    return [] if allowed is None or value in allowed else [_show(value)]


SCOPE = [
    Feature(
        "resource",
        "dialect",
        "the default CSV dialect (comma, double quote, one header row); any `lineTerminator`",
        "any other property value: its rows are not read",
        _dialect,
        stops_rows=True,
    ),
    Feature(
        "resource",
        "encoding",
        "`utf-8` (any spelling) and `utf-8-sig`",
        "any other: its rows are not read",
        _encoding,
        stops_rows=True,
    ),
    Feature("resource", "compression", "-", "any: its rows are not read", _always, stops_rows=True),
    Feature(
        "resource", "format", "`csv`", "any other: its rows are not read", _format, stops_rows=True
    ),
    Feature(
        "resource",
        "path",
        "one `.csv` file",
        "several files, a compressed file, another extension "
        "without `format`: its rows are not read",
        _path,
        stops_rows=True,
    ),
    Feature(
        "resource",
        "hash",
        "md5 (no prefix, or `md5:`), `sha256:`; also " + ", ".join(HASHES[2:]),
        "any other algorithm: the hash is not checked",
        _hash,
    ),
    Feature(
        "resource",
        "type",
        "`table`",
        "any other: its rows are not read",
        _unless("table"),
        stops_rows=True,
    ),
    Feature("resource", "data", "-", "inline data", _always, stops_rows=True),
    Feature(
        "resource",
        "scheme",
        "`file`",
        "any other: its rows are not read",
        _unless("file"),
        stops_rows=True,
    ),
    Feature("resource", "innerpath", "-", "any: its rows are not read", _always, stops_rows=True),
    Feature("schema", "fieldsMatch", '`"exact"`', "any other", _unless("exact")),
    Feature(
        "schema",
        "trueValues",
        "-",
        "any (frictionless ignores it: set `trueValues` on each boolean field)",
        _always,
    ),
    Feature(
        "schema",
        "falseValues",
        "-",
        "any (frictionless ignores it: set `falseValues` on each boolean field)",
        _always,
    ),
    Feature(
        "field",
        "type",
        ", ".join(f"`{kind}`" for kind in SUPPORTED_TYPES),
        "datetime, time, year, yearmonth, "
        "duration, geopoint, geojson, object, array, list: the field is read as text",
        lambda value, field: [] if value in SUPPORTED_TYPES else [_show(value)],
    ),
    Feature(
        "field",
        "format",
        "string: `default`, `uri`; date: `default`; ignored for the other types, as "
        "frictionless ignores it",
        "string: email, uuid, binary, wkt; date: any pattern or `any`: the field is read as text",
        _field_format,
    ),
    Feature("field", "bareNumber", "`true`", "`false`: the field is read as text", _unless(True)),
    Feature("field", "groupChar", '`""`', "any other: the field is read as text", _unless("")),
    Feature("field", "decimalChar", '`"."`', "any other: the field is read as text", _unless(".")),
]


def problems(resource: dict) -> Iterator[tuple[str, Feature, dict | None, int | None]]:
    """(what is refused, its feature, its field and the field's number, if any) for each refused
    feature: the resource's and its schema's first, then each field's."""
    schema = _dict(resource.get("schema"))
    for feature in SCOPE:
        owner = {"resource": resource, "schema": schema}.get(feature.where)
        if owner is not None and feature.key in owner:
            prefix = "" if owner is resource else "schema."
            yield from (
                (prefix + _named(feature.key, part), feature, None, None)
                for part in feature.refuses(owner[feature.key], owner)
            )
    fields = schema.get("fields")
    for number, field in enumerate(fields if isinstance(fields, list) else [], start=1):
        yield from ((part, feature, field, number) for part, feature in _field_problems(field))


def _field_problems(field: object) -> Iterator[tuple[str, Feature]]:
    """(what is refused, its feature) for each refused property of one field."""
    if not isinstance(field, dict):
        return
    for feature in SCOPE:
        if feature.where == "field" and feature.key in field:
            yield from (
                (_named(feature.key, part), feature)
                for part in feature.refuses(field[feature.key], field)
            )


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _named(key: str, part: str) -> str:
    return part if part.startswith(key + ".") else f"{key} {part}"


def note(part: str, feature: Feature) -> str:
    """The message of one refused feature: what, whether the rows are read, and what is supported
    instead."""
    unread = (
        "; its rows are not read"
        if feature.stops_rows
        else "; the field is read as text"
        if feature.where == "field"
        else ""
    )
    instead = (
        "remove it"
        if feature.supported == "-"
        else "supported: " + feature.supported.replace("`", "")
    )
    return f"{part} is not supported{unread} ({instead})"


def stops_rows(resource: dict) -> bool:
    """True when a refused feature makes the resource's file unreadable as this validator reads
    CSV."""
    return any(feature.stops_rows for _, feature, _, _ in problems(resource))


def read_as_text(field: dict) -> bool:
    """True when a property of the field is refused: its cells are read as text, and only
    "required" and "unique" are checked on them (its type errors and other constraints would be
    guesses)."""
    return any(
        feature.refuses(field[feature.key], field)
        for feature in SCOPE
        if feature.where == "field" and feature.key in field
    )


def readable(field: dict) -> dict:
    """The field as this validator reads it: unchanged, or as text when `read_as_text`."""
    if not read_as_text(field):
        return field
    constraints = _dict(field.get("constraints"))
    kept = {key: constraints[key] for key in ("required", "unique") if key in constraints}
    return {"name": field["name"], "type": "any", **({"constraints": kept} if kept else {})}


def markdown() -> str:
    """The README's table of the features, from SCOPE."""
    rows = ["| where | property | checked | refused (`unsupported-feature`) |", "|---|---|---|---|"]
    rows += [f"| {f.where} | `{f.key}` | {f.supported} | {f.refused} |" for f in SCOPE]
    return "\n".join(rows)
