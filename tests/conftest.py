"""Shared helpers: the project root, fixture folders, seeds assembled from a base plus overrides,
one package published from them for the whole run, the installed commands, and fingerprints of
folder trees."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
BASE_SEEDS = FIXTURES / "valid" / "minimal" / "seeds"
BIN = Path(sys.executable).parent  # the console scripts of the environment running the tests
PUBLISHED_EPOCH = "1601424000"  # 2020-09-30T00:00:00Z, the `created` of published_minimal


def installed(command: str) -> Path:
    """`command` as installed beside the Python running the tests; its absence fails the tests."""
    path = BIN / command
    assert path.is_file(), f"{path} is missing: these tests run the installed commands"
    return path


def frictionless_report(descriptor: Path) -> tuple[int, dict]:
    """The exit code and `--json` report of the installed `frictionless validate` of `descriptor`:
    the reference."""
    done = subprocess.run(
        [str(installed("frictionless")), "validate", "--json", str(descriptor)],
        capture_output=True,
        text=True,
    )
    return done.returncode, json.loads(done.stdout)


def assert_refused(result, code: int = 1, secret: str | None = None) -> None:
    """A CliRunner result refused with `code`: a located answer, never the last-resort guard or a
    traceback, and never `secret` (a file outside what the command was given) in its output."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    # the last-resort guard did not have to step in
    assert "unexpected" not in result.output, result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    if secret is not None:
        assert secret not in result.output


def assemble_case(case: Path, workdir: Path) -> Path:
    """seeds/ for an invalid case: the minimal valid seeds with the case's files laid over them.

    A case folder holds `seeds/...` files that replace or add to the base, an optional
    `delete.txt` of base paths to remove, and `expected.txt` with the exact problems.
    """
    seeds = workdir / "seeds"
    shutil.copytree(BASE_SEEDS, seeds, symlinks=True)
    delete = case / "delete.txt"
    if delete.is_file():
        for rel in delete.read_text().split():
            target = seeds / rel
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink()
    overlay = case / "seeds"
    if overlay.is_dir():
        for path in sorted(overlay.rglob("*")):
            rel = path.relative_to(overlay)
            if path.is_dir():
                (seeds / rel).mkdir(parents=True, exist_ok=True)
            else:
                (seeds / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, seeds / rel)
    return seeds


@pytest.fixture(scope="session", autouse=True)
def cache_in_tmp(tmp_path_factory) -> Iterator[Path]:
    """The per-file cache of every command the tests run (subprocesses too) goes to a temporary
    folder, never to the user's cache."""
    folder = tmp_path_factory.mktemp("pipeline-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIPELINE_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture
def minimal_seeds(tmp_path: Path, monkeypatch) -> Path:
    """A copy of the minimal seeds, tmp_path/seeds, with the test running in tmp_path: problems
    name their files from the current folder, so they read seeds/<source>/<file>."""
    seeds = tmp_path / "seeds"
    shutil.copytree(BASE_SEEDS, seeds)
    monkeypatch.chdir(tmp_path)
    return seeds


@pytest.fixture(scope="session")
def published_minimal(tmp_path_factory) -> Iterator[Path]:
    """The package published from the minimal seeds, once for the whole run and shared by every
    test: read it, or copy it (`published_copy`, `copy_package`) before changing anything. A test
    that changes it anyway fails the run when it ends."""
    from pipeline.cli import app

    out = tmp_path_factory.mktemp("published-minimal") / "datapackage"
    result = CliRunner().invoke(
        app,
        ["publish", "--seeds", str(BASE_SEEDS), "--out", str(out)],
        env={"SOURCE_DATE_EPOCH": PUBLISHED_EPOCH},
    )
    assert result.exit_code == 0, result.output
    fingerprint = tree(out.parent, stat=True)
    yield out
    assert tree(out.parent, stat=True) == fingerprint, (
        "a test changed the shared published package (copy it before changing it)"
    )


def copy_package(package: Path, destination: Path) -> Path:
    """A copy of `package` at `destination` (which must not exist), free to change."""
    return Path(shutil.copytree(package, destination, symlinks=True))


@pytest.fixture
def published_copy(published_minimal: Path, tmp_path: Path) -> Path:
    """A copy of the shared published package, tmp_path/datapackage, free to change."""
    return copy_package(published_minimal, tmp_path / "datapackage")


def tree(folder: Path, stat: bool = False) -> dict[str, str]:
    """Every entry under `folder`: files by sha256 (and, with `stat`, mode and mtime), links by target,
    folders by name; empty when there is no `folder`."""
    found = {}
    if not folder.exists() and not folder.is_symlink():
        return found
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if path.is_symlink():
            found[rel] = "link:" + os.readlink(path)
        elif path.is_dir():
            found[rel] = "dir"
        else:
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            if stat:
                facts = path.stat()
                found[rel] += f" {facts.st_mode:o} {facts.st_mtime_ns}"
    return found


def beside(out: Path) -> list[str]:
    """Entries next to `out` named after it (`<name>.*`, `.<name>*`): temporary folders, parked
    packages, lock files."""
    return sorted(
        p.name for p in out.parent.iterdir() if p.name.startswith((out.name + ".", "." + out.name))
    )


def command_env(**extra: str) -> dict[str, str]:
    """This process's environment for a `pipeline` subprocess: no PIPELINE_* test switches (the
    cache's temporary folder kept), plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PIPELINE_") or k == "PIPELINE_CACHE_DIR"
    }
    env.update(extra)
    return env


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` as a fixed author, untouched by the user's git configuration; its output."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout


def commit_package(repo: Path, package: Path) -> Path:
    """A new git repository `repo` with a copy of `package` committed as datapackage/."""
    repo.mkdir(parents=True)
    shutil.copytree(package, repo / "datapackage")
    git(repo, "init", "-q")
    git(repo, "add", "datapackage")
    git(repo, "commit", "-q", "-m", "package")
    return repo


def edit_descriptor(folder: Path, change) -> None:
    """Apply `change` (a function of the descriptor dict) to `folder`/datapackage.json."""
    path = folder / "datapackage.json"
    descriptor = json.loads(path.read_text(encoding="utf-8"))
    change(descriptor)
    path.write_text(json.dumps(descriptor, indent=2) + "\n", encoding="utf-8")
