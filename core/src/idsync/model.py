"""The person model every plugin maps onto, and the objects hooks receive and return.

Source plugins translate their vendor's rows into :class:`Person` and :class:`Department`;
nothing downstream knows a vendor's field names. Lifecycle hooks receive one
:class:`HookContext` and return one :class:`ActionResult`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

__all__ = [
    "Account",
    "ActionEvent",
    "ActionKind",
    "ActionResult",
    "ActionStatus",
    "Blocked",
    "Change",
    "Contact",
    "Contract",
    "Correlation",
    "Department",
    "HookContext",
    "Name",
    "NamingConvention",
    "Permission",
    "Person",
    "PersonRef",
    "PluginAbout",
    "PluginKind",
    "Ref",
    "RunSummary",
    "validation_problem",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, str_strip_whitespace=True)


NamingConvention = Literal["B", "BP", "P", "PB"]
"""Dutch naming conventions: birth name, birth-partner, partner, partner-birth."""


def _join(*parts: str | None) -> str:
    return " ".join(p for p in parts if p)


MAX_ID = 200
"""Longest identifier (external id, code): what the state store's columns hold."""
MAX_TEXT = 1000
"""Longest other text (a name, an e-mail address): anything longer is broken data."""

PRINTABLE = r"^[^\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]*$"
"""Text without control characters (C0, DEL, C1) or bidirectional overrides.

They would reach targets, logs and terminals as they are (a name that reorders itself, an
escape sequence), so a row carrying them is refused rather than passed on. The check runs
inside pydantic-core, with the length limit: no Python call per field.
"""

Text = Annotated[str, StringConstraints(pattern=PRINTABLE, max_length=MAX_TEXT)]
"""Printable text of at most :data:`MAX_TEXT` characters."""
Identifier = Annotated[str, StringConstraints(pattern=PRINTABLE, max_length=MAX_ID)]
"""A printable identifier of at most :data:`MAX_ID` characters."""


def validation_problem(error: Mapping[str, Any]) -> str:
    """A readable sentence for one pydantic error of a model here (``error`` as in ``errors()``).

    pydantic's own words for the text checks quote the pattern; these say what is wrong.
    """
    kind, value = error.get("type"), error.get("input")
    if kind == "string_pattern_mismatch" and (error.get("ctx") or {}).get("pattern") == PRINTABLE:
        return "contains control characters"
    if kind == "string_too_long" and isinstance(value, str):
        limit = (error.get("ctx") or {}).get("max_length")
        return f"is {len(value)} characters long; at most {limit} are allowed"
    return str(error.get("msg", "")).removeprefix("Value error, ")


class Name(_Model):
    """A structured, Dutch-aware name.

    ``family_prefix`` holds tussenvoegsels such as ``van der`` or ``'t``; ``partner`` and
    ``partner_prefix`` the partner's family name; ``convention`` says how they combine.
    """

    given: Text | None = None
    nick: Text | None = None
    initials: Text | None = None
    family: Text = Field(min_length=1)
    family_prefix: Text | None = None
    partner: Text | None = None
    partner_prefix: Text | None = None
    convention: NamingConvention = "B"

    @property
    def birth_family(self) -> str:
        """``van der Berg``: the birth family name with its prefix."""
        return _join(self.family_prefix, self.family)

    @property
    def partner_family(self) -> str:
        """The partner's family name with its prefix, or ``""``."""
        return _join(self.partner_prefix, self.partner)

    @property
    def full_family(self) -> str:
        """The family name as the naming convention composes it.

        B: ``de Vries``; BP: ``de Vries-van Dam``; P: ``van Dam``; PB: ``van Dam-de Vries``.
        A convention that needs a partner name falls back to the birth name when there is none.
        """
        birth, partner = self.birth_family, self.partner_family
        if not partner:
            return birth
        return {
            "B": birth,
            "BP": f"{birth}-{partner}",
            "P": partner,
            "PB": f"{partner}-{birth}",
        }[self.convention]

    @property
    def first(self) -> str:
        """The name a person is called by: nick name, else given name, else initials."""
        return self.nick or self.given or self.initials or ""

    @property
    def display(self) -> str:
        """``Jan de Vries``: first name and full family name."""
        return _join(self.first, self.full_family)


class Ref(_Model):
    """A coded reference (department, title, cost center, employer, location, contract type)."""

    external_id: Identifier | None = None
    code: Identifier | None = None
    name: Text | None = None


class PersonRef(_Model):
    """A reference to another person, e.g. a manager."""

    external_id: Identifier
    display_name: Text | None = None


class Contact(_Model):
    """Business and personal contact data."""

    email: Text | None = None
    phone: Text | None = None
    mobile: Text | None = None
    personal_email: Text | None = None
    personal_phone: Text | None = None


class Contract(_Model):
    """One contract (employment or position) of a person.

    A contract is *active* at a date when it has started and not yet ended; an open end
    (``end=None``) never ends. ``end`` is the last working day, inclusive.
    """

    external_id: Identifier = Field(min_length=1)
    start: dt.date
    end: dt.date | None = None
    department: Ref | None = None
    title: Ref | None = None
    cost_center: Ref | None = None
    employer: Ref | None = None
    location: Ref | None = None
    manager: PersonRef | None = None
    type: Ref | None = None
    fte: float | None = Field(default=None, ge=0, le=10)
    hours_per_week: float | None = Field(default=None, ge=0, le=168)
    sequence: int | None = None

    @model_validator(mode="after")
    def _end_not_before_start(self) -> Contract:
        if self.end is not None and self.end < self.start:
            raise ValueError(
                f"contract {self.external_id}: end {self.end.isoformat()} is before "
                f"start {self.start.isoformat()}"
            )
        return self

    def active_at(self, when: dt.date) -> bool:
        """Whether the contract has started and not ended at ``when``."""
        return self.start <= when and (self.end is None or when <= self.end)


class Person(_Model):
    """A person as the sources know them: identity, name, contact, manager and contracts."""

    external_id: Identifier = Field(min_length=1)
    display_name: Text = ""
    name: Name
    contact: Contact = Field(default_factory=Contact)
    manager: PersonRef | None = None
    contracts: list[Contract] = Field(default_factory=list)
    inactive: bool = False
    """The source marks the person as no longer current (e.g. archived in TOPdesk)."""
    source: str | None = None
    """The configured source the person came from (set by the engine)."""
    extra: dict[str, Any] = Field(default_factory=dict)
    """Source-specific fields, available to mappings as ``person.extra.<name>``."""

    @field_validator("extra", mode="after")
    @classmethod
    def _sorted(cls, value: dict[str, Any]) -> dict[str, Any]:
        # One order whatever order the source listed them in: a person's fingerprint
        # (the snapshot's hash) then depends on the data alone.
        return dict(sorted(value.items()))

    @model_validator(mode="after")
    def _defaults_and_unique_contracts(self) -> Person:
        if not self.display_name:
            self.display_name = self.name.display
        seen: set[str] = set()
        for contract in self.contracts:
            if contract.external_id in seen:
                raise ValueError(f"contract {contract.external_id} appears twice")
            seen.add(contract.external_id)
        return self

    def active_contracts(self, when: dt.date) -> list[Contract]:
        """The contracts active at ``when``, in source order."""
        return [c for c in self.contracts if c.active_at(when)]

    def primary_contract(
        self, when: dt.date, among: list[Contract] | None = None
    ) -> Contract | None:
        """The primary contract at ``when``.

        The rule: a contract active at ``when`` wins over one that is not; then the highest FTE
        (unknown counts as 0); then the earliest start; then the lowest external id, so the
        choice is stable. ``among`` restricts the candidates (e.g. to contracts in conditions).
        """
        candidates = self.contracts if among is None else among
        if not candidates:
            return None
        return min(
            candidates,
            key=lambda c: (not c.active_at(when), -(c.fte or 0.0), c.start, c.external_id),
        )

    def manager_at(self, when: dt.date, among: list[Contract] | None = None) -> PersonRef | None:
        """The manager at ``when``: the primary contract's (:meth:`primary_contract`, with
        the same ``among``), else the person's own."""
        contract = self.primary_contract(when, among)
        return (contract.manager if contract else None) or self.manager


class Department(_Model):
    """A unit of the organisation; ``parent`` and ``manager`` are external ids."""

    external_id: Identifier = Field(min_length=1)
    name: Text = Field(min_length=1)
    code: Identifier | None = None
    parent: Identifier | None = None
    manager: Identifier | None = None


class Blocked(_Model):
    """Something about a person that cannot be used, where, and why.

    ``scope`` says how much of the person waits: ``person`` (a source row that could not
    become a valid person, or a person who cannot be planned in a target: nothing changes for
    them there), ``manager`` (only the manager link is left out; everything else goes on) or
    ``action`` (one action a plugin reported blocked, waiting for someone outside idsync).
    """

    person: str
    """The person's external id as the source gave it (or a row description without one)."""
    field: str
    problem: str
    source: str | None = None
    scope: Literal["person", "manager", "action"] = "person"

    def __str__(self) -> str:
        return f"person {self.person}: {self.field}: {self.problem}"


class PluginKind(StrEnum):
    """What a plugin connects: a source of persons, a target of accounts, or both."""

    SOURCE = "source"
    TARGET = "target"
    BOTH = "both"


class PluginAbout(BaseModel):
    """What a plugin says about itself through ``idsync_about``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str
    kind: PluginKind
    version: str
    summary: str = ""
    settings: type[BaseModel]
    """The pydantic model of the plugin's settings; secrets are ``SecretStr`` fields."""
    permission_kinds: list[str] = Field(default_factory=list)
    """Permission prefixes the plugin understands, e.g. ``["group", "product"]``."""
    case_insensitive: bool = False
    """Whether the target compares values without regard to letter case (HelloID and Active
    Directory do): unique values and correlation values are then compared that way too, so
    ``LUCAS.MULDER@…`` and ``lucas.mulder@…`` are one value, never two persons' two."""
    indexed: list[str] | None = None
    """Account fields ``idsync_correlate`` looks up in one request (``["userName"]``); a plan
    that correlates on another field lists every account once instead of asking per person.
    None: every field is cheap to look up."""
    resource_kinds: list[str] | None = None
    """The permission kinds ``idsync_resource`` can create (``["group"]``); None: every one
    of :attr:`permission_kinds`."""
    attributes: list[str] | None = None
    """A target's account attributes: the keys a pipeline's mapping may set. ``prefix.*``
    admits every key under a nested object (``userAttributes.*``). None: not declared, and
    ``idsync check`` accepts any key."""
    read_only_attributes: list[str] = Field(default_factory=list)
    """Keys the target's account data carries that a mapping cannot set (its own ids, such
    as ``userGUID``): valid as ``correlate.account`` only."""


class ActionKind(StrEnum):
    """The lifecycle actions of a plan, in the order they run for one person."""

    RESOURCE = "resource"
    CORRELATE = "correlate"
    CREATE = "create"
    UPDATE = "update"
    ENABLE = "enable"
    REVOKE = "revoke"
    GRANT = "grant"
    DISABLE = "disable"
    DELETE = "delete"


class ActionStatus(StrEnum):
    """What became of an action."""

    PLANNED = "planned"
    HELD = "held"
    DRY_RUN = "dry-run"
    DONE = "done"
    FAILED = "failed"
    BLOCKED = "blocked"
    """Cannot succeed until someone acts outside idsync; not tried again until it changes."""
    SKIPPED = "skipped"


class Change(_Model):
    """One attribute's value before and after an update."""

    before: Any = None
    after: Any = None


class Permission(_Model):
    """A permission in a target, written ``kind:name`` in pipeline files (``group:Sales``)."""

    kind: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=450)
    """At most 450 characters, so ``kind:name`` fits the state store's 500."""
    reference: str | None = None
    """The target's own id for it, once known (e.g. a HelloID group GUID)."""
    data: dict[str, Any] = Field(default_factory=dict)
    """Extra facts for resource creation (e.g. the department behind a department group)."""

    @classmethod
    def parse(cls, text: str, **extra: Any) -> Permission:
        """Parse ``"group:ICT Admins"``; raises ``ValueError`` without a ``kind:`` prefix."""
        kind, sep, name = text.partition(":")
        if not sep or not kind.strip() or not name.strip():
            raise ValueError(f"permission {text!r} is not of the form 'kind:name'")
        return cls(kind=kind.strip(), name=name.strip(), **extra)

    @property
    def key(self) -> str:
        """``kind:name``, the permission's identity in plans and the state store."""
        return f"{self.kind}:{self.name}"


class Correlation(_Model):
    """Which account field must equal which person value to be the same identity."""

    person_field: str
    account_field: str
    value: Any


class Account(BaseModel):
    """An account as a target reports it (correlation matches and accounts import)."""

    reference: str
    data: dict[str, Any] = Field(default_factory=dict)
    enabled: bool | None = None
    permissions: list[str] = Field(default_factory=list)
    """Permission keys (``kind:name``) the account holds, when the target can tell."""


class HookContext(BaseModel):
    """Everything a lifecycle hook needs for one call.

    ``account`` is the desired account data (the field mapping's result); ``previous`` what idsync
    last applied; ``changes`` the attributes an update must write (and only those).
    Plugins must not write anything when ``dry_run`` is true.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    system: str
    """The configured name of this source or target in the pipeline file."""
    action: ActionKind | None = None
    dry_run: bool = False
    as_of: dt.date = Field(default_factory=dt.date.today)
    settings: BaseModel | None = None
    person: Person | None = None
    account: dict[str, Any] = Field(default_factory=dict)
    previous: dict[str, Any] = Field(default_factory=dict)
    changes: dict[str, Change] = Field(default_factory=dict)
    reference: str | None = None
    correlation: Correlation | None = None
    permission: Permission | None = None
    manager_reference: str | None = None
    """The manager's account reference in this target, when the manager has one."""
    active: bool = False
    """For a create: the lifecycle says the account is active now. A plugin that can create
    it enabled in the same request does so and answers ``ActionResult(enabled=True)``; one
    that cannot creates it disabled, and the engine enables it next."""
    run_id: int | None = None


class ActionResult(BaseModel):
    """What a lifecycle hook reports back.

    ``success=False`` (or an exception) fails this action only. ``not_found`` says the object was
    already gone, which for delete, disable and revoke counts as success with a warning.
    ``data`` is the account data as the target holds it after the action, for the plugin's own
    use and for tests; the engine records the attributes it asked for as the last-applied
    state, so the next run's comparison speaks the pipeline's mapping keys.
    """

    success: bool = True
    reference: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    messages: list[str] = Field(default_factory=list)
    not_found: bool = False
    retriable: bool = False
    """A failure that may pass when tried again later (the engine retries it next run anyway)."""
    enabled: bool | None = None
    """The account's access after the action, when the plugin knows it (a create made
    enabled because ``ctx.active`` asked for it answers True)."""
    refused: dict[str, str] = Field(default_factory=dict)
    """With ``success=True``: attributes of ``ctx.changes`` the target refused, each with
    why (a rename the target does not allow, say); the others were written. The engine records
    what was applied and reports the refused ones as a blocked update, tried again when they
    change."""
    blocked: bool = False
    """With ``success=False``: the action cannot succeed until someone acts outside idsync (an
    AFAS employee without an AFAS user, say). ``messages`` say what must be done. The engine
    records it once as *blocked* and does not try the same action again each run; it is
    tried again when what the action would write changes. Under dry-run a plugin that can
    tell (by reading) reports it the same way, so the plan shows what the run will do."""

    @classmethod
    def failure(
        cls, *messages: str, not_found: bool = False, retriable: bool = False
    ) -> ActionResult:
        """A failed action, saying why: ``ActionResult.failure("group g1 is locked")``."""
        return cls(success=False, messages=list(messages), not_found=not_found, retriable=retriable)

    @classmethod
    def gone(cls, message: str, reference: str | None = None) -> ActionResult:
        """Success for an object already gone (a delete, disable or revoke whose object is
        not there): the desired state holds, and ``message`` becomes a warning."""
        return cls(
            success=True, not_found=True, reference=reference, messages=[f"warning: {message}"]
        )


class ActionEvent(BaseModel):
    """One finished action, as observers receive it."""

    run_id: int
    system: str
    person: str | None
    kind: ActionKind
    status: ActionStatus
    target_key: str | None = None
    """The permission or resource key for grant, revoke and resource actions."""
    changes: dict[str, Change] = Field(default_factory=dict)
    messages: list[str] = Field(default_factory=list)
    reference: str | None = None
    dry_run: bool = False


class RunSummary(BaseModel):
    """The outcome of one run, as observers receive it."""

    run_id: int
    pipeline: str
    dry_run: bool
    as_of: dt.date
    started: dt.datetime
    finished: dt.datetime
    counts: dict[str, dict[str, int]] = Field(default_factory=dict)
    """``{status: {kind: n}}`` over all targets."""
    blocked: list[Blocked] = Field(default_factory=list)
    held: list[str] = Field(default_factory=list)
    """Held items, e.g. ``"import hr"`` or ``"helloid delete (12 > 10)"``."""
    failed: int = 0
    exit_code: int = 0
