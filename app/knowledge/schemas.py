"""Knowledge API schemas: input forbids unknown fields (InputModel), output reads ORM rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.knowledge.articles import ITEM_LIMITS
from app.models import ArticleStatus, ArticleVisibility
from app.platform.errors import refuse_fields
from app.platform.inputs import InputModel
from knowledge_base import Language

Short = Field(max_length=100)
Texts = list[str]


class ArticleCreate(InputModel):
    title: str = Field(min_length=1, max_length=300)
    symptom: str = Field(default="", max_length=20000)
    body: str = Field(default="", max_length=200000)
    resolution_steps: list[str] = Field(default_factory=list, max_length=50)
    product_models: list[str] = Field(default_factory=list, max_length=50)
    fault_codes: list[str] = Field(default_factory=list, max_length=50)
    tags: list[str] = Field(default_factory=list, max_length=50)
    language: Language | None = None  # None: detected from the text (en zh de fr es it nl)
    status: ArticleStatus = ArticleStatus.draft
    visibility: ArticleVisibility = ArticleVisibility.internal
    external_id: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _short_items(self) -> ArticleCreate:
        refuse_fields(self, _long_items(self))
        return self


class ArticleUpdate(InputModel):
    """Only the fields sent change; none may be null."""

    title: str | None = Field(default=None, min_length=1, max_length=300)
    symptom: str | None = Field(default=None, max_length=20000)
    body: str | None = Field(default=None, max_length=200000)
    resolution_steps: list[str] | None = Field(default=None, max_length=50)
    product_models: list[str] | None = Field(default=None, max_length=50)
    fault_codes: list[str] | None = Field(default=None, max_length=50)
    tags: list[str] | None = Field(default=None, max_length=50)
    language: Language | None = None
    status: ArticleStatus | None = None
    visibility: ArticleVisibility | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> ArticleUpdate:
        nulls = {name: "cannot be null" for name in self.model_fields_set if getattr(self, name) is None}
        refuse_fields(self, nulls | _long_items(self))
        return self


def _long_items(model: BaseModel) -> dict[str, str]:
    """The lists with an item too long, each named (`refuse_fields`: the field, not the body)."""
    problems = {}
    for name, limit in ITEM_LIMITS.items():
        if any(len(item) > limit for item in getattr(model, name) or []):
            problems[name] = f"each item at most {limit} characters"
    return problems


class ArticleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    external_id: str | None
    title: str
    symptom: str
    body: str
    body_html: str = ""  # the body rendered safely (app/knowledge/markdown.py)
    resolution_steps: list[str]
    product_models: list[str]
    fault_codes: list[str]
    tags: list[str]
    language: str
    status: ArticleStatus
    visibility: ArticleVisibility
    author_id: int | None
    solved_count: int
    not_helpful_count: int
    created_at: datetime
    updated_at: datetime
    version: int


class VersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    at: datetime
    actor_id: int | None
    action: str
    changed: list[str]
    snapshot: dict[str, Any]


class Hit(BaseModel):
    article_id: int
    title: str
    title_html: str  # escaped, query words in <mark>
    snippet_html: str
    # false: found by meaning alone, the article holds no word of the query: a guess to check
    shares_words: bool
    language: str
    visibility: ArticleVisibility
    solved_count: int
    score: float


class SearchResult(BaseModel):
    query: str
    items: list[Hit]


class Suggestions(BaseModel):
    ticket_id: int
    query: str  # what was ranked: subject, fault code, asset model, description
    product_model: str | None
    fault_code: str | None
    items: list[Hit]
    verdicts: dict[int, Literal["solved", "not_helpful"]]  # already recorded on this ticket


class FeedbackIn(InputModel):
    article_id: int


class FeedbackRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    ticket_id: int
    article_id: int
    verdict: Literal["solved", "not_helpful"]
    first_contact: bool | None
    at: datetime


class FromTicketIn(InputModel):
    ticket_id: int
