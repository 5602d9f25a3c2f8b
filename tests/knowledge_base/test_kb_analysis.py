from __future__ import annotations

from knowledge_base.analysis import (
    LANGUAGES,
    analyze,
    compound_parts,
    detect_language,
    fold,
    joined_compounds,
    segment_chinese,
)
from tests.knowledge_base.language_samples import SAMPLES


def test_english_is_folded_lower_cased_and_split_into_words() -> None:
    assert fold("Café ÜBER Ｆｕｌｌ") == "cafe uber full"
    assert analyze("The Boiler's PRESSURE is low!") == ["the", "boiler", "s", "pressure", "is", "low"]


def test_fault_codes_match_however_they_are_typed() -> None:
    # "E-04", "e 04" and "E04" must share the joined token so a typed code finds the article.
    for typed in ("error E-04", "error e 04", "error E04"):
        assert "e04" in analyze(typed), typed
    assert analyze("E04").count("e04") == 1  # not doubled when it was already one token


def test_chinese_is_segmented_into_words_characters_and_bigrams() -> None:
    words = segment_chinese("锅炉点火失败")
    assert "锅炉" in words and "点火" in words
    tokens = analyze("锅炉点火失败")
    assert {"锅炉", "点火", "失败"} <= set(tokens)  # jieba words
    assert {"锅", "炉", "点"} <= set(tokens)  # characters
    assert {"#锅炉", "#炉点", "#点火"} <= set(tokens)  # bigrams, marked apart from words
    assert "吗" not in analyze("锅炉坏了吗")[:3]  # question particles are not jieba words


def test_mixed_text_keeps_both_scripts() -> None:
    tokens = analyze("锅炉 F28 故障")
    assert "f28" in tokens and "锅炉" in tokens and "故障" in tokens


def test_language_detection() -> None:
    assert detect_language("Boiler pressure too low") == "en"
    assert detect_language("锅炉水压过低") == "zh"
    assert detect_language("锅炉 E1 故障") == "zh"
    assert detect_language("") == "en"


def test_latin_languages_are_told_apart() -> None:
    """30 field-service sentences per language (half 3-8-word ticket subjects): every one detected
    (py3langid limited to the Latin languages); a German text was "en" before."""
    assert set(SAMPLES) == set(LANGUAGES) - {"zh"}
    wrong = [(lang, text, detect_language(text)) for lang, texts in SAMPLES.items() for text in texts]
    wrong = [w for w in wrong if w[0] != w[2]]
    assert not wrong, wrong
    assert sum(len(texts) for texts in SAMPLES.values()) == 180
    # ... and no English rule applies to their words: no stop words ("die", "an", "was" are spellings of
    # English function words too) and no stemmer, so every German word stays a searchable token
    tokens = analyze("Die Pumpe läuft an, was tun? Störung F.75", query=True)
    assert tokens[:7] == ["die", "pumpe", "laeuft", "an", "was", "tun", "stoerung"] and "f75" in tokens


def test_what_is_too_short_to_tell_stays_english() -> None:
    # bare codes and single words that several languages share: "en", as before, not a guess
    for text in ("F75", "HP-AROT F75", "E-04 XR-500", "pressure", "boiler", "Pumpe", "ok", "   "):
        assert detect_language(text) == "en", text
    # codes are no language's words: a German subject with the model and code appended stays German
    assert detect_language("Wärmepumpe zeigt Störung HP-AROT F75 E.04") == "de"
    assert detect_language("Kessel verliert Druck") == "de"
    assert detect_language("锅炉压力低 Druck zu niedrig") == "zh"  # the script rule comes first
    assert detect_language("Котёл теряет давление") == "en"  # another script: not told apart


def test_umlauts_and_their_spelled_out_form_are_one_token() -> None:
    # an agent without a German keyboard types "ae" for "ä" (and "ss" for "ß"): the same token
    for query in (
        "Waermepumpe Stoerung Gebläse Fuehler Straße",
        "Wärmepumpe Störung Geblaese Fühler Strasse",
    ):
        assert analyze(query, query=True) == ["waermepumpe", "stoerung", "geblaese", "fuehler", "strasse"]
    # an article keeps the bare-vowel spelling too: a query typed without the dots still meets it
    assert analyze("Wärmepumpe läuft") == ["waermepumpe", "warmepumpe", "laeuft", "lauft"]
    assert analyze("Warmepumpe", query=True) == ["warmepumpe"]


def test_english_tokens_do_not_change() -> None:
    # the "ae/oe/ue" rule works from the umlaut side only: English words with those letters are untouched
    text = "Queue blue true issue shoes process does Joe's poem aerial Michael"
    expected = [
        "queue",
        "blue",
        "true",
        "issue",
        "shoes",
        "process",
        "does",
        "joe",
        "s",
        "poem",
        "aerial",
        "michael",
    ]
    assert analyze(text) == analyze(text, query=True) == expected
    assert analyze("Café naïve E-04") == ["cafe", "naive", "e", "04", "e04"]


GERMAN_WORDS = {"pumpe", "fehler", "code", "heizung", "anlage", "waerme", "stoerung", "gas", "kessel", "sich"}


def test_compound_parts_are_the_known_words_inside() -> None:
    assert compound_parts("fehlercode", GERMAN_WORDS) == ["fehler", "code"]
    assert compound_parts("heizungsanlage", GERMAN_WORDS) == ["heizung", "anlage"]  # linking "s"
    assert compound_parts("waermepumpen", GERMAN_WORDS) == ["waerme", "pumpe"]  # plural ending
    assert compound_parts("gaskessels", GERMAN_WORDS) == ["gas", "kessel"]
    # no full split: the known head ("umwaelz" is no word of its own)
    assert compound_parts("umwaelzpumpe", GERMAN_WORDS) == ["pumpe"]
    # parts split again; a function word is never a part ("sich"-erheitsventil)
    assert compound_parts("waermepumpenstoerung", GERMAN_WORDS | {"waermepumpe"}) == [
        "waermepumpe",
        "waerme",
        "pumpe",
        "stoerung",
    ]
    assert compound_parts("sicherheitsventil", GERMAN_WORDS) == []
    # not compounds: known words, words with digits, words the known words do not spell. (English is
    # safe by another rule: only German articles' words are known, KnowledgeIndex.)
    for word in ("pumpe", "pumpen", "e9fehler", "queue", "background", "password"):
        assert compound_parts(word, GERMAN_WORDS) == [], word


def test_two_words_join_into_a_known_compound() -> None:
    known = {"fehlercode", "heizungsanlage"}
    assert joined_compounds(["fehler", "code", "e9"], known) == ["fehlercode"]
    assert joined_compounds(["heizung", "anlage"], known) == ["heizungsanlage"]
    assert joined_compounds(["pumpe", "fehler"], known) == []
