"""The catalogue files publish writes beside the descriptor: croissant.json (read by mlcroissant),
CITATION.cff (checked against the CFF 1.2.0 schema), .zenodo.json (checked against Zenodo's
documented deposit metadata), and seeds/METHOD.md, which fills the datasheet and the RAI
properties."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from pathlib import Path

import jsonschema
import mlcroissant as mlc
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.package.citation import (
    CitationError,
    recommended_citation,
    render_citation_cff,
    render_zenodo,
)
from pipeline.package.croissant import DATA_TYPES, RAI_PROPERTIES, render_croissant
from pipeline.package.datasheet import METHOD_SECTIONS, NO_METHOD, inline_text, read_method
from pipeline.publish import build_package, same_tree

from conftest import BASE_SEEDS, PUBLISHED_EPOCH, ROOT, tree

CATALOG = Path(__file__).resolve().parent / "catalog"
CFF_SCHEMA = json.loads((CATALOG / "cff-1.2.0.schema.json").read_text(encoding="utf-8"))
ZENODO_SCHEMA = json.loads((CATALOG / "zenodo-deposit.schema.json").read_text(encoding="utf-8"))
CATALOGUE_FILES = ["croissant.json", "CITATION.cff", ".zenodo.json"]
runner = CliRunner()


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    """The project's seeds, published into a temporary folder."""
    out = tmp_path_factory.mktemp("catalog") / "package"
    with pytest.MonkeyPatch.context() as patched:
        patched.setenv("SOURCE_DATE_EPOCH", PUBLISHED_EPOCH)
        build_package(ROOT / "seeds", out, None)
    return out


def descriptor_of(package: Path) -> dict:
    return json.loads((package / "datapackage.json").read_text(encoding="utf-8"))


def digest_of(package: Path) -> str:
    return hashlib.sha256((package / "datapackage.json").read_bytes()).hexdigest()


def csv_rows(path: Path) -> int:
    with open(path, encoding="utf-8", newline="") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def test_publish_writes_the_catalogue_files_and_a_second_publish_keeps_every_byte(
    package: Path, tmp_path: Path
):
    assert sorted(p.name for p in package.iterdir()) == sorted(
        [".zenodo.json", "CHANGELOG.md", "CITATION.cff", "README.md", "croissant.json"]
        + ["data", "datapackage.json", "load.R", "releases"]
    )
    again = tmp_path / "again"
    with pytest.MonkeyPatch.context() as patched:
        patched.setenv("SOURCE_DATE_EPOCH", str(int(PUBLISHED_EPOCH) + 86400))
        result = build_package(ROOT / "seeds", again, package)
    assert result.changed is False
    assert same_tree(package, again)


def test_publish_recognises_its_catalogue_files_and_rewrites_them(tmp_path: Path):
    out = tmp_path / "datapackage"
    args = ["publish", "--seeds", str(BASE_SEEDS), "--out", str(out)]
    assert runner.invoke(app, args, env={"SOURCE_DATE_EPOCH": PUBLISHED_EPOCH}).exit_code == 0
    before = tree(out)
    assert set(CATALOGUE_FILES) <= set(before)
    second = runner.invoke(app, args)
    assert (second.exit_code, second.output) == (0, f"unchanged: {out} stays at version 0.1.0\n")
    assert tree(out) == before


# rdflib 7.6 warns of its own JSON-LD parser's use of ConjunctiveGraph, which mlcroissant calls.
@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
def test_croissant_is_read_by_mlcroissant_record_set_by_record_set(package: Path):
    descriptor = descriptor_of(package)
    dataset = mlc.Dataset(str(package / "croissant.json"))
    read = {
        record_set.name: sum(1 for _ in dataset.records(record_set=record_set.uuid))
        for record_set in dataset.metadata.record_sets
    }
    expected = {r["name"]: csv_rows(package / r["path"]) for r in descriptor["resources"]}
    assert read == expected
    assert read["evidence"] > 0 and read["casualty_reports"] == 7


def test_croissant_files_fields_keys_and_references(package: Path):
    descriptor = descriptor_of(package)
    described = json.loads((package / "croissant.json").read_text(encoding="utf-8"))
    assert described["conformsTo"] == "http://mlcommons.org/croissant/1.1"
    assert described["version"] == descriptor["version"]
    files = {f["@id"]: f for f in described["distribution"]}
    for resource in descriptor["resources"]:
        for path, media in (
            (resource["path"], "text/csv"),
            (resource["parquet"]["path"], "application/vnd.apache.parquet"),
        ):
            data = (package / path).read_bytes()
            assert files.pop(path) == {
                "@type": "cr:FileObject",
                "@id": path,
                "name": path,
                "description": f"Table {resource['name']} as "
                + ("CSV." if media == "text/csv" else "Parquet (same rows)."),
                "contentUrl": path,
                "contentSize": f"{len(data)} B",
                "encodingFormat": media,
                "sha256": hashlib.sha256(data).hexdigest(),
            }
    assert files == {}
    sets = {s["@id"]: s for s in described["recordSet"]}
    assert list(sets) == [r["name"] for r in descriptor["resources"]]
    for resource in descriptor["resources"]:
        fields = sets[resource["name"]]["field"]
        assert [(f["name"], f["dataType"]) for f in fields] == [
            (f["name"], DATA_TYPES[f["type"]]) for f in resource["schema"]["fields"]
        ]
        assert all(
            f["source"]
            == {"fileObject": {"@id": resource["path"]}, "extract": {"column": f["name"]}}
            for f in fields
        )
    assert sets["events"]["key"] == {"@id": "events/event_id"}
    references = {
        f["@id"]: f["references"]["field"]["@id"]
        for s in sets.values()
        for f in s["field"]
        if "references" in f
    }
    assert references["casualty_reports/event_id"] == "events/event_id"
    assert references["events/place_id"] == "places/place_id"
    assert "actors/parent_actor_id" not in references  # a table referring to itself is left out


def test_croissant_rai_properties_are_the_method_sections(package: Path):
    described = json.loads((package / "croissant.json").read_text(encoding="utf-8"))
    method = read_method(ROOT / "seeds")
    assert method is not None
    assert {prop: described[prop] for prop in RAI_PROPERTIES.values()} == {
        prop: method[section] for section, prop in RAI_PROPERTIES.items()
    }
    assert described["citeAs"] == recommended_citation(descriptor_of(package), digest_of(package))


def test_citation_cff_is_valid_cff_1_2_0_and_says_what_the_package_says(package: Path):
    descriptor = descriptor_of(package)
    cff = yaml.safe_load((package / "CITATION.cff").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(CFF_SCHEMA).validate(cff)
    assert {k: v for k, v in cff.items() if k not in ("message", "abstract", "keywords")} == {
        "cff-version": "1.2.0",
        "type": "dataset",
        "title": "Karabakh 2020 news events",
        "version": descriptor["version"],
        "date-released": "2020-09-30",
        "authors": [{"name": "Karabakh news-events annotation team"}],
        "identifiers": [
            {
                "type": "other",
                "value": "urn:uuid:4f7c2a1e-9b3d-4e62-8a51-2c0d7e93b6f4",
                "description": "package identifier",
            },
            {
                "type": "other",
                "value": f"sha256:{digest_of(package)}",
                "description": "sha256 of datapackage.json, which lists the sha256 of every file",
            },
        ],
        "license": "CC-BY-4.0",
    }
    assert cff["abstract"] == descriptor["description"]
    assert cff["keywords"] == descriptor["keywords"]
    assert "url" not in cff and "repository-code" not in cff  # the descriptor gives no homepage


def test_zenodo_metadata_is_valid_deposit_metadata(package: Path):
    descriptor = descriptor_of(package)
    zenodo = json.loads((package / ".zenodo.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(ZENODO_SCHEMA).validate(zenodo)
    citation = recommended_citation(descriptor, digest_of(package))
    assert zenodo == {
        "upload_type": "dataset",
        "title": "Karabakh 2020 news events",
        "version": descriptor["version"],
        "publication_date": "2020-09-30",
        "creators": [{"name": "Karabakh news-events annotation team"}],
        "description": f"<p>{descriptor['description']}</p><p>Cite as: {citation}</p>",
        "access_right": "open",
        "license": "cc-by-4.0",
        "keywords": descriptor["keywords"],
    }


def test_the_datasheet_and_citation_cff_give_the_same_citation(package: Path):
    descriptor = descriptor_of(package)
    citation = recommended_citation(descriptor, digest_of(package))
    assert citation == (
        "Karabakh news-events annotation team (2020). Karabakh 2020 news events "
        f"(version {descriptor['version']}, 2020-09-30) [Data set]. karabakh-2020-news-events, "
        f"urn:uuid:4f7c2a1e-9b3d-4e62-8a51-2c0d7e93b6f4. datapackage.json sha256:{digest_of(package)}."
    )
    cff = yaml.safe_load((package / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["message"].endswith(f"Cite as: {citation}")
    sheet = (package / "README.md").read_text(encoding="utf-8")
    section = sheet.split("\n## How to cite\n\n", 1)[1]
    assert f"\n> {inline_text(citation)}\n" in section
    assert "name the tables and the filter" in section


HOSTILE = [
    "</script><script>alert(1)</script>",
    "key: value\n- item\n# comment",
    "'quoted' \"double\" & ampersand <b>bold</b>",
    "*emphasis* [link](javascript:x) `code` | pipe",
    "!tag %YAML ? :",
    "",
]


def hostile_descriptor(text: str) -> dict:
    return {
        "name": "hostile",
        "id": "urn:uuid:00000000-0000-4000-8000-000000000000",
        "version": "1.0.0",
        "created": "2020-09-30T00:00:00Z",
        "title": text or "t",
        "description": text,
        "homepage": "javascript:alert(1)",
        "licenses": [{"name": "CC-BY-4.0", "path": "https://creativecommons.org/licenses/by/4.0/"}],
        "contributors": [{"title": text or "team"}],
        "keywords": [text or "k", "ok"],
        "resources": [],
    }


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_cannot_break_the_citation_files(text: str):
    descriptor = hostile_descriptor(text)
    cff = yaml.safe_load(render_citation_cff(descriptor, "0" * 64))
    jsonschema.Draft7Validator(CFF_SCHEMA).validate(cff)
    assert (cff["title"], cff["authors"], cff["keywords"]) == (
        text or "t",
        [{"name": text or "team"}],
        [text or "k", "ok"],
    )
    assert "url" not in cff  # javascript: is no web address
    zenodo = json.loads(render_zenodo(descriptor, "0" * 64))
    jsonschema.Draft7Validator(ZENODO_SCHEMA).validate(zenodo)
    assert "<script" not in zenodo["description"] and "<b>" not in zenodo["description"]
    assert "related_identifiers" not in zenodo
    croissant = json.loads(render_croissant(descriptor, None, "cite"))
    assert croissant["description"] == text and "url" not in croissant


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1).filter(lambda t: t.strip() and "\x00" not in t))
def test_any_title_survives_the_yaml_of_citation_cff(text: str):
    descriptor = hostile_descriptor(text)
    cff = yaml.safe_load(render_citation_cff(descriptor, "0" * 64))
    assert cff["title"] == text and cff["abstract"] == text


def test_a_citation_needs_an_author():
    descriptor = hostile_descriptor("t") | {"contributors": []}
    with pytest.raises(CitationError, match="a citation needs at least one author"):
        render_citation_cff(descriptor, "0" * 64)


def test_without_a_method_file_the_datasheet_says_so_and_croissant_has_no_rai(tmp_path: Path):
    out = tmp_path / "package"
    assert not (BASE_SEEDS / "METHOD.md").exists()
    build_package(BASE_SEEDS, out, None)
    sheet = (out / "README.md").read_text(encoding="utf-8")
    assert sheet.count(NO_METHOD) == 6  # motivation, personal, collection, labelling, uses, upkeep
    described = json.loads((out / "croissant.json").read_text(encoding="utf-8"))
    assert not [key for key in described if key.startswith("rai:")]


def test_the_method_file_fills_the_datasheet(package: Path):
    sheet = (package / "README.md").read_text(encoding="utf-8")
    method = read_method(ROOT / "seeds")
    assert method is not None and list(method) == list(METHOD_SECTIONS)
    for text in method.values():
        assert f"\n{text}\n" in sheet
    assert NO_METHOD not in sheet
    for heading in (
        "## Motivation",
        "## Composition",
        "## Collection process",
        "## Preprocessing, cleaning and labelling",
        "## Uses",
        "## Distribution",
        "## Maintenance",
        "## How to cite",
    ):
        assert f"\n{heading}\n" in sheet
    assert "No contact address is published" in sheet


METHOD_CASES = sorted(p for p in (CATALOG / "method-invalid").iterdir() if p.is_dir())


@pytest.mark.parametrize("case", METHOD_CASES, ids=[p.name for p in METHOD_CASES])
def test_publish_refuses_a_bad_method_file_and_writes_nothing(
    case: Path, tmp_path: Path, monkeypatch
):
    seeds = tmp_path / "seeds"
    shutil.copytree(BASE_SEEDS, seeds)
    shutil.copyfile(case / "METHOD.md", seeds / "METHOD.md")
    monkeypatch.chdir(tmp_path)
    before = tree(tmp_path)
    result = runner.invoke(app, ["publish", "--seeds", "seeds", "--out", "out"])
    assert (result.exit_code, result.output) == (
        1,
        (case / "expected.txt").read_text(encoding="utf-8"),
    )
    assert tree(tmp_path) == before
    assert not os.path.lexists(tmp_path / "out")


def test_a_new_method_file_alone_is_a_patch_release(tmp_path: Path):
    seeds = tmp_path / "seeds"
    shutil.copytree(BASE_SEEDS, seeds)
    out = tmp_path / "out"
    args = ["publish", "--seeds", str(seeds), "--out", str(out)]
    first = runner.invoke(app, args, env={"SOURCE_DATE_EPOCH": PUBLISHED_EPOCH})
    assert (first.exit_code, first.output) == (0, f"published {out} version 0.1.0\n")
    shutil.copyfile(ROOT / "seeds" / "METHOD.md", seeds / "METHOD.md")
    second = runner.invoke(app, args, env={"SOURCE_DATE_EPOCH": str(int(PUBLISHED_EPOCH) + 86400)})
    assert (second.exit_code, second.output) == (
        0,
        f"published {out} version 0.1.1 (patch release)\n",
    )
    changelog = (out / "CHANGELOG.md").read_text(encoding="utf-8")
    assert (
        "## 0.1.1 (2020-10-01)\n\nPatch release.\n\n- no change to the data or its description; "
        "written anew: `README.md`, `croissant.json`\n"
    ) in changelog
