# SPDX-License-Identifier: GPL-3.0-or-later
"""Compressed and streamed answers over a real server (RFC 9110 §8.4, §12.5.3): the bytes a client gets
decompressed are the bytes it gets uncompressed, a whole collection is compressed once per revision, and a
change of the collection is seen at once."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest
import support
from support import USER, RunningServer, count_fast_renders, request

BOOK = f"/{USER}/contacts/"
LISTING = '<d:propfind xmlns:d="DAV:"><d:prop><d:getcontenttype/><d:getetag/></d:prop></d:propfind>'
SYNC = (
    '<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level><prop><getetag/></prop>'
    "</sync-collection>"
)
GZIP = {"Accept-Encoding": "gzip, deflate, br"}


def _card(index: int) -> str:
    return (
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:card-{index}\r\nFN:Personne {index}\r\n"
        f"EMAIL:personne.{index}@ac-montpellier.fr\r\nEND:VCARD\r\n"
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    running = RunningServer(
        support.config_module.load(support.write_config(tmp_path / "gzip.conf", support.LDIF_DIRECTORY))
    )
    assert request(running, "PROPFIND", f"/{USER}/", headers={"Depth": "1"})[0] == 207  # provisions
    for index in range(60):
        put = request(
            running,
            "PUT",
            f"{BOOK}card-{index}.vcf",
            body=_card(index),
            headers={"Content-Type": "text/vcard"},
        )
        assert put[0] == 201
    yield running
    running.stop()


def _fetch(
    server: RunningServer, method: str, body: str, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    return request(server, method, BOOK, body=body, headers={"Depth": "1", **headers})


@pytest.mark.parametrize(
    ("method", "body", "responses"),
    [("PROPFIND", LISTING, 61), ("REPORT", SYNC, 60)],
    ids=["listing", "sync"],
)
def test_8_4_gzip_answers_decompress_to_the_plain_answer(
    server: RunningServer, method: str, body: str, responses: int
) -> None:
    status, headers, plain = _fetch(server, method, body, {})
    assert status == 207 and "content-encoding" not in headers
    status, headers, compressed = _fetch(server, method, body, GZIP)
    assert status == 207 and headers["content-encoding"] == "gzip"
    assert headers["vary"] == "Accept-Encoding"
    assert gzip.decompress(compressed) == plain
    assert plain.count(b"<response>") == responses  # the 60 cards (and the collection itself in a listing)


def test_the_second_identical_request_is_served_without_rendering(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    renders = count_fast_renders(monkeypatch)
    first = _fetch(server, "PROPFIND", LISTING, GZIP)
    assert renders() == 59  # the first card through Radicale, the 59 others from facts
    second = _fetch(server, "PROPFIND", LISTING, GZIP)
    assert renders() == 59
    assert second[2] == first[2] and second[1]["content-length"] == str(len(first[2]))
    assert server.server.app.answers.size > 0


def test_a_change_is_seen_by_the_next_request(server: RunningServer) -> None:
    before = gzip.decompress(_fetch(server, "PROPFIND", LISTING, GZIP)[2])
    assert (
        request(server, "PUT", f"{BOOK}late.vcf", body=_card(999), headers={"Content-Type": "text/vcard"})[0]
        == 201
    )
    after = gzip.decompress(_fetch(server, "PROPFIND", LISTING, GZIP)[2])
    assert b"late.vcf" not in before and b"late.vcf" in after
    assert request(server, "DELETE", f"{BOOK}card-3.vcf")[0] in (200, 204)
    again = gzip.decompress(_fetch(server, "PROPFIND", LISTING, GZIP)[2])
    assert b"card-3.vcf" in after and b"card-3.vcf" not in again


def test_gzip_refused_with_q_0_gets_identity(server: RunningServer) -> None:
    status, headers, plain = _fetch(server, "PROPFIND", LISTING, {"Accept-Encoding": "gzip;q=0, identity"})
    assert status == 207 and "content-encoding" not in headers and plain.startswith(b"<?xml")


def test_other_answers_are_compressed_when_worth_it(server: RunningServer) -> None:
    status, headers, compressed = request(server, "PROPFIND", f"/{USER}/", headers={"Depth": "1", **GZIP})
    assert status == 207 and headers["content-encoding"] == "gzip"
    assert int(headers["content-length"]) == len(compressed) and gzip.decompress(compressed).startswith(
        b"<?xml"
    )
    status, headers, small = request(server, "GET", f"{BOOK}card-1.vcf", headers=GZIP)
    assert status == 200 and "content-encoding" not in headers and small.startswith(b"BEGIN:VCARD")


def test_a_limited_sync_asked_with_gzip_pages_its_inner_answers(server: RunningServer) -> None:
    """RFC 6578 §3.7: a sync-collection with DAV:limit is answered from inner syncs of the collection; asked
    with gzip, the client gets the page compressed once, the inner answers read as plain bytes."""
    limited = SYNC.replace("<sync-level>", "<limit><nresults>10</nresults></limit><sync-level>")
    status, headers, compressed = _fetch(server, "REPORT", limited, GZIP)
    assert status == 207 and headers["content-encoding"] == "gzip"
    page = gzip.decompress(compressed)
    assert page.count(b"<response>") == 11  # ten cards, and the collection's 507 (more to come)
    assert b"507" in page
