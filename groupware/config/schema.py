# SPDX-License-Identifier: GPL-3.0-or-later
"""The schema of our sections: every option with its default, its parser and its help text, in one place."""

from __future__ import annotations

from groupware.config.values import (
    LEVELS,
    Option,
    _at_least_one,
    _attribute,
    _attributes,
    _book_kinds,
    _boolean,
    _choice,
    _dn_template,
    _ldap_filter,
    _ldap_uris,
    _listen,
    _networks,
    _path_segment,
    _pattern,
    _positive_float,
    _positive_int,
    _relay,
    _seconds,
    _words,
    split_mapping,
)

__all__ = ["SCHEMA"]

SCHEMA: dict[str, dict[str, Option]] = {
    "directory": {
        "type": Option(
            "ldif", _choice("ldif", "ldap"), "where people and groups come from: ldif (a file) or ldap"
        ),
        "file": Option("", str, "ldif: path of the LDIF file (relative to the configuration file)"),
        "uri": Option(
            "", _ldap_uris, "ldap: one or more ldap:// or ldaps:// URIs, tried in order (failover)"
        ),
        "base_dn": Option("", str, "ldap: search base of the directory"),
        "people_dn": Option("", str, "search base for people (default: base_dn)"),
        "groups_dn": Option("", str, "search base for groups (default: base_dn)"),
        "bind_dn": Option("", str, "ldap: service account used to search (empty: anonymous search)"),
        "bind_password": Option("", str, "ldap: password of the service account"),
        "bind_password_file": Option("", str, "ldap: file holding the service account's password"),
        "user_dn_template": Option(
            "", _dn_template, "ldap: bind directly as this DN, e.g. uid={login},ou=people,…"
        ),
        "login_attributes": Option(
            "uid mail", _words, "attributes a login is matched against, case-insensitively"
        ),
        "user_filter": Option("(objectClass=inetOrgPerson)", _ldap_filter, "filter selecting people"),
        "disabled_filter": Option(
            "", _ldap_filter, "filter matching disabled accounts, e.g. (employeeType=inactif)"
        ),
        "groups_from": Option(
            "search", _choice("search", "memberof"), "read groups by a group search or memberOf"
        ),
        "group_filter": Option("(objectClass=groupOfNames)", _ldap_filter, "filter selecting groups"),
        "member_attribute": Option("member", str, "attribute of a group listing its members' DNs"),
        "preset": Option(
            "inetorgperson",
            _choice("inetorgperson", "supann"),
            "attribute mapping to start from: inetorgperson or supann (SupAnn 2021); keys below override it",
        ),
        "uid_attribute": Option("", _attribute, "person: the uid, name of the person's home"),
        "mail_attribute": Option("", _attribute, "person: mail addresses (the first is the main one)"),
        "display_name_attributes": Option("", _attributes, "person: the shown name, first one present"),
        "given_name_attribute": Option("", _attribute, "person: given name"),
        "surname_attribute": Option("", _attribute, "person: family name"),
        "title_attributes": Option("", _attributes, "person: title or function, first one present"),
        "phone_attributes": Option("", _attributes, "person: telephone numbers, all of them"),
        "establishment_attributes": Option("", _attributes, "person: values naming their établissements"),
        "establishment_pattern": Option(
            "", _pattern, "person: regular expression taking the UAI out of such a value (empty: all of it)"
        ),
        "organization_attribute": Option(
            "",
            _attribute,
            "person: établissement names, in the order of their UAI (without établissement entries)",
        ),
        "entry_uuid_attribute": Option("", _attribute, "person: a stable identifier (RFC 4530 entryUUID)"),
        "member_of_attribute": Option("", _attribute, "person: group DNs, with groups_from = memberof"),
        "red_list_filter": Option(
            "", _ldap_filter, "people who asked not to be listed: out of every book and search, not of login"
        ),
        "establishments_dn": Option("", str, "search base for établissement entries (default: base_dn)"),
        "establishment_filter": Option(
            "", _ldap_filter, "filter selecting établissement entries (empty: none, names come from people)"
        ),
        "establishment_uai_attribute": Option(
            "", _attribute, "établissement entry: the value holding its UAI"
        ),
        "establishment_uai_pattern": Option("", _pattern, "établissement entry: the UAI out of that value"),
        "establishment_name_attribute": Option("", _attribute, "établissement entry: its name"),
        "establishment_departement_attribute": Option(
            "", _attribute, "établissement entry: its département code (empty: the UAI's first three digits)"
        ),
        "group_name_attribute": Option("", _attribute, "group: its name (agenda paths, provisioning)"),
        "group_description_attribute": Option("", _attribute, "group: its description (titles)"),
        "group_category_attribute": Option("", _attribute, "group: its category"),
        "group_establishment_attribute": Option("", _attribute, "group: the établissement it belongs to"),
        "group_establishment_pattern": Option("", _pattern, "group: the UAI out of that value"),
        "starttls": Option("false", _boolean, "ldap: upgrade ldap:// connections with StartTLS"),
        "ca_file": Option("", str, "ldap: CA certificates (PEM) to verify the server; empty: system store"),
        "connect_timeout": Option(
            "5", _positive_float, "ldap: seconds to open a connection before failing over"
        ),
        "timeout": Option("10", _positive_float, "ldap: seconds an operation may take"),
        "pool_size": Option("8", _positive_int, "ldap: connections kept open for searches"),
        "page_size": Option("500", _positive_int, "ldap: page size of bulk reads (RFC 2696)"),
        "cache_ttl": Option(
            "300", _positive_float, "seconds a person or group list is kept in memory (0: off)"
        ),
        "retry_after": Option("30", _positive_int, "seconds sent in Retry-After when the directory is down"),
    },
    "accounts": {
        "principal": Option(
            "uid", _choice("uid", "mail"), "what names a user's home: uid (prenom.nom) or mail"
        ),
        "admin_group": Option("", str, "DN of the group whose members manage everything"),
        "cache_ttl": Option("600", _positive_float, "seconds a successful login is remembered (0: off)"),
        "max_failures_per_login": Option(
            "10",
            _positive_int,
            "failures for one person (any form of their login: uid, mail, case) before lockout (0: no limit)",
        ),
        "max_failures_per_address": Option(
            "50",
            _positive_int,
            "failures from one client address (IPv6: its /64) before each further one takes longer (0: off)",
        ),
        "max_failure_delay": Option(
            "10", _positive_float, "longest a failed login from an address over its limit is made to take"
        ),
        "failure_window": Option("300", _positive_float, "seconds over which failures are counted"),
        "lockout": Option("300", _positive_float, "seconds a locked-out person is refused"),
        "failure_delay": Option(
            "0.4", _positive_float, "minimum seconds a failed login takes (hides timing)"
        ),
    },
    "sharing": {
        "max_person_level": Option(
            "manage", _choice(*LEVELS), "highest level a grant to one person may give"
        ),
        "max_group_level": Option(
            "read-write", _choice(*LEVELS), "highest level a grant to a group may give"
        ),
        "max_domain_level": Option(
            "read", _choice(*LEVELS), "highest level a grant to a whole mail domain may give"
        ),
        "people_may_share": Option(
            "true", _boolean, "people may share their own calendars (Radicale's sharing API)"
        ),
        "database": Option(
            "", str, "SQLite file of grants (default: the storage engine's, groupware.sqlite)"
        ),
    },
    "addressbooks": {
        "enabled": Option("false", _boolean, "serve read-only address books built from the directory"),
        "books": Option(
            "academie etablissements", _book_kinds, "books to build: academie etablissements departements"
        ),
        "interval": Option(
            "3600", _positive_float, "seconds between syncs inside `groupware serve` (0: never)"
        ),
        "owner": Option(
            "annuaire", _path_segment, "first path segment of the books (no login may have this name)"
        ),
        "academie": Option(
            "Académie de Montpellier", str, "the académie's name: first ORG component, book titles"
        ),
        "groups": Option(
            "true", _boolean, "directory groups become contact groups (KIND:group, RFC 6350 §6.1.4)"
        ),
        "mapping": Option(
            "",
            split_mapping,
            "vCard property = person field, comma-separated, e.g. TITLE = title (see README)",
        ),
    },
    "sieve": {
        "enabled": Option("false", _boolean, "serve ManageSieve (RFC 5804) beside HTTP in `groupware serve`"),
        "hosts": Option(
            "127.0.0.1:4190", _listen, "ManageSieve addresses to listen on, host:port, comma-separated"
        ),
        "mail_root": Option("", str, "mail store root: scripts in <root>/<user>/sieve, default ./var/mail"),
        "tls_certificate": Option("", str, "PEM certificate (chain) offered by STARTTLS; empty: no STARTTLS"),
        "tls_key": Option("", str, "PEM private key of the certificate"),
        "allow_plaintext": Option("false", _boolean, "allow AUTHENTICATE without TLS (loopback tests only)"),
        "idle_timeout": Option("1800", _positive_float, "seconds an idle ManageSieve connection is kept"),
        "auth_timeout": Option("30", _seconds, "seconds a ManageSieve connection has to log in"),
        "max_connections": Option("1000", _at_least_one, "ManageSieve connections one process holds open"),
        "max_connections_per_address": Option(
            "20", _at_least_one, "ManageSieve connections one client address holds open"
        ),
        "trusted_clients": Option(
            "127.0.0.1/8, ::1",
            _networks,
            "addresses or networks of clients acting for many people (a webmail's ManageSieve plugin): no "
            "per-address bound on their connections and commands (empty: none)",
        ),
        "max_scripts": Option("25", _positive_int, "scripts per user (0: no limit)"),
        "max_script_size": Option("262144", _positive_int, "octets per script"),
        "max_storage": Option("1048576", _positive_int, "octets of all of a user's scripts (0: no limit)"),
        "extensions": Option("", _words, "Sieve extensions allowed (empty: all the engine supports)"),
        "max_redirects": Option("4", _positive_int, "distinct addresses a script may redirect to"),
        "redirect_domains": Option(
            "", _words, "domains redirect may forward to, e.g. ac-montpellier.fr (empty: any)"
        ),
        "min_vacation_period": Option(
            "86400", _positive_int, "shortest vacation period in seconds (shorter periods raised to it)"
        ),
        "before": Option("", _words, "admin scripts run before every user's script (paths)"),
        "after": Option("", _words, "admin scripts run after every user's script (paths)"),
        "max_variable_size": Option("4096", _positive_int, "octets a Sieve variable holds, cut beyond"),
        "max_cpu_time": Option(
            "5", _positive_float, "CPU seconds the scripts may spend on one message (0: no limit)"
        ),
        "max_mime_depth": Option(
            "100", _positive_int, "MIME nesting parsed for Sieve; deeper parts are opaque"
        ),
    },
    "lmtp": {
        "enabled": Option("false", _boolean, "deliver mail over LMTP (RFC 2033) in `groupware serve`"),
        "hosts": Option("127.0.0.1:24", _listen, "LMTP addresses to listen on, host:port, comma-separated"),
        "hostname": Option(
            "", str, "name in the greeting and in Maildir file names (default: this machine's)"
        ),
        "max_message_size": Option(
            "52428800", _positive_int, "octets per message (SIZE, RFC 1870; 0: no limit)"
        ),
        "max_recipients": Option("1000", _positive_int, "recipients per transaction"),
        "timeout": Option("300", _positive_float, "seconds a client may stay silent (RFC 5321 §4.5.3.2)"),
        "max_errors": Option(
            "20",
            _positive_int,
            "refused commands and unknown recipients before a connection is closed (0: none)",
        ),
        "handshake_timeout": Option("60", _seconds, "seconds from connecting to an accepted LHLO"),
        "max_connections": Option("500", _at_least_one, "LMTP connections one process holds open"),
        "max_connections_per_address": Option(
            "50", _at_least_one, "LMTP connections one client address holds open"
        ),
        "relay": Option("", _relay, "SMTP relay host:port for redirects and vacation replies (empty: none)"),
        "queue": Option("", str, "folder of the outgoing queue (default: <[sieve] mail_root>/.queue)"),
        "queue_retry": Option(
            "300", _seconds, "seconds before the first retry of a message the relay deferred"
        ),
        "queue_max_retry": Option(
            "3600", _seconds, "longest wait between retries (the wait doubles up to it)"
        ),
        "queue_lifetime": Option(
            "432000", _seconds, "seconds a message is retried before it is given up (default 5 days)"
        ),
        "autocreate": Option("false", _boolean, "fileinto creates missing folders even without :create"),
        "workers": Option("16", _positive_int, "threads that look recipients up and store messages"),
    },
    "operations": {
        "allowed": Option(
            "127.0.0.0/8, ::1",
            _networks,
            "client addresses and networks that may read /.groupware/health and /metrics (others: 404)",
        ),
    },
    "limits": {
        "max_property_size": Option(
            "4096", _at_least_one, "characters in one property a client sets (display name, description…)"
        ),
        "max_properties_size": Option(
            "65536", _at_least_one, "characters in all the properties one PROPPATCH or MKCOL sets"
        ),
        "max_xml_depth": Option("100", _at_least_one, "element nesting of an XML request body"),
        "max_xml_elements": Option("100000", _at_least_one, "elements in an XML request body"),
        "max_connections": Option("1000", _at_least_one, "HTTP connections one process holds open"),
        "max_connections_per_address": Option(
            "100", _at_least_one, "HTTP connections one client address holds open (per process)"
        ),
        "header_timeout": Option(
            "10", _seconds, "seconds from a request's first byte to the end of its headers"
        ),
        "max_components": Option("1000", _positive_int, "components in one calendar object or vCard (PUT)"),
        "max_item_property_size": Option(
            "65536", _positive_int, "characters of one text property value in a calendar object or vCard"
        ),
        "max_parameter_size": Option("1024", _positive_int, "characters of one property parameter value"),
        "max_rrules": Option("4", _positive_int, "RRULE properties in one component"),
        "max_rdates": Option("1000", _positive_int, "RDATE values, and EXDATE values, in one component"),
        "max_recurrence_count": Option(
            "10000", _positive_int, "instances one bounded RRULE (COUNT, UNTIL) may produce"
        ),
        "max_daily_instances": Option(
            "24", _positive_int, "instances per day the unbounded RRULEs of a component may give (24: hourly)"
        ),
        "max_query_seconds": Option(
            "20",
            _positive_float,
            "seconds one REPORT may spend testing items, and one PUT reading its object back",
        ),
        "max_request_seconds": Option(
            "60",
            _positive_float,
            "seconds of work one HTTP request may take before it is stopped (answered 503)",
        ),
    },
}
