# SPDX-License-Identifier: GPL-3.0-or-later
"""The script store, in Dovecot Pigeonhole's ``file`` layout so that Dovecot runs what we store.

Under a mail-store root, a user's home is ``<root>/<user>``; their scripts are ``<home>/sieve/NAME.sieve`` and
the active one is the symbolic link ``<home>/.dovecot.sieve`` → ``sieve/NAME.sieve`` (Pigeonhole's ``sieve =
file:~/sieve;active=~/.dovecot.sieve``). RFC 5804 §1.6 names script names; §2.6–§2.11 the operations.

Every change is atomic: a script is written to ``sieve/tmp/``, flushed to disk and renamed over its name; the
link is swapped by creating a new link in ``sieve/tmp/`` and renaming it over ``.dovecot.sieve``; a rename of
the active script makes the new name (a hard link) before moving the link, then removes the old name. A crash
therefore never leaves half a script nor a dangling link. A regular file found at ``.dovecot.sieve`` (a script
written before the store managed the home) is kept as the script ``dovecot.orig``, as Pigeonhole does. Changes
of one user are serialised by a per-user lock (a thread lock plus ``flock`` on ``sieve/tmp/.lock``, so the
command line and the server can run at the same time).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import SieveError

__all__ = [
    "ACTIVE_LINK",
    "Quotas",
    "ScriptError",
    "ScriptStore",
    "check_name",
]

ACTIVE_LINK = ".dovecot.sieve"
#: Where a regular file found at ``.dovecot.sieve`` is kept when a script is activated (Pigeonhole's name).
ORIGINAL = "dovecot.orig"
SUFFIX = ".sieve"
MAX_NAME_LENGTH = 200

#: Response codes of RFC 5804 §1.3 that the store raises.
NONEXISTENT, ACTIVE, ALREADYEXISTS = "NONEXISTENT", "ACTIVE", "ALREADYEXISTS"
QUOTA, QUOTA_MAXSIZE, QUOTA_MAXSCRIPTS = "QUOTA", "QUOTA/MAXSIZE", "QUOTA/MAXSCRIPTS"


class ScriptError(SieveError):
    """A refused store operation, with the RFC 5804 §1.3 response code that says why (or None)."""

    def __init__(self, code: str | None, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Quotas:
    """Per-user limits; 0 means no limit (RFC 5804 §1.3 QUOTA/MAXSCRIPTS, QUOTA/MAXSIZE, QUOTA)."""

    max_scripts: int = 0
    max_script_size: int = 1 << 20
    max_storage: int = 0


def check_name(name: str) -> None:
    """Refuse a script name that RFC 5804 §1.6 forbids or that cannot be a file name.

    Forbidden: the empty name, control characters (U+0000–U+001F, U+007F–U+009F), U+2028/U+2029, names not in
    Unicode normalisation form C, ``/``, and names longer than 200 characters.

    Raises:
        ScriptError: without a response code, as Pigeonhole answers.
    """
    bad = (
        not name
        or len(name) > MAX_NAME_LENGTH
        or "/" in name
        or name in (".", "..")
        or any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F or ch in "\u2028\u2029" for ch in name)
        or unicodedata.normalize("NFC", name) != name
    )
    if bad:
        raise ScriptError(None, f"Invalid Sieve script name `{name}'.")


def _not_found(name: str) -> ScriptError:
    return ScriptError(NONEXISTENT, f"Sieve script `{name}' not found")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ScriptStore:
    """Users' scripts under ``root``; ``check(name, text)`` validates every script before it is written.

    ``check`` raises (typically :class:`~groupware.sieve.errors.SieveCompileError`) when a script is refused,
    so that every path that writes a script — ManageSieve, the command line — applies the same policy.
    """

    def __init__(
        self, root: Path, quotas: Quotas | None = None, check: Callable[[str, str], object] | None = None
    ) -> None:
        self.root = Path(root)
        self.quotas = quotas or Quotas()
        self.check = check
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self._made: set[str] = set()  # users whose folders exist (mkdir on every write waits on busy folders)

    # -- places -------------------------------------------------------------------------------------------
    def home(self, user: str) -> Path:
        """The user's home under the root (the user name must be a plain file name)."""
        if not user or "/" in user or user.startswith(".") or "\0" in user:
            raise ScriptError(None, f"invalid user name {user!r}")
        return self.root / user

    def path(self, user: str, name: str) -> Path:
        """Where the script ``name`` of ``user`` lies."""
        check_name(name)
        return self.home(user) / "sieve" / (name + SUFFIX)

    def _dirs(self, user: str) -> tuple[Path, Path]:
        home = self.home(user)
        tmp = home / "sieve" / "tmp"
        if user not in self._made or not tmp.is_dir():
            tmp.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._made.add(user)
        return home, tmp

    @contextlib.contextmanager
    def _locked(self, user: str) -> Iterator[tuple[Path, Path]]:
        with self._locks_lock:
            lock = self._locks.setdefault(user, threading.Lock())
        with lock:
            home, tmp = self._dirs(user)
            fd = os.open(tmp / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield home, tmp
            finally:
                os.close(fd)

    # -- reading ------------------------------------------------------------------------------------------
    def active(self, user: str) -> str | None:
        """The name of the active script, or None (a dangling or foreign link counts as none)."""
        link = self.home(user) / ACTIVE_LINK
        try:
            target = os.readlink(link)
        except OSError:
            return None
        if not (target.startswith("sieve/") and target.endswith(SUFFIX)) or "/" in target[6:]:
            return None
        name = target[6 : -len(SUFFIX)]
        return name if (link.parent / target).is_file() else None

    def names(self, user: str) -> list[str]:
        """The user's script names, sorted."""
        folder = self.home(user) / "sieve"
        try:
            entries = os.listdir(folder)
        except FileNotFoundError:
            return []
        return sorted(e[: -len(SUFFIX)] for e in entries if e.endswith(SUFFIX) and (folder / e).is_file())

    def list(self, user: str) -> list[tuple[str, bool]]:
        """``(name, is_active)`` for each script (RFC 5804 §2.7 LISTSCRIPTS)."""
        active = self.active(user)
        return [(name, name == active) for name in self.names(user)]

    def get(self, user: str, name: str) -> bytes:
        """The script's content (RFC 5804 §2.9 GETSCRIPT)."""
        try:
            return self.path(user, name).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            raise _not_found(name) from None

    def usage(self, user: str) -> dict[str, int]:
        """The size in octets of each script of ``user``."""
        folder = self.home(user) / "sieve"
        sizes = {}
        for name in self.names(user):
            with contextlib.suppress(OSError):
                sizes[name] = (folder / (name + SUFFIX)).stat().st_size
        return sizes

    # -- quotas -------------------------------------------------------------------------------------------
    def have_space(self, user: str, name: str, size: int) -> None:
        """Refuse when storing ``size`` octets as ``name`` would exceed a quota (RFC 5804 §2.5 HAVESPACE).

        Raises:
            ScriptError: ``QUOTA/MAXSIZE``, ``QUOTA/MAXSCRIPTS`` or ``QUOTA``.
        """
        check_name(name)
        q = self.quotas
        if q.max_script_size and size > q.max_script_size:
            raise ScriptError(QUOTA_MAXSIZE, f"Script is too large (max {q.max_script_size} bytes).")
        if not (q.max_scripts or q.max_storage):
            return
        sizes = self.usage(user)
        if q.max_scripts and name not in sizes and len(sizes) >= q.max_scripts:
            raise ScriptError(QUOTA_MAXSCRIPTS, f"Script count quota exceeded (max {q.max_scripts} scripts).")
        total = sum(sizes.values()) - sizes.get(name, 0) + size
        if q.max_storage and total > q.max_storage:
            raise ScriptError(QUOTA, f"Script storage quota exceeded (max {q.max_storage} bytes).")

    # -- writing ------------------------------------------------------------------------------------------
    def validate(self, name: str, data: bytes) -> str:
        """Decode ``data`` as UTF-8 (RFC 5804 §2.6) and run the checker; returns the text."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ScriptError(None, f"{name}: script is not valid UTF-8 (octet {exc.start})") from None
        if self.check is not None:
            self.check(name, text)
        return text

    def put(self, user: str, name: str, data: bytes) -> None:
        """Check and store a script atomically, replacing any script of that name (RFC 5804 §2.6 PUTSCRIPT).

        Raises:
            ScriptError: invalid name or quota exceeded.
            SieveCompileError: the checker refused the script.
        """
        self.have_space(user, name, len(data))
        self.validate(name, data)
        with self._locked(user) as (_home, tmp):
            self.have_space(user, name, len(data))
            self._write(tmp, self.path(user, name), data)

    def _write(self, tmp: Path, final: Path, data: bytes) -> None:
        fd, temp = tempfile.mkstemp(dir=tmp, prefix=".put-", suffix=SUFFIX)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, 0o600)
            os.replace(temp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        _fsync_dir(final.parent)

    def _link(self, home: Path, tmp: Path, name: str | None) -> None:
        """Point ``.dovecot.sieve`` at ``name`` (or remove it) in one rename."""
        link = home / ACTIVE_LINK
        if link.is_file() and not link.is_symlink():  # a script written by hand: keep it, as Pigeonhole does
            kept = home / "sieve" / (ORIGINAL + SUFFIX)
            if not os.path.lexists(kept):
                os.replace(link, kept)
        if name is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(link)
            _fsync_dir(home)
            return
        temp = tmp / f".link-{os.getpid()}-{threading.get_ident()}"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        os.symlink(f"sieve/{name}{SUFFIX}", temp)
        os.replace(temp, link)
        _fsync_dir(home)

    def set_active(self, user: str, name: str) -> bool:
        """Make ``name`` the active script; the empty name deactivates (RFC 5804 §2.8 SETACTIVE).

        Returns:
            False when nothing changed (the script was already active, or none was and none is asked).
        """
        with self._locked(user) as (home, tmp):
            current = self.active(user)
            if name == "":
                if current is None and not os.path.lexists(home / ACTIVE_LINK):
                    return False
                self._link(home, tmp, None)
                return True
            if not self.path(user, name).is_file():
                raise _not_found(name)
            if current == name:
                return False
            self._link(home, tmp, name)
            return True

    def delete(self, user: str, name: str) -> None:
        """Delete a script; the active one is refused with ``ACTIVE`` (RFC 5804 §2.10 DELETESCRIPT)."""
        with self._locked(user):
            path = self.path(user, name)
            if not path.is_file():
                raise _not_found(name)
            if self.active(user) == name:
                raise ScriptError(ACTIVE, "Cannot delete the active Sieve script.")
            os.unlink(path)
            _fsync_dir(path.parent)

    def rename(self, user: str, old: str, new: str) -> None:
        """Rename a script, keeping it active if it was (RFC 5804 §2.11.1 RENAMESCRIPT)."""
        with self._locked(user) as (home, tmp):
            source, target = self.path(user, old), self.path(user, new)
            if not source.is_file():
                raise _not_found(old)
            if old == new:
                return
            if os.path.lexists(target):
                raise ScriptError(ALREADYEXISTS, "A sieve script with that name already exists.")
            was_active = self.active(user) == old
            os.link(source, target)
            _fsync_dir(target.parent)
            if was_active:
                self._link(home, tmp, new)
            os.unlink(source)
            _fsync_dir(source.parent)

    def active_path(self, user: str) -> Path | None:
        """The file of the active script, for delivery (None when no script is active)."""
        name = self.active(user)
        return None if name is None else self.path(user, name)
