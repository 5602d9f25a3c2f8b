from __future__ import annotations

from knowledge_base import Article, KnowledgeIndex, Snippet, suggestion_query
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


# German articles whose compounds BM25 matches for a part, a spelling or two typed words (index.py).
DE_FILLER = "Die Anlage läuft im Normalbetrieb ohne Auffälligkeiten, alle Werte liegen im grünen Bereich. "
DE_ARTICLES = [
    Article(
        "de-pumpe",
        "Umwälzpumpe blockiert",
        DE_FILLER * 6 + "Nach langem Stillstand sitzt die Welle der Umwälzpumpe fest. " + DE_FILLER * 6,
    ),
    Article("de-e9", "Fehlercode E9 an der Wärmepumpe", "Hochdruck im Kältekreis: Filter <b>reinigen</b>."),
    Article(
        "de-druck", "Heizungsanlage verliert Druck", "Vordruck am Ausdehnungsgefäß prüfen.", language="de"
    ),
    # "Pumpe" on its own in some German article: a compound splits against the German articles' words
    Article("de-sieb", "Schmutzfänger reinigen", "Das Sieb vor der Pumpe sitzt zu: ausbauen und spülen."),
]


def _marked(snippet: Snippet) -> list[str]:
    return [piece for piece, hit in snippet.fragments if hit]


def test_a_german_compound_is_marked_for_its_part_in_title_and_snippet() -> None:
    """ "Pumpe" finds "Umwälzpumpe" (its part): the whole compound is marked, and the snippet window is
    the sentence holding it, not the article's start."""
    index = KnowledgeIndex([*EN_ARTICLES, *DE_ARTICLES], encoder=None)
    hits = {h.article_id: h for h in index.search("Pumpe", 5)}
    assert set(hits) == {"de-pumpe", "de-e9", "de-sieb"}  # "Wärmepumpe" and "Pumpe" too
    hit = hits["de-pumpe"]
    assert hit.title.html() == "<mark>Umwälzpumpe</mark> blockiert"
    assert _marked(hit.snippet) == ["Umwälzpumpe"]
    assert "Welle der <mark>Umwälzpumpe</mark> fest" in hit.snippet.html()
    # a reloaded index marks it too (its compounds are read with it, not remade)
    reloaded = KnowledgeIndex.from_bytes(index.to_bytes(), encoder=None)
    again = {h.article_id: h for h in reloaded.search("Pumpe", 5)}["de-pumpe"]
    assert (again.title, again.snippet) == (hit.title, hit.snippet)


def test_umlaut_spellings_and_two_typed_words_mark_the_german_word() -> None:
    index = KnowledgeIndex([*EN_ARTICLES, *DE_ARTICLES], encoder=None)
    by_query = {
        q: index.search(q, 1)[0] for q in ("Waermepumpe", "Fehler Code", "Heizung Anlage", "Kaeltekreis")
    }
    assert by_query["Waermepumpe"].title.html() == "Fehlercode E9 an der <mark>Wärmepumpe</mark>"
    assert by_query["Fehler Code"].title.html() == "<mark>Fehlercode</mark> E9 an der Wärmepumpe"
    assert by_query["Heizung Anlage"].title.html() == "<mark>Heizungsanlage</mark> verliert Druck"
    assert _marked(by_query["Kaeltekreis"].snippet) == ["Kältekreis"]
    # the article's HTML stays escaped around a compound mark
    assert by_query["Kaeltekreis"].snippet.html() == (
        "Hochdruck im <mark>Kältekreis</mark>: Filter &lt;b&gt;reinigen&lt;/b&gt;."
    )


def test_the_extra_terms_mark_whole_words_and_keep_the_html_escaped() -> None:
    snippet = highlight_all("<script>x</script> Umwälzpumpe & Pumpe", "pumpe", {"umwaelzpumpe"})
    assert snippet.html() == (
        "&lt;script&gt;x&lt;/script&gt; <mark>Umwälzpumpe</mark> &amp; <mark>Pumpe</mark>"
    )
    assert _marked(make_snippet("Die Umwälzpumpe läuft.", "pumpe")) == []  # only what the caller adds


def test_english_snippets_do_not_change_with_german_articles_in_the_index() -> None:
    """An English article's "backup" is not split (the index splits German articles only), so it is not
    marked for "back"; English hits are marked exactly as in an index without German articles."""
    english = [
        *EN_ARTICLES,
        Article(
            "en-backup", "Backup battery of the controller", "Replace the backup cell; the back panel too."
        ),
    ]
    mixed = KnowledgeIndex([*english, *DE_ARTICLES], encoder=None)
    plain = KnowledgeIndex(english, encoder=None)
    for query in ("back", "backup battery", "printer sheet", "gas valve", "boiler pressure 1.5 bar"):
        shown = [(h.article_id, h.title.html(), h.snippet.html()) for h in mixed.search(query, 3)]
        assert shown == [(h.article_id, h.title.html(), h.snippet.html()) for h in plain.search(query, 3)]
    backup = mixed.search("back", 1)[0]
    assert backup.title.html() == "Backup battery of the controller"
    assert _marked(backup.snippet) == ["back"]


def test_a_suggestions_snippet_shows_the_problem_not_the_sentence_naming_the_model() -> None:
    """The asset's model goes into every suggestion's query; it drew each snippet to the one sentence
    listing model codes, the same boilerplate under every article (a tie of one term each, and the
    boilerplate came first). The title still marks the model."""
    body = (
        "When calling, take the fault from the ticket and note the model (CH-30XW, CH-EWAD, CH-RTAF) and "
        "the checks already done, so the engineer brings the right parts. "
        + "General safety notes apply to every site visit and every unit. " * 6
        + "If it stops after a minute, check the condenser fan fuse and the contactor. "
        + "Restart the unit after the fault is cleared. " * 4
    )
    article = Article("hp", "Chiller compressor cuts out", body, product_models=("CH-EWAD",))
    index = KnowledgeIndex([article, *EN_ARTICLES], encoder=None)
    hit = index.suggest("Compressor stops", product_model="CH-EWAD")[0]
    assert hit.article_id == "hp"
    assert "condenser fan fuse" in hit.snippet.text and "CH-30XW" not in hit.snippet.text
    assert "<mark>compressor</mark>" in hit.title.html()
    # a search for the model itself still shows where the article names it
    assert "CH-30XW" in index.search("CH-EWAD", 1)[0].snippet.text
