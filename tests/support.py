# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers shared by the tests: configuration files, an in-process server on a free port, HTTP requests."""

from __future__ import annotations

import base64
import contextlib
import http.client
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import pytest

from groupware import config as config_module

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
DEMO_LDIF = ROOT / "config" / "demo-directory.ldif"
ADMIN_GROUP = "cn=groupware-admins,ou=groups,dc=ac-montpellier,dc=fr"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    message: str | Callable[[], str] = "",
    interval: float = 0.02,
) -> T:
    """Call ``predicate`` until it returns something true, and return that; after ``timeout`` seconds,
    fail with ``message`` (a string, or a function that makes one then). Tests wait on conditions, not times.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                (message() if callable(message) else message) or f"not true after {timeout} s"
            )
        time.sleep(interval)


def require_binaries(*names: str, packages: str) -> None:
    """Fail (never skip) when a Debian component the tests need is missing."""
    missing = [
        name for name in names if shutil.which(name) is None and not Path(f"/usr/sbin/{name}").exists()
    ]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run `apt-get install -y {packages}`", pytrace=False)


def write_config(
    path: Path,
    directory: dict[str, str],
    accounts: dict[str, str] | None = None,
    port: int | None = None,
    storage: Path | None = None,
    storage_options: dict[str, str] | None = None,
    workers: int = 1,
) -> Path:
    """Write a groupware configuration file for a test (``storage_options``: more ``[storage]`` options; one
    process serves unless ``workers`` says more, so that a test can look into the server it runs)."""
    accounts = {"admin_group": ADMIN_GROUP, "failure_delay": "0.05", **(accounts or {})}
    lines = [
        "[server]",
        f"hosts = 127.0.0.1:{port or free_port()}",
        f"workers = {workers}",
        "",
        "[storage]",
        f"filesystem_folder = {storage or path.parent / 'collections'}",
        *(f"{k} = {v}" for k, v in (storage_options or {}).items()),
        "",
        "[logging]",
        "level = warning",
        "",
        "[directory]",
        *(f"{k} = {v}" for k, v in directory.items()),
        "",
        "[accounts]",
        *(f"{k} = {v}" for k, v in accounts.items()),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


LDIF_DIRECTORY = {"type": "ldif", "file": str(DEMO_LDIF), "disabled_filter": "(employeeType=inactif)"}


def dead_ldap_directory() -> dict[str, str]:
    """A ``[directory]`` section whose only LDAP server does not answer (nothing listens on its port)."""
    return {
        "type": "ldap",
        "uri": f"ldap://127.0.0.1:{free_port()}",
        "base_dn": "dc=ac-montpellier,dc=fr",
        "connect_timeout": "1",
    }


class OnLoop:
    """An asyncio server of ``groupware.sieve`` (ManageSieve, LMTP) started on an event loop in a thread, as
    the runtime runs it; :meth:`stop` closes it and the loop."""

    def __init__(self, server: Any) -> None:
        from groupware.runtime.loop import EventLoopThread

        self.server = server
        self.loop: EventLoopThread | None = EventLoopThread(name="test-asyncio")
        self.loop.run(server.start())

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Where the server listens."""
        return list(self.server.addresses)

    def stop(self) -> None:
        """Close the server (its connections end) and the loop; safe to call twice."""
        if self.loop is not None:
            self.loop.run(self.server.close(), timeout=15)
            self.loop.close()
            self.loop = None


class RunningServer:
    """A groupware server running in a thread of the test process."""

    def __init__(self, config: config_module.Config) -> None:
        from groupware.runtime.supervisor import Supervisor

        self.config = config
        self.server = Supervisor(config)
        host, port = self.server.addresses[0]
        self.url = f"http://{host}:{port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_for_port(host, port, timeout=10)

    def stop(self) -> None:
        """Stop the server and wait for its thread: one still running would outlive the test it belongs to."""
        self.server.stop()
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "the server thread did not end within 15 s of stop()"


def start_with_storage(path: Path, storage: Path, **storage_options: str) -> RunningServer:
    """A server on the LDIF directory whose ``[storage]`` uses the folder ``storage`` and
    ``storage_options``.
    """
    config = write_config(path, LDIF_DIRECTORY, storage=storage, storage_options=storage_options)
    return RunningServer(config_module.load(config))


def ldap_directory_section(server: Any, **overrides: str) -> dict[str, str]:
    """The [directory] section for the slapd fixture."""
    section = {
        "type": "ldap",
        "uri": server.uri,
        "base_dn": server.base_dn,
        "people_dn": f"ou=people,{server.base_dn}",
        "groups_dn": f"ou=groups,{server.base_dn}",
        "bind_dn": server.service_dn,
        "bind_password": server.service_password,
        "disabled_filter": "(employeeType=inactif)",
        "connect_timeout": "2",
        "timeout": "5",
        "cache_ttl": "0",
    }
    section.update(overrides)
    return section


USER, PASSWORD = "helene.lefevre", "helene.lefevre-demo"
MAIL = "helene.lefevre@ac-montpellier.fr"
DAV, CALDAV, CARDDAV = "{DAV:}", "{urn:ietf:params:xml:ns:caldav}", "{urn:ietf:params:xml:ns:carddav}"


class HasUrl(Protocol):
    """Anything serving HTTP at ``url`` (a :class:`RunningServer`, a ``groupware serve`` process)."""

    @property
    def url(self) -> str: ...


def request(
    server: HasUrl,
    method: str,
    path: str,
    login: str | None = USER,
    password: str = PASSWORD,
    body: str | bytes = "",
    headers: dict[str, str] | None = None,
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request with Basic credentials; returns status, lower-cased headers and body."""
    parts = urlsplit(server.url)
    conn = conn or http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    all_headers = {"Content-Type": "application/xml; charset=utf-8", **(headers or {})}
    if login is not None:
        token = base64.b64encode(f"{login}:{password}".encode()).decode()
        all_headers["Authorization"] = f"Basic {token}"
    conn.request(method, path, body=body.encode() if isinstance(body, str) else body, headers=all_headers)
    response = conn.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def error_condition(body: bytes) -> str:
    """The tag of the precondition or postcondition a ``DAV:error`` body names (RFC 4918 §16)."""
    root = ET.fromstring(body)
    assert root.tag == DAV + "error", body
    return root[0].tag


def responses(body: bytes) -> dict[str, ET.Element]:
    """The D:response elements of a multistatus body, by href."""
    tree = ET.fromstring(body)
    return {r.findtext(DAV + "href") or "": r for r in tree.iterfind(DAV + "response")}


def ok_prop(response: ET.Element, name: str) -> ET.Element | None:
    """The property ``name`` of a D:response if it came with status 200."""
    for propstat in response.iterfind(DAV + "propstat"):
        if "200" in (propstat.findtext(DAV + "status") or ""):
            found = propstat.find(f"{DAV}prop/{name}")
            if found is not None:
                return found
    return None


# -- ManageSieve (groupware serve with [sieve], Dovecot's managesieved) --------------------------------------


def child_pids(pid: int) -> list[int]:
    """Process ids of ``pid``'s children now running (a server's helper processes), from ``/proc``."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def wait_for_port(host: str, port: int, timeout: float = 20.0) -> None:
    """Wait until something accepts connections on (host, port)."""

    def accepts() -> bool:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
        except OSError:
            return False
        return True

    wait_until(accepts, timeout, f"nothing accepts connections on {host}:{port} after {timeout} s")


def write_sieve_config(path: Path, sieve: dict[str, str], directory: dict[str, str] | None = None) -> Path:
    """A configuration with a [sieve] section (loopback, plaintext allowed unless ``sieve`` says
    otherwise).
    """
    write_config(path, directory or LDIF_DIRECTORY)
    options = {
        "enabled": "true",
        "hosts": f"127.0.0.1:{free_port()}",
        "mail_root": str(path.parent / "mail"),
        "allow_plaintext": "true",
        **sieve,
    }
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n[sieve]\n" + "".join(f"{k} = {v}\n" for k, v in options.items()))
    return path


class ServeProcess:
    """``groupware serve --config PATH`` in a child process; ``sieve_port`` is its ManageSieve port."""

    def __init__(self, config: Path) -> None:
        sections = config_module.read_sections(config)
        self.config = config
        self.sieve_port = int(sections["sieve"]["hosts"].rpartition(":")[2])
        self.mail_root = Path(sections["sieve"]["mail_root"])
        self.process = subprocess.Popen(
            [sys.executable, "-m", "groupware.cli", "serve", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for_port("127.0.0.1", self.sieve_port)
        except AssertionError:
            self.process.kill()
            raise AssertionError(f"groupware serve did not start: {self.process.communicate()[1]}") from None

    def stop(self) -> tuple[int, str]:
        """Ctrl-C, then the exit status and what it logged."""
        self.process.send_signal(signal.SIGINT)
        try:
            _, err = self.process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        return self.process.returncode, err


def self_signed_certificate(folder: Path, name: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` (an IP address) and its key, made by openssl."""
    require_binaries("openssl", packages="openssl")
    cert, key = folder / "sieve-cert.pem", folder / "sieve-key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={name}",
            "-addext",
            f"subjectAltName=IP:{name}",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


MANAGESIEVED_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = sieve
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_uid = nobody
mail_gid = nogroup
first_valid_uid = 0
default_internal_user = nobody
default_login_user = nobody
default_internal_group = nogroup
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={home}/%u
}}
service managesieve-login {{
  inet_listener sieve {{
    address = 127.0.0.1
    port = {port}
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
plugin {{
  sieve = file:~/sieve;active=~/.dovecot.sieve
  sieve_extensions = +vacation-seconds +editheader
}}
"""


class Managesieved:
    """Dovecot's managesieved under a private configuration (never /etc/dovecot) on 127.0.0.1.

    Its folder is made under /tmp rather than pytest's private (0700) temporary folders, which the ``nobody``
    user that Dovecot's auth and mail processes run as could not cross.
    """

    def __init__(self, users: dict[str, str]) -> None:
        require_binaries("dovecot", packages="dovecot-core dovecot-managesieved dovecot-sieve")
        self.root, self.port = Path(tempfile.mkdtemp(prefix="managesieved-")), free_port()
        self.root.chmod(0o755)
        for sub in ("run", "state"):
            (self.root / sub).mkdir()
        self.home = self.root / "home"
        self.home.mkdir(mode=0o777)
        self.home.chmod(0o777)
        (self.root / "passwd").write_text("".join(f"{u}:{{PLAIN}}{p}\n" for u, p in users.items()))
        self.conf = self.root / "dovecot.conf"
        self.conf.write_text(MANAGESIEVED_CONF.format(root=self.root, port=self.port, home=self.home))
        self.dovecot = shutil.which("dovecot") or "/usr/sbin/dovecot"
        with (self.root / "start.log").open("wb") as log:  # not a pipe: the daemon would hold it open
            subprocess.run([self.dovecot, "-c", str(self.conf)], check=True, stdout=log, stderr=log)
        wait_for_port("127.0.0.1", self.port)

    def stop(self) -> None:
        subprocess.run([self.dovecot, "-c", str(self.conf), "stop"], check=False, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def vdirsyncer_pair(
    folder: Path, kind: str, url: str, login: str, password: str, suffix: str, **remote: str
) -> tuple[Path, Path]:
    """A vdirsyncer configuration pairing a local folder with one DAV collection; returns (config, local
    folder).

    ``kind`` is ``caldav`` or ``carddav``; ``remote`` adds options to the remote storage (``read_only =
    "true"``). Conflicts resolve to the server's copy ("b wins").
    """
    local = folder / "local"
    local.mkdir()
    extra = "".join(f"{key} = {value}\n" for key, value in remote.items())
    partial = (
        'partial_sync = "ignore"\n' if remote.get("read_only") == "true" else ""
    )  # vdirsyncer wants both or none
    config = folder / "vdirsyncer.conf"
    config.write_text(
        f"""[general]
status_path = "{folder / "status"}"

[pair groupware]
a = "local"
b = "remote"
collections = null
conflict_resolution = "b wins"
{partial}
[storage local]
type = "filesystem"
path = "{local}"
fileext = "{suffix}"

[storage remote]
type = "{kind}"
url = "{url}"
username = "{login}"
password = "{password}"
{extra}""",
        encoding="utf-8",
    )
    return config, local


def run_vdirsyncer(config: Path, *args: str) -> str:
    """Run vdirsyncer (answering its prompts) and fail with its output unless it succeeds."""
    done = subprocess.run(
        ["vdirsyncer", "-c", str(config), *args],
        input="y\n" * 4,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def count_fast_renders(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """Count the items the whole-collection fast path renders from facts; returns a function giving the
    total.
    """
    from groupware.dav import fastpath

    counted: list[int] = []
    original = fastpath.ResponseTemplate.render_all

    def counting(self: fastpath.ResponseTemplate, facts: Iterable[tuple[str, ...]]) -> object:
        listed = list(facts)
        counted.append(len(listed))
        return original(self, listed)

    monkeypatch.setattr(fastpath.ResponseTemplate, "render_all", counting)
    return lambda: sum(counted)


def sieve_status(sock: socket.socket | ssl.SSLSocket) -> bytes:
    """What a ManageSieve server sends up to and including its next ``OK``/``NO``/``BYE`` line (or the end
    of the stream), in as many reads as it comes in."""
    data = b""
    while not any(line.startswith((b"OK", b"NO", b"BYE")) for line in data.split(b"\r\n")):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def sieve_plain(login: str, password: str) -> bytes:
    """A ManageSieve ``AUTHENTICATE "PLAIN"`` command (RFC 4616) with the credentials inline."""
    return b'AUTHENTICATE "PLAIN" "' + base64.b64encode(f"\0{login}\0{password}".encode()) + b'"\r\n'
