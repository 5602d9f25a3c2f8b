from __future__ import annotations

from knowledge_base import Article, KnowledgeIndex, suggestion_query
from knowledge_base.snippets import highlight_all, make_snippet
from tests.knowledge_base.kb_fixtures import EN_ARTICLES


def test_hits_are_marked_and_the_rest_is_escaped() -> None:
    snippet = highlight_all("Reset <b>boiler</b> & check pressure", "boiler pressure")
    assert snippet.html() == "Reset &lt;b&gt;<mark>boiler</mark>&lt;/b&gt; &amp; check <mark>pressure</mark>"
    assert snippet.text == "Reset <b>boiler</b> & check pressure"


def test_script_in_an_article_never_reaches_the_html_unescaped() -> None:
    html = make_snippet("<script>alert(1)</script> boiler fault", "boiler").html()
    assert "<script>" not in html and "&lt;script&gt;" in html and "<mark>boiler</mark>" in html


def test_long_text_gives_a_window_around_the_hits() -> None:
    text = (
        "Filler words about nothing in particular. " * 20
        + "The fuser overheated and shows error 50.4. "
        + ("More filler text to pad the article. " * 20)
    )
    snippet = make_snippet(text, "fuser error 50.4")
    assert len(snippet.text) <= 182  # the window plus the two ellipses
    assert snippet.text.startswith("…") and snippet.text.endswith("…")
    marked = [piece for piece, hit in snippet.fragments if hit]
    assert "fuser" in marked and "error" in marked and "50.4" in marked


def test_fault_code_typed_differently_is_highlighted() -> None:
    marked = [p for p, hit in make_snippet("Display shows E-04 after start", "e04").fragments if hit]
    assert marked == ["E-04"]


def test_chinese_hits_are_marked() -> None:
    snippet = make_snippet("点火失败，请检查燃气阀门。", "锅炉点火 阀门")
    assert [p for p, hit in snippet.fragments if hit] == ["点火", "阀门"]
    assert snippet.text == "点火失败，请检查燃气阀门。"
    # Single characters are not marked: "燃" of the query's "燃气" must not light up "燃烧器".
    assert [p for p, hit in make_snippet("燃烧器很热", "燃气").fragments if hit] == []
    assert [p for p, hit in make_snippet("燃烧器很热", "热").fragments if hit] == ["热"]  # a one-char query


def test_search_returns_titles_and_snippets() -> None:
    hits = KnowledgeIndex(EN_ARTICLES, encoder=None).search("printer sheet", 2)
    assert hits[0].article_id == "printer-jam"
    assert hits[0].title.html() == "<mark>Printer</mark> paper jam in the fuser"
    assert "<mark>sheet</mark>" in hits[0].snippet.html()


def test_ticket_suggestions_use_model_and_fault_code() -> None:
    articles = [
        Article("generic", "Boiler not heating", "Check the thermostat and the pump."),
        Article(
            "coded",
            "Boiler not heating",
            "Replace the sensor.",
            product_models=("EcoTec 400",),
            fault_codes=("F28",),
        ),
    ]
    index = KnowledgeIndex(articles, encoder=None)
    plain = index.suggest("boiler not heating", "customer says radiators are cold")
    coded = index.suggest("boiler not heating", "customer says radiators are cold", fault_code="F-28")
    assert plain[0].article_id == "generic"  # a tie without the code keeps insertion order
    assert coded[0].article_id == "coded"
    assert suggestion_query("Boiler off", "", "EcoTec 400", "F28") == "Boiler off F28 EcoTec 400"


def test_the_window_holds_the_most_distinct_terms_among_many_repeated_hits() -> None:
    # A body where one common query word hits dozens of times and the rarer ones meet only near the end:
    # the window must be the one holding all three distinct terms (the hit-window search is not a scan of
    # every pair any more; this pins what it must still find).
    body = " ".join(["the pump runs"] * 40 + ["then the valve leaks and the pump stops"] + ["fine"] * 30)
    snippet = make_snippet(body, "pump valve leaks")
    marked = {text.lower() for text, hit in snippet.fragments if hit}
    assert {"pump", "valve", "leaks"} <= marked


def test_a_chinese_snippet_is_as_wide_on_the_page_as_an_english_one() -> None:
    # A Chinese character is drawn about two letters wide: 180 of them were twice an English snippet.
    body = (
        "设备运行正常，没有异常声音。" * 20
        + "压缩机高压报警E-21，请检查冷凝器风扇。"
        + "定期保养可以延长寿命。" * 20
    )
    snippet = make_snippet(body, "高压报警 冷凝器")
    inner = snippet.text.strip("…")
    assert 80 <= len(inner) <= 92, len(inner)
    marked = "|".join(p for p, hit in snippet.fragments if hit)
    assert "高压" in marked and "报警" in marked and "冷凝器" in marked
    assert inner.startswith(("设备", "没有", "压缩机")), inner  # cut at a clause mark, not mid-word
    mixed = "Check the fan. " * 6 + "检查冷凝器风扇。" * 6  # half Chinese: in between
    assert 100 < len(make_snippet(mixed, "fan").text) < 180
