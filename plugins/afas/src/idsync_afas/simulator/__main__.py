"""Run the AFAS simulator standalone on 127.0.0.1.

python -m idsync_afas.simulator --port 8400 --token '<token>…</token>' --size 200 --seed 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import threading

from idsync.sandbox.simulator import Faults, SimulatorServer
from idsync.sandbox.world import generate_world

from idsync_afas.simulator import MOUNT, SANDBOX_TOKEN, AfasSimulator, from_world


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m idsync_afas.simulator",
        description="AFAS Profit REST simulator (binds 127.0.0.1 only).",
    )
    parser.add_argument("--port", type=int, default=0, help="port (0: a free one)")
    parser.add_argument(
        "--token", default=SANDBOX_TOKEN, help="App-connector token XML the server accepts"
    )
    parser.add_argument("--size", type=int, default=100, help="number of employees")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated organisation")
    parser.add_argument("--member", default="12345", help="AFAS member number (user ids)")
    parser.add_argument("--integration-id", help="require this IntegrationId header")
    parser.add_argument(
        "--no-window",
        action="store_true",
        help="list every contract (no ±3 months window on contract dates)",
    )
    faults = parser.add_argument_group("faults")
    faults.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    faults.add_argument("--error-rate", type=float, default=0.0, help="fraction answered 5xx")
    faults.add_argument("--timeout-rate", type=float, default=0.0, help="fraction held (timeout)")
    faults.add_argument("--drop-rate", type=float, default=0.0, help="fraction dropped")
    faults.add_argument("--rate-limit", type=float, help="requests per second before 429")
    faults.add_argument("--fault-seed", type=int, help="seed of the fault dice")
    faults.add_argument(
        "--maintenance",
        type=int,
        metavar="SECONDS",
        help="start in maintenance: 503 with this retry_after",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Start the simulator and serve until interrupted."""
    args = _parser().parse_args(argv)
    world = generate_world(size=args.size, seed=args.seed, today=dt.date.today())
    simulator = AfasSimulator(
        from_world(world, member=args.member, window_months=None if args.no_window else 3),
        args.token,
        integration_id=args.integration_id,
        faults=Faults(
            latency=args.latency,
            error_rate=args.error_rate,
            timeout_rate=args.timeout_rate,
            drop_rate=args.drop_rate,
            rate_limit=args.rate_limit,
            seed=args.fault_seed,
        ),
    )
    if args.maintenance is not None:
        simulator.maintenance(retry_after=args.maintenance)
    server = SimulatorServer(simulator.app, args.port).start()
    print(
        f"AFAS simulator on {server.url}{MOUNT} ({len(world.persons)} employees, "
        f"{len(world.bad_persons)} bad rows)",
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
    sys.exit(main())
