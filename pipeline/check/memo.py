"""What the checks across files found, remembered by the columns they read.

The checks across files (repeated values and keys, references, circles, responses) read whole
columns of every table: at 10,000 documents they were 0.7 to 1.5 s of each re-check, most of one
after a single edit. What each check finds (rows, not yet worded) depends on the columns it reads
and on nothing else, so it is kept in the cache file CHECKS_NAME under a digest of those columns
and given back while they are as they were. An edit that leaves a check's columns alone (a
summary, a note, a count) skips that check; one that changes them (an id, a reference, a
date) runs it again. The problems are worded from the facts each time, from the rows as they are.

A column's digest is sha256 of its type, length, which rows are null, and the other rows' values as
bytes (a null's bytes, and a bitmap's spare bits, are whatever the memory held, so they are left
out): the same values give the same digest however the column was put together, from the snapshot or
built in this read (the 33 columns the checks read, 123 MB at 10,000 documents, in under 0.1 s).
Read through the snapshot, a column is known by which of the snapshot's rows it holds and by the
digest of the rows built in this read (`rows_digest`), so the kept rows are not hashed at each
re-check; repeats and references keep what they find among the kept rows alone
(pipeline.check.delta). The file is keyed by the code version, which covers the checks and
schemas/, and read as every cache file (digest-checked; damaged or of another shape: noted and
found again).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.build.cache import CHECKS_NAME, FolderCache, code_version
from pipeline.build.snapshot import BuiltRows
from pipeline.contract.constraints import EMPTY, arrow_scalar, as_mask

# (table, field), or (table, field, (other field, value)): the field's rows where the other
# holds the value
Column = tuple[str, str] | tuple[str, str, tuple[str, str]]


def column_digest(column: pa.Array) -> str:
    """sha256 of the column's type and values: the same values give the same digest however
    their buffers were made (sliced, joined, built in this read), different values another."""
    valid = as_mask(pc.is_valid(column))  # one byte a row: the bitmap's spare bits are noise
    digest = hashlib.sha256(f"{column.type}\0{len(column)}\0".encode())
    digest.update(valid.tobytes())
    for part in _value_bytes(column, valid):
        digest.update(memoryview(part))
    return digest.hexdigest()


def _value_bytes(column: pa.Array, valid: np.ndarray) -> list:
    """The column's values as bytes, a null's slot blank (its bytes are whatever was there)."""
    kind = column.type
    if not len(column):
        return []
    if kind == pa.string():  # as schemas/ types text (large strings: the last way below)
        filled = pc.fill_null(column, EMPTY)  # the column itself if none is null
        offsets = np.frombuffer(filled.buffers()[1], dtype=np.int32)
        offsets = offsets[filled.offset : filled.offset + len(filled) + 1]
        data = filled.buffers()[2]
        text = memoryview(data)[int(offsets[0]) : int(offsets[-1])] if data is not None else b""
        return [np.diff(offsets), text]
    if pa.types.is_boolean(kind):
        return [as_mask(column)]
    width = kind.bit_width if pa.types.is_primitive(kind) else 0
    if width in (8, 16, 32, 64):
        values = np.frombuffer(column.buffers()[1], dtype=f"u{width // 8}")
        values = values[column.offset : column.offset + len(column)].copy()
        values[~valid] = 0
        return [values]
    return [repr(column.to_pylist()).encode("utf-8", "surrogatepass")]


def rows_digest(rows: BuiltRows, column: Column) -> str:
    """The digest of a column of `rows` (or of its rows where another field holds a value). With
    rows from the snapshot, which rows those are and the places and digest of the others: the
    snapshot's rows stay the same while its write does, so they are not hashed each time."""
    table, name = column[:2]
    split = rows.split(table)
    read = rows.column if split is None else rows.built_column
    values = read(table, name)
    places = None if split is None else split.built
    if len(column) == 3:
        field, value = column[2]
        where = pc.equal(read(table, field), arrow_scalar(value, pa.string()))
        values = values.filter(where)
        if places is not None:
            places = places[as_mask(where)]
    if places is None:  # no rows from the snapshot
        return column_digest(values)
    assert split is not None
    digest = hashlib.sha256(json.dumps(split.key).encode())
    digest.update(places.astype(np.int64).tobytes())
    digest.update(column_digest(values).encode())
    return digest.hexdigest()


def fits(value: object, shape: object) -> bool:
    """Whether JSON data `value` has `shape`: a type or tuple of types; [shape, ...] for a list of
    any length whose items have that shape; a list of shapes for a list of as many items."""
    if not isinstance(shape, list):
        assert isinstance(shape, type | tuple)
        return isinstance(value, shape)
    if not isinstance(value, list):
        return False
    if len(shape) == 2 and shape[1] is Ellipsis:
        return all(fits(item, shape[0]) for item in value)
    return len(value) == len(shape) and all(map(fits, value, shape))


class Memo:
    """The facts of one check's run: those kept in `cache` for columns as they are now, the others
    found again; `save` keeps what this run used. Without a cache every check runs."""

    def __init__(self, cache: FolderCache | None):
        self.cache = cache
        self.kept: dict[str, object] = {}
        self.used: dict[str, object] = {}
        self.digests: dict[Column, str] = {}
        if cache is not None:
            payload = cache.read(CHECKS_NAME)
            if payload is not None and payload.get("context") == code_version():
                if isinstance(payload.get("facts"), dict):
                    self.kept = payload["facts"]
                else:
                    cache.unreadable()

    def facts(
        self, name: str, rows: BuiltRows, reads: list[Column], find: Callable[[], list], shape: list
    ) -> list:
        """What `find` gives, the check `name` reading the columns `reads` of `rows`: kept from
        an earlier run while those columns hash the same."""
        key = [] if self.cache is None else [self._digest(rows, column) for column in reads]
        return self.by_key(name, key, find, shape)

    def by_key(self, name: str, key: list, find: Callable[[], list], shape: list) -> list:
        """What `find` gives, kept from an earlier run of the check `name` while `key` (JSON data
        naming all it reads) is the same. `find` gives JSON data of `shape` (lists, strings,
        numbers, None: see `fits`), so a kept answer is the same as a new one; a kept answer of
        another shape is noted and found again."""
        if self.cache is None:
            return find()
        held = self.kept.get(name)
        if isinstance(held, list) and fits(held, [list, shape]):
            if held[0] == key:
                self.used[name] = held
                return held[1]
        elif held is not None:
            self.cache.unreadable()
        found = find()
        self.used[name] = [key, found]
        return found

    def _digest(self, rows: BuiltRows, column: Column) -> str:
        if column not in self.digests:
            self.digests[column] = rows_digest(rows, column)
        return self.digests[column]

    def save(self) -> None:
        """Keep the facts this run used, when they differ from those kept."""
        if self.cache is not None and self.used != self.kept:
            self.cache.write(CHECKS_NAME, {"context": code_version(), "facts": self.used})
