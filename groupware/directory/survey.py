# SPDX-License-Identifier: GPL-3.0-or-later
"""What the product sees of a directory through ``[directory]``, and what would leave something empty.

:func:`survey` reads everyone (disabled and red-listed people too, flagged), the groups and the établissement
entries once and counts them (``groupware directory test``); :func:`book_warnings` and
:func:`provision_warnings` say, in words that name the ``[directory]`` keys to check, why an address book or
the provisioning of shared agendas would be empty. ``groupware addressbooks sync`` and ``groupware agenda
provision`` print the same warnings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from groupware.config import DirectoryConfig
from groupware.directory import Directory, Establishment, Group, Person

__all__ = ["Survey", "book_warnings", "establishments_of", "provision_warnings", "survey"]


@dataclass
class Survey:
    """Counts and samples of one read of the directory."""

    people: int = 0
    disabled: int = 0
    red_listed: int = 0
    without_mail: int = 0
    without_establishment: int = 0
    listed: list[Person] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    establishments: list[Establishment] = field(default_factory=list)
    entries: int = 0  # établissement entries found by establishment_filter
    warnings: list[str] = field(default_factory=list)

    @property
    def person(self) -> Person | None:
        """A person to show in full: the first listed one with an établissement, else the first listed."""
        return next((p for p in self.listed if p.establishments), self.listed[0] if self.listed else None)

    @property
    def establishment(self) -> Establishment | None:
        """An établissement to show in full: the first one with people."""
        return self.establishments[0] if self.establishments else None


def _setting(config: DirectoryConfig | None, *keys: str) -> str:
    if config is None:
        return ", ".join(keys)
    shown = []
    for key in keys:
        value = getattr(config, key)
        if hasattr(value, "pattern"):
            value = value.pattern
        elif isinstance(value, tuple):
            value = " ".join(value)
        shown.append(f"{key} = {value or '(empty)'}")
    return "; ".join(shown)


def establishments_of(people: Iterable[Person], entries: Sequence[Establishment] = ()) -> list[Establishment]:
    """The établissements people belong to, sorted by UAI: from the entries when there are, else named by
    the people's organizations (the ``inetorgperson`` way), the département from the UAI."""
    known = {e.uai: e for e in entries}
    found: dict[str, Establishment] = {}
    for person in people:
        for index, uai in enumerate(person.establishments):
            if uai in found:
                continue
            name = person.organizations[index] if index < len(person.organizations) else uai
            found[uai] = known.get(uai) or Establishment(uai, name, uai[:3])
    return [found[uai] for uai in sorted(found)]


def book_warnings(
    people: Sequence[Person], groups: Sequence[Group], config: DirectoryConfig | None = None
) -> list[str]:
    """Why books would be empty or unread, for the listed, enabled ``people`` and the ``groups``."""
    if not people:
        return [
            "no person to list (none found, or all disabled or on the red list): every address book will be"
            f" empty; check {_setting(config, 'user_filter', 'disabled_filter', 'red_list_filter')}"
        ]
    warnings = []
    with_uai = {uai for person in people for uai in person.establishments}
    if not with_uai:
        keys = _setting(config, "establishment_attributes", "establishment_pattern")
        warnings.append(
            "no person has an établissement: only the académie book will be built, no établissement or"
            f" département book; check {keys}"
        )
    group_uais = {group.establishment for group in groups if group.establishment}
    unread = sorted(with_uai - group_uais)
    if with_uai and unread:
        shown = ", ".join(unread[:5]) + (" …" if len(unread) > 5 else "")
        warnings.append(
            f"{len(unread)} établissement book(s) will have no reader, no group belonging to them ({shown});"
            f" check {_setting(config, 'group_establishment_attribute', 'group_establishment_pattern')}"
        )
    if not any(person.mail for person in people):
        warnings.append(
            "no person has a mail address: the académie book will be readable by no one;"
            f" check {_setting(config, 'mail_attribute')}"
        )
    return warnings


def provision_warnings(groups: Sequence[Group], config: DirectoryConfig | None = None) -> list[str]:
    """Why ``agenda provision`` would create nothing."""
    if not groups:
        return [f"no group found: provisioning creates nothing; check {_setting(config, 'group_filter')}"]
    if not any(group.establishment for group in groups):
        keys = _setting(config, "group_establishment_attribute", "group_establishment_pattern")
        return [
            f"none of the {len(groups)} groups belongs to an établissement: provisioning creates nothing;"
            f" check {keys}"
        ]
    return []


def _entry_warnings(config: DirectoryConfig, entries: Sequence[Establishment], uais: set[str]) -> list[str]:
    if not config.establishment_filter:
        return []
    keys = _setting(
        config, "establishment_filter", "establishment_uai_attribute", "establishment_uai_pattern"
    )
    if not entries:
        return [f"no établissement entry found: établissements are named by their UAI; check {keys}"]
    missing = sorted(uais - {e.uai for e in entries})
    if missing:
        shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
        return [f"{len(missing)} UAI(s) of people have no établissement entry ({shown}); check {keys}"]
    return []


def survey(directory: Directory, config: DirectoryConfig) -> Survey:
    """Read everyone, the groups and the établissement entries once (past any cache); count, sample, warn."""
    directory = getattr(directory, "inner", directory)
    everyone_of = getattr(directory, "iter_everyone", None)
    everyone: list[Person] = list(everyone_of() if callable(everyone_of) else directory.iter_people())
    entries_of = getattr(directory, "iter_establishments", None)
    entries: list[Establishment] = list(entries_of()) if callable(entries_of) else []
    result = Survey(people=len(everyone), groups=list(directory.iter_groups()), entries=len(entries))
    result.disabled = sum(p.disabled for p in everyone)
    result.red_listed = sum(not p.listed for p in everyone)
    result.without_mail = sum(not p.mail for p in everyone)
    result.without_establishment = sum(not p.establishments for p in everyone)
    result.listed = [p for p in everyone if p.listed and not p.disabled]
    result.establishments = establishments_of(result.listed, entries)
    uais = {uai for person in result.listed for uai in person.establishments}
    result.warnings = [
        *book_warnings(result.listed, result.groups, config),
        *provision_warnings(result.groups, config),
        *_entry_warnings(config, entries, uais),
    ]
    return result
