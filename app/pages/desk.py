"""Agent desk pages: customer search, the customer 360° page, new tickets."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.pages.web import DeskPageUser, PageRoute, render

router = APIRouter(route_class=PageRoute)


@router.get("/")
def home(request: Request, user: DeskPageUser, q: str = "") -> HTMLResponse:
    return render(request, "desk/search.html", {"nav": "search", "q": q, "results": []})
