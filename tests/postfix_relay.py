# SPDX-License-Identifier: GPL-3.0-or-later
"""A private Postfix (Debian package ``postfix``) as the relay of outgoing-mail tests.

``PostfixRelay()`` writes its own ``main.cf`` and ``master.cf`` under a fresh folder of /tmp that the
``postfix`` user can enter (queue, data and log there too; ``/etc/postfix`` is only read, for the stock
``master.cf``; :meth:`PostfixRelay.close` stops it and removes the folder), listens on 127.0.0.1
on a free port, and takes every recipient in every domain into one Maildir with the ``virtual`` delivery
agent, where :meth:`PostfixRelay.messages` reads what it received. It refuses any line that ends in a bare LF
(``smtpd_forbid_bare_newline = reject``: on Postfix 3.7.10 and later, ``yes`` only normalises bare LF in
message content, ``reject`` refuses it) and offers SMTPUTF8 and 8BITMIME. The SMTP dialogue of 127.0.0.1 is
logged (``debug_peer_list``) so that tests can read the MAIL FROM parameters sent.

:meth:`start` and :meth:`stop` run ``postfix -c DIR start|stop`` (as root: the master process runs as root
and its daemons as the ``postfix`` user), so that tests can take the relay down and bring it back.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from support import free_port, require_binaries, wait_for_port

__all__ = ["PostfixRelay"]

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/spool
data_directory = {root}/data
mail_owner = postfix
myhostname = relay.test
mydomain = relay.test
myorigin = relay.test
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_forbid_bare_newline = reject
smtpd_forbid_bare_newline_exclusions =
smtputf8_enable = yes
virtual_mailbox_domains = static:all
virtual_mailbox_base = {root}/mail
virtual_mailbox_maps = static:received/
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 1
maillog_file_prefixes = {root}
maillog_file = {root}/maillog
debug_peer_list = 127.0.0.1
biff = no
# One long-lived postlogd: a postlogd that exits after max_use requests (100) must be respawned by the master,
# and a master that logs meanwhile blocks on the full logging socket for ever (seen on a loaded machine).
max_idle = 3600s
max_use = 1000000
"""


class PostfixRelay:
    """A private Postfix instance, listening on 127.0.0.1:``port``; not started yet."""

    def __init__(self) -> None:
        require_binaries("postfix", "postconf", packages="postfix")
        if os.geteuid() != 0:
            raise AssertionError("a private Postfix instance needs root (its master process runs as root)")
        folder = Path(tempfile.mkdtemp(prefix="groupware-postfix-"))
        self.root = folder
        self.port = free_port()
        self.etc = folder / "etc"
        self.maildir = folder / "mail" / "received"
        self.log = folder / "maillog"
        nobody = pwd.getpwnam("nobody")
        for name in ("etc", "spool", "data", "mail"):
            (folder / name).mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
        shutil.chown(folder / "data", "postfix")
        os.chown(folder / "mail", nobody.pw_uid, nobody.pw_gid)
        (self.etc / "main.cf").write_text(MAIN_CF.format(root=folder, uid=nobody.pw_uid, gid=nobody.pw_gid))
        master = Path("/etc/postfix/master.cf").read_text(encoding="utf-8").splitlines()
        kept = [line for line in master if not line.startswith("smtp ") or " unix " in line]
        kept.append(f"127.0.0.1:{self.port} inet n - n - - smtpd")
        (self.etc / "master.cf").write_text("\n".join(kept) + "\n")
        self._postfix("-F", "*/*/chroot = n", command="postconf")
        self.running = False

    def _postfix(self, *args: str, command: str = "postfix", timeout: float = 60) -> None:
        done = subprocess.run(
            [command, "-c", str(self.etc), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise AssertionError(f"{command} {' '.join(args)} failed: {done.stderr}{log}")

    def start(self) -> None:
        """Start the instance and wait until its logging daemon has written the master's first line, then
        until it accepts connections.

        The order matters: the daemons log through one ``postlogd`` over a datagram socket that holds few
        messages (``net.unix.max_dgram_qlen``, 10 by default). A connection made before ``postlogd`` runs
        lets a verbose ``smtpd`` fill that socket, and a daemon that logs while it is full waits for ever
        (seen on a loaded machine as an instance that never logged "daemon started" and never answered its
        first client). Waiting for that line first means ``postlogd`` is up before any client comes; an
        instance that does not log it within 20 s is killed and started anew (three times at most).
        """
        for _attempt in range(3):
            logged = len(self.log_text())
            self._postfix("start")
            self.running = True
            if self._logged_since(logged, "daemon started", within=20):
                break
            # An instance wedged at its start (no logging daemon): kill it and start anew; the third such
            # start fails the test with the log.
            self.running = False
            self._kill_master()
        else:
            log = self.log_text()[-2000:]
            raise AssertionError(f"Postfix logged no 'daemon started' in 3 starts:\n{log}")
        wait_for_port("127.0.0.1", self.port)

    def _logged_since(self, offset: int, text: str, within: float) -> bool:
        """Whether ``text`` appears in the log after its first ``offset`` characters within ``within`` s."""
        deadline = time.monotonic() + within
        while text not in self.log_text()[offset:]:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def stop(self) -> None:
        """Stop the instance (nothing listens on its port afterwards)."""
        if self.running:
            self.running = False
            try:
                self._postfix("stop", timeout=30)
            except (AssertionError, subprocess.TimeoutExpired):
                # A loaded machine can keep "postfix stop" waiting on its children: stop at once instead.
                try:
                    self._postfix("abort", timeout=30)
                except (AssertionError, subprocess.TimeoutExpired):
                    self._kill_master()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                except OSError:
                    return
                time.sleep(0.1)
            raise AssertionError(f"Postfix still listens on {self.port} after stop")

    def _kill_master(self) -> None:
        """The last resort when the postfix command itself hangs: SIGKILL the instance's master process and
        its children (they share its process group)."""
        pid_file = self.root / "spool" / "pid" / "master.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            return

    def close(self) -> None:
        """Stop the instance and remove its folder."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def messages(self) -> list[bytes]:
        """The messages delivered so far, oldest first (as Postfix stores them: LF line ends, with its
        Return-Path, Delivered-To and Received header fields on top)."""
        found = [
            p
            for sub in ("new", "cur")
            if (self.maildir / sub).is_dir()
            for p in (self.maildir / sub).iterdir()
        ]
        return [p.read_bytes() for p in sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name))]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[bytes]:
        """The messages once there are at least ``count`` (or when ``timeout`` is over)."""
        deadline = time.monotonic() + timeout
        while len(self.messages()) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.messages()

    def log_text(self) -> str:
        """Postfix's log so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""
