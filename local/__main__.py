"""``python -m local``: serve the whole API on http://127.0.0.1:3000 on embedded defaults."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from local.schedule import DEFAULT_INTERVAL_SECONDS, Schedule

ROOT = Path(__file__).resolve().parent.parent
# The same import path Lambda gives the layer.
sys.path.insert(0, str(ROOT / "layers" / "core"))


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve Timmy locally.")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=ROOT / ".local" / "pgdata",
        help="where the embedded PostgreSQL keeps its data (when DATABASE_URL is unset)",
    )
    parser.add_argument(
        "--reconcile-every",
        type=float,
        metavar="SECONDS",
        default=float(os.environ.get("RECONCILE_INTERVAL_SECONDS", DEFAULT_INTERVAL_SECONDS)),
        help="how often the scheduled reconciler runs (in AWS: every 5 minutes)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # SIGTERM (a supervisor, `kill`) stops everything as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)

    from local.gateway import make_server
    from local.stack import LocalStack
    from timmy.errors import ConfigurationError

    stack = LocalStack(data_dir=args.data_dir)
    # Bound before the stack starts, so that the port PORT=0 picked is known to it.
    try:
        server = make_server(stack, args.host, args.port)
    except OSError as exc:  # most often: another `make dev` holds the port
        sys.exit(f"Cannot serve on {args.host}:{args.port}: {exc.strerror}. Pick another: PORT=…")
    port = server.server_address[1]
    os.environ.setdefault("PUBLIC_BASE_URL", f"http://{args.host}:{port}")
    schedule: Schedule | None = None
    refused: str | None = None
    try:
        stack.start()
        schedule = Schedule(stack, args.reconcile_every).start()
        routes = "\n".join(f"  {r.method:6} {r.path}" for r in stack.routes)
        url = f"http://{args.host}:{port}"
        print(f"Timmy is serving on {url}\n{routes}\nOpen {url}/ for the web app.", flush=True)  # noqa: T201
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    except ConfigurationError as exc:  # a bad setting stops `make dev` at start, named
        refused = exc.message
    finally:
        server.server_close()
        if schedule is not None:
            schedule.stop()
        stack.stop()  # the workers, the moto server and the embedded PostgreSQL
    if refused is not None:
        sys.exit(refused)


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
