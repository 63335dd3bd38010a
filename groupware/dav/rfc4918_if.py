# SPDX-License-Identifier: GPL-3.0-or-later
"""RFC 4918 §10.4: the ``If`` request header, evaluated on every method.

The header is a disjunction of lists of conditions; a list holds when all its conditions hold; a condition is
an entity tag in brackets, true when it is the resource's current tag (§10.4.4), or a state token (a lock
token, §10.4.2), which matches nothing on a server without locks; ``Not`` negates the next condition
(§10.4.3). Untagged lists apply to the request URI, tagged lists to the resource they name (§10.4.3). When
the whole header evaluates to false the request fails with ``412 Precondition Failed`` (§10.4.1), and a header
that does not follow the grammar of §10.4.2 is ``400``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Condition", "if_header_holds", "parse_if_header"]

_TOKEN = re.compile(r'\s*(<[^>]*>|\(|\)|\[(?:W/)?"[^"]*"\]|not\b)', re.IGNORECASE)


@dataclass(frozen=True)
class Condition:
    """One condition of a list: an entity tag (quoted) or a state token, maybe negated."""

    negated: bool
    etag: str | None
    state_token: str | None


#: (resource URL or None for the request URI, the conditions of one list)
IfList = tuple[str | None, list[Condition]]


def _tokens(header: str) -> list[str]:
    tokens, position = [], 0
    while position < len(header.rstrip()):
        found = _TOKEN.match(header, position)
        if found is None:
            raise ValueError(f"the If header is malformed at {header[position : position + 30]!r}")
        tokens.append(found.group(1))
        position = found.end()
    return tokens


def parse_if_header(header: str) -> list[IfList]:
    """The lists of an ``If`` header (§10.4.2); raises ValueError when it does not follow the grammar."""
    lists: list[IfList] = []
    resource: str | None = None
    current: list[Condition] | None = None
    negated = False
    for token in _tokens(header):
        lower = token.lower()
        if current is None:
            if token.startswith("<"):
                resource = token[1:-1]
            elif token == "(":
                current = []
            else:
                raise ValueError(f"the If header has {token!r} outside a list")
        elif token == ")":
            if not current or negated:
                raise ValueError("the If header has an empty list")
            lists.append((resource, current))
            current = None
        elif lower == "not":
            negated = True
        elif token.startswith(("<", "[")):
            etag = token[1:-1] if token.startswith("[") else None
            current.append(Condition(negated, etag, token[1:-1] if etag is None else None))
            negated = False
        else:
            raise ValueError(f"the If header has {token!r} inside a list")
    if current is not None or not lists:
        raise ValueError("the If header has no complete list")
    return lists


def if_header_holds(header: str, etag_of: Callable[[str | None], str | None]) -> bool:
    """Whether the ``If`` header holds, ``etag_of`` giving the current tag of a resource (None: the request
    URI) or None when it does not exist. Raises ValueError for a malformed header."""
    tags: dict[str | None, str | None] = {}
    for resource, conditions in parse_if_header(header):
        if resource not in tags:
            tags[resource] = etag_of(resource)
        current = tags[resource]
        if all(_holds(condition, current) for condition in conditions):
            return True
    return False


def _holds(condition: Condition, current: str | None) -> bool:
    # No lock is ever held: no state token matches (DAV:no-lock included).
    found = condition.etag is not None and current is not None and condition.etag == current
    return found != condition.negated
