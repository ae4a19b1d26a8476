"""The `chartype` feature: the token's character types (kanji, hiragana, katakana, latin, digit, symbol)."""

from __future__ import annotations

import unicodedata

from eiwa.features.attribute import AttributeFeature
from eiwa.features.base import Setting, register

_CHAR_TYPES = ("kanji", "hiragana", "katakana", "latin", "digit", "symbol")


@register
class CharTypeFeature(AttributeFeature):
    """The token's character types: kanji, hiragana, katakana, latin, digit, symbol, or their mix.

    E.g. kanji+hiragana for 食べ, katakana+latin for ビタミンC.
    """

    name = "chartype"
    settings = {"chartype_dim": Setting(int, 8, "size of the character-type embedding", minimum=1, shapes_weights=True)}
    dim_setting = "chartype_dim"

    @staticmethod
    def value(word: str) -> str:
        return "+".join(sorted({_char_type(c) for c in word}, key=_CHAR_TYPES.index)) or "empty"


def _char_type(c: str) -> str:
    if "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf" or "\U00020000" <= c <= "\U0002ffff" or c in "々〆ヵヶ":
        return "kanji"
    if "\u3041" <= c <= "\u309f":
        return "hiragana"
    if "\u30a0" <= c <= "\u30ff" or "\uff66" <= c <= "\uff9f" or "\u31f0" <= c <= "\u31ff":
        return "katakana"
    if c.isdigit():
        return "digit"
    if c.isalpha() and unicodedata.name(c, "").startswith(("LATIN", "FULLWIDTH LATIN")):
        return "latin"
    return "symbol"
