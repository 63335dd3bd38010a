# SPDX-License-Identifier: GPL-3.0-or-later
"""Generated data for ``storage.py``: an academic address book and an établissement's agenda, on disk.

:func:`generated_collections` writes (once) and caches, under :data:`_common.CACHE_DIR`, a stock Radicale
``collection-root`` holding one user's two collections, one file per item with its ``.Radicale.props``:

* ``annuaire``: one vCard 3.0 per member of staff of :func:`groupware.directory.generate.build_model`
  (accented French names, ``prenom.nom@ac-montpellier.fr``, TEL, ORG with the établissement, TITLE, ADR,
  CATEGORIES);
* ``agenda``: one iCalendar object per event over the school year 2025-2026 (Europe/Paris, with its
  VTIMEZONE); 10% of them recur (weekly, fortnightly or monthly over a few weeks to the whole year), each with
  an EXDATE and a RECURRENCE-ID override moving one instance.

The output is a function of the sizes and the seed alone; the cache key also holds a digest of this file and
of the directory generator, so a changed generator writes new data.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from _common import CACHE_DIR, ROOT, log

from groupware.directory.generate import build_model

USER = "helene.lefevre"
PASSWORD = "helene.lefevre-demo"  # the demo directory's password for this person
BOOK, CALENDAR = "annuaire", "agenda"
DOMAIN = "ac-montpellier.fr"
SCHOOL_YEAR = (date(2025, 9, 1), date(2026, 7, 4))
NAMESPACE = uuid.UUID("6f1d8a52-3c1b-4e4e-9a57-2f1c0b6a7d10")
BOOK_PROPS = {"tag": "VADDRESSBOOK", "D:displayname": "Annuaire académique"}
CALENDAR_PROPS = {
    "tag": "VCALENDAR",
    "D:displayname": "Agenda de l'établissement",
    "C:supported-calendar-component-set": "VEVENT",
}
VTIMEZONE = (
    "BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\n"
    "BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n"
    "DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n"
    "BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\n"
    "DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
)
SUBJECTS = (
    "Conseil de classe {c}",
    "Réunion parents-professeurs {c}",
    "Conseil pédagogique",
    "Conseil d'administration",
    "Cours de mathématiques {c}",
    "Cours de français {c}",
    "Histoire-géographie {c}",
    "Sortie pédagogique au musée Fabre {c}",
    "Formation : évaluation par compétences",
    "Commission permanente",
    "Entretien avec la famille Lefèvre",
    "Épreuve commune de sciences {c}",
    "Brevet blanc {c}",
    "Réunion d'équipe éducative",
    "Visite de l'inspectrice pédagogique régionale",
    "Journée portes ouvertes",
)
CLASSES = ("6e A", "6e B", "5e A", "5e C", "4e B", "4e D", "3e A", "3e B", "2nde 3", "1re G2", "Tle G1")
PLACES = ("Salle 12", "Salle 104", "CDI", "Salle polyvalente", "Bureau du principal", "Gymnase", "Salle B214")
DTSTAMP = "20250825T080000Z"


@dataclass(frozen=True)
class Dataset:
    """Where the cached ``collection-root`` is, and what a benchmark needs to know about its items."""

    root: Path
    contacts: int
    events: int
    card_hrefs: tuple[str, ...]

    @property
    def book_dir(self) -> Path:
        """The address book's folder inside ``collection-root``."""
        return self.root / "collection-root" / USER / BOOK

    @property
    def calendar_dir(self) -> Path:
        """The calendar's folder inside ``collection-root``."""
        return self.root / "collection-root" / USER / CALENDAR


# --- address book -------------------------------------------------------------------------------------------


def _escape(text: str) -> str:
    """vCard/iCalendar TEXT escaping (RFC 6350 §3.4, RFC 5545 §3.3.11)."""
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str) -> str:
    """One content line folded at 75 octets (RFC 5545 §3.1), without splitting a UTF-8 sequence; CRLF
    ended.
    """
    data = line.encode("utf-8")
    if len(data) <= 75:
        return line + "\r\n"
    parts, start, limit = [], 0, 75
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start, limit = end, 74
    return "\r\n ".join(parts) + "\r\n"


def vcard(
    uid: str,
    given: str,
    surname: str,
    mail: str,
    phone: str,
    org: str,
    title: str,
    city: str,
    role: str,
    note: str = "",
) -> str:
    """A vCard 3.0 as a Thunderbird or an LDAP-fed address book would store it."""
    lines = [
        "BEGIN:VCARD",
        "VERSION:3.0",
        "PRODID:-//groupware//benchmark//FR",
        f"UID:{uid}",
        f"FN:{_escape(f'{given} {surname}')}",
        f"N:{_escape(surname)};{_escape(given)};;;",
        f"EMAIL;TYPE=INTERNET,WORK:{mail}",
        f"TEL;TYPE=WORK,VOICE:{phone}",
        f"ORG:Académie de Montpellier;{_escape(org)}",
        f"TITLE:{_escape(title)}",
        f"ADR;TYPE=WORK:;;;{_escape(city)};;;France",
        f"CATEGORIES:{_escape(role)}",
        *([f"NOTE:{_escape(note)}"] if note else []),
        "REV:20250901T000000Z",
        "END:VCARD",
    ]
    return "".join(fold(line) for line in lines)


def _cards(contacts: int, seed: int) -> Iterator[tuple[str, str]]:
    """(file name, vCard) for the first ``contacts`` staff of a generated académie."""
    model = build_model(contacts, seed)
    establishments = {etab.uai: etab for etab in model.establishments}
    for person in model.staff[:contacts]:
        etab = establishments[person.establishments[0]]
        uid = str(uuid.uuid5(NAMESPACE, person.uid))
        yield (
            f"{uid}.vcf",
            vcard(
                uid,
                person.given_name,
                person.surname,
                f"{person.uid}@{DOMAIN}",
                person.phone,
                etab.name,
                person.title,
                etab.city,
                person.role,
            ),
        )


def changed_card(text: str, mark: str) -> str:
    """The same card with a NOTE line saying ``mark`` (a modification a client would make)."""
    lines = [line for line in text.splitlines() if line and not line.startswith("NOTE:")]
    lines.insert(len(lines) - 1, f"NOTE:{_escape(mark)}")
    return "\r\n".join(lines) + "\r\n"


def new_card(index: int) -> tuple[str, str]:
    """(file name, vCard) of a card that is not in the book yet (for PUT and DELETE)."""
    uid = str(uuid.uuid5(NAMESPACE, f"nouveau-{index}-{time.time_ns()}"))
    return f"{uid}.vcf", vcard(
        uid,
        "Anaïs",
        "Bérard",
        f"anais.berard{index}@{DOMAIN}",
        "+33 4 67 00 00 00",
        "Collège Jean Moulin",
        "Professeure de physique-chimie",
        "Montpellier",
        "enseignants",
    )


# --- calendar -----------------------------------------------------------------------------------------------


def _local(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")


def _school_day(rng: random.Random) -> date:
    """A weekday of the school year."""
    first, last = SCHOOL_YEAR
    while True:
        day = first + timedelta(days=rng.randrange((last - first).days))
        if day.weekday() < 5:
            return day


def _event(rng: random.Random, index: int, recurring: bool) -> str:
    """One VCALENDAR object: a timed or all-day event, or a recurring one with an EXDATE and an override."""
    uid = str(uuid.uuid5(NAMESPACE, f"event-{index}"))
    summary = rng.choice(SUBJECTS).format(c=rng.choice(CLASSES))
    place = rng.choice(PLACES)
    day = _school_day(rng)
    start = datetime(day.year, day.month, day.day, rng.randrange(8, 18), rng.choice((0, 0, 30)))
    end = start + timedelta(minutes=rng.choice((55, 60, 90, 120)))
    head = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{DTSTAMP}",
        f"SUMMARY:{_escape(summary)}",
        f"LOCATION:{_escape(place)}",
    ]
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//groupware//benchmark//FR"]
    if not recurring and rng.random() < 0.05:
        lines += [
            *head,
            f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
            f"DTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}",
            "END:VEVENT",
            "END:VCALENDAR",
        ]
        return "".join(fold(line) for line in lines)
    times = [f"DTSTART;TZID=Europe/Paris:{_local(start)}", f"DTEND;TZID=Europe/Paris:{_local(end)}"]
    if not recurring:
        body = [*head, *times, "END:VEVENT", "END:VCALENDAR"]
        return "".join(fold(line) for line in lines) + VTIMEZONE + "".join(fold(line) for line in body)
    step, freq = rng.choice(
        ((7, "FREQ=WEEKLY"), (14, "FREQ=WEEKLY;INTERVAL=2"), (28, "FREQ=DAILY;INTERVAL=28"))
    )
    count = rng.choice((6, 10, 15, 36))
    exdate = start + timedelta(days=step * rng.randrange(1, count))
    moved = start + timedelta(days=step * rng.randrange(1, count))
    if moved == exdate:
        moved = start
    rule = [f"RRULE:{freq};COUNT={count}", f"EXDATE;TZID=Europe/Paris:{_local(exdate)}"]
    override = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{DTSTAMP}",
        f"RECURRENCE-ID;TZID=Europe/Paris:{_local(moved)}",
        f"SUMMARY:{_escape(summary)} (déplacé)",
        f"LOCATION:{_escape(place)}",
        f"DTSTART;TZID=Europe/Paris:{_local(moved + timedelta(hours=1))}",
        f"DTEND;TZID=Europe/Paris:{_local(moved + (end - start) + timedelta(hours=1))}",
        "END:VEVENT",
    ]
    body = [*head, *times, *rule, "END:VEVENT", *override, "END:VCALENDAR"]
    return "".join(fold(line) for line in lines) + VTIMEZONE + "".join(fold(line) for line in body)


def _events(events: int, seed: int) -> Iterator[tuple[str, str]]:
    """(file name, iCalendar object) for ``events`` events, one in ten recurring."""
    rng = random.Random(seed * 7919 + events)
    for index in range(events):
        text = _event(rng, index, recurring=index % 10 == 0)
        yield f"{uuid.uuid5(NAMESPACE, f'event-{index}')}.ics", text


# --- cache --------------------------------------------------------------------------------------------------


def _digest() -> str:
    sources = [Path(__file__), ROOT / "groupware" / "directory" / "generate.py"]
    return hashlib.sha256(b"".join(p.read_bytes() for p in sources if p.exists())).hexdigest()[:12]


def _write_collection(folder: Path, props: dict[str, str], items: Iterator[tuple[str, str]]) -> list[str]:
    folder.mkdir(parents=True)
    (folder / ".Radicale.props").write_text(json.dumps(props), encoding="utf-8")
    names = []
    for name, text in items:
        with open(folder / name, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        names.append(name)
    return names


def generated_collections(contacts: int, events: int, seed: int = 1) -> Dataset:
    """The cached collection-root for these sizes, written first if needed (a few seconds per 10,000
    items).
    """
    path = CACHE_DIR / f"storage-{contacts}c-{events}e-seed{seed}-{_digest()}"
    index = path / "hrefs.json"
    if not index.exists():
        started = time.monotonic()
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        home = partial / "collection-root" / USER
        cards = _write_collection(home / BOOK, BOOK_PROPS, _cards(contacts, seed))
        _write_collection(home / CALENDAR, CALENDAR_PROPS, _events(events, seed))
        (partial / "hrefs.json").write_text(json.dumps(cards), encoding="utf-8")
        shutil.rmtree(path, ignore_errors=True)
        partial.rename(path)
        log(
            f"generated {contacts:,} cards and {events:,} events in {time.monotonic() - started:.1f} s -> "
            f"{path}"
        )
    cards = json.loads(index.read_text(encoding="utf-8"))
    return Dataset(path, contacts, events, tuple(cards))
