"""The README runs as written: every `sh` block, in order, on a copy of the project (and the "Load
the data" examples on the committed package); the CI workflow runs what .ci/run runs."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
import yaml
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.contract.schemas import DEFAULTS, annotation_json_schema, default_note

from conftest import BIN, FIXTURES, ROOT, installed

README_TEXT = (ROOT / "README.md").read_text(encoding="utf-8")
WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
SECTION = re.search(r"^## Load the data\n(.*?)^## ", README_TEXT, re.M | re.S).group(1)
LOAD_BLOCKS = re.findall(r"^```(\w+)\n(.*?)^```", SECTION, re.M | re.S)


def test_the_section_shows_python_and_sql():
    assert sorted({language for language, _ in LOAD_BLOCKS}) == ["python", "r", "sql"]


@pytest.mark.parametrize(
    "code",
    [code for language, code in LOAD_BLOCKS if language == "python"],
    ids=lambda code: code.splitlines()[-1][:40],
)
def test_python_example_runs(code, monkeypatch):
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    frames = [v for k, v in namespace.items() if not k.startswith("_") and hasattr(v, "shape")]
    assert frames and all(frame.shape[0] > 0 for frame in frames)


@pytest.mark.parametrize("query", [code for language, code in LOAD_BLOCKS if language == "sql"])
def test_sql_example_runs(query, monkeypatch):
    monkeypatch.chdir(ROOT)
    rows = duckdb.sql(query.strip().rstrip(";")).fetchall()
    assert rows and all(len(row) == 3 for row in rows)


# ---- every command block, run in order on a copy of the project ----
#
# The convention (stated at the top of README.md): fenced `sh` blocks run, each command on its own,
# from the project folder, and must exit 0, or N under an `<!-- exit N: why -->` comment; an
# `<!-- not run: why -->` comment keeps a block from running. `python` and `sql` blocks are run
# by the tests above, the `yaml` block is the annotation example (applied below), `text` is
# a picture of folders; any other block needs the not-run comment. Indented code blocks are
# refused, since they would escape the convention. <placeholders> are replaced as PLACEHOLDERS
# says, and a placeholder it does not know fails the run.

ARTICLE = FIXTURES / "readme" / "article.txt"  # what the annotation example annotates
EXAMPLE_EVENT = "stepanakert-shelling-2020-09-30"
PLACEHOLDERS = {
    "<article.txt>": str(ARTICLE),
    "<other-source-id>": "reuters-2020-09-30",
    "<words of the other article>": "the Azeri army bombed the entire front line overnight",
    "<old.zip>": "before/*.zip",  # released from the committed package before the blocks run
    "<new.zip>": "dist/*.zip",  # written by the `make release` block
}
RUN_ELSEWHERE = {"python", "sql"}  # the tests above run them
SHOWN = {"yaml", "text"}  # the annotation example, a folder tree
MARKER = re.compile(r"<!-- (not run|exit (\d+)): \S.*? -->\n?")
PLACEHOLDER = re.compile(r"<[a-z][a-z0-9 ._-]*>")


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, from 1
    lang: str
    code: str
    action: str  # "run", "run elsewhere", "shown", "not run"
    exit_code: int = 0


class BlockFailed(Exception):
    """A README block did not run as the README says."""


def readme_blocks(text: str) -> list[Block]:
    """The code blocks of a README, each with what the convention says to do with it; ValueError
    when a block breaks the convention or none is to be run."""
    tokens = MarkdownIt("commonmark").parse(text)
    blocks = []
    for before, token in zip([None, *tokens], tokens, strict=False):
        if token.type == "code_block":
            raise ValueError(f"README.md:{token.map[0] + 1}: indented code block (fence it)")
        if token.type != "fence":
            continue
        marker = (
            MARKER.fullmatch(before.content) if before and before.type == "html_block" else None
        )
        lang, line = token.info.strip(), token.map[0] + 1
        if marker and marker.group(1) == "not run":
            action = "not run"
        elif lang == "sh":
            action = "run"
        elif lang in RUN_ELSEWHERE | SHOWN:
            action = "run elsewhere" if lang in RUN_ELSEWHERE else "shown"
        else:
            raise ValueError(
                f"README.md:{line}: a {lang or 'plain'} block needs <!-- not run: why -->"
            )
        exit_code = int(marker.group(2)) if marker and marker.group(2) else 0
        blocks.append(Block(line, lang, token.content, action, exit_code))
    if not any(block.action == "run" for block in blocks):
        raise ValueError("README.md: no sh block to run")
    return blocks


def commands(code: str) -> list[str]:
    """The commands of an sh block: lines joined across a trailing backslash, comments dropped."""
    joined = re.sub(r"\s*\\\n\s*", " ", code)
    return [
        line for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def uncommented(command: str) -> str:
    """The command without its trailing comment, as the run lists it."""
    return command.split(" #")[0].strip()


def filled(code: str, line: int) -> str:
    """`code` with each placeholder before a line's comment replaced by its value."""
    lines = []
    for text in code.splitlines(keepends=True):
        command, hash_, comment = text.partition(" #")
        for placeholder in PLACEHOLDER.findall(command):
            if placeholder not in PLACEHOLDERS:
                raise BlockFailed(f"README.md:{line}: unknown placeholder {placeholder}")
            command = command.replace(placeholder, PLACEHOLDERS[placeholder])
        lines.append(command + hash_ + comment)
    return "".join(lines)


BLOCKS = readme_blocks(README_TEXT)


def test_the_readme_blocks_are_these():
    """What the README presents, and what is done with it: a new block must be classed here too."""
    assert [
        (block.lang, block.action, block.exit_code, uncommented(commands(block.code)[0]))
        for block in BLOCKS
    ] == [
        ("sh", "run", 0, "make publish"),
        ("sh", "not run", 0, "make test"),
        ("python", "run elsewhere", 0, "import pandas as pd"),
        ("python", "run elsewhere", 0, "import polars as pl"),
        ("sql", "run elsewhere", 0, "select e.event_id, e.date_start, v.exact"),
        ("r", "not run", 0, 'source("datapackage/load.R")'),
        (
            "sql",
            "run elsewhere",
            0,
            "select c.claimant_actor_id, sum(c.killed_low) as killed_low,"
            " sum(c.killed_high) as killed_high",
        ),
        ("python", "run elsewhere", 0, "import pandas as pd"),
        ("sh", "not run", 0, "make explore"),
        ("sh", "run", 0, ".venv/bin/pipeline database --package datapackage --out dist"),
        (
            "sql",
            "run elsewhere",
            0,
            "create view sources as from 'datapackage/data/sources.parquet';",
        ),
        (
            "sh",
            "run",
            0,
            ".venv/bin/pipeline ingest <article.txt> --id wire-2020-10-01 --publisher Wire"
            ' --published 2020-10-01 --basis "date line of the article"',
        ),
        ("yaml", "shown", 0, "events:"),
        ("sh", "run", 0, REASON_LINES[0]),
        ("sh", "run", 0, "make report"),
        ("sh", "run", 0, ".venv/bin/frictionless validate datapackage/datapackage.json"),
        ("sh", "run", 0, ".venv/bin/pipeline validate datapackage/"),
        (
            "sh",
            "run",
            0,
            ".venv/bin/pipeline validate datapackage --engine duckdb --memory-limit 1GB",
        ),
        ("sh", "not run", 0, "dask scheduler &"),
        ("sh", "not run", 0, "make bench"),
        (
            "text",
            "shown",
            0,
            "seeds/        source texts, their metadata and hand annotations;"
            " count_conventions.yaml;",
        ),
        ("sh", "run", 0, ".venv/bin/pipeline publish --dry-run"),
        ("sh", "run", 1, ".venv/bin/pipeline diff git:HEAD datapackage"),
        ("text", "shown", 0, "changes:"),
        ("sql", "run elsewhere", 0, "SELECT e.event_id,"),
        ("sh", "run", 0, ".venv/bin/pipeline history syrian-fighters-deployment"),
        ("sh", "run", 1, ".venv/bin/pipeline diff datapackage@1.0.0 datapackage"),
    ]


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("# Title\n\nNo code at all.\n", "README.md: no sh block to run"),
        ("```python\nprint(1)\n```\n", "README.md: no sh block to run"),
        ("<!-- not run: slow -->\n```sh\nmake bench\n```\n", "README.md: no sh block to run"),
        ("Run:\n\n    make check\n", "README.md:3: indented code block (fence it)"),
        (
            "```sh\nmake check\n```\n\n```r\nx <- 1\n```\n",
            "README.md:5: a r block needs <!-- not run: why -->",
        ),
        ("```\nmake check\n```\n", "README.md:1: a plain block needs <!-- not run: why -->"),
    ],
)
def test_a_readme_that_breaks_the_convention_is_refused(text: str, fault: str):
    with pytest.raises(ValueError) as refused:
        readme_blocks(text)
    assert str(refused.value) == fault


def test_markers_set_what_is_done_with_a_block():
    text = (
        "```sh\nmake check\n```\n\n<!-- exit 1: it differs -->\n```sh\npipeline diff a b \\\n"
        "  --json  # what changed\n# a comment\n```\n\n<!-- not run: serves until stopped -->\n"
        "```sh\nmake explore\n```\n\n<!-- a note -->\n```sh\nmake publish\n```\n"
    )
    assert [(b.line, b.action, b.exit_code, commands(b.code)) for b in readme_blocks(text)] == [
        (1, "run", 0, ["make check"]),
        (6, "run", 1, ["pipeline diff a b --json  # what changed"]),
        (13, "not run", 0, ["make explore"]),
        (18, "run", 0, ["make publish"]),
    ]


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory) -> Path:
    """The work tree copied, with the environment running the tests as its .venv, committed to a
    git repository of its own (for `diff git:HEAD`), and a release of the committed package."""
    copy = tmp_path_factory.mktemp("readme") / "project"
    skipped = {".git", ".venv", "report", "dist", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
    shutil.copytree(
        ROOT,
        copy,
        ignore=lambda folder, names: [
            n
            for n in names
            if n == "__pycache__"
            or (Path(folder) == ROOT and n in skipped)
            or (Path(folder) == ROOT / "bench" and n == "work")  # the benchmark's gigabytes
        ],
    )
    (copy / ".venv").symlink_to(BIN.parent)
    # make would otherwise reinstall into the environment running the tests
    up_to_date = subprocess.run(["make", "-q", "install"], cwd=copy, capture_output=True)
    assert up_to_date.returncode == 0, f"{BIN.parent} is not up to date: run make install"
    git = ["git", "-c", "user.name=readme", "-c", "user.email=readme@example.org"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "as copied"]):
        subprocess.run([*git, *command], cwd=copy, check=True, capture_output=True)
    release = ["pipeline", "release", "--package", "datapackage", "--out", "before"]
    subprocess.run(
        [str(installed("pipeline")), *release[1:]], cwd=copy, check=True, capture_output=True
    )
    return copy


def run_in(copy: Path, command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", command], cwd=copy, capture_output=True, text=True, timeout=300
    )


def apply_annotation_example(copy: Path, example: str, line: int) -> None:
    """Step 2 of "Add and annotate": the example's events fill the annotation file that `ingest`
    wrote, and `pipeline check` accepts the seeds."""
    annotations = copy / "seeds" / "wire-2020-10-01" / "annotations.yaml"
    text = annotations.read_text(encoding="utf-8")
    assert "events: []\n" in text
    annotations.write_text(text.replace("events: []\n", filled(example, line)), encoding="utf-8")
    done = run_in(copy, ".venv/bin/pipeline check")
    assert done.returncode == 0 and done.stdout.startswith("ok: 3 sources"), done.stderr


def run_blocks(copy: Path, blocks: list[Block]) -> list[str]:
    """Each block in order, in `copy`: the annotation example applied, each command of a block to
    run run on its own; what was done, or BlockFailed at the first command that exits with
    another code than its block's."""
    ran = []
    for block in blocks:
        if block.lang == "yaml":
            apply_annotation_example(copy, block.code, block.line)
            ran.append("the annotation example passes check")
        if block.action != "run":
            continue
        for command in commands(block.code):
            done = run_in(copy, filled(command, block.line))
            if done.returncode != block.exit_code:
                raise BlockFailed(
                    f"README.md:{block.line}: {command}\nexit {done.returncode}, not "
                    f"{block.exit_code}\n{done.stdout}{done.stderr}"
                )
            ran.append(uncommented(command))
    return ran


@pytest.mark.parametrize(
    ("block", "fault"),
    [
        (
            Block(4, "sh", "true\necho gone >&2; exit 2\n", "run"),
            "README.md:4: echo gone >&2; exit 2\nexit 2, not 0\ngone\n",
        ),
        (Block(9, "sh", "echo ok\n", "run", 1), "README.md:9: echo ok\nexit 0, not 1\nok\n"),
        (
            Block(2, "sh", "cat <notes.txt>\n", "run"),
            "README.md:2: unknown placeholder <notes.txt>",
        ),
    ],
)
def test_a_block_that_fails_fails_the_run(block: Block, fault: str, tmp_path: Path):
    with pytest.raises(BlockFailed) as failed:
        run_blocks(tmp_path, [block])
    assert str(failed.value) == fault


def test_a_block_marked_not_run_or_with_its_exit_code_passes(tmp_path: Path):
    blocks = [Block(1, "sh", "exit 3\n", "run", 3), Block(5, "sh", "false\n", "not run")]
    assert run_blocks(tmp_path, blocks) == ["exit 3"]


# step 4 of "Add and annotate": the reasons of the example's new rows
REASON_LINES = [
    "echo '  - {table: sources, id: wire-2020-10-01, reason: \"New article: the wire report of"
    " 1 October 2020\"}' >> seeds/changes.yaml",
    "echo '  - {table: events, id: stepanakert-shelling-2020-09-30, reason: \"Added from the wire"
    " report of 1 October 2020\"}' >> seeds/changes.yaml",
]


def test_every_sh_block_runs_as_written(project_copy: Path):
    ran = run_blocks(project_copy, BLOCKS)
    # the example leaves date_end out: the published row has it from date_start
    with open(project_copy / "datapackage" / "data" / "events.csv", encoding="utf-8") as rows:
        (added,) = [r for r in csv.DictReader(rows) if r["event_id"] == EXAMPLE_EVENT]
    assert (added["date_start"], added["date_end"]) == ("2020-09-30", "2020-09-30")
    assert ran == [
        "make publish",
        ".venv/bin/pipeline database --package datapackage --out dist",
        ".venv/bin/pipeline ingest <article.txt> --id wire-2020-10-01 --publisher Wire"
        ' --published 2020-10-01 --basis "date line of the article"',
        "the annotation example passes check",
        *REASON_LINES,
        "make report",
        ".venv/bin/frictionless validate datapackage/datapackage.json",
        ".venv/bin/pipeline validate datapackage",
        ".venv/bin/pipeline check",
        ".venv/bin/pipeline validate datapackage/",
        ".venv/bin/pipeline validate datapackage --engine duckdb --memory-limit 1GB",
        ".venv/bin/pipeline publish --dry-run",
        ".venv/bin/pipeline publish --bump major",
        "make release",
        ".venv/bin/pipeline diff git:HEAD datapackage",
        ".venv/bin/pipeline diff <old.zip> <new.zip> --json",
        ".venv/bin/pipeline history syrian-fighters-deployment",
        ".venv/bin/pipeline history madagiz --table places",
        ".venv/bin/pipeline history macron-islam-in-crisis",
        ".venv/bin/pipeline diff datapackage@1.0.0 datapackage",
    ]


def test_validate_in_ci_shows_the_three_commands_the_workflow_runs():
    section = re.search(r"^## Validate in CI\n(.*?)^## ", README_TEXT, re.M | re.S).group(1)
    shown = [block for block in BLOCKS if block.code in section]
    assert [line.split("#")[0].strip() for line in commands(shown[0].code)] == [
        ".venv/bin/frictionless validate datapackage/datapackage.json",
        ".venv/bin/pipeline validate datapackage",
        ".venv/bin/pipeline check",
    ]
    steps = [step.get("run", "") for step in WORKFLOW["jobs"]["test"]["steps"]]
    for command in commands(shown[0].code):
        assert command.split("#")[0].strip() in steps


# ---- CI: the workflow runs what .ci/run runs, caches pip, runs the pre-commit hooks ----

PRE_COMMIT = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
MAKE_TARGETS = set(re.findall(r"^([a-zA-Z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))


def workflow_steps() -> list[dict]:
    jobs = WORKFLOW["jobs"]
    assert list(jobs) == ["test"]
    return jobs["test"]["steps"]


def test_the_workflow_runs_ci_run_on_every_push():
    assert WORKFLOW[True] == ["push", "pull_request"]  # YAML 1.1 reads the key `on` as true
    assert [step["run"] for step in workflow_steps() if step.get("run") == "bash .ci/run"]


def test_the_workflow_caches_pip_keyed_on_the_lock():
    (setup,) = [s for s in workflow_steps() if s.get("uses", "").startswith("actions/setup-python")]
    assert setup["with"] == {
        "python-version": "3.11",
        "cache": "pip",
        "cache-dependency-path": "requirements.lock",
    }


def test_the_workflow_runs_every_pre_commit_hook_after_the_tests():
    runs = [step.get("run", "") for step in workflow_steps()]
    (hooks,) = [n for n, run in enumerate(runs) if "pre-commit run --all-files" in run]
    assert hooks > runs.index("bash .ci/run")
    assert re.search(r"--spec pre-commit==\d+\.\d+\.\d+ ", runs[hooks])  # a pinned pre-commit


def test_every_pre_commit_hook_runs_a_make_target():
    hooks = [hook for repo in PRE_COMMIT["repos"] for hook in repo["hooks"]]
    assert [(hook["id"], hook["entry"]) for hook in hooks] == [
        ("pipeline-check", "make check"),
        ("lint", "make lint"),
    ]
    for hook in hooks:
        program, target = hook["entry"].split()
        assert program == "make" and target in MAKE_TARGETS, hook
        assert hook["language"] == "system" and hook["pass_filenames"] is False


# ---- exit codes: coverage exits 1 when a sentence is unexplained, and says so ----


def test_coverage_says_it_exits_1_for_an_unexplained_sentence():
    section = re.search(r"^## Exit codes\n(.*?)^## ", README_TEXT, re.M | re.S).group(1)
    assert "`coverage` when a sentence is unexplained" in " ".join(section.split())
    shown = CliRunner().invoke(app, ["coverage", "--help"], env={"COLUMNS": "120"})
    assert shown.exit_code == 0
    assert [line.strip() for line in shown.output.splitlines()[3:9]] == [
        "List, per source, the sentences no evidence touches; exit 1 if any is unexplained.",
        "",
        "Exit 0: every sentence is covered by evidence or excluded with a reason.",
        "Exit 1: a sentence is unexplained, or the seeds have a problem (printed first, as check "
        "prints it).",
        "Exit 2: usage error.",
        "",
    ]


# ---- what the loader fills in is documented where annotators look ----


@pytest.mark.parametrize(("table", "column"), list(DEFAULTS), ids=lambda key: str(key))
def test_a_default_the_loader_fills_in_is_documented(table: str, column: str):
    source = DEFAULTS[table, column]
    record = annotation_json_schema()["$defs"][table]
    assert record["properties"][column]["description"].endswith(
        f". Leave it out and it takes the value of {source}."
    )
    assert default_note(source) == f"Leave it out and it takes the value of {source}."
    assert column not in record["required"]
    section = re.search(r"^## Add and annotate an article\n(.*?)^## ", README_TEXT, re.M | re.S)
    said = " ".join(section.group(1).split())
    assert re.search(rf"`{column}` of an? \w+ (takes )?the value of `{source}`", said)


def test_evidence_without_source_id_is_documented_as_quoting_its_own_source():
    evidence = annotation_json_schema()["$defs"]["evidence_list"]["items"]["oneOf"][1]
    assert evidence["properties"]["source_id"]["description"] == (
        "The source holding the quote; leave it out for this file's source."
    )
    assert "evidence without `source_id` quotes the annotation file's own source" in " ".join(
        README_TEXT.split()
    )
