"""How to cite the package: the recommended citation, CITATION.cff and .zenodo.json.

Each is a plain function of the package descriptor (as pipeline.package.reader returns it)
and of the sha256 of datapackage.json, so an unchanged package gives the same bytes. The
sha256 of the release zip cannot be cited: `make release` makes the zip after publish
has written these files. The descriptor's digest pins every data file in turn, since the
descriptor carries each file's sha256 (and its Parquet twin's).

Nothing is invented: the authors are the descriptor's contributors, a web address is
given only when the descriptor has one (`homepage`), and no DOI is claimed.
"""

from __future__ import annotations

import html
import json
import re

import yaml

CITATION_FILE = "CITATION.cff"  # Citation File Format 1.2.0, which GitHub and Zenodo read
ZENODO_FILE = ".zenodo.json"  # Zenodo's deposit metadata, read when a release is archived
CFF_VERSION = "1.2.0"
_WEB_ADDRESS = re.compile(r"^https?://[^\s<>()\\`]+$")


class CitationError(ValueError):
    """A descriptor that lacks what a citation needs (a title, a version, an author)."""


def authors(descriptor: dict) -> list[str]:
    """The names of the package's contributors, in order: the authors of every citation."""
    names = [
        str(contributor.get("title") or contributor.get("name") or "").strip()
        for contributor in descriptor.get("contributors") or []
        if isinstance(contributor, dict)
    ]
    names = [name for name in names if name]
    if not names:
        raise CitationError(
            "datapackage.json: contributors: a citation needs at least one author "
            "(add a contributor with a title to schemas/package.yaml)"
        )
    return names


def release_date(descriptor: dict) -> str:
    """The date of the version, yyyy-mm-dd, from `created` (an ISO 8601 time)."""
    return str(descriptor["created"])[:10]


def homepage(descriptor: dict) -> str | None:
    """The package's web address when the descriptor gives a safe one, else None."""
    value = descriptor.get("homepage")
    return value if isinstance(value, str) and _WEB_ADDRESS.match(value) else None


def recommended_citation(descriptor: dict, descriptor_sha256: str) -> str:
    """The citation, as plain text: authors (year). title, version, date, identifiers, digest."""
    year = release_date(descriptor)[:4]
    where = homepage(descriptor)
    return (
        f"{'; '.join(authors(descriptor))} ({year}). {descriptor['title']} "
        f"(version {descriptor['version']}, {release_date(descriptor)}) [Data set]. "
        f"{descriptor['name']}, {descriptor['id']}."
        + (f" {where}." if where else "")
        + f" datapackage.json sha256:{descriptor_sha256}."
    )


def subset_citation_advice() -> str:
    """How to cite a filtered subset, as ACLED asks of users of its data: name the version, the
    tables and the filter."""
    return (
        "When you use a subset, cite the package as above and name the tables and the filter "
        'that made the subset, as code, e.g. "casualty_reports rows with is_cumulative = false '
        "whose event has scope = 'incident' and claimant_actor_id = "
        "'azerbaijani-prosecutors-office'\", or the SQL or pandas expression you ran."
    )


def _licence_id(descriptor: dict) -> str | None:
    licences = descriptor.get("licenses") or []
    first = licences[0] if licences and isinstance(licences[0], dict) else {}
    name = first.get("name")
    return name if isinstance(name, str) and name else None


def citation_cff(descriptor: dict, descriptor_sha256: str) -> dict:
    """CITATION.cff (CFF 1.2.0) as a mapping; `render_citation_cff` writes it."""
    cff: dict = {
        "cff-version": CFF_VERSION,
        "message": (
            "If you use these data, please cite them as below, and name the tables and the "
            "filter of any subset you use. Cite as: "
            + recommended_citation(descriptor, descriptor_sha256)
        ),
        "type": "dataset",
        "title": descriptor["title"],
        "version": descriptor["version"],
        "date-released": release_date(descriptor),
        "authors": [{"name": name} for name in authors(descriptor)],
        "abstract": descriptor.get("description") or descriptor["title"],
        "identifiers": [
            {"type": "other", "value": descriptor["id"], "description": "package identifier"},
            {
                "type": "other",
                "value": f"sha256:{descriptor_sha256}",
                "description": "sha256 of datapackage.json, which lists the sha256 of every file",
            },
        ],
    }
    licence = _licence_id(descriptor)
    if licence:
        cff["license"] = licence
    if descriptor.get("keywords"):
        cff["keywords"] = [str(keyword) for keyword in descriptor["keywords"]]
    if homepage(descriptor):
        cff["url"] = homepage(descriptor)
    return cff


def render_citation_cff(descriptor: dict, descriptor_sha256: str) -> str:
    """CITATION.cff as YAML text: dumped, never formatted by hand, so no title can break it."""
    cff = citation_cff(descriptor, descriptor_sha256)
    text = yaml.safe_dump(cff, sort_keys=False, allow_unicode=True, width=100)
    if yaml.safe_load(text) != cff:
        # PyYAML writes U+0085, U+2028 and U+2029 as they are, and reads them back as line breaks
        # (found by the property test); escaped, every character survives.
        text = yaml.safe_dump(cff, sort_keys=False, allow_unicode=False, width=100)
    return "# Written by pipeline publish from datapackage.json; do not edit.\n" + text


def zenodo_metadata(descriptor: dict, descriptor_sha256: str) -> dict:
    """Zenodo deposit metadata (developers.zenodo.org, "Deposit metadata") as a mapping.

    Zenodo reads `description` as HTML, so the descriptor's text is escaped into it.
    """
    description = html.escape(descriptor.get("description") or descriptor["title"])
    metadata: dict = {
        "upload_type": "dataset",
        "title": descriptor["title"],
        "version": descriptor["version"],
        "publication_date": release_date(descriptor),
        "creators": [{"name": name} for name in authors(descriptor)],
        "description": (
            f"<p>{description}</p><p>Cite as: "
            f"{html.escape(recommended_citation(descriptor, descriptor_sha256))}</p>"
        ),
        "access_right": "open",
    }
    licence = _licence_id(descriptor)
    if licence:
        metadata["license"] = licence.lower()  # Zenodo's licence ids are lowercase SPDX ids
    if descriptor.get("keywords"):
        metadata["keywords"] = [str(keyword) for keyword in descriptor["keywords"]]
    if homepage(descriptor):
        metadata["related_identifiers"] = [
            {"identifier": homepage(descriptor), "relation": "isDocumentedBy"}
        ]
    return metadata


def render_zenodo(descriptor: dict, descriptor_sha256: str) -> str:
    """.zenodo.json as text, keys in a fixed order, ending with a newline."""
    return (
        json.dumps(zenodo_metadata(descriptor, descriptor_sha256), indent=2, ensure_ascii=False)
        + "\n"
    )
