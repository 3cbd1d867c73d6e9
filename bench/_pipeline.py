"""The benchmarks' pipeline: one source, one HelloID target, 5 permission rules and 1 dynamic.

The target is the example pipeline's HelloID target (``examples/afas-helloid.yaml``) with
three more static rules, so every person is evaluated against five static rules and one
dynamic rule per contract. The source is either AFAS (over HTTP) or ``bench-memory``, a
source plugin that yields the synthetic persons from memory, so the engine's own cost can be
measured without any transport.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from _synthetic import department_rows, person_rows
from idsync import Blocked, HookContext, Person, PluginAbout, PluginKind, hookimpl
from idsync.config import Pipeline, load_pipeline
from idsync.engine import Engine, Progress
from idsync.importer import SourceImport
from idsync.plan import Plan
from idsync.plugins import Registry
from pydantic import BaseModel, ConfigDict

__all__ = [
    "HELLOID_KEY",
    "HELLOID_SECRET",
    "SOURCE_SECONDS",
    "MemorySource",
    "TimedEngine",
    "load",
    "pipeline_text",
    "registry",
    "target_env",
    "timed",
    "today",
]

T = TypeVar("T")

HELLOID_KEY = "BENCHKEYABCDEFGHIJKLMNOPQRSTUVWX"
HELLOID_SECRET = "BenchSecretAbcdefghijklmnopqrstu"

_TARGET = """
targets:
  helloid:
    plugin: helloid
    settings:
      base_url: "${HELLOID_BASE_URL}"
      api_key: "${HELLOID_API_KEY}"
      api_secret: "${HELLOID_API_SECRET}"
      concurrency: __CONCURRENCY__
      __RATE__
    concurrency: __CONCURRENCY__
    account:
      when: "contract.department.code != 'EXT' and contract.type.code != 'EXT'"
      correlate: {person: account.userName, account: userName}
      __UNIQUE__
      mapping:
        firstName: "{{ person.name.first }}"
        lastName: "{{ person.name.full_family }}"
        contactEmail: "{{ person.contact.email }}"
        userAttributes.employeeId: "{{ person.external_id }}"
        userAttributes.department: "{{ contract.department.name }}"
        userAttributes.title: "{{ contract.title.name }}"
      manager: false
      lifecycle:
        create_days_before_start: 14
        enable_days_before_start: 3
        disable_days_after_end: 0
        delete_days_after_disable: 30
    permissions:
      - {when: "contract.title.code == 'ICT-ADM'", grant: "group:ICT Admins"}
      - {when: "(contract.fte or 0) >= 0.8", grant: "product:Laptop"}
      - {when: "contract.location.code == 'AMS'", grant: "group:Amsterdam"}
      - {when: "contract.title.code == 'MGR'", grant: "group:Managers"}
      - {when: "contract.employer.code == 'NLD'", grant: "group:Dienstverlening"}
      - {dynamic: "group:department_{{ contract.department.code }}"}
    resources:
      - "group:department_{{ department.code }}"
"""

_UNIQUE = """unique:
        userName:
          - "{{ person.contact.email }}"
          - "{{ person.name.first | slug }}.{{ person.name.full_family | slug }}{{ suffix }}@example.org"
"""


def pipeline_text(
    state: str,
    source: str = "memory",
    *,
    size: int = 0,
    concurrency: int = 8,
    rate_limit: float | None = None,
    unique: bool = True,
    page_size: int = 1000,
) -> str:
    """The pipeline file: ``source`` is ``memory`` (``size`` synthetic persons) or the name
    of an AFAS plugin (``afas``, or the benchmarks' timed one, ``afas-timed``)."""
    if source == "memory":
        sources = f"sources:\n  hr:\n    plugin: bench-memory\n    settings: {{size: {size}}}\n"
    else:
        sources = (
            f"sources:\n  hr:\n    plugin: {source}\n    settings:\n"
            '      base_url: "${AFAS_BASE_URL}"\n      token: "${AFAS_TOKEN}"\n'
            f"      page_size: {page_size}\n"
        )
    target = (
        _TARGET.replace("__CONCURRENCY__", str(concurrency))
        .replace("__RATE__", f"rate_limit: {rate_limit}" if rate_limit else "")
        .replace("__UNIQUE__", _UNIQUE.rstrip() if unique else "")
    )
    return f"name: bench\nstate: {state}\n{sources}{target}"


SOURCE_SECONDS = [0.0]
"""Seconds spent inside sources' iterators (producing rows), summed over this process."""


def timed(rows: Iterable[T]) -> Iterator[T]:
    """``rows``, counting the time spent producing each into :data:`SOURCE_SECONDS`."""
    iterator = iter(rows)
    while True:
        started = time.perf_counter()
        try:
            row = next(iterator)
        except StopIteration:
            SOURCE_SECONDS[0] += time.perf_counter() - started
            return
        SOURCE_SECONDS[0] += time.perf_counter() - started
        yield row


class MemorySettings(BaseModel):
    """How many synthetic persons the memory source yields."""

    model_config = ConfigDict(extra="forbid")

    size: int = 0
    seed: int = 1
    starts_in: int | None = None
    """Joiners: every contract starts this many days after the benchmarks' date."""


class MemorySource:
    """A source plugin that yields synthetic persons from memory (no transport at all)."""

    def __init__(self, settings: MemorySettings | None = None) -> None:
        self.settings = settings or MemorySettings()

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        """Describe the plugin."""
        return PluginAbout(
            name="bench-memory",
            kind=PluginKind.SOURCE,
            version="0",
            summary="synthetic persons from memory",
            settings=MemorySettings,
        )

    @hookimpl
    def idsync_persons(self, ctx: HookContext) -> Iterator[dict[str, Any] | Blocked]:
        """The synthetic persons, generated as they are read (the time it takes counts as
        the source's, in :data:`SOURCE_SECONDS`)."""
        settings = self.settings
        return timed(person_rows(settings.size, settings.seed, settings.starts_in))

    @hookimpl
    def idsync_departments(self, ctx: HookContext) -> list[dict[str, Any]]:
        """The synthetic departments."""
        return department_rows()


class TimedEngine(Engine):
    """The engine, with the time of its import and plan steps summed in ``steps``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.steps: dict[str, float] = {"import": 0.0, "plan": 0.0}

    def _import(self, as_of: dt.date, dry_run: bool, progress: Progress) -> list[SourceImport]:
        started = time.perf_counter()
        try:
            return super()._import(as_of, dry_run, progress)
        finally:
            self.steps["import"] += time.perf_counter() - started

    def _plan(
        self, imports: list[SourceImport], *args: Any, **kwargs: Any
    ) -> tuple[Plan, dict[str, Person]]:
        started = time.perf_counter()
        try:
            return super()._plan(imports, *args, **kwargs)
        finally:
            self.steps["plan"] += time.perf_counter() - started


def registry(extra: dict[str, Callable[..., Any]] | None = None) -> Registry:
    """The installed plugins plus the memory source (and ``extra`` ones)."""
    return Registry(extra={"bench-memory": MemorySource, **(extra or {})})


def load(
    directory: Path,
    text: str,
    env: dict[str, str],
    extra: dict[str, Callable[..., Any]] | None = None,
) -> tuple[Pipeline, Registry]:
    """Write ``text`` as ``pipeline.yaml`` in ``directory`` and load it."""
    path = directory / "pipeline.yaml"
    path.write_text(text, encoding="utf-8")
    reg = registry(extra)
    return load_pipeline(path, reg, env=env), reg


def target_env(url: str = "http://127.0.0.1:9/api/v1") -> dict[str, str]:
    """Environment for the HelloID target (the default URL is never contacted by a plan)."""
    return {
        "HELLOID_BASE_URL": url,
        "HELLOID_API_KEY": HELLOID_KEY,
        "HELLOID_API_SECRET": HELLOID_SECRET,
    }


def today() -> dt.date:
    """The benchmarks' ``as_of``."""
    from _synthetic import TODAY

    return TODAY
