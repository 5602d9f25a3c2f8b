"""Server-rendered pages, one router per audience (the desk's ticket pages in their own module)."""

from fastapi import APIRouter

from app.web import auth, desk, desk_tickets, field, insights, shared, survey

pages_router = APIRouter(include_in_schema=False)
pages_router.include_router(auth.router)
pages_router.include_router(desk.router)
pages_router.include_router(desk_tickets.router)
pages_router.include_router(field.router)
pages_router.include_router(insights.router)
pages_router.include_router(survey.router)
pages_router.include_router(shared.fallback_router)  # keep last: it answers every other /desk/ path
