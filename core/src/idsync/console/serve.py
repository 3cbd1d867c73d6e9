"""Serving the console with uvicorn on a socket of its own (port 0: a free port)."""

from __future__ import annotations

import socket
from collections.abc import Callable

import uvicorn
from starlette.applications import Starlette

__all__ = ["serve"]


def serve(
    app: Starlette,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    root_path: str = "",
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve ``app`` until interrupted; ``ready`` is told the URL once the socket listens.

    ``root_path`` is the path a reverse proxy serves the console under (``/idsync``). The
    console's links are relative to it, so the proxy's scheme and host need no trust here.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it every answer on a kept-alive connection waits for a delayed ACK (40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    config = uvicorn.Config(
        app,
        log_level="warning",
        proxy_headers=False,
        root_path=root_path,
        server_header=False,
        access_log=False,
    )
    server = uvicorn.Server(config)
    if ready is not None:
        ready(f"http://{shown}:{bound}{root_path}/")
    server.run(sockets=[sock])
