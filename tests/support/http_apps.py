"""Small in-process HTTP apps around model endpoints, for tests only.

- ``RecordingProxy`` forwards every request to a real model server and keeps a
  copy of each body, so a test can assert exactly what byom sent.
- ``GatedModel`` injects a fault: it answers like a ray_server model, but holds
  every predict call after the first until the test opens the gate (to prove
  rows stream before the whole result exists).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from tests.support.procs import free_port


class BackgroundApp:
    """Runs an aiohttp application on its own event loop in a daemon thread."""

    def __init__(self) -> None:
        self.port = 0
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def build(self) -> web.Application:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()
        self.port = free_port()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    async def _start(self) -> None:
        # Handlers that hang on purpose must not hold up the test's teardown.
        self._runner = web.AppRunner(self.build(), shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def stop(self) -> None:
        # Stopping twice (a test and then its fixture) is harmless.
        if not self._thread.is_alive():
            return
        if self._runner is not None:
            cleanup = self._runner.cleanup()
            asyncio.run_coroutine_threadsafe(cleanup, self.loop).result(15)
        asyncio.run_coroutine_threadsafe(_cancel_others(), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


async def _cancel_others() -> None:
    # Handlers still running (a hanging model) end with the app, quietly.
    current = asyncio.current_task()
    others = [t for t in asyncio.all_tasks() if t is not current]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


class RecordingProxy(BackgroundApp):
    """Forwards POSTs to target_base and records (path, JSON body) pairs."""

    def __init__(self, target_base: str) -> None:
        super().__init__()
        self.target_base = target_base.rstrip("/")
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def build(self) -> web.Application:
        app = web.Application(client_max_size=1 << 30)
        app.router.add_post("/{tail:.*}", self._forward)
        return app

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append((request.path, json.loads(body)))
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                self.target_base + request.path,
                data=body,
                headers={"Content-Type": "application/json"},
            ) as answer,
        ):
            payload = await answer.read()
            return web.Response(
                body=payload, status=answer.status, content_type=answer.content_type
            )

    def frames(self, route: str) -> list[list[dict[str, Any]]]:
        """The decoded ``df`` of each recorded request whose path ends with route."""
        return [
            json.loads(body["df"])
            for path, body in self.requests
            if path.endswith(route)
        ]


class GatedModel(BackgroundApp):
    """A ray_server-style model whose predict calls after the first wait for open().

    Predicts ``initial_price % 4`` so answers are checkable.
    """

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self._gate: asyncio.Event | None = None

    def build(self) -> web.Application:
        self._gate = asyncio.Event()
        app = web.Application()
        app.router.add_post("/train", self._train)
        app.router.add_post("/predict", self._predict)
        return app

    def open(self) -> None:
        assert self._gate is not None
        self.loop.call_soon_threadsafe(self._gate.set)

    async def _train(self, request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"status": "ok"})

    async def _predict(self, request: web.Request) -> web.Response:
        frame = json.loads((await request.json())["df"])
        self.calls += 1
        if self.calls > 1:
            assert self._gate is not None
            await self._gate.wait()
        return web.json_response(
            {"prediction": [float(row["initial_price"] % 4) for row in frame]}
        )


class ScriptedModel(BackgroundApp):
    """Answers train with {"status": "ok"} and predict with a fixed, faulty reply.

    ``reply`` is (status, content type, body); the body may be a callable taking
    the number of rows sent, to answer with a row count of the test's choosing.
    """

    def __init__(
        self, status: int, content_type: str, body: bytes | Callable[[int], bytes]
    ) -> None:
        super().__init__()
        self.reply = (status, content_type, body)

    def build(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/train", self._train)
        app.router.add_post("/predict", self._predict)
        return app

    async def _train(self, request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"status": "ok"})

    async def _predict(self, request: web.Request) -> web.Response:
        rows = len(json.loads((await request.json())["df"]))
        status, content_type, body = self.reply
        payload = body(rows) if callable(body) else body
        return web.Response(status=status, body=payload, content_type=content_type)


class HangingModel(BackgroundApp):
    """A model whose train call never answers (to crash byom mid-training)."""

    def __init__(self) -> None:
        super().__init__()
        self.train_started = threading.Event()

    def build(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/train", self._hang)
        return app

    async def _hang(self, request: web.Request) -> web.Response:
        await request.read()
        self.train_started.set()
        await asyncio.sleep(3600)
        return web.json_response({"status": "ok"})


class ControlledModel(BackgroundApp):
    """A ray_server-style model whose training the test holds and releases.

    Predicts ``(initial_price + offset) % 4``, so two models with different
    offsets tell which one answered. While ``hold()`` is in force, train calls
    wait until ``release()``.
    """

    def __init__(self, offset: int = 0) -> None:
        super().__init__()
        self.offset = offset
        self.trained = 0
        self.train_started = threading.Event()
        self._held = False
        self._gate: asyncio.Event | None = None

    def build(self) -> web.Application:
        self._gate = asyncio.Event()
        self._gate.set()
        app = web.Application()
        app.router.add_post("/train", self._train)
        app.router.add_post("/predict", self._predict)
        return app

    def hold(self) -> None:
        self._on_loop(lambda gate: gate.clear())

    def release(self) -> None:
        self._on_loop(lambda gate: gate.set())

    def _on_loop(self, change: Callable[[asyncio.Event], None]) -> None:
        # Done on the app's loop and waited for, so the next request sees it.
        async def apply() -> None:
            assert self._gate is not None
            change(self._gate)

        asyncio.run_coroutine_threadsafe(apply(), self.loop).result(10)

    async def _train(self, request: web.Request) -> web.Response:
        await request.read()
        self.train_started.set()
        assert self._gate is not None
        await self._gate.wait()
        self.trained += 1
        return web.json_response({"status": "ok"})

    async def _predict(self, request: web.Request) -> web.Response:
        frame = json.loads((await request.json())["df"])
        return web.json_response(
            {
                "prediction": [
                    float((row["initial_price"] + self.offset) % 4) for row in frame
                ]
            }
        )
