"""Confinement of the package readers `diff` and `release`: they open only regular files inside the package
folder or archive they were given, read archives against stated limits before writing anything, and write
only their own output.

Each hostile path is refused with one located message, exit 2 for `diff` (the package cannot be read as
declared) and 1 for `release` (it refuses an invalid package); the outside file, which holds a recognisable
secret, is never opened, and conftest's tree() shows that nothing else changed. Archives (release zips and
the tar `git archive` streams) are built here at test time, small: a limit that would need gigabytes to
reach is lowered for the test instead.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.package import reader
from pipeline.release import members

from conftest import assert_refused as shared_assert_refused
from conftest import commit_package, git, tree

runner = CliRunner()
SECRET = "SECRET-7f3a9c"
LINK_REFUSED = (
    "is or passes through a symbolic link; only regular files inside the package are read"
)
NAME_HINT = (
    "lowercase letters, digits, '-', '.' and '_', starting with a letter or digit; it names the zip"
)


def assert_refused(result, code: int) -> None:
    shared_assert_refused(result, code, secret=SECRET)


@pytest.fixture
def world(tmp_path: Path, published_minimal: Path) -> tuple[Path, Path]:
    """A copy of the published package, and beside it a folder holding a secret the readers must not open."""
    package = tmp_path / "package"
    shutil.copytree(published_minimal, package)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text(f"event_id,summary\n{SECRET},{SECRET}\n")
    return package, outside


def set_events_path(package: Path, path: str) -> None:
    descriptor_path = package / "datapackage.json"
    descriptor = json.loads(descriptor_path.read_text())
    events = next(r for r in descriptor["resources"] if r["name"] == "events")
    events["path"] = path
    descriptor_path.write_text(json.dumps(descriptor, indent=2))


def make_hostile(kind: str, package: Path, outside: Path) -> tuple[str, Path | None]:
    """Point the events resource outside the package; returns what member_path says and, for the FIFO
    case, where the FIFO must be made (after the fingerprint: reading a FIFO would block tree())."""
    secret = outside / "secret.csv"
    events = package / "data" / "events.csv"
    if kind == "absolute":
        set_events_path(package, str(secret))
        return f"path '{secret}' is absolute; only files inside the package are read", None
    if kind == "dotdot":
        set_events_path(package, "../outside/secret.csv")
        return "path '../outside/secret.csv' leaves the package folder (..)", None
    if kind == "symlink":
        events.unlink()
        events.symlink_to(secret)
        return f"{events}: {LINK_REFUSED}", None
    if kind == "symlink-folder":
        (package / "linked").symlink_to(outside, target_is_directory=True)
        set_events_path(package, "linked/secret.csv")
        return f"{package}/linked/secret.csv: {LINK_REFUSED}", None
    if kind == "file-url":
        set_events_path(package, f"file://{secret}")
        return f"path 'file://{secret}' is a URL; only files inside the package are read", None
    if kind == "http-url":
        set_events_path(package, "http://127.0.0.1:9/secret.csv")
        return (
            "path 'http://127.0.0.1:9/secret.csv' is a URL; only files inside the package are read",
            None,
        )
    if kind == "fifo":
        events.unlink()
        return f"{events}: not a regular file (a folder, device or FIFO)", events
    if kind == "dev-zero":
        set_events_path(package, "/dev/zero")
        return "path '/dev/zero' is absolute; only files inside the package are read", None
    raise AssertionError(kind)


KINDS = [
    "absolute",
    "dotdot",
    "symlink",
    "symlink-folder",
    "file-url",
    "http-url",
    "fifo",
    "dev-zero",
]


def run_reader(reader: str, package: Path, published: Path, out: Path):
    if reader == "diff":
        return runner.invoke(app, ["diff", str(published), str(package)])
    return runner.invoke(app, ["release", "--package", str(package), "--out", str(out)])


def expected_output(reader: str, package: Path, message: str) -> tuple[int, str]:
    if reader == "diff":
        return 2, f"error: {package}: resource events: {message}\n"
    return (
        1,
        f"{package}/datapackage.json: resources/events: path: {message}\n1 problem(s) found.\n",
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reader", ["diff", "release"])
def test_reader_never_opens_a_path_leaving_the_package(
    reader: str, kind: str, world, tmp_path: Path, published_minimal: Path
):
    package, outside = world
    message, fifo = make_hostile(kind, package, outside)
    before = (tree(tmp_path), tree(published_minimal))
    if fifo is not None:
        os.mkfifo(fifo)
    result = run_reader(reader, package, published_minimal, tmp_path / "dist")
    code, output = expected_output(reader, package, message)
    assert_refused(result, code)
    assert result.output == output
    if fifo is not None:
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
        fifo.unlink()
    assert (tree(tmp_path), tree(published_minimal)) == before  # and no dist/ was made


# ---- release: the zip's name comes only from a checked name and version ----


def set_property(package: Path, key: str, value) -> None:
    descriptor_path = package / "datapackage.json"
    descriptor = json.loads(descriptor_path.read_text())
    descriptor[key] = value
    descriptor_path.write_text(json.dumps(descriptor, indent=2))


@pytest.mark.parametrize(
    "key, value, message, hint",
    [
        ("name", "./../../x", "'./../../x' is not a valid package name", NAME_HINT),
        ("name", "../x", "'../x' is not a valid package name", NAME_HINT),
        ("name", "a/b", "'a/b' is not a valid package name", NAME_HINT),
        ("name", ".hidden", "'.hidden' is not a valid package name", NAME_HINT),
        ("name", "Karabakh", "'Karabakh' is not a valid package name", NAME_HINT),
        ("name", "", "'' is not a valid package name", NAME_HINT),
        ("name", None, "missing; a release needs a package name", NAME_HINT),
        (
            "version",
            "1.0.0/../../../x",
            "'1.0.0/../../../x' is not a valid version",
            "a semantic version such as 1.0.0",
        ),
        ("version", 1, "1 is not a valid version", "a semantic version such as 1.0.0"),
        ("version", "1.0", "'1.0' is not a valid version", "a semantic version such as 1.0.0"),
    ],
)
def test_release_refuses_a_name_or_version_unfit_for_a_file_name(
    key: str, value, message: str, hint: str, world, tmp_path: Path
):
    package, _ = world
    set_property(package, key, value)
    if value is None:
        descriptor = json.loads((package / "datapackage.json").read_text())
        del descriptor[key]
        (package / "datapackage.json").write_text(json.dumps(descriptor))
    out = tmp_path / "a" / "b" / "dist"
    before = tree(tmp_path)
    result = runner.invoke(app, ["release", "--package", str(package), "--out", str(out)])
    assert_refused(result, 1)
    assert (
        result.output
        == f"{package}/datapackage.json: {key}: {message} ({hint})\n1 problem(s) found.\n"
    )
    assert tree(tmp_path) == before


def test_release_accepts_a_prerelease_version_and_writes_only_its_files(world, tmp_path: Path):
    package, _ = world
    set_property(package, "version", "1.0.0-rc.1+build.5")
    out = tmp_path / "dist"
    out.mkdir()
    (out / "keep.txt").write_text("not ours\n")
    before = tree(tmp_path)
    result = runner.invoke(app, ["release", "--package", str(package), "--out", str(out)])
    assert result.exit_code == 0, result.output
    name = "karabakh-2020-news-events-1.0.0-rc.1+build.5.zip"
    after = tree(tmp_path)
    assert sorted(set(after) - set(before)) == [f"dist/{name}", f"dist/{name}.sha256"]
    assert {k: v for k, v in after.items() if k in before} == before
    assert stat.S_IMODE((out / name).stat().st_mode) == 0o644


def test_release_zips_only_declared_files_never_a_link(world, tmp_path: Path):
    package, outside = world
    (package / "README.md").unlink()
    (package / "README.md").symlink_to(outside / "secret.csv")
    before = tree(tmp_path)
    result = runner.invoke(
        app, ["release", "--package", str(package), "--out", str(tmp_path / "dist")]
    )
    assert_refused(result, 1)
    assert result.output == (
        f"{package}/README.md: not a regular file (a symbolic link, folder, device or FIFO); "
        "only regular files inside the package are zipped (replace it with the file itself "
        "or remove it)\n1 problem(s) found.\n"
    )
    assert tree(tmp_path) == before


def test_release_members_are_the_declared_files(world):
    package, _ = world
    (package / "README.md").unlink()
    (package / "data" / "notes.txt").write_text("draft\n")
    descriptor = json.loads((package / "datapackage.json").read_text())
    declared = {r["path"] for r in descriptor["resources"]} | {
        r["parquet"]["path"] for r in descriptor["resources"]
    }
    catalogue = {".zenodo.json", "CITATION.cff", "croissant.json"}
    extra = {"CHANGELOG.md", "datapackage.json", "load.R", "releases/0.1.0.json"}
    assert members(package, descriptor) == sorted(declared | catalogue | extra)


def test_release_never_writes_through_a_link_planted_in_out(world, tmp_path: Path):
    """Links where the checksum goes, and at the temporary name a release once used, are replaced, not followed."""
    package, outside = world
    out = tmp_path / "dist"
    out.mkdir()
    name = "karabakh-2020-news-events-0.1.0.zip"
    for planted in (f"{name}.sha256", f".{name}.tmp-{os.getpid()}"):
        (out / planted).symlink_to(outside / "secret.csv")
    before = tree(outside)
    result = runner.invoke(app, ["release", "--package", str(package), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert tree(outside) == before
    assert not (out / f"{name}.sha256").is_symlink() and (
        out / f"{name}.sha256"
    ).read_text().endswith(f"  {name}\n")


@pytest.mark.parametrize("reader, code", [("diff", 2), ("release", 1)])
def test_a_deeply_nested_descriptor_is_refused(
    reader: str, code: int, world, tmp_path: Path, published_minimal: Path
):
    package, _ = world
    (package / "datapackage.json").write_text("[" * 100_000 + "]" * 100_000)
    before = tree(tmp_path)
    result = run_reader(reader, package, published_minimal, tmp_path / "dist")
    assert_refused(result, code)
    assert result.output == f"error: {package}/datapackage.json: nested deeper than 32 levels\n"
    assert tree(tmp_path) == before


# ---- archives: limits read from the central directory, then enforced while unpacking ----


def zip_of(path: Path, package: Path, extra: list[tuple[zipfile.ZipInfo, bytes]]) -> Path:
    """A zip of the package's descriptor and events table plus the `extra` members."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(package / "datapackage.json", "datapackage.json")
        archive.write(package / "data" / "events.csv", "data/events.csv")
        for info, data in extra:
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return path


def member(name: str, kind: int = stat.S_IFREG | 0o644) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = kind << 16
    return info


def hostile_zip(case: str, folder: Path, package: Path) -> tuple[Path, str]:
    path = folder / f"{case}.zip"
    if case == "bomb":  # 20 MiB of zeros deflate to ~20 kB
        zip_of(path, package, [(member("data/zeros.csv"), bytes(20 * 2**20))])
        with zipfile.ZipFile(path) as archive:  # the ratio is zlib's: about 1030
            ratio = (
                archive.getinfo("data/zeros.csv").file_size
                // archive.getinfo("data/zeros.csv").compress_size
            )
        assert ratio > 1000
        return path, f"member data/zeros.csv expands {ratio} times when unpacked (limit 100)"
    if case == "many-members":
        return zip_of(
            path, package, [(member(f"data/m{i}.csv"), b"") for i in range(1000)]
        ), "holds 1002 members (limit 1000)"
    if case == "symlink-member":
        return zip_of(
            path, package, [(member("data/places.csv", stat.S_IFLNK | 0o777), b"/etc/passwd")]
        ), "member data/places.csv is a symbolic link (only regular files and folders are unpacked)"
    if case == "device-member":
        return (
            zip_of(path, package, [(member("data/places.csv", stat.S_IFCHR | 0o644), b"")]),
            "member data/places.csv is a link, device or FIFO (only regular files and folders are unpacked)",
        )
    if case == "listed-twice":
        return zip_of(
            path, package, [(member("data/./events.csv"), b"event_id\n")]
        ), "member data/events.csv is listed twice"
    if case == "absolute-member":
        return (
            zip_of(path, package, [(member("/tmp/x.csv"), b"x")]),
            "unsafe path in archive: '/tmp/x.csv' is absolute; only files inside the package are read",
        )
    if case == "dotdot-member":
        return zip_of(
            path, package, [(member("data/../../x.csv"), b"x")]
        ), "unsafe path in archive: 'data/../../x.csv' leaves the package folder (..)"
    raise AssertionError(case)


ZIP_CASES = [
    "bomb",
    "many-members",
    "symlink-member",
    "device-member",
    "listed-twice",
    "absolute-member",
    "dotdot-member",
]


def refuse_writes(monkeypatch) -> None:
    """Make any member written to disk fail the test: these zips must be refused before unpacking."""

    def written(*args, **kwargs):
        raise AssertionError("a member was unpacked")

    monkeypatch.setattr(reader, "_write_member", written)


@pytest.mark.parametrize("case", ZIP_CASES)
@pytest.mark.parametrize("reader", ["diff", "validate"])
def test_a_hostile_zip_is_refused_before_anything_is_unpacked(
    reader: str, case: str, world, tmp_path: Path, monkeypatch
):
    package, _ = world
    archive, message = hostile_zip(case, tmp_path, package)
    refuse_writes(monkeypatch)
    before = tree(tmp_path)
    if reader == "diff":
        result = runner.invoke(app, ["diff", str(archive), str(package)])
        assert_refused(result, 2)
        assert result.output == f"error: {archive}: {message}\n"
    else:
        result = runner.invoke(app, ["validate", str(archive)])
        assert_refused(result, 2)
        lines = result.output.splitlines()
        assert (
            len(lines) == 2
            and lines[0].endswith(f": {archive}: {message}")
            and lines[1] == "1 error(s) found."
        )
    assert tree(tmp_path) == before


def lying_zip(path: Path, package: Path) -> Path:
    """The central directory says 10 bytes; the member holds 20 MiB."""
    zip_of(path, package, [(member("data/zeros.csv"), bytes(20 * 2**20))])
    data = bytearray(path.read_bytes())
    entry = data.rfind(b"PK\x01\x02")  # the last central directory entry: data/zeros.csv
    data[entry + 24 : entry + 28] = (10).to_bytes(4, "little")  # its uncompressed size
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    "case, message",
    [
        (
            "lying-size",
            "not a readable zip (Bad CRC-32 for file 'data/zeros.csv')",
        ),  # the copy stopped at byte 10
        (
            "file-over-folder",
            "member data clashes with another member (listed twice, or a file where a folder "
            "is needed)",
        ),
    ],
)
def test_a_zip_is_checked_again_while_unpacking(case: str, message: str, world, tmp_path: Path):
    package, _ = world
    if case == "lying-size":
        archive = lying_zip(tmp_path / "liar.zip", package)
    else:
        archive = zip_of(tmp_path / "clash.zip", package, [(member("data"), b"x")])
    before = tree(tmp_path)
    result = runner.invoke(app, ["diff", str(archive), str(package)])
    assert_refused(result, 2)
    assert result.output == f"error: {archive}: {message}\n"
    assert tree(tmp_path) == before


def test_zip_size_limits(world, tmp_path: Path, monkeypatch):
    package, _ = world
    archive = zip_of(tmp_path / "big.zip", package, [(member("data/big.csv"), os.urandom(100_001))])
    refuse_writes(monkeypatch)
    monkeypatch.setattr(reader, "MAX_MEMBER_BYTES", 100_000)
    result = runner.invoke(app, ["diff", str(archive), str(package)])
    assert_refused(result, 2)
    assert result.output == (
        f"error: {archive}: member data/big.csv is 100001 bytes uncompressed "
        "(limit 100000 bytes per member)\n"
    )
    monkeypatch.setattr(reader, "MAX_MEMBER_BYTES", 2 * 2**30)
    monkeypatch.setattr(reader, "MAX_TOTAL_BYTES", 120_000)
    with zipfile.ZipFile(archive) as opened:
        total = sum(info.file_size for info in opened.infolist())
    assert 120_000 < total < 2**20
    result = runner.invoke(app, ["diff", str(archive), str(package)])
    assert_refused(result, 2)
    assert (
        result.output
        == f"error: {archive}: {total} bytes uncompressed in all (limit 120000 bytes)\n"
    )


def test_zip_central_directory_size_is_read_from_the_end_record(world, tmp_path: Path, monkeypatch):
    package, _ = world
    archive = zip_of(tmp_path / "names.zip", package, [(member("data/" + "n" * 200 + ".csv"), b"")])
    size = int.from_bytes(
        archive.read_bytes()[-22:][12:16], "little"
    )  # the end record: central directory size
    assert 200 < size < 1000
    refuse_writes(monkeypatch)
    monkeypatch.setattr(reader, "MAX_CENTRAL_DIRECTORY_BYTES", 200)
    result = runner.invoke(app, ["diff", str(archive), str(package)])
    assert_refused(result, 2)
    assert result.output == f"error: {archive}: central directory of {size} bytes (limit 200)\n"


# ---- git revisions: never an option, and their archives under the same limits ----


@pytest.fixture
def repo(tmp_path: Path, published_minimal: Path, monkeypatch) -> Path:
    """A repository with the package committed as datapackage/, as the working folder."""
    folder = commit_package(tmp_path / "repo", published_minimal)
    monkeypatch.chdir(folder)
    return folder


@pytest.mark.parametrize(
    "spec, message",
    [
        (
            "git:--output=x",
            "a revision cannot start with '-' (give a commit, branch or tag, e.g. git:HEAD)",
        ),
        (
            "git:--remote=../elsewhere",
            "a revision cannot start with '-' (give a commit, branch or tag, e.g. git:HEAD)",
        ),
        ("git:HEAD --output=x", "a revision holds no spaces or control characters (e.g. git:HEAD)"),
        ("git:HEAD\n", "a revision holds no spaces or control characters (e.g. git:HEAD)"),
        ("git:HEAD:../outside", "folder '../outside' leaves the package folder (..)"),
        ("git:HEAD:~root", "folder '~root' is absolute; only files inside the package are read"),
    ],
)
def test_a_git_revision_never_reaches_git_as_an_option(
    spec: str, message: str, repo: Path, tmp_path: Path
):
    before = tree(tmp_path)
    result = runner.invoke(app, ["diff", spec, "datapackage"])
    assert_refused(result, 2)
    shown = spec.replace("\n", "\\n")  # the terminal sees the line break as an escape
    assert result.output == f"error: {shown}: {message}\n"
    assert tree(tmp_path) == before  # git was never run: no file x:datapackage


def test_a_link_committed_in_the_package_is_refused(repo: Path, tmp_path: Path):
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "places.csv").write_text(f"place_id\n{SECRET}\n")
    places = repo / "datapackage" / "data" / "places.csv"
    places.unlink()
    places.symlink_to("../../../outside/places.csv")
    git(repo, "commit", "-q", "-a", "-m", "link")
    before = tree(tmp_path)
    result = runner.invoke(app, ["diff", "git:HEAD", "git:HEAD~1"])
    assert_refused(result, 2)
    assert result.output == (
        "error: git:HEAD: member data/places.csv is a symbolic link "
        "(only regular files and folders are unpacked)\n"
    )
    assert tree(tmp_path) == before


def test_git_archives_are_held_to_the_archive_limits(repo: Path, tmp_path: Path, monkeypatch):
    readme = (repo / "datapackage" / "README.md").stat().st_size
    # git archive sends these (in byte order) before README.md
    first = [
        (repo / "datapackage" / name).stat().st_size
        for name in (".zenodo.json", "CHANGELOG.md", "CITATION.cff")
    ]
    limit = max(first) + 1
    assert limit < readme < 2**20 and sum(first) < readme
    refuse = [
        ("MAX_MEMBERS", 2, "holds more than 2 members (limit 2)"),
        (
            "MAX_MEMBER_BYTES",
            limit,
            f"member README.md is {readme} bytes uncompressed (limit {limit} bytes per member)",
        ),
        (
            "MAX_TOTAL_BYTES",
            readme,
            f"{readme + sum(first)} bytes uncompressed in all by member README.md "
            f"(limit {readme} bytes)",
        ),
    ]
    before = tree(tmp_path)
    for limit, value, message in refuse:
        with monkeypatch.context() as patched:
            patched.setattr(reader, limit, value)
            result = runner.invoke(app, ["diff", "git:HEAD", "datapackage"])
        assert_refused(result, 2)
        assert result.output == f"error: git:HEAD: {message}\n"
    assert tree(tmp_path) == before
    assert runner.invoke(app, ["diff", "git:HEAD", "datapackage"]).exit_code == 0
