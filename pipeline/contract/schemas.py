"""The table schemas in schemas/: the one place columns are declared.

Everything else about columns is derived here: the published Table Schemas
(enum constraints from categories), the Arrow schema for Parquet, the JSON Schema of
the annotation file format, and which columns annotators write.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import yaml

from pipeline.contract.fieldtypes import FIELD_TYPES, category_values

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"

# The data tables, built from seeds/, in package order: referenced tables before those that refer
# to them. `check`, the annotation formats and the row builder know only these.
TABLES = [
    "sources",
    "count_conventions",
    "actors",
    "places",
    "events",
    "statements",
    "casualty_reports",
    "evidence",
]
# Tables publish builds from the package's own history, not from seeds/: after the data tables.
BUILT = ["changes"]
# Every table of the package, in order.
PACKAGE_TABLES = TABLES + BUILT
# Tables whose rows annotators write, with evidence, in the annotation files.
ANNOTATED = ["actors", "places", "events", "statements", "casualty_reports"]
# Columns that default to another column when an annotation leaves them out.
DEFAULTS = {("events", "date_end"): "date_start", ("statements", "date_latest"): "date"}


def default_note(column: str) -> str:
    """What the annotation JSON Schema says of a column the loader fills in (from DEFAULTS)."""
    return f"Leave it out and it takes the value of {column}."


# Letters or digits a quote needs to identify a passage: a word such as "Baku" or "Wednesday"
# (with an occurrence or prefix) does; a letter, a number or a word such as "the" does not.
MIN_EVIDENCE_CHARS = 4
# As the Table Schemas write it. Editors read a JSON Schema pattern as ECMA regex, where $ is
# the end of the text; Python's re lets $ match before a final newline, so the check matches
# ids whole (fullmatch) and refuses line breaks in every one-line value (structure.py).
ID_PATTERN = "^[a-z0-9][a-z0-9-]*$"
# Each dated table's span of possible dates: its first and last column (UCDP's earliest and latest).
DATE_SPANS = {
    "events": ("date_start", "date_end"),
    "statements": ("date", "date_latest"),
    "casualty_reports": ("period_start", "period_end"),
}
# The Data Package v2 profiles a published descriptor and its Table Schemas name in "$schema".
PACKAGE_PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
SCHEMA_PROFILE = "https://datapackage.org/profiles/2.0/tableschema.json"


@functools.cache
def raw_schema(table: str) -> dict:
    """The schema exactly as written in schemas/<table>.yaml."""
    with open(SCHEMAS_DIR / f"{table}.yaml", encoding="utf-8") as handle:
        # libyaml where installed: the pure-Python parser took 0.12 s of each check for them all
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def sub_event_types() -> dict[str, list[str]]:
    return raw_schema("events")["x-sub-event-types"]


@functools.cache
def table_schema(table: str) -> dict:
    """The published Table Schema: custom keys dropped, code lists as categories and enum."""
    schema = copy.deepcopy(raw_schema(table))
    hierarchy = schema.get("x-sub-event-types")
    for field in schema["fields"]:
        if field.pop("x-categories", None) == "data tables":
            field["categories"] = list(TABLES)
        if hierarchy and field["name"] == "event_type":
            field["categories"] = list(hierarchy)
        if hierarchy and field["name"] == "sub_event_type":
            field["categories"] = [sub for subs in hierarchy.values() for sub in subs]
        values = category_values(field)
        if values is not None:
            field.setdefault("constraints", {})["enum"] = values
    published = {
        key: value for key, value in schema.items() if not key.startswith("x-") and key != "name"
    }
    published["$schema"] = SCHEMA_PROFILE
    return published


def fields(table: str) -> list[dict]:
    return table_schema(table)["fields"]


def field_names(table: str) -> list[str]:
    return [f["name"] for f in fields(table)]


def primary_key(table: str) -> str:
    """The one field of a data table's primary key."""
    return table_schema(table)["primaryKey"][0]


def primary_key_fields(table: str) -> list[str]:
    return list(table_schema(table)["primaryKey"])


def derived_columns(table: str) -> list[str]:
    return raw_schema(table).get("x-derived", [])


def annotated_fields(table: str) -> list[dict]:
    """Columns an annotator writes for `table` (the derived ones are computed)."""
    derived = set(derived_columns(table))
    return [f for f in fields(table) if f["name"] not in derived]


def foreign_keys(table: str) -> list[tuple[str, str, str]]:
    """(column, referenced table, referenced column) for each foreign key of `table`."""
    keys = []
    for fk in table_schema(table).get("foreignKeys", []):
        ref = fk["reference"]
        keys.append((fk["fields"][0], ref.get("resource") or table, ref["fields"][0]))
    return keys


def code_list_columns(table: str) -> list[str]:
    return [f["name"] for f in fields(table) if "categories" in f]


def required(field: dict) -> bool:
    return bool(field.get("constraints", {}).get("required"))


# ---- the annotation file format, derived ----


def _json_property(field: dict) -> dict:
    typed = FIELD_TYPES[field["type"]].json_schema
    prop: dict = {"type": typed["type"], "description": field.get("description", "")}
    prop.update(typed)  # after the description, where format and pattern have always stood
    constraints = field.get("constraints", {})
    if "enum" in constraints:
        prop["enum"] = constraints["enum"]
    for key, json_key in (
        ("pattern", "pattern"),
        ("minimum", "minimum"),
        ("maximum", "maximum"),
        ("minLength", "minLength"),
    ):
        if key in constraints and json_key not in prop:
            prop[json_key] = constraints[key]
    if not required(field):
        prop = {"anyOf": [prop, {"type": "null"}], "description": prop["description"]}
    return prop


def _record_schema(table: str) -> dict:
    props = {f["name"]: _json_property(f) for f in annotated_fields(table)}
    for (default_table, column), source_column in DEFAULTS.items():
        if default_table == table:
            props[column]["description"] += " " + default_note(source_column)
    needed = [
        f["name"]
        for f in annotated_fields(table)
        if required(f) and (table, f["name"]) not in DEFAULTS
    ]
    props["evidence"] = {"$ref": "#/$defs/evidence_list"}
    return {
        "type": "object",
        "properties": props,
        "required": needed + ["evidence"],
        "additionalProperties": False,
    }


@functools.cache
def annotation_json_schema() -> dict:
    """JSON Schema of an annotation file (seeds/<source>/annotations.yaml)."""
    evidence_item = {
        "oneOf": [
            {
                "type": "string",
                "minLength": 1,
                "description": "The exact words, quoted from the source text.",
            },
            {
                "type": "object",
                "properties": {
                    "quote": {
                        "type": "string",
                        "minLength": 1,
                        "description": "The exact words, quoted from the source text.",
                    },
                    "source_id": {
                        "type": "string",
                        "pattern": ID_PATTERN,
                        "description": (
                            "The source holding the quote; leave it out for this file's source."
                        ),
                    },
                    "occurrence": {
                        "type": "integer",
                        "minimum": 1,
                        "description": (
                            "Which occurrence of the quote is meant (1 = first), when it occurs "
                            "more than once."
                        ),
                    },
                    "prefix": {
                        "type": "string",
                        "minLength": 1,
                        "description": (
                            "Words just before the quote that pick out the right occurrence."
                        ),
                    },
                    "weekdays_refer_elsewhere": {
                        "type": "string",
                        "minLength": 1,
                        "description": (
                            "Why weekdays named in this span are not the record's own dates."
                        ),
                    },
                    "short_quote_suffices": {
                        "type": "string",
                        "minLength": 1,
                        "description": (
                            f"Why a quote of fewer than {MIN_EVIDENCE_CHARS} letters or digits "
                            "is enough to identify the passage."
                        ),
                    },
                },
                "required": ["quote"],
                "additionalProperties": False,
            },
        ]
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "annotation.schema.json",
        "title": "Annotations of one source",
        "description": (
            "Hand annotations of one source text. Generated from the Table Schemas in schemas/; "
            "do not edit."
        ),
        "type": "object",
        "properties": {
            "source_id": {
                "type": "string",
                "pattern": ID_PATTERN,
                "description": "The source these annotations are for.",
            },
            **{
                table: {
                    "type": "array",
                    "items": {"$ref": f"#/$defs/{table}"},
                    "description": raw_schema(table)["description"],
                }
                for table in ANNOTATED
            },
            "uncovered": {
                "type": "array",
                "description": (
                    "Sentences deliberately left without evidence, each with the reason."
                ),
                "items": {
                    "type": "object",
                    "properties": {
                        "quote": {"type": "string", "minLength": 1},
                        "reason": {"type": "string", "minLength": 1},
                        "occurrence": {"type": "integer", "minimum": 1},
                        "prefix": {"type": "string", "minLength": 1},
                    },
                    "required": ["quote", "reason"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["source_id"],
        "additionalProperties": False,
        "$defs": {
            "evidence_list": {"type": "array", "minItems": 1, "items": evidence_item},
            **{table: _record_schema(table) for table in ANNOTATED},
        },
    }


@functools.cache
def source_json_schema() -> dict:
    """JSON Schema of a source metadata file (seeds/<source>/source.yaml)."""
    props = {f["name"]: _json_property(f) for f in annotated_fields("sources")}
    props["text_file"] = {
        "type": "string",
        "minLength": 1,
        "description": "The text file, inside this folder.",
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": props,
        "required": [f["name"] for f in annotated_fields("sources") if required(f)] + ["text_file"],
        "additionalProperties": False,
    }


@functools.cache
def conventions_json_schema() -> dict:
    """JSON Schema of seeds/count_conventions.yaml."""
    props = {f["name"]: _json_property(f) for f in fields("count_conventions")}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "count_conventions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": props,
                    "required": [f["name"] for f in fields("count_conventions") if required(f)],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["count_conventions"],
        "additionalProperties": False,
    }


ANNOTATION_SCHEMA_FILE = SCHEMAS_DIR / "annotation.schema.json"


def annotation_json_schema_text() -> str:
    """The annotation JSON Schema as schemas/annotation.schema.json holds it."""
    return json.dumps(annotation_json_schema(), indent=2, ensure_ascii=False) + "\n"
