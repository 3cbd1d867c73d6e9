"""The TOPdesk plugin: persons, branches and departments as a source; persons as a target.

TOPdesk persons are never deleted: disable archives them with the configured archiving
reason, enable unarchives them, delete empties their unique fields and archives them. TOPdesk
refuses to change an archived person, so every write to one unarchives it first and archives it
again after.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

from idsync import (
    Account,
    ActionResult,
    ApiError,
    Blocked,
    Department,
    HookContext,
    PluginAbout,
    PluginKind,
    hookimpl,
)
from loguru import logger

from idsync_topdesk.client import API, TopdeskClient, fiql_equals
from idsync_topdesk.settings import TopdeskSettings
from idsync_topdesk.source import PERSON_FIELDS, is_archived, map_departments, map_persons
from idsync_topdesk.target import (
    ACCOUNT_KEYS,
    ATTRIBUTES,
    WriteError,
    build_body,
    flatten,
    without_unchanged,
)

if TYPE_CHECKING:
    from idsync.sandbox.simulator import SandboxApp
    from idsync.sandbox.world import World

__all__ = ["RESOURCE_KINDS", "TopdeskPlugin"]

RESOURCE_KINDS: dict[str, str] = {
    "branch": "branches",
    "department": "departments",
    "budgetholder": "budgetholders",
}
"""Resource permission kinds (``branch:Baarn``) and the TOPdesk list each lives in."""

_ACCOUNT_FIELDS = [*PERSON_FIELDS, "mainframeLoginName"]


def _failed(*messages: str, not_found: bool = False) -> ActionResult:
    return ActionResult(success=False, messages=list(messages), not_found=not_found)


class TopdeskPlugin:
    """TOPdesk connector: source and target of TOPdesk persons."""

    def __init__(self, settings: TopdeskSettings | None = None) -> None:
        self.settings = settings
        self._client: TopdeskClient | None = None
        self._client_lock = threading.Lock()
        self._manager_lock = threading.Lock()

    # --- plumbing --------------------------------------------------------------------

    def _configured(self) -> TopdeskSettings:
        if self.settings is None:
            raise RuntimeError("the TOPdesk plugin is not configured (no settings)")
        return self.settings

    def _api(self, ctx: HookContext) -> TopdeskClient:
        """The one client of this configured system, made on first use."""
        with self._client_lock:
            if self._client is None:
                self._client = TopdeskClient(self._configured(), system=ctx.system)
            return self._client

    def _reason_id(self, client: TopdeskClient) -> str:
        name = self._configured().archiving_reason
        found = client.lookup("archiving-reasons", name)
        if found is None:
            raise WriteError(f"archiving reason {name!r} does not exist in TOPdesk")
        return found

    @contextmanager
    def _writable(
        self, client: TopdeskClient, person: dict[str, Any], ctx: HookContext
    ) -> Iterator[None]:
        """Unarchive an archived person for the writes in the block, and archive it again after.

        The archiving reason is looked up before anything changes, so a missing reason fails
        without leaving the person unarchived.
        """
        if not is_archived(person):
            yield
            return
        reason = self._reason_id(client)
        person_id = str(person["id"])
        client.unarchive(person_id)
        logger.bind(system=ctx.system).debug("unarchived {} to change it", person_id)
        try:
            yield
        finally:
            client.archive(person_id, reason)

    # --- about -----------------------------------------------------------------------

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        """Describe the plugin."""
        return PluginAbout(
            name="topdesk",
            kind=PluginKind.BOTH,
            version=version("idsync-topdesk"),
            summary="TOPdesk persons, branches and departments as a source, and TOPdesk persons as a target",
            settings=TopdeskSettings,
            permission_kinds=list(RESOURCE_KINDS),
            resource_kinds=list(RESOURCE_KINDS),
            attributes=list(ATTRIBUTES),
            read_only_attributes=["id"],
        )

    @hookimpl
    def idsync_check_connection(self, ctx: HookContext) -> ActionResult:
        """Read one person in the configured paging form, and the archiving reasons.

        The v2 probe asks for the very fields the source and the accounts import ask for, so
        a field TOPdesk does not serve fails the check rather than the first run.
        """
        settings = self._configured()
        client = self._api(ctx)
        try:
            if settings.paging == "v2":
                next(client.iter_persons("v2", fields=_ACCOUNT_FIELDS, page_size=1), None)
            else:
                client.api.request("GET", f"{API}/persons", params={"start": 0, "page_size": 1})
            reasons = [str(r.get("name")) for r in client.lookup_list("archiving-reasons")]
        except ApiError as exc:
            if exc.status in (401, 403):
                return _failed(f"TOPdesk refused the credentials (HTTP {exc.status})")
            if exc.status is None and exc.retriable:
                return _failed(f"TOPdesk is unreachable: {exc}")
            return _failed(f"TOPdesk answered unexpectedly: {exc}")
        wanted = settings.archiving_reason
        if wanted.casefold() not in {r.casefold() for r in reasons}:
            return _failed(
                f"archiving reason {wanted!r} does not exist in TOPdesk "
                f"(known: {', '.join(sorted(reasons)) or 'none'})"
            )
        return ActionResult(messages=["TOPdesk answered and accepted the credentials"])

    # --- source ----------------------------------------------------------------------

    @hookimpl
    def idsync_persons(self, ctx: HookContext) -> Iterator[dict[str, Any] | Blocked]:
        """Every person (archived ones as inactive), mapped onto the person model."""
        settings = self._configured()
        client = self._api(ctx)
        fields = PERSON_FIELDS if settings.paging == "v2" else None
        rows: list[dict[str, Any]] = []
        for archived in (False, True) if settings.include_archived else (False,):
            query = f"archived=={'true' if archived else 'false'}"
            rows.extend(client.iter_persons(settings.paging, query=query, fields=fields))
        logger.bind(system=ctx.system).info("read {} TOPdesk persons", len(rows))
        contract_of = client.contract if settings.contract_dates else None
        yield from map_persons(rows, external_id=settings.external_id, contract_of=contract_of)

    @hookimpl
    def idsync_departments(self, ctx: HookContext) -> Iterator[Department]:
        """Branches and departments, both as departments."""
        client = self._api(ctx)
        yield from map_departments(
            client.lookup_list("branches"), client.lookup_list("departments")
        )

    # --- target: accounts ------------------------------------------------------------

    @hookimpl
    def idsync_correlate(self, ctx: HookContext) -> list[Account]:
        """Every person whose correlation field equals the value (FIQL ``field=='value'``)."""
        if ctx.correlation is not None:
            field, value = ctx.correlation.account_field, ctx.correlation.value
        else:
            field = "employeeNumber"
            value = ctx.person.external_id if ctx.person else None
        if value is None or value == "":
            return []
        rows = self._api(ctx).find_persons(fiql_equals(field, value))
        return [_account(row) for row in rows]

    @hookimpl
    def idsync_attribute_available(self, ctx: HookContext, attribute: str, value: Any) -> bool:
        """Whether no other person holds ``value`` in ``attribute``."""
        if value is None or value == "":
            return True
        rows = self._api(ctx).find_persons(fiql_equals(attribute, value))
        return all(str(row.get("id")) == ctx.reference for row in rows)

    @hookimpl
    def idsync_create(self, ctx: HookContext) -> ActionResult:
        """Create the person (branch looked up by name), then archive it until enabled."""
        settings = self._configured()
        client = self._api(ctx)
        account = dict(ctx.account)
        if not account.get("branch.name") and not account.get("branch.id"):
            if settings.default_branch is None:
                return _failed("branch.name is missing, and a TOPdesk person must have a branch")
            account["branch.name"] = settings.default_branch
        try:
            body = build_body(account, client, settings, creating=True)
            reason = self._reason_id(client) if settings.create_archived else None
            messages = list(body.messages)
            manager = self._manager_id(client, ctx, messages)
            if manager and self._ensure_manager(client, manager, ctx, messages):
                body.fields["manager"] = {"id": manager}
        except WriteError as exc:
            return _failed(str(exc))
        if ctx.dry_run:
            return ActionResult(data=body.written, messages=["would create the person", *messages])
        created = client.create_person(body.fields)
        person_id = str(created["id"])
        logger.bind(system=ctx.system).info("created TOPdesk person {}", person_id)
        messages.insert(0, f"created person {person_id}")
        if reason is not None:
            try:
                client.archive(person_id, reason)
                messages.append("archived until enabled")
            except ApiError as exc:
                messages.append(f"created but could not archive it: {exc}")
        return ActionResult(reference=person_id, data=body.written, messages=messages)

    @hookimpl
    def idsync_update(self, ctx: HookContext) -> ActionResult:
        """PATCH the changed fields only; an archived person is unarchived around the PATCH."""
        settings = self._configured()
        client = self._api(ctx)
        reference = ctx.reference or ""
        person = client.person(reference) if reference else None
        if person is None:
            return _failed(f"person {reference!r} does not exist in TOPdesk", not_found=True)
        items = {key: change.after for key, change in ctx.changes.items()}
        try:
            body = build_body(items, client, settings)
            messages = list(body.messages)
            fields = without_unchanged(body, person)
            if "manager.id" not in ctx.account and "manager.id" not in items:
                manager = self._manager_id(client, ctx, messages)
                current = (person.get("manager") or {}).get("id")
                if (
                    manager
                    and manager not in (current, reference)
                    and self._ensure_manager(client, manager, ctx, messages)
                ):
                    fields["manager"] = {"id": manager}
            data = {**(ctx.account or ctx.previous), **body.written}
            if not fields:
                return ActionResult(
                    reference=reference,
                    data=data,
                    messages=["TOPdesk holds these values already", *messages],
                )
            changed = ", ".join(sorted(fields))
            if ctx.dry_run:
                return ActionResult(
                    reference=reference, data=data, messages=[f"would set {changed}", *messages]
                )
            with self._writable(client, person, ctx):
                client.patch_person(reference, fields)
        except WriteError as exc:
            return _failed(str(exc))
        logger.bind(system=ctx.system).info("updated TOPdesk person {}: {}", reference, changed)
        return ActionResult(reference=reference, data=data, messages=[f"set {changed}", *messages])

    @hookimpl
    def idsync_enable(self, ctx: HookContext) -> ActionResult:
        """Unarchive the person (nothing to do when it is not archived)."""
        client = self._api(ctx)
        reference = ctx.reference or ""
        person = client.person(reference) if reference else None
        if person is None:
            return _failed(f"person {reference!r} does not exist in TOPdesk", not_found=True)
        if not is_archived(person):
            return ActionResult(reference=reference, messages=["the person is active already"])
        if ctx.dry_run:
            return ActionResult(reference=reference, messages=["would unarchive the person"])
        client.unarchive(reference)
        logger.bind(system=ctx.system).info("unarchived TOPdesk person {}", reference)
        return ActionResult(reference=reference, messages=["unarchived the person"])

    @hookimpl
    def idsync_disable(self, ctx: HookContext) -> ActionResult:
        """Archive the person with the configured archiving reason."""
        client = self._api(ctx)
        reference = ctx.reference or ""
        person = client.person(reference) if reference else None
        if person is None:
            return ActionResult(
                not_found=True,
                messages=[f"warning: person {reference!r} does not exist in TOPdesk"],
            )
        if is_archived(person):
            return ActionResult(reference=reference, messages=["the person is archived already"])
        try:
            reason = self._reason_id(client)
        except WriteError as exc:
            return _failed(str(exc))
        if ctx.dry_run:
            return ActionResult(reference=reference, messages=["would archive the person"])
        client.archive(reference, reason)
        logger.bind(system=ctx.system).info("archived TOPdesk person {}", reference)
        return ActionResult(reference=reference, messages=["archived the person"])

    @hookimpl
    def idsync_delete(self, ctx: HookContext) -> ActionResult:
        """Empty the unique fields and archive: TOPdesk persons are never deleted."""
        settings = self._configured()
        client = self._api(ctx)
        reference = ctx.reference or ""
        person = client.person(reference) if reference else None
        if person is None:
            return ActionResult(
                not_found=True,
                messages=[f"warning: person {reference!r} does not exist in TOPdesk"],
            )
        clear = {f: "" for f in settings.clear_on_delete if person.get(f) not in (None, "")}
        data = dict.fromkeys(settings.clear_on_delete, "")
        archived = is_archived(person)
        if not clear and archived:
            return ActionResult(
                reference=reference, data=data, messages=["cleared and archived already"]
            )
        try:
            reason = self._reason_id(client)
        except WriteError as exc:
            return _failed(str(exc))
        steps = [f"empty {', '.join(sorted(clear))}"] if clear else []
        if not archived:
            steps.append("archive the person")
        if ctx.dry_run:
            return ActionResult(
                reference=reference, data=data, messages=[f"would {' and '.join(steps)}"]
            )
        if clear:
            with self._writable(client, person, ctx):
                client.patch_person(reference, clear)
        if not archived:
            client.archive(reference, reason)
        logger.bind(system=ctx.system).info("cleared and archived TOPdesk person {}", reference)
        return ActionResult(reference=reference, data=data, messages=[f"did {' and '.join(steps)}"])

    @hookimpl
    def idsync_accounts(self, ctx: HookContext) -> Iterator[Account]:
        """Every person, archived ones as disabled accounts."""
        settings = self._configured()
        client = self._api(ctx)
        fields = _ACCOUNT_FIELDS if settings.paging == "v2" else None
        for archived in ("false", "true"):
            for row in client.iter_persons(
                settings.paging, query=f"archived=={archived}", fields=fields
            ):
                yield _account(row)

    # --- target: resources -----------------------------------------------------------

    @hookimpl
    def idsync_resource(self, ctx: HookContext) -> ActionResult:
        """Ensure the branch, department or budget holder named by ``ctx.permission`` exists."""
        permission = ctx.permission
        if permission is None:
            return _failed("no resource given")
        table = RESOURCE_KINDS.get(permission.kind)
        if table is None:
            kinds = ", ".join(f"{k}:" for k in RESOURCE_KINDS)
            return _failed(f"{permission.key}: TOPdesk resources are {kinds}")
        client = self._api(ctx)
        found = client.lookup(table, permission.name)
        if found is not None:
            return ActionResult(reference=found, messages=[f"{permission.key} exists"])
        body: dict[str, Any] = {"name": permission.name}
        if permission.kind == "branch":
            settings = self._configured()
            country = client.lookup("countries", settings.branch_country)
            if country is None:
                return _failed(f"country {settings.branch_country!r} does not exist in TOPdesk")
            body["postalAddress"] = {"country": {"id": country}}
            body["branchType"] = settings.branch_type
        if ctx.dry_run:
            return ActionResult(messages=[f"would create {permission.key}"])
        reference, created = client.ensure_lookup(table, permission.name, body)
        if created:
            logger.bind(system=ctx.system).info("created TOPdesk {}", permission.key)
        return ActionResult(
            reference=reference,
            messages=[f"created {permission.key}" if created else f"{permission.key} exists"],
        )

    # --- managers --------------------------------------------------------------------

    def _manager_id(
        self, client: TopdeskClient, ctx: HookContext, messages: list[str]
    ) -> str | None:
        """The manager's TOPdesk person id: the engine's reference, else by employee number."""
        if "manager.id" in ctx.account:
            return None
        if ctx.manager_reference:
            return ctx.manager_reference
        person = ctx.person
        if person is None:
            return None
        ref = person.manager
        if ref is None:
            contract = person.primary_contract(ctx.as_of)
            ref = contract.manager if contract else None
        if ref is None:
            return None
        rows = client.find_persons(fiql_equals("employeeNumber", ref.external_id))
        active = [row for row in rows if not is_archived(row)]
        chosen = rows if len(rows) <= 1 else active
        if len(chosen) != 1:
            problem = (
                "has no TOPdesk person" if not rows else f"matches {len(rows)} TOPdesk persons"
            )
            messages.append(f"manager {ref.external_id} {problem}; the manager is not set")
            return None
        return str(chosen[0]["id"])

    def _ensure_manager(
        self, client: TopdeskClient, manager_id: str, ctx: HookContext, messages: list[str]
    ) -> bool:
        """Make sure the manager is marked ``isManager`` (TOPdesk requires it of a manager)."""
        manager = client.person(manager_id)
        if manager is None:
            messages.append(
                f"manager {manager_id} does not exist in TOPdesk; the manager is not set"
            )
            return False
        if manager.get("isManager"):
            return True
        if ctx.dry_run:
            messages.append(f"would mark {manager_id} as a manager")
            return True
        # Staff of one manager are created concurrently: one thread marks the manager while
        # the others wait, so none patches it while another has archived it again.
        with self._manager_lock:
            manager = client.person(manager_id)
            if manager is None or manager.get("isManager"):
                return manager is not None
            with self._writable(client, manager, ctx):
                client.patch_person(manager_id, {"isManager": True})
        messages.append(f"marked {manager_id} as a manager")
        return True

    # --- sandbox ---------------------------------------------------------------------

    @hookimpl(optionalhook=True)  # a development hook (idsync.sandbox.hookspecs)
    def idsync_sandbox(self, world: World) -> SandboxApp | None:
        """The TOPdesk simulator seeded from ``world``, or None without the sandbox extra."""
        try:
            from idsync_topdesk.simulator import sandbox_app
        except ImportError:
            return None
        return sandbox_app(world)


def _account(row: dict[str, Any]) -> Account:
    """A person as an account: the usual keys it came with, plus its other plain fields.

    A key whose field the answer lacks (``gender`` in the v2 form) is left out rather than
    reported empty, so reconciliation does not take it for drift.
    """
    data = flatten(row, [k for k in ACCOUNT_KEYS if k.partition(".")[0] in row])
    for key, value in row.items():
        plain = value is None or isinstance(value, str | bool | int | float)
        if plain and key not in data and key not in ("id", "status", "archived"):
            data[key] = value
    return Account(reference=str(row["id"]), data=data, enabled=not is_archived(row))
