"""The model URL allow-list: which URLs each kind of entry lets byom call."""

from __future__ import annotations

import pytest

from byom.backends.allowlist import UrlAllowList
from byom.errors import ModelUrlNotAllowedError


@pytest.mark.parametrize(
    ("spec", "url", "allowed"),
    [
        pytest.param("loopback", "http://127.0.0.1:8000/m/predict", True, id="v4"),
        pytest.param("loopback", "http://127.9.9.9/p", True, id="v4-range"),
        pytest.param("loopback", "http://[::1]:5000/invocations", True, id="v6"),
        pytest.param("loopback", "https://LOCALHOST/p", True, id="localhost"),
        pytest.param("loopback", "http://10.0.0.1/p", False, id="private-net"),
        pytest.param(
            "loopback", "http://127.0.0.1.evil.example/p", False, id="lookalike"
        ),
        pytest.param("loopback", "http://localhost.evil/p", False, id="lookalike-2"),
        pytest.param("loopback", "ftp://127.0.0.1/p", False, id="other-scheme"),
        pytest.param("loopback", "http://127.0.0.1:99999/p", False, id="bad-port"),
        pytest.param(
            "https://m.internal", "https://m.internal:8443/x", True, id="host"
        ),
        pytest.param("https://m.internal", "http://m.internal/x", False, id="scheme"),
        pytest.param(
            "http://m:8000/serve/", "http://m:8000/serve/a/predict", True, id="under"
        ),
        pytest.param("http://m:8000/serve", "http://m:8000/serve", True, id="exact"),
        pytest.param(
            "http://m:8000/serve", "http://m:8000/server/predict", False, id="boundary"
        ),
        pytest.param("http://m:8000/serve", "http://m:9000/serve/p", False, id="port"),
        pytest.param("*", "https://anywhere.example/p", True, id="any"),
        pytest.param("*", "file:///etc/passwd", False, id="any-but-http"),
        pytest.param(
            "loopback, https://m.internal", "https://m.internal/p", True, id="list"
        ),
        pytest.param("", "http://127.0.0.1/p", False, id="empty-allows-nothing"),
    ],
)
def test_allows(spec: str, url: str, allowed: bool) -> None:
    assert UrlAllowList(spec).allows(url) is allowed


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param("models.internal", id="no-scheme"),
        pytest.param("ftp://models.internal", id="ftp"),
        pytest.param("https://", id="no-host"),
    ],
)
def test_bad_entries_are_refused_by_name(entry: str) -> None:
    with pytest.raises(ValueError) as caught:
        UrlAllowList(f"loopback,{entry}")

    assert str(caught.value) == (
        f"allowed_model_urls entry {entry!r} is not 'loopback', '*' or an "
        "http(s) URL with a host"
    )


def test_refusal_names_the_key_and_hides_credentials() -> None:
    with pytest.raises(ModelUrlNotAllowedError) as caught:
        UrlAllowList("loopback").check(
            "http://me:pw@10.1.2.3:8000/m/predict?token=t", "USING url.predict"
        )

    assert (caught.value.code, caught.value.message) == (
        1210,
        "USING url.predict http://10.1.2.3:8000/m/predict is not allowed: model "
        "URLs must match the allowed_model_urls setting ('loopback')",
    )
