"""A cache of the per-document work, so a re-check reads only the annotation files that changed.

What is cached: each source read without a problem (its metadata as parsed; SourceSnapshot);
for each source folder, what reading its annotations.yaml gives (the typed rows,
their origins, the exclusions and the folder's own problems, record rules and single cells'
constraints included). Everything that looks across files (keys, duplicates, foreign keys,
circles, excluded chrome) looks at every row; what those checks find is kept in one file by a
digest of the columns each reads (pipeline.check.memo). Beside the entries, the digests of the files
last looked at, with their status (DigestMemo), so that unchanged files are not read again. A
large corpus keeps every folder's rows in one snapshot besides (pipeline.build.snapshot), and
entries only for the folders read since it was written.

What keys an entry, so that a stale one cannot be used:
- the entry's file name: the annotation file's bytes, the folder and seeds names its messages show
  and how they are shown from the current folder,
  the count conventions the record rules read, whether record rules ran, and the code version (the
  bytes of every pipeline/ module and of schemas/, the entry format, the Python and library
  versions);
- inside the entry: each source its evidence was looked up in (own folder or another), as that
  source's text digest and publication date, or as missing, and when a message listed the known
  sources, the list itself. A lookup checks these against the sources as read now.
An annotation file that changes while it is read is not stored (its bytes are hashed before and
after).

Where: `$PIPELINE_CACHE_DIR`, else `$XDG_CACHE_HOME/karabakh-pipeline` (`~/.cache/...`), and in it
one folder per seeds folder, named by a digest of its absolute path. The user's cache folder rather
than one beside the seeds or in the current folder: a command never writes into folders it did not
create, and a cache there can never land inside seeds/ or a published package. A cache folder that
would lie inside the seeds or the package is not used.

Format: JSON (safe to read from a folder others might write to: it can hold only data, never code),
read and written with orjson: on 2,000 entries of the 10,000-document corpus (79 MB), orjson
decoded in 2.6 s where the standard library took 4.1 s, and encoded in 0.23 s against 1.1 s
(medians of 3, on a loaded machine; a value orjson would not give back exactly, such as NaN, keeps
its folder out of the cache). The sources unchanged since a clean read are kept in one file
(SourceSnapshot); the annotation files' parts one file per entry. Each file has a first line naming
the format, its version, the entry's key and the digest of the rest. An entry that cannot be read,
is of another format or version, was altered or cut short, or does not decode is ignored and
rebuilt, with one note per run. (An entry forged with a matching digest is data like any other:
whoever can write the user's cache folder can also change the code that reads it.) Entries are
written to a temporary file and renamed into place (two commands at once each see whole entries or
none), opened without following symbolic links, and pruned after each full read to the entries that
read used; at most MAX_CORPORA seeds folders keep a cache.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import math
import os
import re
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import orjson

from pipeline.build.tables import Origin, Tables
from pipeline.contract.problems import InputError, Problem, path_for_people
from pipeline.contract.schemas import SCHEMAS_DIR
from pipeline.load.seeds import (
    ANNOTATION_FILE,
    ID_RE,
    SOURCE_FILE,
    Corpus,
    Exclusion,
    Source,
)
from pipeline.load.yamlfile import Located, LocatedList

ENV_FOLDER = "PIPELINE_CACHE_DIR"
APP_FOLDER = "karabakh-pipeline"
FORMAT = "karabakh-pipeline-cache"
FORMAT_VERSION = 1
MAX_CORPORA = 8  # seeds folders with a cache; the least recently used beyond go
ENTRY_NAME = re.compile(r"[0-9a-f]{64}\.json")
MEMO_NAME = re.compile(
    r"(publish-|digests-)[0-9a-f]{64}\.json|(digests|sources|snapshot|checks)\.json|snapshot\.arrow"
)
CORPUS_NAME = re.compile(r"[0-9a-f]{32}")
TEMP_PREFIX = ".tmp-"
STALE_TEMP_SECONDS = 3600  # a temporary file this old was left by a command that died
UNREADABLE_NOTE = "note: ignored an unreadable cache entry in {folder} (rebuilt)"
_SCALARS = (str, int, float, bool, type(None))

_code_version: str | None = None


class _NotCacheable(Exception):
    """A value the entry format does not hold exactly: the folder is rebuilt each time instead."""


def code_version() -> str:
    """A digest of everything that decides what an entry holds, besides the seeds themselves."""
    global _code_version
    if _code_version is None:
        digest = hashlib.sha256(f"{FORMAT} {FORMAT_VERSION} {sys.version}".encode())
        package = Path(__file__).resolve().parents[1]
        files = sorted(package.rglob("*.py")) + sorted(SCHEMAS_DIR.rglob("*"))
        for path in files:
            if path.is_file():
                digest.update(path.as_posix().encode() + b"\0" + path.read_bytes())
        # what parses and words input, and what writes the entries
        for name in ("pyyaml", "jsonschema", "pyarrow", "numpy", "orjson"):
            digest.update(f"{name}={_installed_version(name)}".encode())
        _code_version = digest.hexdigest()
    return _code_version


def _installed_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def default_base() -> Path:
    """The folder holding one cache per seeds folder."""
    if os.environ.get(ENV_FOLDER):
        return Path(os.environ[ENV_FOLDER])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / APP_FOLDER


@dataclass
class Resident:
    """What one process keeps in memory from one check of a seeds folder to the next (`check
    --watch`): the parts read, by entry key (looked up before the entry files); the cache files
    read or written, with their status then (one is read again only when its status differs);
    the sources the cache gave; and the status and digest of each file a check looked at,
    trusted for the files the watcher has not named since (`told`): on a 10,000-document corpus,
    reading the status of its 30,000 files again took 0.4 s of a re-check. The watcher is told
    of every write made after it started, and it starts before the first check."""

    parts: dict[str, tuple[dict, Part]] = field(default_factory=dict)
    payloads: dict[str, tuple[tuple, dict]] = field(default_factory=dict)
    statuses: dict[str, os.stat_result | None] = field(default_factory=dict)
    sources: dict[str, Source] = field(default_factory=dict)  # the sources the cache gave
    digests: dict[str, dict[str, list]] = field(default_factory=dict)  # by memo: DigestMemo.new
    changed: set[str] | None = None  # named since the last check; None: every status read again

    def told(self, names: set[str] | None) -> None:
        """The watcher named these files as changed (None: it could not say which)."""
        self.changed = None if names is None or self.changed is None else self.changed | names

    def settled(self) -> None:
        """A check has read every status it needed: they hold until the watcher names a file."""
        self.changed = set()

    def status(self, name: str) -> os.stat_result | None:
        """The status of the file `name` (a link's own), None when there is none."""
        if self.changed is not None and name not in self.changed and name in self.statuses:
            return self.statuses[name]
        info = lstat(name)
        self.statuses[name] = info
        return info


def lstat(name: str) -> os.stat_result | None:
    """The status of the file `name` (a link's own), None when there is none."""
    try:
        return os.stat(name, follow_symlinks=False)
    except OSError:
        return None


def _identity(info: os.stat_result) -> tuple:
    """What changes whenever a cache file is written: it is written to a new file renamed into
    place, so its inode and change time are new."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


@dataclass
class FolderCache:
    """The cache of one seeds folder: entries looked up, stored, and pruned to those used."""

    folder: Path
    note: Callable[[str], None]
    used: set[str] = field(default_factory=set)
    noted: bool = False
    resident: Resident | None = None  # what this process keeps between checks, if it does

    def lookup(self, key: str) -> dict | None:
        """The payload stored under `key`, or None (absent, or unreadable: noted once)."""
        self.used.add(key)
        return self.read(key)

    def read(self, key: str) -> dict | None:
        """The payload of the file `key`.json, not counted as used. The payload a resident cache
        holds for it is given while the file's status is the one it had then; callers only read
        a payload, never change it."""
        try:
            fd = os.open(self.folder / f"{key}.json", os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None
        except OSError:  # a symbolic link (ELOOP), or no permission
            self._unreadable()
            return None
        held = None if self.resident is None else self.resident.payloads.get(key)
        if held is not None:
            if held[0] == _identity(os.fstat(fd)):
                os.close(fd)
                return held[1]
            del self.resident.payloads[key]  # type: ignore[union-attr]
        try:
            with os.fdopen(fd, "rb") as handle:
                header = json.loads(handle.readline())
                body = handle.read()
            digest = hashlib.sha256(body).hexdigest()
            expected = {"format": FORMAT, "version": FORMAT_VERSION, "key": key, "sha256": digest}
            if header != expected:
                raise ValueError("another format, version or key, or altered")
            payload = orjson.loads(body)
            if not isinstance(payload, dict):
                raise ValueError("not an entry")
            self._hold(key, payload)
            return payload
        except (OSError, ValueError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            self._unreadable()
            return None

    def store(self, key: str, payload: dict) -> None:
        """Write the entry atomically; a cache that cannot be written only costs time."""
        self.used.add(key)
        self.write(key, payload)

    def write(self, key: str, payload: dict) -> bool:
        """Write the file `key`.json atomically, not counted as used; whether it was written."""
        try:
            body = orjson.dumps(payload)
        except orjson.JSONEncodeError:  # text with a lone surrogate: never stored
            return False
        digest = hashlib.sha256(body).hexdigest()
        header = {"format": FORMAT, "version": FORMAT_VERSION, "key": key, "sha256": digest}
        try:
            fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=self.folder)
        except OSError:
            return False
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(json.dumps(header).encode() + b"\n" + body)
            os.replace(temp, self.folder / f"{key}.json")
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            return False
        self._hold(key, payload)
        return True

    def _hold(self, key: str, payload: dict) -> None:
        """Keep the payload of a file other than an entry (parts are kept as parts) in memory
        with the file's status now, when this process keeps what it reads: decoding the digests,
        the sources and the snapshot's description again took 0.2 s of a 10,000-document
        re-check."""
        if self.resident is None or ENTRY_NAME.fullmatch(f"{key}.json"):
            return
        info = lstat(str(self.folder / f"{key}.json"))
        if info is not None:
            self.resident.payloads[key] = (_identity(info), payload)

    def unreadable(self) -> None:
        """An entry that read but does not decode as an entry."""
        self._unreadable()

    def _unreadable(self) -> None:
        if not self.noted:
            self.noted = True
            self.note(UNREADABLE_NOTE.format(folder=self.folder))

    def prune(self) -> None:
        """Remove this seeds folder's entries that the last read did not use, and leftovers."""
        now = time.time()
        for entry in _entries(self.folder):
            name = entry.name
            if ENTRY_NAME.fullmatch(name) and name[:-5] not in self.used:
                _remove(entry)
            elif name.startswith(TEMP_PREFIX) and _older_than(entry, now - STALE_TEMP_SECONDS):
                _remove(entry)
        if self.resident is not None:
            parts = self.resident.parts
            for key in [key for key in parts if key not in self.used]:
                del parts[key]
        with contextlib.suppress(OSError):
            os.utime(self.folder)  # most recently used, for the cap on corpora
        _cap_corpora(self.folder.parent, keep=self.folder)


def open_cache(
    seeds: Path,
    note: Callable[[str], None],
    avoid: Iterable[Path] = (),
    base: Path | None = None,
) -> FolderCache | None:
    """The cache of `seeds`, its folder created if needed; None (with a note) when it cannot be
    used: inside `seeds` or a folder in `avoid`, a symbolic link, not ours, or not writable."""
    base = default_base() if base is None else base
    corpus = hashlib.sha256(str(seeds.resolve()).encode()).hexdigest()[:32]
    folder = base / corpus
    resolved_base = base.resolve()
    for inside in (seeds, *avoid):
        if _within(resolved_base, inside.resolve()):
            note(f"note: cache folder {base} is inside {inside}; checked without a cache")
            return None
    try:
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)
        for made in (base, folder):
            if not _own_folder(made):
                raise OSError(f"{made} is a link or not a folder of this user")
    except OSError as exc:
        note(f"note: cache folder {base} cannot be used ({exc}); checked without a cache")
        return None
    return FolderCache(folder, note)


def _within(folder: Path, parent: Path) -> bool:
    return folder == parent or parent in folder.parents


def _own_folder(path: Path) -> bool:
    """A real folder (not a symbolic link) of the user running the command."""
    info = os.lstat(path)
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid()


def _entries(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as listing:
            return list(listing)
    except OSError:
        return []


def _older_than(entry: os.DirEntry, moment: float) -> bool:
    try:
        return entry.stat(follow_symlinks=False).st_mtime < moment
    except OSError:
        return False


def _remove(entry: os.DirEntry) -> None:
    if entry.is_file(follow_symlinks=False) or entry.is_symlink():
        with contextlib.suppress(OSError):
            os.unlink(entry.path)  # unlink never follows a link: it removes the link itself


def _cap_corpora(base: Path, keep: Path) -> None:
    """Only the MAX_CORPORA most recently used seeds folders keep their cache."""
    corpora = []
    for entry in _entries(base):
        if CORPUS_NAME.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False):
            with contextlib.suppress(OSError):
                corpora.append((entry.stat(follow_symlinks=False).st_mtime, entry.path))
    corpora.sort(reverse=True)
    for _, path in corpora[MAX_CORPORA:]:
        if Path(path) != keep:
            _remove_corpus(Path(path))


def _remove_corpus(folder: Path) -> None:
    """Remove a corpus cache folder: only the files this module names, then the folder if empty."""
    for entry in _entries(folder):
        ours = ENTRY_NAME.fullmatch(entry.name) or MEMO_NAME.fullmatch(entry.name)
        if ours or entry.name.startswith(TEMP_PREFIX):
            _remove(entry)
    with contextlib.suppress(OSError):
        folder.rmdir()


# ---- keys ----


class DigestMemo:
    """Files' digests remembered with their status (device, inode, size, modification and change
    times in nanoseconds), so an unchanged file is not read again: reading and hashing the
    10,000 annotation files of a corpus took 7.7 s of a warm check (profiled, on a loaded machine).

    Why a digest can be reused: any write to a file sets its change time to the clock's now, and
    no call can set it back; a file whose status is as it was when it was hashed has not been
    written since, unless it was written within the same tick of the file system's clock just
    after being hashed. So a digest is reused only for a file last changed RACY_NS before its
    digest was taken (as git does with its index), and otherwise the file is hashed again."""

    def __init__(self, cache: FolderCache, name: str = "digests"):
        self.cache, self.name = cache, name
        resident = cache.resident
        self.status = lstat if resident is None else resident.status
        self.started = time.time_ns()  # before any status is read or file hashed in this run
        self.old: dict[str, list] = {}
        self.trusted_before = 0
        self.new: dict[str, list] = {}
        # A resident cache's digests of the last check, true of every file not named since:
        # looking them up took 0.2 s of a 10,000-document re-check, and the remembered ones are
        # not needed (a file named since was written)
        self.held, self.changed = {}, set()
        if resident is not None:
            if resident.changed is not None:
                self.held, self.changed = resident.digests.get(name, {}), resident.changed
            resident.digests[name] = self.new  # what this check finds, for the next one
            if self.held:
                return
        memo = cache.read(name)
        if memo is not None:
            try:
                self.old = _memo_files(memo)
                self.trusted_before = int(memo["hashed_ns"]) - RACY_NS
            except (KeyError, TypeError, ValueError):
                self.old = {}
                cache.unreadable()

    def digest(self, path: Path | str) -> str | None:
        """What file_digest(path) gives now."""
        name = str(path)  # stat of a str: a Path's conversion added half again to 30,000 stats
        held = self.held.get(name)
        if held is not None and name not in self.changed:
            self.new[name] = held
            return held[5]
        info = self.status(name)
        if info is None:
            return None  # absent or unreadable: file_digest gives None too
        if not stat.S_ISREG(info.st_mode):
            return file_digest(path)
        known = self.old.get(name)
        if known is not None and self._unchanged(known, info):
            self.new[name] = known  # the same list: 30,000 new ones took a tenth of a second
            return known[5]
        digest = file_digest(path)
        if digest is not None:
            status = [info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]
            self.new[name] = [*status, digest]
        return digest

    def _unchanged(self, known: list, info: os.stat_result) -> bool:
        """Whether the file's status is the one `known` remembers, from before RACY_NS."""
        return (
            known[3] == info.st_mtime_ns
            and known[4] == info.st_ctime_ns
            and known[2] == info.st_size
            and known[1] == info.st_ino
            and known[0] == info.st_dev
            and max(info.st_mtime_ns, info.st_ctime_ns) < self.trusted_before
        )

    def remember(self, path: Path, digest: str) -> None:
        """Remember `digest` for the regular file `path`, read in this run: its status is taken
        now, after the read, so a write between the two leaves a change time after this run began,
        and the digest is not trusted next time."""
        info = lstat(str(path))
        if info is not None and stat.S_ISREG(info.st_mode):
            status = [info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]
            self.new[str(path)] = [*status, digest]

    def save(self) -> None:
        """Remember the digests of this run (the files it looked at), if any differ."""
        if self.new != self.old:
            self.cache.write(self.name, {"hashed_ns": self.started, "files": self.new})


RACY_NS = 2_000_000_000  # the coarsest clock of a common file system (FAT) ticks every 2 s


def _memo_files(memo: dict) -> dict[str, list]:
    files = memo["files"]
    if not isinstance(files, dict):
        raise ValueError("no files")
    for status in files.values():
        if not (
            isinstance(status, list)
            and len(status) == 6
            and all(type(n) is int for n in status[:5])
            and isinstance(status[5], str)
        ):
            raise ValueError("a file's status of another shape")
    return files


def file_digest(path: Path | str) -> str | None:
    """The digest of a regular file's bytes, None if it is not one (its fault is reported by the
    read itself, which is then never cached)."""
    try:
        # not blocking: a named pipe planted as the file must not hang the command
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:  # absent, a link, unreadable
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a folder or a pipe: the read reports it
            os.close(fd)
            return None
        with os.fdopen(fd, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


def folder_key(context: str, folder: Path, annotation_digest: str) -> str:
    """The name of a folder's entry: its annotation file's bytes in the read's `context`."""
    text = f"{code_version()}\0{context}\0{folder.name}\0{annotation_digest}"
    return hashlib.sha256(text.encode()).hexdigest()


def annotation_path(folder: Path) -> str:
    # a str: making 10,000 Paths took 0.06 s of a re-check
    return os.path.join(folder, ANNOTATION_FILE)


def read_context(root: Path, conventions: dict, with_rules: bool) -> str:
    """What every entry of one read shares: the seeds name and how its files are shown from the
    current folder (messages name them so), the conventions, the rules."""
    return repr((root.name, shown_root(root), sorted(conventions.items()), with_rules))


def shown_root(root: Path) -> str:
    """How messages name the files under `root` from the current folder: the prefix of its
    folders, or, when the current folder is inside `root`, that folder itself."""
    prefix = _shown_prefix(root)
    return f"inside {os.getcwd()}" if prefix is None else prefix


# ---- entries ----


@dataclass
class Part:
    """What reading one folder's annotations gives."""

    tables: Tables
    exclusions: list[Exclusion]
    problems: list
    sources_read: set[str] = field(default_factory=set)  # the sources its evidence looked up
    listed: bool = False  # whether a message listed every known source


def dependencies(part: Part, states: dict[str, str], known: str) -> dict:
    """The sources `part` read, as they are now: what a later lookup compares."""
    return {
        "sources": sorted([source, states.get(source, "missing")] for source in part.sources_read),
        "known": known if part.listed else None,
    }


def still_valid(payload: dict, states: dict[str, str], known: str) -> bool:
    deps = payload.get("deps")
    if not isinstance(deps, dict) or not isinstance(deps.get("sources"), list):
        raise ValueError("no dependencies")
    if deps.get("known") is not None and deps["known"] != known:
        return False
    return all(states.get(source, "missing") == state for source, state in deps["sources"])


def encode_part(part: Part) -> dict:
    """The part as JSON data; _NotCacheable when a value would not come back the same."""
    tables = part.tables
    encoded_tables = {}
    key_sets: list[list[str]] = []
    key_index: dict[tuple, int] = {}
    for table, rows in tables.rows.items():
        if rows:
            encoded_tables[table] = _encode_rows(rows, tables.origins[table], key_sets, key_index)
    evidence_index = {id(row): n for n, row in enumerate(tables.rows["evidence"])}
    return {
        "tables": encoded_tables,
        "keys": key_sets,
        "evidence_of": [
            [table, record, [evidence_index[id(row)] for row in rows]]
            for (table, record), rows in tables.evidence_of.items()
        ],
        "bad_cells": sorted(list(cell) for cell in tables.bad_cells),
        "weekday_exempt": sorted(tables.weekday_exempt),
        "short_exempt": sorted(tables.short_exempt),
        "exclusions": [encode_exclusion(exclusion) for exclusion in part.exclusions],
        "problems": [[p.file, p.line, p.message, p.record, p.field, p.hint] for p in part.problems],
    }


def _encode_rows(rows: list[dict], origins: list[Origin], key_sets: list, key_index: dict) -> dict:
    names = list(rows[0])
    dated = [n for n, value in enumerate(rows[0].values()) if type(value) is dt.date]
    dated += [
        n
        for row in rows[1:]
        for n, value in enumerate(row.values())
        if type(value) is dt.date and n not in dated
    ]
    values = []
    for row in rows:
        if list(row) != names:
            raise _NotCacheable("rows of one table with other columns")
        cells = list(row.values())
        for n, cell in enumerate(cells):
            if n in dated and cell is not None:
                if type(cell) is not dt.date:
                    raise _NotCacheable("a date column holding another type")
                cells[n] = cell.isoformat()
            elif not _kept_exactly(cell):
                raise _NotCacheable(f"a value of type {type(cell).__name__}")
        values.append(cells)
    return {
        "columns": names,
        "dates": sorted(set(dated)),
        "rows": values,
        "origins": [_encode_origin(origin, key_sets, key_index) for origin in origins],
    }


def _encode_origin(origin: Origin, key_sets: list, key_index: dict) -> list:
    if origin.keys not in key_index:
        key_index[origin.keys] = len(key_sets)
        key_sets.append(list(origin.keys))
    return [origin.file, origin.line, origin.record, key_index[origin.keys], list(origin.lines)]


def _kept_exactly(value: object) -> bool:
    """A scalar JSON gives back as it was (orjson writes NaN and infinities as null)."""
    return type(value) in _SCALARS and (type(value) is not float or math.isfinite(value))


def encode_exclusion(exclusion: Exclusion) -> list:
    values = exclusion.values
    if not all(_kept_exactly(value) for value in values.values()):
        raise _NotCacheable("an exclusion holding a mapping or a list")
    return [exclusion.source_id, exclusion.file, dict(values), values.line, values.key_lines]


def decode_part(data: dict) -> Part:
    """The part an entry holds; ValueError (or KeyError, TypeError) for one that does not decode."""
    tables = Tables()
    key_sets = [tuple(keys) for keys in data["keys"]]
    for table, encoded in data["tables"].items():
        if table not in tables.rows:
            raise ValueError(f"unknown table {table!r}")
        tables.rows[table] = _decode_rows(encoded)
        tables.origins[table] = [
            Origin(file, line, record, key_sets[keys], tuple(lines))
            for file, line, record, keys, lines in encoded["origins"]
        ]
        if len(tables.origins[table]) != len(tables.rows[table]):
            raise ValueError("rows and origins differ in number")
    evidence = tables.rows["evidence"]
    tables.evidence_of = {
        (table, record): [evidence[n] for n in indices]
        for table, record, indices in data["evidence_of"]
    }
    tables.bad_cells = {(table, index, column) for table, index, column in data["bad_cells"]}
    tables.weekday_exempt = set(data["weekday_exempt"])
    tables.short_exempt = set(data["short_exempt"])
    exclusions = [decode_exclusion(*item) for item in data["exclusions"]]
    problems = [Problem(*item) for item in data["problems"]]
    return Part(tables, exclusions, problems)


def _decode_rows(encoded: dict) -> list[dict]:
    names = encoded["columns"]
    rows = [dict(zip(names, cells, strict=True)) for cells in encoded["rows"]]
    for n in encoded["dates"]:
        name = names[n]
        for row in rows:
            if row[name] is not None:
                row[name] = dt.date.fromisoformat(row[name])
    return rows


def decode_exclusion(source_id: str, file: str, values: dict, line: int, key_lines: dict):
    located = Located(values)
    located.line = line
    located.key_lines = key_lines
    return Exclusion(source_id, located, file)


def entry_payload(part: Part, states: dict[str, str], known: str) -> dict | None:
    """The entry for `part`, or None when it holds a value the format does not keep exactly."""
    try:
        return {"deps": dependencies(part, states, known), "part": encode_part(part)}
    except _NotCacheable:
        return None


def payload_part(payload: dict) -> Part:
    """The part of an entry; ValueError when it does not decode."""
    try:
        return decode_part(payload["part"])
    except (KeyError, TypeError, IndexError, AttributeError) as exc:
        raise ValueError(f"entry does not decode: {exc!r}") from None


# ---- sources ----

SOURCES_NAME = "sources"
CHECKS_NAME = "checks"  # what the checks across files found (pipeline.check.memo)


class SourceSnapshot:
    """The sources read without a problem last time, in one file (the name SOURCES_NAME): each
    folder's source.yaml digest, its metadata as parsed (lines kept), its text file's name and
    the digest of that text. A folder whose source.yaml and text have those digests now (both by
    DigestMemo, as the annotation files) is not parsed again; its text is never stored in the
    cache, but read from its file when first used (LazySource), and used only if its bytes still
    hash to the digest. A folder with any problem is read every time, so its messages are always
    the reader's own. One file rather than one per source: 10,000
    small reads cost more than one read of every metadata (figures in parallel.py)."""

    def __init__(self, cache: FolderCache, digests: DigestMemo, root: Path):
        self.cache, self.digests = cache, digests
        self.context = f"{code_version()}\0{root.name}"
        # the shown paths of its files, as path_for_people gives them, built once: calling it for
        # each of 10,000 sources' two files took 2.5 s of a 62 s profiled warm check
        self.shown = _shown_prefix(root)
        self.before: dict[str, str | None] = {}  # folder name -> source.yaml digest at lookup
        self.kept: dict[str, list] = {}  # what the next read may use
        self.old: dict = {}
        payload = cache.read(SOURCES_NAME)
        if payload is not None and payload.get("context") == self.context:
            if isinstance(payload.get("sources"), dict):
                self.old = payload["sources"]
            else:
                cache.unreadable()

    def lookup(self, folders: list[Path]) -> dict[str, Source]:
        """The sources of `folders` that are as they were read cleanly last time."""
        found: dict[str, Source] = {}
        held = {} if self.cache.resident is None else self.cache.resident.sources
        for folder in folders:
            name, base = folder.name, str(folder)
            digest = self.digests.digest(os.path.join(base, SOURCE_FILE))
            self.before[name] = digest
            entry = self.old.get(name)
            if digest is None or entry is None:
                continue
            if not ID_RE.fullmatch(name) or self._link(base):
                continue  # the read reports it, every time
            source = held.get(name)
            if source is None or not self._still(source, digest, entry, base):
                try:
                    source = _cached_source(
                        folder, digest, entry, self._shown_in(folder), self.digests
                    )
                except (ValueError, TypeError, KeyError, IndexError, AttributeError):
                    self.cache.unreadable()
                    continue
            if source is not None:
                found[name] = source
                self.kept[name] = entry
        if self.cache.resident is not None:
            self.cache.resident.sources = found
        return found

    def _still(self, source: Source, digest: str, entry: list, base: str) -> bool:
        """Whether a source kept in memory is the one `entry` gives now, its source.yaml of
        `digest` and its text unchanged: making the 10,000 sources of a corpus again took 0.2 s
        of a re-check."""
        digests = getattr(source, "digests", None)
        if digests is None or entry[:3] != digests or entry[0] != digest:
            return False
        if not _plain_name(entry[1]):
            return False
        return self.digests.digest(os.path.join(base, entry[1])) == entry[2]

    def _link(self, folder: str) -> bool:
        info = self.digests.status(folder)
        return info is not None and stat.S_ISLNK(info.st_mode)

    def _shown_in(self, folder: Path) -> Callable[[str], str]:
        """How messages name a file of `folder`, given its name."""
        if self.shown is None:
            return lambda name: path_for_people(folder / name)
        prefix = f"{self.shown}{folder.name}{os.sep}"
        return lambda name: prefix + name

    def store(self, corpus: Corpus, read: list[Path]) -> None:
        """Keep the sources of the folders `read` that gave no problem and did not change while
        they were read; write the file if it differs."""
        faulty = {problem.file for problem in corpus.problems}
        for folder in read:
            source = corpus.sources.get(folder.name)
            if source is None or source.file in faulty or source.text_file in faulty:
                continue
            text_name = source.meta.get("text_file")
            before = self.before.get(folder.name)
            if not _plain_name(text_name) or before is None:
                continue
            if file_digest(folder / SOURCE_FILE) != before:
                continue  # changed while it was read
            try:
                meta = _encode_value(source.meta)
            except _NotCacheable:
                continue
            self.kept[folder.name] = [before, text_name, source.sha256, meta]
            self.digests.remember(folder / str(text_name), source.sha256)
        if self.kept != self.old:
            self.cache.write(SOURCES_NAME, {"context": self.context, "sources": self.kept})


def _shown_prefix(root: Path) -> str | None:
    """How path_for_people shows the files of `root`'s folders, up to the folder's name; None
    when it depends on the folder (the current folder is inside `root`)."""
    try:
        here = os.getcwd()
    except OSError:
        return None
    full = os.path.normpath(os.path.join(here, root))
    if here != full and os.path.commonpath([here, full]) == full:
        return None
    shown = path_for_people(root)
    return "" if shown == "." else shown + os.sep


def _plain_name(name: object) -> bool:
    """A file name of the folder itself: no path that a link could send elsewhere."""
    return isinstance(name, str) and name not in ("", ".", "..") and "/" not in name


def _cached_source(
    folder: Path, digest: str, entry: list, shown: Callable[[str], str], digests: DigestMemo
) -> Source | None:
    """The source an entry keeps, if its source.yaml has `digest` and its text (by `digests`) its
    digest; `shown(name)` is how messages name the folder's file `name`."""
    meta_digest, text_name, text_digest, encoded = entry
    if meta_digest != digest or not _plain_name(text_name):
        return None
    text = folder / text_name  # once: 10,000 paths made twice took 0.04 s of a re-check
    if digests.digest(text) != text_digest:
        return None
    if not isinstance(encoded, dict) or "map" not in encoded:
        raise ValueError("metadata is not a mapping")
    return LazySource(folder.name, encoded, text, shown(SOURCE_FILE), shown(text_name), entry[:3])


class LazySource(Source):
    """A source read cleanly before, its files unchanged since (DigestMemo): its text is read only
    when first used (reading and hashing 10,000 texts took 2 s of a warm check, and a check of
    unchanged files needs none of them), and its metadata made from the entry (`encoded`) only
    when first used too (a warm check through the snapshot needs none: 0.1 s of 10,000).
    `digests` are those of its source.yaml, its text's name and its text."""

    def __init__(
        self, source_id: str, encoded: dict, path: Path, file: str, text_file: str, digests: list
    ):
        self.source_id, self.file, self.text_file = source_id, file, text_file
        self.path, self.digests, self.encoded = path, digests, encoded
        self._text: str | None = None
        self._meta: Located | None = None

    @property  # a field of Source, made here when first used
    def meta(self) -> Located:
        if self._meta is None:
            meta = _decode_value(self.encoded)
            assert isinstance(meta, Located)  # the entry is a mapping: _cached_source saw it
            self._meta = meta
        return self._meta

    @meta.setter
    def meta(self, value: Located) -> None:
        self._meta = value

    @property  # a field of Source, read here when first used
    def text(self) -> str:
        if self._text is None:
            text = _text_if(self.path, self.digests[2])
            if text is None:
                raise InputError(
                    [
                        Problem(
                            self.text_file,
                            None,
                            "file changed while it was checked",
                            hint="run the command again",
                        )
                    ]
                )
            self._text = text
        return self._text

    @text.setter
    def text(self, value: str) -> None:
        self._text = value

    @property
    def sha256(self) -> str:
        return self.digests[2]


def _text_if(path: Path, digest: str) -> str | None:
    """The text of the regular file `path` if its bytes hash to `digest`, else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        raw = handle.read()
    if hashlib.sha256(raw).hexdigest() != digest:
        return None
    return raw.decode("utf-8")  # these bytes were read as a normalised text before


def _encode_value(value: object) -> object:
    """A parsed YAML value as JSON data, the lines of its mappings and lists kept."""
    if isinstance(value, Located):
        if not all(type(key) is str for key in value):
            raise _NotCacheable("a key that is not text")
        pairs = [[key, _encode_value(item)] for key, item in value.items()]
        return {"map": pairs, "line": value.line, "key_lines": list(value.key_lines.items())}
    if isinstance(value, LocatedList):
        items = [_encode_value(item) for item in value]
        return {"list": items, "line": value.line, "item_lines": value.item_lines}
    if not _kept_exactly(value):
        raise _NotCacheable(f"a value of type {type(value).__name__}")
    return value


def _decode_value(data: object) -> object:
    """The value _encode_value gave `data` for."""
    if not isinstance(data, dict):
        return data
    if "map" in data:
        located = Located((key, _decode_value(item)) for key, item in data["map"])
        located.line = data["line"]
        located.key_lines = dict(data["key_lines"])
        return located
    items = LocatedList(_decode_value(item) for item in data["list"])
    items.line = data["line"]
    items.item_lines = data["item_lines"]
    return items


# ---- one read of a corpus ----


class Plan:
    """One read's use of the cache: what its entries are keyed by, which folders hit, and what the
    folders read again are stored as (by the process that read them, a worker or this one)."""

    def __init__(
        self,
        cache: FolderCache,
        corpus: Corpus,
        tables: Tables,
        context: tuple[dict, dict],
        with_rules: bool,
        digests: DigestMemo | None = None,
    ):
        self.cache = cache
        self.context = read_context(corpus.root, context[0], with_rules)
        rows = tables.rows["sources"]  # one per source, in corpus.sources' order
        self.states = {
            source: f"{row['text_sha256']}|{row['published_date']!r}"
            for source, row in zip(corpus.sources, rows, strict=True)
        }
        self.states.update((source, "unreadable") for source in corpus.unreadable_sources)
        listing = repr((sorted(corpus.sources), sorted(corpus.unreadable_sources)))
        self.known = hashlib.sha256(listing.encode()).hexdigest()
        self.keys: dict[Path, tuple[str, str]] = {}  # folder -> (annotation digest, entry key)
        self.deps: dict[Path, dict] = {}  # folder -> the dependencies of the entry it hit
        self.digests = DigestMemo(cache) if digests is None else digests

    def lookup(self, folders: list[Path]) -> dict[Path, Part]:
        """The parts of the folders whose entries are still valid."""
        found = {}
        for folder in folders:
            digest = self.digests.digest(annotation_path(folder))
            if digest is None:
                continue  # no regular file: the read reports why, every time
            key = folder_key(self.context, folder, digest)
            self.keys[folder] = (digest, key)
            resident = self.cache.resident
            kept = None if resident is None else resident.parts.get(key)
            if kept is not None:
                self.cache.used.add(key)  # its file is in use too: not pruned
            payload = self.cache.lookup(key) if kept is None else {"deps": kept[0]}
            if payload is None:
                continue
            try:
                if still_valid(payload, self.states, self.known):
                    found[folder] = payload_part(payload) if kept is None else kept[1]
                    self.deps[folder] = payload["deps"]
                    self._keep(key, payload["deps"], found[folder])
            except (ValueError, TypeError, AttributeError):  # dependencies of another shape
                self.cache.unreadable()
        self.digests.save()
        return found

    def keep(self, folder: Path, part: Part) -> None:
        """Keep the part read from `folder` in memory, if the cache keeps parts and the file is
        as it was looked up (read here: the part came from a worker)."""
        if self.cache.resident is None or folder not in self.keys:
            return
        digest, key = self.keys[folder]
        if file_digest(annotation_path(folder)) == digest:
            self._keep(key, dependencies(part, self.states, self.known), part)

    def _keep(self, key: str, deps: dict, part: Part) -> None:
        if self.cache.resident is not None:
            self.cache.resident.parts[key] = (deps, part)

    def store(self, folder: Path, part: Part) -> None:
        """Store the part read from `folder`, unless its file changed while it was read."""
        if folder not in self.keys:
            return
        digest, key = self.keys[folder]
        if file_digest(annotation_path(folder)) != digest:
            return
        payload = entry_payload(part, self.states, self.known)
        if payload is not None:
            self.cache.store(key, payload)


# ---- publish of an unchanged corpus ----


def tree_digest(folder: Path, digests: DigestMemo | None = None) -> str:
    """A digest of everything under `folder`, in path order: each file's path and bytes (as
    `digests` remembers them, if given), each link's path and target, each other kind of entry's
    path and kind."""
    digest = hashlib.sha256()
    for root, folders, files in os.walk(folder):  # links to folders are listed, not followed
        folders.sort()
        links = [name for name in folders if os.path.islink(os.path.join(root, name))]
        for name in sorted(files + links):
            path = os.path.join(root, name)
            digest.update(os.path.relpath(path, folder).encode("utf-8", "surrogateescape") + b"\0")
            described = _entry_digest(path, digests)
            digest.update(described.encode("utf-8", "surrogateescape") + b"\0")
    return digest.hexdigest()


def _entry_digest(path: str, digests: DigestMemo | None) -> str:
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        return "link " + os.readlink(path)
    if not stat.S_ISREG(info.st_mode):
        return f"kind {stat.S_IFMT(info.st_mode)}"
    found = file_digest(Path(path)) if digests is None else digests.digest(Path(path))
    return found or "unreadable"


@dataclass
class PublishMemo:
    """What the last publish of `seeds` into one target found or wrote: the digest of its inputs
    (every byte under the seeds folder, and the code version) and of the package it left. When
    both hold again, a build would give the package it already is, byte for byte, so publish says
    it is unchanged without building (measured on 10,000 documents: see bench/RESULTS.md)."""

    cache: FolderCache
    seeds: Path
    name: str
    inputs: str
    digests: DigestMemo  # of the seeds' and the package's files, remembered for the next publish

    @classmethod
    def open(cls, cache: FolderCache, seeds: Path, target: Path) -> PublishMemo:
        place = hashlib.sha256(str(target.resolve()).encode()).hexdigest()
        digests = DigestMemo(cache, f"digests-{place}")
        return cls(cache, seeds, f"publish-{place}", _inputs(seeds, digests), digests)

    def unchanged(self, package: Path) -> str | None:
        """The version of `package` if it is what the same inputs gave last time, else None."""
        memo = self.cache.read(self.name)
        if memo is None or memo.get("inputs") != self.inputs:
            return None
        if not isinstance(memo.get("version"), str):
            return None
        if memo.get("package") != tree_digest(package, self.digests):
            return None
        self.digests.save()
        return memo["version"]

    def record(self, package: Path, version: str) -> None:
        """Remember that these inputs give `package` (unless the seeds changed meanwhile)."""
        if _inputs(self.seeds, self.digests) != self.inputs:
            return
        package_digest = tree_digest(package, self.digests)
        memo = {"inputs": self.inputs, "package": package_digest, "version": version}
        self.cache.write(self.name, memo)
        self.digests.save()


def _inputs(seeds: Path, digests: DigestMemo) -> str:
    text = f"{code_version()}\0{seeds.name}\0{tree_digest(seeds, digests)}"
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
