"""``python -m local``: serve the whole API on http://127.0.0.1:3000 on embedded defaults."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from local.schedule import DEFAULT_INTERVAL_SECONDS, Schedule

ROOT = Path(__file__).resolve().parent.parent
# The same import path Lambda gives the layer.
sys.path.insert(0, str(ROOT / "layers" / "core"))


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve Timmy locally.")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument(
        "--reconcile-every",
        type=float,
        metavar="SECONDS",
        default=float(os.environ.get("RECONCILE_INTERVAL_SECONDS", DEFAULT_INTERVAL_SECONDS)),
        help="how often the scheduled reconciler runs (in AWS: every 5 minutes)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    os.environ.setdefault("PUBLIC_BASE_URL", f"http://{args.host}:{args.port}")

    from local.gateway import make_server
    from local.stack import LocalStack
    from timmy.errors import ConfigurationError

    try:
        stack = LocalStack().start()
    except ConfigurationError as exc:
        sys.exit(exc.message)
    schedule = Schedule(stack, args.reconcile_every).start()
    server = make_server(stack, args.host, args.port)
    routes = "\n".join(f"  {r.method:6} {r.path}" for r in stack.routes)
    print(f"Timmy is serving on http://{args.host}:{args.port}\n{routes}", flush=True)  # noqa: T201
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        schedule.stop()
        stack.stop()


if __name__ == "__main__":
    main()
