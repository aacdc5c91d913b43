"""The synthetic corpora of the benchmark: they pass check, their planted faults are all found, same seed same bytes."""

from __future__ import annotations

import hashlib
import json

from bench.synth import write_corpus
from pipeline.check.run import check_seeds


def test_synth_corpus_passes_check_and_planted_errors_are_found(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # planted-errors.json names files from the corpus's parent
    clean = tmp_path / "clean"
    write_corpus(clean, 3, seed=7)
    assert check_seeds(clean).problems == []
    planted_dir = tmp_path / "planted"
    write_corpus(planted_dir, 4, plant_errors=True)
    planted = json.loads((planted_dir / "planted-errors.json").read_text())
    problems = {(p.file, p.record, p.field) for p in check_seeds(planted_dir).problems}
    assert len({e["kind"] for e in planted}) == len(planted) >= 30
    assert [e for e in planted if (e["file"], e["record"], e["field"]) not in problems] == []


def files_of(folder):
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_synth_is_deterministic(tmp_path):
    for name in ("a", "b"):
        write_corpus(tmp_path / name, 2, seed=3)
    written = files_of(tmp_path / "a")
    assert sorted(written) == ["count_conventions.yaml"] + sorted(
        f"{folder}/{name}"
        for folder in {f.split("/")[0] for f in written if "/" in f}
        for name in ("annotations.yaml", "source.yaml", "text.txt")
    )
    assert len(written) == 1 + 2 * 3
    assert written == files_of(tmp_path / "b")
    write_corpus(tmp_path / "c", 2, seed=4)
    assert files_of(tmp_path / "c") != written


def test_a_seed_writes_the_bytes_it_always_wrote(tmp_path):
    """The corpus of a seed is pinned, so that benchmarks stay comparable across versions of synth."""
    written = write_corpus(tmp_path / "seeds", 4, seed=3, plant_errors=True)
    digest = hashlib.sha256()
    for name, data in files_of(tmp_path / "seeds").items():
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    assert written == {
        "documents": 4,
        "records": {
            "actors": 28,
            "places": 13,
            "events": 58,
            "statements": 74,
            "casualty_reports": 20,
        },
        "planted": 39,
    }
    assert digest.hexdigest() == "01bbfbf0d3d4b6a840dff24bf011de0152fde90e4fd95cfbe652bc6587cc35d8"
