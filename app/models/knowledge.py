"""Knowledge articles, their version history, their use on tickets and the index's version counter."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.db import Base, utcnow


class ArticleStatus(StrEnum):
    draft = "draft"
    published = "published"
    archived = "archived"


class ArticleVisibility(StrEnum):
    internal = "internal"
    customer = "customer"  # the ones a later customer portal may show


class KbArticle(Base):
    __tablename__ = "kb_article"
    __table_args__ = (Index("ix_kb_article_status", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    # The id an import gave it (a string from the source system): imports upsert by it.
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    symptom: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")  # Markdown, rendered with raw HTML disabled
    resolution_steps: Mapped[list[str]] = mapped_column(JSON, default=list)
    product_models: Mapped[list[str]] = mapped_column(JSON, default=list)
    fault_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str] = mapped_column(String(5), default="en")
    status: Mapped[str] = mapped_column(String(10), default=ArticleStatus.draft)
    visibility: Mapped[str] = mapped_column(String(10), default=ArticleVisibility.internal)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # How often "This solved it" / "Not helpful" was chosen on a ticket: the proven boost.
    solved_count: Mapped[int] = mapped_column(default=0)
    not_helpful_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}


class KbArticleVersion(Base):
    """A snapshot of an article after each change: who changed which fields; restorable."""

    __tablename__ = "kb_article_version"
    __table_args__ = (UniqueConstraint("article_id", "number", name="uq_kb_article_version_number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_article.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]  # 1, 2, 3 … per article
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    action: Mapped[str] = mapped_column(String(20))  # created | updated | restored | imported
    changed: Mapped[list[str]] = mapped_column(JSON, default=list)  # field names
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class KbTicketFeedback(Base):
    """An agent's verdict on a suggested article for a ticket: solved (its resolution) or not helpful."""

    __tablename__ = "kb_ticket_feedback"
    __table_args__ = (
        UniqueConstraint("ticket_id", "article_id", "verdict", name="uq_kb_ticket_feedback"),
        Index("ix_kb_ticket_feedback_article", "article_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_article.id", ondelete="CASCADE"))
    verdict: Mapped[str] = mapped_column(String(12))  # solved | not_helpful
    # Solved during the first human contact with no visit (docs/kpis.md, FCR); None for not_helpful.
    first_contact: Mapped[bool | None]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class KbIndexState(Base):
    """One row (id 1): the article set's version, bumped in the same transaction as every change.

    Each process compares it with the version its in-memory index reflects (one primary-key read per
    search) and catches up from ``kb_change`` when it is behind."""

    __tablename__ = "kb_index_state"
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=0)
    # Made once per database (at migration): persisted index files live under it, so a database that
    # was recreated never loads another database's index of the same version number.
    database_token: Mapped[str] = mapped_column(String(32), default=lambda: uuid.uuid4().hex)


class KbChange(Base):
    """Which article changed at which article-set version (a deleted article leaves its id here)."""

    __tablename__ = "kb_change"
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    article_id: Mapped[int] = mapped_column(index=True)  # no foreign key: it outlives a deletion
    at: Mapped[datetime] = mapped_column(default=utcnow)
