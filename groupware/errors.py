# SPDX-License-Identifier: GPL-3.0-or-later
"""Typed errors of the groupware core, one family per layer.

Each door (HTTP, ManageSieve, LMTP) turns them into its protocol's answer once, at its edge.
"""

from __future__ import annotations

__all__ = [
    "AccountDisabled",
    "AuthenticationError",
    "ConfigError",
    "ConfigProblem",
    "DirectoryError",
    "DirectoryUnavailable",
    "GroupwareError",
    "InvalidCredentials",
    "LoginThrottled",
]

from dataclasses import dataclass


class GroupwareError(Exception):
    """Base of every error raised by the groupware core."""


@dataclass(frozen=True)
class ConfigProblem:
    """One problem found in a configuration file, located by file, section and key."""

    file: str
    section: str
    key: str
    message: str

    def __str__(self) -> str:
        where = f"[{self.section}]" + (f" {self.key}" if self.key else "")
        return f"{self.file}: {where}: {self.message}"


class ConfigError(GroupwareError):
    """The configuration is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class DirectoryError(GroupwareError):
    """Base of the directory layer's errors."""


class DirectoryUnavailable(DirectoryError):
    """No directory server could be reached (every URI failed or timed out)."""

    def __init__(self, message: str, retry_after: int = 30) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthenticationError(GroupwareError):
    """A login attempt was refused (the reason is for logs, never for the client)."""


class InvalidCredentials(AuthenticationError, DirectoryError):
    """Unknown login or wrong password: the two are deliberately indistinguishable."""


class AccountDisabled(AuthenticationError, DirectoryError):
    """The account exists but is disabled (e.g. contract ended)."""


class LoginThrottled(AuthenticationError):
    """The person a login names is locked out: too many failures within the window, under any form of it."""
