# SPDX-License-Identifier: GPL-3.0-or-later
"""Signatures of every command and test we support: tags, positional arguments, extension to ``require``.

One table entry per command or test, each citing its RFC. :mod:`compile` checks the parsed arguments against
these before building the operation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["COMMANDS", "KNOWN_EXTENSIONS", "TESTS", "Signature", "TagSpec"]


@dataclass(frozen=True, slots=True)
class TagSpec:
    """A tagged argument: the kind of value it takes (``string``, ``strings``, ``number`` or None), the
    extension it needs, and the group of tags that exclude one another."""

    arg: str | None = None
    ext: str | None = None
    group: str | None = None


@dataclass(frozen=True, slots=True)
class Signature:
    """Positional kinds (``string``, ``strings``, ``number``), how many may be left out (the ``optional``
    leading ones, or trailing ones with ``optional_last``), tags, tests (``none``, ``one``, ``list``)."""

    positional: tuple[str, ...] = ()
    tags: dict[str, TagSpec] = field(default_factory=dict)
    tests: str = "none"
    ext: str | None = None
    block: bool = False
    optional: int = 0
    optional_last: bool = False


_MATCH = {
    "is": TagSpec(group="match"),
    "contains": TagSpec(group="match"),
    "matches": TagSpec(group="match"),
    "regex": TagSpec(ext="regex", group="match"),
    "value": TagSpec("string", ext="relational", group="match"),
    "count": TagSpec("string", ext="relational", group="match"),
    "comparator": TagSpec("string", group="comparator"),
}
_ADDRESS = {
    "all": TagSpec(group="address-part"),
    "localpart": TagSpec(group="address-part"),
    "domain": TagSpec(group="address-part"),
    "user": TagSpec(ext="subaddress", group="address-part"),
    "detail": TagSpec(ext="subaddress", group="address-part"),
}
_INDEX = {"index": TagSpec("number", ext="index"), "last": TagSpec(ext="index")}
_ZONE = {"zone": TagSpec("string", group="zone"), "originalzone": TagSpec(group="zone")}

TESTS: dict[str, Signature] = {
    # RFC 5228 §5
    "address": Signature(("strings", "strings"), {**_MATCH, **_ADDRESS, **_INDEX}),
    "allof": Signature(tests="list"),
    "anyof": Signature(tests="list"),
    "envelope": Signature(("strings", "strings"), {**_MATCH, **_ADDRESS}, ext="envelope"),
    "exists": Signature(("strings",)),
    "false": Signature(),
    "header": Signature(("strings", "strings"), {**_MATCH, **_INDEX}),
    "not": Signature(tests="one"),
    "size": Signature(("number",), {"over": TagSpec(group="size"), "under": TagSpec(group="size")}),
    "true": Signature(),
    # RFC 5173
    "body": Signature(
        ("strings",),
        {
            **_MATCH,
            "raw": TagSpec(group="transform"),
            "text": TagSpec(group="transform"),
            "content": TagSpec("strings", group="transform"),
        },
        ext="body",
    ),
    # RFC 5260
    "date": Signature(("string", "string", "strings"), {**_MATCH, **_INDEX, **_ZONE}, ext="date"),
    "currentdate": Signature(("string", "strings"), {**_MATCH, "zone": TagSpec("string")}, ext="date"),
    # RFC 5229 §5
    "string": Signature(("strings", "strings"), dict(_MATCH), ext="variables"),
    # RFC 5232 §4
    "hasflag": Signature(("strings", "strings"), dict(_MATCH), ext="imap4flags", optional=1),
    # RFC 5490 §3.1
    "mailboxexists": Signature(("strings",), ext="mailbox"),
    # RFC 5183
    "environment": Signature(("string", "strings"), dict(_MATCH), ext="environment"),
    # RFC 5463
    "ihave": Signature(("strings",), ext="ihave"),
    # RFC 7352
    "duplicate": Signature(
        (),
        {
            "handle": TagSpec("string"),
            "header": TagSpec("string", group="id"),
            "uniqueid": TagSpec("string", group="id"),
            "seconds": TagSpec("number"),
            "last": TagSpec(),
        },
        ext="duplicate",
    ),
    # RFC 5435 §5
    "valid_notify_method": Signature(("strings",), ext="enotify"),
    "notify_method_capability": Signature(("string", "string", "strings"), dict(_MATCH), ext="enotify"),
}

_FLAGS = {"flags": TagSpec("strings", ext="imap4flags")}
_SET_MODIFIERS = {
    "lower": TagSpec(group="case"),
    "upper": TagSpec(group="case"),
    "lowerfirst": TagSpec(group="casefirst"),
    "upperfirst": TagSpec(group="casefirst"),
    "quotewildcard": TagSpec(group="quote"),
    "encodeurl": TagSpec(ext="enotify", group="encode"),
    "length": TagSpec(group="length"),
}

COMMANDS: dict[str, Signature] = {
    # RFC 5228 §3, §4
    "require": Signature(("strings",)),
    "if": Signature(tests="one", block=True),
    "elsif": Signature(tests="one", block=True),
    "else": Signature(block=True),
    "stop": Signature(),
    "keep": Signature((), dict(_FLAGS)),
    "discard": Signature(),
    "redirect": Signature(("string",), {"copy": TagSpec(ext="copy")}),
    "fileinto": Signature(
        ("string",),
        {"copy": TagSpec(ext="copy"), "create": TagSpec(ext="mailbox"), **_FLAGS},
        ext="fileinto",
    ),
    # RFC 5429
    "reject": Signature(("string",), ext="reject"),
    "ereject": Signature(("string",), ext="ereject"),
    # RFC 5230, RFC 6131
    "vacation": Signature(
        ("string",),
        {
            "days": TagSpec("number", group="period"),
            "seconds": TagSpec("number", ext="vacation-seconds", group="period"),
            "subject": TagSpec("string"),
            "from": TagSpec("string"),
            "addresses": TagSpec("strings"),
            "mime": TagSpec(),
            "handle": TagSpec("string"),
        },
        ext="vacation",
    ),
    # RFC 5232 §3
    "setflag": Signature(("string", "strings"), ext="imap4flags", optional=1),
    "addflag": Signature(("string", "strings"), ext="imap4flags", optional=1),
    "removeflag": Signature(("string", "strings"), ext="imap4flags", optional=1),
    # RFC 5229 §4
    "set": Signature(("string", "string"), dict(_SET_MODIFIERS), ext="variables"),
    # RFC 5435 §3
    "notify": Signature(
        ("string",),
        {
            "from": TagSpec("string"),
            "importance": TagSpec("string"),
            "options": TagSpec("strings"),
            "message": TagSpec("string"),
        },
        ext="enotify",
    ),
    # RFC 5293
    "addheader": Signature(("string", "string"), {"last": TagSpec()}, ext="editheader"),
    "deleteheader": Signature(
        ("string", "strings"),
        {**_MATCH, "index": TagSpec("number"), "last": TagSpec()},
        ext="editheader",
        optional=1,
        optional_last=True,
    ),
    # RFC 6609
    "include": Signature(
        ("string",),
        {
            "personal": TagSpec(group="location"),
            "global": TagSpec(group="location"),
            "once": TagSpec(),
            "optional": TagSpec(),
        },
        ext="include",
    ),
    "return": Signature(ext="include"),
    "global": Signature(("strings",), ext="include"),
    # RFC 5463 §4
    "error": Signature(("string",), ext="ihave"),
}

KNOWN_EXTENSIONS = frozenset(
    {
        "fileinto",
        "reject",
        "ereject",
        "envelope",
        "encoded-character",
        "vacation",
        "vacation-seconds",
        "subaddress",
        "comparator-i;ascii-numeric",
        "comparator-i;ascii-casemap",
        "comparator-i;octet",
        "relational",
        "regex",
        "imap4flags",
        "copy",
        "include",
        "variables",
        "body",
        "enotify",
        "environment",
        "mailbox",
        "date",
        "index",
        "ihave",
        "duplicate",
        "editheader",
    }
)
