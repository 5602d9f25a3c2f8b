"""Server-rendered pages, one router per audience."""

from fastapi import APIRouter

pages_router = APIRouter(include_in_schema=False)
