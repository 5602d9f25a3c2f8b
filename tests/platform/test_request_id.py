"""The request id: taken from X-Request-ID (or made), returned, on the request's JSON log lines,
and carried as a task header to the log lines of the tasks the request enqueues."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.platform import logs
from app.platform.worker import celery_app

LOG = logging.getLogger("tests.request_id")


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the JSON handler of `configure_logging("json")` writes, captured."""
    buf = io.StringIO()
    handler = logs.make_handler("json", buf)
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        yield buf
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _records(buf: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]


def test_the_id_comes_back_and_is_on_the_access_line(client: TestClient, json_lines: io.StringIO) -> None:
    r = client.get("/api/v1/health", headers={"X-Request-ID": "lb-7f3a.42"})
    assert r.headers["X-Request-ID"] == "lb-7f3a.42"
    [access] = [x for x in _records(json_lines) if x["logger"] == "fieldline.access"]
    assert access["request_id"] == "lb-7f3a.42"
    assert (access["route"], access["status"], access["method"]) == ("/api/v1/health", 200, "GET")
    assert isinstance(access["duration_ms"], float) and access["level"] == "INFO"


def test_a_missing_or_forged_id_is_replaced(client: TestClient) -> None:
    made = client.get("/api/v1/health").headers["X-Request-ID"]
    assert len(made) == 32 and int(made, 16) >= 0
    forged = client.get("/api/v1/health", headers={"X-Request-ID": 'x" level=ERROR msg=forged'})
    assert forged.headers["X-Request-ID"] != 'x" level=ERROR msg=forged'
    assert len(forged.headers["X-Request-ID"]) == 32
    assert client.get("/api/v1/health").headers["X-Request-ID"] != made


@celery_app.task(name="tests.log_with_request_id")
def _log_something(note: str) -> None:
    LOG.info("task ran: %s", note)


def test_the_id_reaches_the_log_lines_of_a_task_on_a_worker(json_lines: io.StringIO) -> None:
    """Published through the broker (kombu's in-memory transport) and run by a real Celery
    worker thread, whose context never saw the request: only the task header can carry it."""
    import celery.contrib.testing.tasks  # noqa: F401  (the worker expects celery.ping registered)
    from celery.contrib.testing.worker import start_worker

    logs.install_task_propagation()
    logs.install_worker_logging()  # as app.worker does: Celery keeps its hands off the handlers
    with start_worker(celery_app, pool="solo", perform_ping_check=False, loglevel="INFO"):
        token = logs.request_id.set("req-from-the-api")
        try:
            celery_app.send_task("tests.log_with_request_id", kwargs={"note": "one"})
        finally:
            logs.request_id.reset(token)
        celery_app.send_task("tests.log_with_request_id", kwargs={"note": "two"})  # outside a request
        for _ in range(200):
            ran = [x for x in _records(json_lines) if str(x["message"]).startswith("task ran")]
            if len(ran) == 2:
                break
            time.sleep(0.05)
    by_note = {str(x["message"]).removeprefix("task ran: "): x for x in ran}
    assert by_note["one"]["request_id"] == "req-from-the-api"
    assert by_note["one"]["task_name"] == "tests.log_with_request_id" and by_note["one"]["task_id"]
    assert by_note["two"]["request_id"] is None  # the id of an earlier task does not linger


def test_the_id_reaches_the_in_process_task_thread(json_lines: io.StringIO) -> None:
    """Embedded mode (no broker): the task thread takes the id along with the task."""
    from app.platform.worker import InProcessWorker

    worker = InProcessWorker()
    token = logs.request_id.set("req-embedded")
    try:
        worker.submit("tests.log_with_request_id", {"note": "embedded"})
    finally:
        logs.request_id.reset(token)
    worker.submit("tests.log_with_request_id", {"note": "later"})
    worker.join()
    worker.stop()
    ran = {str(x["message"]): x for x in _records(json_lines) if str(x["message"]).startswith("task ran")}
    assert ran["task ran: embedded"]["request_id"] == "req-embedded"
    assert ran["task ran: later"]["request_id"] is None
