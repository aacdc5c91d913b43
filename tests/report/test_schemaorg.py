"""The package as a schema.org Dataset: derived from the descriptor (cases in schemaorg/, each a
descriptor.json and the expected.json it gives), and embedded in the report's overview as
JSON-LD that no value from the descriptor can break out of."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pipeline.package.schemaorg import dataset, dataset_json
from pipeline.report.site import build_report

from conftest import BASE_SEEDS, edit_descriptor

CASES = Path(__file__).resolve().parent / "schemaorg"


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()))
def test_dataset_is_derived_from_the_descriptor(case: str):
    descriptor = json.loads((CASES / case / "descriptor.json").read_text(encoding="utf-8"))
    expected = json.loads((CASES / case / "expected.json").read_text(encoding="utf-8"))
    assert dataset(descriptor) == expected
    assert json.loads(dataset_json(descriptor)) == expected


class Scripts(HTMLParser):
    """The text of each <script> element by its type ("" for the report's own script), read as a
    browser reads it: up to the first "</script"."""

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.scripts: list[tuple[str, str]] = []
        self._type: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._type = dict(attrs).get("type") or ""
            self.scripts.append((self._type, ""))

    def handle_endtag(self, tag):
        if tag == "script":
            self._type = None

    def handle_data(self, data):
        if self._type is not None:
            kind, text = self.scripts[-1]
            self.scripts[-1] = (kind, text + data)


def json_ld(index: Path) -> list[dict]:
    parser = Scripts()
    parser.feed(index.read_text(encoding="utf-8"))
    return [json.loads(text) for kind, text in parser.scripts if kind == "application/ld+json"]


def test_the_overview_describes_the_package_as_a_dataset(published_minimal: Path, tmp_path: Path):
    build_report(published_minimal, BASE_SEEDS, tmp_path / "report")
    descriptor = json.loads((published_minimal / "datapackage.json").read_text(encoding="utf-8"))
    [found] = json_ld(tmp_path / "report" / "index.html")
    assert (found["@context"], found["@type"]) == ("https://schema.org/", "Dataset")
    assert found["version"] == descriptor["version"]
    assert found["datePublished"] == found["dateCreated"] == descriptor["created"]
    downloads = sorted((d["encodingFormat"], d["contentUrl"]) for d in found["distribution"])
    files = sorted(
        [("text/csv", f"data/{p.name}") for p in (published_minimal / "data").glob("*.csv")]
        + [
            ("application/vnd.apache.parquet", f"data/{p.name}")
            for p in (published_minimal / "data").glob("*.parquet")
        ]
    )
    assert downloads == files
    assert {d["@type"] for d in found["distribution"]} == {"DataDownload"}
    fields = {
        f"{r['name']}.{f['name']}": f["description"]
        for r in descriptor["resources"]
        for f in r["schema"]["fields"]
    }
    assert {v["name"]: v["description"] for v in found["variableMeasured"]} == fields
    assert (
        found["publisher"]
        == found["creator"]
        == [{"@type": "Organization", "name": descriptor["contributors"][0]["title"]}]
    )


HOSTILE = {
    "description": "</script><script>alert(1)</script>",
    "title": "<!--<script>",
    "keywords": ["</SCRIPT >", "a & b", "]]>"],
}


def test_a_hostile_descriptor_cannot_break_out_of_the_json_ld(published_copy: Path, tmp_path: Path):
    edit_descriptor(published_copy, lambda descriptor: descriptor.update(HOSTILE))
    build_report(published_copy, BASE_SEEDS, tmp_path / "report")
    html = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    parser = Scripts()
    parser.feed(html)
    assert [kind for kind, _ in parser.scripts] == ["application/ld+json", ""]
    [found] = json_ld(tmp_path / "report" / "index.html")
    assert (found["description"], found["name"], found["keywords"]) == (
        HOSTILE["description"],
        HOSTILE["title"],
        HOSTILE["keywords"],
    )
    block = html.split('<script type="application/ld+json">', 1)[1].split("</script>", 1)[0]
    assert "<" not in block and ">" not in block and "&" not in block
