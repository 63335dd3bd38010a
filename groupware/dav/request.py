# SPDX-License-Identifier: GPL-3.0-or-later
"""What a responder in front of Radicale is given, and what it gives back.

A :class:`Responder` looks at one authenticated DAV request (after Radicale has resolved the user, their
groups and the path) and either answers it or returns ``None`` to let the next responder, and finally
Radicale, answer. A :class:`Rewriter` adjusts every XML document the application serializes (RFC 4918 §14.16
multistatus), e.g. to add what the directory knows of a principal.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any, Protocol

from radicale import types as radicale_types

__all__ = ["Answer", "DavRequest", "Finisher", "Responder", "Rewriter"]

#: Radicale's answer of a method handler: status, headers, body, and the parsed request for its debug log.
Answer = radicale_types.WSGIResponse


@dataclass(frozen=True)
class DavRequest:
    """One request as Radicale's method handlers receive it."""

    environ: radicale_types.WSGIEnviron
    base_prefix: str
    path: str
    user: str
    user_groups: set[str]
    request_info: dict[str, Any]

    @property
    def depth(self) -> str:
        """The ``Depth`` header (RFC 4918 §10.2), empty when absent."""
        return str(self.environ.get("HTTP_DEPTH", ""))


class Responder(Protocol):
    """Answers some requests of one method in front of Radicale."""

    def answer(self, request: DavRequest) -> Answer | None:
        """The answer, or None to hand the request on."""


class Rewriter(Protocol):
    """Adjusts an XML document before the application serializes it."""

    def rewrite(self, document: ET.Element, request_info: dict[str, Any]) -> None:
        """Change ``document`` in place."""


class Finisher(Protocol):
    """Adjusts the answer of one method, whoever gave it (a responder or Radicale)."""

    def __call__(self, request: DavRequest, answer: Answer) -> Answer:
        """The answer to send instead of ``answer``."""
