"""The changes table as Arrow: written as the same bytes as its rows as dicts, and merged in the
published order (`sorted_changes`)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.contract import schemas
from pipeline.package import lineage, writer

VERSIONS = st.builds(
    lambda a, b, c: f"{a}.{b}.{c}", *(st.integers(min_value=0, max_value=12) for _ in range(3))
)
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\x00"),
    max_size=12,
)
ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "version": VERSIONS,
            "date": st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2030, 12, 31)),
            "table_name": st.sampled_from(schemas.TABLES),
            "record_id": st.text(alphabet="ab-09é", min_size=1, max_size=6),
            "kind": st.sampled_from(["added", "corrected", "removed"]),
            "fields": st.one_of(st.none(), TEXT.filter(bool)),
            "reason": TEXT.filter(bool),
        }
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(published=ROWS, new=ROWS)
def test_merged_changes_are_in_the_published_order(published: list[dict], new: list[dict]):
    merged = lineage.merged_changes(lineage.changes_table(published), new)
    assert merged.to_pylist() == lineage.sorted_changes(published + new)


@settings(max_examples=200, deadline=None)
@given(rows=ROWS)
def test_an_arrow_table_is_written_as_its_rows_are(rows: list[dict]):
    as_dicts, as_arrow = io.StringIO(), io.StringIO()
    writer.write_csv(as_dicts, lineage.CHANGES, rows)
    writer.write_csv(as_arrow, lineage.CHANGES, lineage.changes_table(rows))
    assert as_arrow.getvalue() == as_dicts.getvalue()


def test_an_arrow_table_is_written_in_batches_as_one(monkeypatch):
    rows = [
        {
            "version": "1.0.0",
            "date": dt.date(2020, 10, 1),
            "table_name": "events",
            "record_id": f"e{number:03d}",
            "kind": "added",
            "fields": None,
            "reason": 'first, "publication"',
        }
        for number in range(5)
    ]
    monkeypatch.setattr(writer, "ARROW_BATCH_ROWS", 2)
    written = io.StringIO()
    writer.write_csv(written, lineage.CHANGES, lineage.changes_table(rows))
    assert written.getvalue() == (
        "version,date,table_name,record_id,kind,fields,reason\n"
        + "".join(
            f'1.0.0,2020-10-01,events,e{n:03d},added,,"first, ""publication"""\n' for n in range(5)
        )
    )


def test_parquet_from_arrow_is_the_parquet_from_rows(tmp_path: Path):
    rows = [
        {
            "version": version,
            "date": dt.date(2020, 10, day),
            "table_name": table,
            "record_id": ident,
            "kind": kind,
            "fields": fields,
            "reason": "why",
        }
        for version, day, table, ident, kind, fields in [
            ("1.0.0", 1, "events", "a", "added", None),
            ("1.1.0", 2, "actors", "b", "corrected", "name;country"),
            ("2.0.0", 3, "evidence", "c", "removed", None),
        ]
    ]
    writer.write_parquet(tmp_path / "rows.parquet", lineage.CHANGES, rows, "pkg", "2.0.0")
    table = lineage.changes_table(rows)
    writer.write_parquet(tmp_path / "arrow.parquet", lineage.CHANGES, table, "pkg", "2.0.0")
    assert (tmp_path / "arrow.parquet").read_bytes() == (tmp_path / "rows.parquet").read_bytes()


def test_first_rows_record_every_row_as_added():
    ordered = {table: [] for table in schemas.TABLES}
    ordered["actors"] = [{"actor_id": "a1"}, {"actor_id": "a2"}]
    ordered["events"] = [{"event_id": "e1"}]
    day = dt.date(2020, 9, 30)
    table = lineage.first_rows(ordered, "0.1.0", day, lineage.FIRST_REASON)
    assert table.to_pylist() == [
        {
            "version": "0.1.0",
            "date": day,
            "table_name": name,
            "record_id": ident,
            "kind": "added",
            "fields": None,
            "reason": "first publication",
        }
        for name, ident in [("actors", "a1"), ("actors", "a2"), ("events", "e1")]
    ]
