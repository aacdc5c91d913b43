"""Tell, without importing frictionless, that frictionless would find no error in a descriptor.

Importing frictionless and checking a descriptor with it takes about 0.4 s: a quarter of
`pipeline validate` on a million rows. The descriptors this project publishes use a
small vocabulary, so `certainly_valid` answers for them: it applies frictionless's own
JSON Schema profiles (copied into frictionless_profiles.json by `python -m
pipeline.validate.descriptor`; a test compares the copy with the installed frictionless)
and the rules frictionless adds to them (names, paths, keys, constraints per type).

It is one-sided on purpose. True means frictionless finds no error (a property test
mutates descriptors to hold it to that); False means "not sure", and the caller asks
frictionless, whose errors are the ones reported. Anything outside the vocabulary, or
any rule broken, is "not sure".
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

from pipeline.contract import fieldtypes
from pipeline.contract.schemas import PACKAGE_PROFILE, SCHEMA_PROFILE

PROFILES_FILE = Path(__file__).with_name("frictionless_profiles.json")
FIELD_TYPES = list(fieldtypes.FIELD_TYPES)
PACKAGE_KEYS = {
    "$schema",
    "name",
    "id",
    "version",
    "created",
    "title",
    "description",
    "homepage",
    "licenses",
    "contributors",
    "keywords",
    "sources",
    "resources",
}
RESOURCE_KEYS = {
    "name",
    "type",
    "path",
    "format",
    "mediatype",
    "encoding",
    "title",
    "description",
    "bytes",
    "hash",
    "schema",
    "parquet",
}
SCHEMA_KEYS = {
    "$schema",
    "title",
    "description",
    "fields",
    "primaryKey",
    "foreignKeys",
    "uniqueKeys",
}
# categoriesOrdered (Table Schema v2) is not in frictionless's field profiles, which allow any
# further property: frictionless finds no error in it.
FIELD_KEYS = {
    "name",
    "type",
    "title",
    "description",
    "format",
    "constraints",
    "categories",
    "categoriesOrdered",
}
CREATED = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})?")


def certainly_valid(descriptor: object) -> bool:
    """True only if frictionless's descriptor check would find no error."""
    try:
        return _package_ok(descriptor)
    except (TypeError, KeyError, AttributeError, ValueError):
        return False  # a shape the rules below did not foresee: not sure


def _package_ok(package) -> bool:
    if (
        not _object_ok(package, PACKAGE_KEYS, "package")
        or package.get("$schema") != PACKAGE_PROFILE
    ):
        return False
    resources = package["resources"]
    names = [resource.get("name") for resource in resources]
    return (
        _metadata_ok(package)
        and len(names) == len(set(names))
        and all(_resource_ok(resource, names) for resource in resources)
    )


def _metadata_ok(package: dict) -> bool:
    """The package's rules beyond its profile: a real `created` time, a path or name for each
    licence, and no `email`, which frictionless checks in contributors and sources."""
    created = package.get("created")
    if created is not None and not (CREATED.fullmatch(created) and datetime.fromisoformat(created)):
        return False
    if any(not (item.get("path") or item.get("name")) for item in package.get("licenses", [])):
        return False
    return not any(
        "email" in item for name in ("contributors", "sources") for item in package.get(name, [])
    )


def _resource_ok(resource, resource_names: list) -> bool:
    if not _object_ok(resource, RESOURCE_KEYS, "resource"):
        return False
    path = resource.get("path")
    if not isinstance(path, str) or not safe_path(path) or resource.get("type", "table") != "table":
        return False
    schema = resource.get("schema")
    return isinstance(schema, dict) and _schema_ok(schema, resource_names)


def _schema_ok(schema, resource_names: list) -> bool:
    if isinstance(schema.get("foreignKeys"), list):
        # a key to its own resource may leave "resource" out (v2)
        schema = {**schema, "foreignKeys": [_with_resource(key) for key in schema["foreignKeys"]]}
    if (
        not _object_ok(schema, SCHEMA_KEYS, "schema")
        or schema.get("$schema", SCHEMA_PROFILE) != SCHEMA_PROFILE
    ):
        return False
    fields = schema["fields"]
    if not all(_field_ok(field) for field in fields):
        return False
    names = [field["name"] for field in fields]
    return (
        len(names) == len(set(names))
        and set(schema.get("primaryKey", [])) <= set(names)
        and all(
            _foreign_key_ok(key, names, resource_names) for key in schema.get("foreignKeys", [])
        )
    )


def _foreign_key_ok(key, field_names: list, resource_names: list) -> bool:
    """Its fields are the schema's, as many as those it references, in a resource of the package."""
    reference = key["reference"]
    return (
        isinstance(key.get("fields"), list)
        and set(key["fields"]) <= set(field_names)
        and len(key["fields"]) == len(reference["fields"])
        and reference["resource"] in ["", *resource_names]
    )


def _with_resource(key):
    if (
        isinstance(key, dict)
        and isinstance(key.get("reference"), dict)
        and "resource" not in key["reference"]
    ):
        return {**key, "reference": {**key["reference"], "resource": ""}}
    return key


def _field_ok(field) -> bool:
    """A field of a known type, with only the properties and constraints its profile allows."""
    if not isinstance(field, dict) or field.get("type") not in FIELD_TYPES:
        return False
    allowed = {*_profiles()["constraints"][field["type"]], "unique"}
    return (
        _object_ok(field, FIELD_KEYS, field["type"])
        and isinstance(field.get("constraints", {}), dict)
        and set(field.get("constraints", {})) <= allowed
    )


def _object_ok(value, keys: set[str], profile: str) -> bool:
    import fastjsonschema

    if not isinstance(value, dict) or not set(value) <= keys:
        return False
    try:
        _validator(profile)(value)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def safe_path(path: str) -> bool:
    """frictionless's helpers.is_safe_path, and no ".." step at all."""
    return not (
        os.path.isabs(path)
        or ".." in Path(path).parts
        or ".." + os.path.sep in path
        or path.startswith("~")
        or os.path.expandvars(path) != path
        or re.match(r"%.+%", path)
        or re.match(r"\$.+", path)
        or urlparse(path).scheme == "file"
    )


@cache
def _profiles() -> dict:
    return json.loads(PROFILES_FILE.read_text(encoding="utf-8"))


@cache
def _validator(profile: str):
    # fastjsonschema loads in a tenth of jsonschema's time and also asserts "format":
    # stricter, which can only make the answer "not sure".
    import fastjsonschema

    return fastjsonschema.compile(_profiles()["profiles"][profile])


def frictionless_profiles() -> dict:
    """The JSON Schema profiles and supported constraints of the installed frictionless."""
    import frictionless

    documents: dict[str, type[frictionless.Metadata]] = {
        "package": frictionless.Package,
        "resource": frictionless.Resource,
        "schema": frictionless.Schema,
    }
    fields = {kind: frictionless.system.select_field_class(kind) for kind in FIELD_TYPES}
    return {
        "frictionless": frictionless.__version__,
        "profiles": {
            name: cls.metadata_ensure_profile() for name, cls in {**documents, **fields}.items()
        },
        "constraints": {kind: list(cls.supported_constraints) for kind, cls in fields.items()},
    }


if __name__ == "__main__":
    PROFILES_FILE.write_text(
        json.dumps(frictionless_profiles(), indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
