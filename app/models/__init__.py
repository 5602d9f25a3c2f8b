"""All ORM models, imported here so Alembic and the app see one metadata."""

from app.models.crm import (
    Account,
    Asset,
    BusinessCalendar,
    Contact,
    Contract,
    Holiday,
    Part,
    ProductModel,
    ProductModelPart,
    Region,
    Site,
    SlaTarget,
)
from app.models.field import (
    Absence,
    Engineer,
    PartUsage,
    Shift,
    StockLevel,
    StockLocation,
    Warehouse,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderPart,
    WorkOrderStatus,
    WorkOrderWindow,
)
from app.models.planning import (
    CustomerNotification,
    PlanBatch,
    PlanDay,
    PlanRoute,
    PlanRun,
    PlanRunStatus,
    PlanStop,
    PlanUnassigned,
    ReservationStatus,
    StockReservation,
)
from app.models.system import (
    AuditLog,
    DeliveryStatus,
    IdempotencyRecord,
    LoginAttempt,
    Role,
    User,
    WebhookDelivery,
    WebhookSubscription,
)
from app.models.tickets import Channel, Priority, SlaEvent, Ticket, TicketEvent, TicketStatus

__all__ = [
    "Absence", "Account", "Asset", "AuditLog", "BusinessCalendar", "Channel", "Contact",
    "Contract", "DeliveryStatus", "Engineer", "Holiday", "IdempotencyRecord", "LoginAttempt",
    "Part", "PartUsage", "Priority", "ProductModel", "ProductModelPart", "Region", "Role",
    "Shift", "Site", "SlaEvent", "SlaTarget", "StockLevel", "StockLocation", "Ticket",
    "TicketEvent", "TicketStatus", "User", "Warehouse", "WebhookDelivery", "WebhookSubscription",
    "WorkOrder", "WorkOrderEvent", "WorkOrderPart", "WorkOrderStatus", "WorkOrderWindow",
    "CustomerNotification", "PlanBatch", "PlanDay", "PlanRoute", "PlanRun", "PlanRunStatus",
    "PlanStop", "PlanUnassigned", "ReservationStatus", "StockReservation",
]
