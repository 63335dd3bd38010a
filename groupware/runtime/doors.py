# SPDX-License-Identifier: GPL-3.0-or-later
"""What the supervisor knows of a door: something that starts, stops and listens somewhere."""

from __future__ import annotations

from typing import Protocol

from groupware.errors import GroupwareError

__all__ = ["Door", "DoorFailed"]


class DoorFailed(GroupwareError):
    """A door could not start (an address in use, a certificate unreadable …)."""

    def __init__(self, door: str, reason: Exception) -> None:
        super().__init__(f"cannot start {door}: {reason}")
        self.door = door


class Door(Protocol):
    """A way into groupware (HTTP, ManageSieve, LMTP) or a background duty (the address-book sync)."""

    #: A short name for logs and errors (``http``, ``managesieve``, ``lmtp``, ``addressbooks``).
    name: str

    def start(self) -> None:
        """Bind and begin serving in the background; return once serving (or raise ``OSError``)."""

    def stop(self) -> None:
        """Stop serving and release what :meth:`start` took; safe to call twice."""

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The (host, port) pairs it listens on (none for a background duty)."""
