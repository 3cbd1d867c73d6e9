"""Building blocks for vendor simulators: fault injection, a request log, a loopback server.

Every vendor plugin ships an ASGI simulator of its API (extra ``[sandbox]``). They share this
module: wrap the vendor app in :class:`Simulated` to get

- a request log (method, path, query, status, JSON body of writes), readable in-process or at
  ``GET /__sim__/requests`` (``DELETE`` clears it);
- fault injection (:class:`Faults`), settable in-process or with ``PUT /__sim__/faults``:
  latency, error rate (5xx before the work is done), timeouts and dropped connections (after
  the work is done, the hard case for a client), and a request-rate limit answered with 429
  and ``Retry-After``;
- :func:`serve`, which runs any simulator on 127.0.0.1 in a background thread;
- :class:`RequestRecording`, which holds the requests a plugin sent, step by step, against a
  checked-in file, so a change in what a plugin sends shows in review.

Servers only ever bind 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import math
import os
import random
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Iterator, MutableMapping
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

__all__ = [
    "RECORD_ENV",
    "Faults",
    "LoggedRequest",
    "RequestLog",
    "RequestRecording",
    "SandboxApp",
    "Simulated",
    "SimulatorServer",
    "serve",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK = "127.0.0.1"
CONTROL_PREFIX = "/__sim__"


@dataclass
class Faults:
    """What goes wrong, and how often. Rates are fractions of requests (0.0-1.0)."""

    latency: float = 0.0
    """Seconds added to every request."""
    error_rate: float = 0.0
    """Answer 500/502/503 before doing the work."""
    timeout_rate: float = 0.0
    """Do the work, then hold the answer for ``hang`` seconds (clients time out)."""
    drop_rate: float = 0.0
    """Do the work, then close the connection without a complete answer."""
    hang: float = 10.0
    rate_limit: float | None = None
    """Requests per second above which the answer is 429 with ``Retry-After``."""
    seed: int | None = None

    def update(self, values: dict[str, Any]) -> None:
        """Set the named fields; unknown names raise ``ValueError``."""
        known = {f.name for f in fields(self)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        for key, value in values.items():
            setattr(self, key, value)


@dataclass
class LoggedRequest:
    """One request as the simulator saw it."""

    method: str
    path: str
    query: str
    status: int
    body: Any = None
    fault: str | None = None
    at: float = field(default_factory=time.time)

    @property
    def is_write(self) -> bool:
        """Whether the request could change data."""
        return self.method not in ("GET", "HEAD", "OPTIONS")


class RequestLog:
    """A thread-safe, append-only list of requests."""

    def __init__(self) -> None:
        self._items: list[LoggedRequest] = []
        self._lock = threading.Lock()

    def append(self, item: LoggedRequest) -> None:
        """Record a request."""
        with self._lock:
            self._items.append(item)

    def clear(self) -> None:
        """Forget every request so far."""
        with self._lock:
            self._items.clear()

    def all(self) -> list[LoggedRequest]:
        """Every request, oldest first."""
        with self._lock:
            return list(self._items)

    def writes(self) -> list[LoggedRequest]:
        """The requests that could change data, faulted ones included."""
        return [r for r in self.all() if r.is_write]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


RECORD_ENV = "IDSYNC_RECORD_REQUESTS"
"""Set to ``1`` to (re)write the files of every :class:`RequestRecording` instead of
comparing with them."""

MASKED = "<masked>"


def _masked(value: Any, keys: Collection[str]) -> Any:
    if isinstance(value, dict):
        return {k: MASKED if k in keys else _masked(v, keys) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, keys) for v in value]
    return value


class RequestRecording:
    """The requests a simulator received, step by step, held against a checked-in file.

    A fidelity test runs a plugin through a lifecycle and calls :meth:`step` after each part;
    each step takes the requests logged since the one before (method, path, decoded query,
    JSON body, status). :meth:`verify` compares them with the file and fails with a diff, so a
    change in what the plugin sends is seen in review; with ``IDSYNC_RECORD_REQUESTS=1`` in
    the environment it writes the file instead. Values under the keys in ``mask`` (generated
    passwords, say) are replaced by ``<masked>`` wherever they occur in a body.
    """

    def __init__(self, path: Path, log: RequestLog, *, mask: Collection[str] = ()) -> None:
        self.path = path
        self.log = log
        self.mask = frozenset(mask)
        self.steps: list[dict[str, Any]] = []
        log.clear()

    def _request(self, item: LoggedRequest) -> dict[str, Any]:
        pairs = parse_qsl(item.query, keep_blank_values=True)
        query: dict[str, Any] = {}
        for key, value in pairs:
            held = query.get(key)
            query[key] = (
                value if held is None else [*(held if isinstance(held, list) else [held]), value]
            )
        return {
            "method": item.method,
            "path": item.path,
            "query": query,
            "body": _masked(item.body, self.mask),
            "status": item.status,
        }

    def step(self, name: str) -> list[dict[str, Any]]:
        """Record the requests since the previous step under ``name``; returns them."""
        requests = [self._request(r) for r in self.log.all()]
        self.log.clear()
        self.steps.append({"step": name, "requests": requests})
        return requests

    def text(self) -> str:
        """The steps as the file holds them (JSON, one request per block)."""
        return json.dumps(self.steps, indent=2, ensure_ascii=False) + "\n"

    def verify(self) -> None:
        """Compare with the file (or write it, with ``IDSYNC_RECORD_REQUESTS=1``)."""
        if os.environ.get(RECORD_ENV) == "1":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(self.text(), encoding="utf-8")
            return
        hint = (
            f"run the test with {RECORD_ENV}=1 to write {self.path.name} when the change is meant"
        )
        if not self.path.exists():
            raise AssertionError(f"{self.path} does not exist; {hint}")
        expected = self.path.read_text(encoding="utf-8")
        if json.loads(expected) != json.loads(self.text()):
            diff = "".join(
                difflib.unified_diff(
                    expected.splitlines(keepends=True),
                    self.text().splitlines(keepends=True),
                    fromfile=f"{self.path.name} (expected)",
                    tofile="sent",
                )
            )
            raise AssertionError(f"the requests sent differ from {self.path}; {hint}\n{diff}")


class _Bucket:
    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.stamp = time.monotonic()

    def take(self) -> float:
        """0 when a request may pass, else the seconds until one may."""
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class _Drop(Exception):
    """Raised to abort a response half-way, which closes the connection."""


class Simulated:
    """Wrap a vendor ASGI app with a request log, fault injection and control endpoints."""

    def __init__(self, app: ASGIApp, faults: Faults | None = None) -> None:
        self.app = app
        self.faults = faults or Faults()
        self.log = RequestLog()
        self._random = random.Random(self.faults.seed)
        self._seed = self.faults.seed
        self._bucket: _Bucket | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(CONTROL_PREFIX):
            await self._control(scope, receive, send)
            return
        body = await _read_body(receive)
        replay = _replay(body)
        method: str = scope["method"]
        query = scope.get("query_string", b"").decode("latin-1")
        parsed = _parse_json(body) if method not in ("GET", "HEAD") else None
        faults = self.faults

        def record(status: int, fault: str | None = None) -> None:
            self.log.append(LoggedRequest(method, path, query, status, parsed, fault))

        if faults.seed != self._seed:  # a new seed set over the control endpoint: new rolls
            self._random, self._seed = random.Random(faults.seed), faults.seed
        if faults.latency:
            await asyncio.sleep(faults.latency)
        if faults.rate_limit:
            if self._bucket is None or self._bucket.rate != faults.rate_limit:
                self._bucket = _Bucket(faults.rate_limit)
            wait = self._bucket.take()
            if wait:
                record(429, "rate-limit")
                await _plain(send, 429, {"message": "Too many requests"}, max(1, math.ceil(wait)))
                return
        roll = self._random.random()
        if roll < faults.error_rate:
            status = self._random.choice((500, 502, 503))
            record(status, "error")
            await _plain(
                send, status, {"message": "Simulated server error"}, 1 if status == 503 else None
            )
            return
        roll -= faults.error_rate
        after: str | None = None
        if roll < faults.timeout_rate:
            after = "timeout"
        elif roll < faults.timeout_rate + faults.drop_rate:
            after = "drop"

        status_box: list[int] = [0]
        held: list[Message] = []

        recorded = False

        async def capture(message: Message) -> None:
            nonlocal recorded
            if message["type"] == "http.response.start":
                status_box[0] = message["status"]
            if after:
                held.append(message)
                return
            if message["type"] == "http.response.start":
                # In the log before the client has any of the answer (a 204 is complete at
                # its headers), so a test never reads the log short.
                record(status_box[0])
                recorded = True
            await send(message)

        await self.app(scope, replay, capture)
        if not recorded:
            record(status_box[0], after)
        if after == "timeout":
            await asyncio.sleep(faults.hang)
            for message in held:
                await send(message)
        elif after == "drop":
            start = next(m for m in held if m["type"] == "http.response.start")
            headers = [
                (k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"
            ]
            headers.append((b"content-length", b"1000"))
            await send(
                {"type": "http.response.start", "status": start["status"], "headers": headers}
            )
            await send({"type": "http.response.body", "body": b"{", "more_body": True})
            raise _Drop("simulated dropped connection")

    async def _control(self, scope: Scope, receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"][len(CONTROL_PREFIX) :]
        body = await _read_body(receive)
        if path == "/requests" and method == "GET":
            await _plain(send, 200, [asdict(r) for r in self.log.all()])
        elif path == "/requests" and method == "DELETE":
            self.log.clear()
            await _plain(send, 204, None)
        elif path == "/faults" and method == "GET":
            await _plain(send, 200, asdict(self.faults))
        elif path == "/faults" and method == "PUT":
            try:
                self.faults.update(_parse_json(body) or {})
            except (ValueError, TypeError) as exc:
                await _plain(send, 400, {"message": str(exc)})
                return
            await _plain(send, 200, asdict(self.faults))
        else:
            await _plain(send, 404, {"message": "Unknown simulator control endpoint"})


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    return receive


def _parse_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


async def _plain(send: Send, status: int, payload: Any, retry_after: int | None = None) -> None:
    data = b"" if payload is None else json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


@dataclass
class SandboxApp:
    """A simulator as the ``idsync_sandbox`` hook returns it.

    ``env`` maps environment variable names to values; ``{url}`` in a value is replaced by the
    simulator's base URL (``http://127.0.0.1:PORT``) once it is listening. ``mount`` is the path
    prefix the vendor API lives under (e.g. ``/api/v1``) and is part of ``{url}``.
    """

    name: str
    app: Simulated
    env: dict[str, str]
    mount: str = ""
    summary: str = ""
    data: Any = None
    """The simulator's in-memory data, for scenario scripts and tests (vendor-specific)."""


class _Loop:
    """The one event loop, in a daemon thread, that serves every simulator of this process.

    A uvicorn server wakes ten times a second to look for its exit; with a thread of its own
    each, a few hundred simulators (a fleet's benchmark) took a quarter of a core doing nothing
    and fought the busy ones for the interpreter lock. Simulators are ASGI apps, so sharing one
    loop costs them nothing."""

    _lock = threading.Lock()
    _loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def get(cls) -> asyncio.AbstractEventLoop:
        with cls._lock:
            if cls._loop is None or cls._loop.is_closed():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="simulators", daemon=True).start()
                cls._loop = loop
            return cls._loop


class SimulatorServer:
    """A uvicorn server for one ASGI app on 127.0.0.1, served on the process's simulator loop
    (one daemon thread for all of them)."""

    def __init__(self, app: ASGIApp, port: int = 0) -> None:
        import uvicorn

        self.app = app
        # IPPROTO_TCP, so asyncio sets TCP_NODELAY on accepted connections (no Nagle delays).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((LOOPBACK, port))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level="critical",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
            backlog=2048,
        )
        self._server = uvicorn.Server(config)
        self._serving: Future[None] | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> SimulatorServer:
        """Start serving; returns once the server accepts connections."""
        self._serving = asyncio.run_coroutine_threadsafe(self._serve(), _Loop.get())
        deadline = time.monotonic() + 10
        while not self._server.started:
            if self._serving.done():
                self._serving.result()  # raises what stopped it
            if time.monotonic() > deadline or self._serving.done():
                raise RuntimeError(f"simulator on port {self.port} did not start")
            time.sleep(0.01)
        return self

    async def _serve(self) -> None:
        try:
            await self._server.serve(sockets=[self._socket])
        except SystemExit:  # uvicorn's way of failing to start; the loop serves others
            raise RuntimeError(f"simulator on port {self.port} did not start") from None

    def stop(self) -> None:
        """Stop serving and wait for the server to close (at most about five seconds)."""
        self._server.should_exit = True
        if self._serving is not None:
            with suppress(Exception):  # a server that will not close in time is left
                self._serving.result(timeout=5)
        self._socket.close()


@contextmanager
def serve(app: ASGIApp, port: int = 0) -> Iterator[SimulatorServer]:
    """Serve ``app`` on 127.0.0.1 (a free port unless given) for the duration of a block."""
    server = SimulatorServer(app, port).start()
    try:
        yield server
    finally:
        server.stop()
