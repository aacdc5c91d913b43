"""The datasheet (datapackage/README.md): complete, generated at publish time, byte-stable."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from pipeline.contract import schemas
from pipeline.package.datasheet import latest_changelog_entry, render_datasheet
from pipeline.publish import build_package, same_tree

from conftest import BASE_SEEDS, ROOT


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("datasheet") / "package"
    build_package(BASE_SEEDS, out, None)
    return out


def test_publish_writes_the_datasheet(package: Path):
    assert (package / "README.md").read_text(encoding="utf-8") == render_datasheet(package)


@pytest.mark.parametrize("table", schemas.TABLES)
def test_every_field_of_every_schema_is_listed(package: Path, table: str):
    sheet = render_datasheet(package)
    section = sheet.split(f"\n#### `{table}`\n", 1)[1].split("\n#", 1)[0]
    for field in schemas.fields(table):
        line = next(
            (ln for ln in section.splitlines() if ln.startswith(f"| `{field['name']}` |")), None
        )
        assert line is not None, f"{table}.{field['name']}"
        assert f"| {field['type']} | {'yes' if schemas.required(field) else 'no'} |" in line
        assert " ".join(field["description"].split()).replace("|", "\\|") in line
        for value in schemas.category_values(field) or []:
            assert f"`{value}`" in line


def test_datasheet_has_sources_counts_conventions_citation_and_changes(package: Path):
    sheet = render_datasheet(package)
    descriptor = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))
    assert (
        "| wire-2020-09-30 | Wire | Clashes near Terter | 2020-09-30 | Fixture; the date is given. |"
        in sheet
    )
    assert "| `evidence` | Evidence | 7 |" in sheet and "| `actors` | Actors | 2 |" in sheet
    assert "The records span 2020-09-30 to 2020-09-30." in sheet
    assert "| dozens | dozens | 12 | 99 |" in sheet
    assert f"(version {descriptor['version']}, {descriptor['created'][:10]})" in sheet
    assert "CC-BY-4.0" in sheet
    for snippet in (
        "pd.read_parquet",
        "pl.read_parquet",
        "from 'data/events.parquet'",
        'read_parquet("data/events',
    ):
        assert snippet in sheet
    assert "#### 0.1.0 (" in sheet and "First publication of the package." in sheet


def test_unchanged_publish_keeps_every_byte(package: Path, tmp_path: Path):
    again = tmp_path / "again"
    result = build_package(BASE_SEEDS, again, package)
    assert result.changed is False
    assert same_tree(package, again)


def test_datasheet_follows_a_new_release(package: Path, tmp_path: Path):
    seeds = tmp_path / "seeds"
    shutil.copytree(BASE_SEEDS, seeds)
    path = seeds / "wire-2020-09-30" / "annotations.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "summary: Armenia denied the report.", "summary: Armenia denied the Azerbaijani report."
        ),
        encoding="utf-8",
    )
    (seeds / "changes.yaml").write_text(
        "changes:\n  - {table: statements, id: armenia-terter-denial, reason: Says whose report.}\n"
    )
    result = build_package(seeds, tmp_path / "next", package)
    assert result.changed
    sheet = (tmp_path / "next" / "README.md").read_text(encoding="utf-8")
    assert f"#### {result.version} (" in sheet and f"(version {result.version}," in sheet


def test_latest_changelog_entry():
    text = "# Changelog\n\nintro\n\n## 1.1.0 (2020-10-02)\n\nMinor release.\n\n## 1.0.0 (2020-10-01)\n\nFirst.\n"
    assert latest_changelog_entry(text) == "## 1.1.0 (2020-10-02)\n\nMinor release.\n"
    assert latest_changelog_entry("# Changelog\n") == ""


@pytest.fixture(scope="module")
def project_package(tmp_path_factory) -> Path:
    """The project's own seeds, published into a temporary folder."""
    out = tmp_path_factory.mktemp("project") / "package"
    build_package(ROOT / "seeds", out, None)
    return out


def summing_sql(sheet: str) -> str:
    """The SQL the datasheet gives for adding up casualty figures, as printed."""
    advice = sheet.split("**Adding up casualty figures.**", 1)[1]
    return advice.split("```sql\n", 1)[1].split("```", 1)[0]


OLD_ADVICE = """
select claimant_actor_id, sum(killed_low) as killed_low, sum(killed_high) as killed_high
from 'data/casualty_reports.parquet'
where not is_cumulative
group by claimant_actor_id;
"""


def per_claimant(package: Path, sql: str, monkeypatch) -> list[tuple]:
    monkeypatch.chdir(package)  # the datasheet's paths are relative to the package folder
    return sorted(duckdb.sql(sql).fetchall())


def test_the_summing_advice_leaves_out_background_and_aggregates(
    project_package: Path, monkeypatch
):
    sheet = (project_package / "README.md").read_text(encoding="utf-8")
    # The advice as printed: incidents only, one claimant at a time.
    assert per_claimant(project_package, summing_sql(sheet), monkeypatch) == [
        ("armenian-media", 3, 3),
        ("azerbaijani-prosecutors-office", 1, 1),
    ]
    # The old advice ("is_cumulative = false from one claimant") added both 30,000 tolls of the
    # 1990s war (background) to the 2020 figures.
    assert per_claimant(project_package, OLD_ADVICE, monkeypatch) == [
        ("armenian-media", 3, 3),
        ("azerbaijani-prosecutors-office", 1, 1),
        ("reuters", 30000, 30000),
        ("the-new-arab", 30000, 30000),
    ]
    # The aggregates' figures (the fighting since 27 September) are left out by both: they are
    # running totals, and their events are aggregates.
    left_out = duckdb.sql(
        "select c.report_id, e.scope, c.is_cumulative, c.killed_low, c.killed_high "
        "from 'data/casualty_reports.parquet' c "
        "left join 'data/events.parquet' e on e.event_id = c.event_id "
        "where e.scope is distinct from 'incident' order by c.report_id"
    ).fetchall()
    assert left_out == [
        ("le-drian-civilian-casualties-2020-10-07", None, True, None, None),
        ("new-arab-1990s-war-toll", "background", False, 30000, 30000),
        ("prosecutor-azeri-civilians-killed-cumulative-2020-09-30", "aggregate", True, 15, 15),
        ("reuters-1990s-war-toll", "background", False, 30000, 30000),
        ("reuters-fighting-toll-2020-09-30", "aggregate", True, 12, 99),
    ]


def test_the_datasheet_shows_each_source_note_and_the_scopes(project_package: Path):
    sheet = (project_package / "README.md").read_text(encoding="utf-8")
    sources = sheet.split("\n### Sources\n", 1)[1].split("\n### ", 1)[0]
    reuters = next(
        line for line in sources.splitlines() if line.startswith("| reuters-2020-09-30 |")
    )
    assert reuters.endswith(
        '| Publisher from the dateline "YREVAN / BAKOU (Reuters)". The text is a machine '
        'translation of a Reuters wire story (garbled dateline, "as part of a post security '
        'treaty. -Soviet"); evidence keeps its words. No address for the text is known. |'
    )
    assert "The text has no date line. It reports the day's events" in reuters
    assert (
        "This version holds 2 `aggregate`, 1 `background`, 16 `incident` events; the incidents' "
        "possible dates span 2020-09-27 to 2020-09-30." in sheet
    )
