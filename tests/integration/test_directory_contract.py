# SPDX-License-Identifier: GPL-3.0-or-later
"""One contract for every Directory implementation: LDIF file, real slapd (group search and memberOf),
cache.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support import DEMO_LDIF, ldap_directory_section

from groupware.config import DirectoryConfig
from groupware.directory import Directory, normalize_dn
from groupware.directory.cache import CachedDirectory
from groupware.directory.ldap import LdapDirectory
from groupware.directory.ldif import LdifDirectory
from groupware.errors import AccountDisabled, InvalidCredentials

BASE = "dc=ac-montpellier,dc=fr"
USER = "helene.lefevre"
USER_MAIL = "helene.lefevre@ac-montpellier.fr"
DISABLED = "paul.durand"
ADMINS = f"cn=groupware-admins,ou=groups,{BASE}"
ETAB_GROUP = f"cn=personnels,ou=etab-0341234A,ou=groups,{BASE}"


def _config(section: dict[str, str]) -> DirectoryConfig:
    values: dict[str, object] = dict(section)
    if "uri" in values:
        values["uri"] = tuple(str(values["uri"]).split())
    for key in ("connect_timeout", "timeout", "cache_ttl"):
        if key in values:
            values[key] = float(str(values[key]))
    return DirectoryConfig(**values)  # type: ignore[arg-type]


class DirectoryContract:
    """Subclassed once per implementation; ``directory`` is the fixture under test."""

    @pytest.fixture
    def directory(self) -> Iterator[Directory]:
        raise NotImplementedError

    def test_authenticate_by_uid_and_by_mail_any_case(self, directory: Directory) -> None:
        by_uid = directory.authenticate(USER.upper(), f"{USER}-demo")
        by_mail = directory.authenticate(USER_MAIL.title(), f"{USER}-demo")
        assert by_uid.uid == by_mail.uid == USER
        assert by_uid.display_name == "Hélène Lefèvre"
        assert by_uid.mail == USER_MAIL

    @pytest.mark.parametrize(
        "login, password",
        [
            (USER, "wrong"),
            (USER, ""),
            ("nobody.here", "nobody.here-demo"),
            ("*", "x"),
            ("*)(uid=*", "x"),
            (f"{USER})(|(uid=*", f"{USER}-demo"),
            ("", "x"),
            ("admin.groupware", f"{USER}-demo"),
        ],
    )
    def test_refused_logins(self, directory: Directory, login: str, password: str) -> None:
        with pytest.raises(InvalidCredentials):
            directory.authenticate(login, password)

    def test_disabled_account_is_refused_even_with_its_password(self, directory: Directory) -> None:
        with pytest.raises(AccountDisabled):
            directory.authenticate(DISABLED, f"{DISABLED}-demo")
        assert directory.find_person(DISABLED) is None

    def test_find_person_any_case_and_injection(self, directory: Directory) -> None:
        person = directory.find_person(USER_MAIL.upper())
        assert person is not None and person.uid == USER
        assert directory.find_person("*") is None
        assert directory.find_person("h*") is None

    def test_groups_are_full_dns(self, directory: Directory) -> None:
        person = directory.authenticate(USER, f"{USER}-demo")
        groups = {normalize_dn(g) for g in person.groups}
        assert normalize_dn(ETAB_GROUP) in groups
        assert all(g.endswith(f"ou=groups,{BASE}".lower()) for g in groups)
        admin = directory.authenticate("admin.groupware", "admin-demo")
        assert normalize_dn(ADMINS) in {normalize_dn(g) for g in admin.groups}

    def test_same_cn_in_two_branches_are_two_groups(self, directory: Directory) -> None:
        direction = [g for g in directory.iter_groups() if g.name == "direction"]
        assert len({normalize_dn(g.dn) for g in direction}) >= 2

    def test_bulk_read_of_people_and_groups(self, directory: Directory) -> None:
        people = list(directory.iter_people())
        assert len(people) >= 20
        assert DISABLED not in {p.uid for p in people}
        assert len({p.uid for p in people}) == len(people)
        by_uid = {p.uid: p for p in people}
        assert normalize_dn(ETAB_GROUP) in {normalize_dn(g) for g in by_uid[USER].groups}
        groups = {normalize_dn(g.dn): g for g in directory.iter_groups()}
        assert normalize_dn(by_uid[USER].dn) in groups[normalize_dn(ETAB_GROUP)].members


class TestLdifDirectory(DirectoryContract):
    @pytest.fixture
    def directory(self) -> Iterator[Directory]:
        yield LdifDirectory(
            DirectoryConfig(type="ldif", file=str(DEMO_LDIF), disabled_filter="(employeeType=inactif)")
        )


class TestCachedLdifDirectory(DirectoryContract):
    @pytest.fixture
    def directory(self) -> Iterator[Directory]:
        inner = LdifDirectory(
            DirectoryConfig(type="ldif", file=str(DEMO_LDIF), disabled_filter="(employeeType=inactif)")
        )
        yield CachedDirectory(inner, ttl=60)


@pytest.mark.slapd
class TestLdapDirectorySearchGroups(DirectoryContract):
    @pytest.fixture
    def directory(self, slapd: object) -> Iterator[Directory]:
        directory = LdapDirectory(_config(ldap_directory_section(slapd)))
        yield directory
        directory.close()


@pytest.mark.slapd
class TestLdapDirectoryMemberOf(DirectoryContract):
    @pytest.fixture
    def directory(self, slapd: object) -> Iterator[Directory]:
        directory = LdapDirectory(_config(ldap_directory_section(slapd, groups_from="memberof")))
        yield directory
        directory.close()


@pytest.mark.slapd
class TestLdapDirectoryDnTemplate(DirectoryContract):
    """Direct bind with a DN template: logins by mail cannot work there, everything else must."""

    @pytest.fixture
    def directory(self, slapd: object) -> Iterator[Directory]:
        section = ldap_directory_section(slapd, user_dn_template=f"uid={{login}},ou=people,{BASE}")
        directory = LdapDirectory(_config(section))
        yield directory
        directory.close()

    def test_authenticate_by_uid_and_by_mail_any_case(self, directory: Directory) -> None:
        assert directory.authenticate(USER, f"{USER}-demo").uid == USER
        with pytest.raises(InvalidCredentials):
            directory.authenticate(USER_MAIL, f"{USER}-demo")
