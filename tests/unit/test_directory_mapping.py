# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``[directory]`` attribute mapping: presets, overrides, bounded UAI patterns, the red list, warnings."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from support import DEMO_LDIF

from groupware import config as config_module
from groupware.addressbooks import BookSettings, build_books
from groupware.config import DirectoryConfig
from groupware.dav.principal_search import PeopleIndex
from groupware.directory import Group, Person
from groupware.directory.ldif import LdifDirectory
from groupware.directory.mapping import MAX_VALUE, extract_uai, uais
from groupware.directory.survey import book_warnings, provision_warnings, survey
from groupware.errors import ConfigError

PACKED = """dn: dc=x
objectClass: dcObject
dc: x

dn: uid=anne.rey,dc=x
objectClass: inetOrgPerson
uid: anne.rey
cn: Anne Rey
sn: Rey
mail: anne.rey@x.fr
fonction: Professeure
etabs: ACAD$0341234A$CLG$Collège Jean Moulin
etabs: ACAD$9999999$bad
telephoneNumber: 04 00 00 00 00
visible: non

dn: uid=paul.roy,dc=x
objectClass: inetOrgPerson
uid: paul.roy
cn: Paul Roy
sn: Roy
mail: paul.roy@x.fr
etabs: ACAD$0300567B$LYC$Lycée Daudet

dn: cn=profs,dc=x
objectClass: groupOfNames
cn: profs
ou: 0341234A
member: uid=anne.rey,dc=x
"""


def _load(tmp_path: Path, ldif: str = "", **directory: str) -> config_module.Config:
    if ldif:
        (tmp_path / "d.ldif").write_text(ldif, encoding="utf-8")
    else:
        (tmp_path / "d.ldif").write_text(DEMO_LDIF.read_text(encoding="utf-8"), encoding="utf-8")
    lines = ["[directory]", "type = ldif", "file = d.ldif", *(f"{k} = {v}" for k, v in directory.items())]
    (tmp_path / "g.conf").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config_module.load(tmp_path / "g.conf")


def _problems(tmp_path: Path, **directory: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, **directory)
    return str(caught.value)


def test_the_default_preset_is_todays_mapping(tmp_path: Path) -> None:
    loaded = _load(tmp_path).directory
    assert loaded == DirectoryConfig(type="ldif", file=str(tmp_path / "d.ldif"))
    assert loaded.establishment_attributes == ("departmentNumber",) and loaded.establishment_pattern is None


def test_the_supann_preset_and_keys_that_override_it(tmp_path: Path) -> None:
    supann = _load(tmp_path, preset="supann").directory
    assert supann.establishment_attributes == ("supannEtablissement", "supannEntiteAffectation")
    assert supann.red_list_filter == "(supannListeRouge=TRUE)" and supann.organization_attribute == ""
    assert supann.establishment_pattern is not None
    assert extract_uai(supann.establishment_pattern, "{UAI}0341234A") == "0341234A"
    assert extract_uai(supann.establishment_pattern, "{SIRET}0341234A") == ""
    overridden = _load(
        tmp_path, preset="supann", red_list_filter="(visible=non)", establishment_pattern=""
    ).directory
    assert overridden.red_list_filter == "(visible=non)" and overridden.establishment_pattern is None
    assert overridden.group_establishment_attribute == "supannEtablissement"  # the rest from the preset


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("establishment_pattern", "(a+)+$", "a repetition inside a repetition"),
        ("establishment_pattern", "(a|ab)*c", "a repetition inside a repetition"),
        ("group_establishment_pattern", r"(\d)\1", "backreferences"),
        ("establishment_uai_pattern", "(?=x)x", "look-arounds"),
        ("establishment_pattern", "a*b*c*", "more than 2 repetitions of variable length"),
        ("establishment_pattern", "x" * 201, "longer than 200 characters"),
        ("establishment_pattern", "([0-9]", "not a regular expression"),
        ("mail_attribute", "mail;x=1", "is not an attribute name"),
        ("preset", "edupersonne", "must be one of: inetorgperson, supann"),
        ("red_list_filter", "supannListeRouge=TRUE", "must be an LDAP filter"),
    ],
)
def test_a_bad_mapping_key_is_a_config_error_naming_it(
    tmp_path: Path, key: str, value: str, message: str
) -> None:
    problems = _problems(tmp_path, **{key: value})
    assert f"[directory] {key}: invalid value" in problems and message in problems


def test_an_establishment_filter_needs_the_attribute_holding_the_uai(tmp_path: Path) -> None:
    problems = _problems(tmp_path, establishment_filter="(objectClass=organization)")
    assert "[directory] establishment_uai_attribute: required with establishment_filter" in problems


def test_extracting_a_uai() -> None:
    named = re.compile(r"^\{UAI\}(?P<uai>[0-9]{7}[A-Z])$")
    assert extract_uai(named, "{UAI}0341234A") == "0341234A"
    assert extract_uai(re.compile(r"\$([0-9]{7}[A-Z])\$"), "ACAD$0341234A$CLG") == "0341234A"
    assert extract_uai(re.compile(r"[0-9]{7}[A-Z]"), "x 0341234A y") == "0341234A"
    assert extract_uai(None, "0341234A") == "0341234A"
    assert extract_uai(named, "{UAI}0341234A" + " " * MAX_VALUE) == ""  # too long: never matched
    assert uais(["{UAI}0341234A", "{UAI}0341234A", "DSI", "{UAI}0300567B"], named) == ("0341234A", "0300567B")


def test_a_hostile_value_costs_little() -> None:
    """The worst patterns allowed (two repetitions of variable length) on the longest values matched."""
    pattern = config_module.SCHEMA["directory"]["establishment_pattern"].parse(
        r"^(.*)\$.*\$(?P<uai>\d{7}[A-Z])"
    )
    started = time.process_time()
    for value in ("$" * MAX_VALUE, "a$" * (MAX_VALUE // 2), "$" * 10**6):
        assert extract_uai(pattern, value) == ""
    assert time.process_time() - started < 1.0


def test_several_fields_in_one_value_and_a_site_red_list(tmp_path: Path) -> None:
    loaded = _load(
        tmp_path,
        PACKED,
        establishment_attributes="etabs",
        establishment_pattern=r"^ACAD\$(?P<uai>[0-9]{7}[A-Z])\$",
        organization_attribute="",
        title_attributes="fonction title",
        red_list_filter="(visible=non)",
    )
    directory = LdifDirectory(loaded.directory)
    assert [p.uid for p in directory.iter_people()] == ["paul.roy"]
    anne = directory.find_person("anne.rey")
    assert anne is not None and not anne.listed
    assert anne.establishments == ("0341234A",) and anne.title == "Professeure"
    assert next(directory.iter_groups()).establishment == "0341234A"
    found = survey(directory, loaded.directory)
    assert (found.people, found.red_listed, len(found.listed)) == (2, 1, 1)
    assert [e.uai for e in found.establishments] == ["0300567B"]
    assert any("1 établissement book(s) will have no reader" in w for w in found.warnings)


def test_a_missing_attribute_is_a_warning(tmp_path: Path) -> None:
    loaded = _load(tmp_path, establishment_attributes="supannEtablissement", mail_attribute="courriel")
    found = survey(LdifDirectory(loaded.directory), loaded.directory)
    assert found.without_mail == found.people == 24 and found.without_establishment == 24
    warnings = "\n".join(found.warnings)
    assert "no person has an établissement" in warnings
    assert "establishment_attributes = supannEtablissement; establishment_pattern = (empty)" in warnings
    assert "no person has a mail address" in warnings and "mail_attribute = courriel" in warnings


def test_warnings_for_empty_books_and_provisioning() -> None:
    assert "every address book will be empty" in book_warnings([], [])[0]
    assert provision_warnings([]) == ["no group found: provisioning creates nothing; check group_filter"]
    assert "none of the 1 groups belongs" in provision_warnings([Group("cn=g", "g")])[0]
    person = Person("a", "uid=a", "A", mail="a@x.fr", establishments=("0341234A",))
    assert book_warnings([person], [Group("cn=g", "g", establishment="0341234A")]) == []
    assert provision_warnings([Group("cn=g", "g", establishment="0341234A")]) == []


def test_red_listed_people_are_in_no_book_and_no_search() -> None:
    shown = Person("a", "uid=a", "Anne", mail="a@x.fr", establishments=("0341234A",))
    hidden = Person("b", "uid=b", "Bruno", mail="b@x.fr", establishments=("0341234A",), listed=False)
    group = Group("cn=g", "g", establishment="0341234A", members=frozenset({"uid=a", "uid=b"}))
    books = list(build_books([shown, hidden], [group], BookSettings()))
    assert [len(book.cards) for book in books] == [1, 2]  # académie: Anne; établissement: Anne, the group
    assert all("Bruno" not in card.text for book in books for card in book.cards)
    group_card = next(card for card in books[1].cards if "KIND:group" in card.text)
    assert group_card.text.count("X-ADDRESSBOOKSERVER-MEMBER:") == 1  # Anne only
    index = PeopleIndex(lambda: [shown, hidden], lambda p: p.uid)
    assert [entry.user for entry in index.entries()] == ["a"]


def test_an_establishment_entry_gives_the_departement(tmp_path: Path) -> None:
    from groupware.directory.mapping import establishment_from

    loaded = _load(
        tmp_path,
        preset="supann",
        establishment_departement_attribute="departement",
        establishment_uai_pattern=r"^\{UAI\}(?P<uai>[0-9]{7}[A-Z])$",
    ).directory
    entry = {
        "dn": ["o=x"],
        "supannetablissement": ["{UAI}0341234A"],
        "o": ["Collège"],
        "departement": ["099"],
    }
    found = establishment_from(entry, loaded)
    assert found is not None and (found.uai, found.name, found.departement) == ("0341234A", "Collège", "099")
    assert establishment_from({**entry, "supannetablissement": ["0341234A"]}, loaded) is None
    person = Person("a", "uid=a", "Anne", mail="a@x.fr", establishments=("0341234A",))
    settings = BookSettings(kinds=("departements",))
    assert [book.path for book in build_books([person], [], settings, {"0341234A": "099"})] == [
        "annuaire/dep-099"
    ]
    assert [book.path for book in build_books([person], [], settings)] == ["annuaire/dep-034"]


def test_the_demo_directory_gives_no_warning(tmp_path: Path) -> None:
    loaded = _load(tmp_path, disabled_filter="(employeeType=inactif)")
    found = survey(LdifDirectory(loaded.directory), loaded.directory)
    assert (found.people, found.disabled, found.red_listed, found.without_establishment) == (24, 1, 0, 1)
    assert [e.uai for e in found.establishments] == ["0110089C", "0300567B", "0341234A"]
    assert found.establishment is not None and found.establishment.name == "École Jules Ferry"
    assert found.person is not None and found.person.establishments and found.warnings == []
