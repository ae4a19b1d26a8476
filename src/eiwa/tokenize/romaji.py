"""Hepburn romanization of Japanese tokens from their readings.

The output is meant to share character bigrams with English text, so it is
lowercase ASCII and spelled the way Japanese words are usually typed
(wāpuro-style Hepburn) rather than with macrons:

- long vowels are spelled out: ``ー`` repeats the preceding vowel
  (コーヒー → ``koohii``, ニュース → ``nyuusu``) and おう stays ``ou``
  (トウキョウ → ``toukyou``), so vowel length is kept without non-ASCII letters.
  A run of ``ー`` counts as one (ワーーー → ``waa``); a ``ー`` with no vowel
  before it is ``-``;
- を is ``wo`` and は is ``ha``: a single token does not show whether it is a
  particle, and readings from unidic spell particles ヲ and ハ, so they are
  romanized like any other kana;
- ん before a vowel or y is ``n'`` (シンイチ → ``shin'ichi``), as cutlet
  writes it, keeping ``n'i`` apart from ``ni``;
- a small っ at the end of a token is ``t``: MeCab splits 行っ|た with the
  reading イッ, and a token-final sokuon is nearly always followed by た or
  て; before ち it is ``t`` as well (マッチャ → ``matcha``);
- a small kana that cannot combine with the kana before it is read as its
  full-size vowel (ぁ → ``a``, シャァ → ``shaa``);
- Japanese punctuation becomes its ASCII counterpart (、→ ``,``, 「」→ ``"``,
  ・→ ``-``, 〜 → ``~``, 【】→ ``[]``...); full-width letters and digits
  become ASCII through NFKC and pass through lowercased.

Kana are converted by cutlet's ``map_kana``; gaps in its table (ウィ, ぢゃ,
イェ...) are filled with ``update_mapping``.

Only when nothing in a surface can be romanized (an emoji, hangul, an unknown
kanji) is the NFKC-normalized surface returned, lowercased, so the result is
never empty for a non-empty surface; that is the one case where the output
may be non-ASCII.
"""

from __future__ import annotations

import functools
import threading
import unicodedata

import cutlet
import fugashi
import jaconv

from eiwa.tokenize.japanese import MECAB_ARGS, encodable, thread_tagger

_CACHE_SIZE = 500_000

# Punctuation that NFKC leaves non-ASCII; full-width ！？（）：, ～ and the like
# are already ASCII after NFKC.
_PUNCTUATION = str.maketrans(
    {
        "、": ",",
        "。": ".",
        "「": '"',
        "」": '"',
        "『": '"',
        "』": '"',
        "“": '"',
        "”": '"',
        "‘": "'",
        "’": "'",
        "〃": '"',
        "・": "-",
        "〜": "~",
        "‐": "-",
        "‑": "-",
        "–": "-",
        "—": "-",
        "―": "-",
        "゠": "=",
        "※": "*",
        "【": "[",
        "】": "]",
        "〖": "[",
        "〗": "]",
        "〚": "[",
        "〛": "]",
        "〘": "[",
        "〙": "]",
        "〔": "(",
        "〕": ")",
        "〈": "<",
        "〉": ">",
        "《": "<<",
        "》": ">>",
    }
)

# Digraphs cutlet's Hepburn table gets wrong or lacks (for example it maps
# うぃ to "i" and ぢゃ to "jya"); spellings follow the Hepburn table for
# foreign sounds. cutlet looks a digraph up as previous kana + kana.
_DIGRAPH_FIXES = {
    "うぃ": "wi",
    "うぇ": "we",
    "うぉ": "wo",
    "いぇ": "ye",
    "ぢゃ": "ja",
    "ぢゅ": "ju",
    "ぢょ": "jo",
    "ぢぇ": "je",
    "くぁ": "kwa",
    "くぃ": "kwi",
    "くぇ": "kwe",
    "くぉ": "kwo",
    "ぐぁ": "gwa",
    "ぐぃ": "gwi",
    "ぐぇ": "gwe",
    "ぐぉ": "gwo",
    "きぇ": "kye",
    "ぎぇ": "gye",
    "にぇ": "nye",
    "ひぇ": "hye",
    "びぇ": "bye",
    "ぴぇ": "pye",
    "みぇ": "mye",
    "りぇ": "rye",
}

_SMALL_TO_FULL = {
    "ぁ": "あ",
    "ぃ": "い",
    "ぅ": "う",
    "ぇ": "え",
    "ぉ": "お",
    "ゃ": "や",
    "ゅ": "ゆ",
    "ょ": "よ",
}

# Unicode blocks holding kana: hiragana and katakana, katakana phonetic
# extensions, and the kana supplement/extensions (small ゐ, ゑ, を...).
_KANA_BLOCKS = ((0x3041, 0x30FF), (0x31F0, 0x31FF), (0x1B000, 0x1B16F))


class _KanaConverter(cutlet.Cutlet):
    """cutlet's Hepburn kana mapping with the fixes this module documents."""

    def __init__(self):
        super().__init__(system="hepburn", mecab_args=MECAB_ARGS)
        for key, value in _DIGRAPH_FIXES.items():
            self.update_mapping(key, value)
        # Characters map_kana can take: the kana its table spells, and the small
        # tsu and iteration marks it handles in code. Left out: the punctuation in
        # its table (・ sits in the katakana block) and the stray combining
        # (han)dakuten it maps to "", which break its sokuon rule.
        self.kana_chars = frozenset(
            char
            for low, high in _KANA_BLOCKS
            for char in map(chr, range(low, high + 1))
            if char != "・" and self._can_map(jaconv.kata2hira(char))
        )

    def _can_map(self, hiragana_char: str) -> bool:
        return bool(self.table.get(hiragana_char)) or hiragana_char in ("っ", "ゝ", "ゞ")

    def is_kana(self, text: str) -> bool:
        return bool(text) and all(char in self.kana_chars for char in text)

    def to_romaji(self, kana: str) -> str:
        """Romaji of a string for which :meth:`is_kana` holds."""
        return self.map_kana(self._prepare(jaconv.kata2hira(kana)))

    def get_single_mapping(self, pk, kk, nk):
        # cutlet leaves a final っ as kana for its word-level pass; a lone token
        # has no next word, and た/て nearly always follow (行っ|た).
        if kk == "っ" and nk is None:
            return "t"
        return super().get_single_mapping(pk, kk, nk)

    def _prepare(self, hiragana: str) -> str:
        """Rewrite what map_kana mishandles: iteration marks, ー runs, lone small kana."""
        out: list[str] = []
        for char in hiragana:
            if char in "ゝゞ":
                # cutlet returns the previous kana itself here, not its romaji.
                if not out:
                    continue
                char = out[-1] if char == "ゝ" else _voiced(out[-1])
            elif char == "ー" and out and out[-1] == "ー":
                continue
            elif char in _SMALL_TO_FULL and not (out and self._combines(out[-1], char)):
                # cutlet drops a small kana it cannot attach to anything.
                char = _SMALL_TO_FULL[char]
            out.append(char)
        return "".join(out)

    def _combines(self, previous: str, small: str) -> bool:
        """Whether cutlet reads ``previous`` + ``small`` as one syllable (キャ, ファ, ウィ)."""
        if previous + small in self.table:
            return True
        if previous in _SMALL_TO_FULL:
            return False
        # A consonant + vowel kana: cutlet swaps its vowel for the small kana's.
        romaji = self.table.get(previous, "")
        return len(romaji) >= 2 and romaji.isalpha() and romaji[-1] in "aeiou"


def _voiced(kana: str) -> str:
    """か → が for ゞ; a kana without a voiced form stays as it is."""
    composed = unicodedata.normalize("NFC", kana + "\u3099")
    return composed if len(composed) == 1 else kana


class Romanizer:
    """Romanizes tokens; results are cached by (surface, reading).

    ``tagger`` is a fugashi Tagger used only to find readings for surfaces that
    have none and are not kana; pass one (e.g. ``JapaneseTokenizer().tagger``)
    or let one be created on first need. MeCab state is not shared between
    threads: a given tagger serves the thread that made the Romanizer, and every
    other thread gets a tagger (and a cutlet converter) of its own.
    """

    def __init__(self, tagger: fugashi.Tagger | None = None):
        self._local = threading.local()
        if tagger is not None:
            self._local.tagger = tagger
        self._cached = functools.lru_cache(maxsize=_CACHE_SIZE)(self._romanize_uncached)

    def romanize(self, surface: str, reading: str | None = None) -> str:
        """Lowercase ASCII romaji of ``surface``, from ``reading`` when that is kana."""
        return self._cached(surface, reading)

    @property
    def _kana(self) -> _KanaConverter:
        # Created on first need so that a Romanizer used only on ASCII is free.
        converter = getattr(self._local, "converter", None)
        if converter is None:
            converter = self._local.converter = _KanaConverter()
        return converter

    @property
    def _reading_tagger(self) -> fugashi.Tagger:
        """This thread's MeCab tagger (see japanese.thread_tagger)."""
        return thread_tagger(self._local)

    def _romanize_uncached(self, surface: str, reading: str | None) -> str:
        text = unicodedata.normalize("NFKC", surface)
        ascii_text = text.translate(_PUNCTUATION)
        if ascii_text.isascii():
            return ascii_text.lower()
        if reading is not None:
            reading = unicodedata.normalize("NFKC", reading)
        if reading and self._kana.is_kana(reading):
            romaji = self._kana.to_romaji(reading)
        elif self._kana.is_kana(text):
            romaji = self._kana.to_romaji(text)
        else:
            romaji = self._romanize_morphemes(text)
        return romaji or text.lower()

    def _romanize_morphemes(self, text: str) -> str:
        """Romaji of mixed text from the readings MeCab gives its morphemes.

        An ASCII morpheme (after punctuation mapping) passes through; one with
        neither a kana reading nor a kana surface is dropped. Consecutive kana
        are romanized together so that っ and ん see the kana that follows.
        """
        parts: list[str] = []
        kana_run: list[str] = []

        def flush():
            if kana_run:
                parts.append(self._kana.to_romaji("".join(kana_run)))
                kana_run.clear()

        for word in self._reading_tagger(encodable(text)):  # MeCab cannot take a lone surrogate
            if word.surface.isspace():
                continue
            literal = word.surface.translate(_PUNCTUATION)
            reading = word.feature.kana
            if literal.isascii():
                flush()
                parts.append(literal.lower())
            elif reading and self._kana.is_kana(reading):
                kana_run.append(reading)
            elif self._kana.is_kana(word.surface):
                kana_run.append(word.surface)
            else:
                flush()
        flush()
        return "".join(parts)


@functools.cache
def _shared_romanizer() -> Romanizer:
    return Romanizer()


def romanize(surface: str, reading: str | None = None) -> str:
    """Romanize with one shared :class:`Romanizer`, created on first use."""
    return _shared_romanizer().romanize(surface, reading)
