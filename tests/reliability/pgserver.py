"""A throwaway PostgreSQL server on 127.0.0.1, made from Debian's packages, for the tests.

:class:`PostgresServer` finds ``initdb`` and ``pg_ctl`` (installing the ``postgresql`` package
with ``apt-get`` when they are missing and we are root), initialises a cluster in a temporary
directory, starts it on a free port of 127.0.0.1 with its unix socket in that directory, hands
out fresh databases and removes everything when stopped. ``initdb`` refuses to run as root, so
as root every server command runs as the ``postgres`` system user (created by the package).

Used by the test fixtures, and on its own::

    python tests/reliability/pgserver.py             # prints the server URL, stops on Ctrl-C
    python tests/reliability/pgserver.py --install   # only make sure the binaries are there
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

if __package__ in (None, ""):  # run as a script: the shared helpers live one folder up
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import debian

__all__ = ["PostgresError", "PostgresServer", "find_binaries", "install_postgres"]

_PACKAGE = "postgresql"
_SYSTEM_USER = "postgres"


class PostgresError(RuntimeError):
    """The server could not be installed, initialised or started; says what failed."""


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path.parent.parent.name)) or (0,)


def find_binaries() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl`` (newest Debian version first), or None."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=_version_key, reverse=True
    )
    for pg_ctl in candidates:
        if (pg_ctl.parent / "initdb").exists():
            return pg_ctl.parent
    found = shutil.which("pg_ctl")
    if found and (Path(found).resolve().parent / "initdb").exists():
        return Path(found).resolve().parent
    return None


def _run(command: list[str], *, what: str, timeout: float = 600) -> str:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PostgresError(f"{what}: {exc}") from exc
    if done.returncode != 0:
        raise PostgresError(
            f"{what} failed (exit {done.returncode}): {' '.join(command)}\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return done.stdout


def install_postgres() -> Path:
    """Make sure the PostgreSQL server binaries are there; install them with apt-get if not
    (under the lock every test server's installation shares, see ``tests/debian.py``)."""
    try:
        debian.ensure([_PACKAGE], present=lambda: find_binaries() is not None)
    except debian.DebianError as exc:
        raise PostgresError(str(exc)) from None
    found = find_binaries()
    if found is None:
        raise PostgresError(f"apt-get installed {_PACKAGE}, but initdb and pg_ctl are not there")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """One throwaway cluster: :meth:`start`, :meth:`database` as often as needed, :meth:`stop`."""

    def __init__(self) -> None:
        self.port = 0
        self.root: Path | None = None
        self.user = _SYSTEM_USER
        self._as: list[str] = []
        self._bin: Path | None = None

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> PostgresServer:
        """Install if needed, initialise a cluster in a temp directory and start it."""
        self._bin = install_postgres()
        self.root = Path(tempfile.mkdtemp(prefix="idsync-pg-"))
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam(_SYSTEM_USER)
            except KeyError:
                raise PostgresError(
                    f"running as root, but there is no {_SYSTEM_USER!r} system user to run "
                    "PostgreSQL as (the postgresql package creates it)"
                ) from None
            os.chown(self.root, account.pw_uid, account.pw_gid)
            runner = shutil.which("runuser") or shutil.which("su")
            if runner is None:
                raise PostgresError("running as root, but neither runuser nor su is there")
            self._as = (
                [runner, "-u", _SYSTEM_USER, "--"]
                if runner.endswith("runuser")
                else [runner, _SYSTEM_USER, "-s", "/bin/sh", "-c"]
            )
        try:
            self._initdb()
            self._start_server()
        except BaseException:
            self.stop()
            raise
        return self

    def _command(self, *argv: str) -> list[str]:
        if self._as and self._as[-1] == "-c":  # su: one shell command line
            return [*self._as, " ".join(_quote(a) for a in argv)]
        return [*self._as, *argv]

    def _initdb(self) -> None:
        assert self._bin is not None
        assert self.root is not None
        _run(
            self._command(
                str(self._bin / "initdb"),
                "-D",
                str(self.root / "data"),
                "-U",
                self.user,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ),
            what="initdb",
            timeout=120,
        )

    def _start_server(self) -> None:
        assert self._bin is not None
        assert self.root is not None
        last = ""
        for _ in range(5):  # a free port can be taken between probing and listening
            self.port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=200 -c shared_buffers=32MB"
            )
            try:
                _run(
                    self._command(
                        str(self._bin / "pg_ctl"),
                        "-D",
                        str(self.root / "data"),
                        "-l",
                        str(self.root / "server.log"),
                        "-o",
                        options,
                        "-w",
                        "-t",
                        "60",
                        "start",
                    ),
                    what="pg_ctl start",
                    timeout=90,
                )
            except PostgresError as exc:
                last = f"{exc}\n{self.log()[-2000:]}"
                continue
            return
        raise PostgresError(f"PostgreSQL did not start:\n{last}")

    def log(self) -> str:
        """The server's log so far."""
        if self.root is None:
            return ""
        try:
            return (self.root / "server.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server at once and remove its directory. Safe to call more than once."""
        if self.root is None:
            return
        if self._bin is not None and (self.root / "data" / "postmaster.pid").exists():
            with contextlib.suppress(PostgresError):
                _run(
                    self._command(
                        str(self._bin / "pg_ctl"),
                        "-D",
                        str(self.root / "data"),
                        "-m",
                        "immediate",
                        "-w",
                        "stop",
                    ),
                    what="pg_ctl stop",
                    timeout=60,
                )
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- databases -------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of a database of this server (psycopg 3 driver)."""
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def database(self, prefix: str = "idsync") -> str:
        """Create a fresh, empty database and return its SQLAlchemy URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=self.user, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # a generated, quoted identifier
        return self.url(name)


def password_role(server: PostgresServer, name: str, password: str, database: str) -> None:
    """A role that must give ``password`` (scram-sha-256) to open ``database``: every other
    connection of the server trusts, so the password is checked for this role only."""
    import psycopg

    assert server.root is not None
    with psycopg.connect(
        host="127.0.0.1", port=server.port, user=server.user, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute("SET password_encryption = 'scram-sha-256'")
        literal = psycopg.sql.Literal(password).as_string(conn)
        conn.execute(f'CREATE ROLE "{name}" LOGIN PASSWORD {literal}')  # a generated name
        conn.execute(f'GRANT ALL ON DATABASE "{database}" TO "{name}"')
        conn.execute(f'ALTER DATABASE "{database}" OWNER TO "{name}"')
        hba = server.root / "data" / "pg_hba.conf"
        rule = f"host all {name} 127.0.0.1/32 scram-sha-256\n"
        hba.write_text(rule + hba.read_text(encoding="utf-8"), encoding="utf-8")
        conn.execute("SELECT pg_reload_conf()")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


@contextlib.contextmanager
def running() -> Iterator[PostgresServer]:
    """A started server, stopped and removed at the end of the block."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    """Start a server, print its URL, and stop it on SIGINT or SIGTERM.

    ``--install`` only makes sure the binaries are there (installing them when missing) and
    prints where they are: ``make pytest`` runs it first, so a fresh machine installs once.
    """
    args = sys.argv[1:] if argv is None else argv
    if args == ["--install"]:
        try:
            print(install_postgres(), flush=True)
        except PostgresError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    if args:
        print("usage: pgserver.py [--install]", file=sys.stderr)
        return 2
    stop = False

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        server = PostgresServer().start()
    except PostgresError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        print(server.url(), flush=True)
        print(f"create a database: CREATE DATABASE …; data in {server.root}", file=sys.stderr)
        while not stop:
            time.sleep(0.2)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
