# SPDX-License-Identifier: GPL-3.0-or-later
"""Content coding of every DAV answer, done once at the edge (RFC 9110 §8.4, §12.5.3).

Radicale compresses every answer at zlib's default level when ``gzip`` appears in ``Accept-Encoding`` (and
misreads ``gzip;q=0`` as a yes). Here the application takes ``Accept-Encoding`` away from Radicale
(:func:`take_coding`), then :func:`finish` compresses what Radicale answered at the measured level of
:mod:`groupware.dav.streaming`, or hands out the streamed body a whole-collection responder left in the
request (:func:`stream`) instead of Radicale's empty one.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from typing import Any, cast

from groupware.dav.request import Answer
from groupware.dav.streaming import LEVEL, MIN_COMPRESSED, negotiate

__all__ = ["CODING", "STREAM", "coding_of", "finish", "materialized", "stream", "take_coding"]

#: WSGI environment keys: the coding chosen for this request's answer, and a streamed body with its length.
CODING = "groupware.coding"
STREAM = "groupware.stream"

WsgiAnswer = tuple[str, list[tuple[str, str]], Iterable[bytes]]


def take_coding(environ: Mapping[str, Any]) -> str:
    """Choose the answer's coding from ``Accept-Encoding`` and hide that header from Radicale."""
    environ = cast(dict[str, Any], environ)  # WSGI hands a dict (PEP 3333); Radicale types it as a Mapping
    coding = negotiate(str(environ.pop("HTTP_ACCEPT_ENCODING", "") or ""))
    environ[CODING] = coding
    return coding


def coding_of(environ: Mapping[str, Any]) -> str:
    """The coding :func:`take_coding` chose (``identity`` when it did not run)."""
    return str(environ.get(CODING, "identity"))


def stream(environ: Mapping[str, Any], body: Iterable[bytes], length: int | None) -> None:
    """Leave ``body`` (in :func:`coding_of`'s coding; ``length`` bytes when known) as the answer's body."""
    environ = cast(dict[str, Any], environ)
    environ[STREAM] = (body, length)


def materialized(environ: Mapping[str, Any], answer: Answer) -> Answer:
    """An answer (status, headers, body, XML request) of an inner request run with :func:`inner`'s
    environment, its streamed body read into bytes, for the caller to read."""
    status, headers, body, xml_request = answer
    streamed = cast(dict[str, Any], environ).pop(STREAM, None)
    if body is None and streamed is not None:
        body = b"".join(streamed[0])
    return status, headers, body, xml_request


def inner(environ: Mapping[str, Any]) -> None:
    """Make ``environ`` (a copy, for a request the application runs inside another) ask an uncompressed
    answer, which :func:`materialized` then gives as bytes."""
    cast(dict[str, Any], environ)[CODING] = "identity"


def finish(environ: Mapping[str, Any], answer: WsgiAnswer) -> WsgiAnswer:
    """The WSGI answer with its body coded: a streamed body in place of Radicale's empty one, or Radicale's
    body compressed when the client accepts gzip and it is worth it (RFC 9110 §8.4.1.3, §12.5.5 ``Vary``)."""
    status, headers, body = answer
    coding = coding_of(environ)
    streamed = cast(dict[str, Any], environ).pop(STREAM, None)
    if streamed is not None and status.startswith("207"):
        content, length = streamed
        headers = [(name, value) for name, value in headers if name.lower() != "content-length"]
        if length is not None:
            headers.append(("Content-Length", str(length)))
        return status, _coded(headers, coding), content
    coded = any(name.lower() == "content-encoding" for name, _ in headers)
    if coding != "gzip" or coded or not isinstance(body, list):
        return answer
    data = b"".join(body)
    if len(data) < MIN_COMPRESSED:
        return answer
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    data = compressor.compress(data) + compressor.flush()
    headers = [(name, value) for name, value in headers if name.lower() != "content-length"]
    headers.append(("Content-Length", str(len(data))))
    return status, _coded(headers, coding), [data]


def _coded(headers: list[tuple[str, str]], coding: str) -> list[tuple[str, str]]:
    headers = [*headers, ("Vary", "Accept-Encoding")]
    if coding != "identity":
        headers.append(("Content-Encoding", coding))
    return headers
