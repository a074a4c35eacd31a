"""A ray_server-format model that answers at once, run as a process of its own.

It does the least work a real endpoint must do: it parses the body and the
``df`` string inside it with orjson, then answers one constant prediction per
row. So its cost is the honest floor of any ray_server endpoint, and whatever
else a benchmark measures belongs to the caller.

    python -m bench.fake_model --port 8123
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import orjson
from aiohttp import web
from tests.support.procs import (
    free_port,
    port_accepts,
    spawn_logged,
    stop_process_tree,
    wait_until,
)
from tests.support.server_process import OwnedServer

PREDICTION = 1.0
START_TIMEOUT = 20.0
REPO = Path(__file__).resolve().parents[1]


async def train(request: web.Request) -> web.Response:
    """Accept any training frame: there is nothing to learn."""
    orjson.loads(orjson.loads(await request.read())["df"])
    return web.Response(
        body=orjson.dumps({"status": "ok"}), content_type="application/json"
    )


async def predict(request: web.Request) -> web.Response:
    """One constant prediction for each row of ``df``, after really parsing it."""
    rows = orjson.loads(orjson.loads(await request.read())["df"])
    body = orjson.dumps({"prediction": [PREDICTION] * len(rows)})
    return web.Response(body=body, content_type="application/json")


def build_app() -> web.Application:
    """The app with the two routes of the ray_server format."""
    app = web.Application(client_max_size=1 << 30)
    app.router.add_post("/train", train)
    app.router.add_post("/predict", predict)
    return app


class FakeModelProcess(OwnedServer):
    """The fake model in a subprocess on a free port; stop() ends it by its PID."""

    def __init__(self, log_dir: Path) -> None:
        self.port = 0
        self.log_path = log_dir / "fake_model.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Spawn the app and wait until it accepts connections."""
        self.port = free_port()
        command = [sys.executable, "-m", "bench.fake_model", "--port", str(self.port)]
        self.process = spawn_logged(
            command, self.log_path, append=True, stdin=None, cwd=REPO
        )
        wait_until(lambda: port_accepts(self.port), START_TIMEOUT, "the fake model")

    def stop(self) -> None:
        if self.process is not None:
            stop_process_tree(self.process, timeout=10)
            self.process = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(
        build_app(), host="127.0.0.1", port=args.port, print=None, access_log=None
    )


if __name__ == "__main__":
    main()
