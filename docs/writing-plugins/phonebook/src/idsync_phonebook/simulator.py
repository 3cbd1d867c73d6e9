"""A simulator of the Phonebook API: the same paths, fields, auth and errors, data in memory.

Needs the ``[sandbox]`` extra (starlette, uvicorn). Run it on its own with
``python -m idsync_phonebook.simulator --port 8080``; it binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import threading
from typing import Any

from idsync.sandbox.simulator import Simulated, serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["PhonebookData", "create_app"]

FIELDS = ("employeeId", "displayName", "email", "phone", "department", "listed")
SEARCHABLE = ("employeeId", "email")


# --8<-- [start:data]
class PhonebookData:
    """The phone book's entries, in memory, safe to use from several threads."""

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, **fields: Any) -> dict[str, Any]:
        """Store a new entry (unlisted unless told) and return it."""
        with self._lock:
            entry = {"id": f"e-{next(self._ids)}", "listed": False, **fields}
            self.entries[entry["id"]] = entry
            return dict(entry)

    def find(self, filters: dict[str, str]) -> list[dict[str, Any]]:
        """The entries whose fields equal every filter."""
        with self._lock:
            return [
                dict(e)
                for e in self.entries.values()
                if all(str(e.get(k)) == v for k, v in filters.items())
            ]

    def get(self, entry_id: str) -> dict[str, Any] | None:
        """One entry, or None."""
        with self._lock:
            entry = self.entries.get(entry_id)
            return dict(entry) if entry else None

    def change(self, entry_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        """Set some fields of an entry; None when there is no such entry."""
        with self._lock:
            entry = self.entries.get(entry_id)
            if entry is None:
                return None
            entry.update(fields)
            return dict(entry)

    def remove(self, entry_id: str) -> bool:
        """Delete an entry; whether it existed."""
        with self._lock:
            return self.entries.pop(entry_id, None) is not None


# --8<-- [end:data]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


def _unknown(body: dict[str, Any]) -> JSONResponse | None:
    unknown = sorted(set(body) - set(FIELDS))
    return _error(400, f"unknown fields: {', '.join(unknown)}") if unknown else None


# --8<-- [start:app]
def create_app(data: PhonebookData, token: str) -> Simulated:
    """The Phonebook API over ``data``, accepting ``Authorization: Bearer <token>``."""

    def refused(request: Request) -> JSONResponse | None:
        if request.headers.get("authorization") != f"Bearer {token}":
            return _error(401, "invalid or missing token")
        return None

    async def entries(request: Request) -> Response:
        if (error := refused(request)) is not None:
            return error
        if request.method == "POST":
            body = await request.json()
            if (error := _unknown(body)) is not None:
                return error
            if not body.get("employeeId"):
                return _error(400, "employeeId is required")
            if data.find({"employeeId": str(body["employeeId"])}):
                return _error(409, f"an entry with employeeId {body['employeeId']} exists")
            return JSONResponse(data.add(**body), status_code=201)
        query = request.query_params
        found = data.find({k: v for k, v in query.items() if k in SEARCHABLE})
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 100))
        return JSONResponse({"items": found[offset : offset + limit], "total": len(found)})

    async def entry(request: Request) -> Response:
        if (error := refused(request)) is not None:
            return error
        entry_id = request.path_params["id"]
        if request.method == "DELETE":
            if data.remove(entry_id):
                return Response(status_code=204)
            return _error(404, f"entry {entry_id} not found")
        if request.method == "PATCH":
            body = await request.json()
            if (error := _unknown(body)) is not None:
                return error
            changed = data.change(entry_id, body)
        else:
            changed = data.get(entry_id)
        if changed is None:
            return _error(404, f"entry {entry_id} not found")
        return JSONResponse(changed)

    app = Starlette(
        routes=[
            Route("/api/entries", entries, methods=["GET", "POST"]),
            Route("/api/entries/{id}", entry, methods=["GET", "PATCH", "DELETE"]),
        ]
    )
    return Simulated(app)  # adds the request log, fault injection and /__sim__ endpoints


# --8<-- [end:app]


def main() -> None:
    """Serve an empty phone book on 127.0.0.1 until Ctrl-C."""
    parser = argparse.ArgumentParser(description="The Phonebook API simulator.")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--token", default="phonebook-token")
    args = parser.parse_args()
    with serve(create_app(PhonebookData(), args.token), args.port) as server:
        print(f"Phonebook simulator on {server.url} (token {args.token})")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
