"""The feed health page of ``exchange serve`` (/ops/feeds, /ops/feeds.json): the admin key only —
as a header, a bearer token or a browser's basic-auth password — and no data beyond health."""

from __future__ import annotations

import base64
from pathlib import Path

from tests.conftest import ADMIN, write
from tests.residents import FEED

OPS = "freshness: {expect_every: 1d, grace: 2h}\ncontact: desk 4411 <script>\n"


def client(project: Path, settings):
    from fastapi.testclient import TestClient

    from exchange.api.serve import api_app

    write(project / "feeds" / "police" / "residents.yaml", FEED + OPS)
    return TestClient(api_app(settings, admin_key=ADMIN))


def test_the_health_page_needs_the_admin_key(project: Path, settings) -> None:
    with client(project, settings) as http:
        refused = http.get("/ops/feeds")
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Basic realm=")
        assert http.get("/ops/feeds.json", headers={"X-API-Key": "wrong-" + ADMIN}).status_code == 401
        basic = base64.b64encode(f"anyone:{ADMIN}".encode()).decode()
        page = http.get("/ops/feeds", headers={"Authorization": f"Basic {basic}"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "police.residents" in page.text and ">new<" in page.text
        assert "desk 4411 &lt;script&gt;" in page.text and "<script>" not in page.text
        assert "http://" not in page.text and "https://" not in page.text, "no CDN, no external asset"
        data = http.get("/ops/feeds.json", headers={"Authorization": f"Bearer {ADMIN}"}).json()
        assert [(d["feed"], d["state"], d["reasons"]) for d in data] == [
            ("police.residents", "new", ["no batch loaded yet"])]
