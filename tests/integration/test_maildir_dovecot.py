# SPDX-License-Identifier: GPL-3.0-or-later
"""What delivery stores, Dovecot reads: folders (modified UTF-7 Maildir++), flags and keywords seen by
``doveadm``.

Dovecot runs under a private configuration in a folder under /tmp (never /etc/dovecot, ``mail_uid = nobody``,
namespace separator ``/``) with no protocol at all: only its auth service, which ``doveadm`` asks for the
user.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from dovecot_conf import private_conf
from support import require_binaries

from groupware.sieve.delivery import Delivery, Incoming
from groupware.sieve.host import Policy, Recipient
from groupware.sieve.scripts import ScriptStore

SCRIPT = """\
require ["fileinto", "imap4flags", "mailbox"];
if header :contains "subject" "collègue" {
    fileinto :create :flags ["\\\\Seen", "projet", "$Label1"] "Collègues/Lefèvre";
}
elsif header :contains "subject" "urgent" { addflag "\\\\Flagged"; }
"""


@pytest.fixture
def dovecot() -> Iterator[tuple[Path, list[str]]]:
    require_binaries("dovecot", "doveadm", packages="dovecot-core")
    root = Path(tempfile.mkdtemp(prefix="maildir-dovecot-"))
    root.chmod(0o755)
    for sub in ("run", "state"):
        (root / sub).mkdir()
    (root / "dovecot.conf").write_text(private_conf(root, f"{root}/mail/%n", ""))
    command = [shutil.which("dovecot") or "/usr/sbin/dovecot", "-c", str(root / "dovecot.conf")]
    with (root / "start.log").open("wb") as log:
        subprocess.run(command, check=True, stdout=log, stderr=log)
    try:
        yield root, [shutil.which("doveadm") or "/usr/bin/doveadm", "-c", str(root / "dovecot.conf")]
    finally:
        subprocess.run([*command, "stop"], check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_dovecot_sees_our_folders_flags_and_keywords(dovecot: tuple[Path, list[str]]) -> None:
    root, doveadm = dovecot
    store = ScriptStore(root / "mail")
    store.put("helene", "rules", SCRIPT.encode())
    store.set_active("helene", "rules")
    delivery = Delivery(store, Policy(), hostname="mx.test")
    helene = Recipient("helene", ("helene@ac.fr",))
    for n, subject in enumerate(["un collègue", "urgent", "autre"]):
        raw = f"From: p@x.org\r\nSubject: {subject}\r\nMessage-ID: <{n}@x.org>\r\n\r\nbody\r\n".encode()
        assert delivery.deliver(Incoming.parse(raw), "p@x.org", "helene@ac.fr", helene).code == 250
    subprocess.run(["chown", "-R", "nobody:nogroup", str(root / "mail")], check=True)
    listed = subprocess.run(
        [*doveadm, "mailbox", "list", "-u", "helene"], capture_output=True, text=True, check=True
    )
    assert {"INBOX", "Collègues/Lefèvre"} <= set(listed.stdout.split("\n"))
    fetched = subprocess.run(
        [*doveadm, "-f", "tab", "fetch", "-u", "helene", "mailbox flags hdr.subject", "all"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = {tuple(line.split("\t")[::2]): line.split("\t")[1] for line in fetched.stdout.splitlines()[1:]}
    assert set(rows["Collègues/Lefèvre", "un collègue"].split()) == {
        "\\Seen",
        "\\Recent",
        "projet",
        "$Label1",
    }
    assert set(rows["INBOX", "urgent"].split()) == {"\\Flagged", "\\Recent"}
    assert set(rows["INBOX", "autre"].split()) == {"\\Recent"}
