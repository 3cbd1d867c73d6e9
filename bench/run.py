"""Run every benchmark and write ``bench/RESULTS.md`` (``make bench``).

Benchmarks (one module each; every measurement in a process of its own):

- ``plan``: plan 10,000 and 100,000 synthetic persons, first run and steady state;
- ``import``: 100,000 persons from the AFAS simulator over HTTP;
- ``enforce``: creates and grants against HelloID with 50 ms per request, at 1, 8 and 32;
- ``noop``: the second run over an unchanged organisation of 100,000;
- ``joiners``: 2,000 joiners created enabled and granted a group in HelloID with 50 ms per
  request, at concurrency 32: requests per joiner and the share of the bound;
- ``joiners-scim``: joiners created, enabled and granted a group on a real SCIM server.
- ``console``: the web console's pages over 100,000 persons and a million audit records.
- ``joiners-ldap``: joiners created and granted three groups in a real OpenLDAP, at 1 and 8.
- ``fleet``: pipelines run by four fleet workers on PostgreSQL against the ideal, and with one
  worker killed.

``--quick`` runs everything at a tenth of the size, to check the harness in a minute.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import BENCH, machine

PLAN_SIZES = (10_000, 100_000)
AFAS_SIZE = 100_000
ALL = (
    "plan",
    "import",
    "enforce",
    "noop",
    "joiners",
    "joiners-scim",
    "joiners-ldap",
    "console",
    "fleet",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    parser.add_argument("--only", default=",".join(ALL), help=f"some of {','.join(ALL)}")
    parser.add_argument("--out", type=Path, default=BENCH / "RESULTS.md")
    args = parser.parse_args()
    chosen = [name for name in args.only.split(",") if name]
    unknown = set(chosen) - set(ALL)
    if unknown:
        parser.error(f"unknown benchmarks: {sorted(unknown)}")
    scale = 0.1 if args.quick else 1.0
    started, clock = dt.datetime.now(dt.UTC), time.perf_counter()
    results: dict[str, Any] = {"machine": machine(), "started": started.isoformat()}
    results["command"] = "make bench" if not args.quick else "python bench/run.py --quick"
    if args.only != ",".join(ALL):
        results["command"] += f" --only {args.only}"
    as_of = dt.date.today()
    with tempfile.TemporaryDirectory(prefix="idsync-bench-") as tmp:
        work = Path(tmp)
        if "plan" in chosen:
            import plan

            print("plan at scale", flush=True)
            results["plan"] = plan.run([int(n * scale) for n in PLAN_SIZES], work)
        if "import" in chosen or "noop" in chosen:
            from _afas import afas_simulator

            size = int(AFAS_SIZE * scale)
            print(f"AFAS simulator with {size} persons", flush=True)
            with afas_simulator(size) as url:
                if "import" in chosen:
                    import importing

                    print("import at scale", flush=True)
                    results["import"] = importing.run(url, work, as_of)
                if "noop" in chosen:
                    import noop

                    print("no-op re-run", flush=True)
                    results["noop"] = noop.run(url, work, as_of)
        if "enforce" in chosen:
            import enforce

            print("enforce near the limit", flush=True)
            results["enforce"] = enforce.run(work, scale)
        if "joiners" in chosen:
            import joiners

            print("joiners against HelloID", flush=True)
            results["joiners"] = joiners.run(work, scale)
        if "joiners-scim" in chosen:
            import joiners_scim

            print("joiners against scim2-server", flush=True)
            results["joiners-scim"] = joiners_scim.run(work, scale)
        if "console" in chosen:
            import console

            print("the web console's pages", flush=True)
            results["console"] = console.run(work, scale)
        if "joiners-ldap" in chosen:
            import joiners_ldap

            print("joiners into OpenLDAP", flush=True)
            results["joiners_ldap"] = joiners_ldap.run(work, scale)
        if "fleet" in chosen:
            import fleet

            print("a fleet of pipelines", flush=True)
            results["fleet"] = fleet.run(work, scale)
    results["seconds"] = round(time.perf_counter() - clock, 1)
    results["machine"]["load_after"] = machine()["load"]
    (BENCH / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    from _report import write

    write(results, args.out)
    print(f"wrote {args.out} ({results['seconds']:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
