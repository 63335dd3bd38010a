# SPDX-License-Identifier: GPL-3.0-or-later
"""Which books exist, what each holds and who may read it, from one read of the directory.

* ``academie``: everyone, ORG naming the person's (first) établissement; readable by every mail domain of the
  directory's people, i.e. every authenticated member of staff;
* ``etablissements``: one book per UAI code (``/<owner>/etab-<UAI>/``), its staff with ORG naming that
  établissement, readable by the members of that établissement's directory groups;
* ``departements``: one book per département (the first three characters of the UAI, ``/<owner>/dep-034/``,
  unless an établissement entry says otherwise), readable by the groups of its établissements.

Établissement books also hold their directory groups as contact groups (RFC 6350 §6.1.4), when ``groups`` is
on; the académie book holds people only (its 52,000 cards would otherwise carry some 10,000 groups that repeat
every établissement's, each listing its members again). UIDs come
from the directory's ``entryUUID`` (RFC 4530); an entry without one gets a name-based UUID of its DN (RFC 4122
§4.3, X.500 namespace), which is as stable as the DN.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from groupware.addressbooks.mapping import DEFAULT_MAPPING, VCardMapping
from groupware.addressbooks.vcard import Card, group_card, person_card
from groupware.directory import Group, Person, normalize_dn
from groupware.directory.schema import DEPARTEMENTS
from groupware.sharing.model import Grantee, GranteeKind

__all__ = ["Book", "BookSettings", "build_books", "card_uid", "group_uid"]


@dataclass(frozen=True)
class BookSettings:
    """What shapes the books (the ``[addressbooks]`` section without its scheduling)."""

    owner: str = "annuaire"
    academie: str = "Académie de Montpellier"
    kinds: tuple[str, ...] = ("academie", "etablissements")
    groups: bool = True
    mapping: VCardMapping = field(default_factory=lambda: dict(DEFAULT_MAPPING))


@dataclass(frozen=True)
class Book:
    """One book: its store path (``owner/name``), title, description, readers and cards."""

    path: str
    title: str
    description: str
    readers: tuple[Grantee, ...]
    cards: tuple[Card, ...]

    @property
    def props(self) -> dict[str, str]:
        """The collection's properties (RFC 6352 §6.2.1 description; RFC 4918 §15.2 display name)."""
        return {
            "tag": "VADDRESSBOOK",
            "D:displayname": self.title,
            "CR:addressbook-description": self.description,
        }


def card_uid(person: Person) -> str:
    """The person's stable UID: ``entryUUID``, else a UUID of the DN."""
    return (
        person.entry_uuid.lower()
        if person.entry_uuid
        else str(uuid.uuid5(uuid.NAMESPACE_X500, normalize_dn(person.dn)))
    )


def group_uid(group: Group) -> str:
    """A group's stable UID (a UUID of its DN)."""
    return str(uuid.uuid5(uuid.NAMESPACE_X500, "group:" + normalize_dn(group.dn)))


def _establishment_names(people: Iterable[Person], groups: Iterable[Group]) -> dict[str, str]:
    names: dict[str, str] = {}
    for person in people:
        for uai, name in zip(person.establishments, person.organizations, strict=False):
            names.setdefault(uai, name)
    for group in groups:
        if group.establishment and group.establishment not in names:
            names[group.establishment] = group.establishment
    return names


class _Context:
    """People and groups read once, indexed for every book."""

    def __init__(
        self,
        people: Sequence[Person],
        groups: Sequence[Group],
        settings: BookSettings,
        departements: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self._departements = departements or {}
        self.people = [p for p in people if not p.disabled and p.listed]  # the red list: in no book
        self.groups = list(groups) if settings.groups else []
        self.uids = {normalize_dn(p.dn): card_uid(p) for p in self.people}
        self.names = _establishment_names(self.people, groups)
        self.groups_of: dict[str, list[Group]] = {}
        for group in groups:
            if group.establishment:
                self.groups_of.setdefault(group.establishment, []).append(group)
        self._cards: dict[tuple[str, str], Card] = {}

    def person(self, person: Person, establishment: str) -> Card:
        """The person's card, built once for every book where it reads the same (one établissement)."""
        key = (person.dn, establishment if len(person.establishments) > 1 else "")
        card = self._cards.get(key)
        if card is None:
            s = self.settings
            card = person_card(person, self.uids[normalize_dn(person.dn)], s.academie, key[1], s.mapping)
            self._cards[key] = card
        return card

    def cards(
        self, people: Iterable[Person], groups: Iterable[Group], establishment: str = ""
    ) -> tuple[Card, ...]:
        s = self.settings
        cards = [self.person(p, establishment) for p in people]
        in_book = frozenset(card.uid for card in cards)
        for group in groups:  # members outside the book (or disabled) are left out of the group
            members = {
                uid for uid in (self.uids.get(normalize_dn(d)) for d in group.members) if uid in in_book
            }
            if members:
                unit = self.names.get(group.establishment, "")
                cards.append(
                    group_card(group_uid(group), group.description or group.name, members, s.academie, unit)
                )
        return tuple(cards)

    def departement(self, uai: str) -> str:
        """The département code of an établissement: from its entry when known, else the UAI's first three
        digits."""
        return self._departements.get(uai) or uai[:3]

    def readers(self, uais: Iterable[str]) -> tuple[Grantee, ...]:
        return tuple(
            sorted(
                {
                    Grantee(GranteeKind.GROUP, normalize_dn(g.dn))
                    for uai in uais
                    for g in self.groups_of.get(uai, ())
                },
                key=str,
            )
        )


def _academie(ctx: _Context) -> Book:
    s = ctx.settings
    domains = sorted({p.mail.rpartition("@")[2].casefold() for p in ctx.people if p.mail and "@" in p.mail})
    return Book(
        f"{s.owner}/academie",
        f"Annuaire – {s.academie}",
        f"Tous les personnels – {s.academie}",
        tuple(Grantee(GranteeKind.DOMAIN, d) for d in domains),
        ctx.cards(ctx.people, ()),
    )


def _etablissements(ctx: _Context) -> Iterator[Book]:
    s = ctx.settings
    members: dict[str, list[Person]] = {}
    for person in ctx.people:
        for uai in person.establishments:
            members.setdefault(uai, []).append(person)
    for uai in sorted(members):
        name = ctx.names.get(uai, uai)
        groups = ctx.groups_of.get(uai, []) if s.groups else []
        yield Book(
            f"{s.owner}/etab-{uai}",
            f"Annuaire – {name}",
            f"Personnels – {name} ({uai})",
            ctx.readers([uai]),
            ctx.cards(members[uai], groups, uai),
        )


def _departements(ctx: _Context) -> Iterator[Book]:
    s = ctx.settings
    members: dict[str, list[Person]] = {}
    for person in ctx.people:
        for code in sorted({ctx.departement(uai) for uai in person.establishments}):
            members.setdefault(code, []).append(person)
    for code in sorted(members):
        name = DEPARTEMENTS.get(code, code)
        uais = sorted(uai for uai in ctx.groups_of if ctx.departement(uai) == code)
        yield Book(
            f"{s.owner}/dep-{code}",
            f"Annuaire – {name}",
            f"Personnels – {name} ({code})",
            ctx.readers(uais),
            ctx.cards(members[code], ()),
        )


def build_books(
    people: Sequence[Person],
    groups: Sequence[Group],
    settings: BookSettings,
    departements: Mapping[str, str] | None = None,
) -> Iterator[Book]:
    """The books ``settings.kinds`` call for, one at a time (each holds its cards until written);
    ``departements`` (UAI -> département code, from établissement entries) overrides the UAI's first three
    digits."""
    ctx = _Context(people, groups, settings, departements)
    if "academie" in settings.kinds:
        yield _academie(ctx)
    if "etablissements" in settings.kinds:
        yield from _etablissements(ctx)
    if "departements" in settings.kinds:
        yield from _departements(ctx)
