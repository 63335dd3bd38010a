# SPDX-License-Identifier: GPL-3.0-or-later
"""Content-coding negotiation (RFC 9110 §12.5.3), streamed bodies and the cache of compressed answers."""

from __future__ import annotations

import gzip
import threading

import pytest

from groupware.dav import streaming
from groupware.dav.encoding import STREAM, finish, stream, take_coding
from groupware.dav.streaming import AnswerCache, Body, negotiate


@pytest.mark.parametrize(
    ("header", "coding"),
    [
        ("", "identity"),
        ("gzip", "gzip"),
        ("gzip, deflate, br, zstd", "gzip"),
        ("GZIP;Q=0.5", "gzip"),
        ("gzip;q=0", "identity"),
        ("gzip;q=0.000, identity", "identity"),
        ("*", "gzip"),
        ("*;q=0", "identity"),
        ("*, gzip;q=0", "identity"),
        ("x-gzip", "gzip"),
        ("br", "identity"),
        ("gzip;q=nonsense", "identity"),
        ("identity;q=0", "identity"),  # an answer must go: identity is never refused
    ],
)
def test_12_5_3_accept_encoding_with_qualities(header: str, coding: str) -> None:
    assert negotiate(header) == coding


def test_a_body_is_chunked_and_gzip_gives_back_the_same_bytes() -> None:
    texts = ["<head>", *(f"<item>{index} é</item>" for index in range(20_000)), "</tail>"]
    expected = "".join(texts).encode("utf-8")
    plain = list(Body(texts, "utf-8", "identity"))
    assert b"".join(plain) == expected
    assert len(plain) > 1 and max(len(chunk) for chunk in plain) < 2 * streaming.CHUNK
    kept: list[list[bytes]] = []
    compressed = list(Body(texts, "utf-8", "gzip", kept.append))
    assert gzip.decompress(b"".join(compressed)) == expected
    assert kept == [compressed]


def test_a_body_closed_before_its_end_is_aborted_not_completed() -> None:
    events: list[str] = []
    body = Body(
        (f"<i>{index}</i>" for index in range(100_000)),
        "utf-8",
        "gzip",
        lambda chunks: events.append("complete"),
        lambda: events.append("abort"),
    )
    iterator = iter(body)
    next(iterator)
    body.close()
    body.close()
    assert events == ["abort"]
    finished = Body(
        ["<a/>"], "utf-8", "gzip", lambda chunks: events.append("complete"), lambda: events.append("x")
    )
    list(finished)
    finished.close()
    assert events == ["abort", "complete"]


def test_the_cache_drops_the_least_recently_used_and_never_keeps_a_giant() -> None:
    cache = AnswerCache(400)
    cache.put("a", [b"a" * 100])
    cache.put("b", [b"b" * 100])
    assert cache.get("a") == b"a" * 100  # a is now the most recent
    cache.put("c", [b"c" * 100])
    cache.put("d", [b"d" * 100])
    cache.put("e", [b"e" * 100])
    assert cache.get("b") is None and cache.get("a") is not None
    assert cache.size <= 400
    cache.put("giant", [b"g" * 101])  # over a quarter of the cache
    assert cache.get("giant") is None


def test_one_flight_per_key_the_others_wait_for_it() -> None:
    cache = AnswerCache(10_000)
    assert cache.claim("k", 1) is None  # the first request makes it
    answers: list[bytes | None] = []
    waiter = threading.Thread(target=lambda: answers.append(cache.claim("k", 10)))
    waiter.start()
    cache.put("k", [b"made ", b"once"])
    waiter.join(5)
    assert answers == [b"made once"]


def test_an_abandoned_flight_lets_the_next_request_make_the_answer() -> None:
    cache = AnswerCache(10_000)
    assert cache.claim("k", 1) is None
    cache.release("k")
    assert cache.claim("k", 1) is None  # no answer kept, no flight left behind: this one makes it


def test_finish_compresses_radicale_answers_and_hands_out_streams() -> None:
    environ: dict[str, object] = {"HTTP_ACCEPT_ENCODING": "gzip"}
    assert take_coding(environ) == "gzip" and "HTTP_ACCEPT_ENCODING" not in environ
    data = b"<multistatus>" + b"<response/>" * 500 + b"</multistatus>"
    status, headers, body = finish(
        environ, ("207 Multi-Status", [("Content-Length", str(len(data)))], [data])
    )
    names = dict(headers)
    assert names["Content-Encoding"] == "gzip" and names["Vary"] == "Accept-Encoding"
    compressed = b"".join(body)
    assert int(names["Content-Length"]) == len(compressed) and gzip.decompress(compressed) == data
    small = finish(environ, ("200 OK", [("Content-Length", "2")], [b"ok"]))
    assert small == ("200 OK", [("Content-Length", "2")], [b"ok"])
    stream(environ, [b"streamed"], None)
    status, headers, body = finish(environ, ("207 Multi-Status", [("Content-Length", "0")], []))
    assert body == [b"streamed"] and "Content-Length" not in dict(headers) and STREAM not in environ
