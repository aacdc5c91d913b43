"""Ctrl-C and SIGTERM end a command cleanly, whatever it is doing.

The command prints one line on stderr ("interrupted" or "terminated"), exits 130 or 143,
and leaves no traceback from any process, no process behind, nothing beside --out, and
the published package and the seeds as they were.

Each command runs as a child process in a session of its own, as from a terminal:
Ctrl-C is SIGINT to the whole process group (the command and its workers), SIGTERM goes
to the command alone. A corpus of 600 documents is read by worker processes: the signal
is sent once they exist (seen in /proc), while the first workers read the sources, while
the next ones read the annotations, or while a publish writes its package after them.
A small corpus is read in one process: PIPELINE_TEST_PAUSE_AT=started stops the command
once its handlers are in place, and the signal comes a moment after it resumes.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline import cli
from pipeline.build import parallel

from conftest import BASE_SEEDS, ROOT, beside, command_env, copy_package, installed, tree

PIPELINE = installed("pipeline")
LARGE_DOCS = 600  # above parallel.PARALLEL_MIN_FOLDERS: read by workers
SMALL_DELAY = 0.2  # seconds after resuming; the small commands work for about a second after that
ENDED = {signal.SIGINT: (130, "interrupted\n"), signal.SIGTERM: (143, "terminated\n")}


@pytest.fixture(scope="module")
def world(tmp_path_factory, published_minimal: Path):
    """A corpus large enough for workers, and the package published from the small seeds (the
    shared one, only read here), with their fingerprints."""
    root = tmp_path_factory.mktemp("interrupts")
    corpus = root / "corpus"
    made = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "synth.py"),
            "--docs",
            str(LARGE_DOCS),
            "--out",
            str(corpus),
        ],
        capture_output=True,
        text=True,
        env=command_env(),
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    return {
        "corpus": corpus,
        "corpus_tree": tree(corpus),
        "package": published_minimal,
        "package_tree": tree(published_minimal),
        "beside": beside(published_minimal),  # what a completed publish leaves
        "seeds_tree": tree(BASE_SEEDS),
    }


@pytest.fixture(autouse=True)
def empty_cache(tmp_path_factory, monkeypatch):
    """Each test starts with an empty cache: folders an earlier command read (even one cut short)
    are not read again, and too few unread folders are read without workers."""
    monkeypatch.setenv("PIPELINE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


# ---- processes, from /proc ----


def children(pid: int) -> set[int]:
    """Processes `pid` started, from any of its threads; none once it has ended."""
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.update(int(n) for n in (task / "children").read_text().split())
        except OSError:  # the thread or the process ended meanwhile
            pass
    return found


def session(sid: int, live_only: bool = False) -> list[str]:
    """Processes of session `sid` ("pid state command"); with `live_only`, not those dead and awaiting their reaper."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields and int(fields[3]) == sid and not (live_only and fields[0] == "Z"):
            found.append(f"{entry.name} {fields[0]} {stat[stat.find('(') + 1 : stat.rfind(')')]}")
    return found


def wait_for(child: subprocess.Popen, condition, what: str, timeout: float = 60.0):
    """The first true value of condition(), polled while `child` runs."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = condition()
        if found:
            return found
        if child.poll() is not None:
            raise AssertionError(
                f"the command ended ({child.returncode}) before {what}: {child.stderr.read()[-2000:]}"
            )
        time.sleep(0.005)
    raise AssertionError(f"no {what} within {timeout} s")


def wait_empty(sid: int, live_only: bool = False, timeout: float = 5.0) -> list[str]:
    end = time.monotonic() + timeout
    while (left := session(sid, live_only)) and time.monotonic() < end:
        time.sleep(0.02)
    return left


def start(args: list[str], **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(PIPELINE), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=command_env(**env),
        start_new_session=True,
    )


def send(child: subprocess.Popen, signum: int) -> None:
    """SIGINT as a terminal sends it, to the whole process group; any other signal to the command alone."""
    if signum == signal.SIGINT:
        os.killpg(child.pid, signum)
    else:
        child.send_signal(signum)


@pytest.fixture
def sessions():
    """Started children; whatever is left of their sessions is killed after the test, passed or failed."""
    started: list[subprocess.Popen] = []
    yield started
    for child in started:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        child.wait()


def reach(child: subprocess.Popen, phase: str, out: Path | None) -> None:
    """Return once the command is in `phase`: "sources" and "annotations" are the two sets of workers
    of a read, "writing" is a publish writing beside --out after them."""
    assert parallel.workers() >= 2, "a corpus is read by workers only on 2 CPUs or more"
    first = wait_for(child, lambda: children(child.pid), "workers reading the sources")
    if phase == "sources":
        return
    wait_for(child, lambda: children(child.pid) - first, "workers reading the annotations")
    if phase == "writing":
        wait_for(
            child,
            lambda: [p for p in out.parent.iterdir() if p.is_dir() and p.name in beside(out)],
            "a folder being written beside --out",
        )


def assert_ended_cleanly(child: subprocess.Popen, signum: int) -> None:
    stdout, stderr = child.communicate(timeout=60)
    assert (child.returncode, stderr, stdout) == (*ENDED[signum], "")
    assert wait_empty(child.pid) == [], "processes of the command outlived it"


# ---- a corpus read by workers ----

LARGE = [
    ("check", "sources", signal.SIGINT),
    ("check", "annotations", signal.SIGTERM),
    ("coverage", "annotations", signal.SIGINT),
    ("publish", "sources", signal.SIGTERM),
    ("publish", "annotations", signal.SIGINT),
    ("publish", "writing", signal.SIGINT),
    ("publish", "writing", signal.SIGTERM),
]


@pytest.mark.parametrize(
    "command, phase, signum", LARGE, ids=[f"{c}-{p}-{s.name}" for c, p, s in LARGE]
)
def test_signal_while_workers_read_ends_the_command_cleanly(
    command, phase, signum, world, tmp_path, sessions
):
    out = copy_package(world["package"], tmp_path / "datapackage")
    args = [command, "--seeds", str(world["corpus"])] + (
        ["--out", str(out)] if command == "publish" else []
    )
    child = start(args)
    sessions.append(child)
    reach(child, phase, out)
    send(child, signum)
    assert_ended_cleanly(child, signum)
    assert tree(out) == world["package_tree"]
    assert beside(out) == (
        world["beside"] if command == "publish" else []
    )  # what a completed publish leaves
    assert tree(world["corpus"]) == world["corpus_tree"]


def test_workers_die_with_a_killed_command(world, sessions):
    """SIGKILL cannot be handled: the kernel ends the workers, which print nothing and wait for no one."""
    child = start(["check", "--seeds", str(world["corpus"])])
    sessions.append(child)
    reach(child, "annotations", None)
    time.sleep(
        0.3
    )  # the workers are in the middle of their runs; orphaned, they would fail to send their rows back
    child.send_signal(signal.SIGKILL)
    stdout, stderr = child.communicate(timeout=30)  # orphaned workers would hold the pipes open
    assert (child.returncode, stderr, stdout) == (-signal.SIGKILL, "", "")
    assert (
        wait_empty(child.pid, live_only=True) == []
    )  # dead workers may wait a moment for init to reap them


# ---- a corpus read in one process ----

SMALL = [
    ("check", signal.SIGINT),
    ("check", signal.SIGTERM),
    ("report", signal.SIGINT),
    ("report", signal.SIGTERM),
]


@pytest.mark.parametrize("command, signum", SMALL, ids=[f"{c}-{s.name}" for c, s in SMALL])
def test_signal_while_one_process_reads_ends_the_command_cleanly(
    command, signum, world, tmp_path, sessions
):
    args = [command, "--seeds", str(BASE_SEEDS)]
    if command == "report":
        args += ["--package", str(world["package"]), "--out", str(tmp_path / "report")]
    child = start(args, PIPELINE_TEST_PAUSE_AT="started")
    sessions.append(child)
    _, status = os.waitpid(child.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), "the command did not stop at the start"
    child.send_signal(signal.SIGCONT)
    time.sleep(SMALL_DELAY)
    send(child, signum)
    assert_ended_cleanly(child, signum)
    assert (tree(BASE_SEEDS), tree(world["package"])) == (
        world["seeds_tree"],
        world["package_tree"],
    )


# ---- in this process: the handling, the pool's workers ----


@pytest.mark.parametrize(
    "raised, code, line",
    [(KeyboardInterrupt(), 130, "interrupted\n"), (cli.Terminated(), 143, "terminated\n")],
    ids=["KeyboardInterrupt", "Terminated"],
)
def test_interrupt_inside_a_command_is_one_line_and_its_exit_code(raised, code, line, monkeypatch):
    def stopped(seeds, *options, **named):
        raise raised

    monkeypatch.setattr("pipeline.check.run.check_seeds", stopped)
    result = CliRunner().invoke(cli.app, ["check", "--seeds", str(BASE_SEEDS)])
    assert (result.exit_code, result.output) == (code, line)


def test_terminated_is_the_exit_status_of_sigterm():
    assert isinstance(cli.Terminated(), SystemExit) and cli.Terminated().code == 143


OK_LINE = "ok: 1 sources, 1 count_conventions, 2 actors, 1 places, 1 events, 2 statements, 1 casualty_reports, 7 evidence\n"


@pytest.mark.parametrize(
    "lost, output",
    [("turned into an ImportError", "terminated\n"), ("swallowed", OK_LINE + "terminated\n")],
    ids=["converted", "swallowed"],
)
def test_a_signal_whose_exception_was_lost_still_ends_the_command_as_stopped(
    lost, output, monkeypatch
):
    from pipeline.check import run

    real = run.check_seeds

    def stopped(seeds, *options, **named):
        monkeypatch.setattr(cli._Stop, "signum", signal.SIGTERM)  # as the handler records it
        if lost == "swallowed":
            return real(seeds, *options, **named)
        raise ImportError('PyCapsule_Import could not import module "pandas"')

    monkeypatch.setattr(run, "check_seeds", stopped)
    result = CliRunner().invoke(cli.app, ["check", "--seeds", str(BASE_SEEDS)])
    assert (result.exit_code, result.output) == (143, output)


FRAGILE = """
import sys
from pipeline import cli

seen = []


class Finalised:
    def __del__(self):
        seen.append(("__del__", cli._fragile(sys._getframe())))


class Watch:  # asked first for every module imported from now on; finds none itself
    def find_spec(self, name, path=None, target=None):
        seen.append((name, cli._fragile(sys._getframe())))


Finalised()
assert "_decimal" not in sys.modules, "_decimal must initialise here, in this import"
del sys.modules["numbers"]  # so that _decimal, initialising, imports it
sys.meta_path.insert(0, Watch())
import _decimal
seen.append(("script", cli._fragile(sys._getframe())))
print(seen)
"""


def test_a_signal_waits_while_an_exception_could_be_lost():
    """Inside __del__, and inside what an extension module imports as it initialises, the handler holds the
    exception back; anywhere else, an import being looked up included, it raises it. In a fresh interpreter,
    where _decimal is not yet initialised."""
    done = subprocess.run(
        [sys.executable, "-c", FRAGILE], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert (
        done.stdout
        == "[('__del__', True), ('_decimal', False), ('numbers', True), ('script', False)]\n"
    )


@pytest.mark.parametrize(
    ("name", "filename", "fragile"),
    [
        ("cb", "<frozen importlib._bootstrap>", True),  # the import lock's weakref callback
        ("cb", "script.py", False),
        ("_find_and_load", "<frozen importlib._bootstrap>", False),  # an import looked up
    ],
)
def test_the_import_locks_weakref_callback_is_fragile(name: str, filename: str, fragile: bool):
    """An exception raised in it is printed as "Exception ignored in" and lost (met under load
    when SIGTERM came during an import): the handler holds it back there, and only there."""
    namespace: dict = {}
    exec(
        compile(f"import sys\ndef {name}():\n    return sys._getframe()\n", filename, "exec"),
        namespace,
    )
    assert cli._fragile(namespace[name]()) is fragile


def _worker_state(_) -> tuple:
    import ctypes

    death_signal = ctypes.c_int()
    ctypes.CDLL(None).prctl(2, ctypes.byref(death_signal))  # PR_GET_PDEATHSIG
    return (
        signal.getsignal(signal.SIGINT),
        signal.getsignal(signal.SIGTERM),
        signal.pthread_sigmask(signal.SIG_BLOCK, []),
        death_signal.value,
    )


def test_workers_ignore_ctrl_c_end_on_sigterm_and_die_with_the_parent():
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    with parallel.worker_pool(2) as pool:
        states = pool.map(_worker_state, range(4), chunksize=1)
    assert states == [(signal.SIG_IGN, signal.SIG_DFL, set(), signal.SIGKILL)] * 4
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == mask
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("raised", [KeyboardInterrupt, SystemExit, RuntimeError])
def test_the_pool_is_terminated_and_joined_however_the_block_ends(raised):
    with pytest.raises(raised):
        with parallel.worker_pool(2) as pool:
            pool.map_async(
                time.sleep, [30, 30]
            )  # both workers busy: only terminating them ends the block soon
            raise raised()
    assert multiprocessing.active_children() == []


def test_a_failing_worker_is_reported_on_one_line(world, monkeypatch):
    def broken(*args):
        raise RuntimeError("worker failed")

    monkeypatch.setattr(parallel, "add_record_rows", broken)  # the forked workers inherit the patch
    result = CliRunner().invoke(cli.app, ["check", "--seeds", str(world["corpus"])])
    assert (result.exit_code, result.output) == (
        1,
        "error: unexpected RuntimeError: worker failed (set PIPELINE_DEBUG=1 for the traceback)\n",
    )
    assert multiprocessing.active_children() == []


# ---- Ctrl-C in a terminal, while the progress bar is drawn ----


def test_ctrl_c_under_the_progress_bar_leaves_the_terminal_clean(world, tmp_path):
    """In a pseudo-terminal: once a frame of the bar has come, SIGINT to the process group (as
    Ctrl-C sends it) erases the bar, shows the cursor again and prints `interrupted` on its own
    line; the package is as it was."""
    from test_progress import HIDE, SHOW, read_terminal, start_in_terminal

    out = copy_package(world["package"], tmp_path / "datapackage")
    child, terminal = start_in_terminal(
        ["publish", "--seeds", str(world["corpus"]), "--out", str(out)]
    )
    try:
        frame = read_terminal(terminal, child, until="reading annotations")
        assert HIDE in frame, frame
        os.killpg(child.pid, signal.SIGINT)
        shown = frame + read_terminal(terminal, child)
        code = child.wait(timeout=60)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    assert code == 130
    assert "Traceback" not in shown
    assert shown.rfind(SHOW) > shown.rfind(HIDE)
    # the bar's line erased (\x1b[2K), then the one line
    assert shown.endswith("\x1b[2Kinterrupted\r\n"), shown[-300:]
    assert tree(out) == world["package_tree"]
    assert beside(out) == world["beside"]
    assert wait_empty(child.pid) == [], "processes of the command outlived it"
