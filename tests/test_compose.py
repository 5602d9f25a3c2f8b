"""docker-compose.yml and the Dockerfile checked against the code (no Docker engine needed):
the services exist, images are pinned, commands name real CLI commands, modules, queues and
routes, every environment variable is a real setting, health checks and start order are right."""

from __future__ import annotations

import re
import shlex
import tomllib
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from fastapi.testclient import TestClient

from app.platform.config import ROOT, Settings

COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
SERVICES = {"postgres", "redis", "migrate", "web", "worker", "beat"}
APP_SERVICES = ("migrate", "web", "worker", "beat")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def _argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else list(command)


def _check(service: dict[str, Any]) -> str:
    """The health check as one shell-like string (CMD and CMD-SHELL forms)."""
    test = service["healthcheck"]["test"]
    if isinstance(test, str):
        return test
    assert test[0] in ("CMD", "CMD-SHELL"), test
    return " ".join(test[1:])


def _option(argv: list[str], *names: str) -> str:
    for i, arg in enumerate(argv):
        if arg in names:
            return argv[i + 1]
    raise AssertionError(f"{names} missing from {argv}")


def _project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_the_six_services_exist(services: dict[str, Any]) -> None:
    assert set(services) == SERVICES


def test_images_are_pinned(services: dict[str, Any]) -> None:
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    for name in APP_SERVICES:
        svc = services[name]
        assert svc["build"] == "." and DOCKERFILE.exists()
        # the app image is tagged with the release it was built from, never "latest"
        assert svc["image"] == f"fieldline:{_project_version()}", name
    for name, svc in services.items():
        repo, _, tag = svc["image"].partition(":")
        assert tag and tag != "latest", f"{name}: pin the image tag"


def test_fieldline_commands_exist_in_the_cli(services: dict[str, Any]) -> None:
    import typer

    from app.cli import cli

    commands = set(typer.main.get_command(cli).commands)  # type: ignore[attr-defined]
    assert _argv(services["migrate"]["command"]) == ["fieldline", "migrate"]
    for name in APP_SERVICES:
        argv = _argv(services[name]["command"])
        if argv[0] == "fieldline":
            assert argv[1] in commands, f"{name}: no `fieldline {argv[1]}` command"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["fieldline"] == "app.cli:main"


def test_celery_commands_name_the_app_and_every_routed_queue(services: dict[str, Any]) -> None:
    import importlib

    from celery import Celery

    from app.platform.worker import celery_app, queues

    for name, sub in (("worker", "worker"), ("beat", "beat")):
        argv = _argv(services[name]["command"])
        assert argv[:2] == ["celery", "-A"] and argv[3] == sub, argv
        module = importlib.import_module(argv[2])
        assert isinstance(module.celery_app, Celery)
    worker = _argv(services["worker"]["command"])
    consumed = set(_option(worker, "-Q", "--queues").split(","))
    routed = {r["queue"] for r in celery_app.conf.task_routes.values()}
    assert consumed == set(queues()) == routed | {celery_app.conf.task_default_queue}
    assert "--pool" not in worker or _option(worker, "--pool") == "prefork"  # solves are CPU-bound


def test_every_task_in_the_beat_schedule_is_registered() -> None:
    from app.platform.worker import celery_app

    celery_app.loader.import_default_modules()  # what `celery -A app.worker` does at start
    for entry in celery_app.conf.beat_schedule.values():
        assert entry["task"] in celery_app.tasks, entry["task"]
    assert {"fieldline.webhooks.deliver", "fieldline.webhooks.deliver_due"} <= set(celery_app.tasks)


def test_environment_variables_are_settings(services: dict[str, Any]) -> None:
    fields = {name.upper() for name in Settings.model_fields}
    for name in APP_SERVICES:
        env = services[name]["environment"]
        unknown = set(env) - fields
        assert not unknown, f"{name}: {unknown} are not fields of app.platform.config.Settings"
        assert {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY"} <= set(env), name
        assert env["SECRET_KEY"].startswith("${SECRET_KEY:?"), "the secret must come from outside"
        assert str(env.get("DEMO_MODE", "0")) in ("0", "false")
        # the values parse as settings (with compose's ${...} filled in)
        filled = {k: re.sub(r"\$\{[^}]*\}", "x", str(v)) for k, v in env.items()}
        Settings(**{k.lower(): v for k, v in filled.items()})


def test_urls_point_at_the_compose_services(services: dict[str, Any]) -> None:
    pg = services["postgres"]["environment"]
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert "${POSTGRES_PASSWORD" in env["DATABASE_URL"]
        db = urlsplit(re.sub(r"\$\{[^}]*\}", "secret", env["DATABASE_URL"]))
        assert db.scheme == "postgresql+psycopg"  # the driver in pyproject's dependencies
        assert (db.hostname, db.port, db.path.lstrip("/"), db.username) == (
            "postgres",
            5432,
            pg["POSTGRES_DB"],
            pg["POSTGRES_USER"],
        )
        broker = urlsplit(env["CELERY_BROKER_URL"])
        assert (broker.scheme, broker.hostname) == ("redis", "redis")
        # longer than the longest solve; Settings' default is the documented one
        timeout = int(
            env.get(
                "CELERY_VISIBILITY_TIMEOUT_S", Settings.model_fields["celery_visibility_timeout_s"].default
            )
        )
        # a solve runs for its time limit plus model building: keep a wide margin over every
        # configured planning time limit (PLAN_TIME_LIMIT_S, ...)
        limits = [
            float(env.get(n.upper(), f.default))
            for n, f in Settings.model_fields.items()
            if n.endswith("time_limit_s")
        ]
        from app.planning.schemas import MAX_TIME_LIMIT_S

        # ... and over the longest solve the API accepts, plus load and publish
        assert timeout >= MAX_TIME_LIMIT_S + 120 and timeout > 10 * max(limits, default=0)


def test_health_checks(services: dict[str, Any], client: TestClient) -> None:
    from app.main import app

    assert "pg_isready" in _check(services["postgres"])
    assert _check(services["redis"]).split()[:2] == ["redis-cli", "ping"]
    assert "celery -A app.worker inspect ping" in _check(services["worker"])
    match = re.search(r"http://(?:127\.0\.0\.1|localhost):(\d+)(/[\w/.-]*)", _check(services["web"]))
    assert match, "web health check must request a URL"
    port, path = int(match.group(1)), match.group(2)
    env = services["web"]["environment"]
    assert port == int(env.get("PORT", 8000)) and f"{port}:{port}" in services["web"]["ports"]
    assert env.get("HOST") == "0.0.0.0"  # reachable from outside the container
    paths = app.openapi()["paths"]  # every route, however routers are nested
    assert "get" in paths.get(path, {}), f"{path} is not a GET route of app.main.app"
    assert client.get(path).status_code == 200


def test_start_order(services: dict[str, Any]) -> None:
    def deps(name: str) -> dict[str, str]:
        return {k: v["condition"] for k, v in services[name]["depends_on"].items()}

    assert deps("migrate") == {"postgres": "service_healthy"}
    for name in ("web", "worker"):
        assert deps(name) == {"migrate": "service_completed_successfully", "redis": "service_healthy"}, name
    assert deps("beat") == {"redis": "service_healthy"}
    for name in services:
        for dep, condition in deps(name).items() if "depends_on" in services[name] else []:
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep}'s health check"
    assert services["migrate"]["restart"] == "no"  # one-shot


def test_data_lives_in_named_volumes(compose: dict[str, Any], services: dict[str, Any]) -> None:
    for name, mount in (("postgres", "/var/lib/postgresql/data"), ("redis", "/data")):
        volume, target = services[name]["volumes"][0].split(":")[:2]
        assert target == mount and volume in compose["volumes"], name


def test_web_and_worker_share_the_knowledge_index(compose: dict[str, Any], services: dict[str, Any]) -> None:
    """The worker persists each index version; web processes load it from the same volume."""
    mounts = {}
    for name in ("web", "worker"):
        path = _settings_of(services[name]).kb_index_dir
        volumes = dict(v.split(":")[1::-1] for v in services[name].get("volumes", []))
        assert path in volumes, f"{name}: KB_INDEX_DIR {path} is not on a volume"
        mounts[name] = volumes[path]
    assert mounts["web"] == mounts["worker"] and mounts["web"] in compose["volumes"]
    # the image's directory is the app user's, so the fresh named volume is writable for it
    assert re.search(rf"chown fieldline {re.escape(path)}", DOCKERFILE.read_text())


def test_dockerfile_builds_the_package_with_its_migrations() -> None:
    text = DOCKERFILE.read_text()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    assert lines[0] == "FROM python:3.11-slim"
    assert re.search(r"RUN pip install \.(\s|$)", text)
    copied: set[str] = set()
    for ln in lines:
        if ln.startswith("COPY "):
            *sources, _dest = ln.split()[1:]
            copied.update(sources)
            for src in sources:
                assert (ROOT / src).exists(), f"COPY {src}: no such file in the repository"
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    packages = {p.rstrip("*") for p in find["find"]["include"]}
    assert packages <= copied, f"packages not copied: {packages - copied}"
    assert {"alembic", "alembic.ini", "pyproject.toml", "README.md"} <= copied
    # app.platform.config.ROOT must be the source directory for alembic.ini to be found
    assert "PYTHONPATH=/srv/fieldline" in text and "WORKDIR /srv/fieldline" in text
    assert re.search(r"^USER (?!root)\w+", text, re.M), "run as an unprivileged user"
    assert 'CMD ["fieldline", "serve"]' in text


def test_dockerignore_keeps_local_state_out() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "var", ".env"} <= ignored


def test_deploy_doc_covers_the_visibility_timeout() -> None:
    doc = (ROOT / "docs" / "deploy.md").read_text()
    for term in (
        "CELERY_VISIBILITY_TIMEOUT_S",
        "docker compose",
        "SECRET_KEY",
        "verify_signature",
        "fieldline create-user",
    ):
        assert term in doc, term


def _settings_of(service: dict[str, Any]) -> Settings:
    filled = {k: re.sub(r"\$\{[^}]*\}", "x", str(v)) for k, v in service["environment"].items()}
    return Settings(**{k.lower(): v for k, v in filled.items()})


def test_web_runs_several_workers_and_periodic_jobs_run_once(services: dict[str, Any]) -> None:
    from app.platform.serve import refuse_workers

    argv = _argv(services["web"]["command"])
    assert argv[:2] == ["fieldline", "serve"]
    workers = int(_option(argv, "--workers", "-w"))
    assert workers >= 2
    settings = _settings_of(services["web"])
    assert refuse_workers(settings, workers) is None  # what `fieldline serve` itself checks
    # a broker is set, so no web process starts the in-process scheduler (app.main.lifespan) …
    assert settings.celery_broker_url
    # … and exactly one service runs beat
    beats = [name for name, svc in services.items() if "beat" in _argv(svc.get("command", []))]
    assert beats == ["beat"]


def test_metrics_directories_are_fresh_per_start(services: dict[str, Any]) -> None:
    for name in ("web", "worker"):
        env = services[name]["environment"]
        path = env["PROMETHEUS_MULTIPROC_DIR"]
        assert path in services[name]["tmpfs"], f"{name}: the multiprocess files must start empty"
    assert "PROMETHEUS_MULTIPROC_DIR" not in services["beat"].get("environment", {})
    assert int(services["worker"]["environment"]["WORKER_METRICS_PORT"]) > 1024
    # the health check is a separate process: it must not leave samples in the worker's directory
    assert "PROMETHEUS_MULTIPROC_DIR= celery" in _check(services["worker"])
    assert _settings_of(services["web"]).log_format == "json"
