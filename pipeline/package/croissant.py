"""croissant.json: the package described in Croissant 1.1 (MLCommons), for dataset search engines.

A plain function of the package descriptor (as pipeline.package.reader returns it) and of
the method sections (seeds/METHOD.md, parsed by pipeline.package.datasheet): every CSV
file and its Parquet twin is a `cr:FileObject` with its size and sha256, taken from the
descriptor, which publish computed from the files; each table is a `cr:RecordSet` whose
fields extract its columns from the CSV file, typed from the Table Schema, with the
primary key as `key` and each foreign key as `references`. The method sections fill the
Responsible AI (RAI) properties. Written by hand because mlcroissant reads and checks
Croissant but builds it only from its own Python objects, whose JSON it does not promise
to keep byte-stable between versions.
"""

from __future__ import annotations

import json

from pipeline.package.citation import homepage
from pipeline.package.reader import twin_files

CROISSANT_FILE = "croissant.json"
CONFORMS_TO = "http://mlcommons.org/croissant/1.1"
# The Croissant 1.1 JSON-LD context, as mlcroissant 1.1 expects it (core/rdf.py), with the RAI
# prefix.
CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}
# Table Schema type -> Croissant dataType; a type outside this table is refused, never guessed.
DATA_TYPES = {
    "string": "sc:Text",
    "integer": "sc:Integer",
    "number": "sc:Float",
    "boolean": "sc:Boolean",
    "date": "sc:Date",
}
# Section of seeds/METHOD.md -> the RAI property it fills.
RAI_PROPERTIES = {
    "Collection": "rai:dataCollection",
    "Annotation": "rai:dataAnnotationProtocol",
    "Preprocessing": "rai:dataPreprocessingProtocol",
    "Uses": "rai:dataUseCases",
    "Limitations": "rai:dataLimitations",
    "Biases": "rai:dataBiases",
    "Personal and sensitive information": "rai:personalSensitiveInformation",
    "Maintenance": "rai:dataReleaseMaintenancePlan",
}


def _sha256(file: dict) -> str:
    """The hex digest of a file the descriptor lists (`hash` is "sha256:<hex>")."""
    algorithm, _, digest = str(file["hash"]).partition(":")
    if algorithm != "sha256" or not digest:
        raise ValueError(f"{file.get('path')}: hash {file['hash']!r} is not sha256:<hex>")
    return digest


def file_objects(descriptor: dict) -> list[dict]:
    """Each table's CSV file and its Parquet twin, as `cr:FileObject`s named by their paths."""
    objects = []
    for resource in descriptor["resources"]:
        for file, media_type in (
            (resource, "text/csv"),
            *((twin, "application/vnd.apache.parquet") for twin in twin_files(resource)),
        ):
            objects.append(
                {
                    "@type": "cr:FileObject",
                    "@id": file["path"],
                    "name": file["path"],
                    "description": f"Table {resource['name']} as "
                    + ("CSV." if media_type == "text/csv" else "Parquet (same rows)."),
                    "contentUrl": file["path"],
                    "contentSize": f"{file['bytes']} B",
                    "encodingFormat": media_type,
                    "sha256": _sha256(file),
                }
            )
    return objects


def _field(resource: dict, field: dict, references: dict[str, str]) -> dict:
    kind = field["type"]
    if kind not in DATA_TYPES:
        raise ValueError(
            f"{resource['name']}.{field['name']}: type {kind!r} has no Croissant dataType "
            f"(known: {', '.join(DATA_TYPES)})"
        )
    described: dict = {
        "@type": "cr:Field",
        "@id": f"{resource['name']}/{field['name']}",
        "name": field["name"],
        "description": field.get("description", ""),
        "dataType": DATA_TYPES[kind],
        "source": {"fileObject": {"@id": resource["path"]}, "extract": {"column": field["name"]}},
    }
    if field["name"] in references:
        described["references"] = {"field": {"@id": references[field["name"]]}}
    return described


def _references(resource: dict) -> dict[str, str]:
    """Field name -> the `@id` of the field it refers to, for single-field foreign keys to another
    table."""
    found = {}
    for key in resource["schema"].get("foreignKeys", []):
        fields, target = key["fields"], key["reference"]
        if isinstance(fields, str):
            fields, target_fields = [fields], [target["fields"]]
        else:
            target_fields = list(target["fields"])
        table = target.get("resource") or resource["name"]
        # A table that refers to itself (actors' parents, statements' replies) is left out:
        # Croissant readers read the referred record set first, and mlcroissant 1.1.1 stops on
        # the cycle ("Graph contains a cycle").
        if len(fields) == 1 and table != resource["name"]:
            found[fields[0]] = f"{table}/{target_fields[0]}"
    return found


def record_set(resource: dict) -> dict:
    """One table as a `cr:RecordSet`: a field per column, read from its CSV file."""
    schema = resource["schema"]
    references = _references(resource)
    described: dict = {
        "@type": "cr:RecordSet",
        "@id": resource["name"],
        "name": resource["name"],
        "description": resource.get("description", ""),
    }
    primary = schema.get("primaryKey") or []
    if isinstance(primary, str):
        primary = [primary]
    if primary:
        keys = [{"@id": f"{resource['name']}/{name}"} for name in primary]
        described["key"] = keys[0] if len(keys) == 1 else keys
    described["field"] = [_field(resource, field, references) for field in schema["fields"]]
    return described


def croissant(descriptor: dict, method: dict[str, str] | None, citation: str) -> dict:
    """The Croissant description of the package; `method` (section -> text) fills the RAI
    properties, and is None when the seeds have no method file."""
    licences = [
        lic.get("path") or lic.get("name")
        for lic in descriptor.get("licenses", [])
        if isinstance(lic, dict)
    ]
    described: dict = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CONFORMS_TO,
        "name": descriptor["name"],
        "alternateName": descriptor["title"],
        "description": descriptor.get("description", ""),
        "identifier": descriptor["id"],
        "version": descriptor["version"],
        "datePublished": descriptor["created"],
        "license": licences[0] if len(licences) == 1 else licences,
        "creator": [
            {"@type": "sc:Organization", "name": contributor.get("title") or contributor["name"]}
            for contributor in descriptor.get("contributors", [])
        ],
        "keywords": list(descriptor.get("keywords", [])),
        "citeAs": citation,
    }
    if homepage(descriptor):  # a web address only when the descriptor gives one: none is invented
        described["url"] = homepage(descriptor)
    for section, prop in RAI_PROPERTIES.items():
        if method and method.get(section):
            described[prop] = method[section]
    described["distribution"] = file_objects(descriptor)
    described["recordSet"] = [record_set(resource) for resource in descriptor["resources"]]
    return described


def render_croissant(descriptor: dict, method: dict[str, str] | None, citation: str) -> str:
    """croissant.json as text: keys in a fixed order, two-space indents, a final newline."""
    return json.dumps(croissant(descriptor, method, citation), indent=2, ensure_ascii=False) + "\n"
