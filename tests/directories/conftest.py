"""Fixtures for whole pipelines from the AFAS simulator into Samba AD and OpenLDAP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from directory_pipelines import DirectoryOrg, make_org
from idsync.sandbox.simulator import serve
from idsync_afas.simulator import AfasSimulator, from_world
from ldapservers import SambaDC, Slapd, shared, writing_to_samba
from support import AFAS_TOKEN, organisation


@pytest.fixture
def afas() -> Iterator[tuple[AfasSimulator, str]]:
    """The AFAS simulator with the hand-made organisation of ``support.organisation``."""
    simulator = AfasSimulator(from_world(organisation()), AFAS_TOKEN)
    with serve(simulator.app) as server:
        yield simulator, server.url


@pytest.fixture(scope="session")
def slapd() -> Iterator[Slapd]:
    """OpenLDAP for this test process."""
    with shared("slapd") as server:
        yield server


@pytest.fixture(scope="session")
def samba() -> Iterator[SambaDC]:
    """The Samba AD domain of this test run."""
    with shared("samba") as server:
        yield server


@pytest.fixture
def ad_org(
    samba: SambaDC, tmp_path: Path, afas: tuple[AfasSimulator, str]
) -> Iterator[DirectoryOrg]:
    """AFAS → Samba AD (beside the contract checks, which count Samba's writes)."""
    with writing_to_samba() as lock:
        org = make_org("ad", samba, tmp_path, afas[1], afas[0])
        org.quiet = lock.exclusive
        yield org
        org.admin.unbind()


@pytest.fixture
def ldap_org(
    slapd: Slapd, tmp_path: Path, afas: tuple[AfasSimulator, str]
) -> Iterator[DirectoryOrg]:
    """AFAS → OpenLDAP."""
    org = make_org("ldap", slapd, tmp_path, afas[1], afas[0])
    yield org
    org.admin.unbind()
