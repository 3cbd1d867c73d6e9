"""The Phonebook plugin: keeps the company phone book in line with HR.

An account is a phone-book entry and *enabled* means *listed*: entries are created unlisted,
listed when the lifecycle enables them, unlisted on disable and deleted on delete.
"""

from __future__ import annotations

import secrets
import threading
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from idsync import (
    Account,
    ActionResult,
    ApiClient,
    ApiError,
    HookContext,
    PluginAbout,
    PluginKind,
    hookimpl,
)

from idsync_phonebook.settings import PhonebookSettings

if TYPE_CHECKING:
    from idsync.sandbox.simulator import SandboxApp
    from idsync.sandbox.world import World

__all__ = ["FIELDS", "PhonebookPlugin"]

FIELDS = ("employeeId", "displayName", "email", "phone", "department")
"""The entry fields a pipeline's mapping may name."""

SEARCHABLE = ("employeeId", "email")
"""The fields the API can search on, so the ones a pipeline may correlate on."""

try:
    __version__ = version("idsync-phonebook")
except PackageNotFoundError:  # running from a source checkout that is not installed
    __version__ = "0.0.0"


# --8<-- [start:helpers]
def _fields(values: dict[str, Any]) -> dict[str, Any]:
    """The entry fields to send; a key the Phonebook does not have fails the action."""
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise ValueError(f"the Phonebook has no field {', '.join(unknown)} (it has {FIELDS})")
    return dict(values)


def _account(entry: dict[str, Any]) -> Account:
    return Account(
        reference=str(entry["id"]),
        data={k: entry.get(k) for k in FIELDS},
        enabled=bool(entry.get("listed")),
    )


def _entry(api: ApiClient, reference: str | None) -> dict[str, Any] | None:
    """The entry, or None when it does not exist (any other error raises)."""
    response = api.request("GET", f"/api/entries/{reference}", ok=(404,))
    return None if response.status_code == 404 else dict(response.json())


# --8<-- [end:helpers]


# --8<-- [start:init]
class PhonebookPlugin:
    """Phonebook connector: a target of phone-book entries."""

    def __init__(self, settings: PhonebookSettings | None = None) -> None:
        self.settings = settings
        self._client: ApiClient | None = None
        self._lock = threading.Lock()

    def _api(self, ctx: HookContext) -> ApiClient:
        """The one HTTP client of this configured system, made on first use."""
        with self._lock:
            if self._client is None:
                if self.settings is None:
                    raise RuntimeError("the phonebook plugin is not configured")
                settings = self.settings
                self._client = ApiClient(
                    settings.base_url,
                    headers={"Authorization": f"Bearer {settings.token.get_secret_value()}"},
                    timeout=settings.timeout,
                    retries=settings.retries,
                    backoff=settings.backoff,
                    system=ctx.system,
                )
            return self._client

    # --8<-- [end:init]

    # --8<-- [start:about]
    @hookimpl
    def idsync_about(self) -> PluginAbout:
        """Describe the plugin: what it is and how it is configured."""
        return PluginAbout(
            name="phonebook",
            kind=PluginKind.TARGET,
            version=__version__,
            summary="The company phone book: one entry per employee, listed while employed",
            settings=PhonebookSettings,
            attributes=list(FIELDS),
        )

    @hookimpl
    def idsync_check_connection(self, ctx: HookContext) -> ActionResult:
        """Read one entry; say what failed, without the token."""
        try:
            self._api(ctx).get("/api/entries", params={"limit": 1})
        except ApiError as exc:
            if exc.status == 401:
                return ActionResult(success=False, messages=["the Phonebook refused the token"])
            return ActionResult(success=False, messages=[f"the Phonebook did not answer: {exc}"])
        return ActionResult(messages=["the Phonebook answered"])

    # --8<-- [end:about]

    # --8<-- [start:correlate]
    @hookimpl
    def idsync_correlate(self, ctx: HookContext) -> list[Account]:
        """Every entry whose correlation field equals the person's value."""
        if ctx.correlation is None:
            raise ValueError("idsync_correlate needs ctx.correlation (the engine always sets it)")
        field, value = ctx.correlation.account_field, ctx.correlation.value
        if field not in SEARCHABLE:
            raise ValueError(f"cannot correlate on {field!r}: use one of {SEARCHABLE}")
        if value in (None, ""):
            return []  # nothing to look for: not found
        page = self._api(ctx).get("/api/entries", params={field: str(value)})
        return [_account(entry) for entry in page["items"]]

    # --8<-- [end:correlate]

    # --8<-- [start:create]
    @hookimpl
    def idsync_create(self, ctx: HookContext) -> ActionResult:
        """Create the entry, unlisted; the engine enables it when the lifecycle says so."""
        body = _fields(ctx.account)
        if ctx.dry_run:
            return ActionResult(data=body, messages=["dry-run: would create an entry"])
        entry = self._api(ctx).post("/api/entries", json={**body, "listed": False})
        return ActionResult(
            reference=str(entry["id"]), data=body, messages=[f"created entry {entry['id']}"]
        )

    # --8<-- [end:create]

    # --8<-- [start:update]
    @hookimpl
    def idsync_update(self, ctx: HookContext) -> ActionResult:
        """Write the changed fields that differ from the entry, and only those."""
        changes = _fields({key: change.after for key, change in ctx.changes.items()})
        if not changes:
            return ActionResult(messages=["no changes"])  # e.g. only the manager changed
        api = self._api(ctx)
        entry = _entry(api, ctx.reference)
        if entry is None:
            return ActionResult(
                success=False, not_found=True, messages=[f"entry {ctx.reference} no longer exists"]
            )
        todo = {key: value for key, value in changes.items() if entry.get(key) != value}
        if not todo:  # already as desired (a repeat after a crash): write nothing
            return ActionResult(data=changes, messages=["already up to date"])
        if ctx.dry_run:
            return ActionResult(data=changes, messages=[f"dry-run: would write {', '.join(todo)}"])
        api.patch(f"/api/entries/{ctx.reference}", json=todo, idempotent=True)
        return ActionResult(data=changes, messages=[f"wrote {', '.join(todo)}"])

    # --8<-- [end:update]

    # --8<-- [start:access]
    @hookimpl
    def idsync_enable(self, ctx: HookContext) -> ActionResult:
        """List the entry. Idempotent."""
        return self._set_listed(ctx, True)

    @hookimpl
    def idsync_disable(self, ctx: HookContext) -> ActionResult:
        """Unlist the entry. Idempotent; an entry already gone is success."""
        return self._set_listed(ctx, False)

    def _set_listed(self, ctx: HookContext, listed: bool) -> ActionResult:
        word = "listed" if listed else "unlisted"
        api = self._api(ctx)
        entry = _entry(api, ctx.reference)
        if entry is None:  # gone: fine for disable, a failure for enable
            return ActionResult(
                success=not listed,
                not_found=True,
                messages=[f"entry {ctx.reference} no longer exists"],
            )
        if entry.get("listed") is listed:
            return ActionResult(messages=[f"entry {ctx.reference} is already {word}"])
        if ctx.dry_run:
            return ActionResult(messages=[f"dry-run: would make entry {ctx.reference} {word}"])
        api.patch(f"/api/entries/{ctx.reference}", json={"listed": listed}, idempotent=True)
        return ActionResult(messages=[f"entry {ctx.reference} {word}"])

    # --8<-- [end:access]

    # --8<-- [start:delete]
    @hookimpl
    def idsync_delete(self, ctx: HookContext) -> ActionResult:
        """Delete the entry. An entry already gone is success with ``not_found``."""
        api = self._api(ctx)
        if ctx.dry_run:
            exists = _entry(api, ctx.reference) is not None
            return ActionResult(
                not_found=not exists, messages=[f"dry-run: would delete entry {ctx.reference}"]
            )
        response = api.request("DELETE", f"/api/entries/{ctx.reference}", ok=(404,))
        if response.status_code == 404:
            return ActionResult(
                not_found=True, messages=[f"entry {ctx.reference} was already gone"]
            )
        return ActionResult(messages=[f"deleted entry {ctx.reference}"])

    # --8<-- [end:delete]

    # --8<-- [start:sandbox]
    @hookimpl(optionalhook=True)  # a development hook (idsync.sandbox.hookspecs)
    def idsync_sandbox(self, world: World) -> SandboxApp | None:
        """The simulator, with an entry made by hand for every fourth person of the world."""
        try:
            from idsync_phonebook.simulator import PhonebookData, create_app
        except ImportError:  # the [sandbox] extra is not installed
            return None
        from idsync.sandbox.simulator import SandboxApp

        data = PhonebookData()
        for person in world.persons[::4]:
            data.add(
                employeeId=person.external_id,
                displayName=person.display_name,
                email=person.contact.email,
                listed=True,
            )
        token = secrets.token_urlsafe(24)  # made up per sandbox; the env carries it
        return SandboxApp(
            name="phonebook",
            app=create_app(data, token),
            env={"PHONEBOOK_BASE_URL": "{url}", "PHONEBOOK_TOKEN": token},
            summary=f"Phonebook: {len(data.entries)} entries",
            data=data,
        )

    # --8<-- [end:sandbox]
