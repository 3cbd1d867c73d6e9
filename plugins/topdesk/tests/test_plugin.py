"""The plugin as the engine sees it: about, hook names, settings, connection test, resilience."""

from __future__ import annotations

import socket
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any
from urllib.parse import parse_qs

import pluggy
import pytest
from idsync import ApiError, Correlation, HookContext, PluginKind, hookspecs
from idsync.sandbox.simulator import Faults, serve
from idsync_topdesk import TopdeskPlugin, TopdeskSettings
from idsync_topdesk.client import TopdeskClient
from idsync_topdesk.simulator import TopdeskSimulator
from pydantic import ValidationError

MakePlugin = Callable[..., TopdeskPlugin]
Seed = Callable[..., dict[str, Any]]


def ctx(**values: Any) -> HookContext:
    return HookContext(system="topdesk", **values)


def test_about_describes_a_source_and_target_with_resource_kinds() -> None:
    about = TopdeskPlugin().idsync_about()
    assert about.name == "topdesk"
    assert about.kind is PluginKind.BOTH
    assert about.settings is TopdeskSettings
    assert about.permission_kinds == ["branch", "department", "budgetholder"]
    (entry,) = [e for e in entry_points(group="idsync.plugins") if e.name == "topdesk"]
    assert entry.load() is TopdeskPlugin


def test_every_hook_matches_a_spec() -> None:
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    plugin = TopdeskPlugin(
        settings=TopdeskSettings(base_url="https://x.topdesk.net", username="u", password="p")
    )
    manager.register(plugin)
    manager.check_pending()
    implemented = {impl.name for impl in manager.get_hookcallers(plugin) or []}
    assert {
        "idsync_about",
        "idsync_check_connection",
        "idsync_persons",
        "idsync_departments",
        "idsync_correlate",
        "idsync_attribute_available",
        "idsync_create",
        "idsync_update",
        "idsync_enable",
        "idsync_disable",
        "idsync_delete",
        "idsync_accounts",
        "idsync_resource",
        "idsync_sandbox",
    } <= implemented


def test_settings_validate_and_keep_the_password_secret() -> None:
    settings = TopdeskSettings(
        base_url="https://acme.topdesk.net/tas/api/", username="api", password="hunter2"
    )
    assert settings.base_url == "https://acme.topdesk.net"
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in settings.model_dump_json()
    schema = TopdeskSettings.model_json_schema()
    assert schema["properties"]["password"]["format"] == "password"
    with pytest.raises(ValidationError):
        TopdeskSettings(base_url="acme.topdesk.net", username="api", password="x")
    with pytest.raises(ValidationError):
        TopdeskSettings(base_url="https://a", username="api", password="x", typo=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        TopdeskSettings(
            base_url="https://a", username="api", password="x", missing_department="skip"
        )  # type: ignore[arg-type]


def test_check_connection_passes_with_good_credentials(
    plugin: TopdeskPlugin, sim: TopdeskSimulator
) -> None:
    result = plugin.idsync_check_connection(ctx=ctx())
    assert result.success, result.messages
    assert sim.app.log.writes() == []


@pytest.mark.parametrize("paging", ["v2", "classic"])
def test_check_connection_probes_the_configured_paging_form(
    make_plugin: MakePlugin, sim: TopdeskSimulator, seed: Seed, paging: str
) -> None:
    seed("1")
    plugin = make_plugin(paging=paging)
    assert plugin.idsync_check_connection(ctx=ctx()).success
    probe = sim.app.log.all()[0]
    assert probe.path == "/tas/api/persons"
    params = parse_qs(probe.query)
    if paging == "v2":
        assert params["pageSize"] == ["1"]
        # The very field list the source and the accounts import send, so a field TOPdesk
        # does not serve fails the check and not the first run.
        list(plugin.idsync_accounts(ctx=ctx()))
        imports = [parse_qs(r.query)["fields"] for r in sim.app.log.all()[2:]]
        assert imports
        assert all(f == params["fields"] for f in imports)
        assert "gender" not in params["fields"][0].split(",")
    else:
        assert params == {"start": ["0"], "page_size": ["1"]}


def test_check_connection_fails_when_the_configured_paging_is_not_served() -> None:
    sim = TopdeskSimulator.create("u", "p", v2_collection=False)
    with serve(sim.app) as server:
        settings = {"base_url": server.url, "username": "u", "password": "p", "retries": 0}
        v2 = TopdeskPlugin(settings=TopdeskSettings(**settings))
        classic = TopdeskPlugin(settings=TopdeskSettings(**settings, paging="classic"))
        failed = v2.idsync_check_connection(ctx=ctx())
        assert not failed.success
        assert "406" in failed.messages[0]
        assert classic.idsync_check_connection(ctx=ctx()).success


def test_check_connection_names_refused_credentials_without_the_secret(
    make_plugin: MakePlugin, sim: TopdeskSimulator
) -> None:
    result = make_plugin(password="not-the-password").idsync_check_connection(ctx=ctx())
    assert not result.success
    assert result.messages == ["TOPdesk refused the credentials (HTTP 401)"]
    assert [r.status for r in sim.app.log.all()] == [401]


def test_check_connection_names_a_missing_archiving_reason(make_plugin: MakePlugin) -> None:
    result = make_plugin(archiving_reason="Met pensioen").idsync_check_connection(ctx=ctx())
    assert not result.success
    assert "'Met pensioen' does not exist" in result.messages[0]
    assert "Persoon uit organisatie" in result.messages[0]


def test_check_connection_names_an_unreachable_host() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    plugin = TopdeskPlugin(
        settings=TopdeskSettings(
            base_url=f"http://127.0.0.1:{port}", username="u", password="p", retries=0
        )
    )
    result = plugin.idsync_check_connection(ctx=ctx())
    assert not result.success
    assert result.messages[0].startswith("TOPdesk is unreachable")


def test_lifecycle_calls_with_wrong_credentials_fail_without_the_secret(
    make_plugin: MakePlugin, seed: Seed
) -> None:
    target = seed("1")
    plugin = make_plugin(password="wrong-secret-value")
    with pytest.raises(Exception, match="401") as raised:
        plugin.idsync_disable(ctx=ctx(reference=target["id"]))
    assert "wrong-secret-value" not in str(raised.value)


def test_transient_server_errors_are_retried() -> None:
    sim = TopdeskSimulator.create("u", "p", faults=Faults(error_rate=0.4, seed=3))
    sim.store.add_branch("Baarn")
    target = sim.store.seed_person(branch="Baarn", surName="Jansen", employeeNumber="2001")
    correlation = Correlation(
        person_field="external_id", account_field="employeeNumber", value="2001"
    )
    with serve(sim.app) as server:
        plugin = TopdeskPlugin(
            settings=TopdeskSettings(
                base_url=server.url, username="u", password="p", retries=10, backoff=0.001
            )
        )
        for _ in range(5):
            (account,) = plugin.idsync_correlate(ctx=ctx(correlation=correlation))
            assert account.reference == target["id"]
        assert plugin.idsync_disable(ctx=ctx(reference=target["id"])).success
        assert plugin.idsync_enable(ctx=ctx(reference=target["id"])).success
    faulted = [r for r in sim.app.log.all() if r.fault == "error"]
    assert len(faulted) >= 2, "the fault injection should have failed some requests"
    assert sim.store.person(target["id"])["status"] == "person"


def test_a_404_that_is_not_topdesks_is_no_missing_person() -> None:
    """An HTML 404 (a wrong base_url, a proxy) must not make disable report 'already gone'."""

    async def proxy(scope: Any, receive: Any, send: Any) -> None:
        body = b"<html><body>404 Not Found</body></html>"
        headers = [(b"content-type", b"text/html")]
        await send({"type": "http.response.start", "status": 404, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    with serve(proxy) as server:
        plugin = TopdeskPlugin(
            settings=TopdeskSettings(base_url=server.url, username="u", password="p", retries=0)
        )
        with pytest.raises(ApiError, match="without TOPdesk's JSON body"):
            plugin.idsync_disable(ctx=ctx(reference="52235d88-1743-4c01-89a0-534b96a10cbf"))


def test_an_html_page_instead_of_persons_is_an_api_error_naming_the_call() -> None:
    """A login page or proxy answer with status 200 fails the read as an ApiError, not as a
    bare JSON decoding error."""

    async def login_page(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/html")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"<html>Sign in</html>"})

    with serve(login_page) as server:
        client = TopdeskClient(
            TopdeskSettings(base_url=server.url, username="u", password="p", retries=0)
        )
        try:
            with pytest.raises(ApiError, match="not JSON") as read:
                list(client.iter_persons("classic"))
            assert "/persons" in str(read.value)
            with pytest.raises(ApiError, match="not JSON"):
                client.person("52235d88-1743-4c01-89a0-534b96a10cbf")
        finally:
            client.close()
