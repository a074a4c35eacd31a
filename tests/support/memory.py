"""The resident memory of another process, read from /proc/<pid>/status.

``peak_rss`` is the kernel's high-water mark (VmHWM), which counts from the
start of the process: to compare two queries, run each on a fresh process.
``RssSampler`` reads VmRSS every 50 ms in a thread, for the peak of one span
of time on a process that has already run other work.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType

SAMPLE_INTERVAL = 0.05


def _status_bytes(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            # The kernel writes "kB" and means KiB.
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def current_rss(pid: int) -> int:
    """The process's resident set now (VmRSS), in bytes."""
    return _status_bytes(pid, "VmRSS")


def peak_rss(pid: int) -> int:
    """The process's peak resident set since it started (VmHWM), in bytes."""
    return _status_bytes(pid, "VmHWM")


class RssSampler:
    """The highest VmRSS of pid seen while the ``with`` block runs, in bytes."""

    def __init__(self, pid: int, interval: float = SAMPLE_INTERVAL) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        self.peak = max(self.peak, current_rss(self.pid))
        self.samples += 1
