# SPDX-License-Identifier: GPL-3.0-or-later
"""The ManageSieve (RFC 5804) and LMTP (RFC 2033) doors: the Sieve module's asyncio servers on the runtime's
shared event loop (:class:`~groupware.runtime.loop.EventLoopThread`), wired by
:mod:`groupware.runtime.mail`; and :class:`OutgoingQueueDoor`, the background duty that retries the outgoing
queue (RFC 5321 §4.5.4.1) of redirects, vacation replies and notifications."""

from __future__ import annotations

import logging

from groupware.config import Config
from groupware.errors import ConfigError
from groupware.runtime.doors import PeriodicDoor
from groupware.runtime.loop import EventLoopThread
from groupware.runtime.mail import (
    AccountsAuthenticator,
    DirectoryRecipients,
    admin_script_problems,
    build_delivery,
    build_queue,
    build_store,
    site_policy,
    ssl_context,
)
from groupware.runtime.services import Services
from groupware.sieve.delivery import LmtpServer, LmtpSettings, OutgoingQueue
from groupware.sieve.managesieve import Capabilities, ManageSieveServer, ServerSettings, Session

__all__ = ["LmtpDoor", "ManageSieveDoor", "OutgoingQueueDoor", "queue_door"]

#: Longest sleep between two looks at the queue (seconds): a message due is retried at most this late.
MAX_QUEUE_TICK = 60.0

log = logging.getLogger("groupware.runtime")


class ManageSieveDoor:
    """``[sieve] enabled``: ManageSieve with the accounts' logins and the site policy.

    Raises (from the constructor):
        ConfigError: an admin script (``before``/``after``) does not pass the checks.
    """

    name = "managesieve"

    def __init__(self, config: Config, services: Services, loop: EventLoopThread) -> None:
        problems = admin_script_problems(config)
        if problems:
            raise ConfigError(problems)
        section = config.sieve
        store = build_store(section)
        authenticator = AccountsAuthenticator(services.accounts, wait=False)
        context = ssl_context(section)
        policy = site_policy(section)
        caps = Capabilities(
            policy.extensions,
            policy.max_redirects,
            tls_available=context is not None,
            allow_plaintext=section.allow_plaintext,
        )
        settings = ServerSettings(
            hosts=section.hosts,
            ssl_context=context,
            idle_timeout=section.idle_timeout,
            auth_timeout=section.auth_timeout,
            failure_delay=config.accounts.failure_delay,
            max_connections=section.max_connections,
            max_connections_per_address=section.max_connections_per_address,
            trusted_clients=section.trusted_clients,
            max_literal=max(section.max_script_size, 1024),
        )

        def session(remote_addr: str) -> Session:
            return Session(store, authenticator, caps, remote_addr)

        self.server = ManageSieveServer(settings, session)
        self._loop = loop
        self._started = False

    def start(self) -> None:
        """Listen on ``[sieve] hosts`` (``OSError`` when an address cannot be bound)."""
        self._loop.run(self.server.start())
        self._started = True

    def stop(self) -> None:
        """Say BYE to open connections and stop listening."""
        if self._started:
            self._started = False
            self._loop.run(self.server.close(), timeout=15)
            log.info("ManageSieve stopped", extra={"event": "stopped"})

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Where it listens (port 0 in the configuration: the port picked)."""
        return list(self.server.addresses)


class LmtpDoor:
    """``[lmtp] enabled``: delivery into ``<[sieve] mail_root>/<user>/Maildir`` with each person's rules.

    Raises (from the constructor):
        ConfigError: an admin script does not pass the checks.
    """

    name = "lmtp"

    def __init__(self, config: Config, services: Services, loop: EventLoopThread) -> None:
        delivery = build_delivery(config)
        section = config.lmtp
        settings = LmtpSettings(
            hosts=section.hosts,
            hostname=delivery.hostname,
            max_size=section.max_message_size,
            max_recipients=section.max_recipients or 1000,
            timeout=section.timeout,
            handshake_timeout=section.handshake_timeout,
            workers=max(section.workers, 1),
            max_connections=section.max_connections,
            max_connections_per_address=section.max_connections_per_address,
            max_errors=section.max_errors,
        )
        self.server = LmtpServer(settings, DirectoryRecipients(services.accounts), delivery)
        self._loop = loop
        self._started = False

    def start(self) -> None:
        """Listen on ``[lmtp] hosts`` (``OSError`` when an address cannot be bound)."""
        self._loop.run(self.server.start())
        self._started = True

    def stop(self) -> None:
        """End the connections (a transaction not acknowledged is retried by the MTA) and stop listening."""
        if self._started:
            self._started = False
            self._loop.run(self.server.close(), timeout=15)
            log.info("LMTP stopped", extra={"event": "stopped"})

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Where it listens."""
        return list(self.server.addresses)


class OutgoingQueueDoor(PeriodicDoor):
    """Flushes the outgoing queue at once (messages left by a previous run), then every
    ``min([lmtp] queue_retry, 60)`` seconds, until :meth:`stop` (which waits for the message being sent)."""

    name = "mailqueue"
    stop_timeout = 40.0

    def __init__(self, queue: OutgoingQueue, tick: float) -> None:
        self.queue = queue
        self.tick = tick
        super().__init__()

    def round(self) -> None:
        """Send what is due."""
        self.queue.flush()

    def interval(self) -> float:
        """The queue's tick."""
        return self.tick


def queue_door(config: Config) -> OutgoingQueueDoor | None:
    """The queue door of a server that delivers (``[lmtp] enabled``) through a relay; None otherwise."""
    queue = build_queue(config) if config.lmtp.enabled else None
    if queue is None:
        return None
    return OutgoingQueueDoor(queue, min(config.lmtp.queue_retry, MAX_QUEUE_TICK))
