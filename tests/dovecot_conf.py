# SPDX-License-Identifier: GPL-3.0-or-later
"""Private Dovecot configurations for the delivery tests and benchmarks; nothing reads ``/etc/dovecot``.

:func:`private_conf` writes settings as ``key = value`` lines (runtime folders under ``root``, ``mail_uid =
nobody``, Maildir in each user's home, namespace separator ``/`` as Sieve mailbox names use it) followed by
the blocks every run needs (static passdb and userdb, no anvil chroot) and the caller's own blocks.
"""

from __future__ import annotations

from pathlib import Path

BASE_SETTINGS = {
    "base_dir": "{root}/run",
    "state_dir": "{root}/state",
    "log_path": "{root}/dovecot.log",
    "listen": "127.0.0.1",
    "ssl": "no",
    "mail_uid": "nobody",
    "mail_gid": "nogroup",
    "first_valid_uid": "0",
    "default_internal_user": "nobody",
    "default_login_user": "nobody",
    "default_internal_group": "nogroup",
    "mail_location": "maildir:~/Maildir",
}
BLOCKS = """\
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = static
  args = nopassword=y
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={home}
}}
service anvil {{
  chroot =
}}
"""


def private_conf(
    root: Path, home: str, protocols: str, settings: dict[str, str] | None = None, blocks: str = ""
) -> str:
    """The configuration text; ``home`` is the userdb home template (e.g. ``/tmp/x/mail/%n``)."""
    values = {**BASE_SETTINGS, "protocols": protocols, **(settings or {})}
    lines = "".join(f"{key} = {value}\n" for key, value in values.items()).replace("{root}", str(root))
    return lines + BLOCKS.format(home=home) + blocks
