# SPDX-License-Identifier: GPL-3.0-or-later
"""The synthetic directory generator, the demo directory it writes, and userPassword hashes."""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections import Counter
from pathlib import Path

import pytest

from groupware.directory import generate, schema
from groupware.directory.passwords import check_password, ssha

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "config" / "demo-directory.ldif"
UID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*\.[a-z0-9]+(-[a-z0-9]+)*[0-9]*$")
UAI = re.compile(r"^(011|030|034|048|066)[0-9]{4}[A-Z]$")
Entry = dict[str, list[str]]


# --- a tiny LDIF reader (RFC 2849 content records), independent of the code under test ----------------------


def read_ldif(text: str) -> list[Entry]:
    """Entries of an LDIF text: lower-cased attribute names, base64 decoded; strict about the syntax."""
    entries: list[Entry] = []
    lines: list[str] = []
    for raw in text.split("\n") + [""]:
        if raw.startswith(" "):
            assert lines, "continuation line without a line to continue"
            lines[-1] += raw[1:]
        elif raw.startswith("#"):
            continue
        elif raw == "":
            if lines:
                entries.append(_entry(lines))
            lines = []
        else:
            lines.append(raw)
    return entries


def _entry(lines: list[str]) -> Entry:
    entry: Entry = {}
    for line in lines:
        name, sep, rest = line.partition(":")
        assert sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", name), f"bad line {line!r}"
        if rest.startswith(":"):
            value = base64.b64decode(rest[1:].strip(), validate=True).decode("utf-8")
            assert not _safe(value), f"{name}:: {value!r} should have been written as plain text"
        else:
            value = rest.removeprefix(" ")
            assert _safe(value), f"{name}: {value!r} is not a SAFE-STRING, it needs base64"
        entry.setdefault(name.lower(), []).append(value)
    assert next(iter(entry)) == "dn", "a record starts with dn:"
    return entry


def _safe(value: str) -> bool:
    return (
        value.isascii()
        and value.isprintable()
        and not value.startswith((" ", ":", "<"))
        and not value.endswith(" ")
    )


def _people(entries: list[Entry]) -> dict[str, Entry]:
    return {e["uid"][0]: e for e in entries if "inetOrgPerson" in e.get("objectclass", [])}


def _groups(entries: list[Entry]) -> dict[str, Entry]:
    return {e["dn"][0]: e for e in entries if "groupOfNames" in e.get("objectclass", [])}


@pytest.fixture(scope="module")
def small() -> str:
    return "".join(generate.generate_directory(1200, seed=7))


@pytest.fixture(scope="module")
def small_entries(small: str) -> list[Entry]:
    return read_ldif(small)


# --- generated directories ----------------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_directory(small: str) -> None:
    assert "".join(generate.generate_directory(1200, seed=7)) == small
    assert "".join(generate.generate_directory(1200, seed=8)) != small


def test_well_formed_parents_first_unique_dns(small_entries: list[Entry]) -> None:
    seen: set[str] = set()
    for entry in small_entries:
        dn = entry["dn"][0].lower()
        assert dn not in seen
        parent = dn.split(",", 1)[1]
        assert dn == schema.BASE_DN.lower() or parent in seen, f"{dn} comes before its parent"
        seen.add(dn)
    assert {schema.BASE_DN.lower(), schema.PEOPLE_DN.lower(), schema.GROUPS_DN.lower()} <= seen


def test_counts_uids_and_people_attributes(small_entries: list[Entry]) -> None:
    people = _people(small_entries)
    assert len(people) == 1200 + 1 and schema.ADMIN_UID in people
    for uid, person in people.items():
        assert UID.match(uid), uid
        assert person["mail"] == [f"{uid}@{schema.MAIL_DOMAIN}"]
        assert person["cn"] == person["displayname"] == [f"{person['givenname'][0]} {person['sn'][0]}"]
        assert re.fullmatch(r"\+33 4 6[678] \d\d \d\d \d\d", person["telephonenumber"][0])
        assert person["employeetype"][0] in (schema.ACTIVE, schema.INACTIVE)
        assert person["userpassword"][0].startswith("{SSHA}")
        if uid != schema.ADMIN_UID:
            assert all(UAI.match(u) for u in person["departmentnumber"])
            assert len(person["o"]) == len(person["departmentnumber"])
    statuses = Counter(p["employeetype"][0] for p in people.values())
    assert 5 <= statuses[schema.INACTIVE] <= 20
    assert 1 <= sum(len(p.get("departmentnumber", [])) == 2 for p in people.values()) <= 10


def test_uid_collisions_get_a_number() -> None:
    taken: dict[str, int] = {}
    uids = [
        generate.make_uid("Marie", "Martin", taken),
        generate.make_uid("Marie", "Martin", taken),
        generate.make_uid("Hélène", "Lefèvre", taken),
        generate.make_uid("Loïc", "Le Goff", taken),
        generate.make_uid("Œdipe", "D'Ortoli", taken),
        generate.make_uid("François", "Müller", taken),
    ]
    assert uids == [
        "marie.martin",
        "marie.martin2",
        "helene.lefevre",
        "loic.le-goff",
        "oedipe.d-ortoli",
        "francois.muller",
    ]


def test_establishments_and_groups(small_entries: list[Entry]) -> None:
    people = _people(small_entries)
    dns = {p["dn"][0] for p in people.values()}
    branches = [e for e in small_entries if e["dn"][0].startswith("ou=etab-")]
    assert 50 <= len(branches) <= 70
    assert {b["ou"][0][5:8] for b in branches} == {"011", "030", "034", "048", "066"}
    groups = _groups(small_entries)
    for dn, group in groups.items():
        assert group["member"] and set(group["member"]) <= dns, dn
    for branch in branches:
        uai = branch["ou"][0][5:]
        personnels = groups[schema.group_dn(uai, "personnels")]
        assert personnels["businesscategory"] == ["etablissement"] and personnels["ou"] == [uai]
        assert personnels["description"][0].startswith("Personnels d")
        direction = groups[schema.group_dn(uai, "direction")]
        assert direction["businesscategory"] == ["role"] and 1 <= len(direction["member"]) <= 3
        roles = [groups.get(schema.group_dn(uai, r), {}).get("member", []) for r in schema.ROLE_GROUPS]
        assert sorted(m for r in roles for m in r) == sorted(personnels["member"])
        assert uai in people[personnels["member"][0].split(",")[0][4:]]["departmentnumber"]
    admins = groups[schema.ADMIN_GROUP_DN]
    assert admins["member"] == [schema.person_dn(schema.ADMIN_UID)]
    assert admins["businesscategory"] == ["admin"]


def test_default_passwords_verify_and_one_shared_password_is_hashed_once(small_entries: list[Entry]) -> None:
    people = _people(small_entries)
    for uid in list(people)[:50]:
        stored = people[uid]["userpassword"][0]
        assert check_password(stored, f"{uid}-pw") and not check_password(stored, f"{uid}-demo")
    shared = _people(read_ldif("".join(generate.generate_directory(60, seed=3, password="s3cret"))))
    hashes = {p["userpassword"][0] for p in shared.values()}
    assert len(hashes) == 1 and check_password(hashes.pop(), "s3cret")


def test_accented_values_round_trip_as_base64(small: str, small_entries: list[Entry]) -> None:
    people = _people(small_entries)
    accented = [p for p in people.values() if not p["cn"][0].isascii()]
    assert len(accented) > 100
    for person in accented[:20]:
        encoded = base64.b64encode(person["cn"][0].encode()).decode()
        assert f"\ncn:: {encoded}\n" in small
    assert re.search(r"\ncn: [^\n]*[^\x00-\x7f]", small) is None, "non-ASCII written as plain text"
    assert generate.ldif_line("sn", " leading") == "sn:: IGxlYWRpbmc=\n"
    assert generate.ldif_line("sn", ":colon").startswith("sn:: ")
    assert generate.ldif_line("sn", "Martin") == "sn: Martin\n"


def test_fifty_two_thousand_staff_in_under_ten_seconds(tmp_path: Path) -> None:
    started = time.monotonic()
    size = generate.write_directory(tmp_path / "staff.ldif", 52000, seed=1)
    elapsed = time.monotonic() - started
    assert elapsed < 10, f"{elapsed:.1f} s"
    text = (tmp_path / "staff.ldif").read_text(encoding="utf-8")
    assert len(text) == size and text.count("\nobjectClass: inetOrgPerson\n") == 52001
    assert 2400 <= text.count("\nobjectClass: organizationalUnit\nou: etab-") <= 2800


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.ldif"
    assert generate.main(["--staff", "100", "--seed", "2", "--out", str(out)]) == 0
    assert len(_people(read_ldif(out.read_text(encoding="utf-8")))) == 101
    err = capsys.readouterr().err
    assert "people: 100%" in err and "101/101" in err


# --- the demo directory -------------------------------------------------------------------------------------


def test_demo_file_is_what_the_generator_writes() -> None:
    assert DEMO.read_text(encoding="utf-8") == "".join(generate.demo_directory()), (
        "regenerate it: python -m groupware.directory.generate --demo --out config/demo-directory.ldif"
    )


def test_demo_people_passwords_and_table() -> None:
    text = DEMO.read_text(encoding="utf-8")
    people = _people(read_ldif(text))
    assert len(people) >= 23
    assert people["helene.lefevre"]["cn"] == ["Hélène Lefèvre"]
    assert people["francois.muller"]["displayname"] == ["François Müller"]
    assert people["marie.martin2"]["departmentnumber"] == ["0300567B"]
    assert people["anais.berard"]["departmentnumber"] == ["0341234A", "0300567B"]
    assert people["paul.durand"]["employeetype"] == [schema.INACTIVE]
    assert people["admin.groupware"]["cn"] == ["Admin Groupware"]
    assert check_password(people["admin.groupware"]["userpassword"][0], "admin-demo")
    header = text[: text.index("\ndn: ")]
    for uid, person in people.items():
        password = "admin-demo" if uid == schema.ADMIN_UID else f"{uid}-demo"
        assert check_password(person["userpassword"][0], password), uid
        assert f"| {uid} |" in header and f"| {password} |" in header
    etabs = Counter(u for p in people.values() for u in p.get("departmentnumber", []))
    assert set(etabs) == {"0341234A", "0300567B", "0110089C"}


def test_demo_groups() -> None:
    groups = _groups(read_ldif(DEMO.read_text(encoding="utf-8")))
    for uai in ("0341234A", "0300567B", "0110089C"):
        assert schema.group_dn(uai, "personnels") in groups
        assert schema.group_dn(uai, "direction") in groups
    personnels = groups[schema.group_dn("0341234A", "personnels")]
    assert personnels["description"] == ["Personnels du Collège Jean Moulin"]
    assert schema.person_dn("admin.groupware") in groups[schema.ADMIN_GROUP_DN]["member"]


# --- passwords ----------------------------------------------------------------------------------------------


def _scheme(name: str, algorithm: str, password: str, salt: bytes) -> str:
    digest = hashlib.new(algorithm, password.encode() + salt).digest()
    return f"{{{name}}}" + base64.b64encode(digest + salt).decode()


@pytest.mark.parametrize(
    "stored",
    [
        ssha("Secret-é"),
        ssha("Secret-é", b"12345678"),
        _scheme("SHA", "sha1", "Secret-é", b""),
        _scheme("SSHA256", "sha256", "Secret-é", b"salty"),
        _scheme("SSHA512", "sha512", "Secret-é", b"saltsalt"),
        _scheme("ssha", "sha1", "Secret-é", b"lower"),
        "{CLEARTEXT}Secret-é",
        "Secret-é",
    ],
)
def test_check_password_schemes(stored: str) -> None:
    assert check_password(stored, "Secret-é")
    assert not check_password(stored, "secret-é")
    assert not check_password(stored, "")


@pytest.mark.parametrize(
    "stored",
    [
        "{SSHA}not base64!",
        "{SSHA}",
        "{MD5}X03MO1qnZdYdgyfeuILPmQ==",
        "{CRYPT}$6$abc",
        "{SHA}" + base64.b64encode(b"short").decode(),
    ],
)
def test_check_password_refuses_malformed_and_unknown(stored: str) -> None:
    assert not check_password(stored, "password")


def test_ssha_layout() -> None:
    stored = ssha("pw", b"ABCDEFGH")
    raw = base64.b64decode(stored[6:])
    assert stored.startswith("{SSHA}") and raw[20:] == b"ABCDEFGH"
    assert raw[:20] == hashlib.sha1(b"pwABCDEFGH").digest()
    assert ssha("pw") != ssha("pw")
