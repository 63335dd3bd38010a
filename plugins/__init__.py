# SPDX-License-Identifier: GPL-3.0-or-later
"""Thin Radicale adapters, installed as ``groupware.plugins``.

Radicale loads them by dotted name from the configuration (``[auth] type = groupware.plugins.auth``); each
receives the running services through its section of Radicale's configuration (:func:`services_of`), set by
:mod:`groupware.dav.configuration`.
"""

from __future__ import annotations

if __name__ != "groupware.plugins":  # pragma: no cover - guard against a top-level ``plugins`` import
    raise ImportError(f"this package must be imported as groupware.plugins, not {__name__!r}")

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from groupware.runtime.services import Services

__all__ = ["services_of"]

#: The private option of each plugin section carrying the running services (set by
# groupware.dav.configuration).
SERVICES_OPTION = "_services"


def services_of(configuration: Any, section: str) -> Services:
    """The running services handed to the plugin of ``section`` through Radicale's configuration.

    Raises:
        RuntimeError: the plugin was loaded outside ``groupware serve`` (no services in its section).
    """
    try:
        services: Services = configuration.get(section, SERVICES_OPTION)
    except KeyError:
        raise RuntimeError(
            f"groupware.plugins.{section} needs groupware's services: start the server with `groupware serve`"
        ) from None
    return services
