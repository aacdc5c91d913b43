"""Benchmark of the pipeline on synthetic corpora; writes bench/RESULTS.md.

Steps (each result is kept in bench/work/results.json, so steps can be rerun alone):
  corpus      python bench/synth.py --docs 1000 / 10000 / 12000
              into bench/work/seeds-{1k,10k,validate}
  check       pipeline check --no-cache on the 1k and 10k corpora (wall time, peak memory)
  publish     pipeline publish --no-cache on the 1k and 10k corpora into bench/work/package-{1k,10k}
  validate    the 12k package (about 1,000,000 rows) with planted errors (bench/plant.py):
              pipeline validate (CSV only, and with the Parquet twins) versus
              frictionless validate, and which planted errors each one found
  cache       check and publish through the per-file cache on the 1k and 10k corpora: cold (no
              cache), warm (nothing changed) and after editing one annotation file; and
              check --watch left running: from a save to the end of its report
  review      pipeline report (the review site) on the 1k and 10k packages: time, peak memory,
              pages written, their total size and the biggest page
  engines     the validate step's planted package checked by each engine of pipeline validate,
              arrow, duckdb (and duckdb within a memory limit well below the data) and spark
              (local mode): time, peak memory of the command and of all its processes (Spark's
              JVM too), the reports compared, and Spark's start-up on a one-row package
  scale       the validate step's clean package replicated 10 times with fresh ids (about 10
              million rows), errors planted, checked by duckdb within --memory-limit 1GB
  routes      the compilation routes of the SQL engines' checks (bench/routes.py): today's SQL,
              ibis expressions and pandera schemas, on DuckDB and Spark, on one subset of the
              checks of the planted package's evidence table: compile and run time, peak memory,
              failing rows against the Arrow engine's, lines of code
  help        pipeline --help start-up
  speed       a fixed pure-Python workload (run between steps: the machine's speed meanwhile)
  report      bench/RESULTS.md from the results

    .venv/bin/python -m bench.run [STEP ...]    # no step: all of them, speed before each timed one
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"
BIN = Path(sys.executable).parent  # the commands of the environment running the benchmark
RESULTS = WORK / "results.json"
SIZES = {"1k": 1000, "10k": 10000}
RUNS = {"1k": 3, "10k": 3}
VALIDATE_DOCS = 12000  # about 1,000,000 rows in the package's tables
SEED = 1
REVIEW_RUNS = {"1k": 3, "10k": 3}  # with the cache filled; one more run fills it


def load() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}


def save(results: dict) -> None:
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


def _tree(root: int) -> list[int]:
    """`root` and every process descended from it."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    tree, grown = {root}, True
    while grown:
        found = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= found
        grown = bool(found)
    return sorted(tree)


def _pss_mb(pids: list[int]) -> float:
    """Proportional set size of `pids` together: pages a forked worker shares with its parent
    count once."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                total += next(int(line.split()[1]) for line in handle if line.startswith("Pss:"))
        except (OSError, StopIteration):
            pass
    return total / 1024


def timed(command: list[str], env: dict | None = None, sample_tree: bool = False) -> dict:
    """Wall time of one run of `command` and peak memory of its largest process
    (/usr/bin/time -v); with `sample_tree`, also of all of its processes together (their summed
    PSS, sampled every 0.1 s)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        ["/usr/bin/time", "-v", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    tree_peak = [0.0]

    def sample() -> None:
        while process.poll() is None:
            tree_peak[0] = max(tree_peak[0], _pss_mb(_tree(process.pid)))
            time.sleep(0.1)

    import threading

    sampler = threading.Thread(target=sample, daemon=True)
    if sample_tree:
        sampler.start()
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    if sample_tree:
        sampler.join()
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    return {
        "seconds": round(wall, 3),
        "peak_mb": round(int(peak.group(1)) / 1024, 1) if peak else None,
        "tree_peak_mb": round(tree_peak[0], 1),
        "exit": process.returncode,
        "stdout": stdout[-2000:],
        "stdout_whole": stdout,
        "stderr": stderr[-3000:],
    }


def repeat(command: list[str], runs: int, before=None, tree_memory: bool = False) -> dict:
    """`runs` timed runs; with `tree_memory`, one more run, not timed, for the peak of all the
    command's processes together. Sampling takes CPU time from the command measured (walking /proc
    and every process's memory map ten times a second): `pipeline validate`, which keeps both cores
    busy, measured 2.00 s with the sampler and 1.77 s without (medians of 8, run by turns)."""
    samples = []
    for _ in range(runs):
        if before:
            before()
        samples.append(timed(command))
    tree_peak = None
    if tree_memory:
        if before:
            before()
        tree_peak = timed(command, sample_tree=True)["tree_peak_mb"]
    return summary(command, samples, tree_peak)


def by_turns(commands: list[tuple[list[str], int]]) -> list[dict]:
    """Each command run its number of times, taking turns (one untimed run of each first), so
    that all of them meet the machine in the same states."""
    samples: list[list[dict]] = [[] for _ in commands]
    for command, _ in commands:
        timed(command)
    for turn in range(max(runs for _, runs in commands)):
        for (command, runs), taken in zip(commands, samples, strict=True):
            if turn < runs:
                taken.append(timed(command))
    return [
        summary(command, taken, None) for (command, _), taken in zip(commands, samples, strict=True)
    ]


def summary(command: list[str], samples: list[dict], tree_peak: float | None) -> dict:
    return {
        "command": " ".join(command),
        "runs": len(samples),
        "seconds": [s["seconds"] for s in samples],
        "median_s": statistics.median(s["seconds"] for s in samples),
        "peak_mb": max(s["peak_mb"] or 0 for s in samples),
        "tree_peak_mb": tree_peak,
        "exit": [s["exit"] for s in samples],
        "tail": samples[-1]["stdout"][-600:] + samples[-1]["stderr"][-1200:],
    }


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def step_corpus(results: dict) -> None:
    for label, docs in {**SIZES, "validate": VALIDATE_DOCS}.items():
        seeds = WORK / f"seeds-{label}"
        if seeds.is_dir():
            shutil.rmtree(seeds)
        run = timed(
            [
                str(BIN / "python"),
                "bench/synth.py",
                "--docs",
                str(docs),
                "--out",
                rel(seeds),
                "--seed",
                str(SEED),
            ]
        )
        results.setdefault("corpus", {})[label] = {
            "docs": docs,
            "seconds": run["seconds"],
            "output": run["stdout"].strip(),
        }


def step_check(results: dict) -> None:
    for label in SIZES:
        # --no-cache: every run does the whole work (the cache step measures the cache)
        seeds = rel(WORK / f"seeds-{label}")
        command = [str(BIN / "pipeline"), "check", "--seeds", seeds, "--no-cache"]
        results.setdefault("check", {})[label] = repeat(command, RUNS[label], tree_memory=True)


def step_publish(results: dict) -> None:
    for label in SIZES:
        out = WORK / f"package-{label}"

        def fresh(out=out):
            shutil.rmtree(out, ignore_errors=True)

        command = [
            str(BIN / "pipeline"),
            "publish",
            "--seeds",
            rel(WORK / f"seeds-{label}"),
            "--out",
            rel(out),
            "--no-cache",
        ]
        results.setdefault("publish", {})[label] = repeat(
            command, RUNS[label], before=fresh, tree_memory=True
        )


def step_validate(results: dict) -> None:
    from bench import plant

    clean = WORK / "package-validate"
    shutil.rmtree(clean, ignore_errors=True)
    built = timed(
        [
            str(BIN / "pipeline"),
            "publish",
            "--seeds",
            rel(WORK / "seeds-validate"),
            "--out",
            rel(clean),
        ]
    )
    if built["exit"] != 0:
        raise SystemExit(f"publish of seeds-validate failed: {built['stderr'][-500:]}")
    planted_dir = WORK / "package-planted"
    shutil.rmtree(planted_dir, ignore_errors=True)
    shutil.copytree(clean, planted_dir)
    planted = plant.plant_package_errors(planted_dir)
    rows = plant.row_count(planted_dir)
    csv_cmd = [str(BIN / "pipeline"), "validate", rel(planted_dir), "--json", "--no-parquet"]
    full_cmd = [str(BIN / "pipeline"), "validate", rel(planted_dir), "--json"]
    theirs_cmd = [
        str(BIN / "frictionless"),
        "validate",
        "--json",
        rel(planted_dir / "datapackage.json"),
    ]
    # Side by side in one run: each validator in turn, so that both meet the same machine.
    # The package was just written: its pages go to disk first, lest the write-back slow
    # whichever command runs then. Ours take about 2 s and vary more from run to run (system
    # time): 9 runs each, by turns.
    os.sync()
    ours_csv, ours_full, theirs = by_turns([(csv_cmd, 9), (full_cmd, 9), (theirs_cmd, 3)])
    csv_report = json.loads(
        subprocess.run(csv_cmd, capture_output=True, text=True, cwd=ROOT).stdout
    )
    full_report = json.loads(
        subprocess.run(full_cmd, capture_output=True, text=True, cwd=ROOT).stdout
    )
    theirs_report = json.loads(
        subprocess.run(theirs_cmd, capture_output=True, text=True, cwd=ROOT).stdout
    )
    results["validate"] = {
        "docs": VALIDATE_DOCS,
        "rows": rows,
        "planted": planted,
        "pipeline_csv": ours_csv,
        "pipeline": ours_full,
        "frictionless": theirs,
        "found_pipeline_csv": plant.found(planted, csv_report),
        "found_pipeline": plant.found(planted, full_report),
        "found_frictionless": plant.found(planted, theirs_report),
        "errors_pipeline_csv": plant.error_count(csv_report),
        "errors_pipeline": plant.error_count(full_report),
        "errors_frictionless": plant.error_count(theirs_report),
    }


def _site_size(out: Path) -> dict:
    """Pages written into `out`, their total size and the biggest page."""
    sizes = {path.name: path.stat().st_size for path in out.glob("*.html")}
    biggest = max(sizes, key=lambda name: (sizes[name], name))
    return {
        "pages": len(sizes),
        "mb": sum(sizes.values()) / 1e6,
        "biggest": biggest,
        "biggest_mb": sizes[biggest] / 1e6,
    }


REVIEW_CACHE = WORK / "review-cache"  # PIPELINE_CACHE_DIR of the review step
EMPTY_CACHE = ", cache empty"  # the label of a run whose per-file cache starts empty


def step_review(results: dict) -> None:
    """pipeline report on the published 1k and 10k packages, each run into a fresh folder, with a
    per-file cache of its own: once with the cache empty (its annotation check reads every file,
    as after `publish --no-cache`), then REVIEW_RUNS times with the cache that run filled (as
    `make report` runs after `make publish`, which fills it), then once more, not timed, for the
    peak of all its processes together, as `repeat` measures it (the sampler takes CPU time from
    the command it samples). The run with the cache empty is sampled as it is timed: a second
    would find the cache filled."""
    env = {"PIPELINE_CACHE_DIR": str(REVIEW_CACHE)}
    for label in SIZES:
        package, seeds = WORK / f"package-{label}", WORK / f"seeds-{label}"
        if not (package / "datapackage.json").is_file():
            raise SystemExit(f"no {rel(package)}: run the corpus and publish steps first")
        out = WORK / f"review-{label}"
        command = [
            str(BIN / "pipeline"),
            "report",
            "--package",
            rel(package),
            "--seeds",
            rel(seeds),
            "--out",
            rel(out),
        ]
        shutil.rmtree(REVIEW_CACHE, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)
        cold = timed(command, env=env, sample_tree=True)
        review = results.setdefault("review", {})
        review[label + EMPTY_CACHE] = {
            **summary(command, [cold], cold["tree_peak_mb"]),
            **_site_size(out),
        }
        warm = []
        for _ in range(REVIEW_RUNS[label]):
            shutil.rmtree(out, ignore_errors=True)
            warm.append(timed(command, env=env))
        shutil.rmtree(out, ignore_errors=True)
        entry = summary(command, warm, timed(command, env=env, sample_tree=True)["tree_peak_mb"])
        review[label] = {**entry, **_site_size(out)}
    shutil.rmtree(REVIEW_CACHE, ignore_errors=True)


ENGINE_MEMORY_LIMIT = "128MB"  # well below the planted package's 230 MB of CSV text
ENGINE_RUNS = 3
SPARK_RUNS = 1  # a Spark run of the planted package takes minutes on this machine
TINY_PACKAGE = ROOT / "tests" / "validate" / "conformance" / "primary-key-single"
SCALE_COPIES = 10
SCALE_MEMORY_LIMIT = "1GB"
# not copied: a code list every copy refers to, and the log of changes between releases
SCALE_SHARED = {"count_conventions", "changes"}


def step_engines(results: dict) -> None:
    """pipeline validate --no-parquet on the validate step's planted package, by the arrow engine
    and the duckdb engine, unlimited and within ENGINE_MEMORY_LIMIT, by turns; then each once
    more for its report, which must be the arrow engine's."""
    from bench import plant

    planted_dir = WORK / "package-planted"
    if not (planted_dir / "datapackage.json").is_file():
        raise SystemExit("no bench/work/package-planted: run the corpus and validate steps first")
    base = [str(BIN / "pipeline"), "validate", rel(planted_dir), "--json", "--no-parquet"]
    commands = [
        base,
        [*base, "--engine", "duckdb"],
        [*base, "--engine", "duckdb", "--memory-limit", ENGINE_MEMORY_LIMIT],
        [*base, "--engine", "spark"],
    ]
    os.sync()
    runs = [ENGINE_RUNS, ENGINE_RUNS, ENGINE_RUNS, SPARK_RUNS]
    timings = by_turns(list(zip(commands, runs, strict=True)))
    reports = []
    for command, timing in zip(commands, timings, strict=True):
        # once more, for the report and the peak memory of all of its processes (the JVM's too)
        sampled = timed(command, sample_tree=True)
        timing["tree_peak_mb"] = sampled["tree_peak_mb"]
        if not sampled["stdout_whole"].strip():
            stderr = sampled["stderr"].split("\tCommand being timed")[0].strip()
            raise SystemExit(f"{' '.join(command)}: exit {sampled['exit']}, no report: {stderr}")
        reports.append(json.loads(sampled["stdout_whole"]))
    tiny = [str(BIN / "pipeline"), "validate", rel(TINY_PACKAGE), "--json"]
    results["engines"] = {
        "rows": plant.row_count(planted_dir),
        "csv_mb": round(sum(p.stat().st_size for p in planted_dir.glob("data/*.csv")) / 2**20),
        "memory_limit": ENGINE_MEMORY_LIMIT,
        "arrow": timings[0],
        "duckdb": timings[1],
        "duckdb_limited": timings[2],
        "spark": timings[3],
        "spark_startup_s": round(
            timed([*tiny, "--engine", "spark"])["seconds"] - timed(tiny)["seconds"], 1
        ),
        "same_reports": [report == reports[0] for report in reports[1:]],
        "errors": plant.error_count(reports[0]),
    }


def step_scale(results: dict) -> None:
    """The validate step's clean package, each table but the shared code list copied
    SCALE_COPIES times with fresh ids, errors planted, validated by duckdb within
    SCALE_MEMORY_LIMIT (CSV resources only: the Parquet twins stay the 1M-row ones)."""
    from bench import plant

    clean = WORK / "package-validate"
    if not (clean / "datapackage.json").is_file():
        raise SystemExit("no bench/work/package-validate: run the corpus and validate steps first")
    scaled = WORK / "package-scale"
    started = time.perf_counter()
    rows = replicate_package(clean, scaled, SCALE_COPIES)
    planted = plant.plant_package_errors(scaled)
    built = time.perf_counter() - started
    command = [
        str(BIN / "pipeline"),
        "validate",
        rel(scaled),
        "--json",
        "--no-parquet",
        "--engine",
        "duckdb",
        "--memory-limit",
        SCALE_MEMORY_LIMIT,
    ]
    os.sync()
    run = timed(command, sample_tree=True)
    report = json.loads(run.pop("stdout_whole") or "{}")
    results["scale"] = {
        "rows": rows,
        "copies": SCALE_COPIES,
        "csv_mb": round(sum(p.stat().st_size for p in scaled.glob("data/*.csv")) / 2**20),
        "build_s": round(built, 1),
        "memory_limit": SCALE_MEMORY_LIMIT,
        "duckdb": summary(command, [run], run["tree_peak_mb"]),
        "found": plant.found(planted, report),
        "errors": plant.error_count(report),
    }
    shutil.rmtree(scaled)  # gigabytes of CSV, rebuilt in a minute


ROUTES = [  # (route, engine) of bench/routes.py
    ("sql", "duckdb"),
    ("sql", "spark"),
    ("ibis", "duckdb"),
    ("ibis", "spark"),
    ("pandera", "duckdb"),
    ("pandera", "spark"),
]


def step_routes(results: dict) -> None:
    """The compilation routes of the SQL engines' table checks (bench/routes.py) on one subset of
    the checks of the planted package's evidence table: each route on each engine in a process
    of its own (its compile time, median run, peak memory of all its processes), its findings
    against the Arrow engine's, and the lines of code each route needs."""
    from bench import routes

    if not (routes.PLANTED / "datapackage.json").is_file():
        raise SystemExit("no bench/work/package-planted: run the corpus and validate steps first")
    routes.make_package()
    arrow = [list(f) for f in routes.arrow_findings()]
    measured = {}
    for route, engine in ROUTES:
        run = timed([sys.executable, "-m", "bench.routes", route, engine], sample_tree=True)
        if run["exit"] != 0:
            raise SystemExit(f"bench.routes {route} {engine}: exit {run['exit']}: {run['stderr']}")
        found = json.loads(run["stdout_whole"])
        if "unavailable" in found:  # the route cannot run here: why, instead of figures
            measured[f"{route} {engine}"] = found
            continue
        located = [f for f in found["findings"] if f[2]]
        found |= {
            "tree_peak_mb": run["tree_peak_mb"],
            "same_rows": located == arrow,
            "located": len(located),
            "unlocated": len(found["findings"]) - len(located),
        }
        measured[f"{route} {engine}"] = found
    results["routes"] = {
        "rows": routes.text_table(routes.TABLE).num_rows,
        "arrow": arrow,
        "routes": measured,
        "lines": routes.lines_of_code(),
    }


def replicate_package(source: Path, out: Path, copies: int) -> int:
    """`source` copied into `out` with each CSV table but SCALE_SHARED's rows repeated `copies`
    times, every id (primary and foreign keys, evidence's record_id) of copy c suffixed "-r{c}",
    so that keys stay unique and references resolve; bytes and hashes rewritten. Rows in all."""
    import hashlib

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(source, out)
    descriptor = json.loads((out / "datapackage.json").read_text())
    rows = 0
    for resource in descriptor["resources"]:
        path, schema = out / resource["path"], resource["schema"]
        names = [field["name"] for field in schema["fields"]]
        text = pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()))
        table = pacsv.read_csv(path, convert_options=text)  # "" stays "", not null
        times = 1 if resource["name"] in SCALE_SHARED else copies
        ids = _id_columns(schema)
        with pacsv.CSVWriter(
            path, table.schema, write_options=pacsv.WriteOptions(quoting_style="needed")
        ) as writer:
            for copy in range(times):
                columns = [
                    pc.if_else(
                        pc.equal(column, ""),
                        column,
                        pc.binary_join_element_wise(column, pa.scalar(f"-r{copy}"), ""),
                    )
                    if copy and name in ids
                    else column
                    for name, column in zip(names, table.columns, strict=True)
                ]
                writer.write_table(pa.table(columns, names=names))
        rows += table.num_rows * times
        algorithm = (
            resource.get("hash", "md5").partition(":")[0]
            if ":" in resource.get("hash", "")
            else "md5"
        )
        digest = hashlib.new(algorithm)
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        resource["bytes"] = path.stat().st_size
        resource["hash"] = (
            f"{algorithm}:{digest.hexdigest()}" if algorithm != "md5" else (digest.hexdigest())
        )
    (out / "datapackage.json").write_text(json.dumps(descriptor, indent=2))
    return rows


def _id_columns(schema: dict) -> set[str]:
    """The fields holding ids of the copied tables: keys and references, not code list terms."""
    ids = set(schema.get("primaryKey", [])) | {"record_id"}
    for key in schema.get("foreignKeys", []):
        if key["reference"].get("resource") not in SCALE_SHARED:
            ids |= set(key["fields"])
    return ids


SPEED_PROBE = (
    "import time; t = time.perf_counter(); sum(i * i for i in range(10_000_000)); "
    "print(time.perf_counter() - t)"
)


def step_speed(results: dict) -> None:
    """A fixed pure-Python workload, timed before and after the other steps: how fast the
    machine was meanwhile."""
    samples = [
        float(
            subprocess.run(
                [str(BIN / "python"), "-c", SPEED_PROBE], capture_output=True, text=True
            ).stdout
        )
        for _ in range(3)
    ]
    probes = results.get("speed", []) if results.get("speed_run") == results.get("run_id") else []
    results["speed"] = probes + [round(statistics.median(samples), 3)]
    results["speed_run"] = results.get("run_id")


CACHE = WORK / "cache"  # PIPELINE_CACHE_DIR of the cache step
# re-checks of about 2 s on a shared machine: more runs at 10k, a steadier median
CACHE_RUNS = {"1k": 3, "10k": 5}


def step_cache(results: dict) -> None:
    """check cold / warm / one file edited (a summary; an id), and publish of an unchanged corpus
    cold / warm."""
    previous = os.environ.get("PIPELINE_CACHE_DIR")
    os.environ["PIPELINE_CACHE_DIR"] = str(CACHE)
    try:
        for label in SIZES:
            results.setdefault("cache", {})[label] = _cache_runs(label)
    finally:
        if previous is None:
            del os.environ["PIPELINE_CACHE_DIR"]
        else:
            os.environ["PIPELINE_CACHE_DIR"] = previous
        shutil.rmtree(CACHE, ignore_errors=True)


def _cache_runs(label: str) -> dict:
    seeds = WORK / f"seeds-{label}"
    out = WORK / f"package-{label}"
    check = [str(BIN / "pipeline"), "check", "--seeds", rel(seeds)]
    publish = [str(BIN / "pipeline"), "publish", "--seeds", rel(seeds), "--out", rel(out)]
    runs = CACHE_RUNS[label]

    def cold() -> None:
        shutil.rmtree(CACHE, ignore_errors=True)

    edited = sorted(p for p in seeds.iterdir() if p.is_dir())[0] / "annotations.yaml"
    original = edited.read_text(encoding="utf-8")
    turn = [0]

    def edit() -> None:  # each run sees the file changed since the last one, and still valid
        turn[0] += 1
        text = original.replace('summary: "', f'summary: "({turn[0]}) ', 1)
        edited.write_text(text, encoding="utf-8")

    # an id the checks across files read: its record's and its evidence's rows change, and the
    # checks reading those columns run again (an edit of a summary leaves them as they were)
    renamed = re.search(r'event_id: "([^"]+)"', original)
    assert renamed is not None

    def rename() -> None:  # the event and every reference to it in its file: still valid
        turn[0] += 1
        old = renamed.group(1)
        edited.write_text(original.replace(f'"{old}"', f'"{old}-{turn[0]}"'), encoding="utf-8")

    entries = {}
    try:
        entries["check cold"] = repeat(check, 1 if label == "10k" else runs, before=cold)
        entries["check warm"] = repeat(check, runs)
        entries["check, one file edited"] = repeat(check, runs, before=edit)
        entries["check, one id renamed"] = repeat(check, runs, before=rename)
        entries["check --watch, one file saved"] = watch_latency(seeds, runs, edit)
    finally:
        edited.write_text(original, encoding="utf-8")
    timed(publish)  # the corpus as published: what the unchanged runs find
    entries["publish unchanged, cold"] = repeat(publish, 1, before=cold)
    entries["publish unchanged, warm"] = repeat(publish, runs)
    return entries


# The last line of each report `check --watch` prints: the first, then one after each save.
WATCH_COUNT = re.compile(r"(no problems|\d+ problems?)( \(\d+ fixed, \d+ new\))?")


def watch_latency(seeds: Path, runs: int, edit) -> dict:
    """`check --watch` left running: the time from a save (`edit`) to the end of the report of
    what changed, `runs` times, and the watcher's peak memory (VmHWM) at the end."""
    command = [str(BIN / "pipeline"), "check", "--watch", "--seeds", rel(seeds)]
    errors = WORK / "watch-stderr.txt"  # a file, not a pipe nobody reads while it runs
    with errors.open("w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=ROOT
        )
    output = process.stdout
    assert output is not None
    lines: list[str] = []

    def report() -> None:  # the lines up to the count that ends a report
        while not WATCH_COUNT.fullmatch(line := output.readline().rstrip("\n")):
            if not line and process.poll() is not None:
                raise RuntimeError("check --watch ended: " + errors.read_text()[-600:])
            lines.append(line)
        lines.append(line)

    samples = []
    try:
        report()  # the first check
        for _ in range(runs):
            time.sleep(1.0)  # a save in a later second than the last one
            edit()
            started = time.perf_counter()
            report()
            samples.append(round(time.perf_counter() - started, 3))
        peak = _vm_hwm_mb(process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    return {
        "command": " ".join(command),
        "runs": len(samples),
        "seconds": samples,
        "median_s": statistics.median(samples),
        "peak_mb": peak,
        "tree_peak_mb": None,
        "exit": [process.returncode],
        "tail": "\n".join(lines[-3:]),
    }


def _vm_hwm_mb(pid: int) -> float | None:
    """The peak resident set of process `pid` so far, from /proc."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return None
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else None


def step_help(results: dict) -> None:
    results["help"] = repeat([str(BIN / "pipeline"), "--help"], 7)


def _fmt(entry: dict) -> str:
    runs = entry["runs"]
    return (
        f"{entry['median_s']:.2f} s ({'median of ' + str(runs) if runs > 1 else '1 run'}), "
        f"peak {_peak(entry):.0f} MB"
    )


def _peak(entry: dict) -> float:
    """The larger of the biggest process's peak RSS and the whole process tree's peak PSS."""
    return max(entry["peak_mb"] or 0, entry.get("tree_peak_mb") or 0)


def _command(entry: dict) -> str:
    """The command of `entry` as a reader of the project would type it."""
    return entry["command"].replace(str(BIN) + "/", ".venv/bin/")


def _heading() -> list[str]:
    return [
        "# Benchmark results",
        "",
        f"Measured by `make bench` (bench/run.py) on {platform.node() or 'this machine'}: "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform()}.",
        "Wall time is measured around each command. Peak memory is the biggest process's peak "
        "resident set (`/usr/bin/time -v`) in the timed runs; for check and publish, which read "
        "annotation files in worker processes, it is the larger of that and the peak of all their "
        "processes together (summed proportional set size, sampled every 0.1 s) in one more run, "
        "not timed, since the sampling takes CPU time from the command. Each figure is the median "
        "of the runs it names, all taken in one `make bench` run.",
        "",
    ]


def _corpus_section(corpus: dict) -> list[str]:
    if not corpus:
        return []
    lines = [
        "## Synthetic corpora",
        "",
        "| corpus | command output | synth time |",
        "|---|---|---|",
    ]
    for label, entry in corpus.items():
        lines.append(f"| {label} | {entry['output']} | {entry['seconds']:.1f} s |")
    return lines + [""]


def _timing_section(step: str, entries: dict, target: str | None) -> list[str]:
    """The table of one command on the corpora, their time ratio and, if given, the target."""
    if not entries:
        return []
    lines = [f"## pipeline {step}", "", "| corpus | command | result |", "|---|---|---|"]
    for label, entry in entries.items():
        lines.append(f"| {label} | `{_command(entry)}` | {_fmt(entry)} |")
    if "1k" in entries and "10k" in entries:
        ratio = entries["10k"]["median_s"] / entries["1k"]["median_s"]
        lines += ["", f"10k/1k time ratio: **{ratio:.1f}**."]
    if target and "10k" in entries:
        e = entries["10k"]
        ratio = e["median_s"] / entries["1k"]["median_s"] if "1k" in entries else 0
        ok = e["median_s"] <= 60 and _peak(e) <= 2048 and ratio <= 12
        lines.append(
            f"Target ({target}): {'met' if ok else 'NOT met'} "
            f"({e['median_s']:.0f} s, {_peak(e):.0f} MB, ratio {ratio:.1f})."
        )
    return lines + [""]


def _validate_section(validate: dict | None) -> list[str]:
    """Both validators on the planted package: times, errors reported, planted errors found."""
    if not validate:
        return []
    ours_csv, ours, theirs = (
        validate["pipeline_csv"],
        validate["pipeline"],
        validate["frictionless"],
    )
    speed_csv = theirs["median_s"] / ours_csv["median_s"]
    speed_full = theirs["median_s"] / ours["median_s"]

    def row(name: str, entry: dict, errors: int) -> str:
        return f"| {name} | `{_command(entry)}` | {_fmt(entry)} | {errors} |"

    lines = [
        "## pipeline validate vs frictionless validate",
        "",
        f"Package: published from a synthetic corpus of {validate['docs']:,} documents, then "
        f"errors planted (bench/plant.py): {validate['rows']:,} rows in its CSV resources, the "
        "same rows again in the Parquet twins, which only `pipeline validate` reads. The three "
        "commands took turns (after one untimed run of each), in one run.",
        "",
        "| validator | command | result | errors reported |",
        "|---|---|---|---|",
        row("pipeline validate, CSV resources only", ours_csv, validate["errors_pipeline_csv"]),
        row("pipeline validate, CSV and Parquet twins", ours, validate["errors_pipeline"]),
        row("frictionless validate (CSV resources)", theirs, validate["errors_frictionless"]),
        "",
        f"Speed-up on the CSV resources (the same work): **{speed_csv:.1f}x**; target >= 20x: "
        f"{'met' if speed_csv >= 20 else 'NOT met'}. With every Parquet twin read, hashed and "
        f"compared as well: {speed_full:.1f}x.",
        "",
    ]
    return lines + _planted_table(validate) + _csv_only_note(validate)


def _planted_table(validate: dict) -> list[str]:
    lines = [
        "| planted error | resource | row | field | pipeline validate | frictionless |",
        "|---|---|---|---|---|---|",
    ]
    for error, mine, theirs_found in zip(
        validate["planted"],
        validate["found_pipeline"],
        validate["found_frictionless"],
        strict=True,
    ):
        twin = " (parquet)" if error.get("format") == "parquet" else ""
        lines.append(
            f"| {error['kind']} | {error['resource']}{twin} "
            f"| {error.get('rowNumber') or '-'} | {error.get('fieldName') or '-'} "
            f"| {'found' if mine else 'missed'} | {'found' if theirs_found else 'missed'} |"
        )
    return lines


def _csv_only_note(validate: dict) -> list[str]:
    csv_missed = [
        e["kind"]
        for e, found in zip(validate["planted"], validate["found_pipeline_csv"], strict=True)
        if not found and e.get("format") != "parquet"
    ]
    return [
        "",
        "With `--no-parquet`, `pipeline validate` found every planted error in the CSV resources"
        if not csv_missed
        else f"With `--no-parquet`, `pipeline validate` missed: {', '.join(csv_missed)}",
        "(the errors planted in Parquet twins are out of its reach by design).",
        "",
    ]


def _engines_section(engines: dict | None) -> list[str]:
    """The engines of pipeline validate side by side on the planted package."""
    if not engines:
        return []
    arrow = engines["arrow"]

    def row(name: str, entry: dict) -> str:
        ratio = entry["median_s"] / arrow["median_s"]
        memory = _peak(entry) / _peak(arrow)
        every = entry.get("tree_peak_mb")
        processes = f"{every:.0f} MB" if every else "-"
        return (
            f"| {name} | `{_command(entry)}` | {_fmt(entry)} | {processes} | {ratio:.2f}x "
            f"| {memory:.2f}x |"
        )

    same = "the same" if all(engines["same_reports"]) else "NOT the same"
    lines = [
        "## pipeline validate: the arrow, duckdb and spark engines",
        "",
        f"The validate step's planted package, CSV resources only ({engines['rows']:,} rows, "
        f"{engines['csv_mb']} MB of CSV), {ENGINE_RUNS} runs of each command by turns "
        f"({SPARK_RUNS} of spark's). The reports of all of them are {same} "
        f"({engines['errors']} errors). Peak memory: of the largest process; all processes: "
        "their summed PSS, Spark's JVM included, in one more run.",
        "",
        "| engine | command | result | all processes | time vs arrow | peak memory vs arrow |",
        "|---|---|---|---|---|---|",
        row("arrow (default)", arrow),
        row("duckdb", engines["duckdb"]),
        row(f"duckdb, --memory-limit {engines['memory_limit']}", engines["duckdb_limited"]),
    ]
    if "spark" in engines:
        lines += [
            row("spark (local[*])", engines["spark"]),
            "",
            f"Spark's start-up on its own: {engines['spark_startup_s']} s more than the arrow "
            "engine on a one-table package of five rows (starting the JVM and the session).",
        ]
    return [*lines, ""]


def _scale_section(scale: dict | None) -> list[str]:
    """The 10-million-row package validated by duckdb within a memory limit."""
    if not scale:
        return []
    entry = scale["duckdb"]
    found = sum(scale["found"])
    return [
        f"## pipeline validate at scale: {scale['rows']:,} rows",
        "",
        f"The validate step's clean package with each table copied {scale['copies']} times "
        f"under fresh ids ({scale['csv_mb']:,} MB of CSV, built in {scale['build_s']} s), then "
        f"the planted errors; CSV resources only, one run. {found} of "
        f"{len(scale['found'])} planted errors found ({scale['errors']} errors listed).",
        "",
        "| engine | command | result | all processes |",
        "|---|---|---|---|",
        f"| duckdb, --memory-limit {scale['memory_limit']} | `{_command(entry)}` "
        f"| {_fmt(entry)} | {entry['tree_peak_mb']:.0f} MB |",
        "",
    ]


def _routes_section(routes: dict | None) -> list[str]:
    """The compilation routes side by side."""
    if not routes:
        return []
    lines = [
        "## pipeline validate: the compilation routes of the SQL engines' checks",
        "",
        f"One subset of the checks (types, required, enum, pattern, minimum, unique, primary and "
        f"foreign key) on the planted package's evidence table ({routes['rows']:,} rows) with "
        f"{len(routes['arrow'])} failing rows planted, by each route and engine "
        "(bench/routes.py), from the CSV files to the failing rows.",
        "",
        "| route | compile | run (median of 3) | all processes | rows found = arrow's | "
        "located / unlocated |",
        "|---|---|---|---|---|---|",
    ]
    for name, entry in routes["routes"].items():
        if "unavailable" in entry:
            lines.append(f"| {name} | - | - | - | cannot run: {entry['unavailable']} | - |")
            continue
        same = "yes" if entry["same_rows"] else "no"
        lines.append(
            f"| {name} | {entry['compile_s']:.3f} s | {entry['median_s']:.2f} s | "
            f"{entry['tree_peak_mb']:.0f} MB | {same} | {entry['located']} / "
            f"{entry['unlocated']} |"
        )
    counted = ", ".join(f"{name} {n}" for name, n in routes["lines"].items())
    return [*lines, "", f"Lines of code for the subset: {counted}.", ""]


def _speed_section(speed: list[float] | None) -> list[str]:
    if not speed:
        return []
    timings = " s, ".join(f"{x:.2f}" for x in speed)
    return [
        "## Machine speed",
        "",
        "The same pure-Python loop (`sum(i * i for i in range(10_000_000))`, median of 3) timed "
        f"before check, publish and validate and after them: {timings} s. The machine is a "
        "shared virtual machine: the same work can take half as long again from one hour to the "
        "next, which is why every comparison here is between figures of one run.",
        "",
    ]


def _help_section(help_: dict | None) -> list[str]:
    if not help_:
        return []
    return [
        "## Start-up",
        "",
        f"`pipeline --help`: {help_['median_s']:.3f} s (median of {help_['runs']}); "
        f"target 0.3 s: {'met' if help_['median_s'] <= 0.3 else 'NOT met'}.",
        "",
    ]


# 10k, seconds: a re-check after one edit (a summary, or an id the checks across files read), by
# a new command and by the watcher left running
CACHE_TARGETS = {
    "check, one file edited": 2.0,
    "check, one id renamed": 2.0,
    "check --watch, one file saved": 2.0,
    "publish unchanged, warm": 5.0,
}


def _cache_section(cache: dict | None) -> list[str]:
    """Each command cold, warm and after one edit, with its ratio to the cold run."""
    if not cache:
        return []
    lines = [
        "## Incremental check and publish (per-file cache)",
        "",
        "| corpus | run | result | vs cold |",
        "|---|---|---|---|",
    ]
    for label, entries in cache.items():
        for run, entry in entries.items():
            base = entries["check cold" if run.startswith("check") else "publish unchanged, cold"]
            ratio = entry["median_s"] / base["median_s"]
            lines.append(f"| {label} | {run} | {_fmt(entry)} | {ratio:.2f} |")
    if "10k" in cache:
        for run, target in CACHE_TARGETS.items():
            if run not in cache["10k"]:
                continue  # results of a run before the step measured it
            seconds = cache["10k"][run]["median_s"]
            met = "met" if seconds <= target else "NOT met"
            lines.append("")
            lines.append(f"Target (10k {run} within {target:.0f} s): {met} ({seconds:.1f} s).")
    return lines + [""]


def _review_section(entries: dict) -> list[str]:
    """pipeline report: time, memory and the site written, per corpus; the 10k/1k ratio and the
    target."""
    if not entries:
        return []
    lines = [
        "## pipeline report (the review site)",
        "",
        "| corpus | command | result | pages | HTML | biggest page |",
        "|---|---|---|---|---|---|",
    ]
    for label, entry in entries.items():
        lines.append(
            f"| {label} | `{_command(entry)}` | {_fmt(entry)} | {entry['pages']:,} "
            f"| {entry['mb']:.0f} MB | {entry['biggest']} ({entry['biggest_mb']:.1f} MB) |"
        )
    lines.append("")
    lines.append(
        "Peak memory here is the larger of the biggest process's peak in the timed runs and the "
        "peak of all the command's processes together, sampled in one more run, not timed (the "
        "run with the cache empty is sampled as it is timed). The report checks the annotations "
        'too, through the per-file cache: the rows marked "cache empty" ran first, with an '
        "empty cache (as after `publish --no-cache`); the others with the cache that run filled, "
        "as `make report` runs after `make publish`. The target and the ratio are of those."
    )
    if "1k" in entries and "10k" in entries:
        e = entries["10k"]
        ratio = e["median_s"] / entries["1k"]["median_s"]
        ok = e["median_s"] <= 60 and _peak(e) <= 2048
        lines += [
            "",
            f"10k/1k time ratio: **{ratio:.1f}** (HTML {e['mb'] / entries['1k']['mb']:.1f}x).",
            f"Target (10k within 60 s and 2 GB): {'met' if ok else 'NOT met'} "
            f"({e['median_s']:.0f} s, {_peak(e):.0f} MB).",
        ]
    return lines + [""]


def _notes_section(notes: list[str] | None) -> list[str]:
    return ["## Notes", ""] + [f"- {note}" for note in notes] + [""] if notes else []


def step_report(results: dict) -> None:
    lines = _heading() + _corpus_section(results.get("corpus", {}))
    lines += _timing_section("check", results.get("check", {}), None)
    lines += _timing_section(
        "publish",
        results.get("publish", {}),
        "10k within 60 s and 2 GB; 10k/1k time ratio <= 12",
    )
    lines += _cache_section(results.get("cache"))
    lines += _validate_section(results.get("validate"))
    lines += _review_section(results.get("review", {}))
    lines += _engines_section(results.get("engines"))
    lines += _scale_section(results.get("scale"))
    lines += _routes_section(results.get("routes"))
    lines += _speed_section(results.get("speed"))
    lines += _help_section(results.get("help"))
    lines += _notes_section(results.get("notes"))
    (ROOT / "bench" / "RESULTS.md").write_text("\n".join(lines))


STEPS = {
    "corpus": step_corpus,
    "speed": step_speed,
    "check": step_check,
    "publish": step_publish,
    "validate": step_validate,
    "cache": step_cache,
    "engines": step_engines,
    "scale": step_scale,
    "routes": step_routes,
    "help": step_help,
    "review": step_review,
    "report": step_report,
}
DEFAULT = [
    "corpus",
    "speed",
    "check",
    "speed",
    "publish",
    "speed",
    "validate",
    "speed",
    "cache",
    "review",
    "engines",
    "scale",
    "routes",
    "speed",
    "help",
    "report",
]


def main(argv: list[str]) -> int:
    WORK.mkdir(parents=True, exist_ok=True)
    chosen = argv or DEFAULT
    results = load()
    results["run_id"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    save(results)
    for name in chosen:
        results = load()
        print(f"bench: {name}", flush=True)
        STEPS[name](results)
        save(results)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
