"""Build the test MLflow models and serve them with the real ``mlflow models serve``.

Both run with the Python of the MLflow environment (``.venv-mlflow``, made by
``make mlflow-venv``), kept apart from byom's own as a user's model server would be:

    expected = build_models(out_dir, batches)    # about 3 s; answers per batch
    server = MlflowServeProcess(out_dir / "classifier")
    server.start()                               # about 4 s, until GET /ping is 200
    try:
        post_json(server.invocations_url, {"dataframe_records": rows})
    finally:
        server.stop()                            # under 1 s

``spawn()`` and ``wait_ready()`` split ``start()`` so that several servers can
start side by side. ``RawRecordingProxy`` sits between byom and a server and
keeps each request's Content-Type and bytes, whatever the body format.
"""

from __future__ import annotations

import json
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
from aiohttp import web

from tests.support.http_apps import BackgroundApp
from tests.support.server_process import ServerProcess, run_make_models, venv_env

REPO_ROOT = Path(__file__).resolve().parents[2]
MLFLOW_VENV = REPO_ROOT / ".venv-mlflow"
MAKE_MODELS = REPO_ROOT / "fixtures" / "mlflow" / "make_models.py"

# Start to /ping took 3.0-4.8 s on two idle cores; busy cores take longer.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
BUILD_TIMEOUT = 180.0


class MlflowServeError(RuntimeError):
    """The MLflow models could not be built, or their server did not start."""


def _require_venv(venv: Path) -> None:
    if not (venv / "bin" / "mlflow").exists():
        raise MlflowServeError(
            f"no MLflow at {venv}/bin/mlflow; create the environment with "
            "`make mlflow-venv`"
        )


def build_models(
    out_dir: Path, batches: list[list[dict[str, Any]]], venv: Path = MLFLOW_VENV
) -> dict[str, Any]:
    """Save both test models under out_dir; return their answers for each batch.

    The answers come from the models in the building process (no server, no
    byom), batch by batch: ``{"classifier": [[rooms, ...], ...], "multi_output":
    [[[rooms, confidence], ...], ...]}``.
    """
    _require_venv(venv)
    inputs = out_dir / "batches.json"
    out_dir.mkdir(parents=True, exist_ok=True)
    inputs.write_text(json.dumps(batches))
    return run_make_models(
        venv,
        MAKE_MODELS,
        out_dir,
        inputs,
        timeout=BUILD_TIMEOUT,
        error=MlflowServeError,
    )


class MlflowServeProcess(ServerProcess):
    """One ``mlflow models serve`` process for a model folder, owned by the caller.

    A port of 0 means "pick a free one at start". The server runs in a session of
    its own; ``stop()`` signals that process group (uvicorn and its workers).
    """

    error: ClassVar[type[RuntimeError]] = MlflowServeError
    program: ClassVar[str] = "mlflow models serve"
    log_name: ClassVar[str] = "serve.log"
    stop_timeout = STOP_TIMEOUT

    def __init__(
        self,
        model_dir: Path,
        *,
        venv: Path = MLFLOW_VENV,
        host: str = "127.0.0.1",
        port: int = 0,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        super().__init__(host=host, port=port, start_timeout=start_timeout)
        self.model_dir = model_dir
        self.venv = venv

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def invocations_url(self) -> str:
        """The scoring route, byom's ``url.predict``."""
        return f"{self.base_url}/invocations"

    def start(self) -> None:
        """Spawn the server and wait until ``GET /ping`` answers 200."""
        self.spawn()
        self.wait_ready()

    def spawn(self) -> None:
        """Start the server process without waiting for it."""
        if self._proc is not None:
            raise MlflowServeError("this MLflow server is already started")
        _require_venv(self.venv)
        self._choose_port()

        command = [
            str(self.venv / "bin" / "mlflow"),
            "models",
            "serve",
            "-m",
            str(self.model_dir),
            "--env-manager",
            "local",
            "-h",
            self.host,
            "-p",
            str(self.port),
        ]
        log_dir = Path(tempfile.mkdtemp(prefix="byom-mlflow-"))
        self._spawn(command, log_dir, env=venv_env(self.venv))

    def wait_ready(self) -> None:
        """Wait for ``GET /ping``; stop the server and raise if it does not come."""
        self._wait_ready("MLflow", interval=0.1)

    def _is_ready(self) -> bool:
        self._check_running()
        try:
            with urllib.request.urlopen(f"{self.base_url}/ping", timeout=2.0) as answer:
                return bool(answer.status == 200)
        except (OSError, ValueError):
            # Refused, reset or an error status: not ready yet.
            return False


def post_json(url: str, payload: Any, timeout: float = 30.0) -> tuple[int, Any]:
    """POST payload as JSON; return the status and the decoded answer (or text)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status, body = answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    try:
        return status, json.loads(body)
    except json.JSONDecodeError:
        return status, body.decode(errors="replace")


class RawRecordingProxy(BackgroundApp):
    """Forwards POSTs to target_base as they came; records what byom sent.

    ``requests`` holds (path, Content-Type header, body bytes) per request, so a
    test can check CSV and Parquet bodies as well as JSON ones.
    """

    def __init__(self, target_base: str) -> None:
        super().__init__()
        self.target_base = target_base.rstrip("/")
        self.requests: list[tuple[str, str, bytes]] = []

    def build(self) -> web.Application:
        app = web.Application(client_max_size=1 << 30)
        app.router.add_post("/{tail:.*}", self._forward)
        return app

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        content_type = request.headers.get("Content-Type", "")
        self.requests.append((request.path, content_type, body))
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                self.target_base + request.path,
                data=body,
                headers={"Content-Type": content_type},
            ) as answer,
        ):
            payload = await answer.read()
            return web.Response(
                body=payload, status=answer.status, content_type=answer.content_type
            )
