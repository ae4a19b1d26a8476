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

from eiwa.tokenize.japanese import encodable

# Romaji kept for the most recent distinct (surface, reading) pairs: about 300 bytes each, so at
# most ~20 MB, while holding the whole vocabulary of a corpus of tens of thousands of sentences.
CACHE_SIZE = 65_536

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
    """cutlet's Hepburn kana mapping with the fixes this module documents.

    Only cutlet's kana table is used (``map_kana``), so ``Cutlet.__init__`` is not called: it opens
    a MeCab tagger of its own, one more mapping of the dictionary whose pages count again in the
    process's resident memory. Without a tagger the converter holds no state that changes: one
    serves every thread.
    """

    def __init__(self):
        self.system = "hepburn"
        self.table = dict(cutlet.cutlet.SYSTEMS["hepburn"])
        # The Hepburn settings Cutlet.__init__ makes; map_kana reads use_tch.
        self.use_tch, self.use_wa, self.use_he, self.use_wo = True, True, False, True
        self.use_foreign_spelling, self.ensure_ascii = True, True
        self.tagger = None
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
    """Romanizes tokens; results are cached by (surface, reading), the most recent ``cache_size``.

    A MeCab tagger is used only to find readings for surfaces that have none and are not kana.
    ``tagger`` serves the thread that made the Romanizer; otherwise (and in every other thread)
    the shared Japanese tokenizer's tagger of the calling thread is used, so that a process maps
    MeCab's dictionary once per thread rather than once per component. MeCab state is not shared
    between threads.
    """

    def __init__(self, tagger: fugashi.Tagger | None = None, cache_size: int = CACHE_SIZE):
        self._local = threading.local()
        if tagger is not None:
            self._local.tagger = tagger
        self._cached = functools.lru_cache(maxsize=cache_size)(self._romanize_uncached)

    def romanize(self, surface: str, reading: str | None = None) -> str:
        """Lowercase ASCII romaji of ``surface``, from ``reading`` when that is kana."""
        return self._cached(surface, reading)

    def cache_info(self) -> functools._CacheInfo:
        """The cache's hits, misses, bound and size."""
        return self._cached.cache_info()

    @property
    def _kana(self) -> _KanaConverter:
        return _kana_converter()

    @property
    def _reading_tagger(self) -> fugashi.Tagger:
        """The tagger given for this thread, else the shared Japanese tokenizer's for it."""
        tagger = getattr(self._local, "tagger", None)
        if tagger is None:
            from eiwa.tokenize import tokenizer_for

            tagger = self._local.tagger = tokenizer_for("ja").tokenizer.tagger
        return tagger

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
def _kana_converter() -> _KanaConverter:
    """The one converter (created on first need, so that a Romanizer used only on ASCII is free)."""
    return _KanaConverter()


@functools.cache
def _shared_romanizer() -> Romanizer:
    return Romanizer()


def romanize(surface: str, reading: str | None = None) -> str:
    """Romanize with one shared :class:`Romanizer`, created on first use."""
    return _shared_romanizer().romanize(surface, reading)
