"""The one reader of a package: descriptors bounded in size and depth, member paths confined to the package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.package.reader import PackageError, member_path, open_member, read_descriptor


@pytest.fixture
def package(tmp_path: Path) -> Path:
    folder = tmp_path / "package"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "a.csv").write_text("id\n1\n")
    (tmp_path / "secret.txt").write_text("secret\n")
    os.symlink(tmp_path / "secret.txt", folder / "data" / "link.csv")
    os.symlink(folder / "data", folder / "linked-folder")
    os.mkfifo(folder / "data" / "fifo.csv")
    return folder


@pytest.mark.parametrize(
    "relpath, message",
    [
        ("/etc/passwd", "path '/etc/passwd' is absolute; only files inside the package are read"),
        ("~/x.csv", "path '~/x.csv' is absolute; only files inside the package are read"),
        ("../secret.txt", "path '../secret.txt' leaves the package folder (..)"),
        ("data/../../secret.txt", "path 'data/../../secret.txt' leaves the package folder (..)"),
        (
            "file:///etc/passwd",
            "path 'file:///etc/passwd' is a URL; only files inside the package are read",
        ),
        (
            "https://example.org/a.csv",
            "path 'https://example.org/a.csv' is a URL; only files inside the package are read",
        ),
        ("", "path '' is not a non-empty string"),
        (7, "path 7 is not a non-empty string"),
        ("data/a\x00.csv", "path 'data/a\\x00.csv' holds a NUL character"),
        (
            "{p}/data/link.csv",
            "{p}/data/link.csv: is or passes through a symbolic link; "
            "only regular files inside the package are read",
        ),
        (
            "{p}/linked-folder/a.csv",
            "{p}/linked-folder/a.csv: is or passes through a symbolic link; "
            "only regular files inside the package are read",
        ),
        ("{p}/data/fifo.csv", "{p}/data/fifo.csv: not a regular file (a folder, device or FIFO)"),
        ("{p}/data", "{p}/data: not a regular file (a folder, device or FIFO)"),
        ("{p}/data/missing.csv", "{p}/data/missing.csv: no such file"),
        ("{p}/data/a.csv/x", "{p}/data/a.csv/x: no such file"),
    ],
)
def test_member_path_refuses_what_leaves_the_package(package: Path, relpath, message: str):
    if isinstance(relpath, str) and relpath.startswith("{p}/"):
        relpath = relpath[len("{p}/") :]
    with pytest.raises(PackageError) as raised:
        member_path(package, relpath)
    assert str(raised.value) == message.replace("{p}", str(package))


def test_member_path_gives_a_regular_file_inside(package: Path):
    assert member_path(package, "data/a.csv") == package / "data" / "a.csv"


@pytest.mark.parametrize(
    "text, message",
    [
        ("[" * 100_000 + "]" * 100_000, "nested deeper than 32 levels"),
        ('{"a": ' * 33 + "1" + "}" * 33, "nested deeper than 32 levels"),
        (
            "{",
            "not valid JSON: Expecting property name enclosed in double quotes at line 1, column 2",
        ),
        ("[1, 2]", "not a JSON object but list"),
        ("\udcff", "not UTF-8 text (byte 0xff at offset 0)"),
    ],
)
def test_read_descriptor_refuses_malformed(package: Path, text: str, message: str):
    path = package / "datapackage.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(PackageError) as raised:
        read_descriptor(package)
    assert str(raised.value) == f"{path}: {message}"


def test_read_descriptor_refuses_oversized_without_reading_it_all(package: Path):
    path = package / "datapackage.json"
    with open(path, "wb") as handle:
        handle.truncate(17 * 2**20)
    with pytest.raises(PackageError) as raised:
        read_descriptor(package)
    assert str(raised.value) == f"{path}: over the 16 MiB limit for a descriptor"


def test_read_descriptor_accepts_32_levels(package: Path):
    (package / "datapackage.json").write_text('{"a": ' * 31 + "[1]" + "}" * 31)
    assert read_descriptor(package)["a"]


def test_open_member_reads_a_regular_file_inside(package: Path):
    with open_member(package, "data/a.csv") as handle:
        assert handle.read() == b"id\n1\n"


@pytest.mark.parametrize(
    "relpath, message",
    [
        ("data/fifo.csv", "{p}/data/fifo.csv: not a regular file (a folder, device or FIFO)"),
        (
            "data/link.csv",
            "{p}/data/link.csv: is or passes through a symbolic link; "
            "only regular files inside the package are read",
        ),
        ("../secret.txt", "path '../secret.txt' leaves the package folder (..)"),
    ],
)
def test_open_member_refuses_without_blocking(package: Path, relpath: str, message: str):
    with pytest.raises(PackageError) as raised:
        open_member(package, relpath)
    assert str(raised.value) == message.replace("{p}", str(package))


@pytest.mark.parametrize(
    "swapped, message",
    [
        ("fifo", "{p}/data/a.csv: not a regular file (a folder, device or FIFO)"),
        ("link", "{p}/data/a.csv: cannot read (Too many levels of symbolic links)"),
    ],
)
def test_open_member_refuses_a_file_swapped_after_the_check(
    swapped: str, message: str, package: Path, monkeypatch
):
    """The file checked by member_path may be replaced before it is opened; the open itself refuses."""
    import pipeline.package.reader as packages

    checked = packages.member_path

    def swap(folder, relpath):
        path = checked(folder, relpath)
        path.unlink()
        if swapped == "fifo":
            os.mkfifo(path)
        else:
            path.symlink_to(package.parent / "secret.txt")
        return path

    monkeypatch.setattr(packages, "member_path", swap)
    with pytest.raises(PackageError) as raised:
        open_member(package, "data/a.csv")
    assert str(raised.value) == message.replace("{p}", str(package))
