# SPDX-License-Identifier: GPL-3.0-or-later
"""vCard 3.0 (RFC 2426) cards as vCard 4.0 (RFC 6350), for the clients that ask for 4.0 (RFC 6352 §5.1.1).

The store keeps what clients uploaded, nearly always vCard 3.0 (what Thunderbird, iOS and DAVx5 write while
3.0 is what an address book announces first). :func:`as_vcard4` gives the 4.0 representation of a stored card,
line by line, following RFC 6350 Appendix A ("Differences from RFCs 2425 and 2426"):

* ``VERSION:4.0``; ``NAME``, ``PROFILE``, ``MAILER``, ``LABEL``, ``CLASS``, ``SORT-STRING`` and ``AGENT``,
  gone from 4.0, are left out; ``CHARSET`` parameters too (4.0 is always UTF-8, §3.1);
* ``TYPE=PREF`` becomes ``PREF=1`` (§5.3); type values are lower case, and those 4.0 dropped (``internet``,
  ``x400``, ``dom``, ``intl``, ``postal``, ``parcel``) are left out (§6.3.1, §6.4.2);
* inline binary values (``ENCODING=b`` with ``TYPE=JPEG``) become ``data:`` URIs (RFC 2397; §6.2.4, §6.6.3,
  §6.7.5, §6.8.1); ``GEO:lat;lon`` becomes a ``geo:`` URI (§6.5.2); a UID that is not a URI is marked
  ``VALUE=text`` (§6.7.6);
* Apple's ``X-ADDRESSBOOKSERVER-KIND`` and ``-MEMBER`` become ``KIND`` and ``MEMBER`` (§6.1.4, §6.6.5).

Groups (``item1.EMAIL``, §3.3) and parameter values are kept as written, so RFC 6868 caret encodings
(``^n``, ``^^``, ``^'``) travel unchanged. A card that is not vCard 3.0 is returned unchanged. The academic
books' cards are converted as the address-book sync defines them (:func:`groupware.addressbooks.to_vcard4`).
"""

from __future__ import annotations

import re

from groupware.addressbooks import is_ours, to_vcard4

__all__ = ["ContentLine", "as_vcard4", "content_lines", "fold", "split_line"]

#: vCard 3.0 properties that vCard 4.0 no longer has (RFC 6350 Appendix A).
DROPPED = frozenset({"NAME", "PROFILE", "MAILER", "LABEL", "CLASS", "SORT-STRING", "AGENT"})
#: Type values of RFC 2426 that RFC 6350 dropped (§6.3.1 ADR, §6.4.2 EMAIL).
DROPPED_TYPES = frozenset({"internet", "x400", "dom", "intl", "postal", "parcel"})
#: Properties whose inline value is binary, and the top-level media type of a bare ``TYPE=JPEG``.
BINARY_MEDIA = {"PHOTO": "image", "LOGO": "image", "SOUND": "audio", "KEY": "application"}
#: Full media types of RFC 2426 key types (§3.7.2).
KEY_MEDIA = {"PGP": "application/pgp-keys", "X509": "application/pkix-cert"}
RENAMED = {"X-ADDRESSBOOKSERVER-KIND": "KIND", "X-ADDRESSBOOKSERVER-MEMBER": "MEMBER"}
_FOLD = re.compile(r"\r?\n[ \t]")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")

#: One content line (RFC 6350 §3.3): group (or ""), name, parameters as written (``NAME=value`` texts), value.
ContentLine = tuple[str, str, list[str], str]


def content_lines(text: str) -> list[str]:
    """The unfolded content lines of a vCard text (RFC 6350 §3.2), empty lines left out."""
    return [line for line in _FOLD.sub("", text).replace("\r\n", "\n").split("\n") if line]


def split_line(line: str) -> ContentLine:
    """``group.NAME;PARAM=v;…:value`` split where neither a quoted parameter value nor the value is cut
    (RFC 6350 §3.3: a colon or semicolon inside double quotes belongs to the parameter)."""
    parts: list[str] = []
    start, quoted = 0, False
    for index, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif not quoted and char in ";:":
            parts.append(line[start:index])
            start = index + 1
            if char == ":":
                break
    else:
        return "", line.upper(), [], ""
    name, params = parts[0], parts[1:]
    group, _, bare = name.rpartition(".")
    return group, bare.upper(), params, line[start:]


def fold(line: str) -> str:
    """``line`` folded at 75 octets (RFC 6350 §3.2), never inside a UTF-8 sequence."""
    out: list[str] = []
    current, size = "", 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > 75:
            out.append(current)
            current, size = " ", 1
        current += char
        size += width
    out.append(current)
    return "\r\n".join(out)


def _param(param: str) -> tuple[str, str]:
    key, _, value = param.partition("=")
    return key.upper(), value


def _types(values: str) -> list[str]:
    return [v.strip('"').lower() for v in values.split(",") if v.strip('"')]


def _convert(line: ContentLine) -> ContentLine | None:
    """One vCard 3.0 content line as vCard 4.0, or None when 4.0 has no such property."""
    group, name, params, value = line
    if name in DROPPED:
        return None
    name = RENAMED.get(name, name)
    kept: list[str] = []
    types: list[str] = []
    binary = False
    for key, raw in map(_param, params):
        if key == "TYPE":
            types.extend(_types(raw))
        elif key == "ENCODING" and raw.strip('"').upper() in ("B", "BASE64"):
            binary = True
        elif key != "CHARSET":
            kept.append(f"{key}={raw}" if raw else key)
    if "pref" in types:
        kept.append("PREF=1")
    types = [t for t in types if t != "pref" and not (t in DROPPED_TYPES and name in ("EMAIL", "ADR"))]
    if binary and name in BINARY_MEDIA:
        kind = types.pop(0).upper() if types else ""
        media = KEY_MEDIA.get(kind) if name == "KEY" else None
        media = media or (f"{BINARY_MEDIA[name]}/{kind.lower()}" if kind else "application/octet-stream")
        value = f"data:{media};base64,{value}"
    elif name == "GEO" and ";" in value and not value.lower().startswith("geo:"):
        value = "geo:" + value.replace(";", ",", 1)
    elif name == "UID" and not _URI.match(value) and not any(p.upper().startswith("VALUE=") for p in kept):
        kept.append("VALUE=text")
    elif name == "MEMBER" and not _URI.match(value):
        value = "urn:uuid:" + value
    if types:
        kept.append("TYPE=" + ",".join(types))
    return group, name, kept, value


def _write(line: ContentLine) -> str:
    group, name, params, value = line
    head = f"{group}.{name}" if group else name
    return fold(";".join([head, *params]) + ":" + value)


def as_vcard4(text: str) -> str:
    """The vCard 4.0 representation of a stored card (or of several, one after the other: a whole book)."""
    if "VERSION:3.0" not in text.upper():
        return text
    cards: list[str] = []
    for card in re.split(r"(?im)^(?=BEGIN:VCARD\r?$)", text):
        if is_ours(card):
            cards.append(to_vcard4(card))
            continue
        out: list[str] = []
        for raw in content_lines(card):
            line = split_line(raw)
            if line[1] == "VERSION":
                out.append("VERSION:4.0")
                continue
            converted = _convert(line) if ":" in raw else line
            if converted is not None:
                out.append(_write(converted) if converted is not line else raw)
        cards.append("".join(f"{line}\r\n" for line in out) if out else card)
    return "".join(cards)
