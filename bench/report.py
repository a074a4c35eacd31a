"""The results table, the machine's description, and docs/benchmarks.md."""

from __future__ import annotations

import datetime
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

RESULTS_HEADING = "## Results"
_PACKAGES = (
    "mysql-mimic",
    "sqlalchemy",
    "mysqlclient",
    "pymysql",
    "aiohttp",
    "orjson",
    "sqlglot",
)


@dataclass(frozen=True)
class Figure:
    """One line of the results table; met is None when there is no target."""

    name: str
    byom: str
    baseline: str
    ratio: str
    target: str
    met: bool | None


def results_table(figures: list[Figure]) -> str:
    """The figures as a Markdown table."""
    lines = [
        "| figure | byom | baseline | byom / baseline | target | met? |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for f in figures:
        met = "–" if f.met is None else ("met" if f.met else "**not met**")
        lines.append(
            f"| {f.name} | {f.byom} | {f.baseline} | {f.ratio} | {f.target} | {met} |"
        )
    return "\n".join(lines)


def machine_description(mariadb_version: str, ray_version: str | None) -> list[str]:
    """Bullet lines naming the date, CPU, load and software versions."""
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    packages = ", ".join(f"{name} {_version(name)}" for name in _PACKAGES)
    lines = [
        f"- Date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"- Machine: {_cpu_model()}, {os.cpu_count()} cores, "
        f"{_memory_gib():.0f} GiB RAM, Linux {platform.release()}",
        f"- Load average (1/5/15 min) when the run ended: {load}; other "
        "engineers were running tests on the same machine, so it was not idle.",
        f"- byom {_version('byom')}, Python {platform.python_version()}, {packages}",
        f"- MariaDB server {mariadb_version}; client: {_cli_version()}",
    ]
    if ray_version is not None:
        lines.append(f"- Ray {ray_version} (examples/ray_serve in .venv-ray)")
    return lines


def write_results(doc: Path, section: str) -> None:
    """Replace the Results section of doc (up to the next ## heading) by section."""
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    start = text.find(RESULTS_HEADING)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(RESULTS_HEADING))
        rest = "" if end < 0 else text[end:]
        text = text[:start] + section.rstrip("\n") + "\n" + rest
    doc.write_text(text.rstrip("\n") + "\n")


def ray_version(python: Path) -> str | None:
    """The version of Ray in the Ray environment, None when there is none."""
    if not python.exists():
        return None
    done = subprocess.run(
        [str(python), "-c", "import ray; print(ray.__version__)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.stdout.strip() or None


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def _cli_version() -> str:
    cli = shutil.which("mariadb")
    if cli is None:
        return "none"
    done = subprocess.run(
        [cli, "--version"], capture_output=True, text=True, timeout=10, check=False
    )
    return done.stdout.strip() or "unknown"
