"""The simulator speaks HelloID's API: auth, paging, answers, errors; and it starts on its own."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from idsync.sandbox.simulator import SimulatorServer
from idsync_helloid.simulator import HelloIDStore


@pytest.fixture
def api(server: SimulatorServer, credentials: tuple[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server.url}/api/v1", auth=credentials, timeout=5) as client:
        yield client


def test_a_wrong_key_or_no_auth_is_401(
    server: SimulatorServer, credentials: tuple[str, str]
) -> None:
    url = f"{server.url}/api/v1/users"
    assert httpx.get(url, auth=credentials).status_code == 200
    assert httpx.get(url, auth=(credentials[0], "wrong")).status_code == 401
    answer = httpx.get(url)
    assert answer.status_code == 401
    assert "denied" in answer.json()["message"]
    assert httpx.get(url, headers={"Authorization": "Basic !!!"}).status_code == 401


def test_users_by_guid_or_name_and_user_not_found(
    api: httpx.Client, add_user: Callable[..., str]
) -> None:
    guid = add_user("j.doe@enyoi.org")
    assert api.get(f"/users/{guid}").json()["userName"] == "j.doe@enyoi.org"
    user = api.get("/users/J.Doe%40enyoi.org").json()
    assert user["userGUID"] == guid
    assert set(user) >= {
        "isEnabled",
        "isLocked",
        "isDeleted",
        "source",
        "userAttributes",
        "managedByUserGUID",
    }
    missing = api.get("/users/nobody@enyoi.org")
    assert missing.status_code == 404
    assert missing.json() == {"message": "User not found"}


def test_skip_take_paging_and_soft_deleted_listing(
    api: httpx.Client, add_user: Callable[..., str]
) -> None:
    guids = [add_user(f"user{i}@enyoi.org") for i in range(7)]
    pages = [api.get("/users", params={"skip": s, "take": 3}).json() for s in (0, 3, 6)]
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [u["userGUID"] for p in pages for u in p] == guids
    assert len(api.get("/users").json()) == 7
    assert api.delete(f"/users/{guids[0]}").status_code == 204
    assert api.delete(f"/users/{guids[0]}").status_code == 404
    # A lookup still finds it, flagged, as HelloID's connector expects (it reads IsDeleted).
    assert api.get(f"/users/{guids[0]}").json()["isDeleted"] is True
    assert api.get("/users/user0@enyoi.org").json()["userGUID"] == guids[0]
    assert guids[0] not in {u["userGUID"] for u in api.get("/users").json()}
    deleted = api.get("/users", params={"isDeleted": "true", "skip": 0, "take": 10}).json()
    assert [(u["userGUID"], u["isDeleted"], u["isEnabled"]) for u in deleted] == [
        (guids[0], True, False)
    ]
    assert api.get("/users", params={"take": "many"}).status_code == 400


def test_create_validates_and_refuses_a_duplicate_user_name(api: httpx.Client) -> None:
    body = {
        "userName": "a.b@enyoi.org",
        "firstName": "A",
        "isEnabled": False,
        "password": "Sup3r-secret!",
    }
    created = api.post("/users", json=body)
    assert created.status_code == 200
    assert "password" not in created.json()
    duplicate = api.post("/users", json={**body, "userName": "A.B@enyoi.org"})
    assert duplicate.status_code == 409
    assert "already exists" in duplicate.json()["message"]
    assert (
        api.post("/users", json={"userName": "x@enyoi.org", "isEnabled": "false"}).status_code
        == 400
    )
    assert (
        api.post(
            "/users", json={"userName": "x@enyoi.org", "userAttributes.title": "T"}
        ).status_code
        == 400
    )
    assert (
        api.post("/users", json={"userName": "x@enyoi.org", "password": "short"}).status_code == 400
    )
    assert api.post("/users", json={"firstName": "No name"}).status_code == 400
    assert api.post("/users", content=b"{not json").status_code == 400


def test_put_renames_only_through_identifier_object(
    api: httpx.Client, add_user: Callable[..., str]
) -> None:
    guid = add_user("old@enyoi.org")
    add_user("taken@enyoi.org")
    current = api.get(f"/users/{guid}").json()
    assert (
        api.put(f"/users/{guid}", json={**current, "userName": "new@enyoi.org"}).status_code == 400
    )
    taken = api.put(
        f"/users/{guid}", json={**current, "IdentifierObject": {"userName": "taken@enyoi.org"}}
    )
    assert taken.status_code == 409
    renamed = api.put(
        f"/users/{guid}", json={**current, "IdentifierObject": {"userName": "new@enyoi.org"}}
    )
    assert renamed.json()["userName"] == "new@enyoi.org"
    assert api.put(f"/users/{guid}", json={**current, "managedByUserGUID": guid}).status_code == 400


def test_put_replaces_the_whole_user(api: httpx.Client, add_user: Callable[..., str]) -> None:
    guid = add_user("whole@enyoi.org")
    current = api.put(
        f"/users/{guid}",
        json={
            **api.get(f"/users/{guid}").json(),
            "firstName": "Wil",
            "isEnabled": True,
            "userAttributes": {"department": "Sales", "title": "Verkoper"},
        },
    ).json()
    assert (current["firstName"], current["userAttributes"]["title"]) == ("Wil", "Verkoper")
    # A partial body is no patch: what it leaves out is reset.
    partial = api.put(f"/users/{guid}", json={"userName": "whole@enyoi.org", "lastName": "Ho"})
    assert partial.status_code == 200
    after = api.get(f"/users/{guid}").json()
    assert (after["lastName"], after["firstName"], after["isEnabled"]) == ("Ho", None, False)
    assert after["userAttributes"] == {}
    no_name = api.put(f"/users/{guid}", json={"isEnabled": True})
    assert no_name.status_code == 400
    assert no_name.json() == {"message": "Field 'userName' is required"}
    unknown = api.put(f"/users/{guid}", json={**after, "favouriteColour": "red"})
    assert unknown.json() == {"message": "Unknown field 'favouriteColour'"}
    wrong = api.put(f"/users/{guid}", json={**after, "isEnabled": "true"})
    assert wrong.json() == {"message": "Field 'isEnabled' must be true or false"}
    nested = api.put(f"/users/{guid}", json={**after, "userAttributes": {"a": {"b": 1}}})
    assert nested.json() == {"message": "Field 'userAttributes' must be an object of plain values"}
    assert api.get(f"/users/{guid}").json() == after


def test_a_soft_deleted_user_is_restored_with_is_soft_deleted_false(
    api: httpx.Client, add_user: Callable[..., str]
) -> None:
    guid = add_user("back@enyoi.org")
    assert api.delete(f"/users/{guid}").status_code == 204
    deleted = api.get("/users/back@enyoi.org").json()
    read_only = api.put(f"/users/{guid}", json={**deleted, "isDeleted": False})
    assert read_only.status_code == 400
    assert "isSoftDeleted" in read_only.json()["message"]
    delete_by_put = api.put(f"/users/{guid}", json={**deleted, "isSoftDeleted": True})
    assert delete_by_put.status_code == 200  # already deleted: stays so
    body = {k: v for k, v in deleted.items() if k != "isDeleted"}
    restored = api.put(f"/users/{guid}", json={**body, "isSoftDeleted": False})
    assert restored.status_code == 200
    assert (restored.json()["isDeleted"], restored.json()["userGUID"]) == (False, guid)
    assert api.get("/users/back@enyoi.org").json()["isDeleted"] is False
    assert api.put(f"/users/{guid}", json={**body, "isSoftDeleted": True}).status_code == 400
    # A name a live user holds cannot come back.
    assert api.delete(f"/users/{guid}").status_code == 204
    other = add_user("back@enyoi.org")
    assert api.get("/users/back@enyoi.org").json()["userGUID"] == other
    clash = api.put(f"/users/{guid}", json={**body, "isSoftDeleted": False})
    assert clash.status_code == 409


def test_group_membership_and_product_writes_refuse_unknown_fields_and_wrong_types(
    api: httpx.Client, store: HelloIDStore, add_user: Callable[..., str]
) -> None:
    guid = add_user("w@enyoi.org")
    sales = api.get("/groups/department_SALES").json()["groupGuid"]
    laptop = next(p["productId"] for p in api.get("/products").json() if p["name"] == "Laptop")
    request = {"requestedProductGUID": laptop, "requestedForUserGUID": guid}
    unassign = {"productGUID": laptop, "userGUID": guid, "executeActions": True}
    refused = [
        ("/groups", {"name": "G", "colour": "red"}, "Unknown field 'colour'"),
        ("/groups", {"name": 5}, "Field 'name' must be a string"),
        (
            "/groups",
            {"name": "G", "userGuids": guid},
            "Field 'userGuids' must be a list of strings",
        ),
        (f"/users/{guid}/groups", {"groupGuid": sales, "role": "x"}, "Unknown field 'role'"),
        (f"/users/{guid}/groups", {"groupGuid": 1}, "Field 'groupGuid' must be a string"),
        (f"/groups/{sales}/users", {"userGUID": guid, "x": 1}, "Unknown field 'x'"),
        ("/selfservice/products/request", {**request, "urgent": True}, "Unknown field 'urgent'"),
        (
            "/selfservice/products/request",
            {**request, "comment": 3},
            "Field 'comment' must be a string",
        ),
        (
            "/product-assignment/unassign/by-product",
            {**unassign, "executeActions": "yes"},
            "Field 'executeActions' must be true or false",
        ),
    ]
    for path, body, message in refused:
        answer = api.post(path, json=body)
        assert answer.status_code == 400, path
        assert answer.json() == {"message": message}
    assert not store.has_group("G")
    assert store.memberships(guid) == set()
    assert store.products_of(guid) == []


def test_groups_members_products_and_assignments(
    api: httpx.Client, store: HelloIDStore, add_user: Callable[..., str]
) -> None:
    guid = add_user("m@enyoi.org")
    groups = api.get("/groups").json()
    assert "users" not in groups[0]
    sales = api.get("/groups/department_SALES").json()
    assert sales["users"] == []
    assert (
        api.post(f"/users/{guid}/groups", json={"groupGuid": sales["groupGuid"]}).status_code == 204
    )
    assert api.get(f"/groups/{sales['groupGuid']}").json()["users"] == [guid]
    assert api.delete(f"/users/{guid}/groups/{sales['groupGuid']}").status_code == 204
    again = api.delete(f"/users/{guid}/groups/{sales['groupGuid']}")
    assert again.status_code == 404
    assert api.post("/groups", json={"name": "DEPARTMENT_sales"}).status_code == 409
    assert api.get("/groups/nope").json() == {"message": "Group not found"}

    laptop = next(p for p in api.get("/products").json() if p["name"] == "Laptop")
    request = {
        "requestedProductGUID": laptop["productId"],
        "requestedByUserGUID": guid,
        "requestedForUserGUID": guid,
        "comment": "test",
    }
    assert api.post("/selfservice/products/request", json=request).status_code == 200
    mine = api.get(f"/product-assignment/by-user/{guid}").json()
    assert [(a["productGuid"], a["productName"], a["userGuid"]) for a in mine] == [
        (laptop["productId"], "Laptop", guid)
    ]
    assert len(api.get("/product-assignment").json()) == 1
    unassign = {"productGUID": laptop["productId"], "userGUID": guid, "executeActions": True}
    assert (
        api.post("/product-assignment/unassign/by-product", json=unassign).json()["unassigned"] == 1
    )
    assert store.products_of(guid) == []
    legacy = api.get("/selfservice/products").json()
    assert {p["selfServiceProductGUID"] for p in legacy} == set(store.products)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_it_starts_standalone_on_loopback_with_fault_flags() -> None:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "idsync_helloid.simulator",
            "--port",
            str(port),
            "--api-key",
            "K",
            "--api-secret",
            "S",
            "--rate-limit",
            "1000",
            "--latency",
            "0.01",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}/api/v1" in line
        url = f"http://127.0.0.1:{port}/api/v1/users"
        deadline = time.monotonic() + 10
        while True:
            try:
                answer = httpx.get(url, auth=("K", "S"))
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert answer.status_code == 200
        assert answer.json() == []
        assert httpx.get(url, auth=("K", "wrong")).status_code == 401
        faults = httpx.get(f"http://127.0.0.1:{port}/__sim__/faults").json()
        assert (faults["rate_limit"], faults["latency"]) == (1000, 0.01)
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
