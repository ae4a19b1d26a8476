"""Label colours for the HTML views (`eiwa predict --output-format html` and `eiwa serve`'s page).

A label's background comes from its name alone, never from its place in a model's label list, so
a type looks the same in every model: common names share a hue family across corpora and
languages (PER, PERSON, PSN and 人名 are orange; ORG blue, with COMPANY/法人名 and the other
organisation types in other blues), and any other name is hashed into a palette of its own. The
text colour is black or white, whichever contrasts more with the background by WCAG 2's relative
luminance; one of the two always reaches 4.58:1, above the 4.5:1 that WCAG asks for normal text.
"""

from __future__ import annotations

import re
import zlib
from functools import lru_cache

BLACK, WHITE = "#000000", "#ffffff"
MIN_CONTRAST = 4.5  # WCAG 2, level AA, normal text

# Each family's shades: the first for the family's plain name, the others for its subtypes.
_FAMILIES = {
    "person": ("#FDBA74", "#FB923C", "#FED7AA"),  # orange
    "location": ("#86EFAC", "#22C55E", "#BBF7D0"),  # green
    "organization": ("#1D4ED8", "#60A5FA", "#93C5FD", "#BFDBFE"),  # blue
    "facility": ("#5EEAD4", "#0F766E"),  # teal
    "product": ("#C4B5FD", "#7C3AED"),  # violet
    "event": ("#F9A8D4", "#DB2777"),  # pink
    "time": ("#FDE047", "#CA8A04"),  # yellow
    "number": ("#D6D3D1", "#A8A29E", "#78716C"),  # stone
    "misc": ("#CBD5E1", "#64748B"),  # slate
}

# Names as they appear in common corpora (CoNLL, OntoNotes, Hironsan, Stockmark, IREX), upper-cased.
_NAMES = {
    ("person", 0): "PER PERS PERSON PSN 人名 人物",
    ("location", 0): "LOC LOCATION 地名 場所",
    ("location", 1): "GPE 国名",
    ("organization", 0): "ORG ORGANIZATION ORGANISATION 組織 組織名",
    ("organization", 1): "COMPANY CORPORATION 法人名 企業 企業名 会社名",
    ("organization", 2): "POLITICAL_ORG NORP 政治的組織名",
    ("organization", 3): "OTHER_ORG その他の組織名",
    ("facility", 0): "FAC FACILITY 施設 施設名",
    ("product", 0): "PRODUCT PRD ART ARTIFACT 製品 製品名 固有物名",
    ("product", 1): "WORK_OF_ART 作品 作品名",
    ("event", 0): "EVENT EVT イベント イベント名",
    ("time", 0): "DATE DAT 日付 日付表現",
    ("time", 1): "TIME TIM 時間 時刻 時間表現",
    ("number", 0): "MONEY MON 金額 金額表現",
    ("number", 1): "PERCENT PCT 割合 割合表現",
    ("number", 2): "QUANTITY CARDINAL ORDINAL 数量",
    ("misc", 0): "MISC その他",
}
_KNOWN = {name: _FAMILIES[family][shade] for (family, shade), names in _NAMES.items() for name in names.split()}

# For every other name: hues the families above do not use, light and dark.
_OTHERS = (
    "#FCA5A5",  # red
    "#67E8F9",  # cyan
    "#BEF264",  # lime
    "#F0ABFC",  # fuchsia
    "#A5B4FC",  # indigo
    "#FDA4AF",  # rose
    "#FCD34D",  # amber
    "#7DD3FC",  # sky
    "#6EE7B7",  # emerald
    "#B91C1C",  # dark red
    "#0E7490",  # dark cyan
    "#4D7C0F",  # dark lime
    "#A21CAF",  # dark fuchsia
    "#4338CA",  # dark indigo
    "#BE123C",  # dark rose
)


def _normalise(name: str) -> str:
    return re.sub(r"[\s-]+", "_", name.strip()).upper()


@lru_cache(maxsize=1024)
def label_colour(name: str) -> str:
    """The background colour of entity type `name` ("#rrggbb"), the same in every model."""
    key = _normalise(name)
    if key in _KNOWN:
        return _KNOWN[key]
    # crc32, not hash(): Python salts str hashes per process, and the colour must not change.
    return _OTHERS[zlib.crc32(key.encode("utf-8")) % len(_OTHERS)]


def relative_luminance(colour: str | tuple[float, float, float]) -> float:
    """WCAG 2's relative luminance of "#rrggbb" or an (r, g, b) triple in 0..255: 0 black, 1 white."""
    if isinstance(colour, str):
        digits = colour.lstrip("#")
        colour = tuple(int(digits[i : i + 2], 16) for i in (0, 2, 4))
    linear = [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in colour]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(first, second) -> float:
    """WCAG 2's contrast ratio of two colours, from 1 (the same) to 21 (black on white)."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def text_colour(background: str) -> str:
    """Black or white, whichever reads better on `background`."""
    return BLACK if contrast_ratio(background, BLACK) >= contrast_ratio(background, WHITE) else WHITE


def label_style(name: str) -> str:
    """The inline CSS of entity type `name`'s highlight: its background and a readable text colour."""
    background = label_colour(name)
    return f"background:{background};color:{text_colour(background)}"


__all__ = ["MIN_CONTRAST", "contrast_ratio", "label_colour", "label_style", "relative_luminance", "text_colour"]
