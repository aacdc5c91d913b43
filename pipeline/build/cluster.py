"""Where the per-folder work runs: this machine's process pool, or a Dask cluster.

A scheduler is named as `local` (the forked pool of pipeline.build.parallel, the default),
`dask` (a cluster of worker processes on 127.0.0.1 that the command starts, without a
dashboard, and stops when it ends) or the address of a running Dask scheduler
(`tcp://HOST:PORT`, `tls://HOST:PORT`). The workers of such a cluster must run the same
version of this package and see the seeds folder at the same path as the command (a relative
path from their own working folder): both are checked before any work is sent, so a worker
cannot quietly read other files or build rows with other code.

A run's results come back in the order of its runs of folders, as from the pool. What every task
needs (the sources already read, the record rules and their context) is sent once to every worker
(scattered), not with each task. Whatever ends the block (an error, Ctrl-C, SIGTERM), the
tasks still running are cancelled and a cluster the command started is closed, its worker
processes with it. Its threads start with Ctrl-C and SIGTERM blocked, so the signal reaches the
main thread, which cleans up; its worker processes, which Ctrl-C reaches too, write to the null
device, and die with the command even when it is killed (Dask's own watch on their parent). A
scheduler that cannot be reached, workers that run other code or see other seeds, or a worker
lost for good (a task whose workers kept dying) is a SchedulerError: one line, exit code 3.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.build.cache import code_version
from pipeline.contract.problems import path_for_people
from pipeline.progress import signals_held

if TYPE_CHECKING:
    from distributed import Client

LOCAL = "local"
DASK = "dask"
ADDRESS = re.compile(r"(tcp|tls)://\S+")
QUIET_LOGGERS = ("distributed", "asyncio", "tornado")  # what would print on stderr while closing
WORKER_THREADS = 1  # the work is pure Python: more threads per process would share one GIL


class SchedulerError(Exception):
    """The cluster cannot do the work: its scheduler is unreachable, its workers run other code or
    see other seeds, or a worker was lost."""


def scheduler_problem(scheduler: str) -> str | None:
    """Why `scheduler` names no scheduler (a message for --scheduler), or None when it does."""
    if scheduler in (LOCAL, DASK) or ADDRESS.fullmatch(scheduler):
        return None
    return f"{scheduler!r} is not local, dask or the address of a Dask scheduler (tcp://HOST:PORT)"


@contextlib.contextmanager
def connected(scheduler: str, seeds: Path, processes: int) -> Iterator[Client]:
    """A client of the cluster `scheduler` names (DASK: `processes` workers started here, closed
    at the end), whose workers were found to run this code and to see `seeds` as it does."""
    with _quiet_logs(), contextlib.ExitStack() as stack:
        if scheduler == DASK:
            client = stack.enter_context(_local_cluster(processes))
        else:
            client = stack.enter_context(_remote(scheduler))
        _check_workers(client, scheduler, seeds)
        yield client


@contextlib.contextmanager
def _local_cluster(processes: int) -> Iterator[Client]:
    from distributed import Client, LocalCluster

    cluster = client = None
    with tempfile.TemporaryDirectory(prefix="pipeline-dask-") as scratch:
        try:
            # the cluster's threads keep the signals blocked: they go to the main thread
            with signals_held(), _worker_output_discarded():
                cluster = LocalCluster(
                    n_workers=processes,
                    threads_per_worker=WORKER_THREADS,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    # its HTTP server (health, metrics) on a free port: 8787 may be taken
                    scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                    local_directory=scratch,  # the workers' spill folders, removed with it
                    silence_logs=logging.CRITICAL,
                )
                client = Client(cluster)
            yield client
        finally:
            with signals_held():  # a signal now would cut the closing short
                if client is not None:
                    client.close()
                if cluster is not None:
                    cluster.close()


@contextlib.contextmanager
def _worker_output_discarded() -> Iterator[None]:
    """Worker processes started inside write to the null device, not to the command's stderr: the
    terminal sends Ctrl-C to the whole process group, and a worker stopped by it would print a
    traceback there. (Ignoring SIGINT in them instead, by a disposition they would inherit, would
    lose a Ctrl-C that reaches a thread of this process meanwhile.) Whatever else writes to stderr
    in the moment the cluster starts is lost too: only the progress bar can."""
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


@contextlib.contextmanager
def _remote(address: str) -> Iterator[Client]:
    from distributed import Client

    try:
        with signals_held():
            # waits as long as Dask's distributed.comm.timeouts.connect (30 s unless configured)
            client = Client(address)
    except (OSError, TimeoutError) as exc:
        raise SchedulerError(
            f"cannot reach the Dask scheduler at {address} ({_reason(exc)}); start one "
            "(dask scheduler, dask worker) or pass --scheduler local or dask"
        ) from None
    try:
        yield client
    finally:
        with signals_held():
            client.close()


def _check_workers(client: Client, scheduler: str, seeds: Path) -> None:
    """SchedulerError unless the cluster has workers, each running this code (the per-file
    cache's code version) and seeing the same source folders under `seeds` as this process."""
    try:
        found = client.run(_worker_view, str(seeds))
    except (OSError, TimeoutError) as exc:
        raise SchedulerError(f"the Dask scheduler at {scheduler}: {_reason(exc)}") from None
    if not found:
        raise SchedulerError(
            f"the Dask scheduler at {scheduler} has no workers (start some: dask worker "
            f"{scheduler})"
        )
    expected = _worker_view(str(seeds))
    for worker, (code, shown, listing) in sorted(found.items()):
        if code != expected[0]:
            raise SchedulerError(
                f"the Dask worker {worker} runs other pipeline code than this command: install "
                "the same version on every worker"
            )
        if (shown, listing) != expected[1:]:
            raise SchedulerError(
                f"the Dask worker {worker} does not see the seeds folder {seeds} as this command "
                "does: the workers must see it at the same path, from the same working folder"
            )


def _worker_view(seeds: str) -> tuple[str, str, str | None]:
    """On a worker: its code version, how its problems name `seeds` (relative to its working
    folder when inside it) and the source folders it sees there."""
    return code_version(), path_for_people(Path(seeds)), _listing(seeds)


def _listing(seeds: str) -> str | None:
    """The names under `seeds`, sorted and joined, or None when it is no readable folder."""
    try:
        return "\0".join(sorted(p.name for p in Path(seeds).iterdir()))
    except OSError:
        return None


def dask_mapper(client: Client, **shared: Any) -> Callable[[Callable, list], Iterator]:
    """A mapper over runs of folders on `client`'s workers, results in order (as a pool's imap):
    `function(run, **shared)`, each of `shared` sent to every worker once."""
    with signals_held():
        sent = {
            name: client.scatter([value], broadcast=True, hash=False)[0]
            for name, value in shared.items()
        }

    def mapped(function: Callable, runs: list) -> Iterator:
        from distributed import CancelledError, KilledWorker
        from distributed.comm import CommClosedError

        with signals_held():
            futures = client.map(function, runs, pure=False, **sent)
        try:
            for future in futures:
                yield future.result()
        except KilledWorker:
            raise SchedulerError(
                "a Dask worker died while reading seeds, as often as the scheduler retries a task "
                "(distributed.scheduler.allowed-failures)"
            ) from None
        except (CommClosedError, CancelledError, OSError, TimeoutError) as exc:
            raise SchedulerError(
                f"the Dask cluster stopped answering while reading seeds ({_reason(exc)})"
            ) from None
        finally:
            with signals_held():
                client.cancel(futures)  # nothing left running for a run that ended early

    return mapped


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """Dask's own log lines (a worker restarted, a connection closed, a task left unretrieved
    when Ctrl-C stops the wait) stay off stderr: the command says what happened in one line."""
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    before = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, before, strict=True):
            logger.setLevel(level)
