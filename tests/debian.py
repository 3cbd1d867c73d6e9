"""Debian packages the tests need, installed once with ``apt-get`` when they are missing.

Real servers (PostgreSQL, OpenLDAP, Samba, Chromium) come from Debian's packages. Several test
workers, or several ``make`` targets, may ask at the same time: one installs under a file lock
shared by every caller, the others wait and then find the package there. Only root can install;
anyone else gets an error naming the command to run.

Used by the server fixtures, and on its own::

    python tests/debian.py postgresql slapd ldap-utils   # install what is missing
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["DebianError", "ensure", "installed"]

_LOCK = Path(tempfile.gettempdir()) / "idsync-apt.lock"


class DebianError(RuntimeError):
    """A package could not be installed; says which and why."""


def installed(package: str) -> bool:
    """Whether dpkg knows ``package`` as installed."""
    if shutil.which("dpkg-query") is None:
        return False
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode == 0 and done.stdout.split()[-1:] == ["installed"]


def _run(command: list[str], what: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=900, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DebianError(f"{what}: {exc}") from exc
    if done.returncode != 0:
        raise DebianError(
            f"{what} failed (exit {done.returncode}): {' '.join(command)}\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )


def ensure(packages: Sequence[str], present: Callable[[], bool] | None = None) -> None:
    """Install the ``packages`` that are missing (``present`` may say they are there already).

    Takes the shared lock, so concurrent callers install once between them.
    """

    def missing() -> list[str]:
        if present is not None and present():
            return []
        return [p for p in packages if not installed(p)]

    if not missing():
        return
    with _LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        wanted = missing()
        if not wanted:
            return
        if os.geteuid() != 0:
            raise DebianError(
                f"missing Debian packages {' '.join(wanted)}, and only root can install them: "
                f"apt-get install {' '.join(wanted)} (or run the tests as root)"
            )
        if shutil.which("apt-get") is None:
            raise DebianError(f"missing Debian packages {' '.join(wanted)}, and no apt-get here")
        _run(["apt-get", "update"], "apt-get update")
        _run(["apt-get", "install", "-y", "--no-install-recommends", *wanted], "apt-get install")
    still = missing()
    if still:
        raise DebianError(f"apt-get ran, but {' '.join(still)} are still not installed")


if __name__ == "__main__":
    try:
        ensure(sys.argv[1:])
    except DebianError as exc:
        sys.exit(str(exc))
