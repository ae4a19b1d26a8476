"""What the gazetteer stores: JMnedict's names, their type groups, and the filters that keep them.

The dictionary is JMnedict, the EDRDG's dictionary of Japanese proper names, as packaged in
jamdict-data (:mod:`eiwa.resources.jmdict`).

Type groups (counts are NETransType rows in jamdict-data 1.5, JMnedict of 2020-05-29; a name gets
the groups of all its entries' types, see ``TYPE_GROUPS``):

``person``        surname 146,634, fem 109,214, given 61,653, person 53,455, masc 19,989,
                  character 4, deity 3
``place``         place 228,281, station 8,252
``organization``  organization 4,733, company 1,054 (and ``group`` of newer JMnedict releases)
``product``       work 908, product 547, service 8 (railway lines, Amazon Prime...)
``other``         unclass 131,083 (mostly names of people and places whose kind JMnedict does not
                  record), fiction 3, event 2, mythology 1, object 1, religion 1, entries without a
                  type, and any type this module does not know

What is stored (noise control): every kanji and kana spelling of every entry, NFKC-normalised,
except names of one character (単, 森, ア: mostly ordinary words) and names written only in hiragana
(optionally with the long-vowel mark ー): these are the readings of kanji names, and as text they
collide with particles and other function words (の, かな, はる...). Katakana names (トヨタ,
ソニー) and names containing kanji or Latin letters are kept (:func:`noise`). Matching is
case-sensitive after NFKC (ＩＢＭ matches IBM, not ibm).

A name that is in several groups (東京: place and surname) is stored once with a bitmask of its
groups (bit ``i`` is ``GROUPS[i]``), and each group is matched independently.

English side (``language="en"``): the same types, keyed by the entries' English glosses
(NETransGloss), so that an English source model reads the same feature on English tokens and hands
its module to a Japanese one. JMnedict glosses most entries with a romanised or English form of
the same type ("Tokyo" place, "Suzuki" surname, "Toyota" company, "London" place):
:func:`english_name` says which glosses are kept. They are matched on tokens joined with spaces.
"""

from __future__ import annotations

import re

from eiwa.resources.jmdict import plain_gloss

LICENCE = "JMnedict (EDRDG, CC BY-SA 4.0), via the jamdict-data package"

LANGUAGES = ("ja", "en")  # the spellings a cache holds: Japanese (kanji, kana) or English glosses
GROUPS: tuple[str, ...] = ("person", "place", "organization", "product", "other")
TAGS = ("O", "B", "I", "E", "S")
DEFAULT_MAX_TOKENS = 6

# JMnedict name types (as jamdict spells them, plus the short entity names of newer JMnedict
# releases) -> group. A type not listed here goes to "other".
TYPE_GROUPS: dict[str, str] = {
    "surname": "person",
    "given": "person",
    "fem": "person",
    "masc": "person",
    "person": "person",
    "character": "person",
    "char": "person",
    "deity": "person",
    "dei": "person",
    "place": "place",
    "station": "place",
    "organization": "organization",
    "company": "organization",
    "group": "organization",
    "product": "product",
    "work": "product",
    "service": "product",
    "serv": "product",
    "doc": "product",
    "ship": "product",
    "unclass": "other",
    "fiction": "other",
    "fict": "other",
    "event": "other",
    "ev": "other",
    "mythology": "other",
    "myth": "other",
    "object": "other",
    "obj": "other",
    "religion": "other",
    "relig": "other",
    "creat": "other",
    "leg": "other",
    "oth": "other",
}

GROUP_BIT = {group: 1 << i for i, group in enumerate(GROUPS)}

# the hiragana block, plus ー (すごーい): a name made only of these is dropped (str.strip is the fast test)
_HIRAGANA_CHARACTERS = "".join(map(chr, range(0x3041, 0x30A0))) + "\u30fc"
_ENGLISH_NAME = re.compile(r"[A-Z][A-Za-z0-9.'&\- ]*")


def group_bit(name_type: str) -> int:
    """The bit of the group of a JMnedict name type ("other" for a type not in ``TYPE_GROUPS``)."""
    return GROUP_BIT[TYPE_GROUPS.get(name_type, "other")]


def groups_of_mask(mask: int) -> tuple[str, ...]:
    return tuple(group for group, bit in GROUP_BIT.items() if mask & bit)


def noise(name: str) -> str | None:
    """Why an NFKC-normalised Japanese name is not stored ("one_character", "hiragana_only", or
    "tab_or_newline": JMnedict has none, and they would break the cache's name list); None if it is."""
    if len(name) < 2:
        return "one_character"
    if not name.strip(_HIRAGANA_CHARACTERS):
        return "hiragana_only"
    if "\t" in name or "\n" in name:
        return "tab_or_newline"
    return None


def english_name(gloss: str) -> str | None:
    """The form of an English gloss that is matched on English tokens, or None if it is not kept.

    A gloss is kept, without its parenthesised remarks ("Sokokurai Eikichi (sumo wrestler ...)")
    and diacritics (Sōkokurai -> Sokokurai), when it starts with a capital letter, holds only Latin
    letters, digits, spaces and . ' & -, and has at most ``DEFAULT_MAX_TOKENS`` words.
    """
    text = " ".join(plain_gloss(gloss).split())
    if len(text) < 2 or not _ENGLISH_NAME.fullmatch(text) or len(text.split()) > DEFAULT_MAX_TOKENS:
        return None
    return text
