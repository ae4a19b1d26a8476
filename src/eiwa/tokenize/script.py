"""Which language a text is in, from its script: eiwa reads English and Japanese, and Japanese is
the one written in kana and kanji."""

from __future__ import annotations

import re

# Hiragana, katakana (full and half width), CJK ideographs and the iteration mark 々.
JAPANESE_LETTER = re.compile(r"[\u3041-\u309f\u30a0-\u30ff\uff66-\uff9f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々]")
LETTER = re.compile(r"[^\W\d_]")

# A text is Japanese when at least this share of its letters are kana or kanji. Japanese text
# carries Latin letters too (names, units, a data file's JSON keys and type names), but rarely
# more than half; English text has none.
JAPANESE_SHARE = 0.3


def japanese_share(text: str) -> float:
    """The share of the letters in `text` that are kana or kanji (0.0 for a text without letters)."""
    letters = len(LETTER.findall(text))
    return len(JAPANESE_LETTER.findall(text)) / letters if letters else 0.0


def language_of(text: str) -> str:
    """`ja` when the text is written mostly in Japanese script, else `en`."""
    return "ja" if japanese_share(text) >= JAPANESE_SHARE else "en"
