"""Every message a user can be shown has a case: each template in the modules that word problems
(an f-string with words, or text given to a problem) appears, filled in, in some exact expected
output of the tests (a fixture's expected.txt, or a test's expected string). A template with no
case fails here, so none can reach a user unseen, garbled ("is a  (correct the date").
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import FIXTURES, ROOT

WORDING = [
    *sorted((ROOT / "pipeline" / "load").glob("*.py")),
    ROOT / "pipeline" / "check" / "rules.py",
    ROOT / "pipeline" / "contract" / "constraints.py",
    ROOT / "pipeline" / "contract" / "fieldtypes.py",
]
# Calls whose text arguments are messages or hints.
PROBLEM_CALLS = {"Problem", "_problem", "Unresolved", "BadValue", "_YamlProblem"}
# Templates no test can fill in, and why; each must still be a template of WORDING.
WITHOUT_A_CASE = {
    ("ingest.py", "cannot create the source folder: {}"): "the OS refuses a folder",
    ("ingest.py", "cannot write the source: {}"): "the OS refuses a write",
    ("sourcetext.py", "cannot read source text: {}"): "the OS refuses a read of a text",
    ("rules.py", "fails check {}: {}"): "a constraint kind schemas/ does not use yet",
    ("rules.py", "{} is not unique"): "no field of schemas/ is unique but its key",
    ("yamlfile.py", "file is over the {} MB limit"): "a file that grows while it is read",
    ("yamlfile.py", "YAML nesting too deep"): "a recursion the depth limit stops first",
    ("yamlfile.py", "records are mappings of plain values; flatten the nested lists or mappings"): (
        "the hint of the line above"
    ),
}
GARBLED = re.compile(r"  |\(\)|\bNone\b|'' |\.\.\)|: :| ,|\(\s*\)")


def parts(node: ast.AST) -> list[str] | None:
    """The fixed text of a string or f-string, split where values go in."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if not isinstance(node, ast.JoinedStr):
        return None
    found, text = [], ""
    for value in node.values:
        if isinstance(value, ast.Constant):
            text += str(value.value)
        else:
            found.append(text)
            text = ""
    return [*found, text]


def is_message(node: ast.AST, fixed: list[str]) -> bool:
    words = "".join(fixed)
    return isinstance(node, ast.JoinedStr) and bool(re.search(r"[a-z]{3,} [a-z]", words))


def templates() -> dict[tuple[str, str], list[str]]:
    """(module, template with {} for each value) -> its fixed parts, for every module of WORDING."""
    found = {}
    for module in WORDING:
        tree = ast.parse(module.read_text(encoding="utf-8"))
        given = set()
        for call in ast.walk(tree):
            name = getattr(call, "func", None)
            name = getattr(name, "id", getattr(name, "attr", None))
            if isinstance(call, ast.Call) and name in PROBLEM_CALLS:
                given.update(id(arg) for arg in [*call.args, *(k.value for k in call.keywords)])
        for node in ast.walk(tree):
            fixed = parts(node)
            if fixed and (id(node) in given and len("".join(fixed)) > 5 or is_message(node, fixed)):
                found[module.name, "{}".join(fixed)] = fixed
    return found


def expected_outputs() -> str:
    """Every exact output the tests expect: the fixtures' expected.txt and the tests' strings
    (but this file's own)."""
    texts = [p.read_text(encoding="utf-8") for p in FIXTURES.glob("invalid/*/expected.txt")]
    for test in (ROOT / "tests").rglob("*.py"):
        if test.name != Path(__file__).name:
            tree = ast.parse(test.read_text(encoding="utf-8"))
            texts += ["".join(fixed) for node in ast.walk(tree) if (fixed := parts(node))]
    return "\n".join(texts)


def filled_somewhere(fixed: list[str], outputs: str) -> bool:
    """The template's fixed parts, in order on one line, with anything between them."""
    pattern = "[^\n]*?".join(re.escape(part) for part in fixed if part)
    return re.search(pattern, outputs) is not None


TEMPLATES = templates()
OUTPUTS = expected_outputs()


def test_the_modules_hold_templates():
    assert len(TEMPLATES) > 100
    assert ("rules.py", "{} range is {}, but convention {} is {}") in TEMPLATES


def test_every_template_has_a_case():
    without = sorted(
        key for key, fixed in TEMPLATES.items() if not filled_somewhere(fixed, OUTPUTS)
    )
    assert without == sorted(WITHOUT_A_CASE)


def test_no_expected_problem_line_is_garbled():
    lines = [
        (case.parent.name, line)
        for case in FIXTURES.glob("invalid/*/expected.txt")
        for line in case.read_text(encoding="utf-8").splitlines()
    ]
    assert len(lines) > 150
    assert [(case, line) for case, line in lines if GARBLED.search(line)] == []
