"""A real SCIM server for tests and trials: scim2-server in a process of its own on 127.0.0.1.

Needs the ``testing`` extra (``pip install 'idsync-scim[testing]'``). The server keeps its
resources in memory; its access log (one line per answered request) is written to a file,
so a test can count the requests and writes a run sent::

    with Scim2Server(tmp_path, token="s3cret-token") as server:
        server.url          # http://127.0.0.1:PORT/v2, the plugin's base_url
        server.writes()     # [Request(method="POST", path="/v2/Users", status=201), ...]

It is the ``scim2-server`` command itself, unmodified, except with ``basic=``: the command
knows bearer tokens only, so HTTP Basic is served by the same application class with
scim2-server's documented ``check_auth`` hook overridden (``python -m idsync_scim.testing``).
The process is stopped by its id.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

__all__ = ["Request", "Scim2Server"]

LOOPBACK = "127.0.0.1"
_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})')
_BASIC_ENV = "IDSYNC_SCIM_TEST_BASIC"


@dataclass(frozen=True)
class Request:
    """One request as the server's access log has it."""

    method: str
    path: str
    status: int

    @property
    def is_write(self) -> bool:
        """Whether the request could change data."""
        return self.method not in ("GET", "HEAD", "OPTIONS")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


class Scim2Server:
    """scim2-server on a free port of 127.0.0.1, started by :meth:`start`, stopped by its pid.

    ``token`` makes it accept that bearer token only; ``basic`` (user, password) HTTP Basic
    only; neither, every request. ``service_provider_config`` replaces the announced
    configuration (e.g. ``{"patch": {"supported": False}, ...}``) to play a smaller server.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        token: str | None = None,
        basic: tuple[str, str] | None = None,
        service_provider_config: dict[str, Any] | None = None,
    ) -> None:
        if token is not None and basic is not None:
            raise ValueError("give token or basic, not both")
        self.workdir = Path(workdir)
        self.token = token
        self.basic = basic
        self.service_provider_config = service_provider_config
        self.port = 0
        self.pid: int | None = None
        self.log_file = self.workdir / "scim2-server.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def root(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        """The SCIM base URL, ``http://127.0.0.1:PORT/v2``."""
        return f"{self.root}/v2"

    def headers(self) -> dict[str, str]:
        """The ``Authorization`` header the server accepts."""
        if self.token is not None:
            return {"Authorization": f"Bearer {self.token}"}
        if self.basic is not None:
            raw = f"{self.basic[0]}:{self.basic[1]}".encode()
            return {"Authorization": f"Basic {base64.b64encode(raw).decode()}"}
        return {}

    def client(self) -> httpx.Client:
        """An httpx client on the server's base URL, with its credentials."""
        return httpx.Client(base_url=self.url, headers=self.headers(), timeout=30)

    def _command(self) -> tuple[list[str], dict[str, str]]:
        env = dict(os.environ)
        if self.basic is not None:
            env[_BASIC_ENV] = f"{self.basic[0]}:{self.basic[1]}"
            return [sys.executable, "-m", "idsync_scim.testing", "--port", str(self.port)], env
        command = [sys.executable, "-m", "scim2_server.testserver.cli"]
        command += ["--hostname", LOOPBACK, "--port", str(self.port)]
        if self.token is not None:
            command += ["--bearer-token", self.token]
        if self.service_provider_config is not None:
            config = self.workdir / "service-provider-config.json"
            config.write_text(json.dumps(self.service_provider_config), encoding="utf-8")
            command += ["--service-provider-config", str(config)]
        return command, env

    def start(self, timeout: float = 30.0) -> Scim2Server:
        """Start the server; returns once it answers. Tries another port if one was taken."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            self.port = _free_port()
            command, env = self._command()
            with self.log_file.open("wb") as log:
                self._process = subprocess.Popen(  # noqa: S603 - our own interpreter
                    command, stdout=subprocess.DEVNULL, stderr=log, env=env
                )
            self.pid = self._process.pid
            if self._ready(timeout):
                return self
            self.stop()
        raise RuntimeError(f"scim2-server did not start; its log:\n{self._log_text()[-2000:]}")

    def _ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            with contextlib.suppress(httpx.HTTPError):
                answer = httpx.get(f"{self.url}/ServiceProviderConfig", timeout=1)
                if answer.status_code == 200:
                    return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Stop the server by its process id (SIGTERM, then SIGKILL after 5 s)."""
        process, self._process = self._process, None
        if process is None or self.pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def __enter__(self) -> Scim2Server:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def _log_text(self) -> str:
        try:
            return self.log_file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def requests(self) -> list[Request]:
        """Every request the server has answered so far, oldest first.

        The server logs a request just after answering it: read twice, 20 ms apart, until
        two reads agree, so a request whose answer a client already has is counted.
        """
        last: list[Request] | None = None
        while True:
            found = [
                Request(m["method"], m["path"], int(m["status"]))
                for m in _LINE.finditer(self._log_text())
            ]
            if found == last:
                return found
            last = found
            time.sleep(0.02)

    def writes(self) -> list[Request]:
        """The requests that could change data (refused ones included)."""
        return [r for r in self.requests() if r.is_write]


# --- HTTP Basic: scim2-server's application with its check_auth hook ---------------------


def _basic_server(port: int, user: str, password: str) -> None:  # pragma: no cover - a process
    from wsgiref.simple_server import make_server

    from scim2_models import AuthenticationScheme, ScimProvider, UnauthorizedException
    from scim2_server.memory import InMemoryStorage
    from scim2_server.requests import ScimRequest
    from scim2_server.service import ScimService
    from scim2_server.testserver.application import BearerTokenApplication
    from scim2_server.testserver.cli import ThreadingWSGIServer
    from scim2_server.utils import (
        load_default_resource_types,
        load_default_schemas,
        load_default_service_provider_config,
    )

    expected = f"{user}:{password}".encode()

    class BasicApplication(BearerTokenApplication):
        def check_auth(self, request: ScimRequest) -> None:
            scheme, _, value = (request.header("Authorization") or "").partition(" ")
            try:
                given = base64.b64decode(value.strip(), validate=True)
            except (binascii.Error, ValueError):
                given = b""
            if scheme.lower() != "basic" or not hmac.compare_digest(given, expected):
                raise UnauthorizedException

    config = load_default_service_provider_config()
    config.authentication_schemes = [
        AuthenticationScheme(
            type=AuthenticationScheme.Type.httpbasic,
            name="HTTP Basic",
            description="Authentication with a user name and a password",
        )
    ]
    provider = ScimProvider.from_discovery(
        load_default_schemas().values(), load_default_resource_types().values(), config=config
    )
    app = BasicApplication(InMemoryStorage(), provider, service=ScimService(provider))
    with (
        make_server(LOOPBACK, port, app, server_class=ThreadingWSGIServer) as server,
        contextlib.suppress(KeyboardInterrupt),
    ):
        server.serve_forever()


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - a process
    """``python -m idsync_scim.testing --port P``, credentials in the environment."""
    import argparse

    parser = argparse.ArgumentParser(description="scim2-server with HTTP Basic authentication")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    user, _, password = os.environ.get(_BASIC_ENV, "").partition(":")
    if not user or not password:
        parser.error(f"set {_BASIC_ENV}=user:password")
    _basic_server(args.port, user, password)


if __name__ == "__main__":  # pragma: no cover
    main()
