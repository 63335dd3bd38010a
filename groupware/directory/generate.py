# SPDX-License-Identifier: GPL-3.0-or-later
"""A synthetic académie directory as LDIF (RFC 2849), for demos, trials and benchmarks.

The output follows :mod:`groupware.directory.schema`: base entries, then people (``inetOrgPerson``), then one
group branch per établissement (``personnels`` and the role groups ``direction``, ``enseignants``,
``administratifs``), then ``groupware-admins``. Parents always come before their children, so ``slapadd -q``
loads the file as is. The output is a function of the arguments alone (salts come from the seed), and it is
streamed: 52,000 staff take a couple of seconds.

``python -m groupware.directory.generate --staff 52000 --out staff.ldif`` writes one;
``python -m groupware.directory.generate --demo --out config/demo-directory.ldif`` rewrites the demo one.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import random
import re
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from groupware.directory import schema
from groupware.directory.population import (
    CITIES,
    DEPARTEMENT_WEIGHTS,
    FEMALE,
    FEMININE,
    KINDS,
    MALE,
    PATRONS,
    PHONE_PREFIX,
    ROLE_DESCRIPTIONS,
    SURNAMES,
    UAI_LETTERS,
)

__all__ = [
    "Establishment",
    "Model",
    "StaffMember",
    "build_model",
    "demo_directory",
    "demo_model",
    "generate_directory",
    "ldif_line",
    "main",
    "make_uid",
    "memberships_of",
    "uai_checksum",
    "write_directory",
]

Progress = Callable[[int, int], None]


# --- the model -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Establishment:
    """An établissement: its UAI code, name ("Collège Jean Moulin"), city and département code."""

    uai: str
    name: str
    city: str
    departement: str


@dataclass
class StaffMember:
    """A person of the directory; ``role`` is a role group name, ``establishments`` a tuple of UAI codes."""

    uid: str
    given_name: str
    surname: str
    title: str
    role: str
    establishments: tuple[str, ...]
    phone: str
    active: bool = True
    password: str = ""


@dataclass
class Model:
    """Everything the LDIF shows: établissements, staff (in output order) and the administrators."""

    establishments: list[Establishment]
    staff: list[StaffMember]
    admins: list[StaffMember]


def uai_checksum(seven_digits: str) -> str:
    """The control letter of a UAI code: the seven digits modulo 23, in ``ABCDEFGHJKLMNPRSTUVWXYZ``."""
    return UAI_LETTERS[int(seven_digits) % 23]


def _ascii_slug(text: str) -> str:
    """Lower-case ASCII of a name part: accents dropped, ligatures spelt out, blanks and quotes as ``-``."""
    text = text.replace("œ", "oe").replace("Œ", "Oe").replace("æ", "ae").replace("Æ", "Ae").replace("ß", "ss")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9]+", "-", text)).strip("-")


def make_uid(given_name: str, surname: str, taken: dict[str, int]) -> str:
    """``prenom.nom`` in ASCII lower case; the second of a name is ``prenom.nom2``, … (``taken`` counts)."""
    base = f"{_ascii_slug(given_name)}.{_ascii_slug(surname)}"
    count = taken.get(base, 0) + 1
    taken[base] = count
    return base if count == 1 else f"{base}{count}"


def feminine(title: str) -> str:
    """The feminine form of a function title ("Principal adjoint" -> "Principale adjointe")."""
    for pattern, replacement in FEMININE:
        title = pattern.sub(replacement, title)
    return title


def _phone(rng: random.Random, departement: str) -> str:
    digits = rng.randrange(1_000_000)
    return (
        f"+33 4 {PHONE_PREFIX[departement]} {digits // 10000:02d} {digits // 100 % 100:02d} "
        f"{digits % 100:02d}"
    )


def _establishments(rng: random.Random, count: int) -> tuple[list[Establishment], list[str]]:
    """Draw ``count`` établissements over the five départements; return them with their kinds."""
    codes = list(DEPARTEMENT_WEIGHTS)
    drawn = rng.choices(codes, weights=list(DEPARTEMENT_WEIGHTS.values()), k=count)
    numbers = {code: iter(rng.sample(range(10000), drawn.count(code))) for code in codes}
    kinds = rng.choices(list(KINDS), weights=[k[0] for k in KINDS.values()], k=count)
    result = []
    for departement, kind in zip(drawn, kinds, strict=False):
        digits = f"{departement}{next(numbers[departement]):04d}"
        name = f"{kind} {rng.choice(PATRONS)}"
        result.append(
            Establishment(digits + uai_checksum(digits), name, rng.choice(CITIES[departement]), departement)
        )
    return result, kinds


def _sizes(rng: random.Random, staff: int, kinds: Sequence[str]) -> list[int]:
    """How many people each établissement gets: at least three when possible, the rest by kind weight."""
    floor = min(3, staff // len(kinds))
    sizes = [floor] * len(kinds)
    weights = [KINDS[kind][1] for kind in kinds]
    for index in rng.choices(range(len(kinds)), weights=weights, k=staff - floor * len(kinds)):
        sizes[index] += 1
    return sizes


def _roles(size: int, kind: str) -> list[str]:
    """The role of each member of an établissement of ``size`` people: direction first, then the others."""
    direction = min(1 if kind == "École" else 1 + (size >= 15) + (size >= 40), size)
    if kind == "École":
        administratifs = 1 if size >= 8 else 0
    else:
        administratifs = max(1, round(size * 0.1)) if size - direction >= 2 else 0
    teachers = size - direction - administratifs
    return ["direction"] * direction + ["enseignants"] * teachers + ["administratifs"] * administratifs


def _person(
    rng: random.Random, taken: dict[str, int], etab: Establishment, kind: str, role: str, rank: int
) -> StaffMember:
    """One member of staff of ``etab`` with ``role``; ``rank`` is the person's index within the role."""
    female = rng.random() < 0.6
    given = rng.choice(FEMALE if female else MALE)
    surname = rng.choice(SURNAMES)
    _share, _weight, direction, teaching, admin = KINDS[kind]
    titles = {"direction": direction, "enseignants": teaching, "administratifs": admin}[role]
    title = titles[min(rank, len(titles) - 1)] if role == "direction" else rng.choice(titles)
    return StaffMember(
        make_uid(given, surname, taken),
        given,
        surname,
        feminine(title) if female else title,
        role,
        (etab.uai,),
        _phone(rng, etab.departement),
    )


def _share_some(rng: random.Random, model: Model, count: int) -> None:
    """Give ``count`` teachers a second établissement of the same département (a "service partagé")."""
    by_departement: dict[str, list[str]] = {}
    for etab in model.establishments:
        by_departement.setdefault(etab.departement, []).append(etab.uai)
    departement_of = {etab.uai: etab.departement for etab in model.establishments}
    teachers = [p for p in model.staff if p.role == "enseignants"]
    for person in rng.sample(teachers, min(count, len(teachers))):
        first = person.establishments[0]
        choices = [uai for uai in by_departement[departement_of[first]] if uai != first]
        if choices:
            person.establishments = (person.establishments[0], rng.choice(choices))


def build_model(staff: int, seed: int = 1, establishments: int | None = None) -> Model:
    """Draw a whole académie of ``staff`` people (about 20 per établissement unless ``establishments``)."""
    if staff < 1:
        raise ValueError("staff must be at least 1")
    rng = random.Random(seed)
    count = max(1, min(establishments or round(staff / 20), staff))
    etabs, kinds = _establishments(rng, count)
    taken: dict[str, int] = {schema.ADMIN_UID: 1}
    people: list[StaffMember] = []
    for etab, kind, size in zip(etabs, kinds, _sizes(rng, staff, kinds), strict=False):
        ranks: dict[str, int] = {}
        for role in _roles(size, kind):
            people.append(_person(rng, taken, etab, kind, role, ranks.get(role, 0)))
            ranks[role] = ranks.get(role, 0) + 1
    model = Model(etabs, people, [_admin(rng)])
    _share_some(rng, model, max(1, round(staff * 0.003)) if staff >= 50 and count >= 2 else 0)
    for person in rng.sample(people, round(staff * 0.01)):
        person.active = False
    return model


def _admin(rng: random.Random, password: str = "") -> StaffMember:
    return StaffMember(
        schema.ADMIN_UID,
        "Admin",
        "Groupware",
        "Administrateur de la plateforme groupware",
        "admin",
        (),
        _phone(rng, "034"),
        password=password,
    )


# --- LDIF rendering --------------------------------------------------------------------------------------


def ldif_line(attribute: str, value: str) -> str:
    """``attribute: value``, or ``attribute:: base64`` when the value is not a SAFE-STRING (RFC 2849)."""
    safe = value.isascii() and value.isprintable()
    if safe and not value.startswith((" ", ":", "<")) and not value.endswith(" "):
        return f"{attribute}: {value}\n"
    return f"{attribute}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}\n"


def _ssha(password: str, salt: bytes) -> str:
    digest = hashlib.sha1(password.encode("utf-8") + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode("ascii")


def _base_entries() -> str:
    return (
        f"dn: {schema.BASE_DN}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\n"
        f"dc: ac-montpellier\n{ldif_line('o', 'Académie de Montpellier')}\n"
        + "".join(
            f"dn: {dn}\nobjectClass: top\nobjectClass: organizationalUnit\nou: {dn[3 : dn.index(',')]}\n\n"
            for dn in (schema.PEOPLE_DN, schema.GROUPS_DN)
        )
    )


def _person_entry(person: StaffMember, names: dict[str, str], hashed: str, comment: bool) -> str:
    """The LDIF record of one person, with ``hashed`` as its ``userPassword``."""
    full = f"{person.given_name} {person.surname}"
    where = "".join(f", {names[u]} ({u})" for u in person.establishments)
    status = "" if person.active else ", compte désactivé"
    lines = [
        f"# {full}, {person.title}{where}{status}\n" if comment else "",
        (
            f"dn: {schema.person_dn(person.uid)}\nobjectClass: top\nobjectClass: person\n"
            f"objectClass: organizationalPerson\nobjectClass: inetOrgPerson\nuid: {person.uid}\n"
        ),
        ldif_line("cn", full),
        ldif_line("displayName", full),
        ldif_line("givenName", person.given_name),
        ldif_line("sn", person.surname),
        f"mail: {person.uid}@{schema.MAIL_DOMAIN}\n",
        f"telephoneNumber: {person.phone}\n",
        ldif_line("title", person.title),
    ]
    lines += [f"departmentNumber: {uai}\n" for uai in person.establishments]
    lines += [ldif_line("o", names[uai]) for uai in person.establishments]
    if person.role == "admin":
        lines.append(ldif_line("o", "Rectorat de l'académie de Montpellier"))
    lines.append(
        f"employeeType: {schema.ACTIVE if person.active else schema.INACTIVE}\nuserPassword: {hashed}\n\n"
    )
    return "".join(lines)


def _of(name: str) -> str:
    """French "of the": "du Collège …", "de l'École …"."""
    return f"de l'{name}" if name.startswith(("École", "Ecole")) else f"du {name}"


def _group_entry(dn: str, cn: str, category: str, uai: str, description: str, members: Iterable[str]) -> str:
    lines = [
        f"dn: {dn}\nobjectClass: top\nobjectClass: groupOfNames\ncn: {cn}\nbusinessCategory: {category}\n",
        f"ou: {uai}\n" if uai else "",
        ldif_line("description", description),
    ]
    lines += [f"member: {schema.person_dn(uid)}\n" for uid in members]
    return "".join(lines) + "\n"


def _etab_groups(etab: Establishment, members: dict[str, list[str]], comment: bool = False) -> str:
    """The branch ``ou=etab-<UAI>`` and its non-empty groups (``members``: group name -> uids)."""
    parts = [
        f"# {etab.name}, {etab.city} ({etab.uai}): personnels and role groups\n" if comment else "",
        (
            f"dn: {schema.etab_dn(etab.uai)}\nobjectClass: top\nobjectClass: organizationalUnit\n"
            f"ou: etab-{etab.uai}\n{ldif_line('description', etab.name)}\n"
        ),
    ]
    for name in (schema.ETAB_GROUP, *schema.ROLE_GROUPS):
        if members.get(name):
            category = schema.CATEGORY_ETAB if name == schema.ETAB_GROUP else schema.CATEGORY_ROLE
            description = f"{ROLE_DESCRIPTIONS[name]} {_of(etab.name)}"
            parts.append(
                _group_entry(
                    schema.group_dn(etab.uai, name), name, category, etab.uai, description, members[name]
                )
            )
    return "".join(parts)


def memberships_of(model: Model) -> dict[str, dict[str, list[str]]]:
    """UAI -> group name -> member uids, in staff order."""
    groups: dict[str, dict[str, list[str]]] = {etab.uai: {} for etab in model.establishments}
    for person in model.staff:
        for uai in person.establishments:
            groups[uai].setdefault(schema.ETAB_GROUP, []).append(person.uid)
            groups[uai].setdefault(person.role, []).append(person.uid)
    return groups


def salted_hasher(seed: int, password: str | None = None) -> Callable[[str], str]:
    """Clear text -> ``{SSHA}``, salts drawn from ``seed``; one hash only when all share ``password``."""
    salts = random.Random(f"salts-{seed}")
    if password is not None:
        shared = _ssha(password, salts.randbytes(8))
        return lambda _clear: shared
    return lambda clear: _ssha(clear, salts.randbytes(8))


def render(
    model: Model,
    password_of: Callable[[StaffMember], str],
    hasher: Callable[[str], str],
    header: str = "",
    comments: bool = False,
    progress: Progress | None = None,
    batch: int = 1000,
) -> Iterator[str]:
    """Yield the LDIF of ``model`` in chunks; ``password_of`` gives each clear text, ``hasher`` hashes it."""
    names = {etab.uai: etab.name for etab in model.establishments}
    yield f"{header}{_base_entries()}"
    people = [*model.admins, *model.staff]
    for start in range(0, len(people), batch):
        yield "".join(
            _person_entry(person, names, hasher(password_of(person)), comments)
            for person in people[start : start + batch]
        )
        if progress:
            progress(min(start + batch, len(people)), len(people))
    memberships = memberships_of(model)
    for start in range(0, len(model.establishments), batch):
        yield "".join(
            _etab_groups(etab, memberships[etab.uai], comments)
            for etab in model.establishments[start : start + batch]
        )
    yield _group_entry(
        schema.ADMIN_GROUP_DN,
        "groupware-admins",
        schema.CATEGORY_ADMIN,
        "",
        "Administrateurs de la plateforme groupware",
        [a.uid for a in model.admins],
    )


def generate_directory(
    staff: int,
    seed: int = 1,
    password: str | None = None,
    establishments: int | None = None,
    progress: Progress | None = None,
) -> Iterator[str]:
    """Yield the LDIF of a synthetic académie of ``staff`` people, in chunks.

    Args:
        staff: number of people, the administrator ``admin.groupware`` not counted.
        seed: the same seed gives the same bytes.
        password: everyone's password; by default each person's is ``<uid>-pw``.
        establishments: number of établissements; by default one per 20 people.
        progress: called with (people written, people in all) after each batch.
    """
    model = build_model(staff, seed, establishments)
    header = (
        f"# Synthetic académie directory (groupware.directory.generate): {staff} staff, "
        f"{len(model.establishments)} établissements, seed {seed}.\n"
        f"# Passwords: {'everyone: ' + password if password is not None else '<uid>-pw'}; "
        f"administrator: {schema.ADMIN_UID}.\n#\n"
    )
    return render(
        model,
        (lambda p: password) if password is not None else (lambda p: f"{p.uid}-pw"),
        salted_hasher(seed, password),
        header=header,
        progress=progress,
    )


# --- the demo directory ----------------------------------------------------------------------------------

DEMO_ESTABLISHMENTS = [
    Establishment("0341234A", "Collège Jean Moulin", "Montpellier", "034"),
    Establishment("0300567B", "Lycée Alphonse Daudet", "Nîmes", "030"),
    Establishment("0110089C", "École Jules Ferry", "Carcassonne", "011"),
]
# given name, surname, title, role group, établissements, active
DEMO_STAFF: list[tuple[str, str, str, str, tuple[str, ...], bool]] = [
    ("François", "Müller", "Principal", "direction", ("0341234A",), True),
    ("Nathalie", "Roux", "Principale adjointe", "direction", ("0341234A",), True),
    ("Hélène", "Lefèvre", "Professeure de mathématiques", "enseignants", ("0341234A",), True),
    ("Marie", "Martin", "Professeure de lettres modernes", "enseignants", ("0341234A",), True),
    ("Jérôme", "Barthélemy", "Professeur d'histoire-géographie", "enseignants", ("0341234A",), True),
    ("Zoé", "Nguyen", "Professeure d'anglais", "enseignants", ("0341234A",), True),
    ("Noël", "Garnier", "Professeur d'éducation physique et sportive", "enseignants", ("0341234A",), True),
    ("Anaïs", "Bérard", "Professeure de physique-chimie", "enseignants", ("0341234A", "0300567B"), True),
    ("Paul", "Durand", "Professeur de technologie", "enseignants", ("0341234A",), False),
    ("Cécile", "Fabre", "Secrétaire de direction", "administratifs", ("0341234A",), True),
    ("Stéphane", "Chabert", "Proviseur", "direction", ("0300567B",), True),
    ("Géraldine", "Poulain", "Proviseure adjointe", "direction", ("0300567B",), True),
    ("Marie", "Martin", "Professeure de philosophie", "enseignants", ("0300567B",), True),
    ("Loïc", "Le Goff", "Professeur de sciences économiques et sociales", "enseignants", ("0300567B",), True),
    (
        "Thérèse",
        "Aubert",
        "Professeure de sciences de la vie et de la Terre",
        "enseignants",
        ("0300567B",),
        True,
    ),
    ("Raphaël", "Benoît", "Professeur d'espagnol", "enseignants", ("0300567B",), True),
    ("Éric", "Vidal", "Professeur documentaliste", "enseignants", ("0300567B",), True),
    ("Maëlle", "Guérin", "Gestionnaire", "administratifs", ("0300567B",), True),
    ("Agnès", "Pagès", "Directrice d'école", "direction", ("0110089C",), True),
    ("Frédéric", "Sabatier", "Professeur des écoles", "enseignants", ("0110089C",), True),
    ("Chloé", "Mas", "Professeure des écoles", "enseignants", ("0110089C",), True),
    ("Joël", "Rouquette", "Professeur des écoles", "enseignants", ("0110089C",), True),
    ("Élodie", "Cros", "Adjointe administrative", "administratifs", ("0110089C",), True),
]
DEMO_ADMIN_PASSWORD = "admin-demo"


def demo_model(seed: int = 1) -> Model:
    """The demo académie: three établissements, 23 staff (one disabled, one in two), the administrator."""
    rng = random.Random(seed)
    taken: dict[str, int] = {schema.ADMIN_UID: 1}
    departements = {etab.uai: etab.departement for etab in DEMO_ESTABLISHMENTS}
    staff = [
        StaffMember(
            make_uid(given, surname, taken),
            given,
            surname,
            title,
            role,
            etabs,
            _phone(rng, departements[etabs[0]]),
            active,
            password="",
        )
        for given, surname, title, role, etabs, active in DEMO_STAFF
    ]
    for person in staff:
        person.password = f"{person.uid}-demo"
    return Model(list(DEMO_ESTABLISHMENTS), staff, [_admin(rng, DEMO_ADMIN_PASSWORD)])


def demo_table(model: Model) -> list[str]:
    """The demo accounts as Markdown table rows: uid, name, role, établissement(s), password."""
    names = {etab.uai: etab.name for etab in model.establishments}
    rows = ["| uid | name | role | établissement | password |", "|---|---|---|---|---|"]
    for person in [*model.admins, *model.staff]:
        role = "groupware-admins" if person.role == "admin" else f"{person.role} ({person.title})"
        if not person.active:
            role += ", **disabled** (inactif)"
        etabs = ", ".join(f"{names[u]} ({u})" for u in person.establishments) or "Rectorat"
        rows.append(
            f"| {person.uid} | {person.given_name} {person.surname} | {role} | {etabs} | {person.password} |"
        )
    return rows


def demo_directory(seed: int = 1) -> Iterator[str]:
    """Yield the LDIF of the demo directory (``config/demo-directory.ldif``)."""
    model = demo_model(seed)
    header = [
        "Demo directory of groupware: 3 établissements, 23 staff, one administrator.",
        "Written by: python -m groupware.directory.generate --demo --out config/demo-directory.ldif",
        "Every password is <uid>-demo, except the administrator's (admin-demo). Non-ASCII values",
        "(names, titles) are base64 (RFC 2849 '::'); the comment above each person spells them out.",
        "",
        *demo_table(model),
        "",
    ]
    text = "".join(f"# {line}".rstrip() + "\n" for line in header)
    return render(model, lambda p: p.password, salted_hasher(seed), header=text, comments=True)


# --- files and command line ------------------------------------------------------------------------------


def write_directory(
    path: str | Path,
    staff: int,
    seed: int = 1,
    password: str | None = None,
    establishments: int | None = None,
    progress: Progress | None = None,
) -> int:
    """Write a synthetic directory to ``path`` (see :func:`generate_directory`); return the bytes written."""
    return _write(path, generate_directory(staff, seed, password, establishments, progress))


def _write(path: str | Path, chunks: Iterable[str]) -> int:
    size = 0
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for chunk in chunks:
            size += out.write(chunk)
    return size


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m groupware.directory.generate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--staff", type=int, default=52000, help="number of people (default 52000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--password", help="one password for everyone (default: <uid>-pw)")
    parser.add_argument("--establishments", type=int, help="number of établissements (default staff/20)")
    parser.add_argument("--demo", action="store_true", help="write the demo directory instead")
    parser.add_argument("--out", required=True, help="output file ('-' for standard output)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write a directory and report progress on standard error."""
    args = _parser().parse_args(argv)
    started = time.monotonic()

    bar = tqdm(total=args.staff, desc="people", file=sys.stderr, ncols=110, ascii=True, disable=args.demo)
    with bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        chunks = (
            demo_directory(args.seed)
            if args.demo
            else generate_directory(args.staff, args.seed, args.password, args.establishments, progress)
        )
        size = (
            sum(sys.stdout.write(chunk) for chunk in chunks) if args.out == "-" else _write(args.out, chunks)
        )
    print(f"wrote {size:,} characters to {args.out} in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
