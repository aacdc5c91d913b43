"""Check the rows of one package file column-wise with Arrow, CSV and Parquet alike.

Every CSV column is first read as text, so a value of the wrong type is located by
row; values are then typed and checked a column at a time with pyarrow.compute:
types, categories, spans of text (evidence offsets, 0 <= start <= end: "span-error", a
check of this project's own) and Parquet twins holding the CSV's rows here; constraints,
unique fields, primary, unique and foreign keys by the engine `check` runs too
(pipeline.contract.constraints), its facts worded here as frictionless's errors.
pipeline.validate.run runs these over a package. Each check yields its errors one at a
time, so the caller keeps the first few and only counts the rest; a header far wider
than the schema is one error, and its rows are not read.

A CSV is read as frictionless reads it: the header is the row frictionless picks
(`_header_row`), labels pair with fields by position (a label past the fields is a
column of its own), rows are numbered physically (header row first; blank rows and
rows with the wrong number of cells count), a row with the wrong number of cells is
put back in its place cut or padded so that its cells get every check, a row whose
every cell is missing is one "blank-row" error, and only the schema's `missingValues`
mean missing. Arrow does the reading; Python's csv module reads only the header's
sample and the rows Arrow sets aside.

pyarrow imports pandas (about 0.2 s) the first time it converts a Python or NumPy
value, or reads an array into NumPy; the validator never needs pandas, so it builds
its few constant arrays and reads its masks through raw buffers (`arrow_array`,
`as_mask`, from pipeline.contract.constraints).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.contract.constraints import (
    EMPTY,
    FALSE,
    NULL_TEXT,
    Unreadable,
    Violation,
    arrow_array,
    arrow_scalar,
    as_mask,
    bools,
    field_violations,
    foreign_key_violations,
    int64s,
    primary_key_violations,
    record_violations,
    texts,
    unique_key_violations,
    unique_violations,
    value_codes,
    whole,
)
from pipeline.contract.fieldtypes import arrow_type, coded_text
from pipeline.validate import scope
from pipeline.validate.errors import Task, make_error

TRUE_VALUES = ["true", "True", "TRUE", "1"]
FALSE_VALUES = ["false", "False", "FALSE", "0"]
INTEGER_RE = r"^\s*[+-]?\d+\s*$"
NUMBER_RE = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$|^\s*[+-]?(?i:nan|inf|infinity)\s*$"
URI_RE = r"^[a-zA-Z][a-zA-Z0-9+.-]*:"  # rfc3986's scheme, as its URI parsing regex takes it
# Python's strptime("%Y-%m-%d"), as frictionless reads dates: 4-digit year, month and day with
# or without zero.
DATE_RE = r"^(\d{4})-(1[0-2]|0[1-9]|[1-9])-(3[01]|[12]\d|0[1-9]|[1-9]| [1-9])$"
# Columns pointing at a row of the table another column names:
# (resource, table column, id column).
POLYMORPHIC_KEYS = [("evidence", "record_table", "record_id")]
# (resource, start column, end column) of spans of a text, by offsets: 0 <= start <= end.
SPANS = [("evidence", "start", "end")]
TWIN_DIFFS_SHOWN = 100  # per field; further differing rows are counted in one error
# A header may carry labels beyond the schema's fields (each an "extra-label" error), at most as
# many again as there are fields, or SPARE_LABELS if more; a wider header is one error and its rows
# are not read, since each of them would be an error per cell. MAX_HEADER_CHARS bounds the header
# read (the published ones are < 300).
SPARE_LABELS = 100
MAX_HEADER_CHARS = 64 * 1024
# frictionless takes as the header the first of the first SAMPLE_ROWS rows near their mean width;
# the sample read to find it is bounded by SAMPLE_CHARS.
SAMPLE_ROWS = 100
SAMPLE_CHARS = 1 << 20
CSV_FIELD_LIMIT = 2147483646  # frictionless's
SLICED_ROWS = (
    1000  # rows with the wrong number of cells put back between slices of a column; more, by a copy
)

# ---- typing text columns ----


def _empty(text: pa.Array) -> pa.Array:
    """Cells holding "" (CSV text is read with empty cells as nulls already)."""
    return pc.fill_null(pc.equal(text, EMPTY), FALSE)


def _cast_or_none(text: pa.Array, to: pa.DataType) -> pa.Array | None:
    try:
        return pc.cast(text, to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _integers(text: pa.Array) -> pa.Array:
    """Integer text (sign and digits only) as int64, or, where a value is beyond int64, the whole
    column as decimal256(76, 0): frictionless reads Python integers of any size. A value of more
    than 76 digits, which no Arrow type holds, is left null (the caller reports it as a type error:
    refused, never ignored)."""
    try:
        return pc.cast(text, pa.int64())
    except pa.ArrowInvalid:  # the slow path, only for a column that needs it
        digits = pc.utf8_length(pc.replace_substring_regex(text, r"^-?0*", ""))
        fits = pc.fill_null(pc.less_equal(digits, arrow_scalar(76, digits.type)), FALSE)
        return pc.cast(
            pc.if_else(fits, text, NULL_TEXT), pa.decimal256(76, 0)
        )  # Arrow would wrap a wider value


def parse_column(
    text: pa.ChunkedArray, spec: dict, empty_is_missing: bool = True
) -> tuple[pa.Array, np.ndarray]:
    """The column typed as `spec` says (null where missing or untypable) and a mask of type errors.
    A null cell is missing, and so is "" unless `empty_is_missing` is False (a CSV's schema may say
    it is a value)."""
    kind, fmt = spec.get("type", "any"), spec.get("format", "default")
    empty = _empty(text) if empty_is_missing else None
    any_empty = empty is not None and pc.any(empty).as_py()
    present = pc.and_(pc.is_valid(text), pc.invert(empty)) if any_empty else pc.is_valid(text)
    null = pa.nulls(len(text), arrow_type(kind))
    if kind == "integer":
        ok, typed = _parse_integers(text, present)
    elif kind == "number":
        ok = pc.and_(present, pc.match_substring_regex(text, NUMBER_RE))
        typed = pc.cast(pc.if_else(ok, pc.utf8_trim_whitespace(text), NULL_TEXT), pa.float64())
    elif kind == "boolean":
        ok, typed = _parse_booleans(text, spec)
    elif kind == "date" and fmt == "default":
        ok, typed = _parse_dates(text, present, null)
    elif kind == "string" and fmt == "uri":
        # frictionless passes a URI when rfc3986, requiring a scheme, validates it: exactly
        # the values that open with a scheme and a colon (tests compare the two on many strings).
        ok = pc.and_(present, pc.match_substring_regex(text, URI_RE))
        typed = pc.if_else(ok, text, null)
    else:  # string and anything frictionless reads as text
        ok = present
        typed = pc.if_else(present, text, null) if any_empty else text
    errors = as_mask(pc.and_(present, pc.invert(ok)))
    return typed, errors


def _parse_integers(text: pa.ChunkedArray, present: pa.Array) -> tuple[pa.Array, pa.Array]:
    ok = pc.and_(present, pc.match_substring_regex(text, INTEGER_RE))
    clean = pc.replace_substring_regex(pc.utf8_trim_whitespace(text), r"^\+", "")
    typed = _integers(pc.if_else(ok, clean, NULL_TEXT))
    if typed.null_count:
        ok = pc.and_(ok, pc.is_valid(typed))  # too wide for any Arrow type
    return ok, typed


def _parse_booleans(text: pa.ChunkedArray, spec: dict) -> tuple[pa.Array, pa.Array]:
    trues, falses = spec.get("trueValues", TRUE_VALUES), spec.get("falseValues", FALSE_VALUES)
    is_true = pc.is_in(text, arrow_array(trues, pa.string()))
    is_false = pc.is_in(text, arrow_array(falses, pa.string()))
    ok = pc.or_(is_true, is_false)
    return ok, pc.if_else(ok, is_true, arrow_scalar(None, pa.bool_()))


def _parse_dates(
    text: pa.ChunkedArray, present: pa.Array, null: pa.Array
) -> tuple[pa.Array, pa.Array]:
    dates = _cast_or_none(text, pa.date32())
    if dates is not None:
        # Arrow takes only yyyy-mm-dd with a real month and day, which frictionless takes too.
        return present, dates
    parts = pc.extract_regex(
        text,
        r"^(?P<y>\d{4})-(?P<m>1[0-2]|0[1-9]|[1-9])-(?P<d>3[01]|[12]\d|0[1-9]|[1-9]| [1-9])$",
    )
    shaped = pc.is_valid(parts)
    stamp = pc.strptime(
        pc.if_else(shaped, text, NULL_TEXT), format="%Y-%m-%d", unit="s", error_is_null=True
    )
    day = pc.cast(pc.utf8_trim_whitespace(pc.struct_field(parts, "d")), pa.int64())
    # 2020-02-30 would roll over to March
    ok = pc.fill_null(pc.equal(pc.day(stamp), day), FALSE)
    return ok, pc.if_else(ok, pc.cast(stamp, pa.date32()), null)


# ---- checks on a typed table ----


@dataclass
class Table:
    """One file of a resource, typed: columns by field name, and type-error masks."""

    name: str
    fmt: str
    fields: list[dict]
    columns: dict[str, pa.Array]
    text: dict[str, pa.Array]  # the cells as written, for messages
    row_numbers: np.ndarray
    primary: str | None = None  # the one field of the primary key, if it has one field
    blank_rows: frozenset = frozenset()  # numbers of the rows whose every cell is missing


def _cell(table: Table, name: str, index: int) -> str:
    value = table.text[name][index].as_py()
    return "" if value is None else str(value)


def _row(table: Table, index: int) -> int:
    return int(table.row_numbers[index])


def _indices(mask) -> np.ndarray:
    return np.flatnonzero(mask if isinstance(mask, np.ndarray) else as_mask(mask))


def constraint_errors(table: Table, masks: dict[str, np.ndarray]) -> Iterator[dict]:
    """Constraint and category errors, for the constraints frictionless checks on the field's type.
    Empty cells and cells with a type error are not checked further, as frictionless does."""
    for number, spec in enumerate(table.fields, start=1):
        name = spec["name"]
        if name not in table.columns:
            continue
        where = {"fieldName": name, "fieldNumber": number}
        yield from _category_errors(table, spec, where)
        facts = field_violations(table.columns[name], spec, masks[name], read=constraint_values)
        for fact in facts:
            yield _constraint_error(table, spec, fact, where)


def _constraint_error(table: Table, spec: dict, fact: Violation | Unreadable, where: dict) -> dict:
    """A cell breaking a constraint, or a constraint whose value cannot be read, so that no cell is
    checked against it."""
    if isinstance(fact, Violation):
        constraint, value = fact.kind, spec["constraints"][fact.kind]
        return make_error(
            "constraint-error",
            f'constraint "{constraint}" is "{value}"',
            rowNumber=_row(table, fact.row),
            cell=_cell(table, spec["name"], fact.row),
            **where,
        )
    constraint, value = fact.constraint, spec["constraints"][fact.constraint]
    if constraint == "pattern":
        unreadable = make_error(
            "field-error",
            f'constraint "pattern" is "{value}", which is not a regular expression: '
            f"{fact.reason} (write it as Python's re reads it)",
        )
    else:
        unreadable = make_error(
            "field-error",
            f'constraint "{constraint}" is "{value}", which cannot be read as a value '
            f'of type "{spec.get("type")}" (write the bound as one)',
        )
    return unreadable | where


def constraint_values(values: list, spec: dict) -> pa.Array:
    """Constraint values (an enum, or one bound) as the field reads them, null where it cannot: a
    string as a cell of the field is typed, anything else as frictionless's value readers take a
    Python value."""
    kind = spec.get("type", "any")
    wanted = arrow_type(kind)
    parts = []
    for value in values:
        if isinstance(value, str):
            parts.append(
                whole(parse_column(arrow_array([value], pa.string()), spec)[0]).cast(wanted)
            )
            continue
        read: bool | float | None
        if kind == "boolean" and isinstance(value, bool):
            read = value
        elif (
            kind in ("integer", "number")
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
        ):
            read = value if kind == "number" or float(value).is_integer() else None
        else:
            read = None  # JSON holds no dates; other values are never read as a cell's type
        try:
            parts.append(arrow_array([read], wanted))
        except (pa.ArrowInvalid, OverflowError):  # beyond int64: no cell of the column can equal it
            parts.append(pa.nulls(1, wanted))
    return pa.concat_arrays(parts) if parts else pa.nulls(0, wanted)


def _category_errors(table: Table, spec: dict, where: dict) -> Iterator[dict]:
    categories, constraints, typed = (
        spec.get("categories"),
        spec.get("constraints", {}),
        table.columns[spec["name"]],
    )
    if categories is None or spec.get("type") not in ("string", "integer"):
        return
    values = [c["value"] if isinstance(c, dict) else c for c in categories]
    outside = pc.invert(pc.is_in(typed, value_set=arrow_array(values, typed.type)))
    if "enum" in constraints and isinstance(
        constraints["enum"], list
    ):  # a value the enum refused is reported once
        outside = pc.and_(
            outside, pc.is_in(typed, value_set=constraint_values(constraints["enum"], spec))
        )
    for index in _indices(pc.and_(outside, pc.is_valid(typed))):
        yield make_error(
            "category-error",
            f'categories are "{values}"',
            rowNumber=_row(table, index),
            cell=_cell(table, spec["name"], index),
            **where,
        )


def type_errors(table: Table, masks: dict[str, np.ndarray]) -> Iterator[dict]:
    for number, spec in enumerate(table.fields, start=1):
        mask = masks.get(spec["name"])
        if mask is None:
            continue
        note = f'type is "{spec.get("type", "any")}/{spec.get("format", "default")}"'
        for index in np.flatnonzero(mask).tolist():
            yield make_error(
                "type-error",
                note,
                rowNumber=_row(table, index),
                cell=_cell(table, spec["name"], index),
                fieldName=spec["name"],
                fieldNumber=number,
            )


def span_errors(table: Table) -> Iterator[dict]:
    """Spans that cannot be spans of a text: start after end, or start below 0 (unless the field's
    own "minimum" already refuses it, so that each fault is reported once, as frictionless reports
    it)."""
    for resource, start_name, end_name in SPANS:
        if (
            table.name != resource
            or start_name not in table.columns
            or end_name not in table.columns
        ):
            continue
        numbers = {spec["name"]: number for number, spec in enumerate(table.fields, start=1)}
        start, end = table.columns[start_name], table.columns[end_name]
        if not all(pa.types.is_integer(column.type) for column in (start, end)):
            continue  # typed otherwise by a changed schema: its type errors say enough
        minimum = table.fields[numbers[start_name] - 1].get("constraints", {}).get("minimum")
        if not (isinstance(minimum, int) and minimum >= 0):
            for index in _indices(pc.less(start, arrow_scalar(0, start.type))):
                yield make_error(
                    "span-error",
                    f'start "{_cell(table, start_name, index)}" is negative (offsets count '
                    "code points from 0)",
                    rowNumber=_row(table, index),
                    cell=_cell(table, start_name, index),
                    fieldName=start_name,
                    fieldNumber=numbers[start_name],
                )
        for index in _indices(pc.greater(start, end)):
            yield make_error(
                "span-error",
                f'start "{_cell(table, start_name, index)}" is after end '
                f'"{_cell(table, end_name, index)}" (a span ends at or after its start)',
                rowNumber=_row(table, index),
                cell=_cell(table, end_name, index),
                fieldName=end_name,
                fieldNumber=numbers[end_name],
            )


def unique_field_errors(table: Table) -> Iterator[dict]:
    for number, spec in enumerate(table.fields, start=1):
        name = spec["name"]
        if spec.get("constraints", {}).get("unique") and name in table.columns:
            for fact in unique_violations(name, table.columns[name]):
                yield make_error(
                    "unique-error",
                    _same_as(table, fact.previous),
                    rowNumber=_row(table, fact.row),
                    cell=_cell(table, name, fact.row),
                    fieldName=name,
                    fieldNumber=number,
                )


def primary_key_errors(table: Table, primary_key: list[str]) -> Iterator[dict]:
    if not primary_key or not all(name in table.columns for name in primary_key):
        return
    arrays = [table.columns[name] for name in primary_key]
    if len(arrays) > 1 and _ascending_keys(arrays):
        return  # no cell missing and no key repeated: nothing to report
    for fact in primary_key_violations(primary_key, arrays):
        yield make_error(
            "primary-key", _same_as(table, fact.previous), rowNumber=_row(table, fact.row)
        )


def _ascending_keys(arrays: list[pa.Array]) -> bool:
    """True when no key cell is missing and each row's key comes after the one before: then no key
    repeats, found in one pass over the rows instead of hashing every key.

    The changes table's key (version, table_name, record_id) is in published order: versions and
    tables as they first appear, ids ascending within them. Every column but the last is compared
    by its values' order of first appearance (an order of its own, total), the last by value;
    rows ascending by these are distinct. On the 1,000,000-row benchmark package this took
    0.1 s where hashing the keys took 0.9 s. Any other order (or a missing cell) returns False,
    and the keys are then hashed (constraints.primary_key_violations)."""
    rows = len(arrays[0])
    if any(array.null_count for array in arrays):
        return False
    if rows < 2:
        return True
    last = arrays[-1]
    after = as_mask(pc.greater(last.slice(1), last.slice(0, rows - 1)))
    for array in reversed(arrays[:-1]):
        codes = value_codes(array)
        after = (codes[1:] > codes[:-1]) | ((codes[1:] == codes[:-1]) & after)
    return bool(after.all())


def _same_as(table: Table, previous: int | None) -> str:
    """frictionless's note on a repeated value or key, or (no previous row) on a key whose every
    cell is null."""
    if previous is None:
        return 'cells composing the primary keys are all "None"'
    return f"the same as in the row at position {_row(table, previous)}"


def unique_key_errors(table: Table, key: list[str]) -> Iterator[dict]:
    if not all(name in table.columns for name in key):
        return
    for fact in unique_key_violations(key, [table.columns[name] for name in key]):
        yield make_error(
            "unique-key-error",
            _same_as(table, fact.previous),
            rowNumber=_row(table, fact.row),
            fieldName=", ".join(key),
            fieldNames=list(key),
        )


def primary_key_of(schema: dict) -> list[str]:
    pk = schema.get("primaryKey")
    pk = [pk] if isinstance(pk, str) else pk
    return pk if isinstance(pk, list) and all(isinstance(name, str) for name in pk) else []


def _fk_error(
    table: Table, index: int, names: list[str], reference: str, ref_names: list[str]
) -> dict:
    cells = [table.columns[name][index].as_py() for name in names]
    note = (
        f'for "{", ".join(names)}": values "{", ".join(str(c) for c in cells)}" not found in the '
        f'lookup table "{reference}" as "{", ".join(ref_names)}"'
    )
    return make_error(
        "foreign-key",
        note,
        rowNumber=_row(table, index),
        fieldNames=names,  # as frictionless: no fieldName
        fieldCells=[str(c) for c in cells],
        referenceName=reference,
        referenceFieldNames=ref_names,
    )


def _foreign_keys(schema: dict) -> list[tuple[list, str, list]]:
    """(fields, resource, reference fields) of each foreign key well-formed enough to check;
    the descriptor check reports the others."""
    declared = schema.get("foreignKeys")
    keys = []
    for fk in declared if isinstance(declared, list) else []:
        ref = fk.get("reference") if isinstance(fk, dict) else None
        if not isinstance(ref, dict) or "fields" not in fk or "fields" not in ref:
            continue
        names, ref_names = ([x] if isinstance(x, str) else x for x in (fk["fields"], ref["fields"]))
        if _names(names) and _names(ref_names) and isinstance(ref.get("resource", ""), str):
            keys.append((names, ref.get("resource", ""), ref_names))
    return keys


def _names(value: object) -> bool:
    """Whether `value` is a list of one or more field names."""
    return isinstance(value, list) and bool(value) and all(isinstance(name, str) for name in value)


def foreign_key_errors(table: Table, schema: dict, tables: dict[str, Table]) -> Iterator[dict]:
    """Rows whose key is not a key of the referenced table, as frictionless looks them up (see
    contract.constraints.foreign_key_violations). A key to an absent resource is
    validate.resource_errors' to report."""
    for names, reference, ref_names in _foreign_keys(schema):
        target = tables.get(reference or table.name)
        if target is None or not all(name in table.columns for name in names):
            # a field outside the schema: the descriptor check reports it, frictionless skips it
            continue
        facts = foreign_key_violations(
            names,
            [table.columns[name] for name in names],
            [target.columns.get(name) for name in ref_names],
            len(target.row_numbers),
        )
        yield from (_fk_error(table, fact.row, names, reference, ref_names) for fact in facts)
    for resource, table_column, id_column in POLYMORPHIC_KEYS:
        if table.name == resource and table_column in table.columns and id_column in table.columns:
            yield from _record_errors(table, table_column, id_column, tables)


def _record_errors(
    table: Table, table_column: str, id_column: str, tables: dict[str, Table]
) -> Iterator[dict]:
    """Rows whose id is not a primary key of the table named beside it (evidence -> its record)."""

    def key_column(name: str) -> pa.Array | None:
        target = tables.get(name)
        if target is None or target.primary is None:
            return None  # not a table name: the field's categories say so
        return target.columns[target.primary]

    names = (table_column, id_column)
    kinds = table.columns[table_column]
    for fact in record_violations(names, kinds, table.columns[id_column], key_column):
        reference = kinds[fact.row].as_py()
        key = tables[reference].primary
        error = _fk_error(table, fact.row, list(names), reference, [str(key)])
        error["fieldName"] = id_column
        yield error


def header_limit(fields: list[dict]) -> int:
    """How many labels a header may carry: the fields, and as many again or SPARE_LABELS, whichever
    is more."""
    return len(fields) + max(len(fields), SPARE_LABELS)


def missing_values(schema: dict, spec: dict | None = None) -> list[str]:
    """The cells that mean "missing" in a field: its own `missingValues`, else the schema's, else
    [""]; each a string or (Table Schema v2) an object with a string "value". Values of another
    shape are the descriptor check's to report."""
    declared = (
        spec["missingValues"]
        if isinstance(spec, dict) and "missingValues" in spec
        else schema.get("missingValues", [""])
    )
    if not isinstance(declared, list):
        return [""]
    values = [item.get("value") if isinstance(item, dict) else item for item in declared]
    return [value for value in values if isinstance(value, str)]


def _csv():
    """Python's csv module, taking cells as long as frictionless takes them (it raises csv's limit
    of 128 KiB to 2 GiB on import): the module reads the header's sample and the rows Arrow sets
    aside."""
    import csv

    csv.field_size_limit(CSV_FIELD_LIMIT)
    return csv


def _sample(handle) -> tuple[list[list[str]], bool]:
    """The file's first SAMPLE_ROWS rows, the first no longer than MAX_HEADER_CHARS and all of them
    together no longer than SAMPLE_CHARS (a row cut short is left out), and whether the first row
    was over its limit."""
    csv = _csv()

    left, cut = [MAX_HEADER_CHARS], [False]

    def lines():
        while line := handle.readline(left[0] + 1):
            if len(line) > left[0]:
                cut[0] = True
                return
            left[0] -= len(line)
            yield line

    rows: list[list[str]] = []
    reader = csv.reader(lines())
    while len(rows) < SAMPLE_ROWS:
        try:
            cells = next(reader, None)
        except csv.Error:
            if not rows:
                raise  # the first row cannot be read: the caller says so
            break  # a later row csv cannot read ends the sample
        if cells is None or cut[0]:
            break
        rows.append(cells)
        if len(rows) == 1:
            left[0] += SAMPLE_CHARS - MAX_HEADER_CHARS
    return rows, cut[0] and not rows


def _header_row(sample: list[list[str]]) -> int:
    """The row frictionless takes as the header: the first of the sample whose width is within a
    tenth (at least 1) of the sample's mean width, else the first (so leading blank or narrow rows
    are passed over)."""
    widths = [len(cells) for cells in sample]
    if not widths:
        return 1
    width = round(sum(widths) / len(widths))
    drift = max(round(width * 0.1), 1)
    return next(
        (number for number, cells in enumerate(widths, start=1) if abs(cells - width) <= drift), 1
    )


def read_header(path: Path, fields: list[dict]) -> tuple[list[str], int, dict | None]:
    """The CSV header's labels and row number, or the one error that stops the file.

    As frictionless reads them: the header is the row `_header_row` picks among the first rows, a
    UTF-8 byte-order mark is dropped, and each label is stripped of spaces. The first row is read no
    further than MAX_HEADER_CHARS, and the sample no further than SAMPLE_CHARS."""
    csv = _csv()

    try:
        # Bytes that are not UTF-8 come through as lone surrogates, found below: the decoder reads
        # ahead of the header, and a fault in a later row is the rows' to report.
        with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
            sample, over = _sample(handle)
    except csv.Error as exc:
        return [], 1, make_error("source-error", f"the header cannot be read as CSV: {exc}")
    hint = f"write the header as the schema's {len(fields)} field names"
    if over:
        return (
            [],
            1,
            make_error(
                "source-error",
                f"the header is over {MAX_HEADER_CHARS} characters; its rows are not read ({hint})",
            ),
        )
    if not sample or sample == [
        []
    ]:  # frictionless: no line, or one empty line ("\n\n" is a blank row)
        return [], 1, make_error("source-error", EMPTY_SOURCE)
    row = _header_row(sample)
    labels = [label.strip() for label in sample[row - 1]]
    if len(labels) > header_limit(fields):
        return (
            [],
            row,
            make_error(
                "source-error",
                f"the header has {len(labels)} labels for {len(fields)} fields, "
                f"over the limit of {header_limit(fields)}; its rows are not read ({hint})",
            ),
        )
    if any("\udc80" <= char <= "\udcff" for label in labels for char in label):
        return (
            [],
            row,
            make_error(
                "encoding-error",
                "the header is not UTF-8; its rows are not read (save the file as UTF-8)",
            ),
        )
    return labels, row, None


def _read_text(
    path: Path, width: int, nulls: list[str], threads: bool
) -> tuple[pa.Table, list[tuple]] | None:
    """Every cell as text in columns "0", "1", ..., header included (null: a cell in `nulls`), and
    (row number, text) of each row with other than `width` cells; None when such a row turns up in a
    read over threads, which does not number rows (the caller reads again in one thread). Empty
    lines are rows of their own, as frictionless counts them. Rows are numbered from the file's
    first (Arrow's skip_rows would count the lines of a quoted line break as rows)."""
    import pyarrow.csv as pacsv

    bad_rows: list[tuple] = []
    unnumbered = False

    def invalid(row):
        nonlocal unnumbered
        if row.number is None:
            unnumbered = True
            return "error"  # stops the read at once
        bad_rows.append((row.number, row.text))
        return "skip"

    names = [str(position) for position in range(width)]
    try:
        text = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(
                column_names=names, use_threads=threads, block_size=1 << 24
            ),
            parse_options=pacsv.ParseOptions(
                newlines_in_values=True, invalid_row_handler=invalid, ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                null_values=nulls,
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid:
        if unnumbered:
            return None
        raise
    return text, bad_rows


def _read_in_one_thread(path: Path, width: int, nulls: list[str]) -> tuple[pa.Table, list[tuple]]:
    """`_read_text` in one thread, where Arrow numbers every row it sets aside."""
    read = _read_text(path, width, nulls, threads=False)
    if read is None:
        raise pa.ArrowInvalid("Arrow set a row aside without its number")
    return read


def _split(text: str) -> list[str]:
    """A row's cells, read by Python's csv module as frictionless reads them (only rows Arrow set
    aside)."""
    import io

    csv = _csv()
    try:
        return next(csv.reader(io.StringIO(text, newline="")), [])
    except csv.Error:  # a cell over csv's size limit: the row is still checked, cut at each comma
        return text.split(",")


def _placed(column: pa.ChunkedArray, extra: pa.Array, bad_at: np.ndarray) -> pa.ChunkedArray:
    """`column` with the cells of `extra` put in so that they stand at the positions `bad_at`
    (ascending).

    A few rows go in between slices of the column, which copies nothing; many, by one `take` (a copy
    of the column: half a second for a 120 MB file)."""
    if len(bad_at) > SLICED_ROWS:
        joined = pa.chunked_array([*column.chunks, extra], pa.string())
        order = np.empty(len(column) + len(extra), dtype=np.int64)
        order[np.setdiff1d(np.arange(len(order)), bad_at)] = np.arange(len(column))
        order[bad_at] = len(column) + np.arange(len(extra))
        return joined.take(int64s(order))
    pieces, start = [], 0
    for inserted, at in enumerate(bad_at.tolist()):
        kept = at - inserted  # rows of `column` before this one
        pieces += [*column.slice(start, kept - start).chunks, extra.slice(inserted, 1)]
        start = kept
    return pa.chunked_array([*pieces, *column.slice(start).chunks], pa.string())


def _with_bad_rows(
    text: pa.Table, bad_rows: list[tuple], nulls: list[str], first: int
) -> list[pa.ChunkedArray]:
    """The columns of `text` with the rows Arrow set aside put back in their places, each cut or
    padded (with missing cells) to the table's width: a row with the wrong number of cells still
    gets every other check. `first` is the number of the first row of `text`."""
    columns = list(text.columns)
    if not bad_rows:
        return columns
    bad_at = np.array([number - first for number, _ in bad_rows], dtype=np.int64)
    missing = set(nulls)
    placed = []
    for position, column in enumerate(columns):
        cells = [
            cells[position] if position < len(cells) and cells[position] not in missing else None
            for _, cells in bad_rows
        ]
        placed.append(_placed(column, texts(cells), bad_at))
    return placed


def _all_null(
    columns: list[pa.ChunkedArray], rows: int, empty_too: list[bool] | None = None
) -> np.ndarray:
    """A mask of the rows where every column is null (or, where `empty_too` says so, "")."""
    empty_too = empty_too or [False] * len(columns)
    every = None
    for column, empty in zip(columns, empty_too, strict=True):
        if column.null_count == 0 and not empty:
            return np.zeros(
                rows, dtype=bool
            )  # the common case, known without a pass over the cells
        gone = (
            pc.or_(pc.is_null(column), pc.fill_null(pc.equal(column, EMPTY), FALSE))
            if empty
            else pc.is_null(column)
        )
        every = gone if every is None else pc.and_(every, gone)
    return as_mask(every) if every is not None else np.zeros(rows, dtype=bool)


def _empty_lines(path: Path, numbers: np.ndarray) -> np.ndarray:
    """Which of the rows `numbers` are empty lines, by Python's csv module (as frictionless reads
    them) up to the last of them: Arrow reads an empty line as a row of empty cells, which is not
    blank where "" is a value."""
    csv = _csv()

    wanted, found, last = set(numbers.tolist()), set(), int(numbers.max())
    try:
        with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
            for number, cells in enumerate(csv.reader(handle), start=1):
                if not cells and number in wanted:
                    found.add(number)
                if number >= last:
                    break
    except csv.Error:  # a cell over csv's size limit: take every such row as an empty line
        return np.ones(len(numbers), dtype=bool)
    return np.isin(numbers, list(found))


def _blank_rows(
    path: Path, columns: list[pa.ChunkedArray], own: list[list[str]], numbers: np.ndarray
):
    """A mask of the blank rows (every cell missing, or an empty line), and the columns with the
    cells of empty lines null. Only a schema where "" is not a missing value needs the empty lines
    found by row number."""
    rows = len(numbers)
    blank = _all_null(columns, rows)
    empty_is_value = ["" not in values for values in own]
    if not any(empty_is_value):
        return blank, columns
    maybe = _all_null(columns, rows, empty_is_value) & ~blank
    if not maybe.any():
        return blank, columns
    lines = np.zeros(rows, dtype=bool)
    lines[np.flatnonzero(maybe)[_empty_lines(path, numbers[maybe])]] = True
    emptied = bools(lines)
    return blank | lines, [pc.if_else(emptied, NULL_TEXT, column) for column in columns]


def _cell_count_errors(
    bad_rows: list[tuple], names: list[str], blank: set[int], room: int
) -> tuple[list[dict], int]:
    """The first `room` extra-cell and missing-cell errors, and how many more there are (counted,
    not built); a blank row has only its blank-row error, as in frictionless."""
    rows = [(number, cells) for number, cells in bad_rows if number not in blank]

    def errors():
        for number, cells in rows:
            for position in range(len(names) + 1, len(cells) + 1):
                yield make_error(
                    "extra-cell",
                    "",
                    rowNumber=number,
                    fieldName="",
                    fieldNumber=position,
                    cell=cells[position - 1],
                )
            for position in range(len(cells) + 1, len(names) + 1):
                yield make_error(
                    "missing-cell",
                    "",
                    rowNumber=number,
                    fieldName=names[position - 1],
                    fieldNumber=position,
                    cell="",
                )

    listed = list(islice(errors(), max(room, 0)))
    return listed, sum(abs(len(cells) - len(names)) for _, cells in rows) - len(listed)


def _expected_names(labels: list[str], fields: list[dict]) -> list[str]:
    """The name of each column the rows should have: frictionless pairs fields and labels by
    position, so a field past the labels is not read and a label past the fields is a column of its
    own, named after it (made unique with 2, 3, ...). A file with no header row is read by the
    fields."""
    if not labels:
        return [f["name"] for f in fields]
    names = [f["name"] for f in fields[: len(labels)]]
    for label in labels[len(fields) :]:
        name, suffix = label, 2
        while name in names:
            name, suffix = f"{label}{suffix}", suffix + 1
        names.append(name)
    return names


def _blank_row_errors(numbers: np.ndarray) -> Iterator[dict]:
    for number in numbers:
        yield make_error("blank-row", "", rowNumber=int(number))


def _not_utf8(path: Path) -> str | None:
    """Python's words for the file's first byte that is not UTF-8 (as frictionless reports it), or
    None."""
    import codecs

    decoder, read = codecs.getincrementaldecoder("utf-8")(), 0
    with open(path, "rb") as handle:
        for chunk in [*iter(lambda: handle.read(1 << 22), b""), b""]:
            pending = len(decoder.getstate()[0])  # bytes of a character begun in the chunk before
            try:
                decoder.decode(chunk, final=not chunk)
            except (
                UnicodeDecodeError
            ) as exc:  # its position counted from the file's start, not the chunk's
                return (
                    f"'utf-8' codec can't decode byte 0x{exc.object[exc.start]:02x} in position "
                    f"{read - pending + exc.start}: {exc.reason}"
                )
            read += len(chunk)
    return None


def _unreadable(path: Path, exc: pa.ArrowInvalid) -> dict:
    """The error of a file Arrow cannot read: bytes that are not UTF-8 (also where Arrow, unable to
    show a row with the wrong number of cells, says only that the row cannot be parsed), else
    Arrow's words."""
    reason = _not_utf8(path)
    if reason is not None:
        return make_error("encoding-error", reason)
    return make_error("source-error", str(exc).splitlines()[0])


def _quiet_row_decoding(unraisable) -> None:
    """pyarrow cannot hand a row that is not UTF-8 to the handler of rows with the wrong number of
    cells, and prints the decoding error as one it could not raise; the read then fails, and
    `_unreadable` says why."""
    if isinstance(unraisable.exc_value, UnicodeDecodeError) and getattr(
        unraisable.object, "__qualname__", ""
    ).startswith("_read_text."):
        return
    _PREVIOUS_HOOK(unraisable)


_PREVIOUS_HOOK = sys.unraisablehook
sys.unraisablehook = _quiet_row_decoding


def _rows_after(text: pa.Table, bad_rows: list[tuple], header: int) -> tuple[pa.Table, list[tuple]]:
    """The rows after the header row (`text` holds every row from the first, less the bad ones)."""
    before = [row for row in bad_rows if row[0] <= header]
    return text.slice(header - len(before)), bad_rows[len(before) :]


def label_errors(labels: list[str], fields: list[dict], row: int = 1) -> list[dict]:
    """The errors of the header (in row `row`), as frictionless finds them when labels and fields
    pair by position: a label past the fields is extra, a field past the labels is missing, and a
    label beside a field is blank, a repeat of an earlier label, or a name other than the field's.
    """
    errors = []
    names = [f["name"] for f in fields]
    for number, name in enumerate(names, start=1):
        if number > len(labels):
            errors.append(
                make_error(
                    "missing-label",
                    "",
                    fieldName=name,
                    fieldNumber=number,
                    label="",
                    rowNumbers=[row],
                )
            )
            continue
        label, where = (
            labels[number - 1],
            {"fieldName": name, "fieldNumber": number, "rowNumbers": [row]},
        )
        earlier = [
            str(position)
            for position, seen in enumerate(labels[: number - 1], start=1)
            if seen == label
        ]
        if not label:
            errors.append(make_error("blank-label", "", label="", **where))
        elif earlier:
            errors.append(
                make_error(
                    "duplicate-label", f'at position "{", ".join(earlier)}"', label=label, **where
                )
            )
        elif label != name:
            errors.append(make_error("incorrect-label", "", label=label, **where))
    for number in range(len(names) + 1, len(labels) + 1):
        errors.append(
            make_error(
                "extra-label",
                "",
                label=labels[number - 1],
                fieldName="",
                fieldNumber=number,
                rowNumbers=[row],
            )
        )
    return errors


# ---- the package ----


def _no_columns(task: Task, header: int, rows: int) -> tuple[Table, dict]:
    numbers = np.arange(header + 1, header + 1 + rows, dtype=np.int64)
    task.add(_blank_row_errors(numbers))
    task.rows = rows
    return Table(task.name, "csv", [], {}, {}, numbers, blank_rows=frozenset(numbers.tolist())), {}


EMPTY_SOURCE = "the source is empty"


def _no_rows(task: Task, fields: list[dict]) -> tuple[Table, dict]:
    """An empty source as a table of no rows: frictionless looks foreign keys up in it and finds
    nothing."""
    typed, masks, raw = {}, {}, {}
    for spec in fields:
        column = pa.chunked_array([], pa.string())
        typed[spec["name"]], masks[spec["name"]] = parse_column(
            column, spec, empty_is_missing=False
        )
        raw[spec["name"]] = column
    return Table(task.name, "csv", fields, typed, raw, np.zeros(0, dtype=np.int64)), masks


def read_csv(
    path: Path, fields: list[dict], task: Task, schema: dict | None = None
) -> tuple[Table, dict] | None:
    """The CSV as text columns (header checked separately), typed; type-error masks beside it.
    Missing values are the schema's (`missingValues`), never Arrow's own list of null words."""
    schema = schema or {}
    labels, header, refused = read_header(path, fields)
    if refused is not None:
        task.add([refused])
        return _no_rows(task, fields) if refused["note"] == EMPTY_SOURCE else None
    task.add(label_errors(labels, fields, header) if labels else [])
    names = _expected_names(labels, fields)
    own = [missing_values(schema, spec) for spec in fields[: len(names)]]
    own += [missing_values(schema)] * (len(names) - len(own))  # columns of extra labels
    read = _read_rows(path, names, own, header, task)
    if read is None:
        return None
    text, bad_rows = read
    if not names:  # no fields and no labels: frictionless finds every row blank, as no cell is read
        return _no_columns(task, header, text.num_rows + len(bad_rows))
    columns = _with_missing(text, bad_rows, own, header)
    # physical rows: blank and short rows count
    numbers = np.arange(header + 1, header + 1 + len(columns[0]), dtype=np.int64)
    blank_mask, columns = _blank_rows(path, columns, own, numbers)
    blank = numbers[blank_mask]
    task.add_counted(
        *_cell_count_errors(bad_rows, names, set(blank.tolist()), task.limit - len(task.errors))
    )
    task.add(_blank_row_errors(blank))
    task.rows = len(numbers)
    return _typed_table(task.name, fields, columns, numbers, frozenset(blank.tolist()))


def _shared(own: list[list[str]]) -> list[str]:
    """The missing values of every column, when all columns have the same; else none."""
    return own[0] if own and all(values == own[0] for values in own) else []


def _read_rows(
    path: Path, names: list[str], own: list[list[str]], header: int, task: Task
) -> tuple[pa.Table, list[tuple]] | None:
    """The rows after the header as text, and (number, cells) of the rows Arrow set aside; None
    (with the error added to `task`) when Arrow cannot read the file."""
    width, shared = max(len(names), 1), _shared(own)
    try:
        # Arrow numbers skipped rows only when it reads in one thread: so it does once one is.
        text, bad_rows = _read_text(path, width, shared, threads=True) or _read_in_one_thread(
            path, width, shared
        )
    except pa.ArrowInvalid as exc:
        task.add([_unreadable(path, exc)])
        return None
    return _rows_after(text, sorted((number, _split(row)) for number, row in bad_rows), header)


def _with_missing(
    text: pa.Table, bad_rows: list[tuple], own: list[list[str]], header: int
) -> list[pa.ChunkedArray]:
    """The columns, the rows Arrow set aside put back, with each column's missing values null."""
    shared = _shared(own)
    columns = _with_bad_rows(text, bad_rows, shared, header + 1)
    if shared:
        return columns  # Arrow read them as null already
    return [
        pc.if_else(pc.is_in(column, value_set=arrow_array(values, pa.string())), NULL_TEXT, column)
        if values
        else column
        for column, values in zip(columns, own, strict=True)
    ]


def _typed_table(
    name: str,
    fields: list[dict],
    columns: list[pa.ChunkedArray],
    numbers: np.ndarray,
    blank: frozenset,
) -> tuple[Table, dict]:
    """The columns typed by their fields (a column of an extra label has none), and type-error
    masks. Each is left in its chunks: copying them whole costs time and memory."""
    typed, masks, raw = {}, {}, {}
    for spec, column in zip(fields, columns, strict=False):
        typed[spec["name"]], masks[spec["name"]] = parse_column(
            column, spec, empty_is_missing=False
        )
        raw[spec["name"]] = column
    return Table(name, "csv", fields, typed, raw, numbers, blank_rows=blank), masks


def _same_type(actual: pa.DataType, wanted: pa.DataType) -> bool:
    if pa.types.is_dictionary(actual):
        actual = actual.value_type
    if pa.types.is_large_string(actual) or pa.types.is_string_view(actual):
        actual = pa.string()
    return actual == wanted


def dictionary_errors(column: pa.DictionaryArray, spec: dict, number: int) -> list[dict]:
    """A text code list's dictionary must be the whole list in order, ordered as the field says:
    pandas and polars give it as the column's categories. Its values are checked once decoded. A
    column without a value has no dictionary page, so its dictionary is empty."""
    codes = coded_text(spec)
    if codes is None or column.null_count == len(column):
        return []
    found, ordered = column.dictionary.to_pylist(), bool(spec.get("categoriesOrdered"))
    if found == codes and column.type.ordered == ordered:
        return []
    return [
        make_error(
            "parquet-type-error",
            f"expected the dictionary {codes} (ordered: {str(ordered).lower()}) for the "
            f"categories, found {found} (ordered: {str(column.type.ordered).lower()})",
            fieldName=spec["name"],
            fieldNumber=number,
        )
    ]


def read_parquet(path: Path, fields: list[dict], task: Task) -> tuple[Table, dict] | None:
    import pyarrow.parquet as pq

    try:
        with pq.ParquetFile(
            path
        ) as parquet:  # pq.read_table would load pyarrow.dataset, which imports pandas
            width = len(parquet.schema_arrow.names)
            data = parquet.read() if width <= header_limit(fields) else None
    except (pa.ArrowInvalid, OSError) as exc:
        task.add([make_error("source-error", str(exc).splitlines()[0])])
        return None
    if data is None:
        task.add(
            [
                make_error(
                    "source-error",
                    f"the file has {width} columns for {len(fields)} fields, over the limit "
                    f"of {header_limit(fields)}; its rows are not read (write the schema's fields)",
                )
            ]
        )
        return None
    task.add(label_errors(data.column_names, fields))
    columns, masks, raw = {}, {}, {}
    for number, spec in enumerate(fields, start=1):
        name = spec["name"]
        if name not in data.column_names:
            continue
        column = data.column(name).combine_chunks()
        if pa.types.is_dictionary(column.type):
            task.add(dictionary_errors(column, spec, number))
            column = column.dictionary_decode()
        wanted = arrow_type(spec.get("type", "any"))
        as_text = pc.fill_null(
            pc.cast(column, pa.string())
            if not pa.types.is_boolean(column.type)
            else pc.if_else(
                column, arrow_scalar("true", pa.string()), arrow_scalar("false", pa.string())
            ),
            EMPTY,
        )
        if not _same_type(column.type, wanted):
            task.add(
                [
                    make_error(
                        "parquet-type-error",
                        f'expected {wanted} for "{spec.get("type")}", found {column.type}',
                        fieldName=name,
                        fieldNumber=number,
                    )
                ]
            )
            columns[name], masks[name] = parse_column(as_text, spec)
        else:
            column = column.cast(wanted)
            if wanted == pa.string():
                column = pc.if_else(pc.equal(column, EMPTY), NULL_TEXT, column)
            if spec.get("format") == "uri":
                columns[name], masks[name] = parse_column(as_text, spec)
            else:
                columns[name], masks[name] = column, np.zeros(len(column), dtype=bool)
        raw[name] = as_text
    task.rows = data.num_rows
    return Table(
        task.name, "parquet", fields, columns, raw, np.arange(data.num_rows, dtype=np.int64) + 2
    ), masks


def twin_errors(csv_table: Table, parquet_table: Table, rows_of: str = "") -> Iterator[dict]:
    """Rows of the Parquet twin that differ from the CSV's (both typed by the schema); `rows_of`
    says which rows of the CSV the twin holds, when it is a part."""
    a_rows, b_rows = len(csv_table.row_numbers), len(parquet_table.row_numbers)
    if a_rows != b_rows:
        yield make_error(
            "twin-mismatch",
            f"the CSV has {a_rows} rows{rows_of} and the Parquet file {b_rows}",
            rowNumber=min(a_rows, b_rows) + 2,
        )
        return
    for number, spec in enumerate(csv_table.fields, start=1):
        name = spec["name"]
        if name not in csv_table.columns or name not in parquet_table.columns:
            continue
        a, b = csv_table.columns[name], parquet_table.columns[name]
        if a.type != b.type:
            continue  # a type error already reported
        same = pc.fill_null(pc.equal(a, b), FALSE)
        both_null = pc.and_(pc.is_null(a), pc.is_null(b))
        differ = _indices(pc.invert(pc.or_(same, both_null)))
        for index in differ[:TWIN_DIFFS_SHOWN]:
            yield make_error(
                "twin-mismatch",
                f'CSV has "{_cell(csv_table, name, index)}", Parquet has '
                f'"{_cell(parquet_table, name, index)}"',
                rowNumber=_row(csv_table, index),
                cell=_cell(parquet_table, name, index),
                fieldName=name,
                fieldNumber=number,
            )
        if len(differ) > TWIN_DIFFS_SHOWN:
            yield make_error(
                "twin-mismatch",
                f"{len(differ) - TWIN_DIFFS_SHOWN} more rows differ in this field",
                rowNumber=_row(csv_table, differ[TWIN_DIFFS_SHOWN]),
                fieldName=name,
                fieldNumber=number,
            )


def _value_indices(table: Table, column: str, value: str) -> np.ndarray:
    """The indices of the rows whose `column` holds `value`."""
    return _indices(pc.fill_null(pc.equal(table.columns[column], value), FALSE))


def part_twin_errors(csv_table: Table, part: Table, column: str, value: str) -> Iterator[dict]:
    """Rows of a part file that differ from the CSV's rows of its value, in their order: the
    part's row numbers, as in a whole twin, count the part's own rows."""
    if column not in csv_table.columns:
        return  # a schema without the column: the descriptor check reports it
    take = pa.array(_value_indices(csv_table, column, value))
    rows = Table(
        csv_table.name,
        csv_table.fmt,
        csv_table.fields,
        {name: array.take(take) for name, array in csv_table.columns.items()},
        {name: array.take(take) for name, array in csv_table.text.items()},
        np.arange(len(take), dtype=np.int64) + 2,
    )
    yield from twin_errors(rows, part, f' with {column} "{value}"')


def missing_part_errors(csv_table: Table, column: str, values: set[str]) -> Iterator[dict]:
    """A twin-mismatch at the first CSV row of each value no part file holds."""
    if column not in csv_table.columns:
        return
    found = pc.unique(csv_table.columns[column].drop_null()).to_pylist()
    number = next(n for n, f in enumerate(csv_table.fields, 1) if f["name"] == column)
    for value in sorted(set(found) - values):
        index = int(_value_indices(csv_table, column, value)[0])
        yield make_error(
            "twin-mismatch",
            f'no part file holds the rows with {column} "{value}" (publish writes them to '
            f"part-{value}.parquet)",
            rowNumber=_row(csv_table, index),
            cell=value,
            fieldName=column,
            fieldNumber=number,
        )


def _off_blank_rows(errors: Iterator[dict], table: Table) -> Iterator[dict]:
    """The errors outside blank rows: frictionless reports a blank row as that alone."""
    return (
        (error for error in errors if error.get("rowNumber") not in table.blank_rows)
        if table.blank_rows
        else errors
    )


def check_file(path: Path, task: Task, schema: dict) -> Table | None:
    """Read one file of a resource and check every cell's type and constraints."""
    fields = [
        scope.readable(f) for f in schema.get("fields", []) if isinstance(f, dict) and "name" in f
    ]
    read = (
        read_csv(path, fields, task, schema)
        if task.format == "csv"
        else read_parquet(path, fields, task)
    )
    if read is None:
        return None
    table, masks = read
    pk = primary_key_of(schema)
    table.primary = pk[0] if len(pk) == 1 else None
    task.add(_off_blank_rows(type_errors(table, masks), table))
    task.add(_off_blank_rows(constraint_errors(table, masks), table))
    task.add(span_errors(table))
    return table
