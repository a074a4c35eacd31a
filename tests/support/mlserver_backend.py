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
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, ClassVar

from tests.support.procs import free_port
from tests.support.server_process import ServerProcess, run_make_models, venv_env

REPO_ROOT = Path(__file__).resolve().parents[2]
MLSERVER_VENV = REPO_ROOT / ".venv-mlserver"
MAKE_MODELS = REPO_ROOT / "fixtures" / "mlserver" / "make_models.py"
MODELS = ("rooms", "rooms_undeclared", "rooms_confidence")

# Start to ready took 3-6 s on two idle cores; busy cores take longer.
START_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0
BUILD_TIMEOUT = 180.0


class MlserverError(RuntimeError):
    """The models could not be built, or MLServer did not start."""


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
    return run_make_models(
        venv, MAKE_MODELS, out_dir, inputs, timeout=BUILD_TIMEOUT, error=MlserverError
    )


class MlserverProcess(ServerProcess):
    """One ``mlserver start`` process serving every model folder of a directory.

    The server runs in a session of its own; ``stop()`` signals that process
    group (MLServer and any inference workers it forks) by the server's PID.
    """

    error: ClassVar[type[RuntimeError]] = MlserverError
    program: ClassVar[str] = "mlserver start"
    log_name: ClassVar[str] = "mlserver.log"
    stop_timeout = STOP_TIMEOUT

    def __init__(
        self,
        models_dir: Path,
        *,
        venv: Path = MLSERVER_VENV,
        host: str = "127.0.0.1",
        models: tuple[str, ...] = MODELS,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        super().__init__(host=host, port=0, start_timeout=start_timeout)
        self.models_dir = models_dir
        self.venv = venv
        self.models = models

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def model_url(self, model: str) -> str:
        """The model's base URL, which byom takes as ``url.predict``."""
        return f"{self.base_url}/v2/models/{model}"

    def infer_url(self, model: str) -> str:
        """The model's inference route."""
        return f"{self.model_url(model)}/infer"

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

        log_dir = Path(tempfile.mkdtemp(prefix="byom-mlserver-"))
        command = [str(self.venv / "bin" / "mlserver"), "start", str(self.models_dir)]
        self._spawn(command, log_dir, cwd=log_dir, env=venv_env(self.venv))
        self._wait_ready("MLServer", interval=0.2)

    def _is_ready(self) -> bool:
        self._check_running()
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
