"""Load seeds/: source texts, their metadata, annotations and count conventions.

Layout (one folder per source, named by its id):

    seeds/count_conventions.yaml
    seeds/<source_id>/source.yaml       metadata (title, publisher, date and its basis ...)
    seeds/<source_id>/text.txt          the normalised text the offsets refer to
    seeds/<source_id>/annotations.yaml  the hand annotations of that text

Loading never stops at the first fault: every file is read, every fault becomes a
Problem with file:line, and what could be read is returned for the later layers.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.contract import schemas
from pipeline.contract.problems import InputError, Problem, path_for_people
from pipeline.load.sourcetext import read_text, sha256_text, suspect
from pipeline.load.spans import fold
from pipeline.load.structure import character_problems, structure_problems
from pipeline.load.yamlfile import Located, load_yaml

ID_RE = re.compile(schemas.ID_PATTERN)
# The files of seeds/: one of count conventions, and three in each source's folder.
CONVENTIONS_FILE = "count_conventions.yaml"
SOURCE_FILE = "source.yaml"
TEXT_FILE = "text.txt"  # the name `ingest` gives a text; source.yaml's text_file names it
ANNOTATION_FILE = "annotations.yaml"
_TEXT_FILE_HINT = f"name a regular file inside the folder, e.g. {TEXT_FILE}"


@dataclass
class Source:
    source_id: str
    meta: Located
    text: str
    file: str  # shown path of source.yaml
    text_file: str

    @property
    def folded(self) -> str:
        if not hasattr(self, "_folded"):
            self._folded = fold(self.text)
        return self._folded

    @property
    def sha256(self) -> str:
        return sha256_text(self.text)


@dataclass
class Record:
    """One annotated row as written, with where it was written."""

    table: str
    values: Located
    file: str
    source_id: str  # the annotation file's source: default for its evidence

    @property
    def record_id(self):
        return self.values.get(schemas.primary_key(self.table))

    @property
    def label(self) -> str:
        return f"{self.table}/{self.record_id}"

    def line_of(self, key: str | None = None) -> int:
        if key is not None and key in self.values.key_lines:
            return self.values.key_lines[key]
        return self.values.line


@dataclass
class Exclusion:
    """A passage deliberately left without evidence, and why."""

    source_id: str
    values: Located
    file: str


@dataclass
class Corpus:
    root: Path
    sources: dict[str, Source] = field(default_factory=dict)
    conventions: list[tuple[Located, str]] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    exclusions: list[Exclusion] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    unreadable_sources: set[str] = field(default_factory=set)  # faults already reported
    annotation_folders: list[Path] = field(default_factory=list)  # source folders, in name order


def _inside(folder: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except (ValueError, OSError):
        return False


def _load(path: Path, shown: str, problems: list[Problem], empty_hint: str):
    """The file's content, or None with the reason added to `problems`."""
    if path.is_symlink():
        problems.append(
            Problem(shown, None, "file is a symbolic link", hint="use a regular file inside seeds/")
        )
        return None
    try:
        data = load_yaml(path, shown)
    except InputError as exc:
        problems.extend(exc.problems)
        return None
    if data is None:
        problems.append(Problem(shown, None, "file is empty (no YAML content)", hint=empty_hint))
    return data


def _load_conventions(corpus: Corpus) -> None:
    path = corpus.root / CONVENTIONS_FILE
    shown = path_for_people(path)
    if not path.exists():
        return
    data = _load(
        path,
        shown,
        corpus.problems,
        "list the count conventions, or delete the file if there are none",
    )
    if data is None:
        return
    if not isinstance(data, Located):
        corpus.problems.append(
            Problem(
                shown,
                1,
                "expected a mapping with 'count_conventions'",
                hint="start the file with 'count_conventions:' and list the conventions under it",
            )
        )
        return
    label = functools.partial(_convention_label, data)
    corpus.problems.extend(
        structure_problems(data, schemas.conventions_json_schema(), shown, label)
    )
    corpus.problems.extend(character_problems(data, shown, label))
    for item in data.get("count_conventions") or []:
        if isinstance(item, Located):
            corpus.conventions.append((item, shown))


def _convention_label(data: Located, path: list) -> str | None:
    """The count convention a path into count_conventions.yaml points into."""
    if len(path) >= 2 and path[0] == "count_conventions":
        item = data["count_conventions"][path[1]]
        return f"count_conventions/{item.get('term')}" if isinstance(item, dict) else None
    return None


def _source_label(folder: Path) -> str:
    return f"sources/{folder.name}"


def _folder_mismatch(source_id, folder: Path) -> str:
    return f"source_id {source_id!r} does not match its folder {folder.name!r}"


def _load_source(corpus: Corpus, folder: Path) -> Source | None:
    """The source in `folder` (metadata and text), or None with the reasons in corpus.problems."""
    meta = _load_metadata(corpus, folder)
    if meta is None:
        return None
    shown = path_for_people(folder / SOURCE_FILE)
    source = _with_text(corpus, folder, meta, shown)
    # After the text file's own checks, which name a NUL in text_file more precisely.
    record = _source_label(folder)
    corpus.problems.extend(character_problems(meta, shown, lambda path: record))
    return source


def _load_metadata(corpus: Corpus, folder: Path) -> Located | None:
    """The metadata mapping of the source in `folder`, checked against its schema, or None."""
    meta_path = folder / SOURCE_FILE
    shown = path_for_people(meta_path)
    problems = corpus.problems
    if not ID_RE.fullmatch(folder.name):
        problems.append(
            Problem(
                path_for_people(folder),
                None,
                f"folder name {folder.name!r} is not a valid source id",
                hint="source folders are named by their id: lowercase letters, digits, hyphens",
            )
        )
        return None
    if folder.is_symlink():
        problems.append(
            Problem(
                path_for_people(folder),
                None,
                "source folder is a symbolic link",
                hint="keep each source as a real folder inside seeds/",
            )
        )
        return None
    if not meta_path.is_file():
        problems.append(
            Problem(
                shown,
                None,
                "missing source metadata file",
                hint="add sources with 'pipeline ingest'",
            )
        )
        return None
    meta = _load(
        meta_path,
        shown,
        problems,
        "fill in the source metadata; 'pipeline ingest' writes it for a new source",
    )
    if meta is None:
        return None
    if not isinstance(meta, Located):
        problems.append(
            Problem(
                shown,
                1,
                "expected a mapping of source metadata",
                hint="write one 'field: value' a line, as 'pipeline ingest' does",
            )
        )
        return None
    record = _source_label(folder)
    schema = schemas.source_json_schema()
    problems.extend(structure_problems(meta, schema, shown, lambda path: record))
    return meta


def _with_text(corpus: Corpus, folder: Path, meta: Located, shown: str) -> Source | None:
    """The source of `meta` with its text, or None when its id or text file is wrong."""
    problems = corpus.problems
    record = _source_label(folder)
    if meta.get("source_id") != folder.name:
        line = meta.key_lines.get("source_id", meta.line)
        message = _folder_mismatch(meta.get("source_id"), folder)
        problems.append(
            Problem(shown, line, message, record, "source_id", "rename one so they agree")
        )
        return None
    text_name = meta.get("text_file")
    if not isinstance(text_name, str):
        return None
    if "\0" not in text_name and suspect(text_name):
        return None  # a control character or line break: reported by the character check
    fault = _text_file_fault(folder, text_name)
    if fault is not None:
        message, hint = fault
        line = meta.key_lines["text_file"]
        problems.append(Problem(shown, line, message, record, "text_file", hint))
        return None
    text_path = folder / text_name
    text_shown = path_for_people(text_path)
    try:
        text = read_text(text_path, text_shown)
    except InputError as exc:
        problems.extend(exc.problems)
        return None
    return Source(folder.name, meta, text, shown, text_shown)


def _text_file_fault(folder: Path, text_name: str) -> tuple[str, str | None] | None:
    """What keeps `text_name` from naming a text file in `folder`, as (message, hint); None if
    nothing does."""
    if "\0" in text_name:
        return f"text_file {text_name!r} contains a NUL character", _TEXT_FILE_HINT
    text_path = folder / text_name
    try:
        escapes = (
            Path(text_name).is_absolute()
            or ".." in Path(text_name).parts
            or text_path.is_symlink()
            or not _inside(folder, text_path)
        )
        found = text_path.is_file()
    except OSError as exc:
        shown_name = f"{text_name[:60]!r}{'...' if len(text_name) > 60 else ''}"
        return f"text_file {shown_name} cannot be opened: {exc.strerror}", _TEXT_FILE_HINT
    if escapes:
        return f"text_file {text_name!r} leaves the source folder", _TEXT_FILE_HINT
    if not found:
        return f"text file {text_name!r} not found", None
    return None


def _load_annotations(corpus: Corpus, folder: Path) -> None:
    """Add the records and exclusions of `folder`'s annotation file to `corpus`, and its faults."""
    path = folder / ANNOTATION_FILE
    shown = path_for_people(path)
    fault = _annotation_file_fault(corpus.root, path)
    if fault is not None:
        message, hint = fault
        corpus.problems.append(Problem(shown, None, message, hint=hint))
        return
    data = _load(
        path,
        shown,
        corpus.problems,
        f"start it with 'source_id: {folder.name}' and the tables of records",
    )
    if data is None:
        return
    if not isinstance(data, Located):
        corpus.problems.append(
            Problem(
                shown,
                1,
                "expected a mapping with source_id and tables of records",
                hint="start from the file 'pipeline ingest' creates",
            )
        )
        return
    label = functools.partial(_annotation_label, data)
    corpus.problems.extend(structure_problems(data, schemas.annotation_json_schema(), shown, label))
    corpus.problems.extend(character_problems(data, shown, label))
    source_id = data.get("source_id")
    if source_id != folder.name:
        line = data.key_lines.get("source_id", data.line)
        message = _folder_mismatch(source_id, folder)
        hint = f"write source_id: {folder.name}"
        corpus.problems.append(Problem(shown, line, message, field="source_id", hint=hint))
    _collect(corpus, data, shown, folder.name)


def _annotation_file_fault(root: Path, path: Path) -> tuple[str, str] | None:
    """What keeps `path` from being read as an annotation file, as (message, hint); None if
    nothing does."""
    if not path.exists():
        return "missing annotation file", "'pipeline ingest' creates an empty one; restore it"
    if path.is_symlink() or not _inside(root, path):
        return "annotation file is a link leaving seeds/", "use a regular file"
    return None


def _annotation_label(data: Located, path: list) -> str | None:
    """The record ("events/<id>") a path into an annotation file points into."""
    if len(path) >= 2 and path[0] in schemas.ANNOTATED:
        items = data.get(path[0])
        if isinstance(items, list) and path[1] < len(items) and isinstance(items[path[1]], dict):
            return f"{path[0]}/{items[path[1]].get(schemas.primary_key(path[0]))}"
    return None


def _collect(corpus: Corpus, data: Located, shown: str, source_id: str) -> None:
    """Add the records and exclusions an annotation file holds (mappings in lists only: the
    structure check reports anything else) to `corpus`."""
    for table in schemas.ANNOTATED:
        for item in _listed(data.get(table)):
            if isinstance(item, Located):
                corpus.records.append(Record(table, item, shown, source_id))
    for item in _listed(data.get("uncovered")):
        if isinstance(item, Located):
            corpus.exclusions.append(Exclusion(source_id, item, shown))


def _listed(value: object) -> list:
    return value if isinstance(value, list) else []


def source_folders(root: Path) -> list[Path]:
    """The folders of seeds/, in name order (hidden ones left out)."""
    try:
        with os.scandir(root) as listing:
            # names sorted as strings, then made paths: sorting 10,000 paths took 0.2 s
            names = sorted(
                entry.name for entry in listing if entry.is_dir() and not entry.name.startswith(".")
            )
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [root / name for name in names]


def load_sources(
    root: Path,
    runs_of: int = 200,
    mapper=map,
    known: dict[str, Source] | None = None,
    folders: list[Path] | None = None,
) -> Corpus:
    """Read the count conventions and every source (metadata and text) under `root`, not the
    annotations.

    Source folders are read in runs of `runs_of` folders, through `mapper` (map, or a
    process pool's imap, which must keep the order); the folders named in `known` are not read:
    their sources are given (read before, unchanged since); `folders`, when given, are
    source_folders(root), listed already. The folders whose annotations are still to be read
    are in corpus.annotation_folders.
    """
    known = known or {}
    corpus = Corpus(root)
    if not root.is_dir():
        corpus.problems.append(
            Problem(str(root), None, "seeds folder not found", hint="pass --seeds DIR")
        )
        return corpus
    _load_conventions(corpus)
    folders = source_folders(root) if folders is None else folders
    unread = [folder for folder in folders if folder.name not in known]
    read: dict[str, Source] = {}
    for part in mapper(
        functools.partial(_source_run, root),
        [unread[i : i + runs_of] for i in range(0, len(unread), runs_of)],
    ):
        read.update(part.sources)
        corpus.problems += part.problems
        corpus.unreadable_sources |= part.unreadable_sources
    for folder in folders:  # in folder order, read or known
        source = known.get(folder.name) or read.get(folder.name)
        if source is not None:
            corpus.sources[source.source_id] = source
        if ID_RE.fullmatch(folder.name):
            corpus.annotation_folders.append(folder)
    return corpus


def _source_run(root: Path, folders: list[Path]) -> Corpus:
    """The sources of `folders`, as a corpus of their own."""
    corpus = Corpus(root)
    for folder in folders:
        source = _load_source(corpus, folder)
        if source is not None:
            corpus.sources[source.source_id] = source
        elif ID_RE.fullmatch(folder.name):
            corpus.unreadable_sources.add(folder.name)
        if ID_RE.fullmatch(folder.name):
            corpus.annotation_folders.append(folder)
    return corpus


def load_annotations(corpus: Corpus, folders: list[Path]) -> Corpus:
    """The annotations of `folders` as a corpus of their own that shares `corpus`'s sources."""
    part = Corpus(corpus.root, sources=corpus.sources, unreadable_sources=corpus.unreadable_sources)
    for folder in folders:
        _load_annotations(part, folder)
    return part
