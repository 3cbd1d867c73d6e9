"""Recorded requests: what a plugin sent, step by step, held against a checked-in file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from idsync.sandbox.simulator import RECORD_ENV, RequestRecording, Simulated, serve


async def _echo(scope: Any, receive: Any, send: Any) -> None:
    status = 201 if scope["method"] == "POST" else 200
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def _lifecycle(client: httpx.Client, recording: RequestRecording, name: str) -> None:
    client.get("/users", params={"skip": 0, "take": 2, "tag": ["a", "b"]})
    recording.step("read")
    client.post("/users", json={"userName": name, "password": "S3cret!", "nested": {"Pw": "x"}})
    recording.step("create")


def test_steps_are_recorded_compared_and_rewritten_on_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "fidelity" / "requests.json"
    app = Simulated(_echo)
    with serve(app) as server, httpx.Client(base_url=server.url) as client:
        client.get("/before")  # not part of any step: the recording starts empty
        monkeypatch.setenv(RECORD_ENV, "1")
        recording = RequestRecording(target, app.log, mask={"password", "Pw"})
        _lifecycle(client, recording, "a@example.org")
        recording.verify()
        written = json.loads(target.read_text(encoding="utf-8"))
        assert written == [
            {
                "step": "read",
                "requests": [
                    {
                        "method": "GET",
                        "path": "/users",
                        "query": {"skip": "0", "take": "2", "tag": ["a", "b"]},
                        "body": None,
                        "status": 200,
                    }
                ],
            },
            {
                "step": "create",
                "requests": [
                    {
                        "method": "POST",
                        "path": "/users",
                        "query": {},
                        "body": {
                            "userName": "a@example.org",
                            "password": "<masked>",
                            "nested": {"Pw": "<masked>"},
                        },
                        "status": 201,
                    }
                ],
            },
        ]

        monkeypatch.delenv(RECORD_ENV)
        same = RequestRecording(target, app.log, mask={"password", "Pw"})
        _lifecycle(client, same, "a@example.org")
        same.verify()  # the same requests: passes

        changed = RequestRecording(target, app.log, mask={"password", "Pw"})
        _lifecycle(client, changed, "b@example.org")
        with pytest.raises(AssertionError) as caught:
            changed.verify()
    message = str(caught.value)
    assert f"{RECORD_ENV}=1" in message
    assert '-          "userName": "a@example.org",' in message
    assert '+          "userName": "b@example.org",' in message


def test_a_missing_file_says_how_to_make_it(tmp_path: Path) -> None:
    recording = RequestRecording(tmp_path / "none.json", Simulated(_echo).log)
    recording.step("nothing")
    with pytest.raises(AssertionError, match=f"does not exist; run the test with {RECORD_ENV}=1"):
        recording.verify()
