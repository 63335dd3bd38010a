# SPDX-License-Identifier: GPL-3.0-or-later
"""Composition: what ``groupware serve`` puts together, and where each part of a running server lives.

* :mod:`~groupware.runtime.services` — the services (directory, accounts, sharing, database), built once from
  the configuration and handed explicitly to every door;
* :mod:`~groupware.runtime.doors` — the :class:`~groupware.runtime.doors.Door` protocol (start, stop,
  addresses);
* :mod:`~groupware.runtime.http` — the HTTP door (waitress around :mod:`groupware.dav`), and
  :mod:`~groupware.runtime.connections`, its bounds per client address and on slow headers;
* :mod:`~groupware.runtime.mail` and :mod:`~groupware.runtime.mail_doors` — ManageSieve and LMTP, from
  :mod:`groupware.sieve`, on the one shared event loop of :mod:`~groupware.runtime.loop`;
* :mod:`~groupware.runtime.addressbooks` — the periodic sync of the academic address books;
* :mod:`~groupware.runtime.workers` — the helper processes of ``[server] workers``;
* :mod:`~groupware.runtime.supervisor` — starts all of them in order and stops them in reverse;
* :mod:`~groupware.runtime.checks` — every problem of a configuration file.
"""
