"""Support for whole-pipeline tests: the simulators on 127.0.0.1, driven through the ``idsync`` CLI.

The organisation is small and made by hand, so every expected outcome can be named: a person
with an existing HelloID account (correlation), an ICT admin, a leaver, a joiner, a mover, an
external, and two namesakes without e-mail (unique user names).
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from idsync.model import Contact, Contract, Department, Name, Person, PersonRef, Ref
from idsync.sandbox.simulator import Simulated, SimulatorServer
from idsync.sandbox.world import World
from idsync_afas.simulator import AfasSimulator
from idsync_helloid.simulator import HelloIDStore

TODAY = dt.date(2026, 1, 15)
AFAS_TOKEN = "<token><version>1</version><data>E2ETESTTOKEN0123456789ABCDEF</data></token>"
HELLOID_KEY = "E2EKEYABCDEFGHIJKLMNOPQRSTUVWXYZ"
HELLOID_SECRET = "E2ESecretAbcdefghijklmnopqrstuvw"

ROOT = Path(__file__).resolve().parent
IDSYNC = Path(sys.executable).with_name("idsync")


def run_and_kill(
    pipeline: Path,
    env: dict[str, str],
    writes: Callable[[], int],
    *,
    as_of: str,
    after_writes: int,
    timeout: float,
) -> bool:
    """Start ``idsync run`` and SIGKILL it once ``writes()`` (the target's write count) has
    grown by ``after_writes``. Returns whether the kill came before the run finished."""
    start = writes()
    process = subprocess.Popen(
        [str(IDSYNC), "run", str(pipeline), "--as-of", as_of, "--time-travel"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if writes() - start >= after_writes:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.002)
    process.wait()
    return False


def _dep(
    code: str, name: str, parent: str | None = "ORG", manager: str | None = None
) -> Department:
    return Department(external_id=code, code=code, name=name, parent=parent, manager=manager)


def _person(
    pid: str,
    given: str,
    family: str,
    contracts: list[Contract],
    *,
    prefix: str | None = None,
    email: str | None = None,
    manager: str | None = None,
) -> Person:
    return Person(
        external_id=pid,
        name=Name(
            given=given, nick=given, family=family, family_prefix=prefix, initials=given[0] + "."
        ),
        contact=Contact(email=email),
        manager=PersonRef(external_id=manager) if manager else None,
        contracts=contracts,
    )


def _contract(
    cid: str,
    dep: str,
    start: dt.date,
    end: dt.date | None = None,
    *,
    title: str = "MW",
    fte: float = 1.0,
    kind: str = "VAST",
) -> Contract:
    return Contract(
        external_id=cid,
        start=start,
        end=end,
        department=Ref(external_id=dep, code=dep, name=dep.title()),
        title=Ref(code=title, name={"ICT-ADM": "ICT administrator"}.get(title, "Medewerker")),
        type=Ref(code=kind, name=kind),
        fte=fte,
        location=Ref(name="Utrecht"),
    )


def organisation() -> World:
    """The hand-made organisation every pipeline test starts from."""
    d = dt.date
    persons = [
        _person(
            "1001",
            "Jan",
            "Vries",
            [_contract("1001-1", "SALES", d(2020, 3, 1))],
            prefix="de",
            email="j.devries@example.org",
            manager="1002",
        ),
        _person(
            "1002",
            "Anna",
            "Berg",
            [_contract("1002-1", "ICT", d(2019, 1, 1), title="ICT-ADM", fte=0.8)],
            prefix="van der",
            email="a.vanderberg@example.org",
        ),
        _person(
            "1003",
            "Piet",
            "Jansen",
            [_contract("1003-1", "SALES", d(2021, 5, 1), d(2026, 1, 31))],
            email="p.jansen@example.org",
        ),
        _person(
            "1004",
            "Fatima",
            "Amrani",
            [_contract("1004-1", "HR", d(2026, 2, 1))],
            prefix="el",
            email="f.elamrani@example.org",
        ),
        _person(
            "1005",
            "Kees",
            "Bakker",
            [
                _contract("1005-1", "SALES", d(2018, 1, 1), d(2026, 1, 31)),
                _contract("1005-2", "HR", d(2026, 2, 1)),
            ],
            email="k.bakker@example.org",
        ),
        _person(
            "1006",
            "Eva",
            "Consultant",
            [_contract("1006-1", "EXT", d(2025, 6, 1), kind="EXT")],
            email="eva@consult.example",
        ),
        _person(
            "1007", "Jan", "Vries", [_contract("1007-1", "HR", d(2024, 9, 1), fte=0.5)], prefix="de"
        ),
        _person(
            "1008",
            "Jan",
            "Vries",
            [_contract("1008-1", "ICT", d(2025, 2, 1), fte=0.6)],
            prefix="de",
        ),
        _person(
            "1009",
            "Sara",
            "Kok",
            [
                _contract("1009-1", "SALES", d(2022, 1, 1), d(2026, 1, 31), fte=0.5),
                _contract("1009-2", "SALES", d(2026, 2, 20), fte=0.5),
            ],
            email="s.kok@example.org",
        ),
    ]
    departments = [
        _dep("ORG", "Organisation", parent=None, manager="1002"),
        _dep("SALES", "Sales", manager="1001"),
        _dep("ICT", "Ict", manager="1002"),
        _dep("HR", "Hr", manager="1002"),
        _dep("EXT", "Ext"),
    ]
    return World(seed=1, today=TODAY, departments=departments, persons=persons)


PIPELINE = """
name: e2e
state: sqlite:///__DB__
sources:
  hr:
    plugin: afas
    settings: {base_url: "${AFAS_BASE_URL}", token: "${AFAS_TOKEN}", page_size: 3, backoff: 0.01, max_backoff: 0.05}
    thresholds: {removed: "20%"}
targets:
  helloid:
    plugin: helloid
    settings: {base_url: "${HELLOID_BASE_URL}", api_key: "${HELLOID_API_KEY}", api_secret: "${HELLOID_API_SECRET}", backoff: 0.01, max_backoff: 0.05, timeout: 10}
    concurrency: 4
    account:
      when: "contract.department.code != 'EXT'"
      correlate: {person: account.userName, account: userName}
      unique:
        userName:
          - "{{ person.contact.email }}"
          - "{{ person.name.first | slug }}.{{ person.name.full_family | slug }}{{ suffix }}@example.org"
      mapping:
        firstName: "{{ person.name.first }}"
        lastName: "{{ person.name.full_family }}"
        userAttributes.employeeId: "{{ person.external_id }}"
        userAttributes.department: "{{ contract.department.name }}"
      lifecycle: {create_days_before_start: 14, enable_days_before_start: 3, delete_days_after_disable: 30}
    permissions:
      - {when: "contract.title.code == 'ICT-ADM'", grant: "group:ICT Admins"}
      - {dynamic: "group:department_{{ contract.department.code }}"}
      - {when: "contract.fte >= 0.8", grant: "product:Laptop"}
    resources: ["group:department_{{ department.code }}"]
__EXTRA__
  afas:
    plugin: afas
    settings: {base_url: "${AFAS_BASE_URL}", token: "${AFAS_TOKEN}", backoff: 0.01, max_backoff: 0.05}
    account:
      when: "contract.department.code != 'EXT'"
      correlate: {person: external_id, account: Medewerker}
      manager: false
      mapping:
        UPN: "{{ accounts.helloid.userName }}"
      lifecycle: {delete_days_after_disable: null}
"""


_ENFORCING = ("run", "reconcile", "approve")


@dataclass
class Org:
    """The simulators of one test, their data, and the pipeline file that drives them."""

    world: World
    afas: AfasSimulator
    helloid: HelloIDStore
    helloid_sim: Simulated
    afas_server: SimulatorServer
    helloid_server: SimulatorServer
    pipeline: Path
    db: Path
    env: dict[str, str]

    def write_pipeline(self, extra: str = "") -> Path:
        """(Re)write the pipeline file; ``extra`` goes under the HelloID target (e.g. thresholds)."""
        text = PIPELINE.replace("__DB__", str(self.db)).replace("__EXTRA__", extra)
        self.pipeline.write_text(text, encoding="utf-8")
        return self.pipeline

    def idsync(
        self, *args: str, check: int | None = 0, travel: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run the ``idsync`` command; ``check`` is the exit code expected (None: any).

        The organisation lives in January 2026, so a command that enforces at an ``--as-of``
        date gets ``--time-travel`` (unless ``travel`` is false).
        """
        if travel and "--as-of" in args and any(a in _ENFORCING for a in args):
            args = (*args, "--time-travel")
        result = subprocess.run(
            [str(IDSYNC), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )
        if check is not None and result.returncode != check:
            raise AssertionError(
                f"idsync {' '.join(args)} exited {result.returncode}, expected {check}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def json(self, *args: str, check: int | None = 0, travel: bool = True) -> Any:
        """Run an ``idsync … --json`` command and parse its output."""
        return json.loads(self.idsync(*args, "--json", check=check, travel=travel).stdout)

    def user(self, name: str) -> dict[str, Any] | None:
        """A HelloID user by user name (None when there is none or it is deleted)."""
        user = self.helloid.user_by_name(name)
        return None if user is None or user.get("isDeleted") else user

    def groups_of(self, name: str) -> set[str]:
        """The HelloID group names of a user."""
        user = self.user(name)
        assert user is not None, f"no HelloID user {name}"
        return set(self.helloid.memberships(user["userGUID"]))

    def helloid_writes(self) -> list[Any]:
        """Write requests the HelloID simulator received."""
        return self.helloid_sim.log.writes()

    def afas_writes(self) -> list[Any]:
        """Write requests the AFAS simulator received."""
        return self.afas.app.log.writes()

    def clear_logs(self) -> None:
        """Forget the requests so far."""
        self.helloid_sim.log.clear()
        self.afas.app.log.clear()


def hr_loses(org: Org, *numbers: str) -> None:
    """Remove employees from the AFAS simulator, as when HR 'loses' them."""
    org.afas.data.remove_employees(numbers)


# --- operations: reconciliation, notifications, approvals, scheduling, status ------------


def set_manager(org: Org, manager: str, *numbers: str) -> None:
    """Make ``manager`` the manager of these employees in AFAS (on every contract)."""
    data = org.afas.data
    with data.lock:
        for row in [*data.employments, *data.positions]:
            if row["Medewerker"] in numbers:
                row["Medewerkernummer_leidinggevende"] = manager
        data.changed()


def edit_pipeline(org: Org, old: str, new: str) -> None:
    """Replace text in the pipeline file (``old`` must occur)."""
    text = org.pipeline.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in the pipeline"
    org.pipeline.write_text(text.replace(old, new), encoding="utf-8")


def add_to_pipeline(org: Org, section: str) -> None:
    """Append a top-level section (YAML text) to the pipeline file."""
    with org.pipeline.open("a", encoding="utf-8") as out:
        out.write("\n" + section.strip("\n") + "\n")


def state(org: Org) -> Any:
    """The pipeline's :class:`idsync.state.Store` (close it when done)."""
    from idsync.state import Store

    return Store(f"sqlite:///{org.db}")


def hand_made_user(org: Org, name: str, **fields: Any) -> dict[str, Any]:
    """A HelloID user made by hand (no person behind it unless its fields correlate)."""
    first, _, last = name.partition("@")[0].partition(".")
    body = {"userName": name, "firstName": first.title(), "lastName": last.title()}
    body.update({"isEnabled": True, **fields})
    return org.helloid.create_user(body)
