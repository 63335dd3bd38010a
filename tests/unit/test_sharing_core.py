# SPDX-License-Identifier: GPL-3.0-or-later
"""groupware.sharing: levels, grantees, policy, the database's indexed questions, the service and
provisioning."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support import DEMO_LDIF

from groupware.config import DirectoryConfig
from groupware.directory.ldif import LdifDirectory
from groupware.sharing import (
    AgendaExists,
    AgendaStore,
    Grantee,
    GranteeKind,
    Level,
    NotAllowed,
    PolicyViolation,
    SharingDatabase,
    SharingError,
    SharingPolicy,
    SharingService,
    UnknownAgenda,
    UnknownGrantee,
    Viewer,
)
from groupware.sharing.provision import provision

ETAB = "ou=etab-0341234A,ou=groups,dc=ac-montpellier,dc=fr"
DIRECTION = f"cn=direction,{ETAB}"
ENSEIGNANTS = f"cn=enseignants,{ETAB}"
ADMINS = "cn=groupware-admins,ou=groups,dc=ac-montpellier,dc=fr"


@pytest.fixture
def db(tmp_path: Path) -> SharingDatabase:
    return SharingDatabase(str(tmp_path / "groupware.sqlite"))


@pytest.fixture
def directory() -> LdifDirectory:
    return LdifDirectory(DirectoryConfig(type="ldif", file=str(DEMO_LDIF)))


class FakeStore:
    def __init__(self) -> None:
        self.collections: dict[str, str] = {}

    def agenda_store(self) -> AgendaStore:
        return AgendaStore(
            create=self.collections.__setitem__, delete=self.forget, exists=self.collections.__contains__
        )

    def forget(self, path: str) -> None:
        del self.collections[path]


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def service(db: SharingDatabase, directory: LdifDirectory, store: FakeStore) -> SharingService:
    return SharingService(db, directory, SharingPolicy(), ADMINS, store=store.agenda_store())


def test_levels_are_ordered_and_named() -> None:
    assert Level.FREE_BUSY < Level.READ < Level.READ_WRITE < Level.MANAGE
    assert [level.label for level in Level] == ["free-busy", "read", "read-write", "manage"]
    assert Level.parse("read_write") is Level.READ_WRITE
    with pytest.raises(SharingError, match="unknown level 'write'"):
        Level.parse("write")


def test_grantees_are_parsed_and_normalized() -> None:
    assert Grantee.parse("@AC-Montpellier.fr") == Grantee(GranteeKind.DOMAIN, "ac-montpellier.fr")
    assert (
        Grantee.parse("CN=Direction, OU=etab-0341234A,ou=groups,dc=ac-montpellier,dc=fr").value
        == DIRECTION.lower()
    )
    assert Grantee.parse("Helene.Lefevre") == Grantee(GranteeKind.PERSON, "helene.lefevre")
    assert Grantee.parse("group:" + DIRECTION).kind is GranteeKind.GROUP
    assert str(Grantee.parse("domain:ac-montpellier.fr")) == "domain:ac-montpellier.fr"


def test_policy_bounds_each_kind() -> None:
    policy = SharingPolicy()
    policy.check(Grantee.parse("a.b"), Level.MANAGE)
    policy.check(Grantee.parse(DIRECTION), Level.READ_WRITE)
    with pytest.raises(PolicyViolation, match="at most read to a domain"):
        policy.check(Grantee.parse("@ac-montpellier.fr"), Level.READ_WRITE)
    strict = SharingPolicy.from_options({"max_group_level": "read", "people_may_share": "no"})
    assert strict.max_group is Level.READ and not strict.people_may_share


def test_most_generous_applicable_grant_wins(db: SharingDatabase) -> None:
    db.create_agenda("/etab-0341234A/direction/", "etab-0341234A", "organisation", "Direction")
    db.grant("/etab-0341234A/direction/", Grantee.parse("@ac-montpellier.fr"), Level.FREE_BUSY, "admin")
    db.grant("/etab-0341234A/direction/", Grantee.parse(ENSEIGNANTS), Level.READ, "admin")
    db.grant("/etab-0341234A/direction/", Grantee.parse(DIRECTION), Level.READ_WRITE, "admin")
    teacher = Viewer.of("x.y", {ENSEIGNANTS.upper()}, "x.y@ac-montpellier.fr")
    both = Viewer.of("z.w", {ENSEIGNANTS, DIRECTION}, "z.w@ac-montpellier.fr")
    outsider = Viewer.of("o.p", set(), "o.p@ac-toulouse.fr")
    path = "/etab-0341234A/direction/"
    assert db.level(path, teacher) is Level.READ
    assert db.level(path, both) is Level.READ_WRITE
    assert db.level(path, Viewer.of("q.r", set(), "q.r@ac-montpellier.fr")) is Level.FREE_BUSY
    assert db.level(path, outsider) is None
    [shared] = db.shared_with(both)
    assert (shared.agenda.slug, shared.level) == ("etab-0341234A-direction", Level.READ_WRITE)
    assert db.shared_with(outsider) == []


def test_listing_uses_the_grantee_index(db: SharingDatabase) -> None:
    from groupware.sharing.database import _matching_grants

    query, params = _matching_grants(Viewer.of("a.b", {DIRECTION}, "a.b@ac-montpellier.fr"))
    with db.db.read() as conn:
        plan = " ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + query, params))
    assert "sharing_grants_grantee" in plan and "SCAN sharing_grants" not in plan


def test_owner_does_not_see_own_agenda_as_shared(db: SharingDatabase) -> None:
    db.create_agenda("/helene.lefevre/calendar/", "helene.lefevre", "person", "Agenda (Hélène Lefèvre)")
    db.grant("/helene.lefevre/calendar/", Grantee.parse(ENSEIGNANTS), Level.READ, "helene.lefevre")
    assert db.shared_with(Viewer.of("helene.lefevre", {ENSEIGNANTS})) == []
    assert len(db.shared_with(Viewer.of("other", {ENSEIGNANTS}))) == 1


def test_revoke_delete_and_revision(db: SharingDatabase) -> None:
    start = db.revision()
    db.create_agenda("/etab-0341234A/enseignants/", "etab-0341234A", "organisation", "Enseignants")
    with pytest.raises(AgendaExists):
        db.create_agenda("/etab-0341234A/enseignants/", "etab-0341234A", "organisation", "Enseignants")
    db.grant("/etab-0341234A/enseignants/", Grantee.parse("a.b"), Level.READ, "admin")
    assert db.revoke("/etab-0341234A/enseignants/", Grantee.parse("a.b"))
    assert not db.revoke("/etab-0341234A/enseignants/", Grantee.parse("a.b"))
    db.delete_agenda("/etab-0341234A/enseignants/")
    with pytest.raises(UnknownAgenda):
        db.grant("/etab-0341234A/enseignants/", Grantee.parse("a.b"), Level.READ, "admin")
    assert db.revision() == start + 4


GRANT_ELSEWHERE = """
import sys
from groupware.sharing import Grantee, Level, SharingDatabase
database = SharingDatabase(sys.argv[1])
database.grant("/etab-0341234A/direction/", Grantee.parse("late.comer"), Level.READ, "admin")
"""


def test_changes_from_another_process_count_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "groupware.sqlite")
    db = SharingDatabase(path)
    db.create_agenda("/etab-0341234A/direction/", "etab-0341234A", "organisation", "Direction")
    viewer = Viewer.of("late.comer")
    assert db.level("/etab-0341234A/direction/", viewer) is None
    subprocess.run([sys.executable, "-c", GRANT_ELSEWHERE, path], check=True, timeout=60)
    assert db.level("/etab-0341234A/direction/", viewer) is Level.READ


def test_service_checks_names_policy_and_actor(service: SharingService, store: FakeStore) -> None:
    service.create_agenda("/etab-0341234A/direction/", "Direction du collège")
    with pytest.raises(SharingError, match="is a person's home"):
        service.create_agenda("/helene.lefevre/direction/", "Direction")
    assert store.collections == {"/etab-0341234A/direction/": "Direction du collège"}
    admin = {ADMINS}
    with pytest.raises(UnknownGrantee, match="unknown person 'nobody.here'"):
        service.grant("admin.groupware", admin, "/etab-0341234A/direction/", "nobody.here", "read")
    with pytest.raises(UnknownGrantee, match="unknown group"):
        service.grant("admin.groupware", admin, "/etab-0341234A/direction/", "cn=nope,ou=groups,dc=x", "read")
    with pytest.raises(UnknownAgenda):
        service.grant("admin.groupware", admin, "/etab-0341234A/absent/", "helene.lefevre", "read")
    with pytest.raises(PolicyViolation):
        service.grant(
            "admin.groupware", admin, "/etab-0341234A/direction/", "@ac-montpellier.fr", "read-write"
        )
    with pytest.raises(NotAllowed):
        service.grant("helene.lefevre", set(), "/etab-0341234A/direction/", "helene.lefevre", "read")
    service.grant("admin.groupware", admin, "/etab-0341234A/direction/", "helene.lefevre", "manage")
    service.grant("helene.lefevre", set(), "/etab-0341234A/direction/", DIRECTION, "read-write")
    _, grants = service.show("/etab-0341234A/direction")
    assert {(str(g.grantee), g.level) for g in grants} == {
        ("person:helene.lefevre", Level.MANAGE),
        (f"group:{DIRECTION.lower()}", Level.READ_WRITE),
    }
    service.revoke("helene.lefevre", set(), "/etab-0341234A/direction/", DIRECTION)
    with pytest.raises(UnknownGrantee, match="holds no grant"):
        service.revoke("helene.lefevre", set(), "/etab-0341234A/direction/", DIRECTION)
    service.delete_agenda("/etab-0341234A/direction/")
    assert store.collections == {}


def test_owner_shares_own_calendar_unless_policy_forbids(service: SharingService) -> None:
    person = service.directory.find_person("helene.lefevre")
    service.register_own("/helene.lefevre/calendar/", person, "Agenda")
    assert service.require("/helene.lefevre/calendar/").title == f"Agenda ({person.display_name})"  # type: ignore[union-attr]
    service.grant("helene.lefevre", set(), "/helene.lefevre/calendar/", "@ac-montpellier.fr", "free-busy")
    strict = SharingService(service.db, service.directory, SharingPolicy(people_may_share=False), ADMINS)
    with pytest.raises(NotAllowed):
        strict.grant("helene.lefevre", set(), "/helene.lefevre/calendar/", "@ac-montpellier.fr", "read")


def test_provision_is_idempotent_with_progress(service: SharingService, store: FakeStore) -> None:
    seen: list[tuple[int, int, str, str]] = []
    first = provision(service, progress=lambda *args: seen.append(args))
    assert "/etab-0341234A/direction/" in first.created and len(first.created) == 12
    assert seen[-1][:2] == (12, 12) and len(store.collections) == 12
    teacher = service.viewer("helene.lefevre", {ENSEIGNANTS, f"cn=personnels,{ETAB}"})
    assert service.level(teacher, "/etab-0341234A/enseignants/") is Level.READ
    head = service.viewer("x", {DIRECTION})
    assert service.level(head, "/etab-0341234A/enseignants/") is Level.READ_WRITE
    second = provision(service)
    assert second.created == [] and second.granted == [] and len(second.unchanged) == 12
