"""Table constraints found on typed Arrow columns: the one engine behind `check` and `validate`.

Given a table's columns, already typed (null where a cell is missing or could not be typed),
it finds the rows that break a Table Schema's constraints: required, minLength, maxLength,
pattern, enum, minimum, maximum and their exclusive forms, unique fields, primary keys,
unique keys and foreign keys. Each finding is a `Violation`: a fact (kind, field names,
row index, previous row) that knows nothing of how it is told, or, for a constraint whose
value cannot be read, an `Unreadable`. `pipeline.check` words it as a
problem at the annotation's file and line; `pipeline.validate` as frictionless's error.

Everything runs column-wise in Arrow and NumPy. pyarrow imports pandas (about 0.2 s) the
first time it converts a Python or NumPy value, or reads an array into NumPy; neither
caller needs pandas, so Arrow values are built and read here through raw buffers
(`arrow_array`, `column_array`, `as_mask`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.contract.fieldtypes import INT64, arrow_type

# The constraints checked on each type (frictionless's `supported_constraints` of its fields);
# a constraint a type does not support is not checked on it.
CONSTRAINTS = {
    "string": ["required", "minLength", "maxLength", "pattern", "enum"],
    "boolean": ["required", "enum"],
    "any": ["required", "enum"],
    **{
        kind: ["required", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum"]
        for kind in ("integer", "number", "date")
    },
}
# The cell passes a bound when it compares so with it (NaN passes none, as in frictionless).
BOUNDS = {
    "minimum": pc.greater_equal,
    "maximum": pc.less_equal,
    "exclusiveMinimum": pc.greater,
    "exclusiveMaximum": pc.less,
}
_EPOCH = dt.date(1970, 1, 1)


class Violation(NamedTuple):
    """A row breaking a constraint: `kind` is the constraint ("required", "pattern", ...,
    "unique", "primary-key", "unique-key" or "foreign-key"), `fields` the field names it is
    about, `row` the row's index from 0, and `previous`, for a repeated value or key, the index
    of the previous row holding it (for a primary key whose every cell is null, None)."""

    kind: str
    fields: tuple[str, ...]
    row: int
    previous: int | None = None


class Unreadable(NamedTuple):
    """A constraint whose value no cell can be checked against, and why, where more can be said."""

    constraint: str
    field: str
    reason: str | None = None


class _Unreadable(Exception):
    def __init__(self, reason: str | None = None):
        self.reason = reason


# ---- Arrow values without pandas (see the module note) ----


def arrow_array(values: list, type: pa.DataType) -> pa.Array:
    """Python strings, booleans or numbers (or None) as an Arrow array of `type`."""
    if None in values:
        present = [value for value in values if value is not None]
        return pa.concat_arrays(
            [arrow_array(present, type), pa.nulls(len(values) - len(present), type)]
        )
    if all(isinstance(value, str) for value in values):
        data = [value.encode("utf-8") for value in values]
        offsets = np.cumsum([0, *map(len, data)], dtype=np.int32)
        array = pa.Array.from_buffers(
            pa.string(), len(data), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))]
        )
    elif all(isinstance(value, bool) for value in values):
        return bools(np.array(values, dtype=bool)).cast(type)
    else:
        numbers = np.array(
            values, dtype=np.float64 if any(isinstance(v, float) for v in values) else np.int64
        )
        array = pa.Array.from_buffers(
            pa.from_numpy_dtype(numbers.dtype), len(numbers), [None, pa.py_buffer(numbers)]
        )
    return array if array.type == type else array.cast(type)


def arrow_scalar(value, type: pa.DataType) -> pa.Scalar:
    return pa.nulls(1, type)[0] if value is None else arrow_array([value], type)[0]


def bools(mask: np.ndarray) -> pa.Array:
    return pa.Array.from_buffers(
        pa.bool_(), len(mask), [None, pa.py_buffer(np.packbits(mask, bitorder="little"))]
    )


def int64s(values: np.ndarray) -> pa.Array:
    numbers = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(numbers), [None, pa.py_buffer(numbers)])


def texts(values: list) -> pa.Array:
    """Strings (None: null) as an Arrow string array, in order; lone surrogates kept as written."""
    data = [b"" if value is None else value.encode("utf-8", "surrogatepass") for value in values]
    valid = np.array([value is not None for value in values], dtype=bool)
    offsets = np.cumsum([0, *map(len, data)], dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(),
        len(data),
        [
            pa.py_buffer(np.packbits(valid, bitorder="little")),
            pa.py_buffer(offsets),
            pa.py_buffer(b"".join(data)),
        ],
    )


def column_array(values: list, kind: str) -> pa.Array:
    """A column of typed Python values (str, int, float, bool, date or None) as Arrow, typed as the
    Table Schema type `kind` says. Integers beyond int64 are held at its ends: they compare with
    any bound a schema writes as they would uncut."""
    wanted = arrow_type(kind)
    if wanted == pa.string():
        return texts(values)
    valid = np.array([value is not None for value in values], dtype=bool)
    validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
    if kind == "boolean":
        truth = np.array([bool(v) for v in values], dtype=bool)
        data = pa.py_buffer(np.packbits(truth, bitorder="little"))
    elif kind == "date":
        days = [0 if v is None else (v - _EPOCH).days for v in values]
        data = pa.py_buffer(np.array(days, dtype=np.int32))
    elif kind == "integer":
        low, high = -INT64, INT64 - 1
        held = [0 if v is None else min(max(v, low), high) for v in values]
        data = pa.py_buffer(np.array(held, dtype=np.int64))
    else:
        data = pa.py_buffer(np.array([0.0 if v is None else v for v in values], np.float64))
    return pa.Array.from_buffers(wanted, len(values), [validity, data])


def as_mask(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow array as NumPy, null read as False."""
    array = whole(array)
    if array.null_count:
        array = pc.fill_null(array, FALSE)
    bits = np.frombuffer(array.buffers()[1], dtype=np.uint8)
    return np.unpackbits(bits, bitorder="little", count=array.offset + len(array))[
        array.offset :
    ].astype(bool)


def int64_values(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An integer Arrow array without nulls as NumPy int64, read from its buffer: to_numpy()
    has pyarrow import pandas, 0.3 s of a check that needs none of it."""
    array = whole(array).cast(pa.int64())
    return np.frombuffer(array.buffers()[1], dtype=np.int64, count=array.offset + len(array))[
        array.offset :
    ]


def whole(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def value_codes(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Each value's position among the distinct values of `array` (null: -1), as NumPy."""
    encoded = pc.dictionary_encode(array)  # one dictionary for all the chunks
    indices = (
        pa.chunked_array([chunk.indices for chunk in encoded.chunks], pa.int32()).combine_chunks()
        if isinstance(encoded, pa.ChunkedArray)
        else encoded.indices
    )
    if indices.null_count:
        indices = pc.fill_null(indices, arrow_scalar(-1, indices.type))
    return np.frombuffer(indices.buffers()[1], dtype=np.int32, count=indices.offset + len(indices))[
        indices.offset :
    ]


FALSE = arrow_scalar(False, pa.bool_())
EMPTY = arrow_scalar("", pa.string())
NULL_TEXT = arrow_scalar(None, pa.string())


# ---- the constraints of one field ----


def python_values(values: list, spec: dict) -> pa.Array:
    """Constraint values (an enum, or one bound) written as values of the field's type; null where
    a value is not one."""
    wanted = arrow_type(spec.get("type", "any"))
    return pa.concat_arrays(
        [_python_value(value, wanted) for value in values] or [pa.nulls(0, wanted)]
    )


def _python_value(value: object, arrow_type: pa.DataType) -> pa.Array:
    try:
        return arrow_array([value], arrow_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OverflowError, TypeError):
        return pa.nulls(1, arrow_type)


ValueReader = Callable[[list, dict], pa.Array]


def field_violations(
    column: pa.Array,
    spec: dict,
    untypable: np.ndarray,
    read: ValueReader = python_values,
    whole_match: bool = False,
) -> Iterator[Violation | Unreadable]:
    """The field's constraint violations, constraint by constraint, for the constraints its type
    supports. Missing cells and cells in `untypable` (a mask) are not checked further, except by
    "required", which a missing cell alone breaks. `read` reads an enum or a bound as the field's
    values. A pattern matches as frictionless matches it, re.match(f"^{pattern}$"), or with
    `whole_match` the whole value (re.fullmatch): Python's $ also matches before a final newline."""
    constraints = spec.get("constraints", {})
    name = spec["name"]
    for constraint in CONSTRAINTS.get(spec.get("type", "any"), ["required"]):
        if constraint not in constraints:
            continue
        try:
            failing = _failing(column, spec, constraint, untypable, read, whole_match)
        except _Unreadable as unreadable:
            yield Unreadable(constraint, name, unreadable.reason)
            continue
        for index in _indices(failing):
            yield Violation(constraint, (name,), int(index))


def _failing(
    typed: pa.Array,
    spec: dict,
    constraint: str,
    untypable: np.ndarray,
    read: ValueReader,
    whole_match: bool,
) -> pa.Array:
    """Where the column fails `constraint` (empty and untypable cells never do, except for
    "required"); _Unreadable for a bound that is not a value of the field's type."""
    value = spec["constraints"][constraint]
    if constraint == "required":
        return (
            pc.and_(pc.is_null(typed), bools(~untypable))
            if value
            else bools(np.zeros(len(typed), bool))
        )
    if constraint in ("minLength", "maxLength"):
        if not isinstance(value, int) or isinstance(value, bool):
            return bools(np.zeros(len(typed), bool))  # the descriptor check reports it
        compare = pc.less if constraint == "minLength" else pc.greater
        # no length is beyond 2**62
        return compare(
            pc.utf8_length(typed), arrow_scalar(max(min(value, 1 << 62), -1), pa.int64())
        )
    if constraint == "pattern":
        return pattern_failing(typed, value, whole_match)
    if constraint == "enum":
        return pc.and_(pc.is_valid(typed), pc.invert(pc.is_in(typed, value_set=read(value, spec))))
    bound = read([value], spec)
    if bound.null_count:
        raise _Unreadable()
    return pc.invert(BOUNDS[constraint](typed, bound[0]))


def pattern_failing(typed: pa.Array, pattern: object, whole_match: bool = False) -> pa.Array:
    """Cells the pattern does not match: as frictionless matches, re.match(f"^{pattern}$") (so a
    top-level "|" splits the anchors), or with `whole_match` re.fullmatch(pattern). Arrow's RE2
    matches first; its \\d, \\w and \\s are ASCII where Python's are Unicode, and it lacks
    look-arounds and back references, so Python's re decides the values RE2 fails (distinct,
    and normally none) or, when RE2 cannot read the pattern, every distinct value."""
    if not isinstance(pattern, str):
        return bools(np.zeros(len(typed), bool))  # the descriptor check reports it
    try:
        compiled = re.compile(pattern if whole_match else f"^{pattern}$")
    except re.error as exc:
        raise _Unreadable(str(exc)) from None
    matches = compiled.fullmatch if whole_match else compiled.match
    anchored = f"^(?:{pattern})$" if whole_match else "^(?:^" + pattern + "$)"
    try:
        failing = pc.fill_null(pc.invert(pc.match_substring_regex(typed, anchored)), FALSE)
    except pa.ArrowInvalid:
        failing = pc.is_valid(typed)
    # read as bytes: text built by `texts` may hold lone surrogates, which only Python reads back
    doubtful = pc.unique(pc.drop_null(pc.filter(typed, failing))).cast(pa.binary()).to_pylist()
    values = (value.decode("utf-8", "surrogatepass") for value in doubtful)
    matched = [value for value in values if matches(value)]
    if not matched:
        return failing
    return pc.and_(failing, pc.invert(pc.is_in(typed, value_set=texts(matched))))


def _indices(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.flatnonzero(as_mask(mask))


# ---- repeated values: unique fields, primary and unique keys ----


def _sorted_distinct(column: pa.Array) -> bool:
    """True when every value is above the one before: no repeats, found in one pass.

    Published tables are sorted by primary key, so their key columns take this path
    instead of hashing every value.
    """
    return len(column) < 2 or (
        column.null_count == 0 and pc.all(pc.greater(column[1:], column[:-1])).as_py()
    )


def repeats(arrays: list[pa.Array], skip: np.ndarray) -> list[tuple[int, int]]:
    """(row index, index of the previous row with the same values) for every repeat; rows in `skip`
    ignored, and rows holding a NaN, which repeats nothing (as in frictionless: Python's NaN
    equals no value).

    Arrow codes each column's values (hashing, in C); the codes make one number per row,
    equal exactly where the rows are, and a stable sort puts each repeat right after its
    predecessor.
    """
    if len(arrays) == 1 and _sorted_distinct(arrays[0]):
        return []
    rows = np.flatnonzero(~(skip | nans(arrays)))
    combined = row_codes(arrays, rows)
    order = np.argsort(combined, kind="stable")
    same = np.flatnonzero(combined[order][1:] == combined[order][:-1])
    return sorted((int(rows[order[i + 1]]), int(rows[order[i]])) for i in same)


def row_codes(arrays: list[pa.Array], rows: np.ndarray | None = None) -> np.ndarray:
    """One number per row (of `rows`, else all), equal exactly where the rows' values are (a null
    equal to a null): each column's values coded by Arrow, the codes combined."""
    if rows is None:
        rows = np.arange(len(arrays[0]) if arrays else 0)
    combined, span = np.zeros(len(rows), dtype=np.int64), 1
    for array in arrays:
        codes = value_codes(array)[rows].astype(np.int64) + 1  # null (-1) is a value of its own: 0
        width = int(codes.max()) + 1 if len(codes) else 1
        if span * width >= 1 << 62:  # renumber what is combined so far, to stay within int64
            # by Arrow's hashing: np.unique's sort took 0.25 s on 444,000 evidence rows
            combined = value_codes(int64s(combined)).astype(np.int64)
            span = int(combined.max()) + 1 if len(combined) else 1
        combined, span = combined * width + codes, span * width
    return combined


def nulls(arrays: list[pa.Array], every: bool) -> np.ndarray:
    """Rows where every (or any) of the arrays is null."""
    masks = [as_mask(pc.is_null(array)) for array in arrays]
    return np.logical_and.reduce(masks) if every else np.logical_or.reduce(masks)


def nans(arrays: list[pa.Array]) -> np.ndarray:
    """Rows with a NaN in one of the (equally long) arrays."""
    found = np.zeros(len(arrays[0]) if arrays else 0, dtype=bool)
    for array in arrays:
        if pa.types.is_floating(array.type):
            found |= as_mask(pc.fill_null(pc.is_nan(array), False))
    return found


def unique_violations(name: str, column: pa.Array) -> Iterator[Violation]:
    """Each repeat of a value in a unique field (missing cells repeat nothing)."""
    for index, previous in repeats([column], nulls([column], every=True)):
        yield Violation("unique", (name,), index, previous)


def primary_key_violations(names: list[str], arrays: list[pa.Array]) -> Iterator[Violation]:
    """Rows whose every key cell is null (`previous` None), then each repeat of a key."""
    missing = nulls(arrays, every=True)
    for row in np.flatnonzero(missing).tolist():
        yield Violation("primary-key", tuple(names), row)
    for index, previous in repeats(arrays, missing):
        yield Violation("primary-key", tuple(names), index, previous)


def unique_key_violations(names: list[str], arrays: list[pa.Array]) -> Iterator[Violation]:
    """Each repeat of a unique key; a row with a null in the key repeats nothing."""
    for index, previous in repeats(arrays, nulls(arrays, every=False)):
        yield Violation("unique-key", tuple(names), index, previous)


# ---- foreign keys ----


def foreign_key_violations(
    names: list[str], arrays: list[pa.Array], ref_arrays: list[pa.Array | None], ref_rows: int
) -> Iterator[Violation]:
    """Rows whose key is not a key of the referenced table (`ref_arrays`, one per reference field,
    None for a field the table lacks, read as null), as frictionless looks them up: the row's
    typed cells as one tuple (a null among them a value like any other), rows whose cells are all
    null skipped on both sides, a NaN equal to nothing (as in Python)."""
    if len(arrays) == 1 and len(ref_arrays) == 1 and _same_type(arrays[0], ref_arrays[0]):
        values = arrays[0]
        known = whole(pc.drop_null(ref_arrays[0]))
        missing = as_mask(
            pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, value_set=known)))
        )
    else:
        missing = _missing_keys(arrays, ref_arrays, ref_rows)
    for index in np.flatnonzero(missing | nans(arrays)):
        yield Violation("foreign-key", tuple(names), int(index))


def _same_type(array: pa.Array, ref_array: pa.Array | None) -> bool:
    return ref_array is not None and array.type == ref_array.type


def _missing_keys(
    arrays: list[pa.Array], ref_arrays: list[pa.Array | None], ref_rows: int
) -> np.ndarray:
    """Rows whose cells are not all null and match no row of the reference.

    Each field pair is coded in one Arrow dictionary over both columns (null: 0), the codes
    combine to one number per row (as `repeats` combines them), and NumPy looks the rows'
    numbers up among the reference's. Keys of different lengths never match, as tuples of
    different lengths never do."""
    rows = len(arrays[0])
    if len(arrays) != len(ref_arrays):
        return ~nulls(arrays, every=True)
    combined, ref_combined, span = np.zeros(rows, np.int64), np.zeros(ref_rows, np.int64), 1
    for array, ref_array in zip(arrays, ref_arrays, strict=True):
        codes, ref_codes = _pair_codes(array, ref_array, ref_rows)
        width = int(max(codes.max(initial=0), ref_codes.max(initial=0))) + 1
        if span * width >= 1 << 62:  # renumber what is combined so far, to stay within int64
            renumbered = np.unique(
                np.concatenate([[0], combined, ref_combined]), return_inverse=True
            )
            both = renumbered[1].astype(np.int64)
            # 0 (all null so far) stays 0
            combined, ref_combined = both[1 : rows + 1], both[rows + 1 :]
            span = int(both.max(initial=0)) + 1
        combined = combined * width + codes
        ref_combined = ref_combined * width + ref_codes
        span *= width
    # all-null rows are 0: skipped in the table, and never a key of the reference
    return (combined != 0) & ~np.isin(combined, ref_combined[ref_combined != 0])


def _pair_codes(
    column: pa.Array, ref_column: pa.Array | None, ref_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """Codes of two columns' values, equal where the values are (null: 0 on both sides). Values of
    types that Python would not find equal get codes apart: a string never equals a number or a
    date, while integers, numbers and booleans compare as numbers (True == 1 in frictionless's
    tuples, as in Python)."""
    if ref_column is None:
        return value_codes(column).astype(np.int64) + 1, np.zeros(ref_rows, np.int64)
    if column.type != ref_column.type and _numeric(column.type) and _numeric(ref_column.type):
        common = _common_number_type(column.type, ref_column.type)
        column, ref_column = pc.cast(column, common), pc.cast(ref_column, common)
    if column.type == ref_column.type:
        both = pa.chunked_array([*_chunks(column), *_chunks(ref_column)], column.type)
        codes = value_codes(both).astype(np.int64) + 1
        return codes[: len(column)], codes[len(column) :]
    codes = value_codes(column).astype(np.int64) + 1
    ref_codes = value_codes(ref_column).astype(np.int64) + 1
    return codes, np.where(ref_codes > 0, ref_codes + int(codes.max(initial=0)), 0)


def _common_number_type(one: pa.DataType, other: pa.DataType) -> pa.DataType:
    """Integers beyond int64 are read as decimals: integers compare exactly, anything else as
    floats."""
    decimal = [t for t in (one, other) if pa.types.is_decimal(t)]
    integral = all(t == pa.int64() or pa.types.is_decimal(t) for t in (one, other))
    return decimal[0] if decimal and integral else pa.float64()


def _numeric(kind: pa.DataType) -> bool:
    return kind in (pa.int64(), pa.float64(), pa.bool_()) or pa.types.is_decimal(kind)


def _chunks(array: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return array.chunks if isinstance(array, pa.ChunkedArray) else [array]


def record_violations(
    names: tuple[str, str], tables: pa.Array, ids: pa.Array, keys: Callable[[str], pa.Array | None]
) -> Iterator[Violation]:
    """Rows whose id (column `names[1]`) is not a key of the table named beside it (`names[0]`):
    evidence -> its record. `keys(table)` gives that table's key column, or None when the name
    is not a table's (the field's categories say so)."""
    missing = np.zeros(len(ids), dtype=bool)
    for table in pc.unique(pc.drop_null(tables)).to_pylist():
        known = keys(table)
        if known is None:
            continue
        where = np.flatnonzero(as_mask(pc.equal(tables, arrow_scalar(table, pa.string()))))
        subset = ids.take(int64s(where))
        absent = pc.and_(
            pc.is_valid(subset), pc.invert(pc.is_in(subset, value_set=whole(pc.drop_null(known))))
        )
        missing[where[as_mask(absent)]] = True
    for index in np.flatnonzero(missing):
        yield Violation("foreign-key", names, int(index))
