"""Reconciliation: a target's real accounts against the state store and the desired state.

The target's ``idsync_accounts`` hook lists every account with the permissions it holds. Each
account is put in one of midPoint's situations:

- *linked*: the state store links it to a person; it is checked for **drift** (attributes,
  enabled state or memberships that differ from what idsync last applied);
- **unmatched**: no person owns it and none correlates (an orphan), unless it is **excluded**
  (known and allowed until a date);
- **unlinked**: exactly one person correlates to it, but the state store has no link;
- **disputed**: several persons correlate to it, one person correlates to several accounts,
  the correlating person is already linked to another account, or several persons are linked
  to it.

A linked account the target no longer lists is reported as **missing**.

Nothing changes unless a fix is asked for: ``link`` records the links of unlinked accounts of
entitled persons (correlating again, never creating), ``restore`` brings drifted accounts back
to the desired state, ``disable_orphans`` disables unmatched accounts. Fixes are actions run
through the :class:`~idsync.enforce.Enforcer` in a run of their own (command ``reconcile``):
audited one by one, dry-run capable, and held by the target's thresholds like any run.

The situations are found in :mod:`idsync.reconcile.analysis`, the fixes planned and carried
out in :mod:`idsync.reconcile.fixes`, :class:`Reconciler` ties the two to an engine, and
:func:`idsync.report.print_reconcile` prints the report.
"""

from __future__ import annotations

from idsync.reconcile.analysis import TargetFindings
from idsync.reconcile.fixes import HELD_PREFIX
from idsync.reconcile.reconciler import Reconciler, ReconcileReport
from idsync.report import print_reconcile

__all__ = ["HELD_PREFIX", "ReconcileReport", "Reconciler", "TargetFindings", "print_reconcile"]
