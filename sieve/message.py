# SPDX-License-Identifier: GPL-3.0-or-later
"""Facts about the message under evaluation, read with the ``email`` standard library.

Header values are unfolded and MIME-decoded (RFC 5228 §2.7.2, RFC 2047); addresses are parsed as RFC 5322
address lists (groups flattened, RFC 5228 §2.7.4); body parts are transfer-decoded and charset-decoded for the
``body`` test (RFC 5173 §5). Everything is computed lazily and cached, once per message.

MIME nesting (RFC 2046 §5.1, §5.2) is bounded: a part deeper than ``max_mime_depth`` containers is read as an
opaque leaf, its content not parsed, as Dovecot's message parser does beyond ``max_nested_mime_parts`` (100).
The standard parser recurses once per level, so thousands of nested multiparts would otherwise exhaust the
stack and the message could never be delivered.
"""

from __future__ import annotations

import base64
import binascii
import email.feedparser
import email.parser
import email.policy
import email.utils
import quopri
import re
from email.message import Message

__all__ = [
    "MAX_MIME_DEPTH",
    "Address",
    "MessageFacts",
    "decode_header_value",
    "parse_addresses",
    "parse_message",
]

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=")
_GAP = re.compile(r"(\?=)\s+(=\?)")
#: A line break and the white-space character after it become one space (RFC 5322 §2.2.3 unfolding as
#: Pigeonhole does it: a tab that continues a field is read as a space, RFC 5228 §2.4.2.2).
_FOLD = re.compile(r"\r?\n[ \t]")
_PARSER = email.parser.BytesParser(policy=email.policy.compat32)
#: Containers (multipart, message/rfc822) a part may be nested in before it is opaque: Dovecot's default.
MAX_MIME_DEPTH = 100

_SIMPLE_ADDRESS = re.compile(
    r"\s*(?:[^\s<>,;:()\"\\@\[\]][^<>,;:()\"\\@\[\]]*)?<([^\s<>,;:()\"\\@\[\]]+)@([^\s<>,;:()\"\\@\[\]]+)>"
    r"\s*\Z|\s*([^\s<>,;:()\"\\@\[\]]+)@([^\s<>,;:()\"\\@\[\]]+)\s*\Z"
)
Address = tuple[str, str]  # local part, domain ("" when absent)


def _bytes_text(value: str) -> str:
    """Undo surrogate escapes left by the parser: 8-bit header bytes are read as UTF-8 (RFC 6532)."""
    if value.isascii():
        return value
    try:
        raw = value.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return value
    return raw.decode("utf-8", "replace")


def _decode_word(m: re.Match[str]) -> str:
    charset, enc, text = m.group(1).split("*", 1)[0], m.group(2).upper(), m.group(3)
    try:
        if enc == "B":
            raw = base64.b64decode(text + "=" * (-len(text) % 4))
        else:
            raw = quopri.decodestring(text.replace("_", " ").encode("ascii", "replace"), header=True)
        return raw.decode(charset, "replace")
    except (LookupError, binascii.Error, ValueError):
        return m.group(0)


def _field_text(value: str) -> str:
    """A field's value as the tests read it: 8-bit bytes as UTF-8, unfolded (RFC 5322 §2.2.3, RFC 6532)."""
    if not value.isascii():
        value = _bytes_text(value)
    return _FOLD.sub(" ", value) if "\n" in value else value


def decode_header_value(value: str) -> str:
    """Unfold and decode RFC 2047 encoded words; white space between adjacent words is dropped (§6.2)."""
    return _decode_text(_FOLD.sub(" ", _bytes_text(value)))


def _decode_text(value: str) -> str:
    """:func:`decode_header_value` for a value already read as text and unfolded (what ``header_raw``
    holds).
    """
    if "\n" in value:
        value = _FOLD.sub(" ", value)
    value = value.strip(" \t\r\n")
    if "=?" not in value:
        return value
    value = _GAP.sub(r"\1\2", value)
    return _ENCODED_WORD.sub(_decode_word, value)


def _split_address(addr: str) -> Address:
    at = addr.rfind("@")
    if at < 0:
        return addr, ""
    return addr[:at], addr[at + 1 :]


def parse_addresses(value: str) -> list[Address] | None:
    """The addresses of an address-list header, or None when it cannot be parsed (RFC 5322 §3.4).

    As in Pigeonhole, a list without any address (an empty group) or an address without a domain makes the
    whole field unparsable; the address test then sees the raw value as ``:all`` only.
    """
    if not value.strip():
        return []
    simple = _SIMPLE_ADDRESS.match(value)
    if simple is not None:
        local, domain = simple.group(1, 2) if simple.group(1) is not None else simple.group(3, 4)
        return [(local, domain)]
    try:
        pairs = email.utils.getaddresses([value])
    except (ValueError, IndexError, TypeError):  # pragma: no cover - pathological input
        return None
    out: list[Address] = []
    for name, addr in pairs:
        if not addr:
            if name:
                return None
            continue
        if "@" not in addr:
            return None
        out.append(_split_address(addr))
    return out or None


class _OpaquePart(Message):
    """A part past the nesting bound: it says it is not a container, so the parser keeps it as a leaf."""

    opaque = False

    def get_content_maintype(self) -> str:
        main = super().get_content_maintype()
        return "application" if self.opaque and main in ("multipart", "message") else main


class _BoundedParser(email.feedparser.FeedParser):
    """The standard feed parser with parts past ``max_depth`` containers marked opaque (RFC 2046 §5)."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(_OpaquePart, policy=email.policy.compat32)
        self.max_depth = max_depth

    def _parse_headers(self, lines: list[str]) -> None:
        super()._parse_headers(lines)  # type: ignore[misc]
        stack: list[Message] = getattr(self, "_msgstack", [])
        current = getattr(self, "_cur", None)
        if len(stack) > self.max_depth and isinstance(current, _OpaquePart):
            current.opaque = True


def parse_message(raw: bytes, max_depth: int = MAX_MIME_DEPTH) -> Message:
    """Parse a message with MIME nesting bounded to ``max_depth`` containers (0: the standard parser).

    Should the standard parser still fail on some input, the header is parsed and the rest is one opaque body,
    so that the message can be delivered (its body tests see less, nothing is lost).
    """
    if not max_depth:
        return _PARSER.parsebytes(raw)
    parser = _BoundedParser(max_depth)
    text = raw.decode("ascii", "surrogateescape")
    try:
        parser.feed(text)
        return parser.close()
    except (RecursionError, MemoryError):
        return email.parser.Parser(policy=email.policy.compat32).parsestr(text, headersonly=True)


class MessageFacts:
    """A parsed message and the lazily computed views the tests need."""

    __slots__ = (
        "_addresses",
        "_decoded",
        "_grouped",
        "_headers",
        "_index",
        "_text_parts",
        "memo",
        "message",
        "raw",
    )

    def __init__(
        self, raw: bytes, message: Message | None = None, max_mime_depth: int = MAX_MIME_DEPTH
    ) -> None:
        self.raw = raw
        self.message = message if message is not None else parse_message(raw, max_mime_depth)
        self._headers: list[tuple[str, str]] | None = None
        #: The fields by lower-case name as the message has them, then the values read (:meth:`header_raw`).
        self._grouped: dict[str, list[str]] | None = None
        self._index: dict[str, list[str]] = {}
        self._decoded: dict[str, list[str]] = {}
        self._addresses: dict[str, list[list[Address] | None]] = {}
        self._text_parts: dict[tuple[str, ...], list[str]] = {}
        #: Views derived from the header fields by the compiled tests (folded values, address parts), so that
        #: several rules on one field compute them once per message; cleared when the header fields change.
        self.memo: dict[tuple[str, str, str], list[str]] = {}

    @property
    def headers(self) -> list[tuple[str, str]]:
        """All header fields in order, as (name, raw unfolded value)."""
        headers = self._headers
        if headers is None:
            headers = self._headers = [(n, _field_text(v)) for n, v in self.message.raw_items()]
        return headers

    def set_headers(self, headers: list[tuple[str, str]]) -> None:
        """Replace the header view after ``addheader``/``deleteheader`` (RFC 5293 §3)."""
        self._headers = headers
        self._grouped = None
        self._index = {}
        self._decoded = {}
        self._addresses = {}
        self.memo = {}

    def header(self, name: str) -> list[str]:
        """Decoded values of every field called ``name`` (case-insensitive), in order (RFC 2047)."""
        values = self._decoded.get(name)
        if values is None:
            values = self._decoded[name] = [_decode_text(v) for v in self.header_raw(name)]
        return values

    def addresses(self, name: str) -> list[list[Address] | None]:
        """The parsed address list of every field called ``name``; None for a field that cannot be parsed."""
        key = name.lower()
        found = self._addresses.get(key)
        if found is None:
            found = self._addresses[key] = [parse_addresses(v) for v in self.header_raw(key)]
        return found

    def received_header(self, name: str) -> str | None:
        """The first field called ``name`` as received, decoded: what ``addheader``/``deleteheader`` changed
        is not seen (RFC 5293 §3 edits the message delivered; a vacation reply answers the one received)."""
        for n, v in self.message.raw_items():
            if n.lower() == name.lower():
                return _decode_text(_FOLD.sub(" ", _bytes_text(v)) if "\n" in v else _bytes_text(v))
        return None

    def header_raw(self, name: str) -> list[str]:
        """Unfolded, undecoded values of every field called ``name`` (case-insensitive), in order.

        The fields are grouped by name in one pass, and the values of a name are read (8-bit bytes as UTF-8,
        unfolded) the first time it is asked for: most fields of a message are never tested.
        """
        key = name.lower()
        found = self._index.get(key)
        if found is None:
            grouped = self._grouped
            if grouped is None:
                grouped = self._grouped = {}
                for n, v in self.message.raw_items() if self._headers is None else self._headers:
                    n = n.lower()
                    same = grouped.get(n)
                    if same is None:
                        grouped[n] = [v]
                    else:
                        same.append(v)
            raw = grouped.get(key)
            found = self._index[key] = [_field_text(v) for v in raw] if raw is not None else []
        return found

    @property
    def size(self) -> int:
        """Size of the message in octets (RFC 5228 §5.9)."""
        return len(self.raw)

    def body(self, transform: str, types: tuple[str, ...] = ()) -> list[str]:
        """Body text for the ``body`` test: ``raw``, ``text`` or ``content`` with media types (RFC 5173
        §5).
        """
        key = (transform, *types)
        if key not in self._text_parts:
            self._text_parts[key] = self._compute_body(transform, types)
        return self._text_parts[key]

    def _compute_body(self, transform: str, types: tuple[str, ...]) -> list[str]:
        if transform == "raw":
            raw = self.raw
            for sep in (b"\r\n\r\n", b"\n\n"):
                at = raw.find(sep)
                if at >= 0:
                    return [raw[at + len(sep) :].decode("utf-8", "replace")]
            return [""]
        wanted = ("text",) if transform == "text" else types
        out: list[str] = []
        for part in self.message.walk():
            ctype = part.get_content_type().lower()
            if not _type_matches(ctype, wanted):
                continue
            if ctype.startswith("message/") and part.is_multipart():
                # an encapsulated message: its header (RFC 5173 §5.2, as Pigeonhole)
                inner = part.get_payload(0)
                items: list[tuple[str, str]] = list(inner.raw_items()) if isinstance(inner, Message) else []
                out.append("".join(f"{n}: {_bytes_text(v)}\n" for n, v in items))
            elif part.is_multipart():
                out.append((part.preamble or "") + (part.epilogue or ""))
            elif transform == "text" and ctype == "text/html":
                out.append(html_to_text(_decoded_payload(part)))
            else:
                out.append(_decoded_payload(part))
        return out


#: Comments, script and style elements, tags, text, and a "<" that starts no tag.
_HTML = re.compile(r"<!--.*?-->|<(script|style)\b.*?</\1\s*>|<[^>]*>|[^<]+|<", re.IGNORECASE | re.DOTALL)


def html_to_text(markup: str) -> str:
    """The text of an HTML part for ``body :text`` (RFC 5173 §5.2 leaves the conversion open), as Dovecot
    makes it: comments dropped, a tag or a script or style element read as one space unless the text so far
    is empty or ends in a space or a line break, text and its entities kept as they are."""
    import html

    out: list[str] = []
    for m in _HTML.finditer(markup):
        token = m.group(0)
        if token.startswith("<!--"):
            continue
        if token.startswith("<") and len(token) > 1:
            if out and out[-1][-1] not in " \n":
                out.append(" ")
        elif token:
            out.append(html.unescape(token))
    return "".join(out)


def _type_matches(ctype: str, wanted: tuple[str, ...]) -> bool:
    main = ctype.split("/", 1)[0]
    for t in wanted:
        t = t.lower()
        if t == "" or t == ctype or ("/" not in t and t == main):
            return True
    return False


def _decoded_payload(part: Message) -> str:
    if part.is_multipart():
        return ""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    # Without a charset, or with US-ASCII, 8-bit octets are read as UTF-8, as Pigeonhole does (a part that is
    # not text has no charset: its octets are compared as they are).
    charset = part.get_content_charset() or "utf-8"
    if charset in ("us-ascii", "ascii"):
        charset = "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")
