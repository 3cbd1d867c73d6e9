"""The hook specifications: the contract between the engine and every plugin.

Each docstring here is the reference documentation of its hook (the docs site renders them).
A plugin is a class whose methods carry ``@idsync.hookimpl`` and are named after these specs.
The engine constructs it once without settings (for ``about`` and its contributions) and once
per configured system with its validated settings (for the lifecycle hooks), each in its own
:class:`pluggy.PluginManager`, so a lifecycle call reaches exactly one connector. The
development hook (the sandbox's simulator) lives outside this contract, in
``idsync.sandbox.hookspecs``.

Rules that hold for every lifecycle hook:

- it receives one :class:`~idsync.model.HookContext` and returns one
  :class:`~idsync.model.ActionResult` (or the documented collection);
- when ``ctx.dry_run`` is true it may read but must never write to the system;
- it raises (any exception) or returns ``success=False`` to fail this action only; the engine
  records the failure and retries it in the next run;
- it never puts a secret in a message, a result or an exception.

Hooks grow by adding arguments: an implementation may accept fewer arguments than its spec
(pluggy's opt-in arguments), so new arguments never break existing plugins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from pydantic import BaseModel

    from idsync.config import Pipeline
    from idsync.model import (
        Account,
        ActionEvent,
        ActionResult,
        Blocked,
        Department,
        HookContext,
        Permission,
        Person,
        PluginAbout,
        RunSummary,
    )
    from idsync.state import Store

PROJECT = "idsync"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

# --- about -----------------------------------------------------------------------------


@hookspec(firstresult=True)
def idsync_about() -> PluginAbout:  # type: ignore[empty-body]
    """Describe the plugin: name, kind (source, target or both), version and settings model.

    Called on the unconfigured plugin. Required of every source and target; a plugin that
    only observes (``idsync_action_finished``, ``idsync_run_finished``) needs none. The
    settings model is a pydantic model; secret fields are ``SecretStr``. Capabilities are the
    lifecycle hooks the plugin implements; the engine derives them, so they cannot disagree
    with the code.
    """


@hookspec(firstresult=True)
def idsync_check_connection(ctx: HookContext) -> ActionResult:  # type: ignore[empty-body]
    """Test that the configured system answers and the credentials are accepted.

    Must not write anything. Returns ``success=False`` with a message naming what failed
    (unreachable, credentials refused, unexpected answer). Used by ``idsync check --connect``.
    For a target, ``ctx.account`` names the keys of the pipeline's mapping (their values are
    None) and ``ctx.correlation`` its correlation (value None): a plugin that can read the
    target's schema may fail the check naming each key the target does not have.
    """


@hookspec(firstresult=True)
def idsync_attributes(ctx: HookContext) -> Iterable[str]:  # type: ignore[empty-body]
    """Read the configured target's account attributes from its live schema.

    Optional, for targets whose API describes itself (a SCIM ``/Schemas`` endpoint, a
    directory's schema): returns the attribute names a mapping may set, ``prefix.*`` for a
    free-form nested object, as :attr:`~idsync.model.PluginAbout.attributes` declares them
    statically. ``idsync check --connect`` holds the pipeline's mapping keys to the answer, so
    a key that exists in the plugin's declaration but not in this tenant (a custom attribute
    never created) is found before a run. Read-only.

    The static declaration in :class:`~idsync.model.PluginAbout` is what ``idsync check``
    uses without connecting: ``attributes`` (the keys a mapping may set),
    ``read_only_attributes`` (keys valid only as ``correlate.account``), ``permission_kinds``
    (the kinds ``grant`` accepts) and ``resource_kinds`` (the kinds ``idsync_resource``
    creates). A target that declares them gets a precise error at load for every mapping key,
    correlation field or permission kind it does not have.
    """


@hookspec
def idsync_expression_functions() -> Mapping[str, Callable[..., Any]]:  # type: ignore[empty-body]
    """Contribute functions to the expression language of rules and mappings.

    Returns ``{name: function}``. Called once, on the unconfigured plugin, when the plugin is
    loaded. A pipeline gets the functions of the plugins its sources and targets use, and of
    every observer plugin; a name two of those contribute different functions for, or one the
    language already has (``slug``, ``ascii``, Jinja's ``range``…), is an error naming both
    (one class installed under two names contributes the same function). If this hook raises, the
    plugin contributes nothing and every system that uses it fails (the others run).
    Functions must be pure: they see values, never the engine.
    """


@hookspec
def idsync_pipeline_sections() -> Mapping[str, type[BaseModel]]:  # type: ignore[empty-body]
    """Contribute top-level sections to the pipeline file: ``{key: pydantic model}``.

    Called once, on the unconfigured plugin, when it is loaded; the built-in notifier
    contributes ``notifications``. ``load_pipeline`` validates each section present in a file
    with its model (errors name the key path); the model is validated with the context
    ``{"from_environment": {...}}``, the key paths inside the section whose values came from a
    ``${VARIABLE}``, and every ``SecretStr`` in it must come from one. Plugins read their
    section with ``pipeline.section(key)`` (the opt-in ``pipeline`` of the observer hooks).
    A key contributed twice goes to the built-in plugin, else to the first plugin by name.
    """


# --- source ----------------------------------------------------------------------------


@hookspec(firstresult=True)
def idsync_persons(ctx: HookContext) -> Iterable[Mapping[str, Any] | Person | Blocked]:  # type: ignore[empty-body]
    """Stream the persons of the source.

    Yields one mapping per person in the shape of :class:`~idsync.model.Person` (the plugin
    translates its vendor's field names), or a :class:`~idsync.model.Blocked` for a row it
    cannot translate, naming the person, the field and the problem. The engine validates each
    mapping; an invalid one is blocked with the validation error, and the others go on.
    A plugin that validates its rows itself (to name its own vendor field in a problem) may
    yield the validated :class:`~idsync.model.Person` instead: the engine takes it as it is,
    and does not validate it twice.
    An error raised while streaming fails the whole import (nothing downstream changes).
    """


@hookspec(firstresult=True)
def idsync_departments(ctx: HookContext) -> Iterable[Mapping[str, Any] | Department]:  # type: ignore[empty-body]
    """Stream the departments of the source, in the shape of :class:`~idsync.model.Department`.

    ``parent`` and ``manager`` are external ids (of a department and of a person).
    """


# --- target: accounts ------------------------------------------------------------------


@hookspec(firstresult=True)
def idsync_correlate(ctx: HookContext) -> list[Account]:  # type: ignore[empty-body]
    """Find the accounts whose ``ctx.correlation.account_field`` equals ``ctx.correlation.value``.

    Called while *planning*, for the few persons without a linked account (for many, the
    engine lists every account once with ``idsync_accounts`` instead). Returns every match:
    an empty list means *not found* (the plan then creates), one match links (unless another
    person owns it), several are *disputed* (reported, nothing done for that person).
    Read-only, so it behaves the same under dry-run. ``Account.data`` uses exactly the pipeline's mapping keys
    (the keys of ``ctx.account``): after linking, the engine writes the attributes whose
    values differ under those keys.
    """


@hookspec(firstresult=True)
def idsync_attribute_available(ctx: HookContext, attribute: str, value: Any) -> bool:  # type: ignore[empty-body]
    """Whether ``value`` is free for the unique ``attribute`` (e.g. a user name).

    An account that holds the value but is ``ctx.reference`` (the person's own) counts as
    free. While planning, the engine asks this for each candidate of a unique attribute until
    one is free (when it did not list every account instead). Read-only.
    """


@hookspec(firstresult=True)
def idsync_create(ctx: HookContext) -> ActionResult:  # type: ignore[empty-body]
    """Create the account with the attributes in ``ctx.account``.

    The plan found no account to link and chose the unique values, so create without looking
    again. The account is created *disabled*, unless ``ctx.active`` says the lifecycle wants
    it enabled now and the target can do both in one request: then create it enabled and
    answer ``enabled=True`` (the engine skips the enable). Returns the new account's reference
    (under dry-run: none, and nothing is written).
    """


@hookspec(firstresult=True)
def idsync_update(ctx: HookContext) -> ActionResult:  # type: ignore[empty-body]
    """Write ``ctx.changes`` (and only those attributes) to the account ``ctx.reference``.

    ``ctx.account`` holds the whole desired state for plugins whose API needs a full object.
    ``ctx.manager_reference`` is the manager's account reference in this target (None when
    the person has no manager or the manager has no account yet); ``ctx.changes`` may be empty
    when only the manager changed. An account that no longer exists returns
    ``success=False, not_found=True`` (the engine then drops its link). A target that writes
    some attributes and refuses others (a rename it does not allow) answers success with the
    refused ones in ``refused``: the engine records what was applied.
    """


@hookspec(firstresult=True)
def idsync_enable(ctx: HookContext) -> ActionResult:  # type: ignore[empty-body]
    """Give the account ``ctx.reference`` access (enable it). Idempotent."""


@hookspec(firstresult=True)
def idsync_disable(ctx: HookContext) -> ActionResult:  # type: ignore[empty-body]
    """Take access away from the account ``ctx.reference``. Idempotent.

    An account already gone is success with ``not_found=True`` and a warning message.
    """


@hookspec(firstresult=True)
def idsync_delete(ctx: HookContext) -> ActionResult:  # type: ignore[empty-body]
    """Delete the account ``ctx.reference`` (or, where the system never deletes, clear it).

    An account already gone is success with ``not_found=True`` and a warning message.
    """


@hookspec(firstresult=True)
def idsync_accounts(ctx: HookContext) -> Iterable[Account]:  # type: ignore[empty-body]
    """Stream every account of the target (disabled and soft-deleted ones too) with the
    permission keys each holds. Read-only. Reconciliation reads it, and so does planning when
    many persons have no linked account yet: one paged listing then answers every
    correlation and unique-value question of the plan. A planning listing has ``ctx.action``
    set to ``correlate``: the plugin may then leave ``Account.permissions`` empty (and spare
    the requests that read memberships). ``Account.data`` uses exactly
    the pipeline's mapping keys: reconciliation compares it, key by key, with what idsync
    last applied, and a key the plugin does not answer is never checked for drift.
    """


# --- target: permissions and resources -------------------------------------------------


@hookspec(firstresult=True)
def idsync_permissions(ctx: HookContext) -> Iterable[Permission]:  # type: ignore[empty-body]
    """List the permissions the target offers (groups, products, …) with their references."""


@hookspec(firstresult=True)
def idsync_grant(ctx: HookContext) -> ActionResult:  # type: ignore[empty-body]
    """Grant ``ctx.permission`` to the account ``ctx.reference``. Idempotent: already granted
    is success. A permission that does not exist fails with a message naming it.
    """


@hookspec(firstresult=True)
def idsync_revoke(ctx: HookContext) -> ActionResult:  # type: ignore[empty-body]
    """Revoke ``ctx.permission`` from the account ``ctx.reference``. Idempotent: not held, or
    the account or permission gone, is success with ``not_found=True``.
    """


@hookspec(firstresult=True)
def idsync_resource(ctx: HookContext) -> ActionResult:  # type: ignore[empty-body]
    """Ensure the resource ``ctx.permission`` exists (e.g. a department group), creating it
    when missing. Idempotent. ``ctx.permission.data`` carries what it is made from (for a
    department group, the department). Returns the resource's reference in ``reference``.
    """


# --- observers -------------------------------------------------------------------------
# Observer hooks are called through pluggy, from one thread per engine, in the order the
# events happened; each engine has its own instance of every observer plugin.


@hookspec
def idsync_action_finished(event: ActionEvent, pipeline: Pipeline) -> None:
    """Observe one finished action (done, failed, held, blocked, skipped or dry-run).

    Called for every action of a run, in the order they finished, from one thread (never two
    at once), while the run goes on: keep it quick, or collect and do the slow work in
    ``idsync_run_finished``. ``pipeline`` (opt-in) is the pipeline being run; read your
    section with ``pipeline.section(key)``. Must not raise: an observer's exception is logged
    with its name and never fails the action (the observers after it in calling order miss
    that one event).
    """


@hookspec
def idsync_run_finished(summary: RunSummary, pipeline: Pipeline, store: Store) -> None:
    """Observe the end of a run with its counts, blocked persons and held work.

    Called once per run, after every ``idsync_action_finished`` of it, from the same thread;
    the run's command waits for it. ``pipeline`` and ``store`` are opt-in: the pipeline being
    run and its state store, to *read* (persons, accounts, held work), never to write.
    Must not raise; an exception is logged and the run's outcome stays as it is.
    """
