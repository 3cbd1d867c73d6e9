"""Enforce: carry out a target's plan through its plugin, recording every action as it goes.

The plan already read the target: it links the accounts it found (``correlate``) and chose
free unique values, so a create creates without looking again. Resources run first; then
persons run concurrently (``concurrency`` workers), each person's actions in order; a person
waits only for the manager whose account this run creates, not for a whole wave.

Every action that calls the target is written to the state store as *started* before its hook
is called and *finished* with its audit record and its effect on the shadow in one transaction
after, so a crash leaves at most the few actions in flight *in doubt*, which the next plan
resolves by reading the target. A state store that fails stops the run at once: the actions in
flight finish, no new call starts, and nothing is recorded as the target's failure.

A failed action fails only itself (a failed create also the person's actions that need the
account); the next run plans it again. A person a threshold holds is held whole. An account
that turns out to be gone from the target (an update, enable or grant answers *not found*)
loses its link, so the next run links or creates it again. An action the plugin reports
*blocked* waits, recorded once, until what it would write changes; attributes a target refuses
of an update that otherwise succeeded are recorded that way too.
"""

from idsync.correlation import value_at
from idsync.enforce.pool import Enforcer
from idsync.state import StoreFailed

__all__ = ["Enforcer", "StoreFailed", "value_at"]
