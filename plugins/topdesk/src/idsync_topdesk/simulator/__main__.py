"""Run the TOPdesk simulator on 127.0.0.1: ``python -m idsync_topdesk.simulator --port 8081``.

With ``--size`` it is filled from a generated sandbox world (``--seed`` makes it repeatable);
without, it starts empty apart from archiving reasons and countries.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import threading

from idsync.sandbox.simulator import SimulatorServer
from idsync.sandbox.world import generate_world

from idsync_topdesk.simulator import (
    SANDBOX_PASSWORD,
    SANDBOX_USERNAME,
    TopdeskSimulator,
    seed_from_world,
)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, seed the simulator and serve it until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m idsync_topdesk.simulator", description="Simulated TOPdesk /tas/api"
    )
    parser.add_argument("--port", type=int, default=8081, help="port on 127.0.0.1 (0 = any)")
    parser.add_argument("--username", default=SANDBOX_USERNAME, help="operator login name")
    parser.add_argument("--password", default=SANDBOX_PASSWORD, help="application password")
    parser.add_argument("--size", type=int, default=0, help="persons in the generated world")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated world")
    args = parser.parse_args(argv)
    sim = TopdeskSimulator.create(args.username, args.password, seed=args.seed)
    summary = "empty"
    if args.size > 0:
        world = generate_world(size=args.size, seed=args.seed, today=dt.date.today())
        counts = seed_from_world(sim.store, world)
        summary = ", ".join(f"{v} {k}" for k, v in counts.items())
    server = SimulatorServer(sim.app, args.port).start()
    print(
        f"TOPdesk simulator on {server.url}/tas/api ({summary}), user {args.username!r}",
        file=sys.stderr,
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
