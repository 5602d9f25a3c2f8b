"""Server-rendered pages, one router per audience."""

from fastapi import APIRouter

from app.pages import auth, desk

pages_router = APIRouter(include_in_schema=False)
pages_router.include_router(auth.router)
pages_router.include_router(desk.router)
