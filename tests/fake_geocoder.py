"""A tiny local Nominatim for the geocoding tests (no internet): an http.server thread answering
GET /search?q=...&format=json as Nominatim does, from a dict of known addresses; it records each
query, so a test sees which rows were looked up."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from app.platform.config import get_settings


class FakeNominatim:
    def __init__(self, known: dict[str, tuple[float, float]]) -> None:
        self.known = known
        self.queries: list[str] = []
        self.user_agents: list[str] = []
        self.times: list[float] = []  # time.monotonic() of each query
        self.url = ""


@contextmanager
def fake_nominatim(known: dict[str, tuple[float, float]]) -> Iterator[FakeNominatim]:
    fake = FakeNominatim(known)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            url = urlsplit(self.path)
            if url.path != "/search":
                self.send_error(404)
                return
            query = parse_qs(url.query)["q"][0]
            fake.queries.append(query)
            fake.times.append(time.monotonic())
            fake.user_agents.append(self.headers.get("User-Agent", ""))
            hit = fake.known.get(query)
            places: list[dict[str, Any]] = []
            if hit is not None:
                places = [{"place_id": 1, "lat": str(hit[0]), "lon": str(hit[1]), "display_name": query}]
            body = json.dumps(places).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def closed_port_url() -> str:
    """A local URL nothing listens on: connections are refused (a geocoder that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def use_geocoder(monkeypatch: pytest.MonkeyPatch, url: str, **more: Any) -> None:
    settings = get_settings()
    monkeypatch.setattr(settings, "geocoder", "nominatim")
    monkeypatch.setattr(settings, "geocoder_url", url)
    monkeypatch.setattr(settings, "geocoder_timeout_s", 2.0)
    monkeypatch.setattr(settings, "geocoder_min_delay_s", 0.0)
    for name, value in more.items():
        monkeypatch.setattr(settings, name, value)
