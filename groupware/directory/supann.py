# SPDX-License-Identifier: GPL-3.0-or-later
"""The synthetic académie as a SupAnn 2021 directory (RENATER's recommendations for French education), for
the ``supann`` preset's demo and tests.

The same people as :mod:`groupware.directory.generate` draws, written the SupAnn way: the UAI appears only as
``supannEtablissement: {UAI}0341234A`` — on people (``inetOrgPerson`` + ``eduPerson`` + ``supannPerson``), on
one entry per établissement under ``ou=structures`` (``organization`` + ``supannOrg`` + ``supannEntite``, its
name in ``o``, its entity code ``ETAB001``… in ``supannCodeEntite``) and on the établissements' groups
(``groupOfNames`` + ``supannOrg`` + ``supannGroupe``, ``cn=direction,ou=ETAB001,ou=groups,…``);
``supannEntiteAffectation`` holds the entity code, no ``departmentNumber``, no ``o`` on people. Some people
are on the red list (``supannListeRouge: TRUE``). Loading it needs ``config/supann.schema``.

``python -m groupware.directory.supann --demo --out config/demo-supann-directory.ldif`` rewrites the demo one;
``--staff N`` writes a large one.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence

from groupware.directory import schema
from groupware.directory.generate import (
    Establishment,
    Model,
    StaffMember,
    build_model,
    demo_model,
    ldif_line,
    memberships_of,
    salted_hasher,
)
from groupware.directory.population import ROLE_DESCRIPTIONS

__all__ = [
    "DEMO_RED_LIST",
    "STRUCTURES_DN",
    "demo_supann_directory",
    "entity_code",
    "group_dn",
    "main",
    "render_supann",
    "supann_directory",
]

STRUCTURES_DN = f"ou=structures,{schema.BASE_DN}"
#: The demo's people on the red list (one per établissement).
DEMO_RED_LIST = frozenset({"zoe.nguyen", "eric.vidal", "chloe.mas"})
_AFFILIATION = {"direction": "staff", "enseignants": "faculty", "administratifs": "staff", "admin": "staff"}


def entity_code(index: int) -> str:
    """The SupAnn entity code (``supannCodeEntite``) of the établissement at ``index`` (from 0)."""
    return f"ETAB{index + 1:03d}"


def group_dn(code: str, name: str) -> str:
    """The DN of group ``name`` (``personnels``, ``direction``…) of the établissement whose entity code is
    ``code``."""
    return f"cn={name},ou={code},{schema.GROUPS_DN}"


def _base_entries() -> str:
    branches = (schema.PEOPLE_DN, schema.GROUPS_DN, STRUCTURES_DN)
    return (
        f"dn: {schema.BASE_DN}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\n"
        f"dc: ac-montpellier\n{ldif_line('o', 'Académie de Montpellier')}\n"
        + "".join(
            f"dn: {dn}\nobjectClass: top\nobjectClass: organizationalUnit\nou: {dn[3 : dn.index(',')]}\n\n"
            for dn in branches
        )
    )


def _structure(etab: Establishment, code: str) -> str:
    """The établissement's entry under ``ou=structures`` (SupAnn: ``supannCodeEntite`` as its RDN)."""
    return (
        f"dn: supannCodeEntite={code},{STRUCTURES_DN}\nobjectClass: top\nobjectClass: organization\n"
        f"objectClass: supannOrg\nobjectClass: supannEntite\nsupannCodeEntite: {code}\n"
        f"supannEtablissement: {{UAI}}{etab.uai}\n{ldif_line('o', etab.name)}{ldif_line('l', etab.city)}\n"
    )


def _person(person: StaffMember, codes: dict[str, str], hashed: str, red: bool, comment: str) -> str:
    full = f"{person.given_name} {person.surname}"
    lines = [
        comment,
        f"dn: {schema.person_dn(person.uid)}\nobjectClass: top\nobjectClass: person\n"
        "objectClass: organizationalPerson\nobjectClass: inetOrgPerson\nobjectClass: eduPerson\n"
        f"objectClass: supannPerson\nuid: {person.uid}\n",
        ldif_line("cn", full),
        ldif_line("displayName", full),
        ldif_line("givenName", person.given_name),
        ldif_line("sn", person.surname),
        f"mail: {person.uid}@{schema.MAIL_DOMAIN}\ntelephoneNumber: {person.phone}\n",
        ldif_line("title", person.title),
        f"eduPersonAffiliation: {_AFFILIATION.get(person.role, 'staff')}\neduPersonAffiliation: member\n",
    ]
    lines += [f"supannEtablissement: {{UAI}}{uai}\n" for uai in person.establishments]
    lines += [f"supannEntiteAffectation: {codes[uai]}\n" for uai in person.establishments]
    lines.append(f"supannListeRouge: {'TRUE' if red else 'FALSE'}\n")
    status = schema.ACTIVE if person.active else schema.INACTIVE
    lines.append(f"employeeType: {status}\nuserPassword: {hashed}\n\n")
    return "".join(lines)


def _group(dn: str, cn: str, category: str, uai: str, description: str, members: Iterable[str]) -> str:
    head = f"dn: {dn}\nobjectClass: top\nobjectClass: groupOfNames\nobjectClass: supannGroupe\n"
    lines = [
        head + ("objectClass: supannOrg\n" if uai else ""),
        f"cn: {cn}\nbusinessCategory: {category}\n",
        f"supannEtablissement: {{UAI}}{uai}\n" if uai else "",
        ldif_line("description", description),
    ]
    lines += [f"member: {schema.person_dn(uid)}\n" for uid in members]
    return "".join(lines) + "\n"


def _etab_groups(etab: Establishment, code: str, members: dict[str, list[str]]) -> str:
    parts = [
        f"dn: ou={code},{schema.GROUPS_DN}\nobjectClass: top\nobjectClass: organizationalUnit\nou: {code}\n\n"
    ]
    of = f"de l'{etab.name}" if etab.name.startswith("École") else f"du {etab.name}"
    for name in (schema.ETAB_GROUP, *schema.ROLE_GROUPS):
        if members.get(name):
            category = schema.CATEGORY_ETAB if name == schema.ETAB_GROUP else schema.CATEGORY_ROLE
            description = f"{ROLE_DESCRIPTIONS[name]} {of}"
            dn = group_dn(code, name)
            parts.append(_group(dn, name, category, etab.uai, description, members[name]))
    return "".join(parts)


def render_supann(
    model: Model,
    password_of: Callable[[StaffMember], str],
    hasher: Callable[[str], str],
    red_list: frozenset[str],
    header: str = "",
    comments: bool = False,
) -> Iterator[str]:
    """Yield the SupAnn LDIF of ``model``: base entries, structures, people, groups, parents first."""
    names = {etab.uai: etab.name for etab in model.establishments}
    codes = {etab.uai: entity_code(index) for index, etab in enumerate(model.establishments)}
    yield header + _base_entries()
    yield "".join(_structure(etab, codes[etab.uai]) for etab in model.establishments)
    for person in [*model.admins, *model.staff]:
        red = person.uid in red_list
        where = ", ".join(f"{names[u]} ({u})" for u in person.establishments) or "Rectorat"
        notes = ("" if person.active else ", compte désactivé") + (", liste rouge" if red else "")
        comment = (
            f"# {person.given_name} {person.surname}, {person.title}, {where}{notes}\n" if comments else ""
        )
        yield _person(person, codes, hasher(password_of(person)), red, comment)
    memberships = memberships_of(model)
    yield "".join(_etab_groups(etab, codes[etab.uai], memberships[etab.uai]) for etab in model.establishments)
    admins = [a.uid for a in model.admins]
    description = "Administrateurs de la plateforme groupware"
    yield _group(schema.ADMIN_GROUP_DN, "groupware-admins", schema.CATEGORY_ADMIN, "", description, admins)


def demo_supann_directory(seed: int = 1) -> Iterator[str]:
    """The demo académie (the same people and passwords as ``config/demo-directory.ldif``), SupAnn style,
    :data:`DEMO_RED_LIST` on the red list."""
    model = demo_model(seed)
    header = [
        "SupAnn demo directory of groupware: the demo's 3 établissements, 23 staff, administrator, with the",
        "UAI only in supannEtablissement ({UAI}…); on the red list: "
        + ", ".join(sorted(DEMO_RED_LIST))
        + ".",
        "Written by: python -m groupware.directory.supann --demo --out config/demo-supann-directory.ldif",
        "Needs config/supann.schema. Every password is <uid>-demo, except the administrator's (admin-demo).",
        "",
    ]
    text = "".join(f"# {line}".rstrip() + "\n" for line in header)
    return render_supann(model, lambda p: p.password, salted_hasher(seed), DEMO_RED_LIST, text, comments=True)


def supann_directory(
    staff: int, seed: int = 1, password: str | None = None, red: float = 0.02
) -> Iterator[str]:
    """A synthetic SupAnn académie of ``staff`` people, a share ``red`` of them on the red list."""
    model = build_model(staff, seed)
    rng = random.Random(f"red-{seed}")
    red_list = frozenset(p.uid for p in model.staff if rng.random() < red)
    header = f"# Synthetic SupAnn académie: {staff} staff, seed {seed}, {len(red_list)} on the red list.\n#\n"
    return render_supann(
        model,
        (lambda p: password) if password is not None else (lambda p: f"{p.uid}-pw"),
        salted_hasher(seed, password),
        red_list,
        header,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write the SupAnn demo directory or a synthetic one."""
    parser = argparse.ArgumentParser(prog="python -m groupware.directory.supann", description=__doc__)
    parser.add_argument("--staff", type=int, default=1000, help="number of people (default 1000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--password", help="one password for everyone (default: <uid>-pw)")
    parser.add_argument("--demo", action="store_true", help="write the SupAnn demo directory instead")
    parser.add_argument("--out", required=True, help="output file ('-' for standard output)")
    args = parser.parse_args(argv)
    chunks = (
        demo_supann_directory(args.seed)
        if args.demo
        else supann_directory(args.staff, args.seed, args.password)
    )
    if args.out == "-":
        for chunk in chunks:
            sys.stdout.write(chunk)
        return 0
    with open(args.out, "w", encoding="utf-8", newline="\n") as out:
        out.writelines(chunks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
