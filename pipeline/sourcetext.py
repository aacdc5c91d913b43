"""Source texts as the pipeline stores them: UTF-8, NFC, \\n line ends, no BOM.

`normalise` turns raw bytes into that form and says what it changed (used by
ingest); `read_text` reads a stored text and refuses one that is not in that form
(offsets would otherwise depend on how the file was saved).
"""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path

from pipeline.problems import InputError, Problem


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
        text = text[1:]
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


def read_text(path: Path, shown: str) -> str:
    """Read a stored source text, refusing one that is not normalised."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError([Problem(shown, None, f"cannot read source text: {exc.strerror}")]) from None
    text, changes = normalise(raw, shown)
    if changes:
        raise InputError([Problem(shown, None, "source text is not normalised: " + "; ".join(changes),
                                  hint="store texts through 'pipeline ingest', which normalises them")])
    return text
