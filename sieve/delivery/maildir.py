# SPDX-License-Identifier: GPL-3.0-or-later
"""Maildir++ delivery as Dovecot lays it out, so that Dovecot's IMAP sees what we store.

* Folders are dot-separated directories below the Maildir: ``Collègues/Lefèvre`` is
  ``.Coll&AOg-gues.Lef&AOg-vre``, each level in modified UTF-7 (RFC 3501 §5.1.3), ``/`` being the hierarchy
  separator of the Sieve mailbox name (RFC 5228 §4.1). A sub-folder holds an empty ``maildirfolder`` file
  (Maildir++).
* IMAP flags (RFC 5232 §5) become the info letters of the file name: ``\\Draft`` D, ``\\Flagged`` F,
  ``\\Answered`` R, ``\\Seen`` S, ``\\Deleted`` T; keywords get letters ``a``–``z`` through the folder's
  ``dovecot-keywords`` file. A message with flags goes to ``cur/`` with ``:2,FLAGS``, one without to ``new/``.
* Durability: the message is written in ``tmp/``, ``fsync``-ed, renamed into place, and the target directory
  is ``fsync``-ed; only then may the sender be told it is delivered (RFC 5321 §6.1, RFC 2033 §4.2).
* The base name is derived from the message, the recipient and the folder, so a delivery that crashed after
  the rename and is retried by the MTA renames onto the same name: no duplicate.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import os
import socket
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..scripts import _fsync_dir

__all__ = [
    "InvalidFolder",
    "Maildir",
    "PreparedMessage",
    "decode_mutf7",
    "encode_mutf7",
    "folder_path",
    "info_letters",
]

SEPARATOR = "/"
#: System flags and their Maildir info letters (in the ASCII order the info part requires).
SYSTEM_FLAGS = {"\\draft": "D", "\\flagged": "F", "\\answered": "R", "\\seen": "S", "\\deleted": "T"}
KEYWORDS_FILE = "dovecot-keywords"
MAX_KEYWORDS = 26


class InvalidFolder(ValueError):
    """A mailbox name that cannot be a Maildir++ folder (empty level, ``.``, control characters…)."""


def encode_mutf7(name: str) -> str:
    """Modified UTF-7 of RFC 3501 §5.1.3: printable ASCII as is (``&`` as ``&-``), the rest as
    ``&base64-``.
    """
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def decode_mutf7(name: str) -> str:
    """The inverse of :func:`encode_mutf7`."""
    out: list[str] = []
    i = 0
    while i < len(name):
        if name[i] != "&":
            out.append(name[i])
            i += 1
            continue
        end = name.index("-", i)
        chunk = name[i + 1 : end]
        if not chunk:
            out.append("&")
        else:
            data = chunk.replace(",", "/")
            out.append(base64.b64decode(data + "=" * (-len(data) % 4)).decode("utf-16-be"))
        i = end + 1
    return "".join(out)


def folder_path(maildir: Path, mailbox: str) -> Path:
    """Where the Sieve mailbox ``mailbox`` lives: the Maildir itself for INBOX, else ``.Level1.Level2``.

    Raises:
        InvalidFolder: an empty level, a level holding ``.`` (Maildir++'s own separator) or a control
        character.
    """
    if mailbox.upper() == "INBOX":
        return maildir
    levels = mailbox.split(SEPARATOR)
    for level in levels:
        if not level or "." in level or any(ord(c) < 0x20 or c == "\x7f" for c in level):
            raise InvalidFolder(f"invalid mailbox name {mailbox!r}")
    return maildir / ("." + ".".join(encode_mutf7(level) for level in levels))


def info_letters(flags: Sequence[str], keyword_letter: dict[str, str]) -> str:
    """The info part after ``:2,``: system letters then keyword letters, each in ASCII order (Maildir)."""
    letters = {SYSTEM_FLAGS[f.lower()] for f in flags if f.lower() in SYSTEM_FLAGS}
    letters |= {keyword_letter[f] for f in flags if f in keyword_letter}
    return "".join(sorted(letters))


def _safe_host(name: str) -> str:
    """The host part of a Maildir file name: ``/`` and ``:`` escaped as the Maildir specification says."""
    return name.replace("/", "\\057").replace(":", "\\072")


@dataclass(frozen=True, slots=True)
class PreparedMessage:
    """A message written and synced in ``tmp/``, waiting for :meth:`Maildir.commit`."""

    tmp: Path
    target: Path


class Maildir:
    """One user's Maildir++ (``<home>/Maildir``); ``autocreate`` lets ``fileinto`` create missing folders."""

    def __init__(self, root: Path, autocreate: bool = False, hostname: str | None = None) -> None:
        self.root = Path(root)
        self.autocreate = autocreate
        self.hostname = _safe_host(hostname or socket.gethostname())

    # -- folders ------------------------------------------------------------------------------------------
    def exists(self, mailbox: str) -> bool:
        """Whether the folder exists (the ``mailboxexists`` test, RFC 5490 §3.1); INBOX always does."""
        if mailbox.upper() == "INBOX":
            return True
        try:
            return (folder_path(self.root, mailbox) / "cur").is_dir()
        except InvalidFolder:
            return False

    def ensure(self, mailbox: str, create: bool = False) -> Path:
        """The folder's directory, created with ``tmp``/``new``/``cur`` when allowed (INBOX always is).

        Raises:
            InvalidFolder: a bad name. FileNotFoundError: the folder is missing and neither ``create`` nor
            ``autocreate`` allows creating it.
        """
        path = folder_path(self.root, mailbox)
        if (path / "tmp").is_dir() and (path / "new").is_dir():
            return path
        if path != self.root and not path.exists() and not (create or self.autocreate):
            raise FileNotFoundError(f"mailbox {mailbox!r} does not exist")
        self._create(path)
        return path

    def _create(self, path: Path) -> None:
        """Make the folder and whatever is missing above it, then ``fsync`` every directory that gained an
        entry, so that a folder (or a new user's home) survives a crash once a message in it is acknowledged.
        """
        missing = [path]
        while not missing[-1].parent.is_dir():
            missing.append(missing[-1].parent)
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        for sub in ("cur", "new", "tmp"):
            (path / sub).mkdir(exist_ok=True, mode=0o700)
        if path != self.root:
            marker = path / "maildirfolder"
            if not marker.exists():
                marker.touch(mode=0o600)
        for directory in [path, *(p.parent for p in missing)]:
            _fsync_dir(directory)

    # -- keywords -----------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _keywords_locked(self, folder: Path) -> Iterator[None]:
        fd = os.open(folder / (KEYWORDS_FILE + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    @staticmethod
    def read_keywords(folder: Path) -> dict[str, str]:
        """``dovecot-keywords`` as ``{keyword: letter}`` (lines ``N name``, N = 0 for ``a``)."""
        found: dict[str, str] = {}
        try:
            text = (folder / KEYWORDS_FILE).read_text(encoding="utf-8")
        except FileNotFoundError:
            return found
        for line in text.splitlines():
            number, _, name = line.partition(" ")
            if number.isdigit() and int(number) < MAX_KEYWORDS and name:
                found[name] = chr(ord("a") + int(number))
        return found

    def keyword_letters(self, folder: Path, keywords: Sequence[str]) -> dict[str, str]:
        """Letters for ``keywords``, adding the missing ones to ``dovecot-keywords`` (at most 26 per
        folder).
        """
        known = self.read_keywords(folder)
        if all(k in known for k in keywords):
            return known
        with self._keywords_locked(folder):
            known = self.read_keywords(folder)
            numbers = {ord(letter) - ord("a"): name for name, letter in known.items()}
            for keyword in keywords:
                if keyword in known or len(numbers) >= MAX_KEYWORDS or not _is_atom(keyword):
                    continue  # RFC 3501 §9 flag-keyword is an atom: no space, control or special character
                number = next(n for n in range(MAX_KEYWORDS) if n not in numbers)
                numbers[number] = keyword
                known[keyword] = chr(ord("a") + number)
            text = "".join(f"{n} {name}\n" for n, name in sorted(numbers.items()))
            tmp = folder / f"tmp/{KEYWORDS_FILE}.{os.getpid()}.{id(self)}"
            with open(tmp, "w", encoding="utf-8") as stream:
                stream.write(text)
                stream.flush()
                os.fsync(stream.fileno())
            os.rename(tmp, folder / KEYWORDS_FILE)
        return known

    # -- messages -----------------------------------------------------------------------------------------
    def base_name(self, message: bytes, recipient: str, folder: Path) -> str:
        """A unique base name that a retried delivery of the same bytes to the same folder reproduces."""
        digest = hashlib.sha256(
            recipient.encode() + b"\0" + str(folder).encode() + b"\0" + message
        ).hexdigest()
        return f"G{digest[:32]}.{self.hostname}"

    def prepare(
        self, folder: Path, message: bytes, recipient: str, flags: Sequence[str] = ()
    ) -> PreparedMessage:
        """Write ``message`` (LF line ends, as Dovecot stores) into ``tmp/`` and ``fsync`` it."""
        keywords = [f for f in flags if not f.startswith("\\")]
        letters = self.keyword_letters(folder, keywords) if keywords else {}
        info = info_letters(flags, letters)
        virtual = len(message) + message.count(b"\n")
        base = f"{self.base_name(message, recipient, folder)},S={len(message)},W={virtual}"
        target = folder / "cur" / f"{base}:2,{info}" if info else folder / "new" / base
        tmp = folder / "tmp" / f"{base}.{os.getpid()}.{threading.get_ident()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(message)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        return PreparedMessage(tmp, target)

    @staticmethod
    def commit(prepared: Sequence[PreparedMessage]) -> None:
        """Rename every prepared file into place, then ``fsync`` each target directory once."""
        directories: dict[Path, None] = {}
        for item in prepared:
            os.rename(item.tmp, item.target)
            directories[item.target.parent] = None
        for directory in directories:
            _fsync_dir(directory)

    @staticmethod
    def abort(prepared: Sequence[PreparedMessage]) -> None:
        """Remove prepared files that will not be committed."""
        for item in prepared:
            with contextlib.suppress(OSError):
                item.tmp.unlink()


def _is_atom(keyword: str) -> bool:
    """RFC 3501 §9 ``atom``: printable ASCII without ``(){ %*"\\]`` (``flag-keyword`` is an atom)."""
    return bool(keyword) and all(33 <= ord(char) < 127 and char not in '(){%*"\\]' for char in keyword)
