"""Build the test models and serve them with the real MLServer (``mlserver start``).

Both run with the Python of the MLServer environment (``.venv-mlserver``, made by
``make mlserver-venv``), kept apart from byom's own as a user's model server is:

    expected = build_models(out_dir, batches)    # about 2 s; answers per batch
    server = MlserverProcess(out_dir)
    server.start()                               # about 5 s, until every model is ready
    try:
        post_json(server.infer_url("rooms"), {"inputs": [...]})
    finally:
        server.stop()                            # about 1 s

MLServer listens on three ports (HTTP, gRPC, metrics); all three are picked
free and written to the ``settings.json`` it reads beside the model folders, so
that two servers on one machine never collide on the defaults.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.support.procs import (
    free_port,
    log_tail,
    stop_process_tree,
    wait_until,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
MLSERVER_VENV = REPO_ROOT / ".venv-mlserver"
MAKE_MODELS = REPO_ROOT / "fixtures" / "mlserver" / "make_models.py"
MODELS = ("rooms", "rooms_undeclared", "rooms_confidence")

# Start to ready took 3-6 s on two idle cores; busy cores take longer.
START_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0
BUILD_TIMEOUT = 180.0

# Environment that would make the server import packages from byom's environment.
_INHERITED_ENV_TO_DROP = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")


class MlserverError(RuntimeError):
    """The models could not be built, or MLServer did not start."""


def _mlserver_env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _INHERITED_ENV_TO_DROP}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _require_venv(venv: Path) -> None:
    if not (venv / "bin" / "mlserver").exists():
        raise MlserverError(
            f"no MLServer at {venv}/bin/mlserver; create the environment with "
            "`make mlserver-venv`"
        )


def build_models(
    out_dir: Path, batches: list[list[dict[str, Any]]], venv: Path = MLSERVER_VENV
) -> dict[str, Any]:
    """Save the test models under out_dir; return their answers for each batch.

    The answers come from the model in the building process (no server, no
    byom), batch by batch: ``{"rooms": [[rooms, ...], ...], "rooms_confidence":
    [[[rooms, confidence], ...], ...]}``.
    """
    _require_venv(venv)
    out_dir.mkdir(parents=True, exist_ok=True)
    inputs = out_dir.parent / f"{out_dir.name}-batches.json"
    inputs.write_text(json.dumps(batches))

    done = subprocess.run(
        [
            str(venv / "bin" / "python"),
            str(MAKE_MODELS),
            str(out_dir),
            "--score",
            inputs,
        ],
        env=_mlserver_env(venv),
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        start_new_session=True,
    )
    if done.returncode != 0:
        raise MlserverError(
            f"make_models.py exited with {done.returncode}:\n{done.stderr[-3000:]}"
        )
    expected: dict[str, Any] = json.loads((out_dir / "expected.json").read_text())
    return expected


class MlserverProcess:
    """One ``mlserver start`` process serving every model folder of a directory.

    The server runs in a session of its own; ``stop()`` signals that process
    group (MLServer and any inference workers it forks) by the server's PID.
    """

    def __init__(
        self,
        models_dir: Path,
        *,
        venv: Path = MLSERVER_VENV,
        host: str = "127.0.0.1",
        models: tuple[str, ...] = MODELS,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.models_dir = models_dir
        self.venv = venv
        self.host = host
        self.models = models
        self.start_timeout = start_timeout
        self.port = 0
        self.start_seconds: float | None = None
        self._started_at = 0.0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_dir: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def model_url(self, model: str) -> str:
        """The model's base URL, which byom takes as ``url.predict``."""
        return f"{self.base_url}/v2/models/{model}"

    def infer_url(self, model: str) -> str:
        """The model's inference route."""
        return f"{self.model_url(model)}/infer"

    @property
    def log_path(self) -> Path | None:
        """The server's combined output, until stop() deletes it."""
        return self._log_dir / "mlserver.log" if self._log_dir is not None else None

    def start(self) -> None:
        """Spawn the server and wait until it and every model are ready."""
        if self._proc is not None:
            raise MlserverError("this MLServer is already started")
        _require_venv(self.venv)
        ports: set[int] = set()
        while len(ports) < 3:
            ports.add(free_port())
        self.port, grpc_port, metrics_port = sorted(ports)
        settings = {
            "host": self.host,
            "http_port": self.port,
            "grpc_port": grpc_port,
            "metrics_port": metrics_port,
            # Inference in the main process: fewer processes, faster start.
            "parallel_workers": 0,
        }
        (self.models_dir / "settings.json").write_text(json.dumps(settings))

        self._log_dir = Path(tempfile.mkdtemp(prefix="byom-mlserver-"))
        self._started_at = time.monotonic()
        with open(self._log_dir / "mlserver.log", "wb") as log:
            self._proc = subprocess.Popen(
                [str(self.venv / "bin" / "mlserver"), "start", str(self.models_dir)],
                cwd=self._log_dir,
                env=_mlserver_env(self.venv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until(self._is_ready, self.start_timeout, "MLServer", interval=0.2)
        except (TimeoutError, MlserverError) as exc:
            tail = log_tail(self.log_path) if self.log_path else "(no log)"
            self.stop()
            raise MlserverError(f"{exc}\n--- server log (tail) ---\n{tail}") from None
        except BaseException:
            # Ctrl-C while waiting: leave no server behind.
            self.stop()
            raise
        self.start_seconds = time.monotonic() - self._started_at

    def stop(self) -> None:
        """Stop the server's process group and delete its log. Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_process_tree(proc, timeout=STOP_TIMEOUT)
        if self._log_dir is not None:
            shutil.rmtree(self._log_dir, ignore_errors=True)
            self._log_dir = None

    def __enter__(self) -> MlserverProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _is_ready(self) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise MlserverError(
                f"mlserver start exited with status {self._proc.returncode} "
                "before it was ready"
            )
        # The server is ready before its models have loaded; wait for each.
        paths = ["/v2/health/ready"] + [f"/v2/models/{m}/ready" for m in self.models]
        return all(self._answers_200(path) for path in paths)

    def _answers_200(self, path: str) -> bool:
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=2.0) as answer:
                return bool(answer.status == 200)
        except (OSError, ValueError):
            # Refused, reset or an error status: not ready yet.
            return False


def post_json(url: str, payload: Any, timeout: float = 30.0) -> tuple[int, bytes]:
    """POST payload as JSON; return the status and the raw answer."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
