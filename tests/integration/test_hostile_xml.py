# SPDX-License-Identifier: GPL-3.0-or-later
"""XML with a DTD, entities or an external reference is refused with 400 on every method that reads XML, and
nothing is expanded (defusedxml, RFC 4918 §20.6)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support import USER, RunningServer, request

BOMB = (
    '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
)
EXTERNAL = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
BODIES = {
    "PROPFIND": '<propfind xmlns="DAV:"><prop><displayname>&{}; </displayname></prop></propfind>',
    "REPORT": '<sync-collection xmlns="DAV:"><sync-token>&{};</sync-token><prop><getetag/></prop>'
    "</sync-collection>",
    "PROPPATCH": '<propertyupdate xmlns="DAV:"><set><prop><displayname>&{};</displayname></prop></set>'
    "</propertyupdate>",
    "MKCOL": '<mkcol xmlns="DAV:"><set><prop><displayname>&{};</displayname></prop></set></mkcol>',
}


@pytest.mark.parametrize("method", BODIES)
@pytest.mark.parametrize("prolog", [BOMB, EXTERNAL], ids=["entity-expansion", "external-entity"])
def test_hostile_xml_gets_400(start_server: Callable[..., RunningServer], method: str, prolog: str) -> None:
    server = start_server()
    assert request(server, "PROPFIND", f"/{USER}/", headers={"Depth": "1"})[0] == 207
    entity = "c" if prolog is BOMB else "x"
    path = f"/{USER}/new/" if method == "MKCOL" else f"/{USER}/contacts/"
    status, _, body = request(
        server, method, path, body=prolog + BODIES[method].format(entity), headers={"Depth": "1"}
    )
    assert status == 400, body
    assert b"root:" not in body and b"aaaaaaaaaa" not in body
