"""The demo's ``--metrics`` flag: ``/metrics`` shows the engine's OpenTelemetry metrics in Prometheus's text
format, so a person can watch a refresh happen; without the flag there is no such page."""

from __future__ import annotations

import re
from typing import Any

import httpx
from examples.demo import app as demo_app
from examples.demo.metrics import DemoMetrics
from starlette.testclient import TestClient

from authkit_core.engine import AuthKit
from authkit_core.testing.browser import signed_in_cookies
from e2e.test_demo_browser import Demo

SAMPLE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? \S+$'
)


def samples(text: str) -> dict[str, float]:
    """``{series: value}`` of a Prometheus text page; every line must be a comment or a well-formed sample."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        assert SAMPLE.match(line), line
        series, _, value = line.rpartition(" ")
        out[series] = float(value)
    return out


def client_for(kit: AuthKit, emulator: Any, metrics: DemoMetrics | None) -> TestClient:
    base = "http://testserver"
    settings = demo_app.DemoSettings(
        api_base_url=emulator.base_url,
        api_key=emulator.api_key,
        public_url=base,
        metrics=metrics.render if metrics is not None else None,
    )
    return TestClient(demo_app.create_app(kit, settings), base_url=base)


def test_a_refresh_shows_on_the_metrics_page(workos_emulator: Any) -> None:
    kit = AuthKit(workos_emulator.config(redirect_uri="http://testserver/callback"))
    metrics = DemoMetrics(kit)
    with client_for(kit, workos_emulator, metrics) as client:
        for name, value in signed_in_cookies(kit, workos_emulator, "alice@example.com").items():
            client.cookies.set(name, value)
        home = client.get("/", headers={"Accept": "text/html"})
        assert 'id="metrics" href="/metrics"' in home.text
        before = samples(client.get("/metrics").text)
        assert "authkit_refresh_grants_total" not in before
        refreshed = client.post("/refresh", headers={"Accept": "text/html", "Origin": "http://testserver"})
        assert refreshed.status_code in (200, 303), refreshed.text
        page = client.get("/metrics")
    metrics.close()
    kit.close()
    assert page.headers["content-type"].startswith("text/plain")
    after = samples(page.text)
    assert after["authkit_refresh_grants_total"] == 1 == workos_emulator.grant_count("refresh_token")
    counts = {k: v for k, v in after.items() if k.startswith("authkit_refresh_duration_seconds_count")}
    assert list(counts.values()) == [1]
    assert any(k.startswith("authkit_authentication_duration_seconds_count") for k in after)
    assert "# TYPE authkit_refresh_duration_seconds histogram" in page.text
    assert 'le="+Inf"' in page.text


def test_without_the_flag_there_is_no_metrics_page(workos_emulator: Any) -> None:
    kit = AuthKit(workos_emulator.config(redirect_uri="http://testserver/callback"))
    with client_for(kit, workos_emulator, None) as client:
        assert client.get("/metrics").status_code == 404
        assert 'id="metrics"' not in client.get("/", headers={"Accept": "text/html"}).text
    kit.close()


def test_the_flag_serves_metrics_from_the_real_demo(tmp_path: Any) -> None:
    demo = Demo(f"sqlite:///{tmp_path / 'sessions.sqlite3'}", "--metrics")
    try:
        answer = httpx.get(demo.url + "/metrics", timeout=10)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
        samples(answer.text)
        assert any("/metrics" in line for line in demo.output)
    finally:
        assert demo.stop() == 0


def test_make_demo_installs_what_the_flag_needs() -> None:
    # `make demo` installs the `demo` extra only: --metrics must work from it (a fresh clone has nothing else)
    import tomllib
    from pathlib import Path

    extras = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]
    demo = extras["optional-dependencies"]["demo"]
    assert any(requirement.startswith("opentelemetry-sdk") for requirement in demo)
