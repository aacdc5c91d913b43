"""Progress of long work: what library functions tell of it, and its one display on a terminal.

A library function that can work for seconds takes `progress: Progress | None = None` and calls
it as it goes: `progress("writing Parquet")` when a named step begins, `progress("reading
annotations", 400, 1000)` as counted work advances. None, the default, is silent, so the library
needs no terminal. This module imports no stage of the pipeline, so every stage may import it
(tests/test_layout.py treats it as a leaf); rich.progress is imported only when a display starts.

`Display` is the display: a transient rich bar on stderr, started once the work has lasted DELAY
seconds and cleared when it ends, so a command prints the same lines with it as without it.
`wanted()` says when a command shows it. `signals_held` keeps Ctrl-C and SIGTERM for the main
thread while threads or workers start: the bar's threads here, the parallel reader's workers.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.progress import Progress as Bar
    from rich.progress import TaskID

DELAY = 1.0  # seconds of work before the display appears: quicker work shows nothing
FORCED = "PIPELINE_PROGRESS"  # 1: show it even where wanted() would not (a log, CI); 0: never
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


class Progress(Protocol):
    """What a library function calls as it works: a step's name, and how far counted work is."""

    def __call__(self, what: str, done: int = 0, total: int = 0) -> None: ...


def silent(what: str, done: int = 0, total: int = 0) -> None:
    """The progress of a caller who does not listen."""


def or_silent(progress: Progress | None) -> Progress:
    """`progress`, or `silent` when None (a Progress that happens to be falsy is still told)."""
    return silent if progress is None else progress


def wanted(quiet: bool = False) -> bool:
    """Whether a command shows its progress: not with --quiet; PIPELINE_PROGRESS=1 or 0 when set;
    else when stderr is a terminal and CI is not set (CI logs stay clean)."""
    if quiet:
        return False
    forced = os.environ.get(FORCED)
    if forced in ("0", "1"):
        return forced == "1"
    return sys.stderr.isatty() and not os.environ.get("CI")


@contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait (blocked in this thread) until the block ends, then arrive.

    Processes and threads started inside inherit the block: a worker lifts it once its own
    handlers are set; a thread keeps it, so the signal goes to the main thread, the one Python
    runs handlers in, rather than waking nobody. (Here, the leaf, so that the parallel reader's
    workers and the progress bar's threads share it.)
    """
    before = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


class Display:
    """A progress bar on stderr, shown from DELAY seconds after the block starts until it ends.

    Called as a Progress, it shows the step and its count. It is drawn by threads of its own
    (a timer, then rich's refresh) that never receive Ctrl-C, and is always stopped in the main
    thread with the signals held, so an interrupt never leaves a half-drawn bar or a hidden cursor.
    `cleared` tells, once the block has ended, that the bar was on screen and has been erased: the
    cursor is at the start of a blank line.
    """

    def __init__(self, delay: float = DELAY) -> None:
        self._lock = threading.Lock()
        self._state: tuple[str, int, int] = ("", 0, 0)
        self._bar: Bar | None = None
        self._step: tuple[str, TaskID] | None = None  # the step shown, and its task in the bar
        self._began = time.monotonic()
        self._ended = False
        self._timer = threading.Timer(delay, self._start)
        self._timer.daemon = True
        self.cleared = False

    def __call__(self, what: str, done: int = 0, total: int = 0) -> None:
        with self._lock:
            self._state = (what, done, total)
            if self._bar is not None:
                self._show(self._bar)

    def __enter__(self) -> Display:
        self._began = time.monotonic()
        with signals_held():
            self._timer.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        with signals_held():
            self._timer.cancel()
            with self._lock:
                self._ended = True
                if self._bar is not None:
                    self._bar.stop()  # transient: the bar's lines are erased, the cursor shown
                    self.cleared = True

    def _start(self) -> None:
        bar = _bar(self._began)  # imported and made outside the lock, which the work's calls take
        with self._lock:
            if self._ended:
                return
            self._show(bar)
            bar.start()
            self._bar = bar

    def _show(self, bar: Bar) -> None:
        """The step as a task of its own (a new step starts its bar afresh), with its count."""
        what, done, total = self._state
        counted = f"{what} {done}/{total}" if total else what
        if self._step is not None and self._step[0] == what:
            bar.update(self._step[1], description=counted, completed=done)
            return
        if self._step is not None:
            bar.remove_task(self._step[1])
        # no total: a bar that pulses, for a step that is not counted
        self._step = (what, bar.add_task(counted, total=total or None, completed=done))


def _bar(began: float) -> Bar:
    """The rich progress bar on stderr: spinner, step, bar, time since `began` (the command's
    work started)."""
    from datetime import timedelta

    from rich.console import Console
    from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, Task, TextColumn
    from rich.text import Text

    class Elapsed(ProgressColumn):
        def render(self, task: Task) -> Text:
            since = timedelta(seconds=int(time.monotonic() - began))
            return Text(str(since), style="progress.elapsed")

    console = Console(stderr=True, force_terminal=True if os.environ.get(FORCED) == "1" else None)
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        Elapsed(),
        console=console,
        transient=True,
        redirect_stdout=False,  # stdout is the command's result (JSON, say): never diverted
    )
