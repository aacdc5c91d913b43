"""Open a published package wherever it lives: a folder, its datapackage.json, a release zip, a git revision.

`open_package(spec)` yields a folder holding `datapackage.json`; zips and git
revisions are unpacked into a temporary folder that is removed afterwards. Anything
that is not a readable package raises PackageError with a message fit for the user.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Iterator

DESCRIPTOR = "datapackage.json"
DEFAULT_FOLDER = "datapackage"


class PackageError(Exception):
    """A package that cannot be found or read; the message says which and why."""


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
