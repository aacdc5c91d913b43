"""Synthetic corpora in the seeds/ layout, for benchmarks and for testing the checks.

`write_corpus` writes DIR/count_conventions.yaml and, per document, DIR/<source_id>/
source.yaml, text.txt and annotations.yaml: an article text generated sentence by
sentence and annotations whose evidence quotes those sentences. Proportions follow
the real corpus (per document about 8 actors, 5 places, 12 events, 15 statements and
5 casualty reports, 1-3 quotes each); actors and places come from shared pools and are
defined once, in the first document that names them. The same seed gives the same
bytes. With `plant_errors`, one fault of every kind `pipeline check` detects is
written into the corpus and listed in DIR/planted-errors.json.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pipeline import progress as shown
from pipeline.contract import schemas

T = TypeVar("T")

WAR_START = dt.date(2020, 9, 27)
WAR_DAYS = 45
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
PUBLISHERS = [
    "Wire",
    "Reuters",
    "AP",
    "AFP",
    "BBC",
    "Eurasianet",
    "OC Media",
    "Al Jazeera",
    "TASS",
    "Anadolu",
]
CONVENTIONS = [
    ("several", "several", 3, 9, 'Read as three to nine; below "dozens".'),
    (
        "dozens",
        "dozens",
        12,
        99,
        'ACLED records "dozens" as 12, the lowest reading; below "hundreds".',
    ),
    (
        "hundreds",
        "hundreds",
        100,
        999,
        'ACLED records "hundreds" as 100, the lowest reading; below "thousands".',
    ),
    ("thousands", "thousands", 1000, None, "Read as at least 1,000 with no upper bound."),
    (
        "a-few",
        "a few",
        2,
        5,
        "Read as two to five, following UCDP's low estimate for small vague counts.",
    ),
]
STATES = [
    ("Azerbaijan", "AZE", "Q227"),
    ("Armenia", "ARM", "Q399"),
    ("Turkey", "TUR", "Q43"),
    ("Russia", "RUS", "Q159"),
    ("Iran", "IRN", "Q794"),
    ("France", "FRA", "Q142"),
    ("United States", "USA", "Q30"),
    ("Georgia", "GEO", "Q230"),
]
BODIES = [
    "Ministry of Defence",
    "Foreign Ministry",
    "Presidency",
    "Prosecutor General's Office",
    "Ombudsman's Office",
]
ORGS = [
    ("International Committee of the Red Cross", "Q71"),
    ("OSCE Minsk Group", None),
    ("United Nations", "Q1065"),
    ("Human Rights Watch", "Q187052"),
    ("Amnesty International", "Q42970"),
    ("European Union", "Q458"),
]
FIRST = [
    "Anar",
    "Hikmet",
    "Leyla",
    "Vagif",
    "Arman",
    "Shushan",
    "Artsrun",
    "Zaur",
    "Narine",
    "Elchin",
    "Tigran",
    "Gunel",
    "Samir",
    "Anna",
    "David",
    "Murad",
    "Lilit",
    "Rashad",
    "Karen",
    "Aysel",
    "Hovhannes",
    "Farid",
    "Mariam",
    "Ilham",
]
LAST = [
    "Hajiyev",
    "Stepanyan",
    "Aliyeva",
    "Hovhannisyan",
    "Mammadov",
    "Sargsyan",
    "Huseynov",
    "Grigoryan",
    "Karimli",
    "Petrosyan",
    "Guliyev",
    "Avetisyan",
    "Ismayilov",
    "Harutyunyan",
    "Rzayev",
    "Manukyan",
    "Babayev",
    "Melkonyan",
]
TOWNS = [
    ("Stepanakert", 39.8177, 46.7528),
    ("Shusha", 39.7581, 46.7489),
    ("Martakert", 40.2117, 46.8219),
    ("Hadrut", 39.5197, 47.0311),
    ("Fuzuli", 39.6003, 47.1431),
    ("Jabrayil", 39.3989, 47.0289),
    ("Terter", 40.3447, 46.9303),
    ("Ganja", 40.6828, 46.3606),
    ("Barda", 40.3744, 47.1267),
    ("Agdam", 39.9911, 46.9275),
    ("Lachin", 39.6406, 46.5461),
    ("Goris", 39.5111, 46.3381),
    ("Kapan", 39.2075, 46.4053),
    ("Vardenis", 40.1833, 45.7333),
    ("Mingachevir", 40.7700, 47.0489),
    ("Horadiz", 39.4500, 47.3333),
    ("Tovuz", 40.9922, 45.6289),
    ("Martuni", 39.7931, 47.1156),
]
SYLLABLES = [
    "ag",
    "kar",
    "ben",
    "dzor",
    "shen",
    "tal",
    "qar",
    "ma",
    "lu",
    "ven",
    "gol",
    "ash",
    "ter",
    "nor",
    "bey",
]
SUFFIXES = ["kend", "li", "ashen", "avan", "ly", "dara", "gyugh", "abad"]
SUB_TYPES = schemas.raw_schema("events")["x-sub-event-types"]
EVENT_MIX = [
    (
        "Explosions/Remote violence",
        ["Shelling/artillery/missile attack", "Air/drone strike", "Remote explosive/landmine/IED"],
        40,
    ),
    ("Battles", ["Armed clash", "Government regains territory"], 30),
    (
        "Strategic developments",
        ["Disrupted weapons use", "Agreement", "Looting/property destruction", "Other"],
        20,
    ),
    ("Violence against civilians", ["Attack", "Abduction/forced disappearance"], 10),
]
VERBS = {
    "Explosions/Remote violence": "shelled",
    "Battles": "clashed with",
    "Strategic developments": "reported action by",
    "Violence against civilians": "attacked civilians held by",
}
SAYINGS = [
    ("ACCUSE", "accused", "the enemy is shelling peaceful towns"),
    ("DENY", "rejected claims by", "this is a lie"),
    ("CLAIM", "briefed reporters on", "our forces hold the heights"),
    ("REQUEST", "called on", "stop the fire now"),
    ("THREATEN", "warned", "any attack will be answered"),
    ("SUPPORT", "backed", "we stand with our brothers"),
    ("CONSULT", "spoke by phone with", "we discussed the situation"),
    ("REJECT", "rejected a proposal by", "we will not accept this"),
]
CHANNELS = ["official_statement", "social_media", "media", "phone_call", "meeting", "unspecified"]
POPULATIONS = ["civilian", "military", "civilian", "military", "mixed"]
NUMBER_WORDS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass
class Actor:
    actor_id: str
    name: str
    actor_type: str
    country: str | None = None
    parent: str | None = None
    role: str | None = None
    wikidata: str | None = None


@dataclass
class Place:
    place_id: str
    name: str
    country: str
    lat: float
    lon: float
    precision: int


def actor_pool(size: int, rng: random.Random) -> list[Actor]:
    """States, their bodies and forces, organisations, then people up to `size`."""
    pool = []
    for name, code, qid in STATES:
        state = slug(name)
        pool.append(Actor(state, name, "state", code, wikidata=qid))
        for body in BODIES:
            pool.append(
                Actor(f"{state}-{slug(body)}", f"{body} of {name}", "government_body", code, state)
            )
        pool.append(
            Actor(f"{state}-armed-forces", f"Armed Forces of {name}", "armed_force", code, state)
        )
        pool.append(Actor(f"{state}-media", f"{name} media", "media", code))
    pool += [Actor(slug(name), name, "organisation", None, wikidata=qid) for name, qid in ORGS]
    bodies = [a for a in pool if a.actor_type == "government_body"]
    number = 0
    while len(pool) < size:
        first, last = FIRST[number % len(FIRST)], LAST[(number // len(FIRST)) % len(LAST)]
        employer = bodies[rng.randrange(len(bodies))]
        round_ = number // (len(FIRST) * len(LAST))
        name = f"{first} {last}" + (f" {chr(65 + round_ % 26)}." if round_ else "")
        suffix = f"-{round_}" if round_ else ""
        pool.append(
            Actor(
                slug(f"{first} {last}") + suffix,
                name,
                "person",
                employer.country,
                employer.actor_id,
                f"spokesperson of the {employer.name}",
            )
        )
        number += 1
    return pool


def place_pool(size: int, rng: random.Random) -> list[Place]:
    pool = [Place(slug(name), name, "AZE", lat, lon, 1) for name, lat, lon in TOWNS]
    seen = {p.place_id for p in pool}
    while len(pool) < size:
        name = (rng.choice(SYLLABLES) + rng.choice(SYLLABLES) + rng.choice(SUFFIXES)).capitalize()
        if slug(name) in seen:
            name = f"{name} {len(pool)}"
        seen.add(slug(name))
        pool.append(
            Place(
                slug(name),
                name,
                rng.choice(["AZE", "ARM"]),
                round(rng.uniform(39.0, 41.0), 4),
                round(rng.uniform(45.5, 47.6), 4),
                rng.choice([1, 1, 1, 2, 3]),
            )
        )
    return pool


def zipf_pick(rng: random.Random, pool: list[T], head: int) -> T:
    """Mostly from the first `head` items (the well-known), sometimes from the long tail."""
    if rng.random() < 0.7 or len(pool) <= head:
        return pool[int(rng.random() ** 2 * min(head, len(pool)))]
    return pool[rng.randrange(len(pool))]


# ---- one document ----

Record = dict[str, Any]


@dataclass
class Doc:
    source_id: str
    published: dt.date
    publisher: str
    sentences: list[str] = field(default_factory=list)
    records: dict[str, list[Record]] = field(
        default_factory=lambda: {t: [] for t in schemas.ANNOTATED}
    )

    def say(self, sentence: str) -> str:
        self.sentences.append(sentence)
        return sentence


@dataclass
class Cast:
    """Who and where one document speaks of: parties fight, speakers speak."""

    actors: list[Actor]
    places: list[Place]
    parties: list[Actor]
    speakers: list[Actor]


def _weekday(day: dt.date) -> str:
    return WEEKDAYS[day.weekday()]


def _count_phrase(rng: random.Random, what: str, verb: str) -> tuple[str, dict[str, Any]]:
    """Words of a count and the low/high/convention they stand for."""
    if rng.random() < 0.35:
        term, phrase, low, high, _ = rng.choice(CONVENTIONS[:4])
        return f"{phrase} of {what} were {verb}", {"low": low, "high": high, "convention": term}
    n = rng.randrange(1, 60)
    words = NUMBER_WORDS[n] if n < len(NUMBER_WORDS) else str(n)
    return f"{words} {what} {'was' if n == 1 else 'were'} {verb}", {"low": n, "high": n}


def _with_superiors(used: list[Actor], actors: list[Actor]) -> list[Actor]:
    """`used` and, after them, the superiors of each (a person's ministry, then its state)."""
    by_id = {a.actor_id: a for a in actors}
    for actor in list(used):
        parent = by_id.get(actor.parent) if actor.parent else None
        while parent is not None and parent not in used:
            used.append(parent)
            parent = by_id.get(parent.parent) if parent.parent else None
    return used


def _pick_cast(rng: random.Random, actors: list[Actor], places: list[Place]) -> Cast:
    """A handful of actors (with the superiors of each) and places, mostly well-known ones."""
    picked_actors = (zipf_pick(rng, actors, 60) for _ in range(rng.randint(6, 10)))
    used_actors = list({a.actor_id: a for a in picked_actors}.values())
    picked_places = (zipf_pick(rng, places, 25) for _ in range(rng.randint(4, 6)))
    used_places = list({p.place_id: p for p in picked_places}.values())
    used_actors = _with_superiors(used_actors, actors)
    fighting = ("state", "armed_force")
    speaking = ("person", "government_body", "state")
    parties = [a for a in used_actors if a.actor_type in fighting] or used_actors
    speakers = [a for a in used_actors if a.actor_type in speaking] or used_actors
    return Cast(used_actors, used_places, parties, speakers)


def _introduce_actors(doc: Doc, index: int, cast: Cast, defined: set[str]) -> None:
    """A sentence per actor; the first document to name an actor defines it."""
    for actor in cast.actors:
        intro = (
            f"{actor.name}, {actor.role}"
            if actor.role
            else f"{actor.name} ({actor.actor_type.replace('_', ' ')})"
        )
        doc.say(f"{intro}, was among those cited in report {index}.")
        if actor.actor_id not in defined:
            defined.add(actor.actor_id)
            record = {
                "actor_id": actor.actor_id,
                "name": actor.name,
                "actor_type": actor.actor_type,
                "country": actor.country,
                "parent_actor_id": actor.parent,
                "role": actor.role,
                "wikidata_id": actor.wikidata,
                "evidence": [intro],
            }
            doc.records["actors"].append(record)


def _introduce_places(doc: Doc, index: int, cast: Cast, defined: set[str]) -> None:
    """A sentence per place; the first document to name a place defines it."""
    for place in cast.places:
        quote = f"the area of {place.name}"
        doc.say(f"Residents in {quote} sheltered in basements, according to report {index}.")
        if place.place_id not in defined:
            defined.add(place.place_id)
            doc.records["places"].append(
                {
                    "place_id": place.place_id,
                    "name": place.name,
                    "country": place.country,
                    "latitude": place.lat,
                    "longitude": place.lon,
                    "geo_precision": place.precision,
                    "evidence": [quote],
                }
            )


def _add_event(doc: Doc, rng: random.Random, index: int, n: int, cast: Cast) -> Record:
    """Incident `n` of the document: one or two sentences and its record."""
    event_type, subs, _ = rng.choices(EVENT_MIX, weights=[m[2] for m in EVENT_MIX])[0]
    sub = rng.choice(subs)
    day = doc.published - dt.timedelta(days=rng.choice([0, 0, 1, 1, 2, 3]))
    parties = cast.parties
    a1, a2 = rng.sample(parties, 2) if len(parties) > 1 else (parties[0], None)
    place = rng.choice(cast.places)
    claimant = rng.choice(cast.speakers)
    status = rng.choice(["claimed", "claimed", "reported", "denied", "disputed", "unverified"])
    event_id = f"{slug(sub)[:24].strip('-')}-{doc.source_id}-{n}"
    other = a2.name if a2 else "positions"
    first = f"{a1.name} {VERBS[event_type]} {other} near {place.name} on {_weekday(day)}"
    doc.say(f"{first} in incident {index}-{n}, {claimant.name} said.")
    evidence = [first]
    if rng.random() < 0.4:
        second = f"incident {index}-{n} lasted {rng.randint(2, 9)} hours"
        doc.say(f"Witnesses said {second}.")
        evidence.append(second)
    record = {
        "event_id": event_id,
        "date_start": day.isoformat(),
        "date_precision": "day",
        "event_type": event_type,
        "sub_event_type": sub,
        "scope": "incident",
        "actor1_id": a1.actor_id,
        "actor2_id": a2.actor_id if a2 else None,
        "place_id": place.place_id,
        "claim_status": status,
        "claimant_actor_id": None if status == "reported" else claimant.actor_id,
        "summary": f"{sub} near {place.name}.",
        "evidence": evidence,
    }
    doc.records["events"].append(record)
    return record


def _add_statement(
    doc: Doc,
    rng: random.Random,
    index: int,
    n: int,
    cast: Cast,
    events: list[Record],
    earlier: list[str],
) -> str:
    """Statement `n` of the document, about one of its `events` or none; a denial responds to one
    of the `earlier` statements. Returns its id."""
    kind, verb, words = rng.choice(SAYINGS)
    speaker = rng.choice(cast.speakers)
    target = rng.choice(cast.parties)
    day = doc.published - dt.timedelta(days=rng.choice([0, 0, 1]))
    said = f"{words}, {index}-{n}"
    text = f"{speaker.name} {verb} {target.name} on {_weekday(day)}, saying “{said}”"
    doc.say(text + ".")
    about = rng.choice(events)["event_id"] if rng.random() < 0.5 else None
    if about and next(e for e in events if e["event_id"] == about)["date_start"] > day.isoformat():
        about = None  # a statement is never about an event after it
    said_on = {s["statement_id"]: s["date"] for s in doc.records["statements"]}
    answerable = [e for e in earlier if said_on.get(e, "9999") <= day.isoformat()]
    # a denial answers a statement made before it, never a later one
    responds = rng.choice(answerable) if kind == "DENY" and answerable else None
    statement_id = f"{slug(speaker.name)[:20].strip('-')}-{kind.lower()}-{doc.source_id}-{n}"
    doc.records["statements"].append(
        {
            "statement_id": statement_id,
            "speaker_actor_id": speaker.actor_id,
            "target_actor_id": target.actor_id,
            "date": day.isoformat(),
            "date_precision": "day",
            "channel": rng.choice(CHANNELS),
            "statement_type": kind,
            "quote": said if rng.random() < 0.6 else None,
            "summary": f"{speaker.name} {verb} {target.name}.",
            "about_event_id": about,
            "responds_to_statement_id": responds,
            "evidence": [text],
        }
    )
    return statement_id


def _add_casualty_report(
    doc: Doc, rng: random.Random, index: int, n: int, cast: Cast, events: list[Record]
) -> None:
    """Tally `n` of the document: a claim of killed (and maybe wounded) at one of its `events`."""
    claimant = rng.choice(cast.speakers)
    event = rng.choice(events)
    population = rng.choice(POPULATIONS)
    what = {"civilian": "civilians", "military": "servicemen", "mixed": "people"}[population]
    killed_words, killed = _count_phrase(rng, what, "killed")
    count_text = killed_words
    injured = None
    if rng.random() < 0.5:
        injured_words, injured = _count_phrase(rng, "others", "wounded")
        count_text += f" and {injured_words}"
    cumulative = rng.random() < 0.15
    day = dt.date.fromisoformat(event["date_start"])
    place_name = next(p.name for p in cast.places if p.place_id == event["place_id"])
    sentence = (
        f"{claimant.name} said on {_weekday(day)} that {count_text} in the area of {place_name}"
    )
    tail = f" (tally {index}-{n}" + (
        ", bringing the total this month higher)" if cumulative else ")"
    )
    doc.say(sentence + tail + ".")
    record: Record = {
        "report_id": f"casualties-{doc.source_id}-{n}",
        "claimant_actor_id": claimant.actor_id,
        "event_id": event["event_id"],
        "place_id": event["place_id"],
        "period_start": day.isoformat(),
        "period_end": day.isoformat(),
        "population": population,
        "affiliation_actor_id": event["actor2_id"] or event["actor1_id"],
    }
    for group, count in (("killed", killed), ("injured", injured)):
        if count:
            record[f"{group}_low"], record[f"{group}_high"] = count["low"], count["high"]
            if "convention" in count:
                record[f"{group}_convention"] = count["convention"]
    record.update(
        {"count_text": count_text, "is_cumulative": cumulative, "evidence": [sentence + tail]}
    )
    doc.records["casualty_reports"].append(record)


def build_doc(
    index: int,
    rng: random.Random,
    actors: list[Actor],
    places: list[Place],
    defined: set[str],
    statements_so_far: list[str],
) -> Doc:
    """Document `index`: its cast, then its incidents, statements and tallies, sentence by sentence.

    `defined` holds the actors and places earlier documents define; `statements_so_far` the
    ids of earlier statements, which a denial may respond to. Both grow with this document.
    """
    published = WAR_START + dt.timedelta(days=rng.randrange(WAR_DAYS))
    publisher = PUBLISHERS[index % len(PUBLISHERS)]
    doc = Doc(f"{slug(publisher)}-{published.isoformat()}-{index:06d}", published, publisher)
    cast = _pick_cast(rng, actors, places)
    doc.say(f"Fighting over Nagorno-Karabakh continued, {publisher} reported (report {index}).")
    _introduce_actors(doc, index, cast, defined)
    _introduce_places(doc, index, cast, defined)
    events = [_add_event(doc, rng, index, n, cast) for n in range(rng.randint(11, 17))]
    local_statements: list[str] = []
    for n in range(rng.randint(15, 21)):
        earlier = local_statements or statements_so_far[-50:]
        local_statements.append(_add_statement(doc, rng, index, n, cast, events, earlier))
    statements_so_far.extend(local_statements)
    for n in range(rng.randint(4, 8)):
        _add_casualty_report(doc, rng, index, n, cast, events)
    return doc


# ---- writing ----


def _scalar(value) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return value
    return json.dumps(value, ensure_ascii=False)


def _evidence_item(text: str, item) -> str:
    """A quote as written in the file: plain, or with `occurrence: 1` when the words recur.

    Generated quotes come first in the text where they recur (introductions precede
    mentions). A mapping item is written as given (planted faults).
    """
    if isinstance(item, dict):
        return "{" + ", ".join(f"{key}: {_scalar(value)}" for key, value in item.items()) + "}"
    if text.count(item) <= 1:
        return _scalar(item)
    return "{" + f"quote: {_scalar(item)}, occurrence: 1" + "}"


def annotations_yaml(doc: Doc, text: str) -> tuple[str, dict]:
    """The annotation file, and the line of every (table, record id, field)."""
    lines = [
        "# yaml-language-server: $schema=../../schemas/annotation.schema.json",
        f"source_id: {doc.source_id}",
    ]
    where: dict = {}
    for table in schemas.ANNOTATED:
        records = doc.records[table]
        if not records:
            continue
        lines.append(f"{table}:")
        pk = schemas.primary_key(table)
        for record in records:
            first = True
            where[(table, record[pk], None)] = len(lines) + 1
            for key, value in record.items():
                if value is None:
                    continue
                lead = "  - " if first else "    "
                first = False
                where[(table, record[pk], key)] = len(lines) + 1 + (key == "evidence")
                if key == "evidence":
                    lines.append(f"{lead}evidence:")
                    lines.extend(f"      - {_evidence_item(text, item)}" for item in value)
                else:
                    lines.append(f"{lead}{key}: {_scalar(value)}")
    return "\n".join(lines) + "\n", where


def source_yaml(doc: Doc) -> str:
    title = _scalar(f"Karabakh fighting, report from {doc.publisher}")
    return (
        f"source_id: {doc.source_id}\ntitle: {title}\n"
        f"publisher: {_scalar(doc.publisher)}\npublished_date: '{doc.published.isoformat()}'\n"
        "published_date_basis: The date line of the article.\nlanguage: en\ntext_file: text.txt\n"
    )


def conventions_yaml() -> str:
    lines = ["count_conventions:"]
    for term, phrase, low, high, basis in CONVENTIONS:
        lines += [f"  - term: {term}", f"    phrase: {_scalar(phrase)}", f"    low: {low}"]
        if high is not None:
            lines.append(f"    high: {high}")
        lines.append(f"    basis: {_scalar(basis)}")
    return "\n".join(lines) + "\n"


def generate(docs: int, seed: int = 0) -> list[Doc]:
    rng = random.Random(seed)
    actors = actor_pool(max(80, docs // 2), rng)
    places = place_pool(max(30, docs // 3), rng)
    defined: set[str] = set()
    statements: list[str] = []
    return [build_doc(i, rng, actors, places, defined, statements) for i in range(docs)]


def doc_text(doc: Doc) -> str:
    title = f"Karabakh fighting, report from {doc.publisher}"
    body, paragraph = [], []
    for number, sentence in enumerate(doc.sentences):
        paragraph.append(sentence)
        if len(paragraph) == 4 or number == len(doc.sentences) - 1:
            body.append(" ".join(paragraph))
            paragraph = []
    return title + "\n\n" + "\n\n".join(body) + "\n"


def write_corpus(
    out: Path,
    docs: int,
    seed: int = 0,
    plant_errors: bool = False,
    progress: shown.Progress | None = None,
) -> dict:
    """Write the corpus into `out`; returns counts of documents and records (and planted errors).
    `progress` hears the documents generated, then each one written."""
    progress = shown.or_silent(progress)
    out.mkdir(parents=True, exist_ok=True)
    (out / "count_conventions.yaml").write_text(conventions_yaml(), encoding="utf-8")
    progress("generating documents")
    generated = generate(docs, seed)
    planted = plant(generated, random.Random(seed + 1)) if plant_errors else []
    counts = {table: 0 for table in schemas.ANNOTATED}
    for written, doc in enumerate(generated):
        progress("writing documents", written, docs)
        folder = out / doc.source_id
        folder.mkdir(exist_ok=True)
        text = doc_text(doc)
        (folder / "text.txt").write_text(text, encoding="utf-8")
        (folder / "source.yaml").write_text(source_yaml(doc), encoding="utf-8")
        body, where = annotations_yaml(doc, text)
        (folder / "annotations.yaml").write_text(body, encoding="utf-8")
        for table in schemas.ANNOTATED:
            counts[table] += len(doc.records[table])
        for error in planted:
            if error["source_id"] == doc.source_id:
                error["file"] = f"{out.name}/{doc.source_id}/annotations.yaml"
                error["line"] = where.get(
                    (error["table"], error["record_id"], error["field"]),
                    where.get((error["table"], error["record_id"], None)),
                )
    progress("writing documents", docs, docs)
    if plant_errors:
        listed = [{k: e[k] for k in ("kind", "file", "line", "record", "field")} for e in planted]
        (out / "planted-errors.json").write_text(
            json.dumps(listed, indent=2) + "\n", encoding="utf-8"
        )
    return {"documents": docs, "records": counts, "planted": len(planted)}


# ---- planted faults: one of each kind `pipeline check` detects ----


def _fk_faults() -> list[tuple[str, str, str]]:
    """(kind, table, column) for every foreign key an annotator writes."""
    return [
        (f"dangling-{table}-{column}".replace("_", "-"), table, column)
        for table in schemas.ANNOTATED
        for column, _ref, _col in schemas.foreign_keys(table)
    ]


def plant(docs: list[Doc], rng: random.Random) -> list[dict]:
    """Write one fault of each kind into `docs`, each on its own record; return where they are."""
    used: set[tuple[str, str]] = set()
    planted: list[dict] = []
    other_type = {
        t: next(s for o, subs in SUB_TYPES.items() if o != t for s in subs) for t in SUB_TYPES
    }

    def pick(table: str, wanted=lambda r: True):
        pk = schemas.primary_key(table)
        for _ in range(2000):
            doc = docs[rng.randrange(len(docs))]
            candidates = [r for r in doc.records[table] if (table, r[pk]) not in used and wanted(r)]
            if candidates:
                record = rng.choice(candidates)
                used.add((table, record[pk]))
                return doc, record
        raise ValueError(f"no {table} record left to plant a fault in")

    def note(kind: str, doc: Doc, table: str, record: dict, column: str) -> None:
        record_id = record[schemas.primary_key(table)]
        planted.append(
            {
                "kind": kind,
                "source_id": doc.source_id,
                "table": table,
                "record_id": record_id,
                "record": f"{table}/{record_id}",
                "field": column,
            }
        )

    def set_value(kind, table, column, value, wanted=lambda r: True):
        doc, record = pick(table, wanted)
        record[column] = value(record) if callable(value) else value
        note(kind, doc, table, record, column)

    set_value("bad-date", "events", "date_start", "2020-02-30")
    set_value(
        "wrong-weekday",
        "statements",
        "date",
        lambda r: (dt.date.fromisoformat(r["date"]) - dt.timedelta(days=1)).isoformat(),
    )
    set_value(
        "date-after-source",
        "casualty_reports",
        "period_start",
        "2020-12-30",
        lambda r: r.update(period_end="2020-12-30") or True,
    )
    doc, record = pick(
        "casualty_reports", lambda r: "killed_convention" not in r and "killed_low" in r
    )
    record["killed_low"] = record["killed_high"] + 3
    note("low-above-high", doc, "casualty_reports", record, "killed_high")
    doc, record = pick(
        "casualty_reports",
        lambda r: "killed_convention" in r and r["killed_convention"] != "thousands",
    )
    record["killed_high"] += 1
    note("convention-mismatch", doc, "casualty_reports", record, "killed_low")
    for kind, table, column in _fk_faults():
        set_value(kind, table, column, f"no-such-{column.replace('_', '-')}")
    doc, record = pick("events")
    record["date_precison"] = "day"
    note("unknown-field", doc, "events", record, "date_precison")
    doc, record = pick("places")
    record["evidence"] = [record["evidence"][0].replace("the area of", "the city of")]
    note("quote-not-found", doc, "places", record, "evidence")
    doc, record = pick("events")
    record["evidence"] = [{"quote": "in incident"}]
    note("ambiguous-quote", doc, "events", record, "evidence")
    doc, record = pick("events")
    record["evidence"] = [{"quote": record["evidence"][0], "source_id": "no-such-source"}]
    note("unknown-evidence-source", doc, "events", record, "evidence")
    doc, first = pick("events", lambda r: len(r["evidence"]) == 1)
    second = next(
        r for r in doc.records["events"] if r is not first and ("events", r["event_id"]) not in used
    )
    used.add(("events", second["event_id"]))
    later = max(first, second, key=lambda r: doc.records["events"].index(r))
    earlier = first if later is second else second
    later["event_id"] = earlier["event_id"]
    note("duplicate-id", doc, "events", later, "event_id")
    set_value("bad-enum", "events", "claim_status", "rumoured")
    set_value("bad-pattern", "places", "country", "Azerbaijan")
    set_value(
        "sub-type-mismatch", "events", "sub_event_type", lambda r: other_type[r["event_type"]]
    )
    doc, record = pick("events")
    del record["summary"]
    note("missing-required", doc, "events", record, "summary")
    set_value("wrong-type", "places", "latitude", "north")
    set_value("out-of-range", "places", "longitude", 200.5)
    set_value(
        "claim-without-claimant",
        "events",
        "claimant_actor_id",
        None,
        lambda r: r["claim_status"] == "claimed",
    )
    set_value("quote-outside-evidence", "statements", "quote", "words never said")
    set_value(
        "count-text-outside-evidence", "casualty_reports", "count_text", "a number nobody gave"
    )
    set_value(
        "self-response", "statements", "responds_to_statement_id", lambda r: r["statement_id"]
    )
    set_value("own-parent", "actors", "parent_actor_id", lambda r: r["actor_id"])
    return planted


def main(argv: list[str] | None = None) -> None:
    """python bench/synth.py --docs N --out DIR [--seed S] [--plant-errors] [--quiet]"""
    import argparse

    parser = argparse.ArgumentParser(
        description="Write a synthetic annotated corpus in the seeds/ layout."
    )
    parser.add_argument("--docs", type=int, required=True, help="Number of documents to generate.")
    parser.add_argument("--out", type=Path, required=True, help="Folder to write the corpus into.")
    parser.add_argument(
        "--seed", type=int, default=0, help="Random seed; the same seed gives the same files."
    )
    parser.add_argument(
        "--plant-errors",
        action="store_true",
        help="Plant one fault of each checked kind; list them in planted-errors.json.",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="No progress bar (shown on a terminal, after a second, unless CI is set).",
    )
    args = parser.parse_args(argv)
    if args.docs < 1:
        parser.error("--docs must be at least 1")
    if shown.wanted(args.quiet):
        with shown.Display() as display:
            done = write_corpus(args.out, args.docs, args.seed, args.plant_errors, display)
    else:
        done = write_corpus(args.out, args.docs, args.seed, args.plant_errors)
    records = ", ".join(f"{n} {table}" for table, n in done["records"].items())
    planted = (
        f"; {done['planted']} planted errors in {args.out / 'planted-errors.json'}"
        if args.plant_errors
        else ""
    )
    print(f"wrote {args.docs} documents into {args.out}: {records}{planted}")


if __name__ == "__main__":
    main()
