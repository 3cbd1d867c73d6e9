"""The HelloID target: users, group memberships, self-service products and department groups.

Each hook does what HelloID's own PowerShell connector does, with its gaps closed: a product is
requested only when the person does not hold it yet (whatever else they hold), and a revoke
unassigns it. Every write is skipped under dry-run; every "already so" is a success without a
write, so a hook can be repeated safely after a crash or a retry.
"""

from __future__ import annotations

import importlib.util
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

from idsync import (
    Account,
    ActionKind,
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

from idsync_helloid._memberships import Memberships
from idsync_helloid._passwords import generate_password
from idsync_helloid._userdata import apply_values, flatten, has, lookup, pick, reserved_keys
from idsync_helloid.client import (
    HelloIDClient,
    assignment_product,
    assignment_user,
    group_guid,
    group_members,
    product_id,
    user_guid,
)
from idsync_helloid.settings import HelloIDSettings

if TYPE_CHECKING:
    from idsync.sandbox.simulator import SandboxApp
    from idsync.sandbox.world import World

__all__ = ["ATTRIBUTES", "PERMISSION_KINDS", "READ_ONLY_ATTRIBUTES", "HelloIDPlugin"]

PERMISSION_KINDS = ("group", "product")
"""``group:<name>`` is a HelloID group; ``product:<name>`` a Service Automation product."""

ATTRIBUTES = (
    "userName",
    "firstName",
    "lastName",
    "contactEmail",
    "source",
    "immutableId",
    "isLocked",
    "userAttributes.*",
)
"""The user object's fields a mapping may set; ``userAttributes`` holds the tenant's own."""

READ_ONLY_ATTRIBUTES = ("userGUID", "isEnabled", "isDeleted", "managedByUserGUID")
"""Fields of a user the plugin reads (for correlation) but sets only itself."""

REQUEST_COMMENT = "Requested by idsync"


def _same(held: Any, wanted: Any) -> bool:
    """Whether an account field holds a correlation value (text compared without case)."""
    if held is None or wanted is None:
        return False
    if isinstance(held, str) or isinstance(wanted, str):
        return str(held).casefold() == str(wanted).casefold()
    return bool(held == wanted)


def _is(field: str, name: str) -> bool:
    return field.casefold() == name.casefold()


class HelloIDPlugin:
    """HelloID as an idsync target (distribution ``idsync-helloid``)."""

    def __init__(self, settings: HelloIDSettings | None = None) -> None:
        self.settings = settings
        self._client: HelloIDClient | None = None
        self._lock = threading.Lock()
        self._products: dict[str, dict[str, Any]] | None = None
        self._memberships = Memberships()
        self._listed_deleted: dict[str, dict[str, Any]] | None = None
        """Soft-deleted users by name, from the last listing a plan made (None: none made)."""

    # --- plumbing ------------------------------------------------------------------------

    def _configured(self, ctx: HookContext | None) -> HelloIDSettings:
        if self.settings is None and ctx is not None and ctx.settings is not None:
            given = ctx.settings
            self.settings = (
                given
                if isinstance(given, HelloIDSettings)
                else HelloIDSettings.model_validate(dict(given))
            )
        if self.settings is None:
            raise RuntimeError("the HelloID plugin is not configured: it has no settings")
        return self.settings

    def client(self, ctx: HookContext | None = None) -> HelloIDClient:
        """The one client of this configured instance, made on first use."""
        with self._lock:
            if self._client is None:
                system = ctx.system if ctx is not None else "helloid"
                self._client = HelloIDClient(self._configured(ctx), system=system)
            return self._client

    def close(self) -> None:
        """Close the connection pool; a later hook call opens a new one."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    @staticmethod
    def _label(ctx: HookContext) -> str:
        name = ctx.account.get("userName") or ctx.previous.get("userName")
        return f"{name} ({ctx.reference})" if name else str(ctx.reference)

    @staticmethod
    def _account(
        user: dict[str, Any], permissions: Iterable[str] = (), deleted: bool = False
    ) -> Account:
        data = flatten(user)
        if deleted:
            data["isDeleted"] = True
        enabled = lookup(user, "isEnabled")
        return Account(
            reference=user_guid(user) or "",
            data=data,
            enabled=enabled if isinstance(enabled, bool) else None,
            permissions=sorted(set(permissions)),
        )

    # --- about ---------------------------------------------------------------------------

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        """Describe the plugin."""
        return PluginAbout(
            name="helloid",
            kind=PluginKind.TARGET,
            version=version("idsync-helloid"),
            summary="HelloID users, groups and self-service products as a target",
            settings=HelloIDSettings,
            permission_kinds=list(PERMISSION_KINDS),
            case_insensitive=True,
            indexed=["userName", "userGUID"],
            resource_kinds=["group"],
            attributes=list(ATTRIBUTES),
            read_only_attributes=list(READ_ONLY_ATTRIBUTES),
        )

    @hookimpl
    def idsync_check_connection(self, ctx: HookContext) -> ActionResult:
        """Read one user: proves the URL, the key and secret, and the JSON answers."""
        settings = self._configured(ctx)
        try:
            self.client(ctx).probe()
        except ApiError as exc:
            if exc.status in (401, 403):
                why = (
                    f"HelloID refused the API key and secret (HTTP {exc.status}): check "
                    "api_key, api_secret and the key's IP restrictions"
                )
            elif exc.status is None and exc.retriable:
                why = f"HelloID at {settings.base_url} could not be reached: {exc}"
            else:
                why = f"HelloID at {settings.base_url} answered unexpectedly: {exc}"
            return ActionResult.failure(why, retriable=exc.retriable)
        return ActionResult(messages=[f"connected to HelloID at {settings.base_url}"])

    # --- accounts ------------------------------------------------------------------------

    @hookimpl
    def idsync_correlate(self, ctx: HookContext) -> list[Account]:
        """Find users by ``userName`` (one lookup) or any other field (a paged scan)."""
        if ctx.correlation is None:
            raise ValueError("correlate needs a correlation (account field and value)")
        field, value = ctx.correlation.account_field, ctx.correlation.value
        if value is None or value == "":
            return []
        client = self.client(ctx)
        if _is(field, "userName") or _is(field, "userGUID"):
            user = client.get_user(str(value))
            if user is None or not _same(lookup(user, field), value):
                return []
            return [self._account(user)]
        return [self._account(u) for u in client.iter_users() if _same(lookup(u, field), value)]

    @hookimpl
    def idsync_attribute_available(self, ctx: HookContext, attribute: str, value: Any) -> bool:
        """Whether no other (not deleted) user holds ``value`` in ``attribute``."""
        client = self.client(ctx)
        own = (ctx.reference or "").casefold()
        if _is(attribute, "userName"):
            user = client.get_user(str(value))
            if user is None or not _same(lookup(user, "userName"), value):
                return True
            return (user_guid(user) or "").casefold() == own
        return all(
            (user_guid(u) or "").casefold() == own
            for u in client.iter_users()
            if _same(lookup(u, attribute), value)
        )

    @hookimpl
    @guarded("create")
    def idsync_create(self, ctx: HookContext) -> ActionResult:
        """``POST /users``: a disabled user from the mapped account data."""
        settings = self._configured(ctx)
        if reserved := reserved_keys(ctx.account):
            return ActionResult.failure(f"the account mapping may not set {', '.join(reserved)}")
        name = lookup(ctx.account, "userName")
        if not isinstance(name, str) or not name.strip():
            return ActionResult.failure(
                "the account data has no userName; map one to create a HelloID user"
            )
        client = self.client(ctx)
        deleted = None
        if settings.soft_deleted_users == "restore":
            known, found = client.recent_user(name)  # the correlation's lookup of this name
            if not known and self._listed_deleted is not None:
                known, found = True, self._listed_deleted.get(name.casefold())  # the plan's
            if not known:
                found = client.get_user(name, deleted=True)
            if found is not None and lookup(found, "isDeleted") is True:
                deleted = found
        if deleted is not None:
            return self._restore(ctx, deleted)
        body = apply_values({}, ctx.account)
        if not has(body, "source"):
            body["source"] = settings.source
        body["isEnabled"] = ctx.active  # enabled at once when the lifecycle says so
        state = "enabled" if ctx.active else "disabled"
        self._new_access(ctx, body)
        manager = body.get("managedByUserGUID")
        if ctx.dry_run:
            return ActionResult(
                data=dict(ctx.account),
                enabled=ctx.active,
                messages=[f"dry-run: would create {state} HelloID user {name}"],
            )
        try:
            user = client.create_user(body)
        except ApiError as exc:
            if exc.status in (400, 409):
                return ActionResult.failure(f"HelloID refused to create user {name}: {exc}")
            raise
        reference = user_guid(user)
        logger.bind(system=ctx.system).info("created HelloID user {} ({})", name, reference)
        messages = [f"created {state} HelloID user {name} ({reference})"]
        if manager:
            messages.append(f"manager set to {manager}")
        return ActionResult(
            reference=reference,
            data=pick(user, ctx.account),
            messages=messages,
            enabled=lookup(user, "isEnabled") is True,
        )

    def _new_access(self, ctx: HookContext, body: dict[str, Any]) -> None:
        """What a created (or restored) user gets besides its data: an initial password, and
        the manager's account when known."""
        settings = self._configured(ctx)
        if settings.set_password:
            body["password"] = generate_password(settings.password_length)
            body["mustChangePassword"] = settings.must_change_password
        manager = ctx.manager_reference if settings.set_manager else None
        if manager:
            body["managedByUserGUID"] = manager

    def _restore(self, ctx: HookContext, deleted: dict[str, Any]) -> ActionResult:
        """Bring back the soft-deleted user that holds the name: the whole user, with the
        mapped data, disabled, as a create would make it (``isSoftDeleted: false``)."""
        guid = user_guid(deleted) or ""
        name = lookup(deleted, "userName")
        body = apply_values({k: v for k, v in deleted.items() if k != "isDeleted"}, ctx.account)
        body["isEnabled"] = ctx.active
        state = "enabled" if ctx.active else "disabled"
        self._new_access(ctx, body)
        body["isSoftDeleted"] = False
        if ctx.dry_run:
            return ActionResult(
                data=dict(ctx.account),
                enabled=ctx.active,
                messages=[
                    f"dry-run: would restore soft-deleted HelloID user {name} ({guid}), {state}"
                ],
            )
        restored = self.client(ctx).update_user(guid, body)
        if restored is None:
            return ActionResult.failure(
                f"soft-deleted HelloID user {name} ({guid}) vanished before its restore"
            )
        logger.bind(system=ctx.system).info("restored HelloID user {} ({})", name, guid)
        return ActionResult(
            reference=guid,
            data=pick(restored, ctx.account),
            enabled=lookup(restored, "isEnabled") is True,
            messages=[f"restored soft-deleted HelloID user {name} ({guid}), {state}"],
        )

    @hookimpl
    @guarded("update")
    def idsync_update(self, ctx: HookContext) -> ActionResult:
        """``PUT /users/{userGUID}`` with the current user plus the changed attributes."""
        settings = self._configured(ctx)
        if not ctx.reference:
            return ActionResult.failure("update needs the account reference (userGUID)")
        if reserved := reserved_keys(ctx.changes):
            return ActionResult.failure(f"the account mapping may not set {', '.join(reserved)}")
        client = self.client(ctx)
        current = client.get_user(ctx.reference)
        if current is None:
            return ActionResult.failure(
                f"HelloID user {self._label(ctx)} not found; it may have been deleted",
                not_found=True,
            )
        keys = list(dict.fromkeys([*ctx.account, *ctx.changes]))
        pending = {
            key: change.after
            for key, change in ctx.changes.items()
            if lookup(current, key) != change.after
        }
        rename = next((pending.pop(k) for k in list(pending) if _is(k, "userName")), None)
        refused = None
        if rename is not None and not settings.update_user_name:
            refused = (
                f"userName would change from {lookup(current, 'userName')!r} to {rename!r}, "
                "but renaming is not allowed (setting update_user_name is false)"
            )
            rename = None
        manager = ctx.manager_reference if settings.set_manager else None
        if (
            manager
            and str(lookup(current, "managedByUserGUID") or "").casefold() == manager.casefold()
        ):
            manager = None
        if not pending and rename is None and manager is None:
            if refused:
                return ActionResult.failure(refused, "nothing else to update")
            return ActionResult(
                reference=ctx.reference, data=pick(current, keys), messages=["no changes"]
            )
        body = apply_values(current, pending)
        if manager:
            body["managedByUserGUID"] = manager
        if rename is not None:
            body["IdentifierObject"] = {"userName": rename}
        what = sorted(pending) + (["userName"] if rename is not None else [])
        what += ["managedByUserGUID"] if manager else []
        if ctx.dry_run:
            preview = apply_values(body, {"userName": rename} if rename is not None else {})
            messages = [f"dry-run: would update {', '.join(what)} of {self._label(ctx)}"]
            if refused:
                return ActionResult(
                    success=False, data=pick(preview, keys), messages=[refused, *messages]
                )
            return ActionResult(
                reference=ctx.reference, data=pick(preview, keys), messages=messages
            )
        updated = client.update_user(ctx.reference, body)
        if updated is None:
            return ActionResult.failure(
                f"HelloID user {self._label(ctx)} vanished during the update", not_found=True
            )
        logger.bind(system=ctx.system).info("updated HelloID user {}: {}", ctx.reference, what)
        done = f"updated {', '.join(what)} of {self._label(ctx)}"
        if refused:
            return ActionResult(
                success=False,
                reference=ctx.reference,
                data=pick(updated, keys),
                messages=[refused, done],
            )
        return ActionResult(reference=ctx.reference, data=pick(updated, keys), messages=[done])

    def _set_enabled(self, ctx: HookContext, enabled: bool) -> ActionResult:
        verb = "enable" if enabled else "disable"
        if not ctx.reference:
            return ActionResult.failure(f"{verb} needs the account reference (userGUID)")
        client = self.client(ctx)
        current = client.get_user(ctx.reference)
        if current is None:
            missing = f"HelloID user {self._label(ctx)} not found; it may have been deleted"
            return (
                ActionResult.failure(missing, not_found=True)
                if enabled
                else ActionResult.gone(missing)
            )
        if lookup(current, "isEnabled") is enabled:
            return ActionResult(
                reference=ctx.reference, messages=[f"{self._label(ctx)} is already {verb}d"]
            )
        if ctx.dry_run:
            return ActionResult(
                reference=ctx.reference, messages=[f"dry-run: would {verb} {self._label(ctx)}"]
            )
        if client.update_user(ctx.reference, apply_values(current, {"isEnabled": enabled})) is None:
            missing = f"HelloID user {self._label(ctx)} vanished before it could be {verb}d"
            return (
                ActionResult.failure(missing, not_found=True)
                if enabled
                else ActionResult.gone(missing)
            )
        logger.bind(system=ctx.system).info("{}d HelloID user {}", verb, ctx.reference)
        return ActionResult(reference=ctx.reference, messages=[f"{verb}d {self._label(ctx)}"])

    @hookimpl
    @guarded("enable")
    def idsync_enable(self, ctx: HookContext) -> ActionResult:
        """``PUT`` the user with ``isEnabled: true``."""
        return self._set_enabled(ctx, True)

    @hookimpl
    @guarded("disable")
    def idsync_disable(self, ctx: HookContext) -> ActionResult:
        """``PUT`` the user with ``isEnabled: false``; a user already gone is a warning."""
        return self._set_enabled(ctx, False)

    @hookimpl
    @guarded("delete")
    def idsync_delete(self, ctx: HookContext) -> ActionResult:
        """``DELETE /users/{userGUID}`` (HelloID keeps it as soft-deleted)."""
        if not ctx.reference:
            return ActionResult.failure("delete needs the account reference (userGUID)")
        client = self.client(ctx)
        gone = f"HelloID user {self._label(ctx)} not found; it was already deleted"
        if ctx.dry_run:
            if client.get_user(ctx.reference) is None:
                return ActionResult.gone(gone, ctx.reference)
            return ActionResult(
                reference=ctx.reference, messages=[f"dry-run: would delete {self._label(ctx)}"]
            )
        if not client.delete_user(ctx.reference):
            return ActionResult.gone(gone, ctx.reference)
        logger.bind(system=ctx.system).info("deleted HelloID user {}", ctx.reference)
        return ActionResult(reference=ctx.reference, messages=[f"deleted {self._label(ctx)}"])

    @hookimpl
    def idsync_accounts(self, ctx: HookContext) -> Iterator[Account]:
        """Every user (soft-deleted ones too) with the groups and products each holds; for
        a plan (``ctx.action`` is correlate) the users alone."""
        client = self.client(ctx)
        if ctx.action is ActionKind.CORRELATE:
            yield from self._users_for_plan(client)
            return
        held: defaultdict[str, list[str]] = defaultdict(list)
        groups = [g for g in client.iter_groups() if group_guid(g) and lookup(g, "name")]
        with ThreadPoolExecutor(max_workers=self._configured(ctx).concurrency) as pool:
            detailed = list(pool.map(lambda g: client.get_group(group_guid(g) or ""), groups))
        for summary, group in zip(groups, detailed, strict=True):
            name = lookup(summary, "name")
            for member in group_members(group or {}):
                held[member].append(f"group:{name}")
        names = {
            (product_id(p) or "").casefold(): str(lookup(p, "name")) for p in client.iter_products()
        }
        for assignment in client.iter_assignments():
            product, holder = assignment_product(assignment), assignment_user(assignment)
            if product and holder:
                name = names.get(product.casefold()) or lookup(assignment, "productName")
                held[holder.casefold()].append(f"product:{name}")
        for deleted in (False, True):
            for user in client.iter_users(deleted=deleted):
                guid = (user_guid(user) or "").casefold()
                yield self._account(user, held.get(guid, ()), deleted=deleted)

    def _users_for_plan(self, client: HelloIDClient) -> Iterator[Account]:
        """Every user, without memberships; the soft-deleted ones are remembered by name, so
        the creates of this plan know without asking whether one holds their name."""
        deleted: dict[str, dict[str, Any]] = {}
        for user in client.iter_users():
            yield self._account(user)
        for user in client.iter_users(deleted=True):
            name = lookup(user, "userName")
            if isinstance(name, str):
                deleted[name.casefold()] = user
            yield self._account(user, deleted=True)
        self._listed_deleted = deleted

    # --- permissions and resources -------------------------------------------------------

    @hookimpl
    def idsync_permissions(self, ctx: HookContext) -> list[Permission]:
        """Every group (``group:<name>``) and self-service product (``product:<name>``)."""
        client = self.client(ctx)
        found = [
            Permission(kind="group", name=str(lookup(g, "name")), reference=group_guid(g))
            for g in client.iter_groups()
            if lookup(g, "name")
        ]
        found += [
            Permission(kind="product", name=str(lookup(p, "name")), reference=product_id(p))
            for p in client.iter_products()
            if lookup(p, "name")
        ]
        return found

    def _group(self, ctx: HookContext, permission: Permission) -> dict[str, Any] | None:
        """The group read afresh (members included); remembered for the next grants."""
        client = self.client(ctx)
        group = client.get_group(permission.name)
        if group is None and permission.reference:
            group = client.get_group(permission.reference)
        if group is not None and (guid := group_guid(group)):
            names = (permission.name, permission.reference, lookup(group, "name"))
            self._memberships.seen(names, guid, group_members(group))
        return group

    def _product(self, ctx: HookContext, permission: Permission) -> dict[str, Any] | None:
        """The product named by the permission, from a cached listing refreshed on a miss."""
        wanted = {permission.name.casefold(), (permission.reference or "").casefold()} - {""}

        def find(products: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
            return next((products[k] for k in wanted if k in products), None)

        with self._lock:
            products = self._products
        if products is not None and (found := find(products)) is not None:
            return found
        fresh: dict[str, dict[str, Any]] = {}
        for product in self.client(ctx).iter_products():
            for key in (product_id(product), lookup(product, "name")):
                if isinstance(key, str) and key:
                    fresh[key.casefold()] = product
        with self._lock:
            self._products = fresh
        return find(fresh)

    def _assigned(self, ctx: HookContext, product: str) -> list[dict[str, Any]] | None:
        """The user's assignments of ``product``; None when HelloID does not know the user."""
        try:
            assignments = list(self.client(ctx).iter_assignments(ctx.reference))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        return [
            a for a in assignments if (assignment_product(a) or "").casefold() == product.casefold()
        ]

    @hookimpl
    @guarded("grant")
    def idsync_grant(self, ctx: HookContext) -> ActionResult:
        """Add to a group, or request a product the person does not hold yet."""
        permission = ctx.permission
        if permission is None or not ctx.reference:
            return ActionResult.failure(
                "grant needs a permission and the account reference (userGUID)"
            )
        if permission.kind == "group":
            return self._grant_group(ctx, permission, ctx.reference)
        if permission.kind == "product":
            return self._grant_product(ctx, permission, ctx.reference)
        return ActionResult.failure(
            f"HelloID has no {permission.kind!r} permissions; use group:<name> or product:<name>"
        )

    def _grant_group(self, ctx: HookContext, permission: Permission, user: str) -> ActionResult:
        # A group read earlier, without this user in it: add at once (one request).
        known = self._memberships.without((permission.name, permission.reference), user)
        if known is not None:
            if ctx.dry_run:
                return ActionResult(
                    reference=known, messages=[f"dry-run: would add to group {permission.name!r}"]
                )
            try:
                self.client(ctx).add_member(user, known)
            except ApiError as exc:
                if exc.status != 404:
                    raise
                self._memberships.forget(known)  # the group may be gone: read it below
            else:
                self._memberships.added(known, user)
                logger.bind(system=ctx.system).info("added {} to group {}", user, permission.name)
                return ActionResult(
                    reference=known, messages=[f"added to group {permission.name!r}"]
                )
        group = self._group(ctx, permission)
        if group is None:
            return ActionResult.failure(f"group {permission.name!r} does not exist in HelloID")
        guid = group_guid(group) or ""
        if user.casefold() in group_members(group):
            return ActionResult(
                reference=guid, messages=[f"already a member of group {permission.name!r}"]
            )
        if ctx.dry_run:
            return ActionResult(
                reference=guid, messages=[f"dry-run: would add to group {permission.name!r}"]
            )
        try:
            self.client(ctx).add_member(user, guid)
        except ApiError as exc:
            if exc.status == 404:
                return ActionResult.failure(
                    f"cannot add to group {permission.name!r}: {exc}", not_found=True
                )
            raise
        self._memberships.added(guid, user)
        logger.bind(system=ctx.system).info("added {} to group {}", user, permission.name)
        return ActionResult(reference=guid, messages=[f"added to group {permission.name!r}"])

    def _grant_product(self, ctx: HookContext, permission: Permission, user: str) -> ActionResult:
        product = self._product(ctx, permission)
        if product is None:
            return ActionResult.failure(
                f"product {permission.name!r} does not exist in HelloID Service Automation"
            )
        pid = product_id(product) or ""
        assigned = self._assigned(ctx, pid)
        if assigned is None:
            return ActionResult.failure(
                f"HelloID user {self._label(ctx)} not found", not_found=True
            )
        if assigned:
            return ActionResult(
                reference=pid, messages=[f"product {permission.name!r} is already assigned"]
            )
        if ctx.dry_run:
            return ActionResult(
                reference=pid, messages=[f"dry-run: would request product {permission.name!r}"]
            )
        self.client(ctx).request_product(pid, user, REQUEST_COMMENT)
        logger.bind(system=ctx.system).info("requested product {} for {}", permission.name, user)
        return ActionResult(reference=pid, messages=[f"requested product {permission.name!r}"])

    @hookimpl
    @guarded("revoke")
    def idsync_revoke(self, ctx: HookContext) -> ActionResult:
        """Remove from a group, or unassign a product; not held is a warning."""
        permission = ctx.permission
        if permission is None or not ctx.reference:
            return ActionResult.failure(
                "revoke needs a permission and the account reference (userGUID)"
            )
        if permission.kind == "group":
            return self._revoke_group(ctx, permission, ctx.reference)
        if permission.kind == "product":
            return self._revoke_product(ctx, permission, ctx.reference)
        return ActionResult.failure(
            f"HelloID has no {permission.kind!r} permissions; use group:<name> or product:<name>"
        )

    def _revoke_group(self, ctx: HookContext, permission: Permission, user: str) -> ActionResult:
        group = self._group(ctx, permission)
        if group is None:
            return ActionResult.gone(f"group {permission.name!r} no longer exists in HelloID")
        guid = group_guid(group) or ""
        if user.casefold() not in group_members(group):
            return ActionResult.gone(f"not a member of group {permission.name!r}", guid)
        if ctx.dry_run:
            return ActionResult(
                reference=guid, messages=[f"dry-run: would remove from group {permission.name!r}"]
            )
        removed = self.client(ctx).remove_member(user, guid)
        self._memberships.removed(guid, user)
        if not removed:
            return ActionResult.gone(f"not a member of group {permission.name!r}", guid)
        logger.bind(system=ctx.system).info("removed {} from group {}", user, permission.name)
        return ActionResult(reference=guid, messages=[f"removed from group {permission.name!r}"])

    def _revoke_product(self, ctx: HookContext, permission: Permission, user: str) -> ActionResult:
        product = self._product(ctx, permission)
        if product is None:
            return ActionResult.gone(
                f"product {permission.name!r} no longer exists in HelloID Service Automation"
            )
        pid = product_id(product) or ""
        assigned = self._assigned(ctx, pid)
        if assigned is None:
            return ActionResult.gone(f"HelloID user {self._label(ctx)} not found", pid)
        if not assigned:
            return ActionResult.gone(f"product {permission.name!r} is not assigned", pid)
        if ctx.dry_run:
            return ActionResult(
                reference=pid, messages=[f"dry-run: would unassign product {permission.name!r}"]
            )
        self.client(ctx).unassign_product(pid, user)
        logger.bind(system=ctx.system).info("unassigned product {} from {}", permission.name, user)
        return ActionResult(reference=pid, messages=[f"unassigned product {permission.name!r}"])

    @hookimpl
    @guarded("resource")
    def idsync_resource(self, ctx: HookContext) -> ActionResult:
        """Ensure the group exists (``POST /groups`` when missing); its ``groupGuid``."""
        permission = ctx.permission
        if permission is None:
            return ActionResult.failure("resource needs a permission naming the group")
        if permission.kind != "group":
            return ActionResult.failure(
                f"HelloID resources are groups; {permission.key!r} cannot be created by idsync"
            )
        client = self.client(ctx)
        group = client.get_group(permission.name)
        if group is not None:
            return ActionResult(
                reference=group_guid(group), messages=[f"group {permission.name!r} already exists"]
            )
        if ctx.dry_run:
            return ActionResult(messages=[f"dry-run: would create group {permission.name!r}"])
        try:
            group = client.create_group(permission.name)
        except ApiError as exc:
            # Another run or thread created it in the meantime: that is the desired state.
            if exc.status not in (400, 409) or (group := client.get_group(permission.name)) is None:
                raise
            return ActionResult(
                reference=group_guid(group), messages=[f"group {permission.name!r} already exists"]
            )
        logger.bind(system=ctx.system).info("created group {}", permission.name)
        return ActionResult(
            reference=group_guid(group), messages=[f"created group {permission.name!r}"]
        )

    # --- sandbox -------------------------------------------------------------------------

    @hookimpl(optionalhook=True)  # a development hook (idsync.sandbox.hookspecs)
    def idsync_sandbox(self, world: World) -> SandboxApp | None:
        """The HelloID simulator seeded from ``world`` (None without the ``[sandbox]`` extra)."""
        if importlib.util.find_spec("starlette") is None:
            return None
        from idsync_helloid.simulator import sandbox

        return sandbox(world)
