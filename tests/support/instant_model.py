"""A ray_server-format model that answers at once, for tests that time or weigh byom.

``InstantModel`` parses each ``df`` with orjson and answers ``3 * a`` for every
row, so a test can tell which input each prediction belongs to. It keeps no
copy of what it receives, only counts, so a million rows cost the test process
nothing: whatever memory or time a test measures belongs to byom.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from tests.support.http_apps import BackgroundApp

INPUT = "a"
FACTOR = 3


def prediction_for(a: int) -> int:
    """What InstantModel predicts for a row whose input ``a`` is a."""
    return FACTOR * a


class InstantModel(BackgroundApp):
    """Train accepts anything; predict answers ``3 * a`` per row, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.predict_calls = 0
        self.rows_scored = 0

    def build(self) -> web.Application:
        app = web.Application(client_max_size=1 << 28)
        app.router.add_post("/train", self._train)
        app.router.add_post("/predict", self._predict)
        return app

    async def _train(self, request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"status": "ok"})

    async def _predict(self, request: web.Request) -> web.Response:
        rows = orjson.loads(orjson.loads(await request.read())["df"])
        self.predict_calls += 1
        self.rows_scored += len(rows)
        values = [float(prediction_for(row[INPUT])) for row in rows]
        body = orjson.dumps({"prediction": values})
        return web.Response(body=body, content_type="application/json")
