# SPDX-License-Identifier: GPL-3.0-or-later
"""The real client behind trusted proxies (RFC 7239, X-Forwarded-For): who is believed, and what is not."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from groupware.dav.forwarded import (
    MAX_HEADER,
    MAX_HOPS,
    ForwardedMiddleware,
    Proxies,
    parse_address,
    parse_forwarded,
    parse_proxies,
    proxies_from,
)
from groupware.runtime.checks import runtime_option_problems

PROXIES = Proxies(parse_proxies("127.0.0.1 10.0.0.0/8, 2001:db8:ffff::/48"))
FORWARDED = Proxies(PROXIES.networks, "forwarded")


def seen(environ: dict[str, Any], proxies: Proxies = PROXIES) -> dict[str, Any]:
    """The environ the application behind the layer receives."""
    received: dict[str, Any] = {}

    def app(env: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        received.update(env)
        return [b""]

    base = {"REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "HTTP_HOST": "127.0.0.1:5232"}
    ForwardedMiddleware(app, proxies)({**base, **environ}, lambda *args: None)
    return received


def client(environ: dict[str, Any], proxies: Proxies = PROXIES) -> str:
    return str(seen(environ, proxies)["REMOTE_ADDR"])


def test_a_trusted_proxy_names_the_client() -> None:
    env = seen({"HTTP_X_FORWARDED_FOR": "203.0.113.7", "HTTP_X_FORWARDED_PROTO": "https"})
    assert env["REMOTE_ADDR"] == "203.0.113.7" and env["groupware.proxy"] == "127.0.0.1"
    assert env["wsgi.url_scheme"] == "https"
    assert not any(key.startswith(("HTTP_X_FORWARDED", "HTTP_FORWARDED")) for key in env), "removed"


def test_an_untrusted_peer_cannot_choose_its_address_scheme_or_host() -> None:
    env = seen(
        {
            "REMOTE_ADDR": "198.51.100.9",
            "HTTP_X_FORWARDED_FOR": "127.0.0.1",
            "HTTP_X_FORWARDED_PROTO": "https",
            "HTTP_X_FORWARDED_HOST": "evil.example",
            "HTTP_FORWARDED": "for=10.1.2.3;proto=https",
        }
    )
    assert env["REMOTE_ADDR"] == "198.51.100.9" and env["wsgi.url_scheme"] == "http"
    assert env["HTTP_HOST"] == "127.0.0.1:5232" and "groupware.proxy" not in env
    assert "HTTP_X_FORWARDED_FOR" not in env and "HTTP_X_FORWARDED_HOST" not in env, (
        "Radicale never sees them either"
    )


def test_without_trusted_proxies_nobody_is_believed() -> None:
    assert client({"HTTP_X_FORWARDED_FOR": "203.0.113.7"}, Proxies()) == "127.0.0.1"


def test_what_a_client_prepends_is_left_of_the_real_client_and_ignored() -> None:
    assert client({"HTTP_X_FORWARDED_FOR": "10.9.9.9, 192.0.2.66, 203.0.113.7"}) == "203.0.113.7"


def test_a_chain_of_trusted_proxies_is_walked_from_the_right() -> None:
    assert client({"HTTP_X_FORWARDED_FOR": "192.0.2.66, 203.0.113.7, 10.0.0.2, 10.0.0.1"}) == "203.0.113.7"


def test_a_chain_of_only_trusted_hops_names_the_leftmost() -> None:
    assert client({"HTTP_X_FORWARDED_FOR": "10.0.0.3, 10.0.0.2"}) == "10.0.0.3"


@pytest.mark.parametrize(
    "header, expected",
    [
        ("2001:db8::1", "2001:db8::1"),
        ("[2001:db8::1]:4711", "2001:db8::1"),
        ("203.0.113.7:51234", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("2001:db8::1, 2001:db8:ffff::5", "2001:db8::1"),
    ],
)
def test_ipv6_and_ports(header: str, expected: str) -> None:
    assert client({"HTTP_X_FORWARDED_FOR": header}) == expected


def test_an_ipv6_proxy_peer_and_a_mapped_ipv4_peer_are_recognised() -> None:
    assert client({"REMOTE_ADDR": "2001:db8:ffff:1::2", "HTTP_X_FORWARDED_FOR": "192.0.2.4"}) == "192.0.2.4"
    assert client({"REMOTE_ADDR": "::ffff:127.0.0.1", "HTTP_X_FORWARDED_FOR": "192.0.2.4"}) == "192.0.2.4"
    assert client({"REMOTE_ADDR": "2001:db8:fffe::2", "HTTP_X_FORWARDED_FOR": "192.0.2.4"}) == (
        "2001:db8:fffe::2"
    )


@pytest.mark.parametrize(
    "header",
    ["", "unknown", "garbage", "300.1.2.3", "_hidden", "1.2.3.4.5", "[2001:db8::1", "fe80::1%eth0", ",", " "],
)
def test_garbage_names_the_peer(header: str) -> None:
    assert client({"HTTP_X_FORWARDED_FOR": header}) == "127.0.0.1"


def test_garbage_beyond_a_trusted_hop_stops_at_that_hop() -> None:
    assert client({"HTTP_X_FORWARDED_FOR": "203.0.113.7, unknown, 10.0.0.2"}) == "10.0.0.2"


def test_a_header_too_long_is_ignored_whole() -> None:
    header = "203.0.113.7, " * (MAX_HEADER // 13 + 1) + "198.51.100.1"
    assert len(header) > MAX_HEADER
    assert client({"HTTP_X_FORWARDED_FOR": header}) == "127.0.0.1"


def test_at_most_max_hops_are_walked() -> None:
    header = ", ".join(["203.0.113.7"] + ["10.0.0.1"] * (MAX_HOPS + 5))
    assert client({"HTTP_X_FORWARDED_FOR": header}) == "10.0.0.1", "the walk ends at the bound"


def test_rfc7239_forwarded_with_quoted_ipv6_proto_and_host() -> None:
    env = seen(
        {
            "HTTP_FORWARDED": "for=192.0.2.60;proto=http, "
            'For="[2001:db8:cafe::17]:4711";proto=https;host=dav.ac.fr'
        },
        FORWARDED,
    )
    assert env["REMOTE_ADDR"] == "2001:db8:cafe::17" and env["wsgi.url_scheme"] == "https"
    assert env["HTTP_HOST"] == "dav.ac.fr"


def test_rfc7239_chain_and_quoted_string_with_commas() -> None:
    header = 'for="a, for=10.0.0.7";by=x, for=203.0.113.7, for=10.0.0.9'
    assert parse_forwarded(header) is not None
    assert client({"HTTP_FORWARDED": header}, FORWARDED) == "203.0.113.7"


@pytest.mark.parametrize(
    "header", ["for", "for=", 'for="unterminated', "=1.2.3.4", "for=1.2.3.4;;x", "for=a b"]
)
def test_rfc7239_garbage_names_the_peer(header: str) -> None:
    assert client({"HTTP_FORWARDED": header}, FORWARDED) == "127.0.0.1"


def test_only_the_configured_family_is_read() -> None:
    """A proxy that writes X-Forwarded-For passes a client's own Forwarded header on untouched (and the
    other way round): reading both would let the client choose."""
    both = {"HTTP_X_FORWARDED_FOR": "203.0.113.7", "HTTP_FORWARDED": "for=192.0.2.66"}
    assert client(both) == "203.0.113.7"
    assert client(both, FORWARDED) == "192.0.2.66"


@pytest.mark.parametrize("host", ["evil.example/path", "a b", "x" * 300, "[::1", "host:99999999"])
def test_a_forwarded_host_that_is_not_a_host_is_ignored(host: str) -> None:
    env = seen({"HTTP_X_FORWARDED_FOR": "203.0.113.7", "HTTP_X_FORWARDED_HOST": host})
    assert env["REMOTE_ADDR"] == "203.0.113.7" and env["HTTP_HOST"] == "127.0.0.1:5232"


def test_an_unknown_scheme_is_ignored() -> None:
    env = seen({"HTTP_X_FORWARDED_FOR": "203.0.113.7", "HTTP_X_FORWARDED_PROTO": "javascript"})
    assert env["wsgi.url_scheme"] == "http"


def test_proto_values_align_with_hops() -> None:
    env = seen(
        {
            "HTTP_X_FORWARDED_FOR": "203.0.113.7, 10.0.0.2",
            "HTTP_X_FORWARDED_PROTO": "https, http",
        }
    )
    assert env["REMOTE_ADDR"] == "203.0.113.7" and env["wsgi.url_scheme"] == "https"


@pytest.mark.parametrize("text", ["1.2.3.4", "[::1]", "::1", "1.2.3.4:80"])
def test_parse_address_accepts(text: str) -> None:
    assert parse_address(text) is not None


def test_configuration_checks_trusted_proxies_and_family() -> None:
    assert proxies_from({"trusted_proxies": "::ffff:10.0.0.0/104"}).trusts(parse_address("10.3.4.5"))
    problems = runtime_option_problems("f.conf", {"server": {"trusted_proxies": "10.0.0.1/8 nope"}})
    assert [p.key for p in problems] == ["trusted_proxies"] and "10.0.0.1/8" in problems[0].message
    problems = runtime_option_problems("f.conf", {"server": {"forwarded_headers": "x-real-ip"}})
    assert [p.key for p in problems] == ["forwarded_headers"]
    assert runtime_option_problems("f.conf", {"server": {"trusted_proxies": "127.0.0.1, ::1"}}) == []
