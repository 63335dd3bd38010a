# SPDX-License-Identifier: GPL-3.0-or-later
"""Configuration files installed with groupware as ``groupware.data``: ``demo.conf`` and
``demo-directory.ldif`` (what ``groupware serve`` runs without ``--config``) and ``groupware.conf``, the
commented example for a real académie."""
