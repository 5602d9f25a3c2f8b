"""Knowledge tests: each test gets its own index cache on a temporary directory, BM25 only.

The library's encoder is exercised by tests/knowledge_base; here the product's plumbing is under test
(roles, versions, persistence, reload), and BM25-only keeps each process from loading the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from app.knowledge.index import IndexCache, set_process_cache
from app.models import ProductModel
from app.seed.data import PRODUCTS
from tests.web.conftest import sign_in  # noqa: F401 - the page tests' cookie sign-in


@pytest.fixture(autouse=True)
def kb_cache(tmp_path: Path) -> Iterator[IndexCache]:
    cache = IndexCache(tmp_path / "kb-index", embeddings=False)
    set_process_cache(cache)
    yield cache
    set_process_cache(None)


@pytest.fixture
def product_models(db: Session) -> dict[str, ProductModel]:
    """The demo company's product models (app.seed.data.PRODUCTS), by code: an article may name only
    models the database has (app.knowledge.articles.ModelCatalogue)."""
    rows = {
        p.code: ProductModel(
            code=p.code, name=p.name, category=p.category, manufacturer=p.manufacturer, skill=p.skill
        )
        for p in PRODUCTS
    }
    db.add_all(rows.values())
    db.flush()
    return rows
