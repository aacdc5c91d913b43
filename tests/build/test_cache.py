"""The per-file cache: a cached check says exactly what an uncached one says, whatever was edited
between runs; a damaged entry is noted once and rebuilt; --no-cache leaves no trace; the cache is
never used inside the seeds or a package, and two checks at once share it safely."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bench.synth import write_corpus
from pipeline.build import cache, parallel, snapshot
from pipeline.build.tables import Origin, Tables
from pipeline.check.run import check_seeds
from pipeline.check.watch import saved_files
from pipeline.cli import app
from pipeline.contract import schemas
from pipeline.load import seeds as seeds_module
from pipeline.load import structure

from conftest import BASE_SEEDS, PUBLISHED_EPOCH, command_env, installed, tree

runner = CliRunner()
DOCS = 4


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A small synthetic corpus with one fault of every kind: never changed, copied by tests."""
    out = tmp_path_factory.mktemp("synth") / "seeds"
    write_corpus(out, DOCS, seed=7, plant_errors=True)
    (out / "planted-errors.json").unlink()
    return out


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(cache.ENV_FOLDER, str(folder))
    return folder


def check(seeds: Path, *options: str) -> tuple[int, str]:
    result = runner.invoke(app, ["check", "--seeds", str(seeds), *options])
    return result.exit_code, result.output


def version(package: Path) -> str:
    return json.loads((package / "datapackage.json").read_text(encoding="utf-8"))["version"]


def entries(cache_dir: Path) -> list[Path]:
    """The folders' entries (not the digests remembered beside them)."""
    return sorted(p for p in cache_dir.glob("*/*.json") if cache.ENTRY_NAME.fullmatch(p.name))


def documents(seeds: Path) -> list[Path]:
    return sorted(p for p in seeds.iterdir() if p.is_dir())


# ---- random edits: cached == uncached ----

VALUES = ["3", "9999999999999", "x", "2020-13-01", "2020-10-02", '"Moscow"', "", "[1, 2]", "{{"]
EDITS = st.one_of(
    st.tuples(
        st.just("edit"), st.integers(0, DOCS - 1), st.integers(0, 10**6), st.sampled_from(VALUES)
    ),
    st.tuples(st.just("break"), st.integers(0, DOCS - 1)),
    st.tuples(st.just("delete"), st.integers(0, DOCS - 1)),
    st.tuples(st.just("restore"), st.integers(0, DOCS - 1)),
    st.tuples(st.just("text"), st.integers(0, DOCS - 1), st.integers(0, 10**6)),
    st.tuples(st.just("published"), st.integers(0, DOCS - 1), st.sampled_from(["2020-09-01", "x"])),
    # a source's metadata gone, its text moved to another file, its metadata unreadable
    st.tuples(st.just("unsourced"), st.integers(0, DOCS - 1)),
    st.tuples(st.just("text moved"), st.integers(0, DOCS - 1)),
    st.tuples(st.just("metadata broken"), st.integers(0, DOCS - 1)),
    st.tuples(st.just("conventions"), st.integers(0, 10**6)),
    # across files: an id another file defines, an id others refer to renamed, a reference moved
    st.tuples(
        st.just("duplicate"), st.integers(0, DOCS - 1), st.integers(0, DOCS - 1), st.integers()
    ),
    st.tuples(st.just("rename"), st.integers(0, DOCS - 1), st.integers(0, 10**6)),
    st.tuples(st.just("point"), st.integers(0, DOCS - 1), st.integers(0, DOCS - 1), st.integers()),
)
ID_LINE = re.compile(r'(\s*)(- )?([a-z_]+_id): "?([^"\n]+)"?\n')


def apply(edit: tuple, seeds: Path, original: Path) -> None:
    """One edit of the seeds: a value, a broken file, a document gone or back, a text changed."""
    kind, *args = edit
    names = [p.name for p in documents(original)]
    if kind == "conventions":
        _edit_value(seeds / "count_conventions.yaml", args[0], "7")
        return
    folder = seeds / names[args[0]]
    if kind == "restore":
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(original / folder.name, folder)
    elif not folder.is_dir():
        return
    elif kind == "edit":
        _edit_value(folder / "annotations.yaml", args[1], args[2])
    elif kind == "break":
        (folder / "annotations.yaml").write_text("events: [unclosed\n", encoding="utf-8")
    elif kind == "delete":
        shutil.rmtree(folder)
    elif kind == "text" and (folder / "text.txt").is_file():
        text = (folder / "text.txt").read_text(encoding="utf-8")
        at = args[1] % len(text)
        (folder / "text.txt").write_text(text[:at] + "Q" + text[at + 1 :], encoding="utf-8")
    elif kind in ("duplicate", "rename", "point"):
        _edit_id(kind, folder / "annotations.yaml", seeds / names[args[-2]], args[-1])
    elif kind in ("published", "text moved") and (folder / "source.yaml").is_file():
        meta = (folder / "source.yaml").read_text(encoding="utf-8")
        if kind == "published":
            meta = re.sub(r"published_date: .*", f"published_date: '{args[1]}'", meta)
        elif (folder / "text.txt").is_file():
            (folder / "text.txt").rename(folder / "body.txt")
            meta = re.sub(r"text_file: .*", "text_file: body.txt", meta)
        (folder / "source.yaml").write_text(meta, encoding="utf-8")
    elif kind == "unsourced":
        (folder / "source.yaml").unlink(missing_ok=True)
    elif kind == "metadata broken":
        (folder / "source.yaml").write_text("title: [unclosed\n", encoding="utf-8")


def _id_lines(path: Path, defining: bool) -> list[tuple[int, re.Match]]:
    """The lines of `path` giving a record's id (`defining`) or referring to one."""
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    found = [(n, ID_LINE.fullmatch(line)) for n, line in enumerate(lines)]
    return [(n, m) for n, m in found if m is not None and bool(m.group(2)) == defining]


def _edit_id(kind: str, path: Path, other: Path, pick: int) -> None:
    """An id of `path` made one that `other` defines ("duplicate"), a new one ("rename"), or a
    reference of `path` made to name an id `other` defines ("point")."""
    ids = _id_lines(path, defining=kind != "point")
    theirs = [m.group(4) for _, m in _id_lines(other / "annotations.yaml", defining=True)]
    if not ids or (kind != "rename" and not theirs):
        return
    n, match = ids[pick % len(ids)]
    value = f"renamed-{pick}" if kind == "rename" else theirs[pick % len(theirs)]
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[n] = f'{match.group(1)}{match.group(2) or ""}{match.group(3)}: "{value}"\n'
    path.write_text("".join(lines), encoding="utf-8")


def _edit_value(path: Path, pick: int, value: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    keyed = [n for n, line in enumerate(lines) if re.match(r"\s*[a-z_]+: \S", line)]
    n = keyed[pick % len(keyed)]
    key = lines[n].split(":", 1)[0]
    lines[n] = f"{key}: {value}\n"
    path.write_text("".join(lines), encoding="utf-8")


def through_snapshot(patch: pytest.MonkeyPatch, rewrite_after: int) -> None:
    """Every corpus read through the whole-corpus snapshot, written again once more than
    `rewrite_after` folders were read since it was written (until then their entries are read)."""
    patch.setattr(parallel, "SNAPSHOT_MIN_FOLDERS", 0)
    patch.setattr(parallel, "REWRITE_AFTER", rewrite_after)


# the examples of random edits: each copies the corpus and checks it several times
EDITED = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@contextlib.contextmanager
def example_seeds(
    corpus: Path, tmp_path: Path, remembered: bool, snapshot: int | None
) -> Iterator[Path]:
    """A fresh copy of `corpus` for one example, with its cache settings. One seeds path and
    cache for every example: entries of earlier examples must be found stale."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(cache.ENV_FOLDER, str(tmp_path / "cache"))
        if remembered:  # digests trusted however recent: only the files' status tells an edit
            patch.setattr(cache, "RACY_NS", -(10**12))
        if snapshot is not None:  # the snapshot, written again after `snapshot` folders read
            through_snapshot(patch, snapshot)
        seeds = tmp_path / "seeds"
        shutil.rmtree(seeds, ignore_errors=True)
        shutil.copytree(corpus, seeds)
        yield seeds


@EDITED
@given(
    edits=st.lists(EDITS, min_size=1, max_size=3),
    remembered=st.booleans(),
    snapshot=st.sampled_from([None, 0, 1, 100]),
)
def test_a_cached_check_says_what_an_uncached_one_says(
    edits, remembered, snapshot, corpus, tmp_path
):
    with example_seeds(corpus, tmp_path, remembered, snapshot) as seeds:
        check(seeds)  # warm
        for edit in edits:
            apply(edit, seeds, corpus)
            uncached = check(seeds, "--no-cache")
            assert check(seeds) == uncached, edit  # entries of the files before the edit
            assert check(seeds) == uncached, edit  # entries of the files as they are now


@pytest.mark.parametrize("change", ["text", "published"])
def test_evidence_in_another_source_follows_that_source(change, corpus, tmp_path, cache_dir):
    seeds = tmp_path / "seeds"
    shutil.copytree(corpus, seeds)
    first, second = documents(seeds)[:2]
    quote = re.search(r'evidence:\n\s+- "(.+)"', (first / "annotations.yaml").read_text()).group(1)
    annotations = (second / "annotations.yaml").read_text(encoding="utf-8")
    borrowed = f'      - {{quote: "{quote}", source_id: "{first.name}"}}\n'
    annotations = re.sub(r"(evidence:\n)", lambda m: m.group(1) + borrowed, annotations, count=1)
    (second / "annotations.yaml").write_text(annotations, encoding="utf-8")
    assert check(seeds) == check(seeds, "--no-cache")
    if change == "text":
        text = (first / "text.txt").read_text(encoding="utf-8")
        (first / "text.txt").write_text(text.replace(quote, quote.upper()), encoding="utf-8")
        expected = f"{second.name}/annotations.yaml"
    else:
        meta = (first / "source.yaml").read_text(encoding="utf-8")
        meta = re.sub(r"published_date: .*", "published_date: '2020-01-01'", meta)
        (first / "source.yaml").write_text(meta, encoding="utf-8")
        expected = "was published (2020-01-01)"
    uncached = check(seeds, "--no-cache")
    assert expected in uncached[1]
    assert check(seeds) == uncached


def test_a_package_published_through_the_cache_is_the_same_bytes(corpus, tmp_path, cache_dir):
    seeds = tmp_path / "seeds"
    shutil.copytree(BASE_SEEDS, seeds)
    env = {"SOURCE_DATE_EPOCH": PUBLISHED_EPOCH}
    outs = {}
    for name, options in [("cold", []), ("warm", []), ("uncached", ["--no-cache"])]:
        outs[name] = tmp_path / name / "datapackage"
        args = ["publish", "--seeds", str(seeds), "--out", str(outs[name]), *options]
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 0, result.output
    assert tree(outs["cold"]) == tree(outs["warm"]) == tree(outs["uncached"])
    again = runner.invoke(app, ["publish", "--seeds", str(seeds), "--out", str(outs["warm"])])
    assert (again.exit_code, again.output) == (
        0,
        f"unchanged: {outs['warm']} stays at version {version(outs['warm'])}\n",
    )
    assert not any(cache_dir in p.parents for p in outs["warm"].rglob("*"))


@pytest.mark.parametrize("state", ["unchanged", "seeds edited", "package edited", "twice"])
def test_publish_through_the_cache_does_what_publish_without_it_does(state, tmp_path, cache_dir):
    seeds = tmp_path / "seeds"
    shutil.copytree(BASE_SEEDS, seeds)
    env = {"SOURCE_DATE_EPOCH": PUBLISHED_EPOCH}
    published = tmp_path / "published" / "datapackage"
    runner.invoke(app, ["publish", "--seeds", str(seeds), "--out", str(published)], env=env)
    if state == "seeds edited":
        path = seeds / "wire-2020-09-30" / "annotations.yaml"
        path.write_text(path.read_text().replace("Shelling of Terter", "Shells on Terter", 1))
    elif state == "package edited":
        (published / "README.md").write_text("edited by hand\n")
    results = {}
    for name, options in [("cached", []), ("uncached", ["--no-cache"])]:
        out = tmp_path / name / "datapackage"
        shutil.copytree(published, out)
        args = ["publish", "--seeds", str(seeds), "--out", str(out), *options]
        runs = 2 if state == "twice" else 1
        for _ in range(runs):
            result = runner.invoke(app, args, env={"SOURCE_DATE_EPOCH": "1601510400"})
        results[name] = (result.exit_code, result.output.replace(name, "OUT"), tree(out))
    assert results["cached"] == results["uncached"]


# ---- digests remembered ----


@pytest.mark.parametrize(
    "edit, hashed",
    [("none", 0), ("same size", 2), ("longer", 2), ("touched", 1)],
)
def test_only_files_changed_since_are_read_for_their_digest(
    edit, hashed, tmp_path, cache_dir, monkeypatch
):
    seeds = tmp_path / "seeds"
    shutil.copytree(BASE_SEEDS, seeds)
    monkeypatch.setattr(cache, "RACY_NS", -(10**12))  # every digest trusted, however recent
    check(seeds)
    path = seeds / "wire-2020-09-30" / "annotations.yaml"
    text = path.read_text(encoding="utf-8")
    if edit == "same size":
        path.write_text(text.replace("Terter", "Tartar", 1), encoding="utf-8")
    elif edit == "longer":
        path.write_text(text + "\n", encoding="utf-8")
    elif edit == "touched":
        path.write_text(text, encoding="utf-8")
    expected = check(seeds, "--no-cache")
    reads = []
    real = cache.file_digest
    monkeypatch.setattr(cache, "file_digest", lambda p: reads.append(p) or real(p))
    assert check(seeds) == expected
    # an edited file: read for its digest, and again before its entry is stored
    assert [Path(read) for read in reads] == [path] * hashed


def test_a_digest_taken_just_before_an_edit_is_not_trusted(tmp_path, cache_dir, monkeypatch):
    seeds = tmp_path / "seeds"
    shutil.copytree(BASE_SEEDS, seeds)
    check(seeds)
    reads = []
    real = cache.file_digest
    monkeypatch.setattr(cache, "file_digest", lambda p: reads.append(p) or real(p))
    check(seeds)  # the files were written within RACY_NS of the first check's digests
    folder = seeds / "wire-2020-09-30"
    expected = [folder / "source.yaml", folder / "text.txt", folder / "annotations.yaml"]
    assert [Path(read) for read in reads] == expected


MEMO_DAMAGE = {
    "not JSON": lambda e: e.write_bytes(b"\x00\xff garbage\n\x01"),
    "another key": lambda e: _rewrite(e, {"key": "0" * 64}),
    "no time": lambda e: _rewrite(e, body=b'{"files": {}}'),
    "a status of another shape": lambda e: _rewrite(
        e, body=b'{"hashed_ns": 1, "files": {"x": [1, 2, "3"]}}'
    ),
}


@pytest.mark.parametrize("damage", list(MEMO_DAMAGE), ids=list(MEMO_DAMAGE))
def test_damaged_remembered_digests_are_noted_once_and_taken_again(
    damage, tmp_path, cache_dir, monkeypatch
):
    seeds = tmp_path / "seeds"
    shutil.copytree(BASE_SEEDS, seeds)
    monkeypatch.setattr(cache, "RACY_NS", -(10**12))
    clean = check(seeds, "--no-cache")
    assert check(seeds) == clean
    [memo] = cache_dir.glob("*/digests.json")
    MEMO_DAMAGE[damage](memo)
    note = f"note: ignored an unreadable cache entry in {memo.parent} (rebuilt)\n"
    assert check(seeds) == (clean[0], note + clean[1])
    assert check(seeds) == clean


# ---- sources ----


@pytest.mark.parametrize(
    "edit, parsed",
    [
        (("none", 1), []),
        (("text", 1, 7), [1]),  # its text changed: read again, the others not
        (("published", 1, "2020-09-01"), [1]),  # its source.yaml changed
        (("published", 1, "x"), [1, 1]),  # a folder with a problem is read every time
        (("text moved", 1), [1]),
        (("unsourced", 1), [1, 1]),
        (("delete", 1), []),
        (("restore", 0), [0]),  # a folder back: the snapshot kept only the others
    ],
    ids=["none", "text", "published", "date invalid", "text moved", "unsourced", "gone", "back"],
)
def test_only_sources_changed_since_a_clean_read_are_parsed(
    edit, parsed, corpus, tmp_path, cache_dir, monkeypatch
):
    seeds = tmp_path / "seeds"
    shutil.copytree(corpus, seeds)
    if edit[0] == "restore":
        shutil.rmtree(documents(seeds)[0])
    check(seeds)
    apply(edit, seeds, corpus)
    expected = check(seeds, "--no-cache")
    reads: list[int] = []
    real = seeds_module._load_source
    names = [p.name for p in documents(corpus)]

    def counted(corpus, folder):
        reads.append(names.index(folder.name))
        return real(corpus, folder)

    monkeypatch.setattr(seeds_module, "_load_source", counted)
    assert check(seeds) == expected
    assert check(seeds) == expected
    assert reads == parsed


@pytest.mark.parametrize("here", ["elsewhere", "above", "the seeds", "a source folder"])
def test_a_cached_source_is_the_source_read(here, corpus, tmp_path, cache_dir, monkeypatch):
    seeds = tmp_path / "seeds"
    shutil.copytree(corpus, seeds)
    places = {"above": tmp_path, "the seeds": seeds, "a source folder": documents(seeds)[1]}
    monkeypatch.chdir(places.get(here, Path(tempfile.gettempdir())))
    fresh = check_seeds(seeds, use_cache=False).corpus.sources
    check_seeds(seeds)
    cached = check_seeds(seeds).corpus.sources
    assert list(cached) == list(fresh)
    for name, source in fresh.items():
        again = cached[name]
        assert (again.meta, again.text, again.file, again.text_file) == (
            source.meta,
            source.text,
            source.file,
            source.text_file,
        )
        assert (again.meta.line, again.meta.key_lines) == (source.meta.line, source.meta.key_lines)


def _sources_body(change: Callable[[dict], object]) -> Callable[[Path], None]:
    """Damage that replaces the sources of the snapshot by what `change` makes of them."""

    def damage(snapshot: Path) -> None:
        body = json.loads(snapshot.read_bytes().split(b"\n", 1)[1])
        body["sources"] = change(body["sources"])
        _rewrite(snapshot, body=json.dumps(body).encode())

    return damage


SNAPSHOT_DAMAGE = {
    "truncated": lambda e: e.write_bytes(e.read_bytes()[: len(e.read_bytes()) // 2]),
    "not JSON": lambda e: e.write_bytes(b"\x00\xff garbage\n\x01"),
    "sources of another shape": _sources_body(lambda sources: 5),
    "an entry of another shape": _sources_body(lambda sources: dict.fromkeys(sources, [1])),
    "metadata of another shape": _sources_body(
        lambda sources: {name: [*entry[:3], {"list": 3}] for name, entry in sources.items()}
    ),
}


@pytest.mark.parametrize("damage", list(SNAPSHOT_DAMAGE), ids=list(SNAPSHOT_DAMAGE))
def test_a_damaged_snapshot_of_sources_is_noted_once_and_rebuilt(damage, tmp_path, cache_dir):
    seeds = tmp_path / "seeds"
    shutil.copytree(BASE_SEEDS, seeds)
    clean = check(seeds, "--no-cache")
    assert check(seeds) == clean
    [snapshot] = cache_dir.glob(f"*/{cache.SOURCES_NAME}.json")
    SNAPSHOT_DAMAGE[damage](snapshot)
    note = f"note: ignored an unreadable cache entry in {snapshot.parent} (rebuilt)\n"
    assert check(seeds) == (clean[0], note + clean[1])
    assert check(seeds) == clean


def test_schema_validators_are_compiled_only_for_files_read(tmp_path, cache_dir):
    seeds = tmp_path / "seeds"
    shutil.copytree(BASE_SEEDS, seeds)
    check(seeds)
    structure._COMPILED.clear()
    structure._quick.cache_clear()
    structure._full.cache_clear()
    conventions, annotations = schemas.conventions_json_schema(), schemas.annotation_json_schema()
    check(seeds)  # no source or annotation file changed: only the conventions are read
    assert [schema for schema, _ in structure._COMPILED.values()] == [conventions]
    path = documents(seeds)[0] / "annotations.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "# read again\n", encoding="utf-8")
    check(seeds)  # one valid annotation file read: its quick check only
    assert [schema for schema, _ in structure._COMPILED.values()] == [conventions, annotations]
    assert structure._full.cache_info().currsize == 0


@pytest.mark.parametrize(
    "value, kept",
    [(1.5, True), (float("nan"), False), (float("inf"), False), ("\ud800", False), (2**63, True)],
    ids=["a number", "NaN", "infinity", "a lone surrogate", "a large integer"],
)
def test_a_value_the_format_would_not_give_back_keeps_its_folder_out(value, kept, tmp_path):
    folder = cache.FolderCache(tmp_path, note=print)
    tables = Tables()
    tables.add("events", {"event_id": "e", "deaths": value}, Origin("a.yaml", 3, "events/e"))
    payload = cache.entry_payload(cache.Part(tables, [], []), {}, "known")
    if payload is not None:
        folder.store("0" * 64, payload)
    found = folder.lookup("0" * 64)
    assert found is not None if kept else found is None
    if kept:
        [row] = cache.payload_part(found).tables.rows["events"]
        assert row == {"event_id": "e", "deaths": value}


# ---- damaged entries ----


def _rewrite(entry: Path, header: dict | None = None, body: bytes | None = None) -> None:
    """The entry with another header or body; the header's digest made to match the body."""
    first, old_body = entry.read_bytes().split(b"\n", 1)
    body = old_body if body is None else body
    fields = json.loads(first)
    fields["sha256"] = __import__("hashlib").sha256(body).hexdigest()
    fields.update(header or {})
    entry.write_bytes(json.dumps(fields).encode() + b"\n" + body)


DAMAGE = {
    "truncated": lambda e: e.write_bytes(e.read_bytes()[: len(e.read_bytes()) // 2]),
    "a byte changed": lambda e: e.write_bytes(e.read_bytes()[:-5] + b"7" + e.read_bytes()[-4:]),
    "empty": lambda e: e.write_bytes(b""),
    "not JSON": lambda e: e.write_bytes(b"\x00\xff garbage\n\x01"),
    "an older version": lambda e: _rewrite(e, {"version": cache.FORMAT_VERSION - 1}),
    "another format": lambda e: _rewrite(e, {"format": "something-else"}),
    "another key": lambda e: _rewrite(e, {"key": "0" * 64}),
    "a body of another shape": lambda e: _rewrite(e, body=b'{"deps": {"sources": []}, "part": 5}'),
    "rows of an unknown table": lambda e: _rewrite(
        e,
        body=json.dumps(
            {"deps": {"sources": [], "known": None}, "part": {"keys": [], "tables": {"x": {}}}}
        ).encode(),
    ),
    "dependencies of another shape": lambda e: _rewrite(
        e, body=b'{"deps": {"sources": [5], "known": null}, "part": {}}'
    ),
    "a folder": lambda e: (e.unlink(), e.mkdir()),
}


@pytest.mark.parametrize("damage", list(DAMAGE), ids=list(DAMAGE))
def test_a_damaged_entry_is_noted_once_and_rebuilt(damage, tmp_path, cache_dir):
    seeds = tmp_path / "seeds"
    shutil.copytree(BASE_SEEDS, seeds)
    clean = check(seeds, "--no-cache")
    assert check(seeds) == clean
    [entry] = entries(cache_dir)
    DAMAGE[damage](entry)
    note = f"note: ignored an unreadable cache entry in {entry.parent} (rebuilt)\n"
    assert check(seeds) == (clean[0], note + clean[1])
    if damage != "a folder":  # a folder in its place is not removed: the cache did not make it
        assert check(seeds) == clean  # rebuilt


def test_a_link_planted_as_an_entry_is_not_followed(tmp_path, cache_dir):
    seeds = tmp_path / "seeds"
    shutil.copytree(BASE_SEEDS, seeds)
    clean = check(seeds, "--no-cache")
    check(seeds)
    [entry] = entries(cache_dir)
    elsewhere = tmp_path / "elsewhere.json"
    shutil.copyfile(entry, elsewhere)
    entry.unlink()
    entry.symlink_to(elsewhere)
    note = f"note: ignored an unreadable cache entry in {entry.parent} (rebuilt)\n"
    assert check(seeds) == (clean[0], note + clean[1])
    assert not entry.is_symlink() and elsewhere.read_bytes() != b""
    assert check(seeds) == clean


# ---- no cache ----


@pytest.mark.parametrize(
    "args, code",
    [
        (["check", "--no-cache"], 0),
        (["coverage", "--no-cache"], 1),  # the minimal seeds leave one sentence unexplained
        (["publish", "--no-cache", "--out", "{tmp}/out"], 0),
        (["publish", "--no-cache", "--dry-run", "--out", "{tmp}/out"], 0),
    ],
    ids=["check", "coverage", "publish", "publish --dry-run"],
)
def test_no_cache_creates_nothing(args, code, tmp_path, cache_dir):
    seeds = tmp_path / "seeds"
    shutil.copytree(BASE_SEEDS, seeds)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args] + ["--seeds", str(seeds)]
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert not cache_dir.exists()
    assert "note:" not in result.output


@pytest.mark.parametrize("inside", ["seeds", "package"])
def test_a_cache_inside_the_seeds_or_the_package_is_not_used(inside, tmp_path, monkeypatch):
    seeds = tmp_path / "seeds"
    shutil.copytree(BASE_SEEDS, seeds)
    out = tmp_path / "datapackage"
    runner.invoke(app, ["publish", "--seeds", str(seeds), "--out", str(out), "--no-cache"])
    before = tree(tmp_path)
    folder = (seeds if inside == "seeds" else out) / ".cache"
    monkeypatch.setenv(cache.ENV_FOLDER, str(folder))
    where = seeds if inside == "seeds" else out
    note = f"note: cache folder {folder} is inside {where}; checked without a cache\n"
    result = runner.invoke(app, ["publish", "--seeds", str(seeds), "--out", str(out)])
    assert (result.exit_code, result.output) == (
        0,
        note + f"unchanged: {out} stays at version {version(out)}\n",
    )
    assert tree(tmp_path) == before


# ---- pruning and two commands at once ----


def test_entries_of_documents_gone_are_pruned(corpus, tmp_path, cache_dir):
    seeds = tmp_path / "seeds"
    shutil.copytree(corpus, seeds)
    check(seeds)
    assert len(entries(cache_dir)) == DOCS
    shutil.rmtree(documents(seeds)[0])
    check(seeds)
    assert len(entries(cache_dir)) == DOCS - 1
    assert [p.name for p in cache_dir.iterdir()] == [entries(cache_dir)[0].parent.name]


def test_only_the_most_recent_corpora_keep_a_cache(tmp_path, cache_dir):
    for n in range(cache.MAX_CORPORA + 2):
        seeds = tmp_path / f"seeds-{n}" / "seeds"
        shutil.copytree(BASE_SEEDS, seeds)
        check(seeds)
        os.utime(entries(cache_dir)[0].parent, (n, n)) if n == 0 else None
    assert len(list(cache_dir.iterdir())) == cache.MAX_CORPORA


def test_two_checks_at_once_share_the_cache(corpus, tmp_path, cache_dir):
    seeds = tmp_path / "seeds"
    shutil.copytree(corpus, seeds)
    expected = check(seeds, "--no-cache")
    env = command_env(PIPELINE_CACHE_DIR=str(cache_dir))
    command = [str(installed("pipeline")), "check", "--seeds", str(seeds)]
    runs = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300) for run in runs]
    for run, (output, _) in zip(runs, outputs, strict=True):
        assert (run.returncode, output.decode()) == expected
    assert check(seeds) == expected  # every entry whole: no note
    assert not [p for p in cache_dir.rglob("*") if p.name.startswith(cache.TEMP_PREFIX)]


def test_the_code_version_covers_the_modules_and_schemas():
    key = cache.code_version()
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    with tempfile.TemporaryDirectory():
        cache._code_version = None
        assert cache.code_version() == key  # the same sources give the same version


def statuses(seeds: Path) -> dict[str, tuple]:
    """Each file and folder under `seeds` (absolute paths, as a watcher names them): its status."""
    found = {}
    for path in [seeds, *seeds.rglob("*")]:
        info = path.lstat()
        found[str(path.absolute())] = (path.is_dir(), info.st_ino, info.st_size, info.st_mtime_ns)
    return found


def saved(seeds: Path, before: dict[str, tuple]) -> set[str] | None:
    """What a watcher tells of the changes since `before`, as `check --watch` passes it on: the
    files written, made or removed, and the folders made or removed (not a folder whose entries
    changed: file notifications name the entry)."""
    after = statuses(seeds)
    changed = [
        path
        for path in before.keys() | after.keys()
        if before.get(path) != after.get(path)
        and not (path in before and path in after and after[path][0])
    ]
    return saved_files(seeds, changed)


def test_a_resident_check_keeps_the_parts_of_the_files_as_they_are(corpus, tmp_path, cache_dir):
    seeds = tmp_path / "seeds"
    shutil.copytree(corpus, seeds)
    resident = cache.Resident()
    check_seeds(seeds, resident=resident)
    assert len(resident.parts) == len(entries(cache_dir)) == DOCS
    edits = [("edit", 0, 3, "x"), ("duplicate", 1, 2, 5), ("restore", 0), ("delete", 3)]
    for edit, docs in zip(edits, [DOCS, DOCS, DOCS, DOCS - 1], strict=True):
        before = statuses(seeds)
        apply(edit, seeds, corpus)
        resident.told(saved(seeds, before))
        expected = check_seeds(seeds, use_cache=False).problems
        assert check_seeds(seeds, resident=resident).problems == expected, edit
        # the parts kept are those of the files as they are, and their entries stay on disk
        assert len(resident.parts) == len(entries(cache_dir)) == docs, edit


@EDITED
@given(
    edits=st.lists(EDITS, min_size=1, max_size=4),
    remembered=st.booleans(),
    snapshot=st.sampled_from([None, 0, 100]),
)
def test_a_resident_check_told_of_each_save_says_what_an_uncached_one_says(
    edits, remembered, snapshot, corpus, tmp_path
):
    """As `check --watch` runs: one process, told after each edit which files changed; every
    status it is not told of is taken as the last check read it."""
    with example_seeds(corpus, tmp_path, remembered, snapshot) as seeds:
        resident = cache.Resident()
        check_seeds(seeds, resident=resident)
        for edit in edits:
            before = statuses(seeds)
            apply(edit, seeds, corpus)
            resident.told(saved(seeds, before))
            expected = check_seeds(seeds, use_cache=False).problems
            assert check_seeds(seeds, resident=resident).problems == expected, edit


@pytest.mark.parametrize(
    "told, then",
    [
        ({"a/b"}, {"a/b"}),
        (None, None),
    ],
)
def test_what_a_resident_is_told_adds_up_until_a_check(told, then):
    resident = cache.Resident()
    resident.settled()
    resident.told({"x/y"})
    resident.told(told)
    assert resident.changed == (None if then is None else {"x/y", *then})
    resident.settled()
    assert resident.changed == set()


# ---- the whole-corpus snapshot ----


def _changed_value(path: Path) -> None:
    """A byte of a text digest in the snapshot's data changed (a source row's text_sha256)."""
    data = path.read_bytes()
    found = re.search(rb"[0-9a-f]{64}", data)
    assert found is not None
    at = found.start()
    path.write_bytes(data[:at] + (b"0" if data[at : at + 1] != b"0" else b"1") + data[at + 1 :])


def _another_write(path: Path) -> None:
    """The data of another snapshot put beside this one's description."""
    description = path.parent / f"{snapshot.DESCRIPTION_NAME}.json"
    first, body = description.read_bytes().split(b"\n", 1)
    fields = json.loads(body)
    fields["token"] = "0" * 32
    _rewrite(description, body=json.dumps(fields).encode())


SNAPSHOT_DATA_DAMAGE = {
    "data cut short": lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
    "data of the same size, altered": _changed_value,
    "data of another write": _another_write,
    "description not JSON": lambda p: (p.parent / "snapshot.json").write_bytes(b"\x00 garbage"),
    "data a folder": lambda p: (p.unlink(), p.mkdir()),
}


@pytest.mark.parametrize("damage", list(SNAPSHOT_DATA_DAMAGE), ids=list(SNAPSHOT_DATA_DAMAGE))
def test_a_damaged_corpus_snapshot_is_noted_once_and_rebuilt(
    damage, corpus, tmp_path, cache_dir, monkeypatch
):
    through_snapshot(monkeypatch, 100)
    seeds = tmp_path / "seeds"
    shutil.copytree(corpus, seeds)
    clean = check(seeds, "--no-cache")
    assert check(seeds) == clean
    [data] = cache_dir.glob(f"*/{snapshot.DATA_NAME}")
    SNAPSHOT_DATA_DAMAGE[damage](data)
    note = f"note: ignored an unreadable cache entry in {data.parent} (rebuilt)\n"
    assert check(seeds) == (clean[0], note + clean[1])
    if damage != "data a folder":  # a folder in its place is not removed: the cache did not make it
        assert check(seeds) == clean


def test_a_snapshot_of_another_context_is_rebuilt_silently(
    corpus, tmp_path, cache_dir, monkeypatch
):
    through_snapshot(monkeypatch, 100)
    seeds = tmp_path / "seeds"
    shutil.copytree(corpus, seeds)
    clean = check(seeds, "--no-cache")
    check(seeds)
    _edit_value(seeds / "count_conventions.yaml", 3, "7")  # the conventions key the snapshot
    expected = check(seeds, "--no-cache")
    assert expected != clean
    assert check(seeds) == expected
    assert check(seeds) == expected


def test_unchanged_folders_are_taken_from_the_snapshot(corpus, tmp_path, cache_dir, monkeypatch):
    through_snapshot(monkeypatch, 100)
    seeds = tmp_path / "seeds"
    shutil.copytree(corpus, seeds)
    check(seeds)
    edited = documents(seeds)[2] / "annotations.yaml"
    edited.write_text(edited.read_text(encoding="utf-8") + "# a comment\n", encoding="utf-8")
    expected = check(seeds, "--no-cache")
    parsed = []
    real = seeds_module._load_annotations
    monkeypatch.setattr(
        seeds_module, "_load_annotations", lambda c, f: parsed.append(f.name) or real(c, f)
    )
    assert check(seeds) == expected
    assert parsed == [edited.parent.name]  # the others: rows of the snapshot
    parsed.clear()
    assert check(seeds) == expected
    assert parsed == []  # its entry, written beside the snapshot
    # nothing of the rows is made into Python values by `check`
    made = check_seeds(seeds, tables=False)
    assert made.rows.snapshot is not None
    assert made.counts() == {table: len(rows) for table, rows in made.tables.rows.items()}
    assert made.tables.rows == check_seeds(seeds, use_cache=False).tables.rows


def test_a_snapshot_is_not_kept_for_a_small_corpus(corpus, tmp_path, cache_dir, monkeypatch):
    seeds = tmp_path / "seeds"
    shutil.copytree(corpus, seeds)
    through_snapshot(monkeypatch, 100)
    check(seeds)
    assert len(list(cache_dir.glob(f"*/{snapshot.DATA_NAME}"))) == 1
    monkeypatch.setattr(parallel, "SNAPSHOT_MIN_FOLDERS", 10**6)
    expected = check(seeds, "--no-cache")
    assert check(seeds) == expected
    assert list(cache_dir.glob("*/snapshot.*")) == []
    assert len(entries(cache_dir)) == DOCS


def test_a_cached_text_changed_before_it_is_read_stops_the_command(
    tmp_path, cache_dir, monkeypatch
):
    """A cached source's text is read only when used: if its bytes no longer hash to the digest
    the cache vouched for, the command stops with a located line, and nothing is published."""
    shutil.copytree(BASE_SEEDS, tmp_path / "seeds")
    monkeypatch.chdir(tmp_path)
    assert check(Path("seeds"))[0] == 0
    monkeypatch.setattr(cache, "_text_if", lambda path, digest: None)
    result = runner.invoke(app, ["publish", "--seeds", "seeds", "--out", "out/datapackage"])
    assert (result.exit_code, result.output) == (
        1,
        "seeds/wire-2020-09-30/text.txt: file changed while it was checked (run the command again)\n"
        "1 problem(s) found.\n",
    )
    assert not (tmp_path / "out").exists()  # the parent publish made is gone too
