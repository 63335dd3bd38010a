# SPDX-License-Identifier: GPL-3.0-or-later
"""What the HTTP door answers besides DAV: a page of ours at ``/`` for a browser, and the health and the
metrics of the server at ``/.groupware/health`` and ``/.groupware/metrics`` for its administrators.

``GET /`` (RFC 9110 §9.3.1) answers a short HTML page: what this server is and the addresses to give a
calendar or contacts client (the server's own URL; clients find the rest from ``/.well-known/caldav`` and
``/.well-known/carddav``, RFC 6764). DAV methods on ``/`` (PROPFIND of the root, OPTIONS) still reach the DAV
application.

``GET /.groupware/health`` answers JSON: the database (a read), the directory (a search as the service
account), and each mail door of ``[sieve]`` and ``[lmtp]`` (a connection to its address); ``200`` when all
answer, ``503`` otherwise. ``GET /.groupware/metrics`` answers the Prometheus text format
(:mod:`groupware.metrics`; this middleware counts every HTTP answer). Both are readable only from the
addresses of ``[operations] allowed`` (loopback by default): anyone else gets 404, as for any path that is not
there.
"""

from __future__ import annotations

import html
import ipaddress
import json
import logging
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from groupware import metrics
from groupware.config import Config
from groupware.directory.cache import CachedDirectory
from groupware.errors import DirectoryUnavailable
from groupware.store.database import Database

__all__ = ["HEALTH", "METRICS", "OperationsMiddleware"]

log = logging.getLogger("groupware.server")

HEALTH = "/.groupware/health"
METRICS = "/.groupware/metrics"
#: A uid no directory holds: the health check's search finds nothing, but it must reach the directory.
PROBE_UID = "groupware-health-probe"
DOOR_TIMEOUT = 2.0

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Probed(Protocol):
    """What the health check reads of the running services."""

    @property
    def config(self) -> Config: ...

    @property
    def database(self) -> Database: ...

    @property
    def directory(self) -> CachedDirectory: ...


def _door_problem(hosts: tuple[tuple[str, int], ...]) -> str | None:
    for host, port in hosts:
        try:
            socket.create_connection((host, port), timeout=DOOR_TIMEOUT).close()
        except OSError as exc:
            return f"{host}:{port}: {exc.strerror or exc}"
    return None


def health(services: Probed) -> dict[str, str]:
    """``{component: "ok" | reason}`` for the database, the directory and the mail doors that are on."""
    found: dict[str, str] = {}
    try:
        services.database.connection().execute("SELECT 1").fetchone()
        found["database"] = "ok"
    except Exception as exc:  # whatever SQLite raises is the reason
        found["database"] = f"unavailable: {exc}"
    try:
        services.directory.inner.find_person(PROBE_UID)  # past the cache: the directory itself
        found["directory"] = "ok"
    except DirectoryUnavailable as exc:
        found["directory"] = f"unavailable: {exc}"
    config = services.config
    if config.sieve.enabled:
        found["managesieve"] = _door_problem(config.sieve.hosts) or "ok"
    if config.lmtp.enabled:
        found["lmtp"] = _door_problem(config.lmtp.hosts) or "ok"
    return found


def _allowed(address: str, networks: tuple[str, ...]) -> bool:
    try:
        client = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    return any(client in ipaddress.ip_network(network) for network in networks)


def home_page(environ: dict[str, Any]) -> bytes:
    """The page a browser gets at ``/``: what this is, and the address to give a client."""
    scheme = str(environ.get("wsgi.url_scheme", "http"))
    host = str(environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "localhost"))
    url = html.escape(f"{scheme}://{host}{environ.get('SCRIPT_NAME', '')}/")
    return f"""<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>Agendas et carnets d'adresses</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main>
<h1>Agendas et carnets d'adresses</h1>
<p>Ce serveur met à disposition votre agenda, les agendas partagés et les carnets d'adresses académiques
(CalDAV et CardDAV). Identifiant : votre identifiant ou votre adresse académique, et votre mot de passe.</p>
<p>Adresse du serveur à indiquer à votre logiciel : <code>{url}</code></p>
<ul>
<li>Thunderbird : Fichier, Nouveau, Agenda, Sur le réseau, puis l'adresse ci-dessus.</li>
<li>Android (DAVx⁵) : Ajouter un compte, Connexion avec une URL et un nom d'utilisateur.</li>
<li>iPhone, iPad, macOS : Réglages, Calendrier, Comptes, Autre, Compte CalDAV (et CardDAV pour les
contacts).</li>
</ul>
</main></body></html>
""".encode()


class OperationsMiddleware:
    """WSGI middleware: ``/`` for browsers and ``/.groupware/health``; everything else goes to ``app``."""

    def __init__(self, app: WsgiApp, services: Probed) -> None:
        self.app, self.services = app, services

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Answer, and count the answer by method and status (:mod:`groupware.metrics`)."""
        started = time.monotonic()
        method = str(environ.get("REQUEST_METHOD", ""))
        statuses: list[str] = []

        def counting(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            statuses.append(status.split(" ", 1)[0])
            return start_response(status, headers, *args)

        try:
            return self._answer(environ, counting)
        finally:
            metrics.count("groupware_http_requests_total", method=method, status=(statuses or ["500"])[-1])
            metrics.observe("groupware_http_request_seconds", time.monotonic() - started, method=method)

    def _answer(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        method = str(environ.get("REQUEST_METHOD", ""))
        if method in ("GET", "HEAD") and path in ("", "/"):
            return self._send(environ, start_response, "200 OK", "text/html", home_page(environ))
        if path not in (HEALTH, METRICS):
            return self.app(environ, start_response)
        allowed = self.services.config.operations.allowed
        if not _allowed(str(environ.get("REMOTE_ADDR", "")), allowed):
            return self._send(environ, start_response, "404 Not Found", "text/plain", b"Not found.\n")
        if method not in ("GET", "HEAD"):
            return self._send(environ, start_response, "405 Method Not Allowed", "text/plain", b"GET only.\n")
        if path == METRICS:
            body, kind = metrics.exposition()
            return self._send(environ, start_response, "200 OK", kind.split(";")[0], body)
        return self._health(environ, start_response)

    def _health(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.monotonic()
        found = health(self.services)
        healthy = all(value == "ok" for value in found.values())
        if not healthy:
            failing = {name: value for name, value in found.items() if value != "ok"}
            log.warning("unhealthy", extra={"event": "unhealthy", **failing})
        body: dict[str, object] = {"status": "ok" if healthy else "unavailable", "checks": found}
        body["seconds"] = round(time.monotonic() - started, 3)
        status = "200 OK" if healthy else "503 Service Unavailable"
        return self._send(environ, start_response, status, "application/json", json.dumps(body).encode())

    @staticmethod
    def _send(
        environ: dict[str, Any], start_response: Callable[..., Any], status: str, kind: str, body: bytes
    ) -> Iterable[bytes]:
        start_response(
            status,
            [
                ("Content-Type", f"{kind}; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]
