"""What keeps the console safe to expose: login throttling, CSRF tokens and response headers."""

from __future__ import annotations

import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CSRF_FIELD", "LoginThrottle", "SecurityHeaders", "csrf_ok", "csrf_token"]

CSRF_FIELD = "csrf"


class LoginThrottle:
    """Failed logins counted per user name and per client address over a sliding window.

    Once a name (or an address) has failed ``per_name`` (``per_address``) times within
    ``window`` seconds, further attempts are refused, right password or not, until the oldest
    failure leaves the window. A successful login clears the name's failures.
    """

    def __init__(
        self,
        per_name: int = 5,
        per_address: int = 20,
        window: float = 15 * 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_name = per_name
        self.per_address = per_address
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _keys(self, name: str, address: str) -> list[tuple[str, int]]:
        return [(f"name:{name.casefold()}", self.per_name), (f"addr:{address}", self.per_address)]

    def wait(self, name: str, address: str) -> float:
        """Seconds until this name and address may try again (0: now)."""
        now = self._clock()
        longest = 0.0
        with self._lock:
            for key, limit in self._keys(name, address):
                failures = self._failures.get(key)
                if not failures:
                    continue
                while failures and failures[0] <= now - self.window:
                    failures.popleft()
                if len(failures) >= limit:
                    longest = max(longest, failures[-limit] + self.window - now)
        return longest

    def failed(self, name: str, address: str) -> None:
        """Count a failed attempt."""
        now = self._clock()
        with self._lock:
            for key, _ in self._keys(name, address):
                self._failures[key].append(now)

    def succeeded(self, name: str) -> None:
        """Forget the name's failures."""
        with self._lock:
            self._failures.pop(f"name:{name.casefold()}", None)


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use); every form sends it back."""
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return token


def csrf_ok(request: Request, sent: object) -> bool:
    """Whether a form's token is the session's."""
    token = request.session.get(CSRF_FIELD)
    return (
        isinstance(token, str)
        and isinstance(sent, str)
        and secrets.compare_digest(token.encode(), sent.encode())
    )


_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    """Adds a strict content security policy and friends to every response; pages are
    not cached (they show personal data)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(_HEADERS)
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
