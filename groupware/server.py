# SPDX-License-Identifier: GPL-3.0-or-later
"""Composition root of the DAV door: Radicale, configured with our plugins, behind a keep-alive HTTP server.

Radicale's built-in server answers HTTP/1.0 and closes every connection; phones polling every few minutes and
Thunderbird syncing many collections pay a TCP (and TLS) handshake per request. We run Radicale's WSGI
application under waitress instead: HTTP/1.1 keep-alive, an asynchronous accept loop that keeps idle connections
cheap, a bounded worker pool and a request-size limit (see ``benchmarks/auth.py`` for the measurement).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from http import client
from typing import Any

import radicale
import radicale.config
from radicale import types as radicale_types

from groupware import registry
from groupware.accounts import Accounts
from groupware.config import Config
from groupware.directory.factory import open_directory
from groupware.errors import ConfigProblem, DirectoryUnavailable
from groupware.principals import enrich_multistatus

__all__ = [
    "GroupwareApplication",
    "Server",
    "build_services",
    "check_radicale_sections",
    "make_app",
    "radicale_configuration",
]

log = logging.getLogger("groupware.server")

PREDEFINED_COLLECTIONS = {
    "calendar": {"tag": "VCALENDAR", "D:displayname": "Agenda", "C:supported-calendar-component-set": "VEVENT,VTODO"},
    "contacts": {"tag": "VADDRESSBOOK", "D:displayname": "Contacts"},
}

# What groupware sets in Radicale's sections unless the configuration file says otherwise.
RADICALE_DEFAULTS: dict[str, dict[str, str]] = {
    "server": {"hosts": "127.0.0.1:5232", "max_connections": "64"},
    "auth": {"type": "groupware.plugins.auth", "delay": "0"},
    "rights": {"type": "groupware.plugins.rights"},
    "storage": {"filesystem_folder": os.path.abspath("var/collections"),
                "predefined_collections": json.dumps(PREDEFINED_COLLECTIONS)},
    "web": {"type": "none"},
    "logging": {"level": "info", "mask_passwords": "True"},
}
# Options we decide ourselves: a file setting them is told why.
FORCED = {("auth", "type"): "groupware authenticates through [directory] and [accounts]",
          ("rights", "type"): "groupware decides rights itself (admin group in [accounts])",
          ("server", "ssl"): "terminate TLS at a reverse proxy (see README); the server speaks plain HTTP"}


def patch_radicale() -> None:
    """The one place where Radicale is patched (``tests/unit/test_radicale_patches.py`` guards it).

    ``radicale.utils.package_version`` reads package metadata from disk on every call, and Radicale calls it for
    every ``RADICALE:version`` property and every address book's ``supported-address-data``: about a fifth of the
    CPU time of a small PROPFIND. Installed versions do not change while the process runs, so it is memoized.
    """
    import functools

    import radicale.utils

    if not hasattr(radicale.utils.package_version, "cache_info"):
        radicale.utils.package_version = functools.cache(radicale.utils.package_version)


def check_radicale_sections(path: str, sections: Mapping[str, Mapping[str, str]]) -> list[ConfigProblem]:
    """Check every option of Radicale's sections against Radicale's schema, one problem per key."""
    problems: list[ConfigProblem] = []
    probe = radicale.config.load()
    for section, options in sections.items():
        if section not in radicale.config.DEFAULT_CONFIG_SCHEMA or section.startswith("_"):
            problems.append(ConfigProblem(path, section, "", "unknown section"))
            continue
        for key, value in options.items():
            if (section, key) in FORCED and not (section == "server" and key == "ssl" and value.lower() in
                                                 ("false", "0", "no", "off")):
                problems.append(ConfigProblem(path, section, key, f"not configurable: {FORCED[section, key]}"))
                continue
            try:
                probe.update({section: {key: value}}, path)
            except (RuntimeError, ValueError) as exc:
                reason = exc.__cause__ or str(exc).split(" in section")[0].split(" in config file")[0]
                problems.append(ConfigProblem(path, section, key, f"invalid value {value!r}: {reason}"))
    return problems


def radicale_configuration(config: Config) -> radicale.config.Configuration:
    """Radicale's configuration: its defaults, then ours, then the file's own Radicale sections."""
    configuration = radicale.config.load()
    configuration.update(RADICALE_DEFAULTS, "groupware defaults")
    sections = {name: dict(options) for name, options in config.radicale_sections.items()}
    if sections:
        configuration.update(sections, config.path)
    return configuration


def build_services(config: Config) -> registry.Services:
    """Open the directory, create the accounts service and install both in the registry."""
    directory = open_directory(config.directory)
    services = registry.Services(config, directory, Accounts(directory, config.accounts))
    registry.install(services)
    return services


class GroupwareApplication(radicale.Application):
    """Radicale's WSGI application with what groupware adds at the HTTP edge.

    * a directory outage for a login not in the cache answers ``503 Service Unavailable`` with ``Retry-After``
      (RFC 9110 §15.6.4, §10.2.3) instead of a 500;
    * principal responses carry the person's ``mailto:`` address and name from the directory.
    """

    def __init__(self, configuration: radicale.config.Configuration, services: registry.Services) -> None:
        self._services = services
        super().__init__(configuration)

    def _handle_request(self, environ: radicale_types.WSGIEnviron) -> tuple[str, list[tuple[str, str]],
                                                                          Iterable[bytes]]:
        try:
            return super()._handle_request(environ)  # type: ignore[no-any-return]
        except DirectoryUnavailable as exc:
            log.error("directory unavailable", extra={"event": "directory_down", "error": str(exc)})
            body = b"The directory is unreachable; please retry later.\n"
            status = f"{client.SERVICE_UNAVAILABLE} {client.responses[client.SERVICE_UNAVAILABLE]}"
            headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
                       ("Retry-After", str(exc.retry_after))]
            return status, headers, [body]

    def _xml_response(self, xml_content: ET.Element, request_info: dict[str, Any]) -> bytes:
        path = str(request_info.get("path", ""))
        if path.count("/") <= 2:  # the root or a principal: cheap to inspect
            try:
                enrich_multistatus(xml_content, self._services.accounts.person)
            except DirectoryUnavailable as exc:  # the answer stays valid without the directory's extras
                log.warning("principal not enriched", extra={"event": "directory_down", "error": str(exc)})
        return super()._xml_response(xml_content, request_info)  # type: ignore[no-any-return]


def make_app(config: Config) -> GroupwareApplication:
    """Build the services and the WSGI application for ``config``."""
    patch_radicale()
    services = build_services(config)
    return GroupwareApplication(radicale_configuration(config), services)


class Server:
    """The keep-alive HTTP server (waitress) around the application; ``run()`` blocks until ``stop()``."""

    def __init__(self, config: Config, app: Callable[..., Any] | None = None, threads: int = 16) -> None:
        import waitress.server

        configuration = radicale_configuration(config)
        hosts = configuration.get("server", "hosts")
        listen = " ".join(f"[{host}]:{port}" if ":" in host else f"{host}:{port}" for host, port in hosts)
        self.app = app or make_app(config)
        self._server = waitress.server.create_server(
            self.app, listen=listen, threads=threads, ident="groupware",
            connection_limit=max(configuration.get("server", "max_connections"), 100),
            channel_timeout=max(int(configuration.get("server", "timeout")), 1),
            max_request_body_size=configuration.get("server", "max_content_length"),
            clear_untrusted_proxy_headers=True)
        self._stopped = threading.Event()

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The (host, port) pairs actually bound (useful with port 0)."""
        server: Any = self._server
        if hasattr(server, "effective_listen"):
            return [(str(host), int(port)) for host, port in server.effective_listen]
        return [(str(server.effective_host), int(server.effective_port))]

    def run(self) -> None:
        """Serve until :meth:`stop` or Ctrl-C / SIGTERM."""
        for host, port in self.addresses:
            log.info("listening", extra={"event": "listening", "url": f"http://{host}:{port}/"})
        try:
            self._server.run()
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.close()

    def stop(self) -> None:
        """Ask the serving loop to finish (thread-safe)."""
        self._server.close()

    def close(self) -> None:
        """Release the sockets and the directory."""
        if not self._stopped.is_set():
            self._stopped.set()
            self._server.close()
            services = getattr(self.app, "_services", None)
            if services is not None:
                services.directory.close()
            log.info("stopped", extra={"event": "stopped"})


def install_signal_handlers() -> None:
    """Make SIGINT (Ctrl-C) and SIGTERM stop the server cleanly, even when started in the background."""
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
