# SPDX-License-Identifier: GPL-3.0-or-later
"""The academic address books over CardDAV (RFC 6352) on the demo directory: homes, read-only, isolation,
vCard 3.0 and 4.0, addressbook-query, and vdirsyncer pulling the académie book. Then against a real slapd with
generated staff: a first sync inside `groupware serve`, 10 people changed and 2 removed in LDAP, `groupware
addressbooks sync`, and a client's sync-collection (RFC 6578) returns exactly those 12 changes."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import (
    CARDDAV,
    DAV,
    LDIF_DIRECTORY,
    PASSWORD,
    ROOT,
    USER,
    RunningServer,
    count_fast_renders,
    ldap_directory_section,
    ok_prop,
    request,
    require_binaries,
    responses,
    run_vdirsyncer,
    vdirsyncer_pair,
    write_config,
)

from groupware import config as config_module

ACADEMIE = "/annuaire/academie/"
ETAB_A, ETAB_B = "/annuaire/etab-0341234A/", "/annuaire/etab-0300567B/"  # Hélène is in A only
OTHER, OTHER_PASSWORD = "stephane.chabert", "stephane.chabert-demo"  # in B only
STAFF = 300
VCARD = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:intruder\r\nFN:Intrus\r\nN:Intrus;;;;\r\nEND:VCARD\r\n"


def start_books(tmp_path: Path, directory: dict[str, str], **options: str) -> RunningServer:
    """A server whose [addressbooks] are on; returns once its first sync is done."""
    path = write_config(tmp_path / "groupware.conf", directory)
    section = {"enabled": "true", "books": "academie etablissements", "interval": "3600", **options}
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n[addressbooks]\n" + "".join(f"{k} = {v}\n" for k, v in section.items()))
    server = RunningServer(config_module.load(path))
    assert server.server.addressbooks is not None and server.server.addressbooks.done.wait(30)
    assert server.server.addressbooks.last is not None
    return server


@pytest.fixture
def books(tmp_path: Path) -> Iterator[RunningServer]:
    server = start_books(tmp_path, LDIF_DIRECTORY)
    yield server
    server.stop()


def _propfind(
    server: RunningServer,
    path: str,
    props: str,
    login: str = USER,
    password: str = PASSWORD,
    depth: str = "1",
) -> tuple[int, bytes]:
    body = (
        f'<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:CR="{CARDDAV[1:-1]}"><D:prop>{props}</D:prop>'
        "</D:propfind>"
    )
    status, _, data = request(server, "PROPFIND", path, login, password, body, {"Depth": depth})
    return status, data


def test_books_appear_in_members_homes(books: RunningServer) -> None:
    status, data = _propfind(
        books, f"/{USER}/", "<D:displayname/><D:resourcetype/><CR:supported-address-data/>"
    )
    assert status == 207
    found = {href: ok_prop(r, DAV + "displayname") for href, r in responses(data).items()}
    titles = {href: element.text for href, element in found.items() if element is not None}
    assert titles[f"/{USER}/annuaire-academie/"] == "Annuaire – Académie de Montpellier"
    assert titles[f"/{USER}/annuaire-etab-0341234A/"] == "Annuaire – Collège Jean Moulin"
    assert not any("0300567B" in href for href in titles)
    book = responses(data)[f"/{USER}/annuaire-academie/"]
    assert ok_prop(book, DAV + "resourcetype").find(CARDDAV + "addressbook") is not None  # type: ignore[union-attr]
    versions = {t.get("version") for t in ok_prop(book, CARDDAV + "supported-address-data") or []}
    assert versions == {"3.0", "4.0"}
    status, data = _propfind(books, f"/{USER}/annuaire-academie/", "<D:getetag/>")
    assert status == 207 and len(responses(data)) == 1 + 23  # the book and the enabled people
    status, data = _propfind(books, f"/{USER}/annuaire-etab-0341234A/", "<D:getetag/>")
    assert status == 207 and len(responses(data)) == 1 + 9 + 4  # the book, the collège's staff, its groups


@pytest.mark.parametrize(
    "path", [ACADEMIE, f"/{USER}/annuaire-academie/", ETAB_A, f"/{USER}/annuaire-etab-0341234A/"]
)
def test_books_are_read_only(books: RunningServer, path: str) -> None:
    _, data = _propfind(books, path, "<D:getetag/>")
    item = next(href for href in responses(data) if href.endswith(".vcf"))
    assert request(books, "GET", item)[0] == 200
    headers = {"Content-Type": "text/vcard"}
    assert request(books, "PUT", f"{path}intruder.vcf", body=VCARD, headers=headers)[0] == 403
    assert request(books, "PUT", item, body=VCARD, headers=headers)[0] == 403
    assert request(books, "DELETE", item)[0] == 403
    assert request(books, "DELETE", path)[0] == 403
    assert request(books, "MKCOL", f"{path}sub/")[0] == 403
    proppatch = (
        '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>x'
        "</D:displayname></D:prop></D:set></D:propertyupdate>"
    )
    assert request(books, "PROPPATCH", path, body=proppatch)[0] == 403
    assert request(books, "MKCOL", "/annuaire/other/")[0] == 403


def test_admins_read_the_books_but_cannot_write_them(books: RunningServer) -> None:
    """The directory is the books' source: an admin's PUT, DELETE or PROPPATCH is refused like anyone's."""
    admin = ("admin.groupware", "admin-demo")
    status, data = _propfind(books, ACADEMIE, "<D:getetag/>", *admin)
    assert status == 207
    item = next(href for href in responses(data) if href.endswith(".vcf"))
    headers = {"Content-Type": "text/vcard"}
    assert request(books, "GET", item, *admin)[0] == 200
    assert request(books, "PUT", item, *admin, body=VCARD, headers=headers)[0] == 403
    assert request(books, "PUT", f"{ACADEMIE}intruder.vcf", *admin, body=VCARD, headers=headers)[0] == 403
    assert request(books, "DELETE", item, *admin)[0] == 403
    assert request(books, "DELETE", ACADEMIE, *admin)[0] == 403
    assert request(books, "MKCOL", "/annuaire/other/", *admin)[0] == 403
    assert request(books, "GET", item, *admin)[0] == 200


def test_establishment_books_are_isolated(books: RunningServer) -> None:
    assert _propfind(books, ETAB_B, "<D:getetag/>")[0] in (403, 404)
    assert _propfind(books, f"/{USER}/annuaire-etab-0300567B/", "<D:getetag/>")[0] in (403, 404)
    assert request(books, "GET", f"{ETAB_B}")[0] in (403, 404)
    assert _propfind(books, ETAB_B, "<D:getetag/>", OTHER, OTHER_PASSWORD)[0] == 207
    assert _propfind(books, ETAB_A, "<D:getetag/>", OTHER, OTHER_PASSWORD)[0] in (403, 404)
    assert _propfind(books, ACADEMIE, "<D:getetag/>", OTHER, OTHER_PASSWORD)[0] == 207


def _query(server: RunningServer, path: str, prop: str, text: str, version: str = "3.0") -> dict[str, str]:
    body = (
        f'<?xml version="1.0"?><CR:addressbook-query xmlns:D="DAV:" xmlns:CR="{CARDDAV[1:-1]}"><D:prop>'
        f'<D:getetag/><CR:address-data content-type="text/vcard" version="{version}"/></D:prop><CR:filter>'
        f'<CR:prop-filter name="{prop}"><CR:text-match match-type="contains">{text}</CR:text-match>'
        "</CR:prop-filter></CR:filter></CR:addressbook-query>"
    )
    status, _, data = request(server, "REPORT", path, body=body, headers={"Depth": "1"})
    assert status == 207, data
    found = {href: ok_prop(r, CARDDAV + "address-data") for href, r in responses(data).items()}
    return {
        href: (e.text or "").replace("\r\n", "\n") for href, e in found.items() if e is not None
    }  # XML: LF


def test_addressbook_query_by_name_mail_and_phone(books: RunningServer) -> None:
    for path in (ACADEMIE, f"/{USER}/annuaire-academie/"):
        [found] = _query(books, path, "FN", "helene lef").values()
        assert "FN:Hélène Lefèvre\n" in found and "VERSION:3.0" in found
        [found] = _query(books, path, "EMAIL", "zoe.nguyen@").values()
        assert "FN:Zoé Nguyen" in found
        phone = next(line for line in found.split("\n") if line.startswith("TEL"))
        [by_phone] = _query(books, path, "TEL", phone.split(":", 1)[1][-8:]).values()
        assert by_phone == found
    groups = _query(books, ETAB_A, "FN", "personnels")
    assert groups and all("X-ADDRESSBOOKSERVER-KIND:group" in text for text in groups.values())


def test_vcard4_on_request(books: RunningServer) -> None:
    [card] = _query(books, ACADEMIE, "FN", "helene lef", "4.0").values()
    assert "VERSION:4.0\n" in card and "UID:urn:uuid:" in card
    groups = _query(books, f"/{USER}/annuaire-etab-0341234A/", "FN", "Personnels du Collège", "4.0")
    [group] = groups.values()
    assert "KIND:group\n" in group and "\nMEMBER:urn:uuid:" in group
    members = {line.split("urn:uuid:")[1] for line in group.split("\n") if line.startswith("MEMBER:")}
    assert len(members) == 9  # the collège's enabled staff (Paul Durand is disabled)


def test_vdirsyncer_pulls_the_academie_book(books: RunningServer, tmp_path: Path) -> None:
    require_binaries("vdirsyncer", packages="vdirsyncer")
    config, local = vdirsyncer_pair(
        tmp_path,
        "carddav",
        f"{books.url}/{USER}/annuaire-academie/",
        USER,
        PASSWORD,
        ".vcf",
        read_only="true",
    )
    for command in ("discover", "sync"):
        run_vdirsyncer(config, command)
    cards = list(local.glob("*.vcf"))
    assert len(cards) == 23
    assert any("FN:Hélène Lefèvre" in p.read_text(encoding="utf-8") for p in cards)


@pytest.fixture(scope="module")
def staff_slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    require_binaries("slapd", "slapadd", "ldapsearch", packages="slapd ldap-utils")
    from groupware.directory.generate import write_directory
    from groupware.directory.slapd import Slapd

    ldif = tmp_path_factory.mktemp("staff") / "staff.ldif"
    write_directory(ldif, STAFF, seed=5)
    with Slapd(str(ldif), memberof=True) as server:
        yield server


def _sync_collection(
    server: RunningServer, path: str, login: str, token: str = ""
) -> tuple[str, dict[str, int]]:
    body = (
        f'<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token>'
        "<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"
    )
    status, _, data = request(server, "REPORT", path, login, f"{login}-pw", body)
    assert status == 207, data
    root = ET.fromstring(data)
    changes = {}
    for response in root.iterfind(DAV + "response"):
        code = response.findtext(DAV + "status") or response.findtext(f"{DAV}propstat/{DAV}status") or ""
        changes[response.findtext(DAV + "href") or ""] = int(code.split()[1])
    return root.findtext(DAV + "sync-token") or "", changes


def test_resync_after_ldap_changes_shows_exactly_them(staff_slapd: Any, tmp_path: Path) -> None:
    from groupware.addressbooks import card_uid
    from groupware.config import DirectoryConfig
    from groupware.directory.ldap import LdapDirectory

    directory = ldap_directory_section(staff_slapd, groups_from="memberof")
    server = start_books(tmp_path, directory, groups="false")
    try:
        first = server.server.addressbooks.last  # type: ignore[union-attr]
        assert first is not None and first.books[0].added == first.people
        ldap = LdapDirectory(
            DirectoryConfig(
                **{  # type: ignore[arg-type]
                    **{
                        k: v
                        for k, v in directory.items()
                        if k not in ("uri", "connect_timeout", "timeout", "cache_ttl")
                    },
                    "uri": (staff_slapd.uri,),
                }
            )
        )
        people = sorted(ldap.iter_people(), key=lambda p: p.uid)
        ldap.close()
        reader = people[0]
        book = f"/{reader.uid}/annuaire-academie/"
        token, everything = _sync_collection(server, book, reader.uid)
        assert len(everything) == len(people)
        changed, removed = people[10:20], people[30:32]
        for person in changed:
            staff_slapd.modify(person.dn, {"title": [f"{person.title} (changé)"]})
        for person in removed:
            staff_slapd.delete(person.dn)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "groupware.cli",
                "addressbooks",
                "sync",
                "--config",
                str(tmp_path / "groupware.conf"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "/annuaire/academie/: +0 ~10 -2" in done.stdout and "addressbooks: 100%" in done.stderr
        _, changes = _sync_collection(server, book, reader.uid, token)
        expected = {f"{book}{card_uid(p)}.vcf": 200 for p in changed} | {
            f"{book}{card_uid(p)}.vcf": 404 for p in removed
        }
        assert changes == expected
        again = subprocess.run(
            [
                sys.executable,
                "-m",
                "groupware.cli",
                "addressbooks",
                "sync",
                "--quiet",
                "--config",
                str(tmp_path / "groupware.conf"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert again.returncode == 0 and "unchanged since the last sync" in again.stdout, (
            again.stdout + again.stderr
        )
        full = subprocess.run(
            [
                sys.executable,
                "-m",
                "groupware.cli",
                "addressbooks",
                "sync",
                "--quiet",
                "--full",
                "--config",
                str(tmp_path / "groupware.conf"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert full.returncode == 0 and " people, 0 changes in " in full.stdout, full.stdout + full.stderr
    finally:
        server.stop()


def test_privileges_and_multiget_as_davx5_asks(books: RunningServer) -> None:
    """RFC 3744 §5.4: a book shows read only (clients mark it read-only); RFC 6352 §8.7 multiget in vCard
    4.0.
    """
    path = f"/{USER}/annuaire-etab-0341234A/"
    status, data = _propfind(books, path, "<D:current-user-privilege-set/><D:sync-token/>", depth="0")
    privileges = {
        p.tag for p in ok_prop(responses(data)[path], DAV + "current-user-privilege-set") or [] for p in p
    }  # D:privilege/D:<name>
    assert (
        status == 207
        and DAV + "read" in privileges
        and not privileges & {DAV + "write", DAV + "write-content", DAV + "bind", DAV + "unbind"}
    )
    _, listing = _propfind(books, path, "<D:getetag/>")
    hrefs = [href for href in responses(listing) if href.endswith(".vcf")]
    body = (
        f'<?xml version="1.0"?><CR:addressbook-multiget xmlns:D="DAV:" xmlns:CR="{CARDDAV[1:-1]}"><D:prop>'
        '<D:getetag/><CR:address-data content-type="text/vcard" version="4.0"/></D:prop>'
        + "".join(f"<D:href>{href}</D:href>" for href in hrefs)
        + "</CR:addressbook-multiget>"
    )
    status, _, data = request(books, "REPORT", path, body=body, headers={"Depth": "1"})
    cards = [ok_prop(r, CARDDAV + "address-data") for r in responses(data).values()]
    assert status == 207 and len(cards) == len(hrefs) == 13
    assert all(card is not None and "VERSION:4.0" in (card.text or "") for card in cards)
    assert sum("KIND:group" in (card.text or "") for card in cards if card is not None) == 4


def test_a_member_lists_the_academie_book_from_item_facts(
    books: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Thunderbird-style depth-1 listing and a first sync of the shared book go through the whole-collection
    fast path, and answer what Radicale answers."""
    rendered = count_fast_renders(monkeypatch)
    path = f"/{USER}/annuaire-academie/"
    requests = [
        (
            "PROPFIND",
            '<d:propfind xmlns:d="DAV:"><d:prop><d:getcontenttype/><d:getetag/></d:prop></d:propfind>',
            {"Depth": "1"},
        ),
        (
            "REPORT",
            (
                '<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level><prop><getetag/>'
                "</prop></sync-collection>"
            ),
            {},
        ),
    ]
    for method, body, headers in requests:
        answers = []
        for fast in (False, True):
            books.server.app.fast_paths = fast
            status, _, answer = request(books, method, path, body=body, headers=headers)
            assert status == 207
            answers.append(answer)
        assert answers[1] == answers[0]
    assert rendered() == 2 * 22  # the 23 cards of the book, the first through Radicale, in each answer
