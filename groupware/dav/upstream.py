# SPDX-License-Identifier: GPL-3.0-or-later
"""Every use of Radicale's internals, and every patch of Radicale, in one module.

Radicale is the HTTP/DAV engine; we extend it through its plugin types and by subclassing its WSGI
``Application``. A few things have no plugin point: reading the application's storage, rights and sharing
objects, building a PROPFIND answer or a REPORT item exactly as Radicale does (the fast paths learn their
template from it), its ``Access`` helper, and the two patches below. They are all reached through
:class:`Internals` and :func:`patch_radicale`, and :data:`RELIED_ON` lists the upstream names and parameters
this module needs; ``tests/unit/test_radicale_patches.py`` fails when an upgrade of Radicale changes one of
them.

The methods of ``Application`` that :class:`groupware.dav.app.GroupwareApplication` overrides are listed in
:data:`OVERRIDDEN` and guarded the same way.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

import dateutil.rrule  # type: ignore[import-untyped]
import radicale.log
import radicale.utils
import vobject
import vobject.icalendar
from radicale import httputils
from radicale import item as radicale_item
from radicale.app import Application
from radicale.app.base import Access
from radicale.app.propfind import xml_propfind
from radicale.app.report import _expand, test_filter, xml_item_response
from radicale.item import filter as radicale_filter

from groupware.dav.budget import spend

__all__ = [
    "OVERRIDDEN",
    "Application",
    "RELIED_ON",
    "Internals",
    "expand_item",
    "filter_item",
    "item_response",
    "make_item",
    "read_components",
    "visit_time_ranges",
    "patch_radicale",
    "upstream_drift",
]

#: Upstream callables this module calls, with the parameters it passes (in order).
RELIED_ON: dict[str, tuple[Any, tuple[str, ...]]] = {
    "radicale.app.propfind.xml_propfind": (
        xml_propfind,
        (
            "self",
            "base_prefix",
            "path",
            "xml_request",
            "allowed_items",
            "user",
            "encoding",
            "max_resource_size",
            "shares",
        ),
    ),
    "radicale.app.report.xml_item_response": (
        xml_item_response,
        ("base_prefix", "href", "found_props", "not_found_props", "found_item", "share"),
    ),
    "radicale.app.base.Access": (Access, ("rights", "user", "user_groups", "path", "permissions_filter")),
    "Application._collect_allowed_items": (
        Application._collect_allowed_items,
        ("self", "items", "user", "user_groups"),
    ),
    "radicale.utils.package_version": (radicale.utils.package_version, ("name",)),
    "radicale.app.report.test_filter": (test_filter, ("collection_tag", "item", "filter_")),
    "radicale.app.report._expand": (
        _expand,
        ("element", "item", "start", "end", "time_range_start", "time_range_end", "max_occurrence"),
    ),
    "radicale.item.read_components": (radicale_item.read_components, ("s",)),
    "radicale.item.filter.visit_time_ranges": (
        radicale_filter.visit_time_ranges,
        ("vobject_item", "child_name", "range_fn", "infinity_fn"),
    ),
    "radicale.httputils.decode_request": (httputils.decode_request, ("configuration", "environ", "text")),
    "radicale.item.filter.prop_match": (radicale_filter.prop_match, ("vobject_item", "filter_", "ns")),
}

#: ``Application`` methods overridden by groupware's application, with their parameters.
OVERRIDDEN: dict[str, tuple[str, ...]] = {
    "_handle_request": ("self", "environ"),
    "do_PROPFIND": ("self", "environ", "base_prefix", "path", "user", "user_groups", "request_info"),
    "do_REPORT": ("self", "environ", "base_prefix", "path", "user", "user_groups", "request_info"),
    "do_PUT": ("self", "environ", "base_prefix", "path", "user", "user_groups", "request_info"),
    "_read_xml_request_body": ("self", "environ", "request_info"),
    "_xml_response": ("self", "xml_content", "request_info"),
}

#: Attributes of a running ``Application`` read by :class:`Internals`.
ATTRIBUTES = ("_storage", "_rights", "_sharing", "_encoding", "_max_resource_size", "configuration")


def upstream_drift() -> list[str]:
    """What changed upstream since this module was written: one line per missing name or changed signature."""
    import inspect

    problems = []
    for name, (target, parameters) in RELIED_ON.items():
        found = tuple(inspect.signature(target).parameters)
        if found[: len(parameters)] != parameters:
            problems.append(f"{name}{found} no longer starts with {parameters}")
    for method, parameters in OVERRIDDEN.items():
        found_method = getattr(Application, method, None)
        if found_method is None:
            problems.append(f"radicale.Application.{method} is gone")
        elif tuple(inspect.signature(found_method).parameters) != parameters:
            problems.append(f"radicale.Application.{method} no longer takes {parameters}")
    return problems


def item_response(
    base_prefix: str,
    href: str,
    found: list[ET.Element],
    not_found: list[ET.Element],
    share: dict[str, Any] | None,
) -> ET.Element:
    """One ``DAV:response`` of a REPORT answer, built by Radicale's ``xml_item_response``."""
    return xml_item_response(
        base_prefix, href, found_props=found, not_found_props=not_found, found_item=True, share=share
    )


def filter_item(collection_tag: str, item: Any, filter_: ET.Element) -> bool:
    """Whether ``item`` matches one ``filter`` of a REPORT, decided by Radicale's own test (the one its REPORT
    loop applies to every item the storage did not decide, RFC 4791 §9.7, RFC 6352 §10.5)."""
    return bool(test_filter(collection_tag, item, filter_))


def expand_item(item: Any, start: datetime, end: datetime, max_occurrence: int) -> int:
    """How many instances Radicale's expansion of ``item`` gives between ``start`` and ``end`` (aware), as
    a calendar-data ``expand`` computes them (RFC 4791 §9.6.5); raises what the expansion raises."""
    element = ET.Element("{urn:ietf:params:xml:ns:caldav}calendar-data")
    _, count = _expand(element, item, start, end, max_occurrence=max_occurrence)
    return int(count)


def make_item(vobject_item: Any) -> Any:
    """A Radicale item holding ``vobject_item`` (to hand to Radicale's readers)."""
    return radicale_item.Item(collection_path="", vobject_item=vobject_item)


def read_components(text: str) -> list[Any]:
    """The vobject components of a PUT body, parsed as Radicale's PUT parses them."""
    return list(radicale_item.read_components(text))


def visit_time_ranges(
    vobject_item: Any,
    child_name: str,
    range_fn: Callable[[datetime, datetime, bool], bool],
    infinity_fn: Callable[[datetime], bool],
) -> None:
    """Radicale's walk over the instances of ``child_name`` components (RFC 4791 §9.9), as its time-range
    filters, free-busy and prefilter bounds walk them."""
    radicale_filter.visit_time_ranges(vobject_item, child_name, range_fn, infinity_fn)


class Internals:
    """What the DAV edge reads of a running Radicale ``Application`` beyond its public WSGI interface."""

    def __init__(self, app: Application) -> None:
        self._app = app

    @property
    def storage(self) -> Any:
        """The storage plugin the application loaded."""
        return self._app._storage

    @property
    def encoding(self) -> str:
        """``[encoding] request``: the charset of answers."""
        return str(self._app._encoding)

    @property
    def max_resource_size(self) -> int:
        """``[server] max_resource_size`` as the application capped it."""
        return int(self._app._max_resource_size)

    @property
    def max_expand_occurrence(self) -> int:
        """``[reporting] max_expand_occurrence``: how many events a REPORT may serve (0: no limit)."""
        return int(self._app.configuration.get("reporting", "max_expand_occurrence"))

    def decode_body(self, environ: Any, body: bytes) -> str:
        """A request body decoded as Radicale decodes it (charset of the request, then fallbacks)."""
        return str(httputils.decode_request(self._app.configuration, environ, body))

    def resolve_share(self, path: str, user: str, user_groups: set[str]) -> dict[str, Any] | None:
        """The map share ``path`` reaches for ``user`` (Radicale's resolver), None without one."""
        sharing = self._app._sharing
        if not sharing._enabled:
            return None
        share: dict[str, Any] | None = sharing.sharing_collection_resolver(path, user, user_groups)
        return share

    def access(self, user: str, user_groups: set[str], path: str, permissions: str | None) -> Access:
        """Radicale's rights helper for ``path`` (filtered by a share's ``permissions``)."""
        return Access(self._app._rights, user, user_groups, path, permissions)

    def allowed_items(self, items: Iterable[Any], user: str, user_groups: set[str]) -> Iterator[Any]:
        """``(item, permissions, …)`` for the items ``user`` may see, as Radicale's PROPFIND collects them."""
        upstream: Iterator[Any] = self._app._collect_allowed_items(items, user, user_groups)
        return upstream

    def propfind_document(
        self,
        base_prefix: str,
        path: str,
        xml_request: ET.Element,
        entries: list[tuple[Any, ...]],
        user: str,
        shares: dict[str, Any],
    ) -> ET.Element | None:
        """The ``DAV:multistatus`` Radicale's PROPFIND builds for ``entries`` (RFC 4918 §9.1)."""
        return xml_propfind(
            self._app,
            base_prefix,
            path,
            xml_request,
            entries,
            user,
            self.encoding,
            max_resource_size=self.max_resource_size,
            shares=shares,
        )

    def xml_response(self, document: ET.Element, request_info: dict[str, Any]) -> bytes:
        """The document serialized by the application (with groupware's rewriters applied)."""
        upstream: bytes = self._app._xml_response(document, request_info)
        return upstream


def patch_radicale() -> None:
    """The one place where Radicale is patched (``tests/unit/test_radicale_patches.py`` guards it).

    Five patches: memoized package versions (below), a cheap ``logger.trace`` when tracing is off
    (:func:`_fast_trace`), walks over recurrences and recurrence sets that stop with their request
    (:func:`_budgeted_walks`, :func:`_budgeted_rule_sets`), and CardDAV prop-filters on grouped property names
    (:func:`_grouped_prop_filters`).

    ``radicale.utils.package_version`` reads package metadata from disk on every call, and Radicale calls it
    for every ``RADICALE:version`` property and every address book's ``supported-address-data``: about a fifth
    of the CPU time of a small PROPFIND. Installed versions do not change while the process runs, so it is
    memoized.
    """
    if not hasattr(radicale.utils.package_version, "cache_info"):
        radicale.utils.package_version = functools.cache(radicale.utils.package_version)
    _fast_trace()
    _budgeted_walks()
    _grouped_prop_filters()


def _grouped_prop_filters() -> None:
    """A CardDAV ``prop-filter`` named ``item1.EMAIL`` tests the EMAIL properties of the group ``item1`` (RFC
    6350 §3.3 groups, RFC 6352 §10.5.1), as sabre/dav reads such a name; Radicale looked for a property
    called ``item1.email`` and never found one. A plain name (``EMAIL``) already matches every group: vobject
    files grouped properties under their name. Radicale's filter test calls ``prop_match`` through its module,
    so the storage's screening and Radicale's own REPORT loop both see the replacement."""
    original = radicale_filter.prop_match
    if getattr(original, "groupware_grouped", False):
        return

    def prop_match(vobject_item: Any, filter_: ET.Element, ns: str, *args: Any, **kwargs: Any) -> bool:
        group, dot, name = filter_.get("name", "").rpartition(".")
        if ns != "CR" or not dot or not group:
            return bool(original(vobject_item, filter_, ns, *args, **kwargs))
        lines = [
            line
            for line in vobject_item.contents.get(name.lower(), [])
            if (line.group or "").lower() == group.lower()
        ]
        view = vobject.base.Component(vobject_item.name)  # the group's properties of that name, nothing else
        view.contents = {name.lower(): lines} if lines else {}
        narrowed = ET.Element(filter_.tag, {**filter_.attrib, "name": name})
        narrowed.extend(list(filter_))
        return bool(original(view, narrowed, ns, *args, **kwargs))

    prop_match.groupware_grouped = True  # type: ignore[attr-defined]
    radicale_filter.prop_match = prop_match


def _budgeted_walks() -> None:
    """Every walk over the instances of a recurrence (time-range filters, free-busy, the storage's index:
    all call ``radicale.item.filter.visit_time_ranges`` through the module) spends the request's budget at
    each instance (:func:`groupware.dav.budget.spend`), so that an endless walk stops with its request."""
    original = radicale_filter.visit_time_ranges
    if getattr(original, "groupware_budgeted", False):
        return

    def walk(
        vobject_item: Any,
        child_name: str,
        range_fn: Callable[[datetime, datetime, bool], bool],
        infinity_fn: Callable[[datetime], bool],
        *args: Any,
        **kwargs: Any,
    ) -> None:
        def spending(start: datetime, end: datetime, is_recurrence: bool) -> bool:
            spend()
            return range_fn(start, end, is_recurrence)

        original(vobject_item, child_name, spending, infinity_fn, *args, **kwargs)

    walk.groupware_budgeted = True  # type: ignore[attr-defined]
    radicale_filter.visit_time_ranges = walk
    _budgeted_rule_sets()


class _BudgetedRuleSet(dateutil.rrule.rruleset):  # type: ignore[misc]
    """A recurrence set whose every instance spends the request's budget while it is computed."""

    def _iter(self) -> Iterator[datetime]:
        for instance in super()._iter():
            spend()
            yield instance


def _budgeted_rule_sets() -> None:
    """The recurrence sets vobject builds for a component (``getrruleset``: Radicale's expansion of a
    ``calendar-query``, RFC 4791 §9.6.5, and its filters) spend the request's budget at each instance, so that
    expanding an event from the year 1 stops with its request like a filter walk does."""
    component = vobject.icalendar.RecurringComponent
    original = component.getrruleset
    if getattr(original, "groupware_budgeted", False):
        return

    def getrruleset(self: Any, addRDate: bool = False) -> Any:
        ruleset = original(self, addRDate)
        if not isinstance(ruleset, dateutil.rrule.rruleset):
            return ruleset
        budgeted = _BudgetedRuleSet()
        budgeted.__dict__.update(ruleset.__dict__)
        return budgeted

    getrruleset.groupware_budgeted = True  # type: ignore[attr-defined]
    component.getrruleset = getrruleset


def _fast_trace() -> None:
    """Radicale's ``logger.trace`` goes through a ``partialmethod`` and ``Logger.log`` even when tracing is
    off; its sharing code calls it for every (item, share) pair of a home listing, half the time of listing
    200 shared agendas. The replacement asks ``isEnabledFor`` first, as ``Logger.debug`` does, and logs the
    same records."""
    logger = radicale.log.logger
    if getattr(logger.__dict__.get("trace"), "groupware_fast", False):
        return

    def trace(msg: object, *args: object, **kwargs: Any) -> None:
        if logger.isEnabledFor(radicale.log.LOG_LEVEL_TRACE):
            kwargs.setdefault("stacklevel", 2)  # the record names Radicale's caller, not this wrapper
            logger._log(radicale.log.LOG_LEVEL_TRACE, msg, args, **kwargs)

    trace.groupware_fast = True  # type: ignore[attr-defined]
    logger.trace = trace  # type: ignore[method-assign]
