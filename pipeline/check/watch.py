"""`check --watch`: check seeds/ again whenever one of its files is saved, and say what changed.

Saves are told by the operating system's file notifications through watchfiles (inotify here):
polling the 30,000 files of a 10,000-document corpus took 0.5 s a poll, most of a core while
idle, and up to a poll's time before a save was seen. Where a file system gives no notifications
(some network ones), WATCHFILES_FORCE_POLLING=1 has the watcher poll each file's status instead.

The watcher names the files saved, so each re-check reads the status of those files only: the
status of every other file, as read by the last check, stays true (pipeline.build.cache.Resident).
A change the names do not pin down (a folder made, removed or renamed, a file beside the source
folders) makes the next check read every status again. Each re-check goes through the per-file
cache (and for a large corpus its whole-corpus snapshot), so only the saved files are read again;
the parts of the folders read in this process stay in memory. Only the problems are needed, so the
rows are never made into Python values. Ctrl-C ends the loop; the CLI turns it into its one line
and exit 130.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from pipeline.build.cache import Resident
from pipeline.check.run import check_seeds, to_stderr
from pipeline.contract.problems import Problem, printable

# How long the watcher waits for more saves after one before the check starts (ms): an editor's
# save can be several writes (a temporary file, then a rename).
SETTLE_MS = 50
# How often the watcher's wait returns when nothing happens (ms): the first wait returns once it
# has started watching, so that no save made during the first check is missed.
WAKE_MS = 200
POLL_SECONDS = 0.5  # how often each file's status is read when polling (a poll of 10k: 0.5 s)


def counted(count: int) -> str:
    return "no problems" if count == 0 else f"{count} problem" + ("s" if count > 1 else "")


def changes(before: list[str], after: list[str]) -> list[str]:
    """The lines saying what a re-check changed: problems fixed, problems new, then how many."""
    old, new = set(before), set(after)
    fixed = [line for line in before if line not in new]
    added = [line for line in after if line not in old]
    lines = [f"fixed: {line}" for line in fixed] + [f"new: {line}" for line in added]
    return lines + [f"{counted(len(after))} ({len(fixed)} fixed, {len(added)} new)"]


def first_report(found: list[str]) -> list[str]:
    return [*found, counted(len(found))]


def problem_lines(problems: list[Problem]) -> list[str]:
    return [printable(str(problem)) for problem in problems]


def saved_files(seeds: Path, paths: Iterable[str]) -> set[str] | None:
    """The files named by the watcher (absolute paths), as the check names them (`seeds`/folder/
    file); None when one is not a file of a folder of `seeds` (a folder itself, or an entry of
    `seeds` beside the folders): then no status can be trusted."""
    root = os.path.abspath(seeds)
    names = set()
    for path in paths:
        inside = os.path.relpath(path, root).split(os.sep)
        if len(inside) != 2 or inside[0] in ("", ".", ".."):
            return None
        names.add(os.path.join(str(seeds), *inside))
    return names


def visible(_change: object, path: str) -> bool:
    """Whether a change matters to the check, which leaves hidden files and folders out."""
    return not os.path.basename(path).startswith(".")


def watch(
    seeds: Path,
    show: Callable[[list[str]], None],
    use_cache: bool = True,
    note: Callable[[str], None] | None = None,
) -> None:
    """Check `seeds`, show the problems, then after each save show what changed; until Ctrl-C."""
    note = note or to_stderr
    resident = Resident()

    def checked() -> list[str]:
        found = check_seeds(seeds, use_cache=use_cache, note=note, resident=resident, tables=False)
        return problem_lines(found.problems)

    saves = polled(seeds) if polling() else notified(seeds)
    next(saves)  # watching from here on: a save during the first check is told after it
    found = checked()
    show(first_report(found))
    for saved in saves:
        if not saved:
            continue
        resident.told(saved_files(seeds, saved))
        before, found = found, checked()
        show(changes(before, found))


def polling() -> bool:
    """Whether saves are to be found by polling (WATCHFILES_FORCE_POLLING, as watchfiles reads
    it): watchfiles' own polling compares modification times to the second, so a second save
    within the second of the one before went unseen (tested)."""
    asked = os.environ.get("WATCHFILES_FORCE_POLLING", "").lower()
    return asked not in ("", "false", "disable", "disabled")


def notified(seeds: Path) -> Iterator[set[str]]:
    """The paths of the files saved, as the operating system tells them; an empty set first,
    once watching, and whenever WAKE_MS pass without a save."""
    from watchfiles import watch as changes_of  # here: only --watch needs it

    for saved in changes_of(
        seeds,
        watch_filter=visible,
        step=SETTLE_MS,
        rust_timeout=WAKE_MS,
        yield_on_timeout=True,
        ignore_permission_denied=True,  # a folder nobody may read: the check reports it
    ):
        yield {path for _, path in saved}


def polled(seeds: Path, every: float = POLL_SECONDS) -> Iterator[set[str]]:
    """The paths of the files saved, found by reading every file's status (modification time in
    nanoseconds, size) once per `every` seconds; an empty set first, once watching."""
    before = statuses(seeds)
    yield set()
    while True:
        time.sleep(every)
        now = statuses(seeds)
        yield {path for path in before.keys() | now.keys() if before.get(path) != now.get(path)}
        before = now


def statuses(seeds: Path) -> dict[str, tuple[int, int]]:
    """(modification time, size) of every visible entry of `seeds` and of its folders (a folder
    that cannot be listed: (-1, -1)), by absolute path; a folder's own status as a link's, so a
    folder made, removed, renamed or replaced by a link is told as a change of the folder."""
    found: dict[str, tuple[int, int]] = {}
    try:
        entries = [e for e in os.scandir(os.path.abspath(seeds)) if visible(None, e.path)]
    except OSError:
        return found
    for entry in entries:
        with contextlib.suppress(OSError):
            info = entry.stat(follow_symlinks=False)
            found[entry.path] = (info.st_mtime_ns, info.st_size)
        if entry.is_dir():
            try:
                with os.scandir(entry.path) as files:
                    entries_in = [f.path for f in files if visible(None, f.path)]
            except OSError:
                found[entry.path] = (-1, -1)  # unreadable now: a change when it reads again
                continue
        else:
            entries_in = []
        for name in entries_in:
            with contextlib.suppress(OSError):
                info = os.stat(name)
                found[name] = (info.st_mtime_ns, info.st_size)
    return found
