"""The AFAS Profit plugin: HR source (persons, contracts, departments) and write-back target."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

from idsync import (
    Account,
    ActionResult,
    Blocked,
    HookContext,
    Person,
    PluginAbout,
    PluginKind,
    hookimpl,
)
from loguru import logger

from idsync_afas import source, writeback
from idsync_afas.client import AfasClient, AfasError
from idsync_afas.settings import WRITABLE_FIELDS, AfasSettings

if TYPE_CHECKING:
    from idsync.sandbox.simulator import SandboxApp
    from idsync.sandbox.world import World

__all__ = ["AfasPlugin", "AfasUsersPlugin"]


class AfasPlugin:
    """AFAS Profit connector: persons from the standard GetConnectors, and the write-back of
    e-mail, phone, UPN and InSite to existing employees.

    Configured with ``manage_users``, the instance is an :class:`AfasUsersPlugin`, which also
    blocks and unblocks the employees' AFAS users: only then does the write-back have enable
    and disable actions, so a plan without user management shows none.
    """

    def __new__(cls, settings: AfasSettings | None = None) -> AfasPlugin:
        if cls is AfasPlugin and settings is not None and settings.manage_users:
            cls = AfasUsersPlugin
        return super().__new__(cls)

    def __init__(self, settings: AfasSettings | None = None) -> None:
        self.settings = settings
        self._client: AfasClient | None = None
        self._lock = threading.Lock()

    # --- plumbing --------------------------------------------------------------------------

    def _configured(self) -> AfasSettings:
        if self.settings is None:
            raise RuntimeError("the AFAS plugin is not configured (no settings)")
        return self.settings

    def _api(self, ctx: HookContext | None = None) -> AfasClient:
        settings = self._configured()
        with self._lock:
            if self._client is None:
                system = ctx.system if ctx is not None else "afas"
                self._client = AfasClient(settings, system=system)
            return self._client

    @property
    def stats(self) -> dict[str, int]:
        """Requests, retries and writes this configured plugin has sent so far."""
        with self._lock:
            client = self._client
        return client.stats if client is not None else {"requests": 0, "retries": 0, "writes": 0}

    def close(self) -> None:
        """Close the connection pool (a new one opens on the next call)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # --- about -----------------------------------------------------------------------------

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        """Describe the plugin."""
        return PluginAbout(
            name="afas",
            kind=PluginKind.BOTH,
            version=version("idsync-afas"),
            summary="HR source (employees, contracts, departments) and UPN/e-mail write-back for AFAS Profit",
            settings=AfasSettings,
            attributes=[*WRITABLE_FIELDS, *writeback.READ_ONLY_FIELDS],
        )

    @hookimpl
    def idsync_check_connection(self, ctx: HookContext) -> ActionResult:
        """Read one row of the Users GetConnector: proves the URL, the token and the rights."""
        settings = self._configured()
        try:
            rows = self._api(ctx).rows(
                settings.users_connector, order_by=["Medewerker"], page_size=1
            )
            next(iter(rows), None)
        except AfasError as exc:
            return ActionResult(success=False, messages=[str(exc)])
        return ActionResult(messages=[f"AFAS answered {settings.users_connector}"])

    # --- source ----------------------------------------------------------------------------

    @hookimpl
    def idsync_persons(self, ctx: HookContext) -> Iterator[Person | Blocked]:
        """Stream persons joined from Users, Employments, Positions and OrganizationalUnits."""
        settings = self._configured()
        return source.read_persons(self._api(ctx), settings, ctx.as_of)

    @hookimpl
    def idsync_departments(self, ctx: HookContext) -> Iterator[dict[str, Any]]:
        """Stream the organisational units as departments."""
        return source.read_departments(self._api(ctx), self._configured())

    # --- target ----------------------------------------------------------------------------

    @hookimpl
    def idsync_correlate(self, ctx: HookContext) -> list[Account]:
        """Find employees whose Users field equals the correlation value (usually Medewerker)."""
        settings = self._configured()
        if ctx.correlation is None:
            raise ValueError("correlate needs ctx.correlation")
        field, value = ctx.correlation.account_field, ctx.correlation.value
        if value is None or str(value).strip() == "":
            return []
        rows = self._api(ctx).find(settings.users_connector, field, str(value).strip())
        return list(writeback.accounts(rows, users=settings.manage_users))

    @hookimpl
    def idsync_attribute_available(self, ctx: HookContext, attribute: str, value: Any) -> bool:
        """Whether no other employee holds ``value`` in the Users field ``attribute``."""
        settings = self._configured()
        if value is None or str(value).strip() == "":
            return True
        rows = self._api(ctx).find(settings.users_connector, attribute, str(value).strip())
        return all(str(row.get("Medewerker")) == ctx.reference for row in rows)

    @hookimpl
    def idsync_create(self, ctx: HookContext) -> ActionResult:
        """Never creates an employee: links to the existing one and writes what differs.

        The employee is found by the correlation value (when correlating on ``Medewerker``),
        else by ``Medewerker`` in the account data, else by the person's external id.
        """
        number = self._employee_number(ctx)
        if number is None:
            return ActionResult(
                success=False,
                messages=["AFAS employees are never created; no employee number to link to"],
            )
        row = writeback.current_row(self._api(ctx), self._configured(), number)
        if row is None:
            return ActionResult(
                success=False,
                messages=[
                    f"AFAS employees are never created, and employee {number} does not exist "
                    f"in {self._configured().users_connector}"
                ],
            )
        result = self._write(ctx, row, dict(ctx.account))
        result.messages.insert(0, f"linked to existing AFAS employee {number} (never created)")
        return result

    @hookimpl
    def idsync_update(self, ctx: HookContext) -> ActionResult:
        """Write the changed keys, sending only the fields whose AFAS value differs."""
        if not ctx.reference:
            return ActionResult(success=False, messages=["update needs the employee number"])
        row = writeback.current_row(self._api(ctx), self._configured(), ctx.reference)
        if row is None:
            return ActionResult(
                success=False,
                not_found=True,
                messages=[f"employee {ctx.reference} no longer exists in AFAS"],
            )
        desired = {key: change.after for key, change in ctx.changes.items()}
        result = self._write(ctx, row, desired)
        if result.success:
            result.data = {**ctx.account, **desired}
        return result

    @hookimpl
    def idsync_delete(self, ctx: HookContext) -> ActionResult:
        """Never deletes an employee: clears the unique fields (``clear_on_delete``)."""
        settings = self._configured()
        if not ctx.reference:
            return ActionResult(success=False, messages=["delete needs the employee number"])
        row = writeback.current_row(self._api(ctx), settings, ctx.reference)
        if row is None:
            return ActionResult(
                not_found=True,
                messages=[f"warning: employee {ctx.reference} no longer exists in AFAS"],
            )
        cleared = {
            key: False if key in ("InSite", "OutSite") else None for key in settings.clear_on_delete
        }
        result = self._write(ctx, row, cleared)
        result.messages.insert(
            0, f"employee {ctx.reference} kept (AFAS employees are never deleted)"
        )
        user = row.get("Gebruiker")
        if result.success and settings.manage_users and user and writeback.user_enabled(row):
            # A deleted account keeps no access: its user is blocked (never removed).
            if ctx.dry_run:
                result.messages.append(f"dry-run: would block AFAS user {user}")
            else:
                body = writeback.block_body(str(user), blocked=True)
                self._api(ctx).update(settings.user_update_connector, body)
                result.messages.append(f"blocked AFAS user {user}")
        return result

    @hookimpl
    def idsync_accounts(self, ctx: HookContext) -> Iterator[Account]:
        """Stream every employee of the Users GetConnector as an account."""
        settings = self._configured()
        rows = self._api(ctx).rows(settings.users_connector, order_by=["Medewerker"])
        yield from writeback.accounts(rows, users=settings.manage_users)

    def _employee_number(self, ctx: HookContext) -> str | None:
        correlation = ctx.correlation
        if correlation is not None and correlation.account_field == "Medewerker":
            candidate: Any = correlation.value
        else:
            candidate = ctx.account.get("Medewerker") or (
                ctx.person.external_id if ctx.person is not None else None
            )
        text = str(candidate).strip() if candidate is not None else ""
        return text or None

    def _write(
        self, ctx: HookContext, row: Mapping[str, Any], desired: Mapping[str, Any]
    ) -> ActionResult:
        number = str(row.get("Medewerker"))
        try:
            write = writeback.plan(row, desired)
        except ValueError as exc:
            return ActionResult(success=False, reference=number, messages=[str(exc)])
        data = dict(desired)
        if not write:
            return ActionResult(
                reference=number, data=data, messages=["AFAS already holds these values"]
            )
        settings = self._configured()
        missing = writeback.missing_user(row, write)
        if missing is not None and not settings.manage_users:
            # Nothing idsync can do until someone makes the user: the same answer under
            # dry-run (read from the same row), so the plan shows what the run will do.
            return ActionResult(success=False, blocked=True, reference=number, messages=[missing])
        creating = (
            f"create AFAS user {writeback.new_user_id(settings, row)} (blocked until enabled) and "
            if missing is not None
            else ""
        )
        if ctx.dry_run:
            return ActionResult(
                reference=number,
                data=data,
                messages=[f"dry-run: would {creating}write {write.describe()}"],
            )
        client = self._api(ctx)
        created = writeback.apply(client, settings, row, write)
        messages = [f"wrote {write.describe()}"]
        if created:
            # Like every account idsync creates, the user is disabled until enable says so.
            messages[0] = f"created AFAS user {created} and {messages[0]}"
            try:
                client.update(
                    settings.user_update_connector, writeback.block_body(created, blocked=True)
                )
                messages.append(f"blocked AFAS user {created} until it is enabled")
            except AfasError as exc:
                messages.append(
                    f"warning: created AFAS user {created} but could not block it: {exc}"
                )
        logger.bind(system=ctx.system).info("employee {}: {}", number, "; ".join(messages))
        return ActionResult(reference=number, data=data, messages=messages)

    # --- sandbox ---------------------------------------------------------------------------

    @hookimpl(optionalhook=True)  # a development hook (idsync.sandbox.hookspecs)
    def idsync_sandbox(self, world: World) -> SandboxApp | None:
        """The AFAS simulator seeded from ``world`` (None without the ``[sandbox]`` extra)."""
        try:
            from idsync_afas.simulator import sandbox_app
        except ImportError:
            return None
        return sandbox_app(world)


class AfasUsersPlugin(AfasPlugin):
    """The AFAS plugin with ``manage_users``: enable unblocks the employee's AFAS user
    (``KnUser`` mutation 6), disable blocks it (mutation 2).

    An employee without an AFAS user has nothing to block or unblock; that is success with a
    message. Users are never removed: delete clears fields, as without ``manage_users``.
    """

    @hookimpl
    def idsync_enable(self, ctx: HookContext) -> ActionResult:
        """Unblock the employee's AFAS user (nothing to do when it is not blocked)."""
        return self._set_blocked(ctx, blocked=False)

    @hookimpl
    def idsync_disable(self, ctx: HookContext) -> ActionResult:
        """Block the employee's AFAS user (nothing to do when it is blocked already)."""
        return self._set_blocked(ctx, blocked=True)

    def _set_blocked(self, ctx: HookContext, *, blocked: bool) -> ActionResult:
        verb = "block" if blocked else "unblock"
        if not ctx.reference:
            return ActionResult(success=False, messages=[f"{verb} needs the employee number"])
        settings = self._configured()
        row = writeback.current_row(self._api(ctx), settings, ctx.reference)
        if row is None:
            missing = f"employee {ctx.reference} no longer exists in AFAS"
            if blocked:
                return ActionResult(not_found=True, messages=[f"warning: {missing}"])
            return ActionResult(success=False, not_found=True, messages=[missing])
        user = row.get("Gebruiker")
        if not user:
            return ActionResult(
                reference=ctx.reference,
                messages=[f"employee {ctx.reference} has no AFAS user; nothing to {verb}"],
            )
        if writeback.user_enabled(row) is not blocked:
            state = "blocked" if blocked else "not blocked"
            return ActionResult(
                reference=ctx.reference, messages=[f"AFAS user {user} is {state} already"]
            )
        if ctx.dry_run:
            return ActionResult(
                reference=ctx.reference, messages=[f"dry-run: would {verb} AFAS user {user}"]
            )
        body = writeback.block_body(str(user), blocked=blocked)
        self._api(ctx).update(settings.user_update_connector, body)
        logger.bind(system=ctx.system).info(
            "employee {}: {}ed AFAS user {}", ctx.reference, verb, user
        )
        return ActionResult(reference=ctx.reference, messages=[f"{verb}ed AFAS user {user}"])
