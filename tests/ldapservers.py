"""Real directory servers for the tests: OpenLDAP's slapd and a Samba AD domain controller.

Both come from Debian's packages (installed with ``apt-get`` when missing and we are root, under
the lock every test server's installation shares, see ``tests/debian.py``) and run on 127.0.0.1
from a temporary directory, each stopped by its process id.

- :class:`Slapd`: OpenLDAP 2.5 on two free ports (``ldap://`` with StartTLS, and ``ldaps://``)
  with a certificate from a CA made for the run, the memberOf, refint, ppolicy and retcode
  overlays, a monitor database (its operation counters prove that a call wrote nothing), a
  service account for idsync with the rights it needs, and a size limit that only paged
  searches get past. Starts in a fraction of a second.
- :class:`SambaDC`: a Samba 4 Active Directory domain (``EXAMPLE.TEST``) provisioned once, on
  AD's fixed ports 389 and 636, so only one may run on the machine: it holds a machine-wide
  lock while it runs. The domain is provisioned once per machine (a template in the temporary
  folder) and copied for every start; Samba makes its TLS keys when it first starts.

Used by the test fixtures, and on its own::

    python tests/ldapservers.py --install    # only make sure the packages are there
    python tests/ldapservers.py slapd        # print the URL, stop on Ctrl-C
    python tests/ldapservers.py samba
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any, Literal

import ldap3

if __package__ in (None, ""):  # run as a script: the shared helpers live in this folder
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import debian

__all__ = [
    "SAMBA_PACKAGES",
    "SLAPD_PACKAGES",
    "DirectoryError",
    "SambaDC",
    "Slapd",
    "bind",
    "install",
    "samba_writes",
    "shared",
    "slapd_writes",
    "writing_to_samba",
]

SLAPD_PACKAGES = ["slapd", "ldap-utils", "openssl"]
SAMBA_PACKAGES = [
    "samba",
    "samba-ad-dc",
    "samba-ad-provision",
    "samba-dsdb-modules",
    "samba-vfs-modules",
]
"""``samba-ad-provision`` is needed: without it provisioning misses the schema files."""

SUFFIX = "dc=example,dc=org"
ADMIN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "admin-secret-for-tests"
SERVICE = f"cn=idsync,ou=services,{SUFFIX}"
SERVICE_PASSWORD = "idsync-secret-for-tests"
SIZE_LIMIT = 25
"""Entries one unpaged search may return to the service account (paged ones: any number)."""

REALM, DOMAIN = "EXAMPLE.TEST", "EXAMPLE"
AD_BASE = "DC=example,DC=test"
AD_ADMIN = "Administrator@example.test"
AD_PASSWORD = "Passw0rd!ForTests"
AD_HOST = "DC1.example.test"
MIN_PASSWORD = 20
"""The domain's minimum password length (the tests' Samba is strict)."""

PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
EMPLOYEES = f"OU=Employees,{AD_BASE}"
AD_GROUPS = f"OU=Groups,{AD_BASE}"
DISABLED = f"OU=Disabled,{AD_BASE}"
STANDING_GROUPS = ("ICT Admins", "Staff")
"""Groups that exist in both directories before the tests (``group:ICT Admins``)."""

MONITORED = ("Add", "Modify", "Modrdn", "Delete")


_SAMBA_LOCK = Path(tempfile.gettempdir()) / "idsync-samba.lock"
_PR_SET_PDEATHSIG = 1


class DirectoryError(RuntimeError):
    """A server could not be installed, set up or started; says what failed."""


def install(*, samba: bool = True) -> None:
    """Make sure slapd (and Samba) are installed; installs them with apt-get when missing."""
    wanted = SLAPD_PACKAGES + (SAMBA_PACKAGES if samba else [])
    try:
        debian.ensure(wanted)
    except debian.DebianError as exc:
        raise DirectoryError(str(exc)) from None


def _die_with_parent() -> None:
    """In the child: be sent SIGTERM when the test process dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _run(command: list[str], what: str, timeout: float = 120) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DirectoryError(f"{what}: {exc}") from exc
    if done.returncode != 0:
        raise DirectoryError(
            f"{what} failed (exit {done.returncode}): {' '.join(command)}\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return done.stdout


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _released(ports: tuple[int, ...], timeout: float) -> bool:
    """Whether nothing listens on ``ports`` of 127.0.0.1 (waiting up to ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while any(_listening(port) for port in ports):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _stop(process: subprocess.Popen[bytes] | None, timeout: float = 10) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def make_certificate(folder: Path, name: str = "localhost") -> tuple[Path, Path, Path]:
    """A CA and a server certificate for ``name`` and 127.0.0.1: ``(ca, cert, key)``."""
    ca_key, ca = folder / "ca.key", folder / "ca.pem"
    key, csr, cert = folder / "server.key", folder / "server.csr", folder / "server.pem"
    ext = folder / "server.ext"
    ext.write_text(f"subjectAltName=DNS:{name},IP:127.0.0.1\n", encoding="ascii")
    openssl = shutil.which("openssl") or "openssl"
    _run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
         "-subj", "/CN=idsync test CA", "-keyout", str(ca_key), "-out", str(ca)],
        "making the test CA",
    )  # fmt: skip
    _run(
        [openssl, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", f"/CN={name}",
         "-keyout", str(key), "-out", str(csr)],
        "making the server key",
    )  # fmt: skip
    _run(
        [openssl, "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
         "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert)],
        "signing the server certificate",
    )  # fmt: skip
    return ca, cert, key


def bind(
    url: str, user: str, password: str, *, tls: bool = False, auto: bool = True
) -> ldap3.Connection:
    """A plain ldap3 connection for looking behind idsync's back (bound unless ``auto`` is
    false; ``tls`` accepts any certificate: these are the tests' own servers)."""
    server = ldap3.Server(
        url, get_info=ldap3.NONE, tls=ldap3.Tls(validate=ssl.CERT_NONE) if tls else None
    )
    return ldap3.Connection(server, user, password, auto_bind=auto, raise_exceptions=False)


# --- write probes: what proves that a call wrote nothing --------------------------------


def slapd_writes(slapd: Slapd) -> int:
    """Add, modify, modify-DN and delete operations slapd has started (cn=Monitor)."""
    connection = bind(slapd.url, ADMIN, ADMIN_PASSWORD)
    try:
        connection.search(
            "cn=Operations,cn=Monitor", "(objectClass=*)", attributes=["monitorOpInitiated"]
        )
        return sum(
            int(entry.monitorOpInitiated.value)
            for entry in connection.entries
            if entry.entry_dn.split(",")[0].split("=")[1] in MONITORED
        )
    finally:
        connection.unbind()


def samba_writes(samba: SambaDC) -> int:
    """The domain's highest committed update sequence number: it grows with every write."""
    connection = bind(samba.url, AD_ADMIN, AD_PASSWORD, tls=True)
    try:
        connection.search(
            "", "(objectClass=*)", search_scope=ldap3.BASE, attributes=["highestCommittedUSN"]
        )
        return int(connection.entries[0].highestCommittedUSN.value)
    finally:
        connection.unbind()


# --- OpenLDAP ----------------------------------------------------------------------------

_SLAPD_CONF = """\
include         /etc/ldap/schema/core.schema
include         /etc/ldap/schema/cosine.schema
include         /etc/ldap/schema/nis.schema
include         /etc/ldap/schema/inetorgperson.schema
pidfile         {root}/slapd.pid
argsfile        {root}/slapd.args
modulepath      /usr/lib/ldap
moduleload      back_mdb
moduleload      memberof
moduleload      refint
moduleload      ppolicy
moduleload      retcode
TLSCACertificateFile  {ca}
TLSCertificateFile    {cert}
TLSCertificateKeyFile {key}
sizelimit       {size_limit}

database        mdb
maxsize         268435456
suffix          "{suffix}"
rootdn          "{admin}"
rootpw          {admin_password}
directory       {root}/data
index           objectClass eq
index           uid,cn,mail,employeeNumber,member eq
index           entryUUID eq
limits          dn.exact="{service}" size.soft={size_limit} size.hard={size_limit} size.pr=unlimited size.prtotal=unlimited
access to attrs=userPassword
    by dn.exact="{service}" write
    by anonymous auth
    by * none
access to dn.subtree="ou=people,{suffix}"
    by dn.exact="{service}" write
    by * read
access to dn.subtree="ou=groups,{suffix}"
    by dn.exact="{service}" write
    by * read
access to dn.subtree="ou=retcode,{suffix}"
    by dn.exact="{service}" write
    by * read
access to *
    by dn.exact="{service}" read
    by anonymous auth
    by * none
overlay         memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE
overlay         refint
refint_attributes member
overlay         ppolicy
ppolicy_default "cn=default,ou=policies,{suffix}"
overlay         retcode
retcode-parent  "ou=retcode,{suffix}"
retcode-item    "uid=busy" 0x33 op=add,modify text="the server is busy, try again later"

database        monitor
access to *
    by dn.exact="{admin}" read
    by * none
"""

_SLAPD_BASE = """\
dn: {suffix}
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,{suffix}
objectClass: organizationalUnit
ou: people

dn: ou=groups,{suffix}
objectClass: organizationalUnit
ou: groups

dn: ou=services,{suffix}
objectClass: organizationalUnit
ou: services

dn: ou=policies,{suffix}
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,{suffix}
objectClass: applicationProcess
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdLockout: TRUE

dn: {service}
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: idsync
userPassword: {service_password}
"""


class Slapd:
    """One throwaway OpenLDAP server: :meth:`start`, then :attr:`url`; :meth:`stop`."""

    def __init__(self) -> None:
        self.root: Path | None = None
        self.port = 0
        self.tls_port = 0
        self.ca: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``ldap://127.0.0.1:PORT`` (StartTLS available)."""
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        """``ldaps://127.0.0.1:PORT``."""
        return f"ldaps://127.0.0.1:{self.tls_port}"

    def start(self) -> Slapd:
        """Install if needed, write the configuration and base entries, start slapd."""
        install(samba=False)
        self.root = Path(tempfile.mkdtemp(prefix="idsync-slapd-"))
        try:
            self._setup()
            self._launch()
        except BaseException:
            self.stop()
            raise
        return self

    def _setup(self) -> None:
        assert self.root is not None
        (self.root / "data").mkdir()
        self.ca, cert, key = make_certificate(self.root)
        values = {
            "root": self.root,
            "ca": self.ca,
            "cert": cert,
            "key": key,
            "suffix": SUFFIX,
            "admin": ADMIN,
            "admin_password": ADMIN_PASSWORD,
            "service": SERVICE,
            "service_password": SERVICE_PASSWORD,
            "size_limit": SIZE_LIMIT,
        }
        conf = self.root / "slapd.conf"
        conf.write_text(_SLAPD_CONF.format(**values), encoding="utf-8")
        base = self.root / "base.ldif"
        base.write_text(_SLAPD_BASE.format(**values), encoding="utf-8")
        _run(["slapadd", "-f", str(conf), "-l", str(base)], "slapadd")

    def _launch(self) -> None:
        assert self.root is not None
        last = ""
        for _ in range(5):  # a free port can be taken between probing and listening
            self.port, self.tls_port = _free_port(), _free_port()
            log = (self.root / "slapd.log").open("ab")
            self._process = subprocess.Popen(
                ["slapd", "-f", str(self.root / "slapd.conf"),
                 "-h", f"{self.url}/ {self.tls_url}/", "-d", "0"],
                stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
            )  # fmt: skip
            log.close()
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and self._process.poll() is None:
                if _listening(self.port) and _listening(self.tls_port):
                    return
                time.sleep(0.02)
            last = self.log()[-2000:]
            _stop(self._process)
        raise DirectoryError(f"slapd did not start:\n{last}")

    def log(self) -> str:
        """What slapd printed so far."""
        if self.root is None:
            return ""
        try:
            return (self.root / "slapd.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop slapd by its process id and remove its directory. Safe to call twice."""
        _stop(self._process)
        self._process = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None


# --- Samba AD ----------------------------------------------------------------------------


def _template() -> Path:
    """A domain provisioned once per machine and Samba version, copied by every start.

    Provisioning takes from 5 s to over a minute on a busy machine; a copy takes a tenth of a
    second, and only ``smb.conf`` names the folder. Called under the Samba lock.
    """
    version = _run(["samba", "-V"], "samba -V").strip().replace(" ", "-").replace("/", "_")
    template = Path(tempfile.gettempdir()) / f"idsync-samba-template-{version}" / "dc"
    if (template / "etc" / "smb.conf").exists():
        return template
    building = Path(tempfile.mkdtemp(prefix="idsync-samba-provision-")) / "dc"
    _run(
        ["samba-tool", "domain", "provision", f"--targetdir={building}", f"--realm={REALM}",
         f"--domain={DOMAIN}", "--server-role=dc", "--dns-backend=NONE",
         f"--adminpass={AD_PASSWORD}", "--host-ip=127.0.0.1", "--host-name=dc1",
         "--option=interfaces=lo", "--option=bind interfaces only=yes",
         "--option=server services=ldap",
         f"--option=log file={building}/log.%m"],
        "samba-tool domain provision",
        timeout=600,
    )  # fmt: skip
    conf = building / "etc" / "smb.conf"
    conf.write_text(conf.read_text(encoding="utf-8").replace(str(building), str(template)))
    template.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(template, ignore_errors=True)
    shutil.move(str(building), str(template))
    shutil.rmtree(building.parent, ignore_errors=True)
    return template


class SambaDC:
    """A Samba AD domain controller on 127.0.0.1:389/636, shared by the processes of one run.

    AD's ports are fixed, so one Samba serves every test process (xdist worker) of a test
    run: the first to :meth:`start` it copies the provisioned domain, starts Samba and adds
    the OUs and standing groups; the others find it in the state file and join; the last to
    :meth:`stop` ends it by its process id. Another run waits until it is gone. A Samba whose
    users have all died (a killed run) is ended by the next one to come.
    """

    url = "ldaps://127.0.0.1:636"
    plain_url = "ldap://127.0.0.1:389"

    def __init__(self) -> None:
        self.root: Path | None = None
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def ca(self) -> Path:
        """The CA certificate Samba made for its LDAPS port."""
        assert self.root is not None
        return self.root / "dc" / "private" / "tls" / "ca.pem"

    def start(self, wait: float = 900) -> SambaDC:
        """Join this run's Samba, or start it (waiting for another run's to end)."""
        if os.geteuid() != 0:
            raise DirectoryError("Samba AD needs root (it listens on the LDAP ports 389 and 636)")
        install()
        run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"process-{os.getpid()}"
        deadline = time.monotonic() + wait
        while True:
            with _samba_lock():
                state = _samba_state()
                if state is not None and not _in_use(state):
                    _end(state)  # left behind by a run that was killed
                    state = None
                if state is not None and state["run"] == run:
                    state["users"].append(os.getpid())
                    _SAMBA_STATE.write_text(json.dumps(state), encoding="utf-8")
                    self.root, self.pid = Path(state["root"]), int(state["pid"])
                    return self
                if state is None:
                    self._start_here(run)
                    return self
            if time.monotonic() > deadline:
                raise DirectoryError("another test run's Samba AD still runs here")
            time.sleep(1)

    def _start_here(self, run: str) -> None:
        if not _released((389, 636), 30):
            raise DirectoryError("something else listens on port 389 or 636 of 127.0.0.1")
        self.root = Path(tempfile.mkdtemp(prefix="idsync-samba-"))
        try:
            self._provision()
            self._launch()
            _seed_samba(self)
        except BaseException:
            _end({"pid": self.pid, "root": str(self.root)})
            self.root = self.pid = None
            raise
        state = {"run": run, "pid": self.pid, "root": str(self.root), "users": [os.getpid()]}
        _SAMBA_STATE.write_text(json.dumps(state), encoding="utf-8")

    def _provision(self) -> None:
        """Copy the provisioned domain of this machine (made once, see :func:`_template`)."""
        assert self.root is not None
        template = _template()
        dc = self.root / "dc"
        shutil.copytree(template, dc, symlinks=True)
        run = dc / "run"
        run.mkdir()
        conf = dc / "etc" / "smb.conf"
        text = conf.read_text(encoding="utf-8").replace(str(template), str(dc))
        text = text.replace("[global]\n", f"[global]\n\tpid directory = {run}\n", 1)
        # LDAP only: the RPC service would listen on ports of the free range other tests use.
        text = re.sub(r"(?m)^(\s*server services\s*=).*$", r"\1 ldap", text)
        conf.write_text(text, encoding="utf-8")

    def _launch(self) -> None:
        assert self.root is not None
        log = (self.root / "samba.log").open("ab")
        # Its own session: it outlives the process that started it while others use it.
        self._process = subprocess.Popen(
            ["samba", "-s", str(self.root / "dc" / "etc" / "smb.conf"), "-F",
             "--debug-stdout", "-d", "1"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        self.pid = self._process.pid
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self._process.poll() is None:
            if _listening(636) and _listening(389) and self.ca.exists():
                return
            time.sleep(0.1)
        tail = (self.root / "samba.log").read_text(errors="replace")[-3000:]
        raise DirectoryError(f"Samba did not start:\n{tail}")

    def stop(self) -> None:
        """Leave this run's Samba; the last process to leave ends it. Safe to call twice."""
        if self.pid is None:
            return
        with _samba_lock():
            state = _samba_state()
            if state is not None and int(state["pid"]) == self.pid:
                state["users"] = [u for u in state["users"] if u != os.getpid() and _alive(u)]
                if state["users"]:
                    _SAMBA_STATE.write_text(json.dumps(state), encoding="utf-8")
                else:
                    _end(state, self._process)
        self.root = self.pid = self._process = None


_SAMBA_STATE = Path(tempfile.gettempdir()) / "idsync-samba.json"
"""The running Samba of the tests: its run, process id, folder and the processes using it."""


@contextlib.contextmanager
def _samba_lock() -> Iterator[None]:
    with _SAMBA_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _samba_state() -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads(_SAMBA_STATE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _in_use(state: dict[str, Any]) -> bool:
    return _alive(int(state["pid"])) and any(_alive(int(u)) for u in state.get("users", []))


def _end(state: dict[str, Any], process: subprocess.Popen[bytes] | None = None) -> None:
    """End the Samba of ``state`` by its process id and remove its folder and the state."""
    pid = state.get("pid")
    if process is not None:
        _stop(process, timeout=20)
    elif pid is not None and _alive(int(pid)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGTERM)
    _released((389, 636), 30)  # it and its prefork children close the ports
    if state.get("root"):
        shutil.rmtree(state["root"], ignore_errors=True)
    _SAMBA_STATE.unlink(missing_ok=True)


@contextlib.contextmanager
def writing_to_samba() -> Iterator[Any]:
    """Hold the contract kit's lock on the ``ad`` plugin's endpoint, shared, for a block that
    writes to Samba outside the kit: a kit check that proves "this wrote nothing" (Samba's
    write counter is domain-wide) then never sees these writes from another process. Yields
    the lock: ``with lock.exclusive():`` around a block that must see no other writes."""
    from idsync.testing.sharing import EndpointLock

    lock = EndpointLock("idsync_ldap.plugin.ActiveDirectoryPlugin")
    try:
        with lock.shared():
            yield lock
    finally:
        lock.close()


def _seed_slapd(server: Slapd) -> None:
    admin = bind(server.url, ADMIN, ADMIN_PASSWORD)
    try:
        for name in STANDING_GROUPS:
            admin.add(
                f"cn={name},{GROUPS}", ["groupOfNames"], {"cn": name, "member": ["cn=nobody"]}
            )
            if admin.result["result"] != 0:
                raise DirectoryError(f"adding the group {name}: {admin.result['description']}")
    finally:
        admin.unbind()


def _seed_samba(server: SambaDC) -> None:
    admin = bind(server.url, AD_ADMIN, AD_PASSWORD, tls=True)
    try:
        # A strict domain: initial passwords must have 20 characters (the plugin makes 24).
        admin.modify(AD_BASE, {"minPwdLength": [(ldap3.MODIFY_REPLACE, [str(MIN_PASSWORD)])]})
        if admin.result["result"] != 0:
            raise DirectoryError(f"setting the password policy: {admin.result['description']}")
        for ou in (EMPLOYEES, AD_GROUPS, DISABLED):
            admin.add(ou, ["organizationalUnit"])
            if admin.result["result"] != 0:
                raise DirectoryError(f"adding {ou}: {admin.result['description']}")
        for name in STANDING_GROUPS:
            admin.add(
                f"CN={name},{AD_GROUPS}",
                ["top", "group"],
                {"sAMAccountName": name.replace(" ", "_"), "groupType": str(-2147483646)},
            )
            if admin.result["result"] != 0:
                raise DirectoryError(f"adding the group {name}: {admin.result['description']}")
    finally:
        admin.unbind()


_running: dict[str, list[Any]] = {}
_running_lock = threading.Lock()


@contextlib.contextmanager
def shared(kind: Literal["slapd", "samba"]) -> Iterator[Any]:
    """The test process's one running server of ``kind`` (started by the first user, with the
    OUs and standing groups, and stopped when the last one is done), so fixtures in several
    conftest files share it."""
    with _running_lock:
        if kind not in _running:
            server: Slapd | SambaDC = Slapd() if kind == "slapd" else SambaDC()
            server.start()
            try:
                if isinstance(server, Slapd):
                    _seed_slapd(server)  # Samba seeds itself, once for every process
            except BaseException:
                server.stop()
                raise
            _running[kind] = [server, 0]
        _running[kind][1] += 1
        server = _running[kind][0]
    try:
        yield server
    finally:
        with _running_lock:
            _running[kind][1] -= 1
            if _running[kind][1] == 0:
                del _running[kind]
                server.stop()


def main(argv: list[str] | None = None) -> int:
    """``--install``: only install the packages; ``slapd`` or ``samba``: run one until Ctrl-C."""
    args = sys.argv[1:] if argv is None else argv
    try:
        if args == ["--install"]:
            install(samba=os.geteuid() == 0)
            return 0
        if args not in (["slapd"], ["samba"]):
            print("usage: ldapservers.py --install | slapd | samba", file=sys.stderr)
            return 2
        server: Slapd | SambaDC = Slapd() if args == ["slapd"] else SambaDC()
        server.start()
    except DirectoryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    stop = False

    def _stop_signal(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, _stop_signal)
    signal.signal(signal.SIGTERM, _stop_signal)
    try:
        print(server.url, flush=True)
        while not stop:
            time.sleep(0.2)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
