"""/api/v1/webhooks: subscriptions, the delivery log with its dead letters, redelivery (admin)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from app.integrations.webhooks import service as webhooks
from app.integrations.webhooks.schemas import (
    DeliveryDetail,
    DeliveryRead,
    SubscriptionCreate,
    SubscriptionRead,
    SubscriptionUpdate,
    SubscriptionWithSecret,
)
from app.models import DeliveryStatus, WebhookSubscription
from app.platform.deps import AdminUser, DbSession
from app.platform.events import EVENTS
from app.platform.http import (
    IDEMPOTENCY_KEY,
    IF_MATCH,
    Page,
    etag,
    idempotent_create,
    require_if_match,
    row_tag,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


def _etag(sub: WebhookSubscription) -> str:
    # With the row's tag: on SQLite a new subscription may get a deleted one's id (docs/deploy.md).
    return etag(sub.version, row_tag(sub.created_at))


def _require_if_match(request: Request, sub: WebhookSubscription) -> None:
    require_if_match(request, sub.version, row_tag(sub.created_at))


def _with_etag(db: DbSession, sub: WebhookSubscription, response: Response) -> SubscriptionRead:
    db.flush()  # the version is final only after the last flush
    response.headers["ETag"] = _etag(sub)
    return SubscriptionRead.of(sub)


@router.get("/events")
def list_events(user: AdminUser) -> list[str]:
    """The event names a subscription can ask for."""
    return list(EVENTS)


@router.post(
    "/subscriptions",
    status_code=201,
    response_model=SubscriptionWithSecret,
    responses={201: {"headers": {"Location": {}, "ETag": {}}}},
    dependencies=[IDEMPOTENCY_KEY],
)
def create_subscription(
    body: SubscriptionCreate, request: Request, db: DbSession, user: AdminUser
) -> JSONResponse:
    """Subscribe a URL; the answer carries the signing secret, which is never shown again."""

    def _create() -> tuple[SubscriptionWithSecret, dict[str, str]]:
        sub = webhooks.create_subscription(
            db,
            url=str(body.url),
            events=body.events,
            description=body.description,
            active=body.active,
            actor=user,
        )
        db.flush()
        return SubscriptionWithSecret.of(sub), {
            "Location": f"/api/v1/webhooks/subscriptions/{sub.id}",
            "ETag": _etag(sub),
        }

    answer = idempotent_create(db, request, user, body.model_dump(mode="json"), _create)
    if answer.headers.get("Idempotent-Replayed") == "true":
        return _without_revoked_secret(db, answer)
    return answer


def _without_revoked_secret(db: DbSession, replay: JSONResponse) -> JSONResponse:
    """A replayed create shows the stored secret only while it is still the subscription's: once
    rotated (or the subscription deleted) it is withheld, and the current one is not shown either
    (only rotate-secret shows a secret again)."""
    body = json.loads(bytes(replay.body))
    withheld = webhooks.secret_withheld(db, subscription_id=body["id"], secret=body["secret"])
    if withheld is None:
        return replay
    headers = {k: v for k, v in replay.headers.items() if k not in ("content-length", "content-type")}
    return JSONResponse(
        {**body, "secret": None, "secret_withheld": withheld}, status_code=replay.status_code, headers=headers
    )


@router.get("/subscriptions")
def list_subscriptions(
    db: DbSession,
    user: AdminUser,
    active: bool | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[SubscriptionRead]:
    rows, next_cursor = webhooks.list_subscriptions(db, active=active, cursor=cursor, limit=limit)
    return Page[SubscriptionRead](items=[SubscriptionRead.of(s) for s in rows], next_cursor=next_cursor)


@router.get("/subscriptions/{subscription_id}")
def get_subscription(
    subscription_id: int, db: DbSession, user: AdminUser, response: Response
) -> SubscriptionRead:
    return _with_etag(db, webhooks.get_subscription(db, subscription_id), response)


@router.patch("/subscriptions/{subscription_id}", dependencies=[IF_MATCH])
def update_subscription(
    subscription_id: int,
    body: SubscriptionUpdate,
    request: Request,
    db: DbSession,
    user: AdminUser,
    response: Response,
) -> SubscriptionRead:
    """Change url, events, description or active (false pauses delivery); needs If-Match."""
    sub = webhooks.get_subscription(db, subscription_id)
    _require_if_match(request, sub)
    values = body.model_dump(mode="json", exclude_unset=True)
    sub = webhooks.update_subscription(db, subscription_id=subscription_id, values=values, actor=user)
    return _with_etag(db, sub, response)


@router.post("/subscriptions/{subscription_id}/rotate-secret", dependencies=[IF_MATCH])
def rotate_secret(
    subscription_id: int, request: Request, db: DbSession, user: AdminUser, response: Response
) -> SubscriptionWithSecret:
    """A new signing secret, shown once; needs If-Match."""
    sub = webhooks.get_subscription(db, subscription_id)
    _require_if_match(request, sub)
    sub = webhooks.rotate_secret(db, subscription_id=subscription_id, actor=user)
    db.flush()
    response.headers["ETag"] = _etag(sub)
    return SubscriptionWithSecret.of(sub)


@router.delete("/subscriptions/{subscription_id}", status_code=204, dependencies=[IF_MATCH])
def delete_subscription(subscription_id: int, request: Request, db: DbSession, user: AdminUser) -> Response:
    """Delete the subscription and its delivery log; needs If-Match (428 without, 412 stale). To
    keep the log, pause the subscription instead (PATCH active=false)."""
    sub = webhooks.get_subscription(db, subscription_id)
    _require_if_match(request, sub)
    webhooks.delete_subscription(db, subscription_id=subscription_id, actor=user)
    return Response(status_code=204)


@router.get("/deliveries")
def list_deliveries(
    db: DbSession,
    user: AdminUser,
    status: DeliveryStatus | None = None,
    subscription_id: int | None = None,
    event: Annotated[str | None, Query(max_length=60)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[DeliveryRead]:
    """The delivery log, newest first; `?status=dead` is the dead-letter list."""
    rows, next_cursor = webhooks.list_deliveries(
        db,
        status=status.value if status else None,
        subscription_id=subscription_id,
        event=event,
        cursor=cursor,
        limit=limit,
    )
    return Page[DeliveryRead](items=[DeliveryRead.model_validate(d) for d in rows], next_cursor=next_cursor)


@router.get("/deliveries/{delivery_id}")
def get_delivery(delivery_id: int, db: DbSession, user: AdminUser) -> DeliveryDetail:
    return DeliveryDetail.model_validate(webhooks.get_delivery(db, delivery_id))


@router.post("/deliveries/{delivery_id}/redeliver", status_code=202)
def redeliver(delivery_id: int, db: DbSession, user: AdminUser) -> DeliveryRead:
    """Queue a dead (or delivered) message again with a fresh set of attempts."""
    return DeliveryRead.model_validate(webhooks.redeliver(db, delivery_id=delivery_id, actor=user))
