# SPDX-License-Identifier: GPL-3.0-or-later
"""CardDAV (RFC 6352) conformance of ``groupware serve``, section by section, on a real server in the test
process with both storages (Radicale's default and ``groupware.plugins.storage``), the demo directory and the
academic books on: the collation set (§8.3), the PUT and REPORT preconditions and their elements (§6.3.2.1,
§8.6, §8.7), vCard 4.0 on GET (§5.1.1), grouped properties in filters (§10.5.1 with RFC 6350 §3.3), RFC 6868
parameter values, and the read-only books' ``DAV:need-privileges`` (§7, RFC 3744 §7.1.1). The requests use the
headers DAVx5, iOS and Thunderbird send, which must keep working."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from support import (
    CARDDAV,
    DAV,
    LDIF_DIRECTORY,
    USER,
    RunningServer,
    ok_prop,
    responses,
    write_config,
)
from support import request as send

from groupware import config as config_module

BOOK = f"/{USER}/rfc6352/"
SHARED = f"/{USER}/annuaire-academie/"  # the académie's book, read-only, shared into every home
MAX_RESOURCE_SIZE = 20_000
CR = CARDDAV[1:-1]
XML = "application/xml; charset=utf-8"
STORAGES = ["default", "groupware.plugins.storage"]


def card(uid: str, fn: str, extra: str = "") -> str:
    return f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{fn}\r\nN:{fn};;;;\r\n{extra}END:VCARD\r\n"


@pytest.fixture(scope="module", params=STORAGES)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("rfc6352")
    storage = {} if request.param == "default" else {"type": request.param}
    path = write_config(folder / "groupware.conf", LDIF_DIRECTORY, storage_options=storage)
    text = path.read_text(encoding="utf-8").replace(
        "[server]\n", f"[server]\nmax_resource_size = {MAX_RESOURCE_SIZE}\n"
    )
    text += "\n[addressbooks]\nenabled = true\nbooks = academie\ninterval = 3600\n"
    path.write_text(text, encoding="utf-8")
    running = RunningServer(config_module.load(path))
    assert running.server.addressbooks is not None and running.server.addressbooks.done.wait(30)
    mkcol = (
        f'<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:CR="{CR}"><D:set><D:prop><D:resourcetype>'
        "<D:collection/><CR:addressbook/></D:resourcetype></D:prop></D:set></D:mkcol>"
    )
    assert send(running, "PROPFIND", f"/{USER}/", headers={"Depth": "0"})[0] == 207  # the home is made
    assert send(running, "MKCOL", BOOK, body=mkcol)[0] == 201
    yield running
    running.stop()


def put(
    server: RunningServer, name: str, text: str, content_type: str = "text/vcard; charset=utf-8"
) -> tuple[int, dict[str, str], bytes]:
    return send(server, "PUT", BOOK + name, body=text, headers={"Content-Type": content_type})


def error_element(body: bytes, tag: str) -> ET.Element:
    root = ET.fromstring(body)
    assert root.tag == DAV + "error", body
    found = root.find(tag)
    assert found is not None, body
    return found


def propfind(server: RunningServer, path: str, props: str, depth: str = "1") -> dict[str, ET.Element]:
    body = f'<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:CR="{CR}"><D:prop>{props}</D:prop>'
    body += "</D:propfind>"
    status, _, data = send(server, "PROPFIND", path, body=body, headers={"Depth": depth})
    assert status == 207, data
    return responses(data)


def query(
    server: RunningServer,
    filter_: str,
    depth: str = "1",
    content_type: str = XML,
    data: str = "<CR:address-data/>",
    path: str = BOOK,
    test: str = "anyof",
) -> tuple[int, bytes]:
    body = (
        f'<?xml version="1.0" encoding="utf-8"?><CR:addressbook-query xmlns:D="DAV:" xmlns:CR="{CR}">'
        f'<D:prop><D:getetag/>{data}</D:prop><CR:filter test="{test}">{filter_}</CR:filter>'
        "</CR:addressbook-query>"
    )
    headers = {"Depth": depth, "Content-Type": content_type}
    status, _, answer = send(server, "REPORT", path, body=body, headers=headers)
    return status, answer


def matching(server: RunningServer, filter_: str, **options: str) -> set[str]:
    """The names of the cards of the book an addressbook-query with ``filter_`` answers."""
    status, answer = query(server, filter_, **options)
    assert status == 207, answer
    return {href.rsplit("/", 1)[1] for href in responses(answer)}


def text_match(name: str, text: str, collation: str | None = None, match_type: str = "contains") -> str:
    attribute = f' collation="{collation}"' if collation else ""
    return (
        f'<CR:prop-filter name="{name}"><CR:text-match{attribute} match-type="{match_type}">{text}'
        "</CR:text-match></CR:prop-filter>"
    )


# --- §8.3 -------------------------------------------------------------------------------------------------


def test_8_3_supported_collation_set_is_announced(server: RunningServer) -> None:
    found = propfind(server, f"/{USER}/", "<D:displayname/><CR:supported-collation-set/>")
    for href in (BOOK, SHARED, f"/{USER}/contacts/"):
        collations = ok_prop(found[href], CARDDAV + "supported-collation-set")
        assert collations is not None, href
        texts = {element.text for element in collations.iterfind(CARDDAV + "supported-collation")}
        assert texts == {"i;ascii-casemap", "i;octet", "i;unicode-casemap"}
        assert ok_prop(found[href], DAV + "displayname") is not None  # the other property stays where it was
    for href in (f"/{USER}/", f"/{USER}/calendar/"):  # not an address book: not found, as before
        assert ok_prop(found[href], CARDDAV + "supported-collation-set") is None


def test_8_3_every_announced_collation_is_honoured_and_another_refused(server: RunningServer) -> None:
    assert put(server, "collation.vcf", card("collation", "Élodie Martin"))[0] in (201, 204)
    assert "collation.vcf" in matching(server, text_match("FN", "ÉLODIE", "i;unicode-casemap"))
    assert "collation.vcf" in matching(server, text_match("FN", "MARTIN", "i;ascii-casemap"))
    assert "collation.vcf" in matching(server, text_match("FN", "Martin", "i;octet"))
    assert "collation.vcf" not in matching(server, text_match("FN", "martin", "i;octet"))
    status, answer = query(server, text_match("FN", "martin", "i;basic"))
    assert status == 403
    assert "i;basic" in (error_element(answer, CARDDAV + "supported-collation").text or "")


def test_6_2_3_max_resource_size_is_announced(server: RunningServer) -> None:
    found = propfind(server, f"/{USER}/", "<CR:max-resource-size/>")
    for href in (BOOK, SHARED):
        size = ok_prop(found[href], CARDDAV + "max-resource-size")
        assert size is not None and size.text == str(MAX_RESOURCE_SIZE), href
    assert ok_prop(found[f"/{USER}/calendar/"], CARDDAV + "max-resource-size") is None


# --- §6.3.2.1 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/vcard; charset=utf-8",  # DAVx5, Thunderbird, CardBook
        "text/vcard",  # iOS
        "text/vcard; version=4.0",
        "text/x-vcard",
        "",
    ],
)
def test_6_3_2_1_what_clients_send_is_stored(server: RunningServer, content_type: str) -> None:
    name = f"client-{len(content_type)}.vcf"
    headers = {"Content-Type": content_type} if content_type else {"Content-Type": ""}
    text = card(name, "Client Card")
    status, _, body = send(server, "PUT", BOOK + name, body=text, headers=headers)
    assert status in (201, 204), body


def test_6_3_2_1_another_media_type_gets_supported_address_data(server: RunningServer) -> None:
    for content_type in ("text/plain", "application/json", "text/vcard; version=2.1"):
        status, _, body = put(server, "media.vcf", card("media", "Media"), content_type)
        assert status == 415, (content_type, body)
        assert error_element(body, CARDDAV + "supported-address-data") is not None
    assert send(server, "GET", BOOK + "media.vcf")[0] == 404


def test_6_3_2_1_unreadable_vcard_gets_valid_address_data(server: RunningServer) -> None:
    broken = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:broken\r\nFN:x\r\nNOT A LINE\r\nEND:VCARD\r\n"
    status, _, body = put(server, "broken.vcf", broken)
    assert status == 403
    assert error_element(body, CARDDAV + "valid-address-data") is not None
    two = card("one", "One") + card("two", "Two")
    status, _, body = put(server, "two.vcf", two)
    assert status == 403
    assert "exactly one vCard" in (error_element(body, CARDDAV + "valid-address-data").text or "")


def test_6_3_2_1_uid_conflict_names_the_resource_holding_the_uid(server: RunningServer) -> None:
    assert put(server, "holder.vcf", card("shared-uid", "Holder"))[0] in (201, 204)
    status, _, body = put(server, "intruder.vcf", card("shared-uid", "Intruder"))
    assert status == 409
    conflict = error_element(body, CARDDAV + "no-uid-conflict")
    assert conflict.findtext(DAV + "href") == BOOK + "holder.vcf"
    assert send(server, "GET", BOOK + "intruder.vcf")[0] == 404


def test_6_3_2_1_uid_conflict_of_a_move_names_the_resource_holding_the_uid(server: RunningServer) -> None:
    assert put(server, "moved-holder.vcf", card("moved-uid", "Holder"))[0] in (201, 204)
    other = f"/{USER}/contacts/"
    headers = {"Content-Type": "text/vcard"}
    assert (
        send(server, "PUT", other + "mover.vcf", body=card("moved-uid", "Mover"), headers=headers)[0] == 201
    )
    status, _, body = send(server, "MOVE", other + "mover.vcf", headers={"Destination": BOOK + "moved.vcf"})
    assert status == 409
    conflict = error_element(body, CARDDAV + "no-uid-conflict")
    assert conflict.findtext(DAV + "href") == BOOK + "moved-holder.vcf"
    assert send(server, "GET", other + "mover.vcf")[0] == 200


def test_6_3_2_1_oversized_photo_gets_max_resource_size(server: RunningServer) -> None:
    photo = "PHOTO;ENCODING=b;TYPE=JPEG:" + "QUJD" * (MAX_RESOURCE_SIZE // 4) + "\r\n"
    status, _, body = put(server, "photo.vcf", card("photo", "Photo", photo))
    assert status == 413
    assert error_element(body, CARDDAV + "max-resource-size") is not None
    small = "PHOTO;ENCODING=b;TYPE=JPEG:" + "QUJD" * 100 + "\r\n"
    assert put(server, "photo.vcf", card("photo", "Photo", small))[0] == 201


# --- §8.6, §8.7 -------------------------------------------------------------------------------------------


def test_8_6_report_body_in_text_plain_is_refused(server: RunningServer) -> None:
    status, answer = query(server, text_match("FN", "x"), content_type="text/plain")
    assert status == 415, answer
    for content_type in ("text/xml; charset=utf-8", "application/xml", "text/xml", ""):  # iOS, DAVx5, …
        assert query(server, text_match("FN", "x"), content_type=content_type)[0] == 207, content_type


def test_8_6_depth_0_query_on_the_collection_answers_no_member(server: RunningServer) -> None:
    assert put(server, "depth.vcf", card("depth", "Depth Zero"))[0] in (201, 204)
    assert matching(server, text_match("FN", "depth zero"), depth="0") == set()
    assert matching(server, text_match("FN", "depth zero"), depth="1") == {"depth.vcf"}
    assert matching(server, text_match("FN", "depth zero"), depth="0", path=BOOK + "depth.vcf") == {
        "depth.vcf"
    }


def test_8_6_address_data_in_a_version_not_served_gets_supported_address_data(server: RunningServer) -> None:
    for data in (
        '<CR:address-data version="2.1"/>',
        '<CR:address-data content-type="application/vcard+json"/>',
    ):
        status, answer = query(server, text_match("FN", "x"), data=data)
        assert status == 403, data
        assert error_element(answer, CARDDAV + "supported-address-data") is not None


def test_8_6_filter_on_what_is_not_a_property_name_gets_supported_filter(server: RunningServer) -> None:
    status, answer = query(server, text_match("E MAIL;X", "x"))
    assert status == 403
    assert error_element(answer, CARDDAV + "supported-filter") is not None


def test_8_7_multiget_in_vcard4_converts_every_card(server: RunningServer) -> None:
    assert put(
        server, "multiget.vcf", card("multiget", "Multi Get", "EMAIL;TYPE=INTERNET,PREF:m@example.org\r\n")
    )[0] in (201, 204)
    body = (
        f'<?xml version="1.0"?><CR:addressbook-multiget xmlns:D="DAV:" xmlns:CR="{CR}"><D:prop><D:getetag/>'
        f'<CR:address-data content-type="text/vcard" version="4.0"/></D:prop>'
        f"<D:href>{BOOK}multiget.vcf</D:href></CR:addressbook-multiget>"
    )
    status, _, answer = send(server, "REPORT", BOOK, body=body, headers={"Depth": "1"})
    assert status == 207
    data = ok_prop(responses(answer)[BOOK + "multiget.vcf"], CARDDAV + "address-data")
    assert data is not None and data.text is not None
    assert "VERSION:4.0" in data.text and "EMAIL;PREF=1:m@example.org" in data.text


def test_10_4_address_data_in_vcard4_in_a_sync_collection_too(server: RunningServer) -> None:
    assert put(server, "sync4.vcf", card("sync4", "Sync Four"))[0] in (201, 204)
    body = (
        f'<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:" xmlns:CR="{CR}"><D:sync-token/>'
        '<D:sync-level>1</D:sync-level><D:prop><D:getetag/><CR:address-data version="4.0"/></D:prop>'
        "</D:sync-collection>"
    )
    status, _, answer = send(server, "REPORT", BOOK, body=body, headers={"Depth": "1"})
    assert status == 207, answer
    data = ok_prop(responses(answer)[BOOK + "sync4.vcf"], CARDDAV + "address-data")
    assert data is not None and "VERSION:4.0" in (data.text or "")


# --- §10.5.1 with RFC 6350 §3.3 ---------------------------------------------------------------------------


def test_10_5_1_grouped_properties_match_by_name_and_by_group(server: RunningServer) -> None:
    apple = card(
        "grouped", "Grouped Card", "ITEM1.EMAIL;TYPE=INTERNET:grouped@example.org\r\nitem2.TEL:+33 4 99\r\n"
    )
    assert put(server, "grouped.vcf", apple)[0] in (201, 204)
    assert "grouped.vcf" in matching(server, text_match("EMAIL", "grouped@example"))
    assert "grouped.vcf" in matching(server, text_match("item1.EMAIL", "grouped@example"))
    assert "grouped.vcf" in matching(server, text_match("TEL", "4 99"))
    assert "grouped.vcf" not in matching(server, text_match("ITEM2.EMAIL", "grouped@example"))
    both = text_match("FN", "grouped card") + text_match("ITEM2.tel", "+33")
    assert matching(server, both, test="allof") == {
        "grouped.vcf"
    }  # the index narrows, Radicale's test decides


# --- §5.1.1, §6.2.2 ---------------------------------------------------------------------------------------


def test_5_1_1_get_serves_vcard4_when_accept_asks_for_it(server: RunningServer) -> None:
    assert put(server, "negotiate.vcf", card("negotiate", "Négo Ciation", "TEL;TYPE=CELL:+33 6\r\n"))[0] in (
        201,
        204,
    )
    status, headers, body = send(server, "GET", BOOK + "negotiate.vcf")
    assert status == 200 and b"VERSION:3.0" in body and headers["vary"] == "Accept"
    etag = headers["etag"]
    accept = "text/vcard;version=4.0, text/vcard;charset=utf-8;q=0.8"  # what DAVx5 sends
    status, headers, body = send(server, "GET", BOOK + "negotiate.vcf", headers={"Accept": accept})
    assert status == 200 and headers["content-type"].startswith("text/vcard; version=4.0")
    text = body.decode()
    assert "VERSION:4.0\r\n" in text and "TEL;TYPE=cell:+33 6\r\n" in text and "FN:Négo Ciation\r\n" in text
    listed = propfind(server, BOOK + "negotiate.vcf", "<D:getetag/>", depth="0")
    getetag = ok_prop(listed[BOOK + "negotiate.vcf"], DAV + "getetag")
    assert getetag is not None and headers["etag"] == etag == getetag.text
    status, _, _ = send(
        server,
        "PUT",
        BOOK + "negotiate.vcf",
        body=card("negotiate", "Négo Ciation"),
        headers={"Content-Type": "text/vcard", "If-Match": etag},
    )
    assert status == 204  # the entity tag of the 4.0 representation is the one If-Match knows
    for prefers_three in ("text/vcard;version=3.0", "text/vcard, text/vcard;version=4.0;q=0.5", "*/*"):
        body = send(server, "GET", BOOK + "negotiate.vcf", headers={"Accept": prefers_three})[2]
        assert b"VERSION:3.0" in body, prefers_three


def test_6_2_2_supported_address_data_lists_what_the_academic_book_serves(server: RunningServer) -> None:
    found = propfind(server, SHARED, "<CR:supported-address-data/>", depth="0")
    supported = ok_prop(found[SHARED], CARDDAV + "supported-address-data")
    assert supported is not None
    assert {(t.get("content-type"), t.get("version")) for t in supported} == {
        ("text/vcard", "3.0"),
        ("text/vcard", "4.0"),
    }
    item = next(href for href in propfind(server, SHARED, "<D:getetag/>") if href.endswith(".vcf"))
    body = send(server, "GET", item, headers={"Accept": "text/vcard; version=4.0"})[2]
    assert b"VERSION:4.0\r\n" in body and b"UID:urn:uuid:" in body


# --- RFC 6868 ---------------------------------------------------------------------------------------------


def test_rfc6868_caret_encoded_parameters_are_stored_and_served_unchanged(server: RunningServer) -> None:
    value = "Mr. John Q. Public, Esq.^nMail Drop: TNE QB^n^'Home^' ^^1"  # RFC 6868 §4's example, and more
    label = f'ADR;LABEL="{value}":;;123 Main Street;Any Town;;;\r\n'
    text = card("caret", "John Public", label + "X-NOTE;X-WHO=^'me^':a\r\n")
    status, _, body = put(server, "caret.vcf", text)
    assert status in (201, 204), body
    stored = send(server, "GET", BOOK + "caret.vcf")[2].decode().replace("\r\n ", "")
    assert "^nMail Drop: TNE QB^n^'Home^' ^^1" in stored and "X-WHO=^'me^'" in stored
    four = send(server, "GET", BOOK + "caret.vcf", headers={"Accept": "text/vcard;version=4.0"})[2]
    assert "^nMail Drop: TNE QB^n^'Home^' ^^1" in four.decode().replace("\r\n ", "")


# --- §7 with RFC 3744 §7.1.1 ------------------------------------------------------------------------------


def test_7_read_only_books_refuse_writes_with_need_privileges(server: RunningServer) -> None:
    item = next(href for href in propfind(server, SHARED, "<D:getetag/>") if href.endswith(".vcf"))
    proppatch = (
        '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>x'
        "</D:displayname></D:prop></D:set></D:propertyupdate>"
    )
    writes = [
        ("PUT", item, card("intruder", "Intrus"), "write-content", item),
        ("PUT", SHARED + "new.vcf", card("new", "Nouveau"), "write-content", SHARED + "new.vcf"),
        ("DELETE", item, "", "unbind", SHARED),
        ("PROPPATCH", SHARED, proppatch, "write-properties", SHARED),
    ]
    for method, path, body, privilege, href in writes:
        headers = {"Content-Type": "text/vcard"} if method == "PUT" else {}
        status, _, answer = send(server, method, path, body=body, headers=headers)
        assert status == 403, (method, path)
        resource = error_element(answer, DAV + "need-privileges").find(DAV + "resource")
        assert resource is not None and resource.findtext(DAV + "href") == href
        assert resource.find(f"{DAV}privilege/{DAV}{privilege}") is not None, (method, answer)
    assert send(server, "GET", item)[0] == 200
    assert send(server, "DELETE", item, login=None)[0] == 401  # anonymous: asked to log in, as before
