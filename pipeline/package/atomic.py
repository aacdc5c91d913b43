"""Replace a published folder all at once, under a lock, touching only what publish made.

The new package is built in a staging folder beside the published one,
`<name>.tmp-pipeline-<pid>-<8 hex>/`, which holds a marker file and the package in
`package/`. One renameat2(RENAME_EXCHANGE) swaps `package/` and the published folder,
so a reader or a killed run sees the complete old package or the complete new one,
and the marker never enters the published package. Without renameat2 the old package
is parked in the staging folder (`parked/`) for the instant between two renames.

Cleanup removes only staging folders so named that carry the marker (or are empty: a
run killed between creating the folder and writing its marker), marker last, so a
folder that cannot be removed entirely stays marked for the next run. A user's
`datapackage.old-backup` or `datapackage.tmp-notes` is never touched.

The lock is a file `.<name>.lock` beside the published folder, flock()ed while held
and removed on release; it names the holder's pid and start time for whoever waits.
The kernel drops the flock of a process that dies, so a file left by a killed run is
simply taken over. A stopped holder still holds it: `wait` bounds how long to wait.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import datetime as dt
import fcntl
import os
import re
import secrets
import shutil
import signal
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100

# Seconds: a 10,000-document publish takes about 40 s; a stopped one must not block forever.
DEFAULT_WAIT = 120.0
MARKER = ".pipeline-publish"
PACKAGE = "package"  # the new package, inside a staging folder
# The old package, inside a staging folder, between the two renames of the fallback swap.
PARKED = "parked"
LOCK_HEADER = "pipeline publish lock"
_POLL = 0.2  # seconds between two tries of a busy lock
_SMALL = 4096  # bytes read of a marker or a lock file: both are one or three short lines


class Refused(Exception):
    """Publish will not go on: a folder it does not own or cannot read, or a lock another run holds.

    The message is a located line (`file: message (hint)`); `code` is the exit status.
    """

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


def pause_point(step: str) -> None:
    """PIPELINE_TEST_PAUSE_AT=<step> stops the run here (SIGSTOP) so crash tests can kill it at that
    step."""
    if os.environ.get("PIPELINE_TEST_PAUSE_AT") == step:
        os.kill(os.getpid(), signal.SIGSTOP)


# ---- staging folders ----


def _staging_name(target: Path) -> re.Pattern:
    return re.compile(re.escape(target.name) + r"\.tmp-pipeline-[0-9]+-[0-9a-f]{8}")


def _marker_text(target: Path) -> bytes:
    text = f"made by pipeline publish for {target.name}; the next publish removes this folder\n"
    return text.encode()


def _is_marked(folder: Path, target: Path) -> bool:
    marker = folder / MARKER
    try:
        if not stat.S_ISREG(os.lstat(marker).st_mode):
            return False
        with open(marker, "rb") as handle:
            return handle.read(_SMALL) == _marker_text(target)
    except OSError:
        return False


def leftovers(target: Path) -> list[Path]:
    """Staging folders of earlier runs: named as publish names them, real folders, and marked or
    empty."""
    pattern = _staging_name(target)
    found = []
    for name in os.listdir(target.parent):
        path = target.parent / name
        if pattern.fullmatch(name) and stat.S_ISDIR(os.lstat(path).st_mode):
            if _is_marked(path, target) or not os.listdir(path):
                found.append(path)
    return sorted(found)


def _make_staging(target: Path) -> Path:
    while True:
        folder = target.parent / f"{target.name}.tmp-pipeline-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        try:
            (folder / MARKER).write_bytes(_marker_text(target))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # not marked, so no later run would remove it
            raise
        return folder


@contextlib.contextmanager
def staging(target: Path) -> Iterator[Path]:
    """A new marked staging folder beside `target`; build the package in `<folder>/package`.

    Whatever ends the block (an error, KeyboardInterrupt, SystemExit), the folder is
    removed, a parked old package put back first.
    """
    folder = _make_staging(target)
    try:
        yield folder
    finally:
        if os.path.lexists(folder):
            discard(folder, target)


def discard(folder: Path, target: Path) -> list[str]:
    """Remove a staging folder, marker last; a warning for what could not be removed (it stays
    marked)."""
    parked = folder / PARKED
    if parked.is_dir() and not os.path.lexists(target):
        os.rename(parked, target)  # a run stopped between the two renames of the fallback swap
    # (path, error): rmtree's errors may name the file relative to its folder
    errors: list[tuple[str, BaseException]] = []
    for child in sorted(folder.iterdir()):
        if child.name != MARKER:
            _remove(child, errors)
    if not errors:
        try:
            (folder / MARKER).unlink(missing_ok=True)
            folder.rmdir()
        except OSError as exc:
            errors.append((str(exc.filename), exc))
    if not errors:
        return []
    path, failure = errors[0]
    return [
        f"{folder}: could not remove this temporary folder: {path}: "
        f"{getattr(failure, 'strerror', None)} "
        f"(it stays marked; the next publish removes it once that is fixed)"
    ]


def _remove(path: Path, errors: list[tuple[str, BaseException]]) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, onerror=lambda _func, failed, info: errors.append((failed, info[1])))
        return
    try:
        path.unlink()
    except OSError as exc:
        errors.append((str(path), exc))


def recover(target: Path) -> list[str]:
    """Clear the staging folders of killed runs (restoring a parked package); warnings for what
    stays."""
    warnings = []
    for folder in leftovers(target):
        warnings += discard(folder, target)
    return warnings


# ---- the swap ----


def _exchange(a: Path, b: Path) -> bool:
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    if not hasattr(libc, "renameat2"):
        return False
    result = libc.renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def swap_in(folder: Path, target: Path) -> list[str]:
    """Make `<folder>/package` the content of `target` atomically, then remove the old package.

    Once the new package is in place, a failure to remove the old one is a warning (returned),
    not an error: the new version is live, and the staging folder stays marked for the next run.
    """
    new = folder / PACKAGE
    _fsync_tree(new)
    if not os.path.lexists(target):
        os.rename(new, target)
    elif _exchange(new, target):
        pause_point("exchanged")  # `new` now holds the old package
    else:
        # Fallback without renameat2: park the old package, move the new one in; discard() undoes a
        # stop between.
        os.rename(target, folder / PARKED)
        pause_point("parked")
        os.rename(new, target)
    return discard(folder, target)


# ---- the lock ----


def lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}.lock"


@contextlib.contextmanager
def publish_lock(
    target: Path, wait: float = DEFAULT_WAIT, notify: Callable[[str], None] | None = None
):
    """Hold the lock of `target`, waiting up to `wait` seconds for another run; the lock file is
    removed on exit.

    `notify` hears, once, that the run waits and for whom. Refused (exit 1) when the wait runs out.
    """
    path = lock_path(target)
    handle = _acquire(path, target, wait, notify)
    try:
        yield
    finally:
        # Unlink while still holding it: a run waiting on this file then finds it gone and opens a
        # new one.
        with contextlib.suppress(OSError):
            if os.path.samestat(os.fstat(handle), os.lstat(path)):
                os.unlink(path)
        os.close(handle)


def _acquire(path: Path, target: Path, wait: float, notify: Callable[[str], None] | None) -> int:
    deadline = time.monotonic() + wait
    told = False
    while True:
        handle = _open_lock(path)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(handle)
            os.close(handle)
            left = deadline - time.monotonic()
            if left <= 0:
                raise Refused(
                    f"{target}: another publish holds the lock ({holder}); gave up after {wait:g} "
                    "s "
                    f"(let it finish or end it, then publish again; --wait SECONDS waits longer)",
                    1,
                ) from None
            if notify is not None and not told:
                notify(
                    f"waiting up to {wait:g} s for the lock on {target}, held by another publish "
                    f"({holder})"
                )
                told = True
            time.sleep(min(_POLL, left))
            continue
        except BaseException:
            os.close(handle)
            raise
        if _still_there(handle, path):
            _write_record(handle)
            return handle
        os.close(handle)  # the holder removed the file as it finished: take the new one


def _open_lock(path: Path) -> int:
    """The lock file, created if absent; Refused if the name is taken by anything publish did not
    write."""
    try:
        handle = os.open(
            path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o644
        )
    except OSError as exc:
        raise Refused(
            f"{path}: cannot open the lock file: {exc.strerror} "
            f"(publish keeps its lock there while it runs; remove or rename what is in the way)"
        ) from None
    facts = os.fstat(handle)
    content = os.pread(handle, _SMALL, 0) if stat.S_ISREG(facts.st_mode) else b""
    if not stat.S_ISREG(facts.st_mode) or (
        content and not content.startswith(LOCK_HEADER.encode())
    ):
        os.close(handle)
        raise Refused(
            f"{path}: not a lock file publish wrote "
            f"(publish keeps its lock there while it runs; move this file away)"
        )
    return handle


def _still_there(handle: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(handle), os.lstat(path))
    except FileNotFoundError:
        return False


def _write_record(handle: int) -> None:
    since = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    os.ftruncate(handle, 0)
    os.pwrite(handle, f"{LOCK_HEADER}\npid {os.getpid()}\nsince {since}\n".encode(), 0)


def _holder(handle: int) -> str:
    """Who holds the lock, from its file: 'pid 123, stopped, since 2026-12-01T10:45:02Z'."""
    fields = dict(
        line.partition(" ")[::2]
        for line in os.pread(handle, _SMALL, 0).decode("ascii", "replace").splitlines()[1:]
    )
    pid, since = fields.get("pid", ""), fields.get("since", "")
    if not pid.isdigit():
        return "a run that has not yet written its pid"
    return ", ".join([f"pid {pid}", *_state(int(pid)), f"since {since or 'an unknown time'}"])


def _state(pid: int) -> list[str]:
    """'stopped' for a stopped process; 'ended' when the pid runs no more (processes it forked hold
    the lock)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            state = handle.read().rpartition(")")[2].split()[:1]
    except FileNotFoundError:
        return ["ended, processes it started still hold the lock"]
    except OSError:
        return []
    return ["stopped"] if state in (["T"], ["t"]) else []
