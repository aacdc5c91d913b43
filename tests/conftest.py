"""Shared helpers: the project root, fixture folders, and seeds assembled from a base plus overrides."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
BASE_SEEDS = FIXTURES / "valid" / "minimal" / "seeds"


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


@pytest.fixture
def minimal_seeds(tmp_path: Path) -> Path:
    seeds = tmp_path / "seeds"
    shutil.copytree(BASE_SEEDS, seeds)
    return seeds
