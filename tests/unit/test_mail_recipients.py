# SPDX-License-Identifier: GPL-3.0-or-later
"""The delivery door's recipients: people of the directory by mail (with or without +detail) or by uid."""

from __future__ import annotations

import pytest
from support import DEMO_LDIF

from groupware.accounts import Accounts
from groupware.config import AccountsConfig, DirectoryConfig
from groupware.directory.ldif import LdifDirectory
from groupware.errors import DirectoryUnavailable
from groupware.runtime.mail import DirectoryRecipients
from groupware.sieve.host import LookupUnavailable, Recipient

HELENE = Recipient("helene.lefevre", ("helene.lefevre@ac-montpellier.fr",))


def recipients(principal: str = "uid") -> DirectoryRecipients:
    directory = LdifDirectory(
        DirectoryConfig(type="ldif", file=str(DEMO_LDIF), disabled_filter="(employeeType=inactif)")
    )
    return DirectoryRecipients(Accounts(directory, AccountsConfig(principal=principal)))


@pytest.mark.parametrize(
    "address",
    [
        "helene.lefevre@ac-montpellier.fr",
        "Helene.Lefevre@AC-Montpellier.fr",
        "helene.lefevre+projets@ac-montpellier.fr",
        "helene.lefevre",
        "helene.lefevre@ac-montpellier.fr ",
    ],
)
def test_people_by_mail_detail_or_uid(address: str) -> None:
    assert recipients().lookup(address) == HELENE


@pytest.mark.parametrize(
    "address",
    [
        "personne@ac-montpellier.fr",
        "paul.durand@ac-montpellier.fr",
        "paul.durand",
        "helene.lefevre@example.com",
        "",
    ],
)
def test_unknown_disabled_or_foreign_domain_are_none(address: str) -> None:
    assert recipients().lookup(address) is None


def test_home_named_by_mail_when_the_principal_is_the_mail() -> None:
    assert recipients("mail").lookup("helene.lefevre") == Recipient(HELENE.addresses[0], HELENE.addresses)


def test_directory_down_is_lookup_unavailable() -> None:
    class Down:
        def find_person(self, login: str) -> None:
            raise DirectoryUnavailable("no server answers")

    door = recipients()
    door.accounts.directory = Down()  # type: ignore[assignment]
    with pytest.raises(LookupUnavailable):
        door.lookup("helene.lefevre@ac-montpellier.fr")
