# SPDX-License-Identifier: GPL-3.0-or-later
"""RFC 6578 (WebDAV collection synchronization) where Radicale's answers differ from the RFC.

* §3.2: :class:`SyncCollectionResponder` answers a ``DAV:sync-collection`` REPORT with ``Depth: infinity``
  ``400``, and one on an item (not a collection) ``403`` with ``DAV:supported-report`` (RFC 3253 §3.6).
  ``Depth: 1`` is served as ``Depth: 0``, as Radicale always did: RFC 6578 §3.2 asks for ``Depth: 0``, but
  Thunderbird's address-book and calendar syncs and python caldav send ``Depth: 1`` and would stop syncing.
* §3.6, §3.7: ``DAV:limit`` is honoured by truncation, with a token that continues
  (:mod:`groupware.dav.rfc6578_limit`); a limit that is not a positive integer is ``400``.
* §4: ``DAV:sync-token`` is a protected property (:data:`groupware.dav.rfc4918.PROTECTED`).
* §3.2, kept different on purpose: an unknown sync token answers ``400`` with ``DAV:valid-sync-token``, not
  ``403`` (:meth:`groupware.dav.app.GroupwareApplication.do_REPORT`): Thunderbird starts over only on 400.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from http import client

from groupware.dav.body import parsed_body
from groupware.dav.request import Answer, DavRequest
from groupware.dav.rfc4918 import DAV, error_answer, located
from groupware.dav.upstream import Internals

__all__ = ["SyncCollectionResponder", "result_limit"]

_SYNC = DAV + "sync-collection"


def _is_sync(root: ET.Element | None) -> bool:
    return root is not None and root.tag == _SYNC


def result_limit(root: ET.Element) -> int | None:
    """``DAV:limit/DAV:nresults`` of a sync-collection (§3.7), None without one; raises ValueError when it
    is not a positive integer."""
    text = root.findtext(f"{DAV}limit/{DAV}nresults")
    if text is None:
        return None
    value = int(text.strip())
    if value < 1:
        raise ValueError(f"nresults {value} is not positive")
    return value


class SyncCollectionResponder:
    """§3.2: the Depth and the target of a sync-collection; a malformed ``DAV:limit`` (§3.7) is ``400``."""

    def __init__(self, internals: Internals) -> None:
        self.internals = internals

    def answer(self, request: DavRequest) -> Answer | None:
        """``400`` or ``403``, or None to serve the report."""
        root = parsed_body(request.environ)
        if not _is_sync(root):
            return None
        assert root is not None
        text = {"Content-Type": "text/plain; charset=utf-8"}
        if request.depth.strip().lower() == "infinity":
            return client.BAD_REQUEST, text, "sync-collection takes Depth: 0 (RFC 6578 §3.2)\n".encode(), None
        try:
            result_limit(root)
        except ValueError as exc:
            return client.BAD_REQUEST, text, f"DAV:limit: {exc}\n".encode(), None
        if request.path.endswith("/"):
            return None
        if not self.internals.access(request.user, request.user_groups, request.path, None).check("r"):
            return None  # Radicale refuses it
        target = located(self.internals, request, request.path)
        if target is None or hasattr(target, "get_meta"):
            return None
        return error_answer(
            client.FORBIDDEN, DAV + "supported-report", "sync-collection is a report of collections"
        )
