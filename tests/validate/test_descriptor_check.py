"""`certainly_valid` may say "not sure" too often, never "valid" where frictionless finds an error."""

from __future__ import annotations

import copy
import json

import frictionless
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.validate.descriptor import PROFILES_FILE, certainly_valid, frictionless_profiles

from conftest import ROOT

DESCRIPTOR = json.loads((ROOT / "datapackage" / "datapackage.json").read_text(encoding="utf-8"))
VALUES = [
    None,
    True,
    False,
    0,
    -1,
    7,
    1.5,
    "",
    "x",
    "X Y",
    "Capital",
    "a/b",
    "../x",
    "/etc/passwd",
    "~x",
    "$HOME",
    "%PATH%",
    "file:///etc/passwd",
    "http://example.org/x",
    "a:b",
    "2020-01-01",
    "2020-13-01",
    "2026-11-22T02:12:23Z",
    "2026-11-22T02:12",
    "fmt:%Y",
    "sha256:00",
    "md5:00",
    "integer",
    "string",
    "date",
    "table",
    "tabular-data-resource",
    [],
    ["x"],
    [1],
    ["actor_id"],
    {},
    {"name": "x"},
    {"path": "x"},
    {"email": "not an email"},
    {"resource": "", "fields": ["x"]},
]
KEYS = [
    "name",
    "path",
    "data",
    "type",
    "format",
    "email",
    "profile",
    "missingValues",
    "required",
    "example",
    "dialect",
    "extrapaths",
    "constraints",
    "primaryKey",
    "foreignKeys",
    "fields",
    "bytes",
    "hash",
    "created",
    "exclusiveMinimum",
    "minimum",
    "maxLength",
    "unique",
    "pattern",
    "enum",
    "resource",
    "$schema",
    "licenses",
]


def frictionless_errors(descriptor) -> list[str]:
    try:
        return [
            error.note
            for error in frictionless.Package.validate_descriptor(copy.deepcopy(descriptor)).errors
        ]
    except (
        Exception
    ) as exc:  # frictionless fails on some shapes (a field that is not an object): not valid either
        return [f"{type(exc).__name__}: {exc}"]


@st.composite
def mutated(draw, times=st.integers(1, 3)):
    """The published descriptor with a few values replaced, removed or added anywhere in it."""

    def pick(items: list):  # by position: the items are mutable, so are not handed to hypothesis
        return items[draw(st.integers(0, len(items) - 1))]

    descriptor = copy.deepcopy(DESCRIPTOR)
    for _ in range(draw(times)):
        node = descriptor
        while True:  # walk down to a random container
            children = list(node.values()) if isinstance(node, dict) else list(node)
            containers = [value for value in children if isinstance(value, (dict, list)) and value]
            if not containers or draw(st.integers(0, 3)) == 0:
                break
            node = pick(containers)
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        action = pick(["replace", "remove", "add"] if keys else ["add"])
        value = copy.deepcopy(pick(VALUES))
        if action == "add" and isinstance(node, dict):
            node[pick(KEYS)] = value
        elif action == "add":
            node.append(copy.deepcopy(pick(node)) if node else value)  # e.g. a repeated field
        elif action == "remove":
            del node[pick(keys)]
        else:
            node[pick(keys)] = value
    return descriptor


def test_profiles_copy_matches_the_installed_frictionless():
    """Regenerate with `python -m pipeline.validate.descriptor` after upgrading frictionless."""
    assert json.loads(PROFILES_FILE.read_text(encoding="utf-8")) == json.loads(
        json.dumps(frictionless_profiles())
    )


def test_published_descriptor_is_certainly_valid():
    assert frictionless_errors(DESCRIPTOR) == []
    assert certainly_valid(DESCRIPTOR)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_certainly_valid_only_where_frictionless_finds_nothing(descriptor):
    if certainly_valid(descriptor):
        assert frictionless_errors(descriptor) == []


def _resource(name: str, descriptor: dict) -> dict:
    return next(r for r in descriptor["resources"] if r["name"] == name)


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["resources"].append(copy.deepcopy(d["resources"][0])),  # resource names repeat
        lambda d: _resource("events", d)["schema"]["primaryKey"].__setitem__(0, "no_such_field"),
        lambda d: (
            _resource("events", d)["schema"]["fields"][0]["constraints"].__setitem__("maxLength", 3)
            if _resource("events", d)["schema"]["fields"][0]["type"] != "string"
            else _resource("events", d)["schema"]["fields"][0]["constraints"].__setitem__(
                "minimum", 3
            )
        ),
        lambda d: _resource("actors", d).__setitem__("bytes", "many"),
        lambda d: _resource("actors", d).__setitem__("path", "../outside.csv"),
        lambda d: _resource("statements", d)["schema"]["foreignKeys"][0]["reference"][
            "fields"
        ].append("extra"),
        lambda d: d.__setitem__("created", "yesterday"),
        lambda d: d.__setitem__("licenses", [{"title": "no name or path"}]),
    ],
)
def test_descriptor_errors_frictionless_finds_are_not_certainly_valid(change):
    descriptor = copy.deepcopy(DESCRIPTOR)
    change(descriptor)
    assert frictionless_errors(descriptor)
    assert not certainly_valid(descriptor)
