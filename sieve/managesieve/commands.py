# SPDX-License-Identifier: GPL-3.0-or-later
"""ManageSieve commands (RFC 5804 §2), one handler per command, dispatched by name (``cmd_PUTSCRIPT``).

A :class:`Session` is the state of one connection: not authenticated, authenticated, or in the middle of a
SASL exchange (RFC 5804 §2.1). It takes a line of tokens from :class:`~.protocol.Reader` and returns a
:class:`Reply`; it does no network I/O (the server moves the bytes and performs STARTTLS) but it calls the
script store and the host's authenticator, which may block, so the server runs it in a worker thread. Response
texts are the constants below, worded as Pigeonhole words them so that clients and people see the same
messages.
"""

from __future__ import annotations

import base64
import binascii
import errno
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from ..checks import report
from ..errors import SieveCompileError
from ..host import AuthenticationUnavailable, Authenticator
from ..scripts import QUOTA_MAXSIZE, ScriptError, ScriptStore
from .protocol import Atom, Oversized, Token, response, string

__all__ = ["Capabilities", "Reply", "Session"]

# -- response texts (RFC 5804 §2; worded like Pigeonhole) -------------------------------------------------
GREETING = "groupware ManageSieve ready."
LOGGED_IN = "Logged in."
AUTH_FAILED = "Authentication failed."
AUTH_ABORTED = "Authentication aborted by client."
AUTH_BAD_RESPONSE = "Invalid SASL response."
AUTH_TOO_LONG = "Invalid SASL response: too long"
ARGUMENT_TOO_LONG = "Argument too long"
AUTH_UNKNOWN_MECH = "Unsupported authentication mechanism."
AUTH_TRYLATER = "The account directory is unreachable; try again later."
ENCRYPT_NEEDED = "Plaintext authentication is not allowed without TLS; use STARTTLS first."
TLS_BEGIN = "Begin TLS negotiation now."
TLS_UNAVAILABLE = "TLS support isn't enabled."
TLS_ACTIVE = "TLS is already active."
CAPABILITY_DONE = "Capability completed."
LOGOUT_DONE = "Logout completed."
NOOP_DONE = "NOOP completed."
UNAUTHENTICATE_DONE = "Unauthenticate completed."
PUTSCRIPT_DONE = "PUTSCRIPT completed."
CHECKSCRIPT_DONE = "Script checked successfully."
LISTSCRIPTS_DONE = "Listscripts completed."
GETSCRIPT_DONE = "Getscript completed."
SETACTIVE_DONE = "Setactive completed."
SETACTIVE_SAME = "Script is already active."
DEACTIVATED = "Active script is now deactivated."
NONE_ACTIVE = "No scripts currently active."
DELETESCRIPT_DONE = "Deletescript completed."
RENAMESCRIPT_DONE = "Renamescript completed."
HAVESPACE_DONE = "Putscript would succeed."
TOO_LARGE = "Script is too large."
NAME_TOO_LONG = "Invalid Sieve script name: too long."
TOO_MANY_ERRORS = "Too many invalid commands."

#: Pigeonhole's capability order (REFERENCES); extensions it does not know follow, sorted.
_SIEVE_ORDER = (
    "fileinto",
    "reject",
    "envelope",
    "encoded-character",
    "vacation",
    "subaddress",
    "comparator-i;ascii-numeric",
    "relational",
    "regex",
    "imap4flags",
    "copy",
    "include",
    "variables",
    "body",
    "enotify",
    "environment",
    "mailbox",
    "date",
    "index",
    "ihave",
    "duplicate",
    "mime",
    "foreverypart",
    "extracttext",
)
_IMPLICIT = frozenset({"comparator-i;octet", "comparator-i;ascii-casemap"})
_SASL_CHALLENGES = {"LOGIN": (b"Username:", b"Password:")}
MAX_ERRORS = 10


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the server offers (RFC 5804 §1.7)."""

    extensions: frozenset[str]
    max_redirects: int = 4
    implementation: str = "groupware"
    tls_available: bool = False
    allow_plaintext: bool = False

    def sieve(self) -> str:
        """The ``SIEVE`` capability: extensions in Pigeonhole's order, then the others."""
        known = [e for e in _SIEVE_ORDER if e in self.extensions]
        rest = sorted(self.extensions - set(_SIEVE_ORDER) - _IMPLICIT)
        return " ".join(known + rest)


@dataclass(slots=True)
class Reply:
    """What the server sends, and what it does next: start TLS, or close the connection; ``failed_login``
    marks a refused AUTHENTICATE, whose answer the server may hold back (a failed login takes a minimum
    time)."""

    data: bytes
    starttls: bool = False
    close: bool = False
    failed_login: bool = False


@dataclass(slots=True)
class _Sasl:
    mechanism: str
    initial: bytes | None
    responses: list[bytes] = field(default_factory=list)


def _ok(text: str, code: str | None = None) -> Reply:
    return Reply(response("OK", text, code))


def _no(text: str, code: str | None = None) -> Reply:
    return Reply(response("NO", text, code))


def _syntax(command: str, problem: str) -> Reply:
    return _no(f"Error in MANAGESIEVE command {command}: {problem}")


def _compile_errors(name: str | None, exc: SieveCompileError) -> Reply:
    """``NO`` with the errors as a literal, like Pigeonhole (RFC 5804 §2.6)."""
    return Reply(b"NO " + string(report(name, exc)) + b"\r\n")


def _takes(kinds: str) -> Callable[[Callable[..., Reply]], Callable[[Session, str, list[Token]], Reply]]:
    """Wrap a store command: check its arguments (``s`` string, decoded unless it is the script; ``n`` number)
    and turn the store's refusals into ``NO`` with their RFC 5804 §1.3 response code."""

    def wrap(method: Callable[..., Reply]) -> Callable[[Session, str, list[Token]], Reply]:
        script_arg = method.__name__ in ("cmd_PUTSCRIPT", "cmd_CHECKSCRIPT")

        @functools.wraps(method)
        def handler(self: Session, command: str, args: list[Token]) -> Reply:
            checked = self._args(command, args, kinds)
            if isinstance(checked, Reply):
                return checked
            values: list[object] = []
            for i, arg in enumerate(checked):
                is_script = script_arg and i == len(checked) - 1
                if isinstance(arg, Oversized) and is_script:
                    return _no(f"{TOO_LARGE[:-1]} ({arg.size} bytes).", QUOTA_MAXSIZE)
                if isinstance(arg, Oversized):
                    return self._count(_syntax(command, f"{ARGUMENT_TOO_LONG} ({arg.size} bytes)."))
                values.append(
                    arg.decode("utf-8", "replace") if isinstance(arg, bytes) and not is_script else arg
                )
            try:
                return method(self, *values)
            except ScriptError as exc:
                return _no(exc.message, exc.code)
            except OSError as exc:  # a name within the store's character limit, beyond the file system's
                if exc.errno != errno.ENAMETOOLONG:
                    raise
                return _no(NAME_TOO_LONG)

        return handler

    return wrap


class Session:
    """One ManageSieve connection's state and command handlers (RFC 5804 §2)."""

    #: Commands allowed before authentication (RFC 5804 §2.1–§2.4).
    UNAUTHENTICATED = frozenset({"CAPABILITY", "STARTTLS", "AUTHENTICATE", "LOGOUT", "NOOP"})

    def __init__(
        self,
        store: ScriptStore,
        authenticator: Authenticator,
        capabilities: Capabilities,
        remote_addr: str = "",
        secure: bool = False,
    ) -> None:
        self.store, self.authenticator, self.caps = store, authenticator, capabilities
        self.remote_addr = remote_addr
        self.secure = secure
        self.user: str | None = None
        self._sasl: _Sasl | None = None
        self._errors = 0

    # -- framing ------------------------------------------------------------------------------------------
    def greeting(self) -> bytes:
        """The capability listing followed by ``OK`` that opens a connection (RFC 5804 §1.7)."""
        return self.capability_lines() + response("OK", GREETING)

    def capability_lines(self) -> bytes:
        """The capability response lines for the current state (RFC 5804 §1.7)."""
        caps: list[tuple[str, str | None]] = [
            ("IMPLEMENTATION", self.caps.implementation),
            ("SIEVE", self.caps.sieve()),
        ]
        if self.user is not None:
            caps += [("MAXREDIRECTS", str(self.caps.max_redirects)), ("OWNER", self.user)]
        if "enotify" in self.caps.extensions:
            caps.append(("NOTIFY", "mailto"))
        if self.user is None:
            caps.append(("SASL", "PLAIN LOGIN" if self.secure or self.caps.allow_plaintext else ""))
            if self.caps.tls_available and not self.secure:
                caps.append(("STARTTLS", None))
        else:
            caps.append(("UNAUTHENTICATE", None))
        caps.append(("VERSION", "1.0"))
        return b"".join(string(k) + (b" " + string(v) if v is not None else b"") + b"\r\n" for k, v in caps)

    def handle(self, line: list[Token]) -> Reply:
        """Answer one line (a command, or a client response during SASL)."""
        if self._sasl is not None:
            return self._sasl_step(line)
        if not line:
            return self._count(_no("Empty command."))
        name = line[0]
        if not isinstance(name, Atom):
            return self._count(_no("Error in MANAGESIEVE command received by server."))
        command = name.upper()
        handler = getattr(self, f"cmd_{command}", None)
        if handler is None:
            return self._count(_syntax(command, "Unknown command."))
        if self.user is None and command not in self.UNAUTHENTICATED:
            return self._count(_syntax(command, "Authenticate first."))
        reply: Reply = handler(command, line[1:])
        return reply

    def _count(self, reply: Reply) -> Reply:
        self._errors += 1
        if self._errors >= MAX_ERRORS:
            return Reply(reply.data + response("BYE", TOO_MANY_ERRORS), close=True)
        return reply

    def _args(self, command: str, args: list[Token], kinds: str) -> list[Token] | Reply:
        """Check arguments against ``kinds`` (``s`` string, ``n`` number; upper case: optional)."""
        required = sum(1 for k in kinds if k.islower())
        if len(args) < required:
            return self._count(_syntax(command, "Missing arguments."))
        if len(args) > len(kinds):
            return self._count(_syntax(command, "Too many command arguments."))
        for arg, kind in zip(args, kinds, strict=False):
            ok = isinstance(arg, int) if kind in "nN" else isinstance(arg, bytes | Oversized)
            if not ok or isinstance(arg, Atom):
                return self._count(_syntax(command, "Invalid arguments."))
        return args

    @staticmethod
    def _name(arg: bytes) -> str:
        return arg.decode("utf-8", "replace")

    # -- not authenticated --------------------------------------------------------------------------------
    @_takes("")
    def cmd_CAPABILITY(self) -> Reply:
        """RFC 5804 §2.4."""
        return Reply(self.capability_lines() + response("OK", CAPABILITY_DONE))

    def cmd_STARTTLS(self, command: str, args: list[Token]) -> Reply:
        """RFC 5804 §2.2: the server upgrades the connection after this OK, then sends its capabilities."""
        if self.secure:
            return _no(TLS_ACTIVE)
        if not self.caps.tls_available or self.user is not None:
            return _no(TLS_UNAVAILABLE)
        return Reply(response("OK", TLS_BEGIN), starttls=True)

    def tls_started(self) -> bytes:
        """Called by the server once TLS is up: the capabilities again (RFC 5804 §2.2)."""
        self.secure = True
        return self.capability_lines() + response("OK", "TLS negotiation successful.")

    def cmd_LOGOUT(self, command: str, args: list[Token]) -> Reply:
        """RFC 5804 §2.3."""
        return Reply(response("OK", LOGOUT_DONE), close=True)

    @_takes("S")
    def cmd_NOOP(self, tag: str | None = None) -> Reply:
        """RFC 5804 §2.13: an optional tag is echoed in a ``TAG`` response code."""
        if tag is not None:
            return Reply(response("OK", "Done", b"TAG " + string(tag)))
        return _ok(NOOP_DONE)

    def cmd_AUTHENTICATE(self, command: str, args: list[Token]) -> Reply:
        """RFC 5804 §2.1 with SASL PLAIN (RFC 4616) and LOGIN; plaintext needs TLS unless allowed.

        An initial response longer than the reader's literal bound was dropped unread (an
        :class:`~.protocol.Oversized` token): it is refused with ``NO``, as an invalid response.
        """
        if self.user is not None:
            return _syntax(command, "Already authenticated.")
        checked = self._args(command, args, "sS")
        if isinstance(checked, Reply):
            return checked
        mechanism_arg, initial = checked[0], checked[1] if len(checked) > 1 else None
        if not isinstance(mechanism_arg, bytes):
            return self._count(_no(AUTH_UNKNOWN_MECH))
        mechanism = self._name(mechanism_arg).upper()
        if mechanism not in ("PLAIN", "LOGIN"):
            return _no(AUTH_UNKNOWN_MECH)
        if not (self.secure or self.caps.allow_plaintext):
            return _no(ENCRYPT_NEEDED, "ENCRYPT-NEEDED")
        if isinstance(initial, Oversized):
            return self._count(_no(f"{AUTH_TOO_LONG} ({initial.size} bytes)."))
        if not (initial is None or isinstance(initial, bytes)):
            return self._count(_no(AUTH_BAD_RESPONSE))
        self._sasl = _Sasl(mechanism, initial)
        return self._sasl_next()

    def _sasl_next(self) -> Reply:
        """Send the next challenge, or finish once every response is in."""
        sasl = self._sasl
        assert sasl is not None
        try:
            answers = [
                base64.b64decode(r, validate=True)
                for r in ([sasl.initial] if sasl.initial is not None else []) + sasl.responses
            ]
        except (binascii.Error, ValueError):
            self._sasl = None
            return self._count(_no(AUTH_BAD_RESPONSE))
        challenges = _SASL_CHALLENGES.get(sasl.mechanism, (b"",))
        if len(answers) < len(challenges):
            return Reply(string(base64.b64encode(challenges[len(answers)])) + b"\r\n")
        self._sasl = None
        if sasl.mechanism == "PLAIN":
            parts = answers[0].split(b"\0")
            if len(parts) != 3:
                return self._count(_no(AUTH_BAD_RESPONSE))
            authzid, login, password = parts
        else:
            authzid, login, password = b"", answers[0], answers[1]
        return self._login(
            authzid.decode("utf-8", "replace"),
            login.decode("utf-8", "replace"),
            password.decode("utf-8", "replace"),
        )

    def _sasl_step(self, line: list[Token]) -> Reply:
        sasl = self._sasl
        assert sasl is not None
        if len(line) == 1 and isinstance(line[0], Oversized):
            self._sasl = None
            return self._count(_no(f"{AUTH_TOO_LONG} ({line[0].size} bytes)."))
        if len(line) != 1 or not isinstance(line[0], bytes) or isinstance(line[0], Atom):
            self._sasl = None
            return self._count(_no(AUTH_BAD_RESPONSE))
        if line[0] == b"*":
            self._sasl = None
            return _no(AUTH_ABORTED)
        sasl.responses.append(line[0])
        return self._sasl_next()

    def _login(self, authzid: str, login: str, password: str) -> Reply:
        try:
            user = self.authenticator.authenticate(login, password, authzid, self.remote_addr)
        except AuthenticationUnavailable:
            return _no(AUTH_TRYLATER, "TRYLATER")
        if user is None:
            reply = self._count(_no(AUTH_FAILED))
            reply.failed_login = True
            return reply
        self.user = user
        self._errors = 0
        return _ok(LOGGED_IN)

    # -- authenticated ------------------------------------------------------------------------------------
    def cmd_UNAUTHENTICATE(self, command: str, args: list[Token]) -> Reply:
        """RFC 5804 §2.14.1: back to the non-authenticated state."""
        self.user = None
        return _ok(UNAUTHENTICATE_DONE)

    def _user(self) -> str:
        assert self.user is not None
        return self.user

    @_takes("ss")
    def cmd_PUTSCRIPT(self, name: str, data: bytes) -> Reply:
        """RFC 5804 §2.6: store a valid script; an invalid one is refused with its errors."""
        try:
            self.store.put(self._user(), name, data)
        except SieveCompileError as exc:
            return _compile_errors(name, exc)
        return _ok(PUTSCRIPT_DONE)

    @_takes("s")
    def cmd_CHECKSCRIPT(self, data: bytes) -> Reply:
        """RFC 5804 §2.12: check a script without storing it."""
        try:
            self.store.validate("", data)
        except SieveCompileError as exc:
            return _compile_errors(None, exc)
        return _ok(CHECKSCRIPT_DONE)

    @_takes("")
    def cmd_LISTSCRIPTS(self) -> Reply:
        """RFC 5804 §2.7: one line per script, ``ACTIVE`` after the active one."""
        lines = [
            string(name) + (b" ACTIVE" if active else b"") + b"\r\n"
            for name, active in self.store.list(self._user())
        ]
        return Reply(b"".join(lines) + response("OK", LISTSCRIPTS_DONE))

    @_takes("s")
    def cmd_GETSCRIPT(self, name: str) -> Reply:
        """RFC 5804 §2.9: the script as a literal."""
        data = self.store.get(self._user(), name)
        return Reply(b"{%d}\r\n" % len(data) + data + b"\r\n" + response("OK", GETSCRIPT_DONE))

    @_takes("s")
    def cmd_SETACTIVE(self, name: str) -> Reply:
        """RFC 5804 §2.8: activate a script; the empty name deactivates."""
        changed = self.store.set_active(self._user(), name)
        if name == "":
            return _ok(DEACTIVATED if changed else NONE_ACTIVE)
        return _ok(SETACTIVE_DONE if changed else SETACTIVE_SAME)

    @_takes("s")
    def cmd_DELETESCRIPT(self, name: str) -> Reply:
        """RFC 5804 §2.10: the active script is refused with ``NO (ACTIVE)``."""
        self.store.delete(self._user(), name)
        return _ok(DELETESCRIPT_DONE)

    @_takes("ss")
    def cmd_RENAMESCRIPT(self, old: str, new: str) -> Reply:
        """RFC 5804 §2.11.1: ``ALREADYEXISTS`` when the new name is taken."""
        self.store.rename(self._user(), old, new)
        return _ok(RENAMESCRIPT_DONE)

    @_takes("sn")
    def cmd_HAVESPACE(self, name: str, size: int) -> Reply:
        """RFC 5804 §2.5: would a script of this size fit?"""
        self.store.have_space(self._user(), name, size)
        return _ok(HAVESPACE_DONE)
