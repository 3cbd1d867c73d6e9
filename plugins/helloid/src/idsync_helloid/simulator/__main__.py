"""``python -m idsync_helloid.simulator``: serve a simulated HelloID tenant on 127.0.0.1."""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from idsync.sandbox.simulator import Faults, SimulatorServer
from idsync.sandbox.world import generate_world

from idsync_helloid.simulator import API_ROOT, HelloIDStore, seed_world, simulate


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m idsync_helloid.simulator",
        description="Serve a simulated HelloID API (/api/v1) on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    parser.add_argument("--api-key", required=True, help="the API key clients must send")
    parser.add_argument("--api-secret", required=True, help="the API secret clients must send")
    parser.add_argument(
        "--world-size",
        type=int,
        default=0,
        help="seed the tenant from a generated organisation of this many persons (0: empty)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the world and the faults")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each request")
    parser.add_argument(
        "--error-rate", type=float, default=0.0, help="fraction of requests answered 500/502/503"
    )
    parser.add_argument(
        "--drop-rate", type=float, default=0.0, help="fraction of connections dropped mid-answer"
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=None,
        help="requests per second above which the answer is 429 with Retry-After",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator until interrupted."""
    args = _parser().parse_args(argv)
    for name in ("error_rate", "drop_rate"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            print(f"--{name.replace('_', '-')} must be between 0 and 1", file=sys.stderr)
            return 2
    store = HelloIDStore(seed=args.seed)
    if args.world_size > 0:
        seed_world(store, generate_world(args.world_size, args.seed, dt.date.today()))
    faults = Faults(
        latency=args.latency,
        error_rate=args.error_rate,
        drop_rate=args.drop_rate,
        rate_limit=args.rate_limit,
        seed=args.seed,
    )
    app = simulate(store, api_key=args.api_key, api_secret=args.api_secret, faults=faults)
    server = SimulatorServer(app, args.port).start()
    stop = threading.Event()

    def finish(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    print(
        f"HelloID simulator listening on {server.url}{API_ROOT} ({len(store.users)} users)",
        flush=True,
    )
    while not stop.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
