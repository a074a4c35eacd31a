"""Training and prediction for the example model, free of any Ray import.

The Ray Serve deployment in `model.py` calls these two functions, and the tests call
them directly, so an offline model and the served one are built by the same code and
can be compared value for value.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from sklearn.linear_model import LogisticRegression


class ModelInputError(ValueError):
    """A request body the model cannot use: the server answers it with a 400."""


def decode_frame(df: Any) -> pd.DataFrame:
    """Turn the wire form of `df` into a DataFrame.

    byom sends a JSON string holding an array of row objects (pandas "records"
    orient); a client that sends the array itself is accepted too.
    """
    if isinstance(df, str):
        try:
            df = json.loads(df)
        except json.JSONDecodeError as exc:
            raise ModelInputError(f"df is not valid JSON: {exc.msg}") from exc

    if not isinstance(df, list | dict):
        raise ModelInputError("df must be a JSON array of row objects")
    try:
        return pd.DataFrame(df)
    except (ValueError, TypeError) as exc:
        raise ModelInputError(f"df is not a table: {exc}") from exc


def fit(frame: pd.DataFrame, target: str) -> tuple[LogisticRegression, list[str]]:
    """Train a logistic regression on every column of frame except target.

    The features keep the order in which the columns appear in frame, so the same
    training rows always give the same model and predict selects the same columns.
    """
    if target not in frame.columns:
        raise ModelInputError(f"target column {target!r} is not in df")

    features = [str(column) for column in frame.columns if column != target]
    if not features:
        raise ModelInputError("df has no feature columns besides the target")
    if len(frame.index) == 0:
        raise ModelInputError("df has no rows")

    model = LogisticRegression(max_iter=1000)
    model.fit(frame[features], frame[target])
    return model, features


def predict(
    model: LogisticRegression, features: list[str], frame: pd.DataFrame
) -> list[float]:
    """Predict one float per row of frame, in row order.

    Only the training features are read, by name; other columns (such as a target
    column full of nulls) are ignored.
    """
    # Zero rows decode to a frame without columns; there is nothing to check.
    if len(frame.index) == 0:
        return []
    missing = [column for column in features if column not in frame.columns]
    if missing:
        raise ModelInputError(f"df lacks feature columns: {', '.join(missing)}")

    labels = model.predict(frame[features])
    return [float(label) for label in labels]
