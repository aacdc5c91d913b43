"""Benchmark of the pipeline on synthetic corpora; writes bench/RESULTS.md.

Steps (each result is kept in bench/work/results.json, so steps can be rerun alone):
  corpus      pipeline synth --docs 1000 / 10000 into bench/work/seeds-{1k,10k}
  check       pipeline check on both corpora (wall time, peak memory)
  publish     pipeline publish on both corpora into bench/work/package-{1k,10k}
  validate    the 10k package with planted errors (bench/plant.py): pipeline validate
              versus frictionless validate, and which planted errors each one found
  help        pipeline --help start-up
  report      bench/RESULTS.md from the results

    .venv/bin/python bench/run.py [STEP ...]      # no step: all of them
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"
BIN = ROOT / ".venv" / "bin"
RESULTS = WORK / "results.json"
SIZES = {"1k": 1000, "10k": 10000}
RUNS = {"1k": 3, "10k": 1}  # a 10k-document run takes minutes: one run each
SEED = 1


def load() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}


def save(results: dict) -> None:
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


def timed(command: list[str], env: dict | None = None) -> dict:
    """Wall time and peak resident memory of one run of `command`, via /usr/bin/time -v."""
    started = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})})
    wall = time.perf_counter() - started
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    return {"seconds": round(wall, 3), "peak_mb": round(int(peak.group(1)) / 1024, 1) if peak else None,
            "exit": done.returncode, "stdout": done.stdout[-2000:], "stderr": done.stderr[-3000:]}


def repeat(command: list[str], runs: int, before=None) -> dict:
    samples = []
    for _ in range(runs):
        if before:
            before()
        samples.append(timed(command))
    return {"command": " ".join(command), "runs": runs, "seconds": [s["seconds"] for s in samples],
            "median_s": statistics.median(s["seconds"] for s in samples),
            "peak_mb": max(s["peak_mb"] or 0 for s in samples), "exit": [s["exit"] for s in samples],
            "tail": samples[-1]["stdout"][-600:] + samples[-1]["stderr"][-1200:]}


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def step_corpus(results: dict) -> None:
    for label, docs in SIZES.items():
        seeds = WORK / f"seeds-{label}"
        if seeds.is_dir():
            shutil.rmtree(seeds)
        run = timed([str(BIN / "pipeline"), "synth", "--docs", str(docs), "--out", rel(seeds), "--seed", str(SEED)])
        results.setdefault("corpus", {})[label] = {"docs": docs, "seconds": run["seconds"], "output": run["stdout"].strip()}


def step_check(results: dict) -> None:
    for label in SIZES:
        command = [str(BIN / "pipeline"), "check", "--seeds", rel(WORK / f"seeds-{label}")]
        results.setdefault("check", {})[label] = repeat(command, RUNS[label])


def step_publish(results: dict) -> None:
    for label in SIZES:
        out = WORK / f"package-{label}"

        def fresh(out=out):
            shutil.rmtree(out, ignore_errors=True)

        command = [str(BIN / "pipeline"), "publish", "--seeds", rel(WORK / f"seeds-{label}"), "--out", rel(out)]
        results.setdefault("publish", {})[label] = repeat(command, RUNS[label], before=fresh)


def step_validate(results: dict) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    import plant

    clean = WORK / "package-10k"
    planted_dir = WORK / "package-planted"
    shutil.rmtree(planted_dir, ignore_errors=True)
    shutil.copytree(clean, planted_dir)
    planted = plant.plant_package_errors(planted_dir)
    rows = plant.row_count(planted_dir)
    ours_cmd = [str(BIN / "pipeline"), "validate", rel(planted_dir), "--json"]
    theirs_cmd = [str(BIN / "frictionless"), "validate", "--json", rel(planted_dir / "datapackage.json")]
    ours = repeat(ours_cmd, 3)
    theirs = repeat(theirs_cmd, 1)
    ours_report = json.loads(subprocess.run(ours_cmd, capture_output=True, text=True, cwd=ROOT).stdout)
    theirs_report = json.loads(subprocess.run(theirs_cmd, capture_output=True, text=True, cwd=ROOT).stdout)
    results["validate"] = {"rows": rows, "planted": planted, "pipeline": ours, "frictionless": theirs,
                           "found_pipeline": plant.found(planted, ours_report),
                           "found_frictionless": plant.found(planted, theirs_report),
                           "errors_pipeline": plant.error_count(ours_report),
                           "errors_frictionless": plant.error_count(theirs_report)}


def step_help(results: dict) -> None:
    results["help"] = repeat([str(BIN / "pipeline"), "--help"], 7)


def _fmt(entry: dict) -> str:
    runs = entry["runs"]
    return f"{entry['median_s']:.2f} s ({'median of ' + str(runs) if runs > 1 else '1 run'}), peak {entry['peak_mb']:.0f} MB"


def step_report(results: dict) -> None:
    lines = ["# Benchmark results", "",
             f"Measured by `make bench` (bench/run.py) on {platform.node() or 'this machine'}: "
             f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform()}.",
             "Wall time and peak resident memory come from `/usr/bin/time -v`. Medians of 3 runs where affordable;"
             " the 10,000-document runs and frictionless on the ~1M-row package were run once (say so below).", ""]
    corpus = results.get("corpus", {})
    if corpus:
        lines += ["## Synthetic corpora", "", "| corpus | command output | synth time |", "|---|---|---|"]
        for label, entry in corpus.items():
            lines.append(f"| {label} | {entry['output']} | {entry['seconds']:.1f} s |")
        lines.append("")
    for step, target in (("check", None), ("publish", "10k within 60 s and 2 GB; 10k/1k time ratio <= 12")):
        entries = results.get(step, {})
        if not entries:
            continue
        lines += [f"## pipeline {step}", "", "| corpus | command | result |", "|---|---|---|"]
        for label, entry in entries.items():
            lines.append(f"| {label} | `{entry['command'].replace(str(BIN) + '/', '.venv/bin/')}` | {_fmt(entry)} |")
        if "1k" in entries and "10k" in entries:
            ratio = entries["10k"]["median_s"] / entries["1k"]["median_s"]
            lines += ["", f"10k/1k time ratio: **{ratio:.1f}**."]
        if target and "10k" in entries:
            e = entries["10k"]
            ok = e["median_s"] <= 60 and e["peak_mb"] <= 2048
            lines.append(f"Target ({target}): {'met' if ok else 'NOT met'} "
                         f"({e['median_s']:.0f} s, {e['peak_mb']:.0f} MB).")
        lines.append("")
    validate = results.get("validate")
    if validate:
        ours, theirs = validate["pipeline"], validate["frictionless"]
        speed = theirs["median_s"] / ours["median_s"]
        lines += ["## pipeline validate vs frictionless validate", "",
                  f"Package: the 10k-document package with planted errors, {validate['rows']:,} rows in the CSV "
                  "resources (the same rows again in the Parquet twins, which only `pipeline validate` reads).", "",
                  "| validator | command | result | errors reported |", "|---|---|---|---|",
                  f"| pipeline validate (CSV and Parquet) | `{ours['command'].replace(str(BIN) + '/', '.venv/bin/')}` | {_fmt(ours)} | {validate['errors_pipeline']} |",
                  f"| frictionless validate (CSV) | `{theirs['command'].replace(str(BIN) + '/', '.venv/bin/')}` | {_fmt(theirs)} | {validate['errors_frictionless']} |",
                  "", f"Speed-up: **{speed:.1f}x** (target >= 20x on the CSV resources; `pipeline validate` also reads "
                  "every Parquet twin in that time).", "",
                  "| planted error | resource | row | field | pipeline validate | frictionless |", "|---|---|---|---|---|---|"]
        for error, mine, theirs_found in zip(validate["planted"], validate["found_pipeline"], validate["found_frictionless"]):
            lines.append(f"| {error['kind']} | {error['resource']}{' (parquet)' if error.get('format') == 'parquet' else ''} "
                         f"| {error.get('rowNumber') or '-'} | {error.get('fieldName') or '-'} "
                         f"| {'found' if mine else 'missed'} | {'found' if theirs_found else 'missed'} |")
        lines.append("")
    help_ = results.get("help")
    if help_:
        lines += ["## Start-up", "", f"`pipeline --help`: {help_['median_s']:.3f} s (median of {help_['runs']}); "
                  f"target 0.3 s: {'met' if help_['median_s'] <= 0.3 else 'NOT met'}.", ""]
    notes = results.get("notes")
    if notes:
        lines += ["## Notes", ""] + [f"- {note}" for note in notes] + [""]
    (ROOT / "bench" / "RESULTS.md").write_text("\n".join(lines))


STEPS = {"corpus": step_corpus, "check": step_check, "publish": step_publish, "validate": step_validate,
         "help": step_help, "report": step_report}


def main(argv: list[str]) -> int:
    WORK.mkdir(parents=True, exist_ok=True)
    chosen = argv or list(STEPS)
    for name in chosen:
        results = load()
        print(f"bench: {name}", flush=True)
        STEPS[name](results)
        save(results)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
