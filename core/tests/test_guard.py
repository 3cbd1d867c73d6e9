"""``idsync.guarded`` and the ``ActionResult`` constructors plugins share: expected errors fail
one action with its name, everything else passes through, and pluggy still calls the hook."""

from __future__ import annotations

import pytest
from idsync import ActionResult, ApiError, HookContext, guarded, hookimpl
from idsync.plugins import new_manager


class Refused(Exception):
    """A plugin's own error class (a directory's result code, say)."""


class _Plugin:
    def __init__(self, error: Exception | None) -> None:
        self.error = error
        self.calls: list[str] = []

    @hookimpl
    @guarded("create user")
    def idsync_create(self, ctx: HookContext) -> ActionResult:
        """Create, or raise what the test asks for."""
        self.calls.append(ctx.system)
        if self.error is not None:
            raise self.error
        return ActionResult(reference="u1")

    @hookimpl
    @guarded("delete user", Refused, describe=lambda error: f"code {error.args[0]}")
    def idsync_delete(self, ctx: HookContext) -> ActionResult:
        """Delete, or raise what the test asks for."""
        if self.error is not None:
            raise self.error
        return ActionResult.gone(f"{ctx.reference} was already gone", reference=ctx.reference)


def _create(plugin: _Plugin) -> ActionResult:
    manager = new_manager()
    manager.register(plugin)
    result: ActionResult = manager.hook.idsync_create(ctx=HookContext(system="t"))
    return result  # a first-result hook: one answer


def test_a_hook_that_succeeds_answers_through_pluggy() -> None:
    plugin = _Plugin(None)
    assert _create(plugin).reference == "u1"
    assert plugin.calls == ["t"]  # the wrapped hook got its ctx by name


@pytest.mark.parametrize(
    ("error", "retriable"),
    [
        (ApiError("500 Internal Server Error", method="POST", path="/users", retriable=True), True),
        (ApiError("400 Bad Request: userName taken", method="POST", path="/users"), False),
    ],
)
def test_an_api_error_fails_the_action_naming_it(error: ApiError, retriable: bool) -> None:
    result = _create(_Plugin(error))
    assert not result.success
    assert result.retriable is retriable
    assert result.messages == [f"create user failed: {error}"]


def test_another_exception_passes_through_to_the_engine() -> None:
    with pytest.raises(KeyError):
        _create(_Plugin(KeyError("id")))


def test_the_errors_caught_and_their_wording_are_the_plugins_choice() -> None:
    manager = new_manager()
    manager.register(_Plugin(Refused(53)))
    result = manager.hook.idsync_delete(ctx=HookContext(system="t", reference="u1"))
    assert (result.success, result.retriable) == (False, False)
    assert result.messages == ["delete user failed: code 53"]
    manager = new_manager()
    manager.register(_Plugin(ApiError("404", status=404)))  # not in this hook's errors
    with pytest.raises(ApiError):
        manager.hook.idsync_delete(ctx=HookContext(system="t", reference="u1"))


def test_gone_is_success_with_a_warning() -> None:
    manager = new_manager()
    manager.register(_Plugin(None))
    result = manager.hook.idsync_delete(ctx=HookContext(system="t", reference="u1"))
    assert (result.success, result.not_found, result.reference) == (True, True, "u1")
    assert result.messages == ["warning: u1 was already gone"]


def test_failure_keeps_every_message_and_flag() -> None:
    result = ActionResult.failure("one", "two", not_found=True, retriable=True)
    assert (result.success, result.not_found, result.retriable) == (False, True, True)
    assert result.messages == ["one", "two"]
