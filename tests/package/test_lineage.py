"""Row lineage: the changes table, reasons for every data change, release records, `history` and
`diff PACKAGE@VERSION`, and bringing a package published before lineage into it."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli import app

from conftest import assert_refused, copy_package, edit_descriptor, frictionless_report, tree

runner = CliRunner()
V1_EPOCH = "1601424000"  # 2020-09-30T00:00:00Z: the published fixture's
V2_EPOCH = "1601510400"  # 2020-10-01T00:00:00Z
EVENT = "terter-shelling-2020-09-30"
REASONS = f"""changes:
  - table: events
    id: {EVENT}
    reason: "The summary now names the town, as the text does."
  - table: actors
    id: wire
    reason: The wire service is named in the dateline.
  - table: statements
    id: armenia-terter-denial
    reason: Armenia's words are reported, not a statement of its own.
  - table: places
    id: terter
    reason: Nothing changed here.
"""


def annotations(seeds: Path) -> Path:
    return seeds / "wire-2020-09-30" / "annotations.yaml"


def edit_seeds(seeds: Path) -> None:
    """Correct the event's summary, add an actor, remove a statement."""
    path = annotations(seeds)
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        "summary: Shelling of Terter,", "summary: Shelling of the town of Terter,"
    ).replace(
        '    evidence: ["Armenia denied"]\nplaces:',
        '    evidence: ["Armenia denied"]\n  - actor_id: wire\n    name: Wire\n'
        '    actor_type: media\n    evidence: ["TERTER (Wire)"]\nplaces:',
    )
    start = text.index("  - statement_id: armenia-terter-denial")
    text = text[:start] + text[text.index("casualty_reports:") :]
    path.write_text(text, encoding="utf-8")


def publish(seeds: Path, out: Path, *options: str, epoch: str = V2_EPOCH):
    return runner.invoke(
        app,
        ["publish", "--seeds", str(seeds), "--out", str(out), *options],
        env={"SOURCE_DATE_EPOCH": epoch},
    )


def changes_rows(package: Path) -> list[tuple[str, ...]]:
    with open(package / "data" / "changes.csv", encoding="utf-8", newline="") as handle:
        return [tuple(row) for row in csv.reader(handle)]


@pytest.fixture
def v2(published_copy: Path, minimal_seeds: Path) -> Path:
    """The published minimal package (0.1.0) after a correction, an addition and a removal."""
    edit_seeds(minimal_seeds)
    (minimal_seeds / "changes.yaml").write_text(REASONS, encoding="utf-8")
    result = publish(minimal_seeds, published_copy)
    assert result.exit_code == 0, result.output
    assert result.output == (
        "note: seeds/changes.yaml:11: places/terter: no change to this row since 0.1.0; "
        "the reason is unused\n"
        f"published {published_copy} version 1.0.0 (major release)\n"
    )
    return published_copy


# ---- the changes table ----


def test_first_publication_records_every_row_as_added(published_minimal: Path):
    rows = changes_rows(published_minimal)
    assert rows[0] == ("version", "date", "table_name", "record_id", "kind", "fields", "reason")
    assert rows[1:3] == [
        ("0.1.0", "2020-09-30", "sources", "wire-2020-09-30", "added", "", "first publication"),
        ("0.1.0", "2020-09-30", "count_conventions", "dozens", "added", "", "first publication"),
    ]
    descriptor = json.loads((published_minimal / "datapackage.json").read_text())
    counts = {r["name"]: r for r in descriptor["resources"]}
    assert len(rows) - 1 == sum(
        sum(1 for _ in open(published_minimal / r["path"], encoding="utf-8")) - 1
        for name, r in counts.items()
        if name != "changes"
    )
    assert {row[4] for row in rows[1:]} == {"added"}


def test_changes_rows_of_a_correction_an_addition_and_a_removal(v2: Path):
    later = [row for row in changes_rows(v2)[1:] if row[0] != "0.1.0"]
    denial = "Armenia's words are reported, not a statement of its own."
    assert later == [
        ("1.0.0", "2020-10-01", "actors", "wire", "added", "", "The wire service is named in the dateline."),
        ("1.0.0", "2020-10-01", "events", EVENT, "corrected", "summary", "The summary now names the town, as the text does."),
        ("1.0.0", "2020-10-01", "statements", "armenia-terter-denial", "removed", "", denial),
        ("1.0.0", "2020-10-01", "evidence", "actors-wire-1", "added", "", "The wire service is named in the dateline."),
        ("1.0.0", "2020-10-01", "evidence", "statements-armenia-terter-denial-1", "removed", "", denial),
    ]  # fmt: skip
    assert ("0.1.0", "2020-09-30", "statements", "armenia-terter-denial", "added", "",
            "first publication") in changes_rows(v2)  # fmt: skip


def test_changelog_gives_each_change_its_reason(v2: Path):
    changelog = (v2 / "CHANGELOG.md").read_text(encoding="utf-8")
    entry = changelog[changelog.index("## 1.0.0") : changelog.index("## 0.1.0")]
    assert entry == (
        "## 1.0.0 (2020-10-01)\n\nMajor release.\n\n"
        "- actors: added `wire`: The wire service is named in the dateline.\n"
        f"- events: corrected `{EVENT}` (summary): The summary now names the town, as the text "
        "does.\n"
        "- statements: removed `armenia-terter-denial`: Armenia's words are reported, not a "
        "statement of its own.\n"
        "- evidence: added `actors-wire-1`: The wire service is named in the dateline.\n"
        "- evidence: removed `statements-armenia-terter-denial-1`: Armenia's words are reported, "
        "not a statement of its own.\n\n"
    )


def test_first_and_last_changed_version_of_each_row_by_a_join(v2: Path):
    events = pd.read_csv(v2 / "data" / "events.csv", dtype=str)
    changes = pd.read_csv(v2 / "data" / "changes.csv", dtype=str)
    joined = events.merge(
        changes[changes.table_name == "events"],
        how="left",
        left_on="event_id",
        right_on="record_id",
    )
    spans = joined.groupby("event_id")["version"].agg(["min", "max"]).reset_index()
    assert spans.values.tolist() == [[EVENT, "0.1.0", "1.0.0"]]


def test_the_new_package_is_valid_for_frictionless_and_pipeline(v2: Path):
    code, report = frictionless_report(v2 / "datapackage.json")
    assert (code, report["valid"]) == (0, True)
    result = runner.invoke(app, ["validate", str(v2)])
    assert (result.exit_code, result.output) == (0, f"valid: {v2}\n")
    descriptor = json.loads((v2 / "datapackage.json").read_text())
    changes = descriptor["resources"][-1]
    assert (changes["name"], changes["schema"]["primaryKey"]) == (
        "changes",
        ["version", "table_name", "record_id"],
    )


def test_an_unchanged_build_leaves_the_lineage_alone(v2: Path, minimal_seeds: Path):
    before = tree(v2)
    result = publish(minimal_seeds, v2)
    assert result.output == (
        "note: seeds/changes.yaml:11: places/terter: no change to this row since 1.0.0; "
        "the reason is unused\n"
        f"unchanged: {v2} stays at version 1.0.0\n"
    )
    assert tree(v2) == before


# ---- reasons: required, refused, unused ----


def test_a_change_without_a_reason_is_refused_and_nothing_is_written(
    published_copy: Path, minimal_seeds: Path
):
    edit_seeds(minimal_seeds)
    before = tree(published_copy.parent)
    result = publish(minimal_seeds, published_copy)
    assert_refused(result, 1)
    hint = "saying why, for the people who cite the data)"
    assert result.output == (
        "seeds/changes.yaml: actors/wire: added since 0.1.0 and no reason is given (add an entry "
        f"to seeds/changes.yaml: `- {{table: actors, id: wire, reason: ...}}` {hint}\n"
        f"seeds/changes.yaml: events/{EVENT}: corrected since 0.1.0 and no reason is given (add an "
        f"entry to seeds/changes.yaml: `- {{table: events, id: {EVENT}, reason: ...}}` {hint}\n"
        "seeds/changes.yaml: statements/armenia-terter-denial: removed since 0.1.0 and no reason "
        "is given (add an entry to seeds/changes.yaml: `- {table: statements, id: "
        f"armenia-terter-denial, reason: ...}}` {hint}\n"
        "3 problem(s) found.\n"
    )
    assert tree(published_copy.parent) == before


def test_evidence_of_an_unchanged_record_needs_its_own_reason_or_the_records(
    published_copy: Path, minimal_seeds: Path
):
    path = annotations(minimal_seeds)
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            'evidence: ["the town of Terter"]', 'evidence: ["town of Terter"]'
        ),
        encoding="utf-8",
    )
    result = publish(minimal_seeds, published_copy)
    assert_refused(result, 1)
    assert result.output == (
        "seeds/changes.yaml: evidence/places-terter-1: corrected since 0.1.0 and no reason is "
        "given (add an entry to seeds/changes.yaml: `- {table: evidence, id: places-terter-1, "
        "reason: ...}` (or for its record: table places, id terter) saying why, for the people "
        "who cite the data)\n1 problem(s) found.\n"
    )
    (minimal_seeds / "changes.yaml").write_text(
        "changes:\n  - {table: places, id: terter, reason: A shorter quote.}\n"
    )
    result = publish(minimal_seeds, published_copy)
    assert result.output == f"published {published_copy} version 0.1.1 (patch release)\n"
    assert changes_rows(published_copy)[-1] == (
        "0.1.1", "2020-10-01", "evidence", "places-terter-1", "corrected", "start;exact",
        "A shorter quote.",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "changes:\n  - table: event\n    id: x\n    reason: r\n",
            "seeds/changes.yaml:2: event/x: table: 'event' is not an allowed value (did you mean "
            "'events', 'evidence' or 'statements'? allowed: sources, count_conventions, actors, places, events, statements, "
            "casualty_reports, evidence)\n",
        ),
        (
            "changes:\n  - table: events\n    id: x\n",
            "seeds/changes.yaml:2: events/x: reason: missing required field 'reason' (add it; see "
            "schemas/ for what it holds)\n",
        ),
        (
            "changes:\n  - table: events\n    reason: r\n",
            "seeds/changes.yaml:2: events: an entry names either one row (id) or one new column "
            "(field) (write `id: <row id>` for a row, or `field: <column>` for a new column)\n",
        ),
        (
            "changes:\n  - {table: events, id: x, reason: a}\n  - {table: events, id: x, reason: b}\n",
            "seeds/changes.yaml:3: events/x: a second entry for events/x (the first is at line 2) "
            "(give each row or column one entry, with one reason)\n",
        ),
        (
            "changes:\n  - table: events\n    field: scop\n    reason: r\n",
            "seeds/changes.yaml:3: events.scop: field: events has no column 'scop' (name a column "
            "of schemas/events.yaml: event_id, date_start, date_end, date_precision, event_type, "
            "sub_event_type, scope, actor1_id, actor2_id, place_id, claim_status, claimant_actor_id, "
            "summary, note)\n",
        ),
        (
            "- table: events\n",
            "seeds/changes.yaml:1: expected a mapping with 'changes' (write `changes:` and one "
            "entry per change, or delete the file if there are none)\n",
        ),
    ],
    ids=["unknown-table", "no-reason", "neither-id-nor-field", "twice", "unknown-column", "list"],
)
def test_a_malformed_reasons_file_is_refused_with_located_problems(
    text: str, expected: str, published_copy: Path, minimal_seeds: Path
):
    (minimal_seeds / "changes.yaml").write_text(text, encoding="utf-8")
    before = tree(published_copy.parent)
    result = publish(minimal_seeds, published_copy)
    assert_refused(result, 1)
    assert result.output == expected + "1 problem(s) found.\n"
    assert tree(published_copy.parent) == before


def test_dry_run_shows_the_reasons_it_would_record(published_copy: Path, minimal_seeds: Path):
    edit_seeds(minimal_seeds)
    (minimal_seeds / "changes.yaml").write_text(REASONS, encoding="utf-8")
    before = tree(published_copy.parent)
    result = publish(minimal_seeds, published_copy, "--dry-run")
    assert result.exit_code == 0, result.output
    shown = result.output[result.output.index("reasons:") :]
    denial = "Armenia's words are reported, not a statement of its own."
    assert shown == (
        "reasons:\n"
        "  actors/wire: added: The wire service is named in the dateline.\n"
        f"  events/{EVENT}: corrected (summary): The summary now names the town, as the text "
        "does.\n"
        f"  statements/armenia-terter-denial: removed: {denial}\n"
        "  evidence/actors-wire-1: added: The wire service is named in the dateline.\n"
        f"  evidence/statements-armenia-terter-denial-1: removed: {denial}\n"
        "note: seeds/changes.yaml:11: places/terter: no change to this row since 0.1.0; the "
        "reason is unused\n"
        f"dry run: would publish {published_copy} version 1.0.0 (major release); nothing written\n"
    )
    assert tree(published_copy.parent) == before


def test_a_reason_already_recorded_is_not_noted_again(v2: Path, minimal_seeds: Path):
    (minimal_seeds / "changes.yaml").write_text(REASONS.split("  - table: places")[0])
    result = publish(minimal_seeds, v2)
    assert result.output == f"unchanged: {v2} stays at version 1.0.0\n"


# ---- a new column: one reason for every row's value of it ----


def without_column(package: Path, table: str, column: str) -> None:
    """`package` as it was before `column` was added to `table`."""
    path = package / "data" / f"{table}.csv"
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    header = [name for name in rows[0] if name != column]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, header, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)

    def drop(descriptor: dict) -> None:
        resource = next(r for r in descriptor["resources"] if r["name"] == table)
        fields = resource["schema"]["fields"]
        fields[:] = [f for f in fields if f["name"] != column]

    edit_descriptor(package, drop)


def test_a_new_column_needs_a_field_reason(published_copy: Path, minimal_seeds: Path):
    without_column(published_copy, "events", "summary")
    result = publish(minimal_seeds, published_copy)
    assert_refused(result, 1)
    assert result.output == (
        "seeds/changes.yaml: events.summary: new column and no reason is given (add an entry to "
        "seeds/changes.yaml: `- {table: events, field: summary, reason: ...}` saying what the "
        "column holds and why it was added)\n1 problem(s) found.\n"
    )
    (minimal_seeds / "changes.yaml").write_text(
        "changes:\n  - table: events\n    field: summary\n    reason: One line per event.\n"
    )
    result = publish(minimal_seeds, published_copy)
    assert result.output == f"published {published_copy} version 1.0.0 (major release)\n"
    assert changes_rows(published_copy)[-1] == (
        "1.0.0", "2020-10-01", "events", EVENT, "corrected", "summary", "One line per event.",
    )  # fmt: skip
    changelog = (published_copy / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "- events: new column `summary`: One line per event.\n" in changelog


# ---- history ID ----


@pytest.mark.parametrize(
    ("args", "code", "output"),
    [
        (
            [EVENT],
            0,
            "0.1.0 2020-09-30 added: first publication\n"
            "1.0.0 2020-10-01 corrected (summary): The summary now names the town, as the text "
            "does.\n",
        ),
        (["wire"], 0, "1.0.0 2020-10-01 added: The wire service is named in the dateline.\n"),
        (
            ["armenia-terter-denial", "--table", "statements"],
            0,
            "0.1.0 2020-09-30 added: first publication\n"
            "1.0.0 2020-10-01 removed: Armenia's words are reported, not a statement of its own.\n",
        ),
        (
            ["terter-shelling"],
            2,
            "error: {pkg}: no row 'terter-shelling' in the changes table (did you mean "
            f"{EVENT}, events-{EVENT}-1?)\n",
        ),
        (
            ["wire", "--table", "events"],
            2,
            "error: {pkg}: no row 'wire' in table events of the changes table\n",
        ),
        (
            ["wire", "--table", "actor"],
            2,
            "error: --table: 'actor' is not a data table (did you mean actors? tables: sources, "
            "count_conventions, actors, places, events, statements, casualty_reports, evidence)\n",
        ),
    ],
    ids=["corrected", "added", "removed", "unknown-id", "other-table", "unknown-table"],
)
def test_history_tells_a_rows_story(v2: Path, args: list[str], code: int, output: str):
    result = runner.invoke(app, ["history", *args, "--package", str(v2)])
    assert result.exit_code == code, result.output
    assert result.output == output.replace("{pkg}", str(v2))


def strip_lineage(package: Path) -> Path:
    """`package` as publish wrote it before lineage was kept: no changes table, no releases."""
    for name in ("changes.csv", "changes.parquet"):
        (package / "data" / name).unlink()
    shutil.rmtree(package / "releases")
    edit_descriptor(
        package, lambda d: d["resources"].remove(next(r for r in d["resources"] if r["name"] == "changes"))
    )  # fmt: skip
    return package


def test_history_of_a_package_without_a_changes_table_is_refused(published_copy: Path):
    strip_lineage(published_copy)
    result = runner.invoke(app, ["history", EVENT, "--package", str(published_copy)])
    assert_refused(result, 2)
    assert result.output == (
        f"error: {published_copy}: the package has no changes table, so it records no row history "
        "(publish it with this version of the pipeline)\n"
    )


# ---- release records and diff PACKAGE@VERSION ----


def test_each_release_is_recorded_with_its_descriptor_and_checksums(v2: Path):
    assert sorted(p.name for p in (v2 / "releases").iterdir()) == ["0.1.0.json", "1.0.0.json"]
    record = json.loads((v2 / "releases" / "1.0.0.json").read_text())
    assert record["descriptor"] == json.loads((v2 / "datapackage.json").read_text())
    files = sorted(
        p.relative_to(v2).as_posix() for p in v2.rglob("*") if p.is_file() and "releases" not in p.parts
    )  # fmt: skip
    assert sorted(record["files"]) == files
    for name, digest in record["files"].items():
        assert digest == "sha256:" + hashlib.sha256((v2 / name).read_bytes()).hexdigest()
    assert record["descriptor"]["version"] == record["version"] == "1.0.0"


def test_diff_since_a_recorded_version_needs_no_git(v2: Path, published_minimal: Path):
    assert (v2 / "releases" / "0.1.0.json").read_bytes() == (
        published_minimal / "releases" / "0.1.0.json"
    ).read_bytes()
    result = runner.invoke(app, ["diff", f"{v2}@0.1.0", str(v2)])
    assert result.exit_code == 1, result.output
    denial = "Armenia's words are reported, not a statement of its own."
    assert result.output == (
        f"--- {v2}@0.1.0 (version 0.1.0)\n"
        f"+++ {v2} (version 1.0.0)\n"
        "rows (from the changes table):\n"
        "  actors: 1 added, 0 removed, 0 corrected\n"
        "    + 1.0.0 wire: The wire service is named in the dateline.\n"
        "  events: 0 added, 0 removed, 1 corrected\n"
        f"    ~ 1.0.0 {EVENT} (summary): The summary now names the town, as the text does.\n"
        "  statements: 0 added, 1 removed, 0 corrected\n"
        f"    - 1.0.0 armenia-terter-denial: {denial}\n"
        "  evidence: 1 added, 1 removed, 0 corrected\n"
        "    + 1.0.0 actors-wire-1: The wire service is named in the dateline.\n"
        f"    - 1.0.0 statements-armenia-terter-denial-1: {denial}\n"
        "required bump: major\n"
    )


@pytest.mark.parametrize(
    ("old", "code", "output"),
    [
        ("{pkg}@1.0.0", 0, "--- {pkg}@1.0.0 (version 1.0.0)\n+++ {pkg} (version 1.0.0)\nno differences\n"),
        ("{pkg}@0.2.0", 2, "error: {pkg}: no record of version 0.2.0 in releases/ (did you mean 0.1.0? it holds 0.1.0, 1.0.0)\n"),
        ("{pkg}/absent@0.1.0", 2, "error: {pkg}/absent: no such file or folder\n"),
    ],
    ids=["same", "unknown-version", "no-package"],
)  # fmt: skip
def test_diff_since_a_version_exit_codes(v2: Path, old: str, code: int, output: str):
    result = runner.invoke(app, ["diff", old.replace("{pkg}", str(v2)), str(v2)])
    assert result.exit_code == code, result.output
    assert result.output == output.replace("{pkg}", str(v2))


def test_diff_since_a_version_reports_descriptor_changes(v2: Path):
    edit_descriptor(v2, lambda d: d.update(title="Another title"))
    result = runner.invoke(app, ["diff", f"{v2}@1.0.0", str(v2), "--json"])
    assert result.exit_code == 1, result.output
    shown = json.loads(result.output)
    assert (shown["bump"], shown["changes"], shown["rows"]) == (
        "patch",
        [{"level": "patch", "where": "package", "message": "title changed"}],
        [],
    )


# ---- bringing a package published before lineage into it ----


@pytest.fixture
def old_releases(v2: Path, published_minimal: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Releases 0.1.0 and 1.0.0 as publish wrote them before lineage was kept."""
    first = strip_lineage(copy_package(published_minimal, tmp_path / "old" / "0.1.0"))
    second = strip_lineage(copy_package(v2, tmp_path / "old" / "1.0.0"))
    return first, second


def test_history_from_earlier_releases_seeds_the_lineage(
    old_releases: tuple[Path, Path], minimal_seeds: Path, tmp_path: Path
):
    first, second = old_releases
    target = copy_package(second, tmp_path / "target")
    (minimal_seeds / "changes.yaml").unlink()
    result = publish(minimal_seeds, target, "--history-from", str(first), epoch="1601596800")
    assert result.output == f"published {target} version 1.1.0 (minor release)\n"
    rows = changes_rows(target)
    assert [row for row in rows if row[0] == "1.0.0"][:2] == [
        ("1.0.0", "2020-10-01", "actors", "wire", "added", "",
         "published at 1.0.0, before reasons were kept (see CHANGELOG.md)"),
        ("1.0.0", "2020-10-01", "events", EVENT, "corrected", "summary",
         "published at 1.0.0, before reasons were kept (see CHANGELOG.md)"),
    ]  # fmt: skip
    assert rows[1][:5] == ("0.1.0", "2020-09-30", "sources", "wire-2020-09-30", "added")
    assert {row[0] for row in rows[1:]} == {"0.1.0", "1.0.0"}  # 1.1.0 changed no row
    assert sorted(p.name for p in (target / "releases").iterdir()) == [
        "0.1.0.json",
        "1.0.0.json",
        "1.1.0.json",
    ]
    record = json.loads((target / "releases" / "0.1.0.json").read_text())
    assert record["descriptor"] == json.loads((first / "datapackage.json").read_text())
    result = runner.invoke(app, ["diff", f"{target}@0.1.0", str(target)])
    assert result.exit_code == 1
    assert "  minor  package: resource changes added\n" in result.output
    assert "    + 1.0.0 wire: published at 1.0.0, before reasons were kept" in result.output


def test_without_history_from_the_published_rows_are_recorded_unexplained(
    old_releases: tuple[Path, Path], minimal_seeds: Path, tmp_path: Path
):
    target = copy_package(old_releases[1], tmp_path / "target")
    (minimal_seeds / "changes.yaml").unlink()
    result = publish(minimal_seeds, target)
    assert result.output == f"published {target} version 1.1.0 (minor release)\n"
    assert changes_rows(target)[1] == (
        "1.0.0", "2020-10-01", "sources", "wire-2020-09-30", "added", "",
        "published at 1.0.0; history before it was not recorded",
    )  # fmt: skip


@pytest.mark.parametrize("case", ["out-of-order", "already-recorded"])
def test_history_from_is_refused_when_it_cannot_apply(
    case: str, old_releases: tuple[Path, Path], minimal_seeds: Path, tmp_path: Path, v2: Path
):
    first, second = old_releases
    target = copy_package(v2 if case == "already-recorded" else second, tmp_path / "target")
    before = tree(target)
    result = publish(
        minimal_seeds, target, "--history-from", str(second if case == "out-of-order" else first)
    )
    assert_refused(result, 2)
    assert (
        result.output
        == {
            "out-of-order": "--history-from: version 1.0.0 is not later than 1.0.0: give the earlier "
            "releases oldest first, and leave out the published package (it is the last)\n",
            "already-recorded": f"--history-from: {target} already records its history (its changes "
            "table); leave --history-from out\n",
        }[case]
    )
    assert tree(target) == before


# ---- the changes table is built, never annotated ----


def test_the_changes_table_is_built_not_annotated():
    from pipeline.contract import schemas

    assert schemas.PACKAGE_TABLES == [*schemas.TABLES, "changes"]
    assert "changes" not in json.dumps(schemas.annotation_json_schema()["properties"])
    table_name = schemas.fields("changes")[2]
    assert (table_name["name"], table_name["constraints"]["enum"]) == (
        "table_name",
        schemas.TABLES,
    )
    assert "x-categories" not in table_name


def test_check_reads_seeds_with_a_reasons_file(minimal_seeds: Path):
    (minimal_seeds / "changes.yaml").write_text(REASONS, encoding="utf-8")
    result = runner.invoke(app, ["check", "--seeds", str(minimal_seeds)])
    assert (result.exit_code, result.output) == (
        0,
        "ok: 1 sources, 1 count_conventions, 2 actors, 1 places, 1 events, 2 statements, "
        "1 casualty_reports, 7 evidence\n",
    )
