"""A SCIM 2.0 service provider as an idsync target: users, groups and the enterprise extension.

Every hook reads before it writes and writes only what differs, so a repeat (after a crash or
a retry) sends nothing. Writes to a user are conditional (``If-Match`` with the ETag last
seen); a 412 reads the user again and recomputes. Group memberships are changed with PATCH
``add`` and ``remove`` of one member, which commute, so they are sent without ``If-Match``:
concurrent joiners of one department never invalidate each other.

What the plugin remembers within one configured instance (one run) only ever saves a read
before a write the server checks anyway: a user's ETag (the write is conditional), or that a
user it created itself is not yet in a group (adding a member is idempotent). "Already so" is
never taken from memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from importlib.metadata import version
from typing import Any

from idsync import (
    Account,
    ActionResult,
    ApiError,
    HookContext,
    Permission,
    PluginAbout,
    PluginKind,
    guarded,
    hookimpl,
)
from loguru import logger

from idsync_scim._keys import (
    Key,
    KeyProblem,
    apply_values,
    flatten,
    literal,
    patch_operations,
    pick,
    read,
)
from idsync_scim.client import ScimClient, Stale, Written, problem
from idsync_scim.discovery import Discovery, DiscoveryError, ResourceKind, defaults, discover
from idsync_scim.settings import ScimSettings

__all__ = ["ENTERPRISE", "PERMISSION_KINDS", "RESERVED", "ScimPlugin"]

PERMISSION_KINDS = ("group",)
"""``group:<displayName>`` is membership of a group (the ``group_resource`` resource type)."""

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
"""The enterprise user extension of RFC 7643 §4.3 (employee number, department, manager)."""

RESERVED: dict[str, str] = {
    "id": "it is the server's id of the resource (the account reference)",
    "active": "the enable and disable actions set it",
    "password": "idsync never sets SCIM passwords (they would pass through its state)",
    "groups": "group memberships are granted as group: permissions",
    "meta": "the server keeps it",
    "schemas": "the plugin names the schemas the mapping uses",
}
"""Attributes (folded) a mapping may not set, with the reason a message gives."""

_MANAGER = f"{ENTERPRISE}:manager".casefold()
_ACTIVE = Key(text="active", urn=None, attr="active")
_MANAGER_VALUE = Key(
    text=f"{ENTERPRISE}:manager.value", urn=ENTERPRISE, attr="manager", sub="value"
)
_REMEMBERED = 4096
"""Users whose last ETag is kept, most recent first (one run's creates and updates)."""


def _describe(error: Exception) -> str:
    """An API failure as the SCIM error says it; a discovery failure as it is."""
    return problem(error) if isinstance(error, ApiError) else str(error)


def _fold(text: str | None) -> str:
    return (text or "").casefold()


class ScimPlugin:
    """A SCIM 2.0 service provider as an idsync target (distribution ``idsync-scim``)."""

    def __init__(self, settings: ScimSettings | None = None) -> None:
        self.settings = settings
        self._client: ScimClient | None = None
        self._discovery: Discovery | None = None
        self._lock = threading.Lock()
        self._discovering = threading.Lock()
        self._groups: dict[str, tuple[str, str]] = {}
        """Groups by folded displayName: (id, displayName)."""
        self._versions: OrderedDict[str, tuple[str, dict[str, Any]]] = OrderedDict()
        """Users by id: the ETag and the resource as last read or written."""
        self._created: dict[str, set[str]] = {}
        """Users this instance created, with the groups it has added them to since."""
        self._known: set[str] = set()
        """Users seen to exist (a group must not get a member that is not there)."""

    # --- plumbing ------------------------------------------------------------------------

    def _configured(self, ctx: HookContext | None) -> ScimSettings:
        if self.settings is None and ctx is not None and ctx.settings is not None:
            given = ctx.settings
            self.settings = (
                given
                if isinstance(given, ScimSettings)
                else ScimSettings.model_validate(dict(given))
            )
        if self.settings is None:
            raise RuntimeError("the SCIM plugin is not configured: it has no settings")
        return self.settings

    def client(self, ctx: HookContext | None = None) -> ScimClient:
        """The one client of this configured instance, made on first use."""
        with self._lock:
            if self._client is None:
                system = ctx.system if ctx is not None else "scim"
                self._client = ScimClient(self._configured(ctx), system=system)
            return self._client

    def close(self) -> None:
        """Close the connection pool and forget what was learnt; a later hook starts afresh."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
            self._discovery = None
            self._groups.clear()
            self._versions.clear()
            self._created.clear()
            self._known.clear()

    def discovery(self, ctx: HookContext | None = None, *, fresh: bool = False) -> Discovery:
        """What the server says about itself, read once per instance (again with ``fresh``).

        Concurrent first callers wait for one reading rather than each sending their own.
        """
        settings = self._configured(ctx)
        with self._discovering:
            with self._lock:
                known = self._discovery
            if known is not None and not fresh:
                return known
            if not settings.discovery:
                found = defaults()
            else:
                client = self.client(ctx)
                found = discover(
                    client.discover("/ServiceProviderConfig"),
                    client.discover("/Schemas") or {"Resources": []},
                    client.discover("/ResourceTypes") or {"Resources": []},
                )
            with self._lock:
                self._discovery = found
            return found

    def _users(self, ctx: HookContext) -> ResourceKind:
        return self.discovery(ctx).kind(self._configured(ctx).user_resource)

    def _group_kind(self, ctx: HookContext) -> ResourceKind:
        return self.discovery(ctx).kind(self._configured(ctx).group_resource)

    def _page(self, ctx: HookContext) -> int:
        limit = self.discovery(ctx).capabilities.max_results
        size = self._configured(ctx).page_size
        return min(size, limit) if limit else size

    def _reserved(self, ctx: HookContext, kind: ResourceKind) -> dict[str, str]:
        reserved = dict(RESERVED)
        if self._configured(ctx).set_manager and _fold(ENTERPRISE) in map(_fold, kind.extensions):
            why = "the setting set_manager fills it from the manager's account"
            reserved[_MANAGER] = why
            reserved[f"{_MANAGER}.value"] = why
        return reserved

    def key_problems(self, ctx: HookContext, texts: Iterable[str]) -> dict[str, str]:
        """Mapping keys the server's user resource cannot take, each with the reason."""
        kind = self._users(ctx)
        reserved = self._reserved(ctx, kind)
        found = {text: kind.problem(text, reserved) for text in texts}
        return {text: why for text, why in found.items() if why}

    def _keys(self, ctx: HookContext, texts: Iterable[str]) -> dict[str, Key]:
        """Parsed keys; raises :class:`KeyProblem` naming every key the server cannot take."""
        texts = list(dict.fromkeys(texts))
        problems = self.key_problems(ctx, texts)
        if problems:
            raise KeyProblem("; ".join(problems.values()))
        kind = self._users(ctx)
        return {text: kind.key(text) for text in texts}

    def _remember(self, rid: str, etag: str | None, resource: dict[str, Any]) -> None:
        with self._lock:
            self._known.add(rid)
            if etag is None:
                self._versions.pop(rid, None)
                return
            self._versions[rid] = (etag, resource)
            self._versions.move_to_end(rid)
            while len(self._versions) > _REMEMBERED:
                self._versions.popitem(last=False)

    def _forget(self, rid: str) -> None:
        with self._lock:
            self._versions.pop(rid, None)
            self._created.pop(rid, None)
            self._known.discard(rid)

    def _read_user(self, ctx: HookContext, rid: str) -> tuple[dict[str, Any], str | None] | None:
        found = self.client(ctx).get(self._users(ctx).endpoint, rid)
        if found is None:
            self._forget(rid)
            return None
        resource, etag = found
        self._remember(rid, etag, resource)
        return found

    def _account(
        self,
        kind: ResourceKind,
        resource: Mapping[str, Any],
        keys: Iterable[Key] = (),
        permissions: Iterable[str] = (),
    ) -> Account:
        data = flatten(resource, kind.extensions)
        data.update(pick(resource, keys))
        active = resource.get("active")
        return Account(
            reference=str(resource.get("id") or ""),
            data=data,
            enabled=active if isinstance(active, bool) else None,
            permissions=sorted(set(permissions)),
        )

    @staticmethod
    def _label(ctx: HookContext) -> str:
        name = ctx.account.get("userName") or ctx.previous.get("userName")
        return f"{name} ({ctx.reference})" if name else str(ctx.reference)

    # --- about ---------------------------------------------------------------------------

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        """Describe the plugin."""
        return PluginAbout(
            name="scim",
            kind=PluginKind.TARGET,
            version=version("idsync-scim"),
            summary="Any SCIM 2.0 service provider: users, the enterprise extension, groups",
            settings=ScimSettings,
            permission_kinds=list(PERMISSION_KINDS),
        )

    @hookimpl
    def idsync_check_connection(self, ctx: HookContext) -> ActionResult:
        """Read the discovery endpoints and one user; check the mapping keys when given.

        ``ctx.account`` may name the pipeline's mapping keys and ``ctx.correlation`` its
        correlation: each is checked against the server's schemas, so a path the server does
        not have fails the check, naming the key.
        """
        settings = self._configured(ctx)
        try:
            found = self.discovery(ctx, fresh=True)
            users = found.kind(settings.user_resource)
            self.client(ctx).search(users.endpoint, count=1, attributes=("id",))
        except ApiError as exc:
            if exc.status in (401, 403):
                how = "token" if settings.token is not None else "user name and password"
                why = f"the SCIM server refused the {how} (HTTP {exc.status}): {problem(exc)}"
            elif exc.status is None and exc.retriable:
                why = f"the SCIM server at {settings.base_url} could not be reached: {exc}"
            else:
                why = (
                    f"the SCIM server at {settings.base_url} answered unexpectedly: {problem(exc)}"
                )
            return ActionResult.failure(why, retriable=exc.retriable)
        except DiscoveryError as exc:
            return ActionResult.failure(f"the SCIM server at {settings.base_url}: {exc}")
        problems = self.key_problems(ctx, ctx.account)
        if ctx.correlation is not None:
            try:
                users.key(ctx.correlation.account_field)
            except KeyProblem as exc:
                problems[ctx.correlation.account_field] = f"correlation: {exc}"
            else:
                wrong = users.problem(ctx.correlation.account_field)
                if wrong and "read-only" not in wrong:
                    problems[ctx.correlation.account_field] = f"correlation: {wrong}"
        if problems:
            return ActionResult.failure(*[f"mapping: {why}" for why in problems.values()])
        return ActionResult(
            messages=[f"connected to SCIM at {settings.base_url}: {found.describe()}"]
        )

    # --- accounts ------------------------------------------------------------------------

    @hookimpl
    def idsync_correlate(self, ctx: HookContext) -> list[Account]:
        """``GET /Users?filter=<field> eq "<value>"`` (a paged scan without filtering)."""
        if ctx.correlation is None:
            raise ValueError("correlate needs a correlation (account field and value)")
        field, value = ctx.correlation.account_field, ctx.correlation.value
        if value is None or value == "":
            return []
        kind = self._users(ctx)
        key = kind.key(field)
        keys = [kind.key(k) for k in ctx.account if not kind.problem(k)]
        found = self._holders(ctx, kind, key, value)
        with self._lock:
            self._known.update(str(r.get("id")) for r in found)
        return [self._account(kind, r, [key, *keys]) for r in found]

    def _holders(
        self, ctx: HookContext, kind: ResourceKind, key: Key, value: Any, ids_only: bool = False
    ) -> list[dict[str, Any]]:
        """The resources holding ``value`` at ``key`` (compared as SCIM compares, by filter)."""
        client = self.client(ctx)
        attributes = ("id",) if ids_only else ()
        if self.discovery(ctx).capabilities.filter:
            listing = client.every(
                kind.endpoint,
                filter=key.filter(value),
                page_size=self._page(ctx),
                attributes=attributes,
            )
            return list(listing)
        wanted = _fold(value) if isinstance(value, str) else value
        return [
            r
            for r in client.every(
                kind.endpoint,
                page_size=self._page(ctx),
                parallel=self._configured(ctx).concurrency,
            )
            if (_fold(h) if isinstance(h := read(r, key), str) else h) == wanted
        ]

    @hookimpl
    def idsync_attribute_available(self, ctx: HookContext, attribute: str, value: Any) -> bool:
        """Whether no user but ``ctx.reference`` holds ``value`` at ``attribute``."""
        kind = self._users(ctx)
        holders = self._holders(ctx, kind, kind.key(attribute), value, ids_only=True)
        return all(str(h.get("id")) == ctx.reference for h in holders)

    @hookimpl
    @guarded("create", ApiError, DiscoveryError, describe=_describe)
    def idsync_create(self, ctx: HookContext) -> ActionResult:
        """``POST /Users`` with the mapped attributes, ``active`` as the lifecycle wants it now
        (``ctx.active``): a joiner who starts today is created active in one request."""
        settings = self._configured(ctx)
        kind = self._users(ctx)
        try:
            keys = self._keys(ctx, ctx.account)
        except KeyProblem as exc:
            return ActionResult.failure(f"not created, nothing sent: {exc}")
        values = {keys[k]: v for k, v in ctx.account.items() if _assigned(v) is not None}
        manager = ctx.manager_reference if settings.set_manager else None
        if manager and _fold(ENTERPRISE) in map(_fold, kind.extensions):
            values[_MANAGER_VALUE] = manager
        body = apply_values({}, values)
        extensions = {_fold(u): u for u in kind.extensions}
        used = [extensions[_fold(k.urn)] for k in values if k.urn is not None]
        body = {"schemas": [kind.schema, *dict.fromkeys(used)], **body, "active": ctx.active}
        state = "active" if ctx.active else "inactive"
        name = ctx.account.get("userName") or next(iter(ctx.account.values()), "")
        if why := kind.create_problem(body):
            return ActionResult.failure(f"not created, nothing sent: {why}")
        if ctx.dry_run:
            return ActionResult(
                data=dict(ctx.account),
                enabled=ctx.active,
                messages=[f"dry-run: would create {state} user {name}"],
            )
        try:
            written = self.client(ctx).create(kind.endpoint, body)
        except ApiError as exc:
            if exc.status in (400, 409):
                return ActionResult.failure(
                    f"the SCIM server refused to create user {name}: {problem(exc)}"
                )
            raise
        resource = written.resource or {}
        reference = str(resource["id"])
        self._remember(reference, written.etag, resource)
        with self._lock:
            self._created[reference] = set()
        logger.bind(system=ctx.system).info("created SCIM user {} ({})", name, reference)
        messages = [f"created {state} user {name} ({reference})"]
        if manager:
            messages.append(f"manager set to {manager}")
        return ActionResult(
            reference=reference,
            data=pick(resource, keys.values()),
            enabled=bool(resource.get("active", ctx.active)),
            messages=messages,
        )

    def _converge(
        self,
        ctx: HookContext,
        rid: str,
        wanted: Callable[[dict[str, Any]], dict[Key, Any]],
    ) -> tuple[str, dict[str, Any], dict[Key, Any]]:
        """Bring user ``rid`` to what ``wanted`` asks of it; returns (outcome, resource, written).

        ``wanted`` gets the user as it is and answers the values that differ. The write is
        conditional on the ETag read (or remembered from the last write); a 412 reads again.
        Outcomes: ``gone``, ``same`` (nothing to write, seen on a fresh read), ``dry-run``,
        ``done``.
        """
        settings = self._configured(ctx)
        found = self.discovery(ctx)
        kind = self._users(ctx)
        client = self.client(ctx)
        conditional = found.capabilities.etag
        state: tuple[dict[str, Any], str | None] | None = None
        if conditional and not ctx.dry_run:
            with self._lock:
                remembered = self._versions.get(rid)
            if remembered is not None:
                state = (remembered[1], remembered[0])
        fresh = False
        conflicts = 0
        while True:
            if state is None:
                state = self._read_user(ctx, rid)
                fresh = True
                if state is None:
                    return "gone", {}, {}
            resource, etag = state
            pending = wanted(resource)
            if not pending or ctx.dry_run:
                if not fresh:  # "already so" is never taken from memory
                    state = None
                    continue
                if not pending:
                    return "same", resource, {}
                return "dry-run", apply_values(resource, pending), pending
            written: Written | None
            try:
                if found.capabilities.patch:
                    operations = patch_operations(resource, pending)
                    if why := kind.patch_problem(operations):
                        raise KeyProblem(why)
                    written = client.patch(
                        kind.endpoint, rid, operations, etag if conditional else None
                    )
                else:
                    body = {k: v for k, v in apply_values(resource, pending).items() if k != "meta"}
                    written = client.put(kind.endpoint, rid, body, etag if conditional else None)
            except Stale:
                conflicts += 1
                if conflicts > settings.conflict_retries:
                    raise
                logger.bind(system=ctx.system).debug(
                    "user {} changed meanwhile; reading again", rid
                )
                state = None
                continue
            if written is None:
                self._forget(rid)
                return "gone", {}, {}
            after = written.resource or apply_values(resource, pending)
            self._remember(rid, written.etag, after)
            return "done", after, pending

    @hookimpl
    @guarded("update", ApiError, DiscoveryError, describe=_describe)
    def idsync_update(self, ctx: HookContext) -> ActionResult:
        """``PATCH /Users/{id}`` with the changed attributes only, ``If-Match`` the ETag."""
        settings = self._configured(ctx)
        if not ctx.reference:
            return ActionResult.failure("update needs the account reference (the SCIM id)")
        kind = self._users(ctx)
        try:
            keys = self._keys(ctx, [*ctx.account, *ctx.changes])
        except KeyProblem as exc:
            return ActionResult.failure(f"not updated, nothing sent: {exc}")
        changes = {keys[k]: _assigned(c.after) for k, c in ctx.changes.items()}
        manager = ctx.manager_reference if settings.set_manager else None
        if manager and _fold(ENTERPRISE) not in map(_fold, kind.extensions):
            manager = None

        def wanted(resource: dict[str, Any]) -> dict[Key, Any]:
            pending = {k: v for k, v in changes.items() if read(resource, k) != v}
            if manager and read(resource, _MANAGER_VALUE) != manager:
                pending[_MANAGER_VALUE] = manager
            return pending

        try:
            outcome, resource, written = self._converge(ctx, ctx.reference, wanted)
        except (KeyProblem, Stale) as exc:
            return ActionResult.failure(f"not updated: {exc}", retriable=isinstance(exc, Stale))
        label = self._label(ctx)
        if outcome == "gone":
            return ActionResult.failure(
                f"SCIM user {label} not found; it may have been deleted", not_found=True
            )
        data = pick(resource, keys.values())
        if outcome == "same":
            return ActionResult(reference=ctx.reference, data=data, messages=["no changes"])
        what = ", ".join(sorted(k.text for k in written))
        if outcome == "dry-run":
            return ActionResult(
                reference=ctx.reference,
                data=data,
                messages=[f"dry-run: would update {what} of {label}"],
            )
        logger.bind(system=ctx.system).info("updated SCIM user {}: {}", ctx.reference, what)
        return ActionResult(
            reference=ctx.reference, data=data, messages=[f"updated {what} of {label}"]
        )

    def _set_active(self, ctx: HookContext, active: bool) -> ActionResult:
        verb = "enable" if active else "disable"
        if not ctx.reference:
            return ActionResult.failure(f"{verb} needs the account reference (the SCIM id)")

        def wanted(resource: dict[str, Any]) -> dict[Key, Any]:
            return {} if resource.get("active") is active else {_ACTIVE: active}

        try:
            outcome, _, _ = self._converge(ctx, ctx.reference, wanted)
        except (KeyProblem, Stale) as exc:
            return ActionResult.failure(f"not {verb}d: {exc}", retriable=isinstance(exc, Stale))
        label = self._label(ctx)
        if outcome == "gone":
            missing = f"SCIM user {label} not found; it may have been deleted"
            return (
                ActionResult.failure(missing, not_found=True)
                if active
                else ActionResult.gone(missing)
            )
        if outcome == "same":
            return ActionResult(reference=ctx.reference, messages=[f"{label} is already {verb}d"])
        if outcome == "dry-run":
            return ActionResult(
                reference=ctx.reference, messages=[f"dry-run: would {verb} {label}"]
            )
        logger.bind(system=ctx.system).info("{}d SCIM user {}", verb, ctx.reference)
        return ActionResult(reference=ctx.reference, messages=[f"{verb}d {label}"])

    @hookimpl
    @guarded("enable", ApiError, DiscoveryError, describe=_describe)
    def idsync_enable(self, ctx: HookContext) -> ActionResult:
        """``PATCH`` ``active: true`` (nothing when it is already)."""
        return self._set_active(ctx, True)

    @hookimpl
    @guarded("disable", ApiError, DiscoveryError, describe=_describe)
    def idsync_disable(self, ctx: HookContext) -> ActionResult:
        """``PATCH`` ``active: false``; a user already gone is a warning."""
        return self._set_active(ctx, False)

    @hookimpl
    @guarded("delete", ApiError, DiscoveryError, describe=_describe)
    def idsync_delete(self, ctx: HookContext) -> ActionResult:
        """``DELETE /Users/{id}``, after taking the user out of every group it is in."""
        if not ctx.reference:
            return ActionResult.failure("delete needs the account reference (the SCIM id)")
        settings = self._configured(ctx)
        client = self.client(ctx)
        kind = self._users(ctx)
        label = self._label(ctx)
        gone = f"SCIM user {label} not found; it was already deleted"
        groups = (
            self._member_of(ctx, ctx.reference) if settings.remove_memberships_on_delete else []
        )
        if ctx.dry_run:
            if client.get(kind.endpoint, ctx.reference, attributes=("id",)) is None:
                return ActionResult.gone(gone, ctx.reference)
            also = f" (and remove it from {len(groups)} group(s))" if groups else ""
            return ActionResult(
                reference=ctx.reference, messages=[f"dry-run: would delete {label}{also}"]
            )
        endpoint = self._group_kind(ctx).endpoint if groups else ""
        for gid, _ in groups:
            client.patch(endpoint, gid, [_remove_member(ctx.reference)])
        deleted = client.delete(kind.endpoint, ctx.reference)
        self._forget(ctx.reference)
        left = f"; removed from group(s) {', '.join(repr(n) for _, n in groups)}" if groups else ""
        if not deleted:
            return ActionResult.gone(gone + left, ctx.reference)
        logger.bind(system=ctx.system).info("deleted SCIM user {}", ctx.reference)
        return ActionResult(reference=ctx.reference, messages=[f"deleted {label}{left}"])

    def _member_of(self, ctx: HookContext, rid: str) -> list[tuple[str, str]]:
        """The groups (id, displayName) that list ``rid`` as a member."""
        kind = self._group_kind(ctx)
        client = self.client(ctx)
        if self.discovery(ctx).capabilities.filter:
            listing: Iterable[dict[str, Any]] = client.every(
                kind.endpoint,
                filter=f"members.value eq {literal(rid)}",
                page_size=self._page(ctx),
                attributes=("id", "displayName"),
            )
        else:
            listing = (
                g
                for g in client.every(kind.endpoint, page_size=self._page(ctx))
                if rid in _members(g)
            )
        return [(str(g.get("id")), str(g.get("displayName") or "")) for g in listing]

    @hookimpl
    def idsync_accounts(self, ctx: HookContext) -> Iterator[Account]:
        """Every user (paged, pages read in parallel) with the groups each is a member of."""
        kind = self._users(ctx)
        client = self.client(ctx)
        settings = self._configured(ctx)
        held: defaultdict[str, list[str]] = defaultdict(list)
        groups = self._group_kind(ctx)
        for group in client.every(
            groups.endpoint,
            page_size=self._page(ctx),
            attributes=("id", "displayName", "members"),
            parallel=settings.concurrency,
        ):
            name = group.get("displayName")
            if isinstance(name, str) and name:
                for member in _members(group):
                    held[member].append(f"group:{name}")
        for user in client.every(
            kind.endpoint, page_size=self._page(ctx), parallel=settings.concurrency
        ):
            rid = str(user.get("id") or "")
            if rid:
                yield self._account(kind, user, permissions=held.get(rid, ()))

    # --- permissions and resources -------------------------------------------------------

    @hookimpl
    def idsync_permissions(self, ctx: HookContext) -> list[Permission]:
        """Every group (``group:<displayName>``) with its id as the reference."""
        kind = self._group_kind(ctx)
        found = []
        for group in self.client(ctx).every(
            kind.endpoint,
            page_size=self._page(ctx),
            attributes=("id", "displayName"),
            parallel=self._configured(ctx).concurrency,
        ):
            name, gid = group.get("displayName"), group.get("id")
            if isinstance(name, str) and name and isinstance(gid, str):
                found.append(Permission(kind="group", name=name, reference=gid))
        return found

    def _group(
        self, ctx: HookContext, permission: Permission, *, cached: bool = True
    ) -> tuple[str, str] | None:
        """The group (id, displayName) a permission names, by displayName (then reference)."""
        folded = _fold(permission.name)
        if cached:
            with self._lock:
                known = self._groups.get(folded)
            if known is not None:
                return known
        kind = self._group_kind(ctx)
        client = self.client(ctx)
        if self.discovery(ctx).capabilities.filter:
            matches = list(
                client.every(
                    kind.endpoint,
                    filter=f"displayName eq {literal(permission.name)}",
                    page_size=self._page(ctx),
                    attributes=("id", "displayName"),
                )
            )
        else:
            matches = list(
                client.every(kind.endpoint, page_size=self._page(ctx), excluded=("members",))
            )
        exact = [g for g in matches if _fold(g.get("displayName")) == folded]
        if not exact and permission.reference:
            found = client.get(
                kind.endpoint, permission.reference, attributes=("id", "displayName")
            )
            exact = [found[0]] if found is not None else []
        if not exact:
            return None
        # Several groups with one name (displayName need not be unique): the oldest id wins,
        # the same one every time.
        group = min(exact, key=lambda g: str(g.get("id")))
        result = (str(group.get("id")), str(group.get("displayName")))
        with self._lock:
            self._groups[folded] = result
        return result

    def _is_member(self, ctx: HookContext, gid: str, rid: str) -> bool | None:
        """Whether ``rid`` is a member of group ``gid``; None when the group is gone."""
        kind = self._group_kind(ctx)
        client = self.client(ctx)
        if self.discovery(ctx).capabilities.filter:
            page = client.search(
                kind.endpoint,
                filter=f"id eq {literal(gid)} and members.value eq {literal(rid)}",
                count=1,
                attributes=("id",),
            )
            if page.total:
                return True
            return False if client.get(kind.endpoint, gid, attributes=("id",)) else None
        found = client.get(kind.endpoint, gid)
        return None if found is None else rid in _members(found[0])

    @hookimpl
    @guarded("grant", ApiError, DiscoveryError, describe=_describe)
    def idsync_grant(self, ctx: HookContext) -> ActionResult:
        """``PATCH /Groups/{id}`` ``add`` the member, unless the user is one already."""
        permission, rid = ctx.permission, ctx.reference
        if permission is None or not rid:
            return ActionResult.failure(
                "grant needs a permission and the account reference (the SCIM id)"
            )
        if permission.kind != "group":
            return ActionResult.failure(
                f"SCIM has no {permission.kind!r} permissions; use group:<name>"
            )
        group = self._group(ctx, permission)
        if group is None:
            return ActionResult.failure(
                f"group {permission.name!r} does not exist on the SCIM server"
            )
        gid, name = group
        with self._lock:
            added = self._created.get(rid)
            surely_not = added is not None and gid not in added
        if not surely_not:
            member = self._is_member(ctx, gid, rid)
            if member is None:
                self._forget_group(permission)
                group = self._group(ctx, permission, cached=False)
                if group is None:
                    return ActionResult.failure(
                        f"group {permission.name!r} does not exist on the SCIM server"
                    )
                gid, name = group
                member = bool(self._is_member(ctx, gid, rid))
            if member:
                return ActionResult(reference=gid, messages=[f"already a member of group {name!r}"])
            if rid not in self._known and self._read_user(ctx, rid) is None:
                # The server would take any id as a member: never add one that is not there.
                return ActionResult.failure(
                    f"cannot add to group {name!r}: SCIM user {rid} not found", not_found=True
                )
        if ctx.dry_run:
            return ActionResult(reference=gid, messages=[f"dry-run: would add to group {name!r}"])
        endpoint = self._group_kind(ctx).endpoint
        written = self.client(ctx).patch(
            endpoint, gid, [{"op": "add", "path": "members", "value": [{"value": rid}]}]
        )
        if written is None:
            self._forget_group(permission)
            return ActionResult.failure(
                f"cannot add to group {name!r}: it vanished", not_found=True
            )
        with self._lock:
            if rid in self._created:
                self._created[rid].add(gid)
        logger.bind(system=ctx.system).info("added {} to group {}", rid, name)
        return ActionResult(reference=gid, messages=[f"added to group {name!r}"])

    def _forget_group(self, permission: Permission) -> None:
        with self._lock:
            self._groups.pop(_fold(permission.name), None)

    @hookimpl
    @guarded("revoke", ApiError, DiscoveryError, describe=_describe)
    def idsync_revoke(self, ctx: HookContext) -> ActionResult:
        """``PATCH /Groups/{id}`` ``remove`` the member; not a member is a warning."""
        permission, rid = ctx.permission, ctx.reference
        if permission is None or not rid:
            return ActionResult.failure(
                "revoke needs a permission and the account reference (the SCIM id)"
            )
        if permission.kind != "group":
            return ActionResult.failure(
                f"SCIM has no {permission.kind!r} permissions; use group:<name>"
            )
        group = self._group(ctx, permission)
        member = self._is_member(ctx, group[0], rid) if group is not None else None
        if member is None:  # not known, or gone since it was looked up: look again
            self._forget_group(permission)
            group = self._group(ctx, permission, cached=False)
            member = self._is_member(ctx, group[0], rid) if group is not None else None
        if group is None:
            return ActionResult.gone(
                f"group {permission.name!r} no longer exists on the SCIM server"
            )
        gid, name = group
        if not member:
            return ActionResult.gone(f"not a member of group {name!r}", gid)
        if ctx.dry_run:
            return ActionResult(
                reference=gid, messages=[f"dry-run: would remove from group {name!r}"]
            )
        written = self.client(ctx).patch(self._group_kind(ctx).endpoint, gid, [_remove_member(rid)])
        with self._lock:
            if rid in self._created:
                self._created[rid].discard(gid)
        if written is None:
            return ActionResult.gone(f"group {name!r} vanished", gid)
        logger.bind(system=ctx.system).info("removed {} from group {}", rid, name)
        return ActionResult(reference=gid, messages=[f"removed from group {name!r}"])

    @hookimpl
    @guarded("resource", ApiError, DiscoveryError, describe=_describe)
    def idsync_resource(self, ctx: HookContext) -> ActionResult:
        """Ensure the group exists (``POST /Groups`` when missing); its id."""
        permission = ctx.permission
        if permission is None:
            return ActionResult.failure("resource needs a permission naming the group")
        if permission.kind != "group":
            return ActionResult.failure(
                f"SCIM resources are groups; {permission.key!r} cannot be created by idsync"
            )
        found = self._group(ctx, permission, cached=False)
        if found is not None:
            return ActionResult(
                reference=found[0], messages=[f"group {permission.name!r} already exists"]
            )
        if ctx.dry_run:
            return ActionResult(messages=[f"dry-run: would create group {permission.name!r}"])
        kind = self._group_kind(ctx)
        body = {"schemas": [kind.schema], "displayName": permission.name}
        if why := kind.create_problem(body):
            return ActionResult.failure(
                f"group {permission.name!r} not created, nothing sent: {why}"
            )
        written = self.client(ctx).create(kind.endpoint, body)
        gid = str((written.resource or {})["id"])
        with self._lock:
            self._groups[_fold(permission.name)] = (gid, permission.name)
        logger.bind(system=ctx.system).info("created group {}", permission.name)
        return ActionResult(reference=gid, messages=[f"created group {permission.name!r}"])


def _assigned(value: Any) -> Any:
    """A mapped value as SCIM holds it: an empty text or list is unassigned (RFC 7643 §2.5)."""
    return None if value in ("", []) else value


def _members(group: Mapping[str, Any]) -> set[str]:
    members = group.get("members") or []
    return {
        str(m.get("value"))
        for m in members
        if isinstance(members, list) and isinstance(m, dict) and m.get("value")
    }


def _remove_member(rid: str) -> dict[str, Any]:
    return {"op": "remove", "path": f"members[value eq {literal(rid)}]"}
