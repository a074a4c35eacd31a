"""Process and port helpers shared by the fixtures that start real servers.

Every server a test needs is started in its own session (process group), so that
stopping it never touches a process the test run did not start.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    """Tell whether 127.0.0.1:port can be bound (a stale server would fail this)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, interval: float = 0.1
) -> None:
    """Poll check() until it is true; raise TimeoutError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def port_accepts(port: int, host: str = "127.0.0.1") -> bool:
    """Tell whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _process_stats() -> Iterator[tuple[int, list[str]]]:
    """Yield (pid, fields of /proc/pid/stat after the command name) per process."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses; fields follow the last ')'.
        yield int(entry.name), stat[stat.rfind(")") + 2 :].split()


def descendants(pid: int) -> list[int]:
    """List every live descendant of pid, read from /proc (children first seen)."""
    children: dict[int, list[int]] = {}
    for child, fields in _process_stats():
        children.setdefault(int(fields[1]), []).append(child)
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # A zombie has exited; it only waits to be reaped.
    return stat[stat.rfind(")") + 2] != "Z"


def stop_process_tree(
    proc: subprocess.Popen[bytes], timeout: float = 30.0, sig: int = signal.SIGTERM
) -> None:
    """Stop a process started with start_new_session=True and everything it spawned.

    The descendant list is taken before signalling, because some servers (Ray's
    workers) call setsid() and leave the process group.
    """
    if proc.poll() is not None:
        return
    tree = descendants(proc.pid)
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)
    kill_survivors(tree, grace=5.0)


def session_members(sid: int) -> list[int]:
    """List the live processes of session sid, whatever their process group.

    Ray's actors move to process groups of their own but stay in the session of
    the process that started the cluster, so this finds them after it has exited.
    """
    return [
        pid
        for pid, fields in _process_stats()
        if int(fields[3]) == sid and fields[0] != "Z"
    ]


def kill_survivors(pids: list[int], grace: float = 5.0) -> None:
    """Give pids up to `grace` seconds to exit, then SIGKILL those still running."""
    deadline = time.monotonic() + grace
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in pids:
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def is_running(pid: int) -> bool:
    """Tell whether pid is a live process (a zombie counts as gone)."""
    return _alive(pid)


def find_executable(names: list[str], extra_dirs: list[Path]) -> Path | None:
    """Find the first of names on PATH, then in extra_dirs (sbin may be off PATH)."""
    for name in names:
        found = shutil.which(name)
        if found is not None:
            return Path(found)
    for directory in extra_dirs:
        for name in names:
            candidate = directory / name
            if os.access(candidate, os.X_OK):
                return candidate
    return None


def log_tail(path: Path, lines: int = 30) -> str:
    """Return the last lines of a server log, for the message of a failed start."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log at {path}: {exc.strerror})"
    return "\n".join(text.splitlines()[-lines:])


class ServerStartError(RuntimeError):
    """A test server did not come up; the message carries the tail of its log."""


def spawn_logged(
    command: list[str],
    log: Path,
    *,
    append: bool = False,
    stdin: int | None = subprocess.DEVNULL,
    **popen_args: Any,
) -> subprocess.Popen[bytes]:
    """Start command in a session of its own, stdout and stderr going to log."""
    with log.open("ab" if append else "wb") as out:
        return subprocess.Popen(
            command,
            stdin=stdin,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **popen_args,
        )


def run_to_log(command: list[str], log: Path, timeout: float, **popen_args: Any) -> int:
    """Run a setup command (initdb, install-db) with its output in log; return its code.

    It runs in a session of its own, so that on timeout the helpers it started
    (install-db's bootstrap server) are stopped with it; TimeoutError follows.
    """
    proc = spawn_logged(command, log, append=True, **popen_args)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TimeoutError(
            f"{Path(command[0]).name} took longer than {timeout:g} s"
        ) from None
    finally:
        # Also reached on Ctrl-C, which must not leave the command running.
        stop_process_tree(proc, timeout=5)
