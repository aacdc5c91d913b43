"""`pipeline validate --no-parquet` against frictionless-py on generated packages: the same findings.

Hypothesis draws small packages from the validator's vocabulary: one or two CSV resources of
string, integer, number, boolean and date fields, each constraint (required, unique, minimum,
maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength, pattern, enum), single and
composite primary keys, a single or composite foreign key from the second resource to the
first; and CSV bytes with what real files hold: ragged rows, blank rows, blank, duplicate,
wrong, missing and extra labels, "NA"/"null"/"NaN" look-alikes, a byte-order mark, CRLF line
ends, quoted newlines, integers beyond 64 bits, repeated keys. Both validators must report the
same set of (type, resource, row, field), apart from the checks only pipeline makes (none of
which the generated packages call for). Descriptors carry no bytes or hash.

`make test` runs a fixed set of 60 examples (derandomized, so CI sees the same ones);
`make conformance` runs DIFFERENTIAL_EXAMPLES=2000 drawn afresh.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from test_conformance import findings
from typer.testing import CliRunner

from pipeline.cli import app

EXAMPLES = int(os.environ.get("DIFFERENTIAL_EXAMPLES", "60"))
ONLY_OURS = {
    "category-error",
    "unique-key-error",
    "span-error",
    "undeclared-file",
    "twin-mismatch",
    "parquet-type-error",
}  # the documented checks frictionless does not make
PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
TYPES = ["string", "integer", "number", "boolean", "date"]
# Cells of each type: valid, invalid and borderline ones; few, so that repeats and key matches happen.
CELLS = {
    "string": ["a", "b", "ab", "abc", "A1", "a\nb", "é"],
    "integer": ["0", "1", "2", "01", "-3", "10", "99999999999999999999", "1.5"],
    "number": ["0.5", "1", "1e3", "-2.5", "1,5", "3.", "INF"],
    "boolean": ["true", "false", "1", "0", "yes", "TRUE"],
    "date": ["2020-01-01", "2020-02-30", "2020-9-7", "2021-12-31", "2020/01/01"],
}
LOOK_ALIKES = ["", "", "NA", "null", "N/A", "NaN", "None", "-"]  # only "" means missing
BOUNDS = {
    "integer": st.integers(-3, 12),
    "number": st.sampled_from([-1, 0, 0.5, 1, 2.5, 1000]),
    "date": st.sampled_from(["2020-01-01", "2020-06-30", "2021-12-31"]),
}
ENUMS = {
    "string": ["a", "b", "ab", "A1"],
    "integer": [0, 1, 2, 10],
    "number": [0.5, 1, 1000],
    "boolean": [True, False],
    "date": ["2020-01-01", "2021-12-31"],
}
HEADERS = ["as-is"] * 6 + ["blank", "duplicate", "incorrect", "missing", "extra"]
SHAPES = ["full"] * 8 + ["blank", "empty-cells", "short", "long"]
runner = CliRunner()


def constraints(kind: str) -> st.SearchStrategy[dict]:
    """Any subset of the constraints a field of `kind` can carry, with values of its type."""
    options = {
        "required": st.booleans(),
        "unique": st.booleans(),
        "enum": st.lists(st.sampled_from(ENUMS[kind]), min_size=1, max_size=3, unique=True),
    }
    if kind in BOUNDS:
        options.update(
            {
                key: BOUNDS[kind]
                for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
            }
        )
    if kind == "string":
        options.update(
            {
                "minLength": st.integers(0, 3),
                "maxLength": st.integers(1, 3),
                "pattern": st.sampled_from(["[a-z]+", "a.*", "[A-Z][0-9]"]),
            }
        )
    return st.fixed_dictionaries({}, optional=options)


@st.composite
def field(draw, name: str, kind: str | None = None) -> dict:
    kind = kind or draw(st.sampled_from(TYPES))
    spec = {"name": name, "type": kind}
    found = draw(st.one_of(st.just({}), constraints(kind)))
    return {**spec, "constraints": found} if found else spec


def cell(kind: str) -> st.SearchStrategy[str]:
    return st.sampled_from(CELLS[kind] + LOOK_ALIKES)


@st.composite
def rows(draw, fields: list[dict]) -> list[list[str] | str]:
    """Data rows: each a list of cells, or the shape of a row that is not one ("blank")."""
    out = []
    for _ in range(draw(st.integers(0, 6))):
        shape = draw(st.sampled_from(SHAPES))
        cells = [draw(cell(f["type"])) for f in fields]
        if shape == "blank":
            out.append("blank")
        elif shape == "empty-cells":
            out.append([""] * len(fields))
        elif shape == "short":
            out.append(cells[: draw(st.integers(0, len(cells) - 1))])
        else:
            out.append(cells + (["x"] * draw(st.integers(1, 2)) if shape == "long" else []))
    return out


def header(labels: list[str], change: str, at: int) -> list[str]:
    """The header row: the field names, with one label blank, repeated, wrong, left out or added."""
    labels = list(labels)
    if change == "blank":
        labels[at] = ""
    elif change == "duplicate" and len(labels) > 1:
        labels[at] = labels[at - 1]
    elif change == "incorrect":
        labels[at] = labels[at].upper()
    elif change == "missing":
        del labels[at]
    elif change == "extra":
        labels.insert(at, "extra")
    return labels


@st.composite
def csv_bytes(draw, fields: list[dict], data: list) -> bytes:
    line_end = draw(st.sampled_from(["\n", "\r\n"]))
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator=line_end)
    labels = [f["name"] for f in fields]
    writer.writerow(
        header(labels, draw(st.sampled_from(HEADERS)), draw(st.integers(0, len(labels) - 1)))
    )
    for row in data:
        if row == "blank":
            buffer.write(line_end)
        else:
            writer.writerow(row)
    bom = (
        b"\xef\xbb\xbf" if draw(st.sampled_from([False] * 9 + [True])) else b""
    )  # rare, so not in every example
    return bom + buffer.getvalue().encode("utf-8")


def primary_key(draw, names: list[str]) -> list[str] | None:
    size = draw(st.integers(0, min(2, len(names))))
    return draw(st.permutations(names))[:size] or None


@st.composite
def parent(draw) -> dict:
    fields = [draw(field(f"c{i}")) for i in range(draw(st.integers(1, 4)))]
    return {
        "name": "parent",
        "fields": fields,
        "primaryKey": primary_key(draw, [f["name"] for f in fields]),
    }


@st.composite
def child(draw, referred: dict) -> dict:
    """A resource whose first one or two fields refer to as many fields of `referred`, of the same types."""
    targets = draw(st.permutations(referred["fields"]))[
        : draw(st.integers(1, min(2, len(referred["fields"]))))
    ]
    fields = [draw(field(f"r{i}", target["type"])) for i, target in enumerate(targets)]
    fields += [draw(field("d0"))] if draw(st.booleans()) else []
    key = {
        "fields": [f["name"] for f in fields[: len(targets)]],
        "reference": {"resource": "parent", "fields": [t["name"] for t in targets]},
    }
    return {
        "name": "child",
        "fields": fields,
        "primaryKey": primary_key(draw, [f["name"] for f in fields]),
        "foreignKeys": [key],
    }


@st.composite
def packages(draw) -> dict[str, bytes]:
    """The files of a package: datapackage.json and data/<resource>.csv."""
    tables = [draw(parent())]
    if draw(st.booleans()):
        tables.append(draw(child(tables[0])))
    files, resources = {}, []
    for table in tables:
        schema = {
            key: table[key] for key in ("fields", "primaryKey", "foreignKeys") if table.get(key)
        }
        path = f"data/{table['name']}.csv"
        files[path] = draw(csv_bytes(table["fields"], draw(rows(table["fields"]))))
        resources.append(
            {
                "name": table["name"],
                "path": path,
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": schema,
            }
        )
    descriptor = {"$schema": PROFILE, "name": "generated", "resources": resources}
    files["datapackage.json"] = json.dumps(descriptor, indent=2).encode()
    return files


@pytest.fixture(scope="module")
def workroom(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("differential")


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES <= 60,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(files=packages())
def test_validate_finds_what_frictionless_finds(workroom: Path, files: dict[str, bytes]):
    import frictionless

    folder = Path(tempfile.mkdtemp(dir=workroom))
    try:
        for name, data in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
            note(f"{name}:\n{data.decode('utf-8', 'replace')}")
        result = runner.invoke(app, ["validate", "--no-parquet", "--json", str(folder)])
        assert "unexpected" not in result.output, result.output
        ours = {error for error in findings(json.loads(result.stdout)) if error[0] not in ONLY_OURS}
        theirs = set(findings(frictionless.validate(str(folder / "datapackage.json")).to_dict()))
        assert ours == theirs, (
            f"only ours: {sorted(ours - theirs, key=repr)}; only frictionless's: "
            f"{sorted(theirs - ours, key=repr)}"
        )
        assert result.exit_code == (1 if ours else 0)
    finally:
        shutil.rmtree(folder)
