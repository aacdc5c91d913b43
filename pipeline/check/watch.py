"""`check --watch`: check seeds/ again whenever one of its files is saved, and say what changed.

Saves are told by the operating system's file notifications through watchfiles (inotify here;
where a file system gives none, it polls, as it does when WATCHFILES_FORCE_POLLING is set).
Polling the 30,000 files of a 10,000-document corpus ourselves took 0.5 s a poll, most of a core
while idle, and up to a poll's time before a save was seen.

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

import os
from collections.abc import Callable, Iterable
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
    from watchfiles import watch as notified  # here: only --watch needs it

    note = note or to_stderr
    resident = Resident()

    def checked() -> list[str]:
        found = check_seeds(seeds, use_cache=use_cache, note=note, resident=resident, tables=False)
        return problem_lines(found.problems)

    saves = notified(
        seeds,
        watch_filter=visible,
        step=SETTLE_MS,
        rust_timeout=WAKE_MS,
        yield_on_timeout=True,
    )
    next(saves)  # watching from here on: a save during the first check is told after it
    found = checked()
    show(first_report(found))
    for saved in saves:
        if not saved:
            continue
        resident.told(saved_files(seeds, (path for _, path in saved)))
        before, found = found, checked()
        show(changes(before, found))
