# SPDX-License-Identifier: GPL-3.0-or-later
"""People at the DAV edge: principal searches answered from the directory, principals enriched with it.

* :class:`PrincipalSearchResponder` answers RFC 3744 §9.4 ``DAV:principal-property-search`` and §9.5
  ``DAV:principal-search-property-set`` REPORTs (:mod:`groupware.dav.principal_search`), for authenticated
  users only;
* :class:`PrincipalRewriter` adds the person's ``mailto:`` address and name to principal responses
  (:mod:`groupware.dav.principals`); a directory outage leaves the answer valid without them.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from http import client
from typing import Any

from groupware.accounts import Accounts
from groupware.dav.body import parsed_body
from groupware.dav.principal_search import (
    PeopleIndex,
    is_principal_search,
    search_property_set,
    search_response,
)
from groupware.dav.principals import enrich_multistatus
from groupware.dav.request import Answer, DavRequest
from groupware.dav.upstream import Internals
from groupware.errors import DirectoryUnavailable

__all__ = ["PrincipalRewriter", "PrincipalSearchResponder"]

log = logging.getLogger("groupware.server")


class PrincipalSearchResponder:
    """REPORT responder for the two principal reports (RFC 3744 §9.4, §9.5), from the directory."""

    def __init__(self, people: PeopleIndex, internals: Internals) -> None:
        self.people = people
        self.internals = internals

    def answer(self, request: DavRequest) -> Answer | None:
        """The report's answer; ``401`` without a user; None for any other REPORT."""
        root = parsed_body(request.environ)
        if not is_principal_search(root):
            return None
        assert root is not None
        if not request.user:
            return client.UNAUTHORIZED, {"WWW-Authenticate": 'Basic realm="groupware"'}, b"", None
        if root.tag.endswith("principal-search-property-set"):
            status, document = client.OK, search_property_set()
        else:
            status, document = client.MULTI_STATUS, search_response(root, self.people, request.base_prefix)
        request.request_info["status"] = status
        body = self.internals.xml_response(document, request.request_info)
        return status, {"Content-Type": "text/xml; charset=utf-8"}, body, None


class PrincipalRewriter:
    """Principal responses carry the person's ``mailto:`` address and name from the directory."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts

    def rewrite(self, document: ET.Element, request_info: dict[str, Any]) -> None:
        """Enrich the principals of ``document`` for the root or a principal (cheap to look at)."""
        if str(request_info.get("path", "")).count("/") > 2:
            return
        try:
            enrich_multistatus(document, self.accounts.person)
        except DirectoryUnavailable as exc:  # the answer stays valid without the directory's extras
            log.warning("principal not enriched", extra={"event": "directory_down", "error": str(exc)})
