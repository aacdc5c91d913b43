"""The `pipeline` command: each subcommand parses its options, calls one library function and
prints what it returns.

Every command ends the same way (`exit_policy`): 0 success; 1 invalid input, every problem
printed, file:line first; 2 usage error, or a package that cannot be read; 130 interrupted
(SIGINT, Ctrl-C); 143 terminated (SIGTERM). Any other exception is a fault: one line, exit 1.
`pipeline --help` lists these codes (EXIT_CODES). Heavy libraries are imported inside commands to
keep start-up fast: `--help`, `--version` and shell completion import only what declaring the
options needs (the problem vocabulary and the validator's error limit).

Interrupts are handled there too: SIGINT raises KeyboardInterrupt and SIGTERM raises Terminated
(a SystemExit with code 143) in the main thread, so `finally` blocks on the way out release
locks and remove temporary folders; the command then prints one line ("interrupted",
"terminated") and exits. Later signals are ignored, so that clean-up runs to its end; SIGKILL
still ends it. A signal arriving where its exception could be lost (an extension module
initialising, a __del__) is raised a moment later.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from importlib.machinery import ExtensionFileLoader
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import typer
import typer.core
from typer.core import TyperOption
from typer.models import CommandFunctionType

from pipeline.contract.problems import InputError, Problem, printable, printable_lines
from pipeline.validate.errors import MAX_ERRORS

if TYPE_CHECKING:  # the stages are imported by the commands that use them
    from pipeline.check.coverage import Sentence
    from pipeline.progress import Progress
    from pipeline.publish import Published

_EXTENSION_INIT = {
    ExtensionFileLoader.create_module.__code__,
    ExtensionFileLoader.exec_module.__code__,
}
STOPS: dict[int, tuple[str, int]] = {
    signal.SIGINT: ("interrupted", 130),
    signal.SIGTERM: ("terminated", 143),
}  # line printed, exit code
# A command whose output the reader of a pipe stopped reading (`pipeline diff a b | head -1`) ends
# quietly with the code a shell gives a tool that SIGPIPE ended (128 + 13), so that a script with
# `set -o pipefail` does not take an unfinished command for a finished one. Its help and version,
# which are complete whatever is read of them, exit 0.
CLOSED_PIPE = 128 + signal.SIGPIPE
# A package that cannot be read exits 2, as `validate` and `diff` say; `release` exits 1, as for the
# other faults of the package it is asked to zip.
PACKAGE_ERROR_EXITS = {"release": 1}
SCHEDULER_EXIT = 3  # pipeline.build.cluster.SchedulerError: the cluster failed, not the input
# The end of `pipeline --help`: one code a line, as README's "Exit codes" says.
EXIT_CODES = "\n".join(
    [
        "Exit codes:",
        "0    ok",
        "1    invalid input (every problem printed), or a fault no command foresaw;",
        "     diff: the packages differ; coverage: a sentence is unexplained",
        "2    usage error, or a package that cannot be read (release exits "
        f"{PACKAGE_ERROR_EXITS['release']})",
        f"{SCHEDULER_EXIT}    check, publish --scheduler: the Dask scheduler cannot be reached,",
        "     or a worker was lost",
        *sorted(
            [
                *(
                    f"{code}  {message} ({signal.Signals(signum).name})"
                    for signum, (message, code) in STOPS.items()
                ),
                f"{CLOSED_PIPE}  output cut off: the reader of its pipe stopped reading "
                "(nothing printed)",
            ]
        ),
    ]
)
DISTRIBUTION = "karabakh-news-events"  # the name pyproject.toml installs the package under


class Terminated(SystemExit):
    """SIGTERM as an exception: exit status 143 (128 + 15), as a shell reports a process ended by
    SIGTERM."""

    def __init__(self) -> None:
        super().__init__(128 + signal.SIGTERM)


class _Stop:
    """The signal stopping the command (None until one comes); whether its exception waits to be
    raised."""

    signum: int | None = None
    deferred = False
    line_clean = False  # a progress bar was erased as the command ended: the cursor starts a line


def _stop(signum: int, frame: FrameType | None) -> None:
    """Signal handler: the first SIGINT or SIGTERM raises KeyboardInterrupt or Terminated; later
    ones are ignored."""
    if _Stop.signum is not None and not _Stop.deferred:
        return
    _Stop.signum = _Stop.signum or signum
    _Stop.deferred = _fragile(frame)
    if _Stop.deferred:
        # the same signal again in a moment, to the main thread (Python runs handlers there)
        retry = threading.Timer(
            0.02, signal.pthread_kill, (threading.main_thread().ident, _Stop.signum)
        )
        retry.daemon = True
        retry.start()
        return
    raise KeyboardInterrupt if _Stop.signum == signal.SIGINT else Terminated()


def _fragile(frame: FrameType | None) -> bool:
    """Whether an exception raised at `frame` could be lost: while an extension module
    initialises, its C code may turn the exception into an ImportError (measured: pandas' do) that
    a fallback then swallows; in __del__, and in the weakref callbacks of the import machinery
    (`_get_module_lock.<locals>.cb`, met under load), Python prints it and goes on."""
    while frame is not None:
        code = frame.f_code
        if code in _EXTENSION_INIT or code.co_name == "__del__":
            return True
        if code.co_name == "cb" and code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _stopped(signum: int) -> typer.Exit:
    """Print the one line saying how the command was stopped; return the exit to raise."""
    message, code = STOPS[signum]
    if signum == signal.SIGINT and sys.stderr.isatty() and not _Stop.line_clean:
        message = "\n" + message  # the terminal has echoed ^C on the current line
    typer.echo(message, err=True)
    return typer.Exit(code)


@contextmanager
def exit_policy(ctx: typer.Context) -> Iterator[None]:
    """How every command ends: its message and exit code, whatever stopped it.

    An error a library function raises on purpose prints its message and exits with its code
    (`_explained`); a fault no command foresaw prints one line, not a traceback, and exits 1. A
    stopped command, once every `finally` block the signal's exception passed through has run,
    prints one line too, even if code on the way turned that exception into another, or
    swallowed it and ran on.
    """
    try:
        with _explained(ctx):
            yield
    except KeyboardInterrupt:
        raise _stopped(signal.SIGINT) from None
    except BrokenPipeError:
        _discard_output()
        raise typer.Exit(CLOSED_PIPE) from None
    except Terminated:
        raise _stopped(signal.SIGTERM) from None
    except (typer.Exit, typer.Abort, typer.TyperException):
        if _Stop.signum is not None:
            raise _stopped(_Stop.signum) from None
        raise
    except Exception as exc:
        if _Stop.signum is not None:
            raise _stopped(_Stop.signum) from None
        if os.environ.get("PIPELINE_DEBUG"):
            raise
        detail = " ".join(str(exc).split())[:300] or "no details"
        say(
            f"error: unexpected {type(exc).__name__}: {detail} "
            "(set PIPELINE_DEBUG=1 for the traceback)"
        )
        raise typer.Exit(1) from None
    if _Stop.signum is not None:
        raise _stopped(_Stop.signum)


@contextmanager
def _explained(ctx: typer.Context) -> Iterator[None]:
    """The errors library functions raise on purpose, as their message and exit code: problems
    with the input (1, or 2 when there is no package to read at all), a bump lower than the
    changes require (2), a publish refused (its own code), a Dask cluster that failed
    (SCHEDULER_EXIT), a package that cannot be read (2, or per command in PACKAGE_ERROR_EXITS)."""
    try:
        yield
    except InputError as exc:
        show_problems(exc.problems)
        unreadable = _raised(exc, "pipeline.report.site", "UnreadablePackage")
        raise typer.Exit(2 if unreadable else 1) from None
    except Exception as exc:
        if _raised(exc, "pipeline.package.versions", "BumpError"):
            say(f"error: {exc}")
            raise typer.Exit(2) from None
        if _raised(exc, "pipeline.package.atomic", "Refused"):
            say(str(exc))
            raise typer.Exit(getattr(exc, "code", 2)) from None
        if _raised(exc, "pipeline.build.cluster", "SchedulerError"):
            say(f"error: {exc}")
            raise typer.Exit(SCHEDULER_EXIT) from None
        if _raised(exc, "pipeline.package.reader", "PackageError"):
            say(f"error: {exc}")
            code = PACKAGE_ERROR_EXITS.get(ctx.invoked_subcommand or "", 2)
            raise typer.Exit(code) from None
        raise


def _discard_output() -> None:
    """Point stdout at /dev/null once its reader has gone, so that nothing written later (Python
    flushes stdout as it exits) fails again: Python's documented way (the note on SIGPIPE in the
    `signal` module)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


@contextmanager
def _complete_whatever_is_read(ctx: Any) -> Iterator[None]:
    """Help or version text into a pipe whose reader has gone (`pipeline --help | head -1`): exit
    0, quietly, as other tools do. Rich, which prints the help, points stdout at /dev/null itself
    and raises SystemExit(1) (Console.on_broken_pipe): no other SystemExit can come from printing
    a text."""
    try:
        yield
    except BrokenPipeError:
        _discard_output()
        ctx.exit(0)
    except SystemExit as exc:
        if exc.code != 1:
            raise
        ctx.exit(0)


def _raised(exc: Exception, module: str, name: str) -> bool:
    """Whether `exc` is a `module`.`name`, asked without importing the module (commands import
    their stages lazily): a module no command has imported raised nothing."""
    kind = getattr(sys.modules.get(module), name, None)
    return isinstance(kind, type) and isinstance(exc, kind)


def _shown_as_flags(params: list[Any]) -> list[Any]:
    """`params`, with each on/off option shown in help as a plain flag. Typer's rich help panel
    labels every option with its type, `<bool>` included, although such an option takes no value
    (its plain-text help already leaves the type out); an empty metavar leaves the label empty."""
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
    return params


class _Guarded(typer.core.TyperGroup):
    """Every command runs under `exit_policy`; flags are shown as flags."""

    def invoke(self, ctx) -> Any:  # ctx untyped: Typer does not export its click's Context
        with exit_policy(ctx):
            if os.environ.get("PIPELINE_TEST_PAUSE_AT") == "started":
                # tests: a signal sent now lands in the command
                os.kill(os.getpid(), signal.SIGSTOP)
            return super().invoke(ctx)

    def get_params(self, ctx) -> list[Any]:
        return _shown_as_flags(super().get_params(ctx))

    def format_help(self, ctx, formatter) -> None:
        with _complete_whatever_is_read(ctx):
            super().format_help(ctx, formatter)


class _Command(typer.core.TyperCommand):
    """A subcommand: flags are shown as flags."""

    def get_params(self, ctx) -> list[Any]:
        return _shown_as_flags(super().get_params(ctx))

    def format_help(self, ctx, formatter) -> None:
        with _complete_whatever_is_read(ctx):
            super().format_help(ctx, formatter)


class _App(typer.Typer):
    """The Typer app whose every subcommand is a `_Command`."""

    def command(
        self, *args: Any, **kwargs: Any
    ) -> Callable[[CommandFunctionType], CommandFunctionType]:
        return super().command(*args, cls=_Command, **kwargs)


app = _App(
    cls=_Guarded,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Hand-annotated news articles -> validated tables -> versioned data package.",
    epilog=EXIT_CODES,
)

PACKAGE = Path("datapackage")
SEEDS = typer.Option(Path("seeds"), "--seeds", help="Folder of sources and annotations.")
OUT = typer.Option(PACKAGE, "--out", help="Folder of the published package.")
AS_JSON = typer.Option(False, "--json", help="Machine-readable output.")
QUIET = typer.Option(
    False,
    "--quiet",
    "-q",
    help="No progress bar (shown on stderr when it is a terminal and the work lasts over a second, "
    "unless CI is set; PIPELINE_PROGRESS=1 forces it, 0 hides it) and no note that publish waits "
    "for a lock. Results, warnings and problems are still printed.",
)
NO_CACHE = typer.Option(
    False,
    "--no-cache",
    help="Read every annotation file again; neither read nor write the per-file cache "
    "($PIPELINE_CACHE_DIR, else $XDG_CACHE_HOME/karabakh-pipeline).",
)

SCHEDULER = typer.Option(
    "local",
    "--scheduler",
    metavar="local|dask|ADDRESS",
    help="Where the annotation files are read and checked: local (this machine's cores), dask (a "
    "Dask cluster of worker processes on this machine, started and stopped by the command) or "
    "the address of a running Dask scheduler, tcp://HOST:PORT, whose workers run this version "
    "and see --seeds at the same path. The checks across files run here; the results are the "
    "same. Exit 3 when the scheduler cannot be reached or a worker is lost.",
)


def _scheduler(value: str) -> str:
    """--scheduler as given, or a usage error (exit 2) naming what it accepts."""
    from pipeline.build.cluster import scheduler_problem

    problem = scheduler_problem(value)
    if problem is not None:
        raise typer.BadParameter(problem, param_hint="--scheduler")
    return value


def _show_version(ctx: typer.Context, shown: bool) -> None:
    """`--version`: print `pipeline <version>`, as installed, and exit 0."""
    if shown:
        from importlib.metadata import version

        with _complete_whatever_is_read(ctx):
            typer.echo(f"pipeline {version(DISTRIBUTION)}")
        raise typer.Exit()


@app.callback()
def options(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_show_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Options of `pipeline` itself, before the command."""


@contextmanager
def progress_shown(quiet: bool) -> Iterator[Progress | None]:
    """What the library is told to report its progress to: the terminal's progress bar, or None
    (silent) with --quiet, off a terminal, or in CI (pipeline.progress.wanted)."""
    from pipeline.progress import Display, wanted

    _Stop.line_clean = False
    if not wanted(quiet):
        yield None
        return
    display = Display()
    try:
        with display:
            yield display
    finally:
        _Stop.line_clean = display.cleared


def say(line: str) -> None:
    """One line for people on stderr, with control characters from the data escaped."""
    typer.echo(printable(line), err=True)


def show_problems(problems: list[Problem]) -> None:
    """Every problem, one a line, then how many, on stderr."""
    for problem in problems:
        say(str(problem))
    typer.echo(f"{len(problems)} problem(s) found.", err=True)


def fail(problems: list[Problem], as_json: bool = False) -> None:
    """Print problems and exit 1: for people with data's control characters escaped, as JSON
    exactly."""
    if as_json:
        typer.echo(
            json.dumps({"valid": False, "problems": [p.to_dict() for p in problems]}, indent=2)
        )
    else:
        show_problems(problems)
    raise typer.Exit(1)


@app.command()
def ingest(
    file: Path = typer.Argument(..., help="The article text to add."),
    publisher: str = typer.Option(..., "--publisher", help="Outlet that published the article."),
    title: str | None = typer.Option(
        None, "--title", help="Headline; defaults to the first line of the text."
    ),
    published: str | None = typer.Option(None, "--published", help="Publication date, yyyy-mm-dd."),
    basis: str | None = typer.Option(
        None, "--basis", help="How the publication date was established."
    ),
    source_id: str | None = typer.Option(
        None, "--id", help="Source id; defaults to a slug of the file name."
    ),
    language: str = typer.Option("en", "--language", help="ISO 639-1 language code."),
    url: str | None = typer.Option(None, "--url", help="Address of the article."),
    seeds: Path = SEEDS,
) -> None:
    """Add an article to seeds/: normalised text, metadata and an empty annotation file."""
    from pipeline.load.ingest import ingest as run

    done = run(
        file,
        seeds,
        publisher=publisher,
        title=title,
        published=published,
        published_basis=basis,
        source_id=source_id,
        language=language,
        url=url,
    )
    for change in done.changes:
        typer.echo(printable(f"normalised: {change}"))
    typer.echo(
        printable(f"ingested {done.source_id} (sha256 {done.sha256[:12]}) into {done.folder}")
    )
    typer.echo(
        printable(
            f"next: fill in {done.folder / 'source.yaml'} "
            f"and annotate {done.folder / 'annotations.yaml'}"
        )
    )


@app.command(
    help="Validate seeds/: structure, evidence, schemas, keys and domain rules; report every "
    "problem."
)
def check(
    seeds: Path = SEEDS,
    as_json: bool = AS_JSON,
    no_cache: bool = NO_CACHE,
    watch: bool = typer.Option(
        False,
        "--watch",
        help="Check again whenever a file under --seeds is saved and print the problems fixed "
        "and new; Ctrl-C ends it (exit 130).",
    ),
    quiet: bool = QUIET,
    scheduler: str = SCHEDULER,
) -> None:
    from pipeline.check.run import check_seeds

    scheduler = _scheduler(scheduler)
    if watch and seeds.is_dir():  # else the check below says the folder is not there
        if scheduler != "local":
            say("error: --watch checks again in this process; it cannot take --scheduler")
            raise typer.Exit(2)
        _watch(seeds, no_cache, as_json)
    with progress_shown(quiet) as shown:
        checked = check_seeds(
            seeds, shown, use_cache=not no_cache, note=say, scheduler=scheduler, tables=False
        )
    if checked.problems:
        fail(checked.problems, as_json)
    counts = checked.counts()
    if as_json:
        typer.echo(json.dumps({"valid": True, "problems": [], "rows": counts}, indent=2))
    else:
        typer.echo("ok: " + ", ".join(f"{n} {table}" for table, n in counts.items()))


def _watch(seeds: Path, no_cache: bool, as_json: bool) -> None:
    """check --watch: runs until Ctrl-C, which exit_policy turns into `interrupted` and 130."""
    from pipeline.check.watch import watch

    if as_json:
        say("error: --watch prints changes for people; it cannot be combined with --json")
        raise typer.Exit(2)

    def show(lines: list[str]) -> None:
        for line in lines:
            typer.echo(line)
        sys.stdout.flush()  # a pipe would otherwise hold the report back

    watch(seeds, show, not no_cache, note=say)


class PartitionBy(StrEnum):
    """publish --partition-by: the choices of pipeline.package.writer.PARTITIONS."""

    source = "source"


@app.command(
    help="Check seeds/, build every table and publish the package atomically into datapackage/.\n"
    "\n"
    "Exit 0: published or unchanged.\n"
    "Exit 1: invalid seeds, a data change without its reason in seeds/changes.yaml, or the lock "
    "still held by another publish after --wait.\n"
    "Exit 2: usage error, an --out that is not a package publish wrote, or an unreadable "
    "published package."
)
def publish(
    seeds: Path = SEEDS,
    out: Path = OUT,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the diff and the version bump; write nothing."
    ),
    bump: str | None = typer.Option(
        None,
        "--bump",
        metavar="major|minor|patch",
        help="Raise the bump the changes require (never lower it).",
    ),
    wait: float | None = typer.Option(
        None,
        "--wait",
        min=0,
        metavar="SECONDS",
        help="Seconds to wait for another publish of the same folder to finish (default 120).",
    ),
    history_from: list[str] = typer.Option(
        [],
        "--history-from",
        metavar="PACKAGE",
        help="An earlier release (folder, zip or git:REV), oldest first, to seed the history of a "
        "package published before its changes table was kept. Repeat for each.",
    ),
    no_cache: bool = NO_CACHE,
    quiet: bool = QUIET,
    scheduler: str = SCHEDULER,
    partition_by: PartitionBy | None = typer.Option(
        None,
        "--partition-by",
        help="Write the Parquet twin of each table with that column (source: evidence and "
        "sources, by source_id) as one part file per value, data/<table>/part-<value>.parquet.",
    ),
) -> None:
    from pipeline.publish import publish as run

    scheduler = _scheduler(scheduler)
    with progress_shown(quiet) as shown:
        result = run(
            seeds,
            out,
            bump=bump,
            dry=dry_run,
            wait=wait,
            notify=None if quiet else lambda note: typer.echo(note, err=True),
            progress=shown,
            history_from=tuple(history_from),
            use_cache=not no_cache,
            note=say,
            scheduler=scheduler,
            partition_by=partition_by.value if partition_by else None,
        )
    if dry_run:
        typer.echo(printable_lines(result.report or ""), nl=False)
    for note in result.notes:
        say(note)
    typer.echo(_published_line(result, out, dry_run))
    for warning in result.warnings:
        say(f"warning: {warning}")


def _published_line(result: Published, out: Path, dry_run: bool) -> str:
    """What publish did, or would do: the version, and the kind of release when it changed."""
    level = f" ({result.level} release)" if result.level else ""
    if dry_run and result.changed:
        return f"dry run: would publish {out} version {result.version}{level}; nothing written"
    if dry_run:
        return f"dry run: {out} would stay at version {result.version}; nothing written"
    if result.changed:
        return f"published {out} version {result.version}{level}"
    return f"unchanged: {out} stays at version {result.version}"


@app.command(
    help="List, per source, the sentences no evidence touches; exit 1 if any is unexplained.\n"
    "\n"
    "Exit 0: every sentence is covered by evidence or excluded with a reason.\n"
    "Exit 1: a sentence is unexplained, or the seeds have a problem (printed first, as check "
    "prints it).\n"
    "Exit 2: usage error."
)
def coverage(
    seeds: Path = SEEDS,
    show_all: bool = typer.Option(False, "--all", help="Also list excluded sentences."),
    as_json: bool = AS_JSON,
    no_cache: bool = NO_CACHE,
) -> None:
    from pipeline.check.coverage import classify
    from pipeline.check.run import check_seeds

    checked = check_seeds(seeds, use_cache=not no_cache, note=say, tables=False)
    for problem in checked.problems:  # else a file that cannot be read would just look unannotated
        say(str(problem))
    sentences = list(classify(checked.corpus, checked.evidence_spans(), checked.exclusions))
    if as_json:
        # ASCII JSON: every character kept exactly, as an escape where a terminal would act on it.
        typer.echo(json.dumps([s._asdict() for s in sentences if s.status != "covered"], indent=2))
    else:
        _show_sentences(sentences, show_all)
    if checked.problems or any(s.status == "uncovered" for s in sentences):
        raise typer.Exit(1)


def _show_sentences(sentences: list[Sentence], show_all: bool) -> None:
    """The uncovered sentences (and the excluded ones, with `show_all`), then how many of each."""
    for s in sentences:
        if s.status == "uncovered" or (show_all and s.status == "excluded"):
            label = "UNCOVERED" if s.status == "uncovered" else f"excluded ({s.reason})"
            typer.echo(printable(f"{s.source_id}:{s.line}: {label}: {s.text}"))
    count = {
        status: sum(1 for s in sentences if s.status == status)
        for status in ("covered", "excluded", "uncovered")
    }
    typer.echo(
        f"{len(sentences)} sentences: {count['covered']} covered, {count['excluded']} excluded "
        f"with a reason, {count['uncovered']} unexplained"
    )


@app.command("annotation-schema")
def annotation_schema(
    check_only: bool = typer.Option(False, "--check", help="Fail if the file is out of date."),
) -> None:
    """Regenerate schemas/annotation.schema.json from the table schemas."""
    from pipeline.contract import schemas

    path, wanted = schemas.ANNOTATION_SCHEMA_FILE, schemas.annotation_json_schema_text()
    if not check_only:
        path.write_text(wanted, encoding="utf-8")
        typer.echo(f"wrote {path}")
    elif path.is_file() and path.read_text(encoding="utf-8") == wanted:
        typer.echo(f"{path} is up to date")
    else:
        typer.echo(f"{path} is out of date; run 'pipeline annotation-schema'", err=True)
        raise typer.Exit(1)


# -- commands: versions (diff, release) --


@app.command(
    help="Compare two packages: schema changes, rows added, removed and changed, the bump; exit 1 "
    "if they differ."
)
def diff(
    old: str = typer.Argument(
        ...,
        help="Old package: folder, datapackage.json, release zip or git:REV; or PACKAGE@x.y.z, "
        "a release the package records (no git needed).",
    ),
    new: str = typer.Argument(..., help="New package: folder, datapackage.json, zip or git:REV."),
    as_json: bool = AS_JSON,
) -> None:
    from pipeline.package import lineage
    from pipeline.package.diff import diff_specs, render_text, to_dict

    if lineage.split_spec(old) is not None and not Path(old).exists():
        since = lineage.diff_since(old, new)
        shown, identical = (
            (lineage.since_to_dict(since), lineage.render_since(since)),
            since.identical,
        )
    else:
        result = diff_specs(old, new)
        shown, identical = (to_dict(result), render_text(result)), result.identical
    if as_json:
        typer.echo(json.dumps(shown[0], indent=2, ensure_ascii=False))
    else:
        typer.echo(printable_lines(shown[1]), nl=False)
    raise typer.Exit(0 if identical else 1)


@app.command(
    help="Print the story of one row: one line per release that added, corrected or removed it, "
    "with the reason.\n"
    "\n"
    "Exit 2: an id the changes table does not hold, or a package without a changes table."
)
def history(
    record_id: str = typer.Argument(..., metavar="ID", help="The row's id (primary key)."),
    table: str | None = typer.Option(
        None, "--table", help="The data table, when the id is in more than one."
    ),
    package: str = typer.Option(
        str(PACKAGE), "--package", help="Package: folder, datapackage.json, zip or git:REV."
    ),
) -> None:
    from pipeline.package.lineage import row_history

    for line in row_history(package, record_id, table):
        typer.echo(printable(line))


@app.command()
def release(
    package: Path = typer.Option(PACKAGE, "--package", help="Folder of the published package."),
    out: Path = typer.Option(Path("dist"), "--out", help="Folder for the zip and its .sha256."),
) -> None:
    """Zip the package reproducibly as dist/<name>-<version>.zip, with its sha256 beside it."""
    from pipeline.release import build_release

    done = build_release(package, out)
    typer.echo(f"wrote {done.archive} and {done.checksum} (sha256 {done.sha256})")


@app.command(
    help="Write the package as a SQLite database with its Datasette metadata, into dist/.\n"
    "\n"
    "The files are <out>/<name>-<version>.db and .metadata.json, dots in the name and version "
    "written as underscores.\n"
    "\n"
    "Exit 1 when its rows break a key, 2 when it cannot be read or a file in the way was not "
    "written by this command."
)
def database(
    package: Path = typer.Option(PACKAGE, "--package", help="Folder of the published package."),
    out: Path = typer.Option(Path("dist"), "--out", help="Folder for the database and metadata."),
) -> None:
    from pipeline.package.database import build_database

    done = build_database(package, out)
    rows = sum(done.rows.values())
    typer.echo(f"wrote {done.path} ({len(done.rows)} tables, {rows} rows) and {done.metadata}")
    typer.echo(f"explore: datasette serve -i {done.path} -m {done.metadata}")


# -- commands: validate (validate) --


class Engine(StrEnum):
    """What checks a package's rows (pipeline.validate.run.ENGINES)."""

    arrow = "arrow"
    duckdb = "duckdb"
    spark = "spark"


MEMORY_LIMIT = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


def _check_memory_limit(engine: Engine, memory_limit: str) -> None:
    """A memory limit only for the duckdb and spark engines, and one DuckDB reads."""
    if engine is Engine.arrow:
        raise typer.BadParameter(
            "applies to --engine duckdb or spark only", param_hint="--memory-limit"
        )
    if not MEMORY_LIMIT.fullmatch(memory_limit.strip()):
        raise typer.BadParameter(
            f"{memory_limit!r} is not an amount of memory (write e.g. 512MB or 1GB)",
            param_hint="--memory-limit",
        )


@app.command()
def validate(
    path: Path = typer.Argument(
        PACKAGE, help="Package folder, its datapackage.json, or a release zip."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Machine-readable output (frictionless's report shape)."
    ),
    max_errors: int = typer.Option(
        MAX_ERRORS,
        "--max-errors",
        min=0,
        help="Errors to list per file (and for the package); the rest are counted.",
    ),
    parquet: bool = typer.Option(
        True,
        "--parquet/--no-parquet",
        help="Also check the Parquet twins (bytes, hash, types, same rows as the CSV).",
    ),
    engine: Engine = typer.Option(
        Engine.arrow,
        "--engine",
        help="What checks the rows: arrow (in memory), duckdb (SQL, out of core) or spark "
        "(Apache Spark, needs Java 17+).",
    ),
    memory_limit: str | None = typer.Option(
        None,
        "--memory-limit",
        metavar="SIZE",
        help="With --engine duckdb: the memory DuckDB may use, e.g. 1GB; beyond it, rows spill "
        "to a temporary folder removed afterwards. With --engine spark: the driver's heap "
        "(default 4GB).",
    ),
    spark_master: str | None = typer.Option(
        None,
        "--spark-master",
        metavar="URL",
        help="With --engine spark: where Spark runs, e.g. spark://host:7077 (default: local[*], "
        "this machine's cores).",
    ),
    quiet: bool = QUIET,
) -> None:
    """Validate a published package: schemas, keys, categories, hashes, CSV and Parquet twins."""
    from pipeline.validate.run import SparkOptions, validate_path

    if memory_limit is not None:
        _check_memory_limit(engine, memory_limit)
    if spark_master is not None and engine is not Engine.spark:
        raise typer.BadParameter("applies to --engine spark only", param_hint="--spark-master")
    spark = SparkOptions(master=spark_master)
    with progress_shown(quiet) as shown:
        report = validate_path(path, parquet, max_errors, shown, engine.value, memory_limit, spark)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        for line in report.lines():
            say(line)
        typer.echo(
            f"{report.total} error(s) found." if report.total else f"valid: {path}",
            err=bool(report.total),
        )
    raise typer.Exit(report.exit_code)


# -- commands: report (report) --


@app.command(
    help="Build the review report: a static HTML site of the package (texts, tables, charts, "
    "checks).\n"
    "\n"
    "Exit 1 when the package is malformed (every problem printed, nothing written), 2 when it "
    "cannot be read at all."
)
def report(
    package: Path = typer.Option(PACKAGE, "--package", help="Folder of the published package."),
    seeds: Path = SEEDS,
    out: Path = typer.Option(Path("report"), "--out", help="Folder to write the HTML report into."),
    quiet: bool = QUIET,
) -> None:
    from pipeline.report.site import build_report

    with progress_shown(quiet) as shown:
        pages = build_report(package, seeds, out, shown)
    typer.echo(f"wrote {len(pages)} pages to {out}; open {out / 'index.html'}")


def main() -> None:  # pragma: no cover - console script entry
    """The `pipeline` command, with SIGINT and SIGTERM turned into exceptions (see _stop)."""
    for signum in STOPS:
        # started with the signal ignored (nohup, `&`): keep it so
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _stop)
    try:
        app()
    finally:
        # the command has ended and says how: a signal now would only break Python's own exit
        for signum in STOPS:
            signal.signal(signum, signal.SIG_IGN)


if __name__ == "__main__":  # pragma: no cover
    main()
