"""`pipeline validate --engine duckdb` and `--engine spark` give the Arrow engine's answers,
error for error.

Every engine runs over every case of the conformance suite (tests/validate/conformance/), a
published synthetic package and its copy with errors planted by bench/plant.py, with and
without the Parquet twins, and (arrow and duckdb) packages drawn by hypothesis
(test_differential's); their JSON reports must be equal, messages included. Spark runs each
conformance case once, with the Parquet twins, whose checks include every check of the CSV-only
run, in one session for the whole run. The files the SQL engines hand to Arrow (see
pipeline.validate.tablechecks) are listed exactly, so that a file leaving SQL is seen.
Row numbers stay exact through quoted line breaks and mixed line ends, and the CLI refuses a
memory limit or a Spark master it cannot pass on. The spark engine's command runs as a child
process, as from a terminal: quiet, its temporary folder removed, clear errors.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from hypothesis import HealthCheck, given, note, settings
from test_conformance import CASES, NAMES, findings
from test_differential import packages
from typer.testing import CliRunner

from bench.plant import found, plant_package_errors
from bench.synth import write_corpus
from pipeline.cli import app
from pipeline.validate import columns, spark_engine, tablechecks
from pipeline.validate.run import SparkOptions, validate_path
from pipeline.validate.tablechecks import EngineError

from conftest import command_env, installed

runner = CliRunner()
PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"

# The CSV files of the conformance suite the duckdb engine leaves to Arrow, each for a reason
# SQL cannot decide exactly as frictionless does (the module note of tablechecks).
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


# ---- the checks of one shape run as one statement ----

LETTERS = [(2, "x"), (3, "y"), (4, "x"), (5, "y"), (6, "x"), (7, "z")]


def cells_where(letter: str) -> str:
    return f"SELECT __row, c FROM t WHERE c = '{letter}'"


def cell(row: tuple) -> dict:
    return {"rowNumber": row[0], "cell": row[1]}


@pytest.mark.parametrize(
    ("room", "listed", "not_listed"),
    [
        (10, ["x2", "x4", "x6", "worded", "y3", "y5", "z7"], 0),
        (4, ["x2", "x4", "x6", "worded"], 3),
        (2, ["x2", "x4"], 5),
        (0, [], 7),
    ],
)
def test_checks_of_one_shape_run_as_one_statement_each_listing_up_to_its_room(
    room: int, listed: list[str], not_listed: int
):
    """Two checks: the first lists its query's rows, a worded error, then another query's rows;
    the second the room the first left. All three queries are one statement."""
    import duckdb

    from pipeline.validate.duckdb_engine import DuckSql
    from pipeline.validate.errors import Task

    con = duckdb.connect()
    con.execute("CREATE TABLE t (__row BIGINT, c VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", LETTERS)
    statements: list[str] = []

    class Counted(DuckSql):
        def rows(self, sql: str) -> list[tuple]:
            statements.append(sql)
            return super().rows(sql)

    first, second = tablechecks.Findings(), tablechecks.Findings()
    first.add(cells_where("x"), cell, ("BIGINT", "VARCHAR"))
    first.one({"rowNumber": 100, "cell": "worded"})
    first.add(cells_where("y"), cell, ("BIGINT", "VARCHAR"))
    second.add(cells_where("z"), cell, ("BIGINT", "VARCHAR"))
    task = Task(name="t", limit=room)
    tablechecks.settle(Counted(con), task, [first, second])
    assert [
        e["cell"] if e["cell"] == "worded" else f"{e['cell']}{e['rowNumber']}" for e in task.errors
    ] == listed
    assert task.not_listed == not_listed
    assert len(statements) == 1


def test_a_files_checks_of_cells_are_one_statement(synthetic, monkeypatch):
    """On the planted package (CSV only), per table: one statement for the checks of its cells,
    one per pattern for the values RE2 fails, one per shape of the checks across files (repeats
    of keys, repeats of unique fields, foreign keys of each type), two for evidence rows'
    records; not one per check (304 statements before)."""
    from pipeline.validate.duckdb_engine import DuckSql

    _, planted, _ = synthetic
    queries: list[str] = []
    rows = DuckSql.rows

    def counted(self, sql: str) -> list[tuple]:
        if sql.startswith("SELECT"):
            queries.append(sql)
        return rows(self, sql)

    monkeypatch.setattr(DuckSql, "rows", counted)
    validate_path(planted, False, engine="duckdb")
    assert len(queries) == 48


def write_package(folder: Path, body: bytes, fields: list[dict]) -> Path:
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "t.csv").write_bytes(body)
    resource = {"name": "t", "path": "data/t.csv", "format": "csv", "schema": {"fields": fields}}
    descriptor = {"$schema": PROFILE, "name": "rows", "resources": [resource]}
    (folder / "datapackage.json").write_text(json.dumps(descriptor))
    return folder


NUMBERED = [{"name": "s", "type": "string"}, {"name": "n", "type": "integer"}]


LINE_BREAKS = pytest.mark.parametrize(
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


@LINE_BREAKS
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
            "Invalid value for --memory-limit: applies to --engine duckdb or spark only",
        ),
        (
            ["--engine", "duckdb", "--memory-limit", "lots"],
            "Invalid value for --memory-limit: 'lots' is not an amount of memory (write e.g. "
            "512MB or 1GB)",
        ),
        (
            ["--engine", "polars"],
            "Invalid value for '--engine': Value error, 'polars' is not one of 'arrow', 'duckdb', "
            "'spark'.",
        ),
        (
            ["--engine", "duckdb", "--spark-master", "local[2]"],
            "Invalid value for --spark-master: applies to --engine spark only",
        ),
    ],
    ids=["arrow-with-limit", "unreadable-limit", "unknown-engine", "duckdb-with-master"],
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


# ---- the spark engine ----


@pytest.fixture(scope="session")
def spark() -> Iterator:
    """One Spark session for the whole run: starting one takes tens of seconds."""
    with spark_engine.session() as session:
        yield session


def sparked(folder: Path, parquet: bool, session) -> dict:
    """The spark engine's report, in JSON shape."""
    where = SparkOptions(session=session)
    return validate_path(folder, parquet, engine="spark", spark=where).to_dict()


@pytest.mark.parametrize("name", NAMES)
def test_spark_agrees_on_every_conformance_case(name: str, spark, handed_to_arrow):
    arrow = validate_path(CASES / name, True).to_dict()
    handed_to_arrow.clear()
    assert sparked(CASES / name, True, spark) == arrow
    assert handed_to_arrow == ARROW_DECIDES.get(name, [])


def test_spark_agrees_on_the_planted_errors_of_a_published_package(
    synthetic, spark, handed_to_arrow
):
    """The CSV resources only: every check of the twins has its conformance cases above, and a
    Spark run here takes a minute on this machine (about 300 queries)."""
    _, planted, what = synthetic
    arrow = validate_path(planted, False).to_dict()
    handed_to_arrow.clear()
    sparks = sparked(planted, False, spark)
    assert sparks == arrow
    assert sparks["stats"]["errors"] == 16
    assert handed_to_arrow == []
    wanted = [e.get("format", "csv") == "csv" for e in what]
    assert found(what, sparks) == wanted


@LINE_BREAKS
def test_spark_keeps_row_numbers_through_line_breaks(
    tmp_path, spark, body: bytes, expected: list, handed_to_arrow
):
    folder = write_package(tmp_path / "package", body, NUMBERED)
    arrow = validate_path(folder, False).to_dict()
    handed_to_arrow.clear()
    sparks = sparked(folder, False, spark)
    assert findings(sparks) == expected
    assert sparks == arrow
    assert handed_to_arrow == []


def run_pipeline(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess:
    """The installed command, run from an empty folder with an empty temporary folder."""
    (tmp_path / "cwd").mkdir(exist_ok=True)
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return subprocess.run(
        [str(installed("pipeline")), *arguments],
        capture_output=True,
        text=True,
        cwd=tmp_path / "cwd",
        env=command_env(TMPDIR=str(tmp_path / "tmp")),
        timeout=600,
    )


SMALL = CASES / "primary-key-single"  # a table of five rows, three errors: a Spark run is short


def test_the_command_runs_spark_quietly_and_leaves_nothing(tmp_path):
    arrow = runner.invoke(app, ["validate", "--json", str(SMALL)])
    done = run_pipeline(tmp_path, "validate", "--json", str(SMALL), "--engine", "spark")
    assert (done.returncode, done.stdout, done.stderr) == (1, arrow.stdout, "")
    assert arrow.exit_code == 1
    assert sorted(os.listdir(tmp_path)) == ["cwd", "tmp"]
    assert os.listdir(tmp_path / "cwd") == os.listdir(tmp_path / "tmp") == []


PACKAGE_ERROR = "package:-:-: package-error: The data package has an error: "


def test_a_master_url_spark_cannot_read_is_one_line(tmp_path):
    arguments = ["validate", str(SMALL), "--engine", "spark"]
    done = run_pipeline(tmp_path, *arguments, "--spark-master", "nowhere://x")
    assert (done.returncode, done.stdout, done.stderr) == (
        2,
        "",
        f"{PACKAGE_ERROR}Spark cannot start at nowhere://x: Master must either be yarn or "
        "start with spark, k8s, or local\n1 error(s) found.\n",
    )
    assert os.listdir(tmp_path / "cwd") == os.listdir(tmp_path / "tmp") == []


@pytest.mark.parametrize(
    ("arguments", "environment", "message"),
    [
        (
            ["--spark-master", "spark://127.0.0.1:1"],
            {},
            "Spark cannot reach the master spark://127.0.0.1:1: no answer at that address",
        ),
        (
            [],
            {"PATH": "/nonexistent", "JAVA_HOME": ""},
            "Spark needs Java 17 or later: install it (e.g. Debian's default-jre-headless) or "
            "set JAVA_HOME",
        ),
    ],
    ids=["unreachable-master", "no-java"],
)
def test_spark_that_cannot_start_is_one_line(
    published_minimal: Path, arguments: list[str], environment: dict, message: str, monkeypatch
):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    result = runner.invoke(
        app, ["validate", str(published_minimal), "--engine", "spark", *arguments]
    )
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"{PACKAGE_ERROR}{message}\n1 error(s) found.\n"


def children(pid: int) -> list[str]:
    """The command names of the processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except (OSError, NotADirectoryError):
            continue
        name, _, rest = stat.partition(" (")[2].rpartition(") ")
        if rest.split()[1] == str(pid):
            found.append(name)
    return found


def test_ctrl_c_during_a_spark_run_is_one_line(tmp_path):
    """SIGINT to the whole process group once Spark's JVM runs: exit 130, one line, the
    temporary folder removed."""
    (tmp_path / "tmp").mkdir()
    process = subprocess.Popen(
        [str(installed("pipeline")), "validate", str(SMALL), "--engine", "spark"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=command_env(TMPDIR=str(tmp_path / "tmp")),
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while "java" not in children(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert process.poll() is None, "the command ended before its JVM started"
    os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=300)
    assert (process.returncode, stdout, stderr) == (130, "", "interrupted\n")
    assert sorted(os.listdir(tmp_path)) == ["tmp"]
    assert os.listdir(tmp_path / "tmp") == []
    assert [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if str(tmp_path) in " ".join(p.info["cmdline"] or [])
    ] == []  # no JVM outlives it


@pytest.mark.parametrize(
    ("memory_limit", "driver"),
    [(None, "4g"), ("4GB", "3814m"), ("512MB", "488m"), ("2GiB", "2048m"), ("1.5 gb", "1430m")],
)
def test_the_memory_limit_is_the_spark_drivers_heap(memory_limit, driver):
    assert spark_engine.driver_memory(memory_limit) == driver


def test_a_memory_limit_spark_cannot_read_is_an_engine_error():
    with pytest.raises(
        EngineError, match=r"^'lots' is not an amount of memory \(write e.g. 4GB\)$"
    ):
        spark_engine.driver_memory("lots")
