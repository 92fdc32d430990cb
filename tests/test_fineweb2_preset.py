"""`curate.preset: fineweb2-kor`: FineWeb-2's Korean thresholds and filters (components/corpus/fineweb2.py)."""
import pytest

from components.contract.config import CURATE_PRESETS, FineWeb2Config, config_from_dict
from components.corpus import fineweb2
from components.corpus.cleaning import Cleaner
from components.errors import UserError

PROSE = ("한국어 위키백과는 위키백과의 한국어판으로, 2002년 10월 11일에 시작되었다. 누구나 편집할 수 있는 자유 백과사전이며, "
         "문서의 수는 꾸준히 늘어나고 있다. 초기에는 한자와 한글의 표기 문제로 많은 토론이 있었고, 이후 한글 전용으로 정착되었다. "
         "여러 자원봉사자가 문서를 다듬고 있으며, 다른 언어판의 문서를 번역하는 작업도 활발하다.\n"
         "위키백과의 문서는 출처를 밝혀야 하며, 독자 연구는 허용되지 않는다. 이러한 원칙은 모든 언어판에 공통으로 적용된다.")


def test_the_preset_sets_fineweb2s_thresholds_and_the_configuration_still_wins():
    cfg = config_from_dict({"curate": {"preset": "fineweb2-kor"}}).curate
    assert cfg.min_language_score == 0.842 and "fineweb2" in cfg.steps and "gopher" not in cfg.steps
    assert "decontaminate" in cfg.steps and "pii" in cfg.steps
    assert cfg.fineweb2.top_n_grams == {"2": 0.282, "3": 0.228, "4": 0.185} and cfg.fineweb2.dup_line_frac == 0.374
    assert config_from_dict({"curate": {"preset": "fineweb2-kor", "min_language_score": 0.7}}).curate \
        .min_language_score == 0.7
    assert config_from_dict({}).curate.steps != CURATE_PRESETS["fineweb2-kor"]["steps"]
    with pytest.raises(UserError, match="curate.preset 'fineweb3' is not one of polyglot-ko, fineweb2-kor"):
        config_from_dict({"curate": {"preset": "fineweb3"}})


def test_words_are_kiwi_morphemes_as_datatrove_splits_korean():
    assert fineweb2.words("그는 집에 갔다.") == ["그", "는", "집", "에", "갔", "갔", "다", "."]


def test_each_filter_names_its_rule():
    cfg = FineWeb2Config()
    assert fineweb2.reason(PROSE, cfg) is None
    assert fineweb2.reason(PROSE.split("누구나")[0] + "누구나 편집할 수 있는 자유 백과사전이다.", cfg) == \
        "fineweb2_gopher_short_doc"       # 35 morphemes
    # a one-line text fails on its top 2-gram first, as in datatrove (the repetition filter runs first)
    assert fineweb2.reason("짧은 글입니다.", cfg) == "fineweb2_top_2_gram"
    repeated = "\n".join(["오늘의 특가 상품을 확인하세요."] * 6 + [PROSE])
    assert fineweb2.reason(repeated, cfg) == "fineweb2_dup_line_frac"
    no_punct = PROSE.replace(".", "").replace(",", "")
    assert fineweb2.reason(no_punct, cfg) == "fineweb2_line_punct_ratio"
    listing = "\n".join(f"{w}." for w in PROSE.split())    # one word per line
    assert fineweb2.reason(listing, cfg) == "fineweb2_list_ratio"
    # prose of 50+ morphemes with none of FineWeb-2's 21 Korean stop words
    nouns = ("컴퓨터 과학 수학 물리 화학 생물 지구 천문 기술 공학 의학 약학 법률 경제 경영 회계 역사 철학 문학 음악 미술 "
             "체육 건축 토목 전기 전자 기계 항공 해양 농업 임업 수산 식품 영양 간호 교육 심리 사회 정치 외교 행정 언론 "
             "광고 디자인 패션 관광 호텔 조리 제과").split()
    words = nouns + nouns[::-1]
    no_stop = "\n".join(" ".join(words[i:i + 10]) + "." for i in range(0, len(words), 10))
    assert fineweb2.reason(no_stop, cfg) == "fineweb2_gopher_enough_stop_words"
    assert fineweb2.reason(PROSE.replace(".", "#", 3), cfg) is None    # a few hashes are fine ...
    assert fineweb2.reason(" ".join("#" + w for w in PROSE.split(" ")), cfg) == "fineweb2_gopher_too_many_hashes"


def test_the_preset_chain_keeps_prose_and_drops_english():
    clean = Cleaner(config_from_dict({"curate": {"preset": "fineweb2-kor"}}).curate)
    assert clean(PROSE).text == PROSE
    o = clean("The quick brown fox jumps over the lazy dog. " * 20)
    assert o.text is None and o.drop_reason == "other_language" and o.meta["lang"] == "en"
