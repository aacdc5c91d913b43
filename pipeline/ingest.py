"""Add a source text to seeds/: normalised text, metadata and an empty annotation file.

The text is stored as UTF-8, NFC, with \\n line ends, so evidence offsets mean the
same on every machine; the caller is told what was changed. Files that are not
text, texts already ingested (same hash) and ids already taken are refused.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline import schemas
from pipeline.problems import InputError, Problem
from pipeline.seeds import ID_RE
from pipeline.sourcetext import normalise, sha256_text

MAX_TEXT_BYTES = 20 * 1024 * 1024


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
    for meta in seeds.glob("*/source.yaml"):
        text = meta.parent / "text.txt"
        if text.is_file():
            hashes[sha256_text(text.read_text(encoding="utf-8", errors="replace"))] = meta.parent.name
    return hashes


def annotation_template(source_id: str) -> str:
    return (f"# yaml-language-server: $schema=../../schemas/annotation.schema.json\n"
            f"source_id: {source_id}\n"
            + "".join(f"{table}: []\n" for table in schemas.ANNOTATED)
            + "uncovered: []\n")


def ingest(file: Path, seeds: Path, *, publisher: str, title: str | None = None, published: str | None = None,
           published_basis: str | None = None, source_id: str | None = None, language: str = "en",
           url: str | None = None) -> Ingested:
    shown = str(file)
    if file.is_dir():
        raise InputError([Problem(shown, None, "is a directory, not a text file", hint="ingest one file at a time")])
    if not file.is_file():
        raise InputError([Problem(shown, None, "file not found")])
    if seeds.exists() and not seeds.is_dir():
        raise InputError([Problem(str(seeds), None, "seeds folder is not a folder", hint="pass --seeds DIR")])
    try:
        size = file.stat().st_size
        if size > MAX_TEXT_BYTES:
            raise InputError([Problem(shown, None, f"file is {size / 1e6:.1f} MB; an article is far smaller",
                                      hint="check that this is the article text")])
        raw = file.read_bytes()
    except OSError as exc:
        raise InputError([Problem(shown, None, f"cannot read file: {exc.strerror}")]) from None
    text, changes = normalise(raw, shown)
    source_id = source_id or default_id(file)
    if not ID_RE.fullmatch(source_id):
        raise InputError([Problem(shown, None, f"source id {source_id!r} is not a lowercase slug",
                                  field="source_id", hint="pass --id with lowercase letters, digits and hyphens")])
    if published is not None:
        try:
            dt.date.fromisoformat(published)
        except ValueError:
            raise InputError([Problem(shown, None, f"--published {published!r} is not a yyyy-mm-dd date",
                                      field="published_date")]) from None
    folder = seeds / source_id
    if folder.exists():
        raise InputError([Problem(str(folder), None, f"source id {source_id!r} is already taken",
                                  field="source_id", hint="pass another --id")])
    digest = sha256_text(text)
    duplicate = _existing_hashes(seeds).get(digest) if seeds.is_dir() else None
    if duplicate:
        raise InputError([Problem(shown, None, f"this text is already ingested as {duplicate!r} (same sha256)")])
    first_line = next((line.strip() for line in text.split("\n") if line.strip()), "")
    meta = {
        "source_id": source_id,
        "title": title or first_line,
        "publisher": publisher,
        "published_date": published,
        "published_date_basis": published_basis or ("date line of the source" if published else None),
        "language": language,
        "url": url,
        "text_file": "text.txt",
    }
    header = "# Source metadata. published_date_basis says how the date was established.\n"
    try:
        folder.mkdir(parents=True)
    except OSError as exc:
        raise InputError([Problem(str(folder), None, f"cannot create the source folder: {exc.strerror}")]) from None
    try:
        (folder / "text.txt").write_text(text, encoding="utf-8", newline="\n")
        (folder / "source.yaml").write_text(header + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=100),
                                            encoding="utf-8")
        (folder / "annotations.yaml").write_text(annotation_template(source_id), encoding="utf-8")
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)  # no half-ingested source is left behind
        raise InputError([Problem(str(folder), None, f"cannot write the source: {exc.strerror}")]) from None
    return Ingested(source_id, folder, changes, digest)
