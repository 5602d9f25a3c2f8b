"""Customers, sites, contacts, products, assets, contracts and SLA targets."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Numeric, String, Text, UniqueConstraint, text, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.functions import FunctionElement

from app.platform.db import Base, utcnow


class Region(Base):
    __tablename__ = "region"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Berlin")


class BusinessCalendar(Base):
    """Coverage hours. `hours` maps weekday 0=Mon..6=Sun to [["08:00","12:00"], ["13:00","17:00"]]."""

    __tablename__ = "business_calendar"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Berlin")
    always_open: Mapped[bool] = mapped_column(default=False)  # 24x7 coverage
    hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Holiday(Base):
    __tablename__ = "holiday"
    __table_args__ = (UniqueConstraint("calendar_id", "day"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("business_calendar.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(120), default="")


class SlaTarget(Base):
    """Minutes of covered time per tier × priority; tier 'standard' is the no-contract default."""

    __tablename__ = "sla_target"
    __table_args__ = (UniqueConstraint("tier", "priority"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tier: Mapped[str] = mapped_column(String(20))
    priority: Mapped[str] = mapped_column(String(2))
    first_response_min: Mapped[int]
    arrival_min: Mapped[int]
    resolution_min: Mapped[int]


class Account(Base):
    __tablename__ = "account"
    # Search (app/desk/customers/service.py): LIKE 'x%' needs pattern ops outside the C collation on
    # PostgreSQL; LIKE '%x%' uses the trigram index (pg_trgm, created in alembic/env.py).
    __table_args__ = (
        Index("ix_account_name_search", "name_search", postgresql_ops={"name_search": "varchar_pattern_ops"}),
        Index(
            "ix_account_name_search_trgm",
            "name_search",
            postgresql_using="gin",
            postgresql_ops={"name_search": "gin_trgm_ops"},
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_search: Mapped[str] = mapped_column(String(200), default="")
    tier: Mapped[str] = mapped_column(String(20), default="standard")
    segment: Mapped[str] = mapped_column(String(40), default="")
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    arr: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    renewal_date: Mapped[date | None] = mapped_column(Date)
    # The account manager: owns recovery tickets opened for this account's unhappy answers.
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # The language the customer is written to (notices, survey mails and pages): a catalogue code
    # of app.platform.i18n ("en", "de"). No CHECK: a new catalogue needs no migration.
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}


class email_domain(FunctionElement[str]):  # noqa: N801 - an SQL function, named like one
    """The domain of an e-mail address (everything after the first "@"), for the customer search's
    "ziegler-maschinenbau.de" lookup: an equality on the expression index `ix_contact_email_domain`,
    so a domain is matched exactly, never as a substring. SQLite and PostgreSQL spell "position of"
    differently; both render literal SQL (no bound parameters), so PostgreSQL matches the query's
    expression to the index. The database derives the key, so no writer has to fill a column."""

    type = String()
    name = "email_domain"
    inherit_cache = True


@compiles(email_domain, "postgresql")
def _email_domain_postgresql(element: email_domain, compiler: Any, **kw: Any) -> str:
    email = compiler.process(element.clauses, **kw)
    return f"substr({email}, strpos({email}, '@') + 1)"


@compiles(email_domain)
def _email_domain_sqlite(element: email_domain, compiler: Any, **kw: Any) -> str:
    email = compiler.process(element.clauses, **kw)
    return f"substr({email}, instr({email}, '@') + 1)"


class Contact(Base):
    __tablename__ = "contact"
    __table_args__ = (
        Index("ix_contact_email_domain", email_domain(text("email"))),
        # Company + person typed together ("Müller GmbH": "GmbH" in the account's name, "Müller"
        # its contact's): every word LIKE '%w%' on the account's and the contact's keys together,
        # one trigram probe instead of joining two large trigram results.
        Index(
            "ix_contact_account_and_name_search_trgm",
            "account_and_name_search",
            postgresql_using="gin",
            postgresql_ops={"account_and_name_search": "gin_trgm_ops"},
        ),
        Index("ix_contact_email", "email", postgresql_ops={"email": "varchar_pattern_ops"}),
        Index(
            "ix_contact_phone_digits", "phone_digits", postgresql_ops={"phone_digits": "varchar_pattern_ops"}
        ),
        Index(
            "ix_contact_mobile_digits",
            "mobile_digits",
            postgresql_ops={"mobile_digits": "varchar_pattern_ops"},
        ),
        # Names are matched by their folded key, word by word in any order: trigrams serve LIKE '%w%'.
        Index(
            "ix_contact_name_search_trgm",
            "name_search",
            postgresql_using="gin",
            postgresql_ops={"name_search": "gin_trgm_ops"},
        ),
        # The caller's last digits ("…381100") are LIKE '%x': trigrams again, a btree cannot help.
        Index(
            "ix_contact_phone_digits_trgm",
            "phone_digits",
            postgresql_using="gin",
            postgresql_ops={"phone_digits": "gin_trgm_ops"},
        ),
        Index(
            "ix_contact_mobile_digits_trgm",
            "mobile_digits",
            postgresql_using="gin",
            postgresql_ops={"mobile_digits": "gin_trgm_ops"},
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_search: Mapped[str] = mapped_column(String(200), default="")  # keys.name_key(name)
    # The account's name_search, a tab, this contact's name_search (keys.account_and_name_key): for
    # the search of words split between the two names. Name keys hold no tab, so a word never spans
    # the two and "%w%\t%" tells a word of the account's name (app/desk/customers/service.py).
    account_and_name_search: Mapped[str | None] = mapped_column(String(401))
    email: Mapped[str | None] = mapped_column(String(254))  # stored lower-cased
    phone: Mapped[str | None] = mapped_column(String(40))
    mobile: Mapped[str | None] = mapped_column(String(40))
    # Digits only (national significant number), so "+49 89 1234-56" finds "089 123456".
    phone_digits: Mapped[str | None] = mapped_column(String(20))
    mobile_digits: Mapped[str | None] = mapped_column(String(20))
    # Set by the survey mail's unsubscribe link; no survey is ever sent to the contact again.
    survey_opt_out: Mapped[bool] = mapped_column(default=False)
    # False: the contact has left the customer (DELETE of a contact with tickets): hidden from the
    # caller search and the contact pickers, still named on its old tickets (docs/customers.md).
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}


class Site(Base):
    __tablename__ = "site"
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    latitude: Mapped[float]
    longitude: Mapped[float]
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    access_notes: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}


class Contract(Base):
    __tablename__ = "contract"
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    tier: Mapped[str] = mapped_column(String(20))
    calendar_id: Mapped[int] = mapped_column(ForeignKey("business_calendar.id"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}


class Part(Base):
    __tablename__ = "part"
    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    unit_cost: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal("0"))
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}


class ProductModel(Base):
    __tablename__ = "product_model"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(60))
    manufacturer: Mapped[str] = mapped_column(String(120), default="")
    # The skill an engineer needs to service it (e.g. HVAC, ELEC).
    skill: Mapped[str] = mapped_column(String(40), default="")


class ProductModelPart(Base):
    """The spare-parts list of a product model."""

    __tablename__ = "product_model_part"
    product_model_id: Mapped[int] = mapped_column(
        ForeignKey("product_model.id", ondelete="CASCADE"), primary_key=True
    )
    part_id: Mapped[int] = mapped_column(ForeignKey("part.id"), primary_key=True)


# A serial as read off a rating plate, without the separators people drop or add ("DK2158 0000001"
# for "DK-21580000001"): the customer search compares the typed text reduced the same way. Literal
# SQL (no bound parameters) so that PostgreSQL matches the query's expression to this index.
SERIAL_KEY_SQL = "upper(replace(replace(replace(replace(serial, '-', ''), ' ', ''), '/', ''), '.', ''))"


class Asset(Base):
    __tablename__ = "asset"
    __table_args__ = (
        Index("ix_asset_account_site", "account_id", "site_id"),
        # Serial prefix search (the unique constraint's index serves LIKE only in the C collation).
        Index("ix_asset_serial_prefix", "serial", postgresql_ops={"serial": "varchar_pattern_ops"}),
        Index("ix_asset_serial_key", text(SERIAL_KEY_SQL)),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    serial: Mapped[str] = mapped_column(String(80), unique=True)
    product_model_id: Mapped[int] = mapped_column(ForeignKey("product_model.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"))
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contract.id"), index=True)
    install_date: Mapped[date | None] = mapped_column(Date)
    warranty_end: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}
