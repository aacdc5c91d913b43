"""Release archives: the published package as a reproducible zip with its sha256 beside it.

`dist/<name>-<version>.zip` holds datapackage.json, data/*, CHANGELOG.md and
README.md (when present) at its root. The bytes depend only on the package: members
in sorted order, each dated by the package's `created` (1980-01-01 if earlier or
absent), mode 0644, deflate level 9. `<zip>.sha256` reads `<hex>  <filename>`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.packages import DESCRIPTOR, PackageError
from pipeline.problems import InputError

EXTRA_FILES = ("CHANGELOG.md", "README.md")
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass
class Release:
    archive: Path
    checksum: Path
    sha256: str


def members(package: Path, descriptor: dict) -> list[str]:
    """Paths, relative to the package, that go into the zip, sorted."""
    names = {DESCRIPTOR, *(name for name in EXTRA_FILES if (package / name).is_file())}
    names |= {p.relative_to(package).as_posix() for p in (package / "data").rglob("*") if p.is_file()}
    return sorted(names)


def zip_time(created: str | None) -> tuple[int, int, int, int, int, int]:
    try:
        moment = dt.datetime.fromisoformat(str(created).replace("Z", "+00:00")).astimezone(dt.timezone.utc)
    except ValueError:
        return ZIP_EPOCH
    stamp = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second - moment.second % 2)
    return stamp if stamp >= ZIP_EPOCH else ZIP_EPOCH


def write_zip(path: Path, package: Path, names: list[str], stamp: tuple) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the mode below is read
            info.external_attr = (0o100644 << 16)
            archive.writestr(info, (package / name).read_bytes(), compresslevel=9)


def build_release(package: Path, out: Path) -> Release:
    """Write `out/<name>-<version>.zip` and its `.sha256` for the package in folder `package`."""
    from pipeline.diff import read_descriptor
    from pipeline.publish import verify_package

    if not (package / DESCRIPTOR).is_file():
        raise PackageError(f"{package}: no {DESCRIPTOR}; run 'pipeline publish' first")
    descriptor = read_descriptor(package)
    if not descriptor.get("name") or not descriptor.get("version"):
        raise PackageError(f"{package / DESCRIPTOR}: the descriptor needs a name and a version")
    problems = verify_package(package)
    if problems:
        raise InputError(problems)
    filename = f"{descriptor['name']}-{descriptor['version']}.zip"
    out.mkdir(parents=True, exist_ok=True)
    temp = out / f".{filename}.tmp-{os.getpid()}"
    try:
        write_zip(temp, package, members(package, descriptor), zip_time(descriptor.get("created")))
        digest = hashlib.sha256(temp.read_bytes()).hexdigest()
        os.replace(temp, out / filename)
    finally:
        temp.unlink(missing_ok=True)
    checksum = out / f"{filename}.sha256"
    checksum.write_text(f"{digest}  {filename}\n", encoding="utf-8")
    return Release(out / filename, checksum, digest)
