"""The whole-corpus snapshot: the rows every folder gave, in one Arrow file read memory-mapped.

After a read of a large corpus, the built tables of every folder (sources included) are kept
together: one Arrow IPC table per table, its columns typed by schemas/, in folder order, with the
rows' origins in columns of their own (file, line, record, the lines of its keys). Beside it, in a
cache file of its own (FolderCache's JSON, digest-checked), what each folder depends on and gave
besides rows: its annotation file's digest, the sources its evidence looked up, its source's
digests, its problems, exclusions and exemptions, and how many rows of each table it gave. A later
read takes an unchanged folder's rows as a slice of the snapshot (no copy, no Python object per
row) and reads only the folders that changed; the checks across files read the tables' Arrow
columns (BuiltRows), and a row or its origin is made into Python values only when a problem is
told about it.

Keyed like the entries (pipeline.build.cache): the code version, the seeds name and how its files
are shown, the conventions and whether record rules ran. The Arrow file and its description carry
the same random token, so a pair written by two commands at once is never read together. Each
column's bytes have a CRC-32 in the description, checked the first time the column is read (a
check of unchanged files reads the key columns only: 0.12 s of CRCs in a profiled warm check of
10,000 documents). CRC rather than sha256 because it is checked on every re-check, and it only has
to catch accidents (a file cut short or damaged on disk; a forged cache is out of reach, as for the
entries): 90 MB took 0.31 s with zlib.crc32 and 0.71 s with sha256 (medians of 3, a loaded
machine). Anything stale, foreign, cut short or damaged is ignored (SnapshotDamaged when found
late) and the corpus read again.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import secrets
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from pipeline.build.cache import TEMP_PREFIX, FolderCache, Part, encode_exclusion
from pipeline.build.tables import Origin, Tables
from pipeline.contract import schemas
from pipeline.contract.constraints import column_array, texts
from pipeline.contract.fieldtypes import INT64
from pipeline.contract.problems import Problem

DESCRIPTION_NAME = "snapshot"  # the FolderCache file describing it: snapshot.json
DATA_NAME = "snapshot.arrow"
TOKEN_KEY = b"karabakh-pipeline-snapshot"
ORIGIN_COLUMNS = ("_file", "_line", "_record", "_keys", "_lines")


class SnapshotDamaged(Exception):
    """A snapshot found damaged after it was opened: the read starts again without it."""


class NotKept(Exception):
    """Rows the snapshot would not give back exactly: their folder is read each time instead."""


# ---- Arrow columns of rows and origins ----


def row_columns(table: str, rows: list[dict]) -> dict[str, pa.Array]:
    """The rows' values as Arrow columns typed by the table's schema."""
    return {
        spec["name"]: column_array([row.get(spec["name"]) for row in rows], spec["type"])
        for spec in schemas.fields(table)
    }


def exact_columns(table: str, rows: list[dict]) -> dict[str, pa.Array]:
    """As row_columns, or NotKept when a value would not come back the same: an integer beyond
    int64 (column_array holds it at its end) or text that is not UTF-8 (a lone surrogate)."""
    columns = row_columns(table, rows)
    for spec in schemas.fields(table):
        name = spec["name"]
        if spec["type"] == "integer":
            present = [row[name] for row in rows if row.get(name) is not None]
            if present and (max(present) >= INT64 or min(present) < -INT64):
                raise NotKept(f"{table}.{name} beyond int64")
        elif spec["type"] == "string":
            try:
                columns[name].validate(full=True)
            except pa.ArrowInvalid:
                raise NotKept(f"{table}.{name} not UTF-8") from None
    return columns


class Interned(dict):
    """Values numbered in the order they are first seen."""

    def number(self, value) -> int:
        return self.setdefault(value, len(self))

    def values_in_order(self) -> list:
        return list(self)


def origin_columns(origins: list[Origin], files: Interned, keys: Interned) -> dict[str, pa.Array]:
    """Origins as columns: file and key names numbered (files, keys), the key lines a list."""
    lengths = np.array([len(origin.lines) for origin in origins], dtype=np.int32)
    offsets = np.zeros(len(origins) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.array([line for origin in origins for line in origin.lines], dtype=np.int32)
    values = pa.Array.from_buffers(pa.int32(), len(flat), [None, pa.py_buffer(flat)])
    return {
        "_file": _int32s([files.number(origin.file) for origin in origins]),
        "_line": column_array([origin.line for origin in origins], "integer"),
        "_record": texts([origin.record for origin in origins]),
        "_keys": _int32s([keys.number(origin.keys) for origin in origins]),
        "_lines": pa.ListArray.from_arrays(
            pa.Array.from_buffers(pa.int32(), len(offsets), [None, pa.py_buffer(offsets)]), values
        ),
    }


def _int32s(values: list[int]) -> pa.Array:
    numbers = np.array(values, dtype=np.int32)
    return pa.Array.from_buffers(pa.int32(), len(numbers), [None, pa.py_buffer(numbers)])


def column_crc(column: pa.Array | pa.ChunkedArray) -> int:
    """CRC-32 of the bytes of the column's buffers, in order."""
    crc = 0
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    for chunk in chunks:
        for buffer in chunk.buffers():
            crc = zlib.crc32(b"" if buffer is None else memoryview(buffer), crc)
    return crc


# ---- what a folder gave besides rows ----


@dataclass
class FolderFacts:
    """One folder as the snapshot describes it: what it depends on and what it gave."""

    name: str
    source: list | None  # [source.yaml digest, text digest] of a source read cleanly, else None
    annotation: str | None  # the annotation file's digest, None when its part is not kept
    deps: dict | None  # the sources its evidence looked up, as cache.dependencies gives them
    counts: dict[str, int]  # rows given, per table (sources: 0 or 1)
    extras: dict  # problems, exclusions, bad cells (by the folder's own row index), exemptions

    def encoded(self) -> list:
        return [self.name, self.source, self.annotation, self.deps, self.counts, self.extras]


def part_extras(part: Part, source_problems: list[Problem]) -> dict:
    """The facts of a folder's part that are not rows, as JSON data."""
    tables = part.tables
    return {
        "source_problems": [_problem_data(p) for p in source_problems],
        "problems": [_problem_data(p) for p in part.problems],
        "exclusions": [encode_exclusion(exclusion) for exclusion in part.exclusions],
        "bad_cells": sorted(list(cell) for cell in tables.bad_cells),
        "weekday_exempt": sorted(tables.weekday_exempt),
        "short_exempt": sorted(tables.short_exempt),
    }


def _problem_data(problem: Problem) -> list:
    return [
        problem.file,
        problem.line,
        problem.message,
        problem.record,
        problem.field,
        problem.hint,
    ]


def extras_problems(extras: dict, key: str) -> list[Problem]:
    return [Problem(*item) for item in extras[key]]


# ---- the snapshot on disk ----


@dataclass
class Snapshot:
    """A snapshot opened: its description, and its tables as zero-copy slices of the file."""

    folders: dict[str, FolderFacts]
    starts: dict[str, dict[str, int]]  # folder -> table -> its first row in the snapshot
    tables: dict[str, pa.Table]
    files: list[str]
    keys: list[tuple]
    crcs: dict[str, dict[str, int]]
    token: str  # this write's: its rows are the same while it is
    checked: set[tuple[str, str]] = field(default_factory=set)

    def column(self, table: str, name: str) -> pa.ChunkedArray:
        """A column, its CRC checked the first time; SnapshotDamaged when it does not match."""
        column = self.tables[table].column(name)
        if (table, name) not in self.checked:
            if column_crc(column) != self.crcs[table][name]:
                raise SnapshotDamaged(f"{table}.{name}")
            self.checked.add((table, name))
        return column


def open_snapshot(cache: FolderCache, context: str) -> Snapshot | None:
    """The snapshot of this cache for `context`, or None: absent, of another context, or
    unreadable (noted once, as any unreadable entry)."""
    description = cache.read(DESCRIPTION_NAME)
    if description is None:
        return None
    if description.get("context") != context:
        return None  # of another code version, seeds name or conventions: rebuilt, not noted
    try:
        return _opened(cache, description)
    except (OSError, ValueError, KeyError, TypeError, IndexError, pa.ArrowException):
        cache.unreadable()
        return None


def _opened(cache: FolderCache, description: dict) -> Snapshot:
    path = cache.folder / DATA_NAME
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        if os.fstat(fd).st_size != description["size"]:
            raise ValueError("cut short or of another write")
        # mapped through the descriptor opened without following a link, where Linux allows
        mapped = pa.memory_map(
            f"/proc/self/fd/{fd}" if os.path.isdir("/proc/self/fd") else str(path)
        )
    finally:
        os.close(fd)
    whole = mapped.read_buffer(description["size"])
    token = description["token"].encode()
    tables = {}
    for table, (offset, length) in description["tables"].items():
        if table not in schemas.TABLES:
            raise ValueError(f"unknown table {table!r}")
        read = ipc.open_file(pa.BufferReader(whole.slice(offset, length))).read_all()
        if (read.schema.metadata or {}).get(TOKEN_KEY) != token:
            raise ValueError("the data of another write")
        tables[table] = read
    folders, starts = {}, {}
    at = dict.fromkeys(schemas.TABLES, 0)
    for item in description["folders"]:
        facts = FolderFacts(*item)
        folders[facts.name] = facts
        starts[facts.name] = dict(at)
        for table, count in facts.counts.items():
            at[table] += count
    if any(at[table] != tables[table].num_rows for table in schemas.TABLES):
        raise ValueError("rows and folders differ in number")
    keys = [tuple(names) for names in description["keys"]]
    return Snapshot(
        folders, starts, tables, description["files"], keys, description["crcs"], token.decode()
    )


def write_snapshot(
    cache: FolderCache,
    context: str,
    folders: list[FolderFacts],
    tables: dict[str, dict[str, pa.Array]],
    files: list[str],
    keys: list[tuple],
) -> bool:
    """Write the snapshot: the Arrow file first (under a temporary name, its CRCs taken from the
    file as written), then its description; whether it was written (one that cannot be only costs
    time)."""
    token = secrets.token_hex(16)
    try:
        fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=cache.folder)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as handle:
            places = _write_tables(handle, tables, token)
            size = handle.tell()
        crcs = _file_crcs(temp, size, places)
        os.replace(temp, cache.folder / DATA_NAME)
    except (OSError, pa.ArrowException):
        with contextlib.suppress(OSError):
            os.unlink(temp)
        return False
    description = {
        "context": context,
        "token": token,
        "size": size,
        "tables": places,
        "crcs": crcs,
        "files": files,
        "keys": [list(names) for names in keys],
        "folders": [facts.encoded() for facts in folders],
    }
    return cache.write(DESCRIPTION_NAME, description)


def discard_snapshot(cache: FolderCache) -> None:
    """Remove the snapshot of a corpus now read without one."""
    for name in (f"{DESCRIPTION_NAME}.json", DATA_NAME):
        with contextlib.suppress(OSError):
            os.unlink(cache.folder / name)


def _write_tables(handle, tables: dict[str, dict[str, pa.Array]], token: str) -> dict:
    places = {}
    for table, columns in tables.items():
        data = pa.table(columns).replace_schema_metadata({TOKEN_KEY: token.encode()})
        start = handle.tell()
        with ipc.new_file(handle, data.schema) as writer:
            writer.write_table(data)
        places[table] = [start, handle.tell() - start]
    return places


def _file_crcs(path: str, size: int, places: dict) -> dict[str, dict[str, int]]:
    whole = pa.memory_map(path).read_buffer(size)
    crcs = {}
    for table, (offset, length) in places.items():
        read = ipc.open_file(pa.BufferReader(whole.slice(offset, length))).read_all()
        crcs[table] = {name: column_crc(read.column(name)) for name in read.column_names}
    return crcs


# ---- the tables of one read, spliced from the snapshot and the folders read again ----


@dataclass
class Segment:
    """Consecutive rows of one table: a slice of the snapshot, or rows built in this read."""

    start: int  # the index of its first row in the whole table
    length: int
    first: int = 0  # in the snapshot: the index of its first row there
    rows: list[dict] | None = None  # built in this read: its rows and origins
    origins: list[Origin] | None = None


@dataclass(frozen=True)
class Split:
    """A table's rows as the snapshot's and those built in this read."""

    key: list  # JSON: which rows of the snapshot are kept (its write's token, its slices)
    kept: np.ndarray  # the kept rows' indices in the whole table, in order
    built: np.ndarray  # the others'


def _indices(segments: list[Segment]) -> np.ndarray:
    ranges = [np.arange(segment.start, segment.start + segment.length) for segment in segments]
    return np.concatenate(ranges) if ranges else np.zeros(0, dtype=np.int64)


@dataclass
class BuiltRows:
    """Every table of one read as the checks across files read it: whole columns in Arrow, and
    any one row or origin as Python values (only the rows a problem is told about are made so).
    Rows come from the snapshot (`snapshot`) or were built in this read."""

    segments: dict[str, list[Segment]]
    snapshot: Snapshot | None = None
    bad_cells: set[tuple[str, int, str]] = field(default_factory=set)
    weekday_exempt: set[str] = field(default_factory=set)
    short_exempt: set[str] = field(default_factory=set)
    made: dict[tuple[str, str], pa.Array] = field(default_factory=dict)

    @classmethod
    def of_tables(cls, tables: Tables) -> BuiltRows:
        """The rows of `tables`, all built in this read."""
        segments = {
            table: [Segment(0, len(rows), rows=rows, origins=tables.origins[table])]
            for table, rows in tables.rows.items()
        }
        return cls(segments, None, tables.bad_cells, tables.weekday_exempt, tables.short_exempt)

    def length(self, table: str) -> int:
        return sum(segment.length for segment in self.segments[table])

    def counts(self) -> dict[str, int]:
        """Rows per table, in the tables' order."""
        return {table: self.length(table) for table in schemas.TABLES}

    def column(self, table: str, name: str) -> pa.Array:
        """The whole column as one Arrow array typed by the schema, kept until `forget`."""
        if (table, name) not in self.made:
            kind = _field_types(table)[name]
            pieces = [self._piece(table, segment, name, kind) for segment in self.segments[table]]
            pieces = [piece for piece in pieces if len(piece)] or [column_array([], kind)]
            self.made[table, name] = pieces[0] if len(pieces) == 1 else pa.concat_arrays(pieces)
        return self.made[table, name]

    def pieces(self, table: str, name: str) -> pa.ChunkedArray:
        """The whole column as the pieces it is made of, not joined: for a check that reads it
        once (joining the columns of a re-check through the snapshot took 0.18 s of 1.7)."""
        if (table, name) in self.made:
            return pa.chunked_array([self.made[table, name]])
        kind = _field_types(table)[name]
        pieces = [self._piece(table, segment, name, kind) for segment in self.segments[table]]
        return pa.chunked_array(pieces, type=column_array([], kind).type)

    def built_column(self, table: str, name: str) -> pa.Array:
        """The column's values in the rows built in this read, in order."""
        segments = [segment for segment in self.segments[table] if segment.rows is not None]
        values = [row.get(name) for segment in segments for row in segment.rows or []]
        return column_array(values, _field_types(table)[name])

    def _piece(self, table: str, segment: Segment, name: str, kind: str) -> pa.Array:
        if segment.rows is not None:
            return column_array([row.get(name) for row in segment.rows], kind)
        assert self.snapshot is not None
        column = self.snapshot.column(table, name).slice(segment.first, segment.length)
        # one chunk is a view of the mapped file; combine_chunks would copy it (0.5 s of system
        # time in a warm check of 10,000 documents, to fault in the copies)
        return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()

    def split(self, table: str) -> Split | None:
        """The rows of `table` taken from the snapshot and those built in this read; None when
        none is the snapshot's."""
        segments = self.segments[table]
        kept = [segment for segment in segments if segment.rows is None]
        if self.snapshot is None or not kept:
            return None
        built = [segment for segment in segments if segment.rows is not None]
        return Split(
            [self.snapshot.token, [[segment.first, segment.length] for segment in kept]],
            _indices(kept),
            _indices(built),
        )

    def forget(self, table: str) -> None:
        """Let the columns of `table` go (they are made again if asked for)."""
        for key in [key for key in self.made if key[0] == table]:
            del self.made[key]

    def _find(self, table: str, index: int) -> tuple[Segment, int]:
        segments = self.segments[table]
        at = bisect.bisect_right([segment.start for segment in segments], index) - 1
        return segments[at], index - segments[at].start

    def row(self, table: str, index: int) -> dict:
        segment, offset = self._find(table, index)
        if segment.rows is not None:
            return segment.rows[offset]
        assert self.snapshot is not None
        at = segment.first + offset
        return {
            name: self.snapshot.column(table, name)[at].as_py()
            for name in schemas.field_names(table)
        }

    def origin(self, table: str, index: int) -> Origin:
        segment, offset = self._find(table, index)
        if segment.origins is not None:
            return segment.origins[offset]
        assert self.snapshot is not None
        at = segment.first + offset
        cell = {name: self.snapshot.column(table, name)[at].as_py() for name in ORIGIN_COLUMNS}
        return Origin(
            self.snapshot.files[cell["_file"]],
            cell["_line"],
            cell["_record"],
            self.snapshot.keys[cell["_keys"]],
            tuple(cell["_lines"]),
        )

    def tables(self) -> Tables:
        """Every row and origin as Python values: the Tables a read without a snapshot gives."""
        tables = Tables()
        for table in schemas.TABLES:
            for segment in self.segments[table]:
                rows, origins = self._segment_rows(table, segment)
                tables.rows[table] += rows
                tables.origins[table] += origins
        for row in tables.rows["evidence"]:
            key = (row["record_table"], row["record_id"])
            tables.evidence_of.setdefault(key, []).append(row)
        tables.bad_cells = set(self.bad_cells)
        tables.weekday_exempt = set(self.weekday_exempt)
        tables.short_exempt = set(self.short_exempt)
        return tables

    def _segment_rows(self, table: str, segment: Segment) -> tuple[list[dict], list[Origin]]:
        if segment.rows is not None:
            assert segment.origins is not None
            return segment.rows, segment.origins
        assert self.snapshot is not None
        part = slice(segment.first, segment.first + segment.length)

        def values(name: str) -> list:
            assert self.snapshot is not None
            return self.snapshot.column(table, name)[part].to_pylist()

        names = schemas.field_names(table)
        rows = [
            dict(zip(names, cells, strict=True)) for cells in zip(*map(values, names), strict=False)
        ]
        files, keys = self.snapshot.files, self.snapshot.keys
        origins = [
            Origin(files[file], line, record, keys[key], tuple(lines))
            for file, line, record, key, lines in zip(*map(values, ORIGIN_COLUMNS), strict=False)
        ]
        return rows, origins


def _field_types(table: str) -> dict[str, str]:
    return {spec["name"]: spec["type"] for spec in schemas.fields(table)}


def splice(
    order: Iterable[tuple[str, Tables | None]], snapshot: Snapshot | None, tables: list[str]
) -> dict[str, list[Segment]]:
    """The segments of `tables` for the folders in `order`: pairs of a folder's name and either
    None (its rows are the snapshot's) or the Tables built from it in this read."""
    segments: dict[str, list[Segment]] = {table: [] for table in tables}
    for run in _runs(order, snapshot):
        for table in tables:
            _add_segment(segments[table], table, run, snapshot)
    return segments


def _runs(
    order: Iterable[tuple[str, Tables | None]], snapshot: Snapshot | None
) -> list[list[Tables] | tuple[str, str]]:
    """`order` as runs: the Tables of consecutive folders built now, or (first, last) of folders
    whose rows follow each other in the snapshot. A segment per run rather than per folder and
    table: on 10,000 folders the latter took 0.3 s of a 3.2 s warm check, and 15 s to make the
    columns of a cold one."""
    place = {name: n for n, name in enumerate(snapshot.folders)} if snapshot else {}
    runs: list[list[Tables] | tuple[str, str]] = []
    for name, built in order:
        last = runs[-1] if runs else None
        if built is not None:
            if isinstance(last, list):
                last.append(built)
            else:
                runs.append([built])
        elif isinstance(last, tuple) and place[name] == place[last[1]] + 1:
            runs[-1] = (last[0], name)
        else:
            runs.append((name, name))
    return runs


def _add_segment(
    segments: list[Segment],
    table: str,
    run: list[Tables] | tuple[str, str],
    snapshot: Snapshot | None,
) -> None:
    start = segments[-1].start + segments[-1].length if segments else 0
    if isinstance(run, list):
        rows = [row for built in run for row in built.rows[table]]
        if rows:
            origins = [origin for built in run for origin in built.origins[table]]
            segments.append(Segment(start, len(rows), rows=rows, origins=origins))
        return
    assert snapshot is not None
    first_name, last_name = run
    first = snapshot.starts[first_name][table]
    count = (
        snapshot.starts[last_name][table] + snapshot.folders[last_name].counts.get(table, 0) - first
    )
    if not count:
        return
    last = segments[-1] if segments else None
    if last is not None and last.rows is None and last.first + last.length == first:
        last.length += count  # the next rows of the snapshot: one slice
    else:
        segments.append(Segment(start, count, first=first))


# ---- one read through the snapshot ----


@dataclass
class Assembly:
    """What the folders of one read give, in folder order: each folder's rows (the snapshot's or
    built now), problems, exclusions, bad cells and exemptions."""

    snapshot: Snapshot | None
    order: list[tuple[str, Tables | None]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    exclusions: list = field(default_factory=list)
    bad_cells: set[tuple[str, int, str]] = field(default_factory=set)
    weekday_exempt: set[str] = field(default_factory=set)
    short_exempt: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(schemas.TABLES, 0))

    def add_snapshot_folder(self, name: str) -> None:
        from pipeline.build.cache import decode_exclusion

        assert self.snapshot is not None
        facts = self.snapshot.folders[name]
        extras = facts.extras
        self.order.append((name, None))
        self.problems += extras_problems(extras, "problems")
        self.exclusions += [decode_exclusion(*item) for item in extras["exclusions"]]
        self._add_marks(extras["bad_cells"], extras["weekday_exempt"], extras["short_exempt"])
        for table, count in facts.counts.items():
            self.counts[table] += count

    def add_part(self, name: str, part: Part) -> None:
        tables = part.tables
        self.order.append((name, tables))
        self.problems += part.problems
        self.exclusions += part.exclusions
        self._add_marks(tables.bad_cells, tables.weekday_exempt, tables.short_exempt)
        for table, rows in tables.rows.items():
            self.counts[table] += len(rows)

    def _add_marks(self, bad_cells: Iterable, weekday: Iterable[str], short: Iterable[str]) -> None:
        self.bad_cells.update(
            (table, self.counts[table] + index, column) for table, index, column in bad_cells
        )
        self.weekday_exempt.update(weekday)
        self.short_exempt.update(short)

    def rows(self, sources: Tables) -> BuiltRows:
        """Every table: the sources and conventions of `sources`, the folders' rows after them."""
        segments = splice(self.order, self.snapshot, RECORD_TABLES)
        for table in ("sources", "count_conventions"):
            rows = sources.rows[table]
            segments[table] = [Segment(0, len(rows), rows=rows, origins=sources.origins[table])]
        return BuiltRows(
            segments, self.snapshot, self.bad_cells, self.weekday_exempt, self.short_exempt
        )


RECORD_TABLES = [table for table in schemas.TABLES if table not in ("sources", "count_conventions")]


def snapshot_sources(snapshot: Snapshot) -> tuple[list[dict], list[Origin]]:
    """The snapshot's source rows and origins, as Python values."""
    table = snapshot.tables["sources"]
    rows = BuiltRows({}, snapshot)
    return rows._segment_rows("sources", Segment(0, table.num_rows))


# ---- writing the snapshot of one read ----


@dataclass
class Kept:
    """A folder of the next snapshot: its facts, and its rows (None: those of the old snapshot)."""

    facts: FolderFacts
    tables: Tables | None


def snapshot_columns(
    kept: list[Kept], sources: tuple[list[dict], list[Origin]], old: Snapshot | None
) -> tuple[dict[str, dict[str, pa.Array]], list[str], list[tuple]]:
    """The columns of every table of the next snapshot, with the files and key names its origins
    number; NotKept (with the folder's name in `.args[1]`) for a folder whose rows would not come
    back the same."""
    files, keys = Interned(), Interned()
    for file in old.files if old else []:
        files.number(file)
    for names in old.keys if old else []:
        keys.number(names)
    columns = {"sources": _fresh_columns("sources", *sources, files, keys)}
    # a folder whose rows the snapshot does not hold gives none (an empty Tables)
    order = [(item.facts.name, item.tables if item.facts.annotation else Tables()) for item in kept]
    for table, segments in splice(order, old, RECORD_TABLES).items():
        pieces = [_segment_columns(table, segment, old, files, keys) for segment in segments]
        columns[table] = _joined(table, pieces, files, keys)
    columns["count_conventions"] = _fresh_columns("count_conventions", [], [], files, keys)
    return columns, files.values_in_order(), keys.values_in_order()


def _segment_columns(
    table: str, segment: Segment, old: Snapshot | None, files: Interned, keys: Interned
) -> dict[str, pa.Array]:
    if segment.rows is not None:
        assert segment.origins is not None
        return _fresh_columns(table, segment.rows, segment.origins, files, keys)
    assert old is not None
    names = [*schemas.field_names(table), *ORIGIN_COLUMNS]
    part = slice(segment.first, segment.first + segment.length)
    return {name: old.column(table, name)[part].combine_chunks() for name in names}


def _fresh_columns(
    table: str, rows: list[dict], origins: list[Origin], files: Interned, keys: Interned
) -> dict[str, pa.Array]:
    return {**exact_columns(table, rows), **origin_columns(origins, files, keys)}


def _joined(
    table: str, pieces: list[dict[str, pa.Array]], files: Interned, keys: Interned
) -> dict[str, pa.Array]:
    if not pieces:
        return _fresh_columns(table, [], [], files, keys)
    return {name: pa.concat_arrays([piece[name] for piece in pieces]) for name in pieces[0]}
