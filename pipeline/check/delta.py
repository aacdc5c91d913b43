"""Checks across files on a large corpus: the snapshot's rows looked at once, the rows built in
this read each time.

After an edit, most rows of a large corpus come from the snapshot (pipeline.build.snapshot),
unchanged, and a few were built in this read. What a check finds among the snapshot's rows alone is
kept (pipeline.check.memo) under which rows those are (the snapshot's write and its slices, so no
column is hashed), and each read adds what the rows built in it change: the repeats their values
join, the references to or from them. An edit of an id at 10,000 documents ran the repeats and
references of its tables again over every row, 0.6 s of a 2.3 s re-check; these scan each column
once for the few values built now (see bench/RESULTS.md for the figures after). Without rows
from the snapshot, the checks run whole, remembered by their columns' digests.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.build.snapshot import BuiltRows, Split
from pipeline.check.memo import Memo
from pipeline.contract.constraints import as_mask, int64s, repeats, whole

Pairs = list[tuple[int, int]]
Columns = list[pa.Array | pa.ChunkedArray]
# A repeat as kept, [row, previous row]; a reference to no id, [row, its value].
PAIRS = [[int, int], ...]
UNKNOWN = [[int, str], ...]


def repeat_pairs(
    memo: Memo,
    name: str,
    rows: BuiltRows,
    table: str,
    fields: list[str],
    skipped: Callable[[Columns], np.ndarray],
) -> Pairs:
    """(row, previous row with the same values) for each repeat of `fields` in `table`, rows that
    `skipped` names (from the columns) left out, as constraints.repeats finds them."""
    arrays = [rows.pieces(table, field) for field in fields]
    skip = skipped(arrays)
    split = rows.split(table)
    if split is None:
        found = memo.facts(
            name, rows, [(table, field) for field in fields], lambda: _pairs(arrays, skip), PAIRS
        )
        return [(row, previous) for row, previous in found]

    def kept_pairs() -> list:
        return _pairs([_kept(array, split) for array in arrays], skip[split.kept])

    kept = memo.by_key(f"{name}, kept rows", split.key, kept_pairs, PAIRS)
    near = _near_built(arrays, split.built) & ~skip
    at = np.flatnonzero(near)
    # a repeat joins rows of equal values, so each repeat is wholly among `at` or wholly not
    pairs = [(int(at[row]), int(at[previous])) for row, previous in _at(arrays, at, repeats)]
    for row, previous in kept:
        if not near[split.kept[row]]:
            pairs.append((int(split.kept[row]), int(split.kept[previous])))
    return sorted(pairs)


def _pairs(arrays: Columns, skip: np.ndarray) -> list:
    return [[row, previous] for row, previous in repeats(arrays, skip)]


def _kept(array: pa.Array | pa.ChunkedArray, split: Split) -> pa.Array | pa.ChunkedArray:
    """The values of the kept rows: the column itself when every row is kept (a copy of the
    whole column, as the first check through a new snapshot would make, is not made)."""
    return array if not len(split.built) else array.take(int64s(split.kept))


def _near_built(arrays: Columns, built: np.ndarray) -> np.ndarray:
    """The rows whose every value is among those of the rows `built` (a null among nulls): the
    built rows, and every row that can repeat one."""
    near = np.zeros(len(arrays[0]), dtype=bool)
    if len(built):
        near[:] = True
        for array in arrays:
            near &= as_mask(pc.is_in(array, value_set=whole(array.take(int64s(built)))))
    return near


def _at(arrays: Columns, at: np.ndarray, find: Callable) -> Pairs:
    """What `find` gives for the rows `at` alone, numbered among them."""
    if not len(at):
        return []
    rows = int64s(at)
    return find([array.take(rows) for array in arrays], np.zeros(len(at), dtype=bool))


def unknown_references(
    memo: Memo, name: str, rows: BuiltRows, where: tuple[str, str], to: tuple[str, str]
) -> list[int] | None:
    """The rows of `where` (table, column) naming a value that `to` (table, column) does not
    hold, nulls left out; None unless both tables have rows from the snapshot and both columns
    are text (then constraints.foreign_key_violations decides)."""
    mine, theirs = rows.split(where[0]), rows.split(to[0])
    if mine is None or theirs is None:
        return None
    values, known = rows.pieces(*where), rows.pieces(*to)
    if values.type != pa.string() or known.type != pa.string():
        return None

    def kept_unknown() -> list:
        kept_values = _kept(values, mine)
        found = pc.is_in(kept_values, value_set=whole(_kept(known, theirs)))
        missing = np.flatnonzero(as_mask(pc.and_(pc.is_valid(kept_values), pc.invert(found))))
        return [[int(row), kept_values[int(row)].as_py()] for row in missing]

    kept = memo.by_key(f"{name}, kept rows", [mine.key, theirs.key], kept_unknown, UNKNOWN)
    built_known = set(known.take(int64s(theirs.built)).to_pylist())
    unknown = [int(mine.kept[row]) for row, value in kept if value not in built_known]
    built_values = values.take(int64s(mine.built))
    held = known.filter(pc.is_in(known, value_set=whole(pc.unique(built_values))))
    held_values = set(held.to_pylist())
    for row, value in zip(mine.built.tolist(), built_values.to_pylist(), strict=True):
        if value is not None and value not in held_values:
            unknown.append(row)
    return sorted(unknown)
