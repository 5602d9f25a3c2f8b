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
    # Redis visibility timeout: must exceed the longest solve, or a slow task is delivered twice.
    celery_visibility_timeout_s: int = 3600
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
    # Objective cost of calling an on-call engineer out once (in metres of driving: 200 km), so
    # standby cover serves a P1 rather than leave it, but never work a shift can do.
    on_call_callout_cost: int = 200_000
    # A visit counts as running late once its ETA (or planned end) is this far behind the clock.
    late_margin_min: int = 15
    # Customers hear again when a visit's ETA moves by more than this.
    eta_notify_margin_min: int = 30
    notify_sender: str = "log"  # log | smtp
    smtp_host: str | None = None
    smtp_port: int = 25
    mail_from: str = "dispatch@fieldline.example"
    # Where customers reach the public pages (survey links in e-mails), without a trailing slash.
    public_url: str = "http://127.0.0.1:8000"
    # Post-service surveys (docs/surveys.md): delay after the visit, one per contact per cooldown,
    # one reminder; the links expire after survey_expires_days.
    survey_delay_min: int = 120
    survey_cooldown_days: int = 30
    survey_reminder_days: int = 3
    survey_expires_days: int = 14
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
