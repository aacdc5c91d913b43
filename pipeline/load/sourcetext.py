"""Source texts as the pipeline stores them: UTF-8, NFC, \\n line ends, no BOM, no control
characters.

`normalise` turns raw bytes into that form and says what it changed (used by
ingest); `read_text` reads a stored text and refuses one that is not in that form
(offsets would otherwise depend on how the file was saved).

`forbidden_character` is the rule for every text the pipeline keeps, the articles and
each value an annotator or `ingest` writes: no control characters (tab and newline only
where a text may span lines), no lone surrogates, no bidirectional controls.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import unicodedata
from pathlib import Path

from pipeline.contract.problems import InputError, Problem
from pipeline.load.spans import line_of, line_of_byte

MAX_TEXT_BYTES = 20 * 1024 * 1024  # an article is far smaller
REINGEST = (
    "re-ingest the original with 'pipeline ingest', which stores UTF-8, NFC and \\n line ends, "
    "then re-check"
)
CONTROL_HINT = "remove it from the original, then ingest it with 'pipeline ingest'"
CONVERT = (
    "convert the original to UTF-8 (e.g. iconv -f latin1 -t utf-8), "
    "then re-ingest it with 'pipeline ingest'"
)


# Refused in every text: C0 and C1 control characters and DEL; lone surrogates (a Python
# string can hold one, UTF-8 cannot store it); and the bidirectional embedding, override
# and isolate controls, which make text display in another order than it is stored.
_ALWAYS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
# Refused too where a text is one line (ids, names, codes, urls): tab and line breaks.
_FORBIDDEN = {True: re.compile(f"[{_ALWAYS}]"), False: re.compile(f"[{_ALWAYS}\t\n\u2028\u2029]")}
_C0_NAMES = (
    "NUL SOH STX ETX EOT ENQ ACK BEL BS TAB LF VT FF CR SO SI "
    "DLE DC1 DC2 DC3 DC4 NAK SYN ETB CAN EM SUB ESC FS GS RS US"
).split()


def suspect(text: str) -> bool:
    """Whether `text` holds a character some text may not hold (a tab or newline, or worse)."""
    return _FORBIDDEN[False].search(text) is not None


def forbidden_character(text: str, multiline: bool) -> tuple[int, str, int] | None:
    """(offset, character, how many) of the first character `text` may not hold, or None.

    `multiline` texts (summaries, notes, quotes, the articles) may hold tabs and newlines.
    """
    pattern = _FORBIDDEN[multiline]
    found = pattern.search(text)
    if found is None:
        return None
    return found.start(), found.group(), len(pattern.findall(text, found.start()))


def _and_more(count: int) -> str:
    """What follows the first of `count` forbidden characters in a message."""
    return f", and {count - 1} more" if count > 1 else ""


def value_fault(value: str, multiline: bool) -> tuple[str, str] | None:
    """('contains U+001B (ESC, a control character) at character 3, and 1 more', the character)
    for a value holding a character it may not hold; None for a value that holds none."""
    found = forbidden_character(value, multiline)
    if found is None:
        return None
    offset, char, count = found
    return f"contains {describe_character(char)} at character {offset + 1}{_and_more(count)}", char


def too_large(shown: str, size: int | None = None) -> Problem:
    """The problem with a text file larger than MAX_TEXT_BYTES: `size` bytes, or None when it grew
    past the limit while it was read."""
    measured = f"{size / 1e6:.1f} MB" if size is not None else f"over {MAX_TEXT_BYTES >> 20} MB"
    return Problem(
        shown,
        None,
        f"file is {measured}; an article is far smaller",
        hint="check that this is the article text",
    )


def describe_character(char: str) -> str:
    """'U+001B (ESC, a control character)': the code point, and what it is."""
    code = ord(char)
    if char in "\n\u2028\u2029":
        kind = "a line break" if char == "\n" else f"{unicodedata.name(char)}, a line break"
    elif char == "\t":
        kind = "a tab"
    elif 0xD800 <= code <= 0xDFFF:
        kind = "a lone surrogate, not a character"
    elif code < 0x20 or code == 0x7F:
        kind = f"{'DEL' if code == 0x7F else _C0_NAMES[code]}, a control character"
    elif code <= 0x9F:
        kind = "a control character"
    else:
        kind = f"{unicodedata.name(char)}, a bidirectional control"
    return f"U+{code:04X} ({kind})"


def character_hint(char: str, in_yaml: bool = False) -> str:
    """How to get rid of a forbidden character (`in_yaml`: one a YAML file holds, perhaps as an
    escape)."""
    if char in "\t\n\u2028\u2029":
        return (
            "write this value as one line without tabs; "
            "only free text such as a summary, note, quote or reason may span lines"
        )
    if 0xD800 <= ord(char) <= 0xDFFF:
        return (
            "write the character itself, or \\UXXXXXXXX beyond U+FFFF; a lone surrogate is half "
            "a UTF-16 pair or a byte that was not UTF-8, and cannot be stored"
        )
    if 0x202A <= ord(char):
        return "remove it; it makes the text display in another order than it is stored"
    escape = ", and a YAML escape such as \\x1b or \\a writes one" if in_yaml else ""
    return "remove it; control characters are not text" + escape


def _control_problem(text: str, shown: str) -> Problem | None:
    """The first character an article may not hold, located by line and column."""
    found = forbidden_character(text, multiline=True)
    if found is None:
        return None
    offset, char, count = found
    column = offset - text.rfind("\n", 0, offset)
    return Problem(
        shown,
        line_of(text, offset),
        f"character {describe_character(char)} at column {column}{_and_more(count)}",
        hint=CONTROL_HINT,
    )


def normalise(raw: bytes, shown: str) -> tuple[str, list[str]]:
    """Decode and normalise a text; return it and the list of changes made."""
    changes = []
    if b"\x00" in raw:
        raise InputError(
            [
                Problem(
                    shown,
                    None,
                    "file is binary (contains NUL bytes), not text",
                    hint="ingest a plain-text file",
                )
            ]
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = line_of_byte(raw, exc.start)
        raise InputError(
            [
                Problem(
                    shown,
                    line,
                    f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                    hint="convert the file to UTF-8 first, e.g. iconv -f latin1 -t utf-8",
                )
            ]
        ) from None
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
    fault = _control_problem(text, shown)
    if fault is not None:
        raise InputError([fault])
    if not text.strip():
        raise InputError(
            [
                Problem(
                    shown,
                    None,
                    "file is empty (no text)",
                    hint="ingest a file with the article text",
                )
            ]
        )
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
        lines.append(line_of(text, text.index("\r")))
    bad = next(
        (
            number
            for number, line in enumerate(text.split("\n"), 1)
            if not unicodedata.is_normalized("NFC", line)
        ),
        None,
    )
    if bad is not None:
        faults.append("is not in Unicode NFC (decomposed characters)")
        lines.append(bad)
    return min(lines, default=1), faults


def _stored_hint(problem: Problem) -> str | None:
    """The hint for a stored text's fault: ingest repairs some faults, not these."""
    if "UTF-8" in problem.message:
        return CONVERT
    return problem.hint if problem.hint == CONTROL_HINT else REINGEST


def read_text(path: Path, shown: str) -> str:
    """Read a stored source text, refusing one that is not normalised."""
    try:
        size = path.stat().st_size
        if size > MAX_TEXT_BYTES:
            raise InputError([too_large(shown, size)])
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(
            [Problem(shown, None, f"cannot read source text: {exc.strerror}")]
        ) from None
    try:
        text, changes = normalise(raw, shown)
    except InputError as exc:
        raise InputError(
            [dataclasses.replace(p, hint=_stored_hint(p)) for p in exc.problems]
        ) from None
    if changes:
        line, faults = _stored_form_faults(raw.decode("utf-8"))
        raise InputError(
            [
                Problem(
                    shown,
                    line,
                    "source text is not normalised: it " + "; it ".join(faults),
                    hint=REINGEST,
                )
            ]
        )
    return text
