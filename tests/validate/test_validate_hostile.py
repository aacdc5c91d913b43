"""`pipeline validate` on hostile packages: it reads nothing outside the package, and its work and output are bounded.

A resource path that leaves the package (absolute, `..`, a URL, a symbolic link, a FIFO, a
device) is an error of that resource, and the file is neither hashed nor read: the outside
file's words and sha256 appear nowhere. A file in data/ that no resource names is an error.
A header far wider than the schema is one error; each file lists at most --max-errors
errors and counts the rest. Evidence spans must run forwards from 0. A descriptor that
cannot be read is one package error and exit 2.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import shutil
import stat
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_hostile import assert_refused
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.contract import schemas

from conftest import edit_descriptor, tree

runner = CliRunner()
SECRET = "secret-token,5ecr3t-c0ntent-never-to-be-shown\n"
SECRET_SHA256 = hashlib.sha256(SECRET.encode()).hexdigest()
RESOURCES = schemas.PACKAGE_TABLES
NOT_SAFE = 'The data resource has an error: path "{path}" is not safe'
LINKED = "it is or passes through a symbolic link; only regular files inside the package are read"


@pytest.fixture
def package(published_minimal: Path, tmp_path: Path) -> Path:
    """A copy of the minimal package, and tmp_path/outside/secret.csv beside it."""
    copy = tmp_path / "datapackage"
    shutil.copytree(published_minimal, copy)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.csv").write_text(SECRET)
    return copy


def refresh_descriptor(package: Path) -> None:
    """Bytes and hash of every declared regular file brought up to date, so only the planted fault shows."""

    def change(descriptor):
        for resource in descriptor["resources"]:
            for described in (resource, resource["parquet"]):
                data = (package / described["path"]).read_bytes()
                described["bytes"], described["hash"] = (
                    len(data),
                    "sha256:" + hashlib.sha256(data).hexdigest(),
                )

    edit_descriptor(package, change)


def described(descriptor: dict, name: str, fmt: str) -> dict:
    resource = next(r for r in descriptor["resources"] if r["name"] == name)
    return resource if fmt == "csv" else resource["parquet"]


def snapshot(folder: Path) -> dict[str, str]:
    """conftest's tree() with modes and mtimes, where a FIFO is named, not read (reading one would wait forever)."""
    specials = {
        str(p.relative_to(folder)): "special"
        for p in folder.rglob("*")
        if not p.is_symlink() and stat.S_ISFIFO(p.lstat().st_mode)
    }
    hidden = folder.parent / "hidden-specials"
    hidden.mkdir(exist_ok=True)
    for number, rel in enumerate(
        specials
    ):  # moved aside while tree() reads the folder, then put back
        os.rename(folder / rel, hidden / str(number))
    try:
        return {**tree(folder, stat=True), **specials}
    finally:
        for number, rel in enumerate(specials):
            os.rename(hidden / str(number), folder / rel)


@contextlib.contextmanager
def fifo_feeding(path: Path):
    """A FIFO at `path` that hands SECRET to whoever opens it (so a reader finds it, and does not hang)."""
    os.mkfifo(path)

    def feed():
        with open(path, "w") as writer:  # waits for a reader
            writer.write(SECRET)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        yield
    finally:
        drain = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # lets the feeder finish if nobody read
        feeder.join(5)
        os.close(drain)


def run_both(package: Path, *options: str):
    """The human and the --json run, each refused with exit 1, and neither showing the outside file."""
    human = runner.invoke(app, ["validate", str(package), *options])
    as_json = runner.invoke(app, ["validate", str(package), "--json", *options])
    for result in (human, as_json):
        assert_refused(result)
        assert SECRET.strip() not in result.output and "5ecr3t" not in result.output
        assert SECRET_SHA256 not in result.output
    return human, json.loads(as_json.stdout)


# ---- paths that leave the package ----


def _absolute(package, place):
    return str(package.parent / "outside" / "secret.csv")


def _dotdot(package, place):
    return "../outside/secret.csv"


def _file_url(package, place):
    return "file://" + str(package.parent / "outside" / "secret.csv")


def _http_url(package, place):
    return "http://127.0.0.1:9/" + place


def _dev_zero(package, place):
    return "/dev/zero"


PATH_CASES = {
    # kind: (new path or None for the same path, the task's reason, whether frictionless reports it as unsafe too)
    "absolute": (_absolute, "it is absolute; only files inside the package are read", True),
    "dotdot": (_dotdot, "it leaves the package folder (..)", True),
    "file-url": (_file_url, "it is a URL; only files inside the package are read", True),
    "http-url": (_http_url, "it is a URL; only files inside the package are read", False),
    "dev-zero": (_dev_zero, "it is absolute; only files inside the package are read", True),
    "symlink": (None, LINKED, False),
    "fifo": (None, "it is not a regular file (a folder, device or FIFO)", False),
}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("kind", sorted(PATH_CASES))
def test_path_leaving_the_package_is_an_error_of_its_resource(kind: str, fmt: str, package: Path):
    new_path, reason, unsafe_for_frictionless = PATH_CASES[kind]
    place = f"data/events.{fmt}"
    secret = package.parent / "outside" / "secret.csv"
    (package / place).unlink()
    path = place
    feeding = contextlib.nullcontext()
    if new_path is not None:
        path = new_path(package, place)
        edit_descriptor(package, lambda d: described(d, "events", fmt).__setitem__("path", path))
    elif kind == "symlink":
        (package / place).symlink_to(secret)
    else:
        feeding = fifo_feeding(package / place)
    label = "events" if fmt == "csv" else "events[parquet]"
    lines = (
        [f"package:-:-: resource-error: {NOT_SAFE.format(path=path)}"]
        if unsafe_for_frictionless
        else []
    ) + [f"{label}:-:-: resource-error: {NOT_SAFE.format(path=path)}: {reason}"]
    with feeding:
        before = (snapshot(package), tree(secret.parent, stat=True))
        human, report = run_both(package)
        assert (snapshot(package), tree(secret.parent, stat=True)) == before
    assert human.output.splitlines() == lines + [f"{len(lines)} error(s) found."]
    events = next(t for t in report["tasks"] if t["name"] == "events" and t["format"] == fmt)
    assert [(e["type"], e["note"]) for e in events["errors"]] == [
        ("resource-error", f'path "{path}" is not safe: {reason}')
    ]
    assert report["stats"]["errors"] == len(lines)


def test_linked_data_folder_leaves_every_file_unread(package: Path):
    outside = package.parent / "outside"
    shutil.move(package / "data", outside / "data")
    (package / "data").symlink_to(outside / "data", target_is_directory=True)
    (outside / "data" / "events.csv").write_text(SECRET)
    before = (tree(package, stat=True), tree(outside, stat=True))
    human, report = run_both(package)
    assert (tree(package, stat=True), tree(outside, stat=True)) == before
    expected = []
    for name in RESOURCES:
        for label, ext in ((name, "csv"), (f"{name}[parquet]", "parquet")):
            expected.append(
                f"{label}:-:-: resource-error: {NOT_SAFE.format(path=f'data/{name}.{ext}')}: {LINKED}"
            )
    tasks = 2 * len(RESOURCES)
    assert human.output.splitlines() == expected + [f"{tasks} error(s) found."]
    assert report["stats"] == {"tasks": tasks, "errors": tasks, "notListed": 0}


@pytest.mark.parametrize(
    "schema, also",
    [
        (
            "../outside/secret.csv",
            ["package:-:-: resource-error: " + NOT_SAFE.format(path="../outside/secret.csv")],
        ),
        ("http://127.0.0.1:9/schema.json", []),
        (None, []),
    ],
    ids=["outside-path", "url", "none"],
)
def test_schema_not_given_inline_is_an_error_not_a_pass(schema, also: list[str], package: Path):
    """A schema by path or URL is never fetched; the resource is reported instead of passing unchecked."""

    def change(descriptor):
        resource = described(descriptor, "events", "csv")
        if schema is None:
            del resource["schema"]
        else:
            resource["schema"] = schema

    edit_descriptor(package, change)
    human, _ = run_both(package)
    assert human.output.splitlines() == [
        'package:-:-: resource-error: The data resource has an error: resource "events" has no inline schema; its '
        "files are not read (describe its fields in datapackage.json: a schema by path or URL is not read)",
        *also,
        f"{1 + len(also)} error(s) found.",
    ]


# ---- files nobody declared ----

UNDECLARED_NOTE = "no resource names (remove it, or describe it in datapackage.json)"


@pytest.mark.parametrize(
    "make, path, kind",
    [
        (
            lambda package: (package / "data" / "stray.csv").write_text("id\n1\n"),
            "data/stray.csv",
            "a file",
        ),
        (
            lambda package: (package / "data" / "events.csv.bak").symlink_to(
                package.parent / "outside" / "secret.csv"
            ),
            "data/events.csv.bak",
            "a symbolic link",
        ),
        (
            lambda package: (
                (package / "data" / "old" / "2019").mkdir(parents=True)
                or (package / "data" / "old" / "2019" / "events.csv").write_text(SECRET)
            ),
            "data/old/2019/events.csv",
            "a file",
        ),
        (
            lambda package: (package / "data" / "linked").symlink_to(
                package.parent / "outside", target_is_directory=True
            ),
            "data/linked",
            "a symbolic link",
        ),
    ],
    ids=["file", "symlink", "subfolder-file", "symlinked-folder"],
)
def test_undeclared_file_in_data_is_reported(make, path: str, kind: str, package: Path):
    make(package)
    before = (tree(package, stat=True), tree(package.parent / "outside", stat=True))
    human, report = run_both(package)
    assert (tree(package, stat=True), tree(package.parent / "outside", stat=True)) == before
    assert human.output.splitlines() == [
        f'package:-:-: undeclared-file: File "{path}" is in the package but not in its descriptor: {kind} '
        f"{UNDECLARED_NOTE}",
        "1 error(s) found.",
    ]
    assert [(e["type"], e["title"], e["path"]) for e in report["errors"]] == [
        ("undeclared-file", "Undeclared File", path)
    ]


def test_undeclared_files_are_listed_up_to_max_errors(package: Path):
    for name in ("a.csv", "b.csv", "c.csv"):
        (package / "data" / name).write_text("x\n")
    human, report = run_both(package, "--max-errors", "1")
    assert human.output.splitlines() == [
        f'package:-:-: undeclared-file: File "data/a.csv" is in the package but not in its descriptor: a file '
        f"{UNDECLARED_NOTE}",
        "package: ... and 2 more (at most 1 are listed per file; raise --max-errors to list more)",
        "3 error(s) found.",
    ]
    assert (report["stats"], report["truncated"], report["warnings"]) == (
        {"tasks": 2 * len(RESOURCES), "errors": 3, "notListed": 2},
        True,
        ["reached error limit: 1"],
    )


# ---- bounded work and output ----


def _write_header(path: Path, labels: list[str]) -> None:
    rows = path.read_text(encoding="utf-8").split("\n", 1)[1]
    path.write_text(",".join(labels) + "\n" + rows, encoding="utf-8")


def _events_fields(package: Path) -> list[str]:
    with open(package / "data" / "events.csv", encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle))


EVENTS = len(schemas.field_names("events"))
HINT = f"write the header as the schema's {EVENTS} field names"


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            1_000_000 - EVENTS,
            f"the header is over 65536 characters; its rows are not read ({HINT})",
        ),
        (
            101,
            f"the header has {EVENTS + 101} labels for {EVENTS} fields, over the limit of {EVENTS + 100}; "
            f"its rows are not read ({HINT})",
        ),
    ],
    ids=["a-million-columns", "one-over-the-limit"],
)
def test_header_far_wider_than_the_schema_is_one_error(extra: int, message: str, package: Path):
    _write_header(package / "data" / "events.csv", _events_fields(package) + ["x"] * extra)
    refresh_descriptor(package)
    human, report = run_both(package)
    assert human.output.splitlines() == [
        f"events:-:-: source-error: The data source has not supported or has inconsistent contents: {message}",
        "1 error(s) found.",
    ]
    assert len(human.output) < 400
    assert len(json.dumps(report)) < 8000
    events = next(t for t in report["tasks"] if t["name"] == "events" and t["format"] == "csv")
    assert (events["stats"], len(events["errors"])) == ({"errors": 1, "notListed": 0, "rows": 0}, 1)


def test_header_at_the_limit_is_read_with_an_error_per_extra_label(package: Path):
    _write_header(package / "data" / "events.csv", _events_fields(package) + ["x"] * 100)
    refresh_descriptor(package)
    result = runner.invoke(app, ["validate", str(package), "--json"])
    report = json.loads(result.stdout)
    events = next(t for t in report["tasks"] if t["name"] == "events" and t["format"] == "csv")
    assert result.exit_code == 1
    labels = [e for e in events["errors"] if "rowNumber" not in e]
    assert [e["fieldNumber"] for e in labels] == list(range(EVENTS + 1, EVENTS + 101))
    assert {e["type"] for e in labels} == {"extra-label"}
    assert events["stats"]["rows"] > 0
    # each extra label is a column of its own, as frictionless reads it: every row lacks a cell there
    cells = [(e["type"], e["fieldNumber"]) for e in events["errors"] if e.get("rowNumber") == 2]
    assert cells == [("missing-cell", number) for number in range(EVENTS + 1, EVENTS + 101)]


def test_parquet_far_wider_than_the_schema_is_one_error(package: Path):
    path = package / "data" / "events.parquet"
    table = pq.read_table(path)
    for number in range(101):
        table = table.append_column(f"x{number}", pa.nulls(table.num_rows, pa.string()))
    pq.write_table(table, path)
    refresh_descriptor(package)
    human, _ = run_both(package)
    assert human.output.splitlines() == [
        "events[parquet]:-:-: source-error: The data source has not supported or has inconsistent contents: the file "
        f"has {EVENTS + 101} columns for {EVENTS} fields, over the limit of {EVENTS + 100}; its rows are not "
        "read (write the schema's fields)",
        "1 error(s) found.",
    ]


def _plant_bad_ids(package: Path, count: int) -> None:
    """`count` evidence ids against the field's pattern, each still unique: one constraint error each."""
    path = package / "data" / "evidence.csv"
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    for number, row in enumerate(rows[1 : count + 1], start=2):
        row[0] = f"Bad_{number}"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    refresh_descriptor(package)


def _pattern_line(row: int) -> str:
    return (
        f'evidence:{row}:evidence_id: constraint-error: The cell "Bad_{row}" in row at position "{row}" and field '
        f'"evidence_id" at position "1" does not conform to a constraint: constraint "pattern" is '
        f'"^[a-z0-9][a-z0-9-]*$"'
    )


@pytest.mark.parametrize("max_errors, listed", [("5", 5), ("2", 2), ("0", 0)])
def test_max_errors_lists_the_first_and_counts_the_rest(
    max_errors: str, listed: int, package: Path
):
    _plant_bad_ids(package, 5)
    human, report = run_both(package, "--no-parquet", "--max-errors", max_errors)
    more = (
        [
            f"evidence: ... and {5 - listed} more (at most {listed} are listed per file; raise --max-errors to list "
            "more)"
        ]
        if listed < 5
        else []
    )
    assert human.output.splitlines() == [
        _pattern_line(row) for row in range(2, 2 + listed)
    ] + more + ["5 error(s) found."]
    evidence = next(t for t in report["tasks"] if t["name"] == "evidence")
    assert (
        evidence["stats"]["errors"],
        evidence["stats"]["notListed"],
        evidence["truncated"],
        len(evidence["errors"]),
    ) == (5, 5 - listed, listed < 5, listed)
    assert evidence["warnings"] == ([f"reached error limit: {listed}"] if listed < 5 else [])
    assert (report["stats"], report["truncated"], report["valid"]) == (
        {"tasks": len(RESOURCES), "errors": 5, "notListed": 5 - listed},
        listed < 5,
        False,
    )


# ---- evidence spans ----


def _evidence_cells(package: Path) -> tuple[list[str], list[str]]:
    with open(package / "data" / "evidence.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1]


def _edit_evidence_csv(package: Path, start: str) -> None:
    path = package / "data" / "evidence.csv"
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    rows[1][rows[0].index("start")] = start
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


SPAN = (
    'Row at position "2" holds an impossible span in field "{field}" at position "{number}": {note}'
)


def test_span_with_start_after_end_in_csv(package: Path):
    header, row = _evidence_cells(package)
    end = row[header.index("end")]
    _edit_evidence_csv(package, str(int(end) + 1))
    refresh_descriptor(package)
    human, _ = run_both(package, "--no-parquet")
    note = f'start "{int(end) + 1}" is after end "{end}" (a span ends at or after its start)'
    assert human.output.splitlines() == [
        f"evidence:2:end: span-error: {SPAN.format(field='end', number=6, note=note)}",
        "1 error(s) found.",
    ]


def test_span_with_start_after_end_in_parquet(package: Path):
    path = package / "data" / "evidence.parquet"
    table = pq.read_table(path)
    starts = table.column("start").to_pylist()
    end = table.column("end")[0].as_py()
    original, starts[0] = starts[0], end + 1
    table = table.set_column(
        table.column_names.index("start"), "start", pa.array(starts, pa.int64())
    )
    pq.write_table(table, path)
    refresh_descriptor(package)
    human, _ = run_both(package)
    note = f'start "{end + 1}" is after end "{end}" (a span ends at or after its start)'
    assert human.output.splitlines() == [
        f'evidence[parquet]:2:start: twin-mismatch: The Parquet twin differs from the CSV in row at position "2" and '
        f'field "start": CSV has "{original}", Parquet has "{end + 1}"',
        f"evidence[parquet]:2:end: span-error: {SPAN.format(field='end', number=6, note=note)}",
        "2 error(s) found.",
    ]


@pytest.mark.parametrize(
    "minimum, expected",
    [
        (
            True,
            'evidence:2:start: constraint-error: The cell "-3" in row at position "2" and field "start" at position "5" '
            'does not conform to a constraint: constraint "minimum" is "0"',
        ),
        (
            False,
            "evidence:2:start: span-error: "
            + SPAN.format(
                field="start",
                number=5,
                note='start "-3" is negative (offsets count code points from 0)',
            ),
        ),
    ],
    ids=["schema-minimum-reports-it", "span-check-reports-it"],
)
def test_negative_start_is_reported_once(minimum: bool, expected: str, package: Path):
    _edit_evidence_csv(package, "-3")
    if not minimum:
        edit_descriptor(
            package,
            lambda d: next(
                f
                for f in described(d, "evidence", "csv")["schema"]["fields"]
                if f["name"] == "start"
            )["constraints"].pop("minimum"),
        )
    refresh_descriptor(package)
    human, _ = run_both(package, "--no-parquet")
    assert human.output.splitlines() == [expected, "1 error(s) found."]


# ---- descriptors that cannot be read ----


def _truncate(path: Path) -> None:
    with open(path, "r+b") as handle:
        handle.truncate(17 * 2**20)


def _link_outside(path: Path) -> None:
    outside = path.parent.parent / "outside" / "datapackage.json"
    path.rename(outside)
    path.symlink_to(outside)


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda path: path.write_text('{"a": ' * 100_000 + "1" + "}" * 100_000),
            "nested deeper than 32 levels",
        ),
        (
            lambda path: path.write_text("[" * 100_000 + "]" * 100_000),
            "nested deeper than 32 levels",
        ),
        (
            lambda path: path.write_text("{'resources': []}"),
            "not valid JSON: Expecting property name enclosed in double quotes at line 1, column 2",
        ),
        (_truncate, "over the 16 MiB limit for a descriptor"),
        (
            _link_outside,
            "is or passes through a symbolic link; only regular files inside the package are read",
        ),
    ],
    ids=["deep-object", "deep-array", "not-json", "too-big", "symlink"],
)
def test_unreadable_descriptor_is_one_package_error_exit_2(make, message: str, package: Path):
    path = package / "datapackage.json"
    make(path)
    before = tree(package, stat=True)
    human, as_json = (
        runner.invoke(app, ["validate", str(package), *options]) for options in ([], ["--json"])
    )
    assert tree(package, stat=True) == before
    for result in (human, as_json):
        assert_refused(result, code=2)
    assert human.output.splitlines() == [
        f"package:-:-: package-error: The data package has an error: {path}: {message}",
        "1 error(s) found.",
    ]
    assert [(e["type"], e["note"]) for e in json.loads(as_json.stdout)["errors"]] == [
        ("package-error", f"{path}: {message}")
    ]


# ---- rows with the wrong number of cells ----


def test_rows_with_the_wrong_number_of_cells_are_numbered_and_so_are_the_rows_after_them(
    package: Path,
):
    """Arrow numbers the rows it skips only in a one-thread read; the rows kept are numbered around them, and the
    rows skipped are put back in their places, cut or padded to the header's width."""
    path = package / "data" / "count_conventions.csv"
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header, first = rows[0], rows[1]
    typo = [first[0] + "-b", *first[1:]]
    typo[header.index("low")] = "many"
    rows += [first[:1], first + ["extra"], typo]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    refresh_descriptor(package)
    human, _ = run_both(package, "--no-parquet")
    missing = (
        'count_conventions:3:{name}: missing-cell: Row at position "3" has a missing cell in field "{name}" '
        'at position "{n}"'
    )
    required = (
        'count_conventions:3:{name}: constraint-error: The cell "" in row at position "3" and field "{name}" '
        'at position "{n}" does not conform to a constraint: constraint "required" is "True"'
    )
    repeated = [
        'count_conventions:{row}:-: primary-key: Row at position "{row}" violates the primary key: the same '
        "as in the row at position {before}",
        'count_conventions:{row}:term: unique-error: Row at position "{row}" has unique constraint violation '
        'in field "term" at position "1": the same as in the row at position {before}',
    ]
    # the cells a short or long row has are checked like any other (frictionless reports the same 13 errors)
    assert human.output.splitlines() == [
        *(line.format(row=3, before=2) for line in repeated),
        *(
            line.format(name=name, n=n)
            for n, name in enumerate(header[1:], start=2)
            for line in ([missing, required] if name != "high" else [missing])
        ),
        *(line.format(row=4, before=3) for line in repeated),
        'count_conventions:4:-: extra-cell: Row at position "4" has an extra value in field at position "6"',
        'count_conventions:5:low: type-error: Type error in the cell "many" in row "5" and field "low" at position '
        '"3": type is "integer/default"',
        "13 error(s) found.",
    ]
