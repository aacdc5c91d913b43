"""The package described as a schema.org Dataset (JSON-LD), for catalogues and search engines.

Everything comes from datapackage.json: name, title, description, version, `created`
(dateCreated and datePublished: a release is published when it is built), licences,
contributors (creator, publisher, contributor by their roles), keywords, sources (isBasedOn
and citation), each resource's fields (variableMeasured) and one DataDownload per file:
each table's CSV and its Parquet twin (DESIGN: catalogue metadata lists both), with
contentUrl relative to the package. A descriptor property of an unexpected shape is
left out rather than guessed at, so a hand-edited descriptor cannot make the text wrong.
"""

from __future__ import annotations

import json

from pipeline.package.reader import twin_files

CONTEXT = "https://schema.org/"
FORMATS = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
LABELS = {"csv": "CSV", "parquet": "Parquet"}
# A contributor's roles (Data Package v2) -> the Dataset property it is listed under
ROLE_PROPERTIES = {"creator": "creator", "author": "creator", "publisher": "publisher"}


def dataset(descriptor: dict) -> dict:
    """The schema.org Dataset of a package descriptor, as a JSON-LD object."""
    found = {
        "@context": CONTEXT,
        "@type": "Dataset",
        "name": _text(descriptor.get("title")) or _text(descriptor.get("name")),
        "alternateName": _text(descriptor.get("name")),
        "identifier": _text(descriptor.get("id")),
        "description": _text(descriptor.get("description")),
        "version": _text(descriptor.get("version")),
        "dateCreated": _text(descriptor.get("created")),
        "datePublished": _text(descriptor.get("created")),
        "license": [_licence(lic) for lic in _objects(descriptor.get("licenses"))],
        **_people(descriptor.get("contributors")),
        "keywords": [k for k in _list(descriptor.get("keywords")) if isinstance(k, str)],
        "isBasedOn": [_work(source) for source in _objects(descriptor.get("sources"))],
        "citation": [
            title for s in _objects(descriptor.get("sources")) if (title := _text(s.get("title")))
        ],
        "variableMeasured": [
            variable
            for resource in _objects(descriptor.get("resources"))
            for variable in _variables(resource)
        ],
        "distribution": [
            download
            for resource in _objects(descriptor.get("resources"))
            for download in _downloads(resource)
        ],
    }
    return {key: value for key, value in found.items() if value not in (None, [], {})}


def dataset_json(descriptor: dict) -> str:
    """`dataset(descriptor)` as JSON text (UTF-8 characters as they are, indented)."""
    return json.dumps(dataset(descriptor), ensure_ascii=False, indent=2)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def _objects(value: object) -> list[dict]:
    return [item for item in _list(value) if isinstance(item, dict)]


def _compact(found: dict) -> dict:
    return {key: value for key, value in found.items() if value is not None}


def _licence(licence: dict) -> dict:
    return _compact(
        {
            "@type": "CreativeWork",
            "name": _text(licence.get("title")) or _text(licence.get("name")),
            "identifier": _text(licence.get("name")),
            "url": _text(licence.get("path")),
        }
    )


def _work(source: dict) -> dict:
    return _compact(
        {
            "@type": "CreativeWork",
            "name": _text(source.get("title")),
            "url": _text(source.get("path")),
        }
    )


def _people(contributors: object) -> dict[str, list[dict]]:
    """Contributors under creator, publisher or contributor by their roles; the creators are the
    publisher when no contributor has that role (the team that makes the package releases it)."""
    listed: dict[str, list[dict]] = {"creator": [], "publisher": [], "contributor": []}
    for person in _objects(contributors):
        roles = [r for r in _list(person.get("roles")) if isinstance(r, str)]
        under = {ROLE_PROPERTIES.get(role, "contributor") for role in roles} or {"contributor"}
        for name in sorted(under):
            listed[name].append(_agent(person))
    if not listed["publisher"]:
        listed["publisher"] = listed["creator"]
    return listed


def _agent(person: dict) -> dict:
    """A Person when the contributor has a given or family name, else an Organization."""
    given, family = _text(person.get("givenName")), _text(person.get("familyName"))
    title = _text(person.get("title"))
    kind = "Person" if given or family else "Organization"
    return _compact(
        {
            "@type": kind,
            "name": title or " ".join(n for n in (given, family) if n) or None,
            "email": _text(person.get("email")),
            "url": _text(person.get("path")),
            "affiliation": _text(person.get("organization")) if kind == "Person" else None,
        }
    )


def _variables(resource: dict) -> list[dict]:
    """Each field of a resource as a PropertyValue named `table.field`, since fields of one
    name (source_id, event_id) recur in several tables."""
    table = _text(resource.get("name"))
    schema = resource.get("schema")
    fields = _objects(schema.get("fields")) if isinstance(schema, dict) else []
    return [
        _compact(
            {
                "@type": "PropertyValue",
                "name": f"{table}.{name}" if table else name,
                "description": _text(field.get("description")),
            }
        )
        for field in fields
        if (name := _text(field.get("name")))
    ]


def _downloads(resource: dict) -> list[dict]:
    """The DataDownload of a resource's CSV file and of its Parquet twin, when described."""
    files = [("csv", resource), *(("parquet", twin) for twin in twin_files(resource))]
    return [
        _compact(
            {
                "@type": "DataDownload",
                "name": f"{_text(resource.get('name')) or path} ({LABELS[kind]})",
                "description": _text(resource.get("description")),
                "contentUrl": path,
                "encodingFormat": FORMATS[kind],
                "contentSize": f"{size} B" if type(size) is int else None,  # not a bool
                "sha256": _sha256(described.get("hash")),
            }
        )
        for kind, described in files
        if (path := _text(described.get("path")))
        for size in [described.get("bytes")]
    ]


def _sha256(value: object) -> str | None:
    """The hex digest of a `sha256:<hex>` hash (Data Package v2), else None."""
    text = _text(value)
    return text.removeprefix("sha256:") if text and text.startswith("sha256:") else None
