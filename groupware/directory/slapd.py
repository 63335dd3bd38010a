# SPDX-License-Identifier: GPL-3.0-or-later
"""A private OpenLDAP ``slapd`` on 127.0.0.1, for tests, trials and benchmarks.

:class:`Slapd` writes a ``slapd.conf`` in a temporary directory (back-mdb, the ``memberof`` overlay on demand,
indexes, a service account that reads everything but passwords, a size limit of 500 for everyone but the root
DN), loads an LDIF file with ``slapadd -q`` before starting (fast: 52,000 people in seconds), then runs
``slapd`` in the foreground on a free port, with LDAPS and StartTLS from a throwaway CA when ``tls=True``.

``slapadd`` does not run overlays, so the ``memberOf`` values are computed from the groups and written into
the loaded LDIF; the overlay keeps them up to date for changes made over LDAP afterwards. LDIF is read by
the directory's one parser, :func:`groupware.directory.ldif.read_records`.

``python -m groupware.directory.slapd --ldif FILE`` runs one until Ctrl-C and prints its URI and credentials.
"""

from __future__ import annotations

import argparse
import importlib.resources
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import ldap3

from groupware.directory import schema
from groupware.directory.ldif import LdifRecord, read_records
from groupware.directory.passwords import ssha

__all__ = ["SUPANN_SCHEMA", "Slapd", "SlapdError", "free_port", "prepare_ldif"]

INSTALL_HINT = "apt-get install slapd ldap-utils"
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")
SCHEMAS = ("core", "cosine", "inetorgperson", "nis")
SIZE_LIMIT = 500
#: The SupAnn 2021 and eduPerson attribute types and object classes a SupAnn directory needs (a subset).
SUPANN_SCHEMA = Path(str(importlib.resources.files("groupware.data"))) / "supann.schema"


class SlapdError(RuntimeError):
    """slapd could not be prepared, loaded or started; the message says why (and how to install it)."""


def find_binary(name: str) -> str:
    """The path of an OpenLDAP program (``slapd``, ``slapadd``, ``openssl``…), or a clear error."""
    found = shutil.which(name) or next(
        (f"{d}/{name}" for d in ("/usr/sbin", "/usr/bin", "/sbin") if os.access(f"{d}/{name}", os.X_OK)), None
    )
    if found is None:
        hint = "apt-get install openssl" if name == "openssl" else INSTALL_HINT
        raise SlapdError(f"{name} not found: install it with `{hint}`")
    return found


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- LDIF preparation ---------------------------------------------------------------------------------------


def _dn_key(dn: str) -> str:
    return ",".join(part.strip() for part in dn.split(",")).lower()


def _memberships(records: Sequence[LdifRecord]) -> dict[str, list[str]]:
    """Member DN key -> DNs of the ``groupOfNames`` listing it."""
    result: dict[str, list[str]] = {}
    for record in records:
        if not any(value.lower() == "groupofnames" for value in record.values("objectClass")):
            continue
        for member in record.values("member"):
            result.setdefault(_dn_key(member), []).append(record.dn)
    return result


def _service_entries(base_dn: str, service_dn: str, password: str, has_services: bool) -> str:
    services = service_dn.split(",", 1)[1]
    head = (
        ""
        if has_services
        else (
            f"dn: {services}\nobjectClass: top\nobjectClass: organizationalUnit\n"
            f"ou: {services.split(',')[0].split('=', 1)[1]}\n\n"
        )
    )
    return (
        f"{head}dn: {service_dn}\nobjectClass: top\nobjectClass: organizationalRole\n"
        f"objectClass: simpleSecurityObject\ncn: {service_dn.split(',')[0].split('=', 1)[1]}\n"
        f"description: groupware service account (reads people and groups, not passwords)\n"
        f"userPassword: {ssha(password)}\n\n"
    )


def prepare_ldif(
    text: str,
    base_dn: str = schema.BASE_DN,
    service_dn: str = schema.SERVICE_DN,
    service_password: str = "",
    memberof: bool = True,
) -> Iterator[str]:
    """Yield ``text`` ready for ``slapadd``: ``memberOf`` written (when asked) and the service account added.

    The service account (and its ``ou``) is added under ``base_dn`` unless the LDIF already holds it.
    """
    records = list(read_records(text))
    memberships = _memberships(records) if memberof else {}
    keys = {_dn_key(record.dn) for record in records}
    if _dn_key(base_dn) not in keys:
        raise SlapdError(f"the LDIF has no entry for the base DN {base_dn}")
    for record in records:
        extra = tuple(("memberOf", group) for group in memberships.get(_dn_key(record.dn), ()))
        yield LdifRecord(record.dn, record.attributes + extra).text()
    if _dn_key(service_dn) not in keys:
        has_services = _dn_key(service_dn.split(",", 1)[1]) in keys
        yield _service_entries(base_dn, service_dn, service_password, has_services)


# --- configuration and TLS ----------------------------------------------------------------------------------


def _config_text(slapd: Slapd) -> str:
    """The ``slapd.conf`` of ``slapd`` (see slapd.conf(5), slapd.access(5), slapo-memberof(5))."""
    lines = [f"include {SCHEMA_DIR}/{name}.schema" for name in SCHEMAS]
    lines += [f"include {path}" for path in slapd.schemas]
    lines += [f"modulepath {MODULE_DIR}", "moduleload back_mdb"]
    lines += ["moduleload memberof"] if slapd.memberof else []
    lines += [
        f"pidfile {slapd.workdir}/slapd.pid",
        f"argsfile {slapd.workdir}/slapd.args",
        f"sizelimit size.soft={SIZE_LIMIT} size.hard={SIZE_LIMIT} size.prtotal=unlimited",
    ]
    if slapd.tls:
        lines += [
            f"TLSCACertificateFile {slapd.ca_file}",
            f"TLSCertificateFile {slapd.workdir}/server.pem",
            f"TLSCertificateKeyFile {slapd.workdir}/server.key",
        ]
    lines += [
        'access to dn.base="" by * read',
        'access to dn.base="cn=Subschema" by * read',
        "",
        "database mdb",
        "maxsize 4294967296",
        f'suffix "{slapd.base_dn}"',
        f'rootdn "{slapd.root_dn}"',
        f"rootpw {ssha(slapd.root_password)}",
        f"directory {slapd.workdir}/data",
        "index objectClass eq",
        "index uid,mail eq",
        "index member eq",
        "index employeeType eq",
        "index departmentNumber eq",
        "index entryUUID eq",
    ]
    lines += ["index memberOf eq"] if slapd.memberof else []
    lines += [
        f'limits dn.exact="{slapd.root_dn}" size=unlimited time=unlimited',
        "access to attrs=userPassword",
        "  by self auth",
        "  by anonymous auth",
        "  by * none",
        f'access to dn.subtree="{slapd.base_dn}"',
        f'  by dn.exact="{slapd.service_dn}" read',
        "  by self read",
        "  by anonymous auth",
        "  by * none",
    ]
    lines += ["overlay memberof"] if slapd.memberof else []
    return "\n".join(lines) + "\n"


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(
        [find_binary("openssl"), *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if result.returncode:
        raise SlapdError(f"openssl {args[0]} failed: {result.stderr.strip()}")


def make_certificates(directory: Path) -> Path:
    """Write a throwaway CA (``ca.pem``) and a certificate for 127.0.0.1 and localhost; return the CA file."""
    (directory / "server.ext").write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
        encoding="ascii",
    )
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/O=groupware tests/CN=groupware throwaway CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/O=groupware tests/CN=localhost",
        cwd=directory,
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        cwd=directory,
    )
    return directory / "ca.pem"


# --- the server ---------------------------------------------------------------------------------------------


class Slapd:
    """A private slapd on 127.0.0.1: ``with Slapd("demo.ldif") as server: ... server.uri ...``.

    Args:
        ldif: file to load before the first start (``None``: only the base entries and the service account).
        memberof: load the ``memberof`` overlay and write ``memberOf`` into the loaded entries.
        tls: also listen on LDAPS and offer StartTLS, with a certificate of a throwaway CA (:attr:`ca_file`).
        base_dn: the suffix of the database.
        service_password: password of the service account (random if not given).
        root_password: password of the root DN (random if not given).
        port: the LDAP port (a free one if not given).
        startup_timeout: seconds to wait for slapd to answer.
        schemas: more schema files (slapd.conf ``include`` syntax) loaded after OpenLDAP's, e.g.
            :data:`SUPANN_SCHEMA`.
    """

    def __init__(
        self,
        ldif: str | Path | None = None,
        *,
        memberof: bool = True,
        tls: bool = False,
        base_dn: str = schema.BASE_DN,
        service_password: str | None = None,
        root_password: str | None = None,
        port: int | None = None,
        startup_timeout: float = 15.0,
        schemas: Sequence[str | Path] = (),
    ) -> None:
        self.ldif = Path(ldif) if ldif is not None else None
        self.schemas = tuple(Path(path).resolve() for path in schemas)
        self.memberof, self.tls, self.base_dn = memberof, tls, base_dn
        self.root_dn = f"cn=admin,{base_dn}"
        self.service_dn = f"cn=groupware,ou=services,{base_dn}"
        self.service_password = service_password or f"service-{secrets.token_urlsafe(12)}"
        self.root_password = root_password or f"root-{secrets.token_urlsafe(12)}"
        self.port = port or free_port()
        self.tls_port = free_port() if tls else None
        self.startup_timeout = startup_timeout
        self.workdir = Path(tempfile.mkdtemp(prefix="groupware-slapd-"))
        self.ca_file: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._loaded = False
        self.load_seconds = 0.0

    @property
    def uri(self) -> str:
        """``ldap://127.0.0.1:PORT`` (StartTLS offered when ``tls``)."""
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_uri(self) -> str:
        """``ldaps://127.0.0.1:PORT2`` (only with ``tls=True``)."""
        if self.tls_port is None:
            raise SlapdError("this slapd was started without tls=True: it has no LDAPS URI")
        return f"ldaps://127.0.0.1:{self.tls_port}"

    @property
    def log_file(self) -> Path:
        """Where slapd's standard output and error go."""
        return self.workdir / "slapd.log"

    @property
    def running(self) -> bool:
        """Whether the slapd process is alive."""
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def prepare(self) -> None:
        """Write the configuration and certificates and load the LDIF with ``slapadd`` (done once)."""
        if self._loaded:
            return
        slapadd = find_binary("slapadd")
        find_binary("slapd")
        if self.tls:
            self.ca_file = str(make_certificates(self.workdir))
        (self.workdir / "data").mkdir(exist_ok=True)
        (self.workdir / "slapd.conf").write_text(_config_text(self), encoding="utf-8")
        started = time.monotonic()
        text = self.ldif.read_text(encoding="utf-8") if self.ldif else _base_ldif(self.base_dn)
        prepared = self.workdir / "load.ldif"
        with open(prepared, "w", encoding="utf-8") as out:
            out.writelines(
                prepare_ldif(text, self.base_dn, self.service_dn, self.service_password, self.memberof)
            )
        result = subprocess.run(
            [slapadd, "-q", "-f", str(self.workdir / "slapd.conf"), "-l", str(prepared)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode:
            raise SlapdError(
                f"slapadd failed ({result.returncode}) loading {self.ldif}: "
                f"{(result.stderr or result.stdout).strip()[-2000:]}"
            )
        prepared.unlink()
        self.load_seconds = time.monotonic() - started
        self._loaded = True

    def start(self) -> None:
        """Start slapd (after :meth:`prepare`, done on the first start) and wait until it answers."""
        if self.running:
            return
        self.prepare()
        urls = self.uri + "/" + (f" {self.ldaps_uri}/" if self.tls else "")
        command = [find_binary("slapd"), "-h", urls, "-f", str(self.workdir / "slapd.conf"), "-d", "0"]
        with open(self.log_file, "ab") as log:
            self._process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        ports = [self.port] + ([self.tls_port] if self.tls_port else [])
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise SlapdError(f"slapd exited at start: {self._log_tail()}")
            if all(_answers(port) for port in ports):
                return
            time.sleep(0.05)
        self.stop()
        raise SlapdError(
            f"slapd did not answer on port {self.port} within {self.startup_timeout} s: {self._log_tail()}"
        )

    def _log_tail(self) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
            return text.strip()[-2000:] or "(empty log)"
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Stop slapd (SIGTERM, then SIGKILL after 10 s); the data stays for :meth:`start`."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def close(self) -> None:
        """Stop slapd and remove its temporary directory."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # --- changes as the root DN -----------------------------------------------------------------------------

    def connection(self, user: str | None = None, password: str | None = None) -> ldap3.Connection:
        """A bound ldap3 connection (the root DN unless ``user`` is given); raises when the bind fails."""
        conn = ldap3.Connection(
            ldap3.Server(self.uri, get_info=ldap3.NONE),
            user=user or self.root_dn,
            password=password if user else self.root_password,
            receive_timeout=10,
        )
        if not conn.bind():
            raise SlapdError(f"bind as {user or self.root_dn} refused: {conn.result.get('description')}")
        return conn

    def _check(self, conn: ldap3.Connection, ok: bool, what: str) -> None:
        if not ok:
            raise SlapdError(f"{what} failed: {conn.result.get('description')} {conn.result.get('message')}")

    def modify(self, dn: str, changes: dict[str, Any]) -> None:
        """Modify ``dn`` as the root DN.

        ``changes`` is in ldap3 form (``{attr: [(MODIFY_REPLACE, [values])]}``), or ``{attr: values}`` meaning
        "replace" (an empty list deletes the attribute).
        """
        normalized = {
            attr: value if _is_ldap3_change(value) else [(ldap3.MODIFY_REPLACE, _as_list(value))]
            for attr, value in changes.items()
        }
        conn = self.connection()
        try:
            self._check(conn, conn.modify(dn, normalized), f"modify {dn}")
        finally:
            conn.unbind()

    def add(self, ldif_text: str) -> list[str]:
        """Add the entries of an LDIF text (content records, read by
        :func:`groupware.directory.ldif.read_records`); return their DNs."""
        added = []
        conn = self.connection()
        try:
            for record in read_records(ldif_text):
                attributes = _group_values((name.lower(), value) for name, value in record.attributes)
                self._check(conn, conn.add(record.dn, attributes=attributes), f"add {record.dn}")
                added.append(record.dn)
        finally:
            conn.unbind()
        return added

    def delete(self, dn: str) -> None:
        """Delete the entry ``dn``."""
        conn = self.connection()
        try:
            self._check(conn, conn.delete(dn), f"delete {dn}")
        finally:
            conn.unbind()


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def _is_ldap3_change(value: Any) -> bool:
    return (
        isinstance(value, list) and bool(value) and all(isinstance(v, tuple) and len(v) == 2 for v in value)
    )


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]


def _group_values(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for name, value in pairs:
        values.setdefault(name, []).append(value)
    return values


def _base_ldif(base_dn: str) -> str:
    first = base_dn.split(",")[0].split("=", 1)[1]
    return (
        f"dn: {base_dn}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\n"
        f"dc: {first}\no: {first}\n\n"
        + "".join(
            f"dn: ou={ou},{base_dn}\nobjectClass: top\nobjectClass: organizationalUnit\nou: {ou}\n\n"
            for ou in ("people", "groups")
        )
    )


# --- command line -------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run a private slapd in the foreground until Ctrl-C; print its URI and credentials."""
    parser = argparse.ArgumentParser(
        prog="python -m groupware.directory.slapd",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--ldif", help="LDIF file to load (default: the demo directory, the SupAnn one with --supann)"
    )
    parser.add_argument("--no-memberof", action="store_true", help="without the memberof overlay")
    parser.add_argument("--tls", action="store_true", help="also LDAPS and StartTLS, with a throwaway CA")
    parser.add_argument("--port", type=int, help="LDAP port (default: a free one)")
    parser.add_argument("--service-password", help="service account password (default: random)")
    parser.add_argument("--supann", action="store_true", help="load the SupAnn schema too (supann.schema)")
    args = parser.parse_args(argv)
    ldif = args.ldif or _default_ldif(args.supann)
    started = time.monotonic()
    with Slapd(
        ldif,
        memberof=not args.no_memberof,
        tls=args.tls,
        port=args.port,
        service_password=args.service_password,
        schemas=[SUPANN_SCHEMA] if args.supann else [],
    ) as server:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:  # from the banner on, Ctrl-C stops slapd and exits with 0 (a reader of the banner may press it)
            print(_banner(server, ldif, time.monotonic() - started), flush=True)
            while server.running:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0


def _banner(server: Slapd, ldif: str | None, seconds: float) -> str:
    """What the command line prints once slapd answers."""
    rows = [("uri", server.uri)]
    if server.tls:
        rows += [("ldaps_uri", server.ldaps_uri), ("ca_file", str(server.ca_file))]
    rows += [
        ("base_dn", server.base_dn),
        ("service_dn", server.service_dn),
        ("service_password", server.service_password),
        ("root_dn", server.root_dn),
        ("root_password", server.root_password),
        ("log", str(server.log_file)),
    ]
    source = ldif or "base entries"
    head = f"slapd ready in {seconds:.1f} s (slapadd {server.load_seconds:.1f} s) from {source}"
    return "\n".join([head, *(f"{name:<17}{value}" for name, value in rows), "Ctrl-C stops it."])


def _default_ldif(supann: bool = False) -> str | None:
    from groupware.config import DATA

    demo = DATA / ("demo-supann-directory.ldif" if supann else "demo-directory.ldif")
    return str(demo) if demo.exists() else None


if __name__ == "__main__":
    sys.exit(main())
