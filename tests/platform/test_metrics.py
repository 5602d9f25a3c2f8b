"""GET /metrics: who may scrape, and the series operators need, with values that move."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import PlanRun, WebhookDelivery
from app.platform.config import ROOT, get_settings
from app.platform.events import emit
from tests import factories as f
from tests.integrations.webhooks.receiver import running_receiver
from tests.integrations.webhooks.test_webhooks import _make_due

SERIES = (
    "fieldline_http_requests",
    "fieldline_http_request_duration_seconds",
    "fieldline_http_shed",
    "fieldline_admission_in_flight",
    "fieldline_admission_waiting",
    "fieldline_db_pool_in_use",
    "fieldline_db_pool_timeouts",
    "fieldline_task_queue_depth",
    "fieldline_task_queue_oldest_age_seconds",
    "fieldline_task_wait_seconds",
    "fieldline_task_duration_seconds",
    "fieldline_plan_run_duration_seconds",
    "fieldline_webhook_delivery_failures",
)


def scrape(
    client: TestClient, headers: dict[str, str]
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def families(client: TestClient, headers: dict[str, str]) -> set[str]:
    return {fam.name for fam in text_string_to_metric_families(client.get("/metrics", headers=headers).text)}


def test_metrics_need_the_token_or_an_admin(
    client: TestClient, login, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = client.get("/metrics")
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert client.get("/metrics", headers=login("manager")).status_code == 403
    assert client.get("/metrics", headers=login("admin")).status_code == 200
    monkeypatch.setattr(get_settings(), "metrics_token", "scrape-me-0123456789")
    assert client.get("/metrics", headers={"Authorization": "Bearer scrape-me-0123456789"}).status_code == 200
    assert client.get("/metrics", headers={"Authorization": "Bearer scrape-me-wrong"}).status_code == 401


def test_the_named_series_are_exposed(client: TestClient, login) -> None:
    assert set(SERIES) <= families(client, login("admin"))


def test_requests_are_counted_per_route_template(client: TestClient, login) -> None:
    admin, agent = login("admin"), login("agent")
    key = (
        "fieldline_http_requests_total",
        (("method", "GET"), ("route", "/api/v1/customers/{account_id}/360"), ("status", "404")),
    )
    latency = (
        "fieldline_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "/api/v1/customers/{account_id}/360")),
    )
    before = scrape(client, admin)
    for account_id in (999_991, 999_992, 999_993):  # three ids, one route: one label value
        assert client.get(f"/api/v1/customers/{account_id}/360", headers=agent).status_code == 404
    after = scrape(client, admin)
    assert after[key] - before.get(key, 0) == 3
    assert after[latency] - before.get(latency, 0) == 3
    assert not any("999991" in str(labels) for _, labels in after)  # no raw paths as labels
    queue = ("fieldline_task_queue_depth", (("queue", "in-process"),))
    assert after[queue] == 0  # eager tasks in the tests: nothing waits


def test_webhook_failures_and_plan_runs_are_counted(
    client: TestClient, login, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.integrations.webhooks.tasks import deliver_due
    from app.planning import runs as plan_runs

    admin = login("admin")
    monkeypatch.setattr(get_settings(), "webhook_max_attempts", 2)
    retry = ("fieldline_webhook_delivery_failures_total", (("outcome", "retry"),))
    dead = ("fieldline_webhook_delivery_failures_total", (("outcome", "dead"),))
    before = scrape(client, admin)
    with running_receiver() as receiver:
        receiver.default_status = 500
        f.make_webhook_subscription(db, receiver.url)
        emit(db, "ticket.created", {"ticket_id": 7})
        db.commit()  # the eager delivery fails once: a retry
        for delivery_id in db.scalars(select(WebhookDelivery.id)):
            _make_due(db, delivery_id)
        deliver_due()  # the second failure is the last: dead
    region = f.make_region(db)
    run = plan_runs.create_run(db, region_id=region.id, day=date(2030, 6, 3), send=False, time_limit_s=1.0)
    db.commit()
    status = plan_runs.execute(run.id)
    assert plan_runs.execute(run.id) == status  # a finished run again: not timed twice
    after = scrape(client, admin)
    assert after[retry] - before.get(retry, 0) == 1
    assert after[dead] - before.get(dead, 0) == 1
    count = ("fieldline_plan_run_duration_seconds_count", (("status", status),))
    assert after[count] - before.get(count, 0) == 1
    assert db.get(PlanRun, run.id) is not None


def test_workers_add_up_in_multiprocess_mode(tmp_path: Path) -> None:
    """Each process of `serve --workers N` writes its samples to PROMETHEUS_MULTIPROC_DIR; a
    scrape in any one of them reports the sum."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    count = (
        "from app.platform import metrics; "
        "metrics.HTTP_REQUESTS.labels('GET', '/api/v1/health', '200').inc(); metrics.IN_FLIGHT.inc()"
    )
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], env=env, check=True, cwd=ROOT)
    read = (
        "from prometheus_client import generate_latest; from app.platform import metrics; "
        "print(generate_latest(metrics.scrape_registry()).decode())"
    )
    out = subprocess.run(
        [sys.executable, "-c", read], env=env, check=True, cwd=ROOT, capture_output=True
    ).stdout
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(out.decode())
        for s in fam.samples
    }
    key = (
        "fieldline_http_requests_total",
        (("method", "GET"), ("route", "/api/v1/health"), ("status", "200")),
    )
    assert samples[key] == 2
