# SPDX-License-Identifier: GPL-3.0-or-later
"""RFC 4918 (WebDAV), RFC 7232 (conditional requests) and RFC 3744 §7.2 on a real server (Radicale in the
test process, the indexed storage), one test per requirement, named after its section."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import (
    CALDAV,
    DAV,
    USER,
    RunningServer,
    error_condition,
    ok_prop,
    request,
    responses,
    start_with_storage,
)

HOME = f"/{USER}/"
CAL = f"{HOME}calendar/"
BOOK = f"{HOME}contacts/"
DEAD = "{urn:example:dead}"


def ics(uid: str, summary: str = "Conseil de classe") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nDURATION:PT1H\r\n"
        f"SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def put(server: RunningServer, path: str, body: str) -> tuple[int, dict[str, str], bytes]:
    return request(server, "PUT", path, body=body, headers={"Content-Type": "text/calendar; charset=utf-8"})


def propfind(server: RunningServer, path: str, prop: str, depth: str = "0") -> tuple[int, bytes]:
    body = f'<D:propfind xmlns:D="DAV:" xmlns:Z="urn:example:dead"><D:prop>{prop}</D:prop></D:propfind>'
    status, _, data = request(server, "PROPFIND", path, body=body, headers={"Depth": depth})
    return status, data


def proppatch(server: RunningServer, path: str, action: str, props: str) -> tuple[int, bytes]:
    body = (
        '<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:example:dead">'
        f"<D:{action}><D:prop>{props}</D:prop></D:{action}></D:propertyupdate>"
    )
    status, _, data = request(server, "PROPPATCH", path, body=body)
    return status, data


def mkcalendar(server: RunningServer, path: str) -> int:
    return request(server, "MKCALENDAR", path)[0]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = Path(tmp_path_factory.mktemp("rfc4918"))
    running = start_with_storage(folder / "groupware.conf", folder / "collections")
    request(running, "PROPFIND", HOME, headers={"Depth": "0"})  # the home and its collections
    yield running
    running.stop()


@pytest.mark.parametrize("path", ["/", HOME, CAL])
def test_9_1_propfind_depth_infinity_is_403_with_finite_depth(server: RunningServer, path: str) -> None:
    status, body = propfind(server, path, "<D:resourcetype/>", depth="infinity")
    assert status == 403
    assert error_condition(body) == DAV + "propfind-finite-depth"


def test_9_1_propfind_depth_infinity_on_a_calendar_object_is_its_own_properties(
    server: RunningServer,
) -> None:
    assert put(server, CAL + "leaf.ics", ics("leaf"))[0] == 201
    status, body = propfind(server, CAL + "leaf.ics", "<D:getetag/>", depth="infinity")
    assert status == 207 and set(responses(body)) == {CAL + "leaf.ics"}


def test_9_1_propfind_depth_one_still_lists_the_home(server: RunningServer) -> None:
    status, body = propfind(server, HOME, "<D:resourcetype/>", depth="1")
    assert status == 207 and {CAL, BOOK} <= set(responses(body))


def test_9_2_dead_property_is_stored_returned_and_removed(server: RunningServer) -> None:
    status, _ = proppatch(server, CAL, "set", "<Z:couleur-du-cahier>vert</Z:couleur-du-cahier>")
    assert status == 207
    status, body = propfind(server, CAL, "<Z:couleur-du-cahier/>")
    assert ok_prop(responses(body)[CAL], DEAD + "couleur-du-cahier").text == "vert"  # type: ignore[union-attr]
    assert proppatch(server, CAL, "remove", "<Z:couleur-du-cahier/>")[0] == 207
    assert ok_prop(responses(propfind(server, CAL, "<Z:couleur-du-cahier/>")[1])[CAL], DEAD + "x") is None


def test_9_2_dead_property_is_bounded_like_a_display_name(server: RunningServer) -> None:
    limit = server.config.limits.max_property_size
    status, _ = proppatch(server, CAL, "set", f"<Z:note>{'x' * (limit + 1)}</Z:note>")
    assert status == 413
    assert ok_prop(responses(propfind(server, CAL, "<Z:note/>")[1])[CAL], DEAD + "note") is None


def test_9_2_1_protected_property_is_403_and_nothing_changes(server: RunningServer) -> None:
    props = "<D:getetag>forged</D:getetag><D:displayname>Renamed</D:displayname>"
    status, body = proppatch(server, CAL, "set", props)
    assert status == 207
    propstats = {
        (p.findtext(DAV + "status") or "").split()[1]: p for p in ET.fromstring(body).iter(DAV + "propstat")
    }
    assert propstats["403"].find(f"{DAV}prop/{DAV}getetag") is not None
    assert propstats["403"].find(f"{DAV}error/{DAV}cannot-modify-protected-property") is not None
    assert propstats["424"].find(f"{DAV}prop/{DAV}displayname") is not None
    name = ok_prop(responses(propfind(server, CAL, "<D:displayname/>")[1])[CAL], DAV + "displayname")
    assert name is None or name.text != "Renamed"


def test_9_2_1_protected_property_of_someone_elses_collection_stays_403(server: RunningServer) -> None:
    assert proppatch_as(server, "/marie.martin/calendar/", "<D:getetag>x</D:getetag>") == 403


def proppatch_as(server: RunningServer, path: str, props: str) -> int:
    body = f'<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>{props}</D:prop></D:set></D:propertyupdate>'
    return request(server, "PROPPATCH", path, body=body)[0]


@pytest.mark.parametrize("method", ["MKCOL", "MKCALENDAR"])
def test_9_3_1_collection_under_a_missing_parent_is_409(server: RunningServer, method: str) -> None:
    assert request(server, method, f"{HOME}no-such-folder/agenda/")[0] == 409
    assert request(server, "PROPFIND", f"{HOME}no-such-folder/", headers={"Depth": "0"})[0] == 404


def test_9_3_1_top_level_collection_is_made_under_the_root(server: RunningServer) -> None:
    admin = ("admin.groupware", "admin-demo")
    assert request(server, "MKCOL", "/espace-commun/", *admin)[0] == 201
    headers = {"Destination": "/copie-commune/", "Depth": "0"}
    assert request(server, "COPY", "/espace-commun/", *admin, headers=headers)[0] == 201


def test_9_8_3_copy_of_a_plain_collection_copies_its_collections(server: RunningServer) -> None:
    admin = ("admin.groupware", "admin-demo")
    assert request(server, "MKCOL", "/arbre/", *admin)[0] == 201
    assert request(server, "MKCALENDAR", "/arbre/agenda/", *admin)[0] == 201
    body, content = ics("feuille"), {"Content-Type": "text/calendar"}
    assert request(server, "PUT", "/arbre/agenda/feuille.ics", *admin, body=body, headers=content)[0] == 201
    assert request(server, "COPY", "/arbre/", *admin, headers={"Destination": "/copie-arbre/"})[0] == 201
    status, _, data = request(server, "GET", "/copie-arbre/agenda/feuille.ics", *admin)
    assert status == 200 and b"UID:feuille" in data
    inside = {"Destination": "/arbre/agenda/copie/"}
    assert request(server, "COPY", "/arbre/", *admin, headers=inside)[0] == 403


def test_9_3_1_collection_under_someone_elses_missing_parent_stays_403(server: RunningServer) -> None:
    assert request(server, "MKCOL", "/marie.martin/no-such-folder/agenda/")[0] == 403


def test_9_6_delete_answers_204_without_a_body(server: RunningServer) -> None:
    assert put(server, CAL + "deleted.ics", ics("deleted"))[0] == 201
    status, _, body = request(server, "DELETE", CAL + "deleted.ics")
    assert (status, body) == (204, b"")
    assert request(server, "GET", CAL + "deleted.ics")[0] == 404


def test_9_7_2_put_onto_a_collection_is_405_and_keeps_it(server: RunningServer) -> None:
    assert put(server, CAL + "kept.ics", ics("kept"))[0] == 201
    status, headers, _ = put(server, CAL, ics("replacement"))
    assert status == 405 and "PROPFIND" in headers["allow"]
    assert request(server, "GET", CAL + "kept.ics")[0] == 200


def test_9_8_copy_into_another_calendar_is_201_then_204(server: RunningServer) -> None:
    assert mkcalendar(server, f"{HOME}copies/") == 201
    assert put(server, CAL + "copied.ics", ics("copied"))[0] == 201
    copy = {"Destination": f"{server.url}{HOME}copies/copied.ics"}
    assert request(server, "COPY", CAL + "copied.ics", headers=copy)[0] == 201
    status, _, body = request(server, "GET", f"{HOME}copies/copied.ics")
    assert status == 200 and b"UID:copied" in body
    assert request(server, "GET", CAL + "copied.ics")[0] == 200
    assert request(server, "COPY", CAL + "copied.ics", headers=copy)[0] == 204
    refused = request(server, "COPY", CAL + "copied.ics", headers={**copy, "Overwrite": "F"})
    assert refused[0] == 412


def test_9_8_copy_into_its_own_calendar_is_a_uid_conflict(server: RunningServer) -> None:
    assert put(server, CAL + "twin.ics", ics("twin"))[0] == 201
    status, _, body = request(server, "COPY", CAL + "twin.ics", headers={"Destination": CAL + "twin-2.ics"})
    assert status in (403, 409) and error_condition(body) == CALDAV + "no-uid-conflict"
    assert request(server, "GET", CAL + "twin-2.ics")[0] == 404


def test_9_8_copy_of_an_event_into_an_address_book_is_403(server: RunningServer) -> None:
    assert put(server, CAL + "event.ics", ics("event"))[0] == 201
    status, _, body = request(server, "COPY", CAL + "event.ics", headers={"Destination": BOOK + "event.ics"})
    assert status == 403 and error_condition(body) == CALDAV + "calendar-collection-location-ok"


def test_9_8_3_copy_of_a_calendar_with_its_members(server: RunningServer) -> None:
    assert mkcalendar(server, f"{HOME}source/") == 201
    assert put(server, f"{HOME}source/one.ics", ics("one"))[0] == 201
    assert proppatch(server, f"{HOME}source/", "set", "<D:displayname>Source</D:displayname>")[0] == 207
    status, _, _ = request(server, "COPY", f"{HOME}source/", headers={"Destination": f"{HOME}whole/"})
    assert status == 201
    assert request(server, "GET", f"{HOME}whole/one.ics")[0] == 200
    name = ok_prop(
        responses(propfind(server, f"{HOME}whole/", "<D:displayname/>")[1])[f"{HOME}whole/"],
        DAV + "displayname",
    )
    assert name is not None and name.text == "Source"
    headers = {"Destination": f"{HOME}empty/", "Depth": "0"}
    assert request(server, "COPY", f"{HOME}source/", headers=headers)[0] == 201
    assert set(responses(propfind(server, f"{HOME}empty/", "<D:getetag/>", "1")[1])) == {f"{HOME}empty/"}
    headers = {"Destination": f"{HOME}depth-one/", "Depth": "1"}
    assert request(server, "COPY", f"{HOME}source/", headers=headers)[0] == 400


def test_9_8_5_copy_errors(server: RunningServer) -> None:
    assert put(server, CAL + "original.ics", ics("original"))[0] == 201
    source = CAL + "original.ics"
    assert request(server, "COPY", source)[0] == 400
    assert request(server, "COPY", source, headers={"Destination": source})[0] == 403
    missing = {"Destination": f"{HOME}no-such-folder/original.ics"}
    assert request(server, "COPY", source, headers=missing)[0] == 409
    elsewhere = {"Destination": f"http://elsewhere.example{HOME}copies/original.ics"}
    assert request(server, "COPY", source, headers=elsewhere)[0] == 502
    assert request(server, "COPY", CAL + "nothing.ics", headers={"Destination": CAL + "x.ics"})[0] == 404
    theirs = {"Destination": "/marie.martin/calendar/original.ics"}
    assert request(server, "COPY", source, headers=theirs)[0] == 403


def test_rfc7232_3_2_if_none_match_on_get_is_304(server: RunningServer) -> None:
    _, headers, _ = put(server, CAL + "cached.ics", ics("cached"))
    etag = headers["etag"]
    for method in ("GET", "HEAD"):
        status, answer, body = request(server, method, CAL + "cached.ics", headers={"If-None-Match": etag})
        assert (status, body, answer["etag"]) == (304, b"", etag)
    assert request(server, "GET", CAL + "cached.ics", headers={"If-None-Match": '"other"'})[0] == 200
    assert request(server, "GET", CAL + "cached.ics", headers={"If-None-Match": "*"})[0] == 304


@pytest.mark.parametrize(
    "method", ["GET", "HEAD", "PROPFIND", "PROPPATCH", "DELETE", "MOVE", "COPY", "PUT", "REPORT"]
)
def test_rfc7232_3_1_if_match_failing_is_412(server: RunningServer, method: str) -> None:
    path = CAL + f"guarded-{method.lower()}.ics"
    assert put(server, path, ics(f"guarded-{method}"))[0] == 201
    headers = {"If-Match": '"not-the-etag"', "Destination": CAL + "moved.ics", "Depth": "0"}
    body = ics(f"guarded-{method}", "changed") if method == "PUT" else ""
    assert request(server, method, path, body=body, headers=headers)[0] == 412
    status, _, data = request(server, "GET", path)
    assert status == 200 and b"changed" not in data


def test_rfc7232_3_2_if_none_match_on_put_with_the_current_tag_is_412(server: RunningServer) -> None:
    _, headers, _ = put(server, CAL + "unchanged.ics", ics("unchanged"))
    changed = ics("unchanged", "changed")
    answer = request(
        server, "PUT", CAL + "unchanged.ics", body=changed, headers={"If-None-Match": headers["etag"]}
    )
    assert answer[0] == 412
    either = {"If-Match": f'"other", {headers["etag"]}', "Content-Type": "text/calendar"}
    assert request(server, "PUT", CAL + "unchanged.ics", body=changed, headers=either)[0] == 204


def test_rfc7232_3_1_if_match_on_a_missing_resource_is_412(server: RunningServer) -> None:
    assert request(server, "DELETE", CAL + "absent.ics", headers={"If-Match": "*"})[0] == 412
    assert request(server, "MKCALENDAR", f"{HOME}absent/", headers={"If-Match": "*"})[0] == 412
    assert request(server, "PROPFIND", f"{HOME}absent/", headers={"Depth": "0"})[0] == 404


def test_rfc3744_7_2_dav_header_names_access_control(server: RunningServer) -> None:
    for method, path in (("OPTIONS", "/"), ("PROPFIND", HOME)):
        _, headers, _ = request(server, method, path, headers={"Depth": "0"})
        assert "access-control" in [part.strip() for part in headers["dav"].split(",")]


def test_10_4_if_header_is_evaluated_on_every_method(server: RunningServer) -> None:
    _, headers, _ = put(server, CAL + "iffy.ics", ics("iffy"))
    etag, path = headers["etag"], CAL + "iffy.ics"
    assert request(server, "GET", path, headers={"If": f"([{etag}])"})[0] == 200
    assert request(server, "GET", path, headers={"If": '(["other"])'})[0] == 412
    assert request(server, "GET", path, headers={"If": "(<urn:uuid:no-such-lock>)"})[0] == 412
    assert request(server, "GET", path, headers={"If": "(Not <DAV:no-lock>)"})[0] == 200
    assert request(server, "GET", path, headers={"If": f"(<DAV:no-lock>) ([{etag}])"})[0] == 200
    tagged = {"If": f'<{server.url}{path}> (["other"])'}
    changed = ics("iffy", "changed")
    assert (
        request(server, "PUT", path, body=changed, headers={**tagged, "Content-Type": "text/calendar"})[0]
        == 412
    )
    assert request(server, "DELETE", path, headers={"If": '(["other"])'})[0] == 412
    assert request(server, "GET", path, headers={"If": "([unclosed"})[0] == 400
    assert request(server, "DELETE", path, headers={"If": f"([{etag}])"})[0] == 204


def test_4_3_dead_property_keeps_its_xml_value(server: RunningServer) -> None:
    value = (
        '<Z:fiche xml:lang="fr" xmlns:Y="urn:example:other">Salle <Z:salle numero="12">B</Z:salle>'
        "<Y:etage>2</Y:etage></Z:fiche><Z:vide><Z:rien/></Z:vide>"
    )
    assert proppatch(server, CAL, "set", value)[0] == 207
    found = responses(propfind(server, CAL, "<Z:fiche/><Z:vide/>")[1])[CAL]
    fiche = ok_prop(found, DEAD + "fiche")
    assert fiche is not None and fiche.text == "Salle "
    assert fiche.get("{http://www.w3.org/XML/1998/namespace}lang") == "fr"
    salle = fiche.find(DEAD + "salle")
    assert salle is not None and (salle.get("numero"), salle.text) == ("12", "B")
    assert fiche.findtext("{urn:example:other}etage") == "2"
    vide = ok_prop(found, DEAD + "vide")
    assert vide is not None and vide.find(DEAD + "rien") is not None


def test_10_6_move_without_overwrite_replaces_the_destination(server: RunningServer) -> None:
    assert mkcalendar(server, f"{HOME}destination/") == 201
    assert put(server, CAL + "mover.ics", ics("mover"))[0] == 201
    assert put(server, f"{HOME}destination/mover.ics", ics("mover", "older copy"))[0] == 201
    headers = {"Destination": f"{HOME}destination/mover.ics"}
    assert request(server, "MOVE", CAL + "mover.ics", headers={**headers, "Overwrite": "F"})[0] == 412
    assert request(server, "MOVE", CAL + "mover.ics", headers=headers)[0] == 204
    status, _, body = request(server, "GET", f"{HOME}destination/mover.ics")
    assert status == 200 and b"older copy" not in body
    assert request(server, "GET", CAL + "mover.ics")[0] == 404


def test_9_9_move_of_an_event_into_an_address_book_is_403(server: RunningServer) -> None:
    assert put(server, CAL + "wandering.ics", ics("wandering"))[0] == 201
    headers = {"Destination": BOOK + "wandering.ics"}
    status, _, body = request(server, "MOVE", CAL + "wandering.ics", headers=headers)
    assert status == 403 and error_condition(body) == CALDAV + "calendar-collection-location-ok"


def test_9_2_dead_property_of_a_calendar_object(server: RunningServer) -> None:
    assert put(server, CAL + "annotated.ics", ics("annotated"))[0] == 201
    value = '<Z:dossier xml:lang="fr">Classe <Z:niveau>3e</Z:niveau></Z:dossier>'
    status, body = proppatch(server, CAL + "annotated.ics", "set", value)
    assert status == 207 and "200" in (ET.fromstring(body).findtext(f".//{DAV}status") or "")
    for depth, path in (("0", CAL + "annotated.ics"), ("1", CAL)):
        found = responses(propfind(server, path, "<Z:dossier/><D:getetag/>", depth)[1])[CAL + "annotated.ics"]
        dossier = ok_prop(found, DEAD + "dossier")
        assert dossier is not None and dossier.findtext(DEAD + "niveau") == "3e", depth
    collection = responses(request(server, "PROPFIND", CAL, headers={"Depth": "0"})[2])
    assert b"item-properties" not in ET.tostring(collection[CAL])
    assert proppatch(server, CAL + "annotated.ics", "remove", "<Z:dossier/>")[0] == 207
    found = responses(propfind(server, CAL + "annotated.ics", "<Z:dossier/>")[1])[CAL + "annotated.ics"]
    assert ok_prop(found, DEAD + "dossier") is None
    assert proppatch(server, CAL + "annotated.ics", "set", value)[0] == 207
    assert request(server, "DELETE", CAL + "annotated.ics")[0] == 204
    assert put(server, CAL + "annotated.ics", ics("annotated-again"))[0] == 201
    found = responses(propfind(server, CAL + "annotated.ics", "<Z:dossier/>")[1])[CAL + "annotated.ics"]
    assert ok_prop(found, DEAD + "dossier") is None


def test_9_2_dead_property_of_someone_elses_item_stays_403(server: RunningServer) -> None:
    assert proppatch_as(server, "/marie.martin/calendar/x.ics", "<Z:x xmlns:Z='urn:z'>1</Z:x>") == 403
