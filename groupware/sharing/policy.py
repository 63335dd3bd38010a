# SPDX-License-Identifier: GPL-3.0-or-later
"""The site's sharing policy (``[sharing]`` section): the highest level a grant may give to each kind of
grantee.

The defaults follow what an académie usually wants: a person may be given anything up to manage, a directory
group up to read-write, a whole mail domain at most read (nobody may open an agenda for writing to the whole
académie). The policy bounds every grant, whoever makes it; it never lowers grants already made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from groupware.sharing.model import Grantee, GranteeKind, Level, PolicyViolation

__all__ = ["SharingPolicy"]


@dataclass(frozen=True)
class SharingPolicy:
    """Maximum level per grantee kind, and whether people may share their own calendars."""

    max_person: Level = Level.MANAGE
    max_group: Level = Level.READ_WRITE
    max_domain: Level = Level.READ
    people_may_share: bool = True

    @classmethod
    def from_options(cls, options: Mapping[str, str | bool]) -> SharingPolicy:
        """Build the policy from ``[sharing]`` options (``max_person_level`` … ``people_may_share``)."""
        default = cls()
        share = str(options.get("people_may_share", "true")).strip().lower() in ("1", "true", "yes", "on")
        return cls(
            Level.parse(str(options.get("max_person_level", default.max_person.label))),
            Level.parse(str(options.get("max_group_level", default.max_group.label))),
            Level.parse(str(options.get("max_domain_level", default.max_domain.label))),
            share,
        )

    def max_level(self, kind: GranteeKind) -> Level:
        """The highest level a grant to ``kind`` may give."""
        return {
            GranteeKind.PERSON: self.max_person,
            GranteeKind.GROUP: self.max_group,
            GranteeKind.DOMAIN: self.max_domain,
        }[kind]

    def check(self, grantee: Grantee, level: Level) -> None:
        """Refuse a grant above the policy.

        Raises:
            PolicyViolation: ``level`` exceeds the maximum for ``grantee``'s kind.
        """
        limit = self.max_level(grantee.kind)
        if level > limit:
            raise PolicyViolation(
                f"the sharing policy allows at most {limit.label} to a {grantee.kind.value} "
                f"({grantee}), not {level.label}"
            )
