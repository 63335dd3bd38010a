# SPDX-License-Identifier: GPL-3.0-or-later
"""The fixed shape of the académie directory: DNs, mail domain, object classes and attribute names.

Shared by the synthetic generator, the private slapd runner and the demo configuration. People are
``inetOrgPerson`` entries (RFC 2798) under :data:`PEOPLE_DN`; groups are ``groupOfNames`` (RFC 4519 §3.5), one
branch ``ou=etab-<UAI>`` per établissement under :data:`GROUPS_DN`, identified by their full DN.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ACTIVE",
    "ADMIN_GROUP_DN",
    "ADMIN_UID",
    "BASE_DN",
    "DEPARTEMENTS",
    "ETAB_GROUP",
    "GROUPS_DN",
    "GROUP_CLASS",
    "INACTIVE",
    "MAIL_DOMAIN",
    "PEOPLE_DN",
    "PERSON_CLASSES",
    "ROLE_GROUPS",
    "ROOT_DN",
    "SERVICES_DN",
    "SERVICE_DN",
    "etab_dn",
    "group_dn",
    "person_dn",
]

BASE_DN: Final = "dc=ac-montpellier,dc=fr"
PEOPLE_DN: Final = f"ou=people,{BASE_DN}"
GROUPS_DN: Final = f"ou=groups,{BASE_DN}"
SERVICES_DN: Final = f"ou=services,{BASE_DN}"
SERVICE_DN: Final = f"cn=groupware,{SERVICES_DN}"
ROOT_DN: Final = f"cn=admin,{BASE_DN}"
MAIL_DOMAIN: Final = "ac-montpellier.fr"
ADMIN_GROUP_DN: Final = f"cn=groupware-admins,{GROUPS_DN}"
ADMIN_UID: Final = "admin.groupware"

PERSON_CLASSES: Final = ("top", "person", "organizationalPerson", "inetOrgPerson")
GROUP_CLASS: Final = "groupOfNames"

# Attribute names (LDAP is case-insensitive about them; these are the spellings we write).
UID: Final = "uid"
CN: Final = "cn"
DISPLAY_NAME: Final = "displayName"
GIVEN_NAME: Final = "givenName"
SURNAME: Final = "sn"
MAIL: Final = "mail"
PHONE: Final = "telephoneNumber"
TITLE: Final = "title"
ESTABLISHMENT: Final = "departmentNumber"  # UAI code(s), multi-valued
ORGANIZATION: Final = "o"  # établissement name(s)
STATUS: Final = "employeeType"  # ACTIVE or INACTIVE
PASSWORD: Final = "userPassword"
MEMBER: Final = "member"
MEMBER_OF: Final = "memberOf"
CATEGORY: Final = "businessCategory"  # "etablissement", "role" or "admin"
GROUP_ETAB: Final = "ou"  # the UAI a group belongs to
DESCRIPTION: Final = "description"

ACTIVE: Final = "actif"
INACTIVE: Final = "inactif"
DISABLED_FILTER: Final = f"({STATUS}={INACTIVE})"

ETAB_GROUP: Final = "personnels"
ROLE_GROUPS: Final = ("direction", "enseignants", "administratifs")
CATEGORY_ETAB: Final = "etablissement"
CATEGORY_ROLE: Final = "role"
CATEGORY_ADMIN: Final = "admin"

# The five départements of the académie de Montpellier: code -> name.
DEPARTEMENTS: Final = {
    "011": "Aude",
    "030": "Gard",
    "034": "Hérault",
    "048": "Lozère",
    "066": "Pyrénées-Orientales",
}


def person_dn(uid: str) -> str:
    """The DN of the person whose uid is ``uid``."""
    return f"uid={uid},{PEOPLE_DN}"


def etab_dn(uai: str) -> str:
    """The DN of the group branch of the établissement ``uai``."""
    return f"ou=etab-{uai},{GROUPS_DN}"


def group_dn(uai: str, name: str) -> str:
    """The DN of group ``name`` (``personnels``, ``direction``, …) of the établissement ``uai``."""
    return f"cn={name},{etab_dn(uai)}"
