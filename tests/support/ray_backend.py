"""Start and stop the example Ray Serve model server for tests and the demo.

`RayServeProcess` runs `examples/ray_serve/serve.py` with the Python of the Ray
environment (`.venv-ray`, kept apart from byom's own), on a free loopback port, in a
session of its own:

    server = RayServeProcess()
    server.start()  # about 10 s
    try:
        post_json(server.train_url, {"df": "[...]", "target": "y"})
    finally:
        server.stop()  # about 5 s

It is also a context manager, so a pytest fixture can simply `yield` inside a
`with RayServeProcess() as server:` block.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, ClassVar

from tests.support.procs import (
    descendants,
    kill_survivors,
    session_members,
    stop_process_tree,
)
from tests.support.server_process import ServerProcess

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVE_SCRIPT = REPO_ROOT / "examples" / "ray_serve" / "serve.py"
DEFAULT_RAY_PYTHON = REPO_ROOT / ".venv-ray" / "bin" / "python"

# Ray needs 8-15 s to start on two cores, more when they are busy.
START_TIMEOUT = 90.0
# serve.shutdown() and ray.shutdown() take about 4 s after SIGTERM.
STOP_TIMEOUT = 30.0
LOG_TAIL_LINES = 40

# Environment that would make the server join another cluster or import packages
# from byom's environment instead of its own.
_INHERITED_ENV_TO_DROP = ("RAY_ADDRESS", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")


class RayServeError(RuntimeError):
    """The Ray Serve server could not be started."""


class RayServeProcess(ServerProcess):
    """One Ray Serve server with the example model, owned by the caller.

    Nothing is started by the constructor; `start()` spawns the server and returns
    once it answers, `stop()` removes every process it started and its temp dir.
    A port of 0 means "pick a free one at start".
    """

    error: ClassVar[type[RuntimeError]] = RayServeError
    program: ClassVar[str] = "Ray Serve"
    log_name: ClassVar[str] = "serve.log"

    def __init__(
        self,
        python: str | os.PathLike[str] = DEFAULT_RAY_PYTHON,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        route_prefix: str = "/my_model",
        app_name: str = "byom",
        start_timeout: float = START_TIMEOUT,
        stop_timeout: float = STOP_TIMEOUT,
    ) -> None:
        super().__init__(host=host, port=port, start_timeout=start_timeout)
        self.python = Path(python)
        self.route_prefix = route_prefix
        self.app_name = app_name
        self.stop_timeout = stop_timeout
        self.stop_seconds: float | None = None

    @property
    def base_url(self) -> str:
        """URL of the app, e.g. http://127.0.0.1:8000/my_model."""
        return f"http://{self.host}:{self.port}{self.route_prefix}"

    @property
    def train_url(self) -> str:
        return f"{self.base_url}/train"

    @property
    def predict_url(self) -> str:
        return f"{self.base_url}/predict"

    @property
    def pid(self) -> int | None:
        """Process id of the server (its session id too), None when not running."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        """Spawn the server and wait until the app answers on its route prefix."""
        if self._proc is not None:
            raise RayServeError("this Ray Serve server is already started")
        if not self.python.exists():
            raise RayServeError(
                f"no Python at {self.python}; create the Ray environment with "
                "`make ray-venv`"
            )

        # A stale server on a given port would answer the probes below at once.
        self._choose_port()
        temp_dir = _make_short_temp_dir()
        self._spawn(
            self._command(temp_dir), temp_dir, cwd=SERVE_SCRIPT.parent, env=_ray_env()
        )
        self._wait_ready("Ray Serve", interval=0.25, tail_lines=LOG_TAIL_LINES)

    def stop(self) -> None:
        """Stop the server gracefully, kill whatever survives, delete the temp dir.

        Safe to call twice and after a failed start.
        """
        started = time.monotonic()
        running = self._proc is not None
        super().stop()
        if running:
            self.stop_seconds = time.monotonic() - started

    def _stop_tree(self, proc: subprocess.Popen[bytes]) -> None:
        _stop_ray_tree(proc, self.stop_timeout)

    def _command(self, temp_dir: Path) -> list[str]:
        return [
            str(self.python),
            str(SERVE_SCRIPT),
            f"--host={self.host}",
            f"--port={self.port}",
            f"--route-prefix={self.route_prefix}",
            f"--app-name={self.app_name}",
            f"--ready-file={temp_dir / 'ready'}",
            f"--temp-dir={temp_dir / 'ray'}",
        ]

    def _is_ready(self) -> bool:
        self._check_running()
        assert self._temp_dir is not None

        # The ready file alone is not enough (the proxy may still be binding), and
        # /-/routes alone lists the app a few seconds before it can answer.
        if not (self._temp_dir / "ready").exists():
            return False
        root = f"http://{self.host}:{self.port}"
        health = _get_text(f"{root}/-/healthz")
        if health is None or health.strip() != "success":
            return False

        routes = _get_text(f"{root}/-/routes")
        if routes is None:
            return False
        try:
            listed = json.loads(routes)
        except json.JSONDecodeError:
            return False
        return isinstance(listed, dict) and self.route_prefix in listed


def _ray_env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _INHERITED_ENV_TO_DROP
    }
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def post_json(url: str, payload: Any, timeout: float = 60.0) -> tuple[int, Any]:
    """POST payload as JSON; return the status and the decoded JSON answer.

    HTTP errors are returned rather than raised, so tests can assert on a 400 body.
    A body that is not JSON comes back as text.
    """
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()

    try:
        return status, json.loads(body)
    except json.JSONDecodeError:
        return status, body.decode(errors="replace")


def _get_text(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2.0) as response:
            if response.status != 200:
                return None
            text: str = response.read().decode(errors="replace")
            return text
    except (OSError, ValueError):
        # Refused, reset, timed out or an HTTP error status: not ready yet.
        return None


def _make_short_temp_dir() -> Path:
    # Ray puts Unix sockets about 60 bytes deep under its temp dir, and a socket
    # path may not exceed 107 bytes, so a long $TMPDIR must not be used.
    parent = tempfile.gettempdir()
    if len(parent) > 24:
        parent = "/tmp"
    return Path(tempfile.mkdtemp(prefix="byom-ray-", dir=parent))


def _stop_ray_tree(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM the server alone, wait, then remove every process it started.

    Only the server gets the first signal: its handler shuts Serve and Ray down in
    order, which a signal to the whole group would cut short. Ray's actors leave
    the process group but stay in the session, so the sweep goes by session too.
    """
    tree = descendants(proc.pid)
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass

    stop_process_tree(proc, timeout=5.0)

    if os.getsid(0) != proc.pid:
        tree = sorted(set(tree) | set(session_members(proc.pid)))
    kill_survivors(tree, grace=5.0)
