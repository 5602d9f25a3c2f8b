"""The /api/v1 router: one module per resource."""

from fastapi import APIRouter

from app.api import (
    auth,
    customers,
    engineers,
    health,
    imports,
    inbound,
    parts,
    plans,
    route,
    tickets,
    webhooks,
    workorders,
)

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(health.router)
api_router.include_router(auth.router)
api_router.include_router(tickets.router)
api_router.include_router(inbound.router)
api_router.include_router(webhooks.router)
api_router.include_router(workorders.router)
api_router.include_router(engineers.router)
api_router.include_router(parts.router)
api_router.include_router(plans.router)
api_router.include_router(route.router)
api_router.include_router(customers.router)
api_router.include_router(imports.router)
