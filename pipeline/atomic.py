"""Replace a published folder all at once, and clean up after interrupted runs.

The new package is written to a temporary folder beside the published one and
swapped in with one renameat2(RENAME_EXCHANGE) system call, so a reader or a
killed run sees either the complete old package or the complete new one. A lock
keeps two publishes from interleaving; leftovers of killed runs are removed by the
next run.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import shutil
import signal
from pathlib import Path

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def pause_point(step: str) -> None:
    """PIPELINE_TEST_PAUSE_AT=<step> stops the run here (SIGSTOP) so crash tests can kill it at that step."""
    if os.environ.get("PIPELINE_TEST_PAUSE_AT") == step:
        os.kill(os.getpid(), signal.SIGSTOP)


def temp_dir_for(target: Path) -> Path:
    return target.parent / f"{target.name}.tmp-{os.getpid()}"


def leftovers(target: Path) -> list[Path]:
    return sorted(p for p in target.parent.glob(f"{target.name}.tmp-*") if p.is_dir()) + \
        sorted(p for p in target.parent.glob(f"{target.name}.old-*") if p.is_dir())


@contextlib.contextmanager
def publish_lock(target: Path):
    """Hold an exclusive lock for `target`, then clear leftovers of killed runs."""
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.parent / f".{target.name}.lock"
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            recover(target)
            pause_point("locked")
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def recover(target: Path) -> list[Path]:
    """Restore a package parked by an interrupted fallback swap; remove temporary folders."""
    removed = []
    olds = sorted(p for p in target.parent.glob(f"{target.name}.old-*") if p.is_dir())
    if not target.exists() and olds:
        os.rename(olds[-1], target)
    for path in leftovers(target):
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


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


def swap_in(new: Path, target: Path) -> None:
    """Make `new` the content of `target` atomically; the old content is deleted."""
    _fsync_tree(new)
    if not target.exists():
        os.rename(new, target)
        return
    if _exchange(new, target):
        pause_point("exchanged")
        shutil.rmtree(new)  # `new` now holds the old package
        return
    # Fallback without renameat2: park the old package, move the new one in; recover() undoes a crash between.
    parked = target.parent / f"{target.name}.old-{os.getpid()}"
    os.rename(target, parked)
    os.rename(new, target)
    shutil.rmtree(parked)
