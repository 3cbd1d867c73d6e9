"""The plugin as the engine meets it: about, hooks, settings, the sandbox hook and the CLI."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

import httpx
import pluggy
import pytest
from idsync import Blocked, Person, PluginKind, hookspecs
from idsync.sandbox.simulator import serve
from idsync.sandbox.world import World, generate_world
from idsync_afas import AfasError, AfasPlugin, AfasSettings, AfasUsersPlugin, afas_token_header
from pydantic import ValidationError

if TYPE_CHECKING:
    from conftest import Kit


def test_entry_point_and_about() -> None:
    (entry,) = [e for e in entry_points(group="idsync.plugins") if e.name == "afas"]
    assert entry.load() is AfasPlugin
    about = AfasPlugin().idsync_about()
    assert (about.name, about.kind, about.settings) == ("afas", PluginKind.BOTH, AfasSettings)
    schema = AfasSettings.model_json_schema()
    assert schema["properties"]["token"]["writeOnly"] is True
    assert schema["properties"]["users_connector"]["default"] == "T4E_HelloID_Users_v2"
    assert schema["properties"]["positions_mode"]["enum"] == ["positions", "employments_only"]


def test_hooks_match_their_specs(kit: type[Kit]) -> None:
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.register(
        AfasPlugin(
            AfasSettings(
                base_url="https://12345.rest.afas.online/profitrestservices", token=kit.TOKEN
            )
        )
    )
    manager.check_pending()
    implemented = {name for name in dir(AfasPlugin) if name.startswith("idsync_")}
    assert {
        "idsync_persons",
        "idsync_departments",
        "idsync_correlate",
        "idsync_update",
        "idsync_delete",
    } <= implemented
    assert "idsync_enable" not in implemented  # a write-back target has no access to give


def test_only_managed_users_give_the_write_back_enable_and_disable(kit: type[Kit]) -> None:
    base = {"base_url": "https://12345.rest.afas.online/profitrestservices", "token": kit.TOKEN}

    def hooks(plugin: AfasPlugin) -> set[str]:
        manager = pluggy.PluginManager(hookspecs.PROJECT)
        manager.add_hookspecs(hookspecs)
        manager.register(plugin)
        manager.check_pending()
        return {c.name for c in manager.get_hookcallers(plugin) or []}

    plain = AfasPlugin(settings=AfasSettings(**base))
    managed = AfasPlugin(settings=AfasSettings(**base, manage_users=True, relation_number="12345"))
    assert isinstance(managed, AfasUsersPlugin)
    assert type(plain) is AfasPlugin
    assert {"idsync_enable", "idsync_disable"} & hooks(plain) == set()
    assert {"idsync_enable", "idsync_disable"} <= hooks(managed)
    assert hooks(managed) - hooks(plain) == {"idsync_enable", "idsync_disable"}


def test_managed_users_need_the_relation_number() -> None:
    token = "<token><version>1</version><data>X</data></token>"
    with pytest.raises(ValidationError, match="manage_users needs relation_number"):
        AfasSettings(base_url="https://x", token=token, manage_users=True)
    with pytest.raises(ValidationError, match="digits only"):
        AfasSettings(base_url="https://x", token=token, relation_number="12345.")


def test_settings_validation_never_echoes_the_token() -> None:
    secret = "<token><version>1</version><data>SECRETDATA</data></token>"
    with pytest.raises(ValidationError) as caught:
        AfasSettings(base_url="12345.rest.afas.online", token="SECRETDATA")
    text = str(caught.value)
    assert "base_url" in text
    assert "whole token XML" in text
    assert "SECRETDATA" not in text
    settings = AfasSettings(
        base_url="https://12345.rest.afas.online/profitrestservices/", token=secret
    )
    assert settings.base_url.endswith("/profitrestservices")
    assert "SECRETDATA" not in repr(settings)
    assert (
        afas_token_header(secret)
        == "AfasToken PHRva2VuPjx2ZXJzaW9uPjE8L3ZlcnNpb24+PGRhdGE+U0VDUkVUREFUQTwvZGF0YT48L3Rva2VuPg=="
    )
    with pytest.raises(ValidationError, match="unknown fields"):
        AfasSettings(base_url="https://x", token=secret, clear_on_delete=["Geboortenaam"])
    with pytest.raises(ValidationError):
        AfasSettings(base_url="https://x", token=secret, extra_setting=1)  # type: ignore[call-arg]


def test_unconfigured_plugin_refuses_lifecycle_calls(kit: type[Kit]) -> None:
    with pytest.raises(RuntimeError, match="not configured"):
        AfasPlugin().idsync_persons(kit.ctx())


def test_sandbox_hook_serves_the_world_and_its_bad_rows(kit: type[Kit]) -> None:
    world = generate_world(size=700, seed=7, today=kit.TODAY)
    assert len(world.bad_persons) == 7
    sandbox = AfasPlugin().idsync_sandbox(world)
    assert sandbox is not None
    assert (sandbox.name, sandbox.mount) == ("afas", "/profitrestservices")
    with serve(sandbox.app) as server:
        env = {k: v.replace("{url}", server.url + sandbox.mount) for k, v in sandbox.env.items()}
        plugin = AfasPlugin(
            AfasSettings(base_url=env["AFAS_BASE_URL"], token=env["AFAS_TOKEN"], page_size=250)
        )
        persons: dict[str, Person] = {}
        blocked: list[Blocked] = []
        for item in plugin.idsync_persons(kit.ctx()):
            if isinstance(item, Blocked):
                blocked.append(item)
            else:
                persons[item.external_id] = item
    assert sorted(b.person for b in blocked) == sorted(b["external_id"] for b in world.bad_persons)
    assert all(b.problem for b in blocked)
    # every valid person of the world comes back, with the contracts inside the window
    assert set(persons) == {p.external_id for p in world.persons}
    for expected in world.persons:
        got = persons[expected.external_id]
        assert got.name == expected.name
        assert got.manager == expected.manager
        window = {c.external_id for c in got.contracts}
        assert window <= {c.external_id for c in expected.contracts}
        want = [
            c.model_dump(exclude={"location"})
            for c in expected.contracts
            if c.external_id in window
        ]
        have = [c.model_dump(exclude={"location"}) for c in got.contracts]
        assert sorted(have, key=str) == sorted(want, key=str)


def test_standalone_simulator(kit: type[Kit]) -> None:
    command = [
        sys.executable,
        "-m",
        "idsync_afas.simulator",
        "--port",
        "0",
        "--size",
        "30",
        "--seed",
        "2",
        "--token",
        kit.TOKEN,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(
            r"(http://127\.0\.0\.1:\d+/profitrestservices) \((\d+) employees, (\d+) bad rows\)",
            line,
        )
        assert match, line
        url, employees, bad = match.group(1), int(match.group(2)), int(match.group(3))
        assert (employees, bad) == (30, 1)
        with httpx.Client(base_url=url, timeout=5) as client:
            assert client.get("/connectors/T4E_HelloID_Users_v2").status_code == 401
            response = client.get(
                "/connectors/T4E_HelloID_Users_v2",
                params={"take": 100},
                headers={"Authorization": afas_token_header(kit.TOKEN)},
            )
            assert response.status_code == 200
            assert 25 <= len(response.json()["rows"]) <= 31
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_world_today_drives_the_window(kit: type[Kit]) -> None:
    """The simulator's ±3 months window is counted from the world's ``today``."""
    person = kit.person(
        "7001",
        {"given": "Tim", "family": "Tijd"},
        [kit.contract("T-1", "HR", None, start=kit.days(80))],
    )
    for today, listed in ((kit.TODAY, True), (kit.TODAY - dt.timedelta(days=30), False)):
        sandbox = AfasPlugin().idsync_sandbox(World(seed=0, today=today, persons=[person]))
        assert sandbox is not None
        with serve(sandbox.app) as server:
            plugin = AfasPlugin(
                AfasSettings(base_url=server.url + sandbox.mount, token=sandbox.env["AFAS_TOKEN"])
            )
            found = [
                p.external_id
                for p in plugin.idsync_persons(kit.ctx())
                if not isinstance(p, Blocked)
            ]
        assert found == (["7001"] if listed else [])


def test_a_server_that_ignores_paging_is_caught(kit: type[Kit]) -> None:
    """A GetConnector that answers every page alike would make paging loop forever."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def same_page(request: Request) -> JSONResponse:
        rows = [{"ExternalId": f"U{i}", "DisplayName": f"Unit {i}"} for i in range(3)]
        return JSONResponse({"skip": 0, "take": 3, "rows": rows})

    app = Starlette(routes=[Route("/profitrestservices/connectors/{name}", same_page)])
    with serve(app) as server:
        plugin = AfasPlugin(
            AfasSettings(base_url=server.url + "/profitrestservices", token=kit.TOKEN, page_size=3)
        )
        with pytest.raises(AfasError, match="does not follow skip=3&take=3"):
            list(plugin.idsync_departments(kit.ctx()))
        plugin.close()
