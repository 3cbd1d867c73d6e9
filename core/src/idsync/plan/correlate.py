"""Linking accounts the target lists to persons (``correlate``), and holding a person whose
account is in doubt or disputed rather than creating a second one."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from idsync.actions import Plan, TargetPlan
from idsync.config import Correlate, TargetConfig
from idsync.correlation import value_at
from idsync.evaluate import Desired
from idsync.expressions import ExpressionError
from idsync.model import Account, Blocked, Person
from idsync.plan.known import Known
from idsync.state import AccountState
from idsync.unique import UniqueValues


def _correlation_value(
    correlate: Correlate, person: Person | None, desired: Desired, unique: UniqueValues
) -> Any:
    """The person's side of the correlation: a path into the person, or (``account.…``) a
    value of the desired account; for a unique attribute, the first candidate no other person
    of idsync's holds (the value the person's account has, when it exists)."""
    if correlate.on_account:
        key = correlate.person.removeprefix("account.")
        if key in desired.unique:
            value = unique.ours(key, desired.person, desired.unique[key])
            if value is not None:  # a namesake planned after this person gets the next one
                unique.take(key, desired.person, value)
            return value
        return desired.attributes.get(key)
    return value_at(person, correlate.person.removeprefix("person."))


def _correlate(
    name: str,
    cfg: TargetConfig,
    persons: Mapping[str, Person],
    shadows: Mapping[str, AccountState],
    desires: Mapping[str, Desired | None],
    facts: Known,
    unique: UniqueValues,
    plan: Plan,
    tp: TargetPlan,
) -> dict[str, Account]:
    """Look up the persons without a linked account: ``{person: account}`` to link.

    Joiners (due an account) are looked up to link an account that exists instead of
    creating a second; leavers (known to the source, due none) to retire an account made for
    them outside idsync, when the correlation is on a stable key of the person. A person
    matching several accounts, an account another person owns, or one account two persons
    match, is *disputed*: blocked with both ids, nothing done for them here.
    """
    correlate = cfg.account.correlate
    if correlate is None:
        return {}
    where = f"targets.{name}.account.correlate"
    wanted: dict[str, Any] = {}
    leavers: set[str] = set()
    for pid, desired in desires.items():
        if pid in shadows or desired is None:
            continue
        joiner = desired.access in ("pre", "enabled")
        leaver = desired.leaver and correlate.leavers and not correlate.on_account
        if not (joiner or leaver):
            continue
        try:
            value = _correlation_value(correlate, persons.get(pid), desired, unique)
        except ExpressionError as exc:
            plan.blocked.append(Blocked(person=pid, field=where, problem=str(exc)))
            tp.disputed.add(pid)
            continue
        if value in (None, ""):
            if joiner:  # without it, an existing account cannot be found: never guess
                plan.blocked.append(
                    Blocked(
                        person=pid,
                        field=where,
                        problem=f"no value for {correlate.person}: an existing account "
                        "cannot be looked up, so none is created",
                    )
                )
                tp.disputed.add(pid)
            continue
        if leaver and facts.checked.get(pid) == _memo(unique.fold(value)):
            continue  # looked up before with this value, and nothing was found
        wanted[pid] = value
        if desired.leaver:
            leavers.add(pid)
    if not wanted:
        return {}
    try:
        facts.lookups.prepare({unique.fold(v) for v in wanted.values()})
    except Exception as exc:
        problem = f"the accounts of {name} could not be read: {type(exc).__name__}: {exc}"
        for pid in wanted:
            plan.blocked.append(Blocked(person=pid, field=where, problem=problem[:500]))
            tp.disputed.add(pid)
        return {}
    owned = {_ref(s.reference): pid for pid, s in shadows.items() if s.reference}
    claims: dict[str, list[str]] = defaultdict(list)
    matched: dict[str, Account] = {}
    for pid, value in wanted.items():
        try:
            accounts = facts.lookups.matches(value)
        except Exception as exc:
            plan.blocked.append(
                Blocked(
                    person=pid,
                    field=where,
                    problem=f"looking up {correlate.account} = {value!r} failed: "
                    f"{type(exc).__name__}: {exc}"[:500],
                )
            )
            tp.disputed.add(pid)
            continue
        if not accounts:
            if pid in leavers:
                tp.checked[pid] = _memo(unique.fold(value))
            continue
        refs = ", ".join(a.reference for a in accounts[:5])
        if len(accounts) > 1:
            _dispute(
                plan,
                tp,
                pid,
                where,
                f"{len(accounts)} accounts have {correlate.account} = {value!r} ({refs})",
            )
            continue
        owner = owned.get(_ref(accounts[0].reference))
        if owner is not None and owner != pid:
            _dispute(
                plan,
                tp,
                pid,
                where,
                f"the account with {correlate.account} = {value!r} ({refs}) is already "
                f"linked to person {owner}",
            )
            continue
        claims[_ref(accounts[0].reference)].append(pid)
        matched[pid] = accounts[0]
    for claimants in claims.values():
        if len(claimants) > 1:
            for pid in claimants:
                others = ", ".join(p for p in claimants if p != pid)
                _dispute(
                    plan,
                    tp,
                    pid,
                    where,
                    f"the account {matched[pid].reference} matches person {others} too",
                )
                matched.pop(pid, None)
    return matched


def _hold_doubtful(
    name: str,
    shadows: Mapping[str, AccountState],
    desires: Mapping[str, Desired | None],
    facts: Known,
    plan: Plan,
    tp: TargetPlan,
) -> None:
    """Without correlation the plan cannot look for an account an interrupted run may have
    made: such a person gets no second create, and is blocked until it can look."""
    for pid, run in facts.doubtful.items():
        desired = desires.get(pid)
        if pid in shadows or desired is None or desired.access not in ("pre", "enabled"):
            continue
        plan.blocked.append(
            Blocked(
                person=pid,
                field=f"targets.{name}.account.correlate",
                problem=f"run {run} was interrupted while creating this account: it may exist, "
                "and without account.correlate the plan cannot look for it, so none is "
                "created; configure account.correlate",
            )
        )
        tp.disputed.add(pid)


def _dispute(plan: Plan, tp: TargetPlan, pid: str, where: str, problem: str) -> None:
    plan.blocked.append(Blocked(person=pid, field=where, problem=f"disputed: {problem}"))
    tp.disputed.add(pid)


def _ref(reference: str | None) -> str:
    """An account reference in the form references are compared (ids ignore case)."""
    return (reference or "").strip().casefold()


def _memo(value: Any) -> str:
    """How a leaver lookup's value is remembered: a short hash, not the value itself."""
    return hashlib.blake2b(str(value).encode(), digest_size=8).hexdigest()
