"""The life of a test server process: spawn it, wait until it is ready, stop it.

Every server a test starts runs in a session of its own with its output in a log
file; a start that fails stops what it spawned and puts the log's tail in its
error. Two base classes carry the shared steps:

- `ServerProcess`, a model server (MLflow, MLServer, Ray Serve) whose log lives
  in a temp dir that stop() deletes;
- `DatabaseServer`, a database (MariaDB, PostgreSQL) set up in a directory of its
  own, started on a free port and retried when a parallel run takes that port.

`OwnedServer` gives both (and the benchmark's fake model) their `with` block. The
process helpers underneath (free ports, spawning into a log, stopping a process
tree) are in `tests.support.procs`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

from tests.support.procs import (
    ServerStartError,
    free_port,
    log_tail,
    port_accepts,
    port_is_free,
    run_to_log,
    spawn_logged,
    stop_process_tree,
    wait_until,
)

# Environment that would make a server import packages from byom's environment.
INHERITED_ENV_TO_DROP = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
PORT_ATTEMPTS = 3


def wait_ready(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    *,
    interval: float,
    log: Path | None,
    stop: Callable[[], None],
    error: type[Exception],
    tail_lines: int = 30,
) -> None:
    """Poll check() until it is true; else stop() and raise error with the log tail.

    check() may raise error itself (the server exited); that is reported the same
    way. Any other exception, Ctrl-C included, also stops the server first.
    """
    try:
        wait_until(check, timeout, what, interval=interval)
    except (TimeoutError, error) as exc:
        tail = log_tail(log, tail_lines) if log is not None else "(no log)"
        stop()
        raise error(f"{exc}\n--- server log (tail) ---\n{tail}") from None
    except BaseException:
        stop()
        raise


def venv_env(
    venv: Path, drop: tuple[str, ...] = INHERITED_ENV_TO_DROP
) -> dict[str, str]:
    """Our environment for a program of another virtualenv, its bin first on PATH."""
    env = {k: v for k, v in os.environ.items() if k not in drop}
    # Some CLIs exec their helpers (uvicorn) by name through a shell.
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_make_models(
    venv: Path,
    script: Path,
    out_dir: Path,
    inputs: Path,
    *,
    timeout: float,
    error: type[Exception],
) -> dict[str, Any]:
    """Run a fixture's make_models.py in venv; return the expected.json it writes."""
    done = subprocess.run(
        [str(venv / "bin" / "python"), str(script), str(out_dir), "--score", inputs],
        env=venv_env(venv),
        capture_output=True,
        text=True,
        timeout=timeout,
        start_new_session=True,
    )
    if done.returncode != 0:
        raise error(
            f"make_models.py exited with {done.returncode}:\n{done.stderr[-3000:]}"
        )
    expected: dict[str, Any] = json.loads((out_dir / "expected.json").read_text())
    return expected


class OwnedServer:
    """A server that start() brings up and stop() removes; `with` does both."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ServerProcess(OwnedServer):
    """One model server process with its log in a temp dir, owned by the caller.

    A subclass spawns with `_spawn()`, implements `_is_ready()` and calls
    `_wait_ready()`; `stop()` stops the process tree and deletes the temp dir.
    """

    error: ClassVar[type[RuntimeError]] = RuntimeError
    program: ClassVar[str] = "the server"
    log_name: ClassVar[str] = "server.log"
    stop_timeout: float = 30.0

    def __init__(self, *, host: str, port: int, start_timeout: float) -> None:
        self.host = host
        self.port = port
        self.start_timeout = start_timeout
        self.start_seconds: float | None = None
        self._started_at = 0.0
        self._proc: subprocess.Popen[bytes] | None = None
        self._temp_dir: Path | None = None

    @property
    def log_path(self) -> Path | None:
        """The server's combined output, until stop() deletes it."""
        return self._temp_dir / self.log_name if self._temp_dir is not None else None

    def stop(self) -> None:
        """Stop the server's processes and delete its temp dir. Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None:
            self._stop_tree(proc)
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    def _is_ready(self) -> bool:
        raise NotImplementedError

    def _stop_tree(self, proc: subprocess.Popen[bytes]) -> None:
        stop_process_tree(proc, timeout=self.stop_timeout)

    def _choose_port(self) -> None:
        """Pick a free port for 0; refuse a busy one, whose server would answer."""
        if self.port == 0:
            self.port = free_port()
        elif not port_is_free(self.port):
            raise self.error(f"port {self.port} on 127.0.0.1 is already in use")

    def _spawn(self, command: list[str], temp_dir: Path, **popen_args: Any) -> None:
        self._temp_dir = temp_dir
        self._started_at = time.monotonic()
        self._proc = spawn_logged(command, temp_dir / self.log_name, **popen_args)

    def _wait_ready(self, what: str, interval: float, tail_lines: int = 30) -> None:
        wait_ready(
            self._is_ready,
            self.start_timeout,
            what,
            interval=interval,
            log=self.log_path,
            stop=self.stop,
            error=self.error,
            tail_lines=tail_lines,
        )
        self.start_seconds = time.monotonic() - self._started_at

    def _check_running(self) -> None:
        """Raise error if the server exited before it was ready."""
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise self.error(
                f"{self.program} exited with status {self._proc.returncode} "
                "before it was ready"
            )


class DatabaseServer(OwnedServer):
    """A throwaway database server on 127.0.0.1, in a directory of its own.

    A subclass sets `program` and `title`, hands `_start_on_free_port()` a function
    that spawns its server on `self.port`, says in `_accepts_logins()` when the
    harness can log in, and names the log that start errors quote in `_server_log`.
    """

    host = "127.0.0.1"
    program: ClassVar[str]
    title: ClassVar[str]

    def __init__(self, start_timeout: float) -> None:
        self.start_timeout = start_timeout
        self.port = 0
        self.directory: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def _dir(self) -> Path:
        if self.directory is None:
            raise RuntimeError(f"the {self.title} server is not started")
        return self.directory

    @property
    def _server_log(self) -> Path:
        raise NotImplementedError

    def _accepts_logins(self) -> bool:
        raise NotImplementedError

    def _stop_server(self, sig: int = signal.SIGTERM) -> bool:
        """Stop the server and delete its directory; tell whether one was running."""
        stopped = self.process is not None
        if self.process is not None:
            stop_process_tree(self.process, sig=sig)
            self.process = None

        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
        return stopped

    def _run_setup(self, name: str, command: list[str], log: Path, **args: Any) -> None:
        """Run a setup step (initdb, install-db); raise ServerStartError if it fails."""
        try:
            code = run_to_log(command, log, self.start_timeout, **args)
        except TimeoutError as exc:
            raise ServerStartError(f"{exc}:\n{log_tail(log)}") from None
        if code != 0:
            raise ServerStartError(f"{name} exited with {code}:\n{log_tail(log)}")

    def _start_on_free_port(
        self, spawn: Callable[[], subprocess.Popen[bytes]], logger: logging.Logger
    ) -> None:
        """Start spawn() on a free port and wait until the harness can log in."""
        # free_port() cannot reserve the port, so a parallel run may take it first;
        # that shows as a bind error, and the cure is another port.
        for _ in range(PORT_ATTEMPTS):
            self.port = free_port()
            self.process = spawn()
            self._wait_for_server()
            if self.process.poll() is None:
                return
            if "Address already in use" not in log_tail(self._server_log):
                break
            logger.info("port %d was taken meanwhile; trying another", self.port)

        code = self.process.poll() if self.process is not None else None
        self.process = None
        raise ServerStartError(
            f"{self.program} on port {self.port} exited with {code}:\n"
            + log_tail(self._server_log)
        )

    def _wait_for_server(self) -> None:
        process = self.process
        assert process is not None

        def up_or_gone() -> bool:
            if process.poll() is not None:
                return True
            return port_accepts(self.port) and self._accepts_logins()

        what = f"{self.program} on port {self.port}"
        try:
            wait_until(up_or_gone, self.start_timeout, what)
        except TimeoutError as exc:
            raise ServerStartError(f"{exc}:\n{log_tail(self._server_log)}") from None
