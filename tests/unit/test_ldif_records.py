# SPDX-License-Identifier: GPL-3.0-or-later
"""The one LDIF parser (RFC 2849): typed content records, read by the LDIF directory and the private slapd."""

from __future__ import annotations

import pytest

from groupware.directory.ldif import LdifError, LdifRecord, read_records
from groupware.directory.slapd import prepare_ldif

TEXT = (
    "version: 1\r\n"
    "# a comment that is\r\n"
    "  folded over two lines\r\n"
    "dn: uid=zoe,ou=people,dc=example,dc=fr\r\n"
    "objectClass: inetOrgPerson\r\n"
    "cn:: Wm/DqSBEdXBvbnQ=\r\n"
    "cn;lang-fr: Zo\r\n"
    " e\r\n"
    "\r\n"
    "dn: cn=profs,ou=groups,dc=example,dc=fr\r\n"
    "objectClass: groupOfNames\r\n"
    "member: uid=zoe,ou=people,dc=example,dc=fr\r\n"
)


def test_records_are_typed_in_file_order() -> None:
    zoe, profs = read_records(TEXT)
    assert zoe == LdifRecord(
        "uid=zoe,ou=people,dc=example,dc=fr",
        (("objectClass", "inetOrgPerson"), ("cn", "Zoé Dupont"), ("cn;lang-fr", "Zoe")),
        4,
    )
    assert zoe.values("CN") == ["Zoé Dupont"] and zoe.values("cn;LANG-fr") == ["Zoe"]
    assert profs.entry() == {
        "dn": ["cn=profs,ou=groups,dc=example,dc=fr"],
        "objectclass": ["groupOfNames"],
        "member": ["uid=zoe,ou=people,dc=example,dc=fr"],
    }


@pytest.mark.parametrize(
    "value, written",
    [
        ("plain", "cn: plain"),
        ("Zoé", "cn:: Wm/DqQ=="),
        (" leading space", "cn:: IGxlYWRpbmcgc3BhY2U="),
        (":colon", "cn:: OmNvbG9u"),
        ("<angle", "cn:: PGFuZ2xl"),
        ("trailing ", "cn:: dHJhaWxpbmcg"),
    ],
)
def test_text_writes_unsafe_values_in_base64_and_reads_back(value: str, written: str) -> None:
    record = LdifRecord("uid=x,dc=fr", (("cn", value),))
    assert record.text() == f"dn: uid=x,dc=fr\n{written}\n\n"
    assert list(read_records(record.text())) == [LdifRecord("uid=x,dc=fr", (("cn", value),), 1)]


@pytest.mark.parametrize(
    "text, message",
    [
        ("dn: uid=x\njpegPhoto:< file:///tmp/x.jpg\n", "2: URL values are not supported"),
        ("dn: uid=x\nchangetype: modify\n", "2: change records"),
        ("# comment\ncn: x\n", "2: a record must start with dn"),
        ("dn: uid=x\ncn:: //79\n", "2: bad base64"),
        ("dn: uid=x\n: empty name\n", "2: expected"),
    ],
)
def test_malformed_records_are_refused_with_source_and_line(text: str, message: str) -> None:
    with pytest.raises(LdifError, match=f"^people.ldif:{message}"):
        list(read_records(text, "people.ldif"))


def test_slapd_preparation_reads_through_the_same_parser() -> None:
    base = "dn: dc=example,dc=fr\nobjectClass: dcObject\ndc: example\n\n"
    prepared = "".join(prepare_ldif(base + TEXT, "dc=example,dc=fr", "cn=gw,ou=services,dc=example,dc=fr"))
    records = {record.dn: record for record in read_records(prepared)}
    zoe = records["uid=zoe,ou=people,dc=example,dc=fr"]
    assert zoe.values("cn") == ["Zoé Dupont"]
    assert zoe.values("memberOf") == ["cn=profs,ou=groups,dc=example,dc=fr"]
    assert "cn=gw,ou=services,dc=example,dc=fr" in records and "ou=services,dc=example,dc=fr" in records
