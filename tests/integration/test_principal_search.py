# SPDX-License-Identifier: GPL-3.0-or-later
"""RFC 3744 §9.4 principal-property-search and §9.5 principal-search-property-set, from the directory."""

from __future__ import annotations

from collections.abc import Callable

from support import DAV, RunningServer, ok_prop, request, responses

CALDAV = "{urn:ietf:params:xml:ns:caldav}"
SEARCH = """<?xml version="1.0" encoding="utf-8"?>
<D:principal-property-search xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" {test}>
  <D:property-search><D:prop><D:displayname/></D:prop><D:match>{name}</D:match></D:property-search>
  <D:property-search><D:prop><C:calendar-user-address-set/></D:prop><D:match>{mail}</D:match></D:property-search>
  <D:prop><D:displayname/><C:calendar-user-address-set/><C:calendar-home-set/><D:getetag/></D:prop>
</D:principal-property-search>"""
PROPERTY_SET = '<?xml version="1.0"?><D:principal-search-property-set xmlns:D="DAV:"/>'


def test_search_by_name_and_mail(start_server: Callable[..., RunningServer]) -> None:
    server = start_server()
    body = SEARCH.format(test='test="anyof"', name="hélène", mail="mailto:marie.martin@")
    status, _, data = request(server, "REPORT", "/", body=body, headers={"Depth": "0"})
    assert status == 207
    found = responses(data)
    assert set(found) == {"/helene.lefevre/", "/marie.martin/"}
    helene = found["/helene.lefevre/"]
    assert ok_prop(helene, DAV + "displayname").text == "Hélène Lefèvre"  # type: ignore[union-attr]
    addresses = [h.text for h in ok_prop(helene, CALDAV + "calendar-user-address-set")]  # type: ignore[union-attr]
    assert "mailto:helene.lefevre@ac-montpellier.fr" in addresses
    assert ok_prop(helene, DAV + "getetag") is None
    body = SEARCH.format(test="", name="MARIE", mail="martin2")
    assert set(responses(request(server, "REPORT", "/", body=body)[2])) == {"/marie.martin2/"}
    body = SEARCH.format(test="", name="lefevre", mail="nobody")
    assert responses(request(server, "REPORT", "/", body=body)[2]) == {}


def test_property_set_and_authentication(start_server: Callable[..., RunningServer]) -> None:
    server = start_server()
    status, _, data = request(server, "REPORT", "/", body=PROPERTY_SET)
    assert status == 200 and b"displayname" in data and b"calendar-user-address-set" in data
    body = SEARCH.format(test="", name="helene", mail="helene")
    assert request(server, "REPORT", "/", login=None, body=body)[0] == 401
    assert request(server, "REPORT", "/", login=None, body=PROPERTY_SET)[0] == 401


#: python caldav's search body: its properties to return follow an empty ``prop`` (RFC 3744 §9.4).
CALDAV_CLIENT_SEARCH = """<?xml version="1.0" encoding="utf-8"?>
<D:principal-property-search xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:property-search><D:prop><D:displayname/></D:prop><D:match>Lefèvre</D:match></D:property-search>
  <D:prop/><C:calendar-home-set/><D:displayname/>
</D:principal-property-search>"""


def test_empty_prop_answers_the_principal_properties(start_server: Callable[..., RunningServer]) -> None:
    server = start_server()
    status, _, data = request(server, "REPORT", "/", body=CALDAV_CLIENT_SEARCH, headers={"Depth": "0"})
    assert status == 207
    helene = responses(data)["/helene.lefevre/"]
    home = ok_prop(helene, CALDAV + "calendar-home-set")
    assert home is not None and [h.text for h in home] == ["/helene.lefevre/"]
    assert ok_prop(helene, DAV + "displayname").text == "Hélène Lefèvre"  # type: ignore[union-attr]
    assert ok_prop(helene, "{urn:ietf:params:xml:ns:carddav}addressbook-home-set") is not None


def test_python_caldav_finds_a_colleague_and_her_calendars(
    start_server: Callable[..., RunningServer],
) -> None:
    from caldav.davclient import DAVClient

    server = start_server()
    request(server, "PROPFIND", "/helene.lefevre/", headers={"Depth": "0"})  # her home, made at login
    client = DAVClient(url=server.url + "/", username="helene.lefevre", password="helene.lefevre-demo")
    [found] = client.search_principals(name="Lefèvre")
    assert [c.url.path for c in found.calendars()] == ["/helene.lefevre/calendar/"]


def test_search_results_name_each_address_once(start_server: Callable[..., RunningServer]) -> None:
    server = start_server()
    body = SEARCH.format(test='test="anyof"', name="hélène", mail="nobody")
    helene = responses(request(server, "REPORT", "/", body=body)[2])["/helene.lefevre/"]
    addresses = [h.text for h in ok_prop(helene, CALDAV + "calendar-user-address-set")]  # type: ignore[union-attr]
    assert addresses.count("mailto:helene.lefevre@ac-montpellier.fr") == 1
