"""A fake model server that answers from a script, to inject faults into byom.

``ScriptedEndpoints`` serves many fake models at once, one per path prefix, each
with the routes of both formats byom speaks::

    POST /<name>/train        ray_server train    -> {"status": "ok"}
    POST /<name>/predict      ray_server predict  -> {"prediction": [...]}
    POST /<name>/invocations  MLflow scoring      -> {"predictions": [...]}

Normal answers predict ``initial_price % 4``. A test queues ``Reply`` objects for
one route with ``script()``; each call takes the next one, and calls after the
script answer normally again. Every call is recorded with its ``X-Request-ID``
and arrival time, so a test can count tries and measure the waits between them.

The MLflow route keeps the real server's content-type rules (notes on model
backends, section 4.3): no Content-Type is a 500, another type a 415.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.http_apps import BackgroundApp

Body = bytes | Callable[[int], bytes]


@dataclass(frozen=True)
class Reply:
    """One scripted answer; ``body`` may take the number of rows sent."""

    status: int = 200
    body: Body = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Call:
    """One request as the fake received it."""

    route: str
    request_id: str | None
    content_type: str | None
    arrived: float
    rows: int
    body: dict[str, Any]
    authorization: str | None = None


class ScriptedEndpoints(BackgroundApp):
    """Fake ray_server and MLflow models under /<name>/, scripted per route."""

    def __init__(self) -> None:
        super().__init__()
        self._scripts: dict[tuple[str, str], list[Reply]] = {}
        self._calls: dict[str, list[Call]] = {}

    def build(self) -> web.Application:
        app = web.Application(client_max_size=1 << 28)
        app.router.add_post("/{name}/{route}", self._handle)
        return app

    def script(self, name: str, route: str, *replies: Reply) -> None:
        """Answer the next calls to /<name>/<route> with replies, in order."""
        self._scripts[(name, route)] = list(replies)

    def calls(self, name: str, route: str | None = None) -> list[Call]:
        """The calls /<name>/ received so far, optionally of one route only."""
        found = self._calls.get(name, [])
        return [c for c in found if route is None or c.route == route]

    async def _handle(self, request: web.Request) -> web.Response:
        name, route = request.match_info["name"], request.match_info["route"]
        raw = await request.read()
        header = request.headers.get("Content-Type")
        if route == "invocations":
            refusal = _mlflow_content_type_refusal(header)
            if refusal is not None:
                return refusal

        body = json.loads(raw) if raw else {}
        rows = _rows_of(route, body)
        self._calls.setdefault(name, []).append(
            Call(
                route,
                request.headers.get("X-Request-ID"),
                header,
                time.monotonic(),
                len(rows),
                body,
                request.headers.get("Authorization"),
            )
        )

        queued = self._scripts.get((name, route))
        if queued:
            return await _scripted(queued.pop(0), len(rows))
        return _normal(route, rows)


async def _scripted(reply: Reply, rows: int) -> web.Response:
    if reply.delay:
        await asyncio.sleep(reply.delay)
    payload = reply.body(rows) if callable(reply.body) else reply.body
    response = web.Response(
        status=reply.status, body=payload, content_type=reply.content_type
    )
    response.headers.update(reply.headers)
    return response


def _normal(route: str, rows: list[dict[str, Any]]) -> web.Response:
    if route == "train":
        return web.json_response({"status": "ok"})
    values = [row["initial_price"] % 4 for row in rows]
    if route == "predict":
        return web.json_response({"prediction": [float(v) for v in values]})
    return web.json_response({"predictions": values})


def _rows_of(route: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    if route in ("train", "predict"):
        rows: list[dict[str, Any]] = json.loads(body["df"])
        return rows
    if "dataframe_split" in body:
        split = body["dataframe_split"]
        return [dict(zip(split["columns"], row, strict=True)) for row in split["data"]]
    records: list[dict[str, Any]] = body["dataframe_records"]
    return records


def _mlflow_content_type_refusal(header: str | None) -> web.Response | None:
    if header is None:
        return web.Response(status=500, text="Internal Server Error")
    media, _, params = header.partition(";")
    charset_only = params.strip().lower() in ("", "charset=utf-8")
    if media.strip().lower() != "application/json" or not charset_only:
        return web.Response(status=415, text=f"unsupported content type {header}")
    return None


def nan_body(key: str) -> Body:
    """An answer under key whose values cycle NaN, Infinity, -Infinity, 2.0.

    Written as Python's json module and MLflow write them: bare tokens that are
    not JSON.
    """
    tokens = ["NaN", "Infinity", "-Infinity", "2.0"]

    def body(rows: int) -> bytes:
        values = ", ".join(tokens[i % 4] for i in range(rows))
        return f'{{"{key}": [{values}]}}'.encode()

    return body


def nan_values(rows: int) -> list[int | None]:
    """What byom must return for nan_body's values: NULL, NULL, NULL, 2, ..."""
    return [2 if i % 4 == 3 else None for i in range(rows)]
