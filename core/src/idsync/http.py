"""The HTTP client plugins use to talk to vendor APIs: httpx with retries done right.

Transient failures are retried with exponential backoff and full jitter, honouring
``Retry-After``: 429 and 503 always (the server says it did not do the work), other 5xx,
timeouts and dropped connections only for idempotent methods (a POST that timed out may have
happened; the engine correlates before it creates again). Everything else raises
:class:`ApiError`, naming the method, the path and what the server said, never a secret.

The docs page "Talking to an API" (``docs/writing-plugins/http.md``) shows the recipes:
auth schemes, per-request headers, answers that are not errors (404, 412), idempotent PATCH,
empty answers, paging, ETags and rate limits.
"""

from __future__ import annotations

import email.utils
import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx
from loguru import logger

from idsync import breaker
from idsync.breaker import Outage
from idsync.secrets import redact, register_secret

__all__ = ["ApiClient", "ApiError", "RateLimiter"]

_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_ALWAYS_RETRY = frozenset({429, 503})
_RETRY_IF_IDEMPOTENT = frozenset({500, 502, 504})


class ApiError(Exception):
    """A vendor API call failed: ``method``, ``path``, the HTTP ``status`` (None when no
    answer came), the parsed error ``body``, and ``retriable``: whether a later attempt may
    succeed (a timeout, 429, 5xx). The message names the call and what the server said, with
    every registered secret masked; raise it on, or turn it into ``ActionResult(success=False,
    messages=[str(error)])``."""

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        status: int | None = None,
        body: Any = None,
        retriable: bool = False,
    ) -> None:
        where = f"{method} {path}".strip()
        super().__init__(f"{where}: {message}" if where else message)
        self.method = method
        self.path = path
        self.status = status
        self.body = body
        self.retriable = retriable


class RateLimiter:
    """A thread-safe token bucket: at most ``rate`` requests per second, ``burst`` at once.

    ``slow_down`` lowers the rate after a 429, so a client that learns the server's limit
    stops hitting it; after ``calm`` seconds without one the rate climbs back (10% at a
    time) to where it started, so one 429 does not slow the rest of a run. Every request in
    flight when the server started refusing comes back refused too: one slow-down per
    ``calm`` seconds answers all of them.
    """

    def __init__(self, rate: float, burst: float | None = None, calm: float = 2.0) -> None:
        self.rate = rate
        self.ceiling = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self.calm = calm
        self._tokens = self.burst
        self._stamp = time.monotonic()
        self._slowed = self._raised = -calm
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Wait until a request may go."""
        while True:
            with self._lock:
                now = time.monotonic()
                calm = min(now - self._slowed, now - self._raised) >= self.calm
                if self.rate < self.ceiling and calm:
                    self.rate = min(self.ceiling, self.rate * 1.1)
                    self._raised = now
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.rate
            time.sleep(wait)

    def slow_down(self, factor: float = 0.8) -> None:
        """Lower the rate after the server refused a request for going too fast."""
        with self._lock:
            now = time.monotonic()
            if now - self._slowed < self.calm:
                return  # the same burst of refusals: slowed down for it already
            self._slowed = now
            self.rate = max(0.5, self.rate * factor)
            self.burst = max(1.0, min(self.burst, self.rate))
            self._tokens = min(self._tokens, 0)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _credentials(auth: httpx.Auth | None, headers: Mapping[str, str] | None) -> list[str]:
    """The credentials a client sends in its ``Authorization`` header (without the scheme).

    A server that echoes the header back in an error must not put them into a message:
    the header's value (``base64(user:password)`` for Basic) is registered for redaction.
    """
    values = [v for k, v in (headers or {}).items() if k.lower() == "authorization"]
    if isinstance(auth, httpx.BasicAuth):
        flow = auth.sync_auth_flow(httpx.Request("GET", "http://127.0.0.1/"))
        values.append(next(flow).headers.get("Authorization", ""))
    return [v.partition(" ")[2].strip() or v.strip() for v in values]


def _describe(response: httpx.Response) -> tuple[str, Any]:
    """A short, readable account of an error response and its parsed body.

    Secrets are masked before the text is cut short, so a cut never leaves half a secret.
    """
    text = response.text
    try:
        body: Any = response.json()
    except ValueError:
        snippet = " ".join(redact(text).split())[:200]
        kind = "an HTML page" if "<html" in text[:500].lower() else "a non-JSON body"
        return f"HTTP {response.status_code} with {kind}: {snippet!r}", text
    message = None
    if isinstance(body, dict):
        for key in ("message", "externalMessage", "resultMsg", "error", "detail", "title"):
            if isinstance(body.get(key), str) and body[key]:
                message = body[key]
                break
    if isinstance(body, list) and body and isinstance(body[0], dict):
        message = body[0].get("message")
    return f"HTTP {response.status_code}: {message or redact(json.dumps(body))[:200]}", body


class ApiClient:
    """A synchronous, thread-safe client for one vendor API: make one per configured system
    and share it between the engine's threads.

    ``base_url`` is the API root; paths given to the methods are relative to it.
    Authentication is either ``headers`` sent with every request (``Authorization: Bearer …``,
    an API key header) or an ``httpx.Auth`` in ``auth`` (``httpx.BasicAuth``, or a flow of
    your own that fetches and refreshes a token). The credentials in ``headers`` and in a
    ``BasicAuth`` are registered as secrets, so they are masked in every message and log
    line; a token your own flow fetches is registered by that flow
    (:func:`idsync.secrets.register_secret`). ``timeout`` is seconds per
    attempt. ``retries`` bounds the attempts after the first; ``backoff`` is the base delay in
    seconds and ``max_backoff`` caps any single wait (``Retry-After`` included).
    ``rate_limit`` (requests per second) spaces requests out evenly and slows down after a
    429. ``system`` names the configured system in log lines. ``transport`` and ``sleep``
    are for tests. ``stats`` counts requests, retries and writes.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        rate_limit: float | None = None,
        max_connections: int = 32,
        system: str = "",
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.system = system
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        # Requests evenly spaced at the limit (no burst): the server's own allowance for
        # bursts then absorbs any unevenness on the way, and it never has to refuse one.
        self.limiter = RateLimiter(rate_limit, burst=1.0) if rate_limit else None
        self._sleep = sleep
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            auth=auth,
            headers=dict(headers or {}),
            timeout=timeout,
            limits=limits,
            transport=transport,
        )
        for credential in _credentials(auth, headers):
            register_secret(credential)
        self.stats = {"requests": 0, "retries": 0, "writes": 0}
        self._stats_lock = threading.Lock()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _count(self, key: str) -> None:
        with self._stats_lock:
            self.stats[key] += 1

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        hinted = _retry_after(response) if response is not None else None
        if hinted is not None:
            return min(self.max_backoff, hinted + random.uniform(0, self.backoff / 4))
        return random.uniform(0, min(self.max_backoff, self.backoff * 2**attempt))

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        ok: Iterable[int] = (),
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send a request, retrying transient failures; return a 2xx response (or one in ``ok``).

        ``params`` is the query, ``json`` the body, ``headers`` added to the client's for this
        request only (``If-Match``, a tenant header). ``ok`` lists statuses that are answers
        rather than errors, returned like a 2xx (``ok=(404,)`` for "not there", ``ok=(412,)``
        for "changed since you read it"). ``idempotent`` overrides the method's default (GET,
        HEAD, PUT, DELETE and OPTIONS are; POST and PATCH are not): a PATCH that sets fields
        to values is safe to repeat, so ``idempotent=True`` lets it be retried after a timeout
        or a 5xx. Raises :class:`ApiError` on any other outcome.
        """
        method = method.upper()
        safe = method in _IDEMPOTENT if idempotent is None else idempotent
        accepted = set(ok)
        attempt = 0
        while True:
            if self.limiter:
                self.limiter.acquire()
            self._count("requests")
            if method not in ("GET", "HEAD"):
                self._count("writes")
            error: Exception | None = None
            response: httpx.Response | None = None
            try:
                response = self._client.request(
                    method, path, params=params, json=json, headers=headers
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # The request never reached the server: always safe to send again.
                error, retry = exc, True
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                error, retry = exc, safe
            else:
                status = response.status_code
                if 200 <= status < 300 or status in accepted:
                    return response
                retry = status in _ALWAYS_RETRY or (safe and status in _RETRY_IF_IDEMPOTENT)
                if status == 429 and self.limiter:
                    self.limiter.slow_down()
            transient = response is None or response.status_code in (
                _ALWAYS_RETRY | _RETRY_IF_IDEMPOTENT
            )
            if retry and attempt < self.retries:
                delay = self._delay(attempt, response)
                attempt += 1
                self._count("retries")
                logger.bind(system=self.system).debug(
                    "retrying {} {} in {:.2f}s ({})",
                    method,
                    path,
                    delay,
                    type(error).__name__ if response is None else f"HTTP {response.status_code}",
                )
                self._sleep(delay)
                continue
            if response is None:
                kind = type(error).__name__
                if retry:  # every attempt went unanswered (a POST's one timeout proves less)
                    breaker.note(Outage.UNREACHABLE, f"{method} {path}: no answer ({kind})")
                raise ApiError(
                    f"no answer ({kind}: {error})", method=method, path=path, retriable=True
                ) from error
            message, body = _describe(response)
            if response.status_code in breaker.CREDENTIAL_STATUSES:
                breaker.note(Outage.CREDENTIALS, f"HTTP {response.status_code}")
            raise ApiError(
                message,
                method=method,
                path=path,
                status=response.status_code,
                body=body,
                retriable=transient,
            )

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Like :meth:`request`, returning the parsed JSON body (None for an empty one).

        A body that is not JSON (an HTML error page, a truncated answer) raises
        :class:`ApiError` naming the call.
        """
        return self.parse(self.request(method, path, **kwargs), method, path)

    @staticmethod
    def parse(response: httpx.Response, method: str, path: str) -> Any:
        """The JSON body of an answer ``request`` gave (None for an empty one); a body that
        is not JSON raises :class:`ApiError` naming the call."""
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            snippet = " ".join(redact(response.text).split())[:120]
            raise ApiError(
                f"answered HTTP {response.status_code} with a body that is not JSON: {snippet!r}",
                method=method.upper(),
                path=path,
                status=response.status_code,
            ) from exc

    def get(self, path: str, **kwargs: Any) -> Any:
        """GET and parse JSON."""
        return self.json("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        """POST and parse JSON."""
        return self.json("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        """PUT and parse JSON."""
        return self.json("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        """PATCH and parse JSON."""
        return self.json("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        """DELETE and parse JSON."""
        return self.json("DELETE", path, **kwargs)
