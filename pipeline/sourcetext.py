"""Source texts as the pipeline stores them: UTF-8, NFC, \\n line ends, no BOM.

`normalise` turns raw bytes into that form and says what it changed (used by
ingest); `read_text` reads a stored text and refuses one that is not in that form
(offsets would otherwise depend on how the file was saved).
"""

from __future__ import annotations

import dataclasses
import hashlib
import unicodedata
from pathlib import Path

from pipeline.problems import InputError, Problem

MAX_TEXT_BYTES = 20 * 1024 * 1024
REINGEST = "re-ingest the original with 'pipeline ingest', which stores UTF-8, NFC and \\n line ends, then re-check"
CONVERT = "convert the original to UTF-8 (e.g. iconv -f latin1 -t utf-8), then re-ingest it with 'pipeline ingest'"


def normalise(raw: bytes, shown: str) -> tuple[str, list[str]]:
    """Decode and normalise a text; return it and the list of changes made."""
    changes = []
    if b"\x00" in raw:
        raise InputError([Problem(shown, None, "file is binary (contains NUL bytes), not text",
                                  hint="ingest a plain-text file")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError([Problem(shown, line, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                                  hint="convert the file to UTF-8 first, e.g. iconv -f latin1 -t utf-8")]) from None
    if text.startswith("\ufeff"):
        text = text.lstrip("\ufeff")  # all of them: a second one would be refused by read_text
        changes.append("removed byte order mark")
    if "\r" in text:
        count = text.count("\r")
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        changes.append(f"converted {count} CR/CRLF line ends to \\n")
    nfc = unicodedata.normalize("NFC", text)
    if nfc != text:
        changes.append(f"normalised to NFC ({len(text) - len(nfc)} code points fewer)")
        text = nfc
    if not text.strip():
        raise InputError([Problem(shown, None, "file is empty (no text)", hint="ingest a file with the article text")])
    return text, changes


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _stored_form_faults(text: str) -> tuple[int, list[str]]:
    """First line and description of what keeps a decoded text from the stored form."""
    faults, lines = [], []
    if text.startswith("\ufeff"):
        faults.append("starts with a byte order mark")
        lines.append(1)
    if "\r" in text:
        faults.append(f"has {text.count(chr(13))} CR or CRLF line end(s)")
        lines.append(text.count("\n", 0, text.index("\r")) + 1)
    bad = next((number for number, line in enumerate(text.split("\n"), 1)
                if not unicodedata.is_normalized("NFC", line)), None)
    if bad is not None:
        faults.append("is not in Unicode NFC (decomposed characters)")
        lines.append(bad)
    return min(lines, default=1), faults


def read_text(path: Path, shown: str) -> str:
    """Read a stored source text, refusing one that is not normalised."""
    try:
        size = path.stat().st_size
        if size > MAX_TEXT_BYTES:
            raise InputError([Problem(shown, None, f"file is {size / 1e6:.1f} MB; an article is far smaller",
                                      hint="check that this is the article text")])
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError([Problem(shown, None, f"cannot read source text: {exc.strerror}")]) from None
    try:
        text, changes = normalise(raw, shown)
    except InputError as exc:
        raise InputError([dataclasses.replace(p, hint=CONVERT if "UTF-8" in p.message else REINGEST)
                          for p in exc.problems]) from None
    if changes:
        line, faults = _stored_form_faults(raw.decode("utf-8"))
        raise InputError([Problem(shown, line, "source text is not normalised: it " + "; it ".join(faults),
                                  hint=REINGEST)])
    return text
