"""/docs and /redoc work offline: every asset they reference is served by the app itself."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

URL_ATTR = re.compile(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""")


@pytest.mark.parametrize(
    ("page", "script"), [("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")]
)
def test_api_docs_reference_only_local_assets_and_they_are_served(
    client: TestClient, page: str, script: str
) -> None:
    r = client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    urls = URL_ATTR.findall(html)
    assert any(u.endswith(script) for u in urls), urls
    for url in urls:
        if url.startswith("/vendor/"):
            asset = client.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 1000, url  # the real bundle, not an empty file
    assert client.get("/openapi.json").json()["info"]["title"] == "Fieldline"


def test_swagger_oauth2_redirect_page_is_served(client: TestClient) -> None:
    assert client.get("/docs/oauth2-redirect").status_code == 200
