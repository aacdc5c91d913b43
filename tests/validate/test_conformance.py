"""`pipeline validate` held to frictionless on hand-written packages, one folder per case.

Each folder of tests/validate/conformance/ is a small Data Package (datapackage.json, whose description
says what the case holds, and its files under data/) and its `expected.json`:

- `errors`: exactly what `pipeline validate --no-parquet --json` reports, one [type, resource,
  row, field] per error (resource null for an error of the package, row null for an error of
  the header or the whole file, field null for an error of a row or a file);
- `frictionless`: exactly what frictionless-py 5.21 reports on the same package;
- `supported`: the case lies inside the validator's vocabulary, so `errors` is frictionless's
  findings plus `extra`, the documented checks frictionless does not make (categories,
  uniqueKeys, undeclared files). A case outside the vocabulary (`supported: false`) expects
  the feature refused with a located `unsupported-feature` error instead of frictionless's
  findings; the other resources are still checked.

The field of an error is its `fieldName`, or its `fieldNames` joined by "," (keys), as
frictionless names them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app

from conftest import tree

CASES = Path(__file__).resolve().parent / "conformance"
NAMES = sorted(path.name for path in CASES.iterdir() if path.is_dir())
runner = CliRunner()


def expected(name: str) -> dict:
    return json.loads((CASES / name / "expected.json").read_text(encoding="utf-8"))


def field_of(error: dict) -> str | None:
    names = error.get("fieldName") or ",".join(error.get("fieldNames") or [])
    return ",".join(part.strip() for part in names.split(",")) if names else None


def findings(report: dict) -> list[tuple]:
    """(type, resource, row, field) of every error of a report in frictionless's JSON shape, sorted."""
    found = [(e["type"], None, e.get("rowNumber"), field_of(e)) for e in report["errors"]]
    for task in report["tasks"]:
        found += [
            (e["type"], task["name"], e.get("rowNumber"), field_of(e)) for e in task["errors"]
        ]
    return sorted(found, key=repr)


def listed(rows: list[list]) -> list[tuple]:
    return sorted((tuple(row) for row in rows), key=repr)


def test_every_case_is_complete():
    """Each case has its descriptor, its expected findings, and says which of the two it follows."""
    assert len(NAMES) >= 60
    for name in NAMES:
        case = expected(name)
        assert (CASES / name / "datapackage.json").is_file(), name
        assert set(case) <= {"about", "supported", "errors", "extra", "frictionless"}, name
        assert isinstance(case["supported"], bool) and case["about"], name
        if case["supported"]:
            assert listed(case["errors"]) == listed(case["frictionless"] + case.get("extra", [])), (
                name
            )
        else:
            assert listed(case["errors"]) != listed(case["frictionless"]), name


@pytest.mark.parametrize("name", NAMES)
def test_pipeline_reports_exactly_the_expected_errors(name: str):
    case = expected(name)
    before = tree(CASES / name)
    result = runner.invoke(app, ["validate", "--no-parquet", "--json", str(CASES / name)])
    assert "unexpected" not in result.output, result.output
    report = json.loads(result.stdout)
    assert findings(report) == listed(case["errors"]), case["about"]
    assert result.exit_code == (1 if case["errors"] else 0)
    assert tree(CASES / name) == before  # the case folder is read, never written


@pytest.mark.parametrize("name", NAMES)
def test_frictionless_reports_exactly_its_recorded_errors(name: str):
    """The recorded `frictionless` findings are frictionless's own: on a supported case, they and the
    documented extras are what pipeline must report."""
    import frictionless

    report = frictionless.validate(str(CASES / name / "datapackage.json"))
    assert findings(report.to_dict()) == listed(expected(name)["frictionless"]), expected(name)[
        "about"
    ]
