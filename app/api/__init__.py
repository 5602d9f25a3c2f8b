"""The /api/v1 router: one module per resource."""

from fastapi import APIRouter

from app.api import auth, health, inbound, tickets, webhooks

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(health.router)
api_router.include_router(auth.router)
api_router.include_router(tickets.router)
api_router.include_router(inbound.router)
api_router.include_router(webhooks.router)
