# SPDX-License-Identifier: GPL-3.0-or-later
"""The Radicale edge: everything between an HTTP request and Radicale's DAV engine.

* :mod:`~groupware.dav.app` — the WSGI application: Radicale's, with an ordered list of responders per method
  and of rewriters for every XML answer; :func:`~groupware.dav.app.make_app` builds it;
* :mod:`~groupware.dav.request` — what a responder receives (:class:`~groupware.dav.request.DavRequest`) and
  the two protocols;
* :mod:`~groupware.dav.collections` and :mod:`~groupware.dav.fastpath` — whole-collection answers from item
  facts (depth-1 PROPFIND, first sync-collection, queries the index decides);
* :mod:`~groupware.dav.people`, :mod:`~groupware.dav.principals`, :mod:`~groupware.dav.principal_search` —
  principals from the directory;
* :mod:`~groupware.dav.vcard4` — vCard 4.0 for the academic books;
* :mod:`~groupware.dav.agenda_api` — the agenda administration API (WSGI middleware);
* :mod:`~groupware.dav.outage` — a directory outage as 503;
* :mod:`~groupware.dav.credentials` — malformed Basic credentials as 401;
* :mod:`~groupware.dav.body` — the request body, parsed once, and its depth and size bounds;
* :mod:`~groupware.dav.limits` — the size bounds of the properties a client sets (413);
* :mod:`~groupware.dav.validity` — the CALDAV:valid-filter precondition of a calendar-query (403);
* :mod:`~groupware.dav.rfc4918` (with ``rfc4918_copy``, ``rfc4918_if``, ``rfc4918_props``,
  ``rfc4918_item_props``), :mod:`~groupware.dav.rfc4791`, :mod:`~groupware.dav.rfc6578` (with
  ``rfc6578_limit``) — where Radicale's answers differ from the RFCs, one module per RFC;
  :mod:`~groupware.dav.discovery` — the root's listing;
* :mod:`~groupware.dav.filters` — REPORT filters (CardDAV, CalDAV time ranges) as typed store queries;
* :mod:`~groupware.dav.configuration` — Radicale's configuration, our plugins and defaults, its checks;
* :mod:`~groupware.dav.migration` — stock Radicale folders in and out (``groupware storage``);
* :mod:`~groupware.dav.upstream` — every use of Radicale's internals and every patch, in one place.
"""
