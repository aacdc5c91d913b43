"""Reading seeds/ over several processes gives exactly what reading them in one process gives."""

from __future__ import annotations

import pytest

from bench.synth import write_corpus
from pipeline.build import parallel as reading
from pipeline.check.run import check_seeds

from conftest import BASE_SEEDS


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "seeds"
    write_corpus(out, 12, seed=5, plant_errors=True)
    return out


def read(seeds, monkeypatch, parallel: bool):
    monkeypatch.setattr(reading, "PARALLEL_MIN_FOLDERS", 1 if parallel else 10**9)
    monkeypatch.setattr(reading, "FOLDERS_PER_RUN", 3)
    monkeypatch.setattr(reading, "workers", lambda: 2)
    return check_seeds(seeds, use_cache=False)  # every folder read, by the workers or here


@pytest.mark.parametrize("corpus", ["planted", "annotated"])
def test_workers_give_the_same_rows_and_problems(corpus, planted, monkeypatch):
    seeds = planted if corpus == "planted" else BASE_SEEDS
    one, many = read(seeds, monkeypatch, parallel=False), read(seeds, monkeypatch, parallel=True)
    assert [str(p) for p in many.problems] == [str(p) for p in one.problems]
    assert many.tables.rows == one.tables.rows
    assert many.tables.origins == one.tables.origins
    assert many.tables.bad_cells == one.tables.bad_cells
    assert many.tables.evidence_of == one.tables.evidence_of
    assert many.tables.weekday_exempt == one.tables.weekday_exempt
    assert many.exclusions == one.exclusions
    if corpus == "planted":
        assert len(one.problems) >= 30 and one.tables.bad_cells


def test_a_failing_worker_is_an_error_not_a_hang(planted, monkeypatch):
    def broken(*args):
        raise RuntimeError("worker failed")

    monkeypatch.setattr(reading, "add_record_rows", broken)  # the forked workers inherit the patch
    with pytest.raises(RuntimeError, match="worker failed"):
        read(planted, monkeypatch, parallel=True)
