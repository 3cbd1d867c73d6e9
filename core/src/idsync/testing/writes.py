"""Counting writes: how the contract kit proves that a call changed nothing.

The kit asks the author's ``writes`` probe before and after a call; the probe returns the
writes seen so far, as a number or as a list (a list lets a failure show which requests they
were). Two probes come with the kit:

- :func:`simulator_writes`: what the endpoint saw, for any simulator built on
  :class:`idsync.sandbox.simulator.Simulated`, in-process or over HTTP (``GET /__sim__/requests``);
- :func:`sent_writes`: what this process sent, for a live test tenant that keeps no request
  log: every request with a method that can change data (``POST``, ``PUT``, ``PATCH``,
  ``DELETE``) that an httpx client (such as :class:`idsync.ApiClient`) sent through httpx's
  own transport. It sees only this process, so parallel runs never count each other's writes.
"""

from __future__ import annotations

import threading

import httpx

from idsync.sandbox.simulator import CONTROL_PREFIX, LoggedRequest, Simulated

__all__ = ["describe_write", "sent_writes", "simulator_writes"]

_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def simulator_writes(simulator: Simulated | str) -> list[LoggedRequest]:
    """Every request that could change data which the simulator has seen, oldest first.

    ``simulator`` is the :class:`~idsync.sandbox.simulator.Simulated` app itself, or the base URL of
    one that is being served (``http://127.0.0.1:PORT``, mount or not: the control endpoints
    live at the server root). Faulted requests count too: a write that failed still tried.
    """
    if isinstance(simulator, Simulated):
        return simulator.log.writes()
    url = httpx.URL(simulator)
    with httpx.Client(timeout=10.0) as client:
        response = client.get(url.copy_with(path=f"{CONTROL_PREFIX}/requests", query=None))
        response.raise_for_status()
        entries = response.json()
    requests = [LoggedRequest(**entry) for entry in entries]
    return [r for r in requests if r.is_write]


class _Recorder:
    """Wraps ``httpx.HTTPTransport.handle_request`` once, recording the writes sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.lock = threading.Lock()
        self.installed = False

    def install(self) -> None:
        with self.lock:
            if self.installed:
                return
            original = httpx.HTTPTransport.handle_request
            recorder = self

            def handle_request(
                transport: httpx.HTTPTransport, request: httpx.Request
            ) -> httpx.Response:
                if request.method not in _READS:
                    with recorder.lock:
                        recorder.sent.append(
                            f"{request.method} {request.url.copy_with(query=None)}"
                        )
                return original(transport, request)

            httpx.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign,assignment]
            self.installed = True


_RECORDER = _Recorder()


def sent_writes() -> list[str]:
    """Every write request this process has sent over httpx since the first call, oldest
    first (``PATCH http://127.0.0.1:8080/api/users/7``).

    The first call starts recording, so give it as ``writes=sent_writes``: the kit reads it
    before every call it checks. A request sent through a transport of the plugin's own
    (not httpx's) is not seen.
    """
    _RECORDER.install()
    with _RECORDER.lock:
        return list(_RECORDER.sent)


def describe_write(item: object) -> str:
    """``PUT /api/users/7 -> 200`` for a logged request; ``str(item)`` for anything else."""
    if isinstance(item, LoggedRequest):
        query = f"?{item.query}" if item.query else ""
        return f"{item.method} {item.path}{query} -> {item.status}"
    return str(item)
