"""Open a published package wherever it lives: a folder, its datapackage.json, a release zip, a git
revision.

`open_package(spec)` yields a folder holding `datapackage.json`; zips and git revisions are unpacked
into a temporary folder that is removed afterwards. Anything that is not a readable package raises
PackageError with a message fit for the user.

Every reader of a package goes through `read_descriptor` (bounded in size and depth) and
`member_path` or `open_member` (a path the descriptor names, confined to the package folder: no
absolute paths, `..`, URLs, symbolic links, devices or FIFOs), so no command opens a file outside
the package it was given. The rows of a CSV resource are read here too: as the text of its cells
(`read_text_rows`), typed by its schema (`read_typed_rows`, `read_package`), or a few columns with
Arrow (`read_columns`).

Archives (release zips, and the tar that `git archive` streams for `git:REV`) are held to the limits
below: member count, size per member and in all, compression ratio (zips), member types (regular
files and folders only) and paths. A zip is checked from its end record and central directory before
anything is written; every member is then copied with a byte counter, so a size that lies stops the
copy at its limit. Revisions are checked and passed after `--end-of-options`, so git never reads one
as an option."""

from __future__ import annotations

import collections
import contextlib
import csv
import hashlib
import io
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import tarfile
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from pipeline.contract.fieldtypes import from_csv

DESCRIPTOR = "datapackage.json"
CHANGELOG = "CHANGELOG.md"  # beside the descriptor: every version, newest first
DATASHEET = "README.md"  # beside the descriptor: the package described for people
DEFAULT_FOLDER = "datapackage"


# The Parquet twin of a partitioned table is a folder of part files, one per value of the column
# it is partitioned by, each named by that value (a value the column's pattern makes a safe name).
PART_FILE = re.compile(r"part-([a-z0-9][a-z0-9-]*)\.parquet")


MAX_DESCRIPTOR_BYTES = 16 * 1024 * 1024  # the published descriptor is ~60 kB
MAX_DESCRIPTOR_DEPTH = 32  # the published descriptor nests 7 levels


class PackageError(Exception):
    """A package that cannot be found or read; the message says which and why. `reason`, when set,
    is the why alone (for a member: "no such file", "is or passes through a symbolic link; ..."),
    for callers that name the file their own way."""

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason


NO_SUCH_FILE = "no such file"
NOT_REGULAR = "not a regular file (a folder, device or FIFO)"
LINKED = "is or passes through a symbolic link; only regular files inside the package are read"


def _member_error(path: Path, reason: str) -> PackageError:
    return PackageError(f"{path}: {reason}", reason)


def open_member(folder: Path, relpath: object) -> BinaryIO:
    """`member_path(folder, relpath)` opened for reading in binary; a file swapped since it was
    checked for a link, FIFO or device is refused too (O_NOFOLLOW, and O_NONBLOCK so that a FIFO
    cannot block)."""
    path = member_path(folder, relpath)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise _member_error(path, f"cannot read ({exc.strerror})") from None
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise _member_error(path, NOT_REGULAR)
    return os.fdopen(descriptor, "rb")


def _depth(value) -> int:
    """How deeply `value` nests (a scalar is 0), counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        )
        if children is None:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def read_descriptor(folder: Path) -> dict:
    """`folder`/datapackage.json as a dict; PackageError when it is missing, not a regular file,
    over MAX_DESCRIPTOR_BYTES, not JSON, nested deeper than MAX_DESCRIPTOR_DEPTH or not an
    object."""
    path = folder / DESCRIPTOR
    raw = read_descriptor_bytes(folder)
    try:
        descriptor = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PackageError(
            f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None
    except json.JSONDecodeError as exc:
        raise PackageError(
            f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except (
        RecursionError
    ):  # json's C decoder counts its recursion and raises this, it does not crash
        raise PackageError(f"{path}: nested deeper than {MAX_DESCRIPTOR_DEPTH} levels") from None
    if not isinstance(descriptor, dict):
        raise PackageError(f"{path}: not a JSON object but {type(descriptor).__name__}")
    if too_deep(descriptor):
        raise PackageError(f"{path}: nested deeper than {MAX_DESCRIPTOR_DEPTH} levels")
    return descriptor


def read_descriptor_bytes(folder: Path) -> bytes:
    """The bytes of `folder`/datapackage.json, opened by `open_member`; PackageError, with its
    `reason`, when it cannot be opened or is over MAX_DESCRIPTOR_BYTES."""
    with open_member(folder, DESCRIPTOR) as handle:
        raw = handle.read(MAX_DESCRIPTOR_BYTES + 1)
    if len(raw) > MAX_DESCRIPTOR_BYTES:
        reason = f"over the {MAX_DESCRIPTOR_BYTES // 2**20} MiB limit for a descriptor"
        raise PackageError(f"{folder / DESCRIPTOR}: {reason}", reason)
    return raw


def too_deep(descriptor: object) -> bool:
    """Whether a parsed descriptor nests deeper than MAX_DESCRIPTOR_DEPTH."""
    return _depth(descriptor) > MAX_DESCRIPTOR_DEPTH


def read_descriptor_with_resources(folder: Path) -> dict:
    """`read_descriptor(folder)`, refused unless its resources are a list of objects, each with a
    name."""
    descriptor = read_descriptor(folder)
    resources = descriptor.get("resources", [])
    if not isinstance(resources, list) or not all(
        isinstance(r, dict) and r.get("name") for r in resources
    ):
        raise PackageError(
            f"{folder / DESCRIPTOR}: not a data package descriptor (needs a list of named "
            "resources)"
        )
    return descriptor


def read_text_rows(folder: Path, resource: dict, label: str) -> tuple[list[str], list[dict]]:
    """Header and rows (the text of each cell) of a CSV resource of the package `label` (in
    `folder`), read only from inside it."""
    try:
        binary = open_member(folder, resource.get("path"))
    except PackageError as exc:
        raise PackageError(f"{label}: resource {resource['name']}: {exc}") from None
    path = folder / resource["path"]
    try:
        with io.TextIOWrapper(
            binary, encoding=resource.get("encoding", "utf-8"), newline=""
        ) as handle:
            rows = csv.DictReader(handle)
            return list(rows.fieldnames or []), list(rows)
    except (OSError, UnicodeDecodeError, LookupError, csv.Error) as exc:
        raise PackageError(
            f"{path}: cannot read the rows of resource {resource.get('name')} ({exc})"
        ) from None
    finally:
        binary.close()


def read_typed_rows(folder: Path, resource: dict) -> list[dict]:
    """The rows of one CSV resource, each value converted to its schema type (empty -> None). The
    cells a short row lacks are missing (None); the cells past the header of a long row, which
    name no column, are left out."""
    kinds = {f["name"]: f["type"] for f in resource["schema"]["fields"]}
    _, rows = read_text_rows(folder, resource, str(folder))
    return [
        {
            name: None if value is None else from_csv(kinds.get(name, "string"), value)
            for name, value in row.items()
            if name is not None  # csv.DictReader's key for the cells past the header
        }
        for row in rows
    ]


def read_package(folder: Path) -> tuple[dict, dict[str, list[dict]]]:
    """The descriptor and the typed rows of every table of the package in `folder`."""
    descriptor = read_descriptor_with_resources(folder)
    rows = {r["name"]: read_typed_rows(folder, r) for r in descriptor["resources"]}
    return descriptor, rows


def read_columns(folder: Path, resource: dict, names: list[str]) -> dict:
    """Some columns of one CSV resource as Arrow text arrays, empty cells null: no row is held as a
    dict."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    with open_member(folder, resource["path"]) as handle:
        table = pacsv.read_csv(
            handle,
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                include_columns=names,
                column_types={n: pa.string() for n in names},
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    return {name: table.column(name) for name in names}


def twin_files(resource: dict) -> list[dict]:
    """What the descriptor says of each Parquet file of a resource's twin: the one twin, or each
    of its parts (`parquet.parts`, a partitioned table), in their order. Every reader of twins
    lists them here."""
    twin = resource.get("parquet")
    if not isinstance(twin, dict):
        return []
    if "parts" not in twin:
        return [twin]
    parts = twin["parts"]
    return [part for part in parts if isinstance(part, dict)] if isinstance(parts, list) else []


def part_value(path: object) -> str | None:
    """The value of the partition column a part file holds, from its name; None if `path` is no
    part file's."""
    found = PART_FILE.fullmatch(PurePosixPath(path).name) if isinstance(path, str) else None
    return found.group(1) if found else None


def read_twin(folder: Path, resource: dict):
    """The resource's Parquet twin as one Arrow table: the one file, or its parts together, in the
    CSV's row order (the package sorts rows by the primary key; a part holds one value's rows);
    None for a partitioned table without rows (it has no part)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    files = twin_files(resource)
    tables = [pq.read_table(member_path(folder, twin.get("path"))) for twin in files]
    if len(tables) == 1 and "parts" not in resource["parquet"]:
        return tables[0]
    whole = pa.concat_tables(tables) if tables else None
    key = resource.get("schema", {}).get("primaryKey")
    if whole is None or not key:
        return whole
    key = [key] if isinstance(key, str) else key
    return whole.take(pc.sort_indices(whole, sort_keys=[(name, "ascending") for name in key]))


def file_facts(path: Path, algorithm: str | None = None) -> tuple[int, str]:
    """Size of the file at `path` and its hex digest by the hashlib `algorithm` ("" when none is
    asked for), both taken from the one open file, read once and only when there is a digest to
    compute."""
    with open(path, "rb") as handle:
        digest = hashlib.new(algorithm) if algorithm is not None else None
        if digest is not None:
            for chunk in iter(lambda: handle.read(1 << 22), b""):
                digest.update(chunk)
        return os.fstat(handle.fileno()).st_size, digest.hexdigest() if digest is not None else ""


def unsafe_reason(relpath: object) -> str | None:
    """Why a path named by a descriptor may not be opened, or None when its form is safe.

    The Data Package spec allows only relative POSIX paths without `..` or URLs here."""
    if not isinstance(relpath, str) or not relpath:
        return "is not a non-empty string"
    if "\0" in relpath:
        return "holds a NUL character"
    if "://" in relpath or relpath.lower().startswith("file:"):
        return "is a URL; only files inside the package are read"
    pure = PurePosixPath(relpath)
    if pure.is_absolute() or relpath.startswith("~"):
        return "is absolute; only files inside the package are read"
    if ".." in pure.parts:
        return "leaves the package folder (..)"
    return None


def member_path(folder: Path, relpath: object) -> Path:
    """`folder / relpath` when it is a regular file inside `folder`, reached without symbolic links;
    otherwise PackageError naming the path and why it is not read (the file is never opened)."""
    reason = unsafe_reason(relpath)
    if reason is not None:
        raise PackageError(f"path {relpath!r} {reason}", reason)
    current = folder
    parts = PurePosixPath(str(relpath)).parts
    for number, part in enumerate(parts, start=1):
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            raise _member_error(folder / str(relpath), NO_SUCH_FILE) from None
        except OSError as exc:
            raise _member_error(folder / str(relpath), f"cannot read ({exc.strerror})") from None
        if stat.S_ISLNK(mode):
            raise _member_error(folder / str(relpath), LINKED)
        if number < len(parts) and not stat.S_ISDIR(mode):
            raise _member_error(folder / str(relpath), NO_SUCH_FILE)
        if number == len(parts) and not stat.S_ISREG(mode):
            raise _member_error(folder / str(relpath), NOT_REGULAR)
    return current


# Limits on an archive (a release zip or the tar `git archive` streams), checked before anything is
# written and again while unpacking. The largest package measured, the benchmark's ~1M rows, is ~20
# files and ~500 MB; its CSV files deflate 3-15 times, Parquet about once; zeros deflate ~1000
# times.
MAX_MEMBERS = 1000
MAX_MEMBER_BYTES = 2 * 2**30
MAX_TOTAL_BYTES = 4 * 2**30
MAX_RATIO = 100  # uncompressed size / compressed size, per member and for the whole archive
RATIO_FLOOR = 2**20  # a member or archive under 1 MiB uncompressed is not held to MAX_RATIO
MAX_CENTRAL_DIRECTORY_BYTES = MAX_MEMBERS * 1024  # an entry is 46 bytes plus its name and extras
CHUNK = 1 << 20

# What zipfile raises on a damaged or hostile archive (lying sizes end in "Bad CRC-32" or EOFError).
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    ValueError,
    RuntimeError,
    NotImplementedError,
    zlib.error,
)


def _size(count: int) -> str:
    if count >= 2**30:
        return f"{count / 2**30:.1f} GiB"
    return f"{count / 2**20:.1f} MiB" if count >= 2**20 else f"{count} bytes"


def _member_problem(name: str, kind: int, size: int) -> str | None:
    """Why the member `name` (file type bits `kind`, 0 when unknown) of `size` bytes is not
    unpacked."""
    reason = unsafe_reason(name.rstrip("/") or name)
    if reason is not None:
        return f"unsafe path in archive: {name!r} {reason}"
    if kind and not (stat.S_ISREG(kind) or stat.S_ISDIR(kind)):
        what = "a symbolic link" if stat.S_ISLNK(kind) else "a link, device or FIFO"
        return f"member {name} is {what} (only regular files and folders are unpacked)"
    if size > MAX_MEMBER_BYTES:
        limit = _size(MAX_MEMBER_BYTES)
        return f"member {name} is {_size(size)} uncompressed (limit {limit} per member)"
    return None


def _write_member(into: Path, name: str, source, limit: int, label: str) -> int:
    """Unpack the regular file `name` (already checked safe) under `into`, copying at most `limit`
    bytes from `source`, since the sizes an archive declares may lie; returns the bytes written."""
    target = into / name
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = open(target, "xb")  # x: never over a member unpacked before
    except (FileExistsError, NotADirectoryError, IsADirectoryError):
        raise PackageError(
            f"{label}: member {name} clashes with another member (listed twice, or a file "
            "where a folder is needed)"
        ) from None
    copied = 0
    with handle:
        while chunk := source.read(min(CHUNK, limit - copied + 1)):
            copied += len(chunk)
            if copied > limit:
                raise PackageError(
                    f"{label}: member {name} holds more than it declares (limit {limit} bytes)"
                )
            handle.write(chunk)
    return copied


def _zip_directory_problem(path: Path) -> str | None:
    """Member count and central directory size from the zip's end record, before parsing any
    entry."""
    with open(path, "rb") as handle:
        # zipfile reads the end record (zip64 too) only privately; parsing a huge central directory
        # is what this check avoids: ZipFile() takes 0.4 s and 100k objects for 100k entries.
        end = zipfile._EndRecData(handle)  # type: ignore[attr-defined]  # private, not in typeshed
    if end is None:
        return None  # ZipFile itself reports the archive as unreadable
    entries = end[zipfile._ECD_ENTRIES_TOTAL]  # type: ignore[attr-defined]  # private, as above
    size = end[zipfile._ECD_SIZE]  # type: ignore[attr-defined]  # private, as above
    if entries > MAX_MEMBERS:
        return f"holds {entries} members (limit {MAX_MEMBERS})"
    if size > MAX_CENTRAL_DIRECTORY_BYTES:
        return f"central directory of {size} bytes (limit {MAX_CENTRAL_DIRECTORY_BYTES})"
    return None


def _ratio_problem(name: str, size: int, packed: int) -> str | None:
    if size > RATIO_FLOOR and size > MAX_RATIO * max(packed, 1):
        return f"{name} expands {size // max(packed, 1)} times when unpacked (limit {MAX_RATIO})"
    return None


def _zip_problem(infos: list[zipfile.ZipInfo]) -> str | None:
    """The first limit the zip's central directory breaks, or None."""
    if len(infos) > MAX_MEMBERS:
        return f"holds {len(infos)} members (limit {MAX_MEMBERS})"
    listed = collections.Counter(str(PurePosixPath(i.filename)) for i in infos if not i.is_dir())
    twice = [name for name, count in listed.items() if count > 1]
    if twice:
        return f"member {twice[0]} is listed twice"
    for info in infos:
        problem = _member_problem(
            info.filename, info.external_attr >> 16 & 0o170000, info.file_size
        ) or _ratio_problem(f"member {info.filename}", info.file_size, info.compress_size)
        if problem:
            return problem
    total, packed = sum(i.file_size for i in infos), sum(i.compress_size for i in infos)
    if total > MAX_TOTAL_BYTES:
        return f"{_size(total)} uncompressed in all (limit {_size(MAX_TOTAL_BYTES)})"
    return _ratio_problem("the archive", total, packed)


def _unzip(path: Path, into: Path) -> Path:
    """Unpack the zip at `path` into `into` once its central directory is within every limit."""
    try:
        problem = _zip_directory_problem(path)
        if problem:
            raise PackageError(f"{path}: {problem}")
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            problem = _zip_problem(infos)
            if problem:
                raise PackageError(f"{path}: {problem}")
            budget = MAX_TOTAL_BYTES
            for info in infos:
                if info.is_dir():
                    (into / info.filename).mkdir(parents=True, exist_ok=True)
                    continue
                with archive.open(info) as source:
                    budget -= _write_member(
                        into, info.filename, source, min(info.file_size, budget), str(path)
                    )
    except ZIP_ERRORS as exc:
        raise PackageError(f"{path}: not a readable zip ({exc})") from None
    return _package_root(into, str(path))


def _package_root(folder: Path, spec: str) -> Path:
    """`folder` itself, or its single subfolder, whichever holds datapackage.json."""
    if (folder / DESCRIPTOR).is_file():
        return folder
    subfolders = [p for p in folder.iterdir() if p.is_dir()]
    if len(subfolders) == 1 and (subfolders[0] / DESCRIPTOR).is_file():
        return subfolders[0]
    raise PackageError(f"{spec}: no {DESCRIPTOR} inside")


def _revision(spec: str) -> tuple[str, str]:
    """The revision and folder of `git:REV[:folder]`, checked so that git can read neither as an
    option."""
    rev, _, folder = spec[len("git:") :].partition(":")
    folder = folder.strip("/") or DEFAULT_FOLDER
    if not rev:
        raise PackageError(f"{spec}: give a revision, e.g. git:HEAD")
    if rev.startswith("-"):
        raise PackageError(
            f"{spec}: a revision cannot start with '-' (give a commit, branch or tag, e.g. "
            "git:HEAD)"
        )
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in rev):
        raise PackageError(
            f"{spec}: a revision holds no spaces or control characters (e.g. git:HEAD)"
        )
    reason = unsafe_reason(folder)
    if reason is not None or any(unicodedata.category(char) == "Cc" for char in folder):
        raise PackageError(f"{spec}: folder {folder!r} {reason or 'holds a control character'}")
    return rev, folder


def _tar_kind(member: tarfile.TarInfo) -> int:
    """The file type bits of a tar member (a hard link counts as a device would: refused)."""
    if member.isreg():
        return stat.S_IFREG
    if member.isdir():
        return stat.S_IFDIR
    return stat.S_IFLNK if member.issym() else stat.S_IFCHR


def _untar(stream, into: Path, spec: str) -> None:
    """Unpack the tar arriving on `stream` member by member, each checked before it is written."""
    used = 0
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for count, member in enumerate(archive, start=1):
            problem = _member_problem(member.name, _tar_kind(member), member.size)
            if count > MAX_MEMBERS:
                problem = f"holds more than {MAX_MEMBERS} members (limit {MAX_MEMBERS})"
            elif problem is None and used + member.size > MAX_TOTAL_BYTES:
                problem = (
                    f"{_size(used + member.size)} uncompressed in all by member {member.name} "
                    f"(limit {_size(MAX_TOTAL_BYTES)})"
                )
            if problem:
                raise PackageError(f"{spec}: {problem}")
            if member.isdir():
                (into / member.name).mkdir(parents=True, exist_ok=True)
            else:
                used += _write_member(
                    into, member.name, archive.extractfile(member), member.size, spec
                )


def _git_archive(spec: str, into: Path) -> Path:
    """Unpack the package committed at `git:REV` (folder datapackage/) or `git:REV:folder`."""
    rev, folder = _revision(spec)
    command = ["git", "archive", "--format=tar", "--end-of-options", f"{rev}:{folder}"]
    with (
        tempfile.TemporaryFile() as errors
    ):  # a file, not a pipe: git cannot block on a full stderr
        try:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors
            )
        except OSError as exc:
            raise PackageError(f"{spec}: cannot run git ({exc})") from None
        problem: tarfile.TarError | OSError | None
        with process:
            try:
                _untar(process.stdout, into, spec)
            except (tarfile.TarError, OSError) as exc:
                problem = exc
            else:
                problem = None
            finally:
                # Stops git early when a limit was hit; harmless once it has finished.
                process.kill()
            returncode = process.wait()
        errors.seek(0)
        reason = errors.read(4096).decode("utf-8", "replace").strip().splitlines()
    if returncode not in (0, -signal.SIGKILL) or (problem is not None and reason):
        raise PackageError(
            f"{spec}: no package {folder}/ at revision {rev}"
            + (f" ({reason[0]})" if reason else "")
        )
    if problem is not None:
        raise PackageError(f"{spec}: not a readable archive ({problem})")
    if not (into / DESCRIPTOR).is_file():
        raise PackageError(f"{spec}: no {folder}/{DESCRIPTOR} at revision {rev}")
    return into


@contextlib.contextmanager
def open_package(spec: str | Path) -> Iterator[Path]:
    """Yield a folder holding the package named by `spec`; temporary copies are removed on exit."""
    text = str(spec)
    if text.startswith("git:"):
        scratch = Path(tempfile.mkdtemp(prefix="package-git-"))
        try:
            yield _git_archive(text, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return
    path = Path(spec)
    if path.is_dir():
        if not (path / DESCRIPTOR).is_file():
            raise PackageError(f"{path}: no {DESCRIPTOR} in this folder")
        yield path
    elif path.is_file() and path.name == DESCRIPTOR:
        yield path.parent
    elif path.is_file() and zipfile.is_zipfile(path):
        scratch = Path(tempfile.mkdtemp(prefix="package-zip-"))
        try:
            yield _unzip(path, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    elif path.exists():
        raise PackageError(
            f"{path}: not a package (expected a folder, a {DESCRIPTOR} or a release zip)"
        )
    else:
        raise PackageError(f"{path}: no such file or folder")
