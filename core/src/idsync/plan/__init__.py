"""Plan: the difference between what should be and what was applied, as ordered actions.

For each target, each person's actions come in lifecycle order (create, update, enable,
revoke, grant, disable, delete), grouped under the person's *transition* (joiner, mover,
leaver, returner, vanished, retired; see :mod:`idsync.lifecycle`); the target's resources come
before everyone's actions. Updates carry only the changed attributes with before and after; an
update that would change nothing is not planned. Thresholds are checked on the plan
(:mod:`idsync.thresholds`): every person counted by an exceeded threshold is held with all of
their actions, and everyone else goes on.
"""

from idsync.actions import Action, Hold, Plan, TargetPlan
from idsync.evaluate import MANAGER_KEY
from idsync.plan.known import Known as Known
from idsync.plan.make import make_plan

__all__ = ["Action", "Hold", "Plan", "TargetPlan", "make_plan"]
__all__ += ["MANAGER_KEY"]
