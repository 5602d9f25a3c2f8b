"""The /api/v1 router: it only gathers the routers that live in each domain package (`api.py`)."""

from fastapi import APIRouter, Depends

from app.accounts import api as users
from app.desk.customers import api as customers
from app.desk.customers import records_api as crm_records
from app.desk.teams import api as teams
from app.desk.tickets import api as tickets
from app.feedback import api as recoveries
from app.field.engineers import api as engineers
from app.field.inventory import api as parts
from app.field.workorders import api as workorders
from app.insights import api as insights
from app.integrations.crm_import import api as imports
from app.integrations.inbound_email import api as inbound
from app.integrations.inbound_email import unmatched_api as unmatched_mail
from app.integrations.webhooks import api as webhooks
from app.knowledge import api as knowledge
from app.planning import api as plans
from app.planning import route_api as route
from app.platform import auth_api as auth
from app.platform import health_api as health
from app.platform.inputs import guard_params

# Hostile ids, NUL bytes and dates in paths, queries and forms: 422 before any endpoint runs.
api_router = APIRouter(prefix="/api/v1", dependencies=[Depends(guard_params)])
api_router.include_router(health.router)
api_router.include_router(auth.router)
api_router.include_router(tickets.router)
api_router.include_router(teams.router)
api_router.include_router(knowledge.ticket_router)
api_router.include_router(knowledge.router)
api_router.include_router(inbound.router)
api_router.include_router(unmatched_mail.router)
api_router.include_router(webhooks.router)
api_router.include_router(workorders.router)
api_router.include_router(engineers.router)
api_router.include_router(parts.router)
api_router.include_router(plans.router)
api_router.include_router(route.router)
api_router.include_router(customers.router)
api_router.include_router(crm_records.accounts)
api_router.include_router(crm_records.contacts)
api_router.include_router(crm_records.sites)
api_router.include_router(crm_records.assets)
api_router.include_router(imports.router)
api_router.include_router(insights.router)
api_router.include_router(recoveries.router)
api_router.include_router(users.router)
