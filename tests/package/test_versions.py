"""Versions: the diff between packages, the bump it requires, publish --dry-run/--bump, release zips."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.package import versions
from pipeline.package.diff import diff_packages
from pipeline.package.reader import PackageError, open_package
from pipeline.release import build_release

from conftest import (
    PUBLISHED_EPOCH,
    ROOT,
    commit_package,
    copy_package,
    edit_descriptor,
    installed,
    tree,
)

runner = CliRunner()
EPOCH = PUBLISHED_EPOCH  # 2020-09-30T00:00:00Z


# ---- a published package and edited copies of it ----


@pytest.fixture
def package(minimal_seeds: Path, tmp_path: Path, published_minimal: Path, monkeypatch) -> Path:
    """Version 0.1.0 of the minimal seeds in tmp_path/v1, beside them; publishes here are dated
    as it is."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    return copy_package(published_minimal, tmp_path / "v1")


def copy_of(package: Path, name: str = "v2") -> Path:
    return Path(shutil.copytree(package, package.parent / name))


def edit_rows(folder: Path, table: str, change) -> None:
    path = folder / "data" / f"{table}.csv"
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header, rows = list(reader.fieldnames), list(reader)
    header, rows = change(header, rows)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, header, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def resource(descriptor: dict, name: str) -> dict:
    return next(r for r in descriptor["resources"] if r["name"] == name)


def field(descriptor: dict, table: str, name: str) -> dict:
    return next(f for f in resource(descriptor, table)["schema"]["fields"] if f["name"] == name)


def add_actor(header, rows):
    return header, rows + [
        dict.fromkeys(header, "") | {"actor_id": "osce", "name": "OSCE", "actor_type": "igo"}
    ]


def correct_place(header, rows):
    rows[0]["name"] = "Tartar"
    return header, rows


def drop_place(header, rows):
    return header, []


def drop_note(header, rows):
    return [h for h in header if h != "note"], rows


# ---- the bump each kind of change requires ----


def test_identical_packages_need_no_bump(package: Path):
    other = copy_of(package)
    assert versions.required_bump(package, other) is None
    result = runner.invoke(app, ["diff", str(package), str(other)])
    assert result.exit_code == 0
    assert (
        result.output
        == f"--- {package} (version 0.1.0)\n+++ {other} (version 0.1.0)\nno differences\n"
    )


def test_added_rows_are_minor(package: Path):
    other = copy_of(package)
    edit_rows(other, "actors", add_actor)
    assert versions.required_bump(package, other) == "minor"
    result = runner.invoke(app, ["diff", str(package), str(other)])
    assert result.exit_code == 1
    assert result.output == (
        f"--- {package} (version 0.1.0)\n+++ {other} (version 0.1.0)\n"
        "rows:\n  actors: 1 added, 0 removed, 0 changed\n    + osce\nrequired bump: minor\n"
    )


def test_corrected_value_is_patch(package: Path):
    other = copy_of(package)
    edit_rows(other, "places", correct_place)
    assert versions.required_bump(package, other) == "patch"
    result = runner.invoke(app, ["diff", "--json", str(package), str(other)])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["bump"] == "patch" and report["changes"] == []
    assert report["tables"] == {
        "places": {
            "key": ["place_id"],
            "added": [],
            "removed": [],
            "changed": {"terter": {"name": {"old": "Terter", "new": "Tartar"}}},
        }
    }


def test_deleted_referenced_row_is_major(package: Path):
    other = copy_of(package)
    edit_rows(other, "places", drop_place)
    assert versions.required_bump(package, other) == "major"
    assert "    - terter\n" in runner.invoke(app, ["diff", str(package), str(other)]).output


def test_removed_field_is_major(package: Path):
    other = copy_of(package)
    edit_rows(other, "places", drop_note)
    edit_descriptor(other, lambda d: resource(d, "places")["schema"]["fields"].pop())
    assert versions.required_bump(package, other) == "major"
    result = runner.invoke(app, ["diff", str(package), str(other)])
    assert result.exit_code == 1
    assert "schema and metadata:\n  major  places: field note removed\n" in result.output


def test_added_field_is_major(package: Path):
    other = copy_of(package)
    edit_descriptor(
        other,
        lambda d: resource(d, "places")["schema"]["fields"].append(
            {"name": "alt", "type": "number"}
        ),
    )
    assert [c.message for c in diff_packages(package, other).changes] == ["field alt added"]
    assert versions.required_bump(package, other) == "major"


def test_retyped_field_is_major(package: Path):
    other = copy_of(package)
    edit_descriptor(other, lambda d: field(d, "places", "geo_precision").update(type="string"))
    changes = diff_packages(package, other).changes
    assert [(c.level, c.where, c.message) for c in changes] == [
        ("major", "places", "field geo_precision: retyped integer -> string")
    ]


def test_renamed_and_reordered_fields_are_major(package: Path):
    other = copy_of(package)
    edit_descriptor(other, lambda d: field(d, "places", "note").update(name="remark"))
    assert [c.message for c in diff_packages(package, other).changes] == [
        "field note renamed to remark"
    ]
    third = copy_of(package, "v3")
    fields = lambda d: resource(d, "places")["schema"]["fields"]  # noqa: E731
    edit_descriptor(third, lambda d: fields(d).insert(0, fields(d).pop(1)))
    assert [c.message for c in diff_packages(package, third).changes] == [
        "fields reordered: place_id, name, country, admin1, latitude, longitude, geo_precision, note -> "
        "name, place_id, country, admin1, latitude, longitude, geo_precision, note"
    ]
    assert versions.required_bump(package, third) == "major"


@pytest.mark.parametrize(
    "change, level, message",
    [
        (
            lambda f: f["constraints"].update(enum=[1, 2, 3]),
            "major",
            "field geo_precision: constraint enum [1, 2, 3, 4, 5, 6, 7] -> [1, 2, 3] (tightened)",
        ),
        (
            lambda f: f["constraints"].update(enum=[1, 2, 3, 4, 5, 6, 7, 8]),
            "minor",
            "field geo_precision: constraint enum [1, 2, 3, 4, 5, 6, 7] -> [1, 2, 3, 4, 5, 6, 7, 8] (loosened)",
        ),
        (
            lambda f: f["constraints"].update(maximum=5),
            "major",
            "field geo_precision: constraint maximum added: 5 (tightened)",
        ),
        (
            lambda f: f["constraints"].pop("required"),
            "minor",
            "field geo_precision: constraint required true -> false (loosened)",
        ),
    ],
)
def test_constraints_tightened_are_major_loosened_minor(package: Path, change, level, message):
    other = copy_of(package)
    edit_descriptor(other, lambda d: change(field(d, "places", "geo_precision")))
    assert [(c.level, c.message) for c in diff_packages(package, other).changes] == [
        (level, message)
    ]
    assert versions.required_bump(package, other) == level


def test_maximum_lowered_is_major_raised_is_minor(package: Path):
    lowered, raised = copy_of(package, "lowered"), copy_of(package, "raised")
    edit_descriptor(
        lowered, lambda d: field(d, "places", "latitude")["constraints"].update(maximum=80)
    )
    edit_descriptor(
        raised, lambda d: field(d, "places", "latitude")["constraints"].update(maximum=95)
    )
    assert versions.required_bump(package, lowered) == "major"
    assert versions.required_bump(package, raised) == "minor"


def test_required_added_and_primary_key_changed_are_major(package: Path):
    other = copy_of(package)
    edit_descriptor(
        other, lambda d: field(d, "places", "note").update(constraints={"required": True})
    )
    assert versions.required_bump(package, other) == "major"
    keyed = copy_of(package, "keyed")
    edit_descriptor(keyed, lambda d: resource(d, "places")["schema"].update(primaryKey=["name"]))
    assert [c.message for c in diff_packages(package, keyed).changes] == [
        'primary key ["place_id"] -> ["name"]'
    ]


def test_description_only_is_patch(package: Path):
    other = copy_of(package)
    edit_descriptor(other, lambda d: d.update(description="Better words."))
    edit_descriptor(other, lambda d: field(d, "places", "note").update(description="Better words."))
    result = runner.invoke(app, ["diff", str(package), str(other)])
    assert result.exit_code == 1
    assert result.output.splitlines()[2:] == [
        "schema and metadata:",
        "  patch  package: description changed",
        "  patch  places: field note: description changed",
        "required bump: patch",
    ]


def test_new_resource_is_minor_removed_or_renamed_is_major(package: Path):
    added = copy_of(package, "added")
    edit_descriptor(
        added,
        lambda d: d["resources"].append(
            {
                **resource(d, "places"),
                "name": "sites",
                "schema": {"fields": [{"name": "x", "type": "string"}]},
            }
        ),
    )
    assert versions.required_bump(package, added) == "minor"
    renamed = copy_of(package, "renamed")
    edit_descriptor(renamed, lambda d: resource(d, "evidence").update(name="spans"))
    assert [c.message for c in diff_packages(package, renamed).changes] == [
        "resource evidence renamed to spans"
    ]
    removed = copy_of(package, "removed")
    edit_descriptor(removed, lambda d: d["resources"].remove(resource(d, "evidence")))
    assert [(c.level, c.message) for c in diff_packages(package, removed).changes] == [
        ("major", "resource evidence removed")
    ]


def test_changelog_lists_ids(package: Path):
    other = copy_of(package)
    edit_rows(other, "actors", add_actor)
    edit_rows(other, "places", correct_place)
    edit_rows(other, "statements", lambda h, rows: (h, rows[1:]))
    changes = versions.diff_published(package, other)
    entry = versions.changelog_entry(changes, "1.0.0", "major", "2020-10-01T00:00:00Z")
    assert entry == (
        "## 1.0.0 (2020-10-01)\n\nMajor release.\n\n"
        "- actors: added `osce`\n"
        "- places: corrected `terter` (name)\n"
        "- statements: removed `armenia-terter-denial`\n"
    )
    lineage = [
        {"table_name": "actors", "record_id": "osce", "reason": "Named in the text."},
        {"table_name": "places", "record_id": "terter", "reason": "The text's\n spelling."},
    ]
    entry = versions.changelog_entry(
        changes, "1.0.0", "major", "2020-10-01T00:00:00Z", lineage=lineage
    )
    assert entry.splitlines()[4:6] == [
        "- actors: added `osce`: Named in the text.",
        "- places: corrected `terter` (name): The text's spelling.",
    ]


# ---- publish: derived bump, --bump override, --dry-run ----


def annotations(seeds: Path) -> Path:
    return seeds / "wire-2020-09-30" / "annotations.yaml"


def give_reason(seeds: Path, table: str, ident: str, reason: str) -> None:
    with open(seeds / "changes.yaml", "a", encoding="utf-8") as handle:
        if handle.tell() == 0:
            handle.write("changes:\n")
        handle.write(f"  - table: {table}\n    id: {ident}\n    reason: {reason}\n")


def correct_summary(seeds: Path) -> None:
    path = annotations(seeds)
    path.write_text(
        path.read_text().replace(
            "summary: Armenia denied the report.", "summary: Armenia denied it."
        )
    )
    give_reason(seeds, "statements", "armenia-terter-denial", "Shorter summary.")


def add_convention(seeds: Path) -> None:
    path = seeds / "count_conventions.yaml"
    path.write_text(
        path.read_text() + "  - term: several\n    phrase: several\n    low: 3\n    high: 9\n"
        "    basis: Three at least, fewer than ten.\n"
    )
    give_reason(seeds, "count_conventions", "several", "Used by a new report.")


def publish_cli(seeds: Path, out: Path, *options: str):
    return runner.invoke(app, ["publish", "--seeds", str(seeds), "--out", str(out), *options])


def test_publish_derives_patch_and_records_it(package: Path, minimal_seeds: Path):
    correct_summary(minimal_seeds)
    result = publish_cli(minimal_seeds, package)
    assert result.exit_code == 0, result.output
    assert result.output == f"published {package} version 0.1.1 (patch release)\n"
    assert (package / "CHANGELOG.md").read_text() == (
        "# Changelog\n\nEvery published version of the package, newest first.\n\n"
        "## 0.1.1 (2020-09-30)\n\nPatch release.\n\n"
        "- statements: corrected `armenia-terter-denial` (summary): Shorter summary.\n\n"
        "## 0.1.0 (2020-09-30)\n\nFirst publication of the package.\n"
    )


def test_publish_added_rows_is_minor(package: Path, minimal_seeds: Path):
    add_convention(minimal_seeds)
    assert (
        publish_cli(minimal_seeds, package).output
        == f"published {package} version 0.2.0 (minor release)\n"
    )
    changelog = (package / "CHANGELOG.md").read_text()
    assert "- count_conventions: added `several`: Used by a new report.\n" in changelog


def test_bump_override_raises_the_level(package: Path, minimal_seeds: Path):
    correct_summary(minimal_seeds)
    result = publish_cli(minimal_seeds, package, "--bump", "major")
    assert result.exit_code == 0, result.output
    assert result.output == f"published {package} version 1.0.0 (major release)\n"
    assert (
        "## 1.0.0 (2020-09-30)\n\nMajor release. Raised with --bump major; the changes alone need patch.\n"
        in (package / "CHANGELOG.md").read_text()
    )


def test_bump_major_promotes_an_unchanged_package_to_1_0_0(package: Path, minimal_seeds: Path):
    result = publish_cli(minimal_seeds, package, "--bump", "major")
    assert result.output == f"published {package} version 1.0.0 (major release)\n"
    assert versions.read_published(package)["version"] == "1.0.0"


def test_first_publish_is_0_1_0_or_1_0_0_with_bump_major(minimal_seeds: Path, tmp_path: Path):
    assert (
        publish_cli(minimal_seeds, tmp_path / "a").output
        == f"published {tmp_path / 'a'} version 0.1.0\n"
    )
    assert (
        publish_cli(minimal_seeds, tmp_path / "b", "--bump", "major").output
        == f"published {tmp_path / 'b'} version 1.0.0\n"
    )


def test_bump_override_refuses_to_lower(package: Path, minimal_seeds: Path):
    add_convention(minimal_seeds)
    before = tree(package)
    result = publish_cli(minimal_seeds, package, "--bump", "patch")
    assert result.exit_code == 2
    assert result.output == (
        "error: --bump patch is lower than the minor bump the changes require; "
        "use --bump minor or higher, or leave --bump out\n"
    )
    assert tree(package) == before
    assert sorted(p.name for p in package.parent.iterdir()) == ["seeds", "v1"]


def test_bump_must_be_a_level(package: Path, minimal_seeds: Path):
    result = publish_cli(minimal_seeds, package, "--bump", "huge")
    assert result.exit_code == 2
    assert result.output == "error: --bump must be major, minor or patch, not 'huge'\n"


def test_dry_run_prints_diff_and_bump_and_writes_nothing(package: Path, minimal_seeds: Path):
    correct_summary(minimal_seeds)
    before = tree(package.parent)
    result = publish_cli(minimal_seeds, package, "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"--- {package} (version 0.1.0)\n+++ build of {minimal_seeds} (version 0.1.1)\nrows:\n"
        "  statements: 0 added, 0 removed, 1 changed\n"
        '    ~ armenia-terter-denial: summary: "Armenia denied the report." -> "Armenia denied it."\n'
        "required bump: patch\n"
        "reasons:\n"
        "  statements/armenia-terter-denial: corrected (summary): Shorter summary.\n"
        f"dry run: would publish {package} version 0.1.1 (patch release); nothing written\n"
    )
    assert tree(package.parent) == before


def test_dry_run_of_a_first_publish_writes_nothing(minimal_seeds: Path, tmp_path: Path):
    before = tree(tmp_path)
    result = publish_cli(minimal_seeds, tmp_path / "out", "--dry-run")
    assert result.output == (
        f"no package published in {tmp_path / 'out'} yet\n"
        f"dry run: would publish {tmp_path / 'out'} version 0.1.0; nothing written\n"
    )
    assert tree(tmp_path) == before


def test_dry_run_of_unchanged_inputs(package: Path, minimal_seeds: Path):
    result = publish_cli(minimal_seeds, package, "--dry-run")
    assert result.exit_code == 0
    assert result.output.splitlines()[-2:] == [
        "no differences",
        f"dry run: {package} would stay at version 0.1.0; nothing written",
    ]


# ---- reproducibility ----


def test_publish_is_byte_identical_across_environments(minimal_seeds: Path, tmp_path: Path):
    pipeline = installed("pipeline")
    outs = []
    for name, tz, lang, seed in (
        ("a", "UTC", "C.UTF-8", "0"),
        ("b", "Asia/Baku", "hy_AM.UTF-8", "4242"),
    ):
        cwd = tmp_path / f"cwd-{name}"
        cwd.mkdir()
        env = {
            **os.environ,
            "SOURCE_DATE_EPOCH": EPOCH,
            "TZ": tz,
            "LANG": lang,
            "LC_ALL": lang,
            "PYTHONHASHSEED": seed,
        }
        out = tmp_path / f"out-{name}" / "datapackage"
        done = subprocess.run(
            [str(pipeline), "publish", "--seeds", str(minimal_seeds), "--out", str(out)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        outs.append(out)
    assert tree(outs[0]) == tree(outs[1])
    assert len([p for p in outs[0].rglob("*") if p.is_file()]) >= 18


# ---- release zips and reading packages ----


def test_release_zip_is_reproducible_and_readable(package: Path, tmp_path: Path):
    first = runner.invoke(
        app, ["release", "--package", str(package), "--out", str(tmp_path / "dist1")]
    )
    assert first.exit_code == 0, first.output
    for path in package.rglob("*"):
        os.utime(path, (0, 2_000_000_000))  # file times must not matter
    second = build_release(package, tmp_path / "dist2")
    name = "karabakh-2020-news-events-0.1.0.zip"
    zip1 = tmp_path / "dist1" / name
    assert zip1.read_bytes() == second.archive.read_bytes()
    assert first.output == f"wrote {zip1} and {zip1}.sha256 (sha256 {second.sha256})\n"
    assert (tmp_path / "dist1" / f"{name}.sha256").read_text() == f"{second.sha256}  {name}\n"
    with zipfile.ZipFile(zip1) as archive:
        names = archive.namelist()
        infos = archive.infolist()
    assert names == sorted(names)
    assert names[:5] == [
        ".zenodo.json",
        "CHANGELOG.md",
        "CITATION.cff",
        "README.md",
        "croissant.json",
    ]
    assert names[-3:] == ["datapackage.json", "load.R", "releases/0.1.0.json"]
    assert len(names) == 26
    assert {(i.date_time, i.external_attr >> 16, i.compress_type) for i in infos} == {
        ((2020, 9, 30, 0, 0, 0), 0o100644, zipfile.ZIP_DEFLATED)
    }
    result = runner.invoke(app, ["diff", str(zip1), str(package / "datapackage.json")])
    assert result.exit_code == 0, result.output


def test_release_refuses_a_missing_or_tampered_package(package: Path, tmp_path: Path):
    result = runner.invoke(
        app, ["release", "--package", str(tmp_path / "absent"), "--out", str(tmp_path / "dist")]
    )
    assert result.exit_code == 1
    assert (
        result.output
        == f"error: {tmp_path / 'absent'}: no datapackage.json; run 'pipeline publish' first\n"
    )
    with open(package / "data" / "actors.csv", "a") as handle:
        handle.write("x,X,state,,,,,\n")
    result = runner.invoke(
        app, ["release", "--package", str(package), "--out", str(tmp_path / "dist")]
    )
    assert result.exit_code == 1
    assert result.output.splitlines()[0].startswith(
        f"{package / 'data' / 'actors.csv'}: actors: hash-count: The data source does not match the expected hash"
    )
    assert not (tmp_path / "dist").exists() or not any((tmp_path / "dist").iterdir())


def test_open_package_forms_and_errors(package: Path, tmp_path: Path):
    with open_package(package) as folder:
        assert folder == package
    with open_package(package / "datapackage.json") as folder:
        assert folder == package
    archive = build_release(package, tmp_path / "dist").archive
    with open_package(archive) as folder:
        assert (folder / "data" / "events.csv").read_bytes() == (
            package / "data" / "events.csv"
        ).read_bytes()
    assert not folder.exists()
    for spec, message in (
        (tmp_path / "absent", "no such file or folder"),
        (package / "data", "no datapackage.json in this folder"),
        (
            package / "CHANGELOG.md",
            "not a package (expected a folder, a datapackage.json or a release zip)",
        ),
    ):
        with pytest.raises(
            PackageError, match=r"^.*: " + message.replace("(", r"\(").replace(")", r"\)") + "$"
        ):
            with open_package(spec):
                pass


def test_diff_usage_errors_exit_2(package: Path, tmp_path: Path):
    assert runner.invoke(app, ["diff", str(package)]).exit_code == 2
    result = runner.invoke(app, ["diff", str(tmp_path / "absent"), str(package)])
    assert result.exit_code == 2
    assert result.output == f"error: {tmp_path / 'absent'}: no such file or folder\n"
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip: no descriptor inside
    result = runner.invoke(app, ["diff", str(bad), str(package)])
    assert (result.exit_code, result.output) == (2, f"error: {bad}: no datapackage.json inside\n")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "datapackage.json").write_text(
        '{"resources": [{"name": "x", "schema": {"fields": [{}]}}]}'
    )
    result = runner.invoke(app, ["diff", str(broken), str(broken)])
    assert (result.exit_code, result.output) == (
        2,
        f"error: {broken} or {broken}: malformed descriptor (KeyError: 'name')\n",
    )


def test_diff_reads_git_revisions(package: Path, tmp_path: Path, monkeypatch):
    repo = commit_package(tmp_path / "repo", package)
    edit_rows(repo / "datapackage", "actors", add_actor)
    monkeypatch.chdir(repo)
    result = runner.invoke(app, ["diff", "git:HEAD", "datapackage"])
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[0] == "--- git:HEAD (version 0.1.0)"
    assert "    + osce\n" in result.output
    assert runner.invoke(app, ["diff", "git:HEAD", "git:HEAD:datapackage"]).exit_code == 0
    missing = runner.invoke(app, ["diff", "git:HEAD:nothing", "datapackage"])
    assert missing.exit_code == 2
    assert missing.output.startswith(
        "error: git:HEAD:nothing: no package nothing/ at revision HEAD"
    )


def test_diff_committed_package_in_this_repository(monkeypatch):
    committed = subprocess.run(
        ["git", "rev-parse", "HEAD:datapackage/datapackage.json"], cwd=ROOT, capture_output=True
    )
    assert committed.returncode == 0, "datapackage/ is committed"
    monkeypatch.chdir(ROOT)
    result = runner.invoke(app, ["diff", "git:HEAD", "datapackage"])
    assert result.exit_code in (0, 1), result.output
    assert result.output.startswith("--- git:HEAD (version ")
