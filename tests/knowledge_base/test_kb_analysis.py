from __future__ import annotations

from knowledge_base.analysis import analyze, detect_language, fold, segment_chinese


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
