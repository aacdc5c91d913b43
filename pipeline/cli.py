"""The `pipeline` command: each subcommand parses its options and calls one library function.

Exit codes: 0 success, 1 invalid input (every problem printed, file:line first),
2 usage error. Heavy libraries are imported inside commands to keep start-up fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Hand-annotated news articles -> validated tables -> versioned data package.")

SEEDS = typer.Option(Path("seeds"), "--seeds", help="Folder of sources and annotations.")
OUT = typer.Option(Path("datapackage"), "--out", help="Folder of the published package.")


def fail(problems, as_json: bool = False) -> None:
    """Print problems and exit 1."""
    if as_json:
        typer.echo(json.dumps({"valid": False, "problems": [p.to_dict() for p in problems]}, indent=2))
    else:
        for problem in problems:
            typer.echo(str(problem), err=True)
        typer.echo(f"{len(problems)} problem(s) found.", err=True)
    raise typer.Exit(1)


@app.command()
def ingest(
    file: Path = typer.Argument(..., help="The article text to add."),
    publisher: str = typer.Option(..., "--publisher", help="Outlet that published the article."),
    title: Optional[str] = typer.Option(None, "--title", help="Headline; defaults to the first line of the text."),
    published: Optional[str] = typer.Option(None, "--published", help="Publication date, yyyy-mm-dd."),
    basis: Optional[str] = typer.Option(None, "--basis", help="How the publication date was established."),
    source_id: Optional[str] = typer.Option(None, "--id", help="Source id; defaults to a slug of the file name."),
    language: str = typer.Option("en", "--language", help="ISO 639-1 language code."),
    url: Optional[str] = typer.Option(None, "--url", help="Address of the article."),
    seeds: Path = SEEDS,
) -> None:
    """Add an article to seeds/: normalised text, metadata and an empty annotation file."""
    from pipeline.ingest import ingest as run
    from pipeline.problems import InputError

    try:
        done = run(file, seeds, publisher=publisher, title=title, published=published, published_basis=basis,
                   source_id=source_id, language=language, url=url)
    except InputError as exc:
        fail(exc.problems)
    for change in done.changes:
        typer.echo(f"normalised: {change}")
    typer.echo(f"ingested {done.source_id} (sha256 {done.sha256[:12]}) into {done.folder}")
    typer.echo(f"next: fill in {done.folder / 'source.yaml'} and annotate {done.folder / 'annotations.yaml'}")


@app.command()
def check(seeds: Path = SEEDS, as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Validate seeds/: structure, evidence, schemas, keys and domain rules; report every problem."""
    from pipeline.check import check_seeds

    checked = check_seeds(seeds)
    if checked.problems:
        fail(checked.problems, as_json)
    counts = {table: len(rows) for table, rows in checked.tables.rows.items()}
    if as_json:
        typer.echo(json.dumps({"valid": True, "problems": [], "rows": counts}, indent=2))
    else:
        typer.echo("ok: " + ", ".join(f"{n} {table}" for table, n in counts.items()))


@app.command()
def publish(seeds: Path = SEEDS, out: Path = OUT) -> None:
    """Check seeds/, build every table and publish the package atomically into datapackage/."""
    from pipeline.problems import InputError
    from pipeline.publish import publish as run

    try:
        result = run(seeds, out)
    except InputError as exc:
        fail(exc.problems)
    if result.changed:
        typer.echo(f"published {out} version {result.version}" + (f" ({result.level} release)" if result.level else ""))
    else:
        typer.echo(f"unchanged: {out} stays at version {result.version}")


@app.command()
def coverage(seeds: Path = SEEDS, show_all: bool = typer.Option(False, "--all", help="Also list excluded sentences."),
             as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """List, per source, the sentences no evidence touches; exit 1 if any is unexplained."""
    from pipeline.check import check_seeds
    from pipeline.coverage import classify

    checked = check_seeds(seeds)
    sentences = classify(checked.corpus, checked.tables.rows["evidence"], checked.exclusions)
    uncovered = [s for s in sentences if s.status == "uncovered"]
    if as_json:
        typer.echo(json.dumps([s.__dict__ for s in sentences if s.status != "covered"], indent=2, ensure_ascii=False))
    else:
        for s in sentences:
            if s.status == "uncovered" or (show_all and s.status == "excluded"):
                label = "UNCOVERED" if s.status == "uncovered" else f"excluded ({s.reason})"
                typer.echo(f"{s.source_id}:{s.line}: {label}: {s.text}")
        by_status = {status: sum(1 for s in sentences if s.status == status) for status in ("covered", "excluded", "uncovered")}
        typer.echo(f"{len(sentences)} sentences: {by_status['covered']} covered, {by_status['excluded']} excluded "
                   f"with a reason, {by_status['uncovered']} unexplained")
    if uncovered:
        raise typer.Exit(1)


@app.command("annotation-schema")
def annotation_schema(check_only: bool = typer.Option(False, "--check", help="Fail if the file is out of date.")) -> None:
    """Regenerate schemas/annotation.schema.json from the table schemas."""
    from pipeline import schemas

    path = schemas.SCHEMAS_DIR / "annotation.schema.json"
    wanted = json.dumps(schemas.annotation_json_schema(), indent=2, ensure_ascii=False) + "\n"
    if check_only:
        if not path.is_file() or path.read_text(encoding="utf-8") != wanted:
            typer.echo(f"{path} is out of date; run 'pipeline annotation-schema'", err=True)
            raise typer.Exit(1)
        typer.echo(f"{path} is up to date")
        return
    path.write_text(wanted, encoding="utf-8")
    typer.echo(f"wrote {path}")


# -- commands: versions (diff, release) --

# -- commands: validate (validate, synth) --

# -- commands: report (report) --


def main() -> None:  # pragma: no cover - console script entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
