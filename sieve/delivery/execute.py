# SPDX-License-Identifier: GPL-3.0-or-later
"""One message to one recipient: run the admin and personal scripts, then carry out their actions.

The scripts run in sequence (admin ``before`` scripts, the user's active script, admin ``after`` scripts), as
Pigeonhole's ``sieve_before``/``sieve_after`` do: the next script runs only while the implicit keep of the
previous ones still holds (RFC 5228 §2.10.2), so an admin rule that files spam and stops is final. The merged
actions are then executed (RFC 5228 §4):

* ``redirect`` first, through the relay (RFC 5228 §4.2, with ``X-Sieve-Redirected-From`` against loops); with
  an outgoing queue (:mod:`.outgoing`) a temporary relay failure leaves the redirect queued for a later
  attempt, without one it fails the whole delivery with 4xx before anything is stored; a permanent one keeps
  the message in INBOX so that nothing is lost;
* ``keep``/``fileinto`` into Maildir++ folders with their flags, on the copy edited by ``addheader`` and
  ``deleteheader`` (RFC 5293), every copy synced before any is renamed into place;
* ``reject`` answers 550 for this recipient (RFC 5429 §2.2; LMTP gives one answer per recipient, RFC 2033
  §4.2);
* ``vacation`` after the message is stored, when :func:`~groupware.sieve.vacation.decide` allows it (RFC 5230
  §4, RFC 3834 §2), sent with the null reverse-path (RFC 3834 §3.3); ``notify`` ``mailto:`` likewise (RFC
  5436).

A failure to send a reply or notification is logged and does not fail the delivery (it would duplicate the
stored message on retry); a temporary one leaves it in the outgoing queue when there is one. A vacation reply
counts as sent (RFC 5230 §4.2) only once the relay has accepted it: a reply given up, refused or never sent
is forgotten, so that the sender's next message is answered.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import email.header
import email.policy
import email.utils
import hashlib
import logging
import os
import socket
import threading
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from .. import actions as A
from ..compile import Program, compile_script
from ..errors import SieveError
from ..evaluate import Meter, evaluate
from ..host import Budget, Environment, Policy, Recipient, ReplyTracker
from ..mailto import mailto_recipients
from ..message import MAX_MIME_DEPTH, MessageFacts
from ..vacation import build_reply, decide
from .forwarding import enforce_forwarding
from .maildir import InvalidFolder, Maildir, PreparedMessage
from .outgoing import Outgoing, OutgoingQueue, Sender
from .relay import RelayError, RelayPermanentError, RelayTemporaryError
from .replies import SqliteReplyTracker

__all__ = ["Delivery", "Incoming", "Outcome", "Plan", "ScriptSource", "edit_headers", "run_sequence"]

log = logging.getLogger("groupware.sieve.delivery")

REDIRECTED_FROM = "X-Sieve-Redirected-From"
_ADDRESS_FIELDS = ("from", "sender", "reply-to", "to", "cc")
#: Seconds a sent redirect is remembered (Pigeonhole's ``sieve_redirect_duplicate_period`` default, 12 hours).
REDIRECT_PERIOD = 12 * 3600
#: Compiled personal scripts kept in memory (the least recently compiled are dropped first).
MAX_COMPILED = 4096
#: CPU seconds the scripts may spend on one message for one recipient (Pigeonhole's ``sieve_max_cpu_time``
#: is 30 s; our scripts run in the server's own threads, so less).
DEFAULT_CPU_SECONDS = 5.0


class ScriptSource(Protocol):
    """Where a user's mail home and active script are (``groupware.sieve.scripts.ScriptStore`` is one)."""

    def home(self, user: str) -> Path: ...

    def active_path(self, user: str) -> Path | None: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """The LMTP answer for one recipient (RFC 2033 §4.2, enhanced codes RFC 3463)."""

    code: int
    status: str
    text: str

    @property
    def line(self) -> str:
        """``code status text`` without the line end."""
        return f"{self.code} {self.status} {self.text}"


@dataclass(frozen=True, slots=True)
class Incoming:
    """A received message: ``raw`` as it came (CRLF), ``stored`` with LF line ends, and the parsed form."""

    raw: bytes
    stored: bytes
    facts: MessageFacts

    @classmethod
    def parse(cls, raw: bytes, max_mime_depth: int = MAX_MIME_DEPTH) -> Incoming:
        """Parse once, MIME nesting bounded (RFC 2046 §5); every recipient's evaluation reuses the result."""
        return cls(raw, raw.replace(b"\r\n", b"\n"), MessageFacts(raw, max_mime_depth=max_mime_depth))


@dataclass(slots=True)
class Plan:
    """The actions of the script sequence, merged: one store per folder, one redirect per address."""

    stores: dict[str, tuple[str, bool, tuple[str, ...]]] = field(default_factory=dict)
    redirects: list[str] = field(default_factory=list)
    edits: list[A.AddHeader | A.DeleteHeader] = field(default_factory=list)
    vacation: A.Vacation | None = None
    notifies: list[A.Notify] = field(default_factory=list)
    reject: A.Reject | None = None
    failures: list[A.RuntimeFailure] = field(default_factory=list)

    def store(self, mailbox: str, create: bool, flags: tuple[str, ...]) -> None:
        """A store into ``mailbox`` (INBOX in any case is one folder); the last flags win."""
        key = "INBOX" if mailbox.upper() == "INBOX" or not mailbox else mailbox  # "": INBOX, as Pigeonhole
        previous = self.stores.get(key)
        self.stores[key] = (key, create or (previous is not None and previous[1]), flags)

    @classmethod
    def of(cls, actions: Sequence[A.Action]) -> Plan:
        """Merge an action list (RFC 5228 §2.10.3: duplicate stores and redirects are done once)."""
        plan = cls()
        for action in actions:
            match action:
                case A.Keep(flags) | A.ImplicitKeep(flags):
                    plan.store("INBOX", False, flags)
                case A.FileInto(mailbox, _, create, flags):
                    plan.store(mailbox, create, flags)
                case A.Redirect(address, _):
                    if address.lower() not in (r.lower() for r in plan.redirects):
                        plan.redirects.append(address)
                case A.AddHeader() | A.DeleteHeader():
                    plan.edits.append(action)
                case A.Vacation():
                    plan.vacation = plan.vacation or action
                case A.Notify():
                    plan.notifies.append(action)
                case A.Reject():
                    plan.reject = action
                case A.RuntimeFailure():
                    plan.failures.append(action)
        return plan


def run_sequence(programs: Sequence[Program], facts: MessageFacts, env: Environment) -> list[A.Action]:
    """Evaluate scripts in order while the implicit keep holds; the last implicit keep is the final one.

    The scripts share one budget (``env.budget``): past it, the script running fails and the message is kept
    (RFC 5228 §2.10.6), whatever the scripts before it decided.
    """
    out: list[A.Action] = []
    keep: A.ImplicitKeep | None = A.ImplicitKeep()
    meter = Meter(env.budget)
    for program in programs:
        actions = evaluate(program, facts, env, meter)
        keep = next((a for a in actions if isinstance(a, A.ImplicitKeep)), None)
        out.extend(a for a in actions if not isinstance(a, A.ImplicitKeep))
        if keep is None or any(isinstance(a, A.RuntimeFailure) for a in actions):
            break
    if keep is not None:
        out.append(keep)
    return out


def _header_line(name: str, value: str) -> bytes:
    if not value.isascii():
        value = email.header.Header(value, "utf-8", header_name=name).encode()
    return f"{name}: {value}".encode("ascii", "replace")


def edit_headers(message: bytes, edits: Sequence[A.AddHeader | A.DeleteHeader]) -> bytes:
    """Apply ``addheader``/``deleteheader`` (RFC 5293 §4–§5) to a message with LF line ends, in order."""
    if not edits:
        return message
    end = message.find(b"\n\n")
    if message.startswith(b"\n"):
        head, body = b"", b"\n" + message
    elif end < 0:
        head, body = message.rstrip(b"\n"), b"\n"
    else:
        head, body = message[:end], message[end:]
    fields: list[tuple[str, bytes]] = []
    for line in head.split(b"\n") if head else []:
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] = (fields[-1][0], fields[-1][1] + b"\n" + line)
        else:
            fields.append((line.split(b":", 1)[0].strip().decode("ascii", "replace").lower(), line))
    for edit in edits:
        if isinstance(edit, A.AddHeader):
            item = (edit.name.lower(), _header_line(edit.name, edit.value))
            fields.insert(len(fields) if edit.last else 0, item)
        else:
            # 1-based positions in the whole header, as the evaluator saw it when it deleted them
            drop = {
                n - 1
                for n in edit.occurrences
                if 0 < n <= len(fields) and fields[n - 1][0] == edit.name.lower()
            }
            fields = [f for i, f in enumerate(fields) if i not in drop]
    return b"\n".join(line for _, line in fields) + body


def _notification(
    action: A.Notify, facts: MessageFacts, address: str, now: _dt.datetime
) -> tuple[list[str], bytes]:
    """The message of a ``mailto:`` notification (RFC 5436 §2): recipients (those of the URI's ``to`` header
    field too, RFC 6068 §2) and bytes."""
    parts = urllib.parse.urlsplit(action.method)
    query = dict(urllib.parse.parse_qsl(parts.query))
    recipients = mailto_recipients(action.method) or []
    note = EmailMessage()
    note["From"] = action.from_addr or address
    note["To"] = ", ".join(recipients)
    subject = facts.header("subject")
    note["Subject"] = (
        query.get("subject") or action.message or f"Notification: {subject[0] if subject else ''}"
    )
    note["Date"] = email.utils.format_datetime(now)
    note["Auto-Submitted"] = "auto-notified"
    note.set_content(query.get("body") or action.message or "You have new mail.")
    return recipients, message_bytes(note)


class Delivery:
    """Delivers to local recipients; thread-safe (the LMTP server calls it from a pool of threads)."""

    def __init__(
        self,
        scripts: ScriptSource,
        policy: Policy,
        before: Sequence[Program] = (),
        after: Sequence[Program] = (),
        relay: Sender | None = None,
        autocreate: bool = False,
        hostname: str | None = None,
        clock: Callable[[], _dt.datetime] = lambda: _dt.datetime.now().astimezone(),
        budget: Budget | None = None,
        max_mime_depth: int = MAX_MIME_DEPTH,
        queue: OutgoingQueue | None = None,
    ) -> None:
        """``queue``: the outgoing queue that sends through its relay (``relay`` is then its relay); without
        it, outgoing messages go straight to ``relay``."""
        self.scripts = scripts
        self.budget = budget if budget is not None else Budget(cpu_seconds=DEFAULT_CPU_SECONDS)
        self.max_mime_depth = max_mime_depth
        self.policy = policy
        self.before, self.after = tuple(before), tuple(after)
        self.queue = queue
        self.relay = queue.relay if queue is not None else relay
        self.autocreate = autocreate
        self.hostname = hostname or socket.gethostname()
        self.clock = clock
        self._compiled: OrderedDict[Path, tuple[tuple[int, int, int], Program | None]] = OrderedDict()
        self._lock = threading.Lock()

    def parse(self, raw: bytes) -> Incoming:
        """The received message, parsed once for all its recipients (MIME nesting bounded, RFC 2046 §5)."""
        return Incoming.parse(raw, self.max_mime_depth)

    # -- scripts ------------------------------------------------------------------------------------------
    def _personal(self, user: str) -> Program | None:
        """The user's active script, compiled once per version of the file."""
        path = self.scripts.active_path(user)
        if path is None:
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._compiled.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        program: Program | None
        try:
            program = compile_script(path.read_text(encoding="utf-8"), self.policy, _Personal(path.parent))
        except (SieveError, OSError, UnicodeDecodeError) as exc:
            log.warning(
                "user script not run", extra={"event": "sieve_script_error", "user": user, "error": str(exc)}
            )
            program = None
        with self._lock:
            self._compiled[path] = (stamp, program)
            while len(self._compiled) > MAX_COMPILED:
                self._compiled.popitem(last=False)
        return program

    def programs(self, user: str) -> list[Program]:
        """Admin ``before`` scripts, the user's active script, admin ``after`` scripts."""
        personal = self._personal(user)
        return [*self.before, *([personal] if personal is not None else []), *self.after]

    # -- delivery -----------------------------------------------------------------------------------------
    def environment(self, sender: str, address: str, maildir: Maildir, tracker: ReplyTracker) -> Environment:
        """What the scripts may ask beyond the message (RFC 5228 §5.4, RFC 5183, RFC 7352, RFC 5490)."""
        now = self.clock()

        def seen(key: str, seconds: int) -> bool:
            return tracker.check_and_record("duplicate\0" + key, seconds, now)

        values = {
            "location": "MDA",
            "phase": "during",
            "host": self.hostname,
            "domain": self.hostname.partition(".")[2] or self.hostname,
        }
        return Environment(
            envelope_from=sender,
            envelope_to=address,
            original_to=address,
            now=now,
            values=values,
            seen=seen,
            mailbox_exists=maildir.exists,
            budget=self.budget,
        )

    def deliver(self, incoming: Incoming, sender: str, address: str, recipient: Recipient) -> Outcome:
        """Deliver to one recipient; 250 only once every copy is durably stored, 4xx on any failure before."""
        try:
            return self._deliver(incoming, sender, address, recipient)
        except RelayTemporaryError as exc:
            log.warning(
                "redirect deferred",
                extra={"event": "redirect_deferred", "user": recipient.user, "error": str(exc)},
            )
            return Outcome(451, "4.4.0", f"<{address}> redirect relay unavailable, try again later")
        except OSError as exc:
            log.error(
                "delivery failed",
                extra={"event": "delivery_failed", "user": recipient.user, "error": str(exc)},
            )
            return Outcome(451, "4.3.0", f"<{address}> temporary failure storing the message")
        except Exception:
            log.exception("delivery failed", extra={"event": "delivery_failed", "user": recipient.user})
            return Outcome(451, "4.3.0", f"<{address}> internal error, try again later")

    def _deliver(self, incoming: Incoming, sender: str, address: str, recipient: Recipient) -> Outcome:
        home = self.scripts.home(recipient.user)
        maildir = Maildir(home / "Maildir", self.autocreate, self.hostname)
        tracker = SqliteReplyTracker(home)
        env = self.environment(sender, address, maildir, tracker)
        plan = Plan.of(run_sequence(self.programs(recipient.user), incoming.facts, env))
        enforce_forwarding(plan, self.policy.redirect_domains, recipient.user)
        self.planned(plan)
        for failure in plan.failures:
            log.warning(
                "script over its budget, message kept" if failure.over_budget else "script failed",
                extra={
                    "event": "sieve_over_budget" if failure.over_budget else "sieve_runtime_error",
                    "user": recipient.user,
                    "error": failure.message,
                },
            )
        if plan.reject is not None:
            reason = " ".join(plan.reject.reason.split())[:200].encode("ascii", "replace").decode("ascii")
            return Outcome(550, "5.7.1", reason or "Message rejected")
        edited = edit_headers(incoming.stored, plan.edits)
        self._redirect(plan, edited, (sender, address), maildir, tracker, env.now)
        copy = f"Return-Path: <{sender}>\nDelivered-To: {address}\n".encode() + edited
        self._store(maildir, plan, copy, address)
        self._replies(plan, incoming.facts, env, tracker, recipient)
        return Outcome(250, "2.0.0", f"<{address}> delivered")

    def planned(self, plan: Plan) -> None:
        """What the scripts decided for one recipient, before it is carried out (for a subclass that counts
        actions; nothing here)."""

    def _transmit(self, item: Outgoing, message: bytes) -> bool:
        """Send through the queue when there is one (True: accepted, False: queued for later), else straight
        through the relay (True, or the relay's error)."""
        if self.queue is not None:
            return self.queue.send(item, message)
        assert self.relay is not None
        self.relay.send(item.sender, item.recipients, message)
        return True

    def _redirect(
        self,
        plan: Plan,
        message: bytes,
        envelope: tuple[str, str],
        maildir: Maildir,
        tracker: SqliteReplyTracker,
        now: _dt.datetime,
    ) -> None:
        """Send the redirects (``envelope``: the sender and this recipient's address); a refused one (5xx, a
        loop, no relay) is replaced by a keep.

        Each redirect sent or queued is remembered for :data:`REDIRECT_PERIOD` by Message-ID and target, as
        Pigeonhole's ``sieve_redirect_duplicate_period`` does, so a delivery retried after a later failure
        does not forward the message twice; a send that fails unqueued is forgotten again so that the retry
        sends it. A queued redirect that is finally given up is stored in INBOX by the queue.
        """
        if not plan.redirects:
            return
        sender, address = envelope
        loops = {v.strip().lower() for v in plan_headers(message, REDIRECTED_FROM)}
        outgoing = _header_line(REDIRECTED_FROM, address) + b"\n" + message
        ids = plan_headers(message, "message-id")
        identity = ids[0] if ids else hashlib.sha256(message).hexdigest()
        for target in plan.redirects:
            if self.relay is None or address.lower() in loops:
                why = "no relay configured" if self.relay is None else "redirect loop"
                log.warning(
                    "redirect not sent", extra={"event": "redirect_refused", "to": target, "error": why}
                )
                plan.store("INBOX", False, ())
                continue
            key = f"redirect\0{identity}\0{target.lower()}"
            if tracker.check_and_record(key, REDIRECT_PERIOD, now):
                log.info("redirect already sent", extra={"event": "redirect_duplicate", "to": target})
                continue
            item = Outgoing(
                "redirect", sender, (target,), keep_maildir=str(maildir.root), keep_address=address
            )
            try:
                if not self._transmit(item, outgoing):
                    log.info("redirect queued", extra={"event": "redirect_queued", "to": target})
            except RelayPermanentError as exc:
                log.warning(
                    "redirect refused", extra={"event": "redirect_refused", "to": target, "error": str(exc)}
                )
                plan.store("INBOX", False, ())
            except BaseException:
                tracker.forget(key)
                raise

    def _store(self, maildir: Maildir, plan: Plan, message: bytes, address: str) -> None:
        """Write every copy, then rename them all into place (nothing is visible until everything is
        synced).
        """
        targets: list[tuple[Path, tuple[str, ...]]] = []
        for mailbox, create, flags in plan.stores.values():
            try:
                targets.append((maildir.ensure(mailbox, create), flags))
            except (InvalidFolder, FileNotFoundError) as exc:
                log.info("fileinto fell back to INBOX", extra={"event": "fileinto_inbox", "error": str(exc)})
                targets.append((maildir.ensure("INBOX"), ()))
        prepared: list[PreparedMessage] = []
        try:
            seen: set[Path] = set()
            for folder, flags in targets:
                if folder not in seen:
                    seen.add(folder)
                    prepared.append(maildir.prepare(folder, message, address, flags))
        except BaseException:
            maildir.abort(prepared)
            raise
        maildir.commit(prepared)

    def _replies(
        self,
        plan: Plan,
        facts: MessageFacts,
        env: Environment,
        tracker: SqliteReplyTracker,
        recipient: Recipient,
    ) -> None:
        """Vacation and notifications, once the message is stored; failures are logged only."""
        if plan.vacation is not None:
            vacation = plan.vacation
            if (
                vacation.from_addr is None and recipient.addresses
            ):  # the RCPT may be a bare uid: reply from the address
                vacation = dataclasses.replace(vacation, from_addr=recipient.addresses[0])
            decision = decide(vacation, facts, env, tracker, recipient.addresses)
            if not decision.send:
                log.info(
                    "vacation not sent",
                    extra={"event": "vacation_suppressed", "user": recipient.user, "reason": decision.reason},
                )
            else:
                to = env.envelope_from.strip().strip("<>")
                home = str(tracker.path.parent)
                reply = message_bytes(build_reply(vacation, facts, env))
                self._send(Outgoing("vacation", "", (to,), home, decision.key), reply, tracker)
        for action in plan.notifies:
            if action.method.lower().startswith("mailto:"):
                targets, note = _notification(action, facts, env.envelope_to, env.now)
                if targets:
                    self._send(Outgoing("notify", "", tuple(targets)), note, tracker)

    def _send(self, item: Outgoing, message: bytes, tracker: SqliteReplyTracker) -> None:
        """Send a reply or notification; when it is neither sent nor queued, forget its tracker key."""
        kind, to = item.kind, ", ".join(item.recipients)
        if self.relay is None:
            log.warning("reply not sent: no relay", extra={"event": f"{kind}_unsent", "to": to})
        else:
            try:
                if self._transmit(item, message):
                    log.info("reply sent", extra={"event": f"{kind}_sent", "to": to})
                return
            except (RelayError, OSError) as exc:
                log.warning("reply not sent", extra={"event": f"{kind}_unsent", "to": to, "error": str(exc)})
        if item.tracker_key:
            tracker.forget(item.tracker_key)


def message_bytes(message: EmailMessage) -> bytes:
    """The bytes of a message we build; UTF-8 header fields (RFC 6532 §3) only when an address needs them
    (a non-ASCII local part cannot be an encoded word, RFC 2047 §5), else RFC 2047 encoded words."""
    utf8 = any(
        not address.addr_spec.isascii()
        for name in _ADDRESS_FIELDS
        for value in message.get_all(name, [])
        for address in getattr(value, "addresses", ())
    )
    return message.as_bytes(policy=email.policy.default.clone(utf8=True) if utf8 else email.policy.default)


def plan_headers(message: bytes, name: str) -> list[str]:
    """The values of the header field ``name`` in a message with LF line ends (unfolded, undecoded)."""
    end = message.find(b"\n\n")
    head = message if end < 0 else message[:end]
    wanted = name.lower().encode() + b":"
    return [
        line[len(wanted) :].decode("ascii", "replace").strip()
        for line in head.replace(b"\n ", b" ").replace(b"\n\t", b" ").split(b"\n")
        if line.lower().startswith(wanted)
    ]


class _Personal:
    """Includes of personal scripts (RFC 6609 §3.2) from the user's ``sieve`` folder; no global ones."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def load(self, location: str, name: str) -> str | None:
        if location != "personal" or "/" in name or name.startswith("."):
            return None
        try:
            return (self.folder / f"{name}.sieve").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
