"""The settings table: docs, flags, environment and validation agree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from byom.cli import build_parser, settings_from
from byom.settings import SETTINGS, Settings, from_environment, settings_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs" / "settings.md"


def test_docs_are_generated_from_the_table() -> None:
    assert DOCS.read_text() == settings_markdown()


def test_every_setting_has_a_flag_in_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "byom", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    flags = [line.split()[0] for line in done.stdout.splitlines() if "--" in line]
    for setting in SETTINGS:
        assert "--" + setting.name.replace("_", "-") in flags


def test_flags_override_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYOM_BATCH_ROWS", "500")
    monkeypatch.setenv("BYOM_PORT", "4000")
    args = build_parser().parse_args(["serve", "--port", "5000", "--demo", "off"])
    settings = settings_from(args)
    assert (settings.port, settings.batch_rows, settings.demo) == (5000, 500, False)
    assert settings.host == "127.0.0.1"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        pytest.param(
            {"BYOM_PORT": "abc"}, "port: expected a whole number, got 'abc'", id="port"
        ),
        pytest.param(
            {"BYOM_DEMO": "maybe"},
            "demo: expected true or false, got 'maybe'",
            id="bool",
        ),
        pytest.param(
            {"BYOM_PREDICT_TIMEOUT": "x"},
            "predict_timeout: expected a number, got 'x'",
            id="float",
        ),
    ],
)
def test_environment_values_are_checked(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        from_environment(environ)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {"batch_rows": 0}, "batch_rows must be a positive number", id="rows"
        ),
        pytest.param(
            {"calls_in_flight": -1},
            "calls_in_flight must be a positive number",
            id="calls",
        ),
        pytest.param(
            {"batch_bytes": -1},
            "batch_bytes must be 0 (no byte limit) or more",
            id="bytes",
        ),
        pytest.param(
            {"train_timeout": 0.0},
            "train_timeout must be more than 0 seconds",
            id="timeout",
        ),
        pytest.param(
            {"log_level": "LOUD"}, "log_level 'LOUD' is not a logging level", id="level"
        ),
    ],
)
def test_bad_values_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        Settings().replace(**changes)
    assert str(caught.value) == message


def test_batch_bytes_defaults_to_16_mib_and_0_lifts_the_limit() -> None:
    environ = {"BYOM_BATCH_BYTES": "0"}

    assert Settings().batch_bytes == 16_777_216
    assert Settings().replace(**from_environment(environ)).batch_bytes == 0


def test_serve_with_a_bad_flag_exits_2_naming_it() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "byom", "serve", "--calls-in-flight", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr == "byom: calls_in_flight must be a positive number\n"
