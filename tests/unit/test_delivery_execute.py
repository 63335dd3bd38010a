# SPDX-License-Identifier: GPL-3.0-or-later
"""Delivery of one message to one recipient: script sequence, actions into Maildir++, replies through the
relay."""

from __future__ import annotations

import datetime as dt
import email
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from groupware.sieve import AddHeader, DeleteHeader, compile_script
from groupware.sieve.delivery import (
    Delivery,
    Incoming,
    OutgoingQueue,
    RelayPermanentError,
    RelayTemporaryError,
    RetryPolicy,
    SqliteReplyTracker,
    edit_headers,
)
from groupware.sieve.host import Budget, Policy, Recipient
from groupware.sieve.scripts import ScriptStore

ME = "helene.lefevre@ac-montpellier.fr"
HELENE = Recipient("helene.lefevre", (ME,))
MESSAGE = (
    b"From: Paul <paul@example.org>\r\nTo: Helene <" + ME.encode() + b">\r\nSubject: Budget 2025\r\n"
    b"Message-ID: <m1@example.org>\r\n\r\nHello\r\n"
)


class FakeRelay:
    """Records what would be sent; ``fail`` raises that error instead."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.sent: list[tuple[str, list[str], bytes]] = []
        self.fail = fail

    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> None:
        if self.fail is not None:
            raise self.fail
        self.sent.append((sender, list(recipients), message))


def delivery(
    tmp_path: Path,
    script: str | None = None,
    relay: FakeRelay | None = None,
    before: Sequence[str] = (),
    after: Sequence[str] = (),
    policy: Policy | None = None,
) -> Delivery:
    store = ScriptStore(tmp_path)
    if script is not None:
        store.put(HELENE.user, "rules", script.encode())
        store.set_active(HELENE.user, "rules")
    policy = policy or Policy()
    return Delivery(
        store,
        policy,
        [compile_script(s, policy) for s in before],
        [compile_script(s, policy) for s in after],
        relay,  # type: ignore[arg-type]
        hostname="mx.test",
    )


def stored(tmp_path: Path) -> dict[str, list[tuple[str, bytes]]]:
    """Folder name → [(file name, content)] of Helene's Maildir."""
    root = tmp_path / HELENE.user / "Maildir"
    found: dict[str, list[tuple[str, bytes]]] = {}
    for path in sorted(root.glob("**/*")):
        if path.is_file() and path.parent.name in ("new", "cur"):
            folder = "INBOX" if path.parent.parent == root else path.parent.parent.name
            found.setdefault(folder, []).append((path.name, path.read_bytes()))
    return found


def deliver(d: Delivery, message: bytes = MESSAGE, sender: str = "paul@example.org") -> str:
    return d.deliver(Incoming.parse(message), sender, ME, HELENE).line


def test_no_script_keeps_in_inbox_with_return_path_and_delivered_to(tmp_path: Path) -> None:
    assert deliver(delivery(tmp_path)) == f"250 2.0.0 <{ME}> delivered"
    ((_, content),) = stored(tmp_path)["INBOX"]
    assert content.startswith(
        b"Return-Path: <paul@example.org>\nDelivered-To: " + ME.encode() + b"\nFrom: Paul"
    )
    assert b"\r" not in content


def test_fileinto_with_flags_and_copy(tmp_path: Path) -> None:
    script = (
        'require ["fileinto", "imap4flags", "copy", "mailbox"];\r\n'
        'if header :contains "subject" "budget" { fileinto :create :copy :flags ["\\\\Seen", "budget"] '
        '"Gestion/Élèves"; }\r\n'
    )
    assert deliver(delivery(tmp_path, script)).startswith("250 ")
    found = stored(tmp_path)
    assert set(found) == {"INBOX", ".Gestion.&AMk-l&AOg-ves"}
    assert found[".Gestion.&AMk-l&AOg-ves"][0][0].endswith(":2,Sa")


def test_fileinto_a_missing_folder_without_create_keeps_in_inbox(tmp_path: Path) -> None:
    script = 'require "fileinto"; fileinto "Nowhere";'
    assert deliver(delivery(tmp_path, script)).startswith("250 ")
    assert set(stored(tmp_path)) == {"INBOX"}


def test_discard_stores_nothing_and_reject_answers_550(tmp_path: Path) -> None:
    assert deliver(delivery(tmp_path, "discard;")).startswith("250 ")
    assert stored(tmp_path) == {}
    rejecting = delivery(tmp_path / "r", 'require "reject"; reject "Pas de\r\nbudget ici";')
    assert deliver(rejecting) == "550 5.7.1 Pas de budget ici"
    assert stored(tmp_path / "r") == {}


def test_admin_before_script_that_files_and_stops_is_final(tmp_path: Path) -> None:
    spam = 'require "fileinto"; if header :contains "x-spam" "yes" { fileinto "Junk"; stop; }'
    d = delivery(
        tmp_path,
        'require "fileinto"; fileinto "Perso";',
        before=[spam],
        after=['require "imap4flags"; addflag "\\\\Flagged";'],
    )
    (tmp_path / HELENE.user / "Maildir").mkdir(parents=True)
    for folder in (".Junk", ".Perso"):
        for sub in ("cur", "new", "tmp"):
            (tmp_path / HELENE.user / "Maildir" / folder / sub).mkdir(parents=True)
    deliver(d, b"X-Spam: yes\r\n" + MESSAGE)
    assert set(stored(tmp_path)) == {".Junk"}
    deliver(d, MESSAGE.replace(b"m1@", b"m2@"))
    assert set(stored(tmp_path)) == {
        ".Junk",
        ".Perso",
    }  # the user's fileinto cancels the keep: after does not run


def test_after_script_runs_while_the_keep_holds(tmp_path: Path) -> None:
    d = delivery(tmp_path, "# nothing\r\n", after=['require "imap4flags"; addflag "\\\\Flagged";'])
    deliver(d)
    assert stored(tmp_path)["INBOX"][0][0].endswith(":2,F")


def test_editheader_changes_the_stored_copy_only(tmp_path: Path) -> None:
    script = (
        'require "editheader"; addheader "X-Tri" "budget"; deleteheader "subject"; '
        'addheader :last "X-Fin" "é";'
    )
    deliver(delivery(tmp_path, script))
    content = stored(tmp_path)["INBOX"][0][1]
    assert b"\nX-Tri: budget\nFrom: Paul" in content and b"Subject:" not in content
    assert b"X-Fin: =?utf-8?b?w6k=?=\n\nHello" in content


def test_edit_headers_unit() -> None:
    raw = b"A: 1\nB: 2\n  folded\nA: 3\n\nbody\n"
    assert edit_headers(raw, [DeleteHeader("a", (3,))]) == b"A: 1\nB: 2\n  folded\n\nbody\n"
    assert edit_headers(raw, [DeleteHeader("B", (2,)), AddHeader("C", "x", last=True)]) == (
        b"A: 1\nA: 3\nC: x\n\nbody\n"
    )
    assert edit_headers(raw, [DeleteHeader("B", (1,))]) == raw  # position 1 is not a B field
    assert edit_headers(b"\nbody\n", [AddHeader("C", "x")]) == b"C: x\n\nbody\n"


def test_redirect_goes_through_the_relay_keeping_auto_submitted(tmp_path: Path) -> None:
    relay = FakeRelay()
    d = delivery(tmp_path, 'redirect "paul.martin@ac-montpellier.fr";', relay)
    assert deliver(d, b"Auto-Submitted: auto-generated\r\n" + MESSAGE).startswith("250 ")
    ((sender, to, message),) = relay.sent
    assert (sender, to) == ("paul@example.org", ["paul.martin@ac-montpellier.fr"])
    assert message.startswith(
        b"X-Sieve-Redirected-From: " + ME.encode() + b"\nAuto-Submitted: auto-generated\n"
    )
    assert stored(tmp_path) == {}


def test_redirect_failures(tmp_path: Path) -> None:
    script = 'redirect "paul.martin@ac-montpellier.fr";'
    later = delivery(tmp_path / "t", script, FakeRelay(RelayTemporaryError("down")))
    assert deliver(later).startswith("451 4.4.0")
    assert stored(tmp_path / "t") == {}
    refused = delivery(tmp_path / "p", script, FakeRelay(RelayPermanentError("550 no")))
    assert deliver(refused).startswith("250 ")
    assert set(stored(tmp_path / "p")) == {"INBOX"}  # nothing lost
    looping = delivery(tmp_path / "l", script, relay := FakeRelay())
    assert deliver(looping, b"X-Sieve-Redirected-From: " + ME.encode() + b"\r\n" + MESSAGE).startswith("250 ")
    assert relay.sent == [] and set(stored(tmp_path / "l")) == {"INBOX"}


VACATION = 'require "vacation"; vacation :days 1 :subject "Absente" "Je suis absente.";'


def test_vacation_once_per_sender_with_rfc3834_headers(tmp_path: Path) -> None:
    relay = FakeRelay()
    d = delivery(tmp_path, VACATION, relay)
    for n in range(3):
        deliver(d, MESSAGE.replace(b"m1@", f"m{n}@".encode()))
    deliver(d, MESSAGE.replace(b"m1@", b"m9@"), sender="other@example.org")
    assert [(s, to) for s, to, _ in relay.sent] == [("", ["paul@example.org"]), ("", ["other@example.org"])]
    reply = email.message_from_bytes(relay.sent[0][2])
    assert reply["Auto-Submitted"] == "auto-replied (vacation)"
    assert reply["In-Reply-To"] == "<m0@example.org>" and reply["References"] == "<m0@example.org>"
    assert reply["Subject"] == "Absente" and reply["To"] == "paul@example.org"
    assert len(stored(tmp_path)["INBOX"]) == 4


@pytest.mark.parametrize(
    ("extra", "sender"),
    [
        (b"Auto-Submitted: auto-generated\r\n", "paul@example.org"),
        (b"List-Id: <profs.ac-montpellier.fr>\r\n", "paul@example.org"),
        (b"Precedence: bulk\r\n", "paul@example.org"),
        (b"", ""),
        (b"", "mailer-daemon@example.org"),
    ],
)
def test_vacation_suppressed(tmp_path: Path, extra: bytes, sender: str) -> None:
    relay = FakeRelay()
    deliver(delivery(tmp_path, VACATION, relay), extra + MESSAGE, sender=sender)
    assert relay.sent == []


def test_vacation_not_sent_when_not_addressed_to_the_user(tmp_path: Path) -> None:
    relay = FakeRelay()
    deliver(
        delivery(tmp_path, VACATION, relay),
        MESSAGE.replace(b"To: Helene <" + ME.encode() + b">", b"To: x@y.fr"),
    )
    assert relay.sent == []


def test_storage_failure_answers_451(tmp_path: Path) -> None:
    (tmp_path / HELENE.user).mkdir()
    (tmp_path / HELENE.user / "Maildir").write_text("not a folder")
    assert deliver(delivery(tmp_path)).startswith("451 4.3.0")


def test_reply_tracker_is_atomic_across_threads(tmp_path: Path) -> None:
    now = dt.datetime(2025, 1, 6, 9, tzinfo=dt.UTC)
    barrier = threading.Barrier(12)
    answers: list[bool] = []

    def one() -> None:
        tracker = SqliteReplyTracker(tmp_path)
        barrier.wait()
        answers.append(tracker.check_and_record("vacation\0h\0paul@example.org", 86400, now))

    threads = [threading.Thread(target=one) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [False] + [True] * 11
    tracker = SqliteReplyTracker(tmp_path)
    assert (
        tracker.check_and_record("vacation\0h\0paul@example.org", 86400, now + dt.timedelta(days=2)) is False
    )


def test_vacation_from_is_the_person_address_when_the_rcpt_is_a_bare_uid(tmp_path: Path) -> None:
    relay = FakeRelay()
    delivery(tmp_path, VACATION, relay).deliver(
        Incoming.parse(MESSAGE), "paul@example.org", "helene.lefevre", HELENE
    )
    assert email.message_from_bytes(relay.sent[0][2])["From"] == ME


def test_a_retried_delivery_does_not_redirect_twice(tmp_path: Path) -> None:
    relay = FakeRelay()
    d = delivery(tmp_path, 'require "copy"; redirect :copy "paul.martin@ac-montpellier.fr";', relay)
    (tmp_path / HELENE.user / "Maildir").write_text("in the way")
    assert deliver(d).startswith("451 4.3.0")  # redirected, then the store failed
    (tmp_path / HELENE.user / "Maildir").unlink()
    assert deliver(d).startswith("250 ")  # the MTA retries
    assert len(relay.sent) == 1 and set(stored(tmp_path)) == {"INBOX"}


def test_a_redirect_that_could_not_be_sent_is_sent_on_retry(tmp_path: Path) -> None:
    relay = FakeRelay(RelayTemporaryError("relay down"))
    d = delivery(tmp_path, 'redirect "paul.martin@ac-montpellier.fr";', relay)
    assert deliver(d).startswith("451 4.4.0")
    relay.fail = None
    assert deliver(d).startswith("250 ") and len(relay.sent) == 1


def test_a_script_over_its_budget_keeps_the_message_and_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 13: includes that run a script 10^8 times stop at the budget; the message lands in INBOX."""
    store = ScriptStore(tmp_path)
    for i in range(8):
        store.put(HELENE.user, f"s{i}", ('require "include";' + f' include "s{i + 1}";' * 10).encode())
    store.put(HELENE.user, "s8", b'require "fileinto"; if header :contains "subject" "x" { fileinto "X"; }')
    store.put(HELENE.user, "rules", b'require ["include", "fileinto"]; include "s0"; fileinto "Never";')
    store.set_active(HELENE.user, "rules")
    d = Delivery(store, Policy(), hostname="mx.test", budget=Budget(steps=50_000, cpu_seconds=5))
    with caplog.at_level("WARNING", logger="groupware.sieve.delivery"):
        assert deliver(d) == f"250 2.0.0 <{ME}> delivered"
    assert list(stored(tmp_path)) == ["INBOX"]
    (record,) = [r for r in caplog.records if getattr(r, "event", "") == "sieve_over_budget"]
    assert "50000 steps" in getattr(record, "error", "")


def test_the_cpu_budget_is_shared_by_the_script_sequence(tmp_path: Path) -> None:
    heavy = 'require "fileinto";' + ' if header :contains "subject" "nomatch" { fileinto "A"; }' * 40
    d = delivery(tmp_path, heavy, before=[heavy])
    d.budget = Budget(steps=60)
    assert deliver(d) == f"250 2.0.0 <{ME}> delivered"
    assert list(stored(tmp_path)) == ["INBOX"]


def test_the_sieve_bounds_come_from_the_configuration(tmp_path: Path) -> None:
    from groupware import config
    from groupware.runtime.mail import build_delivery

    (tmp_path / "people.ldif").write_text("")
    path = tmp_path / "groupware.conf"
    path.write_text(
        "[directory]\ntype = ldif\nfile = people.ldif\n[sieve]\nmail_root = mail\nmax_variable_size = 100\n"
        "max_cpu_time = 2.5\nmax_mime_depth = 7\n",
        encoding="utf-8",
    )
    built = build_delivery(config.load(path))
    assert built.policy.max_variable_size == 100
    assert built.budget.cpu_seconds == 2.5 and built.max_mime_depth == 7
    defaults = build_delivery(config.load(path.parent / write_default(tmp_path)))
    assert defaults.policy.max_variable_size == 4096
    assert defaults.budget.cpu_seconds == 5.0 and defaults.max_mime_depth == 100


def write_default(tmp_path: Path) -> str:
    (tmp_path / "default.conf").write_text(
        "[directory]\ntype = ldif\nfile = people.ldif\n[sieve]\nmail_root = mail\n", encoding="utf-8"
    )
    return "default.conf"


def queued_delivery(tmp_path: Path, script: str, relay: FakeRelay) -> tuple[Delivery, OutgoingQueue]:
    outgoing = OutgoingQueue(tmp_path / ".queue", relay, RetryPolicy(first=60), "mx.test")
    d = delivery(tmp_path, script)
    return Delivery(d.scripts, d.policy, hostname="mx.test", queue=outgoing), outgoing


def test_a_vacation_reply_not_sent_is_not_recorded(tmp_path: Path) -> None:
    """Issue 14: with no relay, or a relay refusing, the sender's next message still gets a reply."""
    unsent = delivery(tmp_path, VACATION, None)
    deliver(unsent)
    relay = FakeRelay()
    deliver(delivery(tmp_path, VACATION, relay), MESSAGE.replace(b"m1@", b"m2@"))
    assert len(relay.sent) == 1
    refused = delivery(tmp_path / "r", VACATION, FakeRelay(RelayPermanentError("550 5.1.1 no")))
    deliver(refused)
    relay = FakeRelay()
    deliver(delivery(tmp_path / "r", VACATION, relay), MESSAGE.replace(b"m1@", b"m2@"))
    assert len(relay.sent) == 1


def test_a_vacation_reply_queued_while_the_relay_is_down_is_sent_once(tmp_path: Path) -> None:
    relay = FakeRelay(RelayTemporaryError("connection refused"))
    d, outgoing = queued_delivery(tmp_path, VACATION, relay)
    for n in range(3):
        assert deliver(d, MESSAGE.replace(b"m1@", f"m{n}@".encode())).startswith("250 ")
    assert len(outgoing.entries()) == 1 and len(stored(tmp_path)["INBOX"]) == 3
    relay.fail = None
    assert len(outgoing.flush(force=True).sent) == 1
    deliver(d, MESSAGE.replace(b"m1@", b"m7@"))
    assert [to for _, to, _ in relay.sent] == [["paul@example.org"]] and outgoing.entries() == []


def test_a_redirect_queued_while_the_relay_is_down_is_sent_once(tmp_path: Path) -> None:
    relay = FakeRelay(RelayTemporaryError("451 4.3.0 try later"))
    d, outgoing = queued_delivery(tmp_path, 'redirect "paul.martin@ac-montpellier.fr";', relay)
    assert deliver(d).startswith("250 ")
    assert deliver(d).startswith("250 ")  # the MTA retrying the same message queues nothing more
    assert stored(tmp_path) == {} and len(outgoing.entries()) == 1
    relay.fail = None
    outgoing.flush(force=True)
    ((sender, to, message),) = relay.sent
    assert (sender, to) == ("paul@example.org", ["paul.martin@ac-montpellier.fr"])
    assert message.startswith(b"X-Sieve-Redirected-From: " + ME.encode() + b"\n")


def test_a_vacation_reply_to_a_non_ascii_address_has_utf8_headers(tmp_path: Path) -> None:
    relay = FakeRelay()
    deliver(delivery(tmp_path, VACATION, relay), sender="\u00e9lodie@example.org")
    ((_, to, message),) = relay.sent
    assert to == ["\u00e9lodie@example.org"]
    assert "To: \u00e9lodie@example.org\n".encode() in message and b"=?utf-8?" not in message


ACADEMY = Policy(redirect_domains=frozenset({"ac-montpellier.fr"}))


def test_a_script_stored_before_the_policy_cannot_forward_outside(tmp_path: Path) -> None:
    """The forwarding policy holds again at delivery (RFC 5228 §4.2, RFC 5435 §3, RFC 5230 §4.4): a
    redirect outside becomes a keep, a notify outside is not sent, a vacation :from outside is replaced."""
    script = (
        'require ["enotify", "vacation", "variables", "copy"];\r\n'
        'redirect "boss@outside.example";\r\n'
        'redirect :copy "col@ac-montpellier.fr";\r\n'
        'set "m" "mailto:spy@outside.example";\r\n'
        'notify "${m}";\r\n'
        'notify "mailto:col@ac-montpellier.fr?to=x@outside.example";\r\n'
        'notify "mailto:sec@ac-montpellier.fr";\r\n'
        'vacation :from "Boss <boss@outside.example>" :addresses ["x@outside.example"] "Absente";\r\n'
    )
    relay = FakeRelay()
    assert deliver(delivery(tmp_path, script, relay, policy=ACADEMY)).startswith("250 ")
    recipients = [r for _, rs, _ in relay.sent for r in rs]
    assert not any("outside.example" in r for r in recipients), recipients
    assert "col@ac-montpellier.fr" in recipients and "sec@ac-montpellier.fr" in recipients
    assert len(stored(tmp_path)["INBOX"]) == 1
    replies = [m for _, rs, m in relay.sent if rs == ["paul@example.org"]]
    assert replies and all(b"outside.example" not in m for m in replies)
    assert any(ME.encode() in m for m in replies)


def test_a_notify_from_outside_speaks_as_the_user(tmp_path: Path) -> None:
    """RFC 5435 §3.3: under the forwarding policy a notification's :from outside the domains is dropped at
    delivery, like a vacation :from (the recipient's own address is used)."""
    script = 'require "enotify"; notify :from "boss@outside.example" "mailto:sec@ac-montpellier.fr";'
    relay = FakeRelay()
    assert deliver(delivery(tmp_path, script, relay, policy=ACADEMY)).startswith("250 ")
    ((_, recipients, note),) = relay.sent
    assert recipients == ["sec@ac-montpellier.fr"]
    assert b"outside.example" not in note and ME.encode() in note


@pytest.mark.parametrize(
    "script",
    [
        'require ["vacation", "variables"]; if header :matches "subject" "*" { set "s" "${1}"; }\r\n'
        'vacation :days 1 :handle "${s}" "Absente";',
        'require ["vacation", "variables"]; if header :matches "subject" "*" { set "s" "${1}"; }\r\n'
        'vacation :days 1 :subject "Re: ${s}" "Absente";',
    ],
    ids=["handle", "default-handle"],
)
def test_a_computed_vacation_handle_answers_a_sender_once(tmp_path: Path, script: str) -> None:
    """RFC 5230 §4.2: a handle that differs for every message would answer one sender without limit; under
    the forwarding policy such a vacation is remembered per sender alone."""
    relay = FakeRelay()
    d = delivery(tmp_path, script, relay, policy=ACADEMY)
    for n in range(3):
        assert deliver(d, MESSAGE.replace(b"Budget 2025", b"Budget %d" % n)).startswith("250 ")
    assert len(relay.sent) == 1
    relay.sent.clear()
    d = delivery(tmp_path / "open", script, relay)
    for n in range(3):
        assert deliver(d, MESSAGE.replace(b"Budget 2025", b"Budget %d" % n)).startswith("250 ")
    assert len(relay.sent) == 3


def test_a_notification_goes_to_the_recipients_of_the_to_field_too(tmp_path: Path) -> None:
    """RFC 6068 §2: ``mailto:a?to=b`` has two recipients; one already notified is not notified again."""
    script = (
        'require "enotify"; notify "mailto:a@example.org?to=b@example.org&subject=hi"; '
        'notify :importance "1" "mailto:b@example.org";'
    )
    relay = FakeRelay()
    assert deliver(delivery(tmp_path, script, relay)).startswith("250 ")
    assert [rs for _, rs, _ in relay.sent] == [["a@example.org", "b@example.org"]]


def test_the_same_script_forwards_without_a_policy(tmp_path: Path) -> None:
    relay = FakeRelay()
    script = 'require "enotify"; redirect "boss@outside.example"; notify "mailto:spy@outside.example";'
    assert deliver(delivery(tmp_path, script, relay)).startswith("250 ")
    assert {r for _, rs, _ in relay.sent for r in rs} == {"boss@outside.example", "spy@outside.example"}
