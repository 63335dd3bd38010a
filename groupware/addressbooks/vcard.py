# SPDX-License-Identifier: GPL-3.0-or-later
"""People and groups of the directory as vCards, and the one conversion the books need.

**Stored form: vCard 3.0** (RFC 2426), the version every client reads (Thunderbird, DAVx5, iOS, Outlook
connectors). Contact groups use Apple's ``X-ADDRESSBOOKSERVER-KIND:group`` and ``X-ADDRESSBOOKSERVER-MEMBER:
urn:uuid:…`` there, which is how Thunderbird and iOS write mailing lists over CardDAV.

**vCard 4.0** (RFC 6350) is produced on request by :func:`to_vcard4` — ``KIND:group`` (§6.1.4) and ``MEMBER``
(§6.6.5), ``UID:urn:uuid:…`` so that members resolve, lower-case ``TYPE`` values (§5.6) — when a REPORT asks
for ``address-data`` version 4.0 (RFC 6352 §10.4). Radicale 3.9 returns stored text as is, whatever version is
asked (and advertises 4.0 only with vobject ≥ 1.0), so the books do not rely on it: the conversion is ours,
exact for the cards we write (recognized by :data:`PRODID`), and leaves every other card alone.

Cards carry no ``REV``: the text is a pure function of the directory entry, so its entity tag (SHA-256 of the
text, as Radicale computes it) is the content hash the sync planner compares, and an unchanged person is never
rewritten. The contact index rows are computed here, from the values, exactly as
:func:`groupware.store.contact_values` computes them from a parsed card (a test holds both equal), so 52,000
cards are stored without being parsed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from groupware.addressbooks.mapping import DEFAULT_MAPPING, VCardMapping, values_of
from groupware.directory import Person
from groupware.store import CONTACT_FIELDS, fold

__all__ = [
    "PRODID",
    "Card",
    "contact_rows",
    "escape",
    "fold_line",
    "group_card",
    "is_ours",
    "person_card",
    "to_vcard4",
]

PRODID = "-//groupware//annuaire academique//FR"
MAX_OCTETS = 75  # RFC 6350 §3.2, RFC 2426 §2.6: lines SHOULD NOT be longer than 75 octets


@dataclass(frozen=True)
class Card:
    """One vCard as stored: its UID and text; href, entity tag and contact index rows follow from them."""

    uid: str
    text: str

    @property
    def contact(self) -> tuple[tuple[str, str | None], ...]:
        """The contact index rows (computed only for cards that are written)."""
        return contact_rows(self.text)

    @property
    def href(self) -> str:
        """The item's name in its book."""
        return f"{self.uid}.vcf"

    @property
    def etag(self) -> str:
        """RFC 9110 §8.8.3 entity tag, computed as Radicale computes it (quoted SHA-256 of the text)."""
        return '"' + hashlib.sha256(self.text.encode("utf-8")).hexdigest() + '"'


def escape(value: str, structured: bool = False) -> str:
    """RFC 6350 §3.4 (RFC 2426 §4 ``text``): backslash, comma, semicolon and newline escaped."""
    value = value.replace("\\", "\\\\").replace(",", "\\,").replace("\r\n", "\\n").replace("\n", "\\n")
    return value.replace(";", "\\;")


def fold_line(line: str) -> str:
    """RFC 6350 §3.2: a content line folded into lines of at most 75 octets, never inside a UTF-8 sequence."""
    if len(line) * 4 <= MAX_OCTETS or len(line.encode("utf-8")) <= MAX_OCTETS:
        return line + "\r\n"
    parts: list[str] = []
    current: list[str] = []
    size, limit = 0, MAX_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            parts.append("".join(current))
            current, size, limit = [], 0, MAX_OCTETS - 1  # continuation lines start with a blank
        current.append(char)
        size += width
    parts.append("".join(current))
    return "\r\n ".join(parts) + "\r\n"


def _card(lines: Iterable[str]) -> str:
    return "".join(
        fold_line(line) for line in ("BEGIN:VCARD", "VERSION:3.0", f"PRODID:{PRODID}", *lines, "END:VCARD")
    )


def _organization(person: Person, names: Sequence[str], establishment: str) -> str:
    """The établissement's name: the one at the index of ``establishment`` among the person's UAI codes
    (the directory lists both in the same order), else the first."""
    if establishment and establishment in person.establishments:
        index = person.establishments.index(establishment)
        if index < len(names):
            return names[index]
    return names[0] if names else ""


def person_card(
    person: Person, uid: str, academie: str, establishment: str = "", mapping: VCardMapping = DEFAULT_MAPPING
) -> Card:
    """The vCard of ``person`` (RFC 2426 §3: FN, N, EMAIL, TEL, TITLE, ORG ``académie;établissement``).

    ``establishment`` (a UAI code) picks the établissement named in ORG, for that établissement's book.
    """
    lines = [f"UID:{uid}"]
    fn = " ".join(v for name in mapping["FN"] for v in values_of(person, name)) or person.uid
    lines.append(f"FN:{escape(fn)}")
    family, given = (values_of(person, name)[:1] for name in mapping.get("N", ("surname", "given_name")))
    family_name, given_name = (family[0] if family else ""), (given[0] if given else "")
    lines.append(
        f"N:{escape(family_name)};{escape(given_name)};;;"
    )  # N is required in vCard 3 (RFC 2426 §3.1.2)
    for prop, param in (("NICKNAME", ""), ("EMAIL", ";TYPE=INTERNET,WORK"), ("TEL", ";TYPE=WORK,VOICE")):
        lines.extend(
            f"{prop}{param}:{escape(v)}" for name in mapping.get(prop, ()) for v in values_of(person, name)
        )
    title = " ".join(v for name in mapping.get("TITLE", ()) for v in values_of(person, name))
    if title:
        lines.append(f"TITLE:{escape(title)}")
    if "ORG" in mapping:
        names = [v for name in mapping["ORG"] for v in values_of(person, name)]
        unit = _organization(person, names, establishment)
        lines.append(f"ORG:{escape(academie)};{escape(unit)}" if unit else f"ORG:{escape(academie)}")
    note = " ".join(v for name in mapping.get("NOTE", ()) for v in values_of(person, name))
    if note:
        lines.append(f"NOTE:{escape(note)}")
    return Card(uid, _card(lines))


def group_card(uid: str, name: str, member_uids: Iterable[str], academie: str, unit: str = "") -> Card:
    """A contact group (vCard 3 with ``X-ADDRESSBOOKSERVER-KIND:group``; RFC 6350 §6.1.4 ``KIND:group`` and
    §6.6.5 ``MEMBER`` in 4.0): its members' UIDs as ``urn:uuid:`` URIs (RFC 4122 §3), sorted."""
    lines = [f"UID:{uid}", f"FN:{escape(name)}", f"N:{escape(name)};;;;", "X-ADDRESSBOOKSERVER-KIND:group"]
    lines.append(f"ORG:{escape(academie)};{escape(unit)}" if unit else f"ORG:{escape(academie)}")
    lines.extend(f"X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:{member}" for member in sorted(member_uids))
    return Card(uid, _card(lines))


_ESCAPED = re.compile(r"\\(.)")


def _unescape(value: str) -> str:
    return _ESCAPED.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _components(value: str) -> list[str]:
    """The components of a structured value (RFC 6350 §3.3: ``;`` separates, ``\\;`` does not)."""
    parts, current, index = [], [], 0
    while index < len(value):
        char = value[index]
        if char == "\\" and index + 1 < len(value):
            current.append(value[index : index + 2])
            index += 2
            continue
        if char == ";":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    return [_unescape(part) for part in parts]


def contact_rows(text: str) -> tuple[tuple[str, str | None], ...]:
    """The contact index rows of one of our cards, as :func:`groupware.store.contact_values` computes them
    from the parsed card: one row per value, each component of ORG, and N as vobject's text of a name
    (``prefix given additional family suffix`` joined by blanks)."""
    rows: dict[str, list[tuple[str, str | None]]] = {field: [] for field in CONTACT_FIELDS}
    for line in text.replace("\r\n ", "").split("\r\n"):
        head, sep, value = line.partition(":")
        prop = head.partition(";")[0]
        if not sep or prop not in rows:
            continue
        if prop == "N":
            family, given, additional, prefix, suffix = (_components(value) + [""] * 5)[:5]
            rows[prop].append((prop, fold(f"{prefix} {given} {additional} {family} {suffix}")))
        elif prop == "ORG":
            rows[prop].extend((prop, fold(part)) for part in _components(value))
        else:
            rows[prop].append((prop, fold(_unescape(value))))
    return tuple(row for field in CONTACT_FIELDS for row in rows[field])


def is_ours(text: str) -> bool:
    """Whether a card was written by the address-book sync (its PRODID says so)."""
    return f"\r\nPRODID:{PRODID}\r\n" in text[:120]


_TO_4 = (
    ("VERSION:3.0", "VERSION:4.0"),
    ("UID:", "UID:urn:uuid:"),
    ("X-ADDRESSBOOKSERVER-KIND:group", "KIND:group"),
    ("X-ADDRESSBOOKSERVER-MEMBER:", "MEMBER:"),
    ("EMAIL;TYPE=INTERNET,WORK:", "EMAIL;TYPE=work:"),
    ("TEL;TYPE=WORK,VOICE:", "TEL;VALUE=text;TYPE=work,voice:"),
)


def to_vcard4(text: str) -> str:
    """Our vCard 3.0 as vCard 4.0 (RFC 6350 §6.7.9 VERSION, §6.1.4 KIND, §6.6.5 MEMBER, §6.7.6 UID as a URI);
    any other card is returned unchanged."""
    if not is_ours(text):
        return text
    out = []
    for line in text.split("\r\n"):
        for old, new in _TO_4:
            if line.startswith(old):
                line = new + line[len(old) :]
                break
        out.append(line)
    return "\r\n".join(out)
