"""Webhooks cannot be aimed at the server's own network (SSRF): internal addresses in any spelling
are refused when a subscription is saved and again at delivery (after resolving the name, against
DNS rebinding); the request goes to the checked address; internal answers never reach the log."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.integrations.webhooks import service as webhooks
from app.integrations.webhooks import targets
from app.models import WebhookDelivery, WebhookSubscription
from app.platform.config import get_settings
from app.platform.events import emit
from tests import factories as f
from tests.integrations.webhooks.receiver import running_receiver

SUBS = "/api/v1/webhooks/subscriptions"
PUBLIC = "93.184.215.14"  # a public unicast address (nothing connects to it: transports are mocked)

INTERNAL_URLS = [
    "http://127.0.0.1:5432/",
    "http://localhost:6379/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:8000/",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://127.1/",
    "http://0177.0.0.1/",
    "http://0.0.0.0:8000/",
    "http://[::]/",
    "http://10.0.0.8/",
    "http://192.168.1.1/",
    "http://172.17.0.1/",
    "http://100.100.100.200/",  # another cloud's metadata (shared address space)
    "http://[fd00:ec2::254]/",
    "http://[fe80::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
]


@pytest.fixture
def no_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "webhook_allowed_targets", "")


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[list[str]]]]:
    """Scripted DNS: answers[name] is a list of answers, used in turn (the last one repeats)."""
    answers: dict[str, list[list[str]]] = {}
    asked: list[str] = []

    def resolve(host: str, port: int) -> Sequence[str]:
        asked.append(host)
        if host not in answers:
            raise OSError(f"{host}: name or service not known")
        queue = answers[host]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    monkeypatch.setattr(targets, "_resolve", resolve)
    yield answers


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_internal_addresses_are_refused_at_subscription(
    client: TestClient, login, no_allow_list: None, url: str
) -> None:  # type: ignore[no-untyped-def]
    r = client.post(SUBS, json={"url": url}, headers=login("admin"))
    assert r.status_code == 422, (url, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "url"
    assert "WEBHOOK_ALLOWED_TARGETS" in r.json()["detail"]


def test_a_name_resolving_to_an_internal_address_is_refused(
    client: TestClient, login, no_allow_list: None, dns: dict[str, list[list[str]]]
) -> None:  # type: ignore[no-untyped-def]
    dns["erp.example"] = [[PUBLIC, "10.1.2.3"]]  # one bad address among good ones is enough
    r = client.post(SUBS, json={"url": "https://erp.example/hook"}, headers=login("admin"))
    assert r.status_code == 422 and "10.1.2.3" in r.json()["detail"]
    dns["erp.example"] = [[PUBLIC]]
    ok = client.post(SUBS, json={"url": "https://erp.example/hook"}, headers=login("admin"))
    assert ok.status_code == 201, ok.text


def test_update_cannot_point_a_subscription_inside(
    client: TestClient, login, db: Session, no_allow_list: None
) -> None:  # type: ignore[no-untyped-def]
    admin = login("admin")
    created = client.post(SUBS, json={"url": f"http://{PUBLIC}/hook"}, headers=admin)
    assert created.status_code == 201
    url, etag = created.headers["Location"], created.headers["ETag"]
    r = client.patch(url, json={"url": "http://[::1]:5432/"}, headers={**admin, "If-Match": etag})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "url"


def _claim_for(db: Session, url: str) -> webhooks.Claim:
    sub = f.make_webhook_subscription(db, url)
    emit(db, "ticket.created", {"ticket_id": 1})
    db.flush()
    [d] = db.scalars(select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id))
    got = webhooks.claim(db, d.id)
    assert got is not None
    return got


def _recording_client(seen: list[httpx.Request], status: int = 200, text: str = "") -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, text=text)

    return httpx.Client(transport=httpx.MockTransport(handle))


def test_dns_rebinding_is_refused_at_delivery(
    db: Session, no_allow_list: None, dns: dict[str, list[list[str]]]
) -> None:
    # Public when the admin saved it, loopback by the time the worker sends.
    dns["rebind.example"] = [[PUBLIC], ["127.0.0.1"]]
    targets.check_subscription_url("http://rebind.example/hook")
    seen: list[httpx.Request] = []
    outcome = webhooks.post(_claim_for(db, "http://rebind.example/hook"), client=_recording_client(seen))
    assert not outcome.ok and outcome.status_code is None
    assert outcome.error is not None and outcome.error.startswith("refused: ") and "loopback" in outcome.error
    assert seen == []  # nothing was sent


def test_the_request_goes_to_the_checked_address(
    db: Session, no_allow_list: None, dns: dict[str, list[list[str]]]
) -> None:
    dns["hooks.example"] = [[PUBLIC], ["127.0.0.1"]]  # a second lookup would be answered differently
    seen: list[httpx.Request] = []
    outcome = webhooks.post(
        _claim_for(db, "https://hooks.example:8443/in?x=1"), client=_recording_client(seen)
    )
    assert outcome.ok
    [request] = seen
    assert (request.url.host, request.url.port, request.url.path, request.url.query) == (
        PUBLIC,
        8443,
        "/in",
        b"x=1",
    )
    assert request.headers["host"] == "hooks.example:8443"
    assert request.extensions["sni_hostname"] == "hooks.example"  # the certificate is checked for the name


def test_a_public_receivers_error_text_is_kept(db: Session, no_allow_list: None) -> None:
    seen: list[httpx.Request] = []
    client = _recording_client(seen, status=500, text="queue full")
    outcome = webhooks.post(_claim_for(db, f"http://{PUBLIC}/hook"), client=client)
    assert outcome.error == "HTTP 500: queue full"


def test_internal_targets_stored_before_the_fix_are_refused_at_delivery(
    db: Session, no_allow_list: None
) -> None:
    with running_receiver() as receiver:
        receiver.default_status = 500
        sub = f.make_webhook_subscription(db, receiver.url)  # written directly, as old rows were
        emit(db, "ticket.created", {"ticket_id": 1})
        db.commit()  # the eager task delivers now
        assert receiver.requests == []
    db.expire_all()
    [d] = db.scalars(select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id))
    assert d.last_status_code is None and d.last_error is not None and d.last_error.startswith("refused: ")


def test_allow_listed_receiver_gets_deliveries_but_its_answers_are_not_logged(
    db: Session, client: TestClient, login, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(get_settings(), "webhook_allowed_targets", "10.0.0.0/8, 127.0.0.0/8")
    with running_receiver() as receiver:
        receiver.default_status = 500
        receiver_reply = "receiver says no"
        sub = f.make_webhook_subscription(db, receiver.url)
        emit(db, "ticket.created", {"ticket_id": 1})
        db.commit()
        assert len(receiver.requests) == 1
    r = client.get("/api/v1/webhooks/deliveries", params={"subscription_id": sub.id}, headers=login("admin"))
    [d] = r.json()["items"]
    assert d["last_status_code"] == 500 and d["last_error"] == "HTTP 500"
    assert receiver_reply not in r.text


def test_allow_list_by_host_name(monkeypatch: pytest.MonkeyPatch, dns: dict[str, list[list[str]]]) -> None:
    monkeypatch.setattr(get_settings(), "webhook_allowed_targets", "erp.internal")
    dns["erp.internal"] = [["10.20.0.5"]]
    dns["other.internal"] = [["10.20.0.6"]]
    pinned = targets.pin("https://erp.internal/hook")
    assert str(pinned.address) == "10.20.0.5" and pinned.internal
    with pytest.raises(targets.RefusedTarget):
        targets.pin("https://other.internal/hook")


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("0x7f000001", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("::ffff:10.0.0.1", "10.0.0.1"),
        ("example.com", None),
        ("cafe", None),
    ],
)
def test_numeric_spellings_are_read_as_addresses(host: str, address: str | None) -> None:
    got = targets.literal_address(host)
    assert (str(got) if got else None) == address


def test_a_public_address_is_accepted_by_the_service(db: Session, no_allow_list: None) -> None:
    sub = webhooks.create_subscription(db, url=f"https://{PUBLIC}/x", events=[], actor=None)
    assert db.get(WebhookSubscription, sub.id) is not None
