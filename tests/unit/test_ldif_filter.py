# SPDX-License-Identifier: GPL-3.0-or-later
"""LDIF parsing (RFC 2849) and filter evaluation (RFC 4515) of the file-backed directory."""

from __future__ import annotations

import pytest

from groupware.directory.ldif import LdifError, matches, parse_ldif

SAMPLE = """version: 1
# a comment
dn: uid=helene.lefevre,ou=people,dc=ac-montpellier,dc=fr
objectClass: inetOrgPerson
uid: helene.lefevre
cn:: SMOpbMOobmUgTGVmw6h2cmU=
mail: Helene.Lefevre@ac-montpellier.fr
description: a folded
  line
employeeType: actif

dn: uid=x,ou=people,dc=ac-montpellier,dc=fr
objectClass: inetOrgPerson
uid: x
employeeType: inactif
"""


def test_parse_base64_folding_and_comments() -> None:
    first, second = parse_ldif(SAMPLE)
    assert first["cn"] == ["Hélène Lefèvre"]
    assert first["description"] == ["a folded line"]
    assert second["dn"] == ["uid=x,ou=people,dc=ac-montpellier,dc=fr"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("uid: x\n", "must start with dn"),
        ("dn: uid=x\nchangetype: add\n", "change records"),
        ("dn: uid=x\ncn:: !!!\n", "bad base64"),
        ("dn: uid=x\nnovalue\n", "expected"),
    ],
)
def test_malformed_ldif_is_refused_with_its_line(text: str, message: str) -> None:
    with pytest.raises(LdifError, match=message) as info:
        parse_ldif(text, "demo.ldif")
    assert "demo.ldif:" in str(info.value)


@pytest.mark.parametrize(
    "search_filter, expected",
    [
        ("(uid=HELENE.lefevre)", True),
        ("(&(objectClass=inetOrgPerson)(|(uid=nobody)(mail=helene.lefevre@AC-montpellier.fr)))", True),
        ("(!(employeeType=inactif))", True),
        ("(employeeType=inactif)", False),
        ("(mail=*@ac-montpellier.fr)", True),
        ("(mail=helene*montpellier*)", True),
        ("(mail=*@ac-toulouse.fr)", False),
        ("(telephoneNumber=*)", False),
        ("(uid=\\2a)", False),
        ("(uid=*)", True),
    ],
)
def test_filters(search_filter: str, expected: bool) -> None:
    assert matches(search_filter, parse_ldif(SAMPLE)[0]) is expected


def test_escaped_injection_does_not_match_everything() -> None:
    from ldap3.utils.conv import escape_filter_chars

    entry = parse_ldif(SAMPLE)[0]
    assert matches(f"(uid={escape_filter_chars('*)(uid=*')})", entry) is False
