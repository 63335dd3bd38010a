# SPDX-License-Identifier: GPL-3.0-or-later
"""A SupAnn directory on a real slapd (``preset = supann``): the UAI only in ``supannEtablissement``
(``{UAI}0341234A``), établissement names only on their entries under ``ou=structures``, three people on the
red list (``supannListeRouge: TRUE``). The académie, établissement and département books, the provisioning of
shared agendas and principal search are what the inetOrgPerson demo gives, less the red-listed people, who
still log in. With the wrong preset, ``directory test``, ``addressbooks sync`` and ``agenda provision`` warn.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import (
    CARDDAV,
    DAV,
    ROOT,
    RunningServer,
    ldap_directory_section,
    ok_prop,
    request,
    require_binaries,
    responses,
    write_config,
)

from groupware import config as config_module

SUPANN_LDIF = ROOT / "config" / "demo-supann-directory.ldif"
RED = ("zoe.nguyen", "eric.vidal", "chloe.mas")
USER, PASSWORD = "helene.lefevre", "helene.lefevre-demo"


@pytest.fixture(scope="module")
def supann_slapd() -> Iterator[Any]:
    require_binaries("slapd", "slapadd", "ldapsearch", packages="slapd ldap-utils")
    from groupware.directory.slapd import SUPANN_SCHEMA, Slapd

    with Slapd(str(SUPANN_LDIF), memberof=True, schemas=[SUPANN_SCHEMA]) as server:
        yield server


def _config(tmp_path: Path, slapd: Any, **directory: str) -> Path:
    section = ldap_directory_section(slapd, **{"preset": "supann", **directory})
    section.pop("people_dn")
    section.pop("groups_dn")
    path = write_config(tmp_path / "groupware.conf", section)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n[addressbooks]\nenabled = true\nbooks = academie etablissements departements\n")
    return path


@pytest.fixture(scope="module")
def supann_server(supann_slapd: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    path = _config(tmp_path_factory.mktemp("supann"), supann_slapd)
    server = RunningServer(config_module.load(path))
    assert server.server.addressbooks is not None and server.server.addressbooks.done.wait(30)
    yield server
    server.stop()


def _hrefs(server: RunningServer, path: str, login: str = USER, password: str = PASSWORD) -> dict[str, Any]:
    body = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:propfind>'
    status, _, data = request(server, "PROPFIND", path, login, password, body, {"Depth": "1"})
    assert status == 207, data
    return responses(data)


def _cards(server: RunningServer, path: str) -> list[str]:
    body = (
        f'<?xml version="1.0"?><CR:addressbook-query xmlns:D="DAV:" xmlns:CR="{CARDDAV[1:-1]}"><D:prop>'
        '<CR:address-data content-type="text/vcard" version="3.0"/></D:prop></CR:addressbook-query>'
    )
    status, _, data = request(server, "REPORT", path, body=body, headers={"Depth": "1"})
    assert status == 207, data
    found = (ok_prop(r, CARDDAV + "address-data") for r in responses(data).values())
    return [element.text or "" for element in found if element is not None]


def test_books_from_supann_leave_out_the_red_list(supann_server: RunningServer) -> None:
    report = supann_server.server.addressbooks.last  # type: ignore[union-attr]
    assert report is not None and report.warnings == []
    assert sorted(book.path for book in report.books) == [
        "annuaire/academie",
        "annuaire/dep-011",
        "annuaire/dep-030",
        "annuaire/dep-034",
        "annuaire/etab-0110089C",
        "annuaire/etab-0300567B",
        "annuaire/etab-0341234A",
    ]
    home = _hrefs(supann_server, f"/{USER}/")
    titles = {href: ok_prop(r, DAV + "displayname") for href, r in home.items()}
    named = {href: element.text for href, element in titles.items() if element is not None}
    assert named[f"/{USER}/annuaire-etab-0341234A/"] == "Annuaire – Collège Jean Moulin"  # from ou=structures
    academie = _cards(supann_server, f"/{USER}/annuaire-academie/")
    assert len(academie) == 24 - 1 - 3  # everyone, less the disabled account and the red list
    college = _cards(supann_server, f"/{USER}/annuaire-etab-0341234A/")
    people = [card for card in college if "X-ADDRESSBOOKSERVER-KIND:group" not in card]
    assert len(people) == 10 - 1 - 1 and len(college) - len(people) == 4  # less Paul Durand and Zoé Nguyen
    assert all("ORG:Académie de Montpellier;Collège Jean Moulin" in card for card in people)
    for text in academie + college:
        assert not any(f"{uid}@" in text for uid in RED)
    groups = [card for card in college if "X-ADDRESSBOOKSERVER-KIND:group" in card]
    assert all("zoe.nguyen" not in card for card in groups)


def test_red_listed_people_log_in_but_no_search_finds_them(supann_server: RunningServer) -> None:
    search = (
        '<?xml version="1.0"?><D:principal-property-search xmlns:D="DAV:" test="anyof"><D:property-search>'
        "<D:prop><D:displayname/></D:prop><D:match>{}</D:match></D:property-search>"
        "<D:prop><D:displayname/></D:prop></D:principal-property-search>"
    )
    for name, found in (("Nguyen", set()), ("Vidal", set()), ("Lefèvre", {"/helene.lefevre/"})):
        status, _, data = request(supann_server, "REPORT", "/", body=search.format(name))
        assert status == 207 and set(responses(data)) == found, name
    home = _hrefs(supann_server, "/zoe.nguyen/", "zoe.nguyen", "zoe.nguyen-demo")  # she logs in
    assert "/zoe.nguyen/annuaire-etab-0341234A/" in home  # and reads her établissement's book


def test_provisioning_from_supann_groups(supann_slapd: Any, tmp_path: Path) -> None:
    from groupware.runtime.services import build_services
    from groupware.sharing import cli as agenda_cli

    services = build_services(config_module.load(_config(tmp_path, supann_slapd)))
    out = io.StringIO()
    args = argparse.Namespace(agenda_command="provision", json=False)
    assert agenda_cli.run(services.sharing, args, out=out) == 0
    assert "12 created" in out.getvalue() and "warning" not in out.getvalue()
    agendas = {agenda.path for agenda in services.sharing.db.agendas()}
    assert "/etab-0341234A/direction/" in agendas and "/etab-0110089C/personnels/" in agendas
    granted = services.sharing.db.grants("/etab-0341234A/enseignants/")
    grants = {str(grant.grantee): grant.level.label for grant in granted}
    assert grants == {
        "group:cn=enseignants,ou=etab001,ou=groups,dc=ac-montpellier,dc=fr": "read",
        "group:cn=direction,ou=etab001,ou=groups,dc=ac-montpellier,dc=fr": "read-write",
    }


def test_directory_test_reports_what_the_product_sees(supann_slapd: Any, tmp_path: Path) -> None:
    from groupware.cli import directory as directory_cli

    out = io.StringIO()
    assert directory_cli.run(config_module.load(_config(tmp_path, supann_slapd)), out=out) == 0
    text = out.getvalue()
    assert "people: 24 (disabled 1, red-listed 3, without mail 0, without établissement 1)" in text
    assert "listed in books and searches: 20" in text
    assert "établissements: 3 (3 établissement entries)" in text
    assert "établissement 0110089C, as mapped:" in text and "École Jules Ferry" in text
    assert "supannCodeEntite=ETAB003,ou=structures,dc=ac-montpellier,dc=fr" in text
    assert "warning" not in text


def test_the_wrong_preset_warns_everywhere(
    supann_slapd: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """inetorgperson on a SupAnn directory finds no UAI: every command says so instead of building nothing."""
    from groupware.cli import books
    from groupware.cli import directory as directory_cli
    from groupware.runtime.services import build_services
    from groupware.sharing import cli as agenda_cli

    loaded = config_module.load(_config(tmp_path, supann_slapd, preset="inetorgperson"))
    out = io.StringIO()
    assert directory_cli.run(loaded, out=out) == 0
    assert "warning: no person has an établissement" in out.getvalue()
    assert "establishment_attributes = departmentNumber" in out.getvalue()
    assert "warning: none of the 13 groups belongs to an établissement" in out.getvalue()
    assert books.run(loaded, argparse.Namespace(quiet=True, verbose=False, full=True)) == 0
    captured = capsys.readouterr()
    assert "1 books" in captured.out and "warning: no person has an établissement" in captured.err
    provision_out = io.StringIO()
    args = argparse.Namespace(agenda_command="provision", json=False)
    assert agenda_cli.run(build_services(loaded).sharing, args, out=provision_out) == 0
    assert "0 created" in provision_out.getvalue()
    assert "warning: none of the 13 groups belongs to an établissement" in provision_out.getvalue()


def test_ldif_and_ldap_read_the_supann_directory_alike(supann_slapd: Any) -> None:
    from groupware.config import DirectoryConfig
    from groupware.directory.ldap import LdapDirectory
    from groupware.directory.ldif import LdifDirectory

    presets = config_module.read_sections(config_module.DIRECTORY_PRESETS)["supann"]
    mapping = {key: config_module.SCHEMA["directory"][key].parse(value) for key, value in presets.items()}
    common = {**mapping, "preset": "supann", "disabled_filter": "(employeeType=inactif)"}
    ldif = LdifDirectory(DirectoryConfig(type="ldif", file=str(SUPANN_LDIF), **common))
    ldap = LdapDirectory(
        DirectoryConfig(
            type="ldap",
            uri=(supann_slapd.uri,),
            base_dn=supann_slapd.base_dn,
            bind_dn=supann_slapd.service_dn,
            bind_password=supann_slapd.service_password,
            **common,
        )
    )
    try:

        def seen(people: Any) -> list[tuple[Any, ...]]:
            rows = [(p.uid, p.establishments, p.organizations, p.title, p.listed, p.disabled) for p in people]
            return sorted(rows)

        assert seen(ldif.iter_people()) == seen(ldap.iter_people())
        assert seen(ldif.iter_everyone()) == seen(ldap.iter_everyone())
        assert len(seen(ldap.iter_people())) == 20
        by_uai = lambda found: sorted(found, key=lambda e: e.uai)  # noqa: E731
        assert by_uai(ldif.iter_establishments()) == by_uai(ldap.iter_establishments())
        red = ldap.find_person("zoe.nguyen")
        assert red is not None and not red.listed and red.organizations == ("Collège Jean Moulin",)
        assert ldap.authenticate("ZOE.NGUYEN@ac-montpellier.fr", "zoe.nguyen-demo").uid == "zoe.nguyen"
        assert ldif.authenticate("zoe.nguyen", "zoe.nguyen-demo").listed is False
    finally:
        ldap.close()


def test_the_command_line(supann_slapd: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from groupware.cli import main

    path = _config(tmp_path, supann_slapd)
    assert main(["directory", "test", "--config", str(path)]) == 0
    assert "red-listed 3" in capsys.readouterr().out
    wrong = _config(tmp_path, supann_slapd, bind_password="not-the-password")
    assert main(["directory", "test", "--config", str(wrong)]) == 1
    assert "service account bind refused" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["directory", "--help"])
    assert "test" in capsys.readouterr().out
