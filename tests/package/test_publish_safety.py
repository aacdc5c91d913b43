"""`pipeline publish` owns only what it made: the target folder it replaces, its staging folders, its lock.

Each case runs in tmp_path beside the user's own things (seeds/, look-alike folders, files)
and asserts, with the `tree()` fingerprint, that nothing but the command's own output
changed: an --out that is not a package publish wrote is refused with exit 2 before a byte
is written (no lock file either); a corrupt published descriptor is a located message;
folders merely named like publish's temporary folders are never touched; the lock names
its holder and bounds the wait; an interrupted run cleans up after itself.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline import publish as publishing
from pipeline.cli import app
from pipeline.package import atomic

from conftest import command_env, edit_descriptor, installed, tree

runner = CliRunner()
PIPELINE = installed("pipeline")
EPOCH = "1601424000"  # the `created` of published_minimal
RESTORE = "restore the published folder from version control or a release, or move it away to publish afresh"
NOT_OURS = "publish replaces the whole folder: pass --out a new or empty folder, or a package folder publish wrote"


def publish_cli(seeds: Path, out: Path | str, *options: str):
    return runner.invoke(
        app,
        ["publish", "--seeds", str(seeds), "--out", str(out), *options],
        env={"SOURCE_DATE_EPOCH": EPOCH},
    )


def assert_clean(result, code: int) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and "unexpected" not in result.output, result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception


def correct_summary(seeds: Path) -> None:
    path = seeds / "wire-2020-09-30" / "annotations.yaml"
    path.write_text(
        path.read_text().replace(
            "summary: Armenia denied the report.", "summary: Armenia denied it."
        )
    )
    (seeds / "changes.yaml").write_text(
        "changes:\n  - {table: statements, id: armenia-terter-denial, reason: Shorter summary.}\n"
    )


def version_of(out: Path) -> str:
    return json.loads((out / "datapackage.json").read_text(encoding="utf-8"))["version"]


# ---- --out refused: exit 2, one located line, nothing written ----


def _descriptor(out: Path, content: bytes) -> None:
    (out / "datapackage.json").write_bytes(content)


def _package(tmp: Path, published: Path) -> Path:
    return Path(shutil.copytree(published, tmp / "datapackage"))


def _build(case: str, tmp: Path, seeds: Path, published: Path) -> tuple[str, str]:
    """Lay out `case` in `tmp`; return the --out to pass and the expected line, with {out} for the --out."""
    if case == "user-folder":
        (tmp / "mydocs" / "drafts").mkdir(parents=True)
        (tmp / "mydocs" / "notes.txt").write_text("mine\n")
        (tmp / "mydocs" / "README.md").write_text("# my docs\n")
        return str(
            tmp / "mydocs"
        ), f"{{out}}: not a package publish wrote: it holds drafts/, notes.txt ({NOT_OURS})"
    if case == "many-strangers":
        for name in ("a.txt", "b.txt", "c.txt", "d.txt", "e.txt"):
            (tmp / "mydocs" / name).parent.mkdir(exist_ok=True)
            (tmp / "mydocs" / name).write_text("mine\n")
        return (
            str(tmp / "mydocs"),
            f"{{out}}: not a package publish wrote: it holds a.txt, b.txt, c.txt and 2 more ({NOT_OURS})",
        )
    if case == "readme-only":
        (tmp / "mydocs").mkdir()
        (tmp / "mydocs" / "README.md").write_text("# my docs\n")
        return str(
            tmp / "mydocs"
        ), f"{{out}}: not a package publish wrote: it holds no datapackage.json ({NOT_OURS})"
    if case == "seeds":
        return str(
            seeds
        ), "{out}: is the seeds folder (pass --out a folder outside the seeds, e.g. datapackage)"
    if case == "inside-seeds":
        return (
            str(seeds / "wire-2020-09-30"),
            f"{{out}}: is inside the seeds folder {seeds} (pass --out a folder outside the seeds, e.g. datapackage)",
        )
    if case == "new-inside-seeds":
        return (
            str(seeds / "datapackage"),
            f"{{out}}: is inside the seeds folder {seeds} (pass --out a folder outside the seeds, e.g. datapackage)",
        )
    if case == "above-seeds":
        return (
            str(tmp),
            f"{{out}}: holds the seeds folder {seeds} (pass --out a folder of its own, e.g. datapackage)",
        )
    if case in (".", "..", "/"):
        return (
            case,
            "{out}: is not a folder publish can replace (pass --out the package folder, e.g. datapackage)",
        )
    if case == "parent-is-a-file":
        (tmp / "notes.txt").write_text("mine\n")
        return str(
            tmp / "notes.txt" / "datapackage"
        ), f"{{out}}: {tmp / 'notes.txt'} is not a folder (pass --out a path inside a folder)"
    if case == "grandparent-is-a-file":
        (tmp / "notes.txt").write_text("mine\n")
        return str(
            tmp / "notes.txt" / "a" / "datapackage"
        ), f"{{out}}: {tmp / 'notes.txt'} is not a folder (pass --out a path inside a folder)"
    if case == "out-is-a-file":
        (tmp / "datapackage").write_text("mine\n")
        return str(tmp / "datapackage"), f"{{out}}: is a file, not a package folder ({NOT_OURS})"
    if case == "out-is-a-link":
        shutil.copytree(published, tmp / "real")
        (tmp / "datapackage").symlink_to(tmp / "real", target_is_directory=True)
        return str(
            tmp / "datapackage"
        ), "{out}: is a symbolic link (pass --out the folder itself, not a link to it)"
    out = _package(tmp, published)
    return str(out), _broken_package(case, out, tmp)


def _set(key: str, value):
    return lambda descriptor: descriptor.update({key: value})


VERSION_HINT = (
    f"(set it to the version of the last publication, e.g. from CHANGELOG.md, or {RESTORE})"
)
OTHER_SHAPE = (
    f"resources: not a package publish wrote (each of its resources is data/<name>.csv "
    f"with a parquet twin data/<name>.parquet) ({NOT_OURS})"
)
DESCRIPTORS = {
    # case: (the descriptor's bytes, or an edit of the published one; the expected message after its path)
    "not-json": (
        b"{ this is not json\n",
        f"not valid JSON: Expecting property name enclosed in double quotes at line 1, column 3 ({RESTORE})",
    ),
    "json-list": (b"[1, 2, 3]\n", f"not a JSON object but list ({RESTORE})"),
    "nested-100k": (b"[" * 100_000 + b"]" * 100_000, f"nested deeper than 32 levels ({RESTORE})"),
    "not-utf8": (b'{"name": "caf\xe9"}', f"not UTF-8 text (byte 0xe9 at offset 13) ({RESTORE})"),
    "empty-descriptor": (b"", f"not valid JSON: Expecting value at line 1, column 1 ({RESTORE})"),
    "version-1.0": (
        _set("version", "1.0"),
        f'version: "1.0" is not a version publish writes (like 1.0.0) {VERSION_HINT}',
    ),
    "version-missing": (
        lambda d: d.pop("version"),
        f"version: null is not a version publish writes (like 1.0.0) {VERSION_HINT}",
    ),
    "version-number": (
        _set("version", 1),
        f"version: 1 is not a version publish writes (like 1.0.0) {VERSION_HINT}",
    ),
    "created-garbage": (
        _set("created", "yesterday"),
        f'created: "yesterday" is not a created publish writes (like 2020-10-01T00:00:00Z) '
        f"(set it to the created of the last publication, e.g. from CHANGELOG.md, or {RESTORE})",
    ),
    "someone-elses-package": (_set("resources", [{"name": "x", "path": "x.csv"}]), OTHER_SHAPE),
    "no-resources": (_set("resources", []), OTHER_SHAPE),
    "resource-leaving-the-folder": (
        lambda d: d["resources"][0].update(name="../../x", path="data/../../x.csv"),
        OTHER_SHAPE,
    ),
    "resource-in-rot13": (lambda d: d["resources"][0].update(encoding="rot13"), OTHER_SHAPE),
    "schema-of-another-shape": (
        lambda d: d["resources"][2]["schema"].update(fields={"a": 1}),
        f"malformed descriptor (TypeError: string indices must be integers, not 'str') ({RESTORE})",
    ),
}


def _broken_package(case: str, out: Path, tmp: Path) -> str:
    """A copy of the published package made into `case`; the expected line."""
    if case in DESCRIPTORS:
        content, expected = DESCRIPTORS[case]
        if callable(content):
            edit_descriptor(out, content)
        else:
            _descriptor(out, content)
        return "{out}/datapackage.json: " + expected
    if case == "extra-file":
        (out / "notes.md").write_text("mine\n")
        return f"{{out}}: not a package publish wrote: it holds notes.md ({NOT_OURS})"
    if case == "extra-folder-in-data":
        (out / "data" / "old").mkdir()
        return f"{{out}}: not a package publish wrote: it holds data/old/ ({NOT_OURS})"
    if case == "link-in-data":
        (tmp / "elsewhere.csv").write_text("a\n")
        (out / "data" / "events.csv").unlink()
        (out / "data" / "events.csv").symlink_to(tmp / "elsewhere.csv")
        return f"{{out}}: not a package publish wrote: it holds data/events.csv (a symbolic link) ({NOT_OURS})"
    if case == "data-is-a-file":
        shutil.rmtree(out / "data")
        (out / "data").write_text("mine\n")
        return f"{{out}}: not a package publish wrote: it holds data ({NOT_OURS})"
    if case == "changelog-not-utf8":
        (out / "CHANGELOG.md").write_bytes(b"# Changelog\n\ncaf\xe9\n")
        return f"{{out}}/CHANGELOG.md: not UTF-8 text (byte 0xe9 at offset 16) ({RESTORE})"
    assert case == "missing-table-file", case
    missing = out / "data" / "events.csv"
    missing.unlink()
    return f"{out}: resource events: {missing}: no such file ({RESTORE})"


REFUSED = [
    "user-folder",
    "many-strangers",
    "readme-only",
    "seeds",
    "inside-seeds",
    "new-inside-seeds",
    "above-seeds",
    ".",
    "..",
    "/",
    "parent-is-a-file",
    "grandparent-is-a-file",
    "out-is-a-file",
    "out-is-a-link",
    "extra-file",
    "extra-folder-in-data",
    "link-in-data",
    "data-is-a-file",
    *DESCRIPTORS,
    "changelog-not-utf8",
    "missing-table-file",
]


@pytest.mark.parametrize("dry", [False, True], ids=["publish", "dry-run"])
@pytest.mark.parametrize("case", REFUSED)
def test_out_that_publish_does_not_own_is_refused_untouched(
    case: str, dry: bool, tmp_path: Path, minimal_seeds: Path, published_minimal: Path, monkeypatch
):
    work = tmp_path / "work" / "inner"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)  # `.` and `..` are the user's own working folders
    out, expected = _build(case, tmp_path, minimal_seeds, published_minimal)
    before, root_before = tree(tmp_path, stat=True), sorted(os.listdir("/"))
    result = publish_cli(minimal_seeds, out, *(["--dry-run"] if dry else []))
    assert_clean(result, 2)
    assert result.output == expected.format(out=out) + "\n"
    assert tree(tmp_path, stat=True) == before
    assert sorted(os.listdir("/")) == root_before


# ---- what publish may write into ----


@pytest.mark.parametrize("how", ["absent", "empty-folder", "missing-parents"])
def test_absent_or_empty_out_is_published(how: str, tmp_path: Path, minimal_seeds: Path):
    out = tmp_path / "new" / "sub" / "pkg" if how == "missing-parents" else tmp_path / "pkg"
    if how == "empty-folder":
        out.mkdir()
    result = publish_cli(minimal_seeds, out)
    assert_clean(result, 0)
    assert result.output == f"published {out} version 0.1.0\n"
    assert sorted(os.listdir(tmp_path)) == (
        ["new", "seeds"] if how == "missing-parents" else ["pkg", "seeds"]
    )
    assert sorted(os.listdir(out.parent)) == (
        ["pkg"] if how == "missing-parents" else ["pkg", "seeds"]
    )
    assert sorted(p.name for p in (out / "data").iterdir())[:2] == ["actors.csv", "actors.parquet"]


# ---- folders merely named like publish's own are never touched ----


def _look_alikes(tmp: Path, published: Path) -> list[Path]:
    """A user's folders named as publish named its temporary folders once, or nearly as it does now."""
    folders = []
    for name in (
        "datapackage.old-backup-2024",
        "datapackage.tmp-notes",
        "datapackage.old-1234",
        "datapackage.tmp-1234",
        "datapackage.tmp-pipeline-1234-0123abcd",
    ):
        folder = tmp / name
        shutil.copytree(published, folder)
        (folder / "my-notes.txt").write_text("keep me\n")
        folders.append(folder)
    (tmp / "datapackage.tmp-pipeline-99-89abcdef").mkdir()
    (tmp / "datapackage.tmp-pipeline-99-89abcdef" / "notes.txt").write_text(
        "named like ours, but not marked\n"
    )
    return folders


@pytest.mark.parametrize("outcome", ["unchanged", "changed", "invalid-seeds", "package-missing"])
def test_look_alike_folders_are_never_touched(
    outcome: str, tmp_path: Path, minimal_seeds: Path, published_minimal: Path
):
    out = tmp_path / "datapackage"
    if outcome != "package-missing":
        shutil.copytree(published_minimal, out)
    _look_alikes(tmp_path, published_minimal)
    if outcome == "changed":
        correct_summary(minimal_seeds)
    if outcome == "invalid-seeds":
        (minimal_seeds / "count_conventions.yaml").write_text("conventions: [\n")
    theirs = {
        name: tree(tmp_path / name, stat=True)
        for name in os.listdir(tmp_path)
        if name != "datapackage"
    }
    result = publish_cli(minimal_seeds, out)
    expected = {
        "unchanged": (0, f"unchanged: {out} stays at version 0.1.0\n"),
        "changed": (0, f"published {out} version 0.1.1 (patch release)\n"),
        "package-missing": (0, f"published {out} version 0.1.0\n"),
    }
    if outcome == "invalid-seeds":
        assert_clean(result, 1)
        assert result.output.endswith("problem(s) found.\n")
    else:
        assert_clean(result, expected[outcome][0])
        assert result.output == expected[outcome][1]
    assert {
        name: tree(tmp_path / name, stat=True)
        for name in os.listdir(tmp_path)
        if name != "datapackage"
    } == theirs
    assert sorted(os.listdir(tmp_path)) == sorted([*theirs, "datapackage"])
    assert version_of(out) == ("0.1.1" if outcome == "changed" else "0.1.0")


# ---- what publish did leave (a killed run) is cleared by the next run ----


def _marked(tmp: Path, name: str) -> Path:
    folder = tmp / name
    folder.mkdir()
    (folder / atomic.MARKER).write_text(
        "made by pipeline publish for datapackage; the next publish removes this folder\n"
    )
    return folder


@pytest.mark.parametrize(
    "leftover", ["marked-with-old-package", "marked-half-built", "empty", "parked"]
)
def test_leftovers_of_a_killed_run_are_cleared(
    leftover: str, tmp_path: Path, minimal_seeds: Path, published_minimal: Path
):
    out = tmp_path / "datapackage"
    name = "datapackage.tmp-pipeline-4321-0badcafe"
    if leftover == "empty":
        (tmp_path / name).mkdir()
    else:
        folder = _marked(tmp_path, name)
        if leftover == "marked-with-old-package":
            shutil.copytree(published_minimal, folder / "package")
        if leftover == "marked-half-built":
            (folder / "package" / "data").mkdir(parents=True)
            (folder / "package" / "data" / "events.csv").write_text("event_id\n")
        if (
            leftover == "parked"
        ):  # killed between the two renames of the fallback swap: the package is parked
            shutil.copytree(published_minimal, folder / "parked")
            shutil.copytree(published_minimal, folder / "package")
    if leftover != "parked":
        shutil.copytree(published_minimal, out)
    result = publish_cli(minimal_seeds, out)
    assert_clean(result, 0)
    assert result.output == f"unchanged: {out} stays at version 0.1.0\n"
    assert sorted(os.listdir(tmp_path)) == ["datapackage", "seeds"]
    assert tree(out) == tree(published_minimal)


def test_hand_made_leftovers_carry_the_marker_publish_writes(tmp_path: Path):
    """The hand-made leftovers above carry the very marker publish writes."""
    target = tmp_path / "datapackage"
    with atomic.staging(target) as folder:
        assert (folder / atomic.MARKER).read_text() == (
            _marked(tmp_path, "x") / atomic.MARKER
        ).read_text()
        assert atomic.leftovers(target) == [folder]
    assert sorted(os.listdir(tmp_path)) == ["x"]


# ---- after the swap, a failure to remove the old package is a warning ----


def _stuck(path: Path, stuck: bool) -> None:
    """Make the file `path` impossible to delete (immutable as root, else in a read-only folder), or undo it."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i" if stuck else "-i", str(path)], check=True)
    else:
        path.parent.chmod(0o555 if stuck else 0o755)


def test_old_package_that_cannot_be_removed_is_a_warning(
    tmp_path: Path, minimal_seeds: Path, published_minimal: Path
):
    out = _package(tmp_path, published_minimal)
    name = os.listdir(out / "data")[0]  # the first file rmtree meets there
    _stuck(out / "data" / name, True)
    correct_summary(minimal_seeds)
    try:
        result = publish_cli(minimal_seeds, out)
        still = publish_cli(minimal_seeds, out)  # the next run tries again, and says so
    finally:
        left = sorted(tmp_path.glob("datapackage.tmp-pipeline-*"))
        _stuck((left[0] / "package" if left else out) / "data" / name, False)
    assert len(left) == 1, os.listdir(tmp_path)
    reason = "Operation not permitted" if os.geteuid() == 0 else "Permission denied"
    warning = (
        f"warning: {left[0]}: could not remove this temporary folder: {left[0] / 'package' / 'data' / name}: "
        f"{reason} (it stays marked; the next publish removes it once that is fixed)\n"
    )
    assert_clean(result, 0)
    assert result.output == f"published {out} version 0.1.1 (patch release)\n" + warning
    assert version_of(out) == "0.1.1"
    assert_clean(still, 0)
    assert still.output == f"unchanged: {out} stays at version 0.1.1\n" + warning
    again = publish_cli(minimal_seeds, out)
    assert_clean(again, 0)
    assert again.output == f"unchanged: {out} stays at version 0.1.1\n"
    assert sorted(os.listdir(tmp_path)) == ["datapackage", "seeds"]


# ---- the lock ----


def _holder(seeds: Path, out: Path) -> subprocess.Popen:
    """A real publish of `out`, stopped (SIGSTOP) while it holds the lock."""
    child = subprocess.Popen(
        [str(PIPELINE), "publish", "--seeds", str(seeds), "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=command_env(SOURCE_DATE_EPOCH=EPOCH, PIPELINE_TEST_PAUSE_AT="locked"),
    )
    _, status = os.waitpid(child.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), "publish did not reach the lock"
    return child


def _end(child: subprocess.Popen) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)


def _since(lock: Path, pid: int) -> str:
    text = lock.read_text(encoding="ascii")
    match = re.fullmatch(
        rf"pipeline publish lock\npid {pid}\nsince (\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\n", text
    )
    assert match, text
    return match.group(1)


@pytest.mark.parametrize("wait", ["0", "1"])
def test_lock_held_by_a_stopped_publish_bounds_the_wait(
    wait: str, tmp_path: Path, minimal_seeds: Path, published_minimal: Path
):
    out = _package(tmp_path, published_minimal)
    child = _holder(minimal_seeds, out)
    try:
        since = _since(tmp_path / ".datapackage.lock", child.pid)
        before = tree(tmp_path, stat=True)
        began = time.monotonic()
        result = publish_cli(minimal_seeds, out, "--wait", wait)
        waited = time.monotonic() - began
        assert tree(tmp_path, stat=True) == before
    finally:
        _end(child)
    holder = f"pid {child.pid}, stopped, since {since}"
    assert_clean(result, 1)
    assert result.output == (
        (
            f"waiting up to 1 s for the lock on {out}, held by another publish ({holder})\n"
            if wait == "1"
            else ""
        )
        + f"{out}: another publish holds the lock ({holder}); gave up after {wait} s "
        f"(let it finish or end it, then publish again; --wait SECONDS waits longer)\n"
    )
    assert float(wait) <= waited < float(wait) + 5


def test_lock_left_by_a_dead_publish_is_taken_over(
    tmp_path: Path, minimal_seeds: Path, published_minimal: Path
):
    out = _package(tmp_path, published_minimal)
    _end(_holder(minimal_seeds, out))
    assert sorted(os.listdir(tmp_path)) == [".datapackage.lock", "datapackage", "seeds"]
    result = publish_cli(minimal_seeds, out, "--wait", "0")
    assert_clean(result, 0)
    assert result.output == f"unchanged: {out} stays at version 0.1.0\n"
    assert sorted(os.listdir(tmp_path)) == ["datapackage", "seeds"]


def test_waiting_publish_runs_once_the_holder_ends(
    tmp_path: Path, minimal_seeds: Path, published_minimal: Path
):
    out = _package(tmp_path, published_minimal)
    child = _holder(minimal_seeds, out)
    since = _since(tmp_path / ".datapackage.lock", child.pid)
    child.send_signal(
        signal.SIGCONT
    )  # it goes on building (about a second), finds no change and removes its lock
    try:
        result = publish_cli(minimal_seeds, out, "--wait", "60")
    finally:
        assert child.wait(timeout=60) == 0
    assert_clean(result, 0)
    assert result.output == (
        f"waiting up to 60 s for the lock on {out}, held by another publish "
        f"(pid {child.pid}, since {since})\n"
        f"unchanged: {out} stays at version 0.1.0\n"
    )
    assert sorted(os.listdir(tmp_path)) == ["datapackage", "seeds"]


HOLD = """import fcntl, os, sys, time
handle = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(handle, fcntl.LOCK_EX)
os.write(handle, sys.argv[2].encode())
print("held", flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("record", ["ended", "no-record"])
def test_lock_holder_that_cannot_be_named(
    record: str, tmp_path: Path, minimal_seeds: Path, published_minimal: Path
):
    """The lock held by a process whose recorded pid has ended (a worker it forked lives on), or with no record."""
    out = _package(tmp_path, published_minimal)
    gone = subprocess.Popen(["true"])  # a pid that has certainly ended
    gone.wait()
    text = (
        f"pipeline publish lock\npid {gone.pid}\nsince 2020-10-01T00:00:00Z\n"
        if record == "ended"
        else ""
    )
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / ".datapackage.lock"), text],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline() == "held\n"
        before = tree(tmp_path, stat=True)
        result = publish_cli(minimal_seeds, out, "--wait", "0")
        assert tree(tmp_path, stat=True) == before
    finally:
        _end(child)
        child.stdout.close()
    holder = (
        f"pid {gone.pid}, ended, processes it started still hold the lock, since 2020-10-01T00:00:00Z"
        if record == "ended"
        else "a run that has not yet written its pid"
    )
    assert_clean(result, 1)
    assert result.output == (
        f"{out}: another publish holds the lock ({holder}); gave up after 0 s "
        f"(let it finish or end it, then publish again; --wait SECONDS waits longer)\n"
    )


@pytest.mark.parametrize("what", ["user-file", "folder", "link"])
def test_lock_name_taken_by_something_else_is_refused(
    what: str, tmp_path: Path, minimal_seeds: Path, published_minimal: Path
):
    out = _package(tmp_path, published_minimal)
    lock = tmp_path / ".datapackage.lock"
    if what == "user-file":
        lock.write_text("my own notes\n")
        expected = (
            f"{lock}: not a lock file publish wrote "
            f"(publish keeps its lock there while it runs; move this file away)"
        )
    elif what == "folder":
        lock.mkdir()
        expected = (
            f"{lock}: cannot open the lock file: Is a directory "
            f"(publish keeps its lock there while it runs; remove or rename what is in the way)"
        )
    else:
        (tmp_path / "elsewhere").write_text("mine\n")
        lock.symlink_to(tmp_path / "elsewhere")
        expected = (
            f"{lock}: cannot open the lock file: Too many levels of symbolic links "
            f"(publish keeps its lock there while it runs; remove or rename what is in the way)"
        )
    before = tree(tmp_path, stat=True)
    result = publish_cli(minimal_seeds, out)
    assert_clean(result, 2)
    assert result.output == expected + "\n"
    assert tree(tmp_path, stat=True) == before


# ---- interrupted: KeyboardInterrupt (SIGINT) and SystemExit(143) (SIGTERM) pass through publish ----


def _interrupt(monkeypatch, exception: BaseException, where: str) -> None:
    def stop(*_args, **_kwargs):
        raise exception

    if where == "building":
        monkeypatch.setattr(publishing, "verify_package", stop)
    else:
        if where == "parked":
            monkeypatch.setattr(
                atomic, "_exchange", lambda a, b: False
            )  # the fallback swap: park, then move in
        monkeypatch.setattr(atomic, "pause_point", lambda step: stop() if step == where else None)


@pytest.mark.parametrize(
    "exception", [KeyboardInterrupt(), SystemExit(143)], ids=["SIGINT", "SIGTERM"]
)
@pytest.mark.parametrize(
    "where, live",
    [("locked", "0.1.0"), ("building", "0.1.0"), ("parked", "0.1.0"), ("exchanged", "0.1.1")],
)
def test_interrupted_publish_leaves_one_package_and_nothing_else(
    exception,
    where: str,
    live: str,
    tmp_path: Path,
    minimal_seeds: Path,
    published_minimal: Path,
    monkeypatch,
):
    out = _package(tmp_path, published_minimal)
    correct_summary(minimal_seeds)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    _interrupt(monkeypatch, exception, where)
    with pytest.raises(type(exception)):
        publishing.publish(minimal_seeds, out)
    assert sorted(os.listdir(tmp_path)) == ["datapackage", "seeds"]
    assert version_of(out) == live
    if live == "0.1.0":
        assert tree(out) == tree(published_minimal)


def test_fallback_swap_publishes_without_renameat2(
    tmp_path: Path, minimal_seeds: Path, published_minimal: Path, monkeypatch
):
    out = _package(tmp_path, published_minimal)
    correct_summary(minimal_seeds)
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    result = publish_cli(minimal_seeds, out)
    assert_clean(result, 0)
    assert result.output == f"published {out} version 0.1.1 (patch release)\n"
    assert sorted(os.listdir(tmp_path)) == ["datapackage", "seeds"]


@pytest.mark.parametrize("step, live", [("locked", "0.1.0"), ("exchanged", "0.1.1")])
def test_ctrl_c_of_a_real_publish_leaves_one_package_and_nothing_else(
    step: str, live: str, tmp_path: Path, minimal_seeds: Path, published_minimal: Path
):
    """SIGINT to a running publish: Python raises KeyboardInterrupt there, and the finally blocks clean up.
    (Its exit status is the command line's business, not asserted here.)"""
    out = _package(tmp_path, published_minimal)
    correct_summary(minimal_seeds)
    child = subprocess.Popen(
        [str(PIPELINE), "publish", "--seeds", str(minimal_seeds), "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=command_env(SOURCE_DATE_EPOCH=EPOCH, PIPELINE_TEST_PAUSE_AT=step),
    )
    _, status = os.waitpid(child.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), f"publish did not reach {step}"
    child.send_signal(signal.SIGINT)
    child.send_signal(signal.SIGCONT)
    _, errors = child.communicate(timeout=60)
    assert child.returncode != 0 and "Traceback" not in errors, errors
    assert sorted(os.listdir(tmp_path)) == ["datapackage", "seeds"]
    assert version_of(out) == live
    if live == "0.1.0":
        assert tree(out) == tree(published_minimal)
