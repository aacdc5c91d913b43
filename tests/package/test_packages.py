"""The one reader of a package: descriptors bounded in size and depth, member paths confined to the package,
rows read as text or typed by their schema."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from pipeline.package.reader import (
    PackageError,
    file_facts,
    member_path,
    open_member,
    read_descriptor,
    read_descriptor_with_resources,
    read_package,
    read_text_rows,
)


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


@pytest.mark.parametrize(
    "resources",
    [{}, [1], [{"path": "data/a.csv"}], [{"name": ""}], "data/a.csv"],
    ids=["object", "number", "no-name", "empty-name", "text"],
)
def test_read_descriptor_with_resources_refuses_resources_that_are_not_named_objects(
    package: Path, resources
):
    path = package / "datapackage.json"
    path.write_text(json.dumps({"resources": resources}))
    with pytest.raises(PackageError) as raised:
        read_descriptor_with_resources(package)
    assert str(raised.value) == (
        f"{path}: not a data package descriptor (needs a list of named resources)"
    )


TYPED = {
    "name": "t",
    "path": "data/t.csv",
    "schema": {
        "fields": [
            {"name": "s", "type": "string"},
            {"name": "i", "type": "integer"},
            {"name": "n", "type": "number"},
            {"name": "b", "type": "boolean"},
            {"name": "d", "type": "date"},
        ]
    },
}


def test_read_package_types_every_cell_by_its_schema(package: Path):
    (package / "data" / "t.csv").write_text('s,i,n,b,d\n"a,b",-3,1.5,true,2020-09-30\n,,,false,\n')
    (package / "datapackage.json").write_text(json.dumps({"resources": [TYPED]}))
    assert read_package(package) == (
        {"resources": [TYPED]},
        {
            "t": [
                {"s": "a,b", "i": -3, "n": 1.5, "b": True, "d": dt.date(2020, 9, 30)},
                {"s": None, "i": None, "n": None, "b": False, "d": None},
            ]
        },
    )


def test_read_text_rows_gives_the_header_and_the_text_of_each_cell(package: Path):
    assert read_text_rows(package, {"name": "a", "path": "data/a.csv"}, "old") == (
        ["id"],
        [{"id": "1"}],
    )


@pytest.mark.parametrize(
    "relpath, message",
    [
        ("../secret.txt", "old: resource a: path '../secret.txt' leaves the package folder (..)"),
        (
            "data/link.csv",
            "old: resource a: {p}/data/link.csv: is or passes through a symbolic link; "
            "only regular files inside the package are read",
        ),
    ],
)
def test_read_text_rows_refuses_a_path_leaving_the_package(
    package: Path, relpath: str, message: str
):
    with pytest.raises(PackageError) as raised:
        read_text_rows(package, {"name": "a", "path": relpath}, "old")
    assert str(raised.value) == message.replace("{p}", str(package))


@pytest.mark.parametrize(
    "algorithm, digest",
    [
        (None, ""),
        ("md5", "bc9280dfc1d4e67233f138f5bbbf0951"),
        ("sha256", "7cde7fb64fd82bd152710cf238e017b9ab46c0592483edc067ba4f6c75fac108"),
    ],
)
def test_file_facts_gives_the_size_and_the_digest_asked_for(package: Path, algorithm, digest):
    assert file_facts(package / "data" / "a.csv", algorithm) == (5, digest)
