"""Which model URLs byom calls, and the secrets it sends them.

A real byom and PyMySQL against ``ScriptedEndpoints``: URLs outside the
``allowed_model_urls`` setting are refused at CREATE and at call time, and
``USING headers`` reach the endpoint on every call without ever being shown.
"""

from __future__ import annotations

import signal

import pytest

from tests.support.byom_process import ByomProcess
from tests.support.fault_apps import Reply, ScriptedEndpoints
from tests.test_backend_faults import create_sql, endpoint

TOKEN = "Bearer s3cr3t-t0ken"
NOT_ALLOWED = (
    "is not allowed: model URLs must match the allowed_model_urls setting ('loopback')"
)


def with_headers(sql: str, headers: str) -> str:
    return sql.replace("join_learn_process", f"headers = {headers}, join_learn_process")


@pytest.mark.parametrize("model_format", ["ray_server", "mlflow"])
def test_headers_reach_every_call_and_are_never_shown(
    byom: ByomProcess, fake: ScriptedEndpoints, model_format: str
) -> None:
    name = f"auth_{model_format}"
    url = endpoint(fake, name, model_format)
    create = create_sql(name, model_format, url)
    byom.query(with_headers(create, f'{{"Authorization": "{TOKEN}"}}'))

    rows = byom.query(
        f"SELECT number_of_rooms FROM {name} WHERE initial_price = 9 "
        "AND rental_price = 1"
    )

    assert rows == [(1,)]
    assert [c.authorization for c in fake.calls(name)] == [TOKEN] * (
        2 if model_format == "ray_server" else 1
    )
    (options,) = byom.query(
        f"SELECT training_options FROM mindsdb.predictors WHERE name = '{name}'"
    )[0]
    assert '"headers":"******"' in options
    described = str(byom.query(f"DESCRIBE PREDICTOR {name}"))
    assert "s3cr3t" not in described + options
    assert "s3cr3t" not in byom.log()


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        pytest.param(
            '{"Content-Type": "text/plain"}',
            "USING headers: Content-Type is set by byom and cannot be given",
            id="reserved",
        ),
        pytest.param(
            '{"Bad Name": "x"}',
            "USING headers: 'Bad Name' is not a header name",
            id="bad-name",
        ),
        pytest.param(
            '{"X-Key": 7}',
            "USING headers: the value of X-Key must be a one-line string",
            id="not-a-string",
        ),
        pytest.param(
            '"Authorization: x"',
            'USING headers must be a JSON object such as {"Authorization": "..."}',
            id="not-an-object",
        ),
    ],
)
def test_bad_headers_are_refused(
    byom: ByomProcess, fake: ScriptedEndpoints, headers: str, message: str
) -> None:
    url = endpoint(fake, "bad_headers", "ray_server")
    sql = with_headers(create_sql("bad_headers", "ray_server", url), headers)

    assert byom.error(sql) == (1210, message)
    assert byom.query("SHOW PREDICTORS LIKE 'bad_headers'") == []


@pytest.mark.parametrize(
    ("key", "url"),
    [
        pytest.param("url.predict", "http://10.0.0.1:8000/m/predict", id="predict"),
        pytest.param(
            "url.predict", "http://127.0.0.1.evil.example/m/predict", id="lookalike"
        ),
        pytest.param("url.train", "http://192.168.1.5/m/train", id="train"),
    ],
)
def test_urls_outside_the_allow_list_are_refused_at_create(
    byom: ByomProcess, fake: ScriptedEndpoints, key: str, url: str
) -> None:
    good = endpoint(fake, "outside", "ray_server")
    if key == "url.predict":
        sql = create_sql("outside", "ray_server", url, train_url=good)
    else:
        sql = create_sql("outside", "ray_server", good, train_url=url)

    assert byom.error(sql) == (1210, f"USING {key} {url} {NOT_ALLOWED}")
    assert byom.query("SHOW PREDICTORS LIKE 'outside'") == []
    assert fake.calls("outside") == []


def test_a_narrower_allow_list_refuses_stored_predictors_at_call_time(
    byom: ByomProcess, fake: ScriptedEndpoints
) -> None:
    name = "narrowed"
    url = endpoint(fake, name, "mlflow")
    byom.query(create_sql(name, "mlflow", url))
    calls = len(fake.calls(name))
    byom.stop(signal.SIGTERM)
    byom.extra = {"allowed_model_urls": "https://models.internal/"}
    byom.start()

    assert byom.error(
        f"SELECT * FROM {name} WHERE initial_price = 1 AND rental_price = 1"
    ) == (
        1210,
        f"predictor '{name}': model URL {url} is not allowed: model URLs must "
        "match the allowed_model_urls setting ('https://models.internal/')",
    )
    assert len(fake.calls(name)) == calls


def test_a_bad_allow_list_entry_stops_the_server_at_start() -> None:
    server = ByomProcess(extra={"allowed_model_urls": "loopback,models.internal"})
    try:
        with pytest.raises(RuntimeError):
            server.start()
        assert (
            "allowed_model_urls entry 'models.internal' is not 'loopback', '*' or "
            "an http(s) URL with a host"
        ) in server.log()
    finally:
        server.cleanup()


@pytest.mark.parametrize("model_format", ["ray_server", "mlflow"])
def test_redirects_are_not_followed(
    byom: ByomProcess, fake: ScriptedEndpoints, model_format: str
) -> None:
    name = f"redirected_{model_format}"
    url = endpoint(fake, name, model_format)
    byom.query(create_sql(name, model_format, url))
    elsewhere = endpoint(fake, f"elsewhere_{model_format}", model_format)
    route = url.rsplit("/", 1)[1]
    moved = Reply(307, b"moved", "text/plain", {"Location": elsewhere})
    fake.script(name, route, moved)

    assert byom.error(
        f"SELECT * FROM {name} WHERE initial_price = 1 AND rental_price = 1"
    ) == (1296, f"predictor '{name}': {url} answered HTTP 307: moved")
    assert fake.calls(f"elsewhere_{model_format}") == []
