"""The contract kit against one live, shared simulator: two runs at once, each with two
workers, give the verdicts of a serial run and leave no test objects behind.

A generated target plugin without a simulator (``--simulator none``) is pointed at the
simulator of a generated one, served once for all runs. The kit counts the writes the shared
simulator sees (``simulator_writes`` over HTTP), where every other run's write would count
too without the kit's lock. (The package's own contract tests, which count the writes the
process sends, run against a live simulator in ``test_scaffold.py``.)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET  # our own pytest's report
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from idsync.sandbox.scaffold import new_plugin

pytestmark = pytest.mark.slow

SHARED_PROBE = '''
"""The contract, counting the writes the shared simulator sees."""

from idsync import Correlation
from idsync.testing import Sample, simulator_writes, target_contract

from idsync_acme_live import AcmeLivePlugin


def _sample(unique):
    user_name = f"shared.{unique}@example.org"
    return Sample(
        account={"userName": user_name, "firstName": "Shared", "lastName": "Probe"},
        correlation=Correlation(
            person_field="account.userName", account_field="userName", value=user_name
        ),
        changes={"lastName": "Changed"},
    )


TestShared = target_contract(
    plugin=AcmeLivePlugin,
    settings=lambda settings: settings,
    writes=lambda settings: simulator_writes(settings.base_url),
    sample=_sample,
    permissions=["group:Staff"],
    cleanup=lambda settings, created: _remove(settings, created),
)


def _remove(settings, created):
    from idsync_acme_live import AcmeLiveClient

    client = AcmeLiveClient(settings)
    for group in created.resources:
        client.delete_group(group.reference)
    client.close()
'''


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("plugins")
    served = new_plugin("acme-id", "target", root)
    live = new_plugin("acme-live", "target", root, simulator="none")
    (live / "tests" / "test_shared.py").write_text(textwrap.dedent(SHARED_PROBE))
    return {"served": served, "live": live}


@pytest.fixture(scope="module")
def simulator(packages: dict[str, Path]) -> Iterator[tuple[str, str]]:
    """The acme-id simulator, served once on a free port: its API URL and token."""
    env = {**os.environ, "PYTHONPATH": str(packages["served"] / "src")}
    process = subprocess.Popen(
        [sys.executable, "-m", "idsync_acme_id.simulator", "--port", "0", "--size", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            found = re.search(r"listening on (\S+) \(token (\S+)\)", line)
            if found:
                yield found.group(1), found.group(2)
                break
        else:
            raise AssertionError("the simulator did not start")
    finally:
        process.terminate()
        process.wait(timeout=30)


def _held(url: str, token: str) -> dict[str, int]:
    """How many users and groups the simulator holds."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        return {
            what: int(client.get(f"/{what}", params={"limit": 1}).json()["total"])
            for what in ("users", "groups")
        }


def _start(live: Path, url: str, token: str, report: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(live / "src")}
    env.update({"ACME_LIVE_BASE_URL": url, "ACME_LIVE_TOKEN": token})
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    return subprocess.Popen(
        [*command, f"--junitxml={report}", "tests/test_shared.py"],
        cwd=live,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _verdicts(process: subprocess.Popen[str], report: Path) -> dict[str, str]:
    output, _ = process.communicate(timeout=600)
    assert report.exists(), output[-3000:]
    verdicts = {}
    for case in ET.parse(report).getroot().iter("testcase"):  # noqa: S314 - pytest's own file
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = f"{child.tag}: {(child.get('message') or '')[:300]}"
        verdicts[f"{case.get('classname')}::{case.get('name')}"] = outcome
    return verdicts


def test_two_parallel_runs_give_the_serial_verdicts_and_leave_nothing(
    packages: dict[str, Path], simulator: tuple[str, str], tmp_path: Path
) -> None:
    url, token = simulator
    live = packages["live"]
    before = _held(url, token)

    serial = _verdicts(_start(live, url, token, tmp_path / "serial.xml"), tmp_path / "serial.xml")
    assert len(serial) > 25
    assert set(serial.values()) == {"passed"}, {k: v for k, v in serial.items() if v != "passed"}
    assert _held(url, token) == before, "the serial run left objects behind"

    runs = [_start(live, url, token, tmp_path / f"run{n}.xml", "-n", "2") for n in (1, 2)]
    parallel = [
        _verdicts(run, tmp_path / f"run{n}.xml") for n, run in zip((1, 2), runs, strict=True)
    ]
    for verdicts in parallel:
        assert verdicts == serial, {k: v for k, v in verdicts.items() if v != serial.get(k)}
    assert _held(url, token) == before, "the parallel runs left objects behind"
