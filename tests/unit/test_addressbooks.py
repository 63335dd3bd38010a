# SPDX-License-Identifier: GPL-3.0-or-later
"""Academic address books: mapping, vCards (checked against vobject and the store's own index), books,
planner."""

from __future__ import annotations

import re

import pytest
import vobject

from groupware.addressbooks import (
    BookSettings,
    Card,
    build_books,
    group_card,
    is_ours,
    parse_mapping,
    person_card,
    plan,
    to_vcard4,
)
from groupware.addressbooks.vcard import fold_line
from groupware.directory import Group, Person
from groupware.store import contact_values

UAI_A, UAI_B = "0341234A", "0300567B"
GROUPS_DN = "ou=groups,dc=ac-montpellier,dc=fr"


def _person(uid: str, uai: str = UAI_A, **changes: object) -> Person:
    given, _, family = uid.partition(".")
    values: dict[str, object] = {
        "uid": uid,
        "dn": f"uid={uid},ou=people,dc=ac-montpellier,dc=fr",
        "display_name": f"{given} {family}".title(),
        "mail": f"{uid}@ac-montpellier.fr",
        "given_name": given.title(),
        "surname": family.title(),
        "emails": (f"{uid}@ac-montpellier.fr",),
        "phones": ("+33 4 67 00 00 01",),
        "title": "Professeur",
        "establishments": (uai,),
        "organizations": (f"Collège {uai}",),
        "entry_uuid": "",
    }
    values.update(changes)
    return Person(**values)  # type: ignore[arg-type]


def _group(uai: str, name: str, *uids: str) -> Group:
    return Group(
        f"cn={name},ou=etab-{uai},{GROUPS_DN}",
        name,
        f"{name.title()} du collège {uai}",
        "role",
        uai,
        frozenset(f"uid={u},ou=people,dc=ac-montpellier,dc=fr" for u in uids),
    )


def test_person_card_has_the_properties_and_stable_text() -> None:
    person = _person(
        "helene.lefevre",
        display_name="Hélène Lefèvre",
        given_name="Hélène",
        surname="Lefèvre",
        entry_uuid="0F1E2D3C-0000-4000-8000-000000000001",
    )
    card = person_card(person, "0f1e2d3c-0000-4000-8000-000000000001", "Académie de Montpellier")
    parsed = vobject.readOne(card.text)
    assert parsed.fn.value == "Hélène Lefèvre"
    assert (parsed.n.value.family, parsed.n.value.given) == ("Lefèvre", "Hélène")
    assert parsed.email.value == "helene.lefevre@ac-montpellier.fr"
    assert parsed.tel.value == "+33 4 67 00 00 01"
    assert parsed.org.value == ["Académie de Montpellier", f"Collège {UAI_A}"]
    assert parsed.title.value == "Professeur"
    assert parsed.uid.value == "0f1e2d3c-0000-4000-8000-000000000001"
    assert card.href == "0f1e2d3c-0000-4000-8000-000000000001.vcf"
    assert card == person_card(person, card.uid, "Académie de Montpellier")  # no REV: same entry, same text
    assert is_ours(card.text)


def test_contact_index_rows_equal_the_stores_own() -> None:
    """The rows computed from values are those the store computes from a parsed card (RFC 6352 §10.5
    search).
    """
    person = _person(
        "jose.d'ortoli",
        display_name="José D'Ortoli; fils",
        given_name="José",
        surname="D'Ortoli",
        phones=("+33 4 67 00 00 01", "06 00 00 00 00"),
        title="Chef, adjoint",
    )
    cards = [
        person_card(person, "u-1", "Académie de Montpellier", UAI_A),
        group_card(
            "g-1",
            "Personnels du Collège Jean Moulin",
            ["u-1", "u-2"],
            "Académie de Montpellier",
            "Collège Jean Moulin",
        ),
    ]
    for card in cards:
        assert card.contact, "a card without index rows would compare equal to anything empty"
        assert list(card.contact) == contact_values(vobject.readOne(card.text))


def test_escaping_and_folding() -> None:
    person = _person("a.b", display_name="A, B; C\\D", title="x" * 120 + "é" * 40)
    card = person_card(person, "u", "Académie")
    assert all(len(line.encode()) <= 75 for line in card.text.split("\r\n"))
    parsed = vobject.readOne(card.text)
    assert parsed.fn.value == "A, B; C\\D"
    assert parsed.title.value == "x" * 120 + "é" * 40
    assert fold_line("short") == "short\r\n"


def test_establishment_book_names_its_establishment_in_org() -> None:
    person = _person("a.b", establishments=(UAI_A, UAI_B), organizations=("Collège A", "Lycée B"))
    assert "ORG:Académie;Lycée B\r\n" in person_card(person, "u", "Académie", UAI_B).text
    assert "ORG:Académie;Collège A\r\n" in person_card(person, "u", "Académie").text


def test_mapping_overrides_and_errors() -> None:
    mapping = parse_mapping("TITLE = -, NICKNAME = uid")
    assert "TITLE" not in mapping and mapping["NICKNAME"] == ("uid",)
    card = person_card(_person("a.b"), "u", "Académie", mapping=mapping)
    assert "TITLE" not in card.text and "NICKNAME:a.b\r\n" in card.text
    for bad, message in (
        ("PHOTO = uid", "not a property"),
        ("PHOTO uid", "expected PROPERTY = field"),
        ("TITLE = nope", "unknown field"),
        ("N = surname", "2"),
        ("FN = -", "FN"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_mapping(bad)


def test_vcard4_conversion() -> None:
    card = group_card("g-1", "Direction", ["u-1"], "Académie")
    text = to_vcard4(card.text)
    assert "VERSION:4.0\r\n" in text and "KIND:group\r\n" in text and "MEMBER:urn:uuid:u-1\r\n" in text
    assert "UID:urn:uuid:g-1\r\n" in text and "X-ADDRESSBOOKSERVER" not in text
    person = to_vcard4(person_card(_person("a.b"), "u-1", "Académie").text)
    assert (
        "EMAIL;TYPE=work:a.b@ac-montpellier.fr\r\n" in person and "TEL;VALUE=text;TYPE=work,voice:" in person
    )
    own = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:x\r\nFN:x\r\nEND:VCARD\r\n"
    assert to_vcard4(own) == own  # a user's own card is not ours to convert


def test_books_members_groups_and_readers() -> None:
    people = [_person("a.a"), _person("b.b"), _person("c.c", UAI_B), _person("d.d", disabled=True)]
    groups = [_group(UAI_A, "personnels", "a.a", "b.b", "d.d"), _group(UAI_B, "personnels", "c.c")]
    books = {
        b.path: b
        for b in build_books(
            people, groups, BookSettings(kinds=("academie", "etablissements", "departements"))
        )
    }
    assert sorted(books) == [
        "annuaire/academie",
        "annuaire/dep-030",
        "annuaire/dep-034",
        f"annuaire/etab-{UAI_B}",
        f"annuaire/etab-{UAI_A}",
    ]
    academie = books["annuaire/academie"]
    assert len(academie.cards) == 3 and [str(r) for r in academie.readers] == ["domain:ac-montpellier.fr"]
    etab = books[f"annuaire/etab-{UAI_A}"]
    assert [str(r) for r in etab.readers] == [f"group:cn=personnels,ou=etab-{UAI_A.lower()},{GROUPS_DN}"]
    [group] = [c for c in etab.cards if "X-ADDRESSBOOKSERVER-KIND:group" in c.text]
    assert group.text.count("X-ADDRESSBOOKSERVER-MEMBER:") == 2  # the disabled member is left out
    assert len({c.uid for c in academie.cards}) == len(academie.cards)


def _cards(*texts: str) -> list[Card]:
    return [Card(f"u{i}", text) for i, text in enumerate(texts)]


def test_planner_writes_only_differences() -> None:
    old = _cards("a", "b", "c", "d")
    current = {card.href: card.etag for card in old}
    current["gone.vcf"] = '"x"'
    new = _cards("a", "B", "c", "d", "e")
    result = plan(new, current)
    assert [c.href for c in result.added] == ["u4.vcf"] and [c.href for c in result.changed] == ["u1.vcf"]
    assert result.removed == ["gone.vcf"] and result.unchanged == 3 and result.changes == 3
    assert plan(new, {c.href: c.etag for c in new}).changes == 0
    with pytest.raises(ValueError, match="two cards"):
        plan([Card("u", "a"), Card("u", "b")], {})


def test_sync_books_through_the_store_and_sharing(tmp_path: object) -> None:
    """First sync, no-change resync, a leaver, a closed établissement, read grants and the fingerprint
    stamp.
    """
    from pathlib import Path

    from groupware.addressbooks import sync_books
    from groupware.addressbooks.sync import up_to_date
    from groupware.sharing.database import SharingDatabase
    from groupware.sharing.model import Level, Viewer
    from groupware.store import Store

    store = Store(str(Path(str(tmp_path)) / "g.sqlite"), synchronous="OFF")
    sharing = SharingDatabase(store.db)
    people = [_person("a.a"), _person("b.b"), _person("c.c", UAI_B)]
    groups = [_group(UAI_A, "personnels", "a.a", "b.b"), _group(UAI_B, "personnels", "c.c")]
    settings = BookSettings()
    first = sync_books(store, people, groups, settings, sharing, fingerprint="f1")
    assert [(b.path, b.added) for b in first.books] == [
        ("annuaire/academie", 3),
        (f"annuaire/etab-{UAI_B}", 2),
        (f"annuaire/etab-{UAI_A}", 3),
    ]
    assert up_to_date(store, settings, "f1") and not up_to_date(store, settings, "f2")
    assert not up_to_date(store, BookSettings(academie="Autre"), "f1")
    member_a = Viewer.of("a.a", {groups[0].dn}, "a.a@ac-montpellier.fr")
    assert sharing.level(f"/annuaire/etab-{UAI_A}/", member_a) == Level.READ
    assert sharing.level(f"/annuaire/etab-{UAI_B}/", member_a) is None
    assert sharing.level("/annuaire/academie/", member_a) == Level.READ
    academie = store.collection("annuaire/academie")
    token, _ = store.changes_since(academie.id)
    assert sync_books(store, people, groups, settings, sharing).changes == 0
    assert store.changes_since(academie.id, token)[1] == []
    second = sync_books(store, [people[0], _person("b.b", title="Principal")], [groups[0]], settings, sharing)
    assert second.deleted_books == [f"annuaire/etab-{UAI_B}"]
    assert sharing.agenda(f"/annuaire/etab-{UAI_B}/") is None
    _, changed = store.changes_since(academie.id, token)
    assert len(changed) == 2  # b.b rewritten, c.c removed
    store.close()


def test_addressbooks_section(tmp_path: object) -> None:
    """``[addressbooks]`` in the configuration: defaults, a mapping, and every problem named."""
    from pathlib import Path

    from groupware import config as config_module
    from groupware.errors import ConfigError
    from groupware.runtime.addressbooks import settings_of
    from groupware.runtime.checks import configuration_problems

    path = Path(str(tmp_path)) / "g.conf"
    base = (
        "[directory]\ntype = ldif\nfile = "
        + str(Path(__file__).resolve().parents[2] / "config" / "demo-directory.ldif")
        + "\n"
    )
    path.write_text(
        base + "[addressbooks]\nenabled = true\nbooks = academie departements\n"
        "mapping = TITLE = -, NICKNAME = uid\n",
        encoding="utf-8",
    )
    loaded = config_module.load(path)
    assert loaded.addressbooks.enabled and loaded.addressbooks.books == ("academie", "departements")
    settings = settings_of(loaded)
    assert "TITLE" not in settings.mapping and settings.mapping["NICKNAME"] == ("uid",)
    assert settings.owner == "annuaire" and settings.academie == "Académie de Montpellier"
    path.write_text(
        base + "[addressbooks]\nbooks = lycees\nmapping = N = surname\ninterval = -1\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as error:
        config_module.load(path)
    assert {(p.section, p.key) for p in error.value.problems} == {
        ("addressbooks", "books"),
        ("addressbooks", "interval"),
    }
    # The form is the configuration's; which properties and fields exist, the address books'.
    path.write_text(base + "[addressbooks]\nmapping = N = surname, TITLE uid\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        config_module.load(path)
    assert [(p.key, "expected PROPERTY = field" in p.message) for p in error.value.problems] == [
        ("mapping", True)
    ]
    for mapping, message in [
        ("N = surname", "N takes 2 field(s), not 1"),
        ("PHOTO = uid", "PHOTO: not a property"),
        ("TITLE = password", "unknown field 'password'"),
    ]:
        path.write_text(base + f"[addressbooks]\nmapping = {mapping}\n", encoding="utf-8")
        problems = configuration_problems(str(path))
        assert [(p.section, p.key) for p in problems] == [("addressbooks", "mapping")], mapping
        assert message in problems[0].message
        with pytest.raises(ValueError, match=re.escape(message)):
            settings_of(config_module.load(path))
