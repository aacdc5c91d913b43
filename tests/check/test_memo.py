"""What the checks across files found, remembered by the columns they read: a column's digest
is that of its values however its buffers were made; a check runs again only when a column it
reads changes; a damaged memo is noted once and found again."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from bench.synth import write_corpus
from pipeline.build import cache, parallel
from pipeline.check import memo
from pipeline.check.memo import column_digest, fits
from pipeline.cli import app
from pipeline.contract.constraints import column_array

from conftest import BASE_SEEDS

runner = CliRunner()

# ---- a column's digest ----

VALUES = {
    "string": st.text(max_size=4),
    "integer": st.integers(-(2**63), 2**63 - 1),
    "date": st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1)),
    "boolean": st.booleans(),
}
COLUMNS = st.sampled_from(list(VALUES)).flatmap(
    lambda kind: st.tuples(st.just(kind), st.lists(st.none() | VALUES[kind], max_size=12))
)


def messy(values: list, kind: str, junk: int) -> pa.Array:
    """The column of `values` with `junk` written where its values do not count: in a null's
    slot, and in the validity bitmap's spare bits."""
    clean = column_array(values, kind)
    if kind == "boolean" or clean.null_count == 0:
        return clean
    valid = np.array([value is not None for value in values])
    bits = np.packbits(np.append(valid, [True] * 7), bitorder="little")
    validity = pa.py_buffer(bits)
    if kind == "string":
        texts = [f"junk{junk}" if value is None else value for value in values]
        data = column_array(texts, kind)
        offsets, text = data.buffers()[1:]
        return pa.Array.from_buffers(pa.string(), len(values), [validity, offsets, text])
    data = np.frombuffer(clean.buffers()[1], dtype=np.int64 if kind == "integer" else np.int32)
    data = np.where(valid, data[: len(values)], junk)
    return pa.Array.from_buffers(clean.type, len(values), [validity, pa.py_buffer(data)])


@given(column=COLUMNS, cut=st.integers(0, 12), junk=st.integers(1, 99))
def test_a_column_put_together_otherwise_has_the_same_digest(column, cut, junk):
    kind, values = column
    cut = min(cut, len(values))
    before = column_array([None, *values[:cut]], kind).slice(1)  # a slice of a longer column
    after = messy(values[cut:], kind, junk)
    joined = pa.concat_arrays([before, after])
    assert column_digest(joined) == column_digest(column_array(values, kind))


@given(column=COLUMNS, other=st.lists(st.none() | st.text(max_size=4), max_size=12))
def test_other_values_have_another_digest(column, other):
    kind, values = column
    if kind == "string" and values == other:
        return
    assert column_digest(column_array(values, kind)) != column_digest(column_array(other, "string"))


@pytest.mark.parametrize(
    "value, shape, expected",
    [
        ([[1, 2], [3, 4]], [[int, int], ...], True),
        ([[1, 2], [3]], [[int, int], ...], False),
        ([], [[int, int], ...], True),
        ([["a", ["x"], 1, None]], [[str, [str, ...], int, (int, type(None))], ...], True),
        ([["a", ["x"], 1, "2"]], [[str, [str, ...], int, (int, type(None))], ...], False),
        ({"a": 1}, [int, ...], False),
        ("x", [int, ...], False),
    ],
)
def test_the_shape_of_what_a_check_found(value, shape, expected):
    assert fits(value, shape) is expected


# ---- a check runs again only when what it reads changes ----


@pytest.fixture
def seeds(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(cache.ENV_FOLDER, str(tmp_path / "cache"))
    seeds = tmp_path / "seeds"
    shutil.copytree(BASE_SEEDS, seeds)
    return seeds


@pytest.fixture
def ran(monkeypatch) -> list[str]:
    """The names of the checks across files that ran (rather than being remembered)."""
    names: list[str] = []
    by_key = memo.Memo.by_key

    def recorded(self, name, key, find, shape):
        return by_key(self, name, key, lambda: names.append(name) or find(), shape)

    monkeypatch.setattr(memo.Memo, "by_key", recorded)
    return names


def check(seeds: Path, *options: str) -> tuple[int, str]:
    result = runner.invoke(app, ["check", "--seeds", str(seeds), *options])
    return result.exit_code, result.output


def annotations(seeds: Path) -> Path:
    return next(seeds.glob("*/annotations.yaml"))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_each_check_runs_once_then_when_its_columns_change(seeds, ran):
    clean = check(seeds)
    first = list(ran)
    assert "clashes events" in first and "responses" in first and len(first) > 10
    ran.clear()
    assert check(seeds) == clean
    assert ran == []
    edit(annotations(seeds), "summary: Shelling", "summary: Edited. Shelling")
    assert check(seeds) == clean
    assert ran == []  # no check reads a summary
    edit(annotations(seeds), "- event_id: terter", "- event_id: renamed-terter")
    renamed = check(seeds)
    assert "clashes events" in ran
    assert "clashes actors" not in ran  # its ids are as they were
    assert renamed == check(seeds, "--no-cache") != clean


def test_through_the_snapshot_the_kept_rows_are_looked_at_once(tmp_path, ran, monkeypatch):
    monkeypatch.setenv(cache.ENV_FOLDER, str(tmp_path / "cache"))
    monkeypatch.setattr(parallel, "SNAPSHOT_MIN_FOLDERS", 0)
    seeds = tmp_path / "seeds"
    write_corpus(seeds, 3, seed=7)
    first, second, _ = sorted(seeds.glob("*/annotations.yaml"))
    clean = check(seeds)  # written: the snapshot
    assert check(seeds) == clean  # read through it: the kept rows looked at
    edit(first, 'summary: "', 'summary: "Edited. ')
    assert check(seeds) == clean  # the file's rows built now: other rows kept, looked at
    assert any(name.endswith(", kept rows") for name in ran)
    ran.clear()
    event, other = event_ids(first)[0], event_ids(second)[0]
    first.write_text(first.read_text().replace(f'"{event}"', f'"{other}"'))  # another file's
    clash = check(seeds)
    assert ran == []  # the same rows kept; what the rows built now change is found each time
    assert clash == check(seeds, "--no-cache") != clean
    assert f"id '{other}' is already used in events" in clash[1]


def event_ids(path: Path) -> list[str]:
    return re.findall(r'event_id: "([^"]+)"', path.read_text(encoding="utf-8"))


def test_without_a_cache_every_check_runs(seeds, ran):
    check(seeds, "--no-cache")
    first = list(ran)
    ran.clear()
    check(seeds, "--no-cache")
    assert ran == first


def _memo_file(seeds: Path) -> Path:
    [found] = Path(seeds.parent / "cache").glob(f"*/{cache.CHECKS_NAME}.json")
    return found


def _with_facts(change: Callable[[dict], object]) -> Callable[[Path], None]:
    """Damage: the memo's facts changed by `change`, its header's digest made to match."""

    def damage(path: Path) -> None:
        header, body = path.read_bytes().split(b"\n", 1)
        payload = json.loads(body)
        payload["facts"] = change(payload["facts"])
        body = json.dumps(payload).encode()
        fields = json.loads(header)
        fields["sha256"] = hashlib.sha256(body).hexdigest()
        path.write_bytes(json.dumps(fields).encode() + b"\n" + body)

    return damage


DAMAGE = {
    "not JSON": lambda path: path.write_bytes(b"\x00\xff garbage\n\x01"),
    "a byte changed": lambda path: path.write_bytes(path.read_bytes()[:-3] + b"7]}"),
    "facts not a mapping": _with_facts(lambda facts: [1, 2]),
    "a check's facts of another shape": _with_facts(
        lambda facts: {name: [key, ["x"]] for name, (key, _) in facts.items()}
    ),
    "a key of another shape": _with_facts(
        lambda facts: {name: [5, found] for name, (_, found) in facts.items()}
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGE), ids=list(DAMAGE))
def test_a_damaged_memo_is_noted_once_and_found_again(damage, seeds, ran):
    clean = check(seeds)
    path = _memo_file(seeds)
    DAMAGE[damage](path)
    ran.clear()
    note = f"note: ignored an unreadable cache entry in {path.parent} (rebuilt)\n"
    assert check(seeds) == (clean[0], note + clean[1])
    assert ran  # found again
    ran.clear()
    assert check(seeds) == clean
    assert ran == []
