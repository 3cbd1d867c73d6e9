"""Directory targets: Active Directory (plugin ``ad``) and standard LDAP directories (``ldap``).

Both speak LDAP through one :class:`~idsync_ldap.directory.Directory` and share every hook;
the flavours differ where the directories do: how an account is referenced (``objectGUID`` or
``entryUUID``), enabled and disabled (``userAccountControl`` or a ppolicy lock), given its
initial password (``unicodePwd`` in the add, or the password modify operation), and what a
group is (``group``, or ``groupOfNames`` which must keep a member).

The account data's keys are the directory's attribute names (matched without case), plus
``container``: the DN of the organizational unit the account belongs in. The attribute named
by ``rdn_attribute`` (``cn``, ``uid``) names the entry in it. A change of either renames or
moves the entry (modify DN); the account's reference stays. Every hook reads before it writes,
so a repeat writes nothing, and none writes under dry-run.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import version
from typing import Any, ClassVar

import ldap3
from idsync import (
    Account,
    ActionResult,
    HookContext,
    Permission,
    PluginAbout,
    PluginKind,
    guarded,
    hookimpl,
)
from ldap3.utils.conv import escape_filter_chars
from loguru import logger
from pydantic import BaseModel

from idsync_ldap import _dn
from idsync_ldap._passwords import generate_password
from idsync_ldap._schema import Schema, read_schema
from idsync_ldap.directory import Directory, Entry
from idsync_ldap.errors import LdapError
from idsync_ldap.settings import ActiveDirectorySettings, DirectorySettings, LdapSettings

__all__ = ["CONTAINER", "PERMISSION_KINDS", "ActiveDirectoryPlugin", "LdapPlugin"]

PERMISSION_KINDS = ("group",)
"""``group:<name>``: a group by its ``cn`` under ``groups_base`` (or by its DN)."""

CONTAINER = "container"
"""The account-data key of the container (organizational unit) DN."""

_GOVERNED = frozenset(
    k.casefold()
    for k in (
        "objectClass",
        "objectGUID",
        "objectSid",
        "entryUUID",
        "distinguishedName",
        "dn",
        "memberOf",
        "member",
        "userAccountControl",
        "unicodePwd",
        "userPassword",
        "pwdLastSet",
        "pwdAccountLockedTime",
    )
)
"""Attributes the plugin writes itself; a mapping that sets one is refused."""

_HIDDEN = frozenset(k.casefold() for k in ("objectGUID", "objectSid", "unicodePwd", "userPassword"))


def _value(values: list[Any]) -> Any:
    """One value as itself, several as a list."""
    return values[0] if len(values) == 1 else list(values)


def _as_values(value: Any) -> list[str]:
    """A mapped value as the LDAP values it stands for (empty: the attribute is cleared)."""
    if value is None:
        return []
    if isinstance(value, list | tuple | set):
        return [str(v) for v in value if v not in (None, "")]
    if isinstance(value, bool):
        return ["TRUE" if value else "FALSE"]
    text = str(value)
    return [text] if text != "" else []


def _filter(attribute: str, value: Any) -> str:
    return f"({attribute}={escape_filter_chars(str(value))})"


def _key(mapping: Mapping[str, Any], name: str) -> str | None:
    """The key of ``mapping`` that is ``name`` without case."""
    wanted = name.casefold()
    return next((k for k in mapping if k.casefold() == wanted), None)


def _get(mapping: Mapping[str, Any], name: str) -> Any:
    found = _key(mapping, name)
    return mapping[found] if found is not None else None


class _DirectoryPlugin:
    """What both flavours share: every hook, written against :class:`Directory`."""

    NAME: ClassVar[str]
    SUMMARY: ClassVar[str]
    SETTINGS: ClassVar[type[DirectorySettings]]
    REFERENCE: ClassVar[str]
    """The attribute holding an entry's stable id (the account reference)."""

    def __init__(self, settings: DirectorySettings | None = None) -> None:
        self.settings = settings
        self._directory: Directory | None = None
        self._lock = threading.Lock()
        self._groups: dict[str, tuple[str, str | None]] = {}
        """``name`` (casefolded) → (group DN, reference), as found this run."""
        self._users: dict[str, str] = {}
        """Account reference → DN, as found or made this run."""
        self._fresh: dict[str, set[str]] = {}
        """Accounts created by this instance (DN casefolded) → the groups (DN casefolded) it
        added them to: a new account holds no other group, so those need no reading."""
        self._clean: set[str] = set()
        """Group DNs (casefolded) known to hold no placeholder member."""

    # --- plumbing ----------------------------------------------------------------------

    def _configured(self, ctx: HookContext | None) -> DirectorySettings:
        if self.settings is None and ctx is not None and ctx.settings is not None:
            given = ctx.settings
            self.settings = (
                given
                if isinstance(given, self.SETTINGS)
                else self.SETTINGS.model_validate(
                    given.model_dump() if isinstance(given, BaseModel) else dict(given)
                )
            )
        if self.settings is None:
            raise RuntimeError(f"the {self.NAME} plugin is not configured: it has no settings")
        return self.settings

    def directory(self, ctx: HookContext | None = None) -> Directory:
        """The one pooled connection to the directory, made on first use."""
        with self._lock:
            if self._directory is None:
                system = ctx.system if ctx is not None else self.NAME
                self._directory = Directory(self._configured(ctx), system)
            return self._directory

    def close(self) -> None:
        """Unbind the pooled connections; a later hook call opens new ones."""
        with self._lock:
            if self._directory is not None:
                self._directory.close()
                self._directory = None

    def _attributes(self) -> list[str]:
        """What an account read asks for: its attributes, its reference, its groups, its state."""
        return ["*", self.REFERENCE, "memberOf", *self._state_attributes()]

    # --- flavour -------------------------------------------------------------------------

    def _state_attributes(self) -> list[str]:
        return []

    def _group_filter(self) -> str:
        return "(objectClass=group)"

    def _member(self) -> str:
        return "member"

    def _reference(self, entry: Entry) -> str | None:
        value = entry.first(self.REFERENCE)
        return str(value) if value is not None else None

    def _reference_filter(self, reference: str) -> str | None:
        """The filter finding the entry with ``reference``, or None when it cannot be one."""
        try:
            uuid.UUID(reference)
        except ValueError:
            return None
        return _filter(self.REFERENCE, reference.lower())

    def _enabled(self, entry: Entry) -> bool | None:
        return None

    def _access(self, entry: Entry, enabled: bool) -> dict[str, list[tuple[str, list[Any]]]]:
        """The modification that enables or disables ``entry`` (empty: it is so already)."""
        return {}

    def _new_account(self, password: str | None) -> dict[str, Any]:
        """Attributes every created account gets besides the mapped ones."""
        return {}

    def _after_add(self, directory: Directory, dn: str, password: str | None) -> None:
        """What follows the add (e.g. setting the password)."""

    def _new_group(self, name: str, data: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
        raise NotImplementedError

    def _delete_controls(self) -> list[tuple[str, bool, Any]]:
        return []

    def _placeholder(self) -> str | None:
        return None

    # --- reading accounts ----------------------------------------------------------------

    def _account(self, entry: Entry, wanted: Mapping[str, Any] | None = None) -> Account:
        """An entry as an :class:`Account`; keys spelled as in ``wanted`` (the mapping)."""
        wanted = wanted or {}
        settings = self._configured(None)
        data: dict[str, Any] = {}
        for name, values in entry.attributes.items():
            if name.casefold() in _HIDDEN or not values:
                continue
            if any(isinstance(v, bytes | bytearray) for v in values):
                continue
            data[_key(wanted, name) or name] = _value(values)
        container = _dn.parent(entry.dn)
        given = _get(wanted, CONTAINER)
        if isinstance(given, str) and _dn.same(given, container):
            container = given
        data[_key(wanted, CONTAINER) or CONTAINER] = container
        manager_key = _key(data, "manager")
        given_manager = _get(wanted, "manager")
        if (
            manager_key
            and isinstance(given_manager, str)
            and _dn.same(given_manager, data[manager_key])
        ):
            data[manager_key] = given_manager
        groups = []
        for group in entry.values("memberOf"):
            text = str(group)
            if _dn.within(text, settings.groups) and not _dn.same(text, settings.groups):
                groups.append(f"group:{_dn.first_value(text)}")
            else:
                groups.append(f"group:{text}")
        return Account(
            reference=self._reference(entry) or entry.dn,
            data=data,
            enabled=self._enabled(entry),
            permissions=sorted(set(groups)),
        )

    def _entry(self, ctx: HookContext, reference: str | None) -> Entry | None:
        """The account with ``reference``, wherever it is under ``base_dn``; None when gone."""
        if not reference:
            return None
        wanted = self._reference_filter(reference)
        if wanted is None:
            return None
        settings = self._configured(ctx)
        found = self.directory(ctx).search(settings.base_dn, wanted, self._attributes())
        if not found:
            with self._lock:
                self._users.pop(reference, None)
            return None
        with self._lock:
            self._users[reference] = found[0].dn
        return found[0]

    def _user_dn(self, ctx: HookContext, reference: str, fresh: bool = False) -> str | None:
        """The DN of the account ``reference`` (read once per run, or again when ``fresh``)."""
        with self._lock:
            known = None if fresh else self._users.get(reference)
        if known is not None:
            return known
        entry = self._entry(ctx, reference)
        return entry.dn if entry is not None else None

    def _label(self, ctx: HookContext, dn: str | None = None) -> str:
        return dn or str(ctx.reference)

    # --- about ---------------------------------------------------------------------------

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        """Describe the plugin."""
        return PluginAbout(
            name=self.NAME,
            kind=PluginKind.TARGET,
            version=version("idsync-ldap"),
            summary=self.SUMMARY,
            settings=self.SETTINGS,
            permission_kinds=list(PERMISSION_KINDS),
        )

    @hookimpl
    def idsync_check_connection(self, ctx: HookContext) -> ActionResult:
        """Bind, read ``base_dn``, the users base and the groups base; check the mapping keys.

        ``ctx.account`` may name the pipeline's mapping keys and ``ctx.correlation`` its
        correlation: each is held to the directory's schema (its ``attributeTypes``), so a
        key the directory does not define, or one idsync sets itself, fails the check,
        naming the key (and the nearest attribute the schema has).
        """
        settings = self._configured(ctx)
        directory = self.directory(ctx)
        try:
            missing = [
                f"{name} {dn!r}"
                for name, dn in (
                    ("base_dn", settings.base_dn),
                    ("users_base", settings.users),
                    ("groups_base", settings.groups),
                )
                if directory.read(dn, ["1.1"]) is None
            ]
            schema = read_schema(directory) if ctx.account or ctx.correlation else None
        except LdapError as exc:
            return ActionResult.failure(f"{settings.url}: {exc}", retriable=exc.retriable)
        if missing:
            return ActionResult.failure(
                f"connected to {settings.url}, but there is no entry {', '.join(dict.fromkeys(missing))}"
            )
        problems = self._key_problems(schema, ctx) if schema is not None else []
        if problems:
            return ActionResult.failure(*problems)
        return ActionResult(messages=[f"connected to {settings.url} as {settings.bind_dn}"])

    def _key_problems(self, schema: Schema, ctx: HookContext) -> list[str]:
        """What is wrong with the mapping's keys and the correlation field, per the schema."""
        problems = []
        for key in ctx.account:
            if key.startswith("@") or key.casefold() == CONTAINER:
                continue
            if key.casefold() in _GOVERNED:
                problems.append(f"mapping: {key!r} may not be set: idsync sets it")
            elif (why := schema.problem(key, written=True)) is not None:
                problems.append(f"mapping: {why}")
        if ctx.correlation is not None:
            field = ctx.correlation.account_field
            if (why := schema.problem(field)) is not None:
                problems.append(f"correlation: {why}")
        return problems

    @hookimpl
    def idsync_expression_functions(self) -> Mapping[str, Callable[..., Any]]:
        """``dn_escape(value)``: a value escaped for use in a DN template (``OU={{ … }}``)."""
        return {"dn_escape": lambda value: _dn.escape_rdn(str(value if value is not None else ""))}

    # --- accounts ------------------------------------------------------------------------

    @hookimpl
    def idsync_correlate(self, ctx: HookContext) -> list[Account]:
        """The accounts under ``users_base`` whose attribute equals the value (one search)."""
        if ctx.correlation is None:
            raise ValueError("correlate needs a correlation (account attribute and value)")
        attribute, value = ctx.correlation.account_field, ctx.correlation.value
        if value is None or value == "":
            return []
        settings = self._configured(ctx)
        if attribute.casefold() in (CONTAINER, "dn"):
            raise ValueError(f"accounts cannot be correlated on {attribute!r}; use an attribute")
        found = self.directory(ctx).search(
            settings.users,
            f"(&{self._user_filter()}{_filter(attribute, value)})",
            self._attributes(),
        )
        with self._lock:
            for entry in found:
                if (reference := self._reference(entry)) is not None:
                    self._users[reference] = entry.dn
        return [self._account(entry, ctx.account) for entry in found]

    def _user_filter(self) -> str:
        settings = self._configured(None)
        text = getattr(settings, "user_filter", "(objectClass=*)")
        return text if text.startswith("(") else f"({text})"

    @hookimpl
    def idsync_attribute_available(self, ctx: HookContext, attribute: str, value: Any) -> bool:
        """Whether no other entry holds ``value``: the naming attribute within the account's
        container, any other attribute anywhere under ``base_dn`` (as the directory matches,
        so without case for ``sAMAccountName`` and ``userPrincipalName``)."""
        settings = self._configured(ctx)
        directory = self.directory(ctx)
        own = (ctx.reference or "").casefold()
        if attribute.casefold() == settings.rdn_attribute.casefold():
            container = _get(ctx.account, CONTAINER) or settings.default_container
            entry = directory.read(
                _dn.child(settings.rdn_attribute, str(value), str(container)), [self.REFERENCE]
            )
            return entry is None or (self._reference(entry) or "").casefold() == own
        holders = directory.search(settings.base_dn, _filter(attribute, value), [self.REFERENCE])
        return all((self._reference(e) or "").casefold() == own for e in holders)

    def _prepare(self, ctx: HookContext) -> tuple[str, str, dict[str, list[str]]] | ActionResult:
        """The new account's DN, container and attributes, or a failure saying what is wrong."""
        settings = self._configured(ctx)
        governed = sorted(k for k in ctx.account if k.casefold() in _GOVERNED)
        if governed:
            return ActionResult.failure(
                f"the account mapping may not set {', '.join(governed)}: idsync sets them"
            )
        container = str(_get(ctx.account, CONTAINER) or settings.default_container)
        if not _dn.is_dn(container):
            return ActionResult.failure(f"the container {container!r} is not a distinguished name")
        name = _as_values(_get(ctx.account, settings.rdn_attribute))
        if len(name) != 1:
            return ActionResult.failure(
                f"the account data needs one {settings.rdn_attribute} (the naming attribute); "
                f"map {settings.rdn_attribute!r}"
            )
        attributes: dict[str, list[str]] = {}
        for key, value in ctx.account.items():
            if key.casefold() == CONTAINER:
                continue
            values = _as_values(value)
            if values:
                attributes[key] = values
        return _dn.child(settings.rdn_attribute, name[0], container), container, attributes

    @hookimpl
    @guarded("create", LdapError)
    def idsync_create(self, ctx: HookContext) -> ActionResult:
        """Add the account, disabled, in its container, with its initial password."""
        settings = self._configured(ctx)
        prepared = self._prepare(ctx)
        if isinstance(prepared, ActionResult):
            return prepared
        dn, container, attributes = prepared
        directory = self.directory(ctx)
        manager = self._manager_dn(ctx) if settings.set_manager else None
        if manager:
            attributes["manager"] = [manager]
        written = {**ctx.account}
        if ctx.dry_run:
            if directory.read(container, ["1.1"]) is None and not settings.create_containers:
                return ActionResult.failure(
                    f"would create {dn}, but the container {container} does not exist"
                )
            return ActionResult(
                data=written, messages=[f"dry-run: would create disabled account {dn}"]
            )
        password = self._password() if settings.set_password else None
        extra = self._new_account(password)
        classes = list(getattr(settings, "user_object_classes", ["top"]))
        result = directory.add(dn, classes, {**attributes, **extra}, accept=frozenset({32}))
        if result.get("result") == 32:  # the container does not exist
            if not settings.create_containers:
                return ActionResult.failure(
                    f"cannot create {dn}: the container {container} does not exist "
                    "(create it, or set create_containers)"
                )
            self._make_container(directory, container)
            directory.add(dn, classes, {**attributes, **extra})
        self._after_add(directory, dn, password)
        entry = directory.read(dn, [self.REFERENCE])
        reference = self._reference(entry) if entry is not None else None
        if reference is None:
            return ActionResult.failure(f"created {dn}, but cannot read its {self.REFERENCE} back")
        with self._lock:
            self._users[reference] = dn
            self._fresh[dn.casefold()] = set()
        logger.bind(system=ctx.system).info("created account {} ({})", dn, reference)
        messages = [f"created disabled account {dn}"]
        if manager:
            messages.append(f"manager set to {manager}")
        return ActionResult(reference=reference, data=written, messages=messages)

    def _password(self) -> str:
        settings = self._configured(None)
        if settings.initial_password is not None:
            return settings.initial_password.get_secret_value()
        return generate_password(settings.password_length)

    def _make_container(self, directory: Directory, container: str) -> None:
        """Create the organizational units of ``container`` that are missing, top down."""
        components = _dn.parse_dn(container)
        missing = []
        for depth in range(len(components)):
            dn = ",".join(f"{a}={v}" for a, v, _ in components[depth:])
            if directory.read(dn, ["1.1"]) is not None:
                break
            missing.append(components[depth])
        for depth in reversed(range(len(missing))):
            attribute = missing[depth][0]
            if attribute.casefold() != "ou":
                raise LdapError(
                    "creating the container",
                    container,
                    message=f"only organizational units (OU=) are created; {attribute}= is missing",
                )
            dn = ",".join(f"{a}={v}" for a, v, _ in components[depth:])
            directory.add(
                dn, ["organizationalUnit"], {"ou": [_dn.first_value(dn)]}, accept=frozenset({68})
            )

    def _manager_dn(self, ctx: HookContext) -> str | None:
        if not ctx.manager_reference:
            return None
        return self._user_dn(ctx, ctx.manager_reference)

    @hookimpl
    @guarded("update", LdapError)
    def idsync_update(self, ctx: HookContext) -> ActionResult:
        """Write the changed attributes (one modify), then rename or move (one modify DN)."""
        settings = self._configured(ctx)
        keys = list(dict.fromkeys([*ctx.account, *ctx.changes]))
        desired = {**ctx.account, **{k: c.after for k, c in ctx.changes.items()}}
        governed = sorted(k for k in ctx.changes if k.casefold() in _GOVERNED)
        if governed:
            return ActionResult.failure(
                f"the account mapping may not set {', '.join(governed)}: idsync sets them"
            )
        entry = self._entry(ctx, ctx.reference)
        if entry is None:
            return ActionResult.failure(
                f"account {ctx.reference} not found under {settings.base_dn}; it may have been deleted",
                not_found=True,
            )
        modifications: dict[str, list[tuple[str, list[Any]]]] = {}
        rdn_attribute = settings.rdn_attribute.casefold()
        new_name: str | None = None
        new_container: str | None = None
        for key, change in ctx.changes.items():
            folded = key.casefold()
            wanted = _as_values(change.after)
            if folded == CONTAINER:
                target = wanted[0] if wanted else settings.default_container
                if not _dn.is_dn(target):
                    return ActionResult.failure(
                        f"the container {target!r} is not a distinguished name"
                    )
                if not _dn.same(_dn.parent(entry.dn), target) and not self._parked(entry):
                    new_container = target
                continue
            if folded == rdn_attribute:
                if len(wanted) != 1:
                    return ActionResult.failure(
                        f"{settings.rdn_attribute} names the account and cannot be emptied"
                    )
                if wanted[0] != str(entry.first(key) or ""):
                    new_name = wanted[0]
                continue
            current = [str(v) for v in entry.values(key)]
            if current == wanted:
                continue
            modifications[key] = [(ldap3.MODIFY_REPLACE, wanted)]
        if settings.set_manager and ctx.manager_reference:
            manager = self._manager_dn(ctx)
            if manager and not _dn.same(str(entry.first("manager") or ""), manager):
                modifications["manager"] = [(ldap3.MODIFY_REPLACE, [manager])]
        data = {key: desired.get(key) for key in keys}
        what = sorted(modifications, key=str.casefold)
        if new_name is not None:
            what.append(f"{settings.rdn_attribute} (rename)")
        if new_container is not None:
            what.append(f"{CONTAINER} (move to {new_container})")
        if not what:
            return ActionResult(reference=ctx.reference, data=data, messages=["no changes"])
        label = entry.dn
        if ctx.dry_run:
            return ActionResult(
                reference=ctx.reference,
                data=data,
                messages=[f"dry-run: would update {', '.join(what)} of {label}"],
            )
        directory = self.directory(ctx)
        if modifications:
            directory.modify(entry.dn, modifications)
        if new_name is not None or new_container is not None:
            rdn = (
                f"{settings.rdn_attribute}={_dn.escape_rdn(new_name)}"
                if new_name is not None
                else self._first_rdn(entry.dn)
            )
            if new_container is not None and directory.read(new_container, ["1.1"]) is None:
                if not settings.create_containers:
                    return ActionResult.failure(
                        f"updated {', '.join(sorted(modifications)) or 'nothing else'} of {label}, "
                        f"but cannot move it: the container {new_container} does not exist "
                        "(create it, or set create_containers)"
                    )
                self._make_container(directory, new_container)
            directory.move(entry.dn, rdn, new_container)
            with self._lock:
                self._users.pop(ctx.reference or "", None)
        logger.bind(system=ctx.system).info("updated {}: {}", label, what)
        return ActionResult(
            reference=ctx.reference, data=data, messages=[f"updated {', '.join(what)} of {label}"]
        )

    @staticmethod
    def _first_rdn(dn: str) -> str:
        return _dn.first_rdn(dn)

    def _parked(self, entry: Entry) -> bool:
        """Whether the account sits, disabled, in the disabled container (it stays there)."""
        settings = self._configured(None)
        return (
            settings.disabled_container is not None
            and self._enabled(entry) is False
            and _dn.same(_dn.parent(entry.dn), settings.disabled_container)
        )

    def _set_enabled(self, ctx: HookContext, enabled: bool) -> ActionResult:
        verb = "enable" if enabled else "disable"
        settings = self._configured(ctx)
        entry = self._entry(ctx, ctx.reference)
        if entry is None:
            missing = f"account {ctx.reference} not found under {settings.base_dn}"
            return (
                ActionResult.failure(missing, not_found=True)
                if enabled
                else ActionResult.gone(missing)
            )
        changes = self._access(entry, enabled)
        destination: str | None = None
        parked = settings.disabled_container
        if parked is not None:
            here = _dn.parent(entry.dn)
            if not enabled and not _dn.same(here, parked):
                destination = parked
            elif enabled and _dn.same(here, parked):
                destination = str(_get(ctx.account, CONTAINER) or settings.default_container)
        if not changes and destination is None:
            return ActionResult(
                reference=ctx.reference, messages=[f"{entry.dn} is already {verb}d"]
            )
        where = f" and move it to {destination}" if destination else ""
        if ctx.dry_run:
            return ActionResult(
                reference=ctx.reference, messages=[f"dry-run: would {verb} {entry.dn}{where}"]
            )
        directory = self.directory(ctx)
        if changes:
            directory.modify(entry.dn, changes)
        if destination is not None:
            directory.move(entry.dn, self._first_rdn(entry.dn), destination)
            with self._lock:
                self._users.pop(ctx.reference or "", None)
        logger.bind(system=ctx.system).info("{}d {}{}", verb, entry.dn, where)
        return ActionResult(reference=ctx.reference, messages=[f"{verb}d {entry.dn}{where}"])

    @hookimpl
    @guarded("enable", LdapError)
    def idsync_enable(self, ctx: HookContext) -> ActionResult:
        """Give the account access (and move it out of the disabled container)."""
        return self._set_enabled(ctx, True)

    @hookimpl
    @guarded("disable", LdapError)
    def idsync_disable(self, ctx: HookContext) -> ActionResult:
        """Take access away (and move the account to the disabled container, if configured)."""
        return self._set_enabled(ctx, False)

    @hookimpl
    @guarded("delete", LdapError)
    def idsync_delete(self, ctx: HookContext) -> ActionResult:
        """Delete the account entry; one already gone is a warning."""
        settings = self._configured(ctx)
        dn = self._user_dn(ctx, ctx.reference or "", fresh=True) if ctx.reference else None
        if dn is None:
            return ActionResult.gone(f"account {ctx.reference} not found under {settings.base_dn}")
        if ctx.dry_run:
            return ActionResult(reference=ctx.reference, messages=[f"dry-run: would delete {dn}"])
        result = self.directory(ctx).delete(dn, self._delete_controls(), accept=frozenset({32}))
        with self._lock:
            self._users.pop(ctx.reference or "", None)
            self._fresh.pop(dn.casefold(), None)
        if result.get("result") == 32:
            return ActionResult.gone(f"{dn} was deleted meanwhile")
        logger.bind(system=ctx.system).info("deleted {}", dn)
        return ActionResult(reference=ctx.reference, messages=[f"deleted {dn}"])

    @hookimpl
    def idsync_accounts(self, ctx: HookContext) -> Iterator[Account]:
        """Every account under ``users_base`` (and the disabled container), page by page."""
        settings = self._configured(ctx)
        directory = self.directory(ctx)
        bases = [settings.users]
        parked = settings.disabled_container
        if parked is not None and not _dn.within(parked, settings.users):
            bases.append(parked)
        for base in bases:
            for entry in directory.paged(base, self._user_filter(), self._attributes()):
                yield self._account(entry, ctx.account)

    # --- permissions and resources -------------------------------------------------------

    @hookimpl
    def idsync_permissions(self, ctx: HookContext) -> Iterator[Permission]:
        """Every group under ``groups_base``, page by page, its reference as the reference."""
        settings = self._configured(ctx)
        for entry in self.directory(ctx).paged(
            settings.groups, self._group_filter(), ["cn", self.REFERENCE]
        ):
            name = str(entry.first("cn") or _dn.first_value(entry.dn))
            yield Permission(kind="group", name=name, reference=self._reference(entry))

    def _group(self, ctx: HookContext, permission: Permission) -> tuple[str, str | None] | None:
        """The group's DN and reference (looked up once per run), or None when missing."""
        settings = self._configured(ctx)
        cache = permission.name.casefold()
        with self._lock:
            known = self._groups.get(cache)
        if known is not None:
            return known
        directory = self.directory(ctx)
        attributes = ["cn", self.REFERENCE]
        if _dn.is_dn(permission.name) and "=" in permission.name:
            entry = directory.read(permission.name, attributes, self._group_filter())
            found = [entry] if entry is not None else []
        else:
            found = directory.search(
                settings.groups,
                f"(&{self._group_filter()}{_filter('cn', permission.name)})",
                attributes,
            )
        if not found:
            return None
        group = (found[0].dn, self._reference(found[0]))
        with self._lock:
            self._groups[cache] = group
        return group

    def _is_member(self, directory: Directory, group: str, member: str) -> bool:
        return directory.read(group, ["1.1"], _filter(self._member(), member)) is not None

    @hookimpl
    @guarded("grant", LdapError)
    def idsync_grant(self, ctx: HookContext) -> ActionResult:
        """Add the account's DN to the group's members (read first; a repeat writes nothing)."""
        permission = ctx.permission
        if permission is None or not ctx.reference:
            return ActionResult.failure("grant needs a permission and the account reference")
        if permission.kind != "group":
            return ActionResult.failure(
                f"directories have no {permission.kind!r} permissions; use group:<name>"
            )
        settings = self._configured(ctx)
        group = self._group(ctx, permission)
        if group is None:
            return ActionResult.failure(
                f"group {permission.name!r} does not exist under {settings.groups}"
            )
        group_dn, group_ref = group
        user = self._user_dn(ctx, ctx.reference)
        if user is None:
            return ActionResult.failure(f"account {ctx.reference} not found", not_found=True)
        directory = self.directory(ctx)
        with self._lock:
            fresh = self._fresh.get(user.casefold())
        known = fresh is not None and group_dn.casefold() in fresh
        if known or (fresh is None and self._is_member(directory, group_dn, user)):
            return ActionResult(reference=group_ref, messages=[f"already a member of {group_dn}"])
        if ctx.dry_run:
            return ActionResult(reference=group_ref, messages=[f"dry-run: would add to {group_dn}"])
        change: list[tuple[str, list[Any]]] = [(ldap3.MODIFY_ADD, [user])]
        placeholder = self._placeholder()
        with self._lock:
            clean = group_dn.casefold() in self._clean
        if placeholder and not clean and self._is_member(directory, group_dn, placeholder):
            change.append((ldap3.MODIFY_DELETE, [placeholder]))
        result = directory.modify(
            group_dn, {self._member(): change}, accept=frozenset({16, 20, 68})
        )
        if result.get("result") == 16:  # another worker removed the placeholder meanwhile
            result = directory.modify(
                group_dn, {self._member(): change[:1]}, accept=frozenset({20, 68})
            )
        with self._lock:
            self._clean.add(group_dn.casefold())
            if fresh is not None:
                fresh.add(group_dn.casefold())
        if result.get("result") in (20, 68):
            return ActionResult(reference=group_ref, messages=[f"already a member of {group_dn}"])
        logger.bind(system=ctx.system).info("added {} to {}", user, group_dn)
        return ActionResult(reference=group_ref, messages=[f"added to {group_dn}"])

    @hookimpl
    @guarded("revoke", LdapError)
    def idsync_revoke(self, ctx: HookContext) -> ActionResult:
        """Remove the account's DN from the group; a group kept non-empty gets the placeholder."""
        permission = ctx.permission
        if permission is None or not ctx.reference:
            return ActionResult.failure("revoke needs a permission and the account reference")
        settings = self._configured(ctx)
        group = self._group(ctx, permission) if permission.kind == "group" else None
        if group is None:
            return ActionResult.gone(
                f"group {permission.name!r} does not exist under {settings.groups}"
            )
        group_dn, group_ref = group
        user = self._user_dn(ctx, ctx.reference)
        if user is None:
            return ActionResult.gone(f"account {ctx.reference} not found", group_ref)
        directory = self.directory(ctx)
        if not self._is_member(directory, group_dn, user):
            return ActionResult.gone(f"not a member of {group_dn}", group_ref)
        if ctx.dry_run:
            return ActionResult(
                reference=group_ref, messages=[f"dry-run: would remove from {group_dn}"]
            )
        placeholder = self._placeholder()
        result = directory.modify(
            group_dn,
            {self._member(): [(ldap3.MODIFY_DELETE, [user])]},
            accept=frozenset({65} if placeholder else set()),
        )
        if result.get("result") == 65 and placeholder:  # the last member: keep the placeholder
            directory.modify(
                group_dn,
                {
                    self._member(): [
                        (ldap3.MODIFY_DELETE, [user]),
                        (ldap3.MODIFY_ADD, [placeholder]),
                    ]
                },
            )
            with self._lock:
                self._clean.discard(group_dn.casefold())
        with self._lock:
            self._fresh.get(user.casefold(), set()).discard(group_dn.casefold())
        logger.bind(system=ctx.system).info("removed {} from {}", user, group_dn)
        return ActionResult(reference=group_ref, messages=[f"removed from {group_dn}"])

    @hookimpl
    @guarded("resource", LdapError)
    def idsync_resource(self, ctx: HookContext) -> ActionResult:
        """Ensure the group exists in ``resource_container``, creating it when missing."""
        permission = ctx.permission
        if permission is None:
            return ActionResult.failure("resource needs a permission naming the group")
        if permission.kind != "group":
            return ActionResult.failure(
                f"directory resources are groups; {permission.key!r} cannot be created"
            )
        settings = self._configured(ctx)
        found = self._group(ctx, permission)
        if found is not None:
            return ActionResult(reference=found[1], messages=[f"group {found[0]} already exists"])
        container = settings.resource_container or settings.groups
        dn = _dn.child("cn", permission.name, container)
        if ctx.dry_run:
            return ActionResult(messages=[f"dry-run: would create group {dn}"])
        classes, attributes = self._new_group(permission.name, permission.data)
        directory = self.directory(ctx)
        result = directory.add(dn, classes, attributes, accept=frozenset({68}))
        entry = directory.read(dn, ["cn", self.REFERENCE])
        reference = self._reference(entry) if entry is not None else None
        with self._lock:
            self._groups[permission.name.casefold()] = (dn, reference)
        if result.get("result") == 68:
            return ActionResult(reference=reference, messages=[f"group {dn} already exists"])
        logger.bind(system=ctx.system).info("created group {}", dn)
        return ActionResult(reference=reference, messages=[f"created group {dn}"])


def _description(data: Mapping[str, Any]) -> list[str]:
    department = data.get("department")
    if isinstance(department, Mapping) and department.get("name"):
        return [f"Department {department['name']}"]
    return []


# --- Active Directory ---------------------------------------------------------------------

ACCOUNTDISABLE = 0x2
NORMAL_ACCOUNT = 0x200
TREE_DELETE = "1.2.840.113556.1.4.805"
_GROUP_SCOPES = {"global": 0x2, "domain_local": 0x4, "universal": 0x8}
_SECURITY = 0x80000000
_SAM_FORBIDDEN = str.maketrans(dict.fromkeys('"/\\[]:;|=,+*?<>@', "_"))


class ActiveDirectoryPlugin(_DirectoryPlugin):
    """Active Directory (and Samba AD) as an idsync target (plugin ``ad``)."""

    NAME = "ad"
    SUMMARY = "Active Directory users, groups and department groups as a target"
    SETTINGS = ActiveDirectorySettings
    REFERENCE = "objectGUID"

    def _state_attributes(self) -> list[str]:
        return ["userAccountControl"]

    def _reference(self, entry: Entry) -> str | None:
        value = entry.first("objectGUID")
        if isinstance(value, bytes | bytearray) and len(value) == 16:
            return str(uuid.UUID(bytes_le=bytes(value)))
        return None

    def _reference_filter(self, reference: str) -> str | None:
        try:
            raw = uuid.UUID(reference.strip("{}")).bytes_le
        except ValueError:
            return None
        return "(objectGUID=" + "".join(f"\\{b:02x}" for b in raw) + ")"

    @staticmethod
    def _control(entry: Entry) -> int:
        try:
            return int(entry.first("userAccountControl") or NORMAL_ACCOUNT)
        except ValueError:
            return NORMAL_ACCOUNT

    def _enabled(self, entry: Entry) -> bool | None:
        if entry.first("userAccountControl") is None:
            return None
        return not self._control(entry) & ACCOUNTDISABLE

    def _access(self, entry: Entry, enabled: bool) -> dict[str, list[tuple[str, list[Any]]]]:
        now = self._control(entry)
        wanted = now & ~ACCOUNTDISABLE if enabled else now | ACCOUNTDISABLE
        if wanted == now:
            return {}
        return {"userAccountControl": [(ldap3.MODIFY_REPLACE, [str(wanted)])]}

    def _new_account(self, password: str | None) -> dict[str, Any]:
        settings = self._configured(None)
        extra: dict[str, Any] = {"userAccountControl": [str(NORMAL_ACCOUNT | ACCOUNTDISABLE)]}
        if password is not None:
            extra["unicodePwd"] = [f'"{password}"'.encode("utf-16-le")]
            must_change = getattr(settings, "must_change_password", True)
            if must_change:
                extra["pwdLastSet"] = ["0"]
        return extra

    def _delete_controls(self) -> list[tuple[str, bool, Any]]:
        return [(TREE_DELETE, True, None)]

    def _new_group(self, name: str, data: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
        settings = self._configured(None)
        scope = _GROUP_SCOPES[getattr(settings, "group_scope", "global")]
        kind = scope | _SECURITY if getattr(settings, "security_groups", True) else scope
        group_type = kind - 2**32 if kind >= 2**31 else kind  # a signed 32-bit integer
        attributes: dict[str, Any] = {
            "cn": [name],
            "sAMAccountName": [name.translate(_SAM_FORBIDDEN)[:256]],
            "groupType": [str(group_type)],
        }
        if description := _description(data):
            attributes["description"] = description
        return ["top", "group"], attributes


# --- LDAP ---------------------------------------------------------------------------------

LOCKED = "000001010000Z"
"""``pwdAccountLockedTime`` of an account locked until an administrator unlocks it (ppolicy)."""


class LdapPlugin(_DirectoryPlugin):
    """A standard LDAP directory (OpenLDAP and others) as an idsync target (plugin ``ldap``)."""

    NAME = "ldap"
    SUMMARY = "LDAP directories (inetOrgPerson accounts, groupOfNames groups) as a target"
    SETTINGS = LdapSettings
    REFERENCE = "entryUUID"

    def _settings(self) -> LdapSettings:
        settings = self._configured(None)
        if not isinstance(settings, LdapSettings):
            raise TypeError(f"the ldap plugin needs LdapSettings, not {type(settings).__name__}")
        return settings

    def _group_filter(self) -> str:
        return f"(objectClass={self._settings().group_object_class})"

    def _member(self) -> str:
        return (
            "uniqueMember"
            if self._settings().group_object_class == "groupOfUniqueNames"
            else "member"
        )

    def _state_attributes(self) -> list[str]:
        return ["pwdAccountLockedTime"] if self._settings().lockout else []

    def _enabled(self, entry: Entry) -> bool | None:
        if not self._settings().lockout:
            return None
        return entry.first("pwdAccountLockedTime") is None

    def _access(self, entry: Entry, enabled: bool) -> dict[str, list[tuple[str, list[Any]]]]:
        if not self._settings().lockout:
            return {}
        locked = entry.first("pwdAccountLockedTime") is not None
        if enabled and locked:
            return {"pwdAccountLockedTime": [(ldap3.MODIFY_DELETE, [])]}
        if not enabled and not locked:
            return {"pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, [LOCKED])]}
        return {}

    def _new_account(self, password: str | None) -> dict[str, Any]:
        # A password set by an administrator unlocks the account: then lock after it.
        locked = self._settings().lockout and password is None
        return {"pwdAccountLockedTime": [LOCKED]} if locked else {}

    def _after_add(self, directory: Directory, dn: str, password: str | None) -> None:
        if password is None:
            return
        directory.set_password(dn, password)
        if self._settings().lockout:
            directory.modify(dn, {"pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, [LOCKED])]})

    def _placeholder(self) -> str | None:
        return self._settings().placeholder_member

    def _new_group(self, name: str, data: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
        settings = self._settings()
        attributes: dict[str, Any] = {"cn": [name], self._member(): [settings.placeholder_member]}
        if description := _description(data):
            attributes["description"] = description
        return [settings.group_object_class], attributes
