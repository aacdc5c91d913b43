"""`pipeline validate` on the edges of its scope, each case a small package compared with frictionless-py.

Supported features give exactly the errors (type, row, field) frictionless gives: composite
foreign keys, maxLength and exclusive bounds, enum (never on empty or untypable cells),
constraint values read as the field reads them, patterns as frictionless matches them,
hashes by the algorithm they name (md5 without a prefix). Where this validator says more
by design, the difference is spelled out. Every feature pipeline.validate.scope refuses gives one
exact "unsupported-feature" line, and a refused dialect, encoding or compression leaves the
rows unread rather than reporting noise.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import frictionless
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.validate import scope
from pipeline.validate.run import file_facts

from conftest import ROOT, tree

runner = CliRunner()
PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
UNSUPPORTED = "unsupported-feature: The resource uses a feature this validator does not check: "


def field(name: str, kind: str, **more) -> dict:
    return {"name": name, "type": kind, **more}


def write_package(root: Path, resources: list[dict]) -> Path:
    """A package in root/pkg: each resource's "csv" text written to its path (data/<name>.csv unless it names
    one; a resource with inline data has neither), the rest its descriptor."""
    package = root / "pkg"
    (package / "data").mkdir(parents=True)
    described = []
    for resource in resources:
        resource = dict(resource)
        text = resource.pop("csv")
        if "data" not in resource:
            resource = {"path": f"data/{resource['name']}.csv", **resource}
            (package / resource["path"]).write_bytes(text.encode("utf-8"))
        described.append(resource)
    (package / "datapackage.json").write_text(
        json.dumps({"$schema": PROFILE, "name": "scope", "resources": described}, indent=1)
    )
    return package


def ours(package: Path) -> tuple[int, set[tuple]]:
    """Exit code and (type, row, field) of each error of `pipeline validate --no-parquet --json`."""
    result = runner.invoke(app, ["validate", str(package), "--no-parquet", "--json"])
    report = json.loads(result.stdout)
    errors = [error for task in report["tasks"] for error in task["errors"]] + report["errors"]
    return result.exit_code, {
        (e["type"], e.get("rowNumber"), e.get("fieldName") or (e.get("fieldNames") or [None])[0])
        for e in errors
    }


def theirs(package: Path) -> set[tuple]:
    """(type, row, field) of each error frictionless-py finds (a foreign key's field: its first)."""
    report = frictionless.validate(str(package / "datapackage.json"))
    errors = [error for task in report.tasks for error in task.errors] + list(report.errors)
    return {
        (
            e.type,
            getattr(e, "row_number", None),
            getattr(e, "field_name", None) or (getattr(e, "field_names", None) or [None])[0],
        )
        for e in errors
    }


def table(name: str, csv: str, fields: list[dict], **schema) -> dict:
    return {"name": name, "csv": csv, "schema": {"fields": fields, **schema}}


PARENT = table("parent", "a,b\n1,x\n2,y\n,z\n", [field("a", "integer"), field("b", "string")])
CHILD_FIELDS = [field("c1", "integer"), field("c2", "string")]
CHILD_ROWS = "c1,c2\n1,x\n1,y\n2,\n,z\n3,q\nbad,x\n2,y\n"


def child(*keys: dict, rows: str = CHILD_ROWS, fields: list[dict] = CHILD_FIELDS) -> dict:
    return table("child", rows, fields, foreignKeys=list(keys))


def fk(fields: list[str], resource: str, ref: list[str]) -> dict:
    return {"fields": fields, "reference": {"resource": resource, "fields": ref}}


CONSTRAINED = "n,s,d,f\n5,abc,2020-01-02,1.5\n6,,2020-01-01,3\nq,ab,2019-12-31,-2\n7,a,,2.5\n"
BOUNDS = {"n": "integer", "s": "string", "d": "date", "f": "number"}


def constrained(**constraints: dict) -> dict:
    fields = [
        field(name, kind, **({"constraints": constraints[name]} if name in constraints else {}))
        for name, kind in BOUNDS.items()
    ]
    return table("t", CONSTRAINED, fields)


CONFORMING = {
    # class 5: constraints frictionless checks, on the rows frictionless checks them
    "maxLength": (
        [constrained(s={"maxLength": 2, "minLength": 1})],
        {("constraint-error", 2, "s"), ("type-error", 4, "n")},
    ),
    "exclusive bounds on integers": (
        [constrained(n={"exclusiveMinimum": 5, "exclusiveMaximum": 7})],
        {("constraint-error", 2, "n"), ("constraint-error", 5, "n"), ("type-error", 4, "n")},
    ),
    "exclusive bounds on dates and numbers": (
        [
            constrained(
                d={"exclusiveMinimum": "2020-01-01"}, f={"exclusiveMaximum": 2.5, "minimum": -1}
            )
        ],
        {
            ("constraint-error", 3, "d"),
            ("constraint-error", 4, "d"),
            ("constraint-error", 3, "f"),
            ("constraint-error", 4, "f"),
            ("constraint-error", 5, "f"),
            ("type-error", 4, "n"),
        },
    ),
    "bounds written as strings are read as the field reads them": (
        [constrained(n={"minimum": "6"}, f={"maximum": "2"})],
        {
            ("constraint-error", 2, "n"),
            ("constraint-error", 3, "f"),
            ("constraint-error", 5, "f"),
            ("type-error", 4, "n"),
        },
    ),
    "enum skips empty and untypable cells": (
        [constrained(n={"enum": ["5", "7"]}, s={"enum": ["abc", "a"]})],
        {("constraint-error", 3, "n"), ("constraint-error", 4, "s"), ("type-error", 4, "n")},
    ),
    "enum values read as the type: 5.0 is 5, true is no integer": (
        [constrained(n={"enum": [5.0, True]})],
        {("constraint-error", 3, "n"), ("constraint-error", 5, "n"), ("type-error", 4, "n")},
    ),
    "enum on dates and booleans with their own true values": (
        [
            table(
                "t",
                "d,b\n2020-01-01,yes\n2020-1-2,no\n2020-01-03,true\n",
                [
                    field("d", "date", constraints={"enum": ["2020-01-01", "2020-01-02"]}),
                    field(
                        "b",
                        "boolean",
                        trueValues=["yes"],
                        falseValues=["no"],
                        constraints={"enum": ["yes"]},
                    ),
                ],
            )
        ],
        {("constraint-error", 3, "b"), ("constraint-error", 4, "d"), ("type-error", 4, "b")},
    ),
    "enum on any": (
        [table("t", "v\n1\n2\n", [field("v", "any", constraints={"enum": ["1"]})])],
        {("constraint-error", 3, "v")},
    ),
    "pattern anchored as frictionless anchors it": (
        [table("t", "v\nab\nxb\nb\nxa\n", [field("v", "string", constraints={"pattern": "a|b"})])],
        {("constraint-error", 3, "v"), ("constraint-error", 5, "v")},
    ),
    "pattern with a look-ahead, which Arrow's RE2 lacks": (
        [table("t", "v\nab\nac\nab\n", [field("v", "string", constraints={"pattern": "a(?=b)."})])],
        {("constraint-error", 3, "v")},
    ),
    "pattern classes match Unicode, as Python's do": (
        [
            table(
                "t",
                "v\n12\n\u0661\u0662\nx1\n\u00e9\n",
                [field("v", "string", constraints={"pattern": "\\d+|\\w"})],
            )
        ],
        {("constraint-error", 4, "v")},
    ),
    # class 4: foreign keys, composite and mixed
    "composite foreign key, nulls matched as values": (
        [PARENT, child(fk(["c1", "c2"], "parent", ["a", "b"]))],
        {
            ("foreign-key", 3, "c1"),
            ("foreign-key", 4, "c1"),
            ("foreign-key", 6, "c1"),
            ("foreign-key", 7, "c1"),
            ("type-error", 7, "c1"),
        },
    ),
    "composite key to its own resource": (
        [
            table(
                "t",
                "a,b,pa,pb\n1,x,,\n2,y,1,x\n3,z,2,x\n",
                [
                    field("a", "integer"),
                    field("b", "string"),
                    field("pa", "integer"),
                    field("pb", "string"),
                ],
                foreignKeys=[{"fields": ["pa", "pb"], "reference": {"fields": ["a", "b"]}}],
            )
        ],
        {("foreign-key", 4, "pa")},
    ),
    "single key": (
        [PARENT, child(fk(["c1"], "parent", ["a"]))],
        {("foreign-key", 6, "c1"), ("type-error", 7, "c1")},
    ),
    "reference field the parent lacks": (
        [PARENT, child(fk(["c1"], "parent", ["nothing"]))],
        {
            ("foreign-key", 2, "c1"),
            ("foreign-key", 3, "c1"),
            ("foreign-key", 4, "c1"),
            ("foreign-key", 6, "c1"),
            ("foreign-key", 8, "c1"),
            ("type-error", 7, "c1"),
        },
    ),
    "string key to an integer key: no value equal": (
        [PARENT, child(fk(["c2"], "parent", ["a"]))],
        {("foreign-key", row, "c2") for row in (2, 3, 5, 6, 7, 8)} | {("type-error", 7, "c1")},
    ),
    "number key to an integer key: 1.0 is 1": (
        [
            PARENT,
            child(
                fk(["c1"], "parent", ["a"]),
                rows="c1,c2\n1.0,x\n2.5,y\n",
                fields=[field("c1", "number"), field("c2", "string")],
            ),
        ],
        {("foreign-key", 3, "c1")},
    ),
    # class 7: hashes, md5 without a prefix
    "md5 without a prefix": (
        [{**constrained(), "hash": "0" * 32}],
        {("hash-count", None, None), ("type-error", 4, "n")},
    ),
    "md5 with its prefix, wrong": (
        [{**constrained(), "hash": "md5:" + "0" * 32}],
        {("hash-count", None, None), ("type-error", 4, "n")},
    ),
    "md5 with its prefix, right": (
        [{**constrained(), "hash": "md5:" + hashlib.md5(CONSTRAINED.encode()).hexdigest()}],
        {("type-error", 4, "n")},
    ),
    "md5 without a prefix, right": (
        [{**constrained(), "hash": hashlib.md5(CONSTRAINED.encode()).hexdigest()}],
        {("type-error", 4, "n")},
    ),
    "sha256, wrong": (
        [{**constrained(), "hash": "sha256:" + "0" * 64}],
        {("hash-count", None, None), ("type-error", 4, "n")},
    ),
    # class 9: what is supported is checked as frictionless checks it; metadata is harmless
    "default dialect, utf-8 spelled otherwise, descriptive metadata": (
        [
            {
                **table(
                    "t",
                    "v\n1\nx\n",
                    [
                        field(
                            "v",
                            "integer",
                            rdfType="https://schema.org/Number",
                            title="V",
                            example="1",
                            bareNumber=True,
                            groupChar="",
                            decimalChar=".",
                        )
                    ],
                    fieldsMatch="exact",
                ),
                "dialect": {
                    "delimiter": ",",
                    "header": True,
                    "quoteChar": '"',
                    "lineTerminator": "\n",
                },
                "encoding": "UTF8",
                "format": "csv",
                "title": "T",
            }
        ],
        {("type-error", 3, "v")},
    ),
    "format is ignored on integers, as frictionless ignores it": (
        [table("t", "v\n1\nx\n", [field("v", "integer", format="anything")])],
        {("type-error", 3, "v")},
    ),
}


@pytest.mark.parametrize("resources, expected", CONFORMING.values(), ids=CONFORMING.keys())
def test_supported_features_agree_with_frictionless(tmp_path, resources, expected):
    package = write_package(tmp_path, resources)
    before = tree(tmp_path)
    assert ours(package) == (1 if expected else 0, expected)
    assert theirs(package) == expected
    assert tree(tmp_path) == before


DIFFERENT = {
    # frictionless stops at a key to a resource the package lacks: one resource-error, the rows unread;
    # this validator gives the same error and still reports the rows
    "key to an absent resource": (
        [PARENT, child(fk(["c1", "c2"], "nowhere", ["a", "b"]))],
        {("resource-error", None, None), ("type-error", 7, "c1")},
        {("resource-error", None, None)},
    ),
    # frictionless skips hashes other than md5 and sha256 (with a warning); a wrong digest is a fault all the same
    "sha512, wrong": (
        [{**constrained(), "hash": "sha512:" + "0" * 128}],
        {("hash-count", None, None), ("type-error", 4, "n")},
        {("type-error", 4, "n")},
    ),
    "sha1, wrong": (
        [{**constrained(), "hash": "sha1:" + "0" * 40}],
        {("hash-count", None, None), ("type-error", 4, "n")},
        {("type-error", 4, "n")},
    ),
}


@pytest.mark.parametrize(
    "resources, expected, frictionless_finds", DIFFERENT.values(), ids=DIFFERENT.keys()
)
def test_where_this_validator_says_more_by_design(
    tmp_path, resources, expected, frictionless_finds
):
    package = write_package(tmp_path, resources)
    assert ours(package) == (1, expected)
    assert theirs(package) == frictionless_finds


def test_a_key_to_an_absent_resource_is_frictionless_resource_error(tmp_path):
    package = write_package(
        tmp_path, [PARENT, child(fk(["c1"], "nowhere", ["a"]), rows="c1,c2\n1,x\n")]
    )
    result = runner.invoke(app, ["validate", str(package), "--no-parquet"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "child:-:-: resource-error: The data resource has an error: failed to handle a foreign key for resource "
        '"child" as resource "nowhere" does not exist',
        "1 error(s) found.",
    ]
    assert [
        e.note
        for task in frictionless.validate(str(package / "datapackage.json")).tasks
        for e in task.errors
    ] == [
        'failed to handle a foreign key for resource "child" as resource "nowhere" does not exist'
    ]


def test_a_right_sha512_passes(tmp_path):
    resource = {
        **constrained(),
        "hash": "sha512:" + hashlib.sha512(CONSTRAINED.encode()).hexdigest(),
    }
    assert ours(write_package(tmp_path, [resource])) == (1, {("type-error", 4, "n")})


def test_the_file_is_hashed_only_by_the_algorithm_asked_for(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"v\n1\n")
    assert file_facts(path) == (4, "")
    assert file_facts(path, "md5") == (4, hashlib.md5(b"v\n1\n").hexdigest())
    assert file_facts(path, "sha512") == (4, hashlib.sha512(b"v\n1\n").hexdigest())


SUPPORTED_TYPES = "(supported: string, integer, number, boolean, date, any)"
DIALECT = (
    "(supported: the default CSV dialect (comma, double quote, one header row); any lineTerminator)"
)
ROWS = "t:-:-: " + UNSUPPORTED
REFUSED = {
    # feature key: (resource properties, schema properties, field properties, the lines)
    "dialect": (
        {"dialect": {"delimiter": ";", "header": True, "skipBlankRows": True}},
        {},
        {},
        [
            ROWS + f'dialect.delimiter ";" is not supported; its rows are not read {DIALECT}',
            ROWS + f"dialect.skipBlankRows true is not supported; its rows are not read {DIALECT}",
        ],
    ),
    "dialect by path": (
        {"dialect": "dialect.json"},
        {},
        {},
        [
            ROWS
            + 'dialect "dialect.json" (a dialect by path or URL) is not supported; its rows are not '
            f"read {DIALECT}"
        ],
    ),
    "encoding": (
        {"encoding": "latin-1"},
        {},
        {},
        [
            ROWS
            + 'encoding "latin-1" is not supported; its rows are not read (supported: utf-8 (any '
            "spelling) and utf-8-sig)"
        ],
    ),
    "compression": (
        {"compression": "gz"},
        {},
        {},
        [ROWS + 'compression "gz" is not supported; its rows are not read (remove it)'],
    ),
    "format": (
        {"format": "tsv"},
        {},
        {},
        [ROWS + 'format "tsv" is not supported; its rows are not read (supported: csv)'],
    ),
    "path": (
        {"path": "data/t.csv.gz"},
        {},
        {},
        [
            ROWS
            + 'path "data/t.csv.gz" (a file compressed as "gz") is not supported; its rows are not read '
            "(supported: one .csv file)"
        ],
    ),
    "hash": (
        {"hash": "crc32:00"},
        {},
        {},
        [
            ROWS
            + 'hash algorithm "crc32" is not supported (supported: md5 (no prefix, or md5:), sha256:; also '
            "sha1, sha224, sha384, sha512, sha3_224, sha3_256, sha3_384, sha3_512, blake2b, blake2s)"
        ],
    ),
    "type": (
        {"type": "file"},
        {},
        {},
        [ROWS + 'type "file" is not supported; its rows are not read (supported: table)'],
    ),
    "data": (
        {"data": [["1"]]},
        {},
        {},
        [ROWS + 'data [["1"]] is not supported; its rows are not read (remove it)'],
    ),
    "scheme": (
        {"scheme": "https"},
        {},
        {},
        [ROWS + 'scheme "https" is not supported; its rows are not read (supported: file)'],
    ),
    "innerpath": (
        {"innerpath": "x.csv"},
        {},
        {},
        [ROWS + 'innerpath "x.csv" is not supported; its rows are not read (remove it)'],
    ),
    "fieldsMatch": (
        {},
        {"fieldsMatch": "subset"},
        {},
        [ROWS + 'schema.fieldsMatch "subset" is not supported (supported: "exact")'],
    ),
    "trueValues": (
        {},
        {"trueValues": ["y"]},
        {},
        [ROWS + 'schema.trueValues ["y"] is not supported (remove it)'],
    ),
    "falseValues": (
        {},
        {"falseValues": ["n"]},
        {},
        [ROWS + 'schema.falseValues ["n"] is not supported (remove it)'],
    ),
}
TEXT = " is not supported; the field is read as text "
FORMATS = "(supported: string: default, uri; date: default; ignored for the other types, as frictionless ignores it)"
FIELD_REFUSED = {
    "type datetime": (
        {"type": "datetime", "constraints": {"minimum": "2030-01-01T00:00:00Z", "enum": ["x"]}},
        'type "datetime"' + TEXT + SUPPORTED_TYPES,
    ),
    "type geopoint": ({"type": "geopoint"}, 'type "geopoint"' + TEXT + SUPPORTED_TYPES),
    "type year": ({"type": "year"}, 'type "year"' + TEXT + SUPPORTED_TYPES),
    "format email": (
        {"type": "string", "format": "email", "constraints": {"maxLength": 1}},
        'format "email"' + TEXT + FORMATS,
    ),
    "format of a date": (
        {"type": "date", "format": "%d/%m/%Y"},
        'format "%d/%m/%Y"' + TEXT + FORMATS,
    ),
    "bareNumber": (
        {"type": "integer", "bareNumber": False},
        "bareNumber false" + TEXT + "(supported: true)",
    ),
    "groupChar": ({"type": "number", "groupChar": ","}, 'groupChar ","' + TEXT + '(supported: "")'),
    "decimalChar": (
        {"type": "number", "decimalChar": ","},
        'decimalChar ","' + TEXT + '(supported: ".")',
    ),
}
VALUES = "v,w\n2020-01-01T00:00:00Z,1\n,2\n"


@pytest.mark.parametrize("resource, schema, spec, lines", REFUSED.values(), ids=REFUSED.keys())
def test_refused_resource_and_schema_features(tmp_path, resource, schema, spec, lines):
    """One line per refused property; a refused dialect, encoding or compression leaves the rows unread (no label or
    cell noise), so the only other error would be the rows' own."""
    unread = any("rows are not read" in line for line in lines)
    rows = (
        "v;w\n1;2\n" if unread else "v,w\n1,2\n"
    )  # read as the default CSV dialect, the first is all noise
    package = write_package(
        tmp_path,
        [{**table("t", rows, [field("v", "string"), field("w", "string")], **schema), **resource}],
    )
    result = runner.invoke(app, ["validate", str(package), "--no-parquet"])
    assert result.exit_code == 1
    assert result.output.splitlines() == lines + [f"{len(lines)} error(s) found."]


@pytest.mark.parametrize("spec, line", FIELD_REFUSED.values(), ids=FIELD_REFUSED.keys())
def test_refused_field_features_leave_only_required_checked(tmp_path, spec, line):
    """A field of a refused type or format is read as text: no type or constraint errors but "required"."""
    fields = [
        {"name": "v", **spec, "constraints": {**spec.get("constraints", {}), "required": True}},
        field("w", "integer"),
    ]
    package = write_package(tmp_path, [table("t", VALUES, fields)])
    result = runner.invoke(app, ["validate", str(package), "--no-parquet"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "t:-:v: " + UNSUPPORTED + line,
        't:3:v: constraint-error: The cell "" in row at position "3" and field "v" at position "1" does not conform '
        'to a constraint: constraint "required" is "True"',
        "2 error(s) found.",
    ]


def test_every_feature_of_the_scope_table_is_refused_by_a_case():
    keys = {key.split(" ")[0] for key in REFUSED} | {key.split(" ")[0] for key in FIELD_REFUSED}
    assert {feature.key for feature in scope.SCOPE} == keys


def test_the_readme_table_comes_from_the_scope_table():
    lines = scope.markdown().splitlines()
    assert lines[:2] == [
        "| where | property | checked | refused (`unsupported-feature`) |",
        "|---|---|---|---|",
    ]
    assert [line.split(" | ")[1] for line in lines[2:]] == [
        f"`{feature.key}`" for feature in scope.SCOPE
    ]
    assert scope.markdown() + "\n" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "spec, line",
    [
        (
            field("v", "integer", constraints={"minimum": "abc"}),
            'x:-:v: field-error: Field is not valid: constraint "minimum" is "abc", which cannot be read as a value of type '
            '"integer" (write the bound as one)',
        ),
        (
            field("v", "string", constraints={"pattern": "("}),
            'x:-:v: field-error: Field is not valid: constraint "pattern" is "(", which is not a regular expression: '
            "missing ), unterminated subpattern at position 1 (write it as Python's re reads it)",
        ),
    ],
    ids=["bound of another type", "pattern that is no regular expression"],
)
def test_a_constraint_that_cannot_be_read_is_a_field_error(tmp_path, spec, line):
    """frictionless fails outright on both (TypeError, re.error) once a cell is checked; here each is one located
    error, and the field's other checks go on."""
    package = write_package(tmp_path, [table("x", "v\n1\n", [spec])])
    result = runner.invoke(app, ["validate", str(package), "--no-parquet"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [line, "1 error(s) found."]


def test_a_parquet_twin_hash_by_an_unknown_algorithm_is_refused(published_minimal, tmp_path):
    package = tmp_path / "datapackage"
    shutil.copytree(published_minimal, package)
    path = package / "datapackage.json"
    descriptor = json.loads(path.read_text())
    descriptor["resources"][0]["parquet"]["hash"] = "crc32:00"
    path.write_text(json.dumps(descriptor))
    result = runner.invoke(app, ["validate", str(package)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "sources:-:-: "
        + UNSUPPORTED
        + 'parquet.hash algorithm "crc32" is not supported (supported: md5 (no prefix, '
        "or md5:), sha256:; also sha1, sha224, sha384, sha512, sha3_224, sha3_256, sha3_384, sha3_512, blake2b, "
        "blake2s)",
        "1 error(s) found.",
    ]
