# SPDX-License-Identifier: GPL-3.0-or-later
"""``userPassword`` hashes as OpenLDAP writes and checks them (RFC 2307 ``{SCHEME}`` prefixes).

``{SSHA}`` is ``base64(sha1(password + salt) + salt)``; ``{SHA}`` is unsalted; ``{SSHA256}`` and
``{SSHA512}`` are the salted SHA-2 variants of slapd's ``pw-sha2`` module. A value without a scheme, or
``{CLEARTEXT}``, is the password itself. Comparisons are constant-time (``hmac.compare_digest``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

__all__ = ["SALT_SIZE", "check_password", "ssha"]

SALT_SIZE = 8
_DIGESTS = {
    "SSHA": "sha1",
    "SHA": "sha1",
    "SSHA256": "sha256",
    "SSHA512": "sha512",
    "SHA256": "sha256",
    "SHA512": "sha512",
}


def ssha(password: str, salt: bytes | None = None) -> str:
    """Return the ``{SSHA}`` hash of ``password`` with ``salt`` (8 random bytes when not given)."""
    salt = os.urandom(SALT_SIZE) if salt is None else salt
    digest = hashlib.sha1(password.encode("utf-8") + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode("ascii")


def _split_scheme(stored: str) -> tuple[str, str]:
    """Split ``{SCHEME}value`` into the upper-cased scheme and the value; no scheme gives ``CLEARTEXT``."""
    if stored.startswith("{"):
        end = stored.find("}")
        if end > 0:
            return stored[1:end].upper(), stored[end + 1 :]
    return "CLEARTEXT", stored


def check_password(stored: str, password: str) -> bool:
    """Tell whether ``password`` matches the ``userPassword`` value ``stored``; unknown schemes never do."""
    scheme, value = _split_scheme(stored)
    given = password.encode("utf-8")
    if scheme == "CLEARTEXT":
        return hmac.compare_digest(value.encode("utf-8"), given)
    algorithm = _DIGESTS.get(scheme)
    if algorithm is None:
        return False
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    size = hashlib.new(algorithm).digest_size
    if len(raw) < size or (not scheme.startswith("SS") and len(raw) != size):
        return False
    digest, salt = raw[:size], raw[size:]
    return hmac.compare_digest(hashlib.new(algorithm, given + salt).digest(), digest)
