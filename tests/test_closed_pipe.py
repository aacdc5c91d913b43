"""Output into a pipe whose reader has gone: the command ends quietly, never with a traceback.
Help and version exit 0 (they are complete whatever is read of them); a command exits 141, as a
shell reports a tool that SIGPIPE ended, so that `set -o pipefail` sees it did not finish."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import installed


def run_into_closed_pipe(args: list[str]) -> tuple[int, str]:
    """Exit code and stderr of `pipeline ARGS` writing into a pipe whose read end is closed: what
    `pipeline ARGS | head -1` meets once head has read its line and gone, whatever the timing."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [str(installed("pipeline")), *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "COLUMNS": "80"},
        )
    finally:
        os.close(write_end)
    return done.returncode, done.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--help"], 0),
        (["coverage", "--help"], 0),
        (["publish", "--help"], 0),
        (["--version"], 0),
        (["annotation-schema"], 141),
        (["diff", "{package}", "{package}"], 141),
    ],
    ids=["help", "coverage-help", "publish-help", "version", "annotation-schema", "diff"],
)
def test_closed_pipe_ends_quietly(args: list[str], code: int, published_minimal: Path):
    args = [arg.format(package=published_minimal) for arg in args]
    assert run_into_closed_pipe(args) == (code, "")
