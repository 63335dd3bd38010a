# SPDX-License-Identifier: GPL-3.0-or-later
"""The one DAV client of ``storage.py``: ``http.client`` with keep-alive, Basic auth, and the request bodies.

Every server gets exactly the same requests from this client (same bodies, same headers, same hrefs). The
connection is kept alive while the server allows it and reopened when it closes; the time of a request runs
from sending it to reading the last byte of the answer (a reconnect counts in it, as a client pays it).
"""

from __future__ import annotations

import base64
import http.client
import re
import time
from collections.abc import Mapping, Sequence

from _storage_data import PASSWORD, USER

TIMEOUT = 900.0
XML = "application/xml; charset=utf-8"
RESPONSE = re.compile(rb"<(?:[A-Za-z0-9_-]+:)?response[\s>]")
SYNC_TOKEN = re.compile(rb"<(?:[A-Za-z0-9_-]+:)?sync-token[^>]*>([^<]+)</")
NS = 'xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav" xmlns:CS="http://calendarserver.org/ns/"'
CAL_NS = 'xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"'
HEAD = '<?xml version="1.0" encoding="utf-8"?>\n'


class DavClient:
    """A keep-alive HTTP client of ``127.0.0.1:port`` that sends Basic credentials with every request."""

    def __init__(self, port: int, timeout: float = TIMEOUT) -> None:
        self.port, self.timeout = port, timeout
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        self.auth = f"Basic {token}"
        self.conn: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, body: bytes | str = b"", headers: Mapping[str, str] | None = None
    ) -> tuple[int, bytes]:
        """Send one request; return (status, body). Reconnects once when a kept-alive connection was
        closed.
        """
        data = body.encode("utf-8") if isinstance(body, str) else body
        all_headers = {
            "Authorization": self.auth,
            **({"Content-Type": XML} if data else {}),
            **(headers or {}),
        }
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=data, headers=all_headers)
                response = self.conn.getresponse()
                payload = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt == 2:
                    raise
                continue
            if response.will_close:
                self.close()
            return response.status, payload
        raise AssertionError("unreachable")

    def timed(
        self, method: str, path: str, body: bytes | str = b"", headers: Mapping[str, str] | None = None
    ) -> tuple[float, int, bytes]:
        """:meth:`request`, with the seconds it took first."""
        started = time.perf_counter()
        status, payload = self.request(method, path, body, headers)
        return time.perf_counter() - started, status, payload

    def close(self) -> None:
        """Drop the connection."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def responses(body: bytes) -> int:
    """How many ``<response>`` elements a multistatus holds."""
    return len(RESPONSE.findall(body))


def sync_token(body: bytes) -> str:
    """The ``sync-token`` a multistatus carries (empty when none)."""
    match = SYNC_TOKEN.search(body)
    return match.group(1).decode().strip() if match else ""


def propfind(props: str) -> str:
    """A PROPFIND body asking for ``props`` (already namespaced XML)."""
    return f"{HEAD}<D:propfind {NS}><D:prop>{props}</D:prop></D:propfind>"


PROPFIND_LIST = propfind("<D:getetag/><D:getcontenttype/><D:resourcetype/>")
PROPFIND_CTAG = propfind("<CS:getctag/><D:sync-token/>")
PROPFIND_SMALL = propfind("<D:resourcetype/><D:displayname/><D:current-user-principal/>")


def sync_collection(token: str) -> str:
    """A sync-collection REPORT (RFC 6578) from ``token`` (empty: initial sync) asking for the etags."""
    return (
        f"{HEAD}<D:sync-collection {NS}><D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>"
        "<D:prop><D:getetag/></D:prop></D:sync-collection>"
    )


def addressbook_multiget(hrefs: Sequence[str]) -> str:
    """An addressbook-multiget REPORT (RFC 6352 §8.7) of ``hrefs`` with their etags and vCards."""
    listed = "".join(f"<D:href>{href}</D:href>" for href in hrefs)
    return (
        f"{HEAD}<C:addressbook-multiget {NS}><D:prop><D:getetag/><C:address-data/></D:prop>{listed}"
        "</C:addressbook-multiget>"
    )


def addressbook_query(prop: str, text: str) -> str:
    """An addressbook-query REPORT (RFC 6352 §8.6): ``prop`` contains ``text`` under ``i;unicode-casemap``."""
    return (
        f"{HEAD}<C:addressbook-query {NS}><D:prop><D:getetag/><C:address-data/></D:prop><C:filter>"
        f'<C:prop-filter name="{prop}"><C:text-match collation="i;unicode-casemap" match-type="contains">'
        f"{text}</C:text-match></C:prop-filter></C:filter></C:addressbook-query>"
    )


def calendar_query(start: str, end: str) -> str:
    """A calendar-query REPORT (RFC 4791 §7.8) of the VEVENTs overlapping [start, end) with their data."""
    return (
        f"{HEAD}<C:calendar-query {CAL_NS}><D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter>"
        '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        f'<C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter></C:filter>'
        "</C:calendar-query>"
    )


def extended_mkcol(kind: str) -> str:
    """An extended MKCOL body (RFC 5689) creating an ``addressbook`` or a ``calendar``."""
    if kind == "addressbook":
        rtype = '<C:addressbook xmlns:C="urn:ietf:params:xml:ns:carddav"/>'
    else:
        rtype = '<C:calendar xmlns:C="urn:ietf:params:xml:ns:caldav"/>'
    return (
        f'{HEAD}<D:mkcol xmlns:D="DAV:"><D:set><D:prop><D:resourcetype><D:collection/>{rtype}'
        f"</D:resourcetype><D:displayname>{kind}</D:displayname></D:prop></D:set></D:mkcol>"
    )
