# SPDX-License-Identifier: GPL-3.0-or-later
"""Connection admission for the mail servers (LMTP, ManageSieve): a bound on the connections of the process
and on those of one client address, so that one client cannot take every connection from the others."""

from __future__ import annotations

import collections
from typing import Literal

__all__ = ["Admission"]


class Admission:
    """Counts the connections each client address holds (one asyncio loop: no lock needed)."""

    def __init__(self, max_connections: int, per_address: int) -> None:
        self.max_connections = max_connections
        self.per_address = per_address
        self._held: collections.Counter[str] = collections.Counter()

    def admit(self, remote: str, open_now: int) -> Literal["total", "address"] | None:
        """Count one more connection from ``remote`` (``open_now`` are open in all); which bound refuses it
        instead (and it is not counted)."""
        if open_now >= self.max_connections:
            return "total"
        if self._held[remote] >= self.per_address:
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
