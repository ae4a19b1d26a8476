"""Tests for eiwa.tokenize.romaji: hand-checked Hepburn (ASCII, long vowels spelled out)."""

from __future__ import annotations

import random

import pytest

from eiwa.tokenize import tokenizer_for
from eiwa.tokenize.japanese import JapaneseTokenizer
from eiwa.tokenize.romaji import CACHE_SIZE, Romanizer, romanize

try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ModuleNotFoundError:  # a test extra; the seeded tests below check the same properties
    given = None

# (surface, reading, expected)
CASES = [
    # kanji words with readings
    ("東京", "トウキョウ", "toukyou"),
    ("大阪", "オオサカ", "oosaka"),
    ("京都", "キョウト", "kyouto"),
    ("日本", "ニホン", "nihon"),
    ("新聞", "シンブン", "shinbun"),
    ("学校", "ガッコウ", "gakkou"),
    ("富士山", "フジサン", "fujisan"),
    ("北海道", "ホッカイドウ", "hokkaidou"),
    ("横浜", "ヨコハマ", "yokohama"),
    ("渋谷", "シブヤ", "shibuya"),
    ("銀行", "ギンコウ", "ginkou"),
    ("人々", "ヒトビト", "hitobito"),
    ("株式会社", "カブシキガイシャ", "kabushikigaisha"),
    ("千代田", "チヨダ", "chiyoda"),
    ("鼻血", "ハナヂ", "hanaji"),
    ("続く", "ツヅク", "tsuzuku"),
    ("東京", "とうきょう", "toukyou"),  # hiragana reading
    ("東京", "ﾄｳｷｮｳ", "toukyou"),  # half-width reading
    # ん before vowels and y
    ("新一", "シンイチ", "shin'ichi"),
    ("原因", "ゲンイン", "gen'in"),
    ("信用", "シンヨウ", "shin'you"),
    ("ン", None, "n"),
    # token-final sokuon (行っ|た)
    ("行っ", "イッ", "it"),
    ("待っ", "マッ", "mat"),
    ("あっ", None, "at"),
    ("ッ", None, "t"),
    # hiragana
    ("さくら", None, "sakura"),
    ("ありがとう", None, "arigatou"),
    ("ちょっと", None, "chotto"),
    ("きょう", None, "kyou"),
    ("しゃしん", None, "shashin"),
    ("ちゅうい", None, "chuui"),
    ("を", None, "wo"),
    ("は", "ハ", "ha"),
    ("ぢゃ", None, "ja"),
    ("こゝろ", None, "kokoro"),
    ("いすゞ", None, "isuzu"),
    ("バナヽ", None, "banana"),
    # katakana, long vowels, small kana, sokuon
    ("コーヒー", None, "koohii"),
    ("ニュース", None, "nyuusu"),
    ("ラーメン", None, "raamen"),
    ("キッテ", None, "kitte"),
    ("マッチャ", None, "matcha"),
    ("シャツ", None, "shatsu"),
    ("ジュース", None, "juusu"),
    ("キャンディー", None, "kyandii"),
    ("ｶﾀｶﾅ", None, "katakana"),
    ("ー", None, "-"),
    ("ワーーー", None, "waa"),  # a run of ー counts as one
    ("ぁ", None, "a"),  # lone small kana: its full-size vowel
    ("シャァ", None, "shaa"),
    # foreign-sound digraphs
    ("ウィキ", None, "wiki"),
    ("ウェブ", None, "webu"),
    ("ウォッカ", None, "wokka"),
    ("パーティー", None, "paatii"),
    ("ファン", None, "fan"),
    ("フィルム", None, "firumu"),
    ("フェア", None, "fea"),
    ("フォーク", None, "fooku"),
    ("ヴァイオリン", None, "vaiorin"),
    ("ジェット", None, "jetto"),
    ("チェック", None, "chekku"),
    ("シェフ", None, "shefu"),
    ("ディスク", None, "disuku"),
    ("デュエット", None, "dyuetto"),
    ("タトゥー", None, "tatuu"),
    ("ドゥカティ", None, "dukati"),
    ("モーツァルト", None, "mootsaruto"),
    ("イェール", None, "yeeru"),
    ("クァルテット", None, "kwarutetto"),
    # numerals
    ("2005", None, "2005"),
    ("１２３", None, "123"),
    ("三", "サン", "san"),
    ("百", "ヒャク", "hyaku"),
    ("三百", "サンビャク", "sanbyaku"),
    ("三", None, "san"),
    ("2005年", None, "2005nen"),
    # Latin letters and full-width forms
    ("ABC", None, "abc"),
    ("ABC", "エービーシー", "abc"),  # an ASCII surface wins over its reading
    ("ＡＢＣ", None, "abc"),
    ("Ｔｏｋｙｏ", None, "tokyo"),
    ("iPhone", None, "iphone"),
    ("Ｕ.Ｓ.Ａ.", None, "u.s.a."),
    # punctuation
    ("、", None, ","),
    ("。", None, "."),
    ("「", None, '"'),
    ("」", None, '"'),
    ("『", None, '"'),
    ("・", None, "-"),
    ("！", None, "!"),
    ("？", None, "?"),
    ("（", None, "("),
    ("〜", None, "~"),
    ("～", None, "~"),
    ("【", None, "["),
    ("〈", None, "<"),
    ("《", None, "<<"),
    ("…", None, "..."),
    # mixed surfaces without readings: morpheme readings from unidic
    ("ＡＢＣ株式会社", None, "abckabushikikaisha"),  # unidic: 株式|会社, no rendaku
    ("東京タワー", None, "toukyoutawaa"),
    ("行った", None, "itta"),
    ("「コーヒー」", None, '"koohii"'),
    ("ジョン・スミス", None, "jon-sumisu"),
    ("東京😀", None, "toukyou"),
    # fallback when the reading is missing or unusable
    ("東京", None, "toukyou"),
    ("大阪", None, "oosaka"),
    ("東京", "*", "toukyou"),
    ("東京", "tokyo", "toukyou"),
    ("", None, ""),
]

# Nothing romanizable: the NFKC surface comes back (the documented non-ASCII case).
FALLBACK_CASES = [
    ("😀", None, "😀"),
    ("한국", None, "한국"),
    ("ゝ", None, "ゝ"),
]


@pytest.fixture(scope="module")
def romanizer():
    return Romanizer()


def test_table_is_large_enough():
    assert len(CASES) >= 60
    assert len({(surface, reading) for surface, reading, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("surface", "reading", "expected"), CASES)
def test_romanize(romanizer, surface, reading, expected):
    assert romanizer.romanize(surface, reading) == expected


@pytest.mark.parametrize(("surface", "reading", "expected"), FALLBACK_CASES)
def test_fallback_to_normalized_surface(romanizer, surface, reading, expected):
    assert romanizer.romanize(surface, reading) == expected


@pytest.mark.parametrize(("surface", "reading", "expected"), CASES)
def test_output_is_lowercase_ascii(romanizer, surface, reading, expected):
    out = romanizer.romanize(surface, reading)
    assert out.isascii()
    assert out == out.lower()


def test_deterministic_across_instances_and_module_function():
    first, second = Romanizer(), Romanizer()
    for surface, reading, _ in CASES + FALLBACK_CASES:
        out = first.romanize(surface, reading)
        assert second.romanize(surface, reading) == out
        assert first.romanize(surface, reading) == out  # cached path
        assert romanize(surface, reading) == out


def test_shared_tagger():
    tokenizer = JapaneseTokenizer()
    romanizer = Romanizer(tagger=tokenizer.tagger)
    assert romanizer.romanize("ＡＢＣ株式会社") == "abckabushikikaisha"


def test_tokens_romanized_from_tokenizer_readings():
    tokenizer = JapaneseTokenizer()
    romanizer = Romanizer(tagger=tokenizer.tagger)
    tokens = tokenizer.tokenize("東京タワーに行った。")
    romaji = [romanizer.romanize(token.text, token.reading) for token in tokens]
    assert romaji == ["toukyou", "tawaa", "ni", "it", "ta", "."]


_HIRAGANA = [chr(c) for c in range(ord("ぁ"), ord("ゖ") + 1)]
_KATAKANA = [chr(c) for c in range(ord("ァ"), ord("ヺ") + 1)]
_KANA = _HIRAGANA + _KATAKANA + ["ー"]
_MIXED = _KANA + list("東京都大阪人々三百年ABCxyz019ＡＢＣ１、。「」・〜😀한 ")
_SECOND = Romanizer()


def _random_texts(alphabet, count=200, seed=0):
    rng = random.Random(seed)
    return ["".join(rng.choices(alphabet, k=rng.randint(1, 12))) for _ in range(count)]


def _check_kana(text):
    out = romanize(text)
    assert out
    assert out.isascii()
    assert out == out.lower()


def _check_mixed(text):
    out = romanize(text)
    assert out
    assert _SECOND.romanize(text) == out


def test_random_kana_gives_nonempty_ascii():
    for text in _random_texts(_KANA):
        _check_kana(text)


def test_random_text_gives_nonempty_deterministic_output():
    for text in _random_texts(_MIXED, seed=1):
        _check_mixed(text)


if given is None:

    def test_hypothesis_properties():
        pytest.skip("hypothesis is not installed: properties checked on seeded random strings only")

else:

    @settings(max_examples=200, deadline=None)
    @given(st.text(alphabet=st.sampled_from(_KANA), min_size=1, max_size=12))
    def test_any_kana_gives_nonempty_ascii(text):
        _check_kana(text)

    @settings(max_examples=200, deadline=None)
    @given(st.text(alphabet=st.sampled_from(_MIXED), min_size=1, max_size=12))
    def test_any_text_gives_nonempty_deterministic_output(text):
        _check_mixed(text)


def test_cache_keeps_at_most_its_bound():
    bounded, reference = Romanizer(cache_size=50), Romanizer()
    texts = _random_texts(_KANA, count=400, seed=2)
    assert [bounded.romanize(text) for text in texts] == [reference.romanize(text) for text in texts]
    assert bounded.cache_info().currsize == 50
    assert Romanizer().cache_info().maxsize == CACHE_SIZE <= 100_000  # bounded by default, too


def test_no_mecab_of_its_own():
    """The romanizer reads with the shared tokenizer's tagger, and the kana converter has none: one
    MeCab dictionary mapped per thread, not one per component."""
    romanizer = Romanizer()
    assert romanizer.romanize("ＡＢＣ株式会社") == "abckabushikikaisha"  # read by MeCab
    assert romanizer._reading_tagger is tokenizer_for("ja").tokenizer.tagger
    assert romanizer._kana.tagger is None
