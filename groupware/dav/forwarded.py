# SPDX-License-Identifier: GPL-3.0-or-later
"""The real client behind trusted reverse proxies: one WSGI layer at the edge of the HTTP door.

A reverse proxy (nginx, HAProxy) connects to us itself, so the TCP peer is the proxy; it says who its client
was in a header: ``X-Forwarded-For`` / ``X-Forwarded-Proto`` / ``X-Forwarded-Host`` (the de facto form) or
``Forwarded`` (RFC 7239 §4: ``for``, ``proto``, ``host`` parameters, one element per hop). Anyone can send
these headers, so they are read only when the TCP peer is in ``[server] trusted_proxies``, and only the family
named by ``[server] forwarded_headers`` (a proxy passes the other family on as the client wrote it).

The hops are read from the right, the end the nearest proxy wrote (RFC 7239 §5.2, RFC 7230 §5.7.1): each
address that is itself a trusted proxy sends us one hop further left, and the first one that is not trusted
is the client. Anything unreadable on the way (an obfuscated or ``unknown`` node, RFC 7239 §6; a header over
:data:`MAX_HEADER` characters; garbage) stops the walk at the last address known. At most :data:`MAX_HOPS`
hops are read.

The layer rewrites ``REMOTE_ADDR`` (and ``wsgi.url_scheme``, ``HTTP_HOST`` from the same hop) once and
removes every forwarding header from the request, so nothing downstream (Radicale, the accounts' lockouts,
the logs) reads them again or sees anything but the real client. The TCP peer stays in
``environ["groupware.proxy"]`` when the request came through a proxy.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FORWARDED_FAMILIES",
    "MAX_HEADER",
    "MAX_HOPS",
    "ForwardedMiddleware",
    "Hop",
    "Proxies",
    "client_hop",
    "parse_forwarded",
    "parse_proxies",
    "parse_x_forwarded",
    "proxies_from",
]

log = logging.getLogger("groupware.server")

#: The longest forwarding header read; a longer one is ignored whole (the TCP peer stays the client).
MAX_HEADER = 8192
#: The most hops read from the right of a forwarding header.
MAX_HOPS = 32
#: ``[server] forwarded_headers``: which header family the trusted proxies write.
FORWARDED_FAMILIES = ("x-forwarded", "forwarded")
#: Every forwarding header, as WSGI names them: all are removed once read (PEP 3333 ``HTTP_`` variables).
FORWARDING_HEADERS = (
    "HTTP_FORWARDED",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_SERVER",
    "HTTP_X_FORWARDED_BY",
)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: RFC 7230 §3.2.6 token characters.
_TCHAR = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
#: RFC 7230 §5.4 Host: a name or an IPv4 address, or an IPv6 literal in brackets, with an optional port.
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")


@dataclass(frozen=True)
class Hop:
    """One hop of a forwarding header: the address of the node (None when unreadable), and the scheme and
    host it was reached with when the header says so."""

    address: Address | None
    proto: str = ""
    host: str = ""


@dataclass(frozen=True)
class Proxies:
    """The trusted proxies (addresses and networks) and the header family they write."""

    networks: tuple[Network, ...] = ()
    family: str = "x-forwarded"

    def trusts(self, address: Address | None) -> bool:
        """Whether ``address`` is one of the trusted proxies."""
        return address is not None and any(
            address.version == net.version and address in net for net in self.networks
        )

    def is_proxy(self, text: str) -> bool:
        """Whether the address written ``text`` (a TCP peer) is one of the trusted proxies."""
        return bool(self.networks) and self.trusts(parse_address(text))


def parse_proxies(value: str) -> tuple[Network, ...]:
    """``[server] trusted_proxies``: addresses and CIDR networks, IPv4 or IPv6, separated by blanks or commas.

    Raises:
        ValueError: an item is neither an address nor a network (host bits set count as an error).
    """
    networks = []
    for item in value.replace(",", " ").split():
        try:
            network = ipaddress.ip_network(item, strict=True)
        except ValueError as exc:
            raise ValueError(f"{item!r} is not an address or a network such as 10.0.0.0/8: {exc}") from None
        networks.append(_unmapped_network(network))
    return tuple(networks)


def _unmapped_network(network: Network) -> Network:
    if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped is not None:
        mapped = network.network_address.ipv4_mapped
        return ipaddress.IPv4Network(f"{mapped}/{max(network.prefixlen - 96, 0)}")
    return network


def parse_address(text: str) -> Address | None:
    """A node's address as a proxy writes it: ``192.0.2.1``, ``192.0.2.1:4711``, ``2001:db8::1``,
    ``[2001:db8::1]`` or ``[2001:db8::1]:4711`` (RFC 7239 §6); None for anything else (``unknown``, an
    obfuscated ``_name``, garbage). An IPv4-mapped IPv6 address is its IPv4 address."""
    text = text.strip()
    if text.startswith("["):
        literal, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not re.fullmatch(r":[0-9]{1,5}", rest)):
            return None
        text = literal
    elif text.count(":") == 1:  # IPv4 with a port
        text, _, port = text.partition(":")
        if not port.isdigit():
            return None
    if not text or len(text) > 45 or "%" in text:
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _elements(header: str) -> list[dict[str, str]] | None:
    """RFC 7239 §4 ``Forwarded``: a list of elements, each ``pair *(";" pair)``, each pair ``token "="
    ( token / quoted-string )`` (RFC 7230 §3.2.6). None when the header breaks that grammar."""
    elements: list[dict[str, str]] = [{}]
    position, length = 0, len(header)
    while position < length:
        char = header[position]
        if char in " \t":
            position += 1
        elif char == ",":
            elements.append({})
            position += 1
        elif char == ";":
            position += 1
        else:
            name = _TCHAR.match(header, position)
            if name is None or header[name.end() : name.end() + 1] != "=":
                return None
            position = name.end() + 1
            value, position = _value(header, position)
            if value is None:
                return None
            elements[-1][name.group().lower()] = value
    return [element for element in elements if element]


def _value(header: str, position: int) -> tuple[str | None, int]:
    """A token or a quoted-string (RFC 7230 §3.2.6) at ``position``: its value and the position after it."""
    if header[position : position + 1] != '"':
        token = _TCHAR.match(header, position)
        return (None, position) if token is None else (token.group(), token.end())
    value: list[str] = []
    position += 1
    while position < len(header):
        char = header[position]
        if char == "\\" and position + 1 < len(header):
            value.append(header[position + 1])
            position += 2
        elif char == '"':
            return "".join(value), position + 1
        else:
            value.append(char)
            position += 1
    return None, position


def parse_forwarded(header: str) -> list[Hop] | None:
    """The hops of a ``Forwarded`` header (RFC 7239 §4, §5.2-§5.4), left to right; None when it cannot be
    read (then nothing in it is believed)."""
    elements = _elements(header)
    if elements is None:
        return None
    return [
        Hop(parse_address(element.get("for", "")), element.get("proto", ""), element.get("host", ""))
        for element in elements
    ]


def parse_x_forwarded(forwarded_for: str, proto: str = "", host: str = "") -> list[Hop]:
    """The hops of ``X-Forwarded-For`` (comma-separated addresses, left to right), with the scheme and host
    of ``X-Forwarded-Proto`` / ``X-Forwarded-Host`` set on the hops they belong to: position by position
    when they list as many values, else the last value on the last hop (what one proxy writes)."""
    addresses = [parse_address(item) for item in forwarded_for.split(",")]
    protos = [item.strip() for item in proto.split(",")] if proto else []
    hosts = [item.strip() for item in host.split(",")] if host else []
    hops = []
    for index, address in enumerate(addresses):
        last = index == len(addresses) - 1
        hops.append(
            Hop(
                address,
                _aligned(protos, index, len(addresses), last),
                _aligned(hosts, index, len(addresses), last),
            )
        )
    return hops


def _aligned(values: list[str], index: int, count: int, last: bool) -> str:
    if len(values) == count:
        return values[index]
    return values[-1] if values and last else ""


def client_hop(peer: Address | None, hops: Sequence[Hop], proxies: Proxies) -> Hop | None:
    """The hop naming the client, reading ``hops`` from the right (RFC 7239 §5.2); None when the TCP ``peer``
    is not trusted, or when nothing readable lies beyond it (the peer is then the client)."""
    if not proxies.trusts(peer):
        return None
    found: Hop | None = None
    for hop in list(reversed(hops))[:MAX_HOPS]:
        if hop.address is None:
            break
        found = hop
        if not proxies.trusts(hop.address):
            break
    return found


def _hops(environ: dict[str, Any], family: str) -> list[Hop] | None:
    """The hops of the trusted family's headers in ``environ``, None when there are none or they are too long
    or unreadable."""
    if family == "forwarded":
        header = str(environ.get("HTTP_FORWARDED", ""))
        return parse_forwarded(header) if header and len(header) <= MAX_HEADER else None
    names = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST")
    values = [str(environ.get(name, "")) for name in names]
    if not values[0] or any(len(value) > MAX_HEADER for value in values):
        return None
    return parse_x_forwarded(*values)


class ForwardedMiddleware:
    """Rewrites ``REMOTE_ADDR``, ``wsgi.url_scheme`` and ``HTTP_HOST`` from a trusted proxy's forwarding
    headers, removes every forwarding header, and hands the request to ``app`` (see the module docstring)."""

    def __init__(self, app: WsgiApp, proxies: Proxies) -> None:
        self.app = app
        self.proxies = proxies

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.rewrite(environ)
        return self.app(environ, start_response)

    def rewrite(self, environ: dict[str, Any]) -> None:
        """Apply the forwarding headers of a trusted peer to ``environ`` and remove them all."""
        hops = None
        peer_text = str(environ.get("REMOTE_ADDR", ""))
        peer = parse_address(peer_text)
        if self.proxies.trusts(peer):
            hops = _hops(environ, self.proxies.family)
        for name in FORWARDING_HEADERS:
            environ.pop(name, None)
        hop = client_hop(peer, hops or (), self.proxies)
        if hop is None or hop.address is None:
            return
        environ["groupware.proxy"] = peer_text
        environ["REMOTE_ADDR"] = str(hop.address)
        if hop.proto.lower() in ("http", "https"):
            environ["wsgi.url_scheme"] = hop.proto.lower()
            if hop.proto.lower() == "https":
                environ["HTTPS"] = "on"
        if hop.host and len(hop.host) <= 261 and _HOST.fullmatch(hop.host):
            environ["HTTP_HOST"] = hop.host


def proxies_from(server: Mapping[str, str]) -> Proxies:
    """``[server] trusted_proxies`` and ``forwarded_headers`` of Radicale's ``[server]`` section, parsed.

    Raises:
        ValueError: naming the option, when one of them is invalid.
    """
    try:
        networks = parse_proxies(server.get("trusted_proxies", ""))
    except ValueError as exc:
        raise ValueError(f"trusted_proxies: {exc}") from None
    family = server.get("forwarded_headers", "x-forwarded").strip().lower() or "x-forwarded"
    if family not in FORWARDED_FAMILIES:
        raise ValueError(f"forwarded_headers: must be one of: {', '.join(FORWARDED_FAMILIES)}")
    return Proxies(networks, family)
