"""Settings from the environment (and an optional .env file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
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
    # Proxies whose X-Forwarded-Proto/-For are believed (comma-separated IPs or CIDRs, "*" for
    # any): the https scheme (the cookie's Secure flag) and the client address (login throttling)
    # come from them. A proxy in another container is not 127.0.0.1: name its network here.
    forwarded_allow_ips: str = "127.0.0.1"
    # Failed sign-ins per minute: per (client address, account), and per client address over
    # all accounts (password spraying). Neither locks the owner out from another address.
    login_attempts_per_minute: int = 10
    login_client_attempts_per_minute: int = 30
    reopen_days: int = 14
    idempotency_ttl_h: int = 48
    webhook_max_attempts: int = 8
    # A webhook delivery not sent this many days after its event expires instead (a long pause
    # must not flood the receiver with stale events on resume).
    webhook_expire_days: int = 7
    # Non-public webhook receivers that are allowed (on-premise): comma-separated CIDRs and host
    # names. Empty: webhooks only reach public addresses (app/integrations/webhooks/targets.py).
    webhook_allowed_targets: str = ""
    # Shared secret the mail relay sends as X-Relay-Token; unset disables inbound e-mail.
    inbound_email_token: str | None = None
    # Discarded mail from unknown senders is kept this many days after the discard (for audit),
    # then deleted by the periodic `fieldline.unmatched.purge` (docs/tickets.md, step 5).
    unmatched_email_retention_days: int = Field(default=30, ge=1)
    # Eager: tasks run inline in the caller (tests); only used when no broker is configured.
    task_always_eager: bool = False
    scheduler_enabled: bool = True
    # Dispatch planning (docs/planning.md).
    plan_time_limit_s: float = 30.0
    replan_time_limit_s: float = 2.0
    # The board's "Plan the day" shows the result for the dispatcher to accept; True publishes at
    # once. Automatic re-plans (emergencies, sickness, …) publish at once unless REPLAN_PROPOSE.
    plan_publish_at_once: bool = False
    replan_propose: bool = False
    plan_solver_workers: int = 2  # solver processes per run
    # Objective cost of calling an on-call engineer out once (in metres of driving: 200 km), so
    # standby cover serves a P1 rather than leave it, but never work a shift can do.
    on_call_callout_cost: int = 200_000
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
    # Overload (docs/deploy.md "Sizing"): per web process, at most ADMISSION_MAX_IN_FLIGHT
    # requests run at once; one more waits up to ADMISSION_QUEUE_MS for a slot, then gets 503.
    # Health, login and /metrics have ADMISSION_RESERVED slots of their own. The pool is sized
    # from these (see db_pool_size_total), so an admitted request never waits for a connection.
    admission_max_in_flight: int = 3
    admission_queue_ms: int = 15  # well under the 50 ms a refusal may take (bench/overload.py)
    admission_reserved: int = 2
    # Customers' survey pages (/survey/...) have this many slots of their own and queue for them
    # (app/platform/admission.py): a burst of customers is served in turn, not turned away.
    admission_survey: int = 2
    # A checkout that still waits this long (tasks, a miscount) fails fast as a 503, never 30 s.
    db_pool_timeout_s: float = 2.0
    # Metrics: GET /metrics answers a bearer METRICS_TOKEN, else an admin's token.
    metrics_token: str | None = None
    # Read by prometheus-client itself: where each process of a multi-process server (or a
    # prefork Celery worker) writes its samples. `fieldline serve --workers N` makes one if unset.
    prometheus_multiproc_dir: str | None = None
    # A Celery worker serves its metrics (task times, plan runs, webhook failures) on this port.
    worker_metrics_port: int | None = None
    # Geocoding of site addresses (app/platform/geocoder.py, docs/customers.md "Geocoding"): none
    # (a site needs the CRM's coordinates), or an OpenStreetMap geocoder a company can run itself,
    # nominatim or photon, at GEOCODER_URL (empty: the public server, whose policy wants a user
    # agent naming the application and at most one request a second: GEOCODER_MIN_DELAY_S apart in
    # an import). An import geocodes for GEOCODER_IMPORT_BUDGET_S at most; rows left then fail.
    geocoder: Literal["none", "nominatim", "photon"] = "none"
    geocoder_url: str = ""
    geocoder_timeout_s: float = 5.0
    geocoder_user_agent: str = "fieldline/0.1"
    geocoder_min_delay_s: float = 1.0
    geocoder_import_budget_s: float = 120.0
    log_format: str = "text"  # text | json (one JSON object per line, with the request id)
    log_level: str = "INFO"
    # Where the knowledge-base search index is persisted (one file per article-set version; every
    # web and worker process reloads from it). Shared between processes: a volume in docker-compose.
    kb_index_dir: str = str(ROOT / "var" / "kb-index")
    # Re-rank searches with the library's packaged sentence encoder (docs/knowledge_base.md);
    # off: BM25 only (less memory, no model load at start).
    kb_embeddings: bool = True
    # Also re-rank the suggestions fetched as an agent types: each new text is encoded (~9 ms p50,
    # 13 ms p95 for a ticket's text on one idle core; docs/knowledge_base.md). Off: those rank with
    # BM25 only (for a slow or busy box); searches and the saved ticket's suggestions still fuse.
    kb_typing_embeddings: bool = True
    # Article vectors by text (SQLite), so a rebuild re-embeds only changed articles. Default:
    # <KB_INDEX_DIR>/vectors.sqlite3. Deleting it only costs re-embedding.
    kb_vector_cache: str | None = None

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

    @property
    def db_pool_size_total(self) -> int:
        """Connections one web process needs: every admitted request holds one (survey pages
        too), a reserved request (the page login) up to two, and the in-process task thread one."""
        return self.admission_max_in_flight + self.admission_survey + 2 * self.admission_reserved + 1

    @property
    def thread_limit(self) -> int:
        """AnyIO worker threads: one per request that may run at once, plus static files."""
        return self.admission_max_in_flight + self.admission_survey + self.admission_reserved + 4


@lru_cache
def get_settings() -> Settings:
    return Settings()
