"""`pipeline validate --engine duckdb` gives the Arrow engine's answers, error for error.

Both engines run over every case of the conformance suite (tests/validate/conformance/), a
published synthetic package and its copy with errors planted by bench/plant.py, with and
without the Parquet twins, and packages drawn by hypothesis (test_differential's); their JSON
reports must be equal, messages included. The files the duckdb engine hands to Arrow (see
pipeline.validate.duckdb_engine) are listed exactly, so that a file leaving SQL is seen.
Row numbers stay exact through quoted line breaks and mixed line ends, and the CLI refuses a
memory limit it cannot pass on.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from test_conformance import CASES, NAMES, findings
from test_differential import packages
from typer.testing import CliRunner

from bench.plant import found, plant_package_errors
from bench.synth import write_corpus
from pipeline.cli import app
from pipeline.validate import columns, tablechecks
from pipeline.validate.run import validate_path

runner = CliRunner()
PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"

# The CSV files of the conformance suite the duckdb engine leaves to Arrow, each for a reason
# SQL cannot decide exactly as frictionless does (the module note of duckdb_engine).
ARROW_DECIDES = {
    "csv-empty-file": ["t"],  # no header
    "csv-invalid-utf8": ["t"],  # bytes that are not UTF-8
    "csv-invalid-utf8-header": ["t"],
    "csv-one-empty-line": ["t"],  # no header
    "csv-ragged-rows": ["t"],  # rows with the wrong number of cells
    "csv-semicolons-undeclared": ["t"],  # one label for three fields
    "csv-undeclared-encoding": ["t"],  # not UTF-8
    "foreign-key-to-empty-file": ["parent"],  # no header
    "header-blank-label": ["t"],  # a header other than the field names
    "header-duplicate-label": ["t"],
    "header-duplicate-labels-many": ["t"],
    "header-extra-label": ["t"],
    "header-incorrect-label": ["t"],
    "header-missing-label": ["t"],
    "unsupported-type-geopoint": ["t"],  # its rows have the wrong number of cells
}


@pytest.fixture
def handed_to_arrow(monkeypatch) -> list[str]:
    """The names of the CSV resources the duckdb engine hands to Arrow, in order."""
    handed: list[str] = []
    check_file = columns.check_file

    def spy(path, task, schema):
        if task.format == "csv":
            handed.append(task.name)
        return check_file(path, task, schema)

    monkeypatch.setattr(tablechecks.columns, "check_file", spy)
    return handed


def both(folder: Path, parquet: bool, handed: list[str] | None = None) -> tuple[dict, dict]:
    """The Arrow engine's report and the duckdb engine's, in JSON shape."""
    arrow = validate_path(folder, parquet).to_dict()
    if handed is not None:
        handed.clear()  # only the duckdb engine's hand-overs count
    duck = validate_path(folder, parquet, engine="duckdb", memory_limit="256MB").to_dict()
    return arrow, duck


@pytest.mark.parametrize("parquet", [False, True], ids=["csv", "with-parquet"])
@pytest.mark.parametrize("name", NAMES)
def test_engines_agree_on_every_conformance_case(name: str, parquet: bool, handed_to_arrow):
    arrow, duck = both(CASES / name, parquet, handed_to_arrow)
    assert duck == arrow
    assert handed_to_arrow == ARROW_DECIDES.get(name, [])


def test_the_list_of_files_left_to_arrow_names_real_cases():
    assert sorted(ARROW_DECIDES) == [name for name in NAMES if name in ARROW_DECIDES]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> tuple[Path, Path, list[dict]]:
    """A package published from a synthetic corpus of 30 documents, and a copy with the planted
    errors of bench/plant.py (and what was planted)."""
    root = tmp_path_factory.mktemp("engines")
    write_corpus(root / "seeds", 30)
    result = runner.invoke(
        app, ["publish", "--seeds", str(root / "seeds"), "--out", str(root / "pkg")]
    )
    assert result.exit_code == 0, result.output
    shutil.copytree(root / "pkg", root / "planted")
    return root / "pkg", root / "planted", plant_package_errors(root / "planted")


@pytest.mark.parametrize("parquet", [False, True], ids=["csv", "with-parquet"])
@pytest.mark.parametrize(
    ("package", "errors"), [("pkg", (0, 0)), ("planted", (16, 34))], ids=["clean", "planted"]
)
def test_engines_agree_on_a_published_package_and_its_planted_errors(
    synthetic, package: str, errors: tuple[int, int], parquet: bool, handed_to_arrow
):
    clean, planted, what = synthetic
    folder = clean if package == "pkg" else planted
    arrow, duck = both(folder, parquet, handed_to_arrow)
    assert duck == arrow
    assert duck["stats"]["errors"] == errors[parquet]
    assert handed_to_arrow == []  # SQL decides every published CSV file
    if package == "planted":
        wanted = [fmt == "csv" or parquet for fmt in (e.get("format", "csv") for e in what)]
        assert found(what, duck) == wanted


def write_package(folder: Path, body: bytes, fields: list[dict]) -> Path:
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "t.csv").write_bytes(body)
    resource = {"name": "t", "path": "data/t.csv", "format": "csv", "schema": {"fields": fields}}
    descriptor = {"$schema": PROFILE, "name": "rows", "resources": [resource]}
    (folder / "datapackage.json").write_text(json.dumps(descriptor))
    return folder


NUMBERED = [{"name": "s", "type": "string"}, {"name": "n", "type": "integer"}]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b's,n\n"a\nb",1\nc,x\n', [("type-error", "t", 3, "n")]),
        (b's,n\n"a\r\nb\r\nc",1\r\nd,2\r\n"e\n\nf",y\r\n', [("type-error", "t", 4, "n")]),
        (b's,n\r\na,1\nb,2\r\n"c\r\n",z\n', [("type-error", "t", 4, "n")]),
        (b's,n\n"say ""hi""\n",1\n"",q', [("type-error", "t", 3, "n")]),
        (b'\xef\xbb\xbfs,n\n"\n",1\n\n', [("blank-row", "t", 3, None)]),
    ],
    ids=["quoted-newline", "quoted-crlf-and-blank-line", "mixed-line-ends", "quotes", "empty-line"],
)
def test_row_numbers_stay_exact_through_line_breaks(
    tmp_path, body: bytes, expected: list, handed_to_arrow
):
    folder = write_package(tmp_path / "package", body, NUMBERED)
    arrow, duck = both(folder, parquet=False, handed=handed_to_arrow)
    assert findings(duck) == expected
    assert duck == arrow
    assert handed_to_arrow == []  # numbered by SQL's reading, not Arrow's


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(files=packages())
def test_engines_agree_on_generated_packages(tmp_path_factory, files: dict[str, bytes]):
    folder = Path(tempfile.mkdtemp(dir=tmp_path_factory.getbasetemp()))
    try:
        for name, data in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
            note(f"{name}:\n{data.decode('utf-8', 'replace')}")
        arrow, duck = both(folder, parquet=False)
        assert duck == arrow
    finally:
        shutil.rmtree(folder)


def test_the_cli_runs_the_duckdb_engine_and_removes_its_spill_folder(
    published_minimal: Path, tmp_path: Path, monkeypatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    arguments = ["validate", "--json", str(published_minimal)]
    arrow = runner.invoke(app, arguments)
    duck = runner.invoke(app, [*arguments, "--engine", "duckdb", "--memory-limit", "64MB"])
    assert (duck.exit_code, duck.stdout) == (arrow.exit_code, arrow.stdout)
    assert arrow.exit_code == 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--memory-limit", "1GB"],
            "Invalid value for --memory-limit: applies to --engine duckdb only",
        ),
        (
            ["--engine", "duckdb", "--memory-limit", "lots"],
            "Invalid value for --memory-limit: 'lots' is not an amount of memory (write e.g. "
            "512MB or 1GB)",
        ),
        (
            ["--engine", "spark"],
            "Invalid value for '--engine': Value error, 'spark' is not one of 'arrow', 'duckdb'.",
        ),
    ],
    ids=["arrow-with-limit", "unreadable-limit", "unknown-engine"],
)
def test_the_cli_refuses_what_it_cannot_pass_on(
    published_minimal: Path, arguments: list[str], message: str
):
    result = runner.invoke(app, ["validate", str(published_minimal), *arguments])
    assert result.exit_code == 2
    words = " ".join(result.output.translate(str.maketrans("╭─╮│╰╯", "      ")).split())
    usage = "Usage: root validate [OPTIONS] [path] Try 'root validate --help' for help."
    assert words == f"{usage} Error {message}"


def test_a_memory_limit_too_small_is_a_clear_refusal(
    published_minimal: Path, tmp_path: Path, monkeypatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = runner.invoke(
        app, ["validate", str(published_minimal), "--engine", "duckdb", "--memory-limit", "1KB"]
    )
    assert result.exit_code == 2
    # DuckDB's own words, with its figures of the allocation that failed
    assert re.fullmatch(
        "package:-:-: package-error: The data package has an error: DuckDB could not check the "
        r"rows: Out of Memory Error: failed to allocate data of size \d+\.\d KiB "
        r"\(\d+\.\d KiB/1000 bytes used\) \(raise --memory-limit, or free disk space for its "
        r"temporary files\)\n1 error\(s\) found\.\n",
        result.output,
    ), result.output
    assert list(tmp_path.iterdir()) == []  # the spill folder is removed all the same
