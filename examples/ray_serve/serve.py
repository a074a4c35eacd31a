"""Serve the example model on a private Ray instance until SIGTERM or SIGINT.

Run it with the Python of the Ray environment, for example

    .venv-ray/bin/python examples/ray_serve/serve.py --port 8000

The Ray cluster belongs to this process alone (no `ray start`), so stopping this
process, and the processes it started, removes the whole cluster and touches no
other Ray instance on the machine.

The launcher refuses a port that something already listens on, before starting
Ray: Ray's HTTP proxy binds with SO_REUSEPORT, so a second copy on the same port
"started" as well, and the kernel split the requests between the two models.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from types import FrameType

HERE = Path(__file__).resolve().parent

# Small on purpose: the example model holds a few kilobytes, and Ray would otherwise
# reserve 30% of the machine's memory for its object store.
OBJECT_STORE_BYTES = 128 * 1024 * 1024

logger = logging.getLogger("byom.ray_serve")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line; every option has a default fit for a manual run."""
    parser = argparse.ArgumentParser(
        description="Serve the example BYOM model with Ray Serve."
    )
    parser.add_argument("--host", default="127.0.0.1", help="HTTP proxy address")
    parser.add_argument("--port", type=int, default=8000, help="HTTP proxy port")
    parser.add_argument(
        "--route-prefix", default="/my_model", help="prefix of /train and /predict"
    )
    parser.add_argument("--app-name", default="byom", help="Ray Serve app name")
    parser.add_argument(
        "--ready-file",
        type=Path,
        help="file written once the app is deployed (for scripts waiting on us)",
    )
    parser.add_argument(
        "--temp-dir",
        type=Path,
        help="Ray's session and socket folder; keep it short (socket paths are "
        "limited to 107 bytes). Default: Ray's own, /tmp/ray",
    )
    return parser.parse_args(argv)


def prepare_environment() -> None:
    """Set what Ray and its workers must see before ray is imported."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"

    # Replicas run in worker processes that import the app module by name; they
    # inherit this environment through the raylet that ray.init starts.
    paths = [str(HERE), *filter(None, os.environ.get("PYTHONPATH", "").split(":"))]
    os.environ["PYTHONPATH"] = ":".join(dict.fromkeys(paths))
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))


def install_stop_handlers() -> threading.Event:
    """Replace Ray's SIGTERM handler (which exits at once) with a flag.

    A stop that arrives while serve.run is still deploying then waits for it, and
    the shutdown below always runs.
    """
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop


class PortTakenError(RuntimeError):
    """Something already listens on the port the proxy would use."""


def reserve_port(host: str, port: int) -> socket.socket:
    """Bind host:port (without listening), or raise PortTakenError.

    The socket is bound without SO_REUSEPORT, which fails while any socket
    listens there, Ray's proxy included. It is held until just before Serve
    binds its proxy, so a second launcher started meanwhile is refused too.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # Connections of a server stopped a moment ago (TIME_WAIT) do not count.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortTakenError(
            f"port {port} on {host} is already taken ({exc.strerror}); another "
            "model server may be running there, and Ray Serve would share the "
            "port with it. Stop it, or choose another port with --port"
        ) from None
    return sock


def write_ready_file(path: Path, url: str) -> None:
    """Write the marker atomically, so a reader never sees it half written."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(f"{url}\n")
    partial.replace(path)


def main(argv: list[str] | None = None) -> int:
    """Start Ray, deploy the app, wait for a stop signal, shut everything down."""
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    try:
        reserved = reserve_port(args.host, args.port)
    except PortTakenError as exc:
        logger.error("%s", exc)
        return 1
    prepare_environment()

    import ray
    from ray import serve

    started = time.monotonic()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=OBJECT_STORE_BYTES,
        _temp_dir=str(args.temp_dir) if args.temp_dir else None,
    )
    stop = install_stop_handlers()
    logger.info("ray.init done in %.1f s", time.monotonic() - started)

    try:
        from model import app

        reserved.close()
        serve.start(http_options={"host": args.host, "port": args.port})
        serve.run(app, name=args.app_name, route_prefix=args.route_prefix)
        url = f"http://{args.host}:{args.port}{args.route_prefix}"
        logger.info("serving %s after %.1f s", url, time.monotonic() - started)
        if args.ready_file is not None:
            write_ready_file(args.ready_file, url)

        while not stop.wait(0.5):
            pass
        logger.info("stop requested, shutting down")
        serve.shutdown()
    finally:
        ray.shutdown()

    logger.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
