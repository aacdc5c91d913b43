"""Open a published package wherever it lives: a folder, its datapackage.json, a release zip, a git revision.

`open_package(spec)` yields a folder holding `datapackage.json`; zips and git
revisions are unpacked into a temporary folder that is removed afterwards. Anything
that is not a readable package raises PackageError with a message fit for the user.

Every reader of a package goes through `read_descriptor` (bounded in size and
depth) and `member_path` (a path the descriptor names, confined to the package
folder: no absolute paths, `..`, URLs, symbolic links, devices or FIFOs), so no
command opens a file outside the package it was given.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Iterator

DESCRIPTOR = "datapackage.json"
DEFAULT_FOLDER = "datapackage"


MAX_DESCRIPTOR_BYTES = 16 * 1024 * 1024  # the published descriptor is ~60 kB
MAX_DESCRIPTOR_DEPTH = 32  # the published descriptor nests 7 levels


class PackageError(Exception):
    """A package that cannot be found or read; the message says which and why."""


def _depth(value) -> int:
    """How deeply `value` nests (a scalar is 0), counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def read_descriptor(folder: Path) -> dict:
    """`folder`/datapackage.json as a dict; PackageError when it is missing, not a regular file,
    over MAX_DESCRIPTOR_BYTES, not JSON, nested deeper than MAX_DESCRIPTOR_DEPTH or not an object."""
    path = member_path(folder, DESCRIPTOR)
    with open(path, "rb") as handle:
        raw = handle.read(MAX_DESCRIPTOR_BYTES + 1)
    if len(raw) > MAX_DESCRIPTOR_BYTES:
        raise PackageError(f"{path}: over the {MAX_DESCRIPTOR_BYTES // 2**20} MiB limit for a descriptor")
    try:
        descriptor = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PackageError(f"{path}: not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise PackageError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:  # json's C decoder counts its recursion and raises this, it does not crash
        raise PackageError(f"{path}: nested deeper than {MAX_DESCRIPTOR_DEPTH} levels") from None
    if not isinstance(descriptor, dict):
        raise PackageError(f"{path}: not a JSON object")
    if _depth(descriptor) > MAX_DESCRIPTOR_DEPTH:
        raise PackageError(f"{path}: nested deeper than {MAX_DESCRIPTOR_DEPTH} levels")
    return descriptor


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
        raise PackageError(f"path {relpath!r} {reason}")
    current = folder
    parts = PurePosixPath(str(relpath)).parts
    for number, part in enumerate(parts, start=1):
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            raise PackageError(f"{folder / str(relpath)}: no such file") from None
        except OSError as exc:
            raise PackageError(f"{folder / str(relpath)}: cannot read ({exc.strerror})") from None
        if stat.S_ISLNK(mode):
            raise PackageError(f"{folder / str(relpath)}: is or passes through a symbolic link; "
                               "only regular files inside the package are read")
        if number < len(parts) and not stat.S_ISDIR(mode):
            raise PackageError(f"{folder / str(relpath)}: no such file")
        if number == len(parts) and not stat.S_ISREG(mode):
            raise PackageError(f"{folder / str(relpath)}: not a regular file (a folder, device or FIFO)")
    return current


def _safe_member(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts


def _package_root(folder: Path, spec: str) -> Path:
    """`folder` itself, or its single subfolder, whichever holds datapackage.json."""
    if (folder / DESCRIPTOR).is_file():
        return folder
    subfolders = [p for p in folder.iterdir() if p.is_dir()]
    if len(subfolders) == 1 and (subfolders[0] / DESCRIPTOR).is_file():
        return subfolders[0]
    raise PackageError(f"{spec}: no {DESCRIPTOR} inside")


def _unzip(path: Path, into: Path) -> Path:
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if not _safe_member(name):
                    raise PackageError(f"{path}: unsafe path in zip: {name}")
            archive.extractall(into)
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackageError(f"{path}: not a readable zip ({exc})") from None
    return _package_root(into, str(path))


def _git_archive(spec: str, into: Path) -> Path:
    """Unpack the package committed at `git:REV` (folder datapackage/) or `git:REV:folder`."""
    rev, _, folder = spec[len("git:"):].partition(":")
    folder = folder.strip("/") or DEFAULT_FOLDER
    if not rev:
        raise PackageError(f"{spec}: give a revision, e.g. git:HEAD")
    try:
        done = subprocess.run(["git", "archive", "--format=tar", f"{rev}:{folder}"], capture_output=True, check=False)
    except OSError as exc:
        raise PackageError(f"{spec}: cannot run git ({exc})") from None
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise PackageError(f"{spec}: no package {folder}/ at revision {rev}" + (f" ({reason[0]})" if reason else ""))
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        archive.extractall(into, filter="data")
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
        raise PackageError(f"{path}: not a package (expected a folder, a {DESCRIPTOR} or a release zip)")
    else:
        raise PackageError(f"{path}: no such file or folder")
