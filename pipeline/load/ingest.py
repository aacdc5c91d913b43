"""Add a source text to seeds/: normalised text, metadata and an empty annotation file.

The text is stored as UTF-8, NFC, with \\n line ends, so evidence offsets mean the
same on every machine; the caller is told what was changed. Anything but a regular
file (a folder, a named pipe, a device), files that are not text, texts already
ingested (same hash), ids already taken and options holding characters no text
may hold are refused before anything is written.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.contract import schemas
from pipeline.contract.problems import InputError, Problem
from pipeline.load.seeds import ANNOTATION_FILE, ID_RE, SOURCE_FILE, TEXT_FILE
from pipeline.load.sourcetext import (
    MAX_TEXT_BYTES,
    character_hint,
    normalise,
    sha256_text,
    too_large,
    value_fault,
)
from pipeline.load.structure import MULTILINE_FIELDS


@dataclass
class Ingested:
    source_id: str
    folder: Path
    changes: list[str]
    sha256: str


def default_id(path: Path) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-") or "source"


def _existing_hashes(seeds: Path) -> dict[str, str]:
    hashes = {}
    for meta in seeds.glob(f"*/{SOURCE_FILE}"):
        text = meta.parent / TEXT_FILE
        if text.is_file():
            hashes[sha256_text(text.read_text(encoding="utf-8", errors="replace"))] = (
                meta.parent.name
            )
    return hashes


# The field of source.yaml each text option fills. --id is left to its pattern, which
# refuses any character but a-z, 0-9 and "-".
OPTION_FIELDS = {
    "publisher": "publisher",
    "title": "title",
    "published": "published_date",
    "basis": "published_date_basis",
    "language": "language",
    "url": "url",
}


def _refuse_forbidden_characters(shown: str, options: dict[str, str | None]) -> None:
    """Refuse options holding a character their field of source.yaml may not hold, each a
    problem."""
    problems = []
    for option, value in options.items():
        field = OPTION_FIELDS[option]
        fault = None if value is None else value_fault(value, field in MULTILINE_FIELDS)
        if fault is not None:
            message, char = fault
            hint = character_hint(char)
            problems.append(Problem(shown, None, f"--{option} {message}", field=field, hint=hint))
    if problems:
        raise InputError(problems)


def _refuse_bad_id_or_date(shown: str, source_id: str, published: str | None) -> None:
    if not ID_RE.fullmatch(source_id):
        raise InputError(
            [
                Problem(
                    shown,
                    None,
                    f"source id {source_id!r} is not a lowercase slug",
                    field="source_id",
                    hint="pass --id with lowercase letters, digits and hyphens",
                )
            ]
        )
    if published is not None:
        try:
            dt.date.fromisoformat(published)
        except ValueError:
            raise InputError(
                [
                    Problem(
                        shown,
                        None,
                        f"--published {published!r} is not a yyyy-mm-dd date",
                        field="published_date",
                    )
                ]
            ) from None


def read_article(file: Path, shown: str) -> bytes:
    """The bytes of `file`, refusing anything but a regular file of article size.

    A named pipe or a device is refused before it is opened (opening one can block, or
    act on the device). The file is then opened without waiting and its kind taken again
    from the open file, so it cannot be swapped for another kind in between.
    """
    try:
        _regular(file.stat().st_mode, shown)
        handle = os.open(file, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise InputError([Problem(shown, None, "file not found")]) from None
    except OSError as exc:
        raise InputError([Problem(shown, None, f"cannot read file: {exc.strerror}")]) from None
    with os.fdopen(handle, "rb") as opened:
        facts = os.fstat(opened.fileno())
        _regular(facts.st_mode, shown)
        if facts.st_size > MAX_TEXT_BYTES:
            raise InputError([too_large(shown, facts.st_size)])
        try:
            raw = opened.read(MAX_TEXT_BYTES + 1)
        except OSError as exc:
            raise InputError([Problem(shown, None, f"cannot read file: {exc.strerror}")]) from None
    if len(raw) > MAX_TEXT_BYTES:  # it grew after it was measured
        raise InputError([too_large(shown)])
    return raw


def _regular(mode: int, shown: str) -> None:
    """Refuse a folder, a named pipe, a device or a socket."""
    if stat.S_ISDIR(mode):
        raise InputError(
            [
                Problem(
                    shown, None, "is a directory, not a text file", hint="ingest one file at a time"
                )
            ]
        )
    if not stat.S_ISREG(mode):
        raise InputError(
            [
                Problem(
                    shown,
                    None,
                    f"is {_kind(mode)}, not a regular file",
                    hint="save the article to a regular file and ingest that",
                )
            ]
        )


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else "a special file"


def annotation_template(source_id: str) -> str:
    return (
        f"# yaml-language-server: $schema=../../schemas/annotation.schema.json\n"
        f"source_id: {source_id}\n"
        + "".join(f"{table}: []\n" for table in schemas.ANNOTATED)
        + "uncovered: []\n"
    )


def ingest(
    file: Path,
    seeds: Path,
    *,
    publisher: str,
    title: str | None = None,
    published: str | None = None,
    published_basis: str | None = None,
    source_id: str | None = None,
    language: str = "en",
    url: str | None = None,
) -> Ingested:
    """Store `file` as a new source in `seeds`, after every check; InputError if one fails."""
    shown = str(file)
    _refuse_forbidden_characters(
        shown,
        {
            "publisher": publisher,
            "title": title,
            "published": published,
            "basis": published_basis,
            "language": language,
            "url": url,
        },
    )
    if seeds.exists() and not seeds.is_dir():
        raise InputError(
            [Problem(str(seeds), None, "seeds folder is not a folder", hint="pass --seeds DIR")]
        )
    text, changes = normalise(read_article(file, shown), shown)
    source_id = source_id or default_id(file)
    _refuse_bad_id_or_date(shown, source_id, published)
    folder = seeds / source_id
    _refuse_taken(folder, source_id)
    digest = sha256_text(text)
    _refuse_duplicate(seeds, digest, shown)
    first_line = next((line.strip() for line in text.split("\n") if line.strip()), "")
    meta = {
        "source_id": source_id,
        "title": title or first_line,
        "publisher": publisher,
        "published_date": published,
        "published_date_basis": published_basis
        or ("date line of the source" if published else None),
        "language": language,
        "url": url,
        "text_file": TEXT_FILE,
    }
    _write_source(folder, source_id, text, meta)
    return Ingested(source_id, folder, changes, digest)


def _refuse_taken(folder: Path, source_id: str) -> None:
    if folder.exists():
        raise InputError(
            [
                Problem(
                    str(folder),
                    None,
                    f"source id {source_id!r} is already taken",
                    field="source_id",
                    hint="pass another --id",
                )
            ]
        )


def _refuse_duplicate(seeds: Path, digest: str, shown: str) -> None:
    """Refuse a text already in `seeds` under another id."""
    duplicate = _existing_hashes(seeds).get(digest) if seeds.is_dir() else None
    if duplicate:
        message = f"this text is already ingested as {duplicate!r} (same sha256)"
        raise InputError([Problem(shown, None, message)])


def _write_source(folder: Path, source_id: str, text: str, meta: dict[str, str | None]) -> None:
    """Write the source's folder: its text, metadata and an empty annotation file; all or none."""
    header = "# Source metadata. published_date_basis says how the date was established.\n"
    try:
        folder.mkdir(parents=True)
    except OSError as exc:
        raise InputError(
            [Problem(str(folder), None, f"cannot create the source folder: {exc.strerror}")]
        ) from None
    try:
        (folder / TEXT_FILE).write_text(text, encoding="utf-8", newline="\n")
        (folder / SOURCE_FILE).write_text(
            header + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=100),
            encoding="utf-8",
        )
        (folder / ANNOTATION_FILE).write_text(annotation_template(source_id), encoding="utf-8")
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)  # no half-ingested source is left behind
        raise InputError(
            [Problem(str(folder), None, f"cannot write the source: {exc.strerror}")]
        ) from None
