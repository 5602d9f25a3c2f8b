"""Server-rendered pages, one router per audience (the desk's ticket pages in their own module)."""

from fastapi import APIRouter, Depends

from app.platform.inputs import guard_params
from app.web import (
    auth,
    board,
    board_whatif,
    desk,
    desk_queue,
    desk_tickets,
    desk_unmatched,
    engineers,
    field,
    imports,
    insights,
    kb_list,
    knowledge,
    survey,
    teams,
    users,
)

# The same input guard as the API (app/platform/inputs.py): a readable 422 page.
pages_router = APIRouter(include_in_schema=False, dependencies=[Depends(guard_params)])
pages_router.include_router(auth.router)
pages_router.include_router(desk.router)
pages_router.include_router(desk_tickets.router)
pages_router.include_router(desk_queue.router)
pages_router.include_router(desk_unmatched.router)
pages_router.include_router(teams.router)
pages_router.include_router(users.router)
pages_router.include_router(engineers.router)
pages_router.include_router(imports.router)
pages_router.include_router(field.router)
pages_router.include_router(insights.router)
pages_router.include_router(knowledge.router)
pages_router.include_router(kb_list.router)
pages_router.include_router(survey.router)
pages_router.include_router(board.router)
pages_router.include_router(board_whatif.router)
