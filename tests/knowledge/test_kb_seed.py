"""The demo's knowledge articles: they import cleanly, cover the demo's product models in English and
Chinese, meet the seeded (German) tickets, and the generator writes articles of realistic length."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from app.knowledge import search
from app.knowledge.jsonl import import_records
from app.models import KbArticle, ProductModel
from app.seed.data import FAULTS, PRODUCTS
from app.seed.kb_articles import DEMO_ARTICLES, generated_articles
from tests import factories as f


def test_demo_articles_import_and_meet_the_seeded_tickets(
    db: Session, product_models: dict[str, ProductModel]
) -> None:
    # the seed writes its world (the product models among it) before the articles, as here
    report = import_records(db, DEMO_ARTICLES, actor=None)
    db.commit()
    assert report.created == len(DEMO_ARTICLES) and not report.errors
    languages = {a["language"] for a in DEMO_ARTICLES}
    assert languages == {"en", "zh"}
    codes = {p.code for p in PRODUCTS}
    assert all(set(a["product_models"]) <= codes for a in DEMO_ARTICLES)

    # a seeded heat-pump ticket, in the seed's German, on an aroTHERM: the F.75 article first
    subject = FAULTS["heat_pump"][0][0]  # "Wärmepumpe zeigt Störung, keine Heizleistung"
    acc = f.make_account(db)
    site = f.make_site(db, acc)
    asset = f.make_asset(db, site, product_model=product_models["HP-AROT"])
    ticket = f.open_ticket(db, acc, asset=asset, subject=subject)
    found = search.suggest(db, search.ticket_context(db, ticket))
    assert found and db.get(KbArticle, found[0].article.id).external_id in ("kb-demo-005", "kb-demo-102")
    zh = search.search(db, "电梯门关不上", lang="zh")
    assert db.get(KbArticle, zh[0].article.id).external_id == "kb-demo-103"


def test_generated_articles_have_realistic_lengths() -> None:
    articles = list(generated_articles(400, seed=3))
    assert len({a["id"] for a in articles}) == 400
    english = [a for a in articles if a["language"] == "en"]
    chinese = [a for a in articles if a["language"] == "zh"]
    assert 0.1 < len(chinese) / len(articles) < 0.3
    words = [len(re.findall(r"\w+", a["symptom"] + " " + a["body"])) for a in english]
    assert min(words) >= 40 and max(words) <= 400, (min(words), max(words))
    assert all(len(a["body"]) >= 30 for a in chinese)
    assert list(generated_articles(5, seed=3)) == articles[:5]  # same seed, same articles
