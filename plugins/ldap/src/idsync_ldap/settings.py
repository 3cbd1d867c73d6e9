"""The settings of a configured directory target, validated from the pipeline file.

One model per flavour: :class:`ActiveDirectorySettings` (plugin ``ad``) and
:class:`LdapSettings` (plugin ``ldap``, OpenLDAP and other standard directories). What they
share lives in :class:`DirectorySettings`.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from ldap3.core.exceptions import LDAPInvalidDnError
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

__all__ = ["ActiveDirectorySettings", "DirectorySettings", "LdapSettings"]


def _dn(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    from idsync_ldap._dn import parse_dn

    value = value.strip()
    try:
        parse_dn(value)
    except LDAPInvalidDnError:
        raise ValueError(f"{name} {value!r} is not a distinguished name") from None
    if not value:
        raise ValueError(f"{name} is empty")
    return value


class DirectorySettings(BaseModel):
    """How idsync reaches one directory and where it keeps accounts and groups there."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        description=(
            "The server, `ldaps://host:636` (TLS from the start) or `ldap://host:389` (plain, "
            "or upgraded with `start_tls`)."
        ),
        examples=["ldaps://dc1.example.org:636"],
    )
    bind_dn: str = Field(
        description=(
            "The account idsync binds as: a DN, or for Active Directory also a user principal "
            "name (`svc-idsync@example.org`)."
        )
    )
    password: SecretStr = Field(description="The bind account's password.")
    start_tls: bool = Field(
        default=False, description="Upgrade an `ldap://` connection with StartTLS before binding."
    )
    tls_verify: bool = Field(
        default=True,
        description=(
            "Check the server's certificate (chain and host name). Turn off only for a test "
            "server: without it anyone on the path can read the bind password."
        ),
    )
    ca_file: str | None = Field(
        default=None,
        description="PEM file of the CA(s) to trust; default: the system's trusted CAs.",
    )
    tls_server_name: str | None = Field(
        default=None,
        description=(
            "The name the certificate must carry, when the URL uses another name or an IP "
            "address (e.g. `dc1.example.org`)."
        ),
    )
    base_dn: str = Field(
        description=(
            "The directory's root for idsync: accounts are found under it wherever they were "
            "moved, and unique values are checked across it."
        ),
        examples=["DC=example,DC=org"],
    )
    users_base: str | None = Field(
        default=None,
        description=(
            "Where correlation and the accounts import look for accounts (default: `base_dn`)."
        ),
    )
    groups_base: str | None = Field(
        default=None,
        description="Where `group:<name>` permissions are looked up (default: `base_dn`).",
    )
    container: str | None = Field(
        default=None,
        description=(
            "Where accounts are created when the mapping has no `container` "
            "(default: `users_base`)."
        ),
    )
    resource_container: str | None = Field(
        default=None,
        description="Where resources (department groups) are created (default: `groups_base`).",
    )
    create_containers: bool = Field(
        default=False,
        description=(
            "Create a missing organizational unit named by the mapping's `container` (only "
            "below one that exists). When false, such an account fails, naming the container."
        ),
    )
    disabled_container: str | None = Field(
        default=None,
        description=(
            "Move accounts here when they are disabled, and back to their `container` when "
            "enabled again (none: disabled accounts stay where they are)."
        ),
    )
    rdn_attribute: str = Field(
        default="cn",
        description="The attribute that names an account in its container (its RDN).",
    )
    set_manager: bool = Field(
        default=True,
        description="Set `manager` to the DN of the manager's account, when the manager has one.",
    )
    set_password: bool = Field(
        default=True, description="Give created accounts an initial password."
    )
    initial_password: SecretStr | None = Field(
        default=None,
        description=(
            "The initial password of every created account (from the environment). None: a "
            "random one of `password_length`, never shown, logged or stored."
        ),
    )
    password_length: int = Field(
        default=24, ge=8, le=128, description="Length of a generated initial password."
    )
    page_size: int = Field(
        default=500, ge=1, le=10000, description="Entries per page of every paged search."
    )
    connections: int = Field(
        default=8,
        ge=1,
        le=64,
        description=(
            "Connections kept open to the directory (at most one per engine worker is in use)."
        ),
    )
    timeout: float = Field(
        default=30.0, gt=0, description="Seconds to wait to connect and for one answer."
    )
    retries: int = Field(
        default=3,
        ge=0,
        le=20,
        description=(
            "Attempts after the first when the server answers busy or unavailable, or a read "
            "loses its connection (a write that may have reached the server is not repeated)."
        ),
    )
    backoff: float = Field(
        default=0.5, ge=0, description="Base delay in seconds of the exponential backoff."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("ldap", "ldaps") or not parts.hostname:
            raise ValueError(f"{value!r} is not an ldap:// or ldaps:// URL")
        if parts.path or parts.query or parts.fragment:
            raise ValueError(f"{value!r} must name only the server (scheme, host, port)")
        try:
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:
            raise ValueError(f"{value!r} has a port that is not a number") from None
        return value

    @field_validator(
        "base_dn",
        "users_base",
        "groups_base",
        "container",
        "resource_container",
        "disabled_container",
    )
    @classmethod
    def _distinguished(cls, value: str | None, info: object) -> str | None:
        return _dn(value, getattr(info, "field_name", "value"))

    @model_validator(mode="after")
    def _tls(self) -> DirectorySettings:
        if self.start_tls and self.url.startswith("ldaps:"):
            raise ValueError("start_tls is for ldap:// URLs; ldaps:// is encrypted already")
        return self

    @property
    def encrypted(self) -> bool:
        """Whether the connection is encrypted (LDAPS or StartTLS)."""
        return self.start_tls or self.url.startswith("ldaps:")

    @property
    def users(self) -> str:
        """Where accounts are found."""
        return self.users_base or self.base_dn

    @property
    def groups(self) -> str:
        """Where groups are found."""
        return self.groups_base or self.base_dn

    @property
    def default_container(self) -> str:
        """Where accounts are created without a mapped container."""
        return self.container or self.users


class ActiveDirectorySettings(DirectorySettings):
    """An Active Directory domain (or Samba AD): ``user`` objects, ``group`` groups."""

    rdn_attribute: str = Field(
        default="cn", description="The attribute that names an account in its container."
    )
    must_change_password: bool = Field(
        default=True,
        description="Whether a created account must change its initial password at first logon.",
    )
    group_scope: Literal["global", "universal", "domain_local"] = Field(
        default="global", description="The scope of groups idsync creates as resources."
    )
    security_groups: bool = Field(
        default=True,
        description="Create resources as security groups (false: distribution groups).",
    )
    user_object_classes: list[str] = Field(
        default=["top", "person", "organizationalPerson", "user"],
        min_length=1,
        description="The object classes of a created account.",
    )
    user_filter: str = Field(
        default="(&(objectCategory=person)(objectClass=user))",
        description="Which entries are accounts (correlation and the accounts import).",
    )

    @model_validator(mode="after")
    def _password_needs_tls(self) -> ActiveDirectorySettings:
        if self.set_password and not self.encrypted:
            raise ValueError(
                "Active Directory accepts a password (unicodePwd) only over an encrypted "
                "connection: use an ldaps:// URL or start_tls, or set set_password to false"
            )
        return self


class LdapSettings(DirectorySettings):
    """A standard LDAP directory (OpenLDAP and others): ``inetOrgPerson`` and ``groupOfNames``."""

    rdn_attribute: str = Field(
        default="uid", description="The attribute that names an account in its container."
    )
    set_password: bool = Field(
        default=False,
        description=(
            "Give created accounts an initial password (the password modify operation, so "
            "the server hashes it)."
        ),
    )
    lockout: bool = Field(
        default=True,
        description=(
            "Disable accounts by locking them (`pwdAccountLockedTime`, needs the ppolicy "
            "overlay). When false, disabling only moves to `disabled_container`."
        ),
    )
    user_object_classes: list[str] = Field(
        default=["inetOrgPerson"],
        min_length=1,
        description="The object classes of a created account.",
    )
    user_filter: str = Field(
        default="(objectClass=inetOrgPerson)",
        description="Which entries are accounts (correlation and the accounts import).",
    )
    group_object_class: Literal["groupOfNames", "groupOfUniqueNames"] = Field(
        default="groupOfNames", description="The object class of groups."
    )
    placeholder_member: str = Field(
        default="cn=nobody",
        description=(
            "The member a group keeps when its last real member goes (groupOfNames must have "
            "one); removed again when a real member is added."
        ),
    )

    @field_validator("placeholder_member")
    @classmethod
    def _placeholder(cls, value: str) -> str:
        return _dn(value, "placeholder_member") or value
