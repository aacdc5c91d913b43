"""Release archives: the published package as a reproducible zip with its sha256 beside it.

`dist/<name>-<version>.zip` holds datapackage.json, the files its resources name
(each CSV and its Parquet twin, `parquet.path`), CHANGELOG.md, README.md, load.R,
croissant.json, CITATION.cff and .zenodo.json (when present) at its root, the record of
every release (releases/<version>.json), and nothing else. Every member is a regular file
inside the package, reached without symbolic links (pipeline.package.reader.member_path).
The zip is named only from a package name and a version that pass the rules below, and
nothing is written outside `--out`: the zip and its `.sha256` are written to temporary
files there and renamed into place.

The bytes depend only on the package: members in sorted order, each dated by the
package's `created` (1980-01-01 if earlier or absent), mode 0644, deflate level 9.
`<zip>.sha256` reads `<hex>  <filename>`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pipeline.contract.problems import InputError, Problem
from pipeline.package.citation import CITATION_FILE, ZENODO_FILE
from pipeline.package.croissant import CROISSANT_FILE
from pipeline.package.lineage import RELEASES, release_names
from pipeline.package.reader import (
    CHANGELOG,
    DATASHEET,
    DESCRIPTOR,
    PackageError,
    member_path,
    open_member,
    read_descriptor_with_resources,
    twin_files,
)
from pipeline.package.writer import R_LOADER

EXTRA_FILES = (CHANGELOG, DATASHEET, R_LOADER, CROISSANT_FILE, CITATION_FILE, ZENODO_FILE)


def extra_files(package: Path) -> list[str]:
    """The files beside the descriptor and the resources that go into the zip, when present: the
    changelog, the datasheet, the R loader, the catalogue files and the release records."""
    return [*EXTRA_FILES, *(f"{RELEASES}/{name}" for name in release_names(package))]


ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# The Data Package name rule (lowercase letters, digits, '-', '.', '_'), which frictionless checks
# as ^([-a-z0-9._/])+$: that also lets '/', '..' and a leading dot through, so a name could leave
# --out.
NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
NAME_HINT = (
    "lowercase letters, digits, '-', '.' and '_', starting with a letter or digit; it names the zip"
)
# Semantic Versioning 2.0.0, the regular expression semver.org gives, with ASCII digits only.
_IDENT = r"(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)"
VERSION = re.compile(
    r"(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)"
    rf"(?:-{_IDENT}(?:\.{_IDENT})*)?(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?"
)


@dataclass
class Release:
    archive: Path
    checksum: Path
    sha256: str


def name_problems(descriptor_path: Path, descriptor: dict) -> list[Problem]:
    """The package name and version, unless they are safe to build a file name from."""
    problems = []
    for key, rule, what, hint in (
        ("name", NAME, "package name", NAME_HINT),
        ("version", VERSION, "version", "a semantic version such as 1.0.0"),
    ):
        value = descriptor.get(key)
        if value is None:
            problems.append(
                Problem(
                    str(descriptor_path),
                    None,
                    f"missing; a release needs a {what}",
                    field=key,
                    hint=hint,
                )
            )
        elif not isinstance(value, str) or not rule.fullmatch(value):
            problems.append(
                Problem(
                    str(descriptor_path),
                    None,
                    f"{value!r} is not a valid {what}",
                    field=key,
                    hint=hint,
                )
            )
    return problems


def declared_files(resource: dict) -> list[tuple[str, object]]:
    """(property, path) of the files a resource names: its `path` and its Parquet twin's (each
    part's, when the twin is partitioned)."""
    files = [("path", resource.get("path"))]
    twin = resource.get("parquet")
    if isinstance(twin, dict) and "parts" in twin:
        files += [
            (f"parquet.parts[{index}].path", part.get("path"))
            for index, part in enumerate(twin_files(resource))
        ]
    elif isinstance(twin, dict) and "path" in twin:
        files.append(("parquet.path", twin["path"]))
    return files


def members(package: Path, descriptor: dict) -> list[str]:
    """Paths, relative to the package, that go into the zip, sorted; InputError naming every
    declared path that is not a regular file inside the package."""
    names, problems = {DESCRIPTOR}, []
    for resource in descriptor["resources"]:
        for key, relpath in declared_files(resource):
            try:
                member_path(package, relpath)
            except PackageError as exc:
                problems.append(
                    Problem(
                        str(package / DESCRIPTOR),
                        None,
                        str(exc),
                        f"resources/{resource['name']}",
                        key,
                    )
                )
            else:
                names.add(PurePosixPath(str(relpath)).as_posix())
    for name in extra_files(package):
        if not os.path.lexists(package / name):
            continue
        if stat.S_ISREG(os.lstat(package / name).st_mode):
            names.add(name)
        else:
            problems.append(
                Problem(
                    str(package / name),
                    None,
                    "not a regular file (a symbolic link, folder, device "
                    "or FIFO); only regular files inside the package are zipped",
                    hint="replace it with the file itself or remove it",
                )
            )
    if problems:
        raise InputError(problems)
    return sorted(names)


def zip_time(created: str | None) -> tuple[int, int, int, int, int, int]:
    try:
        moment = dt.datetime.fromisoformat(str(created).replace("Z", "+00:00")).astimezone(dt.UTC)
    except ValueError:
        return ZIP_EPOCH
    stamp = (
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second - moment.second % 2,
    )
    return stamp if stamp >= ZIP_EPOCH else ZIP_EPOCH


def write_zip(handle, package: Path, names: list[str], stamp: tuple) -> None:
    """The zip of `names` (checked members of `package`) written to the open binary file
    `handle`."""
    with zipfile.ZipFile(handle, "w") as archive:
        for name in names:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the mode below is read
            info.external_attr = 0o100644 << 16
            with open_member(package, name) as member:
                archive.writestr(info, member.read(), compresslevel=9)


def _write_beside(out: Path, filename: str, write) -> None:
    """Write `out/filename` through a fresh temporary file in `out` (created exclusively, so a link
    planted there is never followed), renamed into place; `write(handle)` fills it."""
    descriptor, temp = tempfile.mkstemp(dir=out, prefix=f".{filename}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w+b") as handle:
            write(handle)
        os.chmod(temp, 0o644)
        os.replace(temp, out / filename)
    finally:
        if os.path.lexists(temp):
            os.unlink(temp)


def build_release(package: Path, out: Path) -> Release:
    """Write `out/<name>-<version>.zip` and its `.sha256` for the package in folder `package`."""
    from pipeline.validate.run import verify_package

    if not os.path.lexists(package / DESCRIPTOR):
        raise PackageError(f"{package}: no {DESCRIPTOR}; run 'pipeline publish' first")
    descriptor = read_descriptor_with_resources(package)
    problems = name_problems(package / DESCRIPTOR, descriptor)
    if problems:
        raise InputError(problems)
    names = members(package, descriptor)
    problems = verify_package(package)
    if problems:
        raise InputError(problems)
    filename = f"{descriptor['name']}-{descriptor['version']}.zip"
    digest = hashlib.sha256()

    def zip_and_hash(handle) -> None:
        write_zip(handle, package, names, zip_time(descriptor.get("created")))
        handle.seek(0)
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)

    try:
        out.mkdir(parents=True, exist_ok=True)
        _write_beside(out, filename, zip_and_hash)
        _write_beside(
            out,
            f"{filename}.sha256",
            lambda handle: handle.write(f"{digest.hexdigest()}  {filename}\n".encode()),
        )
    except OSError as exc:
        raise PackageError(f"{out}: cannot write the release ({exc.strerror or exc})") from None
    return Release(out / filename, out / f"{filename}.sha256", digest.hexdigest())
