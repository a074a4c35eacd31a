"""The classic BYOM example model, ported to Ray Serve 2.60.

A FastAPI-ingress deployment with two routes under the route prefix chosen at
`serve.run` time (`/my_model` in the README):

- `POST /train` with `{"df": "<JSON records>", "target": "<column>"}` trains a
  logistic regression on every other column and answers `{"status": "ok"}`.
- `POST /predict` with `{"df": "<JSON records>"}` answers
  `{"prediction": [float, ...]}`, one value per row, in row order.

Bad requests get a 400 with `{"error": "..."}` rather than Ray's bare 500.
"""

# No `from __future__ import annotations` here: FastAPI reads the route signatures
# at run time and would not recognise a `Request` annotation kept as a string.
import json
from typing import Any

import training
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from ray import serve
from sklearn.linear_model import LogisticRegression

api = FastAPI()


def _error(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


async def _read_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise training.ModelInputError("request body is not valid JSON") from exc

    if not isinstance(body, dict) or "df" not in body:
        raise training.ModelInputError('request body must be an object with "df"')
    return body


# The model lives in this replica's memory: a second replica would answer
# "not trained" to every predict that reaches it, so there is exactly one, and it
# asks for no CPU so it never waits for a slot on a small machine.
@serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 0})
@serve.ingress(api)
class MyModel:
    """One logistic regression, trained and queried over HTTP."""

    def __init__(self) -> None:
        self.model: LogisticRegression | None = None
        self.features: list[str] = []

    @api.post("/train")
    async def train(self, request: Request) -> JSONResponse:
        """Train on every column of df except target, replacing any earlier model."""
        try:
            body = await _read_body(request)
            target = body.get("target")
            if not isinstance(target, str) or not target:
                raise training.ModelInputError('"target" must name a column of df')
            frame = training.decode_frame(body["df"])
            model, features = training.fit(frame, target)
        except training.ModelInputError as exc:
            return _error(str(exc))

        self.model, self.features = model, features
        return JSONResponse({"status": "ok"})

    @api.post("/predict")
    async def predict(self, request: Request) -> JSONResponse:
        """Predict one value per row of df with the trained model."""
        if self.model is None:
            return _error("model is not trained")

        try:
            body = await _read_body(request)
            frame = training.decode_frame(body["df"])
            prediction = training.predict(self.model, self.features, frame)
        except training.ModelInputError as exc:
            return _error(str(exc))

        return JSONResponse({"prediction": prediction})


app = MyModel.bind()
