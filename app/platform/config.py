"""Settings from the environment (and an optional .env file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[2]  # the source tree: app/platform/config.py → ./


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = f"sqlite:///{ROOT / 'var' / 'fieldline.db'}"
    # Unset: tasks run on an in-process worker thread and periodic jobs on an in-process scheduler.
    celery_broker_url: str | None = None
    # Redis visibility timeout: a message a worker took and has not acknowledged comes back after
    # this long (acks_late), so it must outlast the longest task or a slow task runs twice. The
    # longest is a day plan at the API's maximum time limit (PLAN_MAX_TIME_LIMIT_S, 600 s) plus
    # load and publish (seconds); 900 s leaves five minutes beyond it. A whole worker lost mid-solve
    # is found sooner by the plan-run sweeper (heartbeat + time limit + PLAN_RUN_GRACE_S).
    celery_visibility_timeout_s: int = 900
    demo_mode: bool = False
    secret_key: str | None = None
    time_zone: str = "Europe/Berlin"
    host: str = "127.0.0.1"
    port: int = 8000
    token_ttl_s: int = 12 * 3600
    # Secure flag of the page session cookie; unset: set it when the request came over https.
    session_cookie_secure: bool | None = None
    login_attempts_per_minute: int = 10
    reopen_days: int = 14
    idempotency_ttl_h: int = 48
    webhook_max_attempts: int = 8
    # Shared secret the mail relay sends as X-Relay-Token; unset disables inbound e-mail.
    inbound_email_token: str | None = None
    # Eager: tasks run inline in the caller (tests); only used when no broker is configured.
    task_always_eager: bool = False
    scheduler_enabled: bool = True
    # Dispatch planning (docs/planning.md).
    plan_time_limit_s: float = 30.0
    replan_time_limit_s: float = 2.0
    plan_solver_workers: int = 2  # solver processes per run
    # The sweeper (beat `fieldline.sweep.plan_runs`, docs/planning.md): a running run whose last sign
    # of life is older than its time limit plus this is taken as lost and re-run (or failed after
    # PLAN_RUN_MAX_ATTEMPTS); a queued run is sent again after PLAN_QUEUED_RESEND_S and failed after
    # PLAN_QUEUED_FAIL_S without a worker taking it.
    plan_run_grace_s: float = 120.0
    plan_run_max_attempts: int = 3
    plan_queued_resend_s: float = 120.0
    plan_queued_fail_s: float = 3600.0
    # A visit counts as running late once its ETA (or planned end) is this far behind the clock.
    late_margin_min: int = 15
    # Customers hear again when a visit's ETA moves by more than this.
    eta_notify_margin_min: int = 30
    notify_sender: str = "log"  # log | smtp
    smtp_host: str | None = None
    smtp_port: int = 25
    mail_from: str = "dispatch@fieldline.example"
    # Background tiles of the engineer's route map ({z}/{x}/{y}); empty: no tiles, the route
    # is drawn on a plain background (as it is anyway when the phone is offline).
    map_tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"

    @model_validator(mode="after")
    def _secrets_outside_demo(self) -> Settings:
        if not self.secret_key:
            if not self.demo_mode:
                raise ValueError("SECRET_KEY must be set outside demo mode (DEMO_MODE=1 for a demo)")
            self.secret_key = "demo-only-secret-not-for-production"
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
