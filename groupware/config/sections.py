# SPDX-License-Identifier: GPL-3.0-or-later
"""Our sections, parsed: one frozen dataclass each, and :class:`Config`, the whole file."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "AccountsConfig",
    "AddressBooksConfig",
    "Config",
    "DirectoryConfig",
    "LimitsConfig",
    "LmtpConfig",
    "OperationsConfig",
    "SharingConfig",
    "SieveConfig",
]


@dataclass(frozen=True)
class DirectoryConfig:
    """The ``[directory]`` section, parsed."""

    type: str = "ldif"
    file: str = ""
    uri: tuple[str, ...] = ()
    base_dn: str = ""
    people_dn: str = ""
    groups_dn: str = ""
    bind_dn: str = ""
    bind_password: str = field(default="", repr=False)
    bind_password_file: str = ""
    user_dn_template: str = ""
    login_attributes: tuple[str, ...] = ("uid", "mail")
    user_filter: str = "(objectClass=inetOrgPerson)"
    disabled_filter: str = ""
    groups_from: str = "search"
    group_filter: str = "(objectClass=groupOfNames)"
    member_attribute: str = "member"
    starttls: bool = False
    ca_file: str = ""
    connect_timeout: float = 5.0
    timeout: float = 10.0
    pool_size: int = 8
    page_size: int = 500
    cache_ttl: float = 300.0
    retry_after: int = 30
    # The attribute mapping (DIRECTORY_PRESETS; these defaults are the inetorgperson preset's).
    preset: str = "inetorgperson"
    uid_attribute: str = "uid"
    mail_attribute: str = "mail"
    display_name_attributes: tuple[str, ...] = ("displayName", "cn")
    given_name_attribute: str = "givenName"
    surname_attribute: str = "sn"
    title_attributes: tuple[str, ...] = ("title",)
    phone_attributes: tuple[str, ...] = ("telephoneNumber", "mobile")
    establishment_attributes: tuple[str, ...] = ("departmentNumber",)
    establishment_pattern: re.Pattern[str] | None = None
    organization_attribute: str = "o"
    entry_uuid_attribute: str = "entryUUID"
    member_of_attribute: str = "memberOf"
    red_list_filter: str = ""
    establishments_dn: str = ""
    establishment_filter: str = ""
    establishment_uai_attribute: str = ""
    establishment_uai_pattern: re.Pattern[str] | None = None
    establishment_name_attribute: str = ""
    establishment_departement_attribute: str = ""
    group_name_attribute: str = "cn"
    group_description_attribute: str = "description"
    group_category_attribute: str = "businessCategory"
    group_establishment_attribute: str = "ou"
    group_establishment_pattern: re.Pattern[str] | None = None


@dataclass(frozen=True)
class AccountsConfig:
    """The ``[accounts]`` section, parsed."""

    principal: str = "uid"
    admin_group: str = ""
    cache_ttl: float = 600.0
    max_failures_per_login: int = 10
    max_failures_per_address: int = 50
    max_failure_delay: float = 10.0
    failure_window: float = 300.0
    lockout: float = 300.0
    failure_delay: float = 0.4


@dataclass(frozen=True)
class SharingConfig:
    """The ``[sharing]`` section, parsed: the sharing policy and where grants are kept."""

    max_person_level: str = "manage"
    max_group_level: str = "read-write"
    max_domain_level: str = "read"
    people_may_share: bool = True
    database: str = ""


@dataclass(frozen=True)
class AddressBooksConfig:
    """The ``[addressbooks]`` section, parsed: the academic address books built from the directory."""

    enabled: bool = False
    books: tuple[str, ...] = ("academie", "etablissements")
    interval: float = 3600.0
    owner: str = "annuaire"
    academie: str = "Académie de Montpellier"
    groups: bool = True
    #: Overrides of the default vCard mapping of :mod:`groupware.addressbooks.mapping`, as written.
    mapping: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class SieveConfig:
    """The ``[sieve]`` section, parsed (paths absolute)."""

    enabled: bool = False
    hosts: tuple[tuple[str, int], ...] = (("127.0.0.1", 4190),)
    mail_root: str = ""
    tls_certificate: str = ""
    tls_key: str = ""
    allow_plaintext: bool = False
    idle_timeout: float = 1800.0
    auth_timeout: float = 30.0
    max_connections: int = 1000
    max_connections_per_address: int = 20
    trusted_clients: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    max_scripts: int = 25
    max_script_size: int = 262144
    max_storage: int = 1048576
    extensions: tuple[str, ...] = ()
    max_redirects: int = 4
    redirect_domains: tuple[str, ...] = ()
    min_vacation_period: int = 86400
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    max_variable_size: int = 4096
    max_cpu_time: float = 5.0
    max_mime_depth: int = 100


@dataclass(frozen=True)
class LmtpConfig:
    """The ``[lmtp]`` section, parsed: the delivery door (users' homes are under ``[sieve] mail_root``)."""

    enabled: bool = False
    hosts: tuple[tuple[str, int], ...] = (("127.0.0.1", 24),)
    hostname: str = ""
    max_message_size: int = 52428800
    max_recipients: int = 1000
    timeout: float = 300.0
    handshake_timeout: float = 60.0
    max_connections: int = 500
    max_connections_per_address: int = 50
    max_errors: int = 20
    relay: tuple[str, int] | None = None
    queue: str = ""
    queue_retry: float = 300.0
    queue_max_retry: float = 3600.0
    queue_lifetime: float = 432000.0
    autocreate: bool = False
    workers: int = 16


@dataclass(frozen=True)
class LimitsConfig:
    """The ``[limits]`` section, parsed: bounds on what one request may ask of the DAV server."""

    max_property_size: int = 4096
    max_properties_size: int = 65536
    max_xml_depth: int = 100
    max_xml_elements: int = 100_000
    max_connections: int = 1000
    max_connections_per_address: int = 100
    header_timeout: float = 10.0
    max_components: int = 1000
    max_item_property_size: int = 65536
    max_parameter_size: int = 1024
    max_rrules: int = 4
    max_rdates: int = 1000
    max_recurrence_count: int = 10000
    max_daily_instances: int = 24
    max_query_seconds: float = 20.0
    max_request_seconds: float = 60.0


@dataclass(frozen=True)
class OperationsConfig:
    """The ``[operations]`` section, parsed: who may read the health of the server."""

    allowed: tuple[str, ...] = ("127.0.0.0/8", "::1/128")


@dataclass(frozen=True)
class Config:
    """The whole configuration: our typed sections plus Radicale's, raw."""

    path: str
    directory: DirectoryConfig
    accounts: AccountsConfig
    radicale_sections: Mapping[str, Mapping[str, str]]
    sieve: SieveConfig = field(default_factory=SieveConfig)
    sharing: SharingConfig = field(default_factory=SharingConfig)
    lmtp: LmtpConfig = field(default_factory=LmtpConfig)
    addressbooks: AddressBooksConfig = field(default_factory=AddressBooksConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    operations: OperationsConfig = field(default_factory=OperationsConfig)
