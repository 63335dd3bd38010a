# SPDX-License-Identifier: GPL-3.0-or-later
"""Connection admission for the mail servers (LMTP, ManageSieve): a bound on the connections of the process
and on those of one client address, so that one client cannot take every connection from the others; the
addresses of clients that act for many people (a webmail on the same machine, say) are held to the first
bound only."""

from __future__ import annotations

import collections
import ipaddress
from collections.abc import Iterable
from typing import Literal

__all__ = ["Admission", "Networks"]


class Networks:
    """Membership of an address in a few networks (``127.0.0.0/8``, ``::1``), remembered per address."""

    def __init__(self, networks: Iterable[str]) -> None:
        self._networks = tuple(ipaddress.ip_network(network, strict=False) for network in networks)
        self._known: dict[str, bool] = {}

    def __contains__(self, address: object) -> bool:
        text = str(address)
        found = self._known.get(text)
        if found is None:
            if len(self._known) >= 4096:
                self._known.clear()
            found = self._known[text] = self._contains(text)
        return found

    def _contains(self, address: str) -> bool:
        try:
            parsed = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        candidates = [parsed]
        if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
            candidates.append(parsed.ipv4_mapped)
        return any(
            candidate.version == network.version and candidate in network
            for candidate in candidates
            for network in self._networks
        )


class Admission:
    """Counts the connections each client address holds (one asyncio loop: no lock needed)."""

    def __init__(self, max_connections: int, per_address: int, trusted: Networks | None = None) -> None:
        self.max_connections = max_connections
        self.per_address = per_address
        self.trusted = trusted or Networks(())
        self._held: collections.Counter[str] = collections.Counter()

    def admit(self, remote: str, open_now: int) -> Literal["total", "address"] | None:
        """Count one more connection from ``remote`` (``open_now`` are open in all); which bound refuses it
        instead (and it is not counted)."""
        if open_now >= self.max_connections:
            return "total"
        if self._held[remote] >= self.per_address and remote not in self.trusted:
            return "address"
        self._held[remote] += 1
        return None

    def held(self, remote: str) -> int:
        """How many connections ``remote`` holds now."""
        return self._held[remote]

    def release(self, remote: str) -> bool:
        """One connection from ``remote`` closed; True when it was the address's last."""
        self._held[remote] -= 1
        if self._held[remote] > 0:
            return False
        del self._held[remote]
        return True
